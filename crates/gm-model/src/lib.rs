//! GeuseMaker's shared vocabulary: the tag keys every resource carries, tags themselves, the
//! states a deployment is in, as types instead of strings compared at each use, and the
//! [`Hint`] every error gives.

use std::collections::BTreeMap;

pub mod actual;
pub mod address;
pub mod desired;
pub mod network;
pub mod price;

pub use actual::*;
pub use address::Address;
pub use desired::*;
pub use network::*;
pub use price::*;

use serde::{Deserialize, Serialize};

/// Tags as key → value, sorted for stable output.
pub type Tags = BTreeMap<String, String>;

/// An error that says what it is and what to do about it: a stable code for machines
/// (`GM-SPEC-021`, `GM-AWS-InvalidVpcID.NotFound`, listed by `geusemaker explain`) and, when
/// there is one, a fix for people. The errors of the spec, the state and the cloud layer
/// implement it, so the CLI (and the server) turn any of them into what a user sees one way.
pub trait Hint: std::fmt::Display {
    /// The stable code.
    fn code(&self) -> String;
    /// What the user can do next, when there is something.
    fn hint(&self) -> Option<String>;
}

/// The deployment a resource belongs to; also the cost-allocation tag.
pub const TAG_DEPLOYMENT: &str = "geusemaker:deployment";
/// The resource's logical address, e.g. `instance/web/0`.
pub const TAG_ID: &str = "geusemaker:id";
/// The logical address in `tags` (`geusemaker:id`), when there is one.
pub fn logical_id(tags: &Tags) -> Option<&str> {
    tags.get(TAG_ID).map(String::as_str)
}

/// Marks resources GeuseMaker created and may delete.
pub const TAG_MANAGED: &str = "geusemaker:managed";
/// The AMI as the spec named it (alias or id) when the instance was launched.
pub const TAG_AMI: &str = "geusemaker:ami";
/// Digest of the user data the instance was launched with.
pub const TAG_USER_DATA: &str = "geusemaker:user-data";
/// The market the spec asked for (a spot fallback launches on-demand but keeps `spot` here).
pub const TAG_MARKET: &str = "geusemaker:market";
/// Digest of the other launch-only settings (profile, spot options, volume layout).
pub const TAG_LAUNCH: &str = "geusemaker:launch";
/// On volumes: the instance they were launched with.
pub const TAG_INSTANCE: &str = "geusemaker:instance";

/// On volumes kept on termination: the device they belong at, so a new instance at the same
/// address gets them back.
pub const TAG_DEVICE: &str = "geusemaker:device";

/// Tags set at launch that describe how a resource was made; a difference means replacement,
/// so tag updates leave them alone.
pub const LAUNCH_TAGS: &[&str] = &[
    TAG_AMI,
    TAG_USER_DATA,
    TAG_MARKET,
    TAG_LAUNCH,
    TAG_INSTANCE,
    TAG_DEVICE,
];

/// True for tags no one but AWS may change.
pub fn is_aws_tag(key: &str) -> bool {
    key.starts_with("aws:")
}

/// Where a deployment stands, as the state store records it. Written by the engine only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeploymentStatus {
    /// An apply is running.
    Applying,
    /// The last apply finished (or rolled back with resources still there).
    Active,
    /// The last apply failed past its point of no return.
    Failed,
    /// The last apply rolled back and left nothing.
    RolledBack,
    /// A destroy is running.
    Destroying,
    /// A destroy confirmed nothing is left.
    Destroyed,
    /// A destroy finished with resources still there.
    DestroyFailed,
}

impl DeploymentStatus {
    /// Every status, for parsing and documentation.
    pub const ALL: [DeploymentStatus; 7] = [
        DeploymentStatus::Applying,
        DeploymentStatus::Active,
        DeploymentStatus::Failed,
        DeploymentStatus::RolledBack,
        DeploymentStatus::Destroying,
        DeploymentStatus::Destroyed,
        DeploymentStatus::DestroyFailed,
    ];

    /// Its stored and shown form, e.g. `rolled-back`.
    pub fn as_str(self) -> &'static str {
        match self {
            DeploymentStatus::Applying => "applying",
            DeploymentStatus::Active => "active",
            DeploymentStatus::Failed => "failed",
            DeploymentStatus::RolledBack => "rolled-back",
            DeploymentStatus::Destroying => "destroying",
            DeploymentStatus::Destroyed => "destroyed",
            DeploymentStatus::DestroyFailed => "destroy-failed",
        }
    }

    /// The status written as `s`, if it is one.
    pub fn parse(s: &str) -> Option<DeploymentStatus> {
        DeploymentStatus::ALL.into_iter().find(|d| d.as_str() == s)
    }
}

impl std::fmt::Display for DeploymentStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether a recorded resource still exists, as the state store keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RecordStatus {
    /// AWS had it at the last read.
    Live,
    /// Gone: removed by GeuseMaker, or no longer found.
    Deleted,
}

impl RecordStatus {
    /// Its stored and shown form.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordStatus::Live => "live",
            RecordStatus::Deleted => "deleted",
        }
    }

    /// The status written as `s`, if it is one.
    pub fn parse(s: &str) -> Option<RecordStatus> {
        [RecordStatus::Live, RecordStatus::Deleted]
            .into_iter()
            .find(|r| r.as_str() == s)
    }
}

