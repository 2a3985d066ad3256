//! The CLI's one error type: a message, a hint, a stable code, and the exit code.

use std::process::ExitCode;

use serde::Serialize;

/// Documented exit codes.
pub mod exit {
    /// Success (and `plan --detailed-exitcode` with no changes).
    pub const OK: u8 = 0;
    /// Failed.
    pub const FAILED: u8 = 1;
    /// Usage error or invalid spec.
    pub const USAGE: u8 = 2;
    /// `plan --detailed-exitcode` found changes.
    pub const CHANGES: u8 = 3;
    /// Aborted by the user.
    pub const ABORTED: u8 = 4;
    /// Failed part-way and rolled back.
    pub const ROLLED_BACK: u8 = 5;
    /// Another run holds the deployment's lock (and `--lock-timeout` passed).
    pub const LOCKED: u8 = 6;
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
    /// Exit code.
    #[serde(skip)]
    pub exit: u8,
    /// True when stdout already carries the machine-readable result (with the failure in it).
    #[serde(skip)]
    pub reported: bool,
}

impl CliError {
    /// An error with a code, message and exit code.
    pub fn new(code: &str, message: impl Into<String>, exit: u8) -> CliError {
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
        ExitCode::from(self.exit)
    }
}

impl From<gm_spec::SpecError> for CliError {
    fn from(e: gm_spec::SpecError) -> Self {
        let hint = e.hint();
        let mut c = CliError::new(e.code(), e.to_string(), exit::USAGE);
        c.hint = hint;
        c
    }
}

impl From<gm_state::StateError> for CliError {
    fn from(e: gm_state::StateError) -> Self {
        CliError::new("GM-STATE-001", e.to_string(), exit::FAILED).hint(e.hint())
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
            return CliError::new(stop_code(why), e.message.clone(), exit::FAILED).hint(why.hint());
        }
        let mut c = CliError::new(
            &format!("GM-AWS-{}", e.code.as_deref().unwrap_or("ERROR")),
            e.to_string(),
            exit::FAILED,
        );
        c.hint = e.hint();
        c
    }
}

impl From<gm_engine::EngineError> for CliError {
    fn from(e: gm_engine::EngineError) -> Self {
        match e {
            gm_engine::EngineError::Cloud(c) => c.into(),
            gm_engine::EngineError::State(s) => s.into(),
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
                exit::LOCKED,
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
                        exit::ROLLED_BACK
                    } else {
                        exit::FAILED
                    },
                );
                c.hint = f.and_then(|f| f.hint);
                c
            }
        }
    }
}
