//! Pure planning: what a deployment should have ([`Desired`]), what AWS has ([`Actual`]), and the
//! ordered changes between them ([`Plan`]). Nothing here touches AWS or the database.

pub mod actual;
pub mod desired;
pub mod diff;
pub mod edge;

pub use actual::{
    Actual, ActualInstance, ActualRole, ActualSecret, ActualSg, ActualVolume, Attachment,
    BlockDevice,
};
pub use desired::{
    desire, iam_path, role_name, secrets_path, Desired, DesiredInstance, DesiredRole,
    DesiredSecret, DesiredSg, GroupRef, Rule, RuleSource, VpcRef,
};
pub use diff::{diff, Action, Change, ChangeKind, Plan, Reattach, Release, VolumeChange};
pub use edge::{
    cdn_comment, lb_name, ActualCdn, ActualLb, ActualTargetGroup, DesiredCdn, DesiredLb, Listener,
    CDN_ADDRESS, LB_ADDRESS, TG_ADDRESS,
};

/// Which reads beyond EC2 a refresh makes: each costs requests, so plain deployments skip them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reads {
    /// IAM roles and SSM secrets under the deployment's paths.
    pub identity: bool,
    /// The load balancer, target group and distribution.
    pub edge: bool,
}

impl Reads {
    /// Everything (destroy sweeps all kinds).
    pub const ALL: Reads = Reads {
        identity: true,
        edge: true,
    };
    /// EC2 only.
    pub const EC2: Reads = Reads {
        identity: false,
        edge: false,
    };
}

use std::collections::BTreeMap;

/// Tags as key → value, sorted for stable output.
pub type Tags = BTreeMap<String, String>;

/// The deployment a resource belongs to; also the cost-allocation tag.
pub const TAG_DEPLOYMENT: &str = "geusemaker:deployment";
/// The resource's logical address, e.g. `instance/web/0`.
pub const TAG_ID: &str = "geusemaker:id";
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