/// What a resource in the state is. Stored, shown and serialised in its kebab-case form
/// (`security-group`, `nat-gateway`); referenced ones (an image, a key pair, a VPC or subnet the
/// spec names) use the same kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ResourceKind {
    /// An EC2 instance.
    Instance,
    /// An EBS volume.
    Volume,
    /// A security group.
    SecurityGroup,
    /// An IAM role with its instance profile.
    Role,
    /// A generated secret (an SSM SecureString; its value never enters the state).
    Secret,
    /// An Application Load Balancer.
    LoadBalancer,
    /// Its target group.
    TargetGroup,
    /// A CloudFront distribution.
    Cdn,
    /// A VPC.
    Vpc,
    /// A subnet.
    Subnet,
    /// An internet gateway.
    InternetGateway,
    /// A route table.
    RouteTable,
    /// A NAT gateway.
    NatGateway,
    /// An Elastic IP.
    ElasticIp,
    /// An AMI (referenced).
    Image,
    /// An EC2 key pair (referenced).
    KeyPair,
}

impl ResourceKind {
    /// Every kind.
    pub const ALL: [ResourceKind; 16] = [
        ResourceKind::Instance,
        ResourceKind::Volume,
        ResourceKind::SecurityGroup,
        ResourceKind::Role,
        ResourceKind::Secret,
        ResourceKind::LoadBalancer,
        ResourceKind::TargetGroup,
        ResourceKind::Cdn,
        ResourceKind::Vpc,
        ResourceKind::Subnet,
        ResourceKind::InternetGateway,
        ResourceKind::RouteTable,
        ResourceKind::NatGateway,
        ResourceKind::ElasticIp,
        ResourceKind::Image,
        ResourceKind::KeyPair,
    ];
    /// The kinds read under the deployment's IAM and SSM paths.
    pub const IDENTITY: [ResourceKind; 2] = [ResourceKind::Role, ResourceKind::Secret];
    /// The edge: load balancer, target group, distribution.
    pub const EDGE: [ResourceKind; 3] = [
        ResourceKind::LoadBalancer,
        ResourceKind::TargetGroup,
        ResourceKind::Cdn,
    ];

    /// The network's kinds.
    pub const NETWORK: [ResourceKind; 6] = [
        ResourceKind::RouteTable,
        ResourceKind::NatGateway,
        ResourceKind::Subnet,
        ResourceKind::ElasticIp,
        ResourceKind::InternetGateway,
        ResourceKind::Vpc,
    ];
    /// The NAT gateway's kinds (read only when a spec asks for one or the state remembers one).
    pub const NAT: [ResourceKind; 2] = [ResourceKind::NatGateway, ResourceKind::ElasticIp];

    /// Its stored and shown form.
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceKind::Instance => "instance",
            ResourceKind::Volume => "volume",
            ResourceKind::SecurityGroup => "security-group",
            ResourceKind::Role => "role",
            ResourceKind::Secret => "secret",
            ResourceKind::LoadBalancer => "load-balancer",
            ResourceKind::TargetGroup => "target-group",
            ResourceKind::Cdn => "cdn",
            ResourceKind::Vpc => "vpc",
            ResourceKind::Subnet => "subnet",
            ResourceKind::InternetGateway => "internet-gateway",
            ResourceKind::RouteTable => "route-table",
            ResourceKind::NatGateway => "nat-gateway",
            ResourceKind::ElasticIp => "elastic-ip",
            ResourceKind::Image => "image",
            ResourceKind::KeyPair => "key-pair",
        }
    }

    /// The kind written as `s`, if it is one.
    pub fn parse(s: &str) -> Option<ResourceKind> {
        ResourceKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl std::fmt::Display for ResourceKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resource_kind_reads_back_as_it_is_written_and_serialises_the_same() {
        for k in ResourceKind::ALL {
            assert_eq!(ResourceKind::parse(k.as_str()), Some(k));
            assert_eq!(
                serde_json::to_value(k).expect("serialises"),
                serde_json::json!(k.as_str())
            );
        }
        assert_eq!(ResourceKind::parse("sg"), None);
    }

    #[test]
    fn a_record_status_reads_back_as_it_is_written_and_serialises_the_same() {
        for s in [RecordStatus::Live, RecordStatus::Deleted] {
            assert_eq!(RecordStatus::parse(s.as_str()), Some(s));
            assert_eq!(
                serde_json::to_value(s)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string)),
                Some(s.as_str().to_string())
            );
        }
        assert_eq!(RecordStatus::parse("active"), None);
    }

    #[test]
    fn a_status_reads_back_as_it_is_written_and_serialises_the_same() {
        for s in DeploymentStatus::ALL {
            assert_eq!(DeploymentStatus::parse(s.as_str()), Some(s));
            assert_eq!(
                serde_json::to_value(s)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string)),
                Some(s.as_str().to_string())
            );
        }
        assert_eq!(DeploymentStatus::parse("live"), None);
    }
}
