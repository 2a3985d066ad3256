//! Reads: what a deployment has, found by tag with one paginated describe per kind.

use aws_sdk_ec2::types::{Instance, IpPermission, SecurityGroup, Volume};
use gm_model::{
    ActualInstance, ActualSg, ActualVolume, Attachment, BlockDevice, GroupRef, Rule, RuleSource,
    TAG_DEPLOYMENT,
};

use crate::{filter, plain_tags, Cloud, CloudError};

/// Instance states that still hold capacity (terminated and shutting-down are gone).
pub(crate) const LIVE_STATES: &[&str] = &["pending", "running", "stopping", "stopped"];

impl Cloud {
    /// Only the security groups of a deployment (one paginated describe).
    pub async fn describe_deployment_groups(
        &self,
        deployment: &str,
    ) -> Result<Vec<ActualSg>, CloudError> {
        self.describe_security_groups(&format!("tag:{TAG_DEPLOYMENT}"), deployment)
            .await
    }

    /// Only the volumes of a deployment (one paginated describe).
    pub async fn describe_deployment_volumes(
        &self,
        deployment: &str,
    ) -> Result<Vec<ActualVolume>, CloudError> {
        self.describe_volumes(filter(&format!("tag:{TAG_DEPLOYMENT}"), &[deployment]))
            .await
    }

    /// Only the live instances of a deployment (one paginated describe).
    pub async fn describe_deployment_instances(
        &self,
        deployment: &str,
    ) -> Result<Vec<ActualInstance>, CloudError> {
        self.describe_instances(vec![
            filter(&format!("tag:{TAG_DEPLOYMENT}"), &[deployment]),
            filter("instance-state-name", LIVE_STATES),
        ])
        .await
    }

    /// Instances matching `filters`, all pages.
    pub(crate) async fn describe_instances(
        &self,
        filters: Vec<aws_sdk_ec2::types::Filter>,
    ) -> Result<Vec<ActualInstance>, CloudError> {
        let mut pages = self
            .ec2
            .describe_instances()
            .set_filters(Some(filters))
            .max_results(1000)
            .into_paginator()
            .send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| CloudError::from_sdk("DescribeInstances", e))?;
            for r in page.reservations() {
                out.extend(r.instances().iter().map(instance));
            }
        }
        Ok(out)
    }

    /// Instances by id, in any state (for waits); ids are sent in chunks of 200.
    pub async fn describe_instances_by_id(
        &self,
        ids: &[String],
    ) -> Result<Vec<ActualInstance>, CloudError> {
        let mut out = Vec::new();
        for chunk in ids.chunks(200) {
            out.extend(
                self.describe_instances(vec![filter(
                    "instance-id",
                    &chunk.iter().map(String::as_str).collect::<Vec<_>>(),
                )])
                .await?,
            );
        }
        Ok(out)
    }

    /// Volumes by id (any tags), for waits; ids are sent in chunks of 200.
    pub async fn describe_volumes_by_id(
        &self,
        ids: &[String],
    ) -> Result<Vec<ActualVolume>, CloudError> {
        let mut out = Vec::new();
        for chunk in ids.chunks(200) {
            let ids: Vec<&str> = chunk.iter().map(String::as_str).collect();
            out.extend(self.describe_volumes(filter("volume-id", &ids)).await?);
        }
        Ok(out)
    }

    async fn describe_volumes(
        &self,
        by: aws_sdk_ec2::types::Filter,
    ) -> Result<Vec<ActualVolume>, CloudError> {
        let mut pages = self
            .ec2
            .describe_volumes()
            .filters(by)
            .max_results(500)
            .into_paginator()
            .send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| CloudError::from_sdk("DescribeVolumes", e))?;
            out.extend(page.volumes().iter().map(volume));
        }
        Ok(out)
    }

    pub(crate) async fn describe_security_groups(
        &self,
        tag: &str,
        value: &str,
    ) -> Result<Vec<ActualSg>, CloudError> {
        let mut pages = self
            .ec2
            .describe_security_groups()
            .filters(filter(tag, &[value]))
            .max_results(1000)
            .into_paginator()
            .send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| CloudError::from_sdk("DescribeSecurityGroups", e))?;
            out.extend(page.security_groups().iter().map(security_group));
        }
        Ok(out)
    }

    /// The region's default VPC.
    pub async fn default_vpc(&self) -> Result<String, CloudError> {
        let out = self
            .ec2
            .describe_vpcs()
            .filters(filter("is-default", &["true"]))
            .send()
            .await
            .map_err(|e| CloudError::from_sdk("DescribeVpcs", e))?;
        out.vpcs()
            .iter()
            .find_map(|v| v.vpc_id().map(str::to_string))
            .ok_or_else(|| {
                CloudError::new(
                    "DescribeVpcs",
                    Some(NO_DEFAULT_VPC),
                    no_default_vpc(&self.region),
                )
            })
    }
}

