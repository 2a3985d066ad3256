//! An in-memory AWS behind [`gm_cloud::CloudApi`], for engine tests that run in milliseconds.
//!
//! It keeps resources in maps and behaves as the real cloud layer does against AWS where the
//! engine's correctness depends on it: tag filters, terminated instances that linger in
//! describes by id, volumes deleted with their instance or released to `available`, attaching
//! only in the volume's zone, a security group in use (by an instance, a load balancer or
//! another group's rule) that cannot be deleted, launch idempotency by client token, and
//! "already exists"/"already gone" answers as `Cloud` turns them into results.
//!
//! Any mutating call can be made to fail ([`Sim::fail_call`]) in one of three ways
//! ([`Failure`]): an AWS error before any effect, a time-out before any effect, or the effect
//! performed and the answer lost. Calls are numbered from 1 in the order they arrive;
//! [`Sim::mutations`] lists them, so a test can count a clean run's calls and then fail each in
//! turn. Everything the simulator holds can be read back with [`Sim::world`].

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use gm_cloud::{
    gone_is_ok, ok_if, ActualEdge, CloudApi, CloudError, ErrorKind, ImageInfo, LaunchOutcome,
    LaunchRequest, RequestCounter, SubnetInfo,
};
use gm_plan::{
    ActualCdn, ActualInstance, ActualLb, ActualRole, ActualSecret, ActualSg, ActualTargetGroup,
    ActualVolume, Attachment, BlockDevice, DesiredCdn, DesiredLb, DesiredRole, GroupRef, Listener,
    Rule, RuleSource, Tags, VolumeChange, TAG_DEPLOYMENT, TAG_ID,
};

/// How an injected failure happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// AWS answers with an error; nothing changed.
    Error,
    /// The call times out; nothing changed.
    Timeout,
    /// AWS performed the call, but its answer never arrived.
    LostAnswer,
}

impl Failure {
    /// All three, for loops.
    pub const ALL: [Failure; 3] = [Failure::Error, Failure::Timeout, Failure::LostAnswer];
}

/// One mutating call the simulator received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// Its number, from 1.
    pub n: u64,
    /// The AWS action, e.g. `RunInstances`.
    pub action: String,
    /// The ids or names it was about.
    pub about: Vec<String>,
}

/// A role as IAM keeps it.
#[derive(Debug, Clone, Default)]
pub struct SimRole {
    /// IAM path.
    pub path: String,
    /// ARN.
    pub arn: String,
    /// Tags.
    pub tags: Tags,
    /// Managed policy ARNs attached.
    pub managed_policies: Vec<String>,
    /// Inline secrets policy.
    pub secrets_policy: Option<String>,
    /// The instance profile of the same name exists.
    pub profile: bool,
    /// The profile holds the role.
    pub profile_has_role: bool,
}

/// A distribution as CloudFront keeps it: found again by its comment.
#[derive(Debug, Clone, Default)]
pub struct SimCdn {
    /// What a describe returns.
    pub cdn: ActualCdn,
    /// Its comment (`geusemaker:DEPLOYMENT`).
    pub comment: String,
    /// Its tags.
    pub tags: Tags,
}

/// Everything the simulated account holds.
#[derive(Debug, Clone, Default)]
pub struct World {
    /// Instances by id, terminated ones included.
    pub instances: BTreeMap<String, ActualInstance>,
    /// Volumes by id.
    pub volumes: BTreeMap<String, ActualVolume>,
    /// Security groups by id.
    pub groups: BTreeMap<String, ActualSg>,
    /// IAM roles by name.
    pub roles: BTreeMap<String, SimRole>,
    /// SSM parameters by name: (value, tags).
    pub parameters: BTreeMap<String, (String, Tags)>,
    /// Load balancers by ARN.
    pub load_balancers: BTreeMap<String, ActualLb>,
    /// Target groups by ARN.
    pub target_groups: BTreeMap<String, ActualTargetGroup>,
    /// Distributions by id, with their tags.
    pub distributions: BTreeMap<String, SimCdn>,
    /// Subnets (of the default VPC).
    pub subnets: Vec<SubnetInfo>,
    /// The default VPC, if the region has one.
    pub default_vpc: Option<String>,
    /// VPCs other than the default one, by id.
    pub vpcs: BTreeMap<String, gm_plan::ActualVpc>,
    /// Tags of subnets that have any (the default ones have none).
    pub subnet_tags: BTreeMap<String, Tags>,
    /// Internet gateways by id.
    pub gateways: BTreeMap<String, gm_plan::ActualGateway>,
    /// Route tables by id (main route tables are not modelled).
    pub route_tables: BTreeMap<String, gm_plan::ActualRouteTable>,
    /// NAT gateways by id (deleted ones are removed at once).
    pub nat_gateways: BTreeMap<String, gm_plan::ActualNatGateway>,
    /// NAT gateway client token → id.
    nat_tokens: HashMap<String, String>,
    /// Elastic IPs by allocation id.
    pub addresses: BTreeMap<String, gm_plan::ActualAddress>,
    /// Client token → instance id.
    tokens: HashMap<String, String>,
    /// Images resolved so far: id → root device.
    images: HashMap<String, String>,
    next_id: u64,
}

impl World {
    fn id(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        format!("{prefix}-{:017x}", self.next_id)
    }

    /// Instances not terminated.
    pub fn live_instances(&self) -> impl Iterator<Item = &ActualInstance> {
        self.instances.values().filter(|i| i.state != "terminated")
    }

    /// Whether anything at all carries `deployment`'s tag, or lives under its paths: what a
    /// run must leave behind when it undid everything.
    pub fn holds_any_of(&self, deployment: &str) -> Vec<String> {
        let tagged = |t: &Tags| t.get(TAG_DEPLOYMENT).is_some_and(|d| d == deployment);
        let mut out = Vec::new();
        out.extend(
            self.live_instances()
                .filter(|i| tagged(&i.tags))
                .map(|i| format!("instance {} ({})", i.id, i.logical_id().unwrap_or("?"))),
        );
        out.extend(
            self.volumes
                .values()
                .filter(|v| tagged(&v.tags))
                .map(|v| format!("volume {}", v.id)),
        );
        out.extend(
            self.groups
                .values()
                .filter(|g| tagged(&g.tags))
                .map(|g| format!("security group {} ({})", g.id, g.name)),
        );
        let iam = gm_plan::iam_path(deployment);
        out.extend(
            self.roles
                .iter()
                .filter(|(_, r)| r.path == iam)
                .map(|(n, _)| format!("role {n}")),
        );
        let ssm = gm_plan::secrets_path(deployment);
        out.extend(
            self.parameters
                .keys()
                .filter(|p| p.starts_with(&ssm) || *p == &gm_cloud::lease_parameter(deployment))
                .map(|p| format!("parameter {p}")),
        );
        out.extend(
            self.load_balancers
                .values()
                .filter(|l| tagged(&l.tags))
                .map(|l| format!("load balancer {}", l.name)),
        );
        let comment = gm_plan::cdn_comment(deployment);
        out.extend(
            self.distributions
                .iter()
                .filter(|(_, d)| tagged(&d.tags) || d.comment == comment)
                .map(|(id, _)| format!("distribution {id}")),
        );
        out.extend(self.network_holdings(deployment));
        out
    }
}

mod network;

#[derive(Debug, Default)]
struct Faults {
    calls: Vec<Call>,
    fail: BTreeMap<u64, Failure>,
    during: BTreeMap<u64, Event>,
}

/// Something that happens while a call is in flight.
struct Event(Box<dyn FnOnce() + Send>);

impl std::fmt::Debug for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Event")
    }
}

/// The simulated account and region.
#[derive(Debug)]
pub struct Sim {
    region: String,
    counter: RequestCounter,
    world: Mutex<World>,
    faults: Mutex<Faults>,
}

impl Default for Sim {
    fn default() -> Self {
        Sim::new("us-east-1")
    }
}

