//! The spec's types: what a user writes in `spec.yaml`, version 1.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};

/// A deployment: the EC2 capacity one spec file describes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// Spec format version; must be 1.
    pub version: u32,
    /// Unique name of the deployment: lower-case letters, digits and `-`, tagged on everything.
    pub deployment: String,
    /// AWS region (default `us-east-1`; `--region` overrides it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Named AWS profile for credentials (`--profile` overrides it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// Tags put on every resource of the deployment.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    /// The deployment's own network: a VPC (created, or an existing one referenced) and its
    /// subnets. Without it, everything goes in the region's default VPC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<NetworkSpec>,
    /// Security groups this deployment creates and owns.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub security_groups: Vec<SecurityGroupSpec>,
    /// Secrets generated once and kept in SSM Parameter Store (SecureString) under
    /// `/geusemaker/DEPLOYMENT/NAME`; their values never appear in state, logs or output.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<SecretSpec>,
    /// IAM roles (with instance profiles) this deployment creates and owns.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<RoleSpec>,
    /// Groups of identical instances.
    #[serde(default)]
    pub instances: Vec<InstanceGroupSpec>,
    /// An Application Load Balancer in front of one instance group: HTTP on 80, and HTTPS on 443
    /// when a certificate is given (then port 80 redirects to HTTPS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_balancer: Option<LoadBalancerSpec>,
    /// A CloudFront distribution in front of the load balancer (needs `load_balancer`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cdn: Option<CdnSpec>,
}

/// A VPC and the subnets the deployment places its instances and load balancer in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NetworkSpec {
    /// `{cidr: 10.40.0.0/16}` creates a VPC the deployment owns; `vpc-…` uses an existing one,
    /// which is never modified or deleted.
    pub vpc: VpcSpec,
    /// Subnets the deployment creates and owns (in either kind of VPC).
    pub subnets: Vec<SubnetSpec>,
    /// One NAT gateway, with an Elastic IP, in the first public subnet: the private subnets
    /// route `0.0.0.0/0` through it, so their instances reach the internet (package updates,
    /// image pulls) without being reachable from it. About $0.05/hour plus data processed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub nat_gateway: bool,
    /// Extra tags for the network's resources.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

/// The VPC of a network: created (by its CIDR) or referenced (by id).
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum VpcSpec {
    /// An existing VPC, `vpc-…`: used, never changed.
    Existing(String),
    /// A VPC the deployment creates and owns.
    Create(NewVpcSpec),
}

impl<'de> Deserialize<'de> for VpcSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        match serde_json::Value::deserialize(d)? {
            serde_json::Value::String(s) => Ok(VpcSpec::Existing(s)),
            v @ serde_json::Value::Object(_) => serde_json::from_value(v)
                .map(VpcSpec::Create)
                .map_err(D::Error::custom),
            _ => Err(D::Error::custom(
                "`vpc` is either an existing `vpc-…` id or `{cidr: 10.40.0.0/16}` for a new one",
            )),
        }
    }
}

/// A VPC to create.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewVpcSpec {
    /// Its IPv4 range, `/16` to `/28`, e.g. `10.40.0.0/16`.
    pub cidr: String,
}

/// A subnet the deployment creates and owns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SubnetSpec {
    /// Logical name, used by `instances[].subnet` and `load_balancer.subnets`.
    pub name: String,
    /// Availability zone, e.g. `us-east-1a`; `auto` (the default) spreads subnets over the
    /// region's zones in order.
    #[serde(default = "auto_zone")]
    pub zone: String,
    /// Its IPv4 range, inside the VPC's, e.g. `10.40.1.0/24`.
    pub cidr: String,
    /// A public subnet routes to the internet through the VPC's internet gateway (created with
    /// the VPC when the deployment owns it); instances in it get public addresses.
    #[serde(default)]
    pub public: bool,
}

fn auto_zone() -> String {
    "auto".into()
}

/// An Application Load Balancer the deployment creates and owns, with its target group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LoadBalancerSpec {
    /// The instance group (from `instances`) whose instances receive the traffic.
    pub target: String,
    /// The port the instances listen on.
    pub port: u16,
    /// Path the load balancer probes on each instance (default `/`); `200-399` is healthy.
    #[serde(default = "root_path")]
    pub health_check: String,
    /// ACM certificate ARN: adds an HTTPS listener on 443 and redirects HTTP to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_arn: Option<String>,
    /// Subnets in at least two availability zones: names from `network.subnets` or `subnet-…`
    /// ids; the network's public subnets, or the default VPC's default subnets, otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subnets: Vec<String>,
    /// Names from `security_groups` or existing `sg-…` ids for the load balancer itself.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub security_groups: Vec<String>,
    /// Extra tags for the load balancer and its target group.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

