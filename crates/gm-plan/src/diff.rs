//! The diff of desired against actual: an ordered list of changes, each with the action that
//! makes it, shown to the user before anything happens.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;

use gm_spec::VolumeType;

use crate::{
    is_aws_tag, Actual, ActualInstance, ActualVolume, Address, Desired, DesiredInstance, DesiredSg,
    GroupRef, Rule, RuleSource, Tags, VolumeChange, LAUNCH_TAGS, TAG_AMI, TAG_DEVICE, TAG_INSTANCE,
    TAG_LAUNCH, TAG_MARKET, TAG_USER_DATA,
};

/// What kind of change; the symbol is what the plan shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    /// `+` a new resource.
    Create,
    /// `~` changed in place.
    Update,
    /// `±` a new resource replaces the old one.
    Replace,
    /// `-` removed.
    Delete,
}

impl ChangeKind {
    /// Terraform-style symbol.
    pub fn symbol(self) -> &'static str {
        match self {
            ChangeKind::Create => "+",
            ChangeKind::Update => "~",
            ChangeKind::Replace => "±",
            ChangeKind::Delete => "-",
        }
    }

    /// The verb shown after the symbol.
    pub fn verb(self) -> &'static str {
        match self {
            ChangeKind::Create => "create",
            ChangeKind::Update => "update in place",
            ChangeKind::Replace => "replace",
            ChangeKind::Delete => "destroy",
        }
    }
}

