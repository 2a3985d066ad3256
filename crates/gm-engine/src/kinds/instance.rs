//! Instances and their volumes: launches (concurrent, each with a `ClientToken` derived from
//! what it launches), the kept data volumes that move to a replacement, the device tags that let
//! a later instance take them over, and the undo of launches and moves.

use std::collections::{BTreeMap, HashMap, HashSet};

use futures::stream::{self, StreamExt};
use serde_json::json;

use gm_cloud::{
    BlockDeviceRequest, CloudError, LaunchOutcome, LaunchRequest, SpotRequest, WaitTarget,
};
use gm_plan::{Action, Actual, Desired, DesiredInstance, Phase, Plan, Tags, TAG_ID, TAG_INSTANCE};
use gm_spec::{Market, SpotFallback};
use gm_state::{ResourceKind, ResourceRecord};

use crate::apply::{record, Journal, Run, StepError};
use crate::destroy::{ours, DestroyCx, Doomed};
use crate::kinds::security_group::resolve_group;
use crate::report::{natural, Done};
use crate::undo::{Detached, Undo};
use crate::{DestroyReport, Engine, EngineError};

/// One finished launch: address, the instance it replaces, its journal step, and the outcome.
type Launched = (
    String,
    Option<String>,
    i64,
    Result<LaunchOutcome, CloudError>,
);

impl Engine {
    /// Deletes volume `id` as one journaled step: the one deletion of a volume that a removal
    /// (a duplicate's kept volume), a rollback and destroy share.
    pub(crate) async fn delete_volume(
        &self,
        journal: Journal,
        address: &str,
        id: &str,
    ) -> Result<(), CloudError> {
        let call = self.cloud.delete_volume(id);
        let ids = [id.to_string()];
        self.step(
            journal,
            address,
            "delete-volume",
            json!({"volume": id}),
            &ids,
            call,
        )
        .await
    }

    /// Terminates `ids` in one call and waits until AWS reports them terminated: the deletion
    /// of instances that a rollback and destroy share (a removal within an apply waits only when
    /// something after it needs them gone).
    pub(crate) async fn terminate(&self, ids: &[String]) -> Result<(), CloudError> {
        self.cloud.terminate_instances(ids).await?;
        self.cloud
            .wait_instances(ids, WaitTarget::Terminated, self.opts.timeout)
            .await
            .map(|_| ())
    }

