//! The provisioning engine: reads what a deployment has (by tag), plans against the spec,
//! applies the plan as journaled steps with undo, and tears deployments down.
//!
//! One engine serves every caller: a spec file, an AI-stack tier, an environment from the API
//! all end up as a [`gm_plan::Desired`] handed to [`Engine::apply`].

mod apply;
mod audit;
pub mod cost;
mod destroy;
mod kinds;
mod lease;
pub mod monitor;
mod report;
mod status;
mod stop;
mod undo;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

pub use apply::Source;
pub use audit::JsonlAudit;
pub use destroy::{DestroyPlan, DestroyReport, Doomed};
pub use lease::{Lease, LeaseGuard, LEASE_TTL};
pub use report::{ApplyReport, Done, Failure, InstanceSummary, Outcome};
pub use status::{InstanceStatus, StatusReport};
pub use stop::{Stop, StopReason};

use gm_cloud::{CloudApi, CloudError};
use gm_plan::{Actual, Desired, Plan, Reads};
use gm_state::{StateError, Store};

/// How long a launch sent by a process that died may still land: the SDK's attempt timeout
/// (60 s) plus margin.
pub const LAUNCH_IN_FLIGHT: chrono::Duration = chrono::Duration::seconds(75);

/// How the engine runs.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Concurrent AWS calls for independent steps.
    pub parallelism: usize,
    /// Bound on every wait (instances running, terminated, …).
    pub timeout: Duration,
    /// Wait for launched instances to be running before reporting.
    pub wait: bool,
    /// Leave what a failed apply created instead of undoing it.
    pub keep_on_failure: bool,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            parallelism: 32,
            timeout: Duration::from_secs(600),
            wait: true,
            keep_on_failure: false,
        }
    }
}

/// Receives progress while the engine works (the CLI draws bars from it).
pub trait Progress: Send + Sync {
    /// A phase with `total` steps begins.
    fn phase(&self, name: &str, total: u64);
    /// One step of the phase finished.
    fn step(&self, address: &str, message: &str);
    /// Something worth telling the user now.
    fn note(&self, message: &str);
}

/// Progress that goes nowhere.
#[derive(Debug, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn phase(&self, _name: &str, _total: u64) {}
    fn step(&self, _address: &str, _message: &str) {}
    fn note(&self, _message: &str) {}
}

