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
#[derive(Debug, Clone, Args)]
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
    /// Let a spec's `user_data.file` point outside the spec's folder (by default `..`, absolute
    /// paths and symlinks out of it are refused, so a spec cannot send a local file to EC2).
    #[arg(long, global = true)]
    pub allow_user_data_outside: bool,
    /// How long a command that changes a deployment waits for another run's lock on it
    /// (0: stop at once, naming the holder).
    #[arg(
        long,
        global = true,
        env = "GEUSEMAKER_LOCK_TIMEOUT",
        value_name = "SECONDS",
        default_value_t = 0
    )]
    pub lock_timeout: u64,
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
    /// Deploy the AI stack (n8n + PostgreSQL, Ollama, Qdrant, Crawl4AI) in a tier.
    ///
    /// The tier compiles into an ordinary spec (shown with --dry-run) and goes through the same
    /// plan and apply as `apply`. Example: geusemaker deploy --tier dev --ssh-cidr 203.0.113.7/32
    Deploy(DeployArgs),
    /// Show what the state store knows of a deployment: its resources, where they came from,
    /// and (with --show-secrets) the values of its generated secrets.
    ///
    /// Example: geusemaker inspect ai-dev --show-secrets
    Inspect(InspectArgs),
    /// List what a region already has that a deployment could reuse: VPCs, subnets (zone, CIDR,
    /// free addresses, public or not), security groups, key pairs, load balancers, EFS file
    /// systems and CloudFront distributions. Cached (--ttl, --refresh).
    ///
    /// Example: geusemaker discover --region eu-west-1 --vpc vpc-0abc12345def67890
    Discover(DiscoverArgs),
    /// Bring a deployment back to its last applied spec: relaunch what is gone (a reclaimed spot
    /// instance, say) with its kept data volumes reattached, and fix any drift.
    ///
    /// Example: geusemaker heal ai-dev --yes
    Heal(HealArgs),
    /// Estimate what a tier costs, from the dated price catalog (and live spot prices with --live).
    ///
    /// Example: geusemaker cost --compare-tiers --regions us-east-1,us-west-2
    Cost(CostArgs),
    /// Print the JSON Schema of the spec (for editors and linters).
    ///
    /// Example: geusemaker schema > geusemaker.schema.json
    Schema,
    /// Explain an error code: what it means, its exit code and what to do (`--all`: every code).
    ///
    /// Example: geusemaker explain GM-LOCK-001
    Explain(ExplainArgs),
    /// Inspect the state store.
    #[command(subcommand)]
    State(StateCommand),
    /// Inventory of everything in your AWS accounts: scan, list, show, stats, status, history,
    /// export. Read-only against AWS.
    ///
    /// Example: geusemaker inventory scan --regions us-east-1,eu-west-1 && geusemaker inventory list --type ec2:instance
    Inventory(InventoryArgs),
}

/// `inventory` and where it is kept.
#[derive(Debug, Args)]
pub struct InventoryArgs {
    /// Where the inventory is kept: `postgres://user:password@host:port/database` for a shared
    /// PostgreSQL, or a SQLite file [default: the state file].
    #[arg(long, global = true, env = "GEUSEMAKER_STORE", value_name = "URL|FILE")]
    pub store: Option<String>,
    #[command(subcommand)]
    pub command: InventoryCommand,
}

