//! Tiers, and compiling a stack request into an engine spec.

use serde::Serialize;
use serde_json::json;

use gm_cost::{Needs, Placement, PlacementError, SpotQuote};
use gm_spec::{LoadedSpec, SpecError};

use crate::catalog::{self, Service, N8N, OLLAMA};
use crate::compose::{self, ComposeConfig};
use crate::user_data::{self, BootConfig};

/// A deployment tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    /// CPU only, cheapest fitting type, spot, all services or a subset.
    Dev,
    /// n8n + PostgreSQL first (Ollama optional), a CPU instance for workflow load.
    Automation,
    /// A GPU instance, Ollama on the GPU.
    Gpu,
}

impl Tier {
    /// Parses `dev`, `automation` or `gpu`.
    pub fn parse(s: &str) -> Option<Tier> {
        Some(match s {
            "dev" => Tier::Dev,
            "automation" => Tier::Automation,
            "gpu" => Tier::Gpu,
            _ => return None,
        })
    }

    /// Its name.
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Dev => "dev",
            Tier::Automation => "automation",
            Tier::Gpu => "gpu",
        }
    }

    /// Services deployed when none are named.
    pub fn default_services(self) -> &'static [&'static str] {
        match self {
            Tier::Dev | Tier::Gpu => &["postgres", "n8n", "ollama", "qdrant", "crawl4ai"],
            Tier::Automation => &["postgres", "n8n"],
        }
    }

    /// Default Ollama model: small on CPU, 8B on GPU.
    pub fn default_model(self) -> &'static str {
        match self {
            Tier::Gpu => "llama3.1:8b",
            Tier::Dev | Tier::Automation => "llama3.2:3b",
        }
    }

    /// Data volume size in GiB.
    pub fn data_gib(self) -> u32 {
        match self {
            Tier::Gpu => 100,
            Tier::Dev | Tier::Automation => 30,
        }
    }
}

/// What the user asks for.
#[derive(Debug, Clone)]
pub struct StackRequest {
    /// Deployment name.
    pub name: String,
    /// Tier.
    pub tier: Tier,
    /// Region.
    pub region: String,
    /// Other regions placement may choose when they are cheaper (key pairs and subnets are
    /// regional, so these are ignored when either is given).
    pub other_regions: Vec<String>,
    /// Services (the tier's default when empty).
    pub services: Vec<String>,
    /// `--instance-type`, checked against the tier's needs.
    pub instance_type: Option<String>,
    /// Spot (the default for every tier) or on-demand.
    pub spot: bool,
    /// CIDR allowed to SSH (none: no SSH rule).
    pub ssh_cidr: Option<String>,
    /// CIDR allowed to reach n8n (default anywhere).
    pub public_cidr: String,
    /// Existing key pair.
    pub key_pair: Option<String>,
    /// Existing subnet.
    pub subnet: Option<String>,
    /// The VPC the security group goes in (the subnet's; the default VPC otherwise).
    pub vpc: Option<String>,
    /// Ollama model to pull first.
    pub model: Option<String>,
    /// Live spot quotes for placement.
    pub quotes: Vec<SpotQuote>,
    /// An Application Load Balancer (and CloudFront) in front of n8n.
    pub edge: Option<EdgeRequest>,
    /// Give the stack its own network (a VPC with two public subnets) instead of the default
    /// VPC: for regions without one, or by choice.
    pub network: bool,
    /// Keep placement in this zone: the zone of `--subnet`, or of the instance a re-deploy
    /// already runs (its data volume attaches only there). Spot quotes elsewhere are ignored.
    pub zone: Option<String>,
}

impl StackRequest {
    /// A request for `tier` named `name` in `region` with the tier's defaults: its services,
    /// spot, no SSH, n8n open to anywhere, the default VPC, no edge. Set fields on the result
    /// for anything else.
    pub fn new(name: &str, tier: Tier, region: &str) -> StackRequest {
        StackRequest {
            name: name.to_string(),
            tier,
            region: region.to_string(),
            other_regions: Vec::new(),
            services: Vec::new(),
            instance_type: None,
            spot: true,
            ssh_cidr: None,
            public_cidr: "0.0.0.0/0".into(),
            key_pair: None,
            subnet: None,
            vpc: None,
            model: None,
            quotes: Vec::new(),
            edge: None,
            network: false,
            zone: None,
        }
    }
}

