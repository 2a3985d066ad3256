//! The network kinds: a VPC, its subnets, the internet gateway and the public route table,
//! and, when asked for, a NAT gateway (with its Elastic IP) and the private subnets' route table.
//!
//! A created VPC is owned: everything in it that carries the deployment's tags is ours. A
//! referenced VPC (`vpc: vpc-…`) is only used: its own gateway and route tables are never
//! changed; the subnets (and the public route table) the spec asks for inside it are ours.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::{
    logical_id, Action, ActualNetwork, Change, ChangeKind, Plan, Tags, Via, DEFAULT_ROUTE,
    EIP_ADDRESS, IGW_ADDRESS, NAT_ADDRESS, ROUTE_TABLE_ADDRESS, VPC_ADDRESS,
};

/// The network a spec asks for.
#[derive(Debug, Clone, Serialize)]
pub struct DesiredNetwork {
    /// The VPC: created, or referenced.
    pub vpc: DesiredVpc,
    /// Subnets the deployment owns, in spec order.
    pub subnets: Vec<DesiredSubnet>,
    /// Final tags of the internet gateway (when the VPC is ours and a subnet is public).
    pub gateway_tags: Tags,
    /// Final tags of the public route table (when a subnet is public).
    pub route_table_tags: Tags,
    /// The NAT gateway of the private subnets, when asked for.
    pub nat: Option<DesiredNat>,
}

/// A NAT gateway in a public subnet, its Elastic IP, and the private subnets' route table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DesiredNat {
    /// Address of the public subnet it sits in (the spec's first public subnet).
    pub subnet: String,
    /// Final tags of the gateway.
    pub tags: Tags,
    /// Final tags of its Elastic IP.
    pub address_tags: Tags,
    /// Final tags of the private route table.
    pub route_table_tags: Tags,
}

/// The VPC of a network.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum DesiredVpc {
    /// Created and owned.
    Ours {
        /// Its block.
        cidr: String,
        /// Final tags.
        tags: Tags,
    },
    /// An existing VPC, `vpc-…`, never changed.
    Existing {
        /// Its id.
        id: String,
    },
}

/// A subnet the deployment owns.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DesiredSubnet {
    /// Logical address, `subnet/NAME`.
    pub id: String,
    /// Spec name.
    pub name: String,
    /// Zone asked for; `None` is `auto`.
    pub zone: Option<String>,
    /// Its block.
    pub cidr: String,
    /// Routes to the internet gateway; instances get public addresses.
    pub public: bool,
    /// Final tags.
    pub tags: Tags,
}

impl DesiredNetwork {
    /// Whether a public route table (and, in an owned VPC, a gateway) is needed.
    pub fn has_public(&self) -> bool {
        self.subnets.iter().any(|s| s.public)
    }

    /// The subnet of a spec name.
    pub fn subnet(&self, name: &str) -> Option<&DesiredSubnet> {
        self.subnets.iter().find(|s| s.name == name)
    }

    /// Addresses of the subnets whose default route goes `via`.
    pub fn routed_via(&self, via: Via) -> Vec<String> {
        self.subnets
            .iter()
            .filter(|s| s.public == (via == Via::InternetGateway))
            .map(|s| s.id.clone())
            .collect()
    }
}

/// Where a subnet goes: the zone asked for, or the next of the region's zones for `auto`
/// (spread in spec order, skipping zones already taken by an explicit subnet when it can).
pub fn placements(net: &DesiredNetwork, zones: &[String]) -> BTreeMap<String, Option<String>> {
    let taken: BTreeSet<&str> = net
        .subnets
        .iter()
        .filter_map(|s| s.zone.as_deref())
        .collect();
    let free: Vec<&String> = zones
        .iter()
        .filter(|z| !taken.contains(z.as_str()))
        .collect();
    let pool: Vec<&String> = if free.is_empty() {
        zones.iter().collect()
    } else {
        free
    };
    let mut next = 0usize;
    net.subnets
        .iter()
        .map(|s| {
            let zone = match &s.zone {
                Some(z) => Some(z.clone()),
                None if pool.is_empty() => None,
                None => {
                    let z = pool[next % pool.len()].clone();
                    next += 1;
                    Some(z)
                }
            };
            (s.id.clone(), zone)
        })
        .collect()
}

