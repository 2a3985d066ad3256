//! Cross-field checks that types alone cannot express. Offline: reads only user-data files.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use crate::error::Problem;
use crate::load::FileAccess;
use crate::types::{InstanceGroupSpec, Market, Protocol, RuleSpec, Spec, VolumeType, VpcSpec};
use crate::user_data::{self, USER_DATA_LIMIT};
use crate::yaml::SourceIndex;

/// AMI aliases GeuseMaker resolves itself.
pub const AMI_ALIASES: &[&str] = &[
    "al2023",
    "al2023-arm64",
    "ubuntu-24.04",
    "ubuntu-24.04-arm64",
];

/// Tags GeuseMaker adds to every resource; AWS allows 50 per resource.
const RESERVED_TAGS: usize = 8;

struct Ctx<'a> {
    index: &'a SourceIndex,
    problems: &'a mut Vec<Problem>,
}

impl Ctx<'_> {
    fn err(
        &mut self,
        code: &'static str,
        path: String,
        message: String,
        hint: impl Into<Option<String>>,
    ) {
        self.problems.push(Problem {
            code,
            pos: self.index.value(&path),
            path,
            message,
            hint: hint.into(),
        });
    }
}

/// Checks `spec`, pushing problems; returns each group's final (wrapped) user data.
pub fn validate(
    spec: &Spec,
    index: &SourceIndex,
    base: &Path,
    files: FileAccess,
    problems: &mut Vec<Problem>,
) -> Vec<Option<String>> {
    let mut c = Ctx { index, problems };
    if spec.version != 1 {
        c.err(
            "GM-SPEC-010",
            "version".into(),
            format!("unsupported spec version {}", spec.version),
            Some("this GeuseMaker reads `version: 1`".to_string()),
        );
    }
    if !is_name(&spec.deployment, 63) {
        c.err(
            "GM-SPEC-011",
            "deployment".into(),
            format!("`{}` is not a valid deployment name", spec.deployment),
            Some("use 1–63 lower-case letters, digits and `-`, starting and ending with a letter or digit".to_string()),
        );
    }
    if let Some(r) = &spec.region {
        if !is_region(r) {
            c.err(
                "GM-SPEC-012",
                "region".into(),
                format!("`{r}` is not an AWS region name"),
                Some("write it like `us-east-1` or `eu-west-2`".to_string()),
            );
        }
    }
    check_tags(&mut c, "tags", &spec.tags);

    let subnet_names = check_network(&mut c, spec);

    let sg_names: HashSet<&str> = spec
        .security_groups
        .iter()
        .map(|g| g.name.as_str())
        .collect();
    let mut seen = HashSet::new();
    for (i, g) in spec.security_groups.iter().enumerate() {
        let p = format!("security_groups[{i}]");
        if !seen.insert(g.name.as_str()) {
            c.err(
                "GM-SPEC-013",
                format!("{p}.name"),
                format!("duplicate security group name `{}`", g.name),
                Some("give each group its own name".to_string()),
            );
        }
        if !is_name(&g.name, 48) {
            c.err(
                "GM-SPEC-011",
                format!("{p}.name"),
                format!("`{}` is not a valid security group name", g.name),
                Some("use lower-case letters, digits and `-`".to_string()),
            );
        }
        if let Some(v) = &g.vpc {
            if v != "default" && !is_aws_id(v, "vpc") {
                c.err(
                    "GM-SPEC-014",
                    format!("{p}.vpc"),
                    format!("`{v}` is neither `default` nor a VPC id"),
                    Some("write `default` or an id like `vpc-0abc12345def67890`".to_string()),
                );
            }
        }
        for (j, r) in g.ingress.iter().enumerate() {
            check_rule(&mut c, &format!("{p}.ingress[{j}]"), r, &sg_names);
        }
        check_tags(&mut c, &format!("{p}.tags"), &g.tags);
    }

    let mut seen = HashSet::new();
    for (i, sec) in spec.secrets.iter().enumerate() {
        let p = format!("secrets[{i}]");
        if !seen.insert(sec.name.as_str()) {
            c.err(
                "GM-SPEC-060",
                format!("{p}.name"),
                format!("duplicate secret `{}`", sec.name),
                Some("give each secret its own name".to_string()),
            );
        }
        if !is_name(&sec.name, 64) {
            c.err(
                "GM-SPEC-060",
                format!("{p}.name"),
                format!("`{}` is not a valid secret name", sec.name),
                Some("use lower-case letters, digits and `-`".to_string()),
            );
        }
        if !(16..=256).contains(&sec.length) {
            c.err(
                "GM-SPEC-061",
                format!("{p}.length"),
                format!("secret length {} is outside 16–256", sec.length),
                None,
            );
        }
    }
    let mut seen = HashSet::new();
    for (i, r) in spec.roles.iter().enumerate() {
        let p = format!("roles[{i}]");
        if !seen.insert(r.name.as_str()) {
            c.err(
                "GM-SPEC-062",
                format!("{p}.name"),
                format!("duplicate role `{}`", r.name),
                Some("give each role its own name".to_string()),
            );
        }
        if !is_name(&r.name, 32) {
            c.err(
                "GM-SPEC-062",
                format!("{p}.name"),
                format!("`{}` is not a valid role name", r.name),
                Some("use up to 32 lower-case letters, digits and `-`".to_string()),
            );
        }
        for (j, arn) in r.managed_policies.iter().enumerate() {
            if !arn.starts_with("arn:aws") || !arn.contains(":policy/") {
                c.err(
                    "GM-SPEC-063",
                    format!("{p}.managed_policies[{j}]"),
                    format!("`{arn}` is not a managed policy ARN"),
                    Some(
                        "write it like `arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore`"
                            .to_string(),
                    ),
                );
            }
        }
    }
    let role_names: HashSet<&str> = spec.roles.iter().map(|r| r.name.as_str()).collect();
    for (i, g) in spec.instances.iter().enumerate() {
        if let Some(r) = &g.role {
            let p = format!("instances[{i}].role");
            if g.iam_instance_profile.is_some() {
                c.err(
                    "GM-SPEC-064",
                    p.clone(),
                    "set `role` or `iam_instance_profile`, not both".into(),
                    None,
                );
            }
            if !role_names.contains(r.as_str()) {
                c.err("GM-SPEC-064", p, format!("role `{r}` is not defined under `roles:`"), Some("define it under `roles:`, or name an existing profile with `iam_instance_profile`".to_string()));
            }
        }
    }
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(spec.instances.len());
    for (i, g) in spec.instances.iter().enumerate() {
        let p = format!("instances[{i}]");
        if !seen.insert(g.name.as_str()) {
            c.err(
                "GM-SPEC-013",
                format!("{p}.name"),
                format!("duplicate instance group name `{}`", g.name),
                Some("give each group its own name; use `count` for copies".to_string()),
            );
        }
        if !is_name(&g.name, 48) {
            c.err(
                "GM-SPEC-011",
                format!("{p}.name"),
                format!("`{}` is not a valid instance group name", g.name),
                Some("use lower-case letters, digits and `-`".to_string()),
            );
        }
        out.push(check_group(
            &mut c,
            &p,
            g,
            &sg_names,
            &subnet_names,
            base,
            files,
        ));
        check_instance_zone(&mut c, spec, &p, g);
    }
    check_edge(&mut c, spec, &sg_names, &subnet_names);
    out
}

