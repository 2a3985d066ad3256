//! One file per command.

mod apply;
mod cost;
mod deploy;
mod destroy;
mod discover;
mod explain;
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
use crate::error::{CliError, ExitStatus};

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

/// How long a changing command waits for the deployment's lock (`--lock-timeout`), and where
/// the lock's notes go (waiting, a stale lock broken, a release that failed).
pub(crate) fn lock_wait(ctx: &Ctx<'_>) -> (std::time::Duration, crate::progress::Bars) {
    (
        ctx.settings.lock_wait,
        crate::progress::Bars::new(ctx.out.quiet, ctx.global.verbose > 0),
    )
}

/// Runs a command; returns the exit code.
pub async fn run(ctx: &Ctx<'_>, command: &Command) -> Result<ExitStatus, CliError> {
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
        Command::Explain(a) => explain::run(ctx, a),
        Command::State(s) => state::run(ctx, s).await,
        Command::Inventory(c) => inventory::run(ctx, c).await,
    }
}