fn err(action: &str, code: &str, message: impl Into<String>) -> CloudError {
    CloudError::new(action, Some(code), message)
}

fn tagged_with(tags: &Tags, deployment: &str) -> bool {
    tags.get(TAG_DEPLOYMENT).is_some_and(|d| d == deployment)
}

impl Sim {
    /// An empty account in `region` with a default VPC and one default subnet in each of
    /// three zones.
    pub fn new(region: &str) -> Sim {
        let mut w = World {
            default_vpc: Some("vpc-0sim0default".into()),
            ..World::default()
        };
        for (i, z) in ["a", "b", "c"].iter().enumerate() {
            w.subnets.push(SubnetInfo {
                id: format!("subnet-0sim{i}"),
                vpc_id: "vpc-0sim0default".into(),
                availability_zone: format!("{region}{z}"),
                cidr: format!("172.31.{}.0/20", i * 16),
                free_ips: 4091,
                public: true,
                name: None,
            });
        }
        Sim {
            region: region.to_string(),
            counter: RequestCounter::default(),
            world: Mutex::new(w),
            faults: Mutex::new(Faults::default()),
        }
    }

    /// What the account holds now (a copy).
    pub fn world(&self) -> World {
        self.lock().clone()
    }

    /// Changes the account directly (a test setting a scene: a foreign group, a lost volume).
    pub fn with_world<T>(&self, f: impl FnOnce(&mut World) -> T) -> T {
        f(&mut self.lock())
    }

    /// The mutating calls received so far.
    pub fn mutations(&self) -> Vec<Call> {
        self.faults().calls.clone()
    }

    /// Makes mutating call number `n` (counted from 1 since the simulator was made, see
    /// [`Sim::mutations`]) fail in the way `how` says.
    pub fn fail_call(&self, n: u64, how: Failure) {
        self.faults().fail.insert(n, how);
    }

    /// Runs `event` while mutating call number `n` is in flight (after its effect, before its
    /// answer): a Ctrl-C, or another run breaking the lock, at that moment.
    pub fn during_call(&self, n: u64, event: impl FnOnce() + Send + 'static) {
        self.faults().during.insert(n, Event(Box::new(event)));
    }

    /// Whether every injected failure has been reached.
    pub fn failures_pending(&self) -> Vec<u64> {
        let f = self.faults();
        let reached = f.calls.len() as u64;
        f.fail.keys().copied().filter(|n| *n > reached).collect()
    }

    fn lock(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn faults(&self) -> MutexGuard<'_, Faults> {
        self.faults.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn read(&self, action: &str) -> MutexGuard<'_, World> {
        self.counter.record(action);
        self.lock()
    }

    /// Runs a mutating call: counts it, applies an injected failure, else its effect.
    fn mutate<T>(
        &self,
        action: &str,
        about: &[String],
        effect: impl FnOnce(&mut World) -> Result<T, CloudError>,
    ) -> Result<T, CloudError> {
        self.counter.record(action);
        let how = {
            let mut f = self.faults();
            let n = f.calls.len() as u64 + 1;
            f.calls.push(Call {
                n,
                action: action.to_string(),
                about: about.to_vec(),
            });
            (f.fail.get(&n).copied(), f.during.remove(&n))
        };
        let (how, during) = how;
        match how {
            None => {
                let r = effect(&mut self.lock());
                if let Some(Event(event)) = during {
                    event();
                }
                r
            }
            Some(Failure::Error) => Err(err(
                action,
                "InternalError",
                "an injected failure: AWS answered with an error",
            )),
            Some(Failure::Timeout) => {
                let mut e = CloudError::new(action, None, "the request timed out (injected)");
                e.kind = ErrorKind::Unreachable;
                Err(e)
            }
            Some(Failure::LostAnswer) => {
                // The effect happens; whatever AWS said is lost on the way back.
                let _ = effect(&mut self.lock());
                let mut e = CloudError::new(
                    action,
                    None,
                    "the connection closed before the answer (injected after the effect)",
                );
                e.kind = ErrorKind::Unreachable;
                Err(e)
            }
        }
    }
}

/// Whether an instance still uses a security group, or a load balancer or another group's rule
/// refers to it.
fn group_in_use(w: &World, sg: &str) -> Option<String> {
    if let Some(i) = w
        .live_instances()
        .find(|i| i.security_group_ids.iter().any(|g| g == sg))
    {
        return Some(format!("instance {}", i.id));
    }
    if let Some(l) = w
        .load_balancers
        .values()
        .find(|l| l.security_groups.iter().any(|g| g == sg))
    {
        return Some(format!("load balancer {}", l.name));
    }
    w.groups
        .values()
        .find(|g| {
            g.id != sg
                && g.ingress.iter().any(|r| {
                    matches!(&r.source, RuleSource::Group(GroupRef::Id(x)) | RuleSource::Group(GroupRef::Ours(x)) if x == sg)
                })
        })
        .map(|g| format!("a rule of group {}", g.id))
}

fn set_tags(w: &mut World, id: &str, f: impl Fn(&mut Tags)) -> Result<(), CloudError> {
    if let Some(i) = w.instances.get_mut(id) {
        f(&mut i.tags);
    } else if let Some(v) = w.volumes.get_mut(id) {
        f(&mut v.tags);
    } else if let Some(g) = w.groups.get_mut(id) {
        f(&mut g.tags);
    } else {
        let code = match id.split('-').next() {
            Some("i") => "InvalidInstanceID.NotFound",
            Some("vol") => "InvalidVolume.NotFound",
            Some("sg") => "InvalidGroup.NotFound",
            _ => "InvalidID",
        };
        return Err(err(
            "CreateTags",
            code,
            format!("the ID '{id}' does not exist"),
        ));
    }
    Ok(())
}

fn instance_mut<'a>(
    w: &'a mut World,
    action: &str,
    id: &str,
) -> Result<&'a mut ActualInstance, CloudError> {
    w.instances.get_mut(id).ok_or_else(|| {
        err(
            action,
            "InvalidInstanceID.NotFound",
            format!("the instance ID '{id}' does not exist"),
        )
    })
}

/// Terminates one instance: volumes deleted with it go, the others become available.
fn terminate(w: &mut World, id: &str) {
    let Some(i) = w.instances.get_mut(id) else {
        return;
    };
    i.state = "terminated".into();
    let devices = std::mem::take(&mut i.block_devices);
    for d in devices {
        if d.delete_on_termination {
            w.volumes.remove(&d.volume_id);
        } else if let Some(v) = w.volumes.get_mut(&d.volume_id) {
            v.attachments.clear();
            v.state = "available".into();
        }
    }
}

#[async_trait]
impl CloudApi for Sim {
    fn region(&self) -> &str {
        &self.region
    }

    fn requests(&self) -> &RequestCounter {
        &self.counter
    }

    async fn describe_deployment_instances(
        &self,
        deployment: &str,
    ) -> Result<Vec<ActualInstance>, CloudError> {
        let w = self.read("DescribeInstances");
        Ok(w.live_instances()
            .filter(|i| tagged_with(&i.tags, deployment))
            .cloned()
            .collect())
    }

    async fn describe_deployment_volumes(
        &self,
        deployment: &str,
    ) -> Result<Vec<ActualVolume>, CloudError> {
        let w = self.read("DescribeVolumes");
        Ok(w.volumes
            .values()
            .filter(|v| tagged_with(&v.tags, deployment))
            .cloned()
            .collect())
    }

    async fn describe_deployment_groups(
        &self,
        deployment: &str,
    ) -> Result<Vec<ActualSg>, CloudError> {
        let w = self.read("DescribeSecurityGroups");
        Ok(w.groups
            .values()
            .filter(|g| tagged_with(&g.tags, deployment))
            .cloned()
            .collect())
    }

