//! `geusemaker deploy`: the AI stack in a tier, through the same engine as `apply`.

use std::time::Duration;

use serde::Serialize;
use serde_json::json;

use gm_engine::ApplyReport;
use gm_stack::{Stack, StackRequest, Tier};

use crate::cli::{DeployArgs, MarketArg, StackArgs, TierArg};
use crate::context::{confirm, Ctx};
use crate::error::{CliError, ExitStatus};
use crate::progress::Bars;

/// The tier a flag names.
pub(super) fn tier(t: TierArg) -> Tier {
    match t {
        TierArg::Dev => Tier::Dev,
        TierArg::Automation => Tier::Automation,
        TierArg::Gpu => Tier::Gpu,
    }
}

/// Compiles a stack request, turning its errors into user errors.
pub(super) fn compile(r: &StackRequest) -> Result<Stack, CliError> {
    gm_stack::compile(r).map_err(|e| match e {
        gm_stack::CompileError::Spec(s) => CliError::from(s),
        other => CliError::new("GM-STACK-001", other.to_string(), ExitStatus::Usage)
            .hint("see `geusemaker deploy --help` for tiers, services and instance types"),
    })
}

/// A request from the flags both `deploy` and `cost` take.
pub(super) fn request(
    name: &str,
    t: Tier,
    region: &str,
    s: &StackArgs,
    quotes: Vec<gm_cost::SpotQuote>,
) -> StackRequest {
    StackRequest {
        name: name.to_string(),
        tier: t,
        region: region.to_string(),
        other_regions: Vec::new(),
        services: s.services.clone(),
        instance_type: s.instance_type.clone(),
        spot: s.market != Some(MarketArg::OnDemand),
        ssh_cidr: None,
        public_cidr: "0.0.0.0/0".into(),
        key_pair: None,
        subnet: None,
        vpc: None,
        model: s.model.clone(),
        quotes,
        edge: s.edge(),
        network: false,
        zone: None,
    }
}

/// The stack's estimate, with the live spot price the placement rests on.
pub(super) fn estimate(stack: &Stack) -> gm_cost::Estimate {
    gm_engine::cost::estimate_desired(
        &stack.placement.region,
        &gm_plan::desire(&stack.spec),
        stack.placement.quote.as_slice(),
    )
}

#[derive(Serialize)]
struct ServiceAccess {
    name: &'static str,
    title: &'static str,
    url: String,
    access: String,
}

#[derive(Serialize)]
struct DeployResult<'a> {
    deployment: &'a str,
    tier: &'a str,
    region: &'a str,
    placement: &'a gm_cost::Placement,
    cost: &'a gm_cost::Estimate,
    services: Vec<ServiceAccess>,
    secrets: &'a [String],
    health: Vec<gm_stack::health::Health>,
    ssh: Option<String>,
    next_steps: Vec<String>,
    /// Where the instance runs after the apply, and at what price.
    running: Option<Running>,
    report: &'a ApplyReport,
}

/// The stack's instance as AWS reports it after the apply.
#[derive(Serialize)]
struct Running {
    instance_id: String,
    instance_type: String,
    market: String,
    availability_zone: Option<String>,
    /// The live spot price of its type in its zone, when it runs on spot and one is known.
    spot_usd_per_hour: Option<f64>,
}

impl Running {
    fn of(report: &ApplyReport, quotes: &[gm_cost::SpotQuote]) -> Option<Running> {
        let i = report.instances.first()?;
        let spot_usd_per_hour = quotes
            .iter()
            .find(|q| {
                i.market == "spot"
                    && q.instance_type == i.instance_type
                    && Some(&q.availability_zone) == i.availability_zone.as_ref()
            })
            .map(|q| q.usd_per_hour);
        Some(Running {
            instance_id: i.id.clone(),
            instance_type: i.instance_type.clone(),
            market: i.market.clone(),
            availability_zone: i.availability_zone.clone(),
            spot_usd_per_hour,
        })
    }

