//! Stack files: `deploy -f stack.yaml` — the same choices as the flags, in YAML. Flags given on
//! the command line override the file.

use std::path::Path;

use serde::Deserialize;

use gm_spec::SpecError;

/// A stack file.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StackFile {
    /// Deployment name.
    pub name: Option<String>,
    /// `dev`, `automation` or `gpu`.
    pub tier: Option<String>,
    /// Region.
    pub region: Option<String>,
    /// Services to run.
    pub services: Option<Vec<String>>,
    /// Instance type.
    pub instance_type: Option<String>,
    /// `spot` or `on-demand`.
    pub market: Option<String>,
    /// Hourly budget in USD.
    pub budget: Option<f64>,
    /// CIDR allowed to SSH.
    pub ssh_cidr: Option<String>,
    /// CIDR allowed to reach n8n.
    pub public_cidr: Option<String>,
    /// Existing key pair.
    pub key_pair: Option<String>,
    /// Existing subnet.
    pub subnet: Option<String>,
    /// Ollama model.
    pub model: Option<String>,
    /// Put an Application Load Balancer in front of n8n.
    pub alb: Option<bool>,
    /// ACM certificate ARN for HTTPS on the load balancer (implies `alb`).
    pub certificate_arn: Option<String>,
    /// Put CloudFront in front of the load balancer (implies `alb`).
    pub cdn: Option<bool>,
    /// Subnets of the load balancer.
    pub alb_subnets: Option<Vec<String>>,
}

/// Reads a stack file, with `file:line:column` errors like a spec's.
pub fn load(path: &Path) -> Result<StackFile, SpecError> {
    let text = gm_spec::text::read(path)?;
    let (f, _): (StackFile, _) = gm_spec::parse_typed(&path.display().to_string(), &text)?;
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stack_file_reads_and_rejects_typos_with_a_position() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("stack.yaml");
        std::fs::write(
            &p,
            "name: flows\ntier: automation\nservices: [n8n]\nbudget: 0.2\n",
        )
        .unwrap();
        let f = load(&p).unwrap();
        assert_eq!(f.tier.as_deref(), Some("automation"));
        assert_eq!(f.budget, Some(0.2));
        std::fs::write(&p, "name: flows\nteir: dev\n").unwrap();
        let e = load(&p).unwrap_err().to_string();
        assert!(e.contains("stack.yaml:2:1: unknown field `teir`"), "{e}");
        assert!(e.contains("did you mean `tier`?"), "{e}");
    }
}
