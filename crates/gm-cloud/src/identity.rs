//! IAM roles with instance profiles, and secrets in SSM Parameter Store.
//!
//! A deployment's roles and profiles live under the IAM path `/geusemaker/DEPLOYMENT/`, and its
//! secrets under the SSM path `/geusemaker/DEPLOYMENT`, so both are found by listing one path —
//! the same "find by tag" idea where IAM's tag filters do not exist.

use aws_sdk_iam::types::Tag as IamTag;
use aws_sdk_ssm::types::{ParameterStringFilter, ParameterType, Tag as SsmTag};
use gm_model::{ActualRole, ActualSecret, DesiredRole, Tags};

use crate::{gone_is_ok, Cloud, CloudError, ErrorKind};

/// The inline policy name GeuseMaker uses for "may read this deployment's secrets".
pub const SECRETS_POLICY: &str = "geusemaker-secrets";

/// The trust policy that lets EC2 instances assume a role.
const EC2_TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

fn iam_tags(tags: &Tags) -> Vec<IamTag> {
    tags.iter()
        .filter_map(|(k, v)| IamTag::builder().key(k).value(v).build().ok())
        .collect()
}

impl Cloud {
    /// Roles (with their profiles and policies) under an IAM path.
    pub async fn describe_roles(&self, path: &str) -> Result<Vec<ActualRole>, CloudError> {
        let mut roles = Vec::new();
        let mut pages = self
            .iam
            .list_roles()
            .path_prefix(path)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| CloudError::from_sdk("ListRoles", e))?;
            for r in page.roles() {
                roles.push(ActualRole {
                    name: r.role_name().to_string(),
                    arn: r.arn().to_string(),
                    ..ActualRole::default()
                });
            }
        }
        if roles.is_empty() {
            return Ok(roles);
        }
        let mut profiles = self
            .iam
            .list_instance_profiles()
            .path_prefix(path)
            .into_paginator()
            .send();
        while let Some(page) = profiles.next().await {
            let page = page.map_err(|e| CloudError::from_sdk("ListInstanceProfiles", e))?;
            for p in page.instance_profiles() {
                if let Some(r) = roles
                    .iter_mut()
                    .find(|r| r.name == p.instance_profile_name())
                {
                    r.profile = Some(p.instance_profile_name().to_string());
                    r.profile_has_role = p.roles().iter().any(|x| x.role_name() == r.name);
                }
            }
        }
        for r in &mut roles {
            let attached = self
                .iam
                .list_attached_role_policies()
                .role_name(&r.name)
                .send()
                .await
                .map_err(|e| CloudError::from_sdk("ListAttachedRolePolicies", e))?;
            r.managed_policies = attached
                .attached_policies()
                .iter()
                .filter_map(|p| p.policy_arn().map(str::to_string))
                .collect();
            match self
                .iam
                .get_role_policy()
                .role_name(&r.name)
                .policy_name(SECRETS_POLICY)
                .send()
                .await
            {
                Ok(p) => r.secrets_policy = Some(p.policy_document().to_string()),
                Err(e) => {
                    let e = CloudError::from_sdk("GetRolePolicy", e);
                    if e.kind != ErrorKind::NotFound {
                        return Err(e);
                    }
                }
            }
        }
        Ok(roles)
    }

    /// Creates a role, its policies and its instance profile (tagged, under the deployment's
    /// path). Returns the role ARN. A failure part-way leaves pieces `delete_role` removes.
    pub async fn create_role(&self, role: &DesiredRole) -> Result<String, CloudError> {
        let call = self
            .iam
            .create_role()
            .role_name(&role.aws_name)
            .path(&role.path)
            .assume_role_policy_document(EC2_TRUST)
            .description(format!("GeuseMaker {}", role.id))
            .set_tags(Some(iam_tags(&role.tags)));
        let arn = self
            .mutate(
                "CreateRole",
                std::slice::from_ref(&role.aws_name),
                |a: &String| vec![a.clone()],
                async {
                    let out = call
                        .send()
                        .await
                        .map_err(|e| CloudError::from_sdk("CreateRole", e))?;
                    Ok(out.role().map(|r| r.arn().to_string()).unwrap_or_default())
                },
            )
            .await;
        let arn = match arn {
            // Planned because it did not exist: one with our tags and path is this create's
            // (a lost answer retried) or a concurrent run's.
            Err(e) if e.code.as_deref() == Some("EntityAlreadyExists") => {
                match self.own_role(role).await? {
                    Some(arn) => arn,
                    None => return Err(e),
                }
            }
            other => other?,
        };
        self.update_role(
            role,
            &role.managed_policies,
            &[],
            Some(role.secrets_policy.is_some()),
            true,
        )
        .await?;
        Ok(arn)
    }

    /// The role's ARN when the existing role of that name is this deployment's.
    async fn own_role(&self, role: &DesiredRole) -> Result<Option<String>, CloudError> {
        let out = self
            .iam
            .get_role()
            .role_name(&role.aws_name)
            .send()
            .await
            .map_err(|e| CloudError::from_sdk("GetRole", e))?;
        let Some(r) = out.role() else {
            return Ok(None);
        };
        let want = role.tags.get(gm_model::TAG_DEPLOYMENT).map(String::as_str);
        let ours = r.path() == role.path
            && r.tags()
                .iter()
                .any(|t| t.key() == gm_model::TAG_DEPLOYMENT && Some(t.value()) == want);
        Ok(ours.then(|| r.arn().to_string()))
    }

    /// Attaches and detaches managed policies, puts or deletes the secrets policy, and (when
    /// asked) makes sure the instance profile exists and holds the role.
    pub async fn update_role(
        &self,
        role: &DesiredRole,
        attach: &[String],
        detach: &[String],
        secrets_policy: Option<bool>,
        repair_profile: bool,
    ) -> Result<(), CloudError> {
        let name = &role.aws_name;
        let ids = [name.clone()];
        match (secrets_policy, &role.secrets_policy) {
            (Some(true), Some(doc)) => {
                let call = self
                    .iam
                    .put_role_policy()
                    .role_name(name)
                    .policy_name(SECRETS_POLICY)
                    .policy_document(in_partition(doc, &self.region));
                self.mutate_unit("PutRolePolicy", &ids, call.send()).await?;
            }
            (Some(false), _) => {
                self.delete_secrets_policy(name).await?;
            }
            _ => {}
        }
        for arn in attach {
            let call = self
                .iam
                .attach_role_policy()
                .role_name(name)
                .policy_arn(arn);
            self.mutate_unit(
                "AttachRolePolicy",
                &[name.clone(), arn.clone()],
                call.send(),
            )
            .await?;
        }
        for arn in detach {
            self.detach_policy(name, arn).await?;
        }
        if repair_profile {
            let call = self
                .iam
                .create_instance_profile()
                .instance_profile_name(name)
                .path(&role.path)
                .set_tags(Some(iam_tags(&role.tags)));
            let created = self
                .mutate_unit("CreateInstanceProfile", &ids, call.send())
                .await;
            match created {
                Err(e) if e.code.as_deref() == Some("EntityAlreadyExists") => {}
                other => other?,
            }
            let call = self
                .iam
                .add_role_to_instance_profile()
                .instance_profile_name(name)
                .role_name(name);
            let added = self
                .mutate_unit("AddRoleToInstanceProfile", &ids, call.send())
                .await;
            match added {
                Err(e)
                    if e.code.as_deref() == Some("LimitExceeded")
                        || e.code.as_deref() == Some("EntityAlreadyExists") => {}
                other => other?,
            }
        }
        Ok(())
    }

    /// Detaches a managed policy; already detached is fine.
    async fn detach_policy(&self, role: &str, arn: &str) -> Result<(), CloudError> {
        let call = self
            .iam
            .detach_role_policy()
            .role_name(role)
            .policy_arn(arn);
        gone_is_ok(
            self.mutate_unit(
                "DetachRolePolicy",
                &[role.to_string(), arn.to_string()],
                call.send(),
            )
            .await,
        )
    }

    /// Deletes the secrets policy; already gone is fine.
    async fn delete_secrets_policy(&self, role: &str) -> Result<(), CloudError> {
        let call = self
            .iam
            .delete_role_policy()
            .role_name(role)
            .policy_name(SECRETS_POLICY);
        gone_is_ok(
            self.mutate_unit("DeleteRolePolicy", &[role.to_string()], call.send())
                .await,
        )
    }

    /// Deletes a role with everything hanging off it; pieces already gone are fine.
    pub async fn delete_role(&self, name: &str) -> Result<(), CloudError> {
        let ids = [name.to_string()];
        let call = self
            .iam
            .remove_role_from_instance_profile()
            .instance_profile_name(name)
            .role_name(name);
        gone_is_ok(
            self.mutate_unit("RemoveRoleFromInstanceProfile", &ids, call.send())
                .await,
        )?;
        let call = self
            .iam
            .delete_instance_profile()
            .instance_profile_name(name);
        gone_is_ok(
            self.mutate_unit("DeleteInstanceProfile", &ids, call.send())
                .await,
        )?;
        let attached: Vec<String> = match self
            .iam
            .list_attached_role_policies()
            .role_name(name)
            .send()
            .await
        {
            Ok(a) => a
                .attached_policies()
                .iter()
                .filter_map(|p| p.policy_arn().map(str::to_string))
                .collect(),
            Err(e) => {
                let e = CloudError::from_sdk("ListAttachedRolePolicies", e);
                if e.kind == ErrorKind::NotFound {
                    return Ok(());
                }
                return Err(e);
            }
        };
        for arn in &attached {
            self.detach_policy(name, arn).await?;
        }
        self.delete_secrets_policy(name).await?;
        let call = self.iam.delete_role().role_name(name);
        gone_is_ok(self.mutate_unit("DeleteRole", &ids, call.send()).await)
    }

    /// Secrets under an SSM path (names only).
    pub async fn describe_secrets(&self, path: &str) -> Result<Vec<ActualSecret>, CloudError> {
        let filter = ParameterStringFilter::builder()
            .key("Path")
            .option("OneLevel")
            .values(path)
            .build()
            .map_err(|e| CloudError::new("DescribeParameters", None, e.to_string()))?;
        let mut pages = self
            .ssm
            .describe_parameters()
            .parameter_filters(filter)
            .max_results(50)
            .into_paginator()
            .send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| CloudError::from_sdk("DescribeParameters", e))?;
            out.extend(page.parameters().iter().filter_map(|p| {
                p.name().map(|n| ActualSecret {
                    parameter: n.to_string(),
                })
            }));
        }
        Ok(out)
    }

    /// Stores a new secret as a SecureString; an existing one is kept, never overwritten.
    /// Returns whether it was created. The value is not logged or audited.
    pub async fn put_secret(
        &self,
        parameter: &str,
        value: &str,
        tags: &Tags,
    ) -> Result<bool, CloudError> {
        let call = self
            .ssm
            .put_parameter()
            .name(parameter)
            .value(value)
            .r#type(ParameterType::SecureString)
            .overwrite(false)
            .description("Generated by GeuseMaker")
            .set_tags(Some(
                tags.iter()
                    .filter_map(|(k, v)| SsmTag::builder().key(k).value(v).build().ok())
                    .collect(),
            ));
        let r = self
            .mutate_unit("PutParameter", &[parameter.to_string()], call.send())
            .await;
        match r {
            Ok(()) => Ok(true),
            // Planned because it did not exist: with our deployment's tag it is this put's (a
            // lost answer retried), so it is created by this run and undone with it.
            Err(e) if e.code.as_deref() == Some("ParameterAlreadyExists") => {
                Ok(self.own_parameter(parameter, tags).await?)
            }
            Err(e) => Err(e),
        }
    }

    /// True when `parameter` carries `tags`' deployment tag.
    async fn own_parameter(&self, parameter: &str, tags: &Tags) -> Result<bool, CloudError> {
        let out = self
            .ssm
            .list_tags_for_resource()
            .resource_type(aws_sdk_ssm::types::ResourceTypeForTagging::Parameter)
            .resource_id(parameter)
            .send()
            .await
            .map_err(|e| CloudError::from_sdk("ListTagsForResource", e))?;
        let want = tags.get(gm_model::TAG_DEPLOYMENT).map(String::as_str);
        Ok(out
            .tag_list()
            .iter()
            .any(|t| t.key() == gm_model::TAG_DEPLOYMENT && Some(t.value()) == want))
    }

    /// Deletes secrets, ten per call (SSM's batch size).
    pub async fn delete_secrets(&self, parameters: &[String]) -> Result<(), CloudError> {
        for chunk in parameters.chunks(10) {
            let call = self.ssm.delete_parameters().set_names(Some(chunk.to_vec()));
            self.mutate_unit("DeleteParameters", chunk, call.send())
                .await?;
        }
        Ok(())
    }

    /// A secret's value (for `inspect --show-secrets` only).
    pub async fn secret_value(&self, parameter: &str) -> Result<String, CloudError> {
        let out = self
            .ssm
            .get_parameter()
            .name(parameter)
            .with_decryption(true)
            .send()
            .await
            .map_err(|e| CloudError::from_sdk("GetParameter", e))?;
        Ok(out
            .parameter()
            .and_then(|p| p.value())
            .unwrap_or_default()
            .to_string())
    }
}

