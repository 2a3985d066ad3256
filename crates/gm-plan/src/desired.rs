//! The resources a deployment should have, derived from its spec.

use serde::Serialize;
use sha2::{Digest, Sha256};

use gm_spec::{
    InstanceGroupSpec, LoadedSpec, Market, Protocol, RootVolumeSpec, SpotSpec, VolumeSpec,
};

use crate::{
    iam_path, role_name, secrets_path, Address, DesiredRole, GroupRef, Rule, RuleSource, SubnetRef,
    Tags, VpcRef, TAG_AMI, TAG_DEPLOYMENT, TAG_ID, TAG_INSTANCE, TAG_LAUNCH, TAG_MANAGED,
    TAG_MARKET, TAG_USER_DATA,
};

/// Everything a spec asks for, with logical addresses and final tags.
#[derive(Debug, Clone, Serialize)]
pub struct Desired {
    /// Deployment name.
    pub deployment: String,
    /// Security groups to own.
    pub security_groups: Vec<DesiredSg>,
    /// Instances, one entry per copy (`instance/web/0`, `instance/web/1`, …).
    pub instances: Vec<DesiredInstance>,
    /// IAM roles with their instance profiles.
    pub roles: Vec<DesiredRole>,
    /// Generated secrets in SSM Parameter Store.
    pub secrets: Vec<DesiredSecret>,
    /// The load balancer in front of an instance group.
    pub load_balancer: Option<crate::DesiredLb>,
    /// The distribution in front of the load balancer.
    pub cdn: Option<crate::DesiredCdn>,
    /// The deployment's own network; the default VPC without one.
    pub network: Option<crate::DesiredNetwork>,
}

/// A secret the deployment generates once and keeps.
#[derive(Debug, Clone, Serialize)]
pub struct DesiredSecret {
    /// Logical address, `secret/NAME`.
    pub id: String,
    /// SSM parameter name, `/geusemaker/DEPLOYMENT/NAME`.
    pub parameter: String,
    /// Length of the generated value.
    pub length: u32,
    /// Final tags.
    pub tags: Tags,
}

/// A security group the deployment owns.
#[derive(Debug, Clone, Serialize)]
pub struct DesiredSg {
    /// Logical address, `sg/NAME`.
    pub id: String,
    /// Spec name.
    pub name: String,
    /// Name in AWS: `DEPLOYMENT-NAME`.
    pub aws_name: String,
    /// Description.
    pub description: String,
    /// Where it lives.
    pub vpc: VpcRef,
    /// Inbound rules.
    pub ingress: Vec<Rule>,
    /// Final tags.
    pub tags: Tags,
}

/// One instance the deployment should have.
#[derive(Debug, Clone, Serialize)]
pub struct DesiredInstance {
    /// Logical address, `instance/GROUP/INDEX`.
    pub id: String,
    /// Group name.
    pub group: String,
    /// Index within the group.
    pub index: u32,
    /// Instance type.
    pub instance_type: String,
    /// AMI alias or id, as written.
    pub ami: String,
    /// Key pair.
    pub key_pair: Option<String>,
    /// Its subnet; the default VPC's default subnet when `None`.
    pub subnet: Option<SubnetRef>,
    /// The zone a launch goes to when no subnet decides it (the default VPC's subnet there).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    /// Security groups.
    pub security_groups: Vec<GroupRef>,
    /// Market asked for.
    pub market: Market,
    /// Spot options.
    pub spot: Option<SpotSpec>,
    /// Instance profile name.
    pub iam_instance_profile: Option<String>,
    /// Final user data (wrapped), not base64.
    #[serde(skip)]
    pub user_data: Option<String>,
    /// Root volume settings.
    pub root_volume: Option<RootVolumeSpec>,
    /// Data volumes.
    pub volumes: Vec<VolumeSpec>,
    /// Final instance tags (launch tags included).
    pub tags: Tags,
    /// Final tags of its volumes.
    pub volume_tags: Tags,
}

