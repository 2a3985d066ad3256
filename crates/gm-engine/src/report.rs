//! What an apply did, for people (text) and machines (JSON).

use std::collections::BTreeMap;

use serde::Serialize;

use gm_plan::{Actual, TAG_ID, TAG_MARKET};

/// How an apply ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Everything in the plan was done.
    Ok,
    /// A step failed and what the run created was undone.
    RolledBack,
    /// A step failed and nothing was undone (`--keep-on-failure`, or past the point where
    /// undoing would lose data).
    Failed,
}

/// One thing done (or undone).
#[derive(Debug, Clone, Serialize)]
pub struct Done {
    /// Logical address.
    pub address: String,
    /// AWS id.
    pub aws_id: String,
    /// What happened.
    pub what: String,
}

/// The failure that stopped an apply.
#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    /// The resource being worked on.
    pub address: String,
    /// The error.
    pub message: String,
    /// AWS error code.
    pub code: Option<String>,
    /// What to do.
    pub hint: Option<String>,
}

/// An instance after the apply.
#[derive(Debug, Clone, Serialize)]
pub struct InstanceSummary {
    /// Logical address.
    pub address: String,
    /// `i-…`.
    pub id: String,
    /// State.
    pub state: String,
    /// Type.
    pub instance_type: String,
    /// `spot` or `on-demand` as launched.
    pub market: String,
    /// Zone.
    pub availability_zone: Option<String>,
    /// Private IP.
    pub private_ip: Option<String>,
    /// Public IP.
    pub public_ip: Option<String>,
}

/// What an apply did.
#[derive(Debug, Clone, Serialize)]
pub struct ApplyReport {
    /// Deployment.
    pub deployment: String,
    /// How it ended.
    pub outcome: Outcome,
    /// Changes in the plan that was applied (0: AWS already matched the spec).
    pub changes: usize,
    /// Things the plan warned about.
    pub warnings: Vec<String>,
    /// Resources created.
    pub created: Vec<Done>,
    /// Resources changed in place.
    pub updated: Vec<Done>,
    /// Resources replaced (new id in `aws_id`).
    pub replaced: Vec<Done>,
    /// Resources removed.
    pub destroyed: Vec<Done>,
    /// What was undone after a failure.
    pub undone: Vec<Done>,
    /// What a failed run leaves in AWS that it made or changed, and why (never omitted: a
    /// re-apply or `destroy` takes it from here).
    pub left: Vec<Done>,
    /// The failure, if any.
    pub failure: Option<Failure>,
    /// Instances as AWS reports them at the end.
    pub instances: Vec<InstanceSummary>,
    /// HTTP requests sent to AWS, retries included.
    pub requests: u64,
    /// Requests by API operation.
    pub requests_by_operation: BTreeMap<String, u64>,
    /// Wall time in milliseconds.
    pub duration_ms: u64,
}

impl ApplyReport {
    pub(crate) fn new(deployment: &str) -> ApplyReport {
        ApplyReport {
            deployment: deployment.to_string(),
            outcome: Outcome::Ok,
            changes: 0,
            warnings: Vec::new(),
            created: Vec::new(),
            updated: Vec::new(),
            replaced: Vec::new(),
            destroyed: Vec::new(),
            undone: Vec::new(),
            left: Vec::new(),
            failure: None,
            instances: Vec::new(),
            requests: 0,
            requests_by_operation: BTreeMap::new(),
            duration_ms: 0,
        }
    }

    /// The report of an apply that found nothing to do.
    pub fn unchanged(
        deployment: &str,
        actual: &Actual,
        plan: &gm_plan::Plan,
        requests: &gm_cloud::RequestCounter,
    ) -> ApplyReport {
        let mut r = ApplyReport::new(deployment);
        r.warnings = plan.warnings.clone();
        r.instances = instance_summaries(actual);
        r.requests = requests.total();
        r.requests_by_operation = requests.by_operation();
        r
    }

    /// Mutating calls are what changed; reads are everything else.
    pub fn mutating_requests(&self) -> u64 {
        self.requests_by_operation
            .iter()
            .filter(|(op, _)| !op.starts_with("Describe") && !op.starts_with("Get"))
            .map(|(_, n)| n)
            .sum()
    }

    /// The report as people read it.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let sections = [
            ("created", &self.created),
            ("updated", &self.updated),
            ("replaced", &self.replaced),
            ("destroyed", &self.destroyed),
            ("undone", &self.undone),
            ("left", &self.left),
        ];
        for (name, list) in sections {
            for d in list {
                out.push_str(&format!(
                    "{name:>9} {} ({}): {}\n",
                    d.address, d.aws_id, d.what
                ));
            }
        }
        if let Some(f) = &self.failure {
            out.push_str(&format!("error: {} failed: {}\n", f.address, f.message));
            if let Some(h) = &f.hint {
                out.push_str(&format!("  hint: {h}\n"));
            }
        }
        if !self.instances.is_empty() {
            out.push_str("\nInstances:\n");
            for i in &self.instances {
                out.push_str(&format!(
                    "  {:<24} {:<21} {:<9} {:<12} {:<9} {}\n",
                    i.address,
                    i.id,
                    i.state,
                    i.instance_type,
                    i.market,
                    i.public_ip
                        .as_deref()
                        .or(i.private_ip.as_deref())
                        .unwrap_or("-")
                ));
            }
        }
        out.push_str(&format!(
            "\n{}: {} created, {} updated, {} replaced, {} destroyed{} in {:.1} s, {} AWS requests.\n",
            match self.outcome {
                Outcome::Ok => "Apply complete",
                Outcome::RolledBack => "Apply failed and was rolled back",
                Outcome::Failed => "Apply failed",
            },
            self.created.len(),
            self.updated.len(),
            self.replaced.len(),
            self.destroyed.len(),
            if self.undone.is_empty() {
                String::new()
            } else {
                format!(", {} undone", self.undone.len())
            },
            self.duration_ms as f64 / 1000.0,
            self.requests
        ));
        out
    }
}

/// Summaries of a deployment's instances, by address.
pub fn instance_summaries(actual: &Actual) -> Vec<InstanceSummary> {
    let mut v: Vec<InstanceSummary> = actual
        .instances
        .iter()
        .map(|i| InstanceSummary {
            address: i.tags.get(TAG_ID).cloned().unwrap_or_default(),
            id: i.id.clone(),
            state: i.state.clone(),
            instance_type: i.instance_type.clone(),
            market: if i.spot {
                "spot".into()
            } else if i.tags.get(TAG_MARKET).is_some_and(|m| m == "spot") {
                "on-demand (spot fallback)".into()
            } else {
                "on-demand".into()
            },
            availability_zone: i.availability_zone.clone(),
            private_ip: i.private_ip.clone(),
            public_ip: i.public_ip.clone(),
        })
        .collect();
    v.sort_by_key(|a| natural(&a.address));
    v
}

/// Sort key that puts `web/2` before `web/10`.
pub(crate) fn natural(s: &str) -> Vec<(String, u64)> {
    s.split('/')
        .map(|p| match p.parse::<u64>() {
            Ok(n) => (String::new(), n),
            Err(_) => (p.to_string(), 0),
        })
        .collect()
}
