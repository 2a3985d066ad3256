//! One module per resource kind: its creates and updates for the plan's phases, its delete (the
//! one path that apply's removals, a rollback and destroy share) and the undo of its creates
//! from the run's stack: the network, security groups, instances with their volumes, identity
//! (roles and secrets), and the edge (load balancer, target group, distribution).

pub(crate) mod edge;
pub(crate) mod identity;
pub(crate) mod instance;
pub(crate) mod network;
pub(crate) mod security_group;

use gm_plan::Actual;
use gm_state::ResourceRecord;

use crate::destroy::{DestroyCx, Doomed};
use crate::{DestroyReport, Engine, EngineError};

/// What the engine asks of every kind outside its phases' steps. The engine iterates
/// [`KINDS`], so a new kind is its module and one line there.
#[async_trait::async_trait]
pub(crate) trait Kind: Sync {
    /// The state's records of what `a` holds of this kind (never a secret's value).
    fn records(&self, a: &Actual, out: &mut Vec<ResourceRecord>);
    /// What a destroy of `deployment` removes of this kind, from `a`.
    fn doomed(&self, a: &Actual, deployment: &str, out: &mut Vec<Doomed>);
    /// Deletes this kind's part of a destroy plan, each deletion a journaled step, reporting
    /// what it removed.
    async fn destroy(
        &self,
        engine: &Engine,
        cx: &DestroyCx<'_>,
        report: &mut DestroyReport,
    ) -> Result<(), EngineError>;
}

/// Every kind, in destroy's order: what uses another comes before it (the edge fronts the
/// instances, which sit in the groups, which live in the network).
pub(crate) const KINDS: [&dyn Kind; 5] = [
    &edge::Edge,
    &instance::Instances,
    &security_group::Groups,
    &identity::Identity,
    &network::Network,
];

#[cfg(test)]
mod tests {
    use gm_plan::{
        ActualAddress, ActualCdn, ActualGateway, ActualInstance, ActualLb, ActualNatGateway,
        ActualNetwork, ActualRole, ActualRouteTable, ActualSecret, ActualSg, ActualSubnet,
        ActualTargetGroup, ActualVolume, ActualVpc, Tags, TAG_DEPLOYMENT, TAG_ID, TAG_MANAGED,
    };
    use gm_state::ResourceKind;

    use super::*;

    fn ours(id: &str) -> Tags {
        [(TAG_DEPLOYMENT, "reg"), (TAG_MANAGED, "true"), (TAG_ID, id)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// One of everything a deployment can own.
    fn everything() -> Actual {
        Actual {
            instances: vec![ActualInstance {
                id: "i-1".into(),
                state: "running".into(),
                tags: ours("instance/web/0"),
                ..Default::default()
            }],
            volumes: vec![ActualVolume {
                id: "vol-1".into(),
                tags: ours("volume/web/0"),
                ..Default::default()
            }],
            security_groups: vec![ActualSg {
                id: "sg-1".into(),
                tags: ours("sg/web"),
                ..Default::default()
            }],
            roles: vec![ActualRole {
                name: "gm-reg-app".into(),
                ..Default::default()
            }],
            secrets: vec![ActualSecret {
                parameter: "/geusemaker/reg/db".into(),
            }],
            load_balancer: Some(ActualLb {
                arn: "arn:lb".into(),
                ..Default::default()
            }),
            target_group: Some(ActualTargetGroup {
                arn: "arn:tg".into(),
                ..Default::default()
            }),
            distributions: vec![ActualCdn {
                id: "E1".into(),
                ..Default::default()
            }],
            network: ActualNetwork {
                vpcs: vec![ActualVpc {
                    id: "vpc-1".into(),
                    tags: ours("vpc/main"),
                    ..Default::default()
                }],
                subnets: vec![ActualSubnet {
                    id: "subnet-1".into(),
                    tags: ours("subnet/a"),
                    ..Default::default()
                }],
                internet_gateways: vec![ActualGateway {
                    id: "igw-1".into(),
                    tags: ours("internet-gateway/main"),
                    ..Default::default()
                }],
                route_tables: vec![ActualRouteTable {
                    id: "rtb-1".into(),
                    tags: ours("route-table/public"),
                    ..Default::default()
                }],
                nat_gateways: vec![ActualNatGateway {
                    id: "nat-1".into(),
                    state: "available".into(),
                    tags: ours("nat-gateway/main"),
                    ..Default::default()
                }],
                addresses: vec![ActualAddress {
                    allocation_id: "eipalloc-1".into(),
                    tags: ours("elastic-ip/nat"),
                    ..Default::default()
                }],
                ..Default::default()
            },
        }
    }

    #[test]
    fn every_owned_resource_is_recorded_and_doomed_once_in_destroys_order() {
        let a = everything();
        let mut records = Vec::new();
        let mut doomed = Vec::new();
        for k in KINDS {
            k.records(&a, &mut records);
            k.doomed(&a, "reg", &mut doomed);
        }
        let mut recorded: Vec<&str> = records.iter().map(|r| r.aws_id.as_str()).collect();
        let mut removed: Vec<&str> = doomed.iter().map(|d| d.aws_id.as_str()).collect();
        let want = [
            "E1",
            "arn:lb",
            "arn:tg",
            "i-1",
            "vol-1",
            "sg-1",
            "gm-reg-app",
            "/geusemaker/reg/db",
            "rtb-1",
            "nat-1",
            "subnet-1",
            "eipalloc-1",
            "igw-1",
            "vpc-1",
        ];
        // Destroy's order: what uses another goes first.
        assert_eq!(removed, want, "destroy order");
        recorded.sort_unstable();
        removed.sort_unstable();
        assert_eq!(
            recorded, removed,
            "records and destroy cover the same resources"
        );
        let kinds: std::collections::BTreeSet<ResourceKind> =
            doomed.iter().map(|d| d.kind).collect();
        // Every kind a deployment owns (images and key pairs are only referenced).
        for k in ResourceKind::ALL
            .into_iter()
            .filter(|k| !matches!(k, ResourceKind::Image | ResourceKind::KeyPair))
        {
            assert!(kinds.contains(&k), "{k} has no registered kind");
        }
    }
}
