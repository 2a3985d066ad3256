//! Pure planning: what a deployment should have ([`Desired`]), what AWS has ([`Actual`]), and the
//! ordered changes between them ([`Plan`]). Nothing here touches AWS or the database.

pub mod actual;
pub mod desired;
pub mod diff;
pub mod edge;
pub mod network;

pub use actual::{
    Actual, ActualInstance, ActualRole, ActualSecret, ActualSg, ActualVolume, Attachment,
    BlockDevice,
};
pub use desired::{
    desire, iam_path, role_name, secrets_path, Desired, DesiredInstance, DesiredRole,
    DesiredSecret, DesiredSg, GroupRef, Rule, RuleSource, SubnetRef, VpcRef,
};
pub use diff::{diff, Action, Change, ChangeKind, Plan, Reattach, Release, VolumeChange};
pub use edge::{
    cdn_comment, lb_name, ActualCdn, ActualLb, ActualTargetGroup, DesiredCdn, DesiredLb, Listener,
    CDN_ADDRESS, LB_ADDRESS, TG_ADDRESS,
};
pub use network::{
    placements, subnet_address, ActualAddress, ActualGateway, ActualNatGateway, ActualNetwork,
    ActualRouteTable, ActualSubnet, ActualVpc, DesiredNat, DesiredNetwork, DesiredSubnet,
    DesiredVpc, Via, DEFAULT_ROUTE, EIP_ADDRESS, IGW_ADDRESS, NAT_ADDRESS,
    PRIVATE_ROUTE_TABLE_ADDRESS, ROUTE_TABLE_ADDRESS, VPC_ADDRESS,
};

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

// The tag vocabulary lives in gm-model, shared with every crate; re-exported here so plans and
// their readers name it as before.
pub use gm_model::{
    is_aws_tag, Tags, LAUNCH_TAGS, TAG_AMI, TAG_DEPLOYMENT, TAG_DEVICE, TAG_ID, TAG_INSTANCE,
    TAG_LAUNCH, TAG_MANAGED, TAG_MARKET, TAG_USER_DATA,
};