/// Why the engine stopped.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// Reading from AWS failed before anything changed.
    #[error(transparent)]
    Cloud(#[from] CloudError),
    /// The state store failed.
    #[error(transparent)]
    State(#[from] StateError),
    /// A change failed part-way; the report says what was done and undone.
    #[error("{}", .0.failure.as_ref().map_or_else(|| "apply failed".to_string(), |f| f.message.clone()))]
    Failed(Box<ApplyReport>),
    /// A destroy failed or was stopped part-way: what it removed before, and why it stopped.
    #[error("{cause}")]
    DestroyFailed {
        /// What was removed, and what AWS still reports.
        report: Box<crate::destroy::DestroyReport>,
        /// Why it stopped.
        cause: Box<EngineError>,
    },
    /// Another run holds the deployment's lock.
    #[error("deployment `{deployment}` is locked by {holder}")]
    Locked {
        /// The deployment.
        deployment: String,
        /// Who holds it: command, user@host, pid and since when.
        holder: String,
        /// How long this run waited.
        waited_secs: u64,
    },
}

/// Whether applying `plan` places something in the region's default VPC: a group without a VPC,
/// an instance without a subnet, a load balancer without subnets.
fn needs_default_vpc(plan: &gm_plan::Plan) -> bool {
    use gm_plan::Action;
    plan.changes.iter().any(|c| match &c.action {
        Action::CreateSg { sg } => sg.vpc == gm_plan::VpcRef::Default,
        Action::CreateInstance { instance, .. } | Action::ReplaceInstance { instance, .. } => {
            instance.subnet.is_none()
        }
        Action::CreateLb { lb, .. } | Action::ReplaceLb { lb, .. } => lb.subnets.is_empty(),
        _ => false,
    })
}

/// The engine, bound to one AWS connection and one state store.
pub struct Engine {
    cloud: Arc<dyn CloudApi>,
    store: Mutex<Store>,
    opts: EngineOptions,
    /// The region's default VPC, once read (a plan reads it, its apply reuses it).
    default_vpc: Mutex<Option<String>>,
    /// The region's zones, once read (the plan and the re-plan under the lock share them).
    zones: Mutex<Option<Vec<String>>>,
    /// Pulled to stop a run between steps (Ctrl-C, a lost lock).
    stop: Stop,
    /// How often a held lock is renewed (and checked for having been broken).
    renew_every: Duration,
}

/// `read`'s answer, read at most once per engine into `cell`.
async fn read_once<T: Clone>(
    cell: &Mutex<Option<T>>,
    read: impl std::future::Future<Output = Result<T, CloudError>>,
) -> Result<T, CloudError> {
    let cached = cell.lock().unwrap_or_else(|p| p.into_inner()).clone();
    if let Some(v) = cached {
        return Ok(v);
    }
    let v = read.await?;
    *cell.lock().unwrap_or_else(|p| p.into_inner()) = Some(v.clone());
    Ok(v)
}

impl Engine {
    /// An engine over `cloud` (the SDK's [`gm_cloud::Cloud`], or a simulator in tests) and
    /// `store`.
    pub fn new(cloud: impl CloudApi + 'static, store: Store, opts: EngineOptions) -> Engine {
        Engine::shared(Arc::new(cloud), store, opts)
    }

    /// An engine over a cloud the caller keeps a handle to (a test's simulator).
    pub fn shared(cloud: Arc<dyn CloudApi>, store: Store, opts: EngineOptions) -> Engine {
        Engine {
            cloud,
            store: Mutex::new(store),
            opts,
            default_vpc: Mutex::new(None),
            zones: Mutex::new(None),
            stop: Stop::default(),
            renew_every: lease::RENEW_EVERY,
        }
    }

    /// The engine's stop switch: pulling it stops the changing run at its next step (see
    /// [`Stop`]). A signal handler or a server's cancel holds a clone.
    pub fn stop(&self) -> Stop {
        self.stop.clone()
    }

    /// Renews held locks every `every` instead of every 30 s (tests that break a lock under a
    /// running engine).
    #[doc(hidden)]
    pub fn renewing_every(mut self, every: Duration) -> Engine {
        self.renew_every = every;
        self
    }

    /// The region's default VPC, read once per engine.
    pub(crate) async fn default_vpc(&self) -> Result<String, CloudError> {
        read_once(&self.default_vpc, self.cloud.default_vpc()).await
    }

    /// The AWS connection.
    pub fn cloud(&self) -> &dyn CloudApi {
        self.cloud.as_ref()
    }

    /// The state store, locked for a short write or read.
    pub fn store(&self) -> MutexGuard<'_, Store> {
        // A panic while holding the lock leaves the SQLite connection usable; keep going.
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// What AWS has for a deployment, found by tag; roles and secrets too when `identity`.
    /// After a run that died with launches on the wire, first waits for them to land (see
    /// [`Engine::settle_launches`]), so the plan counts them instead of launching again.
    pub async fn refresh(&self, deployment: &str, reads: Reads) -> Result<Actual, EngineError> {
        self.settle_launches(deployment).await?;
        let mut actual = self
            .cloud
            .describe_deployment_with(deployment, reads)
            .await?;
        let recorded: std::collections::HashSet<String> = self
            .store()
            .resources(deployment)?
            .into_iter()
            .filter(|r| r.kind == gm_state::ResourceKind::Instance && r.is_live())
            .map(|r| r.aws_id)
            .collect();
        for i in &mut actual.instances {
            i.recorded = recorded.contains(&i.id);
        }
        Ok(actual)
    }

    /// A `RunInstances` sent by a process that died before its answer may still take effect:
    /// AWS acts on a request it received whoever waits for the answer. Launching again at once
    /// would make a second instance at the address (moto ignores client tokens, and a changed
    /// spec would change the token). So: wait until each such address has an instance, or
    /// until [`LAUNCH_IN_FLIGHT`] after the intent was journaled (one SDK attempt's timeout
    /// plus margin), then mark the steps interrupted so no later run waits again.
    pub async fn settle_launches(&self, deployment: &str) -> Result<(), EngineError> {
        let pending = self.store().launches_in_flight(deployment)?;
        if pending.is_empty() {
            return Ok(());
        }
        let now = chrono::Utc::now();
        let deadline = pending
            .iter()
            .filter_map(|p| chrono::DateTime::parse_from_rfc3339(&p.started_at).ok())
            .map(|t| t.with_timezone(&chrono::Utc) + LAUNCH_IN_FLIGHT)
            .max()
            .unwrap_or(now);
        let addresses: std::collections::BTreeSet<&str> =
            pending.iter().map(|p| p.address.as_str()).collect();
        if deadline > now {
            tracing::warn!(
                "run {} ended with {} launch(es) unanswered ({}); waiting up to {} s for them to land before planning",
                pending[0].run,
                pending.len(),
                addresses.iter().copied().collect::<Vec<_>>().join(", "),
                (deadline - now).num_seconds()
            );
        }
        let mut backoff = gm_cloud::Backoff::default();
        while chrono::Utc::now() < deadline {
            let live = self.cloud.describe_deployment_instances(deployment).await?;
            let landed = addresses
                .iter()
                .all(|addr| live.iter().any(|i| i.logical_id() == Some(*addr)));
            if landed {
                break;
            }
            tokio::time::sleep(backoff.next_delay().min(std::time::Duration::from_secs(2))).await;
        }
        let store = self.store();
        for p in &pending {
            store.step_result(
                p.step,
                "interrupted",
                &[],
                Some("the process ended before AWS answered; the next run waited for the launch to land"),
            )?;
        }
        Ok(())
    }

    /// Whether reading `desired`'s deployment must include IAM and SSM: it asks for roles or
    /// secrets, or the store remembers some (so removing them from the spec removes them).
    /// Plain EC2 deployments keep their three-request refresh.
    /// Likewise the edge (load balancer, target group, distribution): read when the spec has
    /// one or the store remembers one.
    pub fn reads_for(&self, desired: &Desired) -> Result<Reads, EngineError> {
        let live: Vec<gm_state::ResourceKind> = self
            .store()
            .resources(&desired.deployment)?
            .into_iter()
            .filter(|r| r.is_live())
            .map(|r| r.kind)
            .collect();
        let has = |kinds: &[gm_state::ResourceKind]| live.iter().any(|k| kinds.contains(k));
        Ok(Reads {
            identity: !desired.roles.is_empty()
                || !desired.secrets.is_empty()
                || has(&gm_state::ResourceKind::IDENTITY),
            edge: desired.load_balancer.is_some()
                || desired.cdn.is_some()
                || has(&gm_state::ResourceKind::EDGE),
            network: desired.network.is_some() || has(&gm_state::ResourceKind::NETWORK),
            nat: desired.network.as_ref().is_some_and(|n| n.nat.is_some())
                || has(&gm_state::ResourceKind::NAT),
        })
    }

    /// Reads AWS and diffs it against `desired`.
    pub async fn plan(&self, desired: &Desired) -> Result<(Actual, Plan), EngineError> {
        let reads = self.reads_for(desired)?;
        let mut actual = self.refresh(&desired.deployment, reads).await?;
        // Subnets to create need the region's zones (to place `auto` ones and check the
        // others); a converged network costs no such read.
        if desired.network.as_ref().is_some_and(|n| {
            n.subnets
                .iter()
                .any(|s| actual.network.subnet(&s.id).is_none())
        }) {
            actual.network.zones = read_once(&self.zones, self.cloud.availability_zones()).await?;
        }
        let plan = gm_plan::diff(desired, &actual);
        // A region without a default VPC (common in Control Tower and enterprise accounts)
        // fails here, before anything is made, when the plan would place something in it.
        if desired.network.is_none() && needs_default_vpc(&plan) {
            self.default_vpc().await?;
        }
        Ok((actual, plan))
    }
}
