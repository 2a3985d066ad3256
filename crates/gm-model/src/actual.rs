//! What exists in AWS, as read by tag: plain data the cloud layer fills and the planner reads.
//! No AWS types here.

use serde::Serialize;

use crate::desired::{Listener, Rule};
use crate::network::{Via, EIP_ADDRESS, IGW_ADDRESS, NAT_ADDRESS, VPC_ADDRESS};
use crate::{logical_id, Tags};

/// Everything of one deployment that AWS reports.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Actual {
    /// Instances not terminated (pending, running, stopping, stopped).
    pub instances: Vec<ActualInstance>,
    /// Volumes, attached or not.
    pub volumes: Vec<ActualVolume>,
    /// Security groups.
    pub security_groups: Vec<ActualSg>,
    /// IAM roles under the deployment's path (read only when the deployment has any).
    pub roles: Vec<ActualRole>,
    /// Secrets under the deployment's SSM path (names only, never values).
    pub secrets: Vec<ActualSecret>,
    /// The deployment's load balancer (read only when the deployment has an edge).
    pub load_balancer: Option<ActualLb>,
    /// Its target group.
    pub target_group: Option<ActualTargetGroup>,
    /// Distributions carrying the deployment's comment.
    pub distributions: Vec<ActualCdn>,
    /// The deployment's network (read only when it has or had one).
    pub network: ActualNetwork,
}

/// An IAM role of the deployment, with its instance profile.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ActualRole {
    /// Role name.
    pub name: String,
    /// Role ARN.
    pub arn: String,
    /// The instance profile of the same name, if it exists.
    pub profile: Option<String>,
    /// Whether the profile contains the role.
    pub profile_has_role: bool,
    /// Attached managed policy ARNs.
    pub managed_policies: Vec<String>,
    /// The inline secrets policy document, if any.
    pub secrets_policy: Option<String>,
}

/// A secret of the deployment (its name; the value is never read for planning).
#[derive(Debug, Clone, Default, Serialize)]
pub struct ActualSecret {
    /// SSM parameter name.
    pub parameter: String,
}

/// An EC2 instance.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ActualInstance {
    /// `i-…`.
    pub id: String,
    /// pending, running, stopping, stopped.
    pub state: String,
    /// e.g. `t3.micro`.
    pub instance_type: String,
    /// `ami-…`.
    pub image_id: String,
    /// `subnet-…`.
    pub subnet_id: Option<String>,
    /// `vpc-…`.
    pub vpc_id: Option<String>,
    /// Key pair name.
    pub key_name: Option<String>,
    /// True for spot instances.
    pub spot: bool,
    /// All tags.
    pub tags: Tags,
    /// Attached security group ids.
    pub security_group_ids: Vec<String>,
    /// Availability zone.
    pub availability_zone: Option<String>,
    /// Private IPv4.
    pub private_ip: Option<String>,
    /// Public IPv4.
    pub public_ip: Option<String>,
    /// RFC 3339 launch time.
    pub launch_time: Option<String>,
    /// e.g. `/dev/xvda`.
    pub root_device_name: Option<String>,
    /// EBS mappings.
    pub block_devices: Vec<BlockDevice>,
    /// True when the state store recorded this instance as the one at its address (a tie-break
    /// when copies launched in the same second).
    pub recorded: bool,
}

impl ActualInstance {
    /// The logical address from `geusemaker:id`.
    pub fn logical_id(&self) -> Option<&str> {
        logical_id(&self.tags)
    }
}

/// An EBS mapping of an instance.
#[derive(Debug, Clone, Default, Serialize)]
pub struct BlockDevice {
    /// Device name.
    pub device: String,
    /// `vol-…`.
    pub volume_id: String,
    /// Deleted with the instance.
    pub delete_on_termination: bool,
}

/// An EBS volume.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ActualVolume {
    /// `vol-…`.
    pub id: String,
    /// GiB.
    pub size: i32,
    /// gp3, io2, …
    pub volume_type: String,
    /// Provisioned IOPS, when reported.
    pub iops: Option<i32>,
    /// MiB/s, when reported.
    pub throughput: Option<i32>,
    /// Encrypted at rest.
    pub encrypted: bool,
    /// KMS key ARN.
    pub kms_key_id: Option<String>,
    /// creating, available, in-use, …
    pub state: String,
    /// All tags.
    pub tags: Tags,
    /// Where it is attached.
    pub attachments: Vec<Attachment>,
    /// Availability zone.
    pub availability_zone: Option<String>,
}

