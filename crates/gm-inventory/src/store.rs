//! Where the inventory lives: the latest view (one row per resource, first and last seen), the
//! history of every scan (added, removed, changed with a field-level diff) and the sync status
//! per account and region. SQLite by default, in the same file as the engine's state.

use std::collections::BTreeMap;
use std::path::Path;

use rusqlite::{params, params_from_iter, Connection, OptionalExtension};
use serde::Serialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::model::{Record, ScanError};

/// A store failure.
#[derive(Debug, thiserror::Error)]
#[error("inventory store: {0}")]
pub struct StoreError(String);

impl StoreError {
    /// A store failure with its message.
    pub fn new(message: impl Into<String>) -> Self {
        StoreError(message.into())
    }

    /// A write to an export file failed.
    pub fn from_io(e: &std::io::Error) -> Self {
        StoreError(format!("writing the export: {e}"))
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError(e.to_string())
    }
}

/// Filters for `list` and `export`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Filter {
    /// Resource type.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub rtype: Option<String>,
    /// Account id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// Region.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Text found in the id, name or ARN.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub search: Option<String>,
    /// Include resources no longer seen (kept until the retention period ends).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub include_gone: bool,
    /// Only resources the scan with this id was the last to see (what a raw archive holds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scan: Option<i64>,
}

/// How far the PostgreSQL store counts the matches of a dense text search, one whose page was
/// found among the first rows of the sort order: its trigram index is lossy, so each candidate
/// is rechecked on the table, and counting all 367,127 matches of "ec2" in 1,000,000 rows would
/// take a quarter of a second. Past this many, the pager says "more than". (A sparser search is
/// sorted whole, and counted exactly in the same pass.)
pub const SEARCH_COUNT_CAP: u64 = 1_000;

/// How many rows of the sort order a search page first looks through for its matches: at
/// least this many, twenty per row the page needs. A broad search ("prod", "ec2") fills its
/// page there in a few milliseconds, where finding and sorting all its matches takes hundreds.
const SEARCH_WALK: u64 = 2_000;
/// Deeper than this, a search page does not try the walk: its matches are sorted at once.
const SEARCH_WALK_MAX: u64 = 20_000;

/// How many rows of the sort order a search page walks first, if it walks (see [`SEARCH_WALK`]).
pub(crate) fn search_walk(offset: u64, per_page: u64) -> Option<u64> {
    let walk = offset
        .saturating_add(per_page)
        .saturating_mul(20)
        .max(SEARCH_WALK);
    (walk <= SEARCH_WALK_MAX).then_some(walk)
}

/// `s` anywhere, as a LIKE pattern with `\\` as its escape.
pub(crate) fn like_pattern(s: &str) -> String {
    format!(
        "%{}%",
        s.replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    )
}

/// Sort column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Sort {
    /// Type, then name.
    #[default]
    Type,
    /// Name.
    Name,
    /// Account.
    Account,
    /// Region.
    Region,
    /// Status.
    Status,
    /// Creation time.
    Created,
    /// Last seen, newest first.
    LastSeen,
}

impl Sort {
    /// Every sort order.
    pub const ALL: [Sort; 7] = [
        Sort::Type,
        Sort::Name,
        Sort::Account,
        Sort::Region,
        Sort::Status,
        Sort::Created,
        Sort::LastSeen,
    ];

    /// Parses a column name.
    pub fn parse(s: &str) -> Option<Sort> {
        Some(match s {
            "type" => Sort::Type,
            "name" => Sort::Name,
            "account" => Sort::Account,
            "region" => Sort::Region,
            "status" => Sort::Status,
            "created" => Sort::Created,
            "last-seen" | "last_seen" => Sort::LastSeen,
            _ => return None,
        })
    }

    pub(crate) fn order_by(self) -> &'static str {
        match self {
            Sort::Type => "rtype, name, key",
            Sort::Name => "name, key",
            Sort::Account => "account, region, rtype, key",
            Sort::Region => "region, rtype, name, key",
            Sort::Status => "status, rtype, key",
            Sort::Created => "created DESC, key DESC",
            Sort::LastSeen => "last_seen DESC, key DESC",
        }
    }

    /// The partial index over live resources that is in this sort's order.
    pub(crate) fn live_index(self) -> &'static str {
        match self {
            Sort::Type => "live_type",
            Sort::Name => "live_name",
            Sort::Account => "live_account",
            Sort::Region => "live_region",
            Sort::Status => "live_status",
            Sort::Created => "live_created",
            Sort::LastSeen => "live_seen",
        }
    }
}

impl Filter {
    /// The filters that are plain equalities on type, account, region and status.
    pub(crate) fn equalities(&self) -> Vec<(&'static str, &String)> {
        [
            ("rtype", &self.rtype),
            ("account", &self.account),
            ("region", &self.region),
            ("status", &self.status),
        ]
        .into_iter()
        .filter_map(|(c, v)| v.as_ref().map(|v| (c, v)))
        .collect()
    }

    /// Whether the maintained counts answer this filter's total.
    pub(crate) fn counted(&self) -> bool {
        self.search.is_none() && self.scan.is_none() && !self.include_gone
    }

    /// The total from the maintained counts, for a [`counted`](Self::counted) filter: the SQL
    /// (`placeholder(i)` writes the i-th parameter, from 1) and its values. The same in SQLite
    /// and PostgreSQL.
    pub(crate) fn counts_query(
        &self,
        placeholder: impl Fn(usize) -> String,
    ) -> (String, Vec<String>) {
        let eq = self.equalities();
        let cond: Vec<String> = eq
            .iter()
            .enumerate()
            .map(|(i, (c, _))| format!("{c} = {}", placeholder(i + 1)))
            .collect();
        let w = if cond.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", cond.join(" AND "))
        };
        (
            format!("SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) FROM inv_counts {w}"),
            eq.into_iter().map(|(_, v)| v.clone()).collect(),
        )
    }
}

/// Live resources per value of `col` (`rtype`, `account`, `region`), from the maintained
/// counts; the same SQL in SQLite and PostgreSQL.
pub(crate) fn counts_by(col: &str) -> String {
    format!("SELECT {col}, CAST(SUM(n) AS BIGINT) FROM inv_counts GROUP BY {col} HAVING SUM(n) > 0")
}