/// The network's changes: creates and updates go first in the plan (groups, instances and the
/// load balancer need the VPC and subnets); deletes go last, after everything in them is gone.
pub(crate) fn network_changes(
    plan: &mut Plan,
    deletes: &mut Vec<Change>,
    desired: Option<&DesiredNetwork>,
    actual: &ActualNetwork,
) {
    let mut keep_ids: BTreeSet<&str> = BTreeSet::new();
    if let Some(net) = desired {
        want_vpc(plan, net, actual, &mut keep_ids);
        want_subnets(plan, net, actual, &mut keep_ids);
        want_gateway(plan, net, actual, &mut keep_ids);
        want_route_table(plan, net, actual, Via::InternetGateway, &mut keep_ids);
        want_nat(plan, net, actual, &mut keep_ids);
    }
    // Everything else carrying our tags goes, innermost first: route tables, NAT gateways,
    // subnets, Elastic IPs, gateways, then the VPC.
    for rt in &actual.route_tables {
        if !keep_ids.contains(rt.id.as_str()) {
            deletes.push(delete(
                &rt.tags,
                ROUTE_TABLE_ADDRESS,
                &rt.id,
                vec![format!("{} association(s)", rt.associations.len())],
                Action::DeleteRouteTable {
                    route_table_id: rt.id.clone(),
                },
            ));
        }
    }
    for n in actual.nat_gateways.iter().filter(|n| n.is_usable()) {
        if !keep_ids.contains(n.id.as_str()) {
            deletes.push(delete(
                &n.tags,
                NAT_ADDRESS,
                &n.id,
                vec!["private subnets lose their way out".into()],
                Action::DeleteNatGateway {
                    nat_gateway_id: n.id.clone(),
                },
            ));
        }
    }
    for s in &actual.subnets {
        if !keep_ids.contains(s.id.as_str()) {
            deletes.push(delete(
                &s.tags,
                "subnet/?",
                &s.id,
                vec![format!("cidr: {} in {}", s.cidr, s.zone)],
                Action::DeleteSubnet {
                    subnet_id: s.id.clone(),
                },
            ));
        }
    }
    for a in &actual.addresses {
        if !keep_ids.contains(a.allocation_id.as_str()) {
            deletes.push(delete(
                &a.tags,
                EIP_ADDRESS,
                &a.allocation_id,
                vec![format!("Elastic IP {} released", a.public_ip)],
                Action::ReleaseAddress {
                    allocation_id: a.allocation_id.clone(),
                },
            ));
        }
    }
    for g in &actual.internet_gateways {
        if !keep_ids.contains(g.id.as_str()) {
            deletes.push(delete(
                &g.tags,
                IGW_ADDRESS,
                &g.id,
                g.attached_to
                    .iter()
                    .map(|v| format!("detached from {v}"))
                    .collect(),
                Action::DeleteInternetGateway {
                    gateway_id: g.id.clone(),
                    vpc_ids: g.attached_to.clone(),
                },
            ));
        }
    }
    for v in &actual.vpcs {
        if !keep_ids.contains(v.id.as_str()) {
            deletes.push(delete(
                &v.tags,
                VPC_ADDRESS,
                &v.id,
                vec![format!("cidr: {}", v.cidr)],
                Action::DeleteVpc {
                    vpc_id: v.id.clone(),
                },
            ));
        }
    }
}

fn delete(tags: &Tags, fallback: &str, id: &str, details: Vec<String>, action: Action) -> Change {
    Change {
        kind: ChangeKind::Delete,
        address: logical_id(tags).unwrap_or(fallback).to_string(),
        aws_id: Some(id.to_string()),
        details,
        disruptive: false,
        action,
    }
}

fn create(address: &str, details: Vec<String>, action: Action) -> Change {
    Change {
        kind: ChangeKind::Create,
        address: address.to_string(),
        aws_id: None,
        details,
        disruptive: false,
        action,
    }
}

