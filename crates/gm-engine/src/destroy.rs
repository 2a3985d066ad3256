//! Tearing a deployment down: only what it created (by tag and by state), in dependency order,
//! batched, and confirmed gone from AWS before the record says so.

use std::collections::HashSet;
use std::time::Instant;

use serde::Serialize;
use serde_json::json;

use gm_plan::{Actual, Reads, TAG_DEPLOYMENT, TAG_ID, TAG_MANAGED};
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
    network: gm_plan::ActualNetwork,
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
        // The edge first: the distribution fronts the load balancer, which fronts the instances
        // and holds network interfaces in the security groups.
        let journal = crate::apply::Journal {
            run,
            stoppable: true,
        };
        for d in plan.items.iter().filter(|d| d.kind == ResourceKind::Cdn) {
            progress.phase("deleting the CDN (disable, then delete)", 1);
            self.delete_cdn(journal, &d.address, &d.aws_id).await?;
            report.destroyed.push(Done {
                address: d.address.clone(),
                aws_id: d.aws_id.clone(),
                what: "distribution disabled and deleted".into(),
            });
        }
        let lb = plan
            .items
            .iter()
            .find(|d| d.kind == ResourceKind::LoadBalancer);
        let tg = plan
            .items
            .iter()
            .find(|d| d.kind == ResourceKind::TargetGroup);
        if lb.is_some() || tg.is_some() {
            self.delete_lb(
                journal,
                lb.map(|d| d.aws_id.as_str()),
                tg.map(|d| d.aws_id.as_str()),
            )
            .await?;
            for d in lb.iter().chain(tg.iter()) {
                report.destroyed.push(Done {
                    address: d.address.clone(),
                    aws_id: d.aws_id.clone(),
                    what: format!("{} deleted", d.kind.as_str().replace('-', " ")),
                });
            }
        }
        let instances: Vec<&Doomed> = plan
            .items
            .iter()
            .filter(|d| d.kind == ResourceKind::Instance)
            .collect();
        if !instances.is_empty() {
            progress.phase("terminating instances", 1);
            let ids: Vec<String> = instances.iter().map(|d| d.aws_id.clone()).collect();
            self.step(
                journal,
                "terminate",
                "instances",
                json!({"instances": ids}),
                &ids,
                self.terminate(&ids),
            )
            .await?;
            for d in &instances {
                report.destroyed.push(Done {
                    address: d.address.clone(),
                    aws_id: d.aws_id.clone(),
                    what: "terminated".into(),
                });
            }
            progress.step("instances", "terminated");
        }
        // Volumes: what is ours and detached now (kept-on-termination ones, and any left over).
        let volumes = self
            .cloud
            .describe_deployment_volumes(&plan.deployment)
            .await?;
        for v in volumes
            .iter()
            .filter(|v| ours(&v.tags, &plan.deployment) && v.attachments.is_empty())
        {
            let address = v
                .tags
                .get(TAG_ID)
                .cloned()
                .unwrap_or_else(|| "volume/?".into());
            self.delete_volume(journal, &address, &v.id).await?;
            report.destroyed.push(Done {
                address,
                aws_id: v.id.clone(),
                what: format!("volume deleted ({} GiB {})", v.size, v.volume_type),
            });
        }
        for d in plan.items.iter().filter(|d| d.kind == ResourceKind::Role) {
            self.delete_role(journal, &d.address, &d.aws_id).await?;
            report.destroyed.push(Done {
                address: d.address.clone(),
                aws_id: d.aws_id.clone(),
                what: "role, policies and instance profile deleted".into(),
            });
        }
        let secrets: Vec<&Doomed> = plan
            .items
            .iter()
            .filter(|d| d.kind == ResourceKind::Secret)
            .collect();
        if !secrets.is_empty() {
            let names: Vec<String> = secrets.iter().map(|d| d.aws_id.clone()).collect();
            self.delete_secrets(journal, "secrets", &names).await?;
            for d in secrets {
                report.destroyed.push(Done {
                    address: d.address.clone(),
                    aws_id: d.aws_id.clone(),
                    what: "secret deleted".into(),
                });
            }
        }
        let groups: Vec<&Doomed> = plan
            .items
            .iter()
            .filter(|d| d.kind == ResourceKind::SecurityGroup)
            .collect();
        let mut steps = Vec::new();
        for d in &groups {
            steps.push(self.journal_intent(
                journal,
                "delete",
                &d.address,
                &json!({"group": d.aws_id}),
            )?);
        }
        let ids: Vec<String> = groups.iter().map(|d| d.aws_id.clone()).collect();
        let results = self.delete_groups(&plan.deployment, &ids).await;
        let mut first_failure = None;
        for ((d, step), r) in groups.iter().zip(steps).zip(results) {
            self.result(step, std::slice::from_ref(&d.aws_id), &r);
            match r {
                Ok(()) => report.destroyed.push(Done {
                    address: d.address.clone(),
                    aws_id: d.aws_id.clone(),
                    what: "security group deleted".into(),
                }),
                Err(e) => {
                    first_failure.get_or_insert(e);
                }
            }
        }
        if let Some(e) = first_failure {
            return Err(e.into());
        }
        // The network last, innermost first: nothing of ours lives in it any more.
        let kinds = ResourceKind::NETWORK;
        if plan.items.iter().any(|d| kinds.contains(&d.kind)) {
            progress.phase("deleting the network", 1);
            let doomed = crate::kinds::network::doomed(&plan.network, |_| true);
            let results = self.delete_network(run, &doomed, true).await;
            for (d, r) in doomed.iter().zip(results) {
                r?;
                report.destroyed.push(Done {
                    address: d.address.clone(),
                    aws_id: d.id.clone(),
                    what: format!("{} deleted", d.detail),
                });
            }
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