/// What the executor does for a change.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Create a security group with its rules.
    CreateSg {
        /// The group.
        sg: Box<DesiredSg>,
    },
    /// Add and remove inbound rules.
    UpdateSgRules {
        /// `sg-…`.
        sg_id: String,
        /// Rules to add.
        add: Vec<Rule>,
        /// Rules to remove.
        remove: Vec<Rule>,
    },
    /// Set and remove tags.
    Tag {
        /// Resources to tag.
        resource_ids: Vec<String>,
        /// Tags to set.
        add: Tags,
        /// Keys to remove.
        remove: Vec<String>,
    },
    /// Launch an instance.
    CreateInstance {
        /// The instance.
        instance: Box<DesiredInstance>,
        /// Kept volumes of an earlier instance at this address, attached instead of new ones.
        reattach: Vec<Reattach>,
    },
    /// Launch a new instance, then terminate the old one. Kept volumes move: the old instance
    /// is stopped (or, when it cannot be stopped, terminated) first, its kept volumes detached,
    /// the new one launched in their zone and the volumes attached to it.
    ReplaceInstance {
        /// The new instance.
        instance: Box<DesiredInstance>,
        /// `i-…` to terminate.
        old_id: String,
        /// Kept volumes of the old instance that the new one takes over.
        moves: Vec<Reattach>,
        /// How the old instance lets go of them.
        release: Release,
    },
    /// Stop, change type, start.
    ModifyInstanceType {
        /// `i-…`.
        instance_id: String,
        /// New type.
        to: String,
        /// Whether the instance was running (and must be started again).
        was_running: bool,
    },
    /// Replace the instance's security groups.
    ModifyInstanceGroups {
        /// `i-…`.
        instance_id: String,
        /// The groups it should have.
        groups: Vec<GroupRef>,
    },
    /// Change a volume in place.
    ModifyVolume {
        /// `vol-…`.
        volume_id: String,
        /// New settings.
        change: VolumeChange,
    },
    /// Terminate an instance.
    TerminateInstance {
        /// `i-…`.
        instance_id: String,
        /// Its kept volumes, deleted once it is gone: a duplicate copy's volumes are no one's
        /// data, while an instance leaving the spec keeps them as the spec asked.
        delete_volumes: Vec<String>,
    },
    /// Delete a security group.
    DeleteSg {
        /// `sg-…`.
        sg_id: String,
    },
    /// Create an IAM role, its policies and its instance profile.
    CreateRole {
        /// The role.
        role: Box<crate::DesiredRole>,
    },
    /// Change a role's policies, or repair its instance profile.
    UpdateRole {
        /// The role as it should be.
        role: Box<crate::DesiredRole>,
        /// Managed policies to attach.
        attach: Vec<String>,
        /// Managed policies to detach.
        detach: Vec<String>,
        /// Put (true) or delete (false) the secrets policy; unchanged when `None`.
        secrets_policy: Option<bool>,
        /// Create the instance profile or add the role to it.
        repair_profile: bool,
    },
    /// Delete a role with its policies and instance profile.
    DeleteRole {
        /// Role name.
        name: String,
    },
    /// Generate a secret and store it in SSM (never overwriting an existing one).
    CreateSecret {
        /// The secret.
        secret: Box<crate::DesiredSecret>,
    },
    /// Delete a secret from SSM.
    DeleteSecret {
        /// Parameter name.
        parameter: String,
    },
    /// Create the load balancer, its target group (or take over `target_group_arn`), its
    /// listeners, and register the target instances.
    CreateLb {
        /// The load balancer.
        lb: Box<crate::DesiredLb>,
        /// A target group of ours that already exists.
        target_group_arn: Option<String>,
    },
    /// Delete the old load balancer and target group, then create them anew.
    ReplaceLb {
        /// The load balancer.
        lb: Box<crate::DesiredLb>,
        /// ARN of the one to delete.
        old_arn: String,
        /// ARN of its target group.
        old_target_group_arn: Option<String>,
    },
    /// Recreate the listeners and/or change the health check.
    UpdateLb {
        /// The load balancer as it should be.
        lb: Box<crate::DesiredLb>,
        /// Its ARN.
        arn: String,
        /// Its target group's ARN.
        target_group_arn: String,
        /// Listeners differ.
        listeners: bool,
        /// Health check differs.
        health_check: bool,
    },
    /// Register the group's instances as targets and deregister others.
    SyncTargets {
        /// Instance group.
        group: String,
        /// Target group ARN.
        target_group_arn: String,
    },
    /// Delete the load balancer (listeners go with it), then its target group.
    DeleteLb {
        /// Load balancer ARN, when it exists.
        arn: Option<String>,
        /// Target group ARN, when it exists.
        target_group_arn: Option<String>,
    },
    /// Create the distribution in front of the load balancer.
    CreateCdn {
        /// The distribution.
        cdn: Box<crate::DesiredCdn>,
    },
    /// Point the distribution at the load balancer again, or change its settings.
    UpdateCdn {
        /// The distribution as it should be.
        cdn: Box<crate::DesiredCdn>,
        /// Its id.
        id: String,
    },
    /// Create the deployment's VPC.
    CreateVpc {
        /// Its block.
        cidr: String,
        /// Its tags.
        tags: Tags,
    },
    /// Create a subnet (in the deployment's VPC or the referenced one).
    CreateSubnet {
        /// The subnet.
        subnet: Box<crate::DesiredSubnet>,
        /// The zone chosen for it (`None`: AWS picks).
        zone: Option<String>,
    },
    /// Create the internet gateway and attach it to the VPC (or only attach `existing`).
    CreateInternetGateway {
        /// Its tags.
        tags: Tags,
        /// A gateway of ours that exists but is not attached.
        existing: Option<String>,
    },
    /// Create the NAT gateway in a public subnet, with an Elastic IP (allocated unless
    /// `allocation` names ours), and wait until it is available.
    CreateNatGateway {
        /// Address of the public subnet it sits in.
        subnet: String,
        /// The gateway's tags.
        tags: Tags,
        /// The Elastic IP's tags.
        address_tags: Tags,
        /// `eipalloc-…` of ours, not associated, to use instead of a new one.
        allocation: Option<String>,
    },
    /// Create a route table: the default route (to the internet gateway or the NAT gateway, as
    /// `via` says), and its subnets associated.
    CreateRouteTable {
        /// Its tags.
        tags: Tags,
        /// Addresses of the subnets it serves: the public ones, or the private ones.
        subnets: Vec<String>,
        /// Where its default route goes.
        #[serde(default)]
        via: crate::Via,
    },
    /// Add the default route, associate subnets, drop other associations.
    UpdateRouteTable {
        /// `rtb-…`.
        route_table_id: String,
        /// Where its default route goes.
        #[serde(default)]
        via: crate::Via,
        /// The default route is missing.
        add_default_route: bool,
        /// Addresses of subnets to associate.
        associate: Vec<String>,
        /// Association ids to remove.
        disassociate: Vec<String>,
    },
    /// Remove a route table's associations, then the table.
    DeleteRouteTable {
        /// `rtb-…`.
        route_table_id: String,
    },
    /// Delete a subnet (its instances are gone first).
    DeleteSubnet {
        /// `subnet-…`.
        subnet_id: String,
    },
    /// Detach the gateway from its VPCs, then delete it.
    DeleteInternetGateway {
        /// `igw-…`.
        gateway_id: String,
        /// VPCs it is attached to.
        vpc_ids: Vec<String>,
    },
    /// Delete the NAT gateway and wait until it is gone (its subnet and Elastic IP are free
    /// only then).
    DeleteNatGateway {
        /// `nat-…`.
        nat_gateway_id: String,
    },
    /// Release an Elastic IP.
    ReleaseAddress {
        /// `eipalloc-…`.
        allocation_id: String,
    },
    /// Delete the deployment's VPC, last.
    DeleteVpc {
        /// `vpc-…`.
        vpc_id: String,
    },
    /// Disable the distribution, wait until that is deployed, delete it.
    DeleteCdn {
        /// Its id.
        id: String,
    },
}

/// How an instance being replaced lets go of the kept volumes that move to its successor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Release {
    /// Nothing moves: the old instance runs until the new one is up, then is terminated.
    Nothing,
    /// Stopped, so its file systems are clean; started again if the run is undone.
    Stop,
    /// Terminated first (a one-time spot instance cannot be stopped); its kept volumes survive
    /// it, and an undone run leaves them detached for a re-apply to take over.
    Terminate,
}

/// A kept volume a new instance takes over.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reattach {
    /// `vol-…`.
    pub volume_id: String,
    /// Device it belongs at.
    pub device: String,
    /// Its zone: the instance is launched there.
    pub availability_zone: String,
}