/// Whether a page is best read by walking the sort's index and filtering as it goes (cost about
/// `end × live / total` entries) rather than by finding every match and sorting them (about
/// `total`): true when the matches are dense enough. SQLite's planner, left alone, sorts all
/// the matches, which is 300 ms for 125,000 of them.
pub(crate) fn walk_sort_index(end: u64, live: u64, total: u64) -> bool {
    total > 0 && u128::from(end) * u128::from(live) <= u128::from(total) * u128::from(total)
}

/// A resource as stored, with when it was seen.
#[derive(Debug, Clone, Serialize)]
pub struct Stored {
    /// The record.
    #[serde(flatten)]
    pub record: Record,
    /// First scan that saw it (RFC 3339).
    pub first_seen: String,
    /// Last scan that saw it.
    pub last_seen: String,
    /// When a scan stopped seeing it, if one did.
    pub gone_at: Option<String>,
}

/// One page of a listing.
#[derive(Debug, Clone, Serialize)]
pub struct Page {
    /// Rows matching the filter, all pages (see `exact`).
    pub total: u64,
    /// Whether `total` is the exact count. `false` only for a dense text search in PostgreSQL,
    /// which is counted up to [`SEARCH_COUNT_CAP`]: at least `total` rows match.
    pub exact: bool,
    /// Page number, from 1.
    pub page: u64,
    /// Rows per page.
    pub per_page: u64,
    /// This page's rows.
    pub items: Vec<Stored>,
    /// Time the store took for the count and the page, ms.
    pub query_ms: f64,
}

/// One change a scan recorded.
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    /// Scan id.
    pub scan: i64,
    /// When.
    pub at: String,
    /// `added`, `removed` or `changed`.
    pub change: String,
    /// Account.
    pub account: String,
    /// Region.
    pub region: String,
    /// Type.
    #[serde(rename = "type")]
    pub rtype: String,
    /// Resource id.
    pub id: String,
    /// For `changed`: `[{path, old, new}]`.
    pub fields: Value,
}

/// Sync status of one account and region.
#[derive(Debug, Clone, Serialize)]
pub struct SyncStatus {
    /// Account.
    pub account: String,
    /// Region (`global` for the global types).
    pub region: String,
    /// Last scan start.
    pub last_started: Option<String>,
    /// Last scan end.
    pub last_finished: Option<String>,
    /// Resources found by the last scan.
    pub found: u64,
    /// Types that failed in the last scan, with why.
    pub errors: Vec<ScanError>,
}

/// What `upsert` saw.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Counts {
    /// New resources (or ones back after being gone).
    pub added: u64,
    /// Resources whose metadata or tags changed.
    pub changed: u64,
    /// Resources no longer seen.
    pub removed: u64,
}

/// The inventory store. SQLite here; the same trait for PostgreSQL.
pub trait InventoryStore {
    /// Starts a scan; returns its id.
    fn begin_scan(&mut self, meta: &Value) -> Result<i64, StoreError>;
    /// Stores a batch of records seen by `scan`, recording additions and changes.
    fn upsert(&mut self, scan: i64, records: &[Record]) -> Result<Counts, StoreError>;
    /// A part (account, region, type) finished listing: what it did not see is gone.
    fn part_done(
        &mut self,
        scan: i64,
        account: &str,
        region: &str,
        rtype: &str,
    ) -> Result<u64, StoreError>;
    /// A part failed: recorded, and its resources are left as they were.
    fn part_failed(&mut self, scan: i64, e: &ScanError) -> Result<(), StoreError>;
    /// Ends a scan: sync status, totals, and rows gone for longer than `retention_days` dropped.
    fn finish_scan(
        &mut self,
        scan: i64,
        summary: &Value,
        retention_days: u32,
    ) -> Result<(), StoreError>;
    /// A filtered, sorted page.
    fn list(&self, f: &Filter, sort: Sort, page: u64, per_page: u64) -> Result<Page, StoreError>;
    /// Every matching row, in sort order, passed to `each` (exports stream through this).
    fn each(
        &self,
        f: &Filter,
        sort: Sort,
        each: &mut dyn FnMut(Stored) -> Result<(), StoreError>,
    ) -> Result<u64, StoreError>;
    /// Resources whose ARN or id is `needle`.
    fn find(&self, needle: &str) -> Result<Vec<Stored>, StoreError>;
    /// Counts by type, by account and by region (present resources).
    fn stats(&self) -> Result<Value, StoreError>;
    /// Sync status per account and region.
    fn status(&self) -> Result<Vec<SyncStatus>, StoreError>;
    /// Changes since an RFC 3339 time (all when `None`), oldest first, passed to `each`
    /// (the Parquet export streams through this).
    fn each_change(
        &self,
        since: Option<&str>,
        each: &mut dyn FnMut(Change) -> Result<(), StoreError>,
    ) -> Result<u64, StoreError>;
    /// Changes since an RFC 3339 time (all when `None`), oldest first.
    fn history(&self, since: Option<&str>) -> Result<Vec<Change>, StoreError> {
        let mut out = Vec::new();
        self.each_change(since, &mut |c| {
            out.push(c);
            Ok(())
        })?;
        Ok(out)
    }
    /// Scans, newest first.
    fn scans(&self) -> Result<Vec<Value>, StoreError>;
}

/// A stored row as `upsert` compares it.
struct OldRow {
    digest: String,
    raw: String,
    tags: String,
    name: Option<String>,
    status: Option<String>,
    created: Option<String>,
    arn: String,
    gone_at: Option<String>,
}

/// The embedded store.
pub struct SqliteStore {
    conn: Connection,
}

