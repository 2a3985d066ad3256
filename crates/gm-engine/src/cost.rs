//! What a deployment costs now and after a plan, from the price catalog.

use serde::Serialize;

use gm_cost::{estimate, Estimate, InstanceLine, SpotQuote, VolumeLine};
use gm_plan::{Actual, Desired};
use gm_spec::Market;

/// AL2023's root volume when the spec does not size it.
const DEFAULT_ROOT_GIB: u32 = 8;

/// The cost of a deployment before and after a change.
#[derive(Debug, Clone, Serialize)]
pub struct CostDelta {
    /// USD/hour of what exists now.
    pub hourly_now: f64,
    /// USD/hour once the spec is applied.
    pub hourly_after: f64,
    /// The estimate after, broken down.
    pub after: Estimate,
}

impl CostDelta {
    /// One line for the plan: `Cost: $0.0416/h → $0.0832/h (+$0.0416/h; $60.74/month) …`.
    pub fn to_text(&self) -> String {
        let diff = self.hourly_after - self.hourly_now;
        format!(
            "Cost: ${:.4}/h → ${:.4}/h ({}${:.4}/h; ${:.2}/month after) [{}]\n",
            self.hourly_now,
            self.hourly_after,
            if diff >= 0.0 { "+" } else { "-" },
            diff.abs(),
            self.after.monthly,
            self.after
                .items
                .iter()
                .map(|i| i.source.as_str())
                .find(|s| s.starts_with("catalog"))
                .unwrap_or("catalog")
        )
    }
}

/// Prices `desired` (after) against `actual` (now) in `region`.
pub fn cost_delta(region: &str, desired: &Desired, actual: &Actual) -> CostDelta {
    let after = estimate_desired(region, desired, &[]);
    let now = estimate_actual(region, actual);
    CostDelta {
        hourly_now: now.hourly,
        hourly_after: after.hourly,
        after,
    }
}

/// The estimate of what a spec asks for; spot instances use the cheapest of `quotes` for their
/// type in `region` (their on-demand price is the upper bound otherwise).
pub fn estimate_desired(region: &str, d: &Desired, quotes: &[SpotQuote]) -> Estimate {
    let mut instances: Vec<InstanceLine> = Vec::new();
    let mut volumes: Vec<VolumeLine> = Vec::new();
    for i in &d.instances {
        instances.push(InstanceLine {
            instance_type: i.instance_type.clone(),
            count: 1,
            spot: i.market == Market::Spot,
            quote: quotes
                .iter()
                .filter(|q| q.region == region && q.instance_type == i.instance_type)
                .min_by(|a, b| a.usd_per_hour.total_cmp(&b.usd_per_hour))
                .cloned(),
            // Default subnets and the network's public ones give instances a public address;
            // a subnet given by id may not.
            public_ip: match &i.subnet {
                None => true,
                Some(gm_plan::SubnetRef::Ours(a)) => d
                    .network
                    .as_ref()
                    .and_then(|n| n.subnets.iter().find(|s| &s.id == a))
                    .is_some_and(|s| s.public),
                Some(gm_plan::SubnetRef::Id(_)) => false,
            },
        });
        let root = i.root_volume.as_ref();
        volumes.push(VolumeLine {
            volume_type: root.map_or("gp3", |r| r.volume_type.as_str()).to_string(),
            size_gib: root.and_then(|r| r.size).unwrap_or(DEFAULT_ROOT_GIB),
            iops: root.and_then(|r| r.iops),
            throughput: root.and_then(|r| r.throughput),
            count: 1,
        });
        for v in &i.volumes {
            volumes.push(VolumeLine {
                volume_type: v.volume_type.as_str().to_string(),
                size_gib: v.size,
                iops: v.iops,
                throughput: v.throughput,
                count: 1,
            });
        }
    }
    estimate(
        region,
        &merge_instances(instances),
        &merge_volumes(volumes),
        &extras(
            d.load_balancer.is_some(),
            d.cdn.is_some(),
            d.network.as_ref().is_some_and(|n| n.nat.is_some()),
        ),
    )
}

/// Average load an estimate assumes for the edge: one LCU on the load balancer, 10 GB a month
/// out of CloudFront (a small team's n8n), 10 GB a month through the NAT gateway (updates and
/// image pulls). Each line in the estimate says so.
const ALB_LCUS: f64 = 1.0;
const CDN_GB_PER_MONTH: f64 = 10.0;
const NAT_GB_PER_MONTH: f64 = 10.0;

fn extras(lb: bool, cdn: bool, nat: bool) -> Vec<gm_cost::Extra> {
    let mut out = Vec::new();
    if nat {
        out.push(gm_cost::Extra::NatGateway {
            gb_per_month: NAT_GB_PER_MONTH,
        });
    }
    if lb {
        out.push(gm_cost::Extra::Alb { lcus: ALB_LCUS });
    }
    if cdn {
        out.push(gm_cost::Extra::CloudFront {
            gb_per_month: CDN_GB_PER_MONTH,
        });
    }
    out
}

/// The estimate of what exists.
pub fn estimate_actual(region: &str, a: &Actual) -> Estimate {
    let instances = a
        .instances
        .iter()
        .filter(|i| i.state != "stopped")
        .map(|i| InstanceLine {
            instance_type: i.instance_type.clone(),
            count: 1,
            spot: i.spot,
            quote: None,
            public_ip: i.public_ip.is_some(),
        })
        .collect();
    let volumes = a
        .volumes
        .iter()
        .map(|v| VolumeLine {
            volume_type: v.volume_type.clone(),
            size_gib: u32::try_from(v.size).unwrap_or(0),
            iops: v.iops.and_then(|x| u32::try_from(x).ok()),
            throughput: v.throughput.and_then(|x| u32::try_from(x).ok()),
            count: 1,
        })
        .collect();
    estimate(
        region,
        &merge_instances(instances),
        &merge_volumes(volumes),
        &extras(
            a.load_balancer.is_some(),
            !a.distributions.is_empty(),
            a.network.nat_gateway().is_some(),
        ),
    )
}

fn merge_instances(v: Vec<InstanceLine>) -> Vec<InstanceLine> {
    let mut out: Vec<InstanceLine> = Vec::new();
    for i in v {
        match out.iter_mut().find(|o| {
            o.instance_type == i.instance_type && o.spot == i.spot && o.public_ip == i.public_ip
        }) {
            Some(o) => o.count += i.count,
            None => out.push(i),
        }
    }
    out
}

fn merge_volumes(v: Vec<VolumeLine>) -> Vec<VolumeLine> {
    let mut out: Vec<VolumeLine> = Vec::new();
    for i in v {
        match out.iter_mut().find(|o| {
            o.volume_type == i.volume_type
                && o.size_gib == i.size_gib
                && o.iops == i.iops
                && o.throughput == i.throughput
        }) {
            Some(o) => o.count += i.count,
            None => out.push(i),
        }
    }
    out
}
