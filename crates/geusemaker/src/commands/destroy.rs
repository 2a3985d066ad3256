//! `geusemaker destroy`: remove exactly what a deployment created.

use gm_engine::Engine;

use crate::cli::DestroyArgs;
use crate::context::{confirm, Ctx};
use crate::error::{CliError, ExitStatus};
use crate::progress::Bars;

pub async fn run(ctx: &Ctx<'_>, a: &DestroyArgs) -> Result<ExitStatus, CliError> {
    let opts = ctx.settings.engine_options(a.timeout);
    let (name, loaded) = match (&a.name, &a.file) {
        (_, Some(f)) => {
            let (loaded, desired) = ctx.spec(f)?;
            (desired.deployment, Some(loaded))
        }
        (Some(n), None) => (n.clone(), None),
        (None, None) => {
            return Err(CliError::new(
                "GM-CLI-003",
                "name a deployment or give its spec with -f",
                ExitStatus::Usage,
            ))
        }
    };
    let mut engine_region_hint = None;
    if loaded.is_none() && ctx.global.region.is_none() {
        // Without a spec, the state store knows where the deployment lives.
        if let Some(d) = ctx.store()?.deployment(&name)? {
            engine_region_hint = Some(d.region);
        }
    }
    let engine = match engine_region_hint {
        Some(region) => ctx.engine_in(&name, &region, opts).await?,
        None => ctx.engine(&name, loaded.as_ref(), opts).await?,
    };
    // A deployment this store has live resources of is about to go: it is locked first and
    // planned once, under the lock. Otherwise a destroy with nothing to do takes no lock, and
    // one that finds something (a lost state file) plans again under it.
    if !engine.knows(&name)? && engine.destroy_plan(&name).await?.is_empty() {
        return nothing_to_destroy(ctx, &engine, &name, false).await;
    }
    let (wait, notes) = super::lock_wait(ctx);
    engine
        .locked(&name, "destroy", wait, &notes, async || {
            destroy_locked(ctx, a, &engine, &name).await
        })
        .await
}

/// AWS has nothing of `name` left. `holding_lock`: this run took the lock (and planned again
/// under it).
async fn nothing_to_destroy(
    ctx: &Ctx<'_>,
    engine: &Engine,
    name: &str,
    holding_lock: bool,
) -> Result<ExitStatus, CliError> {
    let (wait, notes) = super::lock_wait(ctx);
    if holding_lock {
        engine.close_dead_runs(name, &notes)?;
    } else {
        // A run that died part-way through destroying may have left its lease, and its run
        // unfinished in the journal: nothing else would ever close either.
        if let Some(holder) = engine.clear_stale_lock(name).await? {
            ctx.out
                .say(&format!("note: removed a stale lock on `{name}`: {holder}"));
        }
        engine.close_interrupted_runs(name, wait, &notes).await?;
    }
    engine.mark_destroyed(name)?;
    ctx.out.data(
        &serde_json::json!({"deployment": name, "destroyed": [], "remaining": []}),
        || {
            format!(
                "Nothing to destroy: AWS has no resources of deployment `{name}` in {}.\n",
                engine.cloud().region()
            )
        },
    );
    Ok(ExitStatus::Ok)
}

async fn destroy_locked(
    ctx: &Ctx<'_>,
    a: &DestroyArgs,
    engine: &Engine,
    name: &str,
) -> Result<ExitStatus, CliError> {
    let plan = engine.destroy_plan(name).await?;
    if plan.is_empty() {
        return nothing_to_destroy(ctx, engine, name, true).await;
    }
    if !ctx.out.is_machine() && !ctx.out.quiet {
        eprint!("{}", plan.to_text());
    }
    confirm(
        "Destroy these resources? This cannot be undone.",
        a.yes,
        Some(name),
    )?;
    let bars = Bars::new(ctx.out.quiet, ctx.global.verbose > 0);
    let report = engine.destroy(&plan, &bars).await;
    bars.finish();
    let report = match report {
        Ok(r) => r,
        // Stopped or failed part-way: the result still says what was removed and what is left,
        // with the error beside it.
        Err(gm_engine::EngineError::DestroyFailed { report, cause }) => {
            let mut err: CliError = (*cause).into();
            let mut out = serde_json::to_value(&report).unwrap_or_default();
            if let Some(o) = out.as_object_mut() {
                o.insert(
                    "error".into(),
                    serde_json::to_value(&err).unwrap_or_default(),
                );
            }
            ctx.out.data(&out, || destroyed_text(&report, false));
            err.reported = true;
            return Err(err);
        }
        Err(e) => return Err(e.into()),
    };
    ctx.out.data(&report, || destroyed_text(&report, true));
    if report.remaining.is_empty() {
        Ok(ExitStatus::Ok)
    } else {
        Err(CliError::new(
            "GM-DESTROY-001",
            format!(
                "{} resource(s) still exist after destroy",
                report.remaining.len()
            ),
            ExitStatus::Failed,
        )
        .hint(
            "run destroy again; the deployment stays recorded until AWS confirms everything gone",
        ))
    }
}

/// What a destroy removed, what is left and what it kept; `finished`: it ran to the end.
fn destroyed_text(report: &gm_engine::DestroyReport, finished: bool) -> String {
    let mut s = String::new();
    for d in &report.destroyed {
        s.push_str(&format!(
            "destroyed {} ({}): {}\n",
            d.address, d.aws_id, d.what
        ));
    }
    for r in &report.remaining {
        s.push_str(&format!("still there: {r}\n"));
    }
    for k in &report.kept {
        s.push_str(&format!("     kept {k}\n"));
    }
    s.push_str(&format!(
        "\nDestroy {}: {} resource(s) removed in {:.1} s, {} AWS requests.\n",
        match (finished, report.remaining.is_empty()) {
            (false, _) => "stopped",
            (true, true) => "complete",
            (true, false) => "incomplete",
        },
        report.destroyed.len(),
        report.duration_ms as f64 / 1000.0,
        report.requests
    ));
    s
}
