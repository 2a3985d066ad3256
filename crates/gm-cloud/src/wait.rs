//! Waits that poll soon and back off, bounded by a deadline; never a fixed sleep.

use std::time::{Duration, Instant};

/// Poll delays: 0, then 0.5 s doubling to a cap, each with up to 20 % jitter.
#[derive(Debug, Clone)]
pub struct Backoff {
    next: Duration,
    cap: Duration,
    first: bool,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            next: Duration::from_millis(500),
            cap: Duration::from_secs(10),
            first: true,
        }
    }
}

impl Backoff {
    /// The next delay.
    pub fn next_delay(&mut self) -> Duration {
        if self.first {
            self.first = false;
            return Duration::ZERO;
        }
        let d = self.next;
        self.next = (self.next * 2).min(self.cap);
        let nanos =
            u64::try_from(Instant::now().elapsed().as_nanos() ^ u128::from(std::process::id()))
                .unwrap_or(0);
        let jitter = d.mul_f64((nanos % 200) as f64 / 1000.0);
        d + jitter
    }
}

/// What a wait waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitTarget {
    /// `running`.
    Running,
    /// `stopped`.
    Stopped,
    /// `terminated` (or gone).
    Terminated,
}

impl WaitTarget {
    pub(crate) fn state(self) -> &'static str {
        match self {
            WaitTarget::Running => "running",
            WaitTarget::Stopped => "stopped",
            WaitTarget::Terminated => "terminated",
        }
    }
}

/// Sleeps the backoff's next delay; false, without sleeping, when that would pass `deadline`.
pub(crate) async fn pause(backoff: &mut Backoff, deadline: Instant) -> bool {
    let delay = backoff.next_delay();
    if Instant::now() + delay > deadline {
        return false;
    }
    tokio::time::sleep(delay).await;
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_polls_at_once_then_grows_to_the_cap() {
        let mut b = Backoff::default();
        assert_eq!(b.next_delay(), Duration::ZERO);
        let d1 = b.next_delay();
        assert!(
            d1 >= Duration::from_millis(500) && d1 < Duration::from_millis(601),
            "{d1:?}"
        );
        for _ in 0..10 {
            b.next_delay();
        }
        let last = b.next_delay();
        assert!(
            last >= Duration::from_secs(10) && last <= Duration::from_secs(12),
            "{last:?}"
        );
    }
}
