//! Executing a plan: the step executor (every step journaled, intent before its call and
//! result after), the phases gm-plan decided, run in order through each kind's module in
//! `kinds/`, the changes that span kinds (in-place updates, removals), the read-back, and the
//! rollback that undoes the run's stack (`undo.rs`) newest first, each batch by its kind's code.
//!
//! Removals are the point of no return: a failure before them undoes everything this run
//! created; a failure during them stops and reports, because undoing a launch after its
//! predecessor is gone would lose the deployment.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Instant;

use serde_json::json;

use gm_cloud::{CloudError, ImageInfo, WaitTarget};
use gm_plan::{Action, Actual, Address, Desired, GroupRef, Phase, Plan, Reads, Tags};
use gm_state::{DeploymentStatus, Provenance, ResourceKind, ResourceRecord};

use crate::kinds::security_group::resolve_group;
use crate::report::{instance_summaries, Done, Failure, Outcome};
use crate::undo::{UndoKind, UndoStack};
use crate::{ApplyReport, Engine, EngineError, Progress, StopReason};

/// A step failure: the address being worked on and the AWS error.
pub(crate) type StepError = (String, CloudError);

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
    pub(crate) progress: &'a dyn Progress,
    pub(crate) report: ApplyReport,
    /// What this run made, or sent without an answer, for a rollback to undo.
    pub(crate) undo: UndoStack,
    /// The groups this run created, as AWS holds them once their rules are in: the final read
    /// need not list them again when the deployment had no others.
    pub(crate) made_groups: Vec<gm_plan::ActualSg>,
    /// The last answer of the wait for the instances this run launched, when nothing changed
    /// them after it (no kept volume attached since): the final read need not list them again
    /// when the deployment had no others.
    pub(crate) waited: Option<Vec<gm_plan::ActualInstance>>,
    pub(crate) pre_existing: HashSet<String>,
    pub(crate) images: HashMap<String, ImageInfo>,
    pub(crate) past_no_return: bool,
    /// What AWS reported after the last change, when nothing changed since (saves a re-read).
    pub(crate) final_actual: Option<Actual>,
    /// Which reads beyond EC2 refreshes make.
    pub(crate) reads: Reads,
    /// Network ids by address (`vpc/main`, `subnet/NAME`, …): existing ones, then created ones.
    pub(crate) net: HashMap<String, String>,
    /// The run is undoing its work: its steps are taken even when a stop was asked for.
    pub(crate) undoing: bool,
}

/// Where a step is journaled: its run, and whether a stop request is honoured before it (not
/// while a run undoes its work).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Journal {
    pub(crate) run: i64,
    pub(crate) stoppable: bool,
}

impl Run<'_> {
    /// This run's journal.
    pub(crate) fn journal(&self) -> Journal {
        Journal {
            run: self.id,
            stoppable: !self.undoing,
        }
    }
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

    /// Journals a step's intent in `journal`'s run, unless a stop was asked for and the run
    /// honours it (then the step is not taken); returns its id. Apply, rollback and destroy
    /// journal through it, so a kind's delete is one function for all three.
    pub(crate) fn journal_intent(
        &self,
        journal: Journal,
        address: &str,
        action: &str,
        intent: &serde_json::Value,
    ) -> Result<i64, CloudError> {
        if journal.stoppable {
            self.stop.check(action)?;
        }
        self.store()
            .step_intent(journal.run, address, action, intent)
            .map_err(|e| CloudError::new("journal", Some("StateError"), e.to_string()))
    }

    /// One journaled step: its intent, the call, its result with the ids it was about. A stop
    /// asked for before it (when `journal` honours one) means the call is not made.
    pub(crate) async fn step<T>(
        &self,
        journal: Journal,
        address: &str,
        action: &str,
        intent: serde_json::Value,
        ids: &[String],
        call: impl std::future::Future<Output = Result<T, CloudError>>,
    ) -> Result<T, CloudError> {
        let step = self.journal_intent(journal, address, action, &intent)?;
        let r = call.await;
        self.result(step, ids, &r);
        r
    }

    /// Journals a step's intent in `run`; returns its id.
    pub(crate) fn intent(
        &self,
        run: &Run<'_>,
        address: &str,
        action: &str,
        intent: serde_json::Value,
    ) -> Result<i64, StepError> {
        self.journal_intent(run.journal(), address, action, &intent)
            .map_err(|e| (address.to_string(), e))
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
            self.delete_volume(run.journal(), address, volume)
                .await
                .map_err(|e| (address.clone(), e))?;
            run.report.destroyed.push(Done {
                address: address.clone(),
                aws_id: volume.clone(),
                what: "kept volume of a duplicate copy deleted".into(),
            });
        }
        for (address, name) in &roles {
            self.delete_role(run.journal(), address, name)
                .await
                .map_err(|e| (address.clone(), e))?;
            run.report.destroyed.push(Done {
                address: address.clone(),
                aws_id: name.clone(),
                what: "role, policies and instance profile deleted".into(),
            });
        }
        if !secrets.is_empty() {
            let names: Vec<String> = secrets.iter().map(|(_, p)| p.clone()).collect();
            self.delete_secrets(run.journal(), &secrets[0].0, &names)
                .await
                .map_err(|e| (secrets[0].0.clone(), e))?;
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

    /// Undoes what this run made, newest first, from its undo stack: each batch of entries by
    /// its kind's code. Launches and groups whose answer was lost are found by tag (one read of those kinds,
    /// before anything is undone).
    async fn rollback(&self, run: &mut Run<'_>, deployment: &str) {
        run.undoing = true;
        run.progress.phase("rolling back", 1);
        let batches = run.undo.take_batches();
        // Only what the stack's kinds need: the instances for launches, the groups for groups.
        let has = |kind: UndoKind| batches.iter().any(|(k, _)| *k == kind);
        let (launches, groups) = (has(UndoKind::Launch), has(UndoKind::Group));
        let cloud = &self.cloud;
        let sweep = tokio::try_join!(
            async {
                match launches {
                    true => cloud.describe_deployment_instances(deployment).await,
                    false => Ok(Vec::new()),
                }
            },
            async {
                match groups {
                    true => cloud.describe_deployment_groups(deployment).await,
                    false => Ok(Vec::new()),
                }
            },
        );
        let swept = match sweep {
            _ if !launches && !groups => None,
            Ok((instances, security_groups)) => Some(Actual {
                instances,
                security_groups,
                ..Actual::default()
            }),
            Err(e) => {
                run.progress
                    .note(&format!("rollback could not sweep by tag: {}", e.short()));
                None
            }
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

    /// Writes what AWS reports into the store: created resources, and what was only referenced.
    fn record_resources(
        &self,
        deployment: &str,
        desired: &Desired,
        a: &Actual,
        images: &HashMap<String, ImageInfo>,
    ) -> Result<(), EngineError> {
        let mut created = Vec::new();
        for kind in crate::kinds::KINDS {
            kind.records(a, &mut created);
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

pub(crate) fn record(
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