/// The load balancer and the CDN in front of it.
fn check_edge(
    c: &mut Ctx<'_>,
    spec: &Spec,
    sg_names: &HashSet<&str>,
    subnet_names: &HashSet<&str>,
) {
    if let Some(lb) = &spec.load_balancer {
        match spec.instances.iter().find(|g| g.name == lb.target) {
            None => c.err(
                "GM-SPEC-070",
                "load_balancer.target".into(),
                format!("`{}` is not an instance group of this spec", lb.target),
                Some("name a group from `instances:`".to_string()),
            ),
            Some(g) if g.count == 0 => c.err(
                "GM-SPEC-070",
                "load_balancer.target".into(),
                format!("instance group `{}` has `count: 0`", lb.target),
                Some("a load balancer needs at least one instance behind it".to_string()),
            ),
            Some(_) => {}
        }
        if lb.port == 0 {
            c.err(
                "GM-SPEC-071",
                "load_balancer.port".into(),
                "port 0 is not a port".into(),
                Some("the port the instances serve on, e.g. `5678`".to_string()),
            );
        }
        if !lb.health_check.starts_with('/') || lb.health_check.len() > 1024 {
            c.err(
                "GM-SPEC-071",
                "load_balancer.health_check".into(),
                format!("`{}` is not a URL path", lb.health_check),
                Some("write a path such as `/healthz`".to_string()),
            );
        }
        if let Some(arn) = &lb.certificate_arn {
            if !arn.starts_with("arn:aws")
                || !(arn.contains(":certificate/") || arn.contains(":server-certificate/"))
            {
                c.err(
                    "GM-SPEC-072",
                    "load_balancer.certificate_arn".into(),
                    format!("`{arn}` is not a certificate ARN"),
                    Some("request or import one in ACM (same region) and paste its ARN: `arn:aws:acm:REGION:ACCOUNT:certificate/ID`".to_string()),
                );
            }
        }
        if lb.subnets.len() == 1 {
            c.err(
                "GM-SPEC-073",
                "load_balancer.subnets".into(),
                "an Application Load Balancer needs subnets in at least two availability zones"
                    .into(),
                Some("list two or more subnets, or none for the default VPC's".to_string()),
            );
        }
        if let Some(net) = spec.network.as_ref().filter(|_| lb.subnets.is_empty()) {
            let public = net.subnets.iter().filter(|s| s.public).count();
            if public < 2 {
                c.err(
                    "GM-SPEC-073",
                    "load_balancer".into(),
                    format!("the load balancer goes in the network's public subnets, and it has {public}; an Application Load Balancer needs two in different zones"),
                    Some("add a second `public: true` subnet in another zone, or list `load_balancer.subnets`".to_string()),
                );
            }
        }
        for (i, s) in lb.subnets.iter().enumerate() {
            if !subnet_names.contains(s.as_str()) && !is_aws_id(s, "subnet") {
                c.err(
                    "GM-SPEC-073",
                    format!("load_balancer.subnets[{i}]"),
                    format!("`{s}` is neither a subnet of `network.subnets` nor a subnet id"),
                    Some(subnet_hint(s, subnet_names)),
                );
            }
        }
        for (i, g) in lb.security_groups.iter().enumerate() {
            if !sg_names.contains(g.as_str()) && !is_aws_id(g, "sg") {
                c.err(
                    "GM-SPEC-017",
                    format!("load_balancer.security_groups[{i}]"),
                    format!("`{g}` is neither a group in this spec nor an `sg-…` id"),
                    None,
                );
            }
        }
        check_tags(c, "load_balancer.tags", &lb.tags);
    }
    if let Some(cdn) = &spec.cdn {
        if spec.load_balancer.is_none() {
            c.err(
                "GM-SPEC-074",
                "cdn".into(),
                "a CDN needs a `load_balancer` as its origin".into(),
                Some("add `load_balancer:` or remove `cdn:`".to_string()),
            );
        }
        check_tags(c, "cdn.tags", &cdn.tags);
    }
}

