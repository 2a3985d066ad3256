//! One file per command.

mod apply;
mod cost;
mod deploy;
mod destroy;
mod discover;
mod heal;
mod inspect;
mod interactive;
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
        Command::State(s) => state::run(ctx, s),
    }
}
