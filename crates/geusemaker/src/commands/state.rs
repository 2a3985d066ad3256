//! `geusemaker state`: the state store itself.

use crate::cli::{StateCommand, UnlockArgs};
use crate::context::{confirm, Ctx};
use crate::error::{CliError, ExitStatus};

pub async fn run(ctx: &Ctx<'_>, c: &StateCommand) -> Result<ExitStatus, CliError> {
    match c {
        StateCommand::Unlock(a) => return unlock(ctx, a).await,
        StateCommand::Export => {
            let v = ctx.store()?.export()?;
            let out = crate::output::Out {
                format: if ctx.out.format == crate::cli::Format::Yaml {
                    crate::cli::Format::Yaml
                } else {
                    crate::cli::Format::Json
                },
                quiet: false,
            };
            out.data(&v, String::new);
        }
        StateCommand::Path => {
            let v = serde_json::json!({
                "state": ctx.state_path(),
                "audit_log": ctx.audit_path(),
            });
            ctx.out.data(&v, || {
                format!(
                    "state:     {}\naudit log: {}\n",
                    ctx.state_path().display(),
                    ctx.audit_path().display()
                )
            });
        }
    }
    Ok(ExitStatus::Ok)
}

/// `state unlock NAME`: deletes the deployment's lease, naming who held it.
async fn unlock(ctx: &Ctx<'_>, a: &UnlockArgs) -> Result<ExitStatus, CliError> {
    // The lease lives in the deployment's region: the flag's, else where the state says.
    let region = match &ctx.global.region {
        Some(r) => r.clone(),
        None => match ctx.store()?.deployment(&a.name)? {
            Some(d) => d.region,
            None => ctx.region(None),
        },
    };
    let engine = ctx
        .engine_in(&a.name, &region, gm_engine::EngineOptions::default())
        .await?;
    let Some(holder) = engine.lock_holder(&a.name).await? else {
        ctx.out.data(
            &serde_json::json!({"deployment": a.name, "region": region, "removed": null}),
            || format!("`{}` is not locked in {region}.\n", a.name),
        );
        return Ok(ExitStatus::Ok);
    };
    ctx.out.say(&format!("`{}` is locked by {holder}.", a.name));
    confirm(
        "Remove this lock? Do so only if that run is no longer running.",
        a.yes,
        None,
    )?;
    let removed = engine.unlock(&a.name).await?;
    ctx.out.data(
        &serde_json::json!({"deployment": a.name, "region": region, "removed": removed}),
        || {
            format!(
                "Removed the lock on `{}` ({}).\n",
                a.name,
                removed.as_deref().unwrap_or(&holder)
            )
        },
    );
    Ok(ExitStatus::Ok)
}