    fn to_text(&self) -> String {
        format!(
            "{} runs {} {} in {}{}",
            self.instance_id,
            self.market,
            self.instance_type,
            self.availability_zone
                .as_deref()
                .unwrap_or("a zone AWS chose"),
            self.spot_usd_per_hour
                .map(|p| format!(" at ${p:.4}/h spot"))
                .unwrap_or_default()
        )
    }
}

/// The public address of n8n when an edge fronts it: the distribution's, else the load
/// balancer's (HTTPS when it has a certificate), as recorded by the apply.
fn edge_url(
    engine: &gm_engine::Engine,
    name: &str,
    desired: &gm_plan::Desired,
) -> Result<Option<String>, CliError> {
    let records = engine.store().resources(name)?;
    let attr = |kind: gm_state::ResourceKind, key: &str| {
        records
            .iter()
            .find(|r| r.kind == kind && r.is_live())
            .and_then(|r| r.attributes.get(key).and_then(|v| v.as_str()))
            .map(str::to_string)
    };
    let https = desired
        .load_balancer
        .as_ref()
        .is_some_and(|l| l.certificate_arn.is_some());
    Ok(attr(gm_state::ResourceKind::Cdn, "domain")
        .map(|d| format!("https://{d}"))
        .or_else(|| {
            attr(gm_state::ResourceKind::LoadBalancer, "dns")
                .map(|d| format!("{}://{d}", if https { "https" } else { "http" }))
        }))
}

/// The zone the stack's instance runs in, as the last apply recorded it.
fn running_zone(ctx: &Ctx<'_>, name: &str) -> Result<Option<String>, CliError> {
    Ok(ctx
        .store()?
        .resources(name)?
        .into_iter()
        .find(|r| r.kind == gm_state::ResourceKind::Instance && r.is_live())
        .and_then(|r| r.attributes.get("zone")?.as_str().map(str::to_string)))
}

/// The health shown when the endpoint is overridden and no `--probe-host` is given.
const SKIPPED: &str = "skipped: custom endpoint, pass --probe-host";

/// Probes the stack once, or until its public services are healthy (bounded by `timeout`).
async fn probe_health(
    ctx: &Ctx<'_>,
    stack: &Stack,
    host: &str,
    wait: bool,
    timeout: Duration,
) -> Vec<gm_stack::health::Health> {
    use gm_stack::health::{probe, HealthState};
    let deadline = std::time::Instant::now() + timeout;
    let mut backoff = gm_cloud::Backoff::default();
    if wait {
        ctx.out.say("Waiting for the services to answer…");
    }
    loop {
        tokio::time::sleep(backoff.next_delay()).await;
        let h = probe(host, &stack.services, Duration::from_secs(3)).await;
        let ready = h
            .iter()
            .all(|x| matches!(x.state, HealthState::Healthy | HealthState::Private));
        if !wait || ready || std::time::Instant::now() >= deadline {
            return h;
        }
    }
}

/// Confirms and applies the plan made under the lock (empty when another run deployed the
/// same stack meanwhile).
#[allow(clippy::too_many_arguments)]
async fn deploy_locked(
    ctx: &Ctx<'_>,
    a: &DeployArgs,
    t: Tier,
    engine: &gm_engine::Engine,
    stack: &Stack,
    desired: &gm_plan::Desired,
    actual: &gm_plan::Actual,
    plan: &gm_plan::Plan,
) -> Result<ApplyReport, CliError> {
    let name = &desired.deployment;
    if plan.is_empty() {
        return Ok(ApplyReport::unchanged(
            name,
            actual,
            plan,
            engine.cloud().requests(),
        ));
    }
    confirm(
        &format!("Deploy the {} stack `{name}`?", t.as_str()),
        a.yes,
        None,
    )?;
    let (file, record) = (
        format!("<{} tier>", t.as_str()),
        crate::context::spec_record(&stack.spec),
    );
    let source = gm_engine::Source {
        file: &file,
        spec: Some(&record),
    };
    let bars = Bars::new(ctx.out.quiet, ctx.global.verbose > 0);
    let r = engine
        .apply(desired, actual, plan, Some(source), &bars)
        .await;
    bars.finish();
    r.map_err(|e| super::apply_failed(ctx, e))
}

