//! The network kinds: a VPC, its subnets, the internet gateway and the public route table, and
//! a NAT gateway with its Elastic IP and the private route table.
//!
//! Creation follows the plan's order (VPC, subnets, internet gateway, public route table, NAT
//! gateway, private route table). Deletion is one path for apply's removals, a rollback's undo
//! and destroy: [`doomed`] lists what goes innermost first, and [`Engine::delete_network`]
//! deletes it, trying again while AWS still reports a resource in use (network interfaces of
//! just-terminated instances and load balancers linger).

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use serde_json::json;

use gm_cloud::{CloudError, ErrorKind};
use gm_plan::{
    Action, Actual, ActualNetwork, DesiredNetwork, DesiredVpc, Phase, Plan, Tags, Via,
    DEFAULT_ROUTE, EIP_ADDRESS, IGW_ADDRESS, NAT_ADDRESS, ROUTE_TABLE_ADDRESS, TAG_ID, VPC_ADDRESS,
};
use gm_state::{ResourceKind, ResourceRecord};

use crate::apply::{record, Run, StepError};
use crate::destroy::{DestroyCx, Doomed};
use crate::report::Done;
use crate::{DestroyReport, Engine, EngineError};

/// A network kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NetKind {
    /// `rtb-…`: its associations go with it.
    RouteTable,
    /// `nat-…`: deleted, then waited for until gone (its subnet and address are held till then).
    NatGateway,
    /// `subnet-…`.
    Subnet,
    /// `eipalloc-…`: released.
    Address,
    /// `igw-…`: detached from its VPCs first.
    Gateway,
    /// `vpc-…`, last.
    Vpc,
}

impl NetKind {
    /// The kind's name in records and the journal.
    pub(crate) fn name(self) -> &'static str {
        self.kind().as_str()
    }

    /// Its kind in records and destroy plans.
    pub(crate) fn kind(self) -> ResourceKind {
        match self {
            NetKind::RouteTable => ResourceKind::RouteTable,
            NetKind::NatGateway => ResourceKind::NatGateway,
            NetKind::Subnet => ResourceKind::Subnet,
            NetKind::Address => ResourceKind::ElasticIp,
            NetKind::Gateway => ResourceKind::InternetGateway,
            NetKind::Vpc => ResourceKind::Vpc,
        }
    }
}

/// One network resource to delete, with what only it holds.
#[derive(Debug, Clone)]
pub(crate) struct NetDoomed {
    pub(crate) kind: NetKind,
    pub(crate) address: String,
    pub(crate) id: String,
    /// A route table's association ids; a gateway's VPCs.
    pub(crate) holds: Vec<String>,
    /// In a few words, for plans and reports.
    pub(crate) detail: String,
}

fn address(tags: &Tags, fallback: &str) -> String {
    tags.get(TAG_ID)
        .cloned()
        .unwrap_or_else(|| fallback.to_string())
}

