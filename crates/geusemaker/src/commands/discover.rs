//! `geusemaker discover`: what exists in a region that a deployment could reuse, cached.

use gm_cloud::Discovery;

use crate::cli::DiscoverArgs;
use crate::context::Ctx;
use crate::error::{CliError, ExitStatus};

pub async fn run(ctx: &Ctx<'_>, a: &DiscoverArgs) -> Result<ExitStatus, CliError> {
    let region = ctx.region(None);
    let key = format!("discover/{region}/{}", a.vpc.as_deref().unwrap_or("*"));
    let store = ctx.store()?;
    let cached = if a.refresh {
        None
    } else {
        store.cache_get(&key, i64::try_from(a.ttl).unwrap_or(i64::MAX))?
    };
    let (found, age) = match cached
        .and_then(|(v, age)| serde_json::from_str::<Discovery>(&v).ok().map(|d| (d, age)))
    {
        Some((d, age)) => (d, Some(age)),
        None => {
            let d = ctx.cloud_in(&region).await.discover(a.vpc.as_deref()).await;
            if d.errors.is_empty() {
                store.cache_put(&key, &serde_json::to_string(&d).unwrap_or_default())?;
            }
            (d, None)
        }
    };
    let v = serde_json::json!({"cached_seconds_ago": age, "discovery": found});
    ctx.out.data(&v, || render(&found, age));
    Ok(ExitStatus::Ok)
}

fn render(d: &Discovery, age: Option<i64>) -> String {
    let mut s = format!(
        "Region {}{}\n",
        d.region,
        age.map(|a| format!(" (cached {a} s ago; --refresh to read AWS again)"))
            .unwrap_or_default()
    );
    s.push_str("\nVPCs:\n");
    for v in &d.vpcs {
        s.push_str(&format!(
            "  {:<24} {:<18} {}{}\n",
            v.id,
            v.cidr,
            v.name.as_deref().unwrap_or("-"),
            if v.is_default { "  (default)" } else { "" }
        ));
    }
    s.push_str("\nSubnets:\n");
    for x in &d.subnets {
        s.push_str(&format!(
            "  {:<26} {:<22} {:<12} {:<18} {:>6} free IPs  {}\n",
            x.id,
            x.vpc_id,
            x.availability_zone,
            x.cidr,
            x.free_ips,
            if x.public { "public" } else { "private" }
        ));
    }
    s.push_str("\nSecurity groups:\n");
    for g in &d.security_groups {
        s.push_str(&format!(
            "  {:<22} {:<30} {} rule(s)\n",
            g.id, g.name, g.ingress_rules
        ));
    }
    s.push_str("\nKey pairs:\n");
    for k in &d.key_pairs {
        s.push_str(&format!("  {}\n", k.name));
    }
    s.push_str("\nLoad balancers:\n");
    for l in &d.load_balancers {
        s.push_str(&format!(
            "  {:<30} {:<12} {}\n",
            l.name,
            l.kind.as_deref().unwrap_or("-"),
            l.dns_name.as_deref().unwrap_or("-")
        ));
    }
    s.push_str("\nEFS file systems:\n");
    for f in &d.file_systems {
        s.push_str(&format!(
            "  {:<24} {:<12} {}\n",
            f.id,
            f.state,
            f.name.as_deref().unwrap_or("-")
        ));
    }
    s.push_str("\nCloudFront distributions (global):\n");
    for x in &d.distributions {
        s.push_str(&format!(
            "  {:<16} {:<40} {}\n",
            x.id, x.domain_name, x.status
        ));
    }
    for e in &d.errors {
        s.push_str(&format!("\nnote: could not read {e}\n"));
    }
    s
}