    pub(crate) async fn launch_all(
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
    pub(crate) async fn release_moving_volumes(
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
    pub(crate) async fn release_for_move(
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
    pub(crate) fn launch_request(
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

    /// Marks the volumes kept on termination with their device (one `CreateTags` per device), so
    /// a later instance at the same address can take them over.
    pub(crate) async fn tag_kept_devices(
        &self,
        run: &mut Run<'_>,
        actual: &Actual,
    ) -> Result<(), StepError> {
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

    /// Terminates the instances of these launches, and any copy launched at their addresses
    /// whose answer was lost (found by tag); then deletes the volumes they kept on termination.
    pub(crate) async fn undo_launches(
        &self,
        run: &mut Run<'_>,
        deployment: &str,
        batch: &[Undo],
        swept: Option<&Actual>,
    ) {
        let instances = swept.map(|a| a.instances.as_slice()).unwrap_or_default();
        let (addresses, doomed) = crate::undo::made(
            batch,
            instances.iter().map(|i| (i.logical_id(), i.id.as_str())),
            &run.pre_existing,
        );
        if !doomed.is_empty() {
            let ids: Vec<String> = doomed.iter().map(|d| d.1.clone()).collect();
            let step = self
                .intent(run, &doomed[0].0, "undo-create", json!({"instances": ids}))
                .ok();
            let r = self.terminate(&ids).await;
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
            match self.delete_volume(run.journal(), &address, &v.id).await {
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

    /// Puts moved data volumes back on the instances they came from and starts those again.
    /// Runs after the new instances are terminated, so every moved volume is free again.
    pub(crate) async fn undo_moves(&self, run: &mut Run<'_>, batch: &[Undo]) {
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
}

/// The `ClientToken` of a launch: the same for the same launch whichever run (or process) makes
/// it, so AWS answers a repeated one with the instance the first made instead of a second. It
/// covers the deployment, the address and everything the request asks for, plus what the launch
/// follows (the instance it replaces, the kept volumes it takes over), so a new launch at the
/// address later is a new token. When AWS answers a token with an instance that is already gone,
/// the cloud layer derives the next token from it (see `Cloud::launch`).
pub(crate) fn launch_token(
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

/// The instance kind in the registry ([`crate::kinds::KINDS`]).
pub(crate) struct Instances;

#[async_trait::async_trait]
impl crate::kinds::Kind for Instances {
    fn records(&self, a: &Actual, out: &mut Vec<ResourceRecord>) {
        for i in &a.instances {
            out.push(record(
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
            out.push(record(
                &format!("{}:{}", v.tags.get(TAG_ID).map_or("volume/?", String::as_str), device.as_deref().unwrap_or("detached")),
                ResourceKind::Volume,
                &v.id,
                json!({"size": v.size, "type": v.volume_type, "iops": v.iops, "throughput": v.throughput,
                       "encrypted": v.encrypted, "state": v.state}),
            ));
        }
    }

    fn doomed(&self, a: &Actual, deployment: &str, out: &mut Vec<Doomed>) {
        let mut instances: Vec<_> = a
            .instances
            .iter()
            .filter(|i| ours(&i.tags, deployment))
            .collect();
        instances.sort_by(|x, y| {
            natural(x.logical_id().unwrap_or("")).cmp(&natural(y.logical_id().unwrap_or("")))
        });
        let mut with_instance: HashSet<&str> = HashSet::new();
        for i in &instances {
            out.push(Doomed {
                kind: ResourceKind::Instance,
                address: i.logical_id().unwrap_or("instance/?").to_string(),
                aws_id: i.id.clone(),
                detail: format!(
                    "{} {}{}",
                    i.instance_type,
                    i.state,
                    if i.spot { ", spot" } else { "" }
                ),
            });
            for b in &i.block_devices {
                if b.delete_on_termination {
                    with_instance.insert(b.volume_id.as_str());
                }
            }
        }
        for v in a.volumes.iter().filter(|v| ours(&v.tags, deployment)) {
            let device = v
                .attachments
                .first()
                .map_or("detached", |x| x.device.as_str());
            out.push(Doomed {
                kind: ResourceKind::Volume,
                address: format!(
                    "{}:{device}",
                    v.tags.get(TAG_ID).map_or("volume/?", String::as_str)
                ),
                aws_id: v.id.clone(),
                detail: format!(
                    "{} GiB {}{}",
                    v.size,
                    v.volume_type,
                    if with_instance.contains(v.id.as_str()) {
                        ", deleted with its instance"
                    } else {
                        ", deleted after its instance"
                    }
                ),
            });
        }
    }

    async fn destroy(
        &self,
        engine: &Engine,
        cx: &DestroyCx<'_>,
        report: &mut DestroyReport,
    ) -> Result<(), EngineError> {
        let instances: Vec<&Doomed> = cx
            .plan
            .items
            .iter()
            .filter(|d| d.kind == ResourceKind::Instance)
            .collect();
        if !instances.is_empty() {
            cx.progress.phase("terminating instances", 1);
            let ids: Vec<String> = instances.iter().map(|d| d.aws_id.clone()).collect();
            engine
                .step(
                    cx.journal,
                    "instances",
                    "terminate",
                    json!({"instances": ids}),
                    &ids,
                    engine.terminate(&ids),
                )
                .await?;
            for d in &instances {
                report.destroyed.push(Done {
                    address: d.address.clone(),
                    aws_id: d.aws_id.clone(),
                    what: "terminated".into(),
                });
            }
            cx.progress.step("instances", "terminated");
        }
        // Volumes: what is ours and detached now (kept-on-termination ones, and any left over).
        let volumes = engine
            .cloud
            .describe_deployment_volumes(&cx.plan.deployment)
            .await?;
        for v in volumes
            .iter()
            .filter(|v| ours(&v.tags, &cx.plan.deployment) && v.attachments.is_empty())
        {
            let address = v
                .tags
                .get(TAG_ID)
                .cloned()
                .unwrap_or_else(|| "volume/?".into());
            engine.delete_volume(cx.journal, &address, &v.id).await?;
            report.destroyed.push(Done {
                address,
                aws_id: v.id.clone(),
                what: format!("volume deleted ({} GiB {})", v.size, v.volume_type),
            });
        }
        Ok(())
    }
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