/// `inventory` subcommands.
#[derive(Debug, Subcommand)]
pub enum InventoryCommand {
    /// List every resource of the chosen types in the chosen accounts and regions into the
    /// inventory, recording what was added, removed and changed since the last scan.
    ///
    /// Example: geusemaker inventory scan --regions all --types ec2:instance,ec2:volume
    Scan(InventoryScanArgs),
    /// One page of the inventory, filtered and sorted.
    ///
    /// Example: geusemaker inventory list --type ec2:instance --status running --sort name
    List(InventoryListArgs),
    /// Everything stored about one resource (by ARN or id): metadata, tags, raw JSON.
    Show {
        /// ARN or id.
        resource: String,
    },
    /// Resource counts by type, account and region.
    Stats,
    /// Last sync per account and region, with the types that failed and why.
    Status,
    /// What each scan added, removed and changed (field by field).
    History {
        /// Only changes at or after this date or time (RFC 3339 or YYYY-MM-DD).
        #[arg(long, value_name = "DATE")]
        since: Option<String>,
    },
    /// Write the inventory (with the same filters as `list`) to a file, a directory or S3.
    ///
    /// xlsx, csv and json write one file. parquet writes a data-lake layout that Athena,
    /// DuckDB or Spark query in place: `resources/` (the latest view), `history/dt=DAY/`
    /// (every change, one partition per day) and `athena.sql` with the table definitions.
    ///
    /// Example: geusemaker inventory export --format csv --type ec2:instance --to instances.csv
    ///
    /// Example: geusemaker inventory export --format parquet --to s3://audit-bucket/inventory
    Export(InventoryExportArgs),
    /// Archive the raw JSON of a scan (every record it saw, with all metadata) as gzip JSON
    /// Lines under `raw/dt=DAY/scan=N/`, in a directory or S3 (`inventory_raw` in athena.sql).
    ///
    /// Example: geusemaker inventory archive --to s3://audit-bucket/inventory
    Archive(InventoryArchiveArgs),
    /// The resource types a scan can collect.
    Types,
}

/// Options of `inventory scan`.
#[derive(Debug, Args)]
pub struct InventoryScanArgs {
    /// Accounts to scan: `all` (every active account of the AWS Organization) or ids,
    /// comma-separated [default: the credentials' own account]. Other accounts are entered
    /// with STS AssumeRole into --role.
    #[arg(long, value_delimiter = ',', value_name = "all|ID,…")]
    pub accounts: Vec<String>,
    /// Role assumed in the other accounts: a name, or an ARN with `ACCOUNT` where the id goes.
    #[arg(
        long,
        default_value = "OrganizationAccountAccessRole",
        value_name = "NAME"
    )]
    pub role: String,
    /// External id the role requires, if any.
    #[arg(long, env = "GEUSEMAKER_EXTERNAL_ID", value_name = "ID")]
    pub external_id: Option<String>,
    /// Regions to scan, comma-separated, or `all` (every region enabled in the account).
    /// [default: the configured region]
    #[arg(long, value_delimiter = ',', value_name = "REGIONS")]
    pub regions: Vec<String>,
    /// Resource types to collect (see `inventory types`) [default: all].
    #[arg(long, value_delimiter = ',', value_name = "TYPES")]
    pub types: Vec<String>,
    /// Parts (account × region × type) running at once.
    #[arg(long, default_value_t = 16, value_name = "N")]
    pub concurrency: usize,
    /// Parts running at once within one account.
    #[arg(long, default_value_t = 8, value_name = "N")]
    pub per_account: usize,
    /// Days a resource no longer seen stays in the latest view.
    #[arg(long, default_value_t = 30, value_name = "DAYS")]
    pub retention_days: u32,
    /// After the scan, archive its raw JSON there (as `inventory archive --to` does).
    #[arg(long, value_name = "DIR|s3://BUCKET/PREFIX")]
    pub archive: Option<String>,
}

/// Options of `inventory archive`.
#[derive(Debug, Args)]
pub struct InventoryArchiveArgs {
    /// The scan to archive [default: the latest]. Only the latest scan's records are all
    /// still stored; archive each scan as it ends with `inventory scan --archive`.
    #[arg(long, value_name = "ID")]
    pub scan: Option<i64>,
    /// A local directory, or `s3://bucket/prefix`.
    #[arg(long, value_name = "DIR|s3://BUCKET/PREFIX")]
    pub to: String,
}