pub async fn run(ctx: &Ctx<'_>, a: &DeployArgs) -> Result<ExitStatus, CliError> {
    use std::io::IsTerminal;
    if a.interactive || (a.tier.is_none() && a.file.is_none() && std::io::stdin().is_terminal()) {
        let (answers, region) = super::interactive::questions(ctx, a).await?;
        let global = crate::cli::Global {
            region: Some(region),
            ..ctx.global.clone()
        };
        let sub = Ctx {
            global: &global,
            settings: crate::settings::Settings::resolve(&global),
            out: ctx.out,
        };
        return Box::pin(run(&sub, &answers)).await;
    }
    if a.wait_healthy && a.probe_host.is_none() && ctx.endpoint_overridden() {
        return Err(CliError::new(
            "GM-STACK-008",
            "--wait-healthy needs --probe-host when AWS calls go to a custom endpoint",
            ExitStatus::Usage,
        )
        .hint("an emulator invents the instance's addresses; pass --probe-host HOST (where the services answer, e.g. 127.0.0.1 through a tunnel), or drop --wait-healthy"));
    }
    let file = match &a.file {
        Some(p) => gm_stack::file::load(p)?,
        None => gm_stack::file::StackFile::default(),
    };
    let t = match (a.tier, file.tier.as_deref()) {
        (Some(t), _) => tier(t),
        (None, Some(s)) => Tier::parse(s).ok_or_else(|| {
            CliError::new(
                "GM-STACK-004",
                format!("unknown tier `{s}` in the stack file"),
                ExitStatus::Usage,
            )
            .hint("tiers: dev, automation, gpu")
        })?,
        (None, None) => {
            return Err(CliError::new(
                "GM-CLI-005",
                "name a tier with --tier or in the stack file",
                ExitStatus::Usage,
            )
            .hint("e.g. geusemaker deploy --tier dev"))
        }
    };
    let name = a
        .name
        .clone()
        .or(file.name.clone())
        .unwrap_or_else(|| format!("ai-{}", t.as_str()));
    let region = ctx.region(file.region.as_deref());
    let mut stack_args = StackArgs {
        services: if a.stack.services.is_empty() {
            file.services.clone().unwrap_or_default()
        } else {
            a.stack.services.clone()
        },
        instance_type: a.stack.instance_type.clone().or(file.instance_type.clone()),
        market: a.stack.market,
        model: a.stack.model.clone().or(file.model.clone()),
        alb: a.stack.alb || file.alb.unwrap_or(false),
        certificate_arn: a
            .stack
            .certificate_arn
            .clone()
            .or(file.certificate_arn.clone()),
        cdn: a.stack.cdn || file.cdn.unwrap_or(false),
        alb_subnets: if a.stack.alb_subnets.is_empty() {
            file.alb_subnets.clone().unwrap_or_default()
        } else {
            a.stack.alb_subnets.clone()
        },
    };
    if stack_args.market.is_none() {
        stack_args.market = match file.market.as_deref() {
            None | Some("spot") => None,
            Some("on-demand") => Some(MarketArg::OnDemand),
            Some(other) => {
                return Err(CliError::new(
                    "GM-STACK-004",
                    format!("unknown market `{other}` in the stack file"),
                    ExitStatus::Usage,
                )
                .hint("markets: spot, on-demand"))
            }
        };
    }
    let mut req = request(&name, t, &region, &stack_args, Vec::new());
    req.ssh_cidr = a.ssh_cidr.clone().or(file.ssh_cidr.clone());
    req.public_cidr = a
        .public_cidr
        .clone()
        .or(file.public_cidr.clone())
        .unwrap_or_else(|| "0.0.0.0/0".into());
    req.key_pair = a.key_pair.clone().or(file.key_pair.clone());
    req.subnet = a.subnet.clone().or(file.subnet.clone());
    let budget = a.budget.or(file.budget);
    // Choices that name existing resources are checked before anything is created.
    let checker = ctx.cloud_in(&region).await;
    let mut zone = None;
    if let Some(k) = &req.key_pair {
        if !checker.key_pair_exists(k).await? {
            let known: Vec<String> = checker
                .key_pairs()
                .await
                .unwrap_or_default()
                .into_iter()
                .map(|k| k.name)
                .collect();
            return Err(CliError::new(
                "GM-STACK-005",
                format!("key pair `{k}` does not exist in {region}"),
                ExitStatus::Usage,
            )
            .hint(if known.is_empty() {
                "create or import one (aws ec2 import-key-pair), or leave --key-pair out"
                    .to_string()
            } else {
                format!("key pairs here: {}", known.join(", "))
            }));
        }
    }
    if let Some(s) = &req.subnet {
        let Some(info) = checker.subnet(s).await? else {
            return Err(CliError::new(
                "GM-STACK-006",
                format!("subnet `{s}` does not exist in {region}"),
                ExitStatus::Usage,
            )
            .hint("`geusemaker discover` lists the subnets"));
        };
        req.vpc = Some(info.vpc_id.clone());
        zone = Some(info.availability_zone.clone());
    }
    req.other_regions = a.allow_regions.clone();
    req.network = a.network == crate::cli::NetworkArg::Create;
    // A re-deploy stays in the zone its instance (and so its data volume) is in.
    req.zone = zone.clone().or(running_zone(ctx, &name)?);
    // First compile offline (validates the request), then with live spot prices for placement.
    compile(&req)?;
    let opts = ctx.settings.engine_options(a.timeout);
    if req.spot {
        let types: Vec<String> = gm_cost::catalog().instance_types.keys().cloned().collect();
        let mut regions = vec![region.clone()];
        if req.key_pair.is_none() && req.subnet.is_none() {
            regions.extend(req.other_regions.iter().filter(|r| **r != region).cloned());
        }
        for r in &regions {
            match ctx.cloud_in(r).await.spot_prices(&types).await {
                Ok(q) => req.quotes.extend(q),
                Err(e) => ctx.out.say(&format!(
                    "note: no live spot prices in {r} ({}); placing by on-demand price there",
                    e.short()
                )),
            }
        }
    }
    let stack = compile(&req)?;
    // Placement may have chosen another allowed region: everything from here happens there.
    let region = stack.placement.region.clone();
    let engine = ctx.engine_in(&name, &region, opts).await?;
    // The catalog chose the type; AWS confirms it has what the tier needs (GPU memory above all).
    let chosen = &stack.placement.instance_type;
    // A CPU type the catalog chose on a live spot quote needs no second word from AWS: the quote
    // says the region offers it, and the catalog's vCPU and memory are what chose it. A type the
    // user named, and a GPU tier (GPU memory is what a catalog gets wrong), are checked.
    let quoted = stack
        .placement
        .quote
        .as_ref()
        .is_some_and(|q| q.instance_type == *chosen && q.region == region);
    let confirmed = req.instance_type.is_none() && !stack.needs.gpu && quoted;
    let info = match confirmed {
        true => Ok(gm_cost::catalog().instance_types.get(chosen).cloned()),
        false => engine.cloud().instance_type_info(chosen).await,
    };
    match info {
        Ok(Some(info)) => {
            if let Some(why) = stack.needs.misfit(chosen, &info) {
                return Err(CliError::new(
                    "GM-STACK-002",
                    format!("AWS reports that {why}"),
                    ExitStatus::Usage,
                )
                .hint("choose another --instance-type, or leave it out to let GeuseMaker choose"));
            }
        }
        Ok(None) => {
            return Err(CliError::new(
                "GM-STACK-003",
                format!("{chosen} is not offered in {region}"),
                ExitStatus::Usage,
            )
            .hint("choose another --instance-type or --region"))
        }
        Err(e) => ctx.out.say(&format!(
            "note: could not check {chosen} with DescribeInstanceTypes ({})",
            e.short()
        )),
    }
    if let Some(z) = &zone {
        if !engine.cloud().offered_in_zone(chosen, z).await? {
            return Err(CliError::new(
                "GM-STACK-007",
                format!("{chosen} is not offered in {z}, the zone of the subnet"),
                ExitStatus::Usage,
            )
            .hint("choose a subnet in another zone, or another --instance-type"));
        }
    }
    let (wait, notes) = super::lock_wait(ctx);
    // A stack this state has nothing of is about to be made: its one plan is made under the
    // lock (one read instead of a plan, a lock and a second plan).
    let early = if a.dry_run || engine.knows(&name)? {
        None
    } else {
        Some(engine.lock(&name, "deploy", wait, &notes).await?)
    };
    let result: Result<ExitStatus, CliError> = async {
        let mut stack = stack;
        let mut desired = gm_plan::desire(&stack.spec);
        let (actual, plan) = match engine.plan(&desired).await {
            // `--network auto` in a region without a default VPC: the stack gets its own network.
            Err(gm_engine::EngineError::Cloud(e))
                if e.code.as_deref() == Some(gm_cloud::NO_DEFAULT_VPC)
                    && a.network == crate::cli::NetworkArg::Auto
                    && req.subnet.is_none() =>
            {
                ctx.out.say(&format!(
                    "note: {region} has no default VPC; the stack gets a VPC of its own ({}, two public subnets; `destroy` removes it)",
                    gm_stack::STACK_NETWORK_CIDR
                ));
                req.network = true;
                req.region = region.clone();
                req.other_regions.clear();
                stack = compile(&req)?;
                desired = gm_plan::desire(&stack.spec);
                engine.plan(&desired).await?
            }
            r => r?,
        };
        let cost = estimate(&stack);
        if !ctx.out.is_machine() && !ctx.out.quiet {
            eprintln!("Placement: {}", stack.placement.explanation);
            eprint!("{}", cost.to_text());
            eprint!("{}", plan.to_text());
        }
        if a.dry_run {
            ctx.out.data(
                &json!({"deployment": name, "spec": stack.spec_yaml, "plan": plan, "placement": stack.placement, "cost": cost}),
                || format!("# Generated spec for `{name}` ({} tier):\n{}", t.as_str(), stack.spec_yaml),
            );
            return Ok(ExitStatus::Ok);
        }
        if let Some(b) = budget {
            if let Some(w) = cost.over_budget(b) {
                ctx.out.say(&format!("warning: {w}"));
                confirm(
                    "The estimate is over your budget. Deploy anyway?",
                    false,
                    None,
                )
                .map_err(|e| {
                    if e.exit == ExitStatus::Usage {
                        CliError::new("GM-COST-001", format!("not deploying: {w}"), ExitStatus::Aborted).hint(
                            "raise --budget, choose a smaller --instance-type, or fewer --services",
                        )
                    } else {
                        e
                    }
                })?;
            }
        }
        let report = if plan.is_empty() {
            ApplyReport::unchanged(&name, &actual, &plan, engine.cloud().requests())
        } else if early.is_some() {
            // Planned under the lock already.
            deploy_locked(ctx, a, t, &engine, &stack, &desired, &actual, &plan).await?
        } else {
            let shown = plan.to_text();
            engine
                .replanned(&desired, "deploy", wait, &notes, async |actual, plan| {
                    if plan.to_text() != shown && !ctx.out.is_machine() && !ctx.out.quiet {
                        eprint!(
                            "The deployment changed while this run waited; the plan now:\n{}",
                            plan.to_text()
                        );
                    }
                    deploy_locked(ctx, a, t, &engine, &stack, &desired, actual, plan).await
                })
                .await?
        };
        let host = report
            .instances
            .first()
            .and_then(|i| i.public_ip.clone().or_else(|| i.private_ip.clone()))
            .unwrap_or_else(|| "HOST".into());
        // Against an emulator the instance's addresses are invented: probe only a host the user
        // names (a tunnel, a stand-in on 127.0.0.1), never the address AWS reported.
        let health = match (&a.probe_host, ctx.endpoint_overridden()) {
            (None, true) => gm_stack::health::skipped(&stack.services, SKIPPED),
            (probe_host, _) => {
                probe_health(
                    ctx,
                    &stack,
                    probe_host.as_deref().unwrap_or(&host),
                    a.wait_healthy,
                    Duration::from_secs(a.timeout),
                )
                .await
            }
        };
        if a.wait_healthy {
            if let Some(bad) = health.iter().find(|h| {
                !matches!(
                    h.state,
                    gm_stack::health::HealthState::Healthy | gm_stack::health::HealthState::Private
                )
            }) {
                return Err(CliError::new(
                    "GM-HEALTH-001",
                    format!("{} is not healthy after {} s: {}", bad.service, a.timeout, bad.detail),
                    ExitStatus::Failed,
                )
                .hint(format!("follow the boot with `geusemaker monitor`; the deployment stays (remove it with `geusemaker destroy {name}`)")));
            }
        }
        let edge_url = edge_url(&engine, &name, &desired)?;
        let services: Vec<ServiceAccess> = stack
            .services
            .iter()
            .map(|s| {
                let port = s.ports.first().map_or(0, |p| p.port);
                let public = s.ports.iter().any(|p| p.public_ok);
                if let (Some(url), true) = (&edge_url, public) {
                    return ServiceAccess {
                        name: s.name,
                        title: s.title,
                        url: url.clone(),
                        access: "public through the load balancer (its own login)".into(),
                    };
                }
                ServiceAccess {
                    name: s.name,
                    title: s.title,
                    url: format!(
                        "http://{}:{port}{}",
                        if public { host.as_str() } else { "localhost" },
                        if s.name == "qdrant" { "/dashboard" } else { "" }
                    ),
                    access: if public {
                        "public (its own login)".into()
                    } else {
                        format!("private: ssh -L {port}:localhost:{port} ec2-user@{host}")
                    },
                }
            })
            .collect();
        let ssh = a
            .key_pair
            .as_ref()
            .map(|k| format!("ssh -i ~/.ssh/{k}.pem ec2-user@{host}"));
        let next_steps = vec![
            format!("follow the boot: geusemaker monitor -f <(geusemaker deploy --tier {} --name {name} --dry-run) — or watch `geusemaker status` until the services answer", t.as_str()),
            "open n8n and create the owner account; in n8n's Ollama and Qdrant credentials use http://ollama:11434 and http://qdrant:6333 (service names, not localhost)".into(),
            format!("secrets are in SSM Parameter Store under /geusemaker/{name}/"),
            format!("remove everything: geusemaker destroy {name}"),
        ];
        let result = DeployResult {
            deployment: &name,
            tier: t.as_str(),
            region: &region,
            placement: &stack.placement,
            cost: &cost,
            services,
            secrets: &stack.secret_parameters,
            health,
            ssh,
            next_steps,
            running: Running::of(&report, &req.quotes),
            report: &report,
        };
        ctx.out.data(&result, || {
            let mut s = report.to_text();
            s.push_str(&format!("\nThe {} stack `{name}` is deployed in {region} at ${:.4}/h (${:.2}/month).\n", t.as_str(), cost.hourly, cost.monthly));
            if let Some(r) = &result.running {
                s.push_str(&format!("Instance: {}.\n", r.to_text()));
            }
            s.push_str("\nServices (starting: the first boot pulls images and a model):\n");
            for x in &result.services {
                s.push_str(&format!("  {:<9} {:<28} {}\n", x.name, x.url, x.access));
            }
            s.push_str("\nHealth:\n");
            for h in &result.health {
                s.push_str(&format!("  {:<9} {:<11} {}\n", h.service, format!("{:?}", h.state).to_lowercase(), h.detail));
            }
            s.push_str(&format!("\nCredentials: SSM Parameter Store, {} SecureString parameters under /geusemaker/{name}/\n", result.secrets.len()));
            if let Some(ssh) = &result.ssh {
                s.push_str(&format!("SSH: {ssh}\n"));
            }
            s.push_str("\nNext steps:\n");
            for n in &result.next_steps {
                s.push_str(&format!("  - {n}\n"));
            }
            s
        });
        Ok(ExitStatus::Ok)
    }
    .await;
    if let Some(g) = early {
        g.release_noting(&notes).await;
    }
    result
}
