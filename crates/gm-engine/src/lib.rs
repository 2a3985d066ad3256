//! The provisioning engine: reads what a deployment has (by tag), plans against the spec,
//! applies the plan as journaled steps with undo, and tears deployments down.
//!
//! One engine serves every caller: a spec file, an AI-stack tier, an environment from the API
//! all end up as a [`gm_plan::Desired`] handed to [`Engine::apply`].

mod apply;
mod audit;
pub mod cost;
mod destroy;
pub mod monitor;
mod report;
mod status;

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

pub use audit::JsonlAudit;
pub use destroy::{DestroyPlan, DestroyReport, Doomed};
pub use report::{ApplyReport, Done, Failure, InstanceSummary, Outcome};
pub use status::{InstanceStatus, StatusReport};

use gm_cloud::{Cloud, CloudError};
use gm_plan::{Actual, Desired, Plan, Reads};
use gm_state::{StateError, Store};

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
}

/// The engine, bound to one AWS connection and one state store.
pub struct Engine {
    cloud: Cloud,
    store: Mutex<Store>,
    opts: EngineOptions,
}

impl Engine {
    /// An engine over `cloud` and `store`.
    pub fn new(cloud: Cloud, store: Store, opts: EngineOptions) -> Engine {
        Engine {
            cloud,
            store: Mutex::new(store),
            opts,
        }
    }

    /// The AWS connection.
    pub fn cloud(&self) -> &Cloud {
        &self.cloud
    }

    /// The state store, locked for a short write or read.
    pub fn store(&self) -> MutexGuard<'_, Store> {
        // A panic while holding the lock leaves the SQLite connection usable; keep going.
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// What AWS has for a deployment, found by tag; roles and secrets too when `identity`.
    pub async fn refresh(&self, deployment: &str, reads: Reads) -> Result<Actual, EngineError> {
        let mut actual = self
            .cloud
            .describe_deployment_with(deployment, reads)
            .await?;
        let recorded: std::collections::HashSet<String> = self
            .store()
            .resources(deployment)?
            .into_iter()
            .filter(|r| r.kind == "instance" && r.status == "live")
            .map(|r| r.aws_id)
            .collect();
        for i in &mut actual.instances {
            i.recorded = recorded.contains(&i.id);
        }
        Ok(actual)
    }

    /// Whether reading `desired`'s deployment must include IAM and SSM: it asks for roles or
    /// secrets, or the store remembers some (so removing them from the spec removes them).
    /// Plain EC2 deployments keep their three-request refresh.
    /// Likewise the edge (load balancer, target group, distribution): read when the spec has
    /// one or the store remembers one.
    pub fn reads_for(&self, desired: &Desired) -> Result<Reads, EngineError> {
        let live: Vec<String> = self
            .store()
            .resources(&desired.deployment)?
            .into_iter()
            .filter(|r| r.status == "live")
            .map(|r| r.kind)
            .collect();
        let has = |kinds: &[&str]| live.iter().any(|k| kinds.contains(&k.as_str()));
        Ok(Reads {
            identity: !desired.roles.is_empty()
                || !desired.secrets.is_empty()
                || has(&["role", "secret"]),
            edge: desired.load_balancer.is_some()
                || desired.cdn.is_some()
                || has(&["load-balancer", "target-group", "cdn"]),
        })
    }

    /// Reads AWS and diffs it against `desired`.
    pub async fn plan(&self, desired: &Desired) -> Result<(Actual, Plan), EngineError> {
        let reads = self.reads_for(desired)?;
        let actual = self.refresh(&desired.deployment, reads).await?;
        let plan = gm_plan::diff(desired, &actual);
        Ok((actual, plan))
    }
}