/// Filters shared by `inventory list` and `inventory export`.
#[derive(Debug, Args, Clone)]
pub struct InventoryFilterArgs {
    /// Only this resource type (e.g. `ec2:instance`).
    #[arg(long = "type", value_name = "TYPE")]
    pub rtype: Option<String>,
    /// Only this account.
    #[arg(long)]
    pub account: Option<String>,
    /// Only this region (`global` for global types).
    #[arg(long)]
    pub region: Option<String>,
    /// Only this status.
    #[arg(long)]
    pub status: Option<String>,
    /// Text anywhere in the id, name or ARN, ignoring case. (`list` counts a search that
    /// matches very many resources up to 1,000: "more than 1000".)
    #[arg(long)]
    pub search: Option<String>,
    /// Sort by: type, name, account, region, status, created, last-seen.
    #[arg(long, default_value = "type")]
    pub sort: String,
    /// Include resources the last scans no longer saw (kept for the retention period).
    #[arg(long)]
    pub include_gone: bool,
}

/// Options of `inventory list`.
#[derive(Debug, Args)]
pub struct InventoryListArgs {
    #[command(flatten)]
    pub filter: InventoryFilterArgs,
    /// Page number, from 1.
    #[arg(long, default_value_t = 1)]
    pub page: u64,
    /// Rows per page: 25, 50 or 100.
    #[arg(long, default_value_t = 25, value_parser = per_page)]
    pub per_page: u64,
}

fn per_page(s: &str) -> Result<u64, String> {
    match s {
        "25" | "50" | "100" => s.parse().map_err(|e| format!("{e}")),
        _ => Err("rows per page are 25, 50 or 100".into()),
    }
}

/// Options of `inventory export`.
#[derive(Debug, Args)]
pub struct InventoryExportArgs {
    #[command(flatten)]
    pub filter: InventoryFilterArgs,
    /// xlsx (one sheet: audit header with the filters and time, typed columns, frozen header,
    /// autofilter), csv, json, or parquet (a directory of tables; see above).
    #[arg(long, value_parser = ["xlsx", "csv", "json", "parquet"])]
    pub format: String,
    /// Tags as one `tags` column (`k=v; k=v`) or one column per tag key (`tag:KEY`).
    /// (Parquet keeps them as a map.)
    #[arg(long, default_value = "column", value_parser = ["column", "columns"])]
    pub tags: String,
    /// Parquet: only history at or after this date or time (RFC 3339 or YYYY-MM-DD).
    #[arg(long, value_name = "DATE")]
    pub since: Option<String>,
    /// Where: a file (xlsx, csv, json), a directory (parquet), or `s3://bucket/key` (a file's
    /// object key; for parquet the prefix the tables go under). `-o` is the global output
    /// format, so the destination is `--to`.
    #[arg(long, value_name = "FILE|DIR|s3://BUCKET/KEY")]
    pub to: String,
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

/// A stack tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TierArg {
    /// CPU only, cheapest fitting type, all services.
    Dev,
    /// n8n + PostgreSQL on a small CPU instance.
    Automation,
    /// A GPU instance with Ollama on the GPU.
    Gpu,
}

/// Where a stack's network comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum NetworkArg {
    /// The region's default VPC; a network of its own when the region has none.
    #[default]
    Auto,
    /// Always a VPC of its own (10.40.0.0/16, two public subnets), deleted by `destroy`.
    Create,
    /// The default VPC only (fails in a region without one).
    Default,
}

/// Purchase option.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MarketArg {
    /// Spot, falling back to on-demand when there is no capacity.
    Spot,
    /// On-demand.
    OnDemand,
}