    async fn describe_instances_by_id(
        &self,
        ids: &[String],
    ) -> Result<Vec<ActualInstance>, CloudError> {
        let w = self.read("DescribeInstances");
        Ok(ids
            .iter()
            .filter_map(|id| w.instances.get(id).cloned())
            .collect())
    }

    async fn describe_volumes_by_id(
        &self,
        ids: &[String],
    ) -> Result<Vec<ActualVolume>, CloudError> {
        let w = self.read("DescribeVolumes");
        Ok(ids
            .iter()
            .filter_map(|id| w.volumes.get(id).cloned())
            .collect())
    }

    async fn describe_roles(&self, path: &str) -> Result<Vec<ActualRole>, CloudError> {
        let w = self.read("ListRoles");
        Ok(w.roles
            .iter()
            .filter(|(_, r)| r.path.starts_with(path))
            .map(|(name, r)| ActualRole {
                name: name.clone(),
                arn: r.arn.clone(),
                profile: r.profile.then(|| name.clone()),
                profile_has_role: r.profile_has_role,
                managed_policies: r.managed_policies.clone(),
                secrets_policy: r.secrets_policy.clone(),
            })
            .collect())
    }

    async fn describe_secrets(&self, path: &str) -> Result<Vec<ActualSecret>, CloudError> {
        let w = self.read("GetParametersByPath");
        Ok(w.parameters
            .keys()
            .filter(|p| p.starts_with(path))
            .map(|p| ActualSecret {
                parameter: p.clone(),
            })
            .collect())
    }

    async fn describe_edge(&self, deployment: &str) -> Result<ActualEdge, CloudError> {
        let w = self.read("DescribeLoadBalancers");
        let load_balancer = w
            .load_balancers
            .values()
            .find(|l| tagged_with(&l.tags, deployment))
            .cloned();
        let target_group = load_balancer
            .as_ref()
            .and_then(|l| w.target_groups.values().find(|t| t.name == l.name).cloned());
        let comment = gm_plan::cdn_comment(deployment);
        let distributions = w
            .distributions
            .values()
            .filter(|d| d.comment == comment)
            .map(|d| d.cdn.clone())
            .collect();
        Ok(ActualEdge {
            load_balancer,
            target_group,
            distributions,
        })
    }

    async fn default_vpc(&self) -> Result<String, CloudError> {
        let w = self.read("DescribeVpcs");
        w.default_vpc.clone().ok_or_else(|| {
            err(
                "DescribeVpcs",
                gm_cloud::NO_DEFAULT_VPC,
                gm_cloud::no_default_vpc(&self.region),
            )
        })
    }

    async fn describe_network(
        &self,
        deployment: &str,
    ) -> Result<gm_plan::ActualNetwork, CloudError> {
        for a in [
            "DescribeVpcs",
            "DescribeSubnets",
            "DescribeInternetGateways",
            "DescribeRouteTables",
        ] {
            self.counter.record(a);
        }
        Ok(self.lock().network_of(deployment))
    }

    async fn describe_nat(
        &self,
        deployment: &str,
    ) -> Result<(Vec<gm_plan::ActualNatGateway>, Vec<gm_plan::ActualAddress>), CloudError> {
        self.counter.record("DescribeNatGateways");
        let w = self.read("DescribeAddresses");
        Ok(w.nat_of(deployment))
    }

    async fn describe_nat_gateway(
        &self,
        id: &str,
    ) -> Result<Option<gm_plan::ActualNatGateway>, CloudError> {
        Ok(self
            .read("DescribeNatGateways")
            .nat_gateways
            .get(id)
            .cloned())
    }

    async fn availability_zones(&self) -> Result<Vec<String>, CloudError> {
        Ok(self.read("DescribeAvailabilityZones").zones(&self.region))
    }

    async fn vpc_gateway(&self, vpc_id: &str) -> Result<Option<String>, CloudError> {
        let w = self.read("DescribeInternetGateways");
        Ok(w.gateways
            .values()
            .find(|g| g.attached_to.iter().any(|v| v == vpc_id))
            .map(|g| g.id.clone()))
    }

    async fn create_vpc(&self, cidr: &str, tags: &Tags) -> Result<String, CloudError> {
        let about = vec![tags.get(TAG_ID).cloned().unwrap_or_default()];
        self.mutate("CreateVpc", &about, |w| w.create_vpc(cidr, tags))
    }

    async fn delete_vpc(&self, vpc_id: &str) -> Result<(), CloudError> {
        gone_is_ok(self.mutate("DeleteVpc", &[vpc_id.to_string()], |w| w.delete_vpc(vpc_id)))
    }

    async fn create_subnet(
        &self,
        vpc_id: &str,
        cidr: &str,
        zone: Option<&str>,
        public: bool,
        tags: &Tags,
    ) -> Result<String, CloudError> {
        let about = vec![tags.get(TAG_ID).cloned().unwrap_or_default()];
        let region = self.region.clone();
        let id = self.mutate("CreateSubnet", &about, |w| {
            w.create_subnet(&region, vpc_id, cidr, zone, tags)
        })?;
        if public {
            self.mutate("ModifySubnetAttribute", std::slice::from_ref(&id), |w| {
                w.set_public(&id)
            })?;
        }
        Ok(id)
    }

    async fn delete_subnet(&self, subnet_id: &str) -> Result<(), CloudError> {
        gone_is_ok(self.mutate("DeleteSubnet", &[subnet_id.to_string()], |w| {
            w.delete_subnet(subnet_id)
        }))
    }

    async fn create_internet_gateway(&self, tags: &Tags) -> Result<String, CloudError> {
        let about = vec![tags.get(TAG_ID).cloned().unwrap_or_default()];
        self.mutate("CreateInternetGateway", &about, |w| {
            Ok(w.create_gateway(tags))
        })
    }

    async fn attach_internet_gateway(
        &self,
        gateway_id: &str,
        vpc_id: &str,
    ) -> Result<(), CloudError> {
        let already = self
            .lock()
            .gateways
            .get(gateway_id)
            .is_some_and(|g| g.attached_to.iter().any(|v| v == vpc_id));
        let r = self.mutate(
            "AttachInternetGateway",
            &[gateway_id.to_string(), vpc_id.to_string()],
            |w| w.attach_gateway(gateway_id, vpc_id),
        );
        if already {
            ok_if("Resource.AlreadyAssociated", r)
        } else {
            r
        }
    }

    async fn detach_internet_gateway(
        &self,
        gateway_id: &str,
        vpc_id: &str,
    ) -> Result<(), CloudError> {
        gone_is_ok(ok_if(
            "Gateway.NotAttached",
            self.mutate(
                "DetachInternetGateway",
                &[gateway_id.to_string(), vpc_id.to_string()],
                |w| w.detach_gateway(gateway_id, vpc_id),
            ),
        ))
    }

    async fn delete_internet_gateway(&self, gateway_id: &str) -> Result<(), CloudError> {
        gone_is_ok(
            self.mutate("DeleteInternetGateway", &[gateway_id.to_string()], |w| {
                w.delete_gateway(gateway_id)
            }),
        )
    }

    async fn allocate_address(&self, tags: &Tags) -> Result<String, CloudError> {
        let about = vec![tags.get(TAG_ID).cloned().unwrap_or_default()];
        self.mutate("AllocateAddress", &about, |w| Ok(w.allocate_address(tags)))
    }

    async fn release_address(&self, allocation_id: &str) -> Result<(), CloudError> {
        gone_is_ok(
            self.mutate("ReleaseAddress", &[allocation_id.to_string()], |w| {
                w.release_address(allocation_id)
            }),
        )
    }

    async fn create_nat_gateway(
        &self,
        subnet_id: &str,
        allocation_id: &str,
        token: &str,
        tags: &Tags,
    ) -> Result<String, CloudError> {
        let about = vec![tags.get(TAG_ID).cloned().unwrap_or_default()];
        self.mutate("CreateNatGateway", &about, |w| {
            w.create_nat_gateway(subnet_id, allocation_id, token, tags)
        })
    }