/// Every resource of `net` for which `doomed_id` holds, innermost first: route tables, NAT
/// gateways, subnets, Elastic IPs, internet gateways, VPCs.
pub(crate) fn doomed(net: &ActualNetwork, doomed_id: impl Fn(&str) -> bool) -> Vec<NetDoomed> {
    let mut out = Vec::new();
    for t in net.route_tables.iter().filter(|t| doomed_id(&t.id)) {
        out.push(NetDoomed {
            kind: NetKind::RouteTable,
            address: address(&t.tags, ROUTE_TABLE_ADDRESS),
            id: t.id.clone(),
            holds: t.associations.iter().map(|(a, _)| a.clone()).collect(),
            detail: format!("route table, {} association(s)", t.associations.len()),
        });
    }
    for n in net.nat_gateways.iter().filter(|n| doomed_id(&n.id)) {
        out.push(NetDoomed {
            kind: NetKind::NatGateway,
            address: address(&n.tags, NAT_ADDRESS),
            id: n.id.clone(),
            holds: n.allocation_ids.clone(),
            detail: format!("NAT gateway ({})", n.state),
        });
    }
    for s in net.subnets.iter().filter(|s| doomed_id(&s.id)) {
        out.push(NetDoomed {
            kind: NetKind::Subnet,
            address: address(&s.tags, "subnet/?"),
            id: s.id.clone(),
            holds: Vec::new(),
            detail: format!("subnet {} in {}", s.cidr, s.zone),
        });
    }
    for a in net.addresses.iter().filter(|a| doomed_id(&a.allocation_id)) {
        out.push(NetDoomed {
            kind: NetKind::Address,
            address: address(&a.tags, EIP_ADDRESS),
            id: a.allocation_id.clone(),
            holds: Vec::new(),
            detail: format!("Elastic IP {}", a.public_ip),
        });
    }
    for g in net.internet_gateways.iter().filter(|g| doomed_id(&g.id)) {
        out.push(NetDoomed {
            kind: NetKind::Gateway,
            address: address(&g.tags, IGW_ADDRESS),
            id: g.id.clone(),
            holds: g.attached_to.clone(),
            detail: "internet gateway (detached, then deleted)".into(),
        });
    }
    for v in net.vpcs.iter().filter(|v| doomed_id(&v.id)) {
        out.push(NetDoomed {
            kind: NetKind::Vpc,
            address: address(&v.tags, VPC_ADDRESS),
            id: v.id.clone(),
            holds: Vec::new(),
            detail: format!("VPC {}", v.cidr),
        });
    }
    out
}

/// Ids of the network by address, as it exists before a run: the VPC (ours, or the referenced
/// one) and our subnets, gateway and route table.
pub(crate) fn known_ids(
    desired: Option<&DesiredNetwork>,
    net: &ActualNetwork,
) -> HashMap<String, String> {
    let mut ids = HashMap::new();
    if let Some(DesiredVpc::Existing { id }) = desired.map(|d| &d.vpc) {
        ids.insert(VPC_ADDRESS.to_string(), id.clone());
    } else if let Some(v) = net.vpc() {
        ids.insert(VPC_ADDRESS.to_string(), v.id.clone());
    }
    for s in &net.subnets {
        if let Some(a) = s.tags.get(TAG_ID) {
            ids.entry(a.clone()).or_insert_with(|| s.id.clone());
        }
    }
    for g in &net.internet_gateways {
        ids.entry(address(&g.tags, IGW_ADDRESS))
            .or_insert_with(|| g.id.clone());
    }
    for t in &net.route_tables {
        ids.entry(address(&t.tags, ROUTE_TABLE_ADDRESS))
            .or_insert_with(|| t.id.clone());
    }
    if let Some(n) = net.nat_gateway() {
        ids.insert(NAT_ADDRESS.to_string(), n.id.clone());
    }
    if let Some(a) = net.address() {
        ids.insert(EIP_ADDRESS.to_string(), a.allocation_id.clone());
    }
    ids
}

/// Whether a plan change is one of the network's removals.
pub(crate) fn is_network_delete(a: &Action) -> Option<&str> {
    match a {
        Action::DeleteRouteTable { route_table_id: id }
        | Action::DeleteSubnet { subnet_id: id }
        | Action::DeleteNatGateway { nat_gateway_id: id }
        | Action::ReleaseAddress { allocation_id: id }
        | Action::DeleteInternetGateway { gateway_id: id, .. }
        | Action::DeleteVpc { vpc_id: id } => Some(id),
        _ => None,
    }
}

/// A network id the run needs but does not have.
fn missing(address: &str) -> CloudError {
    CloudError::new(
        "network",
        Some("MissingNetwork"),
        format!("{address} does not exist yet; it is created earlier in the same plan"),
    )
}

impl Engine {
    /// Deletes one network resource and what only it holds (already gone is success).
    async fn delete_net_one(&self, d: &NetDoomed) -> Result<(), CloudError> {
        let cloud = self.cloud();
        match d.kind {
            NetKind::RouteTable => {
                for a in &d.holds {
                    cloud.disassociate_route_table(a).await?;
                }
                cloud.delete_route_table(&d.id).await
            }
            NetKind::NatGateway => {
                cloud.delete_nat_gateway(&d.id).await?;
                cloud.wait_nat_gateway(&d.id, true, self.opts.timeout).await
            }
            NetKind::Subnet => cloud.delete_subnet(&d.id).await,
            NetKind::Address => cloud.release_address(&d.id).await,
            NetKind::Gateway => {
                for v in &d.holds {
                    cloud.detach_internet_gateway(&d.id, v).await?;
                }
                cloud.delete_internet_gateway(&d.id).await
            }
            NetKind::Vpc => cloud.delete_vpc(&d.id).await,
        }
    }

