//! Executing a plan: phases of journaled steps, each with an undo, run concurrently where
//! independent, and rolled back in reverse dependency order when a step fails.
//!
//! Phases: security groups → launches (and the new half of replacements) → in-place updates →
//! removals (terminations, then groups). Removals are the point of no return: a failure before
//! them undoes everything this run created; a failure during them stops and reports, because
//! undoing a launch after its predecessor is gone would lose the deployment.

use gm_plan::Address;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Instant;

use futures::stream::{self, StreamExt};
use serde_json::json;

use gm_cloud::{
    BlockDeviceRequest, CloudError, ErrorKind, ImageInfo, LaunchOutcome, LaunchRequest,
    SpotRequest, WaitTarget,
};
use gm_plan::{
    Action, Actual, Desired, DesiredInstance, GroupRef, Phase, Plan, Reads, Rule, RuleSource, Tags,
    TAG_ID, TAG_INSTANCE,
};
use gm_spec::{Market, SpotFallback};
use gm_state::{DeploymentStatus, Provenance, ResourceKind, ResourceRecord};

use crate::report::{instance_summaries, Done, Failure, Outcome};
use crate::undo::{Detached, Undo, UndoKind, UndoStack};
use crate::{ApplyReport, Engine, EngineError, Progress, StopReason};

mod edge;

/// A step failure: the address being worked on and the AWS error.
pub(crate) type StepError = (String, CloudError);

/// One finished launch: address, the instance it replaces, its journal step, and the outcome.
type Launched = (
    String,
    Option<String>,
    i64,
    Result<LaunchOutcome, CloudError>,
);

/// Resources (address, id) grouped by the tag change they share.
type TagBatches<K> = BTreeMap<K, Vec<(String, String)>>;

/// Where an applied spec came from, recorded with the deployment by [`Engine::apply`] (the
/// engine alone writes a deployment's status and spec to the store).
#[derive(Debug, Clone, Copy)]
pub struct Source<'a> {
    /// The spec file, or a description such as `<dev tier>`.
    pub file: &'a str,
    /// The spec as `heal` re-applies it (user data inlined); `None` keeps the recorded one.
    pub spec: Option<&'a serde_json::Value>,
}

/// What one apply has done so far, for the report and for undo.
pub(crate) struct Run<'a> {
    pub(crate) id: i64,
    progress: &'a dyn Progress,
    pub(crate) report: ApplyReport,
    /// What this run made, or sent without an answer, for a rollback to undo.
    pub(crate) undo: UndoStack,
    /// The groups this run created, as AWS holds them once their rules are in: the final read
    /// need not list them again when the deployment had no others.
    made_groups: Vec<gm_plan::ActualSg>,
    /// The last answer of the wait for the instances this run launched, when nothing changed
    /// them after it (no kept volume attached since): the final read need not list them again
    /// when the deployment had no others.
    waited: Option<Vec<gm_plan::ActualInstance>>,
    pre_existing: HashSet<String>,
    images: HashMap<String, ImageInfo>,
    past_no_return: bool,
    /// What AWS reported after the last change, when nothing changed since (saves a re-read).
    final_actual: Option<Actual>,
    /// Which reads beyond EC2 refreshes make.
    reads: Reads,
    /// Network ids by address (`vpc/main`, `subnet/NAME`, …): existing ones, then created ones.
    pub(crate) net: HashMap<String, String>,
    /// The run is undoing its work: its steps are taken even when a stop was asked for.
    undoing: bool,
}

impl Engine {
    /// Applies `plan` (made from `desired` and `actual`) and reports what happened.
    ///
    /// On failure the error carries the report: what was done, what was undone, and why.
    pub async fn apply(
        &self,
        desired: &Desired,
        actual: &Actual,
        plan: &Plan,
        source: Option<Source<'_>>,
        progress: &dyn Progress,
    ) -> Result<ApplyReport, EngineError> {
        let started = Instant::now();
        let _changing = self.stop.changing();
        let deployment = desired.deployment.as_str();
        // Apply runs under the deployment's lock, so a run the journal shows unfinished died.
        let resumed = self.close_dead_runs(deployment, progress)?;
        let run_id = {
            let store = self.store();
            store.upsert_deployment(
                deployment,
                self.cloud.region(),
                source.as_ref().map(|s| s.file),
                DeploymentStatus::Applying,
            )?;
            if let Some(spec) = source.as_ref().and_then(|s| s.spec) {
                store.set_spec(deployment, spec)?;
            }
            store.begin_run(deployment, "apply")?
        };
        let mut run = Run {
            id: run_id,
            progress,
            report: ApplyReport {
                changes: plan.changes.len(),
                warnings: plan.warnings.clone(),
                ..ApplyReport::new(deployment)
            },
            undo: UndoStack::default(),
            made_groups: Vec::new(),
            waited: None,
            pre_existing: actual
                .instances
                .iter()
                .map(|i| i.id.clone())
                .chain(actual.volumes.iter().map(|v| v.id.clone()))
                .chain(actual.security_groups.iter().map(|g| g.id.clone()))
                .chain(actual.network.ids().map(str::to_string))
                .collect(),
            images: HashMap::new(),
            past_no_return: false,
            final_actual: None,
            reads: self.reads_for(desired)?,
            net: crate::kinds::network::known_ids(desired.network.as_ref(), &actual.network),
            undoing: false,
        };
        run.report.warnings.extend(resumed);
        let result = self.execute(&mut run, desired, actual, plan).await;
        if let Err((address, err)) = result {
            let stopped = StopReason::of(&err);
            run.report.failure = Some(Failure {
                address,
                message: err.short(),
                code: err.code.clone(),
                hint: stopped.map(StopReason::hint).or_else(|| err.hint()),
            });
            // A run whose lock another run broke leaves its work to that run (see `Stop`).
            if run.past_no_return
                || self.opts.keep_on_failure
                || stopped == Some(StopReason::LockLost)
            {
                run.report.outcome = Outcome::Failed;
            } else {
                self.rollback(&mut run, deployment).await;
                run.report.outcome = Outcome::RolledBack;
            }
        }
        let final_actual = match run.final_actual.take() {
            Some(a) => Ok(a),
            None => {
                self.cloud
                    .describe_deployment_with(deployment, run.reads)
                    .await
            }
        };
        let final_actual = match final_actual {
            Ok(a) => Some(a),
            Err(e) => {
                progress.note(&format!(
                    "could not read the final state back: {}",
                    e.short()
                ));
                None
            }
        };
        if let Some(a) = &final_actual {
            run.report.instances = instance_summaries(a);
            self.record_resources(deployment, desired, a, &run.images)?;
        }
        run.report.requests = self.cloud.requests().total();
        run.report.requests_by_operation = self.cloud.requests().by_operation();
        run.report.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let (outcome, status) = match run.report.outcome {
            Outcome::Ok => ("ok", DeploymentStatus::Active),
            Outcome::RolledBack => (
                "rolled-back",
                if final_actual
                    .as_ref()
                    .is_some_and(|a| !a.instances.is_empty() || !a.security_groups.is_empty())
                {
                    DeploymentStatus::Active
                } else {
                    DeploymentStatus::RolledBack
                },
            ),
            Outcome::Failed => ("failed", DeploymentStatus::Failed),
        };
        {
            let store = self.store();
            store.set_status(deployment, status)?;
            store.finish_run(
                run.id,
                outcome,
                run.report.requests,
                &serde_json::to_value(&run.report).unwrap_or_default(),
            )?;
        }
        if run.report.outcome == Outcome::Ok {
            Ok(run.report)
        } else {
            Err(EngineError::Failed(Box::new(run.report)))
        }
    }

    /// Journals a step's intent; returns its id.
    pub(crate) fn intent(
        &self,
        run: &Run<'_>,
        address: &str,
        action: &str,
        intent: serde_json::Value,
    ) -> Result<i64, StepError> {
        if !run.undoing {
            self.stop
                .check(action)
                .map_err(|e| (address.to_string(), e))?;
        }
        self.store()
            .step_intent(run.id, address, action, &intent)
            .map_err(|e| {
                (
                    address.to_string(),
                    CloudError::new("journal", Some("StateError"), e.to_string()),
                )
            })
    }

    /// Journals a step's result (a journal failure after the call is reported, not fatal).
    pub(crate) fn result<T>(&self, step: i64, ids: &[String], r: &Result<T, CloudError>) {
        let (outcome, err) = match r {
            Ok(_) => ("ok", None),
            Err(e) => ("failed", Some(e.short())),
        };
        if let Err(e) = self.store().step_result(step, outcome, ids, err.as_deref()) {
            tracing::warn!("journal: {e}");
        }
    }