impl DesiredInstance {
    /// The value of a launch tag this instance is created with.
    pub fn launch_tag(&self, key: &str) -> Option<&str> {
        self.tags.get(key).map(String::as_str)
    }
}

/// Derives the desired resources from a loaded spec.
pub fn desire(loaded: &LoadedSpec) -> Desired {
    let spec = &loaded.spec;
    let base = |id: &str, name: String| {
        let mut t = spec.tags.clone();
        t.insert(TAG_DEPLOYMENT.into(), spec.deployment.clone());
        t.insert(TAG_ID.into(), id.to_string());
        t.insert(TAG_MANAGED.into(), "true".into());
        t.insert("Name".into(), name);
        t
    };
    let security_groups = spec
        .security_groups
        .iter()
        .map(|g| {
            let id = Address::group(&g.name).to_string();
            let aws_name = format!("{}-{}", spec.deployment, g.name);
            let mut tags = base(&id, aws_name.clone());
            tags.extend(g.tags.clone());
            DesiredSg {
                id,
                name: g.name.clone(),
                description: g
                    .description
                    .clone()
                    .unwrap_or_else(|| format!("GeuseMaker {} {}", spec.deployment, g.name)),
                vpc: match (g.vpc.as_deref(), spec.network.as_ref().map(|n| &n.vpc)) {
                    (None, Some(gm_spec::VpcSpec::Create(_))) => VpcRef::Ours,
                    (None, Some(gm_spec::VpcSpec::Existing(v))) => VpcRef::Id(v.clone()),
                    (None | Some("default"), _) => VpcRef::Default,
                    (Some(v), _) => VpcRef::Id(v.to_string()),
                },
                ingress: g.ingress.iter().map(rule).collect(),
                aws_name,
                tags,
            }
        })
        .collect();
    let mut instances = Vec::new();
    for (gi, g) in spec.instances.iter().enumerate() {
        let ud = loaded.user_data.get(gi).cloned().flatten();
        let launch = launch_digest(g);
        for index in 0..g.count {
            let id = Address::instance(&g.name, index).to_string();
            let name = format!("{}-{}-{index}", spec.deployment, g.name);
            let mut tags = base(&id, name.clone());
            tags.extend(g.tags.clone());
            let mut volume_tags = tags.clone();
            volume_tags.insert(TAG_ID.into(), Address::volume(&g.name, index).into());
            volume_tags.insert(TAG_INSTANCE.into(), id.clone());
            tags.insert(TAG_AMI.into(), g.ami.clone());
            tags.insert(
                TAG_USER_DATA.into(),
                ud.as_deref()
                    .map_or_else(|| "none".to_string(), gm_spec::user_data::digest),
            );
            tags.insert(TAG_MARKET.into(), g.market.as_str().into());
            tags.insert(TAG_LAUNCH.into(), launch.clone());
            instances.push(DesiredInstance {
                id,
                group: g.name.clone(),
                index,
                instance_type: g.instance_type.clone(),
                ami: g.ami.clone(),
                key_pair: g.key_pair.clone(),
                subnet: subnet_ref(spec, g.subnet.as_deref(), g.zone.as_deref()),
                // A subnet decides its zone; only the default VPC's is chosen by zone.
                zone: g
                    .zone
                    .clone()
                    .filter(|_| g.subnet.is_none() && spec.network.is_none()),
                security_groups: g.security_groups.iter().map(|s| group_ref(s)).collect(),
                market: g.market,
                spot: g.spot.clone(),
                iam_instance_profile: g
                    .iam_instance_profile
                    .clone()
                    .or_else(|| g.role.as_ref().map(|r| role_name(&spec.deployment, r))),
                user_data: ud.clone(),
                root_volume: g.root_volume.clone(),
                volumes: g.volumes.clone(),
                tags,
                volume_tags,
            });
        }
    }
    let roles = spec
        .roles
        .iter()
        .map(|r| {
            let id = Address::role(&r.name).to_string();
            let aws_name = role_name(&spec.deployment, &r.name);
            DesiredRole {
                tags: base(&id, aws_name.clone()),
                id,
                name: r.name.clone(),
                path: iam_path(&spec.deployment),
                secrets_policy: r.read_secrets.then(|| secrets_policy(&spec.deployment)),
                managed_policies: r.managed_policies.clone(),
                aws_name,
            }
        })
        .collect();
    let secrets = spec
        .secrets
        .iter()
        .map(|x| {
            let id = Address::secret(&x.name).to_string();
            let parameter = format!("{}/{}", secrets_path(&spec.deployment), x.name);
            DesiredSecret {
                tags: base(&id, parameter.clone()),
                id,
                parameter,
                length: x.length,
            }
        })
        .collect();
    let load_balancer = spec.load_balancer.as_ref().map(|lb| {
        let aws_name = crate::lb_name(&spec.deployment);
        let mut tags = base(crate::LB_ADDRESS, aws_name.clone());
        tags.extend(lb.tags.clone());
        crate::DesiredLb {
            aws_name,
            target: lb.target.clone(),
            port: lb.port,
            health_check: lb.health_check.clone(),
            certificate_arn: lb.certificate_arn.clone(),
            subnets: match (&spec.network, lb.subnets.is_empty()) {
                (Some(n), true) => n
                    .subnets
                    .iter()
                    .filter(|x| x.public)
                    .map(|x| SubnetRef::Ours(crate::subnet_address(&x.name)))
                    .collect(),
                _ => lb
                    .subnets
                    .iter()
                    .filter_map(|s| subnet_ref(spec, Some(s), None))
                    .collect(),
            },
            security_groups: lb.security_groups.iter().map(|s| group_ref(s)).collect(),
            tags,
        }
    });
    let cdn = spec.cdn.as_ref().map(|c| {
        let mut tags = base(crate::CDN_ADDRESS, format!("{}-cdn", spec.deployment));
        tags.extend(c.tags.clone());
        crate::DesiredCdn {
            comment: crate::cdn_comment(&spec.deployment),
            price_class: c.price_class.as_api().to_string(),
            https_origin: spec
                .load_balancer
                .as_ref()
                .is_some_and(|lb| lb.certificate_arn.is_some()),
            cache_policy_id: crate::edge::CACHING_DISABLED.to_string(),
            origin_request_policy_id: crate::edge::ALL_VIEWER.to_string(),
            tags,
        }
    });
    let network = spec.network.as_ref().map(|n| {
        let tags_for = |id: &str, name: String| {
            let mut t = base(id, name);
            t.extend(n.tags.clone());
            t
        };
        crate::DesiredNetwork {
            vpc: match &n.vpc {
                gm_spec::VpcSpec::Existing(id) => crate::DesiredVpc::Existing { id: id.clone() },
                gm_spec::VpcSpec::Create(v) => crate::DesiredVpc::Ours {
                    cidr: v.cidr.clone(),
                    tags: tags_for(crate::VPC_ADDRESS, spec.deployment.clone()),
                },
            },
            subnets: n
                .subnets
                .iter()
                .map(|x| {
                    let id = crate::subnet_address(&x.name);
                    crate::DesiredSubnet {
                        tags: tags_for(&id, format!("{}-{}", spec.deployment, x.name)),
                        id,
                        name: x.name.clone(),
                        zone: (x.zone != "auto").then(|| x.zone.clone()),
                        cidr: x.cidr.clone(),
                        public: x.public,
                    }
                })
                .collect(),
            gateway_tags: tags_for(crate::IGW_ADDRESS, format!("{}-igw", spec.deployment)),
            route_table_tags: tags_for(
                crate::ROUTE_TABLE_ADDRESS,
                format!("{}-public", spec.deployment),
            ),
            nat: n
                .nat_gateway
                .then(|| n.subnets.iter().find(|x| x.public))
                .flatten()
                .map(|first_public| crate::DesiredNat {
                    subnet: crate::subnet_address(&first_public.name),
                    tags: tags_for(crate::NAT_ADDRESS, format!("{}-nat", spec.deployment)),
                    address_tags: tags_for(crate::EIP_ADDRESS, format!("{}-nat", spec.deployment)),
                    route_table_tags: tags_for(
                        crate::PRIVATE_ROUTE_TABLE_ADDRESS,
                        format!("{}-private", spec.deployment),
                    ),
                }),
        }
    });
    Desired {
        deployment: spec.deployment.clone(),
        network,
        security_groups,
        instances,
        roles,
        secrets,
        load_balancer,
        cdn,
    }
}

