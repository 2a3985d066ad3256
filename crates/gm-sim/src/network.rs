//! The network kinds in the simulated account: VPCs, subnets, internet gateways, route tables,
//! NAT gateways and Elastic IPs, refusing what EC2 refuses (a VPC with anything left in it, a
//! subnet with instances, a load balancer or a NAT gateway in it, an attached gateway, a route
//! table with associations, an Elastic IP still associated, blocks outside the VPC or
//! overlapping a sibling, zones the region lacks). A NAT gateway is available at once and gone
//! at once when deleted.

use gm_cloud::{CloudError, SubnetInfo};
use gm_plan::{
    ActualAddress, ActualGateway, ActualNatGateway, ActualNetwork, ActualRouteTable, ActualSubnet,
    ActualVpc, Tags,
};

use crate::{err, tagged_with, World};

/// A VPC's block, for the checks on its subnets.
fn block(cidr: &str) -> Option<(u32, u8)> {
    gm_spec::parse_cidr(cidr)
}

fn in_use(action: &str, id: &str, what: &str) -> CloudError {
    err(
        action,
        "DependencyViolation",
        format!("the {id} has dependencies and cannot be deleted: {what}"),
    )
}

impl World {
    /// The region's zones.
    pub fn zones(&self, region: &str) -> Vec<String> {
        ["a", "b", "c"]
            .iter()
            .map(|z| format!("{region}{z}"))
            .collect()
    }

    pub(crate) fn vpc_exists(&self, id: &str) -> bool {
        self.vpcs.contains_key(id) || self.default_vpc.as_deref() == Some(id)
    }

    fn vpc_block(&self, id: &str) -> Option<(u32, u8)> {
        match self.vpcs.get(id) {
            Some(v) => block(&v.cidr),
            // The default VPC's block.
            None => block("172.31.0.0/16"),
        }
    }

    /// The deployment's network, as the four describes by tag return it.
    pub(crate) fn network_of(&self, deployment: &str) -> ActualNetwork {
        ActualNetwork {
            vpcs: self
                .vpcs
                .values()
                .filter(|v| tagged_with(&v.tags, deployment))
                .cloned()
                .collect(),
            subnets: self
                .subnet_tags
                .iter()
                .filter(|(_, t)| tagged_with(t, deployment))
                .filter_map(|(id, tags)| {
                    let s = self.subnets.iter().find(|s| &s.id == id)?;
                    Some(ActualSubnet {
                        id: s.id.clone(),
                        vpc_id: s.vpc_id.clone(),
                        cidr: s.cidr.clone(),
                        zone: s.availability_zone.clone(),
                        tags: tags.clone(),
                    })
                })
                .collect(),
            internet_gateways: self
                .gateways
                .values()
                .filter(|g| tagged_with(&g.tags, deployment))
                .cloned()
                .collect(),
            route_tables: self
                .route_tables
                .values()
                .filter(|t| tagged_with(&t.tags, deployment))
                .cloned()
                .collect(),
            nat_gateways: Vec::new(),
            addresses: Vec::new(),
            zones: Vec::new(),
        }
    }

    /// The deployment's NAT gateways and Elastic IPs, as the two describes by tag return them.
    pub(crate) fn nat_of(&self, deployment: &str) -> (Vec<ActualNatGateway>, Vec<ActualAddress>) {
        (
            self.nat_gateways
                .values()
                .filter(|n| tagged_with(&n.tags, deployment))
                .cloned()
                .collect(),
            self.addresses
                .values()
                .filter(|a| tagged_with(&a.tags, deployment))
                .cloned()
                .collect(),
        )
    }

    pub(crate) fn allocate_address(&mut self, tags: &Tags) -> String {
        let id = self.id("eipalloc");
        let n = self.next_id % 250;
        self.addresses.insert(
            id.clone(),
            ActualAddress {
                allocation_id: id.clone(),
                public_ip: format!("198.51.100.{n}"),
                association_id: None,
                tags: tags.clone(),
            },
        );
        id
    }