    async fn execute(
        &self,
        run: &mut Run<'_>,
        desired: &Desired,
        actual: &Actual,
        plan: &Plan,
    ) -> Result<(), StepError> {
        // Our security groups by spec name → id, existing ones first.
        let mut sg_ids: HashMap<String, String> = HashMap::new();
        for d in &desired.security_groups {
            if let Some(a) = actual
                .security_groups
                .iter()
                .find(|a| a.logical_id() == Some(d.id.as_str()))
            {
                sg_ids.insert(d.name.clone(), a.id.clone());
            }
        }
        // The phases gm-plan decided, in its order; a new phase does not compile until it is
        // run here.
        for phase in Phase::ALL {
            match phase {
                Phase::Network => self.create_network(run, plan).await?,
                Phase::Identity => self.create_identity(run, plan).await?,
                Phase::Groups => self.create_groups(run, plan, &mut sg_ids).await?,
                Phase::GroupRules => self.update_group_rules(run, plan, &sg_ids).await?,
                Phase::Launches => self.launch_all(run, desired, plan, &sg_ids).await?,
                Phase::InPlace => self.update_in_place(run, plan, &sg_ids).await?,
                Phase::Removals => self.remove(run, plan).await?,
                // The edge needs its targets as they run: the read-back (and its volume fixes)
                // comes first.
                Phase::Edge => {
                    self.converge(run, desired, actual, plan).await?;
                    self.apply_edge(run, desired, plan, &sg_ids).await?
                }
                Phase::NetworkRemovals => self.remove_network(run, plan, actual).await?,
            }
        }
        Ok(())
    }

    /// The network's removals, last: everything that lived in it is gone by now.
    async fn remove_network(
        &self,
        run: &mut Run<'_>,
        plan: &Plan,
        actual: &Actual,
    ) -> Result<(), StepError> {
        let ids: HashSet<&str> = plan
            .phase(Phase::NetworkRemovals)
            .filter_map(|c| crate::kinds::network::is_network_delete(&c.action))
            .collect();
        if ids.is_empty() {
            return Ok(());
        }
        run.past_no_return = true;
        let doomed = crate::kinds::network::doomed(&actual.network, |id| ids.contains(id));
        let results = self.delete_network(run.id, &doomed, !run.undoing).await;
        for (d, r) in doomed.iter().zip(results) {
            r.map_err(|e| (d.address.clone(), e))?;
            run.net.retain(|_, v| v != &d.id);
            run.report.destroyed.push(Done {
                address: d.address.clone(),
                aws_id: d.id.clone(),
                what: format!("{} deleted", d.detail),
            });
        }
        Ok(())
    }

