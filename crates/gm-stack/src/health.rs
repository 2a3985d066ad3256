//! Health of a stack's services, probed over HTTP where they are reachable from outside.
//! The host is a parameter so tests (and users behind a tunnel or proxy) can point it elsewhere.

use std::time::Duration;

use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::catalog::Service;

/// What a probe found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthState {
    /// Answered its readiness endpoint with 2xx.
    Healthy,
    /// Answered, but not 2xx.
    Unhealthy,
    /// Did not answer (still booting, or blocked).
    Unreachable,
    /// Listens on the instance's loopback only: not probed from outside.
    Private,
    /// Not probed: the instance's addresses cannot be trusted (an emulator invents them).
    Skipped,
}

/// The health of `services` when nothing is probed, with the reason.
pub fn skipped(services: &[&'static Service], reason: &str) -> Vec<Health> {
    services
        .iter()
        .map(|s| Health {
            service: s.name,
            state: HealthState::Skipped,
            detail: reason.to_string(),
        })
        .collect()
}

/// One service's health.
#[derive(Debug, Clone, Serialize)]
pub struct Health {
    /// Service name.
    pub service: &'static str,
    /// State.
    pub state: HealthState,
    /// What was probed and what came back.
    pub detail: String,
}

/// Probes every public service of `services` on `host`.
pub async fn probe(host: &str, services: &[&'static Service], timeout: Duration) -> Vec<Health> {
    let mut out = Vec::new();
    for s in services {
        let Some(port) = s.ports.iter().find(|p| p.public_ok) else {
            out.push(Health {
                service: s.name,
                state: HealthState::Private,
                detail: format!(
                    "listens on the instance's 127.0.0.1 only; reach it with ssh -L {0}:localhost:{0}",
                    s.ports.first().map_or(0, |p| p.port)
                ),
            });
            continue;
        };
        let path = s.readiness.unwrap_or(s.health);
        let url = format!("http://{host}:{}{path}", port.port);
        let (state, detail) =
            match tokio::time::timeout(timeout, get_status(host, port.port, path)).await {
                Ok(Ok(code)) if (200..300).contains(&code) => {
                    (HealthState::Healthy, format!("{url} → {code}"))
                }
                Ok(Ok(code)) => (HealthState::Unhealthy, format!("{url} → {code}")),
                Ok(Err(e)) => (HealthState::Unreachable, format!("{url}: {e}")),
                Err(_) => (
                    HealthState::Unreachable,
                    format!("{url}: no answer in {} s", timeout.as_secs()),
                ),
            };
        out.push(Health {
            service: s.name,
            state,
            detail,
        });
    }
    out
}

/// A minimal HTTP/1.1 GET returning the status code.
async fn get_status(host: &str, port: u16, path: &str) -> std::io::Result<u16> {
    let mut conn = tokio::net::TcpStream::connect((host, port)).await?;
    let req = format!("GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: geusemaker\r\nConnection: close\r\n\r\n");
    conn.write_all(req.as_bytes()).await?;
    let mut buf = vec![0u8; 512];
    let n = conn.read(&mut buf).await?;
    let head = String::from_utf8_lossy(&buf[..n]);
    head.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidData, "not an HTTP answer"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{N8N, OLLAMA};

    #[tokio::test]
    async fn public_services_are_probed_and_private_ones_are_not() {
        // A stand-in for n8n on a loopback address of its own, port 5678.
        let listener = tokio::net::TcpListener::bind("127.0.0.93:5678")
            .await
            .unwrap();
        tokio::spawn(async move {
            while let Ok((mut c, _)) = listener.accept().await {
                let mut buf = [0u8; 1024];
                let n = c.read(&mut buf).await.unwrap_or(0);
                let req = String::from_utf8_lossy(&buf[..n]).to_string();
                let code = if req.starts_with("GET /healthz/readiness ") {
                    "200 OK"
                } else {
                    "404 Not Found"
                };
                let _ = c
                    .write_all(format!("HTTP/1.1 {code}\r\nContent-Length: 0\r\n\r\n").as_bytes())
                    .await;
            }
        });
        let h = probe("127.0.0.93", &[&N8N, &OLLAMA], Duration::from_secs(2)).await;
        assert_eq!(h[0].state, HealthState::Healthy, "{:?}", h[0]);
        assert_eq!(h[1].state, HealthState::Private);
        let down = probe("127.0.0.94", &[&N8N], Duration::from_secs(2)).await;
        assert_eq!(down[0].state, HealthState::Unreachable);
    }
}
