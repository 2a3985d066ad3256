//! `geusemaker cost`: what a tier costs, offline from the dated catalog or with live spot prices.

use serde::Serialize;

use gm_stack::Tier;

use crate::cli::CostArgs;
use crate::context::Ctx;
use crate::error::{CliError, ExitStatus};

use super::deploy::{compile, estimate, request, tier};

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

/// Fetches on-demand prices from the Pricing API and keeps them beside the state.
async fn refresh(ctx: &Ctx<'_>, a: &CostArgs) -> Result<ExitStatus, CliError> {
    let c = gm_cost::catalog();
    let regions: Vec<String> = if a.regions.is_empty() {
        c.regions().iter().map(|r| r.to_string()).collect()
    } else {
        a.regions.clone()
    };
    let types: Vec<String> = c.instance_types.keys().cloned().collect();
    let prices = ctx.cloud_in(&ctx.region(None)).await.refresh_on_demand(&regions, &types).await.map_err(|e| {
        let mut err: CliError = e.into();
        err.hint = Some(format!(
            "the Pricing API (api.pricing.us-east-1.amazonaws.com) must be reachable with pricing:GetProducts; until then the catalog dated {} stays in use",
            c.date
        ));
        err
    })?;
    let count: usize = prices.values().map(|m| m.len()).sum();
    let refreshed = gm_cost::Refreshed {
        date: chrono::Utc::now().format("%Y-%m-%d").to_string(),
        source: "AWS Pricing API, Linux shared tenancy".into(),
        on_demand_hourly: prices,
    };
    let path = ctx.prices_path();
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    std::fs::write(
        &path,
        serde_json::to_string_pretty(&refreshed).unwrap_or_default(),
    )
    .map_err(|e| {
        CliError::new(
            "GM-COST-002",
            format!("cannot write {}: {e}", path.display()),
            ExitStatus::Failed,
        )
    })?;
    ctx.out.data(&refreshed, || {
        format!(
            "Refreshed {count} on-demand prices in {} region(s) from the AWS Pricing API ({}); kept in {}.\n",
            regions.len(),
            refreshed.date,
            path.display()
        )
    });
    Ok(ExitStatus::Ok)
}

pub async fn run(ctx: &Ctx<'_>, a: &CostArgs) -> Result<ExitStatus, CliError> {
    if a.refresh_prices {
        return refresh(ctx, a).await;
    }
    let tiers: Vec<Tier> = match (a.compare_tiers, a.tier) {
        (true, _) => vec![Tier::Dev, Tier::Automation, Tier::Gpu],
        (false, Some(t)) => vec![tier(t)],
        (false, None) => {
            return Err(CliError::new(
                "GM-CLI-004",
                "name a --tier or use --compare-tiers",
                ExitStatus::Usage,
            ))
        }
    };
    let regions = if a.regions.is_empty() {
        vec![ctx.region(None)]
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
    Ok(ExitStatus::Ok)
}