/// What a stack is made of (shared by `deploy` and `cost`).
#[derive(Debug, Args)]
pub struct StackArgs {
    /// Services to run, comma-separated (default: the tier's): postgres, n8n, ollama, qdrant, crawl4ai.
    #[arg(long, value_delimiter = ',', env = "GEUSEMAKER_SERVICES")]
    pub services: Vec<String>,
    /// Use this instance type (checked against what the tier needs).
    #[arg(long, env = "GEUSEMAKER_INSTANCE_TYPE")]
    pub instance_type: Option<String>,
    /// Spot (the default) or on-demand.
    #[arg(long, value_enum, env = "GEUSEMAKER_MARKET")]
    pub market: Option<MarketArg>,
    /// Ollama model pulled on first boot (default: llama3.2:3b on CPU, llama3.1:8b on GPU).
    #[arg(long)]
    pub model: Option<String>,
    /// Put an Application Load Balancer in front of n8n (n8n then takes traffic only from it).
    #[arg(long)]
    pub alb: bool,
    /// ACM certificate ARN: HTTPS on the load balancer, HTTP redirected (implies --alb).
    #[arg(long, env = "GEUSEMAKER_CERTIFICATE_ARN", value_name = "ARN")]
    pub certificate_arn: Option<String>,
    /// Put CloudFront in front of the load balancer (implies --alb).
    #[arg(long)]
    pub cdn: bool,
    /// Subnets for the load balancer, two zones or more [default: the default VPC's].
    #[arg(long, value_delimiter = ',', value_name = "SUBNETS")]
    pub alb_subnets: Vec<String>,
}

impl StackArgs {
    /// The edge these flags ask for, if any.
    pub fn edge(&self) -> Option<gm_stack::EdgeRequest> {
        (self.alb || self.cdn || self.certificate_arn.is_some() || !self.alb_subnets.is_empty())
            .then(|| gm_stack::EdgeRequest {
                certificate_arn: self.certificate_arn.clone(),
                cdn: self.cdn,
                subnets: self.alb_subnets.clone(),
            })
    }
}

/// Options of `deploy`.
#[derive(Debug, Args)]
pub struct DeployArgs {
    /// A stack file with the same choices (name, tier, region, services, instance_type, market,
    /// budget, ssh_cidr, public_cidr, key_pair, subnet, model); flags override it.
    #[arg(long, short = 'f', value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// The tier (required unless the stack file names it).
    #[arg(long, value_enum, env = "GEUSEMAKER_TIER")]
    pub tier: Option<TierArg>,
    /// Deployment name [default: ai-TIER].
    #[arg(long, env = "GEUSEMAKER_NAME")]
    pub name: Option<String>,
    #[command(flatten)]
    pub stack: StackArgs,
    /// Other regions the stack may go to when their spot prices are lower (not with --key-pair
    /// or --subnet, which are regional).
    #[arg(long, value_delimiter = ',', value_name = "REGIONS")]
    pub allow_regions: Vec<String>,
    /// Hourly budget in USD: over it, deploy warns and asks again.
    #[arg(long, env = "GEUSEMAKER_BUDGET", value_name = "USD")]
    pub budget: Option<f64>,
    /// Allow SSH from this CIDR (your address, e.g. 203.0.113.7/32); no SSH otherwise.
    #[arg(long, env = "GEUSEMAKER_SSH_CIDR")]
    pub ssh_cidr: Option<String>,
    /// Who may reach n8n's web UI [default: 0.0.0.0/0].
    #[arg(long)]
    pub public_cidr: Option<String>,
    /// Existing key pair for SSH.
    #[arg(long)]
    pub key_pair: Option<String>,
    /// Existing subnet (default: the default VPC's).
    #[arg(long)]
    pub subnet: Option<String>,
    /// The network: `auto` uses the default VPC and creates a VPC of its own (two public
    /// subnets) when the region has none (Control Tower and enterprise accounts often do not);
    /// `create` always creates one; `default` never does.
    #[arg(long, value_enum, default_value_t = NetworkArg::Auto, env = "GEUSEMAKER_NETWORK")]
    pub network: NetworkArg,
    /// Show the generated spec and the plan, change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// After deploying, wait (up to --timeout) until the public services answer their
    /// readiness checks; fail if they do not. Needs --probe-host with a custom endpoint.
    #[arg(long)]
    pub wait_healthy: bool,
    /// Probe services on this host instead of the instance's public IP (a tunnel, a proxy).
    /// With a custom endpoint (moto, LocalStack) only this host is probed: the emulator's
    /// addresses are invented, so without it health is "skipped".
    #[arg(long, env = "GEUSEMAKER_PROBE_HOST", value_name = "HOST")]
    pub probe_host: Option<String>,
    /// Deploy without asking (required when stdin is not a terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Ask for every choice step by step (also what `deploy` with no tier does on a terminal).
    #[arg(long, short = 'i')]
    pub interactive: bool,
    /// Bound on every wait, in seconds.
    #[arg(long, default_value_t = 600, value_name = "SECONDS")]
    pub timeout: u64,
}

