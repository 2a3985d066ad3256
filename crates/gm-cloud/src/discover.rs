//! Discovery: what already exists in a region (and, for CloudFront, globally) that a deployment
//! could reuse. Every kind is read concurrently; a kind that fails (no permission, a service not
//! in the region) is reported and the rest still come back.

use serde::{Deserialize, Serialize};

use crate::{filter, plain_tags, Cloud, CloudError};

/// A VPC.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VpcInfo {
    /// `vpc-…`.
    pub id: String,
    /// IPv4 CIDR.
    pub cidr: String,
    /// The region's default VPC.
    pub is_default: bool,
    /// `Name` tag.
    pub name: Option<String>,
}

/// A subnet.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SubnetInfo {
    /// `subnet-…`.
    pub id: String,
    /// Its VPC.
    pub vpc_id: String,
    /// Availability zone.
    pub availability_zone: String,
    /// IPv4 CIDR.
    pub cidr: String,
    /// Free addresses.
    pub free_ips: i32,
    /// Instances get a public IPv4 address by default.
    pub public: bool,
    /// `Name` tag.
    pub name: Option<String>,
}

/// A security group.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GroupInfo {
    /// `sg-…`.
    pub id: String,
    /// Name.
    pub name: String,
    /// Its VPC.
    pub vpc_id: Option<String>,
    /// Inbound rules.
    pub ingress_rules: usize,
}

/// A key pair (key pairs are regional).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeyPairInfo {
    /// Name.
    pub name: String,
    /// `rsa` or `ed25519`.
    pub key_type: Option<String>,
}

/// A load balancer (v2).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoadBalancerInfo {
    /// Name.
    pub name: String,
    /// ARN.
    pub arn: String,
    /// `application` or `network`.
    pub kind: Option<String>,
    /// DNS name.
    pub dns_name: Option<String>,
    /// Its VPC.
    pub vpc_id: Option<String>,
    /// `internet-facing` or `internal`.
    pub scheme: Option<String>,
}

/// An EFS file system.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileSystemInfo {
    /// `fs-…`.
    pub id: String,
    /// `Name` tag.
    pub name: Option<String>,
    /// available, creating, …
    pub state: String,
    /// Mount targets.
    pub mount_targets: i32,
}

/// A CloudFront distribution (global).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DistributionInfo {
    /// Id.
    pub id: String,
    /// `….cloudfront.net`.
    pub domain_name: String,
    /// Deployed, InProgress.
    pub status: String,
    /// Alternate domain names.
    pub aliases: Vec<String>,
}

/// What a region has that a deployment could reuse.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Discovery {
    /// Region.
    pub region: String,
    /// VPCs.
    pub vpcs: Vec<VpcInfo>,
    /// Subnets.
    pub subnets: Vec<SubnetInfo>,
    /// Security groups.
    pub security_groups: Vec<GroupInfo>,
    /// Key pairs.
    pub key_pairs: Vec<KeyPairInfo>,
    /// Load balancers.
    pub load_balancers: Vec<LoadBalancerInfo>,
    /// EFS file systems.
    pub file_systems: Vec<FileSystemInfo>,
    /// CloudFront distributions.
    pub distributions: Vec<DistributionInfo>,
    /// Kinds that could not be read, with why.
    pub errors: Vec<String>,
}

fn keep<T>(errors: &mut Vec<String>, what: &str, r: Result<Vec<T>, CloudError>) -> Vec<T> {
    match r {
        Ok(v) => v,
        Err(e) => {
            errors.push(format!("{what}: {}", e.short()));
            Vec::new()
        }
    }
}

fn subnet_info(s: &aws_sdk_ec2::types::Subnet) -> SubnetInfo {
    SubnetInfo {
        id: s.subnet_id().unwrap_or_default().into(),
        vpc_id: s.vpc_id().unwrap_or_default().into(),
        availability_zone: s.availability_zone().unwrap_or_default().into(),
        cidr: s.cidr_block().unwrap_or_default().into(),
        free_ips: s.available_ip_address_count().unwrap_or(0),
        public: s.map_public_ip_on_launch().unwrap_or(false),
        name: plain_tags(s.tags()).remove("Name"),
    }
}

impl Cloud {
    /// Reads every kind concurrently; `vpc` narrows subnets, groups and load balancers.
    pub async fn discover(&self, vpc: Option<&str>) -> Discovery {
        let (vpcs, subnets, groups, keys, lbs, fss, dists) = tokio::join!(
            self.vpcs(),
            self.subnets(vpc),
            self.groups(vpc),
            self.key_pairs(),
            self.load_balancers(vpc),
            self.file_systems(),
            self.distributions(),
        );
        let mut errors = Vec::new();
        Discovery {
            region: self.region.clone(),
            vpcs: keep(&mut errors, "VPCs", vpcs),
            subnets: keep(&mut errors, "subnets", subnets),
            security_groups: keep(&mut errors, "security groups", groups),
            key_pairs: keep(&mut errors, "key pairs", keys),
            load_balancers: keep(&mut errors, "load balancers", lbs),
            file_systems: keep(&mut errors, "EFS file systems", fss),
            distributions: keep(&mut errors, "CloudFront distributions", dists),
            errors,
        }
    }

