//! Pure planning: what a deployment should have ([`Desired`]), what AWS has ([`Actual`]), and the
//! ordered changes between them ([`Plan`]). Nothing here touches AWS or the database.

pub mod desired;
pub mod diff;
pub mod edge;
pub mod network;

pub use desired::{desire, Desired, DesiredInstance, DesiredSecret, DesiredSg};
pub use diff::{diff, Action, Change, ChangeKind, Phase, Plan, Reattach, Release};
pub use network::{placements, DesiredNat, DesiredNetwork, DesiredSubnet, DesiredVpc};

// What the cloud layer fills (`Actual*`) and is asked to make (roles, rules, the edge, volume
// changes) lives in gm-model, which gm-cloud shares without knowing plans; re-exported here so
// plans and their readers name it as before.
pub use gm_model::actual::{
    Actual, ActualAddress, ActualCdn, ActualGateway, ActualInstance, ActualLb, ActualNatGateway,
    ActualNetwork, ActualRole, ActualRouteTable, ActualSecret, ActualSg, ActualSubnet,
    ActualTargetGroup, ActualVolume, ActualVpc, Attachment, BlockDevice,
};
pub use gm_model::desired::{
    cdn_comment, iam_path, lb_name, role_name, secrets_path, DesiredCdn, DesiredLb, DesiredRole,
    GroupRef, Listener, Reads, Rule, RuleSource, SubnetRef, VolumeChange, VpcRef, CDN_ADDRESS,
    LB_ADDRESS, TG_ADDRESS,
};
pub use gm_model::network::{
    subnet_address, Via, DEFAULT_ROUTE, EIP_ADDRESS, IGW_ADDRESS, NAT_ADDRESS,
    PRIVATE_ROUTE_TABLE_ADDRESS, ROUTE_TABLE_ADDRESS, VPC_ADDRESS,
};

// The tag vocabulary lives in gm-model, shared with every crate; re-exported here so plans and
// their readers name it as before.
pub use gm_model::{
    is_aws_tag, logical_id, Address, Tags, LAUNCH_TAGS, TAG_AMI, TAG_DEPLOYMENT, TAG_DEVICE,
    TAG_ID, TAG_INSTANCE, TAG_LAUNCH, TAG_MANAGED, TAG_MARKET, TAG_USER_DATA,
};