/// The inline policy that lets a role read (only) its deployment's secrets.
fn secrets_policy(deployment: &str) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "ReadDeploymentSecrets",
            "Effect": "Allow",
            "Action": ["ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath"],
            "Resource": format!("arn:aws:ssm:*:*:parameter{}/*", secrets_path(deployment)),
        }]
    })
    .to_string()
}

/// A subnet as written (a name of the spec's network, or an id); with a network and none
/// written, its subnet written with `zone` or else its first subnet.
fn subnet_ref(
    spec: &gm_spec::Spec,
    written: Option<&str>,
    zone: Option<&str>,
) -> Option<SubnetRef> {
    let net = spec.network.as_ref();
    match written {
        Some(s) if net.is_some_and(|n| n.subnets.iter().any(|x| x.name == s)) => {
            Some(SubnetRef::Ours(crate::subnet_address(s)))
        }
        Some(s) => Some(SubnetRef::Id(s.to_string())),
        None => net
            .and_then(|n| {
                zone.and_then(|z| n.subnets.iter().find(|x| x.zone == z))
                    .or(n.subnets.first())
            })
            .map(|x| SubnetRef::Ours(crate::subnet_address(&x.name))),
    }
}

fn group_ref(s: &str) -> GroupRef {
    if gm_spec::is_aws_id(s, "sg") {
        GroupRef::Id(s.to_string())
    } else {
        GroupRef::Ours(s.to_string())
    }
}

