//! Tearing a deployment down: only what it created (by tag and by state), in dependency order,
//! batched, and confirmed gone from AWS before the record says so.

use std::collections::HashSet;
use std::time::Instant;

use serde::Serialize;
use serde_json::json;

use gm_plan::{Actual, Reads, TAG_DEPLOYMENT, TAG_MANAGED};
use gm_state::{DeploymentStatus, Provenance, ResourceKind};

use crate::report::Done;
use crate::{Engine, EngineError, Progress};

/// One resource destroy will remove.
#[derive(Debug, Clone, Serialize)]
pub struct Doomed {
    /// What it is.
    pub kind: ResourceKind,
    /// Logical address.
    pub address: String,
    /// AWS id.
    pub aws_id: String,
    /// What it is, in a few words.
    pub detail: String,
}

/// What destroy will remove.
#[derive(Debug, Clone, Serialize)]
pub struct DestroyPlan {
    /// Deployment.
    pub deployment: String,
    /// Everything that goes, instances first.
    pub items: Vec<Doomed>,
    /// The network as read for this plan (route table associations and gateway attachments
    /// are what its deletion undoes first).
    #[serde(skip)]
    pub(crate) network: gm_plan::ActualNetwork,
}

impl DestroyPlan {
    /// True when nothing is left to remove.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// What a read after this plan's deletions must cover to confirm them: the EC2 kinds
    /// always, the others only when the plan, which read every kind, found any of them
    /// (destroy runs under the lock, so nothing new of the deployment appears meanwhile).
    pub fn reads(&self) -> Reads {
        let has = |kinds: &[ResourceKind]| self.items.iter().any(|d| kinds.contains(&d.kind));
        Reads {
            identity: has(&ResourceKind::IDENTITY),
            edge: has(&ResourceKind::EDGE),
            network: has(&ResourceKind::NETWORK),
            nat: has(&ResourceKind::NAT),
        }
    }

    /// The list as people read it.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for d in &self.items {
            out.push_str(&format!(
                "- destroy {} ({}): {}\n",
                d.address, d.aws_id, d.detail
            ));
        }
        out.push_str(&format!(
            "Destroy: {} resource(s) of deployment `{}` will be removed.\n",
            self.items.len(),
            self.deployment
        ));
        out
    }
}

/// What a kind's part of a destroy works with.
pub(crate) struct DestroyCx<'a> {
    /// The destroy run's journal (a stop request is honoured between steps).
    pub(crate) journal: crate::apply::Journal,
    /// What the destroy removes.
    pub(crate) plan: &'a DestroyPlan,
    /// Where phases are shown.
    pub(crate) progress: &'a dyn Progress,
}

/// What destroy did.
#[derive(Debug, Clone, Serialize)]
pub struct DestroyReport {
    /// Deployment.
    pub deployment: String,
    /// What was removed.
    pub destroyed: Vec<Done>,
    /// What AWS still reports afterwards (empty when done).
    pub remaining: Vec<String>,
    /// What the deployment used but did not create, left as it was (security groups, subnets,
    /// key pairs and images referenced by id).
    pub kept: Vec<String>,
    /// HTTP requests sent, retries included.
    pub requests: u64,
    /// Wall time in milliseconds.
    pub duration_ms: u64,
}

pub(crate) fn ours(tags: &gm_plan::Tags, deployment: &str) -> bool {
    tags.get(TAG_DEPLOYMENT).map(String::as_str) == Some(deployment)
        && tags.get(TAG_MANAGED).map(String::as_str) == Some("true")
}

impl Engine {
    /// Closes the runs of `deployment` the journal shows unfinished as `interrupted`, telling
    /// `progress` which this run resumes after; returns those notes. Call it only while holding
    /// the deployment's lock: no unfinished run is then alive.
    pub fn close_dead_runs(
        &self,
        deployment: &str,
        progress: &dyn Progress,
    ) -> Result<Vec<String>, EngineError> {
        let closed = self.store().interrupt_unfinished_runs(deployment)?;
        Ok(closed
            .iter()
            .map(|r| {
                let note = format!("resuming: {}", r.describe());
                progress.note(&note);
                note
            })
            .collect())
    }

    /// [`Engine::close_dead_runs`] for a caller that does not hold the lock: a destroy that
    /// finds nothing left to remove (the killed run's last call landed). Takes the lock only
    /// when the journal has unfinished runs (it is local, so this costs AWS nothing otherwise).
    pub async fn close_interrupted_runs(
        &self,
        deployment: &str,
        wait: std::time::Duration,
        progress: &dyn Progress,
    ) -> Result<Vec<String>, EngineError> {
        if self.store().unfinished_runs(deployment)?.is_empty() {
            return Ok(Vec::new());
        }
        self.locked(deployment, "destroy", wait, progress, async || {
            self.close_dead_runs(deployment, progress)
        })
        .await
    }