    async fn delete_nat_gateway(&self, id: &str) -> Result<(), CloudError> {
        gone_is_ok(self.mutate("DeleteNatGateway", &[id.to_string()], |w| {
            w.delete_nat_gateway(id)
        }))
    }

    async fn create_route_table(&self, vpc_id: &str, tags: &Tags) -> Result<String, CloudError> {
        let about = vec![tags.get(TAG_ID).cloned().unwrap_or_default()];
        self.mutate("CreateRouteTable", &about, |w| {
            w.create_route_table(vpc_id, tags)
        })
    }

    async fn create_route(
        &self,
        route_table_id: &str,
        destination: &str,
        gateway_id: &str,
    ) -> Result<(), CloudError> {
        let about = [route_table_id.to_string(), gateway_id.to_string()];
        match self.mutate("CreateRoute", &about, |w| {
            w.create_route(route_table_id, destination, gateway_id)
        }) {
            Err(e) if e.code.as_deref() == Some("RouteAlreadyExists") => {
                self.mutate("ReplaceRoute", &about, |w| {
                    w.replace_route(route_table_id, destination, gateway_id)
                })
            }
            r => r,
        }
    }

    async fn associate_route_table(
        &self,
        route_table_id: &str,
        subnet_id: &str,
    ) -> Result<String, CloudError> {
        self.mutate(
            "AssociateRouteTable",
            &[route_table_id.to_string(), subnet_id.to_string()],
            |w| w.associate(route_table_id, subnet_id),
        )
    }

    async fn disassociate_route_table(&self, association_id: &str) -> Result<(), CloudError> {
        gone_is_ok(self.mutate(
            "DisassociateRouteTable",
            &[association_id.to_string()],
            |w| w.disassociate(association_id),
        ))
    }

    async fn delete_route_table(&self, route_table_id: &str) -> Result<(), CloudError> {
        gone_is_ok(
            self.mutate("DeleteRouteTable", &[route_table_id.to_string()], |w| {
                w.delete_route_table(route_table_id)
            }),
        )
    }

    async fn subnets(&self, vpc: Option<&str>) -> Result<Vec<SubnetInfo>, CloudError> {
        let w = self.read("DescribeSubnets");
        Ok(w.subnets
            .iter()
            .filter(|s| vpc.is_none_or(|v| s.vpc_id == v))
            .cloned()
            .collect())
    }

    async fn resolve_images(
        &self,
        amis: &[String],
    ) -> Result<HashMap<String, ImageInfo>, CloudError> {
        let mut w = self.read("DescribeImages");
        let mut out = HashMap::new();
        for a in amis {
            let arm = a.contains("arm64");
            let id = if a.starts_with("ami-") {
                a.clone()
            } else {
                format!("ami-0sim{}", a.replace(['.', '-'], ""))
            };
            let root = if a.starts_with("ubuntu") {
                "/dev/sda1"
            } else {
                "/dev/xvda"
            };
            w.images.insert(id.clone(), root.to_string());
            out.insert(
                a.clone(),
                ImageInfo {
                    id,
                    name: format!("simulated {a}"),
                    root_device_name: root.into(),
                    architecture: if arm { "arm64" } else { "x86_64" }.into(),
                },
            );
        }
        Ok(out)
    }

    async fn instance_type_info(
        &self,
        instance_type: &str,
    ) -> Result<Option<gm_cost::TypeInfo>, CloudError> {
        self.counter.record("DescribeInstanceTypes");
        Ok(gm_cost::catalog()
            .instance_types
            .get(instance_type)
            .cloned())
    }

    async fn offered_in_zone(&self, _instance_type: &str, _zone: &str) -> Result<bool, CloudError> {
        self.counter.record("DescribeInstanceTypeOfferings");
        Ok(true)
    }

    async fn console_output(&self, instance_id: &str) -> Result<String, CloudError> {
        let w = self.read("GetConsoleOutput");
        if w.instances.contains_key(instance_id) {
            Ok(String::new())
        } else {
            Err(err(
                "GetConsoleOutput",
                "InvalidInstanceID.NotFound",
                format!("the instance ID '{instance_id}' does not exist"),
            ))
        }
    }

    async fn read_lease(&self, deployment: &str) -> Result<Option<String>, CloudError> {
        let w = self.read("GetParameter");
        Ok(w.parameters
            .get(&gm_cloud::lease_parameter(deployment))
            .map(|(v, _)| v.clone()))
    }

    async fn launch(&self, req: &LaunchRequest) -> Result<LaunchOutcome, CloudError> {
        let about = vec![req.instance_tags.get(TAG_ID).cloned().unwrap_or_default()];
        let region = self.region.clone();
        self.mutate("RunInstances", &about, |w| {
            const A: &str = "RunInstances";
            // AWS answers a token it has seen with the instance it made for it; as `Cloud`
            // does, a token naming a terminated instance is followed by the one derived from it.
            let mut token = req.client_token.clone();
            while let Some(id) = w.tokens.get(&token) {
                let gone = w.instances.get(id).is_none_or(|i| i.state == "terminated");
                if !gone {
                    return Ok(LaunchOutcome {
                        instance_id: id.clone(),
                        fell_back_to_on_demand: false,
                    });
                }
                token = gm_cloud::next_launch_token(&token, id);
            }
            let subnet = match &req.subnet_id {
                Some(s) => Some(w.subnets.iter().find(|x| &x.id == s).cloned().ok_or_else(
                    || {
                        err(
                            A,
                            "InvalidSubnetID.NotFound",
                            format!("subnet '{s}' does not exist"),
                        )
                    },
                )?),
                None => None,
            };
            let zone = subnet
                .as_ref()
                .map(|s| s.availability_zone.clone())
                .or_else(|| req.availability_zone.clone())
                .unwrap_or_else(|| format!("{region}a"));
            let subnet = subnet.or_else(|| {
                w.subnets
                    .iter()
                    .find(|s| s.availability_zone == zone)
                    .cloned()
            });
            for g in &req.security_group_ids {
                if !w.groups.contains_key(g) {
                    return Err(err(
                        A,
                        "InvalidGroup.NotFound",
                        format!("the security group '{g}' does not exist"),
                    ));
                }
            }
            if let Some(p) = &req.iam_instance_profile {
                if !w.roles.get(p).is_some_and(|r| r.profile) {
                    return Err(err(
                        A,
                        "InvalidParameterValue",
                        format!("Value ({p}) for parameter iamInstanceProfile.name is invalid"),
                    ));
                }
            }
            let root = w
                .images
                .get(&req.image_id)
                .cloned()
                .unwrap_or_else(|| "/dev/xvda".into());
            let id = w.id("i");
            let mut devices = Vec::new();
            let mut requests = req.block_devices.clone();
            if !requests.iter().any(|b| b.device == root) {
                requests.insert(
                    0,
                    gm_cloud::BlockDeviceRequest {
                        device: root.clone(),
                        size: None,
                        volume_type: "gp3".into(),
                        iops: None,
                        throughput: None,
                        encrypted: false,
                        kms_key: None,
                        delete_on_termination: true,
                    },
                );
            }
            for b in requests {
                let vid = w.id("vol");
                w.volumes.insert(
                    vid.clone(),
                    ActualVolume {
                        id: vid.clone(),
                        size: b.size.unwrap_or(8),
                        volume_type: b.volume_type.clone(),
                        iops: b.iops,
                        throughput: b.throughput,
                        encrypted: b.encrypted,
                        kms_key_id: b.kms_key.clone(),
                        state: "in-use".into(),
                        tags: req.volume_tags.clone(),
                        attachments: vec![Attachment {
                            instance_id: id.clone(),
                            device: b.device.clone(),
                            delete_on_termination: b.delete_on_termination,
                        }],
                        availability_zone: Some(zone.clone()),
                    },
                );
                devices.push(BlockDevice {
                    device: b.device,
                    volume_id: vid,
                    delete_on_termination: b.delete_on_termination,
                });
            }
            let n = w.next_id;
            w.instances.insert(
                id.clone(),
                ActualInstance {
                    id: id.clone(),
                    state: "running".into(),
                    instance_type: req.instance_type.clone(),
                    image_id: req.image_id.clone(),
                    subnet_id: subnet.as_ref().map(|s| s.id.clone()),
                    vpc_id: subnet.as_ref().map(|s| s.vpc_id.clone()),
                    key_name: req.key_name.clone(),
                    spot: req.spot.is_some(),
                    tags: req.instance_tags.clone(),
                    security_group_ids: req.security_group_ids.clone(),
                    availability_zone: Some(zone),
                    private_ip: Some(format!("172.31.{}.{}", (n / 250) % 250, n % 250 + 4)),
                    public_ip: None,
                    launch_time: Some(format!("2026-01-01T00:00:{:02}Z", n % 60)),
                    root_device_name: Some(root),
                    block_devices: devices,
                    recorded: false,
                },
            );
            w.tokens.insert(token, id.clone());
            Ok(LaunchOutcome {
                instance_id: id,
                fell_back_to_on_demand: false,
            })
        })
    }