    pub(crate) fn release_address(&mut self, id: &str) -> Result<(), CloudError> {
        const A: &str = "ReleaseAddress";
        match self.addresses.get(id) {
            None => Err(err(
                A,
                "InvalidAllocationID.NotFound",
                format!("the allocation ID '{id}' does not exist"),
            )),
            Some(a) if a.association_id.is_some() => Err(err(
                A,
                "InvalidIPAddress.InUse",
                format!("address {} is in use", a.public_ip),
            )),
            Some(_) => {
                self.addresses.remove(id);
                Ok(())
            }
        }
    }

    pub(crate) fn create_nat_gateway(
        &mut self,
        subnet: &str,
        allocation: &str,
        token: &str,
        tags: &Tags,
    ) -> Result<String, CloudError> {
        const A: &str = "CreateNatGateway";
        if let Some(id) = self.nat_tokens.get(token) {
            return Ok(id.clone());
        }
        if !self.subnets.iter().any(|s| s.id == subnet) {
            return Err(err(
                A,
                "InvalidSubnetID.NotFound",
                format!("the subnet ID '{subnet}' does not exist"),
            ));
        }
        match self.addresses.get(allocation) {
            None => {
                return Err(err(
                    A,
                    "InvalidAllocationID.NotFound",
                    format!("the allocation ID '{allocation}' does not exist"),
                ))
            }
            Some(a) if a.association_id.is_some() => {
                return Err(err(
                    A,
                    "Resource.AlreadyAssociated",
                    format!("{allocation} is already associated"),
                ))
            }
            Some(_) => {}
        }
        let id = self.id("nat");
        let assoc = self.id("eipassoc");
        if let Some(a) = self.addresses.get_mut(allocation) {
            a.association_id = Some(assoc);
        }
        self.nat_gateways.insert(
            id.clone(),
            ActualNatGateway {
                id: id.clone(),
                subnet_id: subnet.to_string(),
                state: "available".into(),
                allocation_ids: vec![allocation.to_string()],
                tags: tags.clone(),
            },
        );
        self.nat_tokens.insert(token.to_string(), id.clone());
        Ok(id)
    }

    pub(crate) fn delete_nat_gateway(&mut self, id: &str) -> Result<(), CloudError> {
        let Some(n) = self.nat_gateways.remove(id) else {
            return Err(err(
                "DeleteNatGateway",
                "NatGatewayNotFound",
                format!("NAT gateway {id} was not found"),
            ));
        };
        for a in n.allocation_ids {
            if let Some(a) = self.addresses.get_mut(&a) {
                a.association_id = None;
            }
        }
        // Routes to it stay, as AWS leaves them: blackholes until replaced.
        Ok(())
    }

    /// Creates a VPC (also for a test setting a scene: a VPC the spec references).
    pub fn create_vpc(&mut self, cidr: &str, tags: &Tags) -> Result<String, CloudError> {
        if block(cidr).is_none_or(|(_, bits)| !(16..=28).contains(&bits)) {
            return Err(err(
                "CreateVpc",
                "InvalidVpc.Range",
                format!("the CIDR '{cidr}' is invalid"),
            ));
        }
        let id = self.id("vpc");
        self.vpcs.insert(
            id.clone(),
            ActualVpc {
                id: id.clone(),
                cidr: cidr.to_string(),
                tags: tags.clone(),
            },
        );
        Ok(id)
    }

    pub(crate) fn delete_vpc(&mut self, id: &str) -> Result<(), CloudError> {
        const A: &str = "DeleteVpc";
        if !self.vpcs.contains_key(id) {
            return Err(err(
                A,
                "InvalidVpcID.NotFound",
                format!("the vpc ID '{id}' does not exist"),
            ));
        }
        if let Some(s) = self.subnets.iter().find(|s| s.vpc_id == id) {
            return Err(in_use(A, id, &format!("subnet {}", s.id)));
        }
        if let Some(g) = self
            .gateways
            .values()
            .find(|g| g.attached_to.iter().any(|v| v == id))
        {
            return Err(in_use(A, id, &format!("internet gateway {}", g.id)));
        }
        if let Some(g) = self
            .groups
            .values()
            .find(|g| g.vpc_id.as_deref() == Some(id))
        {
            return Err(in_use(A, id, &format!("security group {}", g.id)));
        }
        if let Some(t) = self.route_tables.values().find(|t| t.vpc_id == id) {
            return Err(in_use(A, id, &format!("route table {}", t.id)));
        }
        self.vpcs.remove(id);
        Ok(())
    }