/// Indexes, the same in SQLite and PostgreSQL. The latest view (`gone_at IS NULL`) has partial
/// indexes, one per sort order, each carrying the filter columns, so a page is read in index order
/// without touching the table for filtering, and counts are index-only.
pub(crate) const INDEXES: &str = r#"
CREATE INDEX IF NOT EXISTS inv_part ON inv_resources (account, region, rtype, last_scan);
CREATE INDEX IF NOT EXISTS inv_by_type ON inv_resources (rtype, name, key);
CREATE INDEX IF NOT EXISTS inv_by_name ON inv_resources (name, key);
CREATE INDEX IF NOT EXISTS inv_by_account ON inv_resources (account, rtype, key);
CREATE INDEX IF NOT EXISTS inv_by_region ON inv_resources (region, rtype, key);
CREATE INDEX IF NOT EXISTS inv_by_status ON inv_resources (status, rtype, key);
CREATE INDEX IF NOT EXISTS inv_by_created ON inv_resources (created);
CREATE INDEX IF NOT EXISTS inv_by_seen ON inv_resources (last_seen);
CREATE INDEX IF NOT EXISTS inv_by_arn ON inv_resources (arn);
CREATE INDEX IF NOT EXISTS inv_by_id ON inv_resources (id);
CREATE INDEX IF NOT EXISTS live_type ON inv_resources (rtype, name, key, status) WHERE gone_at IS NULL;
CREATE INDEX IF NOT EXISTS live_name ON inv_resources (name, key, rtype, account, region, status) WHERE gone_at IS NULL;
CREATE INDEX IF NOT EXISTS live_account ON inv_resources (account, region, rtype, key) WHERE gone_at IS NULL;
CREATE INDEX IF NOT EXISTS live_region ON inv_resources (region, rtype, name, key) WHERE gone_at IS NULL;
CREATE INDEX IF NOT EXISTS live_status ON inv_resources (status, rtype, key) WHERE gone_at IS NULL;
CREATE INDEX IF NOT EXISTS live_created ON inv_resources (created, key, rtype, account, region, status) WHERE gone_at IS NULL;
CREATE INDEX IF NOT EXISTS live_seen ON inv_resources (last_seen, key, rtype, account, region, status) WHERE gone_at IS NULL;
CREATE INDEX IF NOT EXISTS inv_changes_at ON inv_changes (at);
CREATE INDEX IF NOT EXISTS inv_parts_scan ON inv_parts (scan);
"#;

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS inv_resources (
    key TEXT PRIMARY KEY,
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    rtype TEXT NOT NULL,
    id TEXT NOT NULL,
    arn TEXT NOT NULL,
    name TEXT,
    status TEXT,
    created TEXT,
    tags TEXT NOT NULL,
    raw TEXT NOT NULL,
    digest TEXT NOT NULL,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    last_scan INTEGER NOT NULL,
    gone_at TEXT
);
-- Text search over id, name and ARN: trigrams, so any substring of three characters or more is
-- found through the index instead of reading every row. Its rowid is the resource's, and its
-- text is read (when ever) from a view of the resources: the index stores no copy of it, and a
-- match is a set of rowids. (External content rather than `contentless_delete`, which SQLite
-- before 3.43 cannot open.)
CREATE VIEW IF NOT EXISTS inv_search_text (rid, text) AS
    SELECT rowid, id || ' ' || COALESCE(name, '') || ' ' || arn FROM inv_resources;
CREATE VIRTUAL TABLE IF NOT EXISTS inv_search USING fts5(
    text, tokenize = 'trigram', content = 'inv_search_text', content_rowid = 'rid');
-- Live resources counted per (type, account, region, status), kept by the triggers below: the
-- pager's total for any combination of those filters is a sum over a few rows, not a scan.
CREATE TABLE IF NOT EXISTS inv_counts (
    rtype TEXT NOT NULL,
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    status TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (rtype, account, region, status)
) WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS inv_added AFTER INSERT ON inv_resources BEGIN
    INSERT INTO inv_search (rowid, text)
        VALUES (NEW.rowid, NEW.id || ' ' || COALESCE(NEW.name, '') || ' ' || NEW.arn);
    INSERT INTO inv_counts SELECT NEW.rtype, NEW.account, NEW.region, COALESCE(NEW.status, ''), 1
        WHERE NEW.gone_at IS NULL ON CONFLICT DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER IF NOT EXISTS inv_dropped AFTER DELETE ON inv_resources BEGIN
    INSERT INTO inv_search (inv_search, rowid, text)
        VALUES ('delete', OLD.rowid, OLD.id || ' ' || COALESCE(OLD.name, '') || ' ' || OLD.arn);
    UPDATE inv_counts SET n = n - 1
        WHERE OLD.gone_at IS NULL AND rtype = OLD.rtype AND account = OLD.account
          AND region = OLD.region AND status = COALESCE(OLD.status, '');
END;
CREATE TRIGGER IF NOT EXISTS inv_renamed AFTER UPDATE OF id, name, arn ON inv_resources
WHEN OLD.id IS NOT NEW.id OR OLD.name IS NOT NEW.name OR OLD.arn IS NOT NEW.arn BEGIN
    INSERT INTO inv_search (inv_search, rowid, text)
        VALUES ('delete', OLD.rowid, OLD.id || ' ' || COALESCE(OLD.name, '') || ' ' || OLD.arn);
    INSERT INTO inv_search (rowid, text)
        VALUES (NEW.rowid, NEW.id || ' ' || COALESCE(NEW.name, '') || ' ' || NEW.arn);
END;
CREATE TRIGGER IF NOT EXISTS inv_recounted AFTER UPDATE OF rtype, account, region, status, gone_at ON inv_resources
WHEN (OLD.gone_at IS NULL) <> (NEW.gone_at IS NULL) OR OLD.status IS NOT NEW.status
  OR OLD.rtype <> NEW.rtype OR OLD.account <> NEW.account OR OLD.region <> NEW.region BEGIN
    UPDATE inv_counts SET n = n - 1
        WHERE OLD.gone_at IS NULL AND rtype = OLD.rtype AND account = OLD.account
          AND region = OLD.region AND status = COALESCE(OLD.status, '');
    INSERT INTO inv_counts SELECT NEW.rtype, NEW.account, NEW.region, COALESCE(NEW.status, ''), 1
        WHERE NEW.gone_at IS NULL ON CONFLICT DO UPDATE SET n = n + 1;
