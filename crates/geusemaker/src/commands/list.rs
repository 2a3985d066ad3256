//! `geusemaker list`: deployments known to the state store.

use crate::context::Ctx;
use crate::error::{CliError, ExitStatus};

pub fn run(ctx: &Ctx<'_>) -> Result<ExitStatus, CliError> {
    let deployments = ctx.store()?.deployments()?;
    ctx.out.data(&deployments, || {
        if deployments.is_empty() {
            return format!("No deployments in {}.\n", ctx.state_path().display());
        }
        let mut s = format!(
            "{:<24} {:<14} {:<16} {:>9}  {}\n",
            "NAME", "REGION", "STATUS", "RESOURCES", "UPDATED"
        );
        for d in &deployments {
            s.push_str(&format!(
                "{:<24} {:<14} {:<16} {:>9}  {}\n",
                d.name, d.region, d.status, d.resources, d.updated_at
            ));
        }
        s
    });
    Ok(ExitStatus::Ok)
}
