//! The edge phase: the load balancer and the distribution go after the instances they front
//! (targets need instance ids, the distribution needs the load balancer's DNS name), and come
//! down before the security groups they use.

use std::collections::HashMap;

use serde_json::json;

use gm_cloud::CloudError;
use gm_plan::{
    Action, Actual, Address, Desired, DesiredLb, Phase, Plan, CDN_ADDRESS, LB_ADDRESS, TG_ADDRESS,
};
use gm_state::{ResourceKind, ResourceRecord};

use crate::apply::{record, Journal, Run, StepError};
use crate::destroy::{DestroyCx, Doomed};
use crate::kinds::security_group::resolve_group;
use crate::report::Done;
use crate::undo::Undo;
use crate::{DestroyReport, Engine, EngineError};

impl Engine {
    /// Creates, updates and re-targets the edge after the instances are in place.
    pub(crate) async fn apply_edge(
        &self,
        run: &mut Run<'_>,
        desired: &Desired,
        plan: &Plan,
        sg_ids: &HashMap<String, String>,
    ) -> Result<(), StepError> {
        let todo: Vec<_> = plan.phase(Phase::Edge).collect();
        if todo.is_empty() {
            return Ok(());
        }
        run.progress
            .phase("load balancer and CDN", todo.len() as u64);
        let actual = match run.final_actual.take() {
            Some(a) => a,
            None => self
                .cloud
                .describe_deployment_with(&desired.deployment, run.reads)
                .await
                .map_err(|e| ("verify".to_string(), e))?,
        };
        let mut origin = actual.load_balancer.as_ref().map(|l| l.dns_name.clone());
        for c in &todo {
            match &c.action {
                Action::ReplaceLb {
                    lb,
                    old_arn,
                    old_target_group_arn,
                } => {
                    self.delete_lb_step(run, Some(old_arn), old_target_group_arn.as_deref())
                        .await?;
                    let dns = self.create_lb(run, lb, None, sg_ids, &actual).await?;
                    run.report.replaced.push(Done {
                        address: LB_ADDRESS.into(),
                        aws_id: dns.clone(),
                        what: format!("load balancer replaced (was {old_arn})"),
                    });
                    origin = Some(dns);
                }
                Action::CreateLb {
                    lb,
                    target_group_arn,
                } => {
                    let dns = self
                        .create_lb(run, lb, target_group_arn.as_deref(), sg_ids, &actual)
                        .await?;
                    run.report.created.push(Done {
                        address: LB_ADDRESS.into(),
                        aws_id: dns.clone(),
                        what: format!(
                            "application load balancer ({})",
                            if lb.certificate_arn.is_some() {
                                "HTTPS, HTTP redirects"
                            } else {
                                "HTTP"
                            }
                        ),
                    });
                    origin = Some(dns);
                }
                Action::UpdateLb {
                    lb,
                    arn,
                    target_group_arn,
                    listeners,
                    health_check,
                } => {
                    let step = self.intent(
                        run,
                        LB_ADDRESS,
                        "update-load-balancer",
                        json!({"listeners": listeners, "health_check": health_check}),
                    )?;
                    let mut r = Ok(());
                    if *listeners {
                        r = self
                            .cloud
                            .replace_listeners(arn, target_group_arn, lb)
                            .await;
                    }
                    if r.is_ok() && *health_check {
                        r = self
                            .cloud
                            .set_health_check(target_group_arn, &lb.health_check)
                            .await;
                    }
                    self.result(step, std::slice::from_ref(arn), &r);
                    r.map_err(|e| (LB_ADDRESS.to_string(), e))?;
                    run.report.updated.push(Done {
                        address: LB_ADDRESS.into(),
                        aws_id: arn.clone(),
                        what: c.details.join("; "),
                    });
                }
                Action::SyncTargets {
                    group,
                    target_group_arn,
                } => {
                    let Some(lb) = &desired.load_balancer else {
                        continue;
                    };
                    let ids = targets_of(&actual, group);
                    let step =
                        self.intent(run, TG_ADDRESS, "sync-targets", json!({"targets": ids}))?;
                    let r = self
                        .cloud
                        .sync_targets(target_group_arn, lb.port, &ids)
                        .await;
                    self.result(step, &ids, &r);
                    r.map_err(|e| (TG_ADDRESS.to_string(), e))?;
                    run.report.updated.push(Done {
                        address: TG_ADDRESS.into(),
                        aws_id: target_group_arn.clone(),
                        what: format!("{} target(s) registered", ids.len()),
                    });
                }
                Action::CreateCdn { cdn } => {
                    let origin = origin.clone().ok_or_else(no_origin)?;
                    let step = self.intent(
                        run,
                        CDN_ADDRESS,
                        "create-distribution",
                        json!({"origin": origin}),
                    )?;
                    // Marked before the call: a create whose answer was lost made a
                    // distribution the undo finds by its comment.
                    run.undo.push(Undo::Distribution);
                    let r = self.cloud.create_cdn(cdn, &origin).await;
                    self.result(step, &[], &r);
                    let (id, domain) = r.map_err(|e| (CDN_ADDRESS.to_string(), e))?;
                    run.report.created.push(Done {
                        address: CDN_ADDRESS.into(),
                        aws_id: id,
                        what: format!("CloudFront distribution https://{domain}"),
                    });
                }
                Action::UpdateCdn { cdn, id } => {
                    let origin = origin.clone().ok_or_else(no_origin)?;
                    let step = self.intent(
                        run,
                        CDN_ADDRESS,
                        "update-distribution",
                        json!({"origin": origin}),
                    )?;
                    let r = self.cloud.update_cdn(id, cdn, &origin).await;
                    self.result(step, std::slice::from_ref(id), &r);
                    r.map_err(|e| (CDN_ADDRESS.to_string(), e))?;
                    run.report.updated.push(Done {
                        address: CDN_ADDRESS.into(),
                        aws_id: id.clone(),
                        what: c.details.join("; "),
                    });
                }
                _ => {}
            }
        }
        // The final read must see the new edge.
        run.final_actual = None;
        Ok(())
    }

