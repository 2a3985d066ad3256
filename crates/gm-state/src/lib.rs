//! GeuseMaker's state store: a journal and a cache, never the truth (AWS is).
//!
//! It records deployments, each resource with its provenance (created by us, or referenced and
//! never deleted), every run, and each step of a run (intent before the AWS call, result after).
//! SQLite, bundled, in WAL mode; every write is a transaction.

use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The database could not be opened or created.
    #[error("cannot open state database {path}: {source}")]
    Open {
        /// Its path.
        path: PathBuf,
        /// SQLite's error.
        source: rusqlite::Error,
    },
    /// A folder for the database could not be created.
    #[error("cannot create state folder {path}: {source}")]
    Folder {
        /// The folder.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The database was written by a newer GeuseMaker, with a schema this one cannot read.
    #[error("state database {path} has schema version {found}; this GeuseMaker reads up to version {supported}")]
    NewerSchema {
        /// Its path.
        path: PathBuf,
        /// The version in the file.
        found: i64,
        /// The newest version this build knows.
        supported: i64,
    },
    /// A query failed.
    #[error("state database error while {doing}: {source}")]
    Query {
        /// What the store was doing.
        doing: &'static str,
        /// SQLite's error.
        source: rusqlite::Error,
    },
}

impl gm_model::Hint for StateError {
    fn code(&self) -> String {
        "GM-STATE-001".into()
    }

    fn hint(&self) -> Option<String> {
        Some(StateError::hint(self).into())
    }
}

impl StateError {
    /// What the user can do.
    pub fn hint(&self) -> &'static str {
        match self {
            StateError::Open { .. } | StateError::Folder { .. } => {
                "check --state PATH (or GEUSEMAKER_STATE) points at a writable place"
            }
            StateError::Query {
                source: rusqlite::Error::SqliteFailure(e, _),
                ..
            } if matches!(
                e.code,
                rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
            ) =>
            {
                "another GeuseMaker process held the state for more than 5 s; wait for it to finish and run again"
            }
            StateError::NewerSchema { .. } => {
                "the state file was written by a newer GeuseMaker: upgrade, or point --state elsewhere"
            }
            StateError::Query { .. } => {
                "the state file may be damaged; AWS is the truth, so moving it aside and re-running is safe"
            }
        }
    }
}

type Result<T> = std::result::Result<T, StateError>;

/// Whether SQLite refused because another connection holds the lock.
fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

/// An enum stored as its text in column `i`, read back; a value this version does not know is
/// a conversion error that names it.
fn stored<T>(
    r: &rusqlite::Row<'_>,
    i: usize,
    parse: fn(&str) -> Option<T>,
    what: &str,
) -> rusqlite::Result<T> {
    let s: String = r.get(i)?;
    parse(&s).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            i,
            rusqlite::types::Type::Text,
            format!("unknown {what} `{s}`").into(),
        )
    })
}

fn q(doing: &'static str) -> impl FnOnce(rusqlite::Error) -> StateError {
    move |source| StateError::Query { doing, source }
}

/// Whether a resource was made by GeuseMaker or only used by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Provenance {
    /// Created by this deployment: destroy deletes it.
    Created,
    /// Existing and referenced by id: never deleted.
    Referenced,
}

impl Provenance {
    fn as_str(self) -> &'static str {
        match self {
            Provenance::Created => "created",
            Provenance::Referenced => "referenced",
        }
    }
}

pub use gm_model::{DeploymentStatus, RecordStatus, ResourceKind};

/// Reads a deployment status column; a value this version does not know is an error, not a guess.
fn deployment_status(r: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<DeploymentStatus> {
    let s: String = r.get(i)?;
    DeploymentStatus::parse(&s).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            i,
            rusqlite::types::Type::Text,
            format!("unknown deployment status `{s}`").into(),
        )
    })
}

/// One resource as last seen.
#[derive(Debug, Clone, Serialize)]
pub struct ResourceRecord {
    /// Logical address (`instance/web/0`) or, for referenced ones, `ref/KIND/ID`.
    pub address: String,
    /// What it is.
    pub kind: ResourceKind,
    /// AWS id.
    pub aws_id: String,
    /// Created or referenced.
    pub provenance: Provenance,
    /// Live, or deleted.
    pub status: RecordStatus,
    /// Anything worth keeping (type, state, IPs, the AMI an alias resolved to, …).
    pub attributes: serde_json::Value,
    /// Last update, RFC 3339.
    pub updated_at: String,
}

