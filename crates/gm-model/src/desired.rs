//! The parts of a deployment the cloud layer is asked to make, as the planner derives them
//! from a spec: roles, group and subnet references, inbound rules, the load balancer and the
//! distribution, volume changes; and the names derived from a deployment's name.

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::actual::ActualNetwork;
use crate::Tags;

/// An IAM role (and its instance profile of the same name) the deployment owns.
#[derive(Debug, Clone, Serialize)]
pub struct DesiredRole {
    /// Logical address, `role/NAME`.
    pub id: String,
    /// Spec name.
    pub name: String,
    /// Role and instance profile name in IAM.
    pub aws_name: String,
    /// IAM path that marks it as this deployment's: `/geusemaker/DEPLOYMENT/`.
    pub path: String,
    /// Inline policy letting it read the deployment's secrets, when asked for.
    pub secrets_policy: Option<String>,
    /// Managed policy ARNs.
    pub managed_policies: Vec<String>,
    /// Final tags.
    pub tags: Tags,
}

/// The IAM path of a deployment's roles and profiles.
pub fn iam_path(deployment: &str) -> String {
    format!("/geusemaker/{deployment}/")
}

/// The SSM path of a deployment's secrets.
pub fn secrets_path(deployment: &str) -> String {
    format!("/geusemaker/{deployment}")
}

/// The IAM name of a deployment's role: `gm-DEPLOYMENT-ROLE`, shortened with a hash past 64.
pub fn role_name(deployment: &str, role: &str) -> String {
    let full = format!("gm-{deployment}-{role}");
    if full.len() <= 64 {
        return full;
    }
    let h = Sha256::digest(full.as_bytes());
    format!("{}-{}", &full[..55], &hex::encode(&h[..4]))
}

/// Where a security group lives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum VpcRef {
    /// The region's default VPC.
    Default,
    /// A given VPC.
    Id(String),
    /// The VPC the deployment creates (`network.vpc: {cidr: …}`).
    Ours,
}

/// A subnet an instance or the load balancer is placed in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum SubnetRef {
    /// One of the spec's network, by address (`subnet/NAME`).
    Ours(String),
    /// An existing subnet, `subnet-…`.
    Id(String),
}

impl SubnetRef {
    /// The address or id, as shown in plans.
    pub fn as_str(&self) -> &str {
        match self {
            SubnetRef::Ours(a) | SubnetRef::Id(a) => a,
        }
    }

    /// Its id, when it exists.
    pub fn resolve<'a>(&'a self, net: &'a ActualNetwork) -> Option<&'a str> {
        match self {
            SubnetRef::Ours(a) => net.subnet(a).map(|s| s.id.as_str()),
            SubnetRef::Id(id) => Some(id),
        }
    }
}

/// A security group named in a spec.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum GroupRef {
    /// One this deployment defines, by its spec name.
    Ours(String),
    /// An existing group, by id (never modified or deleted).
    Id(String),
}

/// Source of an inbound rule.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum RuleSource {
    /// An IPv4 range.
    Cidr(String),
    /// Another security group.
    Group(GroupRef),
}

/// One inbound rule, normalised so spec and AWS forms compare equal.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Rule {
    /// `tcp`, `udp`, `icmp` or `-1` (all).
    pub protocol: String,
    /// First port (-1 for all).
    pub from: i32,
    /// Last port (-1 for all).
    pub to: i32,
    /// Where traffic may come from.
    pub source: RuleSource,
}

impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ports = match (self.from, self.to) {
            (-1, _) => "all".to_string(),
            (a, b) if a == b => a.to_string(),
            (a, b) => format!("{a}-{b}"),
        };
        let proto = if self.protocol == "-1" {
            "all"
        } else {
            &self.protocol
        };
        let src = match &self.source {
            RuleSource::Cidr(c) => c.clone(),
            RuleSource::Group(GroupRef::Ours(n)) => format!("group {n}"),
            RuleSource::Group(GroupRef::Id(i)) => i.clone(),
        };
        write!(f, "{proto} {ports} from {src}")
    }
}

/// Logical address of the load balancer.
pub const LB_ADDRESS: &str = "load-balancer";
/// Logical address of its target group.
pub const TG_ADDRESS: &str = "target-group";
/// Logical address of the distribution.
pub const CDN_ADDRESS: &str = "cdn";