/// The error code the cloud layer gives a region without a default VPC (AWS itself just
/// returns no VPC).
pub const NO_DEFAULT_VPC: &str = "DefaultVpcNotFound";

/// What to do in a region without a default VPC.
pub fn no_default_vpc(region: &str) -> String {
    format!(
        "region {region} has no default VPC (common in Control Tower and enterprise accounts): add a `network:` section to the spec, e.g. `network: {{vpc: {{cidr: 10.40.0.0/16}}, subnets: [{{name: a, cidr: 10.40.1.0/24, public: true}}, {{name: b, cidr: 10.40.2.0/24, public: true}}]}}`, or use an existing VPC with `network: {{vpc: vpc-…, subnets: […]}}`"
    )
}

fn instance(i: &Instance) -> ActualInstance {
    ActualInstance {
        id: i.instance_id().unwrap_or_default().to_string(),
        state: i
            .state()
            .and_then(|s| s.name())
            .map(|n| n.as_str().to_string())
            .unwrap_or_default(),
        instance_type: i
            .instance_type()
            .map(|t| t.as_str().to_string())
            .unwrap_or_default(),
        image_id: i.image_id().unwrap_or_default().to_string(),
        subnet_id: i.subnet_id().map(str::to_string),
        vpc_id: i.vpc_id().map(str::to_string),
        key_name: i.key_name().map(str::to_string),
        spot: i.instance_lifecycle().is_some_and(|l| l.as_str() == "spot"),
        tags: plain_tags(i.tags()),
        security_group_ids: i
            .security_groups()
            .iter()
            .filter_map(|g| g.group_id().map(str::to_string))
            .collect(),
        availability_zone: i
            .placement()
            .and_then(|p| p.availability_zone())
            .map(str::to_string),
        private_ip: i.private_ip_address().map(str::to_string),
        public_ip: i.public_ip_address().map(str::to_string),
        launch_time: i.launch_time().map(|t| t.to_string()),
        root_device_name: i.root_device_name().map(str::to_string),
        block_devices: i
            .block_device_mappings()
            .iter()
            .filter_map(|m| {
                let ebs = m.ebs()?;
                Some(BlockDevice {
                    device: m.device_name()?.to_string(),
                    volume_id: ebs.volume_id()?.to_string(),
                    delete_on_termination: ebs.delete_on_termination().unwrap_or(true),
                })
            })
            .collect(),
        recorded: false,
    }
}

fn volume(v: &Volume) -> ActualVolume {
    ActualVolume {
        id: v.volume_id().unwrap_or_default().to_string(),
        size: v.size().unwrap_or_default(),
        volume_type: v
            .volume_type()
            .map(|t| t.as_str().to_string())
            .unwrap_or_default(),
        iops: v.iops(),
        throughput: v.throughput(),
        encrypted: v.encrypted().unwrap_or(false),
        kms_key_id: v.kms_key_id().map(str::to_string),
        state: v
            .state()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        tags: plain_tags(v.tags()),
        attachments: v
            .attachments()
            .iter()
            .filter(|a| a.state().is_none_or(|s| s.as_str() != "detached"))
            .filter_map(|a| {
                Some(Attachment {
                    instance_id: a.instance_id()?.to_string(),
                    device: a.device()?.to_string(),
                    delete_on_termination: a.delete_on_termination().unwrap_or(true),
                })
            })
            .collect(),
        availability_zone: v.availability_zone().map(str::to_string),
    }
}

fn security_group(g: &SecurityGroup) -> ActualSg {
    ActualSg {
        id: g.group_id().unwrap_or_default().to_string(),
        name: g.group_name().unwrap_or_default().to_string(),
        vpc_id: g.vpc_id().map(str::to_string),
        tags: plain_tags(g.tags()),
        ingress: g.ip_permissions().iter().flat_map(rules).collect(),
    }
}

/// Flattens one AWS permission into one rule per source.
fn rules(p: &IpPermission) -> Vec<Rule> {
    let protocol = p.ip_protocol().unwrap_or("-1").to_string();
    let (from, to) = if protocol == "-1" || protocol == "icmp" {
        (-1, -1)
    } else {
        (p.from_port().unwrap_or(-1), p.to_port().unwrap_or(-1))
    };
    let mut out: Vec<Rule> = p
        .ip_ranges()
        .iter()
        .filter_map(|r| r.cidr_ip())
        .map(|c| Rule {
            protocol: protocol.clone(),
            from,
            to,
            source: RuleSource::Cidr(c.to_string()),
        })
        .collect();
    out.extend(
        p.user_id_group_pairs()
            .iter()
            .filter_map(|g| g.group_id())
            .map(|g| Rule {
                protocol: protocol.clone(),
                from,
                to,
                source: RuleSource::Group(GroupRef::Id(g.to_string())),
            }),
    );
    out
}