fn check_group(
    c: &mut Ctx<'_>,
    p: &str,
    g: &InstanceGroupSpec,
    sg_names: &HashSet<&str>,
    subnet_names: &HashSet<&str>,
    base: &Path,
    files: FileAccess,
) -> Option<String> {
    if g.count > 500 {
        c.err(
            "GM-SPEC-020",
            format!("{p}.count"),
            format!("count {} is more than 500", g.count),
            Some("split the group, or raise the limit in a later version".to_string()),
        );
    }
    if !is_instance_type(&g.instance_type) {
        c.err(
            "GM-SPEC-021",
            format!("{p}.type"),
            format!("`{}` is not an EC2 instance type", g.instance_type),
            Some("write it like `t3.medium` or `g4dn.xlarge`".to_string()),
        );
    }
    if !AMI_ALIASES.contains(&g.ami.as_str()) && !is_aws_id(&g.ami, "ami") {
        let hint = match crate::load::closest(
            &g.ami,
            &AMI_ALIASES
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>(),
        ) {
            Some(best) => format!(
                "did you mean `{best}`? aliases: {}; or an id like `ami-0abc12345def67890`",
                AMI_ALIASES.join(", ")
            ),
            None => format!(
                "use an alias ({}) or an id like `ami-0abc12345def67890`",
                AMI_ALIASES.join(", ")
            ),
        };
        c.err(
            "GM-SPEC-022",
            format!("{p}.ami"),
            format!("`{}` is neither an AMI alias nor an AMI id", g.ami),
            Some(hint),
        );
    }
    if let Some(s) = &g.subnet {
        if !subnet_names.contains(s.as_str()) && !is_aws_id(s, "subnet") {
            c.err(
                "GM-SPEC-023",
                format!("{p}.subnet"),
                format!("`{s}` is neither a subnet of `network.subnets` nor a subnet id"),
                Some(subnet_hint(s, subnet_names)),
            );
        }
    }
    if let Some(k) = &g.key_pair {
        if k.is_empty() || k.len() > 255 {
            c.err(
                "GM-SPEC-024",
                format!("{p}.key_pair"),
                "key pair name must be 1–255 characters".into(),
                None,
            );
        }
    }
    let mut seen = HashSet::new();
    for (j, sg) in g.security_groups.iter().enumerate() {
        let path = format!("{p}.security_groups[{j}]");
        if !seen.insert(sg) {
            c.err(
                "GM-SPEC-025",
                path.clone(),
                format!("security group `{sg}` is listed twice"),
                Some("list each group once".to_string()),
            );
        }
        if !sg_names.contains(sg.as_str()) && !is_aws_id(sg, "sg") {
            let names: Vec<String> = sg_names.iter().map(|s| s.to_string()).collect();
            let hint = match crate::load::closest(sg, &names) {
                Some(best) => format!("did you mean `{best}`?"),
                None => "define it under `security_groups:` or give an existing id like `sg-0123456789abcdef0`".into(),
            };
            c.err(
                "GM-SPEC-025",
                path,
                format!("security group `{sg}` is neither defined in this spec nor an `sg-…` id"),
                Some(hint),
            );
        }
    }
    if g.security_groups.len() > 5 {
        c.err(
            "GM-SPEC-025",
            format!("{p}.security_groups"),
            "an instance can have at most 5 security groups".into(),
            None,
        );
    }
    match (g.market, &g.spot) {
        (Market::OnDemand, Some(_)) => c.err(
            "GM-SPEC-026",
            format!("{p}.spot"),
            "`spot` options are set but `market` is on-demand".into(),
            Some("set `market: spot`, or remove `spot:`".to_string()),
        ),
        (Market::Spot, Some(s)) => {
            if let Some(mp) = &s.max_price {
                if mp
                    .parse::<f64>()
                    .map_or(true, |v| !(v > 0.0 && v.is_finite()))
                {
                    c.err(
                        "GM-SPEC-027",
                        format!("{p}.spot.max_price"),
                        format!("`{mp}` is not a positive hourly price"),
                        Some("write USD per hour as text, e.g. `max_price: \"0.05\"`".to_string()),
                    );
                }
            }
        }
        _ => {}
    }
    if let Some(profile) = &g.iam_instance_profile {
        if profile.is_empty() {
            c.err(
                "GM-SPEC-028",
                format!("{p}.iam_instance_profile"),
                "instance profile name is empty".into(),
                None,
            );
        }
    }
    if let Some(r) = &g.root_volume {
        if let Some(size) = r.size {
            check_size(c, &format!("{p}.root_volume.size"), r.volume_type, size);
        }
        check_perf(
            c,
            &format!("{p}.root_volume"),
            r.volume_type,
            r.size,
            r.iops,
            r.throughput,
        );
        if r.kms_key.is_some() && !r.encrypted {
            c.err(
                "GM-SPEC-033",
                format!("{p}.root_volume.kms_key"),
                "`kms_key` is set but `encrypted` is false".into(),
                Some("add `encrypted: true`".to_string()),
            );
        }
    }
    let mut devices = HashSet::new();
    for (j, v) in g.volumes.iter().enumerate() {
        let vp = format!("{p}.volumes[{j}]");
        if !is_device(&v.device) {
            c.err(
                "GM-SPEC-030",
                format!("{vp}.device"),
                format!(
                    "`{}` is not a device name EC2 accepts for a data volume",
                    v.device
                ),
                Some("use `/dev/sdf` … `/dev/sdp` or `/dev/xvdf` … `/dev/xvdp`".to_string()),
            );
        }
        if !devices.insert(
            v.device
                .trim_start_matches("/dev/")
                .trim_start_matches("xv")
                .trim_start_matches('s')
                .to_string(),
        ) {
            c.err(
                "GM-SPEC-031",
                format!("{vp}.device"),
                format!("device `{}` is used twice in this group", v.device),
                Some("give each volume its own device".to_string()),
            );
        }
        check_size(c, &format!("{vp}.size"), v.volume_type, v.size);
        check_perf(c, &vp, v.volume_type, Some(v.size), v.iops, v.throughput);
        if v.kms_key.is_some() && !v.encrypted {
            c.err(
                "GM-SPEC-033",
                format!("{vp}.kms_key"),
                "`kms_key` is set but `encrypted` is false".into(),
                Some("add `encrypted: true`".to_string()),
            );
        }
    }
    check_tags(c, &format!("{p}.tags"), &g.tags);
    g.user_data.as_ref().and_then(|u| {
        let up = format!("{p}.user_data");
        let script = match (&u.file, &u.inline) {
            (Some(_), Some(_)) | (None, None) => {
                c.err("GM-SPEC-040", up, "user_data needs exactly one of `file` or `inline`".into(), Some("write `{file: path/to/script.sh}` or `{inline: \"…\"}`".to_string()));
                return None;
            }
            (None, Some(s)) => s.clone(),
            (Some(f), None) => match read_user_data(base, f, files) {
                Ok(s) => s,
                Err((message, hint)) => {
                    c.err("GM-SPEC-041", format!("{up}.file"), message, Some(hint));
                    return None;
                }
            },
        };
        let final_ud = if u.monitor { user_data::wrap(&script) } else { script };
        if final_ud.len() > USER_DATA_LIMIT {
            c.err(
                "GM-SPEC-042",
                up,
                format!("user data is {} bytes (with GeuseMaker's monitoring wrapper); EC2 allows {USER_DATA_LIMIT}", final_ud.len()),
                Some("move the bulk into a script the user data downloads, or set `monitor: false` to drop the wrapper".to_string()),
            );
            return None;
        }
        Some(final_ud)
    })
}

