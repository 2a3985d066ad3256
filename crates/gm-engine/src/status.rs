//! What exists now, from AWS, against the spec; and user-data progress per instance.

use futures::stream::{self, StreamExt};
use serde::Serialize;

use gm_plan::{Desired, TAG_USER_DATA};

use crate::monitor::{parse_console, UdState, UdStatus};
use crate::report::{instance_summaries, InstanceSummary};
use crate::{Engine, EngineError};

/// One instance's status.
#[derive(Debug, Clone, Serialize)]
pub struct InstanceStatus {
    /// What AWS reports.
    #[serde(flatten)]
    pub instance: InstanceSummary,
    /// User-data progress, when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_data: Option<UdStatus>,
}

/// A deployment's state against its spec.
#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    /// Deployment.
    pub deployment: String,
    /// Region.
    pub region: String,
    /// True when a plan would change nothing.
    pub in_sync: bool,
    /// Instances AWS reports.
    pub instances: Vec<InstanceStatus>,
    /// Addresses the spec wants that do not exist.
    pub missing: Vec<String>,
    /// Plan lines for what differs.
    pub drift: Vec<String>,
    /// Volumes and groups AWS reports, as `address (id): detail`.
    pub other_resources: Vec<String>,
}

impl Engine {
    /// Reads AWS and compares it with `desired`.
    pub async fn status(&self, desired: &Desired) -> Result<StatusReport, EngineError> {
        let (actual, plan) = self.plan(desired).await?;
        let mut drift = Vec::new();
        let mut missing = Vec::new();
        for c in &plan.changes {
            if c.kind == gm_plan::ChangeKind::Create {
                missing.push(c.address.clone());
            } else {
                drift.push(format!(
                    "{} {} {}: {}",
                    c.kind.symbol(),
                    c.kind.verb(),
                    c.address,
                    c.details.join("; ")
                ));
            }
        }
        drift.extend(plan.warnings.iter().cloned());
        let mut other = Vec::new();
        for v in &actual.volumes {
            other.push(format!(
                "{}:{} ({}): {} GiB {} {}",
                v.tags
                    .get(gm_plan::TAG_ID)
                    .map_or("volume/?", String::as_str),
                v.attachments
                    .first()
                    .map_or("detached", |a| a.device.as_str()),
                v.id,
                v.size,
                v.volume_type,
                v.attachments.first().map_or_else(
                    || "detached".to_string(),
                    |a| format!("on {}", a.instance_id)
                )
            ));
        }
        for g in &actual.security_groups {
            other.push(format!(
                "{} ({}): {}",
                g.logical_id().unwrap_or("sg/?"),
                g.id,
                g.name
            ));
        }
        Ok(StatusReport {
            deployment: desired.deployment.clone(),
            region: self.cloud.region().to_string(),
            in_sync: plan.is_empty(),
            instances: instance_summaries(&actual)
                .into_iter()
                .map(|i| InstanceStatus {
                    instance: i,
                    user_data: None,
                })
                .collect(),
            missing,
            drift,
            other_resources: other,
        })
    }

    /// User-data progress of every instance of a deployment, read from the EC2 console
    /// (one `GetConsoleOutput` per instance, concurrently).
    pub async fn monitor(
        &self,
        deployment: &str,
        tail: usize,
    ) -> Result<Vec<InstanceStatus>, EngineError> {
        let actual = self.refresh(deployment, gm_plan::Reads::EC2).await?;
        let summaries = instance_summaries(&actual);
        let cloud = &self.cloud;
        let results: Vec<Result<InstanceStatus, EngineError>> = stream::iter(summaries)
            .map(|s| {
                let has_ud = actual
                    .instances
                    .iter()
                    .find(|i| i.id == s.id)
                    .and_then(|i| i.tags.get(TAG_USER_DATA))
                    .is_some_and(|d| d != "none");
                async move {
                    let ud = if !has_ud {
                        UdStatus {
                            state: UdState::None,
                            exit_code: None,
                            steps: Vec::new(),
                            log_tail: Vec::new(),
                            services: Vec::new(),
                        }
                    } else if s.state == "pending" {
                        UdStatus {
                            state: UdState::Pending,
                            exit_code: None,
                            steps: Vec::new(),
                            log_tail: Vec::new(),
                            services: Vec::new(),
                        }
                    } else {
                        parse_console(&cloud.console_output(&s.id).await?, tail)
                    };
                    Ok(InstanceStatus {
                        instance: s,
                        user_data: Some(ud),
                    })
                }
            })
            .buffered(self.opts.parallelism.max(1))
            .collect()
            .await;
        results.into_iter().collect()
    }
}