    /// Roles and secrets come first: instances launch with the profile and read the secrets.
    async fn create_identity(&self, run: &mut Run<'_>, plan: &Plan) -> Result<(), StepError> {
        for c in plan.phase(Phase::Identity) {
            match &c.action {
                Action::CreateRole { role } => {
                    let step = self.intent(
                        run,
                        &role.id,
                        "create-role",
                        json!({"name": role.aws_name, "path": role.path}),
                    )?;
                    // Recorded before the call: a failure part-way leaves pieces only delete_role
                    // knows how to remove.
                    run.undo.push(Undo::Role {
                        address: role.id.clone(),
                        name: role.aws_name.clone(),
                    });
                    let r = self.cloud.create_role(role).await;
                    self.result(step, std::slice::from_ref(&role.aws_name), &r);
                    let arn = r.map_err(|e| (role.id.clone(), e))?;
                    run.report.created.push(Done {
                        address: role.id.clone(),
                        aws_id: arn,
                        what: format!("IAM role and instance profile {}", role.aws_name),
                    });
                }
                Action::UpdateRole {
                    role,
                    attach,
                    detach,
                    secrets_policy,
                    repair_profile,
                } => {
                    let step = self.intent(
                        run,
                        &role.id,
                        "update-role",
                        json!({"attach": attach, "detach": detach}),
                    )?;
                    let r = self
                        .cloud
                        .update_role(role, attach, detach, *secrets_policy, *repair_profile)
                        .await;
                    self.result(step, std::slice::from_ref(&role.aws_name), &r);
                    r.map_err(|e| (role.id.clone(), e))?;
                    run.report.updated.push(Done {
                        address: role.id.clone(),
                        aws_id: role.aws_name.clone(),
                        what: c.details.join("; "),
                    });
                }
                Action::CreateSecret { secret } => {
                    // The value is generated here and goes only to SSM: not to the journal, the
                    // audit log or any output.
                    let value = gm_cloud::generate_secret(secret.length as usize)
                        .map_err(|e| (secret.id.clone(), e))?;
                    let step = self.intent(
                        run,
                        &secret.id,
                        "create-secret",
                        json!({"parameter": secret.parameter}),
                    )?;
                    // Recorded before the call, as a role is: a put whose answer was lost may
                    // have stored it, and the undo must remove it then too.
                    run.undo.push(Undo::Secret {
                        address: secret.id.clone(),
                        parameter: secret.parameter.clone(),
                    });
                    let r = self
                        .cloud
                        .put_secret(&secret.parameter, &value, &secret.tags)
                        .await;
                    self.result(step, std::slice::from_ref(&secret.parameter), &r);
                    let created = r.map_err(|e| (secret.id.clone(), e))?;
                    if !created {
                        // It existed already: not this run's to undo.
                        run.undo.forget_last();
                    } else {
                        run.report.created.push(Done {
                            address: secret.id.clone(),
                            aws_id: secret.parameter.clone(),
                            what: "secret generated (SecureString)".into(),
                        });
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    async fn create_groups(
        &self,
        run: &mut Run<'_>,
        plan: &Plan,
        sg_ids: &mut HashMap<String, String>,
    ) -> Result<(), StepError> {
        let creates: Vec<_> = plan
            .phase(Phase::Groups)
            .filter_map(|c| match &c.action {
                Action::CreateSg { sg } => Some(sg.as_ref()),
                _ => None,
            })
            .collect();
        if creates.is_empty() {
            return Ok(());
        }
        run.progress.phase("security groups", creates.len() as u64);
        let mut vpcs: HashMap<String, String> = HashMap::new();
        for sg in &creates {
            let vpc = match &sg.vpc {
                gm_plan::VpcRef::Id(v) => v.clone(),
                gm_plan::VpcRef::Ours => {
                    run.net.get(gm_plan::VPC_ADDRESS).cloned().ok_or_else(|| {
                        (
                            sg.id.clone(),
                            CloudError::new(
                                "network",
                                Some("MissingNetwork"),
                                "the deployment's VPC does not exist",
                            ),
                        )
                    })?
                }
                gm_plan::VpcRef::Default => {
                    self.default_vpc().await.map_err(|e| (sg.id.clone(), e))?
                }
            };
            let step = self.intent(
                run,
                &sg.id,
                "create",
                json!({"name": sg.aws_name, "vpc": vpc}),
            )?;
            run.undo.push(Undo::Group {
                address: sg.id.clone(),
                id: None,
            });
            let r = self
                .cloud
                .create_security_group(&sg.aws_name, &sg.description, &vpc, &sg.tags)
                .await;
            let ids = r.as_ref().map(|id| vec![id.clone()]).unwrap_or_default();
            self.result(step, &ids, &r);
            let id = r.map_err(|e| (sg.id.clone(), e))?;
            run.undo.answered(&sg.id, &id);
            run.report.created.push(Done {
                address: sg.id.clone(),
                aws_id: id.clone(),
                what: format!("security group {} in {vpc}", sg.aws_name),
            });
            sg_ids.insert(sg.name.clone(), id);
            vpcs.insert(sg.id.clone(), vpc);
            run.progress.step(&sg.id, "created");
        }
        for sg in &creates {
            let rules = resolve_rules(&sg.ingress, sg_ids).map_err(|e| (sg.id.clone(), e))?;
            let id = &sg_ids[&sg.name];
            let step = self.intent(
                run,
                &sg.id,
                "authorize-ingress",
                json!({"rules": rules.len()}),
            )?;
            let r = self.cloud.authorize_ingress(id, &rules).await;
            self.result(step, std::slice::from_ref(id), &r);
            r.map_err(|e| (sg.id.clone(), e))?;
            run.made_groups.push(gm_plan::ActualSg {
                id: id.clone(),
                name: sg.aws_name.clone(),
                vpc_id: vpcs.get(&sg.id).cloned(),
                tags: sg.tags.clone(),
                ingress: rules,
            });
        }
        Ok(())
    }

    async fn update_group_rules(
        &self,
        run: &mut Run<'_>,
        plan: &Plan,
        sg_ids: &HashMap<String, String>,
    ) -> Result<(), StepError> {
        for c in plan.phase(Phase::GroupRules) {
            let Action::UpdateSgRules { sg_id, add, remove } = &c.action else {
                continue;
            };
            let add = resolve_rules(add, sg_ids).map_err(|e| (c.address.clone(), e))?;
            let step = self.intent(
                run,
                &c.address,
                "update-rules",
                json!({"add": add.len(), "remove": remove.len()}),
            )?;
            let mut r = self.cloud.authorize_ingress(sg_id, &add).await;
            if r.is_ok() {
                r = self.cloud.revoke_ingress(sg_id, remove).await;
            }
            self.result(step, std::slice::from_ref(sg_id), &r);
            r.map_err(|e| (c.address.clone(), e))?;
            run.report.updated.push(Done {
                address: c.address.clone(),
                aws_id: sg_id.clone(),
                what: format!("{} rule(s) added, {} removed", add.len(), remove.len()),
            });
        }
        Ok(())
    }

    async fn launch_all(
        &self,
        run: &mut Run<'_>,
        desired: &Desired,
        plan: &Plan,
        sg_ids: &HashMap<String, String>,
    ) -> Result<(), StepError> {
        let launches: Vec<(&DesiredInstance, Option<&str>, &[gm_plan::Reattach])> = plan
            .phase(Phase::Launches)
            .filter_map(|c| match &c.action {
                Action::CreateInstance { instance, reattach } => {
                    Some((instance.as_ref(), None, reattach.as_slice()))
                }
                Action::ReplaceInstance {
                    instance,
                    old_id,
                    moves,
                    ..
                } => Some((instance.as_ref(), Some(old_id.as_str()), moves.as_slice())),
                _ => None,
            })
            .collect();
        if launches.is_empty() {
            return Ok(());
        }
        self.release_moving_volumes(run, plan).await?;
        let mut amis: Vec<String> = launches.iter().map(|(d, _, _)| d.ami.clone()).collect();
        amis.sort();
        amis.dedup();
        run.images = self
            .cloud
            .resolve_images(&amis)
            .await
            .map_err(|e| (format!("image/{}", amis.join(",")), e))?;
        let mut jobs = Vec::with_capacity(launches.len());
        let mut reattach_by_address: HashMap<String, Vec<gm_plan::Reattach>> = HashMap::new();
        let mut replaces: HashMap<String, String> = HashMap::new();
        for (d, old, reattach) in &launches {
            let mut req = self
                .launch_request(run, d, sg_ids)
                .map_err(|e| (d.id.clone(), e))?;
            if !reattach.is_empty() {
                // The kept volumes replace the new ones at their devices; the instance goes to
                // their zone, since a volume attaches only within its zone.
                req.block_devices.retain(|b| {
                    !reattach.iter().any(|r| {
                        gm_plan::diff::device_key(&r.device) == gm_plan::diff::device_key(&b.device)
                    })
                });
                req.availability_zone = Some(reattach[0].availability_zone.clone());
                reattach_by_address.insert(d.id.clone(), reattach.to_vec());
                if let Some(old) = old {
                    replaces.insert(d.id.clone(), old.to_string());
                }
            }
            req.client_token = launch_token(&desired.deployment, &req, *old, reattach);
            let step = self.intent(
                run,
                &d.id,
                if old.is_some() { "replace" } else { "create" },
                json!({"type": req.instance_type, "image": req.image_id, "token": req.client_token, "replaces": old}),
            )?;
            run.undo.push(Undo::Launch {
                address: d.id.clone(),
                id: None,
            });
            jobs.push((d.id.clone(), old.map(str::to_string), step, req));
        }
        run.progress.phase("launching instances", jobs.len() as u64);
        let cloud = &self.cloud;
        let progress = run.progress;
        let results: Vec<Launched> = stream::iter(jobs)
            .map(|(address, old, step, req)| async move {
                let r = cloud.launch(&req).await;
                progress.step(&address, if r.is_ok() { "launched" } else { "failed" });
                (address, old, step, r)
            })
            .buffer_unordered(self.opts.parallelism.max(1))
            .collect()
            .await;
        let mut first_error = None;
        let mut new_ids = Vec::new();
        for (address, old, step, r) in results {
            let ids = r
                .as_ref()
                .map(|o| vec![o.instance_id.clone()])
                .unwrap_or_default();
            self.result(step, &ids, &r);
            match r {
                Ok(o) => {
                    let what = if o.fell_back_to_on_demand {
                        "launched on-demand: no spot capacity (spot.fallback: on-demand)"
                            .to_string()
                    } else {
                        "launched".to_string()
                    };
                    if o.fell_back_to_on_demand {
                        run.progress
                            .note(&format!("{address}: no spot capacity, launched on-demand"));
                    }
                    run.undo.answered(&address, &o.instance_id);
                    new_ids.push(o.instance_id.clone());
                    let done = Done {
                        address,
                        aws_id: o.instance_id,
                        what: match &old {
                            Some(old) => format!("{what}; replaces {old}"),
                            None => what,
                        },
                    };
                    if old.is_some() {
                        run.report.replaced.push(done);
                    } else {
                        run.report.created.push(done);
                    }
                }
                Err(e) => {
                    if first_error.is_none() {
                        first_error = Some((address, e));
                    }
                }
            }
        }
        if let Some(e) = first_error {
            return Err(e);
        }
        if (self.opts.wait || !reattach_by_address.is_empty()) && !new_ids.is_empty() {
            run.progress.phase("waiting for instances to run", 1);
            let seen = self
                .cloud
                .wait_instances(&new_ids, WaitTarget::Running, self.opts.timeout)
                .await
                .map_err(|e| ("instances".to_string(), e))?;
            if reattach_by_address.is_empty() {
                run.waited = Some(seen.into_values().collect());
            }
            run.progress.step("instances", "running");
        }
        for (address, instance_id) in run.undo.launched() {
            for r in reattach_by_address.get(&address).into_iter().flatten() {
                let step = self.intent(
                    run,
                    &address,
                    "reattach-volume",
                    json!({"volume": r.volume_id, "device": r.device}),
                )?;
                let res = self
                    .cloud
                    .attach_volume(&r.volume_id, &instance_id, &r.device)
                    .await;
                self.result(step, std::slice::from_ref(&r.volume_id), &res);
                res.map_err(|e| (address.clone(), e))?;
                run.report.updated.push(Done {
                    address: format!("{address}:{}", r.device),
                    aws_id: r.volume_id.clone(),
                    what: match replaces.get(&address) {
                        Some(old) => format!("data volume moved from {old} to {instance_id}"),
                        None => format!("kept volume reattached to {instance_id}"),
                    },
                });
            }
        }
        Ok(())
    }

    /// Frees the kept volumes that move to replacements: old instances are stopped (one call)
    /// or, when they cannot be stopped, terminated; the volumes are detached; then one wait
    /// until all of them are available to attach.
    async fn release_moving_volumes(
        &self,
        run: &mut Run<'_>,
        plan: &Plan,
    ) -> Result<(), StepError> {
        let mut stop: Vec<(String, String)> = Vec::new();
        let mut terminate: Vec<(String, String)> = Vec::new();
        let mut detach: Vec<Detached> = Vec::new();
        let mut moving: Vec<String> = Vec::new();
        for c in plan.phase(Phase::Launches) {
            let Action::ReplaceInstance {
                old_id,
                moves,
                release,
                ..
            } = &c.action
            else {
                continue;
            };
            moving.extend(moves.iter().map(|m| m.volume_id.clone()));
            match release {
                gm_plan::Release::Nothing => continue,
                gm_plan::Release::Stop => {
                    stop.push((c.address.clone(), old_id.clone()));
                    detach.extend(moves.iter().map(|m| Detached {
                        address: c.address.clone(),
                        volume: m.volume_id.clone(),
                        from: old_id.clone(),
                        device: m.device.clone(),
                    }));
                }
                gm_plan::Release::Terminate => terminate.push((c.address.clone(), old_id.clone())),
            }
        }
        if moving.is_empty() {
            return Ok(());
        }
        run.progress
            .phase("moving data volumes", (stop.len() + terminate.len()) as u64);
        if !stop.is_empty() {
            // Recorded before the call: an undo starts them again whatever the answer was.
            run.undo.push(Undo::Stopped {
                instances: stop.clone(),
            });
            self.release_for_move(run, &stop, WaitTarget::Stopped)
                .await?;
        }
        if !terminate.is_empty() {
            run.undo.push(Undo::Terminated {
                instances: terminate.clone(),
            });
            self.release_for_move(run, &terminate, WaitTarget::Terminated)
                .await?;
        }
        for d in detach {
            let step = self.intent(
                run,
                &d.address,
                "detach-volume",
                json!({"volume": d.volume, "instance": d.from, "device": d.device}),
            )?;
            let r = self.cloud.detach_volume(&d.volume, &d.from).await;
            self.result(step, std::slice::from_ref(&d.volume), &r);
            let address = d.address.clone();
            // Recorded whatever the answer: an undo attaches it back either way.
            run.undo.push(Undo::Detached(d));
            r.map_err(|e| (address, e))?;
        }
        self.cloud
            .wait_volumes_available(&moving, self.opts.timeout)
            .await
            .map_err(|e| ("volumes".to_string(), e))
    }

    /// Stops (or terminates) the instances whose volumes move, in one journaled call, and waits
    /// until they are.
    async fn release_for_move(
        &self,
        run: &mut Run<'_>,
        instances: &[(String, String)],
        target: WaitTarget,
    ) -> Result<(), StepError> {
        let ids: Vec<String> = instances.iter().map(|(_, id)| id.clone()).collect();
        let address = instances[0].0.clone();
        let action = match target {
            WaitTarget::Terminated => "terminate-for-move",
            _ => "stop-for-move",
        };
        let step = self.intent(run, &address, action, json!({"instances": ids}))?;
        let mut r = match target {
            WaitTarget::Terminated => self.cloud.terminate_instances(&ids).await,
            _ => self.cloud.stop_instances(&ids).await,
        };
        if r.is_ok() {
            r = self
                .cloud
                .wait_instances(&ids, target, self.opts.timeout)
                .await
                .map(|_| ());
        }
        self.result(step, &ids, &r);
        r.map_err(|e| (address, e))
    }

    /// Builds the `RunInstances` request for one desired instance.
    fn launch_request(
        &self,
        run: &Run<'_>,
        d: &DesiredInstance,
        sg_ids: &HashMap<String, String>,
    ) -> Result<LaunchRequest, CloudError> {
        let image = run.images.get(&d.ami).ok_or_else(|| {
            CloudError::new(
                "DescribeImages",
                Some("InvalidAMIID.NotFound"),
                format!("AMI {} was not resolved", d.ami),
            )
        })?;
        let mut groups = Vec::new();
        for g in &d.security_groups {
            groups.push(resolve_group(g, sg_ids)?);
        }
        let mut block_devices = Vec::new();
        if let Some(r) = &d.root_volume {
            block_devices.push(BlockDeviceRequest {
                device: image.root_device_name.clone(),
                size: r.size.and_then(|s| i32::try_from(s).ok()),
                volume_type: r.volume_type.as_str().into(),
                iops: r.iops.and_then(|s| i32::try_from(s).ok()),
                throughput: r.throughput.and_then(|s| i32::try_from(s).ok()),
                encrypted: r.encrypted,
                kms_key: r.kms_key.clone(),
                delete_on_termination: true,
            });
        }
        for v in &d.volumes {
            block_devices.push(BlockDeviceRequest {
                device: v.device.clone(),
                size: i32::try_from(v.size).ok(),
                volume_type: v.volume_type.as_str().into(),
                iops: v.iops.and_then(|s| i32::try_from(s).ok()),
                throughput: v.throughput.and_then(|s| i32::try_from(s).ok()),
                encrypted: v.encrypted,
                kms_key: v.kms_key.clone(),
                delete_on_termination: v.delete_on_termination,
            });
        }
        Ok(LaunchRequest {
            // Set by the caller once the request is final.
            client_token: String::new(),
            image_id: image.id.clone(),
            instance_type: d.instance_type.clone(),
            key_name: d.key_pair.clone(),
            subnet_id: match &d.subnet {
                None => None,
                Some(gm_plan::SubnetRef::Id(id)) => Some(id.clone()),
                Some(gm_plan::SubnetRef::Ours(a)) => {
                    Some(run.net.get(a).cloned().ok_or_else(|| {
                        CloudError::new(
                            "network",
                            Some("MissingNetwork"),
                            format!("{a} does not exist"),
                        )
                    })?)
                }
            },
            security_group_ids: groups,
            spot: (d.market == Market::Spot).then(|| {
                let s = d.spot.clone().unwrap_or(gm_spec::SpotSpec {
                    max_price: None,
                    fallback: SpotFallback::None,
                    interruption: gm_spec::Interruption::Terminate,
                });
                SpotRequest {
                    max_price: s.max_price,
                    interruption: s.interruption.as_str().into(),
                    fallback_on_demand: s.fallback == SpotFallback::OnDemand,
                }
            }),
            iam_instance_profile: d.iam_instance_profile.clone(),
            user_data: d.user_data.clone(),
            block_devices,
            instance_tags: d.tags.clone(),
            volume_tags: d.volume_tags.clone(),
            availability_zone: d.zone.clone(),
        })
    }

    async fn update_in_place(
        &self,
        run: &mut Run<'_>,
        plan: &Plan,
        sg_ids: &HashMap<String, String>,
    ) -> Result<(), StepError> {
        // Tags: one CreateTags per distinct tag set and one DeleteTags per distinct key set,
        // whatever the number of resources.
        let mut adds: TagBatches<Vec<(String, String)>> = BTreeMap::new();
        let mut removes: TagBatches<Vec<String>> = BTreeMap::new();
        for c in plan.phase(Phase::InPlace) {
            if let Action::Tag {
                resource_ids,
                add,
                remove,
            } = &c.action
            {
                for id in resource_ids {
                    if !add.is_empty() {
                        adds.entry(add.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                            .or_default()
                            .push((c.address.clone(), id.clone()));
                    }
                    if !remove.is_empty() {
                        removes
                            .entry(remove.clone())
                            .or_default()
                            .push((c.address.clone(), id.clone()));
                    }
                }
            }
        }
        for (tags, targets) in &adds {
            let tags: Tags = tags.iter().cloned().collect();
            let ids: Vec<String> = targets.iter().map(|(_, id)| id.clone()).collect();
            let step = self.intent(
                run,
                &targets[0].0,
                "tag",
                json!({"resources": ids, "set": tags}),
            )?;
            let r = self.cloud.create_tags(&ids, &tags).await;
            self.result(step, &ids, &r);
            r.map_err(|e| (targets[0].0.clone(), e))?;
        }
        for (keys, targets) in &removes {
            let ids: Vec<String> = targets.iter().map(|(_, id)| id.clone()).collect();
            let step = self.intent(
                run,
                &targets[0].0,
                "untag",
                json!({"resources": ids, "remove": keys}),
            )?;
            let r = self.cloud.delete_tags(&ids, keys).await;
            self.result(step, &ids, &r);
            r.map_err(|e| (targets[0].0.clone(), e))?;
        }
        let mut tagged: Vec<(String, String)> = adds
            .values()
            .chain(removes.values())
            .flatten()
            .cloned()
            .collect();
        tagged.sort();
        tagged.dedup();
        for (address, id) in tagged {
            run.report.updated.push(Done {
                address,
                aws_id: id,
                what: "tags".into(),
            });
        }

        for c in plan.phase(Phase::InPlace) {
            match &c.action {
                Action::ModifyVolume { volume_id, change } => {
                    let step = self.intent(
                        run,
                        &c.address,
                        "modify-volume",
                        serde_json::to_value(change).unwrap_or_default(),
                    )?;
                    let r = self.cloud.modify_volume(volume_id, change).await;
                    self.result(step, std::slice::from_ref(volume_id), &r);
                    r.map_err(|e| (c.address.clone(), e))?;
                    run.report.updated.push(Done {
                        address: c.address.clone(),
                        aws_id: volume_id.clone(),
                        what: c.details.join("; "),
                    });
                }
                Action::ModifyInstanceGroups {
                    instance_id,
                    groups,
                } => {
                    let ids = groups
                        .iter()
                        .map(|g| resolve_group(g, sg_ids))
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(|e| (c.address.clone(), e))?;
                    let step =
                        self.intent(run, &c.address, "modify-groups", json!({"groups": ids}))?;
                    let r = self.cloud.modify_instance_groups(instance_id, &ids).await;
                    self.result(step, std::slice::from_ref(instance_id), &r);
                    r.map_err(|e| (c.address.clone(), e))?;
                    run.report.updated.push(Done {
                        address: c.address.clone(),
                        aws_id: instance_id.clone(),
                        what: c.details.join("; "),
                    });
                }
                _ => {}
            }
        }

        // Type changes: stop all affected at once, modify each, start those that ran.
        let retype: Vec<(&str, &str, &str, bool)> = plan
            .phase(Phase::InPlace)
            .filter_map(|c| match &c.action {
                Action::ModifyInstanceType {
                    instance_id,
                    to,
                    was_running,
                } => Some((
                    c.address.as_str(),
                    instance_id.as_str(),
                    to.as_str(),
                    *was_running,
                )),
                _ => None,
            })
            .collect();
        if retype.is_empty() {
            return Ok(());
        }
        run.progress
            .phase("changing instance types", retype.len() as u64);
        let running: Vec<String> = retype
            .iter()
            .filter(|r| r.3)
            .map(|r| r.1.to_string())
            .collect();
        if !running.is_empty() {
            let step = self.intent(run, retype[0].0, "stop", json!({"instances": running}))?;
            let r = self.cloud.stop_instances(&running).await;
            self.result(step, &running, &r);
            r.map_err(|e| (retype[0].0.to_string(), e))?;
            self.cloud
                .wait_instances(&running, WaitTarget::Stopped, self.opts.timeout)
                .await
                .map_err(|e| (retype[0].0.to_string(), e))?;
        }
        for (address, id, to, _) in &retype {
            let step = self.intent(run, address, "modify-type", json!({"to": to}))?;
            let r = self.cloud.modify_instance_type(id, to).await;
            self.result(step, &[id.to_string()], &r);
            r.map_err(|e| (address.to_string(), e))?;
            run.report.updated.push(Done {
                address: address.to_string(),
                aws_id: id.to_string(),
                what: format!("type → {to} (stopped and started)"),
            });
            run.progress.step(address, "type changed");
        }
        if !running.is_empty() {
            let step = self.intent(run, retype[0].0, "start", json!({"instances": running}))?;
            let r = self.cloud.start_instances(&running).await;
            self.result(step, &running, &r);
            r.map_err(|e| (retype[0].0.to_string(), e))?;
            if self.opts.wait {
                self.cloud
                    .wait_instances(&running, WaitTarget::Running, self.opts.timeout)
                    .await
                    .map_err(|e| (retype[0].0.to_string(), e))?;
            }
        }
        Ok(())
    }

    async fn remove(&self, run: &mut Run<'_>, plan: &Plan) -> Result<(), StepError> {
        let mut doomed: Vec<(String, String)> = Vec::new();
        let mut orphaned: Vec<(String, String)> = Vec::new();
        // The removals, and the old instances of replacements launched earlier.
        for c in plan
            .phase(Phase::Removals)
            .chain(plan.phase(Phase::Launches))
        {
            match &c.action {
                Action::TerminateInstance {
                    instance_id,
                    delete_volumes,
                } => {
                    doomed.push((c.address.clone(), instance_id.clone()));
                    orphaned.extend(
                        delete_volumes
                            .iter()
                            .map(|v| (c.address.clone(), v.clone())),
                    );
                }
                // A spot instance whose volumes moved was terminated before the launch.
                Action::ReplaceInstance {
                    old_id, release, ..
                } if *release != gm_plan::Release::Terminate => {
                    doomed.push((c.address.clone(), old_id.clone()))
                }
                _ => {}
            }
        }
        let groups: Vec<(String, String)> = plan
            .phase(Phase::Removals)
            .filter_map(|c| match &c.action {
                Action::DeleteSg { sg_id } => Some((c.address.clone(), sg_id.clone())),
                _ => None,
            })
            .collect();
        let roles: Vec<(String, String)> = plan
            .phase(Phase::Removals)
            .filter_map(|c| match &c.action {
                Action::DeleteRole { name } => Some((c.address.clone(), name.clone())),
                _ => None,
            })
            .collect();
        let secrets: Vec<(String, String)> = plan
            .phase(Phase::Removals)
            .filter_map(|c| match &c.action {
                Action::DeleteSecret { parameter } => Some((c.address.clone(), parameter.clone())),
                _ => None,
            })
            .collect();
        self.remove_edge(run, plan).await?;
        if doomed.is_empty() && groups.is_empty() && roles.is_empty() && secrets.is_empty() {
            return Ok(());
        }
        run.past_no_return = true;
        if !doomed.is_empty() {
            run.progress.phase("terminating instances", 1);
            let ids: Vec<String> = doomed.iter().map(|d| d.1.clone()).collect();
            let step = self.intent(run, &doomed[0].0, "terminate", json!({"instances": ids}))?;
            let r = self.cloud.terminate_instances(&ids).await;
            self.result(step, &ids, &r);
            r.map_err(|e| (doomed[0].0.clone(), e))?;
            for (address, id) in &doomed {
                if !run.report.replaced.iter().any(|d| &d.address == address) {
                    run.report.destroyed.push(Done {
                        address: address.clone(),
                        aws_id: id.clone(),
                        what: "terminated".into(),
                    });
                }
            }
            if !groups.is_empty() || !roles.is_empty() || !orphaned.is_empty() {
                self.cloud
                    .wait_instances(&ids, WaitTarget::Terminated, self.opts.timeout)
                    .await
                    .map_err(|e| (doomed[0].0.clone(), e))?;
            }
        }
        // Kept volumes of duplicate copies, free now that their instances are gone.
        for (address, volume) in &orphaned {
            let step = self.intent(run, address, "delete-volume", json!({"volume": volume}))?;
            let r = self.cloud.delete_volume(volume).await;
            self.result(step, std::slice::from_ref(volume), &r);
            r.map_err(|e| (address.clone(), e))?;
            run.report.destroyed.push(Done {
                address: address.clone(),
                aws_id: volume.clone(),
                what: "kept volume of a duplicate copy deleted".into(),
            });
        }
        for (address, name) in &roles {
            let step = self.intent(run, address, "delete-role", json!({"role": name}))?;
            let r = self.cloud.delete_role(name).await;
            self.result(step, std::slice::from_ref(name), &r);
            r.map_err(|e| (address.clone(), e))?;
            run.report.destroyed.push(Done {
                address: address.clone(),
                aws_id: name.clone(),
                what: "role, policies and instance profile deleted".into(),
            });
        }
        if !secrets.is_empty() {
            let names: Vec<String> = secrets.iter().map(|(_, p)| p.clone()).collect();
            let step = self.intent(
                run,
                &secrets[0].0,
                "delete-secrets",
                json!({"parameters": names}),
            )?;
            let r = self.cloud.delete_secrets(&names).await;
            self.result(step, &names, &r);
            r.map_err(|e| (secrets[0].0.clone(), e))?;
            for (address, p) in &secrets {
                run.report.destroyed.push(Done {
                    address: address.clone(),
                    aws_id: p.clone(),
                    what: "secret deleted".into(),
                });
            }
        }
        let mut steps = Vec::new();
        for (address, id) in &groups {
            steps.push(self.intent(run, address, "delete", json!({"group": id}))?);
        }
        let ids: Vec<String> = groups.iter().map(|(_, id)| id.clone()).collect();
        let deployment = run.report.deployment.clone();
        let results = self.delete_groups(&deployment, &ids).await;
        let mut first_failure = None;
        for (((address, id), step), r) in groups.iter().zip(steps).zip(results) {
            self.result(step, std::slice::from_ref(id), &r);
            match r {
                Ok(()) => run.report.destroyed.push(Done {
                    address: address.clone(),
                    aws_id: id.clone(),
                    what: "security group deleted".into(),
                }),
                Err(e) => {
                    first_failure.get_or_insert((address.clone(), e));
                }
            }
        }
        first_failure.map_or(Ok(()), Err)
    }

    /// Deletes security groups, retrying while AWS still sees them in use: the network
    /// interfaces of just-terminated instances linger for a while, and a group that another
    /// group's rule names is in use until that rule or group is gone. Each round deletes every
    /// group AWS lets go, which frees the groups those named. A round that frees none of two or
    /// more groups revokes the rules by which they name each other (a cycle), read once.
    /// Results are in the order of `ids`; already gone is success.
    pub(crate) async fn delete_groups(
        &self,
        deployment: &str,
        ids: &[String],
    ) -> Vec<Result<(), CloudError>> {
        let deadline = Instant::now() + self.opts.timeout;
        let mut backoff = gm_cloud::Backoff::default();
        let mut results: Vec<Option<Result<(), CloudError>>> = vec![None; ids.len()];
        let mut left: Vec<usize> = (0..ids.len()).collect();
        let mut unlinked = false;
        while !left.is_empty() {
            tokio::time::sleep(backoff.next_delay()).await;
            let mut still = Vec::new();
            for &i in &left {
                match self.cloud.delete_security_group(&ids[i]).await {
                    Err(e) if e.kind == ErrorKind::InUse && Instant::now() < deadline => {
                        still.push(i);
                    }
                    Err(e) if e.kind == ErrorKind::NotFound => results[i] = Some(Ok(())),
                    other => results[i] = Some(other),
                }
            }
            if still.len() == left.len() && still.len() > 1 && !unlinked {
                unlinked = true;
                let stuck: Vec<String> = still.iter().map(|&i| ids[i].clone()).collect();
                self.unlink_groups(deployment, &stuck).await;
            }
            left = still;
        }
        results.into_iter().map(|r| r.unwrap_or(Ok(()))).collect()
    }

    /// Revokes the inbound rules by which the groups `ids` name each other, so that none keeps
    /// another in use. Best effort: a group that stays in use fails its delete, which says why.
    async fn unlink_groups(&self, deployment: &str, ids: &[String]) {
        let Ok(groups) = self.cloud.describe_deployment_groups(deployment).await else {
            return;
        };
        for g in groups.iter().filter(|g| ids.contains(&g.id)) {
            let naming: Vec<gm_plan::Rule> = g
                .ingress
                .iter()
                .filter(|r| {
                    matches!(&r.source, gm_plan::RuleSource::Group(GroupRef::Id(x)) if x != &g.id && ids.contains(x))
                })
                .cloned()
                .collect();
            if let Err(e) = self.cloud.revoke_ingress(&g.id, &naming).await {
                tracing::warn!(group = %g.id, error = %e.short(), "could not revoke the rules naming other doomed groups");
            }
        }
    }

    /// The read after a run's changes, without what the run already knows AWS holds: roles and
    /// secrets (see [`Engine::converge`]), and, when the deployment had none before the run, the
    /// instances it launched (the wait's last answer) and the groups it created. Volumes are
    /// always read: a launch reports neither their sizes nor their settings.
    async fn read_back(
        &self,
        run: &mut Run<'_>,
        deployment: &str,
        before: &Actual,
    ) -> Result<Actual, CloudError> {
        let reads = Reads {
            identity: false,
            ..run.reads
        };
        let instances = before
            .instances
            .is_empty()
            .then(|| run.waited.take())
            .flatten()
            .filter(|w| w.len() == run.undo.launched().len());
        let groups = (before.security_groups.is_empty() && !run.made_groups.is_empty())
            .then(|| run.made_groups.clone());
        if instances.is_none() && groups.is_none() {
            return self.cloud.describe_deployment_with(deployment, reads).await;
        }
        let cloud = &self.cloud;
        let (instances, volumes, security_groups, network, edge) = tokio::try_join!(
            async {
                match instances {
                    Some(i) => Ok(i),
                    None => cloud.describe_deployment_instances(deployment).await,
                }
            },
            cloud.describe_deployment_volumes(deployment),
            async {
                match groups {
                    Some(g) => Ok(g),
                    None => cloud.describe_deployment_groups(deployment).await,
                }
            },
            async {
                match reads.network {
                    true => cloud
                        .describe_network_with(deployment, reads.nat)
                        .await
                        .map(Some),
                    false => Ok(None),
                }
            },
            async {
                match reads.edge {
                    true => cloud.describe_edge(deployment).await.map(Some),
                    false => Ok(None),
                }
            },
        )?;
        let mut actual = Actual {
            instances,
            volumes,
            security_groups,
            network: network.unwrap_or_default(),
            ..Actual::default()
        };
        if let Some(e) = edge {
            e.fill(&mut actual);
        }
        Ok(actual)
    }

    /// Reads back what was made and fixes what the launch could not set (an emulator that
    /// ignores IOPS in block-device mappings, say): volume settings only, never a relaunch.
    /// Roles and secrets are not read again: every identity step has succeeded by now, so the
    /// plan's read with the plan applied is what IAM and SSM hold (five requests fewer for a
    /// stack's first deploy).
    async fn converge(
        &self,
        run: &mut Run<'_>,
        desired: &Desired,
        before: &Actual,
        plan: &Plan,
    ) -> Result<(), StepError> {
        if run.undo.launched().is_empty()
            && run.report.updated.is_empty()
            && run.report.destroyed.is_empty()
        {
            return Ok(());
        }
        let mut actual = self
            .read_back(run, &desired.deployment, before)
            .await
            .map_err(|e| ("verify".to_string(), e))?;
        if run.reads.identity {
            (actual.roles, actual.secrets) =
                crate::kinds::identity::after_run(before, plan, &run.report.created);
        }
        self.tag_kept_devices(run, &actual).await?;
        let created: HashSet<String> = run.undo.launched().into_iter().map(|(a, _)| a).collect();
        let plan = gm_plan::diff(desired, &actual);
        let fixes: Vec<_> = plan
            .changes
            .iter()
            .filter(|c| {
                matches!(c.action, Action::ModifyVolume { .. })
                    && Address::parse(&c.address)
                        .and_then(|a| a.instance_of())
                        .is_some_and(|i| created.contains(&i.to_string()))
            })
            .collect();
        if fixes.is_empty() {
            // Nothing to fix: this read is the final state.
            run.final_actual = Some(actual);
            return Ok(());
        }
        for c in fixes {
            if let Action::ModifyVolume { volume_id, change } = &c.action {
                let step = self.intent(
                    run,
                    &c.address,
                    "converge-volume",
                    serde_json::to_value(change).unwrap_or_default(),
                )?;
                let r = self.cloud.modify_volume(volume_id, change).await;
                self.result(step, std::slice::from_ref(volume_id), &r);
                r.map_err(|e| (c.address.clone(), e))?;
                run.progress.note(&format!(
                    "{}: set {} after launch",
                    c.address,
                    c.details.join(", ")
                ));
            }
        }
        Ok(())
    }

    /// Marks the volumes kept on termination with their device (one `CreateTags` per device), so
    /// a later instance at the same address can take them over.
    async fn tag_kept_devices(&self, run: &mut Run<'_>, actual: &Actual) -> Result<(), StepError> {
        let launched = run.undo.launched();
        let created: HashSet<&str> = launched.iter().map(|(_, id)| id.as_str()).collect();
        let mut by_device: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for i in actual
            .instances
            .iter()
            .filter(|i| created.contains(i.id.as_str()))
        {
            for b in i.block_devices.iter().filter(|b| !b.delete_on_termination) {
                let tagged = actual
                    .volumes
                    .iter()
                    .find(|v| v.id == b.volume_id)
                    .is_some_and(|v| v.tags.contains_key(gm_plan::TAG_DEVICE));
                if !tagged {
                    by_device
                        .entry(b.device.clone())
                        .or_default()
                        .push(b.volume_id.clone());
                }
            }
        }
        for (device, ids) in by_device {
            let tags: Tags = [(gm_plan::TAG_DEVICE.to_string(), device.clone())]
                .into_iter()
                .collect();
            let step = self.intent(
                run,
                &format!("volumes:{device}"),
                "tag-device",
                json!({"volumes": ids}),
            )?;
            let r = self.cloud.create_tags(&ids, &tags).await;
            self.result(step, &ids, &r);
            r.map_err(|e| (format!("volumes:{device}"), e))?;
        }
        Ok(())
    }

    /// Undoes what this run made, newest first, from its undo stack: each batch of entries by
    /// its kind's code. Launches and groups whose answer was lost are found by tag (one read,
    /// before anything is undone).
    async fn rollback(&self, run: &mut Run<'_>, deployment: &str) {
        run.undoing = true;
        run.progress.phase("rolling back", 1);
        let batches = run.undo.take_batches();
        let sweep = batches
            .iter()
            .any(|(k, _)| matches!(k, UndoKind::Launch | UndoKind::Group));
        let swept = match sweep {
            false => None,
            true => match self.cloud.describe_deployment(deployment).await {
                Ok(a) => Some(a),
                Err(e) => {
                    run.progress
                        .note(&format!("rollback could not sweep by tag: {}", e.short()));
                    None
                }
            },
        };
        for (kind, batch) in batches {
            match kind {
                UndoKind::Edge => self.rollback_edge(run, &batch).await,
                UndoKind::Launch => {
                    self.undo_launches(run, deployment, &batch, swept.as_ref())
                        .await
                }
                UndoKind::Move => self.undo_moves(run, &batch).await,
                UndoKind::Group => {
                    self.undo_groups(run, deployment, &batch, swept.as_ref())
                        .await
                }
                UndoKind::Secret => self.undo_secrets(run, &batch).await,
                UndoKind::Role => self.undo_roles(run, &batch).await,
                UndoKind::Network => self.rollback_network(run, deployment).await,
            }
        }
    }

    /// Terminates the instances of these launches, and any copy launched at their addresses
    /// whose answer was lost (found by tag); then deletes the volumes they kept on termination.
    async fn undo_launches(
        &self,
        run: &mut Run<'_>,
        deployment: &str,
        batch: &[Undo],
        swept: Option<&Actual>,
    ) {
        let mut doomed: Vec<(String, String)> = Vec::new();
        let mut addresses: HashSet<&str> = HashSet::new();
        for u in batch {
            if let Undo::Launch { address, id } = u {
                addresses.insert(address);
                if let Some(id) = id {
                    doomed.push((address.clone(), id.clone()));
                }
            }
        }
        for i in swept.map(|a| a.instances.as_slice()).unwrap_or_default() {
            let lid = i.logical_id().unwrap_or("");
            if addresses.contains(lid)
                && !run.pre_existing.contains(&i.id)
                && !doomed.iter().any(|d| d.1 == i.id)
            {
                doomed.push((lid.to_string(), i.id.clone()));
            }
        }
        if !doomed.is_empty() {
            let ids: Vec<String> = doomed.iter().map(|d| d.1.clone()).collect();
            let step = self
                .intent(run, &doomed[0].0, "undo-create", json!({"instances": ids}))
                .ok();
            let mut r = self.cloud.terminate_instances(&ids).await;
            if r.is_ok() {
                r = self
                    .cloud
                    .wait_instances(&ids, WaitTarget::Terminated, self.opts.timeout)
                    .await
                    .map(|_| ());
            }
            if let Some(s) = step {
                self.result(s, &ids, &r);
            }
            match r {
                Ok(()) => {
                    for (address, id) in &doomed {
                        run.report.undone.push(Done {
                            address: address.clone(),
                            aws_id: id.clone(),
                            what: "terminated".into(),
                        });
                    }
                }
                Err(e) => run.progress.note(&format!(
                    "rollback: terminating {} failed: {}",
                    ids.join(", "),
                    e.short()
                )),
            }
        }
        // Volumes launched with delete_on_termination: false outlive their instance.
        let volumes = match self.cloud.describe_deployment_volumes(deployment).await {
            Ok(v) => v,
            Err(e) => {
                run.progress.note(&format!(
                    "rollback: could not read the volumes back: {}",
                    e.short()
                ));
                return;
            }
        };
        for v in volumes.iter().filter(|v| {
            v.attachments.is_empty()
                && !run.pre_existing.contains(&v.id)
                && v.tags
                    .get(TAG_INSTANCE)
                    .is_some_and(|i| addresses.contains(i.as_str()))
        }) {
            let address = v.tags.get(TAG_ID).cloned().unwrap_or_default();
            match self.cloud.delete_volume(&v.id).await {
                Ok(()) => run.report.undone.push(Done {
                    address,
                    aws_id: v.id.clone(),
                    what: "volume deleted".into(),
                }),
                Err(e) => run.progress.note(&format!(
                    "rollback: deleting volume {} failed: {}",
                    v.id,
                    e.short()
                )),
            }
        }
    }

    /// Deletes these groups, and any group created at their addresses whose answer was lost
    /// (found by tag).
    async fn undo_groups(
        &self,
        run: &mut Run<'_>,
        deployment: &str,
        batch: &[Undo],
        swept: Option<&Actual>,
    ) {
        let mut created: Vec<(String, String)> = Vec::new();
        let mut addresses: HashSet<&str> = HashSet::new();
        for u in batch {
            if let Undo::Group { address, id } = u {
                addresses.insert(address);
                if let Some(id) = id {
                    created.push((address.clone(), id.clone()));
                }
            }
        }
        for g in swept
            .map(|a| a.security_groups.as_slice())
            .unwrap_or_default()
        {
            let lid = g.logical_id().unwrap_or("");
            if addresses.contains(lid)
                && !run.pre_existing.contains(&g.id)
                && !created.iter().any(|(_, id)| id == &g.id)
            {
                created.push((lid.to_string(), g.id.clone()));
            }
        }
        let ids: Vec<String> = created.iter().map(|(_, id)| id.clone()).collect();
        let results = self.delete_groups(deployment, &ids).await;
        for ((address, id), r) in created.iter().zip(results) {
            match r {
                Ok(()) => run.report.undone.push(Done {
                    address: address.clone(),
                    aws_id: id.clone(),
                    what: "security group deleted".into(),
                }),
                Err(e) => run.progress.note(&format!(
                    "rollback: deleting {address} ({id}) failed: {}",
                    e.short()
                )),
            }
        }
    }

    /// Deletes these secrets, in one call.
    async fn undo_secrets(&self, run: &mut Run<'_>, batch: &[Undo]) {
        let made: Vec<(String, String)> = batch
            .iter()
            .filter_map(|u| match u {
                Undo::Secret { address, parameter } => Some((address.clone(), parameter.clone())),
                _ => None,
            })
            .collect();
        let names: Vec<String> = made.iter().map(|(_, p)| p.clone()).collect();
        match self.cloud.delete_secrets(&names).await {
            Ok(()) => {
                for (address, p) in made {
                    run.report.undone.push(Done {
                        address,
                        aws_id: p,
                        what: "secret deleted".into(),
                    });
                }
            }
            Err(e) => run
                .progress
                .note(&format!("rollback: deleting secrets failed: {}", e.short())),
        }
    }

    /// Deletes these roles with their policies and instance profiles.
    async fn undo_roles(&self, run: &mut Run<'_>, batch: &[Undo]) {
        for u in batch {
            let Undo::Role { address, name } = u else {
                continue;
            };
            match self.cloud.delete_role(name).await {
                Ok(()) => run.report.undone.push(Done {
                    address: address.clone(),
                    aws_id: name.clone(),
                    what: "role deleted".into(),
                }),
                Err(e) => run.progress.note(&format!(
                    "rollback: deleting {address} ({name}) failed: {}",
                    e.short()
                )),
            }
        }
    }

    /// Deletes the network resources this run made, found by tag (a create whose answer was
    /// lost made one all the same): whatever carries the deployment's tags and did not exist
    /// before the run.
    async fn rollback_network(&self, run: &mut Run<'_>, deployment: &str) {
        // This run made a NAT gateway only if its spec asks for one (and so `reads.nat`).
        let net = match self
            .cloud
            .describe_network_with(deployment, run.reads.nat)
            .await
        {
            Ok(n) => n,
            Err(e) => {
                run.progress.note(&format!(
                    "rollback: could not read the network back: {}",
                    e.short()
                ));
                return;
            }
        };
        let doomed = crate::kinds::network::doomed(&net, |id| !run.pre_existing.contains(id));
        let results = self.delete_network(run.id, &doomed, false).await;
        for (d, r) in doomed.iter().zip(results) {
            match r {
                Ok(()) => run.report.undone.push(Done {
                    address: d.address.clone(),
                    aws_id: d.id.clone(),
                    what: format!("{} deleted", d.detail),
                }),
                Err(e) => run.progress.note(&format!(
                    "rollback: deleting {} ({}) failed: {}",
                    d.address,
                    d.id,
                    e.short()
                )),
            }
        }
    }

    /// Puts moved data volumes back on the instances they came from and starts those again.
    /// Runs after the new instances are terminated, so every moved volume is free again.
    async fn undo_moves(&self, run: &mut Run<'_>, batch: &[Undo]) {
        let mut detached: Vec<&Detached> = Vec::new();
        let mut stopped: Vec<(String, String)> = Vec::new();
        let mut terminated: Vec<(String, String)> = Vec::new();
        for u in batch {
            match u {
                Undo::Detached(d) => detached.push(d),
                Undo::Stopped { instances } => stopped.extend(instances.iter().cloned()),
                Undo::Terminated { instances } => terminated.extend(instances.iter().cloned()),
                _ => {}
            }
        }
        if !detached.is_empty() {
            let ids: Vec<String> = detached.iter().map(|d| d.volume.clone()).collect();
            if let Err(e) = self
                .cloud
                .wait_volumes_available(&ids, self.opts.timeout)
                .await
            {
                run.progress
                    .note(&format!("rollback: moved volumes not free: {}", e.short()));
            }
        }
        for Detached {
            address,
            volume,
            from: old,
            device,
        } in detached.iter().copied()
        {
            let step = self
                .intent(
                    run,
                    address,
                    "undo-detach",
                    json!({"volume": volume, "instance": old, "device": device}),
                )
                .ok();
            let r = self.cloud.attach_volume(volume, old, device).await;
            if let Some(s) = step {
                self.result(s, std::slice::from_ref(volume), &r);
            }
            match r {
                Ok(()) => run.report.undone.push(Done {
                    address: format!("{address}:{device}"),
                    aws_id: volume.clone(),
                    what: format!("data volume attached to {old} again"),
                }),
                Err(e) => run.report.left.push(Done {
                    address: format!("{address}:{device}"),
                    aws_id: volume.clone(),
                    what: format!(
                        "data volume detached, kept (reattaching to {old} failed: {}); a re-apply attaches it",
                        e.short()
                    ),
                }),
            }
        }
        if !stopped.is_empty() {
            let ids: Vec<String> = stopped.iter().map(|(_, id)| id.clone()).collect();
            let step = self
                .intent(run, &stopped[0].0, "undo-stop", json!({"instances": ids}))
                .ok();
            let r = self.cloud.start_instances(&ids).await;
            if let Some(s) = step {
                self.result(s, &ids, &r);
            }
            for (address, id) in &stopped {
                match &r {
                    Ok(()) => run.report.undone.push(Done {
                        address: address.clone(),
                        aws_id: id.clone(),
                        what: "started again".into(),
                    }),
                    Err(e) => run.report.left.push(Done {
                        address: address.clone(),
                        aws_id: id.clone(),
                        what: format!("stopped (starting it again failed: {})", e.short()),
                    }),
                }
            }
        }
        for (address, id) in terminated {
            run.report.left.push(Done {
                address,
                aws_id: id,
                what: "terminated before its data volumes moved (a spot instance cannot be stopped); the volumes are kept and a re-apply launches on them".into(),
            });
        }
    }

    /// Writes what AWS reports into the store: created resources, and what was only referenced.
    fn record_resources(
        &self,
        deployment: &str,
        desired: &Desired,
        a: &Actual,
        images: &HashMap<String, ImageInfo>,
    ) -> Result<(), EngineError> {
        let mut created = Vec::new();
        for i in &a.instances {
            created.push(record(
                i.logical_id().unwrap_or("instance/?"),
                ResourceKind::Instance,
                &i.id,
                json!({"type": i.instance_type, "state": i.state, "image": i.image_id, "spot": i.spot,
                       "zone": i.availability_zone, "private_ip": i.private_ip, "public_ip": i.public_ip,
                       "ami_spec": i.tags.get(gm_plan::TAG_AMI)}),
            ));
        }
        for v in &a.volumes {
            let device = v.attachments.first().map(|x| x.device.clone());
            created.push(record(
                &format!("{}:{}", v.tags.get(TAG_ID).map_or("volume/?", String::as_str), device.as_deref().unwrap_or("detached")),
                ResourceKind::Volume,
                &v.id,
                json!({"size": v.size, "type": v.volume_type, "iops": v.iops, "throughput": v.throughput,
                       "encrypted": v.encrypted, "state": v.state}),
            ));
        }
        for g in &a.security_groups {
            created.push(record(
                g.logical_id().unwrap_or("sg/?"),
                ResourceKind::SecurityGroup,
                &g.id,
                json!({"name": g.name, "vpc": g.vpc_id}),
            ));
        }
        for r in &a.roles {
            created.push(record(
                &Address::role(&r.name).to_string(),
                ResourceKind::Role,
                &r.name,
                json!({"arn": r.arn, "profile": r.profile}),
            ));
        }
        edge::record_edge(a, &mut created);
        for d in crate::kinds::network::doomed(&a.network, |_| true) {
            created.push(record(
                &d.address,
                d.kind.kind(),
                &d.id,
                json!({"detail": d.detail}),
            ));
        }

        for x in &a.secrets {
            // Only the name: values never enter the state.
            created.push(record(
                &Address::secret_at(&x.parameter).to_string(),
                ResourceKind::Secret,
                &x.parameter,
                json!({}),
            ));
        }
        let mut referenced = Vec::new();
        let mut seen = HashSet::new();
        if let Some(gm_plan::DesiredVpc::Existing { id }) = desired.network.as_ref().map(|n| &n.vpc)
        {
            referenced.push(record(
                &format!("ref/vpc/{id}"),
                ResourceKind::Vpc,
                id,
                json!({}),
            ));
        }
        for d in &desired.instances {
            for g in &d.security_groups {
                if let GroupRef::Id(id) = g {
                    if seen.insert(id.clone()) {
                        referenced.push(record(
                            &format!("ref/security-group/{id}"),
                            ResourceKind::SecurityGroup,
                            id,
                            json!({}),
                        ));
                    }
                }
            }
            if let Some(gm_plan::SubnetRef::Id(s)) = &d.subnet {
                if seen.insert(s.clone()) {
                    referenced.push(record(
                        &format!("ref/subnet/{s}"),
                        ResourceKind::Subnet,
                        s,
                        json!({}),
                    ));
                }
            }
            if let Some(k) = &d.key_pair {
                if seen.insert(format!("key:{k}")) {
                    referenced.push(record(
                        &format!("ref/key-pair/{k}"),
                        ResourceKind::KeyPair,
                        k,
                        json!({}),
                    ));
                }
            }
        }
        let mut store = self.store();
        // Images: what this run resolved, else what earlier runs recorded (a no-op apply
        // resolves nothing and must not forget the choice).
        let earlier: Vec<ResourceRecord> = store
            .resources(deployment)?
            .into_iter()
            .filter(|r| r.kind == ResourceKind::Image && r.is_live())
            .collect();
        // Only what the spec named (the resolver's map also holds the ids aliases resolved to).
        for (spec, img) in images
            .iter()
            .filter(|(s, _)| desired.instances.iter().any(|d| &d.ami == *s))
        {
            referenced.push(record(
                &format!("ref/image/{spec}"),
                ResourceKind::Image,
                &img.id,
                json!({"alias": spec, "name": img.name, "architecture": img.architecture}),
            ));
        }
        for r in earlier {
            if !referenced.iter().any(|x| x.address == r.address) {
                referenced.push(r);
            }
        }
        store.sync_resources(deployment, Provenance::Created, &created)?;
        store.sync_resources(deployment, Provenance::Referenced, &referenced)?;
        Ok(())
    }
}

fn record(
    address: &str,
    kind: ResourceKind,
    id: &str,
    attributes: serde_json::Value,
) -> ResourceRecord {
    ResourceRecord {
        address: address.to_string(),
        kind,
        aws_id: id.to_string(),
        provenance: Provenance::Created,
        status: gm_state::RecordStatus::Live,
        attributes,
        updated_at: String::new(),
    }
}

fn resolve_group(g: &GroupRef, sg_ids: &HashMap<String, String>) -> Result<String, CloudError> {
    match g {
        GroupRef::Id(id) => Ok(id.clone()),
        GroupRef::Ours(name) => sg_ids.get(name).cloned().ok_or_else(|| {
            CloudError::new(
                "resolve",
                Some("InvalidGroup.NotFound"),
                format!("security group sg/{name} does not exist yet"),
            )
        }),
    }
}

fn resolve_rules(
    rules: &[Rule],
    sg_ids: &HashMap<String, String>,
) -> Result<Vec<Rule>, CloudError> {
    rules
        .iter()
        .map(|r| {
            Ok(Rule {
                source: match &r.source {
                    RuleSource::Group(g) => {
                        RuleSource::Group(GroupRef::Id(resolve_group(g, sg_ids)?))
                    }
                    s => s.clone(),
                },
                ..r.clone()
            })
        })
        .collect()
}

/// The `ClientToken` of a launch: the same for the same launch whichever run (or process) makes
/// it, so AWS answers a repeated one with the instance the first made instead of a second. It
/// covers the deployment, the address and everything the request asks for, plus what the launch
/// follows (the instance it replaces, the kept volumes it takes over), so a new launch at the
/// address later is a new token. When AWS answers a token with an instance that is already gone,
/// the cloud layer derives the next token from it (see `Cloud::launch`).
fn launch_token(
    deployment: &str,
    req: &LaunchRequest,
    replaces: Option<&str>,
    takes_over: &[gm_plan::Reattach],
) -> String {
    debug_assert!(
        req.client_token.is_empty(),
        "the token is not part of itself"
    );
    let volumes: Vec<&str> = takes_over.iter().map(|r| r.volume_id.as_str()).collect();
    // The whole request, as it will be sent: a new field is covered without touching this.
    gm_cloud::launch_token(&format!("{deployment}|{req:?}|{replaces:?}|{volumes:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(instance_type: &str) -> LaunchRequest {
        LaunchRequest {
            client_token: String::new(),
            image_id: "ami-12345678".into(),
            instance_type: instance_type.into(),
            key_name: None,
            subnet_id: None,
            security_group_ids: vec!["sg-1".into()],
            spot: None,
            iam_instance_profile: None,
            user_data: Some("echo hi".into()),
            block_devices: Vec::new(),
            instance_tags: [(gm_plan::TAG_ID.to_string(), "instance/web/0".to_string())].into(),
            volume_tags: Default::default(),
            availability_zone: None,
        }
    }

    #[test]
    fn a_launch_token_is_the_same_in_every_run_and_new_for_a_new_launch() {
        let a = launch_token("demo", &req("t3.micro"), None, &[]);
        assert_eq!(
            a,
            launch_token("demo", &req("t3.micro"), None, &[]),
            "stable"
        );
        assert!(a.len() <= 64 && a.is_ascii(), "{a}");
        assert_ne!(a, launch_token("other", &req("t3.micro"), None, &[]));
        assert_ne!(a, launch_token("demo", &req("t3.small"), None, &[]));
        assert_ne!(
            a,
            launch_token("demo", &req("t3.micro"), Some("i-0123"), &[]),
            "a replacement is a new launch"
        );
        let kept = gm_plan::Reattach {
            volume_id: "vol-1".into(),
            device: "/dev/sdf".into(),
            availability_zone: "us-east-1a".into(),
        };
        assert_ne!(
            a,
            launch_token("demo", &req("t3.micro"), None, &[kept]),
            "taking over a kept volume is a new launch"
        );
    }
}