    /// Target group, load balancer and listeners, then the targets. Returns the DNS name.
    async fn create_lb(
        &self,
        run: &mut Run<'_>,
        lb: &DesiredLb,
        existing_tg: Option<&str>,
        sg_ids: &HashMap<String, String>,
        actual: &Actual,
    ) -> Result<String, StepError> {
        let fail = |e: CloudError| (LB_ADDRESS.to_string(), e);
        let (vpc, subnets) = self.lb_network(lb, &run.net).await.map_err(fail)?;
        let groups = lb
            .security_groups
            .iter()
            .map(|g| resolve_group(g, sg_ids))
            .collect::<Result<Vec<_>, _>>()
            .map_err(fail)?;
        let step = self.intent(
            run,
            LB_ADDRESS,
            "create-load-balancer",
            json!({"name": lb.aws_name, "subnets": subnets, "security_groups": groups}),
        )?;
        // Recorded before the call: a failure part-way leaves pieces found again by name.
        run.undo.push(Undo::LoadBalancer);
        let r = self
            .cloud
            .create_lb(lb, &subnets, &vpc, &groups, existing_tg)
            .await;
        self.result(step, std::slice::from_ref(&lb.aws_name), &r);
        let (_, tg, dns) = r.map_err(fail)?;
        let ids = targets_of(actual, &lb.target);
        let step = self.intent(run, TG_ADDRESS, "sync-targets", json!({"targets": ids}))?;
        let r = self.cloud.sync_targets(&tg, lb.port, &ids).await;
        self.result(step, &ids, &r);
        r.map_err(|e| (TG_ADDRESS.to_string(), e))?;
        Ok(dns)
    }

