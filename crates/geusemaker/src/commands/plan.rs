//! `geusemaker plan`: what apply would change.

use gm_engine::EngineOptions;

use crate::cli::PlanArgs;
use crate::context::Ctx;
use crate::error::{CliError, ExitStatus};

pub async fn run(ctx: &Ctx<'_>, a: &PlanArgs) -> Result<ExitStatus, CliError> {
    let (loaded, desired) = ctx.spec(&a.spec.file)?;
    let engine = ctx
        .engine(&desired.deployment, Some(&loaded), EngineOptions::default())
        .await?;
    let (actual, plan) = engine.plan(&desired).await?;
    let cost = gm_engine::cost::cost_delta(engine.cloud().region(), &desired, &actual);
    #[derive(serde::Serialize)]
    struct View<'a> {
        #[serde(flatten)]
        plan: &'a gm_plan::Plan,
        cost: &'a gm_engine::cost::CostDelta,
    }
    ctx.out.data(
        &View {
            plan: &plan,
            cost: &cost,
        },
        || format!("{}{}", plan.to_text(), cost.to_text()),
    );
    Ok(if a.detailed_exitcode && !plan.is_empty() {
        ExitStatus::Changes
    } else {
        ExitStatus::Ok
    })
}