/// One line of a plan.
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    /// Create, update, replace or delete.
    pub kind: ChangeKind,
    /// Logical address, e.g. `instance/web/0`.
    pub address: String,
    /// AWS id, when the resource exists.
    pub aws_id: Option<String>,
    /// Details, one line each (`type: t3.micro → t3.small`).
    pub details: Vec<String>,
    /// True when the change interrupts a running instance.
    pub disruptive: bool,
    /// What the executor does.
    #[serde(flatten)]
    pub action: Action,
}

/// An ordered set of changes for one deployment.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    /// Deployment name.
    pub deployment: String,
    /// Changes in execution order: sorted by [`Phase`], in the order the diff found them within
    /// one.
    pub changes: Vec<Change>,
    /// Things the user should know that are not changes (a shrink EBS cannot do, …).
    pub warnings: Vec<String>,
    /// Resources kept on purpose (detached volumes with `delete_on_termination: false`).
    pub kept: Vec<String>,
}

/// The phases of an apply, in the order they run; every action belongs to one
/// ([`Action::phase`]). Decided here once: the plan shows its changes in this order and the
/// engine runs them phase after phase, so what the user reads is what happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// The VPC, subnets, gateways and route tables: everything else lives in them.
    Network,
    /// Roles (with their instance profiles) and secrets: the instances use them.
    Identity,
    /// New security groups, without rules (a rule may name another new group).
    Groups,
    /// Inbound rules added and removed.
    GroupRules,
    /// Instances launched and replaced (kept volumes move to the replacement).
    Launches,
    /// Changes in place: tags, volume settings, instance types and groups.
    InPlace,
    /// Removals: the edge first (it uses the groups), then instances, groups, roles, secrets.
    Removals,
    /// The load balancer and distribution, made or changed once their targets run.
    Edge,
    /// The network's removals, last: everything that lived in it is gone by then.
    NetworkRemovals,
}

impl Phase {
    /// Every phase, in the order they run.
    pub const ALL: [Phase; 9] = [
        Phase::Network,
        Phase::Identity,
        Phase::Groups,
        Phase::GroupRules,
        Phase::Launches,
        Phase::InPlace,
        Phase::Removals,
        Phase::Edge,
        Phase::NetworkRemovals,
    ];
}

impl Action {
    /// The phase the action runs in.
    pub fn phase(&self) -> Phase {
        match self {
            Action::CreateVpc { .. }
            | Action::CreateSubnet { .. }
            | Action::CreateInternetGateway { .. }
            | Action::CreateNatGateway { .. }
            | Action::CreateRouteTable { .. }
            | Action::UpdateRouteTable { .. } => Phase::Network,
            Action::CreateRole { .. } | Action::UpdateRole { .. } | Action::CreateSecret { .. } => {
                Phase::Identity
            }
            Action::CreateSg { .. } => Phase::Groups,
            Action::UpdateSgRules { .. } => Phase::GroupRules,
            Action::CreateInstance { .. } | Action::ReplaceInstance { .. } => Phase::Launches,
            Action::Tag { .. }
            | Action::ModifyInstanceType { .. }
            | Action::ModifyInstanceGroups { .. }
            | Action::ModifyVolume { .. } => Phase::InPlace,
            Action::DeleteLb { .. }
            | Action::DeleteCdn { .. }
            | Action::TerminateInstance { .. }
            | Action::DeleteSg { .. }
            | Action::DeleteRole { .. }
            | Action::DeleteSecret { .. } => Phase::Removals,
            Action::CreateLb { .. }
            | Action::ReplaceLb { .. }
            | Action::UpdateLb { .. }
            | Action::SyncTargets { .. }
            | Action::CreateCdn { .. }
            | Action::UpdateCdn { .. } => Phase::Edge,
            Action::DeleteRouteTable { .. }
            | Action::DeleteSubnet { .. }
            | Action::DeleteInternetGateway { .. }
            | Action::DeleteNatGateway { .. }
            | Action::ReleaseAddress { .. }
            | Action::DeleteVpc { .. } => Phase::NetworkRemovals,
        }
    }
}

impl Plan {
    /// The changes of one phase, in plan order.
    pub fn phase(&self, phase: Phase) -> impl Iterator<Item = &Change> {
        self.changes
            .iter()
            .filter(move |c| c.action.phase() == phase)
    }

    /// True when applying would change nothing.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// Number of changes of a kind.
    pub fn count(&self, kind: ChangeKind) -> usize {
        self.changes.iter().filter(|c| c.kind == kind).count()
    }

    /// The summary line: `Plan: 3 to create, 1 to update, 0 to replace, 0 to destroy.`
    pub fn summary(&self) -> String {
        if self.is_empty() {
            return "No changes. AWS matches the spec.".into();
        }
        format!(
            "Plan: {} to create, {} to update, {} to replace, {} to destroy.",
            self.count(ChangeKind::Create),
            self.count(ChangeKind::Update),
            self.count(ChangeKind::Replace),
            self.count(ChangeKind::Delete)
        )
    }