    async fn vpcs(&self) -> Result<Vec<VpcInfo>, CloudError> {
        let mut pages = self.ec2.describe_vpcs().into_paginator().send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| CloudError::from_sdk("DescribeVpcs", e))?;
            out.extend(page.vpcs().iter().map(|v| VpcInfo {
                id: v.vpc_id().unwrap_or_default().into(),
                cidr: v.cidr_block().unwrap_or_default().into(),
                is_default: v.is_default().unwrap_or(false),
                name: plain_tags(v.tags()).remove("Name"),
            }));
        }
        Ok(out)
    }

    /// Subnets, optionally of one VPC.
    pub async fn subnets(&self, vpc: Option<&str>) -> Result<Vec<SubnetInfo>, CloudError> {
        let mut call = self.ec2.describe_subnets();
        if let Some(v) = vpc {
            call = call.filters(filter("vpc-id", &[v]));
        }
        let mut pages = call.into_paginator().send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| CloudError::from_sdk("DescribeSubnets", e))?;
            out.extend(page.subnets().iter().map(subnet_info));
        }
        Ok(out)
    }

    async fn groups(&self, vpc: Option<&str>) -> Result<Vec<GroupInfo>, CloudError> {
        let mut call = self.ec2.describe_security_groups();
        if let Some(v) = vpc {
            call = call.filters(filter("vpc-id", &[v]));
        }
        let mut pages = call.into_paginator().send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| CloudError::from_sdk("DescribeSecurityGroups", e))?;
            out.extend(page.security_groups().iter().map(|g| GroupInfo {
                id: g.group_id().unwrap_or_default().into(),
                name: g.group_name().unwrap_or_default().into(),
                vpc_id: g.vpc_id().map(str::to_string),
                ingress_rules: g.ip_permissions().len(),
            }));
        }
        Ok(out)
    }

    /// Key pairs of the region.
    pub async fn key_pairs(&self) -> Result<Vec<KeyPairInfo>, CloudError> {
        let out = self
            .ec2
            .describe_key_pairs()
            .send()
            .await
            .map_err(|e| CloudError::from_sdk("DescribeKeyPairs", e))?;
        Ok(out
            .key_pairs()
            .iter()
            .map(|k| KeyPairInfo {
                name: k.key_name().unwrap_or_default().into(),
                key_type: k.key_type().map(|t| t.as_str().to_string()),
            })
            .collect())
    }

    async fn load_balancers(&self, vpc: Option<&str>) -> Result<Vec<LoadBalancerInfo>, CloudError> {
        let mut pages = self.elb.describe_load_balancers().into_paginator().send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| CloudError::from_sdk("DescribeLoadBalancers", e))?;
            out.extend(
                page.load_balancers()
                    .iter()
                    .filter(|l| vpc.is_none() || l.vpc_id() == vpc)
                    .map(|l| LoadBalancerInfo {
                        name: l.load_balancer_name().unwrap_or_default().into(),
                        arn: l.load_balancer_arn().unwrap_or_default().into(),
                        kind: l.r#type().map(|t| t.as_str().to_string()),
                        dns_name: l.dns_name().map(str::to_string),
                        vpc_id: l.vpc_id().map(str::to_string),
                        scheme: l.scheme().map(|s| s.as_str().to_string()),
                    }),
            );
        }
        Ok(out)
    }

    async fn file_systems(&self) -> Result<Vec<FileSystemInfo>, CloudError> {
        let mut pages = self.efs.describe_file_systems().into_paginator().send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| CloudError::from_sdk("DescribeFileSystems", e))?;
            out.extend(page.file_systems().iter().map(|f| FileSystemInfo {
                id: f.file_system_id().to_string(),
                name: f.name().map(str::to_string),
                state: f.life_cycle_state().as_str().to_string(),
                mount_targets: f.number_of_mount_targets(),
            }));
        }
        Ok(out)
    }

    async fn distributions(&self) -> Result<Vec<DistributionInfo>, CloudError> {
        let mut pages = self.cloudfront.list_distributions().into_paginator().send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| CloudError::from_sdk("ListDistributions", e))?;
            if let Some(list) = page.distribution_list() {
                out.extend(list.items().iter().map(|d| DistributionInfo {
                    id: d.id().to_string(),
                    domain_name: d.domain_name().to_string(),
                    status: d.status().to_string(),
                    aliases: d.aliases().map(|a| a.items().to_vec()).unwrap_or_default(),
                }));
            }
        }
        Ok(out)
    }
}

impl Cloud {
    /// Whether a key pair exists in the region.
    pub async fn key_pair_exists(&self, name: &str) -> Result<bool, CloudError> {
        match self.ec2.describe_key_pairs().key_names(name).send().await {
            Ok(out) => Ok(!out.key_pairs().is_empty()),
            Err(e) => {
                let e = CloudError::from_sdk("DescribeKeyPairs", e);
                if e.kind == crate::ErrorKind::NotFound {
                    Ok(false)
                } else {
                    Err(e)
                }
            }
        }
    }

    /// One subnet, if it exists.
    pub async fn subnet(&self, id: &str) -> Result<Option<SubnetInfo>, CloudError> {
        let mut call = self.ec2.describe_subnets();
        call = call.subnet_ids(id);
        match call.send().await {
            Ok(out) => Ok(out.subnets().first().map(subnet_info)),
            Err(e) => {
                let e = CloudError::from_sdk("DescribeSubnets", e);
                if e.kind == crate::ErrorKind::NotFound {
                    Ok(None)
                } else {
                    Err(e)
                }
            }
        }
    }

    /// Whether an instance type is offered in an availability zone.
    pub async fn offered_in_zone(
        &self,
        instance_type: &str,
        zone: &str,
    ) -> Result<bool, CloudError> {
        let out = self
            .ec2
            .describe_instance_type_offerings()
            .location_type(aws_sdk_ec2::types::LocationType::AvailabilityZone)
            .filters(filter("location", &[zone]))
            .filters(filter("instance-type", &[instance_type]))
            .send()
            .await
            .map_err(|e| CloudError::from_sdk("DescribeInstanceTypeOfferings", e))?;
        Ok(!out.instance_type_offerings().is_empty())
    }
}
