//! Roles and secrets: what they are after a run.
//!
//! Their creates, updates and deletes still live in `apply.rs`; this module holds what a run
//! knows of them afterwards, so the final read-back need not list IAM and SSM again.

use gm_plan::{Action, Actual, ActualRole, ActualSecret, Plan};

use crate::report::Done;

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