/// A volume's attachment.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Attachment {
    /// `i-…`.
    pub instance_id: String,
    /// Device name.
    pub device: String,
    /// Deleted with the instance.
    pub delete_on_termination: bool,
}

/// A security group.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ActualSg {
    /// `sg-…`.
    pub id: String,
    /// Group name.
    pub name: String,
    /// `vpc-…`.
    pub vpc_id: Option<String>,
    /// All tags.
    pub tags: Tags,
    /// Inbound rules, one per protocol/port range/source.
    pub ingress: Vec<Rule>,
}

impl ActualSg {
    /// The logical address from `geusemaker:id`.
    pub fn logical_id(&self) -> Option<&str> {
        logical_id(&self.tags)
    }
}

/// The deployment's load balancer as AWS reports it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ActualLb {
    /// ARN.
    pub arn: String,
    /// Name.
    pub name: String,
    /// Public DNS name.
    pub dns_name: String,
    /// provisioning, active, failed, …
    pub state: String,
    /// VPC.
    pub vpc_id: String,
    /// Subnets.
    pub subnets: Vec<String>,
    /// Security group ids.
    pub security_groups: Vec<String>,
    /// Tags.
    pub tags: Tags,
    /// Listeners.
    pub listeners: Vec<Listener>,
}

/// The deployment's target group as AWS reports it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ActualTargetGroup {
    /// ARN.
    pub arn: String,
    /// Name.
    pub name: String,
    /// Instance port.
    pub port: i32,
    /// Health check path.
    pub health_check: String,
    /// Registered instance ids.
    pub targets: Vec<String>,
    /// Target health by instance id (`healthy`, `unhealthy`, `initial`, …).
    pub health: Vec<(String, String)>,
}

/// A distribution of the deployment.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ActualCdn {
    /// Distribution id.
    pub id: String,
    /// ARN.
    pub arn: String,
    /// `dxxxx.cloudfront.net`.
    pub domain_name: String,
    /// Enabled.
    pub enabled: bool,
    /// `InProgress` or `Deployed`.
    pub status: String,
    /// Domain of its (first) origin.
    pub origin: String,
    /// Price class.
    pub price_class: String,
}

/// What AWS holds of a deployment's network (found by its tags).
#[derive(Debug, Clone, Default, Serialize)]
pub struct ActualNetwork {
    /// VPCs carrying the deployment's tags.
    pub vpcs: Vec<ActualVpc>,
    /// Subnets carrying them.
    pub subnets: Vec<ActualSubnet>,
    /// Internet gateways carrying them.
    pub internet_gateways: Vec<ActualGateway>,
    /// Route tables carrying them.
    pub route_tables: Vec<ActualRouteTable>,
    /// NAT gateways carrying them, not yet deleted (read only when a NAT gateway is asked for
    /// or remembered).
    pub nat_gateways: Vec<ActualNatGateway>,
    /// Elastic IPs carrying them (read with the NAT gateways).
    pub addresses: Vec<ActualAddress>,
    /// The region's available zones, read only when a subnet is to be created.
    pub zones: Vec<String>,
}

/// A VPC.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ActualVpc {
    /// `vpc-…`.
    pub id: String,
    /// Its primary block.
    pub cidr: String,
    /// Tags.
    pub tags: Tags,
}

/// A subnet.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ActualSubnet {
    /// `subnet-…`.
    pub id: String,
    /// Its VPC.
    pub vpc_id: String,
    /// Its block.
    pub cidr: String,
    /// Its zone.
    pub zone: String,
    /// Tags.
    pub tags: Tags,
}

/// An internet gateway.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ActualGateway {
    /// `igw-…`.
    pub id: String,
    /// VPCs it is attached to.
    pub attached_to: Vec<String>,
    /// Tags.
    pub tags: Tags,
}

/// A NAT gateway.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ActualNatGateway {
    /// `nat-…`.
    pub id: String,
    /// The subnet it sits in.
    pub subnet_id: String,
    /// `pending`, `available`, `deleting` or `failed` (deleted ones are left out).
    pub state: String,
    /// Its Elastic IPs' allocation ids.
    pub allocation_ids: Vec<String>,
    /// Tags.
    pub tags: Tags,
}