    /// The plan as people read it, Terraform-style.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for c in &self.changes {
            let id = c
                .aws_id
                .as_deref()
                .map(|i| format!(" ({i})"))
                .unwrap_or_default();
            let warn = if c.disruptive {
                "  [disruptive: stops the instance]"
            } else {
                ""
            };
            out.push_str(&format!(
                "{} {} {}{}{}\n",
                c.kind.symbol(),
                c.kind.verb(),
                c.address,
                id,
                warn
            ));
            for d in &c.details {
                out.push_str(&format!("      {d}\n"));
            }
        }
        for k in &self.kept {
            out.push_str(&format!("  kept {k}\n"));
        }
        for w in &self.warnings {
            out.push_str(&format!("warning: {w}\n"));
        }
        out.push_str(&self.summary());
        out.push('\n');
        out
    }
}

/// Normalises device names so `/dev/sdf` and `/dev/xvdf` compare equal.
pub fn device_key(device: &str) -> String {
    let d = device.trim_start_matches("/dev/");
    match d.strip_prefix("xvd") {
        Some(rest) => format!("sd{rest}"),
        None => d.to_string(),
    }
}

/// Diffs desired against actual.
pub fn diff(desired: &Desired, actual: &Actual) -> Plan {
    let mut plan = Plan {
        deployment: desired.deployment.clone(),
        changes: Vec::new(),
        warnings: Vec::new(),
        kept: Vec::new(),
    };
    let mut deletes = Vec::new();

    let mut network_deletes = Vec::new();
    crate::network::network_changes(
        &mut plan,
        &mut network_deletes,
        desired.network.as_ref(),
        &actual.network,
    );
    identity_changes(&mut plan, &mut deletes, desired, actual);
    let mut edge_deletes = Vec::new();

    // Security groups by logical id; extra copies are duplicates to remove.
    let mut sg_by_id: BTreeMap<&str, &crate::ActualSg> = BTreeMap::new();
    for sg in &actual.security_groups {
        match sg.logical_id() {
            Some(lid) if !sg_by_id.contains_key(lid) => {
                sg_by_id.insert(lid, sg);
            }
            lid => deletes.push(Change {
                kind: ChangeKind::Delete,
                address: lid.unwrap_or("sg/?").to_string(),
                aws_id: Some(sg.id.clone()),
                details: vec![format!("duplicate or unaddressed group {}", sg.name)],
                disruptive: false,
                action: Action::DeleteSg {
                    sg_id: sg.id.clone(),
                },
            }),
        }
    }
    let name_to_sg: HashMap<&str, &str> = desired
        .security_groups
        .iter()
        .filter_map(|d| {
            sg_by_id
                .get(d.id.as_str())
                .map(|a| (d.name.as_str(), a.id.as_str()))
        })
        .collect();
    let resolve = |g: &GroupRef| -> GroupRef {
        match g {
            GroupRef::Ours(n) => name_to_sg
                .get(n.as_str())
                .map_or_else(|| g.clone(), |id| GroupRef::Id(id.to_string())),
            GroupRef::Id(_) => g.clone(),
        }
    };
    for d in &desired.security_groups {
        match sg_by_id.get(d.id.as_str()) {
            None => {
                let mut details = vec![format!("name: {}", d.aws_name)];
                details.extend(d.ingress.iter().map(|r| format!("ingress: {r}")));
                plan.changes.push(Change {
                    kind: ChangeKind::Create,
                    address: d.id.clone(),
                    aws_id: None,
                    details,
                    disruptive: false,
                    action: Action::CreateSg {
                        sg: Box::new(d.clone()),
                    },
                });
            }
            Some(a) => {
                let want: BTreeSet<Rule> = d
                    .ingress
                    .iter()
                    .map(|r| Rule {
                        source: match &r.source {
                            RuleSource::Group(g) => RuleSource::Group(resolve(g)),
                            s => s.clone(),
                        },
                        ..r.clone()
                    })
                    .collect();
                let have: BTreeSet<Rule> = a.ingress.iter().cloned().collect();
                let add: Vec<Rule> = want.difference(&have).cloned().collect();
                let remove: Vec<Rule> = have.difference(&want).cloned().collect();
                if !add.is_empty() || !remove.is_empty() {
                    let mut details: Vec<String> =
                        add.iter().map(|r| format!("+ ingress: {r}")).collect();
                    details.extend(remove.iter().map(|r| format!("- ingress: {r}")));
                    plan.changes.push(Change {
                        kind: ChangeKind::Update,
                        address: d.id.clone(),
                        aws_id: Some(a.id.clone()),
                        details,
                        disruptive: false,
                        action: Action::UpdateSgRules {
                            sg_id: a.id.clone(),
                            add,
                            remove,
                        },
                    });
                }
                tag_change(&mut plan, &d.id, &a.id, &d.tags, &a.tags);
            }
        }
    }
    let wanted_sgs: BTreeSet<&str> = desired
        .security_groups
        .iter()
        .map(|d| d.id.as_str())
        .collect();
    for (lid, sg) in &sg_by_id {
        if !wanted_sgs.contains(lid) {
            deletes.push(Change {
                kind: ChangeKind::Delete,
                address: lid.to_string(),
                aws_id: Some(sg.id.clone()),
                details: vec![format!("name: {}", sg.name)],
                disruptive: false,
                action: Action::DeleteSg {
                    sg_id: sg.id.clone(),
                },
            });
        }
    }

    // Instances by logical id: the oldest copy is the one; later copies are duplicates.
    let mut by_id: BTreeMap<&str, Vec<&ActualInstance>> = BTreeMap::new();
    for i in &actual.instances {
        by_id
            .entry(i.logical_id().unwrap_or("instance/?"))
            .or_default()
            .push(i);
    }
    for list in by_id.values_mut() {
        list.sort_by(|a, b| {
            (&a.launch_time, !a.recorded, &a.id).cmp(&(&b.launch_time, !b.recorded, &b.id))
        });
    }
    let volumes_of: HashMap<&str, Vec<(&ActualVolume, String)>> = {
        let mut m: HashMap<&str, Vec<(&ActualVolume, String)>> = HashMap::new();
        for v in &actual.volumes {
            for att in &v.attachments {
                m.entry(att.instance_id.as_str())
                    .or_default()
                    .push((v, device_key(&att.device)));
            }
        }
        m
    };
    let mut instance_deletes = Vec::new();
    let mut reattached: BTreeSet<String> = BTreeSet::new();
    let wanted: BTreeSet<&str> = desired.instances.iter().map(|d| d.id.as_str()).collect();
    for (lid, list) in &by_id {
        let keep = usize::from(wanted.contains(lid));
        for extra in list.iter().skip(keep) {
            let duplicate = keep == 1;
            let why = if duplicate {
                "duplicate copy"
            } else {
                "no longer in the spec"
            };
            let mut details = vec![format!("{why}: {} {}", extra.instance_type, extra.state)];
            let mut delete_volumes = Vec::new();
            if duplicate {
                // The instance's mapping says which are kept (moto leaves the attachment's
                // flag out); the root volume goes with the instance anyway.
                for b in extra
                    .block_devices
                    .iter()
                    .filter(|b| !b.delete_on_termination)
                {
                    details.push(format!(
                        "its kept volume {} at {} goes with it",
                        b.volume_id, b.device
                    ));
                    delete_volumes.push(b.volume_id.clone());
                }
            }
            instance_deletes.push(Change {
                kind: ChangeKind::Delete,
                address: lid.to_string(),
                aws_id: Some(extra.id.clone()),
                details,
                disruptive: true,
                action: Action::TerminateInstance {
                    instance_id: extra.id.clone(),
                    delete_volumes,
                },
            });
        }
    }
    for d in &desired.instances {
        let Some(a) = by_id.get(d.id.as_str()).and_then(|l| l.first()) else {
            let reattach = kept_volumes_for(d, actual);
            let mut details = launch_details(d);
            for r in &reattach {
                details.push(format!(
                    "reattaches kept volume {} at {} (launches in {})",
                    r.volume_id, r.device, r.availability_zone
                ));
                reattached.insert(r.volume_id.clone());
            }
            plan.changes.push(Change {
                kind: ChangeKind::Create,
                address: d.id.clone(),
                aws_id: None,
                details,
                disruptive: false,
                action: Action::CreateInstance {
                    instance: Box::new(d.clone()),
                    reattach,
                },
            });
            continue;
        };
        let reasons = replace_reasons(d, a, volumes_of.get(a.id.as_str()), &actual.network);
        if !reasons.is_empty() {
            let moves = moving_volumes(d, a, volumes_of.get(a.id.as_str()));
            let release = match (moves.is_empty(), a.spot) {
                (true, _) => Release::Nothing,
                (false, false) => Release::Stop,
                (false, true) => Release::Terminate,
            };
            let mut details: Vec<String> = reasons
                .into_iter()
                .map(|r| format!("{r} (forces replacement)"))
                .collect();
            for m in &moves {
                details.push(format!(
                    "data volume {} moves to the new instance at {} (launches in {})",
                    m.volume_id, m.device, m.availability_zone
                ));
            }
            match release {
                Release::Stop => details.push(format!(
                    "{} is stopped before its volumes move, terminated after",
                    a.id
                )),
                Release::Terminate => details.push(format!(
                    "{} is a spot instance and cannot be stopped: it is terminated before its volumes move",
                    a.id
                )),
                Release::Nothing => {}
            }
            plan.changes.push(Change {
                kind: ChangeKind::Replace,
                address: d.id.clone(),
                aws_id: Some(a.id.clone()),
                details,
                disruptive: true,
                action: Action::ReplaceInstance {
                    instance: Box::new(d.clone()),
                    old_id: a.id.clone(),
                    moves,
                    release,
                },
            });
            continue;
        }
        if d.instance_type != a.instance_type {
            plan.changes.push(Change {
                kind: ChangeKind::Update,
                address: d.id.clone(),
                aws_id: Some(a.id.clone()),
                details: vec![format!("type: {} → {}", a.instance_type, d.instance_type)],
                disruptive: a.state == "running" || a.state == "pending",
                action: Action::ModifyInstanceType {
                    instance_id: a.id.clone(),
                    to: d.instance_type.clone(),
                    was_running: a.state != "stopped",
                },
            });
        }
        if !d.security_groups.is_empty() {
            let want: BTreeSet<GroupRef> = d.security_groups.iter().map(&resolve).collect();
            let have: BTreeSet<GroupRef> = a
                .security_group_ids
                .iter()
                .map(|i| GroupRef::Id(i.clone()))
                .collect();
            if want != have {
                plan.changes.push(Change {
                    kind: ChangeKind::Update,
                    address: d.id.clone(),
                    aws_id: Some(a.id.clone()),
                    details: vec![format!(
                        "security groups: [{}] → [{}]",
                        a.security_group_ids.join(", "),
                        d.security_groups
                            .iter()
                            .map(show_group)
                            .collect::<Vec<_>>()
                            .join(", ")
                    )],
                    disruptive: false,
                    action: Action::ModifyInstanceGroups {
                        instance_id: a.id.clone(),
                        groups: d.security_groups.clone(),
                    },
                });
            }
        }
        let mut want_tags = d.tags.clone();
        for k in LAUNCH_TAGS {
            want_tags.remove(*k);
        }
        tag_change(&mut plan, &d.id, &a.id, &want_tags, &a.tags);
        volume_changes(&mut plan, d, a, volumes_of.get(a.id.as_str()));
    }
    for v in &actual.volumes {
        if v.attachments.is_empty() && !reattached.contains(&v.id) {
            let was = v
                .tags
                .get(TAG_INSTANCE)
                .map(String::as_str)
                .unwrap_or("an instance");
            plan.kept.push(format!(
                "volume {} ({} GiB {}, was attached to {was}): detached, kept because delete_on_termination is false; `destroy` removes it",
                v.id, v.size, v.volume_type
            ));
        }
    }
    crate::edge::edge_changes(&mut plan, &mut edge_deletes, desired, actual);
    plan.changes.extend(edge_deletes);
    plan.changes.extend(network_deletes);
    plan.changes.extend(instance_deletes);
    plan.changes.extend(deletes);
    // Stable: within a phase, the order found above (the edge's removals before the groups').
    plan.changes.sort_by_key(|c| c.action.phase());
    plan
}