    pub(crate) fn create_subnet(
        &mut self,
        region: &str,
        vpc: &str,
        cidr: &str,
        zone: Option<&str>,
        tags: &Tags,
    ) -> Result<String, CloudError> {
        const A: &str = "CreateSubnet";
        if !self.vpc_exists(vpc) {
            return Err(err(
                A,
                "InvalidVpcID.NotFound",
                format!("the vpc ID '{vpc}' does not exist"),
            ));
        }
        let Some(b) = block(cidr) else {
            return Err(err(
                A,
                "InvalidParameterValue",
                format!("'{cidr}' is not a CIDR"),
            ));
        };
        if self
            .vpc_block(vpc)
            .is_none_or(|v| !gm_spec::cidr_within(b, v))
        {
            return Err(err(
                A,
                "InvalidSubnet.Range",
                format!("the CIDR '{cidr}' is invalid for this VPC"),
            ));
        }
        let overlaps = self.subnets.iter().filter(|s| s.vpc_id == vpc).any(|s| {
            block(&s.cidr).is_some_and(|o| gm_spec::cidr_within(b, o) || gm_spec::cidr_within(o, b))
        });
        if overlaps {
            return Err(err(
                A,
                "InvalidSubnet.Conflict",
                format!("the CIDR '{cidr}' conflicts with another subnet"),
            ));
        }
        let zones = self.zones(region);
        let zone = match zone {
            Some(z) if zones.iter().any(|x| x == z) => z.to_string(),
            Some(z) => {
                return Err(err(
                    A,
                    "InvalidParameterValue",
                    format!("value ({z}) for parameter availabilityZone is invalid"),
                ))
            }
            None => zones[0].clone(),
        };
        let id = self.id("subnet");
        self.subnets.push(SubnetInfo {
            id: id.clone(),
            vpc_id: vpc.to_string(),
            availability_zone: zone,
            cidr: cidr.to_string(),
            free_ips: 251,
            public: false,
            name: tags.get("Name").cloned(),
        });
        self.subnet_tags.insert(id.clone(), tags.clone());
        Ok(id)
    }

    pub(crate) fn set_public(&mut self, subnet: &str) -> Result<(), CloudError> {
        match self.subnets.iter_mut().find(|s| s.id == subnet) {
            Some(s) => {
                s.public = true;
                Ok(())
            }
            None => Err(err(
                "ModifySubnetAttribute",
                "InvalidSubnetID.NotFound",
                format!("the subnet ID '{subnet}' does not exist"),
            )),
        }
    }

    pub(crate) fn delete_subnet(&mut self, id: &str) -> Result<(), CloudError> {
        const A: &str = "DeleteSubnet";
        if !self.subnets.iter().any(|s| s.id == id) {
            return Err(err(
                A,
                "InvalidSubnetID.NotFound",
                format!("the subnet ID '{id}' does not exist"),
            ));
        }
        if let Some(i) = self
            .live_instances()
            .find(|i| i.subnet_id.as_deref() == Some(id))
        {
            return Err(in_use(A, id, &format!("instance {}", i.id)));
        }
        if let Some(l) = self
            .load_balancers
            .values()
            .find(|l| l.subnets.iter().any(|s| s == id))
        {
            return Err(in_use(A, id, &format!("load balancer {}", l.name)));
        }
        if let Some(n) = self.nat_gateways.values().find(|n| n.subnet_id == id) {
            return Err(in_use(A, id, &format!("NAT gateway {}", n.id)));
        }
        self.subnets.retain(|s| s.id != id);
        self.subnet_tags.remove(id);
        for t in self.route_tables.values_mut() {
            t.associations.retain(|(_, s)| s != id);
        }
        Ok(())
    }

    /// Creates an internet gateway.
    pub fn create_gateway(&mut self, tags: &Tags) -> String {
        let id = self.id("igw");
        self.gateways.insert(
            id.clone(),
            ActualGateway {
                id: id.clone(),
                attached_to: Vec::new(),
                tags: tags.clone(),
            },
        );
        id
    }