fn root_path() -> String {
    "/".into()
}

/// A CloudFront distribution whose origin is the deployment's load balancer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CdnSpec {
    /// Edge locations used: `100` (North America and Europe, the cheapest), `200` or `all`.
    #[serde(default)]
    pub price_class: PriceClass,
    /// Extra tags for the distribution.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

/// CloudFront price class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub enum PriceClass {
    /// North America and Europe.
    #[default]
    #[serde(rename = "100")]
    P100,
    /// Adds Asia, the Middle East and Africa.
    #[serde(rename = "200")]
    P200,
    /// Every edge location.
    #[serde(rename = "all")]
    All,
}

impl PriceClass {
    /// The CloudFront API spelling.
    pub fn as_api(self) -> &'static str {
        match self {
            PriceClass::P100 => "PriceClass_100",
            PriceClass::P200 => "PriceClass_200",
            PriceClass::All => "PriceClass_All",
        }
    }
}

/// A generated secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SecretSpec {
    /// Name: lower-case letters, digits and `-`.
    pub name: String,
    /// Length of the generated value (hex characters; default 48).
    #[serde(default = "secret_length")]
    pub length: u32,
}

fn secret_length() -> u32 {
    48
}

/// An IAM role for instances, with its instance profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleSpec {
    /// Logical name, used by `instances[].role`.
    pub name: String,
    /// May read this deployment's secrets (ssm:GetParameter under its path, kms:Decrypt via SSM).
    #[serde(default)]
    pub read_secrets: bool,
    /// ARNs of managed policies to attach, e.g. `arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub managed_policies: Vec<String>,
}

/// A security group the deployment creates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SecurityGroupSpec {
    /// Logical name, used by `instances[].security_groups`.
    pub name: String,
    /// Description shown in the EC2 console.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `default` (the region's default VPC) or a `vpc-…` id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc: Option<String>,
    /// Inbound rules.
    #[serde(default)]
    pub ingress: Vec<RuleSpec>,
    /// Extra tags for this group.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

/// One inbound rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    /// `tcp`, `udp`, `icmp` or `all`.
    pub protocol: Protocol,
    /// A single port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// A port range `FROM-TO`, e.g. `80-443`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ports: Option<String>,
    /// Source IPv4 CIDR, e.g. `203.0.113.0/24`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cidr: Option<String>,
    /// Source security group: a name from `security_groups` or an `sg-…` id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_group: Option<String>,
    /// Free text shown with the rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// IP protocol of a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
    /// ICMP (ports are not used).
    Icmp,
    /// Every protocol and port.
    All,
}

/// A group of identical instances: `count` copies of one launch configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InstanceGroupSpec {
    /// Logical name; instances are addressed `instance/NAME/INDEX`.
    pub name: String,
    /// How many instances (default 1; 0 keeps the group with none running).
    #[serde(default = "one")]
    pub count: u32,
    /// EC2 instance type, e.g. `t3.medium`.
    #[serde(rename = "type")]
    pub instance_type: String,
    /// `al2023`, `al2023-arm64`, `ubuntu-24.04`, or an `ami-…` id.
    pub ami: String,
    /// Name of an existing key pair.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_pair: Option<String>,
    /// A subnet from `network.subnets` by name, or a `subnet-…` id; the network's first
    /// subnet, or the default VPC's default subnet, otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet: Option<String>,
    /// Availability zone to launch in, e.g. `us-east-1c` (a spot price is per zone). Without
    /// `subnet:`, the default VPC's subnet of that zone, or the network's subnet written with
    /// that zone. It places new launches only: an instance running in another zone is kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    /// Names from `security_groups` or existing `sg-…` ids.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub security_groups: Vec<String>,
    /// `on-demand` (default) or `spot`.
    #[serde(default)]
    pub market: Market,
    /// Spot options, used when `market: spot`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spot: Option<SpotSpec>,
    /// Name of an existing IAM instance profile (or use `role`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iam_instance_profile: Option<String>,
    /// A role from `roles:` (its instance profile is attached).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Script run at first boot, from a file or inline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_data: Option<UserDataSpec>,
    /// The root volume.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_volume: Option<RootVolumeSpec>,
    /// Extra EBS volumes, created and attached at launch.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<VolumeSpec>,
    /// Extra tags for these instances and their volumes.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

fn one() -> u32 {
    1
}

/// Purchase option for instances.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Market {
    /// Pay by the second at the on-demand price.
    #[default]
    OnDemand,
    /// Spare capacity at a discount; AWS may reclaim it.
    Spot,
}