END;
CREATE TABLE IF NOT EXISTS inv_scans (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    started TEXT NOT NULL,
    finished TEXT,
    meta TEXT NOT NULL,
    summary TEXT
);
CREATE TABLE IF NOT EXISTS inv_changes (
    scan INTEGER NOT NULL,
    at TEXT NOT NULL,
    change TEXT NOT NULL,
    key TEXT NOT NULL,
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    rtype TEXT NOT NULL,
    id TEXT NOT NULL,
    fields TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS inv_parts (
    scan INTEGER NOT NULL,
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    rtype TEXT NOT NULL,
    outcome TEXT NOT NULL,
    found INTEGER NOT NULL,
    code TEXT,
    message TEXT,
    at TEXT NOT NULL
);
"#;

pub(crate) fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// What a record's digest covers: everything but when it was seen.
pub(crate) fn doc(r: &Record) -> Value {
    json!({"name": r.name, "status": r.status, "created": r.created, "arn": r.arn,
           "tags": r.tags, "raw": r.raw})
}

pub(crate) fn digest(v: &Value) -> String {
    hex::encode(&Sha256::digest(v.to_string().as_bytes())[..12])
}

/// Field-level differences between two documents: `[{path, old, new}]`, at most `limit`.
pub fn diff_fields(old: &Value, new: &Value, limit: usize) -> Vec<Value> {
    fn walk(path: &str, a: &Value, b: &Value, out: &mut Vec<Value>, limit: usize) {
        if out.len() >= limit || a == b {
            return;
        }
        match (a, b) {
            (Value::Object(x), Value::Object(y)) => {
                let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
                for k in keys {
                    let p = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    walk(
                        &p,
                        x.get(k).unwrap_or(&Value::Null),
                        y.get(k).unwrap_or(&Value::Null),
                        out,
                        limit,
                    );
                }
            }
            (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
                for (i, (a, b)) in x.iter().zip(y).enumerate() {
                    walk(&format!("{path}[{i}]"), a, b, out, limit);
                }
            }
            _ => out.push(json!({"path": path, "old": a, "new": b})),
        }
    }
    let mut out = Vec::new();
    walk("", old, new, &mut out, limit);
    out
}

impl SqliteStore {
    /// Opens (creating) the store in the SQLite file at `path`.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        // Private like the state: it lists every resource of the scanned accounts.
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            gm_state::private_dir(dir).map_err(|e| StoreError(e.to_string()))?;
        }
        if !path.exists() {
            gm_state::private_file(path).map_err(|e| StoreError(e.to_string()))?;
        }
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.execute_batch(SCHEMA)?;
        conn.execute_batch(INDEXES)?;
        // Rows written before the triggers existed (by an older version) are indexed and
        // counted once; the older search table, keyed by text, goes.
        let exists = |sql: &str| -> Result<bool, StoreError> {
            Ok(conn.query_row(&format!("SELECT EXISTS ({sql})"), [], |r| r.get(0))?)
        };
        let rows = exists("SELECT 1 FROM inv_resources")?;
        if rows && !exists("SELECT 1 FROM inv_search_data WHERE id > 10")? {
            conn.execute_batch("INSERT INTO inv_search (inv_search) VALUES ('rebuild')")?;
        }
        if rows && !exists("SELECT 1 FROM inv_counts")? {
            conn.execute_batch(
                "INSERT INTO inv_counts SELECT rtype, account, region, COALESCE(status, ''), COUNT(*)
                 FROM inv_resources WHERE gone_at IS NULL GROUP BY 1, 2, 3, 4",
            )?;
        }
        conn.execute_batch("DROP TABLE IF EXISTS inv_fts")?;
        Ok(SqliteStore { conn })
    }

    /// A search's condition on a row: through the trigram index (three characters or more),
    /// else LIKE over the columns.
    fn search_condition(s: &str) -> (String, Vec<String>) {
        if s.chars().count() >= 3 {
            // The trigram index: a phrase of the text matches it anywhere, ignoring case.
            (
                "rowid IN (SELECT rowid FROM inv_search WHERE inv_search MATCH ?)".into(),
                vec![Self::phrase(s)],
            )
        } else {
            let pat = like_pattern(s);
            (
                "(id LIKE ? ESCAPE '\\' OR name LIKE ? ESCAPE '\\' OR arn LIKE ? ESCAPE '\\')"
                    .into(),
                vec![pat.clone(), pat.clone(), pat],
            )
        }
    }

    /// The search as an FTS5 phrase.
    fn phrase(s: &str) -> String {
        format!("text : \"{}\"", s.replace('"', "\"\""))
    }

    fn where_clause(f: &Filter) -> (String, Vec<String>) {
        let mut w = Vec::new();
        let mut args = Vec::new();
        for (col, v) in f.equalities() {
            w.push(format!("{col} = ?"));
            args.push(v.clone());
        }
        if let Some(s) = &f.search {
            let (cond, vals) = Self::search_condition(s);
            w.push(cond);
            args.extend(vals);
        }
        if let Some(scan) = f.scan {
            w.push("last_scan = ?".into());
            args.push(scan.to_string());
        }
        if !f.include_gone {
            w.push("gone_at IS NULL".into());
        }
        let clause = if w.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", w.join(" AND "))
        };
        (clause, args)
    }

    fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Stored> {
        let tags: String = r.get("tags")?;
        let raw: String = r.get("raw")?;
        Ok(Stored {
            record: Record {
                account: r.get("account")?,
                region: r.get("region")?,
                rtype: r.get("rtype")?,
                id: r.get("id")?,
                arn: r.get("arn")?,
                name: r.get("name")?,
                status: r.get("status")?,
                created: r.get("created")?,
                tags: serde_json::from_str(&tags).unwrap_or_default(),
                raw: serde_json::from_str(&raw).unwrap_or(Value::Null),
            },
            first_seen: r.get("first_seen")?,
            last_seen: r.get("last_seen")?,
            gone_at: r.get("gone_at")?,
        })
    }

    /// A search page found among the first rows of the sort order, with its matches counted up
    /// to the cap past [`SEARCH_COUNT_CAP`]; `None` when they are not there (the matches are
    /// sparse, or the page deep). "ec2" in 1,000,000 rows: 7 ms, where counting its 367,127
    /// matches exactly and sorting them took 350 ms.
    fn dense_search(
        &self,
        f: &Filter,
        sort: Sort,
        offset: u64,
        per_page: u64,
    ) -> Result<Option<(Vec<Stored>, u64)>, StoreError> {
        let (Some(s), Some(walk)) = (&f.search, search_walk(offset, per_page)) else {
            return Ok(None);
        };
        // Only live rows have the sort's partial index; a non-ASCII search would need the
        // index's case folding row by row.
        if f.include_gone || f.scan.is_some() || !s.is_ascii() {
            return Ok(None);
        }
        let rest = Filter {
            search: None,
            ..f.clone()
        };
        let (w, rest_args) = Self::where_clause(&rest);
        // The walk reads about `walk × live / matching` entries of the sort's index: not when
        // the other filters are sparse in it (one account and region, say).
        let matching = self.total(&rest, &w, &rest_args)?;
        let live = if rest.equalities().is_empty() {
            matching
        } else {
            self.total(&Filter::default(), "", &[])?
        };
        if matching == 0 || walk.saturating_mul(live) / matching > SEARCH_WALK_MAX {
            return Ok(None);
        }
        let mut args = rest_args.clone();
        let order = sort.order_by();
        let fts = s.chars().count() >= 3;
        // Each walked row is tested without the index: for ASCII text SQLite's LIKE (ASCII
        // case-insensitive) says exactly what the trigram index says; a row with other
        // characters asks the index (whose case folding is Unicode's), which is only then
        // read.
        let test = if fts {
            const TEXT: &str = "(id || ' ' || COALESCE(name, '') || ' ' || arn)";
            args.extend([like_pattern(s), Self::phrase(s)]);
            format!(
                "({TEXT} LIKE ? ESCAPE '\\' OR ({TEXT} GLOB '*[^ -~]*'
                  AND rid IN (SELECT rowid FROM inv_search WHERE inv_search MATCH ?)))"
            )
        } else {
            let (cond, vals) = Self::search_condition(s);
            args.extend(vals);
            cond
        };
        let mut st = self.conn.prepare(&format!(
            "SELECT * FROM (SELECT rowid AS rid, * FROM inv_resources INDEXED BY {} {w}
                            ORDER BY {order} LIMIT {walk})
             WHERE {test} ORDER BY {order} LIMIT {per_page} OFFSET {offset}",
            sort.live_index()
        ))?;
        let items = st
            .query_map(params_from_iter(args.iter()), Self::row)?
            .collect::<Result<Vec<_>, _>>()?;
        if items.len() as u64 != per_page {
            return Ok(None);
        }
        // Counted up to the cap, from the trigram index's matches where there is one.
        let (sql, args) = if fts {
            let and = w.replacen("WHERE", "AND", 1);
            let sql = format!(
                "SELECT COUNT(*) FROM (SELECT 1 FROM inv_search CROSS JOIN inv_resources r
                 ON r.rowid = inv_search.rowid WHERE inv_search MATCH ? {and} LIMIT {})",
                SEARCH_COUNT_CAP + 1
            );
            (sql, [vec![Self::phrase(s)], rest_args].concat())
        } else {
            let (w, all) = Self::where_clause(f);
            let sql = format!(
                "SELECT COUNT(*) FROM (SELECT 1 FROM inv_resources {w} LIMIT {})",
                SEARCH_COUNT_CAP + 1
            );
            (sql, all)
        };
        let n: i64 = self
            .conn
            .query_row(&sql, params_from_iter(args.iter()), |r| r.get(0))?;
        Ok(Some((items, u64::try_from(n).unwrap_or(0))))
    }

    /// How many rows `f` selects: a sum over the maintained counts where they answer it.
    fn total(&self, f: &Filter, w: &str, args: &[String]) -> Result<u64, StoreError> {
        let n: i64 = if f.counted() {
            let (sql, vals) = f.counts_query(|_| "?".into());
            self.conn
                .query_row(&sql, params_from_iter(vals.iter()), |r| r.get(0))?
        } else {
            self.conn.query_row(
                &format!("SELECT COUNT(*) FROM inv_resources {w}"),
                params_from_iter(args.iter()),
                |r| r.get(0),
            )?
        };
        Ok(u64::try_from(n).unwrap_or(0))
    }

    fn record_change(
        tx: &rusqlite::Transaction<'_>,
        scan: i64,
        at: &str,
        change: &str,
        key: &str,
        r: (&str, &str, &str, &str),
        fields: &Value,
    ) -> Result<(), StoreError> {
        tx.execute(
            "INSERT INTO inv_changes (scan, at, change, key, account, region, rtype, id, fields)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                scan,
                at,
                change,
                key,
                r.0,
                r.1,
                r.2,
                r.3,
                fields.to_string()
            ],
        )?;
        Ok(())
    }
}