    /// Attaches a gateway to a VPC.
    pub fn attach_gateway(&mut self, id: &str, vpc: &str) -> Result<(), CloudError> {
        const A: &str = "AttachInternetGateway";
        if !self.vpc_exists(vpc) {
            return Err(err(
                A,
                "InvalidVpcID.NotFound",
                format!("the vpc ID '{vpc}' does not exist"),
            ));
        }
        if let Some(other) = self
            .gateways
            .values()
            .find(|g| g.id != id && g.attached_to.iter().any(|v| v == vpc))
        {
            return Err(err(
                A,
                "Resource.AlreadyAssociated",
                format!("the VPC {vpc} already has gateway {}", other.id),
            ));
        }
        let g = self.gateways.get_mut(id).ok_or_else(|| {
            err(
                A,
                "InvalidInternetGatewayID.NotFound",
                format!("the internet gateway ID '{id}' does not exist"),
            )
        })?;
        if g.attached_to.iter().any(|v| v == vpc) {
            return Err(err(
                A,
                "Resource.AlreadyAssociated",
                format!("{id} is already attached to {vpc}"),
            ));
        }
        g.attached_to.push(vpc.to_string());
        Ok(())
    }

    pub(crate) fn detach_gateway(&mut self, id: &str, vpc: &str) -> Result<(), CloudError> {
        const A: &str = "DetachInternetGateway";
        let g = self.gateways.get_mut(id).ok_or_else(|| {
            err(
                A,
                "InvalidInternetGatewayID.NotFound",
                format!("the internet gateway ID '{id}' does not exist"),
            )
        })?;
        if !g.attached_to.iter().any(|v| v == vpc) {
            return Err(err(
                A,
                "Gateway.NotAttached",
                format!("{id} is not attached to {vpc}"),
            ));
        }
        g.attached_to.retain(|v| v != vpc);
        Ok(())
    }

    pub(crate) fn delete_gateway(&mut self, id: &str) -> Result<(), CloudError> {
        const A: &str = "DeleteInternetGateway";
        match self.gateways.get(id) {
            None => Err(err(
                A,
                "InvalidInternetGatewayID.NotFound",
                format!("the internet gateway ID '{id}' does not exist"),
            )),
            Some(g) if !g.attached_to.is_empty() => Err(in_use(
                A,
                id,
                &format!("attached to {}", g.attached_to.join(", ")),
            )),
            Some(_) => {
                self.gateways.remove(id);
                Ok(())
            }
        }
    }

    pub(crate) fn create_route_table(
        &mut self,
        vpc: &str,
        tags: &Tags,
    ) -> Result<String, CloudError> {
        if !self.vpc_exists(vpc) {
            return Err(err(
                "CreateRouteTable",
                "InvalidVpcID.NotFound",
                format!("the vpc ID '{vpc}' does not exist"),
            ));
        }
        let id = self.id("rtb");
        let local = self
            .vpcs
            .get(vpc)
            .map_or("172.31.0.0/16".to_string(), |v| v.cidr.clone());
        self.route_tables.insert(
            id.clone(),
            ActualRouteTable {
                id: id.clone(),
                vpc_id: vpc.to_string(),
                routes: vec![(local, "local".into())],
                associations: Vec::new(),
                tags: tags.clone(),
            },
        );
        Ok(id)
    }

    pub(crate) fn create_route(
        &mut self,
        table: &str,
        dest: &str,
        gateway: &str,
    ) -> Result<(), CloudError> {
        const A: &str = "CreateRoute";
        let Some(t) = self.route_tables.get(table) else {
            return Err(err(
                A,
                "InvalidRouteTableID.NotFound",
                format!("the route table ID '{table}' does not exist"),
            ));
        };
        let in_vpc = |subnet: &str| {
            self.subnets
                .iter()
                .any(|s| s.id == subnet && s.vpc_id == t.vpc_id)
        };
        let attached = self
            .gateways
            .get(gateway)
            .is_some_and(|g| g.attached_to.contains(&t.vpc_id))
            || self
                .nat_gateways
                .get(gateway)
                .is_some_and(|n| in_vpc(&n.subnet_id));
        if !attached {
            return Err(err(
                A,
                "InvalidGatewayID.NotFound",
                format!("the gateway ID '{gateway}' does not exist in the route table's VPC"),
            ));
        }
        if t.routes.iter().any(|(d, _)| d == dest) {
            return Err(err(
                A,
                "RouteAlreadyExists",
                format!("the route identified by {dest} already exists"),
            ));
        }
        if let Some(t) = self.route_tables.get_mut(table) {
            t.routes.push((dest.to_string(), gateway.to_string()));
        }
        Ok(())
    }