    /// Deletes `doomed` in order, each step journaled in `run` (and, when `stoppable`, none
    /// taken once a stop was asked for, see [`crate::Stop`]); one still in use is tried again
    /// with backoff until the timeout. A failure stops the rest (what is inside a resource that
    /// stays keeps the outer ones in use anyway). Results in the order of `doomed`; those not
    /// tried are absent.
    pub(crate) async fn delete_network(
        &self,
        run: i64,
        doomed: &[NetDoomed],
        stoppable: bool,
    ) -> Vec<Result<(), CloudError>> {
        let deadline = Instant::now() + self.opts.timeout;
        let mut out = Vec::new();
        for d in doomed {
            // An undo goes on whatever was asked; an apply's or destroy's deletes stop.
            if stoppable {
                if let Err(e) = self.stop.check(d.kind.name()) {
                    out.push(Err(e));
                    break;
                }
            }
            let step = self.store().step_intent(
                run,
                &d.address,
                &format!("delete-{}", d.kind.name()),
                &json!({"id": d.id, "holds": d.holds}),
            );
            let mut backoff = gm_cloud::Backoff::default();
            let r = loop {
                match self.delete_net_one(d).await {
                    Err(e) if e.kind == ErrorKind::InUse && Instant::now() < deadline => {
                        tokio::time::sleep(backoff.next_delay()).await;
                    }
                    r => break r,
                }
            };
            if let Ok(step) = step {
                self.result(step, std::slice::from_ref(&d.id), &r);
            }
            let failed = r.is_err();
            out.push(r);
            if failed {
                break;
            }
        }
        out
    }

