//! `geusemaker`: declarative EC2 provisioning from a YAML spec.

mod cli;
mod codes;
mod commands;
mod context;
mod error;
mod output;
mod progress;
mod settings;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::Cli;
use crate::context::Ctx;
use crate::output::Out;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.global.verbose, cli.global.quiet);
    let out = Out {
        format: cli.global.output,
        quiet: cli.global.quiet,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return error::ExitStatus::Failed.into();
        }
    };
    let ctx = Ctx {
        global: &cli.global,
        settings: settings::Settings::resolve(&cli.global),
        out,
    };
    gm_cost::use_refreshed_prices(&ctx.prices_path());
    match runtime.block_on(commands::run(&ctx, &cli.command)) {
        Ok(status) => status.into(),
        Err(e) => {
            eprintln!("error: {}", e.message);
            if let Some(h) = &e.hint {
                eprintln!("  hint: {h}");
            }
            if out.is_machine() && !e.reported {
                out.data(&serde_json::json!({ "error": e }), String::new);
            }
            e.exit_code()
        }
    }
}

fn init_logging(verbose: u8, quiet: bool) {
    let filter = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "warn,gm_engine=info,gm_cloud=info,geusemaker=info",
        (false, 2) => "info,gm_engine=debug,gm_cloud=debug,geusemaker=debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("GEUSEMAKER_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(filter));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .without_time()
        .with_target(false)
        .try_init();
}
