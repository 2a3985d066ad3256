//! Mutating EC2 calls, each recorded in the audit trail, batched where EC2 batches.

use aws_sdk_ec2::types::{
    AttributeValue, InstanceType, IpPermission, IpRange, ResourceType, Tag, TagSpecification,
    UserIdGroupPair, VolumeType,
};
use base64::Engine;
use gm_model::{GroupRef, Rule, RuleSource, Tags, VolumeChange};

use crate::{sdk_tags, Cloud, CloudError};

/// EC2 accepts up to 1000 ids in one TerminateInstances/CreateTags call.
const BATCH: usize = 1000;

impl Cloud {
    /// Sets tags on many resources in one call per 1000.
    pub async fn create_tags(&self, ids: &[String], tags: &Tags) -> Result<(), CloudError> {
        if tags.is_empty() {
            return Ok(());
        }
        for chunk in ids.chunks(BATCH) {
            let call = self
                .ec2
                .create_tags()
                .set_resources(Some(chunk.to_vec()))
                .set_tags(Some(sdk_tags(tags)));
            self.mutate_unit("CreateTags", chunk, call.send()).await?;
        }
        Ok(())
    }

    /// Removes tag keys from many resources.
    pub async fn delete_tags(&self, ids: &[String], keys: &[String]) -> Result<(), CloudError> {
        if keys.is_empty() {
            return Ok(());
        }
        for chunk in ids.chunks(BATCH) {
            let call = self
                .ec2
                .delete_tags()
                .set_resources(Some(chunk.to_vec()))
                .set_tags(Some(
                    keys.iter().map(|k| Tag::builder().key(k).build()).collect(),
                ));
            self.mutate_unit("DeleteTags", chunk, call.send()).await?;
        }
        Ok(())
    }

    /// Terminates many instances: one call per 1000 ids.
    pub async fn terminate_instances(&self, ids: &[String]) -> Result<(), CloudError> {
        for chunk in ids.chunks(BATCH) {
            let call = self
                .ec2
                .terminate_instances()
                .set_instance_ids(Some(chunk.to_vec()));
            self.mutate_unit("TerminateInstances", chunk, call.send())
                .await?;
        }
        Ok(())
    }

    /// Stops many instances.
    pub async fn stop_instances(&self, ids: &[String]) -> Result<(), CloudError> {
        for chunk in ids.chunks(BATCH) {
            let call = self
                .ec2
                .stop_instances()
                .set_instance_ids(Some(chunk.to_vec()));
            self.mutate_unit("StopInstances", chunk, call.send())
                .await?;
        }
        Ok(())
    }

    /// Starts many instances.
    pub async fn start_instances(&self, ids: &[String]) -> Result<(), CloudError> {
        for chunk in ids.chunks(BATCH) {
            let call = self
                .ec2
                .start_instances()
                .set_instance_ids(Some(chunk.to_vec()));
            self.mutate_unit("StartInstances", chunk, call.send())
                .await?;
        }
        Ok(())
    }

    /// Changes a stopped instance's type.
    pub async fn modify_instance_type(
        &self,
        id: &str,
        instance_type: &str,
    ) -> Result<(), CloudError> {
        let call = self
            .ec2
            .modify_instance_attribute()
            .instance_id(id)
            .instance_type(
                AttributeValue::builder()
                    .value(InstanceType::from(instance_type).as_str())
                    .build(),
            );
        self.mutate_unit("ModifyInstanceAttribute", &[id.to_string()], call.send())
            .await
    }

    /// Replaces an instance's security groups.
    pub async fn modify_instance_groups(
        &self,
        id: &str,
        group_ids: &[String],
    ) -> Result<(), CloudError> {
        let call = self
            .ec2
            .modify_instance_attribute()
            .instance_id(id)
            .set_groups(Some(group_ids.to_vec()));
        self.mutate_unit("ModifyInstanceAttribute", &[id.to_string()], call.send())
            .await
    }

