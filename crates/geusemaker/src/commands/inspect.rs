//! `geusemaker inspect`: one deployment as the state store knows it, secrets on request.

use std::collections::BTreeMap;

use serde_json::json;

use crate::cli::InspectArgs;
use crate::context::Ctx;
use crate::error::{CliError, ExitStatus};

pub async fn run(ctx: &Ctx<'_>, a: &InspectArgs) -> Result<ExitStatus, CliError> {
    let store = ctx.store()?;
    let dep = ctx.deployment(&store, &a.name)?;
    let resources: Vec<_> = store
        .resources(&a.name)?
        .into_iter()
        .filter(|r| r.is_live())
        .collect();
    let runs = store.runs(&a.name)?;
    drop(store);
    let mut secrets: BTreeMap<String, Option<String>> = resources
        .iter()
        .filter(|r| r.kind == gm_state::ResourceKind::Secret)
        .map(|r| (r.aws_id.clone(), None))
        .collect();
    if a.show_secrets && !secrets.is_empty() {
        let cloud = ctx
            .cloud_in(ctx.global.region.as_deref().unwrap_or(&dep.region))
            .await;
        for (name, value) in secrets.iter_mut() {
            *value = Some(cloud.secret_value(name).await?);
        }
    }
    let v = json!({
        "deployment": dep,
        "resources": resources,
        "secrets": secrets,
        "last_run": runs.first(),
    });
    ctx.out.data(&v, || {
        let mut s = format!(
            "Deployment `{}` ({}, {}), spec {}\n",
            dep.name,
            dep.region,
            dep.status,
            dep.spec_file.as_deref().unwrap_or("-")
        );
        for r in &resources {
            s.push_str(&format!(
                "  {:<30} {:<15} {:<10} {}\n",
                r.address,
                r.kind,
                format!("{:?}", r.provenance).to_lowercase(),
                r.aws_id
            ));
        }
        if !secrets.is_empty() {
            s.push_str("Secrets (SSM SecureString):\n");
            for (k, v) in &secrets {
                match v {
                    Some(v) => s.push_str(&format!("  {k} = {v}\n")),
                    None => s.push_str(&format!("  {k} (hidden; --show-secrets reveals it)\n")),
                }
            }
        }
        if let Some(r) = runs.first() {
            s.push_str(&format!(
                "Last run: {} {} ({})\n",
                r.command,
                r.started_at,
                r.outcome.as_deref().unwrap_or("unfinished")
            ));
        }
        s
    });
    Ok(ExitStatus::Ok)
}