    /// Runs the network's creates and updates of `plan`, in plan order, recording each id in
    /// `run.net` (by address) for the groups, instances and load balancer that come after.
    pub(crate) async fn create_network(
        &self,
        run: &mut Run<'_>,
        plan: &Plan,
    ) -> Result<(), StepError> {
        let cloud = self.cloud();
        for c in plan.phase(Phase::Network) {
            let at = |e: CloudError| (c.address.clone(), e);
            let vpc = |run: &Run<'_>| {
                run.net
                    .get(VPC_ADDRESS)
                    .cloned()
                    .ok_or_else(|| at(missing(VPC_ADDRESS)))
            };
            match &c.action {
                Action::CreateVpc { cidr, tags } => {
                    let step = self.intent(run, &c.address, "create-vpc", json!({"cidr": cidr}))?;
                    run.undo.network();
                    let id = self
                        .journaled(step, cloud.create_vpc(cidr, tags).await)
                        .map_err(at)?;
                    run.report
                        .created
                        .push(done(&c.address, &id, format!("VPC {cidr}")));
                    run.net.insert(VPC_ADDRESS.into(), id);
                }
                Action::CreateSubnet { subnet, zone } => {
                    let vpc = vpc(run)?;
                    let step = self.intent(
                        run,
                        &c.address,
                        "create-subnet",
                        json!({"vpc": vpc, "cidr": subnet.cidr, "zone": zone}),
                    )?;
                    run.undo.network();
                    let r = cloud
                        .create_subnet(
                            &vpc,
                            &subnet.cidr,
                            zone.as_deref(),
                            subnet.public,
                            &subnet.tags,
                        )
                        .await;
                    let id = self.journaled(step, r).map_err(at)?;
                    run.report.created.push(done(
                        &c.address,
                        &id,
                        format!(
                            "{} subnet {} in {}",
                            if subnet.public { "public" } else { "private" },
                            subnet.cidr,
                            zone.as_deref().unwrap_or("a zone AWS picked")
                        ),
                    ));
                    run.net.insert(c.address.clone(), id);
                }
                Action::CreateInternetGateway { tags, existing } => {
                    let vpc = vpc(run)?;
                    let id = match existing {
                        Some(id) => id.clone(),
                        None => {
                            let step =
                                self.intent(run, &c.address, "create-internet-gateway", json!({}))?;
                            run.undo.network();
                            let r = cloud.create_internet_gateway(tags).await;
                            self.journaled(step, r).map_err(at)?
                        }
                    };
                    run.net.insert(IGW_ADDRESS.into(), id.clone());
                    let step = self.intent(
                        run,
                        &c.address,
                        "attach-internet-gateway",
                        json!({"gateway": id, "vpc": vpc}),
                    )?;
                    let r = cloud.attach_internet_gateway(&id, &vpc).await;
                    self.result(step, std::slice::from_ref(&id), &r);
                    r.map_err(at)?;
                    if existing.is_none() {
                        run.report.created.push(done(
                            &c.address,
                            &id,
                            format!("internet gateway on {vpc}"),
                        ));
                    }
                }
                Action::CreateNatGateway {
                    subnet,
                    tags,
                    address_tags,
                    allocation,
                } => {
                    self.create_nat(run, &c.address, subnet, tags, address_tags, allocation)
                        .await?;
                }
                Action::CreateRouteTable { tags, subnets, via } => {
                    let vpc = vpc(run)?;
                    let gateway = self.route_target(run, *via, &vpc).await.map_err(at)?;
                    let step =
                        self.intent(run, &c.address, "create-route-table", json!({"vpc": vpc}))?;
                    run.undo.network();
                    let r = cloud.create_route_table(&vpc, tags).await;
                    let id = self.journaled(step, r).map_err(at)?;
                    run.net.insert(via.address().into(), id.clone());
                    self.route_public(run, &c.address, &id, Some(&gateway), subnets, &[])
                        .await?;
                    run.report.created.push(done(
                        &c.address,
                        &id,
                        format!(
                            "route table: {DEFAULT_ROUTE} → {gateway}, {} subnet(s)",
                            subnets.len()
                        ),
                    ));
                }
                Action::UpdateRouteTable {
                    route_table_id,
                    via,
                    add_default_route,
                    associate,
                    disassociate,
                } => {
                    let gateway = if *add_default_route {
                        let vpc = vpc(run)?;
                        Some(self.route_target(run, *via, &vpc).await.map_err(at)?)
                    } else {
                        None
                    };
                    self.route_public(
                        run,
                        &c.address,
                        route_table_id,
                        gateway.as_deref(),
                        associate,
                        disassociate,
                    )
                    .await?;
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Journals a create's result (with the new id) and passes it on.
    fn journaled(&self, step: i64, r: Result<String, CloudError>) -> Result<String, CloudError> {
        self.result(
            step,
            r.as_ref().map(std::slice::from_ref).unwrap_or(&[]),
            &r,
        );
        r
    }

    /// Where a route table's default route goes: the internet gateway (see [`Self::gateway_of`]),
    /// or the NAT gateway, which the plan makes before the private route table.
    async fn route_target(&self, run: &Run<'_>, via: Via, vpc: &str) -> Result<String, CloudError> {
        match via {
            Via::InternetGateway => self.gateway_of(&run.net, vpc).await,
            Via::NatGateway => run
                .net
                .get(NAT_ADDRESS)
                .cloned()
                .ok_or_else(|| missing(NAT_ADDRESS)),
        }
    }

    /// Makes the NAT gateway: its Elastic IP (unless `allocation` is a free one of ours), the
    /// gateway in `subnet` (a public subnet's address), then waits until it is available. The
    /// gateway's `ClientToken` is derived from what it is made of, so a create repeated after a
    /// lost answer or a crash answers with the first one's gateway; a token that names a gateway
    /// already failed or gone gets its successor, once.
    async fn create_nat(
        &self,
        run: &mut Run<'_>,
        at_address: &str,
        subnet: &str,
        tags: &Tags,
        address_tags: &Tags,
        allocation: &Option<String>,
    ) -> Result<(), StepError> {
        let cloud = self.cloud();
        let at = |e: CloudError| (at_address.to_string(), e);
        let subnet_id = run
            .net
            .get(subnet)
            .cloned()
            .ok_or_else(|| at(missing(subnet)))?;
        let allocation = match allocation {
            Some(a) => a.clone(),
            None => {
                let step = self.intent(run, EIP_ADDRESS, "allocate-address", json!({}))?;
                run.undo.network();
                let r = cloud.allocate_address(address_tags).await;
                let id = self.journaled(step, r).map_err(at)?;
                run.report.created.push(done(
                    EIP_ADDRESS,
                    &id,
                    "Elastic IP for the NAT gateway".into(),
                ));
                id
            }
        };
        run.net.insert(EIP_ADDRESS.into(), allocation.clone());
        let mut token = gm_cloud::launch_token(&format!(
            "{}|{NAT_ADDRESS}|{subnet_id}|{allocation}",
            run.report.deployment
        ));
        let mut tries = 0;
        let id = loop {
            tries += 1;
            let step = self.intent(
                run,
                at_address,
                "create-nat-gateway",
                json!({"subnet": subnet_id, "allocation": allocation, "token": token}),
            )?;
            run.undo.network();
            let r = cloud
                .create_nat_gateway(&subnet_id, &allocation, &token, tags)
                .await;
            let id = self.journaled(step, r).map_err(at)?;
            match cloud.wait_nat_gateway(&id, false, self.opts.timeout).await {
                Ok(()) => break id,
                Err(e) if e.code.as_deref() == Some(gm_cloud::NAT_GATEWAY_FAILED) && tries == 1 => {
                    token = gm_cloud::next_launch_token(&token, &id);
                }
                Err(e) => return Err(at(e)),
            }
        };
        run.net.insert(NAT_ADDRESS.into(), id.clone());
        run.report.created.push(done(
            at_address,
            &id,
            format!("NAT gateway in {subnet} ({subnet_id})"),
        ));
        Ok(())
    }

    /// The gateway public subnets route to: ours, or the one attached to a referenced VPC.
    async fn gateway_of(
        &self,
        ids: &HashMap<String, String>,
        vpc: &str,
    ) -> Result<String, CloudError> {
        if let Some(g) = ids.get(IGW_ADDRESS) {
            return Ok(g.clone());
        }
        self.cloud().vpc_gateway(vpc).await?.ok_or_else(|| {
            CloudError::new(
                "network",
                Some("NoInternetGateway"),
                format!("VPC {vpc} has no internet gateway, and public subnets route through one: attach one to the VPC, or make the subnets `public: false`"),
            )
        })
    }

    /// Adds the default route (when `gateway` is given), associates `associate` (subnet
    /// addresses) and removes `disassociate` (association ids), each journaled.
    async fn route_public(
        &self,
        run: &Run<'_>,
        address: &str,
        table: &str,
        gateway: Option<&str>,
        associate: &[String],
        disassociate: &[String],
    ) -> Result<(), StepError> {
        let cloud = self.cloud();
        let at = |e: CloudError| (address.to_string(), e);
        if let Some(gw) = gateway {
            let step = self.intent(
                run,
                address,
                "create-route",
                json!({"table": table, "gateway": gw}),
            )?;
            let r = cloud.create_route(table, DEFAULT_ROUTE, gw).await;
            self.result(step, &[table.to_string()], &r);
            r.map_err(at)?;
        }
        for s in associate {
            let subnet = run.net.get(s).ok_or_else(|| at(missing(s)))?;
            let step = self.intent(
                run,
                address,
                "associate",
                json!({"table": table, "subnet": subnet}),
            )?;
            let r = cloud.associate_route_table(table, subnet).await;
            self.result(step, &[table.to_string(), subnet.clone()], &r);
            r.map_err(at)?;
        }
        for a in disassociate {
            let step = self.intent(run, address, "disassociate", json!({"association": a}))?;
            let r = cloud.disassociate_route_table(a).await;
            self.result(step, std::slice::from_ref(a), &r);
            r.map_err(at)?;
        }
        Ok(())
    }
}

impl Engine {
    /// The network's removals, last: everything that lived in it is gone by now.
    pub(crate) async fn remove_network(
        &self,
        run: &mut Run<'_>,
        plan: &Plan,
        actual: &Actual,
    ) -> Result<(), StepError> {
        let ids: HashSet<&str> = plan
            .phase(Phase::NetworkRemovals)
            .filter_map(|c| crate::kinds::network::is_network_delete(&c.action))
            .collect();
        if ids.is_empty() {
            return Ok(());
        }
        run.past_no_return = true;
        let doomed = crate::kinds::network::doomed(&actual.network, |id| ids.contains(id));
        let results = self.delete_network(run.id, &doomed, !run.undoing).await;
        for (d, r) in doomed.iter().zip(results) {
            r.map_err(|e| (d.address.clone(), e))?;
            run.net.retain(|_, v| v != &d.id);
            run.report.destroyed.push(Done {
                address: d.address.clone(),
                aws_id: d.id.clone(),
                what: format!("{} deleted", d.detail),
            });
        }
        Ok(())
    }

    /// Deletes the network resources this run made, found by tag (a create whose answer was
    /// lost made one all the same): whatever carries the deployment's tags and did not exist
    /// before the run.
    pub(crate) async fn rollback_network(&self, run: &mut Run<'_>, deployment: &str) {
        // This run made a NAT gateway only if its spec asks for one (and so `reads.nat`).
        let net = match self
            .cloud
            .describe_network_with(deployment, run.reads.nat)
            .await
        {
            Ok(n) => n,
            Err(e) => {
                run.progress.note(&format!(
                    "rollback: could not read the network back: {}",
                    e.short()
                ));
                return;
            }
        };
        let doomed = crate::kinds::network::doomed(&net, |id| !run.pre_existing.contains(id));
        let results = self.delete_network(run.id, &doomed, false).await;
        for (d, r) in doomed.iter().zip(results) {
            match r {
                Ok(()) => run.report.undone.push(Done {
                    address: d.address.clone(),
                    aws_id: d.id.clone(),
                    what: format!("{} deleted", d.detail),
                }),
                Err(e) => run.progress.note(&format!(
                    "rollback: deleting {} ({}) failed: {}",
                    d.address,
                    d.id,
                    e.short()
                )),
            }
        }
    }
}

fn done(address: &str, id: &str, what: String) -> crate::report::Done {
    crate::report::Done {
        address: address.to_string(),
        aws_id: id.to_string(),
        what,
    }
}

/// The network kind in the registry ([`crate::kinds::KINDS`]).
pub(crate) struct Network;

#[async_trait::async_trait]
impl crate::kinds::Kind for Network {
    fn records(&self, a: &Actual, out: &mut Vec<ResourceRecord>) {
        for d in crate::kinds::network::doomed(&a.network, |_| true) {
            out.push(record(
                &d.address,
                d.kind.kind(),
                &d.id,
                json!({"detail": d.detail}),
            ));
        }
    }

    fn doomed(&self, a: &Actual, _deployment: &str, out: &mut Vec<Doomed>) {
        for d in crate::kinds::network::doomed(&a.network, |_| true) {
            out.push(Doomed {
                kind: d.kind.kind(),
                address: d.address,
                aws_id: d.id,
                detail: d.detail,
            });
        }
    }

    async fn destroy(
        &self,
        engine: &Engine,
        cx: &DestroyCx<'_>,
        report: &mut DestroyReport,
    ) -> Result<(), EngineError> {
        // The network last, innermost first: nothing of ours lives in it any more.
        let kinds = ResourceKind::NETWORK;
        if cx.plan.items.iter().any(|d| kinds.contains(&d.kind)) {
            cx.progress.phase("deleting the network", 1);
            let doomed = crate::kinds::network::doomed(&cx.plan.network, |_| true);
            let results = engine.delete_network(cx.journal.run, &doomed, true).await;
            for (d, r) in doomed.iter().zip(results) {
                r?;
                report.destroyed.push(Done {
                    address: d.address.clone(),
                    aws_id: d.id.clone(),
                    what: format!("{} deleted", d.detail),
                });
            }
        }
        Ok(())
    }
}