impl InventoryStore for SqliteStore {
    fn begin_scan(&mut self, meta: &Value) -> Result<i64, StoreError> {
        self.conn.execute(
            "INSERT INTO inv_scans (started, meta) VALUES (?1, ?2)",
            params![now(), meta.to_string()],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    fn upsert(&mut self, scan: i64, records: &[Record]) -> Result<Counts, StoreError> {
        let at = now();
        let tx = self.conn.transaction()?;
        let mut counts = Counts::default();
        for r in records {
            let key = r.key();
            let d = doc(r);
            let dg = digest(&d);
            let old: Option<OldRow> = tx
                .query_row(
                    "SELECT digest, raw, tags, name, status, created, arn, gone_at FROM inv_resources WHERE key = ?1",
                    params![key],
                    |row| {
                        Ok(OldRow {
                            digest: row.get(0)?,
                            raw: row.get(1)?,
                            tags: row.get(2)?,
                            name: row.get(3)?,
                            status: row.get(4)?,
                            created: row.get(5)?,
                            arn: row.get(6)?,
                            gone_at: row.get(7)?,
                        })
                    },
                )
                .optional()?;
            let tags = serde_json::to_string(&r.tags).unwrap_or_else(|_| "{}".into());
            let raw = r.raw.to_string();
            let who = (
                r.account.as_str(),
                r.region.as_str(),
                r.rtype.as_str(),
                r.id.as_str(),
            );
            match old {
                None => {
                    tx.execute(
                        "INSERT INTO inv_resources (key, account, region, rtype, id, arn, name, status, created, tags, raw, digest, first_seen, last_seen, last_scan)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?13, ?14)",
                        params![key, r.account, r.region, r.rtype, r.id, r.arn, r.name, r.status, r.created, tags, raw, dg, at, scan],
                    )?;
                    Self::record_change(&tx, scan, &at, "added", &key, who, &Value::Null)?;
                    counts.added += 1;
                }
                Some(o) => {
                    if o.gone_at.is_some() {
                        Self::record_change(
                            &tx,
                            scan,
                            &at,
                            "added",
                            &key,
                            who,
                            &json!({"back_after": o.gone_at}),
                        )?;
                        counts.added += 1;
                    } else if o.digest != dg {
                        let before = json!({"name": o.name, "status": o.status, "created": o.created, "arn": o.arn,
                            "tags": serde_json::from_str::<Value>(&o.tags).unwrap_or(Value::Null),
                            "raw": serde_json::from_str::<Value>(&o.raw).unwrap_or(Value::Null)});
                        let fields = Value::Array(diff_fields(&before, &d, 50));
                        Self::record_change(&tx, scan, &at, "changed", &key, who, &fields)?;
                        counts.changed += 1;
                    }
                    tx.execute(
                        "UPDATE inv_resources SET arn = ?2, name = ?3, status = ?4, created = ?5, tags = ?6, raw = ?7, digest = ?8,
                                last_seen = ?9, last_scan = ?10, gone_at = NULL WHERE key = ?1",
                        params![key, r.arn, r.name, r.status, r.created, tags, raw, dg, at, scan],
                    )?;
                }
            }
        }
        tx.commit()?;
        Ok(counts)
    }

    fn part_done(
        &mut self,
        scan: i64,
        account: &str,
        region: &str,
        rtype: &str,
    ) -> Result<u64, StoreError> {
        let at = now();
        let tx = self.conn.transaction()?;
        let gone: Vec<(String, String)> = {
            let mut st = tx.prepare(
                "SELECT key, id FROM inv_resources
                 WHERE account = ?1 AND region = ?2 AND rtype = ?3 AND last_scan <> ?4 AND gone_at IS NULL",
            )?;
            let rows = st.query_map(params![account, region, rtype, scan], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?;
            rows.collect::<Result<_, _>>()?
        };
        for (key, id) in &gone {
            tx.execute(
                "UPDATE inv_resources SET gone_at = ?2 WHERE key = ?1",
                params![key, at],
            )?;
            Self::record_change(
                &tx,
                scan,
                &at,
                "removed",
                key,
                (account, region, rtype, id),
                &Value::Null,
            )?;
        }
        let found: i64 = tx.query_row(
            "SELECT COUNT(*) FROM inv_resources WHERE account = ?1 AND region = ?2 AND rtype = ?3 AND last_scan = ?4",
            params![account, region, rtype, scan],
            |r| r.get(0),
        )?;
        tx.execute(
            "INSERT INTO inv_parts (scan, account, region, rtype, outcome, found, at) VALUES (?1, ?2, ?3, ?4, 'ok', ?5, ?6)",
            params![scan, account, region, rtype, found, at],
        )?;
        tx.commit()?;
        Ok(gone.len() as u64)
    }

    fn part_failed(&mut self, scan: i64, e: &ScanError) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO inv_parts (scan, account, region, rtype, outcome, found, code, message, at)
             VALUES (?1, ?2, ?3, ?4, 'error', 0, ?5, ?6, ?7)",
            params![scan, e.account, e.region, e.rtype, e.code, e.message, now()],
        )?;
        Ok(())
    }

    fn finish_scan(
        &mut self,
        scan: i64,
        summary: &Value,
        retention_days: u32,
    ) -> Result<(), StoreError> {
        let cutoff = (chrono::Utc::now() - chrono::Duration::days(i64::from(retention_days)))
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let tx = self.conn.transaction()?;
        tx.execute(
            "UPDATE inv_scans SET finished = ?2, summary = ?3 WHERE id = ?1",
            params![scan, now(), summary.to_string()],
        )?;
        tx.execute(
            "DELETE FROM inv_resources WHERE last_seen < ?1",
            params![cutoff],
        )?;
        tx.commit()?;
        // Keep the planner's statistics current, so pages keep using the right index.
        self.conn.execute_batch("PRAGMA optimize")?;
        Ok(())
    }

    fn list(&self, f: &Filter, sort: Sort, page: u64, per_page: u64) -> Result<Page, StoreError> {
        let started = std::time::Instant::now();
        let page = page.max(1);
        let offset = (page - 1) * per_page;
        if let Some((items, n)) = self.dense_search(f, sort, offset, per_page)? {
            return Ok(Page {
                total: n.min(SEARCH_COUNT_CAP),
                exact: n <= SEARCH_COUNT_CAP,
                page,
                per_page,
                items,
                query_ms: started.elapsed().as_secs_f64() * 1000.0,
            });
        }
        let (w, args) = Self::where_clause(f);
        let total = self.total(f, &w, &args)?;
        let mut hint = String::new();
        if !f.include_gone && f.scan.is_none() {
            // Unfiltered, the matches are every live row: no second sum needed.
            let live = if f.equalities().is_empty() && f.search.is_none() {
                total
            } else {
                self.total(&Filter::default(), "", &[])?
            };
            if walk_sort_index(offset + per_page, live, total) {
                hint = format!("INDEXED BY {}", sort.live_index());
            }
        }
        let mut st = self.conn.prepare(&format!(
            "SELECT * FROM inv_resources {hint} {w} ORDER BY {} LIMIT {per_page} OFFSET {offset}",
            sort.order_by(),
        ))?;
        let items = st
            .query_map(params_from_iter(args.iter()), Self::row)?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page {
            total,
            page,
            per_page,
            items,
            exact: true,
            query_ms: started.elapsed().as_secs_f64() * 1000.0,
        })
    }