fn rule(r: &gm_spec::RuleSpec) -> Rule {
    let (protocol, from, to) = match r.protocol {
        Protocol::All => ("-1".to_string(), -1, -1),
        Protocol::Icmp => ("icmp".to_string(), -1, -1),
        Protocol::Tcp | Protocol::Udp => {
            let p = if r.protocol == Protocol::Tcp {
                "tcp"
            } else {
                "udp"
            };
            let (a, b) = match (r.port, r.ports.as_deref().and_then(gm_spec::parse_range)) {
                (Some(port), _) => (port, port),
                (None, Some(range)) => range,
                (None, None) => (0, 65535),
            };
            (p.to_string(), i32::from(a), i32::from(b))
        }
    };
    let source = match (&r.cidr, &r.source_group) {
        (Some(c), _) => RuleSource::Cidr(c.clone()),
        (None, Some(g)) => RuleSource::Group(group_ref(g)),
        (None, None) => RuleSource::Cidr("0.0.0.0/0".into()),
    };
    Rule {
        protocol,
        from,
        to,
        source,
    }
}

/// Digest of the launch-only settings that have no tag of their own: changing any of them
/// means a new instance.
fn launch_digest(g: &InstanceGroupSpec) -> String {
    let mut h = Sha256::new();
    let mut put = |k: &str, v: String| {
        h.update(k.as_bytes());
        h.update([0]);
        h.update(v.as_bytes());
        h.update([0]);
    };
    put(
        "profile",
        g.iam_instance_profile.clone().unwrap_or_default(),
    );
    if let Some(s) = &g.spot {
        put(
            "spot",
            format!("{:?}/{}", s.max_price, s.interruption.as_str()),
        );
    }
    if let Some(r) = &g.root_volume {
        put("root", format!("{}/{:?}", r.encrypted, r.kms_key));
    }
    for v in &g.volumes {
        put(
            "volume",
            format!(
                "{}/{}/{:?}/{}",
                v.device, v.encrypted, v.kms_key, v.delete_on_termination
            ),
        );
    }
    hex::encode(&h.finalize()[..6])
}
