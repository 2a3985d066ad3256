//! The CLI's one error type: a message, a hint, a stable code, and the exit code.

use std::process::ExitCode;

use serde::Serialize;

/// The process's exit status. Each value is documented in the README and stable across
/// releases: scripts and CI branch on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(into = "u8")]
pub enum ExitStatus {
    /// 0: success (and `plan --detailed-exitcode` with no changes).
    Ok,
    /// 1: failed.
    Failed,
    /// 2: usage error or invalid spec.
    Usage,
    /// 3: `plan --detailed-exitcode` found changes.
    Changes,
    /// 4: aborted by the user.
    Aborted,
    /// 5: failed part-way and rolled back.
    RolledBack,
    /// 6: another run holds the deployment's lock (and `--lock-timeout` passed).
    Locked,
    /// 130: interrupted (a second Ctrl-C, or one while nothing was being changed), as a shell
    /// reports SIGINT.
    Interrupted,
}

impl ExitStatus {
    /// The number the process exits with.
    pub const fn code(self) -> u8 {
        match self {
            ExitStatus::Ok => 0,
            ExitStatus::Failed => 1,
            ExitStatus::Usage => 2,
            ExitStatus::Changes => 3,
            ExitStatus::Aborted => 4,
            ExitStatus::RolledBack => 5,
            ExitStatus::Locked => 6,
            ExitStatus::Interrupted => 130,
        }
    }
}

impl From<ExitStatus> for u8 {
    fn from(s: ExitStatus) -> u8 {
        s.code()
    }
}

impl From<ExitStatus> for ExitCode {
    fn from(s: ExitStatus) -> ExitCode {
        ExitCode::from(s.code())
    }
}

impl std::fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.code())
    }
}

/// An error as the user sees it.
#[derive(Debug, Serialize)]
pub struct CliError {
    /// Stable code, e.g. `GM-SPEC-021`.
    pub code: String,
    /// What failed.
    pub message: String,
    /// What to do next.
    pub hint: Option<String>,
    /// Exit status.
    #[serde(skip)]
    pub exit: ExitStatus,
    /// True when stdout already carries the machine-readable result (with the failure in it).
    #[serde(skip)]
    pub reported: bool,
}

impl CliError {
    /// An error with a code, message and exit code.
    pub fn new(code: &str, message: impl Into<String>, exit: ExitStatus) -> CliError {
        CliError {
            code: code.to_string(),
            message: message.into(),
            hint: None,
            exit,
            reported: false,
        }
    }

    /// Adds a hint.
    pub fn hint(mut self, hint: impl Into<String>) -> CliError {
        self.hint = Some(hint.into());
        self
    }

    /// The process exit code.
    pub fn exit_code(&self) -> ExitCode {
        self.exit.into()
    }
}

impl CliError {
    /// Any error that knows its code and fix, exiting with `exit`.
    pub fn of(e: &dyn gm_model::Hint, exit: ExitStatus) -> CliError {
        CliError {
            code: e.code(),
            message: e.to_string(),
            hint: e.hint(),
            exit,
            reported: false,
        }
    }
}

impl From<gm_spec::SpecError> for CliError {
    fn from(e: gm_spec::SpecError) -> Self {
        CliError::of(&e, ExitStatus::Usage)
    }
}

impl From<gm_state::StateError> for CliError {
    fn from(e: gm_state::StateError) -> Self {
        CliError::of(&e, ExitStatus::Failed)
    }
}

/// The code of a run stopped for `why` (see `gm_engine::Stop`).
fn stop_code(why: gm_engine::StopReason) -> &'static str {
    match why {
        gm_engine::StopReason::Interrupted => "GM-STOP-001",
        gm_engine::StopReason::LockLost => "GM-STOP-002",
    }
}

impl From<gm_cloud::CloudError> for CliError {
    fn from(e: gm_cloud::CloudError) -> Self {
        if let Some(why) = gm_engine::StopReason::of(&e) {
            return CliError::new(stop_code(why), e.message.clone(), ExitStatus::Failed)
                .hint(why.hint());
        }
        CliError::of(&e, ExitStatus::Failed)
    }
}

impl From<gm_engine::EngineError> for CliError {
    fn from(e: gm_engine::EngineError) -> Self {
        match e {
            gm_engine::EngineError::Cloud(c) => c.into(),
            gm_engine::EngineError::State(s) => s.into(),
            gm_engine::EngineError::DestroyFailed { cause, .. } => (*cause).into(),
            gm_engine::EngineError::Locked {
                deployment,
                holder,
                waited_secs,
            } => CliError::new(
                "GM-LOCK-001",
                if waited_secs > 0 {
                    format!("deployment `{deployment}` is still locked after {waited_secs} s, by {holder}")
                } else {
                    format!("deployment `{deployment}` is locked by {holder}")
                },
                ExitStatus::Locked,
            )
            .hint(format!(
                "another run is changing it: wait for it with --lock-timeout SECONDS; if that run \
                 is dead, its lock lapses within {} s, or remove it with `geusemaker state unlock {deployment}`",
                gm_engine::LEASE_TTL.as_secs()
            )),
            gm_engine::EngineError::Failed(report) => {
                let f = report.failure.clone();
                let rolled = report.outcome == gm_engine::Outcome::RolledBack;
                let code = f.as_ref().and_then(|f| f.code.clone());
                let stopped = code.as_deref().and_then(|c| {
                    [
                        gm_engine::StopReason::Interrupted,
                        gm_engine::StopReason::LockLost,
                    ]
                    .into_iter()
                    .find(|r| r.code() == c)
                });
                let mut c = CliError::new(
                    &match stopped {
                        Some(why) => stop_code(why).to_string(),
                        None => format!("GM-APPLY-{}", code.unwrap_or_else(|| "FAILED".into())),
                    },
                    match &f {
                        Some(f) => format!("cannot apply {}: {}", f.address, f.message),
                        None => "apply failed".into(),
                    },
                    if rolled {
                        ExitStatus::RolledBack
                    } else {
                        ExitStatus::Failed
                    },
                );
                c.hint = f.and_then(|f| f.hint);
                c
            }
        }
    }
}
