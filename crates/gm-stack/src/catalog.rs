//! The services GeuseMaker deploys, each pinned to a tested image version. Changing a version is
//! an explicit edit here (and a replacement of the stack's instance), never `:latest`.

use serde::Serialize;

/// A port a service listens on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Port {
    /// Container and host port.
    pub port: u16,
    /// What it serves.
    pub purpose: &'static str,
    /// May be exposed to the internet (it has its own authentication).
    pub public_ok: bool,
}

/// One service of the stack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Service {
    /// Compose service name; also its host name on the stack's Docker network.
    pub name: &'static str,
    /// What it is.
    pub title: &'static str,
    /// Pinned image.
    pub image: &'static str,
    /// Ports.
    pub ports: &'static [Port],
    /// HTTP path (or command) that says the service is alive.
    pub health: &'static str,
    /// Readiness path, when different.
    pub readiness: Option<&'static str>,
    /// Where its data lives in the container (mounted from `/data/NAME`).
    pub data_path: &'static str,
    /// Memory it needs, MiB (CPU inference included for Ollama).
    pub memory_mib: u32,
    /// Services it needs running first.
    pub depends_on: &'static [&'static str],
}

/// n8n, the workflow platform.
pub const N8N: Service = Service {
    name: "n8n",
    title: "n8n workflow automation",
    image: "docker.n8n.io/n8nio/n8n:1.76.1",
    ports: &[Port {
        port: 5678,
        purpose: "web UI and API",
        public_ok: true,
    }],
    health: "/healthz",
    readiness: Some("/healthz/readiness"),
    data_path: "/home/node/.n8n",
    memory_mib: 1024,
    depends_on: &["postgres"],
};

/// PostgreSQL, n8n's database.
pub const POSTGRES: Service = Service {
    name: "postgres",
    title: "PostgreSQL 16 (n8n's database)",
    image: "postgres:16.6",
    ports: &[Port {
        port: 5432,
        purpose: "database",
        public_ok: false,
    }],
    health: "pg_isready",
    readiness: None,
    data_path: "/var/lib/postgresql/data",
    memory_mib: 512,
    depends_on: &[],
};

/// Ollama, the LLM server.
pub const OLLAMA: Service = Service {
    name: "ollama",
    title: "Ollama LLM server",
    image: "ollama/ollama:0.5.7",
    ports: &[Port {
        port: 11434,
        purpose: "model and inference API",
        public_ok: false,
    }],
    health: "/",
    readiness: Some("/api/tags"),
    data_path: "/root/.ollama",
    memory_mib: 4096,
    depends_on: &[],
};

/// Qdrant, the vector database.
pub const QDRANT: Service = Service {
    name: "qdrant",
    title: "Qdrant vector database",
    image: "qdrant/qdrant:v1.13.2",
    ports: &[
        Port {
            port: 6333,
            purpose: "REST API and /dashboard",
            public_ok: false,
        },
        Port {
            port: 6334,
            purpose: "gRPC API",
            public_ok: false,
        },
    ],
    health: "/healthz",
    readiness: Some("/readyz"),
    data_path: "/qdrant/storage",
    memory_mib: 1024,
    depends_on: &[],
};

/// Crawl4AI, the scraping service.
pub const CRAWL4AI: Service = Service {
    name: "crawl4ai",
    title: "Crawl4AI web extraction",
    image: "unclecode/crawl4ai:0.4.247",
    ports: &[Port {
        port: 11235,
        purpose: "crawl API",
        public_ok: false,
    }],
    health: "/health",
    readiness: None,
    data_path: "/app/data",
    memory_mib: 2048,
    depends_on: &[],
};

/// Every service, in start order.
pub const ALL: &[&Service] = &[&POSTGRES, &N8N, &OLLAMA, &QDRANT, &CRAWL4AI];

/// A service by name.
pub fn service(name: &str) -> Option<&'static Service> {
    ALL.iter().copied().find(|s| s.name == name)
}