impl ResourceRecord {
    /// Whether AWS had it at the last read.
    pub fn is_live(&self) -> bool {
        self.status == RecordStatus::Live
    }
}

/// A deployment known to this store.
#[derive(Debug, Clone, Serialize)]
pub struct DeploymentRecord {
    /// Name.
    pub name: String,
    /// Region.
    pub region: String,
    /// Spec file it was last applied from.
    pub spec_file: Option<String>,
    /// Where it stands (`active`, `applying`, `rolled-back`, …).
    pub status: DeploymentStatus,
    /// Live resources GeuseMaker created.
    pub resources: i64,
    /// First apply.
    pub created_at: String,
    /// Last change.
    pub updated_at: String,
}

/// One command run against a deployment.
#[derive(Debug, Clone, Serialize)]
pub struct RunRecord {
    /// Run id.
    pub id: i64,
    /// Deployment.
    pub deployment: String,
    /// `apply`, `destroy`, …
    pub command: String,
    /// Start.
    pub started_at: String,
    /// End, if it ended.
    pub finished_at: Option<String>,
    /// `ok`, `failed`, `rolled-back`, or none while running (or after a crash).
    pub outcome: Option<String>,
    /// Requests sent to AWS.
    pub requests: Option<i64>,
}

/// A run found unfinished and closed by [`Store::interrupt_unfinished_runs`].
#[derive(Debug, Clone, Serialize)]
pub struct Interrupted {
    /// The run as it was.
    pub run: RunRecord,
    /// Its steps that never had an answer, as `action address`.
    pub unanswered: Vec<String>,
    /// Its last journaled step, as `action address`.
    pub last_step: Option<String>,
}

impl Interrupted {
    /// One line for the user: which run, when, and where it stopped.
    pub fn describe(&self) -> String {
        let mut s = format!(
            "run {} ({}, started {}) was interrupted",
            self.run.id, self.run.command, self.run.started_at
        );
        if !self.unanswered.is_empty() {
            s.push_str(&format!(
                " with no answer to: {}",
                self.unanswered.join(", ")
            ));
        } else if let Some(l) = &self.last_step {
            s.push_str(&format!(" after: {l}"));
        }
        s
    }
}

/// One step of a run.
#[derive(Debug, Clone, Serialize)]
pub struct StepRecord {
    /// Step id.
    pub id: i64,
    /// Its run.
    pub run_id: i64,
    /// Logical address.
    pub address: String,
    /// What it does (`create`, `terminate`, `undo-create`, …).
    pub action: String,
    /// The intent, written before the AWS call.
    pub intent: serde_json::Value,
    /// `ok` or `failed`; none means the call may or may not have happened (crash).
    pub outcome: Option<String>,
    /// AWS ids it touched or made.
    pub aws_ids: Vec<String>,
    /// The error, if it failed.
    pub error: Option<String>,
}

/// A launch whose answer never came (see [`Store::launches_in_flight`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InFlight {
    /// The journal step.
    pub step: i64,
    /// Its run.
    pub run: i64,
    /// The address it launched.
    pub address: String,
    /// When the intent was written (RFC 3339).
    pub started_at: String,
}

/// The state store.
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

const SCHEMA_VERSION: i64 = 3;

/// Creates `dir` (and its missing parents) readable by this user only.
pub fn private_dir(dir: &Path) -> std::io::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(dir)
}