fn check_rule(c: &mut Ctx<'_>, p: &str, r: &RuleSpec, sg_names: &HashSet<&str>) {
    match r.protocol {
        Protocol::Tcp | Protocol::Udp => match (&r.port, &r.ports) {
            (Some(_), Some(_)) => c.err(
                "GM-SPEC-015",
                p.into(),
                "set `port` or `ports`, not both".into(),
                None,
            ),
            (None, None) => c.err(
                "GM-SPEC-015",
                p.into(),
                "tcp and udp rules need `port` or `ports`".into(),
                Some("add `port: 22` or `ports: 80-443`".to_string()),
            ),
            (None, Some(range)) => {
                if parse_range(range).is_none() {
                    c.err(
                        "GM-SPEC-015",
                        format!("{p}.ports"),
                        format!("`{range}` is not a port range"),
                        Some(
                            "write `FROM-TO` with 0 ≤ FROM ≤ TO ≤ 65535, e.g. `80-443`".to_string(),
                        ),
                    );
                }
            }
            (Some(_), None) => {}
        },
        Protocol::Icmp | Protocol::All => {
            if r.port.is_some() || r.ports.is_some() {
                c.err(
                    "GM-SPEC-015",
                    p.into(),
                    "icmp and all-protocol rules take no ports".into(),
                    Some("remove `port`/`ports`".to_string()),
                );
            }
        }
    }
    match (&r.cidr, &r.source_group) {
        (Some(_), Some(_)) | (None, None) => c.err(
            "GM-SPEC-016",
            p.into(),
            "a rule needs exactly one of `cidr` or `source_group`".into(),
            Some("e.g. `cidr: 203.0.113.0/24`".to_string()),
        ),
        (Some(cidr), None) => {
            if !is_cidr(cidr) {
                c.err(
                    "GM-SPEC-016",
                    format!("{p}.cidr"),
                    format!("`{cidr}` is not an IPv4 CIDR"),
                    Some("write it like `203.0.113.0/24` (a single address is `/32`)".to_string()),
                );
            }
        }
        (None, Some(g)) => {
            if !sg_names.contains(g.as_str()) && !is_aws_id(g, "sg") {
                c.err(
                    "GM-SPEC-017",
                    format!("{p}.source_group"),
                    format!("`{g}` is neither a group in this spec nor an `sg-…` id"),
                    None,
                );
            }
        }
    }
}

