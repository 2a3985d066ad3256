//! The docker compose file of a stack. Services reach each other by name on one network
//! (`http://ollama:11434`, `http://qdrant:6333`); secrets are `${VARIABLES}` read from the `.env`
//! file the instance writes at boot from SSM, never values in the file; data lives under `/data`.

use serde_json::{json, Map, Value};

use crate::catalog::{Service, CRAWL4AI, N8N, OLLAMA, POSTGRES, QDRANT};

/// What the compose file is rendered from.
#[derive(Debug, Clone)]
pub struct ComposeConfig {
    /// Services, in start order.
    pub services: Vec<&'static Service>,
    /// Give Ollama the GPUs.
    pub gpu: bool,
    /// Services whose ports listen on all interfaces (the security group still decides who
    /// reaches them); the others listen on 127.0.0.1 only.
    pub public: Vec<&'static str>,
    /// Crawl4AI: concurrent crawls.
    pub crawl_concurrency: u32,
    /// Crawl4AI: seconds per page.
    pub crawl_timeout_s: u32,
    /// Ollama model used by Crawl4AI for LLM extraction.
    pub model: String,
}

/// The secrets a set of services needs, as environment variable names.
pub fn secret_names(services: &[&Service]) -> Vec<&'static str> {
    let mut v = Vec::new();
    let has = |n: &str| services.iter().any(|s| s.name == n);
    if has(POSTGRES.name) {
        v.push("POSTGRES_PASSWORD");
    }
    if has(N8N.name) {
        v.push("N8N_ENCRYPTION_KEY");
        v.push("N8N_JWT_SECRET");
    }
    if has(QDRANT.name) {
        v.push("QDRANT_API_KEY");
    }
    if has(CRAWL4AI.name) {
        v.push("CRAWL4AI_API_TOKEN");
    }
    v
}

/// Renders the compose file.
pub fn render(c: &ComposeConfig) -> String {
    let mut services = Map::new();
    let has = |n: &str| c.services.iter().any(|s| s.name == n);
    for s in &c.services {
        let mut svc = Map::new();
        svc.insert("image".into(), json!(s.image));
        svc.insert("restart".into(), json!("unless-stopped"));
        svc.insert("networks".into(), json!(["ai"]));
        let bind = if c.public.contains(&s.name) {
            "0.0.0.0"
        } else {
            "127.0.0.1"
        };
        let ports: Vec<String> = s
            .ports
            .iter()
            .map(|p| format!("{bind}:{0}:{0}", p.port))
            .collect();
        if !ports.is_empty() {
            svc.insert("ports".into(), json!(ports));
        }
        svc.insert(
            "volumes".into(),
            json!([format!("/data/{}:{}", s.name, s.data_path)]),
        );
        let env = environment(s, c, &has);
        if !env.is_empty() {
            svc.insert("environment".into(), Value::Object(env));
        }
        svc.insert("healthcheck".into(), healthcheck(s));
        let deps: Map<String, Value> = s
            .depends_on
            .iter()
            .filter(|d| has(d))
            .map(|d| (d.to_string(), json!({"condition": "service_healthy"})))
            .collect();
        if !deps.is_empty() {
            svc.insert("depends_on".into(), Value::Object(deps));
        }
        if s.name == OLLAMA.name && c.gpu {
            svc.insert(
                "deploy".into(),
                json!({"resources": {"reservations": {"devices": [
                    {"driver": "nvidia", "count": "all", "capabilities": ["gpu"]}
                ]}}}),
            );
        }
        if s.name == CRAWL4AI.name {
            svc.insert("shm_size".into(), json!("1g"));
        }
        services.insert(s.name.to_string(), Value::Object(svc));
    }
    let doc = json!({
        "name": "geusemaker",
        "networks": {"ai": {"name": "geusemaker-ai"}},
        "services": services,
    });
    format!(
        "# Written by GeuseMaker. Secrets come from .env (written at boot from SSM Parameter Store).\n{}",
        gm_spec::yaml::to_yaml(&doc).trim_start_matches("---\n")
    )
}