    /// The load balancer's subnets (given, or one default subnet per zone of the default VPC)
    /// and their VPC.
    async fn lb_network(
        &self,
        lb: &DesiredLb,
        net: &HashMap<String, String>,
    ) -> Result<(String, Vec<String>), CloudError> {
        // The spec's own subnets by the ids this run knows (made earlier in the same plan).
        let wanted: Vec<String> = lb
            .subnets
            .iter()
            .map(|s| match s {
                gm_plan::SubnetRef::Id(id) => id.clone(),
                gm_plan::SubnetRef::Ours(a) => net.get(a).cloned().unwrap_or_else(|| a.clone()),
            })
            .collect();
        let vpc = if lb.subnets.is_empty() {
            Some(self.default_vpc().await?)
        } else {
            None
        };
        let all = self.cloud.subnets(vpc.as_deref()).await?;
        let chosen: Vec<_> = if lb.subnets.is_empty() {
            let mut zones = std::collections::BTreeMap::new();
            for s in &all {
                zones.entry(s.availability_zone.clone()).or_insert(s);
            }
            zones.into_values().collect()
        } else {
            all.iter().filter(|s| wanted.contains(&s.id)).collect()
        };
        let missing: Vec<&String> = wanted
            .iter()
            .filter(|id| !chosen.iter().any(|s| &s.id == *id))
            .collect();
        if !missing.is_empty() {
            return Err(CloudError::new(
                "DescribeSubnets",
                Some("InvalidSubnetID.NotFound"),
                format!("subnet(s) {missing:?} do not exist in this region"),
            ));
        }
        let vpcs: std::collections::BTreeSet<&str> =
            chosen.iter().map(|s| s.vpc_id.as_str()).collect();
        let zones: std::collections::BTreeSet<&str> = chosen
            .iter()
            .map(|s| s.availability_zone.as_str())
            .collect();
        if vpcs.len() != 1 || zones.len() < 2 {
            return Err(CloudError::new(
                "CreateLoadBalancer",
                Some("InvalidConfigurationRequest"),
                format!(
                    "a load balancer needs subnets of one VPC in at least two availability zones; got {} subnet(s) in {} zone(s) of {} VPC(s)",
                    chosen.len(),
                    zones.len(),
                    vpcs.len()
                ),
            ));
        }
        let vpc = vpcs.into_iter().next().unwrap_or_default().to_string();
        Ok((vpc, chosen.iter().map(|s| s.id.clone()).collect()))
    }