/// The stack's own network: a VPC and two public subnets in two zones (the instance takes the
/// first; a load balancer needs both).
pub const STACK_NETWORK_CIDR: &str = "10.40.0.0/16";

/// The optional edge: n8n reached through a load balancer (HTTPS with a certificate), and
/// CloudFront in front of that; the instance then takes n8n traffic only from the load balancer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EdgeRequest {
    /// ACM certificate for HTTPS on the load balancer.
    pub certificate_arn: Option<String>,
    /// Put CloudFront in front.
    pub cdn: bool,
    /// Subnets of the load balancer (two zones or more; default VPC's otherwise).
    pub subnets: Vec<String>,
}

/// A compiled stack: the engine spec and everything it was made from.
#[derive(Debug, Clone)]
pub struct Stack {
    /// The spec the engine applies.
    pub spec: LoadedSpec,
    /// The same spec as YAML (what `deploy --dry-run` shows).
    pub spec_yaml: String,
    /// The services.
    pub services: Vec<&'static Service>,
    /// Where it runs and why.
    pub placement: Placement,
    /// What the tier needs from its instance type (checked again against AWS's own data).
    pub needs: Needs,
    /// SSM parameter names of its secrets (values are generated at deploy, never shown).
    pub secret_parameters: Vec<String>,
    /// The compose file.
    pub compose: String,
    /// The boot script (before GeuseMaker's monitoring wrapper).
    pub user_data: String,
}