/// Parses `FROM-TO`.
pub fn parse_range(s: &str) -> Option<(u16, u16)> {
    let (a, b) = s.split_once('-')?;
    let (a, b) = (a.trim().parse::<u16>().ok()?, b.trim().parse::<u16>().ok()?);
    (a <= b).then_some((a, b))
}

fn check_size(c: &mut Ctx<'_>, p: &str, t: VolumeType, size: u32) {
    let (lo, hi) = match t {
        VolumeType::Gp2 | VolumeType::Gp3 => (1, 16384),
        VolumeType::Io1 => (4, 16384),
        VolumeType::Io2 => (4, 65536),
        VolumeType::St1 | VolumeType::Sc1 => (125, 16384),
        VolumeType::Standard => (1, 1024),
    };
    if !(lo..=hi).contains(&size) {
        c.err(
            "GM-SPEC-032",
            p.into(),
            format!(
                "{} volumes are {lo}–{hi} GiB; {size} GiB is out of range",
                t.as_str()
            ),
            None,
        );
    }
}

fn check_perf(
    c: &mut Ctx<'_>,
    p: &str,
    t: VolumeType,
    size: Option<u32>,
    iops: Option<u32>,
    tput: Option<u32>,
) {
    match (t, iops) {
        (VolumeType::Io1 | VolumeType::Io2, None) => c.err(
            "GM-SPEC-034",
            p.into(),
            format!("{} volumes need `iops`", t.as_str()),
            Some("add e.g. `iops: 3000`".to_string()),
        ),
        (VolumeType::Io1, Some(v)) if !(100..=64000).contains(&v) => c.err(
            "GM-SPEC-034",
            format!("{p}.iops"),
            format!("io1 IOPS are 100–64000; {v} is out of range"),
            None,
        ),
        (VolumeType::Io2, Some(v)) if !(100..=256000).contains(&v) => c.err(
            "GM-SPEC-034",
            format!("{p}.iops"),
            format!("io2 IOPS are 100–256000; {v} is out of range"),
            None,
        ),
        (VolumeType::Gp3, Some(v)) if !(3000..=16000).contains(&v) => c.err(
            "GM-SPEC-034",
            format!("{p}.iops"),
            format!("gp3 IOPS are 3000–16000; {v} is out of range"),
            Some("leave `iops` out for gp3's baseline of 3000".to_string()),
        ),
        (VolumeType::Gp2 | VolumeType::St1 | VolumeType::Sc1 | VolumeType::Standard, Some(_)) => c
            .err(
                "GM-SPEC-034",
                format!("{p}.iops"),
                format!("{} volumes do not take `iops`", t.as_str()),
                Some("use `type: gp3` or `io2` for provisioned IOPS".to_string()),
            ),
        _ => {}
    }
    if let (VolumeType::Io1 | VolumeType::Io2, Some(v), Some(s)) = (t, iops, size) {
        let ratio = if t == VolumeType::Io1 { 50 } else { 1000 };
        if v > s.saturating_mul(ratio) {
            c.err(
                "GM-SPEC-034",
                format!("{p}.iops"),
                format!(
                    "{} allows at most {ratio} IOPS per GiB: {v} IOPS needs at least {} GiB",
                    t.as_str(),
                    v.div_ceil(ratio)
                ),
                None,
            );
        }
    }
    if let Some(v) = tput {
        if t != VolumeType::Gp3 {
            c.err(
                "GM-SPEC-035",
                format!("{p}.throughput"),
                format!("`throughput` applies to gp3 only, not {}", t.as_str()),
                None,
            );
        } else if !(125..=1000).contains(&v) {
            c.err(
                "GM-SPEC-035",
                format!("{p}.throughput"),
                format!("gp3 throughput is 125–1000 MiB/s; {v} is out of range"),
                None,
            );
        }
    }
}