fn want_vpc<'a>(
    plan: &mut Plan,
    net: &DesiredNetwork,
    actual: &'a ActualNetwork,
    keep: &mut BTreeSet<&'a str>,
) {
    let DesiredVpc::Ours { cidr, tags } = &net.vpc else {
        return;
    };
    match actual.vpc() {
        None => plan.changes.push(create(
            VPC_ADDRESS,
            vec![format!("cidr: {cidr}")],
            Action::CreateVpc {
                cidr: cidr.clone(),
                tags: tags.clone(),
            },
        )),
        Some(v) => {
            keep.insert(v.id.as_str());
            if &v.cidr != cidr {
                plan.warnings.push(format!(
                    "{VPC_ADDRESS} ({}) has block {}, the spec asks for {cidr}: a VPC's block cannot change; destroy and apply again to move the deployment",
                    v.id, v.cidr
                ));
            }
            crate::diff::tag_change(plan, VPC_ADDRESS, &v.id, tags, &v.tags);
        }
    }
}

fn want_subnets<'a>(
    plan: &mut Plan,
    net: &DesiredNetwork,
    actual: &'a ActualNetwork,
    keep: &mut BTreeSet<&'a str>,
) {
    let zones = placements(net, &actual.zones);
    for s in &net.subnets {
        match actual.subnet(&s.id) {
            None => {
                let zone = zones.get(&s.id).cloned().flatten();
                if let (Some(z), false) = (&zone, actual.zones.is_empty()) {
                    if !actual.zones.contains(z) {
                        plan.warnings.push(format!(
                            "{}: zone {z} is not available in this region (available: {}); the create will fail",
                            s.id,
                            actual.zones.join(", ")
                        ));
                    }
                }
                let mut details = vec![format!(
                    "cidr: {} in {}",
                    s.cidr,
                    zone.as_deref().unwrap_or("a zone AWS picks")
                )];
                if s.public {
                    details.push("public: routes to the internet gateway".into());
                }
                plan.changes.push(create(
                    &s.id,
                    details,
                    Action::CreateSubnet {
                        subnet: Box::new(s.clone()),
                        zone,
                    },
                ));
            }
            Some(a) => {
                keep.insert(a.id.as_str());
                let moved = s.zone.as_ref().is_some_and(|z| z != &a.zone);
                if a.cidr != s.cidr || moved {
                    plan.warnings.push(format!(
                        "{} ({}) is {} in {}, the spec asks for {} in {}: a subnet cannot move; remove it from the spec, apply, then add it back",
                        s.id,
                        a.id,
                        a.cidr,
                        a.zone,
                        s.cidr,
                        s.zone.as_deref().unwrap_or("auto")
                    ));
                }
                crate::diff::tag_change(plan, &s.id, &a.id, &s.tags, &a.tags);
            }
        }
    }
}

fn want_gateway<'a>(
    plan: &mut Plan,
    net: &DesiredNetwork,
    actual: &'a ActualNetwork,
    keep: &mut BTreeSet<&'a str>,
) {
    if !net.has_public() || !matches!(net.vpc, DesiredVpc::Ours { .. }) {
        return;
    }
    match actual.gateway() {
        None => plan.changes.push(create(
            IGW_ADDRESS,
            vec!["attached to vpc/main".into()],
            Action::CreateInternetGateway {
                tags: net.gateway_tags.clone(),
                existing: None,
            },
        )),
        Some(g) => {
            keep.insert(g.id.as_str());
            let attached = actual.vpc().is_some_and(|v| g.attached_to.contains(&v.id));
            if !attached {
                plan.changes.push(Change {
                    kind: ChangeKind::Update,
                    address: IGW_ADDRESS.into(),
                    aws_id: Some(g.id.clone()),
                    details: vec!["attach to vpc/main".into()],
                    disruptive: false,
                    action: Action::CreateInternetGateway {
                        tags: net.gateway_tags.clone(),
                        existing: Some(g.id.clone()),
                    },
                });
            }
            crate::diff::tag_change(plan, IGW_ADDRESS, &g.id, &net.gateway_tags, &g.tags);
        }
    }
}