/// Opens `path` for appending, creating it readable and writable by this user only.
pub fn private_file(path: &Path) -> std::io::Result<std::fs::File> {
    let mut o = std::fs::OpenOptions::new();
    o.create(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    o.open(path)
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl Store {
    /// Opens (creating if needed) the store at `path`.
    /// The folder is created 0700 and the database 0600 (SQLite gives its -wal and -shm files
    /// the database's mode): the state names every resource and the journal every call.
    pub fn open(path: &Path) -> Result<Store> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            private_dir(dir).map_err(|source| StateError::Folder {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        if !path.exists() {
            private_file(path)
                .and_then(|f| f.sync_all())
                .map_err(|source| StateError::Folder {
                    path: path.to_path_buf(),
                    source,
                })?;
        }
        let conn = Connection::open(path).map_err(|source| StateError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        let store = Store {
            conn,
            path: path.to_path_buf(),
        };
        store.migrate()?;
        Ok(store)
    }

    /// Where the database lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn migrate(&self) -> Result<()> {
        self.conn
            .busy_timeout(std::time::Duration::from_secs(5))
            .map_err(q("setting up the database"))?;
        // Switching a new file to WAL needs the exclusive lock. SQLite answers "locked" at once,
        // without waiting in the busy handler, when another opener is switching it at the same
        // moment (waiting could deadlock), so this step waits and retries itself.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let mut pause = std::time::Duration::from_millis(2);
        loop {
            match self.conn.execute_batch(
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
            ) {
                Ok(()) => break,
                Err(e) if is_busy(&e) && std::time::Instant::now() < deadline => {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(std::time::Duration::from_millis(100));
                }
                Err(e) => return Err(q("setting up the database")(e)),
            }
        }
        let version: i64 = self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(q("reading the schema version"))?;
        if version > SCHEMA_VERSION {
            return Err(StateError::NewerSchema {
                path: self.path.clone(),
                found: version,
                supported: SCHEMA_VERSION,
            });
        }
        if version == SCHEMA_VERSION {
            return Ok(());
        }
        // One transaction for the whole upgrade, taken as the writer at once: a second process
        // opening a new store waits here, then sees the schema the first one made.
        self.conn
            .execute_batch("BEGIN IMMEDIATE;")
            .map_err(q("locking the database for its schema"))?;
        let r = self.upgrade();
        let end = if r.is_ok() { "COMMIT;" } else { "ROLLBACK;" };
        self.conn
            .execute_batch(end)
            .map_err(q("finishing the schema upgrade"))?;
        r
    }

    /// Brings the schema to [`SCHEMA_VERSION`] inside the caller's transaction.
    fn upgrade(&self) -> Result<()> {
        let version: i64 = self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(q("reading the schema version"))?;
        if version < 1 {
            self.conn
                .execute_batch(
                    "CREATE TABLE deployments (
                        name TEXT PRIMARY KEY,
                        region TEXT NOT NULL,
                        spec_file TEXT,
                        status TEXT NOT NULL,
                        created_at TEXT NOT NULL,
                        updated_at TEXT NOT NULL);
                     CREATE TABLE resources (
                        deployment TEXT NOT NULL REFERENCES deployments(name) ON DELETE CASCADE,
                        aws_id TEXT NOT NULL,
                        address TEXT NOT NULL,
                        kind TEXT NOT NULL,
                        provenance TEXT NOT NULL CHECK (provenance IN ('created','referenced')),
                        status TEXT NOT NULL,
                        attributes TEXT NOT NULL,
                        updated_at TEXT NOT NULL,
                        PRIMARY KEY (deployment, aws_id));
                     CREATE INDEX resources_by_address ON resources(deployment, address);
                     CREATE TABLE runs (
                        id INTEGER PRIMARY KEY,
                        deployment TEXT NOT NULL,
                        command TEXT NOT NULL,
                        started_at TEXT NOT NULL,
                        finished_at TEXT,
                        outcome TEXT,
                        requests INTEGER,
                        summary TEXT);
                     CREATE INDEX runs_by_deployment ON runs(deployment, id);
                     CREATE TABLE steps (
                        id INTEGER PRIMARY KEY,
                        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
                        address TEXT NOT NULL,
                        action TEXT NOT NULL,
                        intent TEXT NOT NULL,
                        started_at TEXT NOT NULL,
                        finished_at TEXT,
                        outcome TEXT,
                        aws_ids TEXT NOT NULL DEFAULT '[]',
                        error TEXT);
                     CREATE INDEX steps_by_run ON steps(run_id, id);
                     PRAGMA user_version = 1;",
                )
                .map_err(q("creating the schema"))?;
        }
        if version < 2 {
            self.conn
                .execute_batch(
                    "CREATE TABLE cache (
                        key TEXT PRIMARY KEY,
                        value TEXT NOT NULL,
                        fetched_at INTEGER NOT NULL);
                     PRAGMA user_version = 2;",
                )
                .map_err(q("adding the cache table"))?;
        }
        if version < 3 {
            self.conn
                .execute_batch(
                    "ALTER TABLE deployments ADD COLUMN spec TEXT;
                     PRAGMA user_version = 3;",
                )
                .map_err(q("adding the spec column"))?;
        }
        Ok(())
    }

    /// A cached value no older than `max_age_secs`, with its age in seconds.
    pub fn cache_get(&self, key: &str, max_age_secs: i64) -> Result<Option<(String, i64)>> {
        let now = chrono::Utc::now().timestamp();
        let row: Option<(String, i64)> = self
            .conn
            .query_row(
                "SELECT value, fetched_at FROM cache WHERE key = ?1",
                [key],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(q("reading the cache"))?;
        Ok(row.and_then(|(v, at)| (now - at <= max_age_secs).then_some((v, now - at))))
    }

    /// Caches a value now.
    pub fn cache_put(&self, key: &str, value: &str) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO cache(key, value, fetched_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT(key) DO UPDATE SET value = ?2, fetched_at = ?3",
                params![key, value, chrono::Utc::now().timestamp()],
            )
            .map_err(q("writing the cache"))?;
        Ok(())
    }

    /// Records (or updates) a deployment.
    pub fn upsert_deployment(
        &self,
        name: &str,
        region: &str,
        spec_file: Option<&str>,
        status: DeploymentStatus,
    ) -> Result<()> {
        let t = now();
        self.conn
            .execute(
                "INSERT INTO deployments(name, region, spec_file, status, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5)
                 ON CONFLICT(name) DO UPDATE SET region = ?2, spec_file = COALESCE(?3, spec_file),
                    status = ?4, updated_at = ?5",
                params![name, region, spec_file, status.as_str(), t],
            )
            .map_err(q("recording the deployment"))?;
        Ok(())
    }

    /// Records the spec a deployment was last applied from (so `heal` can re-apply it).
    pub fn set_spec(&self, name: &str, spec: &serde_json::Value) -> Result<()> {
        self.conn
            .execute(
                "UPDATE deployments SET spec = ?2 WHERE name = ?1",
                params![name, spec.to_string()],
            )
            .map_err(q("recording the spec"))?;
        Ok(())
    }

    /// The spec a deployment was last applied from.
    pub fn spec(&self, name: &str) -> Result<Option<serde_json::Value>> {
        let v: Option<Option<String>> = self
            .conn
            .query_row(
                "SELECT spec FROM deployments WHERE name = ?1",
                [name],
                |r| r.get(0),
            )
            .optional()
            .map_err(q("reading the spec"))?;
        Ok(v.flatten().and_then(|s| serde_json::from_str(&s).ok()))
    }

    /// Sets a deployment's status.
    pub fn set_status(&self, name: &str, status: DeploymentStatus) -> Result<()> {
        self.conn
            .execute(
                "UPDATE deployments SET status = ?2, updated_at = ?3 WHERE name = ?1",
                params![name, status.as_str(), now()],
            )
            .map_err(q("updating the deployment status"))?;
        Ok(())
    }

    /// One deployment.
    pub fn deployment(&self, name: &str) -> Result<Option<DeploymentRecord>> {
        Ok(self.deployments()?.into_iter().find(|d| d.name == name))
    }

    /// All deployments, newest change first.
    pub fn deployments(&self) -> Result<Vec<DeploymentRecord>> {
        let mut st = self
            .conn
            .prepare(
                "SELECT d.name, d.region, d.spec_file, d.status, d.created_at, d.updated_at,
                        (SELECT COUNT(*) FROM resources r WHERE r.deployment = d.name
                           AND r.status = 'live' AND r.provenance = 'created')
                 FROM deployments d ORDER BY d.updated_at DESC, d.name",
            )
            .map_err(q("listing deployments"))?;
        let rows = st
            .query_map([], |r| {
                Ok(DeploymentRecord {
                    name: r.get(0)?,
                    region: r.get(1)?,
                    spec_file: r.get(2)?,
                    status: deployment_status(r, 3)?,
                    created_at: r.get(4)?,
                    updated_at: r.get(5)?,
                    resources: r.get(6)?,
                })
            })
            .map_err(q("listing deployments"))?;
        rows.collect::<std::result::Result<_, _>>()
            .map_err(q("listing deployments"))
    }

    /// Replaces what the store knows of a deployment's resources with what AWS just reported:
    /// rows for `seen` are upserted as live, other live rows of the same provenance are marked
    /// deleted. One transaction.
    pub fn sync_resources(
        &mut self,
        deployment: &str,
        provenance: Provenance,
        seen: &[ResourceRecord],
    ) -> Result<()> {
        let t = now();
        let tx = self
            .conn
            .transaction()
            .map_err(q("starting a transaction"))?;
        tx.execute(
            "UPDATE resources SET status = 'deleted', updated_at = ?3
             WHERE deployment = ?1 AND provenance = ?2 AND status = 'live'",
            params![deployment, provenance.as_str(), t],
        )
        .map_err(q("syncing resources"))?;
        {
            let mut st = tx
                .prepare(
                    "INSERT INTO resources(deployment, aws_id, address, kind, provenance, status, attributes, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, 'live', ?6, ?7)
                     ON CONFLICT(deployment, aws_id) DO UPDATE SET address = ?3, kind = ?4,
                        provenance = ?5, status = 'live', attributes = ?6, updated_at = ?7",
                )
                .map_err(q("syncing resources"))?;
            for r in seen {
                st.execute(params![
                    deployment,
                    r.aws_id,
                    r.address,
                    r.kind.as_str(),
                    provenance.as_str(),
                    r.attributes.to_string(),
                    t
                ])
                .map_err(q("syncing resources"))?;
            }
        }
        tx.commit().map_err(q("committing resources"))
    }

    /// Resources of a deployment (live and deleted), by address.
    pub fn resources(&self, deployment: &str) -> Result<Vec<ResourceRecord>> {
        let mut st = self
            .conn
            .prepare(
                "SELECT address, kind, aws_id, provenance, status, attributes, updated_at
                 FROM resources WHERE deployment = ?1 ORDER BY status DESC, address, aws_id",
            )
            .map_err(q("reading resources"))?;
        let rows = st
            .query_map([deployment], |r| {
                let prov: String = r.get(3)?;
                let attrs: String = r.get(5)?;
                Ok(ResourceRecord {
                    address: r.get(0)?,
                    kind: stored(r, 1, ResourceKind::parse, "resource kind")?,
                    aws_id: r.get(2)?,
                    provenance: if prov == "created" {
                        Provenance::Created
                    } else {
                        Provenance::Referenced
                    },
                    status: stored(r, 4, RecordStatus::parse, "resource status")?,
                    attributes: serde_json::from_str(&attrs).unwrap_or(serde_json::Value::Null),
                    updated_at: r.get(6)?,
                })
            })
            .map_err(q("reading resources"))?;
        rows.collect::<std::result::Result<_, _>>()
            .map_err(q("reading resources"))
    }

    /// Starts a run; returns its id.
    pub fn begin_run(&self, deployment: &str, command: &str) -> Result<i64> {
        self.conn
            .execute(
                "INSERT INTO runs(deployment, command, started_at) VALUES (?1, ?2, ?3)",
                params![deployment, command, now()],
            )
            .map_err(q("starting a run"))?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Ends a run.
    pub fn finish_run(
        &self,
        run: i64,
        outcome: &str,
        requests: u64,
        summary: &serde_json::Value,
    ) -> Result<()> {
        self.conn
            .execute(
                "UPDATE runs SET finished_at = ?2, outcome = ?3, requests = ?4, summary = ?5 WHERE id = ?1",
                params![run, now(), outcome, i64::try_from(requests).unwrap_or(i64::MAX), summary.to_string()],
            )
            .map_err(q("finishing a run"))?;
        Ok(())
    }

    /// Writes a step's intent before its AWS call; returns the step id.
    pub fn step_intent(
        &self,
        run: i64,
        address: &str,
        action: &str,
        intent: &serde_json::Value,
    ) -> Result<i64> {
        self.conn
            .execute(
                "INSERT INTO steps(run_id, address, action, intent, started_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![run, address, action, intent.to_string(), now()],
            )
            .map_err(q("journaling a step"))?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Writes a step's result after its AWS call.
    pub fn step_result(
        &self,
        step: i64,
        outcome: &str,
        aws_ids: &[String],
        error: Option<&str>,
    ) -> Result<()> {
        self.conn
            .execute(
                "UPDATE steps SET finished_at = ?2, outcome = ?3, aws_ids = ?4, error = ?5 WHERE id = ?1",
                params![step, now(), outcome, serde_json::to_string(aws_ids).unwrap_or_default(), error],
            )
            .map_err(q("journaling a step result"))?;
        Ok(())
    }

    /// Closes the runs of `deployment` that began and never finished (their process was killed
    /// or crashed), marking them and their unanswered steps `interrupted`, and says what each
    /// was doing. Call it only while holding the deployment's lock: an unfinished run is then
    /// certainly dead.
    pub fn interrupt_unfinished_runs(&self, deployment: &str) -> Result<Vec<Interrupted>> {
        let unfinished = self.unfinished_runs(deployment)?;
        let mut out = Vec::new();
        for run in unfinished {
            let steps = self.steps(run.id)?;
            let open: Vec<String> = steps
                .iter()
                .filter(|s| s.outcome.is_none() || s.outcome.as_deref() == Some("interrupted"))
                .map(|s| format!("{} {}", s.action, s.address))
                .collect();
            let last = steps.last().map(|s| format!("{} {}", s.action, s.address));
            let at = now();
            self.conn
                .execute(
                    "UPDATE steps SET finished_at = ?2, outcome = 'interrupted' WHERE run_id = ?1 AND outcome IS NULL",
                    params![run.id, at],
                )
                .map_err(q("closing an interrupted run's steps"))?;
            self.conn
                .execute(
                    "UPDATE runs SET finished_at = ?2, outcome = 'interrupted' WHERE id = ?1",
                    params![run.id, at],
                )
                .map_err(q("closing an interrupted run"))?;
            out.push(Interrupted {
                run,
                unanswered: open,
                last_step: last,
            });
        }
        Ok(out)
    }

    /// Runs of a deployment that began and have not finished (running now, or killed), oldest
    /// first. Every apply asks, so this reads those runs only, not the whole history.
    pub fn unfinished_runs(&self, deployment: &str) -> Result<Vec<RunRecord>> {
        self.query_runs(
            "SELECT id, deployment, command, started_at, finished_at, outcome, requests
             FROM runs WHERE deployment = ?1 AND finished_at IS NULL ORDER BY id",
            deployment,
        )
    }

    /// Runs of a deployment, newest first.
    pub fn runs(&self, deployment: &str) -> Result<Vec<RunRecord>> {
        self.query_runs(
            "SELECT id, deployment, command, started_at, finished_at, outcome, requests
             FROM runs WHERE deployment = ?1 ORDER BY id DESC",
            deployment,
        )
    }

    fn query_runs(&self, sql: &str, deployment: &str) -> Result<Vec<RunRecord>> {
        let mut st = self.conn.prepare(sql).map_err(q("reading runs"))?;
        let rows = st
            .query_map([deployment], |r| {
                Ok(RunRecord {
                    id: r.get(0)?,
                    deployment: r.get(1)?,
                    command: r.get(2)?,
                    started_at: r.get(3)?,
                    finished_at: r.get(4)?,
                    outcome: r.get(5)?,
                    requests: r.get(6)?,
                })
            })
            .map_err(q("reading runs"))?;
        rows.collect::<std::result::Result<_, _>>()
            .map_err(q("reading runs"))
    }

    /// Steps of a run, in order.
    pub fn steps(&self, run: i64) -> Result<Vec<StepRecord>> {
        let mut st = self
            .conn
            .prepare("SELECT id, run_id, address, action, intent, outcome, aws_ids, error FROM steps WHERE run_id = ?1 ORDER BY id")
            .map_err(q("reading steps"))?;
        let rows = st
            .query_map([run], |r| {
                let intent: String = r.get(4)?;
                let ids: String = r.get(6)?;
                Ok(StepRecord {
                    id: r.get(0)?,
                    run_id: r.get(1)?,
                    address: r.get(2)?,
                    action: r.get(3)?,
                    intent: serde_json::from_str(&intent).unwrap_or(serde_json::Value::Null),
                    outcome: r.get(5)?,
                    aws_ids: serde_json::from_str(&ids).unwrap_or_default(),
                    error: r.get(7)?,
                })
            })
            .map_err(q("reading steps"))?;
        rows.collect::<std::result::Result<_, _>>()
            .map_err(q("reading steps"))
    }

    /// The last run of a deployment whose steps did not all finish (a crash), if any.
    pub fn unfinished_run(&self, deployment: &str) -> Result<Option<i64>> {
        self.conn
            .query_row(
                "SELECT id FROM runs WHERE deployment = ?1 AND finished_at IS NULL ORDER BY id DESC LIMIT 1",
                [deployment],
                |r| r.get(0),
            )
            .optional()
            .map_err(q("looking for unfinished runs"))
    }

    /// Launches journaled by runs that never finished and never got their answer: the process
    /// ended (a kill, a crash) while `RunInstances` may have been on the wire.
    pub fn launches_in_flight(&self, deployment: &str) -> Result<Vec<InFlight>> {
        let mut st = self
            .conn
            .prepare(
                "SELECT s.id, s.run_id, s.address, s.started_at FROM steps s JOIN runs r ON r.id = s.run_id
                 WHERE r.deployment = ?1 AND r.finished_at IS NULL AND s.outcome IS NULL
                   AND s.action IN ('create', 'replace')
                 ORDER BY s.id",
            )
            .map_err(q("reading launches in flight"))?;
        let rows = st
            .query_map([deployment], |r| {
                Ok(InFlight {
                    step: r.get(0)?,
                    run: r.get(1)?,
                    address: r.get(2)?,
                    started_at: r.get(3)?,
                })
            })
            .map_err(q("reading launches in flight"))?;
        rows.collect::<std::result::Result<_, _>>()
            .map_err(q("reading launches in flight"))
    }

    /// Everything in the store as one JSON document (for `state export`).
    pub fn export(&self) -> Result<serde_json::Value> {
        let mut deployments = Vec::new();
        for d in self.deployments()? {
            let runs = self.runs(&d.name)?;
            let mut runs_json = Vec::new();
            for r in runs {
                let steps = self.steps(r.id)?;
                let mut v = serde_json::to_value(&r).unwrap_or_default();
                v["steps"] = serde_json::to_value(steps).unwrap_or_default();
                runs_json.push(v);
            }
            let mut v = serde_json::to_value(&d).unwrap_or_default();
            v["resource_records"] =
                serde_json::to_value(self.resources(&d.name)?).unwrap_or_default();
            v["runs"] = serde_json::Value::Array(runs_json);
            deployments.push(v);
        }
        Ok(serde_json::json!({
            "format": "geusemaker-state",
            "schema_version": SCHEMA_VERSION,
            "exported_at": now(),
            "deployments": deployments,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(address: &str, id: &str) -> ResourceRecord {
        ResourceRecord {
            address: address.into(),
            kind: ResourceKind::Instance,
            aws_id: id.into(),
            provenance: Provenance::Created,
            status: RecordStatus::Live,
            attributes: serde_json::json!({"type": "t3.micro"}),
            updated_at: String::new(),
        }
    }

    #[test]
    fn sync_marks_vanished_resources_deleted_and_keeps_history() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("nested/state.db")).unwrap();
        s.upsert_deployment(
            "demo",
            "us-east-1",
            Some("spec.yaml"),
            DeploymentStatus::Active,
        )
        .unwrap();
        s.sync_resources(
            "demo",
            Provenance::Created,
            &[rec("instance/web/0", "i-1"), rec("instance/web/1", "i-2")],
        )
        .unwrap();
        s.sync_resources("demo", Provenance::Created, &[rec("instance/web/0", "i-1")])
            .unwrap();
        let all = s.resources("demo").unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(
            all.iter().find(|r| r.aws_id == "i-2").unwrap().status,
            RecordStatus::Deleted
        );
        assert_eq!(s.deployment("demo").unwrap().unwrap().resources, 1);
    }

    #[test]
    fn referenced_resources_survive_a_sync_of_created_ones() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("state.db")).unwrap();
        s.upsert_deployment("demo", "us-east-1", None, DeploymentStatus::Active)
            .unwrap();
        let mut r = rec("ref/security-group/sg-1", "sg-1");
        r.provenance = Provenance::Referenced;
        s.sync_resources("demo", Provenance::Referenced, &[r])
            .unwrap();
        s.sync_resources("demo", Provenance::Created, &[]).unwrap();
        let all = s.resources("demo").unwrap();
        assert_eq!(all[0].status, RecordStatus::Live);
        assert_eq!(all[0].provenance, Provenance::Referenced);
    }

    #[test]
    fn an_unfinished_run_is_closed_as_interrupted_with_what_it_left_unanswered() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("state.db")).unwrap();
        let done = s.begin_run("demo", "apply").unwrap();
        s.finish_run(done, "ok", 3, &serde_json::json!({})).unwrap();
        let killed = s.begin_run("demo", "apply").unwrap();
        let a = s
            .step_intent(killed, "sg/web", "create", &serde_json::json!({}))
            .unwrap();
        s.step_result(a, "ok", &["sg-1".to_string()], None).unwrap();
        s.step_intent(killed, "instance/web/0", "create", &serde_json::json!({}))
            .unwrap();
        let other = s.begin_run("elsewhere", "apply").unwrap();

        let found = s.interrupt_unfinished_runs("demo").unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].run.id, killed);
        assert_eq!(found[0].unanswered, ["create instance/web/0"]);
        assert!(
            found[0]
                .describe()
                .contains("with no answer to: create instance/web/0"),
            "{}",
            found[0].describe()
        );
        let runs = s.runs("demo").unwrap();
        let closed = runs.iter().find(|r| r.id == killed).unwrap();
        assert_eq!(closed.outcome.as_deref(), Some("interrupted"));
        assert!(closed.finished_at.is_some());
        let steps = s.steps(killed).unwrap();
        assert_eq!(
            steps[0].outcome.as_deref(),
            Some("ok"),
            "answered steps keep theirs"
        );
        assert_eq!(steps[1].outcome.as_deref(), Some("interrupted"));
        // Closed once: the next run finds nothing; another deployment's run is not touched.
        assert!(s.interrupt_unfinished_runs("demo").unwrap().is_empty());
        let theirs = s.runs("elsewhere").unwrap();
        assert_eq!(theirs[0].id, other);
        assert!(theirs[0].finished_at.is_none());
    }

    #[test]
    fn steps_journal_intent_then_result_and_unfinished_runs_are_found() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("state.db")).unwrap();
        let run = s.begin_run("demo", "apply").unwrap();
        let step = s
            .step_intent(
                run,
                "instance/web/0",
                "create",
                &serde_json::json!({"type": "t3.micro"}),
            )
            .unwrap();
        assert_eq!(s.steps(run).unwrap()[0].outcome, None);
        assert_eq!(s.unfinished_run("demo").unwrap(), Some(run));
        s.step_result(step, "ok", &["i-1".into()], None).unwrap();
        s.finish_run(run, "ok", 7, &serde_json::json!({})).unwrap();
        assert_eq!(s.unfinished_run("demo").unwrap(), None);
        let steps = s.steps(run).unwrap();
        assert_eq!(steps[0].aws_ids, vec!["i-1".to_string()]);
        assert_eq!(s.runs("demo").unwrap()[0].requests, Some(7));
    }

    #[test]
    fn reopening_keeps_data_and_export_is_json() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        {
            let s = Store::open(&path).unwrap();
            s.upsert_deployment("demo", "eu-west-1", None, DeploymentStatus::Active)
                .unwrap();
        }
        let s = Store::open(&path).unwrap();
        let v = s.export().unwrap();
        assert_eq!(v["deployments"][0]["name"], "demo");
        assert_eq!(v["deployments"][0]["region"], "eu-west-1");
    }

    #[test]
    fn cache_entries_expire() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("state.db")).unwrap();
        assert_eq!(s.cache_get("k", 60).unwrap(), None);
        s.cache_put("k", "v").unwrap();
        assert_eq!(
            s.cache_get("k", 60).unwrap().map(|x| x.0),
            Some("v".to_string())
        );
        assert_eq!(
            s.cache_get("k", -1).unwrap(),
            None,
            "older than the age asked for"
        );
    }

    #[test]
    fn unwritable_location_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("file");
        std::fs::write(&file, "x").unwrap();
        let err = Store::open(&file.join("state.db")).err().unwrap();
        assert!(
            err.to_string().contains("cannot create state folder"),
            "{err}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn the_state_is_private_to_its_user() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gm/state.db");
        let s = Store::open(&path).unwrap();
        s.upsert_deployment("d", "us-east-1", None, DeploymentStatus::Active)
            .unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir.path().join("gm")), 0o700);
        assert_eq!(mode(&path), 0o600);
        let wal = dir.path().join("gm/state.db-wal");
        if wal.exists() {
            assert_eq!(
                mode(&wal),
                0o600,
                "SQLite gives the WAL the database's mode"
            );
        }
    }

    #[test]
    fn stores_opened_at_once_on_a_new_file_share_one_schema() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let p = path.clone();
                std::thread::spawn(move || Store::open(&p).map(|_| ()).map_err(|e| e.to_string()))
            })
            .collect();
        for h in handles {
            assert_eq!(h.join().unwrap(), Ok(()), "every opener sees one schema");
        }
        let s = Store::open(&path).unwrap();
        s.upsert_deployment("d", "us-east-1", None, DeploymentStatus::Active)
            .unwrap();
    }

    #[test]
    fn a_store_from_a_newer_version_is_refused_by_name_not_as_damage() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        drop(Store::open(&path).unwrap());
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(&format!("PRAGMA user_version = {};", SCHEMA_VERSION + 1))
            .unwrap();
        drop(conn);
        let e = Store::open(&path).err().expect("refused");
        assert!(matches!(e, StateError::NewerSchema { found, .. } if found == SCHEMA_VERSION + 1));
        assert!(
            e.to_string()
                .contains(&format!("reads up to version {SCHEMA_VERSION}")),
            "{e}"
        );
        assert!(e.hint().contains("upgrade"), "{}", e.hint());
    }
}