fn check_tags(c: &mut Ctx<'_>, p: &str, tags: &BTreeMap<String, String>) {
    if tags.len() + RESERVED_TAGS > 50 {
        c.err(
            "GM-SPEC-050",
            p.into(),
            format!(
                "{} tags leave no room for GeuseMaker's own (AWS allows 50 per resource)",
                tags.len()
            ),
            Some(format!("keep at most {} tags", 50 - RESERVED_TAGS)),
        );
    }
    for (k, v) in tags {
        let kp = format!("{p}.{k}");
        let lower = k.to_ascii_lowercase();
        if lower.starts_with("aws:") || lower.starts_with("geusemaker:") || k == "Name" {
            c.err(
                "GM-SPEC-051",
                kp,
                format!("tag key `{k}` is reserved"),
                Some(
                    "`aws:` and `geusemaker:` prefixes and `Name` are set by AWS and GeuseMaker"
                        .to_string(),
                ),
            );
        } else if k.is_empty() || k.chars().count() > 128 {
            c.err(
                "GM-SPEC-051",
                kp,
                "tag keys are 1–128 characters".into(),
                None,
            );
        } else if v.chars().count() > 256 {
            c.err(
                "GM-SPEC-051",
                kp,
                "tag values are at most 256 characters".into(),
                None,
            );
        }
    }
}

fn is_name(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

fn is_region(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() >= 3
        && parts[0].len() == 2
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
        && parts
            .last()
            .is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()))
}

/// `prefix-` followed by 8 or 17 hex digits.
pub fn is_aws_id(s: &str, prefix: &str) -> bool {
    s.strip_prefix(prefix)
        .and_then(|r| r.strip_prefix('-'))
        .is_some_and(|h| {
            (8..=17).contains(&h.len())
                && h.bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        })
}

fn is_instance_type(s: &str) -> bool {
    match s.split_once('.') {
        Some((family, size)) => {
            !family.is_empty()
                && !size.is_empty()
                && family
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && size
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        }
        None => false,
    }
}

fn is_device(s: &str) -> bool {
    let Some(name) = s.strip_prefix("/dev/") else {
        return false;
    };
    let letter = name.strip_prefix("xvd").or_else(|| name.strip_prefix("sd"));
    matches!(letter, Some(l) if l.len() == 1 && ('b'..='z').contains(&l.chars().next().unwrap_or('a')))
}

/// The fix for a subnet reference that names nothing.
fn subnet_hint(s: &str, names: &HashSet<&str>) -> String {
    let options: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    match crate::load::closest(s, &options) {
        Some(best) => format!("did you mean `{best}`?"),
        None if names.is_empty() => {
            "write an id like `subnet-0abc12345def67890`, define the subnet under `network.subnets`, or leave it out for the default VPC's".into()
        }
        None => format!(
            "name one of `network.subnets` ({}) or write an id like `subnet-0abc12345def67890`",
            sorted(names).join(", ")
        ),
    }
}

fn sorted<'a>(names: &HashSet<&'a str>) -> Vec<&'a str> {
    let mut v: Vec<&str> = names.iter().copied().collect();
    v.sort_unstable();
    v
}

/// An IPv4 block as (first address, prefix length), when `s` is one.
pub fn parse_cidr(s: &str) -> Option<(u32, u8)> {
    let (ip, bits) = s.split_once('/')?;
    let ip: std::net::Ipv4Addr = ip.parse().ok()?;
    let bits: u8 = bits.parse().ok().filter(|b| *b <= 32)?;
    Some((u32::from(ip), bits))
}

/// The mask of a prefix length.
fn mask(bits: u8) -> u32 {
    if bits == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(bits))
    }
}

/// Whether block `inner` lies inside block `outer`.
pub fn cidr_within(inner: (u32, u8), outer: (u32, u8)) -> bool {
    inner.1 >= outer.1 && inner.0 & mask(outer.1) == outer.0 & mask(outer.1)
}