    async fn create_tags(&self, ids: &[String], tags: &Tags) -> Result<(), CloudError> {
        if tags.is_empty() {
            return Ok(());
        }
        self.mutate("CreateTags", ids, |w| {
            for id in ids {
                set_tags(w, id, |t| t.extend(tags.clone()))?;
            }
            Ok(())
        })
    }

    async fn delete_tags(&self, ids: &[String], keys: &[String]) -> Result<(), CloudError> {
        if keys.is_empty() {
            return Ok(());
        }
        self.mutate("DeleteTags", ids, |w| {
            for id in ids {
                set_tags(w, id, |t| t.retain(|k, _| !keys.contains(k)))?;
            }
            Ok(())
        })
    }

    async fn terminate_instances(&self, ids: &[String]) -> Result<(), CloudError> {
        self.mutate("TerminateInstances", ids, |w| {
            for id in ids {
                instance_mut(w, "TerminateInstances", id)?;
            }
            for id in ids {
                terminate(w, id);
            }
            Ok(())
        })
    }

    async fn stop_instances(&self, ids: &[String]) -> Result<(), CloudError> {
        self.mutate("StopInstances", ids, |w| {
            for id in ids {
                let i = instance_mut(w, "StopInstances", id)?;
                if i.state == "terminated" {
                    return Err(err(
                        "StopInstances",
                        "IncorrectInstanceState",
                        format!("instance '{id}' is terminated"),
                    ));
                }
            }
            for id in ids {
                instance_mut(w, "StopInstances", id)?.state = "stopped".into();
            }
            Ok(())
        })
    }

    async fn start_instances(&self, ids: &[String]) -> Result<(), CloudError> {
        self.mutate("StartInstances", ids, |w| {
            for id in ids {
                let i = instance_mut(w, "StartInstances", id)?;
                if i.state == "terminated" {
                    return Err(err(
                        "StartInstances",
                        "IncorrectInstanceState",
                        format!("instance '{id}' is terminated"),
                    ));
                }
            }
            for id in ids {
                instance_mut(w, "StartInstances", id)?.state = "running".into();
            }
            Ok(())
        })
    }

    async fn modify_instance_type(&self, id: &str, instance_type: &str) -> Result<(), CloudError> {
        self.mutate("ModifyInstanceAttribute", &[id.to_string()], |w| {
            let i = instance_mut(w, "ModifyInstanceAttribute", id)?;
            if i.state != "stopped" {
                return Err(err(
                    "ModifyInstanceAttribute",
                    "IncorrectInstanceState",
                    format!("instance '{id}' is not in the 'stopped' state"),
                ));
            }
            i.instance_type = instance_type.to_string();
            Ok(())
        })
    }

    async fn modify_instance_groups(
        &self,
        id: &str,
        group_ids: &[String],
    ) -> Result<(), CloudError> {
        self.mutate("ModifyInstanceAttribute", &[id.to_string()], |w| {
            if let Some(g) = group_ids.iter().find(|g| !w.groups.contains_key(*g)) {
                return Err(err(
                    "ModifyInstanceAttribute",
                    "InvalidGroup.NotFound",
                    format!("the security group '{g}' does not exist"),
                ));
            }
            instance_mut(w, "ModifyInstanceAttribute", id)?.security_group_ids = group_ids.to_vec();
            Ok(())
        })
    }

    async fn modify_volume(&self, id: &str, change: &VolumeChange) -> Result<(), CloudError> {
        self.mutate("ModifyVolume", &[id.to_string()], |w| {
            let v = w.volumes.get_mut(id).ok_or_else(|| {
                err(
                    "ModifyVolume",
                    "InvalidVolume.NotFound",
                    format!("the volume '{id}' does not exist"),
                )
            })?;
            if let Some(s) = change.size {
                if s < v.size {
                    return Err(err(
                        "ModifyVolume",
                        "InvalidParameterValue",
                        "a volume cannot shrink",
                    ));
                }
                v.size = s;
            }
            if let Some(t) = &change.volume_type {
                v.volume_type = t.clone();
            }
            if change.iops.is_some() {
                v.iops = change.iops;
            }
            if change.throughput.is_some() {
                v.throughput = change.throughput;
            }
            Ok(())
        })
    }

    async fn attach_volume(
        &self,
        volume_id: &str,
        instance_id: &str,
        device: &str,
    ) -> Result<(), CloudError> {
        let about = [volume_id.to_string(), instance_id.to_string()];
        self.mutate("AttachVolume", &about, |w| {
            const A: &str = "AttachVolume";
            let zone = {
                let i = instance_mut(w, A, instance_id)?;
                if i.state == "terminated" {
                    return Err(err(
                        A,
                        "IncorrectInstanceState",
                        format!("instance '{instance_id}' is terminated"),
                    ));
                }
                if i.block_devices.iter().any(|b| b.device == device) {
                    return Err(err(
                        A,
                        "InvalidParameterValue",
                        format!("device {device} is already in use on {instance_id}"),
                    ));
                }
                i.availability_zone.clone()
            };
            let v = w.volumes.get_mut(volume_id).ok_or_else(|| {
                err(
                    A,
                    "InvalidVolume.NotFound",
                    format!("the volume '{volume_id}' does not exist"),
                )
            })?;
            if v.availability_zone != zone {
                return Err(err(
                    A,
                    "InvalidVolume.ZoneMismatch",
                    format!(
                        "volume {volume_id} is in {:?}, the instance in {zone:?}",
                        v.availability_zone
                    ),
                ));
            }
            if !v.attachments.is_empty() {
                return Err(err(
                    A,
                    "VolumeInUse",
                    format!("{volume_id} is already attached"),
                ));
            }
            v.state = "in-use".into();
            v.attachments.push(Attachment {
                instance_id: instance_id.to_string(),
                device: device.to_string(),
                delete_on_termination: false,
            });
            instance_mut(w, A, instance_id)?
                .block_devices
                .push(BlockDevice {
                    device: device.to_string(),
                    volume_id: volume_id.to_string(),
                    delete_on_termination: false,
                });
            Ok(())
        })
    }

    async fn detach_volume(&self, volume_id: &str, instance_id: &str) -> Result<(), CloudError> {
        let about = [volume_id.to_string(), instance_id.to_string()];
        self.mutate("DetachVolume", &about, |w| {
            let v = w.volumes.get_mut(volume_id).ok_or_else(|| {
                err(
                    "DetachVolume",
                    "InvalidVolume.NotFound",
                    format!("the volume '{volume_id}' does not exist"),
                )
            })?;
            if !v.attachments.iter().any(|a| a.instance_id == instance_id) {
                return Err(err(
                    "DetachVolume",
                    "IncorrectState",
                    format!("volume {volume_id} is not attached to {instance_id}"),
                ));
            }
            v.attachments.clear();
            v.state = "available".into();
            if let Some(i) = w.instances.get_mut(instance_id) {
                i.block_devices.retain(|b| b.volume_id != volume_id);
            }
            Ok(())
        })
    }