/// The route table of the subnets whose default route goes `via`: the public subnets' (to the
/// internet gateway), or, with a NAT gateway, the private subnets' (to it).
fn want_route_table<'a>(
    plan: &mut Plan,
    net: &DesiredNetwork,
    actual: &'a ActualNetwork,
    via: Via,
    keep: &mut BTreeSet<&'a str>,
) {
    let tags = match via {
        Via::InternetGateway if net.has_public() => &net.route_table_tags,
        Via::NatGateway => match &net.nat {
            Some(n) => &n.route_table_tags,
            None => return,
        },
        Via::InternetGateway => return,
    };
    let address = via.address();
    let public = net.routed_via(via);
    let Some(rt) = actual.route_table_via(via) else {
        let mut details = vec![format!("{DEFAULT_ROUTE} → {}", via.name())];
        details.extend(public.iter().map(|s| format!("+ {s}")));
        plan.changes.push(create(
            address,
            details,
            Action::CreateRouteTable {
                tags: tags.clone(),
                subnets: public,
                via,
            },
        ));
        return;
    };
    keep.insert(rt.id.as_str());
    // Through a NAT gateway, the route must go to the one that serves: a route to a deleted
    // one is a blackhole.
    let serving = actual.nat_gateway().map(|n| n.id.as_str());
    let has_route = rt.routes.iter().any(|(dest, gw)| {
        dest == DEFAULT_ROUTE
            && via.targets(gw)
            && (via == Via::InternetGateway || Some(gw.as_str()) == serving)
    });
    // Associations by address: the subnet ids we know; an association of a subnet not ours
    // (or no longer public) is removed.
    let id_to_address: BTreeMap<&str, &str> = actual
        .subnets
        .iter()
        .filter_map(|s| logical_id(&s.tags).map(|a| (s.id.as_str(), a)))
        .collect();
    let associated: BTreeSet<&str> = rt
        .associations
        .iter()
        .filter_map(|(_, sid)| id_to_address.get(sid.as_str()).copied())
        .collect();
    let associate: Vec<String> = public
        .iter()
        .filter(|a| !associated.contains(a.as_str()))
        .cloned()
        .collect();
    let disassociate: Vec<String> = rt
        .associations
        .iter()
        .filter(|(_, sid)| {
            id_to_address
                .get(sid.as_str())
                .is_none_or(|a| !public.iter().any(|p| p == a))
        })
        .map(|(assoc, _)| assoc.clone())
        .collect();
    if !has_route || !associate.is_empty() || !disassociate.is_empty() {
        let mut details = Vec::new();
        if !has_route {
            details.push(format!("+ route {DEFAULT_ROUTE} → {}", via.name()));
        }
        details.extend(associate.iter().map(|s| format!("+ {s}")));
        details.extend(disassociate.iter().map(|a| format!("- association {a}")));
        plan.changes.push(Change {
            kind: ChangeKind::Update,
            address: address.into(),
            aws_id: Some(rt.id.clone()),
            details,
            disruptive: false,
            action: Action::UpdateRouteTable {
                route_table_id: rt.id.clone(),
                via,
                add_default_route: !has_route,
                associate,
                disassociate,
            },
        });
    }
    crate::diff::tag_change(plan, address, &rt.id, tags, &rt.tags);
}