/// A VPC or subnet block: `/16`–`/28` as AWS allows, written from its first address.
fn check_block(c: &mut Ctx<'_>, path: String, cidr: &str) -> Option<(u32, u8)> {
    let Some((ip, bits)) = parse_cidr(cidr) else {
        c.err(
            "GM-SPEC-082",
            path,
            format!("`{cidr}` is not an IPv4 CIDR"),
            Some("write it like `10.40.0.0/16`".to_string()),
        );
        return None;
    };
    if !(16..=28).contains(&bits) {
        c.err(
            "GM-SPEC-082",
            path,
            format!("`{cidr}` is a /{bits}; AWS allows /16 to /28 for VPCs and subnets"),
            Some("pick a prefix length from 16 to 28".to_string()),
        );
        return None;
    }
    if ip & !mask(bits) != 0 {
        let first = std::net::Ipv4Addr::from(ip & mask(bits));
        c.err(
            "GM-SPEC-082",
            path,
            format!("`{cidr}` does not start at its block's first address"),
            Some(format!("write `{first}/{bits}`")),
        );
        return None;
    }
    Some((ip, bits))
}

/// Checks `network:`; returns its subnet names, which instances and the load balancer use.
fn check_network<'s>(c: &mut Ctx<'_>, spec: &'s Spec) -> HashSet<&'s str> {
    let mut names = HashSet::new();
    let Some(net) = &spec.network else {
        return names;
    };
    let vpc_block = match &net.vpc {
        VpcSpec::Existing(id) => {
            if !is_aws_id(id, "vpc") {
                c.err(
                    "GM-SPEC-080",
                    "network.vpc".into(),
                    format!("`{id}` is not a VPC id"),
                    Some("write an existing VPC's id like `vpc-0abc12345def67890`, or `{cidr: 10.40.0.0/16}` to create one".to_string()),
                );
            }
            None
        }
        VpcSpec::Create(v) => check_block(c, "network.vpc.cidr".into(), &v.cidr),
    };
    if net.subnets.is_empty() {
        c.err(
            "GM-SPEC-081",
            "network.subnets".into(),
            "a network needs at least one subnet".into(),
            Some(
                "add one, e.g. `- {name: public-a, cidr: 10.40.1.0/24, public: true}`".to_string(),
            ),
        );
    }
    let mut blocks: Vec<((u32, u8), &str)> = Vec::new();
    for (i, sub) in net.subnets.iter().enumerate() {
        let p = format!("network.subnets[{i}]");
        if !is_name(&sub.name, 48) {
            c.err(
                "GM-SPEC-081",
                format!("{p}.name"),
                format!("`{}` is not a valid subnet name", sub.name),
                Some("use lower-case letters, digits and `-`".to_string()),
            );
        } else if !names.insert(sub.name.as_str()) {
            c.err(
                "GM-SPEC-081",
                format!("{p}.name"),
                format!("duplicate subnet name `{}`", sub.name),
                Some("give each subnet its own name".to_string()),
            );
        }
        if let Some(b) = check_block(c, format!("{p}.cidr"), &sub.cidr) {
            if let Some(v) = vpc_block.filter(|v| !cidr_within(b, *v)) {
                c.err(
                    "GM-SPEC-082",
                    format!("{p}.cidr"),
                    format!(
                        "`{}` is outside the VPC's `{}/{}`",
                        sub.cidr,
                        std::net::Ipv4Addr::from(v.0),
                        v.1
                    ),
                    Some("take a block inside the VPC's range".to_string()),
                );
            } else if let Some((_, other)) = blocks
                .iter()
                .find(|(o, _)| cidr_within(b, *o) || cidr_within(*o, b))
            {
                c.err(
                    "GM-SPEC-082",
                    format!("{p}.cidr"),
                    format!("`{}` overlaps subnet `{other}`", sub.cidr),
                    Some("give each subnet a block of its own".to_string()),
                );
            }
            blocks.push((b, &sub.name));
        }
        if sub.zone != "auto" {
            check_zone(
                c,
                format!("{p}.zone"),
                &sub.zone,
                spec.region.as_deref(),
                "or `auto`",
            );
        }
    }
    if net.nat_gateway {
        let public = net.subnets.iter().any(|s| s.public);
        let private = net.subnets.iter().any(|s| !s.public);
        if !public || !private {
            c.err(
                "GM-SPEC-085",
                "network.nat_gateway".into(),
                if public {
                    "a NAT gateway serves private subnets, and every subnet here is public".into()
                } else {
                    "a NAT gateway sits in a public subnet, and no subnet here is public".into()
                },
                Some(if public {
                    "add a subnet without `public: true` for the instances, or remove `nat_gateway`".to_string()
                } else {
                    "add a subnet with `public: true`, e.g. `- {name: public-a, cidr: 10.40.1.0/24, public: true}`".to_string()
                }),
            );
        }
    }
    check_tags(c, "network.tags", &net.tags);
    names
}

