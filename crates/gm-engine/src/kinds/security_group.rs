//! Security groups: created without rules (a rule may name another new group), their rules
//! authorized once all exist, deleted in rounds (the one path for removals, rollback and
//! destroy), and undone from the run's stack with those whose create lost its answer.

use std::collections::HashMap;
use std::time::Instant;

use serde_json::json;

use gm_cloud::{CloudError, ErrorKind};
use gm_plan::{Action, Actual, GroupRef, Phase, Plan, Rule, RuleSource};
use gm_state::{ResourceKind, ResourceRecord};

use crate::apply::{record, Run, StepError};
use crate::destroy::{ours, DestroyCx, Doomed};
use crate::report::Done;
use crate::undo::Undo;
use crate::{DestroyReport, Engine, EngineError};

impl Engine {
    pub(crate) async fn create_groups(
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

    pub(crate) async fn update_group_rules(
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
    pub(crate) async fn unlink_groups(&self, deployment: &str, ids: &[String]) {
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

    /// Deletes these groups, and any group created at their addresses whose answer was lost
    /// (found by tag).
    pub(crate) async fn undo_groups(
        &self,
        run: &mut Run<'_>,
        deployment: &str,
        batch: &[Undo],
        swept: Option<&Actual>,
    ) {
        let groups = swept
            .map(|a| a.security_groups.as_slice())
            .unwrap_or_default();
        let (_, created) = crate::undo::made(
            batch,
            groups.iter().map(|g| (g.logical_id(), g.id.as_str())),
            &run.pre_existing,
        );
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
}

pub(crate) fn resolve_group(
    g: &GroupRef,
    sg_ids: &HashMap<String, String>,
) -> Result<String, CloudError> {
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

pub(crate) fn resolve_rules(
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

/// The security group kind in the registry ([`crate::kinds::KINDS`]).
pub(crate) struct Groups;

#[async_trait::async_trait]
impl crate::kinds::Kind for Groups {
    fn records(&self, a: &Actual, out: &mut Vec<ResourceRecord>) {
        for g in &a.security_groups {
            out.push(record(
                g.logical_id().unwrap_or("sg/?"),
                ResourceKind::SecurityGroup,
                &g.id,
                json!({"name": g.name, "vpc": g.vpc_id}),
            ));
        }
    }

    fn doomed(&self, a: &Actual, deployment: &str, out: &mut Vec<Doomed>) {
        for g in a
            .security_groups
            .iter()
            .filter(|g| ours(&g.tags, deployment))
        {
            out.push(Doomed {
                kind: ResourceKind::SecurityGroup,
                address: g.logical_id().unwrap_or("sg/?").to_string(),
                aws_id: g.id.clone(),
                detail: g.name.clone(),
            });
        }
    }

    async fn destroy(
        &self,
        engine: &Engine,
        cx: &DestroyCx<'_>,
        report: &mut DestroyReport,
    ) -> Result<(), EngineError> {
        let groups: Vec<&Doomed> = cx
            .plan
            .items
            .iter()
            .filter(|d| d.kind == ResourceKind::SecurityGroup)
            .collect();
        let mut steps = Vec::new();
        for d in &groups {
            steps.push(engine.journal_intent(
                cx.journal,
                &d.address,
                "delete",
                &json!({"group": d.aws_id}),
            )?);
        }
        let ids: Vec<String> = groups.iter().map(|d| d.aws_id.clone()).collect();
        let results = engine.delete_groups(&cx.plan.deployment, &ids).await;
        let mut first_failure = None;
        for ((d, step), r) in groups.iter().zip(steps).zip(results) {
            engine.result(step, std::slice::from_ref(&d.aws_id), &r);
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
        Ok(())
    }
}
