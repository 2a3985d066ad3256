//! `geusemaker heal`: re-apply a deployment's recorded spec — relaunch what is gone, with its
//! kept volumes — through the same engine.

use gm_engine::ApplyReport;

use crate::cli::HealArgs;
use crate::context::{confirm, spec_from_record, Ctx};
use crate::error::{CliError, ExitStatus};
use crate::progress::Bars;

pub async fn run(ctx: &Ctx<'_>, a: &HealArgs) -> Result<ExitStatus, CliError> {
    let store = ctx.store()?;
    let dep = ctx.deployment(&store, &a.name)?;
    let Some(record) = store.spec(&a.name)? else {
        return Err(CliError::new(
            "GM-HEAL-001",
            format!("`{}` has no recorded spec to heal from", a.name),
            ExitStatus::Failed,
        )
        .hint("run `geusemaker apply -f SPEC` (or `deploy`) once; it records the spec"));
    };
    drop(store);
    let loaded = spec_from_record(&a.name, &record)?;
    let desired = gm_plan::desire(&loaded);
    let opts = ctx.settings.engine_options(a.timeout);
    let region = ctx.global.region.clone().unwrap_or(dep.region);
    let engine = ctx.engine_in(&a.name, &region, opts).await?;
    let (actual, plan) = engine.plan(&desired).await?;
    if plan.is_empty() {
        return Ok(nothing_to_heal(ctx, &engine, &a.name, &actual, &plan));
    }
    let (wait, notes) = super::lock_wait(ctx);
    let spec_file = dep.spec_file.as_deref();
    engine
        .replanned(&desired, "heal", wait, &notes, async |actual, plan| {
            heal_locked(ctx, a, &engine, &desired, actual, plan, spec_file).await
        })
        .await
}

/// Shows the plan made under the lock, confirms, applies.
async fn heal_locked(
    ctx: &Ctx<'_>,
    a: &HealArgs,
    engine: &gm_engine::Engine,
    desired: &gm_plan::Desired,
    actual: &gm_plan::Actual,
    plan: &gm_plan::Plan,
    spec_file: Option<&str>,
) -> Result<ExitStatus, CliError> {
    if plan.is_empty() {
        return Ok(nothing_to_heal(ctx, engine, &a.name, actual, plan));
    }
    if !ctx.out.is_machine() && !ctx.out.quiet {
        eprint!("{}", plan.to_text());
    }
    confirm(&format!("Heal `{}`?", a.name), a.yes, None)?;
    let bars = Bars::new(ctx.out.quiet, ctx.global.verbose > 0);
    let source = spec_file.map(|file| gm_engine::Source { file, spec: None });
    let r = engine.apply(desired, actual, plan, source, &bars).await;
    bars.finish();
    match r {
        Ok(report) => {
            ctx.out.data(&report, || report.to_text());
            Ok(ExitStatus::Ok)
        }
        Err(e) => Err(super::apply_failed(ctx, e)),
    }
}

fn nothing_to_heal(
    ctx: &Ctx<'_>,
    engine: &gm_engine::Engine,
    name: &str,
    actual: &gm_plan::Actual,
    plan: &gm_plan::Plan,
) -> ExitStatus {
    let report = ApplyReport::unchanged(name, actual, plan, engine.cloud().requests());
    ctx.out.data(&report, || {
        format!("Nothing to heal: `{name}` matches its spec.\n")
    });
    ExitStatus::Ok
}