/// Options of `cost`.
#[derive(Debug, Args)]
pub struct CostArgs {
    /// The tier to price.
    #[arg(long, value_enum, required_unless_present_any = ["compare_tiers", "refresh_prices"])]
    pub tier: Option<TierArg>,
    /// Fetch current on-demand prices from the AWS Pricing API (for --regions, or the catalog's
    /// regions) and use them from now on instead of the embedded ones.
    #[arg(long)]
    pub refresh_prices: bool,
    /// Price all three tiers side by side.
    #[arg(long)]
    pub compare_tiers: bool,
    /// Regions to price, comma-separated [default: the global region].
    #[arg(long, value_delimiter = ',')]
    pub regions: Vec<String>,
    #[command(flatten)]
    pub stack: StackArgs,
    /// Fetch live spot prices (DescribeSpotPriceHistory) instead of using on-demand as the bound.
    #[arg(long)]
    pub live: bool,
}

/// Options of `discover`.
#[derive(Debug, Args)]
pub struct DiscoverArgs {
    /// Only this VPC's subnets, security groups and load balancers.
    #[arg(long)]
    pub vpc: Option<String>,
    /// Read AWS even if a cached answer is fresh.
    #[arg(long)]
    pub refresh: bool,
    /// How old a cached answer may be, in seconds.
    #[arg(long, default_value_t = 900, value_name = "SECONDS")]
    pub ttl: u64,
}

/// Options of `heal`.
#[derive(Debug, Args)]
pub struct HealArgs {
    /// The deployment's name.
    pub name: String,
    /// Heal without asking (required when stdin is not a terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Bound on every wait, in seconds.
    #[arg(long, default_value_t = 600, value_name = "SECONDS")]
    pub timeout: u64,
}

/// Options of `inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The deployment's name.
    pub name: String,
    /// Read and print the secrets' values from SSM (they are never stored anywhere else).
    #[arg(long)]
    pub show_secrets: bool,
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
    /// Remove a deployment's lock left by a run that died, whoever holds it.
    ///
    /// A run that stops normally releases its lock, and one that dies leaves a lease that
    /// lapses within two minutes (at once for a run on the same machine), so this is rarely
    /// needed. Make sure the holder it names is really gone: two runs changing one deployment
    /// at once can duplicate what they create.
    /// Example: geusemaker state unlock my-deployment --yes
    Unlock(UnlockArgs),
}

/// `state unlock`.
#[derive(Debug, Args)]
pub struct UnlockArgs {
    /// The deployment.
    pub name: String,
    /// Do not ask for confirmation.
    #[arg(long, short = 'y')]
    pub yes: bool,
}

/// `geusemaker explain`.
#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The code, as printed (`GM-SPEC-021`, `GM-AWS-UnauthorizedOperation`); case does not matter.
    #[arg(required_unless_present = "all")]
    pub code: Option<String>,
    /// Every code, as a table.
    #[arg(long, conflicts_with = "code")]
    pub all: bool,
}
