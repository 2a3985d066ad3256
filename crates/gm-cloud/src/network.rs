//! The network kinds' calls: VPCs, subnets, internet gateways, route tables, NAT gateways and
//! Elastic IPs, found by the deployment's tag and created with their tags (so a lost answer is
//! found again by tag).

use aws_sdk_ec2::types::{AttributeBooleanValue, DomainType, ResourceType, TagSpecification};
use gm_model::{
    ActualAddress, ActualGateway, ActualNatGateway, ActualNetwork, ActualRouteTable, ActualSubnet,
    ActualVpc, Tags, TAG_DEPLOYMENT, TAG_ID,
};

use crate::{filter, gone_is_ok, ok_if, plain_tags, sdk_tags, Cloud, CloudError};

fn tagged(kind: ResourceType, tags: &Tags) -> TagSpecification {
    TagSpecification::builder()
        .resource_type(kind)
        .set_tags(Some(sdk_tags(tags)))
        .build()
}

fn gateway(g: &aws_sdk_ec2::types::InternetGateway) -> ActualGateway {
    ActualGateway {
        id: g.internet_gateway_id().unwrap_or_default().to_string(),
        attached_to: g
            .attachments()
            .iter()
            .filter_map(|a| a.vpc_id().map(str::to_string))
            .collect(),
        tags: plain_tags(g.tags()),
    }
}

fn nat_gateway(n: &aws_sdk_ec2::types::NatGateway) -> ActualNatGateway {
    ActualNatGateway {
        id: n.nat_gateway_id().unwrap_or_default().to_string(),
        subnet_id: n.subnet_id().unwrap_or_default().to_string(),
        state: n
            .state()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        allocation_ids: n
            .nat_gateway_addresses()
            .iter()
            .filter_map(|a| a.allocation_id().map(str::to_string))
            .collect(),
        tags: plain_tags(n.tags()),
    }
}

fn logical(tags: &Tags) -> Vec<String> {
    vec![tags.get(TAG_ID).cloned().unwrap_or_default()]
}

impl Cloud {
    /// The deployment's VPCs, subnets, gateways and route tables (four describes, concurrent).
    pub async fn describe_network(&self, deployment: &str) -> Result<ActualNetwork, CloudError> {
        let tag = format!("tag:{TAG_DEPLOYMENT}");
        let by_tag = || filter(&tag, &[deployment]);
        let vpcs = async {
            let out = self
                .ec2
                .describe_vpcs()
                .filters(by_tag())
                .send()
                .await
                .map_err(|e| CloudError::from_sdk("DescribeVpcs", e))?;
            Ok::<_, CloudError>(
                out.vpcs()
                    .iter()
                    .map(|v| ActualVpc {
                        id: v.vpc_id().unwrap_or_default().to_string(),
                        cidr: v.cidr_block().unwrap_or_default().to_string(),
                        tags: plain_tags(v.tags()),
                    })
                    .collect::<Vec<_>>(),
            )
        };
        let subnets = async {
            let out = self
                .ec2
                .describe_subnets()
                .filters(by_tag())
                .send()
                .await
                .map_err(|e| CloudError::from_sdk("DescribeSubnets", e))?;
            Ok::<_, CloudError>(
                out.subnets()
                    .iter()
                    .map(|s| ActualSubnet {
                        id: s.subnet_id().unwrap_or_default().to_string(),
                        vpc_id: s.vpc_id().unwrap_or_default().to_string(),
                        cidr: s.cidr_block().unwrap_or_default().to_string(),
                        zone: s.availability_zone().unwrap_or_default().to_string(),
                        tags: plain_tags(s.tags()),
                    })
                    .collect::<Vec<_>>(),
            )
        };
        let gateways = async {
            let out = self
                .ec2
                .describe_internet_gateways()
                .filters(by_tag())
                .send()
                .await
                .map_err(|e| CloudError::from_sdk("DescribeInternetGateways", e))?;
            Ok::<_, CloudError>(
                out.internet_gateways()
                    .iter()
                    .map(gateway)
                    .collect::<Vec<_>>(),
            )
        };
        let tables = async {
            let out = self
                .ec2
                .describe_route_tables()
                .filters(by_tag())
                .send()
                .await
                .map_err(|e| CloudError::from_sdk("DescribeRouteTables", e))?;
            Ok::<_, CloudError>(
                out.route_tables()
                    .iter()
                    .map(|t| ActualRouteTable {
                        id: t.route_table_id().unwrap_or_default().to_string(),
                        vpc_id: t.vpc_id().unwrap_or_default().to_string(),
                        routes: t
                            .routes()
                            .iter()
                            .map(|r| {
                                (
                                    r.destination_cidr_block().unwrap_or_default().to_string(),
                                    r.gateway_id()
                                        .or(r.nat_gateway_id())
                                        .unwrap_or_default()
                                        .to_string(),
                                )
                            })
                            .collect(),
                        associations: t
                            .associations()
                            .iter()
                            .filter(|a| !a.main().unwrap_or(false))
                            .filter_map(|a| {
                                Some((
                                    a.route_table_association_id()?.to_string(),
                                    a.subnet_id()?.to_string(),
                                ))
                            })
                            .collect(),
                        tags: plain_tags(t.tags()),
                    })
                    .collect::<Vec<_>>(),
            )
        };
        let (vpcs, subnets, internet_gateways, route_tables) =
            tokio::try_join!(vpcs, subnets, gateways, tables)?;
        Ok(ActualNetwork {
            vpcs,
            subnets,
            internet_gateways,
            route_tables,
            nat_gateways: Vec::new(),
            addresses: Vec::new(),
            zones: Vec::new(),
        })
    }

