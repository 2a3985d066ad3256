//! `geusemaker schema`: the spec's JSON Schema.

use crate::context::Ctx;
use crate::error::{CliError, ExitStatus};

pub fn run(ctx: &Ctx<'_>) -> Result<ExitStatus, CliError> {
    let schema = gm_spec::json_schema();
    let out = crate::output::Out {
        format: if ctx.out.format == crate::cli::Format::Yaml {
            crate::cli::Format::Yaml
        } else {
            crate::cli::Format::Json
        },
        quiet: false,
    };
    out.data(&schema, String::new);
    Ok(ExitStatus::Ok)
}