/// A random secret of `len` hex characters from the OS's generator.
pub fn generate_secret(len: usize) -> Result<String, CloudError> {
    let mut bytes = vec![0u8; len.div_ceil(2)];
    getrandom::getrandom(&mut bytes).map_err(|e| {
        CloudError::new(
            "generate",
            Some("RandomUnavailable"),
            format!("no OS randomness: {e}"),
        )
    })?;
    let mut s = hex::encode(bytes);
    s.truncate(len);
    Ok(s)
}

/// A policy document written for the `aws` partition, with its ARNs moved to the partition of
/// `region` (`aws-cn` in China, `aws-us-gov` in GovCloud), where `arn:aws:` matches nothing.
fn in_partition(doc: &str, region: &str) -> String {
    match gm_aws::partition(region) {
        "aws" => doc.to_string(),
        p => doc.replace("\"arn:aws:", &format!("\"arn:{p}:")),
    }
}

#[cfg(test)]
mod partition_tests {
    use super::in_partition;

    #[test]
    fn a_policy_names_the_partition_of_its_region() {
        let doc = r#"{"Resource":"arn:aws:ssm:*:*:parameter/geusemaker/d/*"}"#;
        assert_eq!(in_partition(doc, "eu-west-1"), doc);
        assert_eq!(
            in_partition(doc, "cn-north-1"),
            r#"{"Resource":"arn:aws-cn:ssm:*:*:parameter/geusemaker/d/*"}"#
        );
        assert!(in_partition(doc, "us-gov-west-1").contains("\"arn:aws-us-gov:ssm:"));
    }
}