/// The NAT gateway (with its Elastic IP) in the first public subnet, then the private
/// subnets' route table through it.
fn want_nat<'a>(
    plan: &mut Plan,
    net: &DesiredNetwork,
    actual: &'a ActualNetwork,
    keep: &mut BTreeSet<&'a str>,
) {
    let Some(nat) = &net.nat else {
        return;
    };
    let gateway = actual.nat_gateway();
    // The Elastic IP stays when the gateway holds it, or when it is free for a new gateway (a
    // run that stopped before the gateway); one held by a gateway on its way out is released.
    let address = actual
        .address()
        .filter(|a| gateway.is_some() || a.association_id.is_none());
    if let Some(a) = address {
        keep.insert(a.allocation_id.as_str());
        crate::diff::tag_change(
            plan,
            EIP_ADDRESS,
            &a.allocation_id,
            &nat.address_tags,
            &a.tags,
        );
    }
    match gateway {
        Some(n) => {
            keep.insert(n.id.as_str());
            let home = actual.subnet(&nat.subnet).map(|s| s.id.as_str());
            if home.is_some_and(|h| h != n.subnet_id) {
                plan.warnings.push(format!(
                    "{NAT_ADDRESS} ({}) sits in {}, not in {}: remove `nat_gateway`, apply, then add it back to move it",
                    n.id, n.subnet_id, nat.subnet
                ));
            }
            crate::diff::tag_change(plan, NAT_ADDRESS, &n.id, &nat.tags, &n.tags);
        }
        None => {
            let allocation = address.map(|a| a.allocation_id.clone());
            let details = vec![
                format!("in {}", nat.subnet),
                match &allocation {
                    Some(a) => format!("with Elastic IP {a}"),
                    None => format!("with a new Elastic IP ({EIP_ADDRESS})"),
                },
            ];
            plan.changes.push(create(
                NAT_ADDRESS,
                details,
                Action::CreateNatGateway {
                    subnet: nat.subnet.clone(),
                    tags: nat.tags.clone(),
                    address_tags: nat.address_tags.clone(),
                    allocation,
                },
            ));
        }
    }
    want_route_table(plan, net, actual, Via::NatGateway, keep);
}

#[cfg(test)]
mod tests {
    use crate::{
        ActualAddress, ActualGateway, ActualNatGateway, ActualRouteTable, ActualSubnet, ActualVpc,
    };
    use std::path::Path;

    use super::*;
    use crate::{desire, Actual, Desired};

    const SPEC: &str = r#"version: 1
deployment: net
region: us-east-1
network:
  vpc: {cidr: 10.40.0.0/16}
  subnets:
    - {name: public-a, zone: us-east-1a, cidr: 10.40.1.0/24, public: true}
    - {name: public-b, cidr: 10.40.2.0/24, public: true}
    - {name: private, cidr: 10.40.10.0/24}
security_groups:
  - name: app
instances:
  - name: app
    type: t3.micro
    ami: al2023
    subnet: private
    security_groups: [app]
"#;

    fn desired(text: &str) -> Desired {
        desire(&gm_spec::load_str("spec.yaml", text, Path::new(".")).expect("valid spec"))
    }

    fn zones() -> Vec<String> {
        ["us-east-1a", "us-east-1b", "us-east-1c"]
            .map(String::from)
            .to_vec()
    }

    /// The network as AWS reads it back once `d`'s network is applied.
    fn converged(d: &Desired) -> ActualNetwork {
        let net = d.network.as_ref().expect("a network");
        let DesiredVpc::Ours { cidr, tags } = &net.vpc else {
            panic!("test wants an owned VPC")
        };
        let place = placements(net, &zones());
        let subnets: Vec<ActualSubnet> = net
            .subnets
            .iter()
            .enumerate()
            .map(|(i, s)| ActualSubnet {
                id: format!("subnet-{i}"),
                vpc_id: "vpc-1".into(),
                cidr: s.cidr.clone(),
                zone: place[&s.id].clone().unwrap_or_default(),
                tags: s.tags.clone(),
            })
            .collect();
        let associations = net
            .subnets
            .iter()
            .enumerate()
            .filter(|(_, s)| s.public)
            .map(|(i, _)| (format!("rtbassoc-{i}"), format!("subnet-{i}")))
            .collect();
        ActualNetwork {
            vpcs: vec![ActualVpc {
                id: "vpc-1".into(),
                cidr: cidr.clone(),
                tags: tags.clone(),
            }],
            subnets,
            internet_gateways: vec![ActualGateway {
                id: "igw-1".into(),
                attached_to: vec!["vpc-1".into()],
                tags: net.gateway_tags.clone(),
            }],
            route_tables: vec![ActualRouteTable {
                id: "rtb-1".into(),
                vpc_id: "vpc-1".into(),
                routes: vec![
                    ("10.40.0.0/16".into(), "local".into()),
                    (DEFAULT_ROUTE.into(), "igw-1".into()),
                ],
                associations,
                tags: net.route_table_tags.clone(),
            }],
            nat_gateways: Vec::new(),
            addresses: Vec::new(),
            zones: Vec::new(),
        }
    }

