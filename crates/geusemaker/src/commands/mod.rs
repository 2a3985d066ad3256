//! One file per command.

mod apply;
mod cost;
mod deploy;
mod destroy;
mod discover;
mod heal;
mod inspect;
mod interactive;
mod inventory;
mod list;
mod monitor;
mod plan;
mod schema;
mod state;
mod status;
mod validate;

use crate::cli::Command;
use crate::context::Ctx;
use crate::error::CliError;

/// A failed apply: prints its report (what was done, undone, and why) as the command's result,
/// then returns the error, marked as already reported.
pub(crate) fn apply_failed(ctx: &Ctx<'_>, e: gm_engine::EngineError) -> CliError {
    match e {
        gm_engine::EngineError::Failed(report) => {
            ctx.out.data(&report, || report.to_text());
            let mut err: CliError = gm_engine::EngineError::Failed(report).into();
            err.reported = true;
            err
        }
        other => other.into(),
    }
}

/// Takes the deployment's lock for a command that changes it, waiting `--lock-timeout`, and
/// plans again under it: another run may have changed the deployment meanwhile, and the plan
/// this run applies must be what AWS has now.
pub(crate) async fn lock_and_replan(
    ctx: &Ctx<'_>,
    engine: &gm_engine::Engine,
    desired: &gm_plan::Desired,
    command: &str,
) -> Result<(gm_engine::LeaseGuard, gm_plan::Actual, gm_plan::Plan), CliError> {
    let guard = lock(ctx, engine, &desired.deployment, command).await?;
    match engine.plan(desired).await {
        Ok((actual, plan)) => Ok((guard, actual, plan)),
        Err(e) => {
            release(ctx, guard).await;
            Err(e.into())
        }
    }
}

/// Takes the deployment's lock for a command that changes it, waiting `--lock-timeout`.
pub(crate) async fn lock(
    ctx: &Ctx<'_>,
    engine: &gm_engine::Engine,
    deployment: &str,
    command: &str,
) -> Result<gm_engine::LeaseGuard, CliError> {
    let notes = crate::progress::Bars::new(ctx.out.quiet, ctx.global.verbose > 0);
    let wait = std::time::Duration::from_secs(ctx.global.lock_timeout);
    Ok(engine.lock(deployment, command, wait, &notes).await?)
}

/// Releases a lock. Failing to is a warning, not an error: the change is done, and the lease
/// lapses by itself.
pub(crate) async fn release(ctx: &Ctx<'_>, guard: gm_engine::LeaseGuard) {
    if let Err(e) = guard.release().await {
        ctx.out.say(&format!(
            "warning: could not release the deployment's lock ({}); it lapses within {} s",
            e.short(),
            gm_engine::LEASE_TTL.as_secs()
        ));
    }
}

/// Runs a command; returns the exit code.
pub async fn run(ctx: &Ctx<'_>, command: &Command) -> Result<u8, CliError> {
    match command {
        Command::Validate(a) => validate::run(ctx, a),
        Command::Plan(a) => plan::run(ctx, a).await,
        Command::Apply(a) => apply::run(ctx, a).await,
        Command::Status(a) => status::run(ctx, a).await,
        Command::Monitor(a) => monitor::run(ctx, a).await,
        Command::Destroy(a) => destroy::run(ctx, a).await,
        Command::Deploy(a) => deploy::run(ctx, a).await,
        Command::Cost(a) => cost::run(ctx, a).await,
        Command::Discover(a) => discover::run(ctx, a).await,
        Command::Heal(a) => heal::run(ctx, a).await,
        Command::Inspect(a) => inspect::run(ctx, a).await,
        Command::List => list::run(ctx),
        Command::Schema => schema::run(ctx),
        Command::State(s) => state::run(ctx, s).await,
        Command::Inventory(c) => inventory::run(ctx, c).await,
    }
}
