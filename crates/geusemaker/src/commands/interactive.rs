//! `deploy --interactive`: a guided deploy. Every answer has a default shown in brackets; `q`
//! (or end of input) at any prompt aborts with nothing created.

use std::io::{BufRead, Write};

use gm_stack::Tier;

use crate::cli::{DeployArgs, MarketArg, TierArg};
use crate::context::Ctx;
use crate::error::{CliError, ExitStatus};

/// Asks one question on stderr and reads the answer from stdin.
fn ask(question: &str, default: &str) -> Result<String, CliError> {
    if default.is_empty() {
        eprint!("{question} > ");
    } else {
        eprint!("{question} [{default}] > ");
    }
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    let n = std::io::stdin().lock().read_line(&mut line).unwrap_or(0);
    let answer = line.trim();
    if n == 0 || answer == "q" || answer == "quit" {
        return Err(CliError::new(
            "GM-CLI-002",
            "aborted; nothing was created",
            ExitStatus::Aborted,
        ));
    }
    Ok(if answer.is_empty() {
        default.to_string()
    } else {
        answer.to_string()
    })
}

/// Asks until the answer is one of `choices` (by name or number).
fn choose(question: &str, choices: &[(&str, String)], default: &str) -> Result<String, CliError> {
    for (i, (name, why)) in choices.iter().enumerate() {
        eprintln!("  {}) {name:<12} {why}", i + 1);
    }
    loop {
        let a = ask(question, default)?;
        if let Some((name, _)) = a
            .parse::<usize>()
            .ok()
            .and_then(|n| choices.get(n.wrapping_sub(1)))
        {
            return Ok(name.to_string());
        }
        if choices.iter().any(|(n, _)| *n == a) {
            return Ok(a);
        }
        eprintln!(
            "  please answer with a number from 1 to {} or a name",
            choices.len()
        );
    }
}

/// Walks the user through the choices and returns them as flags would give them.
pub async fn questions(ctx: &Ctx<'_>, base: &DeployArgs) -> Result<(DeployArgs, String), CliError> {
    eprintln!(
        "GeuseMaker deploys the AI stack (n8n + PostgreSQL, Ollama, Qdrant, Crawl4AI) on EC2."
    );
    eprintln!("Answer each question, press Enter for the default, or q to stop; nothing is created until you confirm.\n");
    let default_region = ctx.region(None);
    let region = ask("Region", &default_region)?;
    let price = |t: Tier| {
        let r = gm_stack::StackRequest {
            spot: false,
            ..gm_stack::StackRequest::new("preview", t, &region)
        };
        match gm_stack::compile(&r) {
            Ok(s) => format!(
                "{}, up to ${:.4}/h on-demand",
                s.placement.instance_type,
                super::deploy::estimate(&s).hourly
            ),
            Err(e) => e.to_string(),
        }
    };
    eprintln!("\nTiers:");
    let tier = choose(
        "Tier",
        &[
            ("dev", format!("all services on CPU: {}", price(Tier::Dev))),
            (
                "automation",
                format!("n8n + PostgreSQL: {}", price(Tier::Automation)),
            ),
            ("gpu", format!("Ollama on a GPU: {}", price(Tier::Gpu))),
        ],
        "dev",
    )?;
    let tier_arg = match tier.as_str() {
        "automation" => TierArg::Automation,
        "gpu" => TierArg::Gpu,
        _ => TierArg::Dev,
    };
    let t = super::deploy::tier(tier_arg);
    let name = ask("Deployment name", &format!("ai-{tier}"))?;
    let services = ask(
        "Services (comma-separated: postgres, n8n, ollama, qdrant, crawl4ai)",
        &t.default_services().join(","),
    )?;
    eprintln!("\nLooking at what {region} already has…");
    let cloud = ctx.cloud_in(&region).await;
    let subnets = cloud.subnets(None).await.unwrap_or_default();
    let mut subnet_choices: Vec<(String, String)> =
        vec![("default".into(), "the default VPC's default subnet".into())];
    for s in subnets.iter().take(20) {
        subnet_choices.push((
            s.id.clone(),
            format!(
                "{} in {}, {}, {} free IPs, {}",
                s.cidr,
                s.availability_zone,
                s.vpc_id,
                s.free_ips,
                if s.public { "public" } else { "private" }
            ),
        ));
    }
    eprintln!("\nSubnets:");
    let refs: Vec<(&str, String)> = subnet_choices
        .iter()
        .map(|(a, b)| (a.as_str(), b.clone()))
        .collect();
    let subnet = choose("Subnet", &refs, "default")?;
    let keys = cloud.key_pairs().await.unwrap_or_default();
    let mut key_choices: Vec<(String, String)> =
        vec![("none".into(), "no SSH key (no SSH access)".into())];
    for k in &keys {
        key_choices.push((k.name.clone(), k.key_type.clone().unwrap_or_default()));
    }
    eprintln!("\nKey pairs (region-wide):");
    let refs: Vec<(&str, String)> = key_choices
        .iter()
        .map(|(a, b)| (a.as_str(), b.clone()))
        .collect();
    let key = choose("Key pair", &refs, "none")?;
    let ssh = if key == "none" {
        String::new()
    } else {
        ask(
            "Allow SSH from which CIDR (your address, e.g. 203.0.113.7/32; empty: no SSH)",
            "",
        )?
    };
    eprintln!("\nMarkets:");
    let market = choose(
        "Market",
        &[
            (
                "spot",
                "up to ~70 % cheaper; AWS may reclaim it (the stack stops cleanly, data is kept)"
                    .into(),
            ),
            ("on-demand", "full price, never reclaimed".into()),
        ],
        "spot",
    )?;
    let mut args = DeployArgs {
        file: None,
        tier: Some(tier_arg),
        name: Some(name),
        stack: crate::cli::StackArgs {
            services: services
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect(),
            instance_type: base.stack.instance_type.clone(),
            market: Some(if market == "on-demand" {
                MarketArg::OnDemand
            } else {
                MarketArg::Spot
            }),
            model: base.stack.model.clone(),
            alb: base.stack.alb,
            certificate_arn: base.stack.certificate_arn.clone(),
            cdn: base.stack.cdn,
            alb_subnets: base.stack.alb_subnets.clone(),
        },
        budget: base.budget,
        allow_regions: Vec::new(),
        ssh_cidr: (!ssh.is_empty()).then_some(ssh),
        public_cidr: base.public_cidr.clone(),
        key_pair: (key != "none").then_some(key),
        subnet: (subnet != "default").then_some(subnet),
        network: base.network,
        dry_run: base.dry_run,
        wait_healthy: base.wait_healthy,
        probe_host: base.probe_host.clone(),
        yes: false,
        interactive: false,
        timeout: base.timeout,
    };
    args.yes = false;
    eprintln!();
    Ok((args, region))
}
