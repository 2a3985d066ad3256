//! `geusemaker monitor`: user-data progress per instance.

use std::time::{Duration, Instant};

use gm_engine::{EngineOptions, InstanceStatus};

use crate::cli::MonitorArgs;
use crate::context::Ctx;
use crate::error::{CliError, ExitStatus};

pub async fn run(ctx: &Ctx<'_>, a: &MonitorArgs) -> Result<ExitStatus, CliError> {
    let (loaded, desired) = ctx.spec(&a.spec.file)?;
    let engine = ctx
        .engine(&desired.deployment, Some(&loaded), EngineOptions::default())
        .await?;
    let deadline = Instant::now() + Duration::from_secs(a.timeout);
    loop {
        let statuses = engine.monitor(&desired.deployment, a.tail).await?;
        let done = statuses
            .iter()
            .all(|s| s.user_data.as_ref().is_none_or(|u| u.state.is_final()));
        if !a.follow || done || Instant::now() >= deadline {
            ctx.out.data(&statuses, || render(&statuses));
            let failed = statuses.iter().any(|s| {
                s.user_data
                    .as_ref()
                    .is_some_and(|u| u.state == gm_engine::monitor::UdState::Failed)
            });
            return Ok(if failed {
                ExitStatus::Failed
            } else {
                ExitStatus::Ok
            });
        }
        if !ctx.out.is_machine() {
            ctx.out.say(&render(&statuses));
        }
        tokio::time::sleep(Duration::from_secs(a.interval.max(1))).await;
    }
}

fn render(statuses: &[InstanceStatus]) -> String {
    if statuses.is_empty() {
        return "No instances.\n".into();
    }
    let mut s = String::new();
    for st in statuses {
        let i = &st.instance;
        let Some(ud) = &st.user_data else { continue };
        let state = match (ud.state, ud.exit_code) {
            (gm_engine::monitor::UdState::Failed, Some(rc)) => format!("failed (exit {rc})"),
            (state, _) => serde_json::to_value(state)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
        };
        s.push_str(&format!(
            "{} ({}, {}): user data {state}\n",
            i.address, i.id, i.state
        ));
        for step in &ud.steps {
            s.push_str(&format!(
                "    step {:<24} {}{}\n",
                step.name,
                step.state,
                step.rc.map(|r| format!(" (exit {r})")).unwrap_or_default()
            ));
        }
        for line in &ud.log_tail {
            s.push_str(&format!("    | {line}\n"));
        }
        if !ud.services.is_empty() {
            s.push_str("    services, as the instance last reported them:\n");
            for x in &ud.services {
                s.push_str(&format!("      {:<10} {}\n", x.service, x.state));
            }
        }
    }
    s
}
