//! `geusemaker cost`: what a tier costs, offline from the dated catalog or with live spot prices.

use serde::Serialize;

use gm_stack::Tier;

use crate::cli::CostArgs;
use crate::context::Ctx;
use crate::error::{exit, CliError};

use super::deploy::{compile, estimate, region, request, tier};

#[derive(Serialize)]
struct Row {
    tier: &'static str,
    region: String,
    instance_type: String,
    market: &'static str,
    hourly: f64,
    monthly: f64,
    on_demand_hourly: f64,
    savings_percent: f64,
    placement: String,
    estimate: gm_cost::Estimate,
}

pub async fn run(ctx: &Ctx<'_>, a: &CostArgs) -> Result<u8, CliError> {
    let tiers: Vec<Tier> = match (a.compare_tiers, a.tier) {
        (true, _) => vec![Tier::Dev, Tier::Automation, Tier::Gpu],
        (false, Some(t)) => vec![tier(t)],
        (false, None) => {
            return Err(CliError::new(
                "GM-CLI-004",
                "name a --tier or use --compare-tiers",
                exit::USAGE,
            ))
        }
    };
    let regions = if a.regions.is_empty() {
        vec![region(ctx)]
    } else {
        a.regions.clone()
    };
    let mut rows = Vec::new();
    for r in &regions {
        let quotes = if a.live {
            let types: Vec<String> = gm_cost::catalog().instance_types.keys().cloned().collect();
            ctx.cloud_in(r).await.spot_prices(&types).await?
        } else {
            Vec::new()
        };
        for t in &tiers {
            let stack = compile(&request("cost-preview", *t, r, &a.stack, quotes.clone()))?;
            let e = estimate(&stack);
            rows.push(Row {
                tier: t.as_str(),
                region: r.clone(),
                instance_type: stack.placement.instance_type.clone(),
                market: if stack.spec.spec.instances[0].market == gm_spec::Market::Spot {
                    "spot"
                } else {
                    "on-demand"
                },
                hourly: e.hourly,
                monthly: e.monthly,
                on_demand_hourly: e.on_demand_hourly,
                savings_percent: e.savings() * 100.0,
                placement: stack.placement.explanation.clone(),
                estimate: e,
            });
        }
    }
    ctx.out.data(&rows, || {
        let mut s = format!(
            "{:<11} {:<12} {:<13} {:<10} {:>10} {:>11} {:>12}\n",
            "TIER", "REGION", "TYPE", "MARKET", "$/HOUR", "$/MONTH", "ON-DEMAND/H"
        );
        for r in &rows {
            s.push_str(&format!(
                "{:<11} {:<12} {:<13} {:<10} {:>10.4} {:>11.2} {:>12.4}\n",
                r.tier, r.region, r.instance_type, r.market, r.hourly, r.monthly, r.on_demand_hourly
            ));
        }
        if let Some(first) = rows.first() {
            for n in first.estimate.notes.iter().filter(|n| n.contains("catalog prices are from") || n.contains("upper bound")) {
                s.push_str(&format!("note: {n}\n"));
            }
        }
        if !a.live {
            s.push_str("note: spot is priced at its on-demand upper bound; --live fetches current spot prices\n");
        }
        s
    });
    Ok(exit::OK)
}