/// The load balancer (and target group) name of a deployment: `gm-DEPLOYMENT`, shortened with a
/// hash past the 32 characters ELB allows.
pub fn lb_name(deployment: &str) -> String {
    let full = format!("gm-{deployment}");
    if full.len() <= 32 {
        return full;
    }
    let h = Sha256::digest(full.as_bytes());
    format!(
        "{}-{}",
        full[..23].trim_end_matches('-'),
        &hex::encode(&h[..4])
    )
}

/// The comment that marks a deployment's distribution.
pub fn cdn_comment(deployment: &str) -> String {
    format!("geusemaker:{deployment}")
}

/// An Application Load Balancer the deployment owns.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DesiredLb {
    /// Load balancer and target group name.
    pub aws_name: String,
    /// Instance group whose instances are the targets.
    pub target: String,
    /// Instance port.
    pub port: u16,
    /// Health check path.
    pub health_check: String,
    /// ACM certificate for the HTTPS listener.
    pub certificate_arn: Option<String>,
    /// Subnets (empty: the default VPC's default subnets, resolved at apply).
    pub subnets: Vec<SubnetRef>,
    /// Its security groups.
    pub security_groups: Vec<GroupRef>,
    /// Final tags.
    pub tags: Tags,
}

impl DesiredLb {
    /// The listeners it should have: (port, protocol, certificate, redirects to HTTPS).
    pub fn listeners(&self) -> Vec<Listener> {
        match &self.certificate_arn {
            None => vec![Listener {
                port: 80,
                protocol: "HTTP".into(),
                certificate_arn: None,
                redirect_https: false,
            }],
            Some(c) => vec![
                Listener {
                    port: 80,
                    protocol: "HTTP".into(),
                    certificate_arn: None,
                    redirect_https: true,
                },
                Listener {
                    port: 443,
                    protocol: "HTTPS".into(),
                    certificate_arn: Some(c.clone()),
                    redirect_https: false,
                },
            ],
        }
    }
}

/// A CloudFront distribution the deployment owns.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DesiredCdn {
    /// The comment that finds it again.
    pub comment: String,
    /// `PriceClass_100`, …
    pub price_class: String,
    /// Talk HTTPS to the origin (the load balancer has a certificate).
    pub https_origin: bool,
    /// The managed cache policy of its default behaviour.
    pub cache_policy_id: String,
    /// The managed origin request policy: what of the viewer's request reaches the origin.
    pub origin_request_policy_id: String,
    /// Final tags.
    pub tags: Tags,
}

/// A listener, as wanted or as found.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Listener {
    /// Port.
    pub port: i32,
    /// `HTTP` or `HTTPS`.
    pub protocol: String,
    /// Default certificate (HTTPS).
    pub certificate_arn: Option<String>,
    /// Its default action redirects to HTTPS (otherwise it forwards to the target group).
    pub redirect_https: bool,
}

/// New settings for a volume, applied with `ModifyVolume`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct VolumeChange {
    /// New size in GiB (grow only).
    pub size: Option<i32>,
    /// New type.
    pub volume_type: Option<String>,
    /// New IOPS.
    pub iops: Option<i32>,
    /// New throughput.
    pub throughput: Option<i32>,
}

impl VolumeChange {
    /// Nothing changes.
    pub fn is_empty(&self) -> bool {
        *self == VolumeChange::default()
    }
}

/// Which reads beyond EC2 a refresh makes: each costs requests, so plain deployments skip them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reads {
    /// IAM roles and SSM secrets under the deployment's paths.
    pub identity: bool,
    /// The load balancer, target group and distribution.
    pub edge: bool,
    /// The VPC, subnets, internet gateway and route tables.
    pub network: bool,
    /// The NAT gateway and its Elastic IP (only with `network`).
    pub nat: bool,
}

impl Reads {
    /// Everything (destroy sweeps all kinds).
    pub const ALL: Reads = Reads {
        identity: true,
        edge: true,
        network: true,
        nat: true,
    };
    /// EC2 only.
    pub const EC2: Reads = Reads {
        identity: false,
        edge: false,
        network: false,
        nat: false,
    };
}
