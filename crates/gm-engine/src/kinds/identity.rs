//! Roles (with their instance profiles) and generated secrets: created first, since instances
//! launch with the profile and read the secrets; undone from the run's stack; and what they are
//! after a run, so the final read-back need not list IAM and SSM again.

use serde_json::json;

use gm_cloud::CloudError;
use gm_plan::{Action, Actual, ActualRole, ActualSecret, Address, Phase, Plan};
use gm_state::{ResourceKind, ResourceRecord};

use crate::apply::{record, Journal, Run, StepError};
use crate::destroy::{DestroyCx, Doomed};
use crate::report::Done;
use crate::undo::Undo;
use crate::{DestroyReport, Engine, EngineError};

/// The roles and secrets after a run whose identity steps all succeeded: the plan's read with
/// the plan's creates, updates and deletes applied, created roles' ARNs from their steps. Every
/// identity step has its answer by the time the final read is made (they run first, deletes
/// before the read), so this is what IAM and SSM hold; the next plan reads them again.
pub(crate) fn after_run(
    actual: &Actual,
    plan: &Plan,
    created: &[Done],
) -> (Vec<ActualRole>, Vec<ActualSecret>) {
    let mut roles = actual.roles.clone();
    let mut secrets = actual.secrets.clone();
    for c in &plan.changes {
        match &c.action {
            Action::CreateRole { role } => {
                let arn = created
                    .iter()
                    .find(|d| d.address == role.id)
                    .map(|d| d.aws_id.clone())
                    .unwrap_or_default();
                roles.push(ActualRole {
                    name: role.aws_name.clone(),
                    arn,
                    profile: Some(role.aws_name.clone()),
                    profile_has_role: true,
                    managed_policies: role.managed_policies.clone(),
                    secrets_policy: role.secrets_policy.clone(),
                });
            }
            Action::UpdateRole { role, .. } => {
                if let Some(r) = roles.iter_mut().find(|r| r.name == role.aws_name) {
                    r.profile = Some(role.aws_name.clone());
                    r.profile_has_role = true;
                    r.managed_policies = role.managed_policies.clone();
                    r.secrets_policy = role.secrets_policy.clone();
                }
            }
            Action::DeleteRole { name } => roles.retain(|r| r.name != *name),
            Action::CreateSecret { secret } => secrets.push(ActualSecret {
                parameter: secret.parameter.clone(),
            }),
            Action::DeleteSecret { parameter } => secrets.retain(|s| s.parameter != *parameter),
            _ => {}
        }
    }
    (roles, secrets)
}

impl Engine {
    /// Deletes role `name` with its policies and instance profile as one journaled step: the
    /// one deletion of a role that a removal, a rollback and destroy share.
    pub(crate) async fn delete_role(
        &self,
        journal: Journal,
        address: &str,
        name: &str,
    ) -> Result<(), CloudError> {
        let call = self.cloud.delete_role(name);
        let ids = [name.to_string()];
        self.step(
            journal,
            address,
            "delete-role",
            json!({"role": name}),
            &ids,
            call,
        )
        .await
    }

    /// Deletes the secrets `names` in one journaled step (removal, rollback and destroy alike).
    pub(crate) async fn delete_secrets(
        &self,
        journal: Journal,
        address: &str,
        names: &[String],
    ) -> Result<(), CloudError> {
        let call = self.cloud.delete_secrets(names);
        let intent = json!({"parameters": names});
        self.step(journal, address, "delete-secrets", intent, names, call)
            .await
    }