    /// Changes a volume's size, type, IOPS or throughput in place.
    pub async fn modify_volume(&self, id: &str, c: &VolumeChange) -> Result<(), CloudError> {
        let call = self
            .ec2
            .modify_volume()
            .volume_id(id)
            .set_size(c.size)
            .set_volume_type(c.volume_type.as_deref().map(VolumeType::from))
            .set_iops(c.iops)
            .set_throughput(c.throughput);
        self.mutate_unit("ModifyVolume", &[id.to_string()], call.send())
            .await
    }

    /// Attaches a volume to an instance at a device.
    pub async fn attach_volume(
        &self,
        volume_id: &str,
        instance_id: &str,
        device: &str,
    ) -> Result<(), CloudError> {
        let call = self
            .ec2
            .attach_volume()
            .volume_id(volume_id)
            .instance_id(instance_id)
            .device(device);
        self.mutate_unit(
            "AttachVolume",
            &[volume_id.to_string(), instance_id.to_string()],
            call.send(),
        )
        .await
    }

    /// Detaches a volume from the instance it is attached to (the instance should be stopped:
    /// a mounted volume of a running instance can stay `busy`).
    pub async fn detach_volume(
        &self,
        volume_id: &str,
        instance_id: &str,
    ) -> Result<(), CloudError> {
        let call = self
            .ec2
            .detach_volume()
            .volume_id(volume_id)
            .instance_id(instance_id);
        self.mutate_unit(
            "DetachVolume",
            &[volume_id.to_string(), instance_id.to_string()],
            call.send(),
        )
        .await
    }

    /// Deletes a volume that is not attached.
    pub async fn delete_volume(&self, id: &str) -> Result<(), CloudError> {
        let call = self.ec2.delete_volume().volume_id(id);
        self.mutate_unit("DeleteVolume", &[id.to_string()], call.send())
            .await
    }

    /// Creates a security group, tagged at creation; returns its id.
    pub async fn create_security_group(
        &self,
        name: &str,
        description: &str,
        vpc_id: &str,
        tags: &Tags,
    ) -> Result<String, CloudError> {
        let call = self
            .ec2
            .create_security_group()
            .group_name(name)
            .description(description)
            .vpc_id(vpc_id)
            .tag_specifications(
                TagSpecification::builder()
                    .resource_type(ResourceType::SecurityGroup)
                    .set_tags(Some(sdk_tags(tags)))
                    .build(),
            );
        let logical = tags.get(gm_model::TAG_ID).cloned().unwrap_or_default();
        let r = self
            .mutate(
                "CreateSecurityGroup",
                &[logical],
                |id: &String| vec![id.clone()],
                async {
                    let out = call
                        .send()
                        .await
                        .map_err(|e| CloudError::from_sdk("CreateSecurityGroup", e))?;
                    out.group_id().map(str::to_string).ok_or_else(|| {
                        CloudError::new("CreateSecurityGroup", None, "AWS returned no group id")
                    })
                },
            )
            .await;
        match r {
            // The plan saw no such group, so one carrying our tags is this create's (its answer
            // was lost and the SDK tried again) or a concurrent run's: either way, ours.
            Err(e) if e.code.as_deref() == Some("InvalidGroup.Duplicate") => {
                match self.own_group(name, vpc_id, tags).await? {
                    Some(id) => Ok(id),
                    None => Err(e),
                }
            }
            other => other,
        }
    }

    /// The group `name` in `vpc_id` when it carries `tags`' deployment and logical id (read
    /// the way the plan reads groups: by the deployment tag).
    async fn own_group(
        &self,
        name: &str,
        vpc_id: &str,
        tags: &Tags,
    ) -> Result<Option<String>, CloudError> {
        let Some(deployment) = tags.get(gm_model::TAG_DEPLOYMENT) else {
            return Ok(None);
        };
        let groups = self
            .describe_security_groups(&format!("tag:{}", gm_model::TAG_DEPLOYMENT), deployment)
            .await?;
        Ok(groups
            .into_iter()
            .find(|g| {
                g.name == name
                    && g.vpc_id.as_deref() == Some(vpc_id)
                    && g.tags.get(gm_model::TAG_ID) == tags.get(gm_model::TAG_ID)
            })
            .map(|g| g.id))
    }