    /// Points an existing route at another gateway (`ReplaceRoute`).
    pub(crate) fn replace_route(
        &mut self,
        table: &str,
        dest: &str,
        gateway: &str,
    ) -> Result<(), CloudError> {
        let route = self
            .route_tables
            .get_mut(table)
            .and_then(|t| t.routes.iter_mut().find(|(d, _)| d == dest));
        match route {
            Some((_, target)) => {
                *target = gateway.to_string();
                Ok(())
            }
            None => Err(err(
                "ReplaceRoute",
                "InvalidRoute.NotFound",
                format!("no route with destination-cidr-block {dest} in {table}"),
            )),
        }
    }

    pub(crate) fn associate(&mut self, table: &str, subnet: &str) -> Result<String, CloudError> {
        const A: &str = "AssociateRouteTable";
        let Some(t) = self.route_tables.get(table) else {
            return Err(err(
                A,
                "InvalidRouteTableID.NotFound",
                format!("the route table ID '{table}' does not exist"),
            ));
        };
        let Some(s) = self.subnets.iter().find(|s| s.id == subnet) else {
            return Err(err(
                A,
                "InvalidSubnetID.NotFound",
                format!("the subnet ID '{subnet}' does not exist"),
            ));
        };
        if s.vpc_id != t.vpc_id {
            return Err(err(
                A,
                "InvalidParameterValue",
                format!("{subnet} and {table} are in different VPCs"),
            ));
        }
        if self
            .route_tables
            .values()
            .any(|t| t.associations.iter().any(|(_, x)| x == subnet))
        {
            return Err(err(
                A,
                "Resource.AlreadyAssociated",
                format!("{subnet} is already associated with a route table"),
            ));
        }
        let id = self.id("rtbassoc");
        if let Some(t) = self.route_tables.get_mut(table) {
            t.associations.push((id.clone(), subnet.to_string()));
        }
        Ok(id)
    }

    pub(crate) fn disassociate(&mut self, association: &str) -> Result<(), CloudError> {
        let found = self
            .route_tables
            .values_mut()
            .find(|t| t.associations.iter().any(|(a, _)| a == association));
        match found {
            Some(t) => {
                t.associations.retain(|(a, _)| a != association);
                Ok(())
            }
            None => Err(err(
                "DisassociateRouteTable",
                "InvalidAssociationID.NotFound",
                format!("the association ID '{association}' does not exist"),
            )),
        }
    }

    pub(crate) fn delete_route_table(&mut self, id: &str) -> Result<(), CloudError> {
        const A: &str = "DeleteRouteTable";
        match self.route_tables.get(id) {
            None => Err(err(
                A,
                "InvalidRouteTableID.NotFound",
                format!("the route table ID '{id}' does not exist"),
            )),
            Some(t) if !t.associations.is_empty() => Err(in_use(
                A,
                id,
                &format!("{} association(s)", t.associations.len()),
            )),
            Some(_) => {
                self.route_tables.remove(id);
                Ok(())
            }
        }
    }

    /// What of the network carries `deployment`'s tag.
    pub(crate) fn network_holdings(&self, deployment: &str) -> Vec<String> {
        let n = self.network_of(deployment);
        let (nats, addresses) = self.nat_of(deployment);
        n.vpcs
            .iter()
            .map(|v| format!("vpc {}", v.id))
            .chain(n.subnets.iter().map(|s| format!("subnet {}", s.id)))
            .chain(
                n.internet_gateways
                    .iter()
                    .map(|g| format!("internet gateway {}", g.id)),
            )
            .chain(
                n.route_tables
                    .iter()
                    .map(|t| format!("route table {}", t.id)),
            )
            .chain(nats.iter().map(|n| format!("NAT gateway {}", n.id)))
            .chain(
                addresses
                    .iter()
                    .map(|a| format!("Elastic IP {}", a.allocation_id)),
            )
            .collect()
    }
}