    async fn delete_volume(&self, id: &str) -> Result<(), CloudError> {
        self.mutate("DeleteVolume", &[id.to_string()], |w| {
            let v = w.volumes.get(id).ok_or_else(|| {
                err(
                    "DeleteVolume",
                    "InvalidVolume.NotFound",
                    format!("the volume '{id}' does not exist"),
                )
            })?;
            if !v.attachments.is_empty() {
                return Err(err(
                    "DeleteVolume",
                    "VolumeInUse",
                    format!("volume {id} is attached"),
                ));
            }
            w.volumes.remove(id);
            Ok(())
        })
    }

    async fn create_security_group(
        &self,
        name: &str,
        _description: &str,
        vpc_id: &str,
        tags: &Tags,
    ) -> Result<String, CloudError> {
        let about = vec![tags.get(TAG_ID).cloned().unwrap_or_default()];
        self.mutate("CreateSecurityGroup", &about, |w| {
            const A: &str = "CreateSecurityGroup";
            if !w.vpc_exists(vpc_id) && !w.subnets.iter().any(|s| s.vpc_id == vpc_id) {
                return Err(err(
                    A,
                    "InvalidVpcID.NotFound",
                    format!("the vpc ID '{vpc_id}' does not exist"),
                ));
            }
            if let Some(g) = w
                .groups
                .values()
                .find(|g| g.name == name && g.vpc_id.as_deref() == Some(vpc_id))
            {
                // As `Cloud` does: a duplicate carrying our deployment and address is ours.
                let ours = g.tags.get(TAG_DEPLOYMENT) == tags.get(TAG_DEPLOYMENT)
                    && g.tags.get(TAG_ID) == tags.get(TAG_ID);
                return if ours {
                    Ok(g.id.clone())
                } else {
                    Err(err(
                        A,
                        "InvalidGroup.Duplicate",
                        format!("the security group '{name}' already exists"),
                    ))
                };
            }
            let id = w.id("sg");
            w.groups.insert(
                id.clone(),
                ActualSg {
                    id: id.clone(),
                    name: name.to_string(),
                    vpc_id: Some(vpc_id.to_string()),
                    tags: tags.clone(),
                    ingress: Vec::new(),
                },
            );
            Ok(id)
        })
    }

    async fn authorize_ingress(&self, sg_id: &str, rules: &[Rule]) -> Result<(), CloudError> {
        if rules.is_empty() {
            return Ok(());
        }
        self.mutate("AuthorizeSecurityGroupIngress", &[sg_id.to_string()], |w| {
            let g = w.groups.get_mut(sg_id).ok_or_else(|| {
                err(
                    "AuthorizeSecurityGroupIngress",
                    "InvalidGroup.NotFound",
                    format!("the security group '{sg_id}' does not exist"),
                )
            })?;
            for r in rules {
                // "Already there" is success, as `Cloud` treats InvalidPermission.Duplicate.
                if !g.ingress.contains(r) {
                    g.ingress.push(r.clone());
                }
            }
            Ok(())
        })
    }

    async fn revoke_ingress(&self, sg_id: &str, rules: &[Rule]) -> Result<(), CloudError> {
        if rules.is_empty() {
            return Ok(());
        }
        self.mutate("RevokeSecurityGroupIngress", &[sg_id.to_string()], |w| {
            let g = w.groups.get_mut(sg_id).ok_or_else(|| {
                err(
                    "RevokeSecurityGroupIngress",
                    "InvalidGroup.NotFound",
                    format!("the security group '{sg_id}' does not exist"),
                )
            })?;
            g.ingress.retain(|r| !rules.contains(r));
            Ok(())
        })
    }

    async fn delete_security_group(&self, sg_id: &str) -> Result<(), CloudError> {
        self.mutate("DeleteSecurityGroup", &[sg_id.to_string()], |w| {
            if !w.groups.contains_key(sg_id) {
                return Err(err(
                    "DeleteSecurityGroup",
                    "InvalidGroup.NotFound",
                    format!("the security group '{sg_id}' does not exist"),
                ));
            }
            if let Some(user) = group_in_use(w, sg_id) {
                return Err(err(
                    "DeleteSecurityGroup",
                    "DependencyViolation",
                    format!("resource {sg_id} has a dependent object: {user}"),
                ));
            }
            w.groups.remove(sg_id);
            Ok(())
        })
    }

    async fn create_role(&self, role: &DesiredRole) -> Result<String, CloudError> {
        let about = vec![role.aws_name.clone()];
        let arn = self.mutate("CreateRole", &about, |w| {
            if let Some(r) = w.roles.get(&role.aws_name) {
                // As `Cloud` does: one with our path and deployment tag is ours.
                let ours = r.path == role.path
                    && r.tags.get(TAG_DEPLOYMENT) == role.tags.get(TAG_DEPLOYMENT);
                return if ours {
                    Ok(r.arn.clone())
                } else {
                    Err(err(
                        "CreateRole",
                        "EntityAlreadyExists",
                        format!("role with name {} already exists", role.aws_name),
                    ))
                };
            }
            let arn = format!(
                "arn:aws:iam::123456789012:role{}{}",
                role.path, role.aws_name
            );
            w.roles.insert(
                role.aws_name.clone(),
                SimRole {
                    path: role.path.clone(),
                    arn: arn.clone(),
                    tags: role.tags.clone(),
                    ..SimRole::default()
                },
            );
            Ok(arn)
        })?;
        self.update_role(
            role,
            &role.managed_policies,
            &[],
            Some(role.secrets_policy.is_some()),
            true,
        )
        .await?;
        Ok(arn)
    }

    async fn update_role(
        &self,
        role: &DesiredRole,
        attach: &[String],
        detach: &[String],
        secrets_policy: Option<bool>,
        repair_profile: bool,
    ) -> Result<(), CloudError> {
        let about = vec![role.aws_name.clone()];
        let missing = |a: &str| {
            err(
                a,
                "NoSuchEntity",
                format!("the role {} cannot be found", role.aws_name),
            )
        };
        match (secrets_policy, &role.secrets_policy) {
            (Some(true), Some(doc)) => self.mutate("PutRolePolicy", &about, |w| {
                let r = w
                    .roles
                    .get_mut(&role.aws_name)
                    .ok_or_else(|| missing("PutRolePolicy"))?;
                r.secrets_policy = Some(doc.clone());
                Ok(())
            })?,
            (Some(false), _) => {
                let has = self
                    .lock()
                    .roles
                    .get(&role.aws_name)
                    .is_some_and(|r| r.secrets_policy.is_some());
                if has {
                    self.mutate("DeleteRolePolicy", &about, |w| {
                        if let Some(r) = w.roles.get_mut(&role.aws_name) {
                            r.secrets_policy = None;
                        }
                        Ok(())
                    })?;
                }
            }
            _ => {}
        }
        for arn in attach {
            self.mutate("AttachRolePolicy", &about, |w| {
                let r = w
                    .roles
                    .get_mut(&role.aws_name)
                    .ok_or_else(|| missing("AttachRolePolicy"))?;
                if !r.managed_policies.contains(arn) {
                    r.managed_policies.push(arn.clone());
                }
                Ok(())
            })?;
        }
        for arn in detach {
            self.mutate("DetachRolePolicy", &about, |w| {
                if let Some(r) = w.roles.get_mut(&role.aws_name) {
                    r.managed_policies.retain(|a| a != arn);
                }
                Ok(())
            })?;
        }
        if repair_profile {
            let (profile, has_role) = self
                .lock()
                .roles
                .get(&role.aws_name)
                .map_or((false, false), |r| (r.profile, r.profile_has_role));
            if !profile {
                self.mutate("CreateInstanceProfile", &about, |w| {
                    w.roles
                        .get_mut(&role.aws_name)
                        .ok_or_else(|| missing("CreateInstanceProfile"))?
                        .profile = true;
                    Ok(())
                })?;
            }
            if !has_role {
                self.mutate("AddRoleToInstanceProfile", &about, |w| {
                    let r = w
                        .roles
                        .get_mut(&role.aws_name)
                        .ok_or_else(|| missing("AddRoleToInstanceProfile"))?;
                    r.profile_has_role = r.profile;
                    Ok(())
                })?;
            }
        }
        Ok(())
    }

