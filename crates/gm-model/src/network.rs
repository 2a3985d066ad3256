//! The network's addresses and the kinds of route a route table's default route takes.

use serde::Serialize;

/// Address of the deployment's VPC.
pub const VPC_ADDRESS: &str = "vpc/main";
/// Address of its internet gateway.
pub const IGW_ADDRESS: &str = "internet-gateway/main";
/// Address of the route table of its public subnets.
pub const ROUTE_TABLE_ADDRESS: &str = "route-table/public";
/// Address of the route table of its private subnets (with a NAT gateway).
pub const PRIVATE_ROUTE_TABLE_ADDRESS: &str = "route-table/private";
/// Address of its NAT gateway.
pub const NAT_ADDRESS: &str = "nat-gateway/main";
/// Address of the NAT gateway's Elastic IP.
pub const EIP_ADDRESS: &str = "elastic-ip/nat";
/// Where public subnets route everything not local.
pub const DEFAULT_ROUTE: &str = "0.0.0.0/0";

/// Where a route table's default route goes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Via {
    /// The internet gateway (public subnets).
    #[default]
    InternetGateway,
    /// The NAT gateway (private subnets).
    NatGateway,
}

impl Via {
    /// The route table at this kind of route's address.
    pub fn address(self) -> &'static str {
        match self {
            Via::InternetGateway => ROUTE_TABLE_ADDRESS,
            Via::NatGateway => PRIVATE_ROUTE_TABLE_ADDRESS,
        }
    }

    /// Whether a route's target is this kind of gateway.
    pub fn targets(self, target: &str) -> bool {
        match self {
            Via::InternetGateway => target.starts_with("igw-"),
            Via::NatGateway => target.starts_with("nat-"),
        }
    }

    /// In words, for plans.
    pub fn name(self) -> &'static str {
        match self {
            Via::InternetGateway => "internet gateway",
            Via::NatGateway => "NAT gateway",
        }
    }
}

/// Address of a subnet of the spec.
pub fn subnet_address(name: &str) -> String {
    crate::Address::subnet(name).to_string()
}
