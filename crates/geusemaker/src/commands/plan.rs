//! `geusemaker plan`: what apply would change.

use gm_engine::EngineOptions;

use crate::cli::PlanArgs;
use crate::context::Ctx;
use crate::error::{exit, CliError};

pub async fn run(ctx: &Ctx<'_>, a: &PlanArgs) -> Result<u8, CliError> {
    let (loaded, desired) = ctx.spec(&a.spec.file)?;
    let engine = ctx
        .engine(&desired.deployment, Some(&loaded), EngineOptions::default())
        .await?;
    let (_, plan) = engine.plan(&desired).await?;
    ctx.out.data(&plan, || plan.to_text());
    Ok(if a.detailed_exitcode && !plan.is_empty() {
        exit::CHANGES
    } else {
        exit::OK
    })
}