impl Market {
    /// The spelling users write.
    pub fn as_str(self) -> &'static str {
        match self {
            Market::OnDemand => "on-demand",
            Market::Spot => "spot",
        }
    }
}

/// Spot options.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SpotSpec {
    /// Highest hourly price in USD, as a string (`"0.05"`); the on-demand price otherwise.
    #[serde(
        default,
        deserialize_with = "price",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_price: Option<String>,
    /// What to do when AWS has no spot capacity: `on-demand` or `none` (fail, the default).
    #[serde(default)]
    pub fallback: SpotFallback,
    /// What AWS does on interruption: `terminate` (default), `stop` or `hibernate`.
    #[serde(default)]
    pub interruption: Interruption,
}

/// Spot fallback.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum SpotFallback {
    /// Fail when spot capacity is not there.
    #[default]
    None,
    /// Launch on-demand instead.
    OnDemand,
}

/// Spot interruption behaviour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Interruption {
    /// Terminate the instance.
    #[default]
    Terminate,
    /// Stop it (needs a persistent request).
    Stop,
    /// Hibernate it (needs a persistent request).
    Hibernate,
}

impl Interruption {
    /// The EC2 API spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Interruption::Terminate => "terminate",
            Interruption::Stop => "stop",
            Interruption::Hibernate => "hibernate",
        }
    }
}

/// Accepts `"0.05"` and `0.05` alike, so an unquoted price is not an error.
fn price<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum P {
        S(String),
        F(f64),
    }
    Ok(match Option::<P>::deserialize(d)? {
        None => None,
        Some(P::S(s)) => Some(s),
        Some(P::F(f)) => Some(f.to_string()),
    })
}

/// User data: exactly one of `file` or `inline`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserDataSpec {
    /// Path of a script, relative to the spec file's folder (then the current folder).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// The script itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inline: Option<String>,
    /// Wrap the script so `monitor` can report its progress (default true).
    #[serde(default = "yes")]
    pub monitor: bool,
}

fn yes() -> bool {
    true
}

/// EBS volume type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum VolumeType {
    /// General purpose SSD, current generation (default).
    #[default]
    Gp3,
    /// General purpose SSD, previous generation.
    Gp2,
    /// Provisioned IOPS SSD.
    Io1,
    /// Provisioned IOPS SSD, current generation.
    Io2,
    /// Throughput-optimized HDD.
    St1,
    /// Cold HDD.
    Sc1,
    /// Magnetic, previous generation.
    Standard,
}

impl VolumeType {
    /// The EC2 API spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            VolumeType::Gp3 => "gp3",
            VolumeType::Gp2 => "gp2",
            VolumeType::Io1 => "io1",
            VolumeType::Io2 => "io2",
            VolumeType::St1 => "st1",
            VolumeType::Sc1 => "sc1",
            VolumeType::Standard => "standard",
        }
    }

    /// Parses the EC2 API spelling.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "gp3" => VolumeType::Gp3,
            "gp2" => VolumeType::Gp2,
            "io1" => VolumeType::Io1,
            "io2" => VolumeType::Io2,
            "st1" => VolumeType::St1,
            "sc1" => VolumeType::Sc1,
            "standard" => VolumeType::Standard,
            _ => return None,
        })
    }
}

/// The root volume of an instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RootVolumeSpec {
    /// Size in GiB (the AMI's size otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u32>,
    /// Volume type (default gp3).
    #[serde(rename = "type", default)]
    pub volume_type: VolumeType,
    /// Provisioned IOPS (gp3, io1, io2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iops: Option<u32>,
    /// Throughput in MiB/s (gp3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throughput: Option<u32>,
    /// Encrypt at rest.
    #[serde(default)]
    pub encrypted: bool,
    /// KMS key id, ARN or `alias/…` (needs `encrypted: true`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key: Option<String>,
}

/// An extra EBS volume attached at launch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VolumeSpec {
    /// Device name, e.g. `/dev/sdf`.
    pub device: String,
    /// Size in GiB.
    pub size: u32,
    /// Volume type (default gp3).
    #[serde(rename = "type", default)]
    pub volume_type: VolumeType,
    /// Provisioned IOPS (gp3: 3000–16000; io1/io2: required).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iops: Option<u32>,
    /// Throughput in MiB/s (gp3 only: 125–1000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throughput: Option<u32>,
    /// Encrypt at rest.
    #[serde(default)]
    pub encrypted: bool,
    /// KMS key id, ARN or `alias/…` (needs `encrypted: true`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key: Option<String>,
    /// Delete the volume when its instance terminates (default true).
    #[serde(default = "yes")]
    pub delete_on_termination: bool,
}
