//! `geusemaker validate`: offline checks of a spec.

use serde_json::json;

use crate::cli::SpecArg;
use crate::context::Ctx;
use crate::error::{CliError, ExitStatus};

pub fn run(ctx: &Ctx<'_>, a: &SpecArg) -> Result<ExitStatus, CliError> {
    let (loaded, desired) = ctx.spec(&a.file)?;
    let groups = loaded.spec.instances.len();
    let volumes: usize = desired.instances.iter().map(|i| i.volumes.len()).sum();
    ctx.out.data(
        &json!({
            "valid": true,
            "file": loaded.file,
            "deployment": desired.deployment,
            "instances": desired.instances.len(),
            "instance_groups": groups,
            "volumes": volumes,
            "security_groups": desired.security_groups.len(),
        }),
        || {
            format!(
                "{} is valid: deployment `{}`, {} instance(s) in {} group(s), {} data volume(s), {} security group(s).\n",
                loaded.file,
                desired.deployment,
                desired.instances.len(),
                groups,
                volumes,
                desired.security_groups.len()
            )
        },
    );
    Ok(ExitStatus::Ok)
}
