//! `geusemaker apply`: show the plan, confirm, execute, report.

use std::time::{Duration, Instant};

use gm_engine::monitor::UdState;
use gm_engine::{ApplyReport, Engine, EngineOptions};
use gm_plan::{Actual, Desired, Plan};

use crate::cli::ApplyArgs;
use crate::context::{confirm, Ctx};
use crate::error::{CliError, ExitStatus};
use crate::progress::Bars;

pub async fn run(ctx: &Ctx<'_>, a: &ApplyArgs) -> Result<ExitStatus, CliError> {
    let (loaded, desired) = ctx.spec(&a.spec.file)?;
    let opts = EngineOptions {
        parallelism: a.parallelism.max(1),
        wait: !a.no_wait,
        keep_on_failure: a.keep_on_failure,
        ..ctx.settings.engine_options(a.timeout)
    };
    let engine = ctx.engine(&desired.deployment, Some(&loaded), opts).await?;
    let (wait, notes) = super::lock_wait(ctx);
    if !engine.knows(&desired.deployment)? {
        // Nothing of it is known here: this run makes it, so its one plan is made locked.
        engine
            .locked(&desired.deployment, "apply", wait, &notes, async || {
                let (actual, plan) = engine.plan(&desired).await?;
                apply_locked(ctx, a, &engine, &loaded, &desired, &actual, &plan).await
            })
            .await?;
    } else {
        // A run with nothing to change takes no lock: it changes nothing.
        let (actual, plan) = engine.plan(&desired).await?;
        if !plan.is_empty() {
            engine
                .replanned(&desired, "apply", wait, &notes, async |actual, plan| {
                    apply_locked(ctx, a, &engine, &loaded, &desired, actual, plan).await
                })
                .await?;
        } else {
            unchanged(ctx, &engine, &desired, &actual, &plan);
        }
    }
    if a.wait_user_data {
        return wait_user_data(ctx, &engine, &desired.deployment, a.timeout).await;
    }
    Ok(ExitStatus::Ok)
}

fn unchanged(ctx: &Ctx<'_>, engine: &Engine, desired: &Desired, actual: &Actual, plan: &Plan) {
    let report =
        ApplyReport::unchanged(&desired.deployment, actual, plan, engine.cloud().requests());
    ctx.out.data(&report, || plan.to_text());
}

/// Shows the plan made under the lock, confirms, applies.
async fn apply_locked(
    ctx: &Ctx<'_>,
    a: &ApplyArgs,
    engine: &Engine,
    loaded: &gm_spec::LoadedSpec,
    desired: &Desired,
    actual: &Actual,
    plan: &Plan,
) -> Result<(), CliError> {
    if plan.is_empty() {
        unchanged(ctx, engine, desired, actual, plan);
        return Ok(());
    }
    if !ctx.out.is_machine() && !ctx.out.quiet {
        let cost = gm_engine::cost::cost_delta(engine.cloud().region(), desired, actual);
        eprint!("{}{}", plan.to_text(), cost.to_text());
    }
    confirm("Apply these changes?", a.yes, None)?;
    let record = crate::context::spec_record(loaded);
    let source = gm_engine::Source {
        file: &loaded.file,
        spec: Some(&record),
    };
    let bars = Bars::new(ctx.out.quiet, ctx.global.verbose > 0);
    let result = engine
        .apply(desired, actual, plan, Some(source), &bars)
        .await;
    bars.finish();
    match result {
        Ok(report) => {
            ctx.out.data(&report, || report.to_text());
            Ok(())
        }
        Err(e) => Err(super::apply_failed(ctx, e)),
    }
}

/// Polls user-data progress until every instance's script has finished.
async fn wait_user_data(
    ctx: &Ctx<'_>,
    engine: &Engine,
    deployment: &str,
    timeout: u64,
) -> Result<ExitStatus, CliError> {
    let deadline = Instant::now() + Duration::from_secs(timeout);
    let mut backoff = gm_cloud::Backoff::default();
    ctx.out.say("Waiting for user data to finish…");
    loop {
        tokio::time::sleep(backoff.next_delay()).await;
        let statuses = engine.monitor(deployment, 5).await?;
        let failed: Vec<String> = statuses
            .iter()
            .filter(|s| {
                s.user_data
                    .as_ref()
                    .is_some_and(|u| u.state == UdState::Failed)
            })
            .map(|s| {
                format!(
                    "{} ({}) exit {}",
                    s.instance.address,
                    s.instance.id,
                    s.user_data.as_ref().and_then(|u| u.exit_code).unwrap_or(-1)
                )
            })
            .collect();
        if !failed.is_empty() {
            return Err(CliError::new(
                "GM-UD-001",
                format!("user data failed on {}", failed.join(", ")),
                ExitStatus::Failed,
            )
            .hint("see the log with `geusemaker monitor -f SPEC`"));
        }
        if statuses
            .iter()
            .all(|s| s.user_data.as_ref().is_none_or(|u| u.state.is_final()))
        {
            ctx.out.say("User data finished on every instance.");
            return Ok(ExitStatus::Ok);
        }
        if Instant::now() >= deadline {
            let waiting: Vec<&str> = statuses
                .iter()
                .filter(|s| s.user_data.as_ref().is_some_and(|u| !u.state.is_final()))
                .map(|s| s.instance.address.as_str())
                .collect();
            return Err(CliError::new(
                "GM-UD-002",
                format!(
                    "user data still not finished after {timeout} s on {}",
                    waiting.join(", ")
                ),
                ExitStatus::Failed,
            )
            .hint(
                "raise --timeout, or check progress with `geusemaker monitor -f SPEC --follow`",
            ));
        }
    }
}
