//! Test harness: one moto server for the test binary on a free loopback port, a fault-injecting
//! proxy in front of it, the built `geusemaker` binary, and an SDK client to check what exists.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// The emulator; it exits when this process does (its stdin closes).
pub struct Moto {
    pub port: u16,
    _child: Child,
    _stdin: ChildStdin,
}

impl Moto {
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

static PG_CERTS: OnceLock<PathBuf> = OnceLock::new();

/// Where the test PostgreSQL's TLS files are: `ca.pem` (its CA) and `other-ca.pem` (a CA that
/// signed nothing of it). Its database `gm_tls` refuses connections without TLS.
pub fn postgres_certs() -> PathBuf {
    postgres();
    PG_CERTS
        .get()
        .expect("the launcher names its certificates")
        .clone()
}

/// A throwaway PostgreSQL (scripts/pg_launcher.py), one per test binary, gone with it.
pub fn postgres() -> &'static Moto {
    static PG: OnceLock<Moto> = OnceLock::new();
    PG.get_or_init(|| {
        let port = free_port();
        let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
        let mut child = Command::new(python)
            .arg(repo_root().join("scripts/pg_launcher.py"))
            .arg(port.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 to start PostgreSQL");
        let stdout = child.stdout.take().expect("pg stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("pg start line");
        assert!(
            line.starts_with("ready"),
            "PostgreSQL did not start: {line:?} (initdb and postgres on PATH?)"
        );
        if let Some(dir) = line.split_whitespace().nth(2) {
            let _ = PG_CERTS.set(PathBuf::from(dir));
        }
        let stdin = child.stdin.take().expect("pg stdin");
        Moto {
            port,
            _child: child,
            _stdin: stdin,
        }
    })
}

/// Runs `tests/it/support/NAME` with python3 against the shared moto (its URL first, then `args`);
/// returns its stdout, failing the test with its stderr when it fails.
pub fn support_script(name: &str, args: &[&str]) -> Vec<u8> {
    let out = Command::new("python3")
        .arg(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/it/support")
                .join(name),
        )
        .arg(moto().url())
        .args(args)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// A fresh database on the test PostgreSQL; its URL.
pub fn pg_database(name: &str) -> String {
    psql("postgres", &format!("CREATE DATABASE \"{name}\""));
    format!("postgres://gm@127.0.0.1:{}/{name}", postgres().port)
}

/// Runs one SQL statement in `database` on the test PostgreSQL; its unaligned output.
pub fn psql(database: &str, sql: &str) -> String {
    let out = Command::new("psql")
        .args(["-h", "127.0.0.1", "-p", &postgres().port.to_string()])
        .args(["-U", "gm", "-d", database, "-tA", "-c", sql])
        .output()
        .expect("psql");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

pub fn moto() -> &'static Moto {
    static MOTO: OnceLock<Moto> = OnceLock::new();
    MOTO.get_or_init(|| {
        let port = free_port();
        let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
        let mut child = Command::new(python)
            .arg(repo_root().join("scripts/moto_launcher.py"))
            .arg(port.to_string())
            .arg("--quiet")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 with moto[server] installed (run the README's test command)");
        let stdout = child.stdout.take().expect("moto stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("moto start line");
        assert!(
            line.starts_with("ready"),
            "moto did not start: {line:?} (is moto[server] installed?)"
        );
        let stdin = child.stdin.take().expect("moto stdin");
        Moto {
            port,
            _child: child,
            _stdin: stdin,
        }
    })
}

/// A unique deployment name per test.
pub fn name(prefix: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id() % 100_000,
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A test's own folder, state file and endpoint.
pub struct Env {
    pub dir: tempfile::TempDir,
    pub endpoint: String,
}

impl Env {
    pub fn new() -> Env {
        Env {
            dir: tempfile::tempdir().expect("temp dir"),
            endpoint: moto().url(),
        }
    }

    /// The same, but through a proxy.
    pub fn via(proxy: &Proxy) -> Env {
        Env {
            dir: tempfile::tempdir().expect("temp dir"),
            endpoint: proxy.url(),
        }
    }

    pub fn state(&self) -> PathBuf {
        self.dir.path().join("state.db")
    }

    pub fn audit_lines(&self) -> usize {
        std::fs::read_to_string(self.dir.path().join("state.audit.jsonl"))
            .map(|s| s.lines().count())
            .unwrap_or(0)
    }

    /// Writes a spec (and returns its path).
    pub fn spec(&self, text: &str) -> PathBuf {
        let p = self.dir.path().join("spec.yaml");
        std::fs::write(&p, text).expect("write spec");
        p
    }

    /// Runs geusemaker with this test's endpoint, credentials and state; stdin is empty.
    pub fn gm(&self, args: &[&str]) -> Output {
        self.run(args, true)
    }

    /// Runs geusemaker with no credentials in the environment (HOME is the test's folder).
    pub fn gm_without_keys(&self, args: &[&str]) -> Output {
        self.run(args, false)
    }

    fn run(&self, args: &[&str], keys: bool) -> Output {
        self.command(args, keys).output().expect("run geusemaker")
    }

    /// Starts geusemaker without waiting for it (to kill it part-way).
    pub fn spawn(&self, args: &[&str]) -> std::process::Child {
        self.command(args, true)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start geusemaker")
    }

    /// Starts the binary in the background, its output captured (`wait_with_output`).
    pub fn spawn_piped(&self, args: &[&str]) -> std::process::Child {
        self.command(args, true)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start geusemaker")
    }

    fn command(&self, args: &[&str], keys: bool) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_geusemaker"));
        cmd.args(args)
            .current_dir(self.dir.path())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .env("AWS_ENDPOINT_URL", &self.endpoint)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("GEUSEMAKER_STATE", self.state())
            .stdin(Stdio::null());
        if keys {
            cmd.env("AWS_ACCESS_KEY_ID", "testing")
                .env("AWS_SECRET_ACCESS_KEY", "testing");
        }
        cmd
    }

    /// Runs and parses stdout as JSON, asserting the exit code.
    pub fn gm_json(&self, args: &[&str], code: i32) -> serde_json::Value {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["-o", "json"]);
        let out = self.gm(&all);
        assert_eq!(
            out.status.code(),
            Some(code),
            "geusemaker {args:?}\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
    }
}

/// An SDK client on the shared moto, for checking what really exists.
pub fn ec2() -> aws_sdk_ec2::Client {
    aws_sdk_ec2::Client::new(&sdk_config())
}

/// SDK configuration for any service client on the shared moto (us-east-1, test credentials).
pub fn sdk_config() -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(moto().url())
        .credentials_provider(aws_sdk_ec2::config::SharedCredentialsProvider::new(
            aws_sdk_ec2::config::Credentials::new("testing", "testing", None, None, "test"),
        ))
        .build()
}

/// A runtime for SDK checks inside plain tests.
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}

/// Live (not terminated) instances of a deployment, as the SDK sees them.
pub fn live_instances(deployment: &str) -> Vec<aws_sdk_ec2::types::Instance> {
    block_on(async {
        let out = ec2()
            .describe_instances()
            .filters(filter("tag:geusemaker:deployment", deployment))
            .filters(
                aws_sdk_ec2::types::Filter::builder()
                    .name("instance-state-name")
                    .values("pending")
                    .values("running")
                    .values("stopping")
                    .values("stopped")
                    .build(),
            )
            .send()
            .await
            .expect("describe instances");
        out.reservations()
            .iter()
            .flat_map(|r| r.instances().to_vec())
            .collect()
    })
}

/// Volumes of a deployment.
pub fn volumes(deployment: &str) -> Vec<aws_sdk_ec2::types::Volume> {
    block_on(async {
        ec2()
            .describe_volumes()
            .filters(filter("tag:geusemaker:deployment", deployment))
            .send()
            .await
            .expect("describe volumes")
            .volumes()
            .to_vec()
    })
}

/// Security groups of a deployment.
pub fn groups(deployment: &str) -> Vec<aws_sdk_ec2::types::SecurityGroup> {
    block_on(async {
        ec2()
            .describe_security_groups()
            .filters(filter("tag:geusemaker:deployment", deployment))
            .send()
            .await
            .expect("describe groups")
            .security_groups()
            .to_vec()
    })
}

pub fn filter(name: &str, value: &str) -> aws_sdk_ec2::types::Filter {
    aws_sdk_ec2::types::Filter::builder()
        .name(name)
        .values(value)
        .build()
}

pub fn tag<'a>(tags: &'a [aws_sdk_ec2::types::Tag], key: &str) -> Option<&'a str> {
    tags.iter()
        .find(|t| t.key() == Some(key))
        .and_then(|t| t.value())
}

/// A rule of the fault proxy: answer matching requests with an AWS error instead of moto.
#[derive(Clone, Debug)]
pub struct Fault {
    /// The query-protocol action, e.g. `RunInstances`.
    pub action: &'static str,
    /// Only requests whose body contains this.
    pub body_contains: Option<&'static str>,
    /// Let this many matching requests through first.
    pub after: usize,
    /// Then fail this many (usize::MAX for all).
    pub times: usize,
    /// AWS error code.
    pub code: &'static str,
    /// HTTP status.
    pub status: u16,
}

/// A loopback HTTP proxy in front of moto that counts requests by action and injects faults.
pub struct Proxy {
    pub port: u16,
    pub counts: Arc<Mutex<std::collections::BTreeMap<String, usize>>>,
    /// Requests that matched each fault, in order.
    seen: Arc<Mutex<Vec<usize>>>,
}

impl Proxy {
    pub fn start(faults: Vec<Fault>) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let port = listener.local_addr().expect("addr").port();
        let upstream = moto().port;
        let counts: Arc<Mutex<std::collections::BTreeMap<String, usize>>> = Arc::default();
        let seen = Arc::new(Mutex::new(vec![0usize; faults.len()]));
        let c2 = counts.clone();
        let s2 = seen.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let faults = faults.clone();
                let seen = s2.clone();
                let counts = c2.clone();
                std::thread::spawn(move || {
                    let _ = serve(conn, upstream, &faults, &seen, &counts);
                });
            }
        });
        Proxy { port, counts, seen }
    }

    /// How many requests matched fault number `i` (action and body), failed or let through.
    pub fn matched(&self, i: usize) -> usize {
        self.seen
            .lock()
            .map(|s| s.get(i).copied().unwrap_or(0))
            .unwrap_or(0)
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn count(&self, action: &str) -> usize {
        self.counts
            .lock()
            .map(|c| c.get(action).copied().unwrap_or(0))
            .unwrap_or(0)
    }
}