/// An availability zone name of the spec's region (GM-SPEC-083); `or` ends the hint.
fn check_zone(c: &mut Ctx<'_>, path: String, zone: &str, region: Option<&str>, or: &str) -> bool {
    let zone_region = zone.strip_suffix(|ch: char| ch.is_ascii_lowercase());
    if zone_region.is_none_or(|r| !is_region(r)) {
        c.err(
            "GM-SPEC-083",
            path,
            format!("`{zone}` is not an availability zone name"),
            Some(format!("write it like `us-east-1a`, {or}")),
        );
        return false;
    }
    if let (Some(r), Some(zr)) = (region, zone_region) {
        if r != zr {
            c.err(
                "GM-SPEC-083",
                path,
                format!("`{zone}` is not a zone of the spec's region `{r}`"),
                Some(format!("pick a zone of {r}, e.g. `{r}a`, {or}")),
            );
            return false;
        }
    }
    true
}

/// An instance group's `zone:` must agree with where its subnet is (GM-SPEC-084).
fn check_instance_zone(c: &mut Ctx<'_>, spec: &Spec, p: &str, g: &InstanceGroupSpec) {
    let Some(zone) = &g.zone else { return };
    if !check_zone(
        c,
        format!("{p}.zone"),
        zone,
        spec.region.as_deref(),
        "or leave it out",
    ) {
        return;
    }
    let net = spec.network.as_ref();
    let named = |n: &str| net.and_then(|net| net.subnets.iter().find(|s| s.name == n));
    match g.subnet.as_deref() {
        Some(s) => match named(s) {
            Some(sub) if sub.zone == *zone => {}
            Some(sub) => c.err(
                "GM-SPEC-084",
                format!("{p}.zone"),
                format!("`{zone}` is not the zone of subnet `{s}` ({})", sub.zone),
                Some(format!(
                    "write `zone: {zone}` on subnet `{s}`, or leave out the instance's `zone:`"
                )),
            ),
            None => c.err(
                "GM-SPEC-084",
                format!("{p}.zone"),
                format!("subnet `{s}` already decides the zone"),
                Some("leave out either `zone:` or `subnet:`".to_string()),
            ),
        },
        None => {
            if let Some(net) = net {
                if !net.subnets.iter().any(|s| s.zone == *zone) {
                    c.err(
                        "GM-SPEC-084",
                        format!("{p}.zone"),
                        format!("no subnet of `network.subnets` is written with zone `{zone}`"),
                        Some(format!("write `zone: {zone}` on one of the network's subnets, or name the instance's `subnet:`")),
                    );
                }
            }
        }
    }
}

fn is_cidr(s: &str) -> bool {
    parse_cidr(s).is_some()
}

/// Reads a user-data file as `files` allows: a path inside the spec's folder (after resolving
/// `..` and symlinks), anywhere, or not at all. Errors are (what, how to fix it).
fn read_user_data(base: &Path, f: &str, files: FileAccess) -> Result<String, (String, String)> {
    use std::io::Read;
    let found = match files {
        FileAccess::Inline => {
            return Err((
                format!("user-data file `{f}` cannot be read here: this spec must carry its user data inline"),
                "write the script as `user_data: {inline: \"…\"}`".into(),
            ))
        }
        FileAccess::SpecFolder => {
            let folder = base.canonicalize().unwrap_or_else(|_| base.to_path_buf());
            let path = base.join(f);
            let real = path.canonicalize().map_err(|_| {
                (
                    format!("user-data file `{f}` not found in {}", base.display()),
                    "paths are relative to the spec file's folder".to_string(),
                )
            })?;
            if !real.starts_with(&folder) {
                return Err((
                    format!(
                        "user-data file `{f}` is outside the spec's folder {} (it is {})",
                        folder.display(),
                        real.display()
                    ),
                    "move the script into the spec's folder; to read it anyway, pass --allow-user-data-outside".into(),
                ));
            }
            real
        }
        FileAccess::Anywhere => [base.join(f), Path::new(f).to_path_buf()]
            .into_iter()
            .find(|c| c.is_file())
            .ok_or_else(|| {
                (
                    format!(
                        "user-data file `{f}` not found (looked in {} and the current folder)",
                        base.display()
                    ),
                    "paths are relative to the spec file's folder".to_string(),
                )
            })?,
    };
    if !found.is_file() {
        return Err((
            format!("user-data file `{f}` is not a regular file"),
            "name a script file".into(),
        ));
    }
    let mut bytes = Vec::new();
    std::fs::File::open(&found)
        .and_then(|file| {
            file.take(crate::text::MAX_SPEC_BYTES as u64)
                .read_to_end(&mut bytes)
        })
        .map_err(|e| {
            (
                format!("cannot read user-data file `{f}`: {e}"),
                "user data must be a readable UTF-8 text file".to_string(),
            )
        })?;
    String::from_utf8(bytes).map_err(|e| {
        (
            format!(
                "user-data file `{f}` is not UTF-8 text (byte offset {})",
                e.utf8_error().valid_up_to()
            ),
            "save the script as UTF-8".to_string(),
        )
    })
}