    async fn delete_role(&self, name: &str) -> Result<(), CloudError> {
        // As `Cloud` does: profile, policies and role, each "already gone" being success.
        let about = vec![name.to_string()];
        self.mutate("DeleteRole", &about, |w| {
            w.roles.remove(name);
            Ok(())
        })
    }

    async fn put_secret(
        &self,
        parameter: &str,
        value: &str,
        tags: &Tags,
    ) -> Result<bool, CloudError> {
        self.mutate("PutParameter", &[parameter.to_string()], |w| {
            if w.parameters.contains_key(parameter) {
                return Ok(false);
            }
            w.parameters
                .insert(parameter.to_string(), (value.to_string(), tags.clone()));
            Ok(true)
        })
    }

    async fn delete_secrets(&self, parameters: &[String]) -> Result<(), CloudError> {
        if parameters.is_empty() {
            return Ok(());
        }
        self.mutate("DeleteParameters", parameters, |w| {
            for p in parameters {
                w.parameters.remove(p);
            }
            Ok(())
        })
    }

    async fn create_lease(&self, deployment: &str, value: &str) -> Result<bool, CloudError> {
        let name = gm_cloud::lease_parameter(deployment);
        self.mutate("PutParameter", std::slice::from_ref(&name), |w| {
            if w.parameters.contains_key(&name) {
                return Ok(false);
            }
            w.parameters
                .insert(name.clone(), (value.to_string(), Tags::new()));
            Ok(true)
        })
    }

    async fn write_lease(&self, deployment: &str, value: &str) -> Result<(), CloudError> {
        let name = gm_cloud::lease_parameter(deployment);
        self.mutate("PutParameter", std::slice::from_ref(&name), |w| {
            let tags = w
                .parameters
                .get(&name)
                .map(|(_, t)| t.clone())
                .unwrap_or_default();
            w.parameters.insert(name.clone(), (value.to_string(), tags));
            Ok(())
        })
    }

    async fn delete_lease(&self, deployment: &str) -> Result<(), CloudError> {
        let name = gm_cloud::lease_parameter(deployment);
        self.mutate("DeleteParameter", std::slice::from_ref(&name), |w| {
            w.parameters.remove(&name);
            Ok(())
        })
    }

    async fn create_lb(
        &self,
        lb: &DesiredLb,
        subnets: &[String],
        vpc_id: &str,
        security_groups: &[String],
        existing_tg: Option<&str>,
    ) -> Result<(String, String, String), CloudError> {
        let about = vec![lb.aws_name.clone()];
        let region = self.region.clone();
        let tg_arn = match existing_tg {
            Some(t) => t.to_string(),
            None => self.mutate("CreateTargetGroup", &about, |w| {
                if let Some(t) = w.target_groups.values().find(|t| t.name == lb.aws_name) {
                    return Ok(t.arn.clone());
                }
                let arn = format!(
                    "arn:aws:elasticloadbalancing:{region}:123456789012:targetgroup/{}/{}",
                    lb.aws_name,
                    w.id("tg")
                );
                w.target_groups.insert(
                    arn.clone(),
                    ActualTargetGroup {
                        arn: arn.clone(),
                        name: lb.aws_name.clone(),
                        port: i32::from(lb.port),
                        health_check: lb.health_check.clone(),
                        targets: Vec::new(),
                        health: Vec::new(),
                    },
                );
                Ok(arn)
            })?,
        };
        let (arn, dns) = self.mutate("CreateLoadBalancer", &about, |w| {
            if let Some(g) = security_groups.iter().find(|g| !w.groups.contains_key(*g)) {
                return Err(err(
                    "CreateLoadBalancer",
                    "SecurityGroupNotFound",
                    format!("security group '{g}' not found"),
                ));
            }
            if let Some(l) = w.load_balancers.values().find(|l| l.name == lb.aws_name) {
                return Ok((l.arn.clone(), l.dns_name.clone()));
            }
            let arn = format!(
                "arn:aws:elasticloadbalancing:{region}:123456789012:loadbalancer/app/{}/{}",
                lb.aws_name,
                w.id("lb")
            );
            let dns = format!("{}.{region}.elb.simulated", lb.aws_name);
            w.load_balancers.insert(
                arn.clone(),
                ActualLb {
                    arn: arn.clone(),
                    name: lb.aws_name.clone(),
                    dns_name: dns.clone(),
                    state: "active".into(),
                    vpc_id: vpc_id.to_string(),
                    subnets: subnets.to_vec(),
                    security_groups: security_groups.to_vec(),
                    tags: lb.tags.clone(),
                    listeners: Vec::new(),
                },
            );
            Ok((arn, dns))
        })?;
        // As `Cloud` does: the listeners are created with the load balancer.
        self.create_listeners(&arn, &tg_arn, lb).await?;
        Ok((arn, tg_arn, dns))
    }

    async fn create_listeners(
        &self,
        arn: &str,
        _tg_arn: &str,
        lb: &DesiredLb,
    ) -> Result<(), CloudError> {
        for l in lb.listeners() {
            self.mutate("CreateListener", &[arn.to_string()], |w| {
                let found = w.load_balancers.get_mut(arn).ok_or_else(|| {
                    err(
                        "CreateListener",
                        "LoadBalancerNotFound",
                        format!("load balancer '{arn}' not found"),
                    )
                })?;
                if !found.listeners.iter().any(|x| x.port == l.port) {
                    found.listeners.push(l.clone());
                }
                Ok(())
            })?;
        }
        Ok(())
    }

    async fn replace_listeners(
        &self,
        arn: &str,
        _tg_arn: &str,
        lb: &DesiredLb,
    ) -> Result<(), CloudError> {
        let want: Vec<Listener> = lb.listeners();
        self.mutate("ModifyListener", &[arn.to_string()], |w| {
            let found = w.load_balancers.get_mut(arn).ok_or_else(|| {
                err(
                    "ModifyListener",
                    "LoadBalancerNotFound",
                    format!("load balancer '{arn}' not found"),
                )
            })?;
            found.listeners = want;
            Ok(())
        })
    }

    async fn set_health_check(&self, tg_arn: &str, path: &str) -> Result<(), CloudError> {
        self.mutate("ModifyTargetGroup", &[tg_arn.to_string()], |w| {
            let t = w.target_groups.get_mut(tg_arn).ok_or_else(|| {
                err(
                    "ModifyTargetGroup",
                    "TargetGroupNotFound",
                    format!("target group '{tg_arn}' not found"),
                )
            })?;
            t.health_check = path.to_string();
            Ok(())
        })
    }

    async fn sync_targets(
        &self,
        tg_arn: &str,
        _port: u16,
        instance_ids: &[String],
    ) -> Result<(), CloudError> {
        self.mutate("RegisterTargets", &[tg_arn.to_string()], |w| {
            if let Some(i) = instance_ids
                .iter()
                .find(|i| w.instances.get(*i).is_none_or(|x| x.state == "terminated"))
            {
                return Err(err(
                    "RegisterTargets",
                    "InvalidTarget",
                    format!("the instance '{i}' is not in a valid state"),
                ));
            }
            let t = w.target_groups.get_mut(tg_arn).ok_or_else(|| {
                err(
                    "RegisterTargets",
                    "TargetGroupNotFound",
                    format!("target group '{tg_arn}' not found"),
                )
            })?;
            t.targets = instance_ids.to_vec();
            t.health = instance_ids
                .iter()
                .map(|i| (i.clone(), "healthy".to_string()))
                .collect();
            Ok(())
        })
    }