    const NAT: &str = "  nat_gateway: true\n  subnets:\n";

    /// `converged(d)` with `d`'s NAT gateway, its address and the private route table.
    fn converged_with_nat(d: &Desired) -> ActualNetwork {
        let nat = d
            .network
            .as_ref()
            .and_then(|n| n.nat.clone())
            .expect("a NAT");
        let mut have = converged(d);
        have.nat_gateways.push(ActualNatGateway {
            id: "nat-1".into(),
            subnet_id: "subnet-0".into(),
            state: "available".into(),
            allocation_ids: vec!["eipalloc-1".into()],
            tags: nat.tags.clone(),
        });
        have.addresses.push(ActualAddress {
            allocation_id: "eipalloc-1".into(),
            public_ip: "198.51.100.7".into(),
            association_id: Some("eipassoc-1".into()),
            tags: nat.address_tags.clone(),
        });
        have.route_tables.push(ActualRouteTable {
            id: "rtb-2".into(),
            vpc_id: "vpc-1".into(),
            routes: vec![
                ("10.40.0.0/16".into(), "local".into()),
                (DEFAULT_ROUTE.into(), "nat-1".into()),
            ],
            associations: vec![("rtbassoc-9".into(), "subnet-2".into())],
            tags: nat.route_table_tags.clone(),
        });
        have
    }

    #[test]
    fn a_nat_gateway_goes_in_the_first_public_subnet_and_serves_the_private_ones() {
        let d = desired(&SPEC.replace("  subnets:\n", NAT));
        let plan = crate::diff(
            &d,
            &Actual {
                network: ActualNetwork {
                    zones: zones(),
                    ..Default::default()
                },
                ..Default::default()
            },
        );
        let got = addresses(&plan);
        assert_eq!(
            &got[4..8],
            [
                "+ internet-gateway/main",
                "+ route-table/public",
                "+ nat-gateway/main",
                "+ route-table/private"
            ],
            "{got:?}"
        );
        assert!(
            matches!(&plan.changes[6].action, Action::CreateNatGateway { subnet, allocation: None, .. } if subnet == "subnet/public-a"),
            "{:?}",
            plan.changes[6].action
        );
        assert!(
            matches!(&plan.changes[7].action, Action::CreateRouteTable { subnets, via: Via::NatGateway, .. } if subnets == &["subnet/private"]),
            "{:?}",
            plan.changes[7].action
        );
        // Converged: nothing of the network to do.
        let plan = crate::diff(
            &d,
            &Actual {
                network: converged_with_nat(&d),
                ..Default::default()
            },
        );
        assert_eq!(addresses(&plan), ["+ sg/app", "+ instance/app/0"]);
        assert!(plan.warnings.is_empty(), "{:?}", plan.warnings);
    }

    #[test]
    fn without_nat_gateway_its_route_table_gateway_and_address_go_in_that_order() {
        let with = desired(&SPEC.replace("  subnets:\n", NAT));
        let plan = crate::diff(
            &desired(SPEC),
            &Actual {
                network: converged_with_nat(&with),
                ..Default::default()
            },
        );
        assert_eq!(
            addresses(&plan),
            [
                "+ sg/app",
                "+ instance/app/0",
                "- route-table/private",
                "- nat-gateway/main",
                "- elastic-ip/nat"
            ]
        );
    }

