//! Reading user-data progress back from the EC2 console, where GeuseMaker's wrapper writes
//! `GEUSEMAKER-UD` markers. No SSH needed.

use serde::Serialize;

use gm_spec::user_data::MARKER;

/// Where a user-data script is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum UdState {
    /// The instance has no user data.
    None,
    /// Not started yet, or the console has nothing yet.
    Pending,
    /// Started, not finished.
    Running,
    /// Exited 0.
    Succeeded,
    /// Exited non-zero.
    Failed,
}

impl UdState {
    /// True once the script has finished, either way.
    pub fn is_final(self) -> bool {
        matches!(self, UdState::None | UdState::Succeeded | UdState::Failed)
    }
}

/// One `gm_step` of a script.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UdStep {
    /// Its name.
    pub name: String,
    /// `running`, `ok` or `failed`.
    pub state: String,
    /// Exit code, when it failed.
    pub rc: Option<i32>,
}

/// A script's progress as read from the console.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UdStatus {
    /// Overall state.
    pub state: UdState,
    /// Exit code, once finished.
    pub exit_code: Option<i32>,
    /// Named steps, in order.
    pub steps: Vec<UdStep>,
    /// The script's last output lines.
    pub log_tail: Vec<String>,
    /// Container health the instance last reported (`health service=… state=…` markers), in
    /// first-reported order.
    pub services: Vec<ServiceState>,
}

/// A container's health as the instance reported it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceState {
    /// Compose service name.
    pub service: String,
    /// `healthy`, `unhealthy`, `starting`, or the container state when it has no health check
    /// (`running`, `exited`, …).
    pub state: String,
}

fn field<'a>(rest: &'a str, key: &str) -> Option<&'a str> {
    rest.split_whitespace()
        .find_map(|w| w.strip_prefix(key).and_then(|v| v.strip_prefix('=')))
}

/// Parses console output; `tail` is how many log lines to keep.
pub fn parse_console(console: &str, tail: usize) -> UdStatus {
    let mut st = UdStatus {
        state: UdState::Pending,
        exit_code: None,
        steps: Vec::new(),
        log_tail: Vec::new(),
        services: Vec::new(),
    };
    for line in console.lines() {
        // The console may prefix lines (timestamps, cloud-init); find the marker anywhere.
        let Some(at) = line.find(MARKER) else {
            continue;
        };
        let rest = line[at + MARKER.len()..].trim_start();
        let (word, args) = rest.split_once(' ').unwrap_or((rest, ""));
        match word {
            "start" => {
                // A reboot re-runs nothing, but a replaced console may show a second start.
                st.state = UdState::Running;
                st.exit_code = None;
            }
            "step-start" => {
                if let Some(name) = field(args, "name") {
                    st.steps.push(UdStep {
                        name: name.to_string(),
                        state: "running".into(),
                        rc: None,
                    });
                }
            }
            "step-ok" | "step-fail" => {
                if let Some(name) = field(args, "name") {
                    let rc = field(args, "rc").and_then(|v| v.parse().ok());
                    let state = if word == "step-ok" { "ok" } else { "failed" };
                    match st
                        .steps
                        .iter_mut()
                        .rev()
                        .find(|s| s.name == name && s.state == "running")
                    {
                        Some(s) => {
                            s.state = state.into();
                            s.rc = rc;
                        }
                        None => st.steps.push(UdStep {
                            name: name.to_string(),
                            state: state.into(),
                            rc,
                        }),
                    }
                }
            }
            "log" => {
                st.log_tail.push(args.to_string());
                if st.log_tail.len() > tail {
                    st.log_tail.remove(0);
                }
            }
            "health" => {
                if let (Some(service), Some(state)) = (field(args, "service"), field(args, "state"))
                {
                    match st.services.iter_mut().find(|s| s.service == service) {
                        Some(s) => s.state = state.to_string(),
                        None => st.services.push(ServiceState {
                            service: service.to_string(),
                            state: state.to_string(),
                        }),
                    }
                }
            }
            "exit" => {
                let rc = field(args, "rc").and_then(|v| v.parse::<i32>().ok());
                st.exit_code = rc;
                st.state = if rc == Some(0) {
                    UdState::Succeeded
                } else {
                    UdState::Failed
                };
            }
            _ => {}
        }
    }
    st
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_health_reports_are_read_latest_first_order_kept() {
        let text = "GEUSEMAKER-UD start ts=1\n\
                    GEUSEMAKER-UD exit rc=0 ts=2\n\
                    GEUSEMAKER-UD health service=postgres state=healthy\n\
                    GEUSEMAKER-UD health service=ollama state=starting\n\
                    [ 400.2] GEUSEMAKER-UD health service=ollama state=healthy\n\
                    GEUSEMAKER-UD health service=crawl4ai state=unhealthy\n\
                    GEUSEMAKER-UD health state=orphan\n";
        let s = parse_console(text, 5);
        assert_eq!(
            s.state,
            UdState::Succeeded,
            "health lines come after the exit"
        );
        let seen: Vec<(&str, &str)> = s
            .services
            .iter()
            .map(|x| (x.service.as_str(), x.state.as_str()))
            .collect();
        assert_eq!(
            seen,
            [
                ("postgres", "healthy"),
                ("ollama", "healthy"),
                ("crawl4ai", "unhealthy")
            ]
        );
    }

    #[test]
    fn no_markers_means_pending() {
        let s = parse_console("Linux version 6.1\nBIOS-provided physical RAM map:\n", 10);
        assert_eq!(s.state, UdState::Pending);
        assert!(s.steps.is_empty());
    }

    #[test]
    fn steps_logs_and_success_are_read() {
        let text = "[   12.1] cloud-init[900]: GEUSEMAKER-UD start ts=1\n\
                    GEUSEMAKER-UD step-start name=packages\n\
                    GEUSEMAKER-UD log installing git\n\
                    GEUSEMAKER-UD step-ok name=packages\n\
                    GEUSEMAKER-UD step-start name=venv\n\
                    GEUSEMAKER-UD log done\n\
                    GEUSEMAKER-UD step-ok name=venv\n\
                    GEUSEMAKER-UD exit rc=0 ts=2\n";
        let s = parse_console(text, 1);
        assert_eq!(s.state, UdState::Succeeded);
        assert_eq!(s.exit_code, Some(0));
        assert_eq!(s.steps.len(), 2);
        assert!(s.steps.iter().all(|x| x.state == "ok"));
        assert_eq!(s.log_tail, vec!["done".to_string()]);
    }

    #[test]
    fn failure_keeps_exit_code_and_failed_step() {
        let text = "GEUSEMAKER-UD start ts=1\nGEUSEMAKER-UD step-start name=pip\nGEUSEMAKER-UD step-fail name=pip rc=2\nGEUSEMAKER-UD exit rc=2 ts=3\n";
        let s = parse_console(text, 5);
        assert_eq!(s.state, UdState::Failed);
        assert_eq!(s.exit_code, Some(2));
        assert_eq!(s.steps[0].rc, Some(2));
    }

    #[test]
    fn started_without_exit_is_running() {
        let s = parse_console(
            "GEUSEMAKER-UD start ts=1\nGEUSEMAKER-UD step-start name=a\n",
            5,
        );
        assert_eq!(s.state, UdState::Running);
        assert_eq!(s.steps[0].state, "running");
    }
}
