//! Waits that poll soon and back off, bounded by a deadline; never a fixed sleep.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::{Cloud, CloudError};

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
    fn state(self) -> &'static str {
        match self {
            WaitTarget::Running => "running",
            WaitTarget::Stopped => "stopped",
            WaitTarget::Terminated => "terminated",
        }
    }
}

/// Sleeps the backoff's next delay; false, without sleeping, when that would pass `deadline`.
async fn pause(backoff: &mut Backoff, deadline: Instant) -> bool {
    let delay = backoff.next_delay();
    if Instant::now() + delay > deadline {
        return false;
    }
    tokio::time::sleep(delay).await;
    true
}

impl Cloud {
    /// Polls (batched by id) until every instance reaches `target`, or the deadline passes.
    /// Returns the last seen state of each instance.
    pub async fn wait_instances(
        &self,
        ids: &[String],
        target: WaitTarget,
        timeout: Duration,
    ) -> Result<HashMap<String, gm_plan::ActualInstance>, CloudError> {
        let deadline = Instant::now() + timeout;
        let mut backoff = Backoff::default();
        let mut pending: Vec<String> = ids.to_vec();
        let mut seen = HashMap::new();
        while !pending.is_empty() {
            if !pause(&mut backoff, deadline).await {
                return Err(CloudError::new(
                    "wait",
                    Some("WaitTimeout"),
                    format!(
                        "{} instance(s) not {} after {} s: {}",
                        pending.len(),
                        target.state(),
                        timeout.as_secs(),
                        pending.join(", ")
                    ),
                ));
            }
            let found = self.describe_instances_by_id(&pending).await?;
            let mut still = Vec::new();
            for id in &pending {
                match found.iter().find(|i| &i.id == id) {
                    Some(i) if i.state == target.state() => {
                        seen.insert(id.clone(), i.clone());
                    }
                    Some(i)
                        if target == WaitTarget::Running
                            && (i.state == "terminated" || i.state == "shutting-down") =>
                    {
                        return Err(CloudError::new(
                            "wait",
                            Some("InstanceTerminated"),
                            format!("instance {id} was terminated while starting (spot reclaimed, or a boot failure)"),
                        ));
                    }
                    Some(i) => {
                        seen.insert(id.clone(), i.clone());
                        still.push(id.clone());
                    }
                    None if target == WaitTarget::Terminated => {}
                    None => still.push(id.clone()),
                }
            }
            pending = still;
        }
        Ok(seen)
    }
}

impl Cloud {
    /// Polls (one `DescribeVolumes` for all ids) until every volume is `available`: detached
    /// from any instance. A volume that no longer exists is an error.
    pub async fn wait_volumes_available(
        &self,
        ids: &[String],
        timeout: Duration,
    ) -> Result<(), CloudError> {
        if ids.is_empty() {
            return Ok(());
        }
        let deadline = Instant::now() + timeout;
        let mut backoff = Backoff::default();
        loop {
            if !pause(&mut backoff, deadline).await {
                return Err(CloudError::new(
                    "wait",
                    Some("WaitTimeout"),
                    format!(
                        "volume(s) not detached after {} s: {}",
                        timeout.as_secs(),
                        ids.join(", ")
                    ),
                ));
            }
            let found = self.describe_volumes_by_id(ids).await?;
            if let Some(gone) = ids.iter().find(|id| !found.iter().any(|v| &v.id == *id)) {
                return Err(CloudError::new(
                    "wait",
                    Some("InvalidVolume.NotFound"),
                    format!("volume {gone} no longer exists"),
                ));
            }
            if found
                .iter()
                .all(|v| v.state == "available" && v.attachments.is_empty())
            {
                return Ok(());
            }
        }
    }
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