fn environment(s: &Service, c: &ComposeConfig, has: &dyn Fn(&str) -> bool) -> Map<String, Value> {
    let mut e = Map::new();
    let mut put = |k: &str, v: &str| {
        e.insert(k.to_string(), json!(v));
    };
    match s.name {
        "postgres" => {
            put("POSTGRES_USER", "n8n");
            put("POSTGRES_DB", "n8n");
            put("POSTGRES_PASSWORD", "${POSTGRES_PASSWORD}");
        }
        "n8n" => {
            put("DB_TYPE", "postgresdb");
            put("DB_POSTGRESDB_HOST", "postgres");
            put("DB_POSTGRESDB_PORT", "5432");
            put("DB_POSTGRESDB_DATABASE", "n8n");
            put("DB_POSTGRESDB_USER", "n8n");
            put("DB_POSTGRESDB_PASSWORD", "${POSTGRES_PASSWORD}");
            put("N8N_ENCRYPTION_KEY", "${N8N_ENCRYPTION_KEY}");
            put("N8N_USER_MANAGEMENT_JWT_SECRET", "${N8N_JWT_SECRET}");
            put("N8N_DIAGNOSTICS_ENABLED", "false");
            put("N8N_PERSONALIZATION_ENABLED", "false");
            // Plain HTTP until a load balancer with TLS sits in front.
            put("N8N_SECURE_COOKIE", "false");
            // Where the other services are, by their names on the stack's network: use these
            // URLs in n8n's Ollama and Qdrant credentials (not localhost).
            if has(OLLAMA.name) {
                put("OLLAMA_HOST", "http://ollama:11434");
            }
            if has(QDRANT.name) {
                put("QDRANT_URL", "http://qdrant:6333");
                put("QDRANT_API_KEY", "${QDRANT_API_KEY}");
            }
            if has(CRAWL4AI.name) {
                put("CRAWL4AI_URL", "http://crawl4ai:11235");
            }
        }
        "ollama" => {
            put("OLLAMA_KEEP_ALIVE", "24h");
            put("OLLAMA_MAX_LOADED_MODELS", "2");
        }
        "qdrant" => put("QDRANT__SERVICE__API_KEY", "${QDRANT_API_KEY}"),
        "crawl4ai" => {
            put("CRAWL4AI_API_TOKEN", "${CRAWL4AI_API_TOKEN}");
            let conc = c.crawl_concurrency.to_string();
            put("MAX_CONCURRENT_TASKS", &conc);
            let t = c.crawl_timeout_s.to_string();
            put("CRAWL4AI_TIMEOUT", &t);
            if has(OLLAMA.name) {
                put("OLLAMA_BASE_URL", "http://ollama:11434");
                let provider = format!("ollama/{}", c.model);
                put("LLM_PROVIDER", &provider);
            }
        }
        _ => {}
    }
    e
}

fn healthcheck(s: &Service) -> Value {
    let test = match s.name {
        "postgres" => json!(["CMD-SHELL", "pg_isready -U n8n -d n8n"]),
        "n8n" => json!(["CMD-SHELL", "wget -qO- http://127.0.0.1:5678/healthz >/dev/null || exit 1"]),
        "ollama" => json!(["CMD", "ollama", "list"]),
        // The qdrant image has bash but no curl or wget.
        "qdrant" => json!(["CMD-SHELL", "bash -c ':> /dev/tcp/127.0.0.1/6333' || exit 1"]),
        "crawl4ai" => json!([
            "CMD",
            "python",
            "-c",
            "import urllib.request; urllib.request.urlopen('http://127.0.0.1:11235/health', timeout=5)"
        ]),
        _ => json!(["CMD", "true"]),
    };
    json!({"test": test, "interval": "15s", "timeout": "5s", "retries": 20, "start_period": "30s"})
}