    async fn delete_lb(
        &self,
        arn: Option<&str>,
        tg_arn: Option<&str>,
        _timeout: Duration,
    ) -> Result<(), CloudError> {
        if let Some(a) = arn {
            self.mutate("DeleteLoadBalancer", &[a.to_string()], |w| {
                w.load_balancers.remove(a);
                Ok(())
            })?;
        }
        if let Some(t) = tg_arn {
            self.mutate("DeleteTargetGroup", &[t.to_string()], |w| {
                w.target_groups.remove(t);
                Ok(())
            })?;
        }
        Ok(())
    }

    async fn create_cdn(
        &self,
        cdn: &DesiredCdn,
        origin: &str,
    ) -> Result<(String, String), CloudError> {
        self.mutate(
            "CreateDistributionWithTags",
            std::slice::from_ref(&cdn.comment),
            |w| {
                let id = w.id("E").to_uppercase().replace('-', "");
                let domain = format!("{}.cloudfront.simulated", id.to_lowercase());
                w.distributions.insert(
                    id.clone(),
                    SimCdn {
                        cdn: ActualCdn {
                            id: id.clone(),
                            arn: format!("arn:aws:cloudfront::123456789012:distribution/{id}"),
                            domain_name: domain.clone(),
                            enabled: true,
                            status: "Deployed".into(),
                            origin: origin.to_string(),
                            price_class: cdn.price_class.clone(),
                        },
                        comment: cdn.comment.clone(),
                        tags: cdn.tags.clone(),
                    },
                );
                Ok((id, domain))
            },
        )
    }

    async fn update_cdn(&self, id: &str, cdn: &DesiredCdn, origin: &str) -> Result<(), CloudError> {
        self.mutate("UpdateDistribution", &[id.to_string()], |w| {
            let d = w
                .distributions
                .get_mut(id)
                .map(|d| &mut d.cdn)
                .ok_or_else(|| {
                    err(
                        "UpdateDistribution",
                        "NoSuchDistribution",
                        format!("distribution '{id}' not found"),
                    )
                })?;
            d.origin = origin.to_string();
            d.price_class = cdn.price_class.clone();
            Ok(())
        })
    }

    async fn delete_cdn(&self, id: &str, _timeout: Duration) -> Result<(), CloudError> {
        self.mutate("DeleteDistribution", &[id.to_string()], |w| {
            w.distributions.remove(id);
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(dep: &str, id: &str) -> Tags {
        [
            (TAG_DEPLOYMENT.to_string(), dep.to_string()),
            (TAG_ID.to_string(), id.to_string()),
        ]
        .into_iter()
        .collect()
    }

    fn launch_req(token: &str, groups: Vec<String>) -> LaunchRequest {
        LaunchRequest {
            client_token: token.into(),
            image_id: "ami-0sim".into(),
            instance_type: "t3.micro".into(),
            key_name: None,
            subnet_id: None,
            security_group_ids: groups,
            spot: None,
            iam_instance_profile: None,
            user_data: None,
            block_devices: Vec::new(),
            instance_tags: tags("d", "instance/web/0"),
            volume_tags: tags("d", "instance/web/0"),
            availability_zone: None,
        }
    }

    #[tokio::test]
    async fn a_group_in_use_by_an_instance_or_a_rule_is_refused_as_aws_refuses_it() {
        let sim = Sim::default();
        let vpc = sim.default_vpc().await.unwrap();
        let a = sim
            .create_security_group("a", "a", &vpc, &tags("d", "sg/a"))
            .await
            .unwrap();
        let b = sim
            .create_security_group("b", "b", &vpc, &tags("d", "sg/b"))
            .await
            .unwrap();
        let from_a = Rule {
            protocol: "tcp".into(),
            from: 80,
            to: 80,
            source: RuleSource::Group(GroupRef::Id(a.clone())),
        };
        sim.authorize_ingress(&b, std::slice::from_ref(&from_a))
            .await
            .unwrap();
        let e = sim.delete_security_group(&a).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::InUse, "{e}");
        let i = sim
            .launch(&launch_req("t1", vec![b.clone()]))
            .await
            .unwrap();
        let e = sim.delete_security_group(&b).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::InUse, "{e}");
        sim.terminate_instances(&[i.instance_id]).await.unwrap();
        sim.delete_security_group(&b).await.unwrap();
        sim.delete_security_group(&a).await.unwrap();
        let e = sim.delete_security_group(&a).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::NotFound, "{e}");
    }

    #[tokio::test]
    async fn a_token_answers_with_its_instance_until_that_is_terminated() {
        let sim = Sim::default();
        let first = sim.launch(&launch_req("tok", vec![])).await.unwrap();
        let again = sim.launch(&launch_req("tok", vec![])).await.unwrap();
        assert_eq!(first.instance_id, again.instance_id);
        assert_eq!(sim.world().live_instances().count(), 1);
        sim.terminate_instances(std::slice::from_ref(&first.instance_id))
            .await
            .unwrap();
        let fresh = sim.launch(&launch_req("tok", vec![])).await.unwrap();
        assert_ne!(fresh.instance_id, first.instance_id);
        let once_more = sim.launch(&launch_req("tok", vec![])).await.unwrap();
        assert_eq!(once_more.instance_id, fresh.instance_id);
        // The root volume went with the terminated instance.
        assert_eq!(sim.world().volumes.len(), 1);
    }

    #[tokio::test]
    async fn a_volume_attaches_only_in_its_zone_and_is_deleted_only_when_free() {
        let sim = Sim::default();
        let i = sim.launch(&launch_req("t", vec![])).await.unwrap();
        let vol = sim.with_world(|w| {
            let id = w.id("vol");
            w.volumes.insert(
                id.clone(),
                ActualVolume {
                    id: id.clone(),
                    size: 10,
                    state: "available".into(),
                    availability_zone: Some("us-east-1b".into()),
                    ..ActualVolume::default()
                },
            );
            id
        });
        let e = sim
            .attach_volume(&vol, &i.instance_id, "/dev/sdf")
            .await
            .unwrap_err();
        assert_eq!(e.code.as_deref(), Some("InvalidVolume.ZoneMismatch"));
        sim.with_world(|w| {
            if let Some(v) = w.volumes.get_mut(&vol) {
                v.availability_zone = Some("us-east-1a".into());
            }
        });
        sim.attach_volume(&vol, &i.instance_id, "/dev/sdf")
            .await
            .unwrap();
        let e = sim.delete_volume(&vol).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::InUse);
        sim.detach_volume(&vol, &i.instance_id).await.unwrap();
        sim.delete_volume(&vol).await.unwrap();
    }

    #[tokio::test]
    async fn a_lost_answer_performs_the_call_and_an_error_does_not() {
        let sim = Sim::default();
        let vpc = sim.default_vpc().await.unwrap();
        sim.fail_call(1, Failure::Error);
        sim.fail_call(2, Failure::LostAnswer);
        let e = sim
            .create_security_group("a", "a", &vpc, &tags("d", "sg/a"))
            .await
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Other);
        assert!(sim.world().groups.is_empty());
        let e = sim
            .create_security_group("a", "a", &vpc, &tags("d", "sg/a"))
            .await
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Unreachable);
        assert_eq!(sim.world().holds_any_of("d").len(), 1);
        // As `Cloud` adopts it: the retry finds its own group.
        let id = sim
            .create_security_group("a", "a", &vpc, &tags("d", "sg/a"))
            .await
            .unwrap();
        assert_eq!(sim.world().groups.len(), 1);
        assert!(sim.world().groups.contains_key(&id));
        assert_eq!(sim.mutations().len(), 3);
        assert!(sim.failures_pending().is_empty());
    }
}
