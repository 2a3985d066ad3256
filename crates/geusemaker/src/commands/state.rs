//! `geusemaker state`: the state store itself.

use crate::cli::StateCommand;
use crate::context::Ctx;
use crate::error::{exit, CliError};

pub fn run(ctx: &Ctx<'_>, c: &StateCommand) -> Result<u8, CliError> {
    match c {
        StateCommand::Export => {
            let v = ctx.store()?.export()?;
            let out = crate::output::Out {
                format: if ctx.out.format == crate::cli::Format::Yaml {
                    crate::cli::Format::Yaml
                } else {
                    crate::cli::Format::Json
                },
                quiet: false,
            };
            out.data(&v, String::new);
        }
        StateCommand::Path => {
            let v = serde_json::json!({
                "state": ctx.state_path(),
                "audit_log": ctx.audit_path(),
            });
            ctx.out.data(&v, || {
                format!(
                    "state:     {}\naudit log: {}\n",
                    ctx.state_path().display(),
                    ctx.audit_path().display()
                )
            });
        }
    }
    Ok(exit::OK)
}
