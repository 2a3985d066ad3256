//! The network kinds in the simulated account: VPCs, subnets, internet gateways and route
//! tables, refusing what EC2 refuses (a VPC with anything left in it, a subnet with instances or
//! a load balancer in it, an attached gateway, a route table with associations, blocks outside
//! the VPC or overlapping a sibling, zones the region lacks).

use gm_cloud::{CloudError, SubnetInfo};
use gm_plan::{ActualGateway, ActualNetwork, ActualRouteTable, ActualSubnet, ActualVpc, Tags};

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
            zones: Vec::new(),
        }
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
        let attached = self
            .gateways
            .get(gateway)
            .is_some_and(|g| g.attached_to.contains(&t.vpc_id));
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
            .collect()
    }
}
