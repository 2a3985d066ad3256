//! The command line: clap definitions only; each command's work lives in `commands/`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// GeuseMaker turns a YAML spec into running EC2 capacity and keeps true state of it.
///
/// Plan first, then apply: every change is shown before it happens. Everything GeuseMaker makes
/// is tagged with its deployment, so re-runs never duplicate and destroy never orphans.
///
/// Example: geusemaker apply -f examples/web-server.yaml
#[derive(Debug, Parser)]
#[command(
    name = "geusemaker",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Debug, Args)]
pub struct Global {
    /// Use this named AWS profile (otherwise `profile:` in the spec, then the SDK's default
    /// chain: environment variables first).
    #[arg(long, global = true, env = "GEUSEMAKER_PROFILE", value_name = "NAME")]
    pub profile: Option<String>,
    /// AWS region [default: AWS_REGION, then the spec's `region:`, then us-east-1].
    #[arg(long, global = true, env = "GEUSEMAKER_REGION", value_name = "REGION")]
    pub region: Option<String>,
    /// Send AWS calls to this endpoint (LocalStack, moto, a VPC endpoint); AWS_ENDPOINT_URL works too.
    #[arg(
        long,
        global = true,
        env = "GEUSEMAKER_ENDPOINT_URL",
        value_name = "URL"
    )]
    pub endpoint_url: Option<String>,
    /// Where the state database lives [default: the user's data folder, geusemaker/state.db].
    #[arg(long, global = true, env = "GEUSEMAKER_STATE", value_name = "PATH")]
    pub state: Option<PathBuf>,
    /// Output format of data on stdout.
    #[arg(long, short = 'o', global = true, env = "GEUSEMAKER_OUTPUT", value_enum, default_value_t = Format::Text)]
    pub output: Format,
    /// Print errors only.
    #[arg(long, short = 'q', global = true)]
    pub quiet: bool,
    /// More logging on stderr (-v info, -vv debug, -vvv everything).
    #[arg(long, short = 'v', global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// For people.
    Text,
    /// One JSON document.
    Json,
    /// One YAML document.
    Yaml,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check a spec offline: schema, types and cross-field rules, with file:line:column errors.
    ///
    /// Example: geusemaker validate -f spec.yaml
    Validate(SpecArg),
    /// Show what apply would change (+ create, ~ update in place, ± replace, - destroy).
    ///
    /// Example: geusemaker plan -f spec.yaml --detailed-exitcode
    Plan(PlanArgs),
    /// Show the plan, ask for confirmation, then make AWS match the spec.
    ///
    /// A failure part-way undoes what this run created (unless --keep-on-failure).
    /// Example: geusemaker apply -f spec.yaml --yes
    Apply(ApplyArgs),
    /// Show what exists now in AWS for a spec, and how it differs.
    ///
    /// Example: geusemaker status -f spec.yaml -o json
    Status(SpecArg),
    /// Show user-data progress per instance (read from the EC2 console; no SSH).
    ///
    /// Example: geusemaker monitor -f spec.yaml --follow
    Monitor(MonitorArgs),
    /// Remove everything a deployment created, and nothing else.
    ///
    /// Example: geusemaker destroy -f spec.yaml   (or: geusemaker destroy NAME)
    Destroy(DestroyArgs),
    /// List deployments known to the state store.
    ///
    /// Example: geusemaker list -o json
    List,
    /// Print the JSON Schema of the spec (for editors and linters).
    ///
    /// Example: geusemaker schema > geusemaker.schema.json
    Schema,
    /// Inspect the state store.
    #[command(subcommand)]
    State(StateCommand),
}

/// A spec file.
#[derive(Debug, Args)]
pub struct SpecArg {
    /// The spec file.
    #[arg(long, short = 'f', value_name = "FILE")]
    pub file: PathBuf,
}

/// Options of `plan`.
#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub spec: SpecArg,
    /// Exit 3 when there are changes (0 when none, 1 on error).
    #[arg(long)]
    pub detailed_exitcode: bool,
}

/// Options of `apply`.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub spec: SpecArg,
    /// Apply without asking (required when stdin is not a terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// On failure, leave what this run created instead of undoing it.
    #[arg(long)]
    pub keep_on_failure: bool,
    /// Don't wait for launched instances to be running.
    #[arg(long)]
    pub no_wait: bool,
    /// After apply, wait until every instance's user data has finished, and fail if one failed.
    #[arg(long)]
    pub wait_user_data: bool,
    /// Bound on every wait, in seconds.
    #[arg(long, default_value_t = 600, value_name = "SECONDS")]
    pub timeout: u64,
    /// Concurrent AWS calls for independent steps.
    #[arg(long, default_value_t = 32, value_name = "N")]
    pub parallelism: usize,
}

/// Options of `monitor`.
#[derive(Debug, Args)]
pub struct MonitorArgs {
    #[command(flatten)]
    pub spec: SpecArg,
    /// Keep polling until every script has finished (or --timeout).
    #[arg(long)]
    pub follow: bool,
    /// Seconds between polls with --follow.
    #[arg(long, default_value_t = 10, value_name = "SECONDS")]
    pub interval: u64,
    /// Log lines to show per instance.
    #[arg(long, default_value_t = 10, value_name = "LINES")]
    pub tail: usize,
    /// Give up following after this many seconds.
    #[arg(long, default_value_t = 1800, value_name = "SECONDS")]
    pub timeout: u64,
}

/// Options of `destroy`.
#[derive(Debug, Args)]
pub struct DestroyArgs {
    /// The deployment's name (or give its spec with -f).
    #[arg(
        value_name = "NAME",
        required_unless_present = "file",
        conflicts_with = "file"
    )]
    pub name: Option<String>,
    /// The spec file of the deployment.
    #[arg(long, short = 'f', value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Destroy without asking (required when stdin is not a terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Bound on every wait, in seconds.
    #[arg(long, default_value_t = 600, value_name = "SECONDS")]
    pub timeout: u64,
}

/// `state` subcommands.
#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// Dump the whole state store as JSON (deployments, resources, runs and their steps).
    ///
    /// Example: geusemaker state export > state.json
    Export,
    /// Print where the state database and the audit log are.
    Path,
}