/// Roles and secrets: created first (instances need them), removed last.
fn identity_changes(
    plan: &mut Plan,
    deletes: &mut Vec<Change>,
    desired: &Desired,
    actual: &Actual,
) {
    for d in &desired.roles {
        let Some(a) = actual.roles.iter().find(|a| a.name == d.aws_name) else {
            let mut details = vec![format!("role and instance profile {}", d.aws_name)];
            if d.secrets_policy.is_some() {
                details.push("may read this deployment's secrets".into());
            }
            details.extend(d.managed_policies.iter().map(|p| format!("policy {p}")));
            plan.changes.push(Change {
                kind: ChangeKind::Create,
                address: d.id.clone(),
                aws_id: None,
                details,
                disruptive: false,
                action: Action::CreateRole {
                    role: Box::new(d.clone()),
                },
            });
            continue;
        };
        let want: BTreeSet<&String> = d.managed_policies.iter().collect();
        let have: BTreeSet<&String> = a.managed_policies.iter().collect();
        let attach: Vec<String> = want.difference(&have).map(|s| (*s).clone()).collect();
        let detach: Vec<String> = have.difference(&want).map(|s| (*s).clone()).collect();
        let secrets_policy = match (d.secrets_policy.is_some(), a.secrets_policy.is_some()) {
            (true, false) => Some(true),
            (false, true) => Some(false),
            _ => None,
        };
        let repair_profile = a.profile.is_none() || !a.profile_has_role;
        if attach.is_empty() && detach.is_empty() && secrets_policy.is_none() && !repair_profile {
            continue;
        }
        let mut details: Vec<String> = attach.iter().map(|p| format!("+ policy {p}")).collect();
        details.extend(detach.iter().map(|p| format!("- policy {p}")));
        match secrets_policy {
            Some(true) => details.push("+ may read this deployment's secrets".into()),
            Some(false) => details.push("- may read this deployment's secrets".into()),
            None => {}
        }
        if repair_profile {
            details.push("instance profile repaired".into());
        }
        plan.changes.push(Change {
            kind: ChangeKind::Update,
            address: d.id.clone(),
            aws_id: Some(a.arn.clone()),
            details,
            disruptive: false,
            action: Action::UpdateRole {
                role: Box::new(d.clone()),
                attach,
                detach,
                secrets_policy,
                repair_profile,
            },
        });
    }
    for a in &actual.roles {
        if !desired.roles.iter().any(|d| d.aws_name == a.name) {
            deletes.push(Change {
                kind: ChangeKind::Delete,
                address: Address::role(&a.name).into(),
                aws_id: Some(a.arn.clone()),
                details: vec![format!("role and instance profile {}", a.name)],
                disruptive: false,
                action: Action::DeleteRole {
                    name: a.name.clone(),
                },
            });
        }
    }
    for d in &desired.secrets {
        if !actual.secrets.iter().any(|a| a.parameter == d.parameter) {
            plan.changes.push(Change {
                kind: ChangeKind::Create,
                address: d.id.clone(),
                aws_id: None,
                details: vec![format!(
                    "SecureString {} ({} generated characters)",
                    d.parameter, d.length
                )],
                disruptive: false,
                action: Action::CreateSecret {
                    secret: Box::new(d.clone()),
                },
            });
        }
    }
    for a in &actual.secrets {
        if !desired.secrets.iter().any(|d| d.parameter == a.parameter) {
            deletes.push(Change {
                kind: ChangeKind::Delete,
                address: Address::secret_at(&a.parameter).into(),
                aws_id: Some(a.parameter.clone()),
                details: vec![format!("SecureString {}", a.parameter)],
                disruptive: false,
                action: Action::DeleteSecret {
                    parameter: a.parameter.clone(),
                },
            });
        }
    }
}