/// Why a request cannot compile.
#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    /// A service name that does not exist.
    #[error("unknown service `{0}`; known: postgres, n8n, ollama, qdrant, crawl4ai")]
    UnknownService(String),
    /// The tier needs a service that was left out.
    #[error("{0}")]
    MissingService(String),
    /// No placement.
    #[error(transparent)]
    Placement(#[from] PlacementError),
    /// The generated spec did not validate (a bug, or a bad name/CIDR given).
    #[error(transparent)]
    Spec(#[from] SpecError),
}

/// OS and Docker overhead on top of the services, MiB.
const OVERHEAD_MIB: u32 = 1024;

/// Where the stack's groups go without a network: the subnet's VPC, or the default VPC.
fn vpc_of(r: &StackRequest) -> String {
    r.vpc.clone().unwrap_or_else(|| "default".into())
}

/// The region of an availability zone name (`us-east-1c` → `us-east-1`).
fn region_of(zone: &str) -> Option<&str> {
    zone.strip_suffix(|c: char| c.is_ascii_lowercase())
}

/// Compiles a request into a spec, placing it on the cheapest fitting instance type.
pub fn compile(r: &StackRequest) -> Result<Stack, CompileError> {
    if r.network && (r.subnet.is_some() || r.edge.as_ref().is_some_and(|e| !e.subnets.is_empty())) {
        return Err(CompileError::MissingService(
            "an own network (--network create) places the stack in its own subnets: leave out --subnet and --alb-subnets".into(),
        ));
    }
    let mut names: Vec<String> = if r.services.is_empty() {
        r.tier
            .default_services()
            .iter()
            .map(|s| s.to_string())
            .collect()
    } else {
        r.services.clone()
    };
    // n8n needs its database.
    if names.iter().any(|n| n == N8N.name) && !names.iter().any(|n| n == "postgres") {
        names.insert(0, "postgres".into());
    }
    let mut services: Vec<&'static Service> = Vec::new();
    for n in &names {
        let s = catalog::service(n).ok_or_else(|| CompileError::UnknownService(n.clone()))?;
        if !services.contains(&s) {
            services.push(s);
        }
    }
    // Keep the catalog's start order.
    services.sort_by_key(|s| catalog::ALL.iter().position(|x| x.name == s.name));
    let has_ollama = services.contains(&&OLLAMA);
    if r.tier == Tier::Gpu && !has_ollama {
        return Err(CompileError::MissingService(
            "the gpu tier runs Ollama on the GPU: include `ollama` in --services".into(),
        ));
    }
    if r.tier == Tier::Automation && !services.contains(&&N8N) {
        return Err(CompileError::MissingService(
            "the automation tier is built around n8n: include `n8n` in --services".into(),
        ));
    }
    let gpu = r.tier == Tier::Gpu;
    let mut memory: u32 = services.iter().map(|s| s.memory_mib).sum::<u32>() + OVERHEAD_MIB;
    if gpu && has_ollama {
        // On GPU the model sits in GPU memory, not RAM.
        memory = memory.saturating_sub(OLLAMA.memory_mib) + 2048;
    }
    let needs = Needs {
        // CPU inference wants cores; everything else runs on two.
        min_vcpu: if has_ollama && !gpu { 4 } else { 2 },
        min_memory_gib: memory
            .div_ceil(1024)
            .max(if r.tier == Tier::Automation { 4 } else { 1 }),
        gpu,
        min_gpu_memory_gib: if gpu { 16 } else { 0 },
        arch: Some("x86_64".into()),
    };
    let mut regions = vec![r.region.clone()];
    if r.key_pair.is_none() && r.subnet.is_none() {
        for o in &r.other_regions {
            if !regions.contains(o) {
                regions.push(o.clone());
            }
        }
    }
    // A pinned zone (of an allowed region) narrows placement to it.
    let pinned = r
        .zone
        .clone()
        .filter(|z| regions.iter().any(|x| Some(x.as_str()) == region_of(z)));
    let quotes: Vec<SpotQuote> = match &pinned {
        Some(z) => {
            regions.retain(|x| Some(x.as_str()) == region_of(z));
            r.quotes
                .iter()
                .filter(|q| q.availability_zone == *z)
                .cloned()
                .collect()
        }
        None => r.quotes.clone(),
    };
    let mut placement = gm_cost::place(
        &regions,
        &needs,
        r.spot,
        &quotes,
        r.instance_type.as_deref(),
    )?;
    // The launch goes where the price was found (or stays where it is).
    let zone = placement
        .availability_zone
        .clone()
        .filter(|_| placement.spot)
        .or(pinned.clone());
    if let Some(z) = &pinned {
        placement.availability_zone = Some(z.clone());
        placement.explanation.push_str(&format!(
            "; kept in {z}, where its subnet or data volume is"
        ));
    }
    let model = has_ollama.then(|| {
        r.model
            .clone()
            .unwrap_or_else(|| r.tier.default_model().to_string())
    });
    let compose = compose::render(&ComposeConfig {
        services: services.clone(),
        gpu,
        public: vec![N8N.name],
        crawl_concurrency: 5,
        crawl_timeout_s: 60,
        model: model.clone().unwrap_or_default(),
    });
    let secrets = compose::secret_names(&services);
    let boot = user_data::render(&BootConfig {
        deployment: r.name.clone(),
        region: placement.region.clone(),
        compose: compose.clone(),
        secrets: secrets.clone(),
        gpu,
        model,
        data_device: "/dev/sdf".into(),
    });
    let mut ingress = Vec::new();
    if let Some(cidr) = &r.ssh_cidr {
        ingress.push(json!({"protocol": "tcp", "port": 22, "cidr": cidr, "description": "SSH from the operator"}));
    }
    let mut groups = Vec::new();
    if let Some(edge) = &r.edge {
        if !services.contains(&&N8N) {
            return Err(CompileError::MissingService(
                "the load balancer fronts n8n: include `n8n` in --services".into(),
            ));
        }
        if r.vpc.as_deref().is_some_and(|v| v != "default") && edge.subnets.is_empty() {
            return Err(CompileError::MissingService(
                "with --subnet outside the default VPC, name the load balancer's subnets (two zones) with --alb-subnets".into(),
            ));
        }
        // n8n only through the load balancer.
        ingress.push(json!({"protocol": "tcp", "port": 5678, "source_group": "alb", "description": "n8n from the load balancer"}));
        let mut alb_in = vec![
            json!({"protocol": "tcp", "port": 80, "cidr": r.public_cidr, "description": "HTTP (redirects to HTTPS when a certificate is set)"}),
        ];
        if edge.certificate_arn.is_some() {
            alb_in.push(json!({"protocol": "tcp", "port": 443, "cidr": r.public_cidr, "description": "HTTPS"}));
        }
        groups.push(json!({
            "name": "alb",
            "description": format!("GeuseMaker {} load balancer {}", r.tier.as_str(), r.name),
            "vpc": vpc_of(r),
            "ingress": alb_in,
        }));
    } else if services.contains(&&N8N) {
        ingress.push(json!({"protocol": "tcp", "port": 5678, "cidr": r.public_cidr, "description": "n8n web UI (its own login)"}));
    }
    let mut instance = json!({
        "name": "stack",
        "type": placement.instance_type,
        "ami": "al2023",
        "security_groups": ["stack"],
        "role": "stack",
        "market": if placement.spot || r.spot { "spot" } else { "on-demand" },
        "user_data": {"inline": boot},
        "root_volume": {"size": if gpu { 60 } else { 30 }, "type": "gp3", "encrypted": true},
        "volumes": [{"device": "/dev/sdf", "size": r.tier.data_gib(), "type": "gp3", "encrypted": true, "delete_on_termination": false}],
        "tags": {"app": "geusemaker-ai-stack"},
    });
    if r.spot {
        instance["spot"] = json!({"fallback": "on-demand"});
    }
    for (k, v) in [("key_pair", &r.key_pair), ("subnet", &r.subnet)] {
        if let Some(v) = v {
            instance[k] = json!(v);
        }
    }
    // A subnet decides its own zone; the stack's network puts its first subnet in the zone.
    if let Some(z) = zone.as_ref().filter(|_| r.subnet.is_none()) {
        instance["zone"] = json!(z);
    }
    groups.insert(
        0,
        json!({
            "name": "stack",
            "description": format!("GeuseMaker {} stack {}", r.tier.as_str(), r.name),
            "vpc": vpc_of(r),
            "ingress": ingress,
        }),
    );
    if r.network {
        // The groups go in the network's VPC.
        for g in &mut groups {
            if let Some(o) = g.as_object_mut() {
                o.remove("vpc");
            }
        }
    }
    let mut spec = json!({
        "version": 1,
        "deployment": r.name,

        "region": placement.region,
        "tags": {"stack": "ai"},
        "security_groups": groups,
        // Generated per deployment, kept in SSM, read by the instance at boot through its role.
        "secrets": secrets.iter().map(|s| json!({"name": user_data::secret_name(s)})).collect::<Vec<_>>(),
        "roles": [{"name": "stack", "read_secrets": true}],
        "instances": [instance],
    });
    if r.network {
        spec["network"] = json!({
            "vpc": {"cidr": STACK_NETWORK_CIDR},
            "subnets": [
                match &zone {
                    Some(z) => json!({"name": "public-a", "zone": z, "cidr": "10.40.1.0/24", "public": true}),
                    None => json!({"name": "public-a", "cidr": "10.40.1.0/24", "public": true}),
                },
                {"name": "public-b", "cidr": "10.40.2.0/24", "public": true},
            ],
        });
    }
    if let Some(edge) = &r.edge {
        let mut lb = json!({
            "target": "stack",
            "port": 5678,
            "health_check": "/healthz",
            "security_groups": ["alb"],
        });
        if let Some(c) = &edge.certificate_arn {
            lb["certificate_arn"] = json!(c);
        }
        if !edge.subnets.is_empty() {
            lb["subnets"] = json!(edge.subnets);
        }
        spec["load_balancer"] = lb;
        if edge.cdn {
            spec["cdn"] = json!({"price_class": "100"});
        }
    }
    let spec_yaml = gm_spec::yaml::to_yaml(&spec);
    let mut loaded = gm_spec::load_str(
        &format!("<{} tier>", r.tier.as_str()),
        &spec_yaml,
        std::path::Path::new("."),
    )?;
    // The tier tag is GeuseMaker's own, so it is added after the user-facing validation.
    loaded
        .spec
        .tags
        .insert("geusemaker:tier".into(), r.tier.as_str().into());
    Ok(Stack {
        spec: loaded,
        spec_yaml,
        services,
        placement,
        needs,
        secret_parameters: secrets
            .iter()
            .map(|s| user_data::parameter_name(&r.name, s))
            .collect(),
        compose,
        user_data: boot,
    })
}

#[cfg(test)]
mod tests;
