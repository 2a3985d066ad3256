//! What exists in AWS, as read by tag. Built by the cloud layer; no AWS types here.

use serde::Serialize;

use crate::{Tags, TAG_ID};

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
    pub load_balancer: Option<crate::ActualLb>,
    /// Its target group.
    pub target_group: Option<crate::ActualTargetGroup>,
    /// Distributions carrying the deployment's comment.
    pub distributions: Vec<crate::ActualCdn>,
    /// The deployment's network (read only when it has or had one).
    pub network: crate::ActualNetwork,
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
        self.tags.get(TAG_ID).map(String::as_str)
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
    pub ingress: Vec<crate::Rule>,
}

impl ActualSg {
    /// The logical address from `geusemaker:id`.
    pub fn logical_id(&self) -> Option<&str> {
        self.tags.get(TAG_ID).map(String::as_str)
    }
}
