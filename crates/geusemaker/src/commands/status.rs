//! `geusemaker status`: what exists now in AWS, against the spec.

use gm_engine::EngineOptions;

use crate::cli::SpecArg;
use crate::context::Ctx;
use crate::error::{CliError, ExitStatus};

pub async fn run(ctx: &Ctx<'_>, a: &SpecArg) -> Result<ExitStatus, CliError> {
    let (loaded, desired) = ctx.spec(&a.file)?;
    let engine = ctx
        .engine(&desired.deployment, Some(&loaded), EngineOptions::default())
        .await?;
    let report = engine.status(&desired).await?;
    ctx.out.data(&report, || {
        let mut s = format!(
            "Deployment `{}` in {}: {}\n",
            report.deployment,
            report.region,
            if report.in_sync {
                "in sync with the spec"
            } else {
                "differs from the spec"
            }
        );
        if !report.instances.is_empty() {
            s.push_str(&format!(
                "\n  {:<24} {:<21} {:<9} {:<12} {:<26} {}\n",
                "ADDRESS", "ID", "STATE", "TYPE", "MARKET", "IP"
            ));
            for i in &report.instances {
                let i = &i.instance;
                s.push_str(&format!(
                    "  {:<24} {:<21} {:<9} {:<12} {:<26} {}\n",
                    i.address,
                    i.id,
                    i.state,
                    i.instance_type,
                    i.market,
                    i.public_ip
                        .as_deref()
                        .or(i.private_ip.as_deref())
                        .unwrap_or("-")
                ));
            }
        }
        if !report.other_resources.is_empty() {
            s.push('\n');
            for r in &report.other_resources {
                s.push_str(&format!("  {r}\n"));
            }
        }
        for m in &report.missing {
            s.push_str(&format!("  missing: {m}\n"));
        }
        for d in &report.drift {
            s.push_str(&format!("  drift: {d}\n"));
        }
        s
    });
    Ok(ExitStatus::Ok)
}