    /// Finds everything `deployment` created: by tag, plus instances the state says it created
    /// that have lost their tags.
    pub async fn destroy_plan(&self, deployment: &str) -> Result<DestroyPlan, EngineError> {
        let mut actual = self.refresh(deployment, Reads::ALL).await?;
        let known: HashSet<String> = actual.instances.iter().map(|i| i.id.clone()).collect();
        let from_state: Vec<String> = self
            .store()
            .resources(deployment)?
            .into_iter()
            .filter(|r| {
                r.kind == ResourceKind::Instance
                    && r.is_live()
                    && r.provenance == Provenance::Created
                    && !known.contains(&r.aws_id)
            })
            .map(|r| r.aws_id)
            .collect();
        if !from_state.is_empty() {
            for mut i in self.cloud.describe_instances_by_id(&from_state).await? {
                if i.state != "terminated" && i.state != "shutting-down" {
                    i.tags
                        .entry(TAG_MANAGED.into())
                        .or_insert_with(|| "true".into());
                    i.tags
                        .entry(TAG_DEPLOYMENT.into())
                        .or_insert_with(|| deployment.into());
                    actual.instances.push(i);
                }
            }
        }
        Ok(plan_from(deployment, &actual))
    }

    /// Records that AWS has nothing of `deployment` (a destroy that found nothing to remove).
    pub fn mark_destroyed(&self, deployment: &str) -> Result<(), EngineError> {
        self.store().upsert_deployment(
            deployment,
            self.cloud.region(),
            None,
            DeploymentStatus::Destroyed,
        )?;
        Ok(())
    }

    /// Removes what `plan` lists: one TerminateInstances for all instances, then kept volumes,
    /// then security groups; then reads AWS again to confirm.
    pub async fn destroy(
        &self,
        plan: &DestroyPlan,
        progress: &dyn Progress,
    ) -> Result<DestroyReport, EngineError> {
        let started = Instant::now();
        let _changing = self.stop.changing();
        let deployment = plan.deployment.as_str();
        // Destroy runs under the deployment's lock, so a run the journal shows unfinished died.
        let run = {
            self.close_dead_runs(deployment, progress)?;
            let store = self.store();
            store.upsert_deployment(
                deployment,
                self.cloud.region(),
                None,
                DeploymentStatus::Destroying,
            )?;
            store.begin_run(deployment, "destroy")?
        };
        let mut report = DestroyReport {
            deployment: deployment.to_string(),
            destroyed: Vec::new(),
            remaining: Vec::new(),
            kept: self
                .store()
                .resources(deployment)?
                .into_iter()
                .filter(|r| r.provenance == Provenance::Referenced && r.is_live())
                .map(|r| format!("{} ({}): referenced, not created here", r.address, r.aws_id))
                .collect(),
            requests: 0,
            duration_ms: 0,
        };
        let result = self.destroy_steps(run, plan, progress, &mut report).await;
        let after = self.refresh(deployment, plan.reads()).await;
        if let (Err(_), Ok(a)) = (&result, &after) {
            // A destroy stopped part-way still says what is left.
            report.remaining = leftovers(a, deployment);
        }
        let outcome = match (&result, &after) {
            (Ok(()), Ok(a)) => {
                report.remaining = leftovers(a, deployment);
                if report.remaining.is_empty() {
                    "ok"
                } else {
                    "incomplete"
                }
            }
            _ => "failed",
        };
        {
            let mut store = self.store();
            if let Ok(a) = &after {
                let live: Vec<_> = plan_from(deployment, a)
                    .items
                    .into_iter()
                    .map(|d| gm_state::ResourceRecord {
                        address: d.address,
                        kind: d.kind,
                        aws_id: d.aws_id,
                        provenance: Provenance::Created,
                        status: gm_state::RecordStatus::Live,
                        attributes: json!({ "detail": d.detail }),
                        updated_at: String::new(),
                    })
                    .collect();
                store.sync_resources(deployment, Provenance::Created, &live)?;
            }
            report.requests = self.cloud.requests().total();
            report.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            // The record stays until AWS confirms everything gone: a failed destroy is re-run,
            // never forgotten.
            store.set_status(
                deployment,
                if outcome == "ok" {
                    DeploymentStatus::Destroyed
                } else {
                    DeploymentStatus::DestroyFailed
                },
            )?;
            store.finish_run(
                run,
                outcome,
                report.requests,
                &serde_json::to_value(&report).unwrap_or_default(),
            )?;
        }
        match result.and_then(|()| after.map(drop)) {
            Ok(()) => Ok(report),
            // What was removed before the failure is part of the answer.
            Err(cause) => Err(EngineError::DestroyFailed {
                report: Box::new(report),
                cause: Box::new(cause),
            }),
        }
    }

    async fn destroy_steps(
        &self,
        run: i64,
        plan: &DestroyPlan,
        progress: &dyn Progress,
        report: &mut DestroyReport,
    ) -> Result<(), EngineError> {
        let cx = DestroyCx {
            journal: crate::apply::Journal {
                run,
                stoppable: true,
            },
            plan,
            progress,
        };
        // In the registry's order: the edge fronts the instances, which sit in the groups,
        // which live in the network.
        for kind in crate::kinds::KINDS {
            kind.destroy(self, &cx, report).await?;
        }
        Ok(())
    }
}

/// What AWS still reports of a deployment, as `address (id)`.
fn leftovers(a: &Actual, deployment: &str) -> Vec<String> {
    plan_from(deployment, a)
        .items
        .iter()
        .map(|d| format!("{} ({})", d.address, d.aws_id))
        .collect()
}

fn plan_from(deployment: &str, a: &Actual) -> DestroyPlan {
    let mut items = Vec::new();
    for kind in crate::kinds::KINDS {
        kind.doomed(a, deployment, &mut items);
    }
    DestroyPlan {
        deployment: deployment.to_string(),
        items,
        network: a.network.clone(),
    }
}