    /// Deletes the distribution, then the load balancer and target group (past the point of no
    /// return, like every removal).
    pub(crate) async fn remove_edge(
        &self,
        run: &mut Run<'_>,
        plan: &Plan,
    ) -> Result<(), StepError> {
        for c in plan.phase(Phase::Removals) {
            match &c.action {
                Action::DeleteCdn { id } => {
                    run.past_no_return = true;
                    run.progress
                        .phase("deleting the CDN (disable, then delete)", 1);
                    self.delete_cdn(run.journal(), CDN_ADDRESS, id)
                        .await
                        .map_err(|e| (CDN_ADDRESS.to_string(), e))?;
                    run.report.destroyed.push(Done {
                        address: CDN_ADDRESS.into(),
                        aws_id: id.clone(),
                        what: "distribution disabled and deleted".into(),
                    });
                }
                Action::DeleteLb {
                    arn,
                    target_group_arn,
                } => {
                    let ids = self
                        .delete_lb_step(run, arn.as_deref(), target_group_arn.as_deref())
                        .await?;
                    run.report.destroyed.push(Done {
                        address: LB_ADDRESS.into(),
                        aws_id: ids.join(", "),
                        what: "load balancer, listeners and target group deleted".into(),
                    });
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Deletes a load balancer and its target group as one journaled step (past the point of no
    /// return); returns the ids it removed.
    async fn delete_lb_step(
        &self,
        run: &mut Run<'_>,
        arn: Option<&str>,
        target_group_arn: Option<&str>,
    ) -> Result<Vec<String>, StepError> {
        run.past_no_return = true;
        self.delete_lb(run.journal(), arn, target_group_arn)
            .await
            .map_err(|e| (LB_ADDRESS.to_string(), e))
    }

    /// Disables and deletes distribution `id` as one journaled step: the one deletion of a
    /// distribution that a removal, a rollback and destroy share.
    pub(crate) async fn delete_cdn(
        &self,
        journal: Journal,
        address: &str,
        id: &str,
    ) -> Result<(), CloudError> {
        let step =
            self.journal_intent(journal, address, "delete-distribution", &json!({"id": id}))?;
        let r = self.cloud.delete_cdn(id, self.opts.timeout).await;
        self.result(step, &[id.to_string()], &r);
        r
    }

    /// Deletes a load balancer (its listeners with it) and then its target group as one
    /// journaled step, for a removal, a rollback and destroy alike; returns the ids it removed.
    pub(crate) async fn delete_lb(
        &self,
        journal: Journal,
        arn: Option<&str>,
        target_group_arn: Option<&str>,
    ) -> Result<Vec<String>, CloudError> {
        let step = self.journal_intent(
            journal,
            LB_ADDRESS,
            "delete-load-balancer",
            &json!({"arn": arn, "target_group": target_group_arn}),
        )?;
        let r = self
            .cloud
            .delete_lb(arn, target_group_arn, self.opts.timeout)
            .await;
        let ids: Vec<String> = arn
            .iter()
            .chain(&target_group_arn)
            .map(|s| s.to_string())
            .collect();
        self.result(step, &ids, &r);
        r.map(|()| ids)
    }

    /// Undoes this run's distribution and load balancer (found by name when the create's answer
    /// was lost).
    pub(crate) async fn rollback_edge(&self, run: &mut Run<'_>, batch: &[Undo]) {
        let cdn = batch.contains(&Undo::Distribution);
        let lb = batch.contains(&Undo::LoadBalancer);
        // Both are found again by what names them (the comment, the name): an id may be
        // missing when a create's answer was lost.
        let found = match self.cloud.describe_edge(&run.report.deployment).await {
            Ok(e) => e,
            Err(e) => {
                run.progress.note(&format!(
                    "rollback: could not find the load balancer or distribution: {}",
                    e.short()
                ));
                return;
            }
        };
        if cdn {
            // The plan created one because none existed: every one found is this run's.
            for d in &found.distributions {
                match self.delete_cdn(run.journal(), CDN_ADDRESS, &d.id).await {
                    Ok(()) => run.report.undone.push(Done {
                        address: CDN_ADDRESS.into(),
                        aws_id: d.id.clone(),
                        what: "distribution deleted".into(),
                    }),
                    Err(e) => run.progress.note(&format!(
                        "rollback: deleting distribution {} failed: {}",
                        d.id,
                        e.short()
                    )),
                }
            }
        }
        if !lb {
            return;
        }
        let arn = found.load_balancer.map(|l| l.arn);
        let tg = found.target_group.map(|t| t.arn);
        if arn.is_none() && tg.is_none() {
            return;
        }
        match self
            .delete_lb(run.journal(), arn.as_deref(), tg.as_deref())
            .await
        {
            Ok(_) => run.report.undone.push(Done {
                address: LB_ADDRESS.into(),
                aws_id: arn.or(tg).unwrap_or_default(),
                what: "load balancer and target group deleted".into(),
            }),
            Err(e) => run.progress.note(&format!(
                "rollback: deleting the load balancer failed: {}",
                e.short()
            )),
        }
    }
}

fn no_origin() -> StepError {
    (
        CDN_ADDRESS.to_string(),
        CloudError::new(
            "CreateDistribution",
            Some("NoOrigin"),
            "the load balancer the distribution fronts does not exist",
        ),
    )
}

/// Live instances of an instance group, by id.
fn targets_of(actual: &Actual, group: &str) -> Vec<String> {
    actual
        .instances
        .iter()
        .filter(|i| {
            i.logical_id()
                .and_then(Address::parse)
                .is_some_and(|a| a.is_instance_of(group))
                && (i.state == "running" || i.state == "pending")
        })
        .map(|i| i.id.clone())
        .collect()
}

/// The edge's records for the state store.
pub(crate) fn record_edge(a: &Actual, out: &mut Vec<ResourceRecord>) {
    if let Some(lb) = &a.load_balancer {
        out.push(record(
            LB_ADDRESS,
            ResourceKind::LoadBalancer,
            &lb.arn,
            json!({"name": lb.name, "dns": lb.dns_name, "state": lb.state,
                   "listeners": lb.listeners.iter().map(|l| format!("{}:{}", l.protocol, l.port)).collect::<Vec<_>>()}),
        ));
    }
    if let Some(tg) = &a.target_group {
        out.push(record(
            TG_ADDRESS,
            ResourceKind::TargetGroup,
            &tg.arn,
            json!({"name": tg.name, "port": tg.port, "targets": tg.health}),
        ));
    }
    for d in &a.distributions {
        out.push(record(
            CDN_ADDRESS,
            ResourceKind::Cdn,
            &d.id,
            json!({"domain": d.domain_name, "status": d.status, "origin": d.origin}),
        ));
    }
}

/// The edge kind in the registry ([`crate::kinds::KINDS`]).
pub(crate) struct Edge;

#[async_trait::async_trait]
impl crate::kinds::Kind for Edge {
    fn records(&self, a: &Actual, out: &mut Vec<ResourceRecord>) {
        record_edge(a, out);
    }

    fn doomed(&self, a: &Actual, _deployment: &str, out: &mut Vec<Doomed>) {
        for d in &a.distributions {
            out.push(Doomed {
                kind: ResourceKind::Cdn,
                address: gm_plan::CDN_ADDRESS.into(),
                aws_id: d.id.clone(),
                detail: format!(
                    "CloudFront distribution {} (disabled, then deleted)",
                    d.domain_name
                ),
            });
        }
        if let Some(lb) = &a.load_balancer {
            out.push(Doomed {
                kind: ResourceKind::LoadBalancer,
                address: gm_plan::LB_ADDRESS.into(),
                aws_id: lb.arn.clone(),
                detail: format!("{} ({}) with its listeners", lb.name, lb.dns_name),
            });
        }
        if let Some(tg) = &a.target_group {
            out.push(Doomed {
                kind: ResourceKind::TargetGroup,
                address: gm_plan::TG_ADDRESS.into(),
                aws_id: tg.arn.clone(),
                detail: format!("{}, {} target(s)", tg.name, tg.targets.len()),
            });
        }
    }

    async fn destroy(
        &self,
        engine: &Engine,
        cx: &DestroyCx<'_>,
        report: &mut DestroyReport,
    ) -> Result<(), EngineError> {
        for d in cx.plan.items.iter().filter(|d| d.kind == ResourceKind::Cdn) {
            cx.progress
                .phase("deleting the CDN (disable, then delete)", 1);
            engine.delete_cdn(cx.journal, &d.address, &d.aws_id).await?;
            report.destroyed.push(Done {
                address: d.address.clone(),
                aws_id: d.aws_id.clone(),
                what: "distribution disabled and deleted".into(),
            });
        }
        let lb = cx
            .plan
            .items
            .iter()
            .find(|d| d.kind == ResourceKind::LoadBalancer);
        let tg = cx
            .plan
            .items
            .iter()
            .find(|d| d.kind == ResourceKind::TargetGroup);
        if lb.is_some() || tg.is_some() {
            engine
                .delete_lb(
                    cx.journal,
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
        Ok(())
    }
}