/// Detached volumes kept from an earlier instance at `d`'s address, one per kept device of the
/// spec, all in one zone (an instance lives in one zone).
fn kept_volumes_for(d: &DesiredInstance, actual: &Actual) -> Vec<Reattach> {
    let mut out: Vec<Reattach> = Vec::new();
    for want in d.volumes.iter().filter(|v| !v.delete_on_termination) {
        let found = actual.volumes.iter().find(|v| {
            v.attachments.is_empty()
                && v.state == "available"
                && v.tags.get(TAG_INSTANCE).map(String::as_str) == Some(d.id.as_str())
                && v.tags
                    .get(TAG_DEVICE)
                    .is_some_and(|dev| device_key(dev) == device_key(&want.device))
                && out
                    .first()
                    .is_none_or(|r| Some(&r.availability_zone) == v.availability_zone.as_ref())
        });
        if let Some(v) = found {
            out.push(Reattach {
                volume_id: v.id.clone(),
                device: want.device.clone(),
                availability_zone: v.availability_zone.clone().unwrap_or_default(),
            });
        }
    }
    out
}

/// The kept volumes attached to `a` at a device where the spec keeps a volume: they move to
/// the instance that replaces it (a new, empty one would lose the data).
fn moving_volumes(
    d: &DesiredInstance,
    a: &ActualInstance,
    volumes: Option<&Vec<(&ActualVolume, String)>>,
) -> Vec<Reattach> {
    let mut out = Vec::new();
    for want in d.volumes.iter().filter(|v| !v.delete_on_termination) {
        let key = device_key(&want.device);
        let Some((v, _)) = volumes.into_iter().flatten().find(|(_, dev)| *dev == key) else {
            continue;
        };
        out.push(Reattach {
            volume_id: v.id.clone(),
            device: want.device.clone(),
            availability_zone: v
                .availability_zone
                .clone()
                .or_else(|| a.availability_zone.clone())
                .unwrap_or_default(),
        });
    }
    out
}