fn serve(
    mut conn: TcpStream,
    upstream: u16,
    faults: &[Fault],
    seen: &Mutex<Vec<usize>>,
    counts: &Mutex<std::collections::BTreeMap<String, usize>>,
) -> std::io::Result<()> {
    // One request per connection: read headers, then the body by Content-Length.
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let header_end = loop {
        let n = conn.read(&mut chunk)?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..header_end]).to_string();
    let len = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    while buf.len() < header_end + len {
        let n = conn.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = String::from_utf8_lossy(&buf[header_end..]).to_string();
    // Query protocol (EC2, IAM): `Action=` in the body; JSON protocol (SSM): the target header.
    let action = body
        .split('&')
        .find_map(|p| p.strip_prefix("Action="))
        .or_else(|| {
            head.lines().find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("x-amz-target")
                    .then(|| v.trim().rsplit('.').next())?
            })
        })
        .unwrap_or("other")
        .to_string();
    if let Ok(mut c) = counts.lock() {
        *c.entry(action.clone()).or_default() += 1;
    }
    for (i, f) in faults.iter().enumerate() {
        if f.action != action || f.body_contains.is_some_and(|s| !body.contains(s)) {
            continue;
        }
        let n = {
            let mut s = seen.lock().expect("seen");
            s[i] += 1;
            s[i]
        };
        if n > f.after && n - f.after <= f.times {
            if let Some(ms) = f.code.strip_prefix(SLOW_ANSWER) {
                // The request waits on the wire, then goes through.
                let ms = ms.parse().unwrap_or(1000);
                std::thread::sleep(std::time::Duration::from_millis(ms));
                break;
            }
            if f.code == LOST_ANSWER {
                // The call reaches AWS and takes effect; the answer never comes back.
                let _ = forward(&buf, upstream)?;
                return Ok(());
            }
            let xml = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{}</Code><Message>injected by the test proxy</Message></Error></Errors><RequestID>fault-{n}</RequestID></Response>",
                f.code
            );
            let resp = format!(
                "HTTP/1.1 {} Injected\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{xml}",
                f.status,
                xml.len()
            );
            conn.write_all(resp.as_bytes())?;
            return Ok(());
        }
    }
    let resp = forward(&buf, upstream)?;
    conn.write_all(&resp)?;
    Ok(())
}

/// Sends one request to moto on its own connection and returns the whole answer.
fn forward(request: &[u8], upstream: u16) -> std::io::Result<Vec<u8>> {
    let mut up = TcpStream::connect(("127.0.0.1", upstream))?;
    up.write_all(request)?;
    let mut resp = Vec::new();
    up.read_to_end(&mut resp)?;
    Ok(resp)
}

/// A [`Fault`] code: the request is performed, then the connection closes without an answer.
pub const LOST_ANSWER: &str = "LOST";

/// A [`Fault`] code prefix: `SLOW:6000` holds the request 6 s before it reaches moto.
pub const SLOW_ANSWER: &str = "SLOW:";

/// The repo's examples folder.
pub fn examples() -> PathBuf {
    repo_root().join("examples")
}