    /// The deployment's NAT gateways (not deleted) and Elastic IPs (two describes, concurrent).
    pub async fn describe_nat(
        &self,
        deployment: &str,
    ) -> Result<(Vec<ActualNatGateway>, Vec<ActualAddress>), CloudError> {
        let tag = format!("tag:{TAG_DEPLOYMENT}");
        let ours = |t: &Tags| t.get(TAG_DEPLOYMENT).map(String::as_str) == Some(deployment);
        let gateways = async {
            let out = self
                .ec2
                .describe_nat_gateways()
                .filter(filter(&tag, &[deployment]))
                .send()
                .await
                .map_err(|e| CloudError::from_sdk("DescribeNatGateways", e))?;
            // Checked again here: some emulators ignore tag filters on this call.
            Ok::<_, CloudError>(
                out.nat_gateways()
                    .iter()
                    .map(nat_gateway)
                    .filter(|n| ours(&n.tags) && n.state != "deleted")
                    .collect::<Vec<_>>(),
            )
        };
        let addresses = async {
            let out = self
                .ec2
                .describe_addresses()
                .filters(filter(&tag, &[deployment]))
                .send()
                .await
                .map_err(|e| CloudError::from_sdk("DescribeAddresses", e))?;
            Ok::<_, CloudError>(
                out.addresses()
                    .iter()
                    .map(|a| ActualAddress {
                        allocation_id: a.allocation_id().unwrap_or_default().to_string(),
                        public_ip: a.public_ip().unwrap_or_default().to_string(),
                        association_id: a.association_id().map(str::to_string),
                        tags: plain_tags(a.tags()),
                    })
                    .filter(|a| ours(&a.tags))
                    .collect::<Vec<_>>(),
            )
        };
        tokio::try_join!(gateways, addresses)
    }