fn show_group(g: &GroupRef) -> String {
    match g {
        GroupRef::Ours(n) => Address::group(n).into(),
        GroupRef::Id(i) => i.clone(),
    }
}

fn launch_details(d: &DesiredInstance) -> Vec<String> {
    let mut out = vec![format!(
        "{} {} from {}{}",
        d.market.as_str(),
        d.instance_type,
        d.ami,
        d.subnet
            .as_ref()
            .map(|s| s.as_str().to_string())
            .or(d.zone.clone())
            .map(|s| format!(" in {s}"))
            .unwrap_or_default()
    )];
    if let Some(r) = &d.root_volume {
        out.push(format!(
            "root volume: {} {}{}",
            r.size
                .map(|s| format!("{s} GiB"))
                .unwrap_or_else(|| "AMI size".into()),
            r.volume_type.as_str(),
            if r.encrypted { ", encrypted" } else { "" }
        ));
    }
    for v in &d.volumes {
        out.push(format!(
            "volume {}: {} GiB {}{}{}{}",
            v.device,
            v.size,
            v.volume_type.as_str(),
            v.iops.map(|i| format!(", {i} IOPS")).unwrap_or_default(),
            if v.encrypted { ", encrypted" } else { "" },
            if v.delete_on_termination {
                ""
            } else {
                ", kept on termination"
            }
        ));
    }
    if d.user_data.is_some() {
        out.push(format!(
            "user data: {}",
            d.tags.get(TAG_USER_DATA).map_or("", String::as_str)
        ));
    }
    out
}

/// Why an existing instance cannot be changed in place; empty when it can.
fn replace_reasons(
    d: &DesiredInstance,
    a: &ActualInstance,
    volumes: Option<&Vec<(&ActualVolume, String)>>,
    net: &crate::ActualNetwork,
) -> Vec<String> {
    let mut out = Vec::new();
    let tag = |k: &str| a.tags.get(k).map(String::as_str);
    match tag(TAG_AMI) {
        Some(was) if was != d.ami => out.push(format!("ami: {was} → {}", d.ami)),
        None if gm_spec::is_aws_id(&d.ami, "ami") && a.image_id != d.ami => {
            out.push(format!("ami: {} → {}", a.image_id, d.ami))
        }
        _ => {}
    }
    let want_ud = d.launch_tag(TAG_USER_DATA).unwrap_or("none");
    if tag(TAG_USER_DATA).unwrap_or("none") != want_ud {
        out.push("user data changed".into());
    }
    if let Some(s) = &d.subnet {
        let want = s.resolve(net);
        if want.is_none() || a.subnet_id.as_deref() != want {
            out.push(format!(
                "subnet: {} → {}",
                a.subnet_id.as_deref().unwrap_or("default"),
                want.unwrap_or(s.as_str())
            ));
        }
    }
    if d.key_pair.as_deref() != a.key_name.as_deref() {
        out.push(format!(
            "key pair: {} → {}",
            a.key_name.as_deref().unwrap_or("none"),
            d.key_pair.as_deref().unwrap_or("none")
        ));
    }
    let want_market = d.launch_tag(TAG_MARKET).unwrap_or("on-demand");
    if let Some(m) = tag(TAG_MARKET) {
        if m != want_market {
            out.push(format!("market: {m} → {want_market}"));
        }
    }
    if let (Some(was), Some(want)) = (tag(TAG_LAUNCH), d.launch_tag(TAG_LAUNCH)) {
        if was != want {
            out.push(
                "launch settings changed (instance profile, spot options, or volume devices/encryption)"
                    .into(),
            );
        }
    }
    let have: BTreeSet<String> = volumes
        .map(|v| v.iter().map(|(_, dev)| dev.clone()).collect())
        .unwrap_or_default();
    for v in &d.volumes {
        if !have.contains(&device_key(&v.device)) {
            out.push(format!("volume {} is missing", v.device));
        }
    }
    out
}

