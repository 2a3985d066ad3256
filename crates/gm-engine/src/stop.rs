//! Stopping a run between its steps: when the user interrupts it (Ctrl-C in the CLI, a cancel
//! in the server), or when another run broke its lock.
//!
//! A stop is a request, not a kill: the AWS calls in flight get their answers and are journaled
//! (a call cut off mid-way is exactly the "did it happen?" case the journal exists for), and the
//! run checks for a stop before each step it journals. What it does then depends on why:
//!
//! - **interrupted**: like any failure, the run undoes what it made (or, past the point of no
//!   return, reports what it leaves), so a Ctrl-C never leaves half a deployment behind;
//! - **lock lost**: another run now holds the deployment and has planned against what AWS holds,
//!   this run's work included. Undoing it would delete what that run may count on, so this run
//!   stops where it is and reports what it made; the other run, or the next apply, converges.
//!
//! The undo steps themselves never check: an interrupted undo would be the worst of both.

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::Arc;

use gm_cloud::CloudError;

/// Why a run was asked to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// The user asked (Ctrl-C, a cancel).
    Interrupted,
    /// Another run broke this run's lock on the deployment.
    LockLost,
}

impl StopReason {
    /// The error code a stopped step reports (`GM-APPLY-Interrupted`, `GM-APPLY-LockLost`).
    pub fn code(self) -> &'static str {
        match self {
            StopReason::Interrupted => "Interrupted",
            StopReason::LockLost => "LockLost",
        }
    }

    /// The reason a failed step was stopped for, if that is why it failed.
    pub fn of(err: &CloudError) -> Option<StopReason> {
        match err.code.as_deref() {
            Some("Interrupted") => Some(StopReason::Interrupted),
            Some("LockLost") => Some(StopReason::LockLost),
            _ => None,
        }
    }

    /// What to do after a run stopped for this reason.
    pub fn hint(self) -> String {
        match self {
            StopReason::Interrupted => "run the same command again when you are ready: it plans \
                 against what AWS has and converges, never duplicating"
                .into(),
            StopReason::LockLost => "the run holding the lock converges the deployment; once it \
                 is done, `geusemaker plan` shows whether anything of this run is left to do"
                .into(),
        }
    }

    fn message(self) -> &'static str {
        match self {
            StopReason::Interrupted => {
                "the run was interrupted; it stopped before this step, once the calls in flight \
                 had answered"
            }
            StopReason::LockLost => {
                "another run broke this run's lock on the deployment: stopped before this step, \
                 leaving what was made for the run that holds the lock"
            }
        }
    }
}

/// A run's stop switch, shared between the engine and whoever may pull it (a signal handler,
/// the lease's heartbeat). Cloning shares it.
#[derive(Debug, Clone, Default)]
pub struct Stop {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// 0: running; otherwise `StopReason as u8 + 1`. The first reason given wins.
    reason: AtomicU8,
    /// Whether a changing run is under way (so a stop has something to stop).
    changing: AtomicBool,
}

impl Stop {
    /// Asks the run to stop at its next step. The first request's reason is kept.
    pub fn request(&self, why: StopReason) {
        let code = why as u8 + 1;
        let _ = self
            .inner
            .reason
            .compare_exchange(0, code, Ordering::SeqCst, Ordering::SeqCst);
    }

    /// Why the run was asked to stop, if it was.
    pub fn reason(&self) -> Option<StopReason> {
        match self.inner.reason.load(Ordering::SeqCst) {
            0 => None,
            1 => Some(StopReason::Interrupted),
            _ => Some(StopReason::LockLost),
        }
    }

    /// Whether a changing run is under way: an interrupt then waits for a safe point; otherwise
    /// there is nothing to undo and the caller may simply exit.
    pub fn is_changing(&self) -> bool {
        self.inner.changing.load(Ordering::SeqCst)
    }

    /// Marks a changing run as under way until the returned guard drops.
    pub(crate) fn changing(&self) -> Changing {
        self.inner.changing.store(true, Ordering::SeqCst);
        Changing(self.clone())
    }

    /// `Err` with the stop's error once a stop was requested: checked before every step.
    pub(crate) fn check(&self, action: &str) -> Result<(), CloudError> {
        match self.reason() {
            None => Ok(()),
            Some(why) => Err(CloudError::new(action, Some(why.code()), why.message())),
        }
    }
}

/// While alive, a changing run is under way.
pub(crate) struct Changing(Stop);

impl Drop for Changing {
    fn drop(&mut self) {
        self.0.inner.changing.store(false, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_reason_wins_and_checks_fail_from_then_on() {
        let stop = Stop::default();
        assert!(stop.check("x").is_ok());
        stop.clone().request(StopReason::LockLost);
        stop.request(StopReason::Interrupted);
        assert_eq!(stop.reason(), Some(StopReason::LockLost));
        let e = stop.check("CreateSecurityGroup").unwrap_err();
        assert_eq!(e.code.as_deref(), Some("LockLost"));
    }

    #[test]
    fn changing_lasts_as_long_as_its_guard() {
        let stop = Stop::default();
        assert!(!stop.is_changing());
        {
            let _g = stop.changing();
            assert!(stop.is_changing());
        }
        assert!(!stop.is_changing());
    }
}