impl ActualNatGateway {
    /// Pending or available: it serves, or will.
    pub fn is_usable(&self) -> bool {
        matches!(self.state.as_str(), "pending" | "available")
    }
}

/// An Elastic IP.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ActualAddress {
    /// `eipalloc-…`.
    pub allocation_id: String,
    /// The address.
    pub public_ip: String,
    /// Set while it is associated (with a NAT gateway's network interface).
    pub association_id: Option<String>,
    /// Tags.
    pub tags: Tags,
}

/// A route table.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ActualRouteTable {
    /// `rtb-…`.
    pub id: String,
    /// Its VPC.
    pub vpc_id: String,
    /// Routes as (destination block, target: a gateway or NAT gateway id, or `local`).
    pub routes: Vec<(String, String)>,
    /// Subnet associations as (association id, subnet id).
    pub associations: Vec<(String, String)>,
    /// Tags.
    pub tags: Tags,
}

/// The resource of `items` at `address` (the first by id when copies exist).
fn at<'a, T>(
    items: &'a [T],
    address: &str,
    key: impl Fn(&'a T) -> (&'a Tags, &'a String),
) -> Option<&'a T> {
    items
        .iter()
        .filter(|x| logical_id(key(x).0) == Some(address))
        .min_by(|a, b| key(a).1.cmp(key(b).1))
}

impl ActualNetwork {
    /// Nothing of the deployment's network exists.
    pub fn is_empty(&self) -> bool {
        self.vpcs.is_empty()
            && self.subnets.is_empty()
            && self.internet_gateways.is_empty()
            && self.route_tables.is_empty()
            && self.nat_gateways.is_empty()
            && self.addresses.is_empty()
    }

    /// Our VPC (the first by id when copies exist).
    pub fn vpc(&self) -> Option<&ActualVpc> {
        at(&self.vpcs, VPC_ADDRESS, |v| (&v.tags, &v.id))
    }

    /// Our subnet at `address`.
    pub fn subnet(&self, address: &str) -> Option<&ActualSubnet> {
        at(&self.subnets, address, |s| (&s.tags, &s.id))
    }

    /// Our internet gateway.
    pub fn gateway(&self) -> Option<&ActualGateway> {
        at(&self.internet_gateways, IGW_ADDRESS, |g| (&g.tags, &g.id))
    }

    /// Our public route table.
    pub fn route_table(&self) -> Option<&ActualRouteTable> {
        self.route_table_via(Via::InternetGateway)
    }

    /// Our route table whose default route goes `via`.
    pub fn route_table_via(&self, via: Via) -> Option<&ActualRouteTable> {
        at(&self.route_tables, via.address(), |t| (&t.tags, &t.id))
    }

    /// Our NAT gateway that serves or will (a deleting or failed one is on its way out).
    pub fn nat_gateway(&self) -> Option<&ActualNatGateway> {
        self.nat_gateways
            .iter()
            .filter(|n| n.is_usable() && logical_id(&n.tags) == Some(NAT_ADDRESS))
            .min_by(|a, b| a.id.cmp(&b.id))
    }

    /// Our NAT gateway's Elastic IP: the one it holds, else the first of ours by id.
    pub fn address(&self) -> Option<&ActualAddress> {
        let held = self.nat_gateway().and_then(|n| {
            self.addresses
                .iter()
                .find(|a| n.allocation_ids.contains(&a.allocation_id))
        });
        held.or_else(|| {
            at(&self.addresses, EIP_ADDRESS, |a| {
                (&a.tags, &a.allocation_id)
            })
        })
    }

    /// Ids of every resource of the network, for the records of what existed before a run.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.vpcs
            .iter()
            .map(|v| v.id.as_str())
            .chain(self.subnets.iter().map(|s| s.id.as_str()))
            .chain(self.internet_gateways.iter().map(|g| g.id.as_str()))
            .chain(self.route_tables.iter().map(|r| r.id.as_str()))
            .chain(self.nat_gateways.iter().map(|n| n.id.as_str()))
            .chain(self.addresses.iter().map(|a| a.allocation_id.as_str()))
    }
}