fn volume_changes(
    plan: &mut Plan,
    d: &DesiredInstance,
    a: &ActualInstance,
    volumes: Option<&Vec<(&ActualVolume, String)>>,
) {
    let Some(volumes) = volumes else { return };
    let find = |dev: &str| {
        let key = device_key(dev);
        volumes.iter().find(|(_, k)| *k == key).map(|(v, _)| *v)
    };
    /// A volume as the spec wants it: device, size, type, IOPS, throughput.
    type Want = (String, Option<u32>, VolumeType, Option<u32>, Option<u32>);
    let mut wants: Vec<Want> = Vec::new();
    if let (Some(r), Some(root)) = (&d.root_volume, &a.root_device_name) {
        wants.push((root.clone(), r.size, r.volume_type, r.iops, r.throughput));
    }
    for v in &d.volumes {
        wants.push((
            v.device.clone(),
            Some(v.size),
            v.volume_type,
            v.iops,
            v.throughput,
        ));
    }
    for (device, size, vtype, iops, tput) in wants {
        let Some(av) = find(&device) else { continue };
        let address = Address::volume(&d.group, d.index)
            .at_device(&device)
            .to_string();
        let mut change = VolumeChange::default();
        let mut details = Vec::new();
        if let Some(s) = size.and_then(|s| i32::try_from(s).ok()) {
            if s > av.size {
                change.size = Some(s);
                details.push(format!("size: {} GiB → {s} GiB", av.size));
            } else if s < av.size {
                plan.warnings.push(format!(
                    "{address} ({}) is {} GiB; EBS cannot shrink a volume to {s} GiB, so it stays as it is (replace the instance to start smaller)",
                    av.id, av.size
                ));
            }
        }
        if av.volume_type != vtype.as_str() {
            change.volume_type = Some(vtype.as_str().to_string());
            details.push(format!("type: {} → {}", av.volume_type, vtype.as_str()));
        }
        if let Some(i) = iops.and_then(|i| i32::try_from(i).ok()) {
            if av.iops != Some(i) {
                change.iops = Some(i);
                details.push(format!(
                    "iops: {} → {i}",
                    av.iops.map_or_else(|| "none".into(), |v| v.to_string())
                ));
            }
        }
        if let Some(t) = tput.and_then(|t| i32::try_from(t).ok()) {
            if av.throughput != Some(t) {
                change.throughput = Some(t);
                details.push(format!(
                    "throughput: {} → {t} MiB/s",
                    av.throughput
                        .map_or_else(|| "none".into(), |v| v.to_string())
                ));
            }
        }
        if !change.is_empty() {
            plan.changes.push(Change {
                kind: ChangeKind::Update,
                address: address.clone(),
                aws_id: Some(av.id.clone()),
                details,
                disruptive: false,
                action: Action::ModifyVolume {
                    volume_id: av.id.clone(),
                    change,
                },
            });
        }
        let mut want_tags = d.volume_tags.clone();
        for k in LAUNCH_TAGS {
            want_tags.remove(*k);
        }
        tag_change(plan, &address, &av.id, &want_tags, &av.tags);
    }
}

/// Adds a tag update when `have` differs from `want` (AWS's own and launch tags are left alone).
pub(crate) fn tag_change(plan: &mut Plan, address: &str, id: &str, want: &Tags, have: &Tags) {
    let add: Tags = want
        .iter()
        .filter(|(k, v)| have.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let remove: Vec<String> = have
        .keys()
        .filter(|k| !want.contains_key(*k) && !is_aws_tag(k) && !LAUNCH_TAGS.contains(&k.as_str()))
        .cloned()
        .collect();
    if add.is_empty() && remove.is_empty() {
        return;
    }
    let mut details: Vec<String> = add
        .iter()
        .map(|(k, v)| match have.get(k) {
            Some(old) => format!("tag {k}: {old} → {v}"),
            None => format!("+ tag {k}: {v}"),
        })
        .collect();
    details.extend(remove.iter().map(|k| format!("- tag {k}")));
    plan.changes.push(Change {
        kind: ChangeKind::Update,
        address: address.to_string(),
        aws_id: Some(id.to_string()),
        details,
        disruptive: false,
        action: Action::Tag {
            resource_ids: vec![id.to_string()],
            add,
            remove,
        },
    });
}

#[cfg(test)]
mod tests;