    /// Roles and secrets come first: instances launch with the profile and read the secrets.
    pub(crate) async fn create_identity(
        &self,
        run: &mut Run<'_>,
        plan: &Plan,
    ) -> Result<(), StepError> {
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

    /// Deletes these secrets, in one call.
    pub(crate) async fn undo_secrets(&self, run: &mut Run<'_>, batch: &[Undo]) {
        let made: Vec<(String, String)> = batch
            .iter()
            .filter_map(|u| match u {
                Undo::Secret { address, parameter } => Some((address.clone(), parameter.clone())),
                _ => None,
            })
            .collect();
        let names: Vec<String> = made.iter().map(|(_, p)| p.clone()).collect();
        let address = made
            .first()
            .map_or("secrets", |(a, _)| a.as_str())
            .to_string();
        match self.delete_secrets(run.journal(), &address, &names).await {
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
    pub(crate) async fn undo_roles(&self, run: &mut Run<'_>, batch: &[Undo]) {
        for u in batch {
            let Undo::Role { address, name } = u else {
                continue;
            };
            match self.delete_role(run.journal(), address, name).await {
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
}

/// The identity kind in the registry ([`crate::kinds::KINDS`]).
pub(crate) struct Identity;

#[async_trait::async_trait]
impl crate::kinds::Kind for Identity {
    fn records(&self, a: &Actual, out: &mut Vec<ResourceRecord>) {
        for r in &a.roles {
            out.push(record(
                &Address::role(&r.name).to_string(),
                ResourceKind::Role,
                &r.name,
                json!({"arn": r.arn, "profile": r.profile}),
            ));
        }
        for x in &a.secrets {
            // Only the name: values never enter the state.
            out.push(record(
                &Address::secret_at(&x.parameter).to_string(),
                ResourceKind::Secret,
                &x.parameter,
                json!({}),
            ));
        }
    }

    fn doomed(&self, a: &Actual, _deployment: &str, out: &mut Vec<Doomed>) {
        for r in &a.roles {
            out.push(Doomed {
                kind: ResourceKind::Role,
                address: Address::role(&r.name).into(),
                aws_id: r.name.clone(),
                detail: format!(
                    "IAM role{} and its policies",
                    if r.profile.is_some() {
                        " with instance profile"
                    } else {
                        ""
                    }
                ),
            });
        }
        for x in &a.secrets {
            out.push(Doomed {
                kind: ResourceKind::Secret,
                address: Address::secret_at(&x.parameter).into(),
                aws_id: x.parameter.clone(),
                detail: "SecureString parameter".into(),
            });
        }
    }

    async fn destroy(
        &self,
        engine: &Engine,
        cx: &DestroyCx<'_>,
        report: &mut DestroyReport,
    ) -> Result<(), EngineError> {
        for d in cx
            .plan
            .items
            .iter()
            .filter(|d| d.kind == ResourceKind::Role)
        {
            engine
                .delete_role(cx.journal, &d.address, &d.aws_id)
                .await?;
            report.destroyed.push(Done {
                address: d.address.clone(),
                aws_id: d.aws_id.clone(),
                what: "role, policies and instance profile deleted".into(),
            });
        }
        let secrets: Vec<&Doomed> = cx
            .plan
            .items
            .iter()
            .filter(|d| d.kind == ResourceKind::Secret)
            .collect();
        if !secrets.is_empty() {
            let names: Vec<String> = secrets.iter().map(|d| d.aws_id.clone()).collect();
            engine.delete_secrets(cx.journal, "secrets", &names).await?;
            for d in secrets {
                report.destroyed.push(Done {
                    address: d.address.clone(),
                    aws_id: d.aws_id.clone(),
                    what: "secret deleted".into(),
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_and_deletes_are_applied_to_the_read() {
        let spec = gm_spec::load_str(
            "s.yaml",
            "version: 1\ndeployment: idt\nsecrets: [{name: token}]\nroles: [{name: app, read_secrets: true}]\n",
            std::path::Path::new("."),
        )
        .unwrap();
        let desired = gm_plan::desire(&spec);
        let mut actual = Actual::default();
        actual.roles.push(ActualRole {
            name: "old-role".into(),
            ..ActualRole::default()
        });
        actual.secrets.push(ActualSecret {
            parameter: "/geusemaker/idt/old".into(),
        });
        let plan = gm_plan::diff(&desired, &actual);
        let role = &desired.roles[0];
        let created = [Done {
            address: role.id.clone(),
            aws_id: "arn:aws:iam::123456789012:role/x".into(),
            what: String::new(),
        }];
        let (roles, secrets) = after_run(&actual, &plan, &created);
        // The role and secret under the deployment's paths that the spec no longer names are
        // deleted by the plan, and gone from the result.
        assert!(plan
            .changes
            .iter()
            .any(|c| matches!(&c.action, Action::DeleteRole { name } if name == "old-role")));
        assert!(!roles.iter().any(|r| r.name == "old-role"));
        assert!(!secrets.iter().any(|s| s.parameter == "/geusemaker/idt/old"));
        let new = roles.iter().find(|r| r.name == role.aws_name).unwrap();
        assert_eq!(new.arn, "arn:aws:iam::123456789012:role/x");
        assert_eq!(new.profile.as_deref(), Some(role.aws_name.as_str()));
        assert_eq!(new.secrets_policy, role.secrets_policy);
        assert!(secrets
            .iter()
            .any(|s| s.parameter == desired.secrets[0].parameter));
    }
}