    #[test]
    fn a_free_address_of_ours_is_used_again_and_a_held_one_of_a_dying_gateway_is_not() {
        let d = desired(&SPEC.replace("  subnets:\n", NAT));
        let mut have = converged_with_nat(&d);
        have.nat_gateways.clear();
        have.route_tables.pop();
        have.addresses[0].association_id = None;
        let plan = crate::diff(
            &d,
            &Actual {
                network: have.clone(),
                ..Default::default()
            },
        );
        let nat = plan
            .changes
            .iter()
            .find(|c| c.address == NAT_ADDRESS)
            .expect("a NAT create");
        assert!(
            matches!(&nat.action, Action::CreateNatGateway { allocation: Some(a), .. } if a == "eipalloc-1"),
            "{:?}",
            nat.action
        );
        assert!(!plan.changes.iter().any(|c| c.address == EIP_ADDRESS));
        // The gateway is deleting and still holds the address: a new one, the old released.
        have.nat_gateways = converged_with_nat(&d).nat_gateways;
        have.nat_gateways[0].state = "deleting".into();
        have.addresses[0].association_id = Some("eipassoc-1".into());
        let plan = crate::diff(
            &d,
            &Actual {
                network: have,
                ..Default::default()
            },
        );
        let got = addresses(&plan);
        assert!(got.contains(&"+ nat-gateway/main".to_string()), "{got:?}");
        assert_eq!(got.last().map(String::as_str), Some("- elastic-ip/nat"));
    }

    fn addresses(plan: &crate::Plan) -> Vec<String> {
        plan.changes
            .iter()
            .map(|c| format!("{} {}", c.kind.symbol(), c.address))
            .collect()
    }

    #[test]
    fn a_new_network_is_created_before_what_lives_in_it() {
        let d = desired(SPEC);
        let actual = Actual {
            network: ActualNetwork {
                zones: zones(),
                ..Default::default()
            },
            ..Default::default()
        };
        let plan = crate::diff(&d, &actual);
        let got = addresses(&plan);
        assert_eq!(
            &got[..6],
            [
                "+ vpc/main",
                "+ subnet/public-a",
                "+ subnet/public-b",
                "+ subnet/private",
                "+ internet-gateway/main",
                "+ route-table/public"
            ],
            "{got:?}"
        );
        assert_eq!(got[6..], ["+ sg/app", "+ instance/app/0"], "{got:?}");
        // auto zones skip the zone an explicit subnet took, in order
        let zone_of = |name: &str| {
            plan.changes.iter().find_map(|c| match &c.action {
                Action::CreateSubnet { subnet, zone } if subnet.name == name => zone.clone(),
                _ => None,
            })
        };
        assert_eq!(zone_of("public-a").as_deref(), Some("us-east-1a"));
        assert_eq!(zone_of("public-b").as_deref(), Some("us-east-1b"));
        assert_eq!(zone_of("private").as_deref(), Some("us-east-1c"));
        assert!(matches!(
            &plan.changes[5].action,
            Action::CreateRouteTable { subnets, .. } if subnets == &["subnet/public-a", "subnet/public-b"]
        ));
        assert_eq!(d.security_groups[0].vpc, crate::VpcRef::Ours);
        assert_eq!(
            d.instances[0].subnet,
            Some(crate::SubnetRef::Ours("subnet/private".into()))
        );
    }

    #[test]
    fn a_converged_network_plans_nothing() {
        let d = desired(SPEC);
        let plan = crate::diff(
            &d,
            &Actual {
                network: converged(&d),
                ..Default::default()
            },
        );
        let got = addresses(&plan);
        assert_eq!(got, ["+ sg/app", "+ instance/app/0"], "{got:?}");
        assert!(plan.warnings.is_empty(), "{:?}", plan.warnings);
    }

    #[test]
    fn a_subnet_turning_private_loses_its_association_and_removed_ones_go_last() {
        let d = desired(SPEC);
        let mut have = converged(&d);
        have.route_tables[0].routes.pop();
        let d2 = desired(
            &SPEC
                .replace("cidr: 10.40.2.0/24, public: true", "cidr: 10.40.2.0/24")
                .replace("    - {name: private, cidr: 10.40.10.0/24}\n", "")
                .replace("subnet: private", "subnet: public-a"),
        );
        let plan = crate::diff(
            &d2,
            &Actual {
                network: have,
                ..Default::default()
            },
        );
        let rt = plan
            .changes
            .iter()
            .find(|c| c.address == ROUTE_TABLE_ADDRESS)
            .expect("route table change");
        assert!(
            matches!(&rt.action, Action::UpdateRouteTable { add_default_route: true, associate, disassociate, .. }
                if associate.is_empty() && disassociate == &["rtbassoc-1"]),
            "{:?}",
            rt.action
        );
        let last = plan.changes.last().expect("changes");
        assert_eq!(
            (last.kind, last.address.as_str()),
            (ChangeKind::Delete, "subnet/private")
        );
    }