    /// A NAT gateway by id, in any state (`None` once AWS forgets it).
    pub async fn describe_nat_gateway(
        &self,
        id: &str,
    ) -> Result<Option<ActualNatGateway>, CloudError> {
        let out = self
            .ec2
            .describe_nat_gateways()
            .nat_gateway_ids(id)
            .send()
            .await
            .map_err(|e| CloudError::from_sdk("DescribeNatGateways", e));
        match out {
            Ok(out) => Ok(out.nat_gateways().first().map(nat_gateway)),
            Err(e) if e.kind == crate::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Allocates an Elastic IP in the VPC domain (tags set at creation); its allocation id.
    pub async fn allocate_address(&self, tags: &Tags) -> Result<String, CloudError> {
        let call = self
            .ec2
            .allocate_address()
            .domain(DomainType::Vpc)
            .tag_specifications(tagged(ResourceType::ElasticIp, tags));
        self.create_id("AllocateAddress", &logical(tags), call.send(), |o| {
            o.allocation_id().map(str::to_string)
        })
        .await
    }

    /// Releases an Elastic IP (already gone is success; still associated is in use).
    pub async fn release_address(&self, allocation_id: &str) -> Result<(), CloudError> {
        let call = self.ec2.release_address().allocation_id(allocation_id);
        gone_is_ok(
            self.mutate_unit("ReleaseAddress", &[allocation_id.to_string()], call.send())
                .await,
        )
    }

    /// Creates a public NAT gateway in `subnet_id` with the Elastic IP `allocation_id` (tags set
    /// at creation; `token` makes a repeated create answer with the first one's gateway); its id.
    pub async fn create_nat_gateway(
        &self,
        subnet_id: &str,
        allocation_id: &str,
        token: &str,
        tags: &Tags,
    ) -> Result<String, CloudError> {
        let call = self
            .ec2
            .create_nat_gateway()
            .subnet_id(subnet_id)
            .allocation_id(allocation_id)
            .client_token(token)
            .tag_specifications(tagged(ResourceType::Natgateway, tags));
        self.create_id("CreateNatGateway", &logical(tags), call.send(), |o| {
            o.nat_gateway()
                .and_then(|n| n.nat_gateway_id())
                .map(str::to_string)
        })
        .await
    }

    /// Starts deleting a NAT gateway (already gone is success).
    pub async fn delete_nat_gateway(&self, id: &str) -> Result<(), CloudError> {
        let call = self.ec2.delete_nat_gateway().nat_gateway_id(id);
        gone_is_ok(
            self.mutate_unit("DeleteNatGateway", &[id.to_string()], call.send())
                .await,
        )
    }

    /// The internet gateway attached to a VPC (ours or not), if any.
    pub async fn vpc_gateway(&self, vpc_id: &str) -> Result<Option<String>, CloudError> {
        let out = self
            .ec2
            .describe_internet_gateways()
            .filters(filter("attachment.vpc-id", &[vpc_id]))
            .send()
            .await
            .map_err(|e| CloudError::from_sdk("DescribeInternetGateways", e))?;
        Ok(out
            .internet_gateways()
            .iter()
            .find_map(|g| g.internet_gateway_id().map(str::to_string)))
    }

    /// The region's available zones, in name order.
    pub async fn availability_zones(&self) -> Result<Vec<String>, CloudError> {
        let out = self
            .ec2
            .describe_availability_zones()
            .filters(filter("state", &["available"]))
            .send()
            .await
            .map_err(|e| CloudError::from_sdk("DescribeAvailabilityZones", e))?;
        let mut zones: Vec<String> = out
            .availability_zones()
            .iter()
            .filter_map(|z| z.zone_name().map(str::to_string))
            .collect();
        zones.sort();
        Ok(zones)
    }

    /// Creates a VPC (tags set at creation); its id.
    pub async fn create_vpc(&self, cidr: &str, tags: &Tags) -> Result<String, CloudError> {
        let call = self
            .ec2
            .create_vpc()
            .cidr_block(cidr)
            .tag_specifications(tagged(ResourceType::Vpc, tags));
        self.create_id("CreateVpc", &logical(tags), call.send(), |o| {
            o.vpc().and_then(|v| v.vpc_id()).map(str::to_string)
        })
        .await
    }

    /// Deletes a VPC (already gone is success; anything left in it is `DependencyViolation`).
    pub async fn delete_vpc(&self, vpc_id: &str) -> Result<(), CloudError> {
        let call = self.ec2.delete_vpc().vpc_id(vpc_id);
        gone_is_ok(
            self.mutate_unit("DeleteVpc", &[vpc_id.to_string()], call.send())
                .await,
        )
    }

    /// Creates a subnet (tags set at creation); a public one maps public addresses on launch.
    pub async fn create_subnet(
        &self,
        vpc_id: &str,
        cidr: &str,
        zone: Option<&str>,
        public: bool,
        tags: &Tags,
    ) -> Result<String, CloudError> {
        let call = self
            .ec2
            .create_subnet()
            .vpc_id(vpc_id)
            .cidr_block(cidr)
            .set_availability_zone(zone.map(str::to_string))
            .tag_specifications(tagged(ResourceType::Subnet, tags));
        let id = self
            .create_id("CreateSubnet", &logical(tags), call.send(), |o| {
                o.subnet().and_then(|x| x.subnet_id()).map(str::to_string)
            })
            .await?;
        if public {
            self.set_public_addresses(&id).await?;
        }
        Ok(id)
    }

    /// Makes instances launched in `subnet_id` get a public address.
    pub async fn set_public_addresses(&self, subnet_id: &str) -> Result<(), CloudError> {
        let call = self
            .ec2
            .modify_subnet_attribute()
            .subnet_id(subnet_id)
            .map_public_ip_on_launch(AttributeBooleanValue::builder().value(true).build());
        self.mutate_unit(
            "ModifySubnetAttribute",
            &[subnet_id.to_string()],
            call.send(),
        )
        .await
    }

    /// Deletes a subnet (already gone is success).
    pub async fn delete_subnet(&self, subnet_id: &str) -> Result<(), CloudError> {
        let call = self.ec2.delete_subnet().subnet_id(subnet_id);
        gone_is_ok(
            self.mutate_unit("DeleteSubnet", &[subnet_id.to_string()], call.send())
                .await,
        )
    }

    /// Creates an internet gateway (tags set at creation); its id.
    pub async fn create_internet_gateway(&self, tags: &Tags) -> Result<String, CloudError> {
        let call = self
            .ec2
            .create_internet_gateway()
            .tag_specifications(tagged(ResourceType::InternetGateway, tags));
        self.create_id("CreateInternetGateway", &logical(tags), call.send(), |o| {
            o.internet_gateway()
                .and_then(|g| g.internet_gateway_id())
                .map(str::to_string)
        })
        .await
    }

    /// Attaches a gateway to a VPC (already attached there is success).
    pub async fn attach_internet_gateway(
        &self,
        gateway_id: &str,
        vpc_id: &str,
    ) -> Result<(), CloudError> {
        let call = self
            .ec2
            .attach_internet_gateway()
            .internet_gateway_id(gateway_id)
            .vpc_id(vpc_id);
        ok_if(
            "Resource.AlreadyAssociated",
            self.mutate_unit(
                "AttachInternetGateway",
                &[gateway_id.to_string(), vpc_id.to_string()],
                call.send(),
            )
            .await,
        )
    }

    /// Detaches a gateway from a VPC (not attached is success).
    pub async fn detach_internet_gateway(
        &self,
        gateway_id: &str,
        vpc_id: &str,
    ) -> Result<(), CloudError> {
        let call = self
            .ec2
            .detach_internet_gateway()
            .internet_gateway_id(gateway_id)
            .vpc_id(vpc_id);
        gone_is_ok(ok_if(
            "Gateway.NotAttached",
            self.mutate_unit(
                "DetachInternetGateway",
                &[gateway_id.to_string(), vpc_id.to_string()],
                call.send(),
            )
            .await,
        ))
    }

    /// Deletes a gateway (already gone is success).
    pub async fn delete_internet_gateway(&self, gateway_id: &str) -> Result<(), CloudError> {
        let call = self
            .ec2
            .delete_internet_gateway()
            .internet_gateway_id(gateway_id);
        gone_is_ok(
            self.mutate_unit(
                "DeleteInternetGateway",
                &[gateway_id.to_string()],
                call.send(),
            )
            .await,
        )
    }

    /// Creates a route table in a VPC (tags set at creation); its id.
    pub async fn create_route_table(
        &self,
        vpc_id: &str,
        tags: &Tags,
    ) -> Result<String, CloudError> {
        let call = self
            .ec2
            .create_route_table()
            .vpc_id(vpc_id)
            .tag_specifications(tagged(ResourceType::RouteTable, tags));
        self.create_id("CreateRouteTable", &logical(tags), call.send(), |o| {
            o.route_table()
                .and_then(|t| t.route_table_id())
                .map(str::to_string)
        })
        .await
    }

    /// Points `destination` at a gateway, internet (`igw-…`) or NAT (`nat-…`): adds the route,
    /// or, when the table has one for `destination` already (to a NAT gateway since deleted, a
    /// blackhole, or to this gateway after a lost answer), replaces its target.
    pub async fn create_route(
        &self,
        route_table_id: &str,
        destination: &str,
        gateway_id: &str,
    ) -> Result<(), CloudError> {
        // CreateRoute and ReplaceRoute take the same fields; the target's kind is its id's.
        macro_rules! route {
            ($op:ident) => {{
                let call = self
                    .ec2
                    .$op()
                    .route_table_id(route_table_id)
                    .destination_cidr_block(destination);
                if gateway_id.starts_with("nat-") {
                    call.nat_gateway_id(gateway_id)
                } else {
                    call.gateway_id(gateway_id)
                }
            }};
        }
        let about = [route_table_id.to_string(), gateway_id.to_string()];
        match self
            .mutate_unit("CreateRoute", &about, route!(create_route).send())
            .await
        {
            Err(e) if e.code.as_deref() == Some("RouteAlreadyExists") => {
                self.mutate_unit("ReplaceRoute", &about, route!(replace_route).send())
                    .await
            }
            r => r,
        }
    }

    /// Associates a subnet with a route table; the association's id.
    pub async fn associate_route_table(
        &self,
        route_table_id: &str,
        subnet_id: &str,
    ) -> Result<String, CloudError> {
        let call = self
            .ec2
            .associate_route_table()
            .route_table_id(route_table_id)
            .subnet_id(subnet_id);
        self.create_id(
            "AssociateRouteTable",
            &[route_table_id.to_string(), subnet_id.to_string()],
            call.send(),
            |o| o.association_id().map(str::to_string),
        )
        .await
    }

    /// Removes an association (already gone is success).
    pub async fn disassociate_route_table(&self, association_id: &str) -> Result<(), CloudError> {
        let call = self
            .ec2
            .disassociate_route_table()
            .association_id(association_id);
        gone_is_ok(
            self.mutate_unit(
                "DisassociateRouteTable",
                &[association_id.to_string()],
                call.send(),
            )
            .await,
        )
    }

    /// Deletes a route table (already gone is success).
    pub async fn delete_route_table(&self, route_table_id: &str) -> Result<(), CloudError> {
        let call = self.ec2.delete_route_table().route_table_id(route_table_id);
        gone_is_ok(
            self.mutate_unit(
                "DeleteRouteTable",
                &[route_table_id.to_string()],
                call.send(),
            )
            .await,
        )
    }
}