    fn each(
        &self,
        f: &Filter,
        sort: Sort,
        each: &mut dyn FnMut(Stored) -> Result<(), StoreError>,
    ) -> Result<u64, StoreError> {
        let (w, args) = Self::where_clause(f);
        let mut st = self.conn.prepare(&format!(
            "SELECT * FROM inv_resources {w} ORDER BY {}",
            sort.order_by()
        ))?;
        let mut rows = st.query(params_from_iter(args.iter()))?;
        let mut n = 0;
        while let Some(r) = rows.next()? {
            each(Self::row(r)?)?;
            n += 1;
        }
        Ok(n)
    }

    fn find(&self, needle: &str) -> Result<Vec<Stored>, StoreError> {
        let mut st = self
            .conn
            .prepare("SELECT * FROM inv_resources WHERE arn = ?1 OR id = ?1 OR key = ?1")?;
        let rows = st
            .query_map(params![needle], Self::row)?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    fn stats(&self) -> Result<Value, StoreError> {
        let group = |col: &str| -> Result<BTreeMap<String, i64>, StoreError> {
            let mut st = self.conn.prepare(&counts_by(col))?;
            let rows = st
                .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?
                .collect::<Result<BTreeMap<_, _>, _>>()?;
            Ok(rows)
        };
        let by_type = group("rtype")?;
        let total: i64 = by_type.values().sum();
        Ok(json!({
            "total": total,
            "by_type": by_type,
            "by_account": group("account")?,
            "by_region": group("region")?,
        }))
    }

    fn status(&self) -> Result<Vec<SyncStatus>, StoreError> {
        // The newest scan that touched each account and region.
        let mut st = self.conn.prepare(
            "SELECT p.account, p.region, MAX(p.scan) FROM inv_parts p GROUP BY p.account, p.region ORDER BY p.account, p.region",
        )?;
        let latest: Vec<(String, String, i64)> = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<Result<_, _>>()?;
        let mut out = Vec::new();
        for (account, region, scan) in latest {
            let (started, finished): (Option<String>, Option<String>) = self.conn.query_row(
                "SELECT started, finished FROM inv_scans WHERE id = ?1",
                params![scan],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            let found: i64 = self.conn.query_row(
                "SELECT COALESCE(SUM(found), 0) FROM inv_parts WHERE scan = ?1 AND account = ?2 AND region = ?3",
                params![scan, account, region],
                |r| r.get(0),
            )?;
            let mut es = self.conn.prepare(
                "SELECT rtype, code, message FROM inv_parts WHERE scan = ?1 AND account = ?2 AND region = ?3 AND outcome = 'error' ORDER BY rtype",
            )?;
            let errors = es
                .query_map(params![scan, account, region], |r| {
                    Ok(ScanError {
                        account: account.clone(),
                        region: region.clone(),
                        rtype: r.get(0)?,
                        code: r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                        message: r.get::<_, Option<String>>(2)?.unwrap_or_default(),
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            out.push(SyncStatus {
                account,
                region,
                last_started: started,
                last_finished: finished,
                found: u64::try_from(found).unwrap_or(0),
                errors,
            });
        }
        Ok(out)
    }

    fn each_change(
        &self,
        since: Option<&str>,
        each: &mut dyn FnMut(Change) -> Result<(), StoreError>,
    ) -> Result<u64, StoreError> {
        let mut st = self.conn.prepare(
            "SELECT scan, at, change, account, region, rtype, id, fields FROM inv_changes
             WHERE at >= ?1 ORDER BY rowid",
        )?;
        let mut rows = st.query(params![since.unwrap_or("")])?;
        let mut n = 0;
        while let Some(r) = rows.next()? {
            let fields: String = r.get(7)?;
            each(Change {
                scan: r.get(0)?,
                at: r.get(1)?,
                change: r.get(2)?,
                account: r.get(3)?,
                region: r.get(4)?,
                rtype: r.get(5)?,
                id: r.get(6)?,
                fields: serde_json::from_str(&fields).unwrap_or(Value::Null),
            })?;
            n += 1;
        }
        Ok(n)
    }

    fn scans(&self) -> Result<Vec<Value>, StoreError> {
        let mut st = self.conn.prepare(
            "SELECT id, started, finished, meta, summary FROM inv_scans ORDER BY id DESC",
        )?;
        let rows = st
            .query_map([], |r| {
                let meta: String = r.get(3)?;
                let summary: Option<String> = r.get(4)?;
                Ok(json!({
                    "id": r.get::<_, i64>(0)?,
                    "started": r.get::<_, String>(1)?,
                    "finished": r.get::<_, Option<String>>(2)?,
                    "meta": serde_json::from_str::<Value>(&meta).unwrap_or(Value::Null),
                    "summary": summary.and_then(|s| serde_json::from_str::<Value>(&s).ok()),
                }))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(id: &str, name: &str) -> Record {
        Record {
            account: "111111111111".into(),
            region: "us-east-1".into(),
            rtype: "ec2:vpc".into(),
            id: id.into(),
            arn: format!("arn:aws:ec2:us-east-1:111111111111:vpc/{id}"),
            name: Some(name.into()),
            status: None,
            created: None,
            tags: BTreeMap::new(),
            raw: json!({}),
        }
    }

    fn ids(s: &SqliteStore, search: &str) -> Vec<String> {
        let f = Filter {
            search: Some(search.into()),
            ..Filter::default()
        };
        let mut out: Vec<String> = s
            .list(&f, Sort::Type, 1, 100)
            .unwrap()
            .items
            .into_iter()
            .map(|x| x.record.id)
            .collect();
        out.sort();
        out
    }

    #[test]
    fn search_finds_substrings_of_id_name_and_arn_through_the_index() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = SqliteStore::open(&dir.path().join("s.db")).unwrap();
        let scan = s.begin_scan(&json!({})).unwrap();
        s.upsert(
            scan,
            &[
                rec("vpc-aaa111", "Payments-Prod"),
                rec("vpc-bbb222", "search \"quoted\" name"),
                rec("vpc-ccc333", "x_y"),
            ],
        )
        .unwrap();
        assert_eq!(ids(&s, "payments"), ["vpc-aaa111"], "case does not matter");
        assert_eq!(ids(&s, "b222"), ["vpc-bbb222"], "inside the id");
        assert_eq!(ids(&s, ":vpc/vpc-c"), ["vpc-ccc333"], "inside the ARN");
        assert_eq!(ids(&s, "\"quoted\""), ["vpc-bbb222"], "quotes are text");
        assert_eq!(
            ids(&s, "x_"),
            ["vpc-ccc333"],
            "short terms: LIKE, `_` literal"
        );
        assert!(ids(&s, "zzz").is_empty());
        // A renamed resource is found by its new name only.
        let scan = s.begin_scan(&json!({})).unwrap();
        s.upsert(scan, &[rec("vpc-aaa111", "ledger")]).unwrap();
        assert!(ids(&s, "payments").is_empty());
        assert_eq!(ids(&s, "ledger"), ["vpc-aaa111"]);
        // Rows written without the index (an older version) are indexed when the store opens.
        drop(s);
        let conn = Connection::open(dir.path().join("s.db")).unwrap();
        conn.execute_batch(
            "INSERT INTO inv_search (inv_search) VALUES ('delete-all'); DELETE FROM inv_counts",
        )
        .unwrap();
        drop(conn);
        let s = SqliteStore::open(&dir.path().join("s.db")).unwrap();
        assert_eq!(ids(&s, "ledger"), ["vpc-aaa111"]);
    }

    fn varied(n: usize) -> Record {
        let mut r = rec(&format!("r-{n:04}"), &format!("name-{}", n % 17));
        r.rtype = ["ec2:vpc", "ec2:volume", "s3:bucket"][n % 3].into();
        r.account = ["111111111111", "222222222222"][n % 2].into();
        r.region = ["us-east-1", "eu-west-1", "global", "us-west-2"][n % 4].into();
        r.status = [Some("running"), Some("stopped"), None][n % 7 % 3].map(String::from);
        r.created = Some(format!("2026-01-{:02}T00:00:00Z", 1 + n % 28));
        r
    }

    /// The same page and total as a plain query that no index hint or count table shapes.
    fn plain(s: &SqliteStore, f: &Filter, sort: Sort, page: u64) -> (u64, Vec<String>) {
        let (w, args) = SqliteStore::where_clause(f);
        let total: i64 = s
            .conn
            .query_row(
                &format!("SELECT COUNT(*) FROM inv_resources {w}"),
                params_from_iter(args.iter()),
                |r| r.get(0),
            )
            .unwrap();
        let mut st = s
            .conn
            .prepare(&format!(
                "SELECT id FROM inv_resources NOT INDEXED {w} ORDER BY {} LIMIT 25 OFFSET {}",
                sort.order_by(),
                (page - 1) * 25
            ))
            .unwrap();
        let ids = st
            .query_map(params_from_iter(args.iter()), |r| r.get(0))
            .unwrap()
            .collect::<Result<Vec<String>, _>>()
            .unwrap();
        (total as u64, ids)
    }

    #[test]
    fn a_dense_search_reads_its_page_from_the_sort_order_and_counts_to_the_cap() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = SqliteStore::open(&dir.path().join("s.db")).unwrap();
        let scan = s.begin_scan(&json!({})).unwrap();
        let mut all: Vec<Record> = (0..1200)
            .map(|i| rec(&format!("vpc-b{i:04}"), &format!("bulk-{i:04}")))
            .collect();
        // "k8s" with an ASCII k, and with the Kelvin sign, which the trigram index folds to k
        // and SQLite's LIKE does not: the walk must ask the index for such rows.
        all.extend((0..30).map(|i| rec(&format!("vpc-k{i:02}"), &format!("k8s-{i:02}"))));
        all.extend((0..30).map(|i| {
            rec(
                &format!("vpc-a-kelvin{i:02}"),
                &format!("\u{212A}8s-{i:02}"),
            )
        }));
        s.upsert(scan, &all).unwrap();
        let search = |text: &str| Filter {
            search: Some(text.into()),
            ..Filter::default()
        };
        let broad = s.list(&search("BULK-"), Sort::Name, 1, 25).unwrap();
        assert_eq!((broad.total, broad.exact), (SEARCH_COUNT_CAP, false));
        let ids: Vec<String> = broad.items.iter().map(|x| x.record.id.clone()).collect();
        assert_eq!(ids, plain(&s, &search("BULK-"), Sort::Name, 1).1);
        for sort in [Sort::Name, Sort::Account] {
            for page in [1, 2, 3] {
                let got = s.list(&search("k8s"), sort, page, 25).unwrap();
                let ids: Vec<String> = got.items.iter().map(|x| x.record.id.clone()).collect();
                assert_eq!((got.total, ids), plain(&s, &search("k8s"), sort, page));
                assert!(got.exact);
            }
        }
        // In key order the Kelvin names come first: the first page is theirs.
        let first = s.list(&search("k8s"), Sort::Account, 1, 25).unwrap();
        assert!(first
            .items
            .iter()
            .all(|x| x.record.id.starts_with("vpc-a-kelvin")));
        // Two characters: no trigram index, LIKE over the columns, walked and counted the same.
        let short = s.list(&search("k8"), Sort::Name, 1, 25).unwrap();
        let ids: Vec<String> = short.items.iter().map(|x| x.record.id.clone()).collect();
        assert_eq!((short.total, ids), plain(&s, &search("k8"), Sort::Name, 1));
    }

    #[test]
    fn pages_and_totals_agree_with_a_plain_query_whatever_the_plan() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = SqliteStore::open(&dir.path().join("s.db")).unwrap();
        let scan = s.begin_scan(&json!({})).unwrap();
        let all: Vec<Record> = (0..600).map(varied).collect();
        s.upsert(scan, &all).unwrap();
        // A second scan: some stop, some go, one changes type of status only.
        let scan = s.begin_scan(&json!({})).unwrap();
        let mut again: Vec<Record> = all
            .iter()
            .filter(|r| r.rtype != "s3:bucket" || r.account != "111111111111")
            .cloned()
            .collect();
        for r in again.iter_mut().step_by(5) {
            r.status = Some("stopped".into());
        }
        s.upsert(scan, &again).unwrap();
        s.part_done(scan, "111111111111", "global", "s3:bucket")
            .unwrap();
        s.part_done(scan, "111111111111", "us-east-1", "s3:bucket")
            .unwrap();
        let filters = [
            Filter::default(),
            Filter {
                rtype: Some("ec2:vpc".into()),
                ..Filter::default()
            },
            Filter {
                account: Some("111111111111".into()),
                region: Some("global".into()),
                ..Filter::default()
            },
            Filter {
                status: Some("stopped".into()),
                rtype: Some("ec2:volume".into()),
                ..Filter::default()
            },
            Filter {
                region: Some("us-west-2".into()),
                search: Some("name-1".into()),
                ..Filter::default()
            },
            Filter {
                search: Some("NAME-".into()),
                ..Filter::default()
            },
            Filter {
                rtype: Some("ec2:vpc".into()),
                search: Some("e-".into()),
                ..Filter::default()
            },
            Filter {
                rtype: Some("s3:bucket".into()),
                include_gone: true,
                ..Filter::default()
            },
        ];
        for f in &filters {
            for sort in Sort::ALL {
                for page in [1, 3] {
                    let got = s.list(f, sort, page, 25).unwrap();
                    let ids: Vec<String> = got.items.iter().map(|x| x.record.id.clone()).collect();
                    assert_eq!(
                        (got.total, ids),
                        plain(&s, f, sort, page),
                        "{f:?} {sort:?} page {page}"
                    );
                }
            }
        }
        // The counts follow: stats agree with a plain GROUP BY.
        let stats = s.stats().unwrap();
        let live: i64 = s
            .conn
            .query_row(
                "SELECT COUNT(*) FROM inv_resources WHERE gone_at IS NULL",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(stats["total"], live);
        assert_eq!(
            stats["by_type"]["s3:bucket"], 100,
            "the gone buckets of one account are not counted"
        );
        // And after the retention period drops rows.
        s.conn.execute("UPDATE inv_resources SET last_seen = '2000-01-01T00:00:00.000Z' WHERE rtype = 'ec2:vpc'", []).unwrap();
        s.finish_scan(scan, &json!({}), 30).unwrap();
        assert_eq!(
            s.list(
                &Filter {
                    rtype: Some("ec2:vpc".into()),
                    ..Filter::default()
                },
                Sort::Type,
                1,
                25
            )
            .unwrap()
            .total,
            0
        );
        assert_eq!(s.stats().unwrap()["total"], live - 200);
    }

    #[test]
    fn dense_matches_walk_the_sort_index_sparse_ones_are_sorted() {
        assert!(walk_sort_index(25, 1_000_000, 125_000));
        assert!(
            !walk_sort_index(25, 1_000_000, 300),
            "300 matches are sorted"
        );
        assert!(
            !walk_sort_index(100_000, 1_000_000, 125_000),
            "a very deep page sorts"
        );
        assert!(!walk_sort_index(25, 1_000_000, 0));
    }
}