    #[test]
    fn without_a_network_in_the_spec_ours_is_deleted_innermost_first() {
        let d = desired(SPEC);
        let have = converged(&d);
        let plain = desired(
            "version: 1\ndeployment: net\ninstances:\n  - {name: app, type: t3.micro, ami: al2023}\n",
        );
        let plan = crate::diff(
            &plain,
            &Actual {
                network: have,
                ..Default::default()
            },
        );
        let got = addresses(&plan);
        assert_eq!(
            got,
            [
                "+ instance/app/0",
                "- route-table/public",
                "- subnet/public-a",
                "- subnet/public-b",
                "- subnet/private",
                "- internet-gateway/main",
                "- vpc/main"
            ]
        );
    }

    #[test]
    fn the_plan_lists_its_changes_in_the_order_they_run_removals_before_the_network() {
        let d = desired(SPEC);
        let tagged = |id: &str| -> Tags {
            [(crate::TAG_ID.to_string(), id.to_string())]
                .into_iter()
                .collect()
        };
        let have = Actual {
            network: converged(&d),
            instances: vec![crate::ActualInstance {
                id: "i-1".into(),
                state: "running".into(),
                subnet_id: Some("subnet-2".into()),
                tags: tagged("instance/app/0"),
                ..Default::default()
            }],
            security_groups: vec![crate::ActualSg {
                id: "sg-1".into(),
                name: "net-app".into(),
                tags: tagged("sg/app"),
                ..Default::default()
            }],
            ..Default::default()
        };
        let plain = desired(
            "version: 1\ndeployment: net\ninstances:\n  - {name: web, type: t3.micro, ami: al2023}\n",
        );
        let plan = crate::diff(&plain, &have);
        let phases: Vec<crate::Phase> = plan.changes.iter().map(|c| c.action.phase()).collect();
        let mut sorted = phases.clone();
        sorted.sort();
        assert_eq!(phases, sorted, "{:?}", addresses(&plan));
        let got = addresses(&plan);
        let at = |a: &str| got.iter().position(|g| g == a).expect(a);
        // What lived in the network goes before it, as the engine runs it.
        assert!(
            at("- instance/app/0") < at("- route-table/public"),
            "{got:?}"
        );
        assert!(at("- sg/app") < at("- vpc/main"), "{got:?}");
        assert!(at("+ instance/web/0") < at("- instance/app/0"), "{got:?}");
    }

    #[test]
    fn a_referenced_vpc_is_never_changed_and_has_no_gateway_of_ours() {
        let d = desired(&SPEC.replace("{cidr: 10.40.0.0/16}", "vpc-0abc12345def67890"));
        let plan = crate::diff(&d, &Actual::default());
        let got = addresses(&plan);
        assert!(
            !got.iter()
                .any(|a| a.contains("vpc/main") || a.contains("internet-gateway")),
            "{got:?}"
        );
        assert!(got.contains(&"+ route-table/public".to_string()), "{got:?}");
        assert_eq!(
            d.security_groups[0].vpc,
            crate::VpcRef::Id("vpc-0abc12345def67890".into())
        );
    }

    #[test]
    fn a_block_change_is_a_warning_not_a_silent_replacement() {
        let d = desired(SPEC);
        let have = converged(&d);
        let d2 = desired(&SPEC.replace("cidr: 10.40.10.0/24", "cidr: 10.40.11.0/24"));
        let plan = crate::diff(
            &d2,
            &Actual {
                network: have,
                ..Default::default()
            },
        );
        assert!(
            plan.warnings
                .iter()
                .any(|w| w.contains("subnet/private") && w.contains("cannot move")),
            "{:?}",
            plan.warnings
        );
        assert!(!plan.changes.iter().any(|c| c.address == "subnet/private"));
    }
}