    /// Adds inbound rules (group references must already be ids).
    pub async fn authorize_ingress(&self, sg_id: &str, rules: &[Rule]) -> Result<(), CloudError> {
        if rules.is_empty() {
            return Ok(());
        }
        let call = self
            .ec2
            .authorize_security_group_ingress()
            .group_id(sg_id)
            .set_ip_permissions(Some(rules.iter().map(permission).collect()));
        let r = self
            .mutate_unit(
                "AuthorizeSecurityGroupIngress",
                &[sg_id.to_string()],
                call.send(),
            )
            .await;
        match r {
            // The plan authorizes only missing rules: "already there" means an earlier try of
            // this call took effect and its answer was lost.
            Err(e) if e.code.as_deref() == Some("InvalidPermission.Duplicate") => Ok(()),
            other => other,
        }
    }

    /// Removes inbound rules.
    pub async fn revoke_ingress(&self, sg_id: &str, rules: &[Rule]) -> Result<(), CloudError> {
        if rules.is_empty() {
            return Ok(());
        }
        let call = self
            .ec2
            .revoke_security_group_ingress()
            .group_id(sg_id)
            .set_ip_permissions(Some(rules.iter().map(permission).collect()));
        self.mutate_unit(
            "RevokeSecurityGroupIngress",
            &[sg_id.to_string()],
            call.send(),
        )
        .await
    }

    /// Deletes a security group.
    pub async fn delete_security_group(&self, sg_id: &str) -> Result<(), CloudError> {
        let call = self.ec2.delete_security_group().group_id(sg_id);
        self.mutate_unit("DeleteSecurityGroup", &[sg_id.to_string()], call.send())
            .await
    }

    /// The instance's console output (what user data writes to /dev/console), decoded.
    pub async fn console_output(&self, instance_id: &str) -> Result<String, CloudError> {
        let out = self
            .ec2
            .get_console_output()
            .instance_id(instance_id)
            .latest(true)
            .send()
            .await
            .map_err(|e| CloudError::from_sdk("GetConsoleOutput", e))?;
        let raw = out.output().unwrap_or_default();
        // AWS sends base64; some emulators send plain text.
        Ok(base64::engine::general_purpose::STANDARD
            .decode(raw.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .unwrap_or_else(|| raw.to_string()))
    }

    /// The user data an instance was launched with, decoded (one call per instance: for tests
    /// and `status --verify`, never on the apply path).
    pub async fn user_data(&self, instance_id: &str) -> Result<Option<String>, CloudError> {
        let out = self
            .ec2
            .describe_instance_attribute()
            .instance_id(instance_id)
            .attribute(aws_sdk_ec2::types::InstanceAttributeName::UserData)
            .send()
            .await
            .map_err(|e| CloudError::from_sdk("DescribeInstanceAttribute", e))?;
        Ok(out
            .user_data()
            .and_then(|v| v.value())
            .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
            .and_then(|b| String::from_utf8(b).ok()))
    }
}

fn permission(r: &Rule) -> IpPermission {
    let mut p = IpPermission::builder().ip_protocol(&r.protocol);
    if r.protocol != "-1" {
        p = p.from_port(r.from).to_port(r.to);
    }
    match &r.source {
        RuleSource::Cidr(c) => p = p.ip_ranges(IpRange::builder().cidr_ip(c).build()),
        RuleSource::Group(GroupRef::Id(g)) | RuleSource::Group(GroupRef::Ours(g)) => {
            p = p.user_id_group_pairs(UserIdGroupPair::builder().group_id(g).build())
        }
    }
    p.build()
}
