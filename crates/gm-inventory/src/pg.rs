//! The inventory in PostgreSQL (`--store postgres://…`), for teams and the server: the same
//! tables, rows and history as the SQLite store, behind the same trait.
//!
//! The `postgres` client blocks on its own small runtime; inside the CLI's multi-threaded tokio
//! runtime every call goes through `block_in_place`, so it neither stalls other tasks nor nests
//! runtimes.

use std::collections::BTreeMap;

use postgres::types::ToSql;
use postgres::{Client, NoTls, Row};
use serde_json::{json, Value};

use crate::model::{Record, ScanError};
use crate::store::{
    diff_fields, digest, doc, like_pattern, now, search_walk, Change, Counts, Filter,
    InventoryStore, Page, Sort, StoreError, Stored, SyncStatus, SEARCH_COUNT_CAP,
};

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
    last_scan BIGINT NOT NULL,
    gone_at TEXT
);
-- What `--search` matches, lower-cased once when the row is written: the same text as SQLite's
-- search index. Searching a stored column with LIKE rechecks a trigram candidate in a fraction
-- of the time ILIKE over the concatenation took (schema version 3; older tables gain it here).
ALTER TABLE inv_resources ADD COLUMN IF NOT EXISTS find TEXT
    GENERATED ALWAYS AS (lower(id || ' ' || COALESCE(name, '') || ' ' || arn)) STORED;
DROP INDEX IF EXISTS inv_search;
CREATE TABLE IF NOT EXISTS inv_meta (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS inv_scans (
    id BIGSERIAL PRIMARY KEY,
    started TEXT NOT NULL,
    finished TEXT,
    meta TEXT NOT NULL,
    summary TEXT
);
CREATE TABLE IF NOT EXISTS inv_changes (
    seq BIGSERIAL PRIMARY KEY,
    scan BIGINT NOT NULL,
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
    scan BIGINT NOT NULL,
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    rtype TEXT NOT NULL,
    outcome TEXT NOT NULL,
    found BIGINT NOT NULL,
    code TEXT,
    message TEXT,
    at TEXT NOT NULL
);
-- Live resources counted per (type, account, region, status), kept by the trigger below, so
-- the pager's total is a sum over a few rows (as in the SQLite store).
CREATE TABLE IF NOT EXISTS inv_counts (
    rtype TEXT NOT NULL,
    account TEXT NOT NULL,
    region TEXT NOT NULL,
    status TEXT NOT NULL,
    n BIGINT NOT NULL,
    PRIMARY KEY (rtype, account, region, status)
);
CREATE OR REPLACE FUNCTION inv_recount() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND (OLD.gone_at IS NULL) = (NEW.gone_at IS NULL)
       AND OLD.status IS NOT DISTINCT FROM NEW.status AND OLD.rtype = NEW.rtype
       AND OLD.account = NEW.account AND OLD.region = NEW.region THEN
        RETURN NULL;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.gone_at IS NULL THEN
        UPDATE inv_counts SET n = n - 1
        WHERE rtype = OLD.rtype AND account = OLD.account AND region = OLD.region
          AND status = COALESCE(OLD.status, '');
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') AND NEW.gone_at IS NULL THEN
        INSERT INTO inv_counts VALUES (NEW.rtype, NEW.account, NEW.region, COALESCE(NEW.status, ''), 1)
        ON CONFLICT (rtype, account, region, status) DO UPDATE SET n = inv_counts.n + 1;
    END IF;
    RETURN NULL;
END $$;
DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'inv_recount') THEN
        CREATE TRIGGER inv_recount
            AFTER INSERT OR DELETE OR UPDATE OF rtype, account, region, status, gone_at
            ON inv_resources FOR EACH ROW EXECUTE FUNCTION inv_recount();
    END IF;
END $$;
"#;

/// Every column a [`Sort`] orders by.
const SORT_COLUMNS: &str = "key, rtype, name, account, region, status, created, last_seen";

/// Raised when the schema changes; a database at this version skips the set-up.
const SCHEMA_VERSION: i32 = 3;

/// A filter as SQL: the search (if any, its pattern is `$1`), the other conditions, and the
/// arguments of both.
struct Where {
    search: Option<&'static str>,
    rest: Vec<String>,
    args: Vec<String>,
}

impl Where {
    /// `WHERE …` with or without the search.
    fn sql(&self, with_search: bool) -> String {
        let all: Vec<&str> = with_search
            .then_some(self.search)
            .flatten()
            .into_iter()
            .chain(self.rest.iter().map(String::as_str))
            .collect();
        if all.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", all.join(" AND "))
        }
    }
}

/// Runs blocking client work without stalling (or nesting) the caller's tokio runtime.
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

impl From<postgres::Error> for StoreError {
    fn from(e: postgres::Error) -> Self {
        StoreError::new(format!("PostgreSQL: {e}"))
    }
}

/// The PostgreSQL store.
pub struct PgStore {
    /// `None` only while being dropped.
    client: std::cell::RefCell<Option<Client>>,
}

impl Drop for PgStore {
    fn drop(&mut self) {
        // Closing the connection blocks on the client's runtime too.
        if let Some(c) = self.client.get_mut().take() {
            blocking(move || drop(c));
        }
    }
}

impl PgStore {
    /// Connects to `url` (`postgres://user:password@host:port/database`, with libpq's
    /// `sslmode` and `sslrootcert`: see [`crate::pg_tls`]) and creates the tables when they are
    /// not there.
    pub fn connect(url: &str) -> Result<PgStore, StoreError> {
        blocking(|| {
            let tls = crate::pg_tls::split(url)?;
            let connected = match crate::pg_tls::connector(&tls)? {
                Some(c) => Client::connect(&tls.url, c),
                None => Client::connect(&tls.url, NoTls),
            };
            let mut client = connected.map_err(|e| {
                // The TLS library's reason sits in the error's source.
                let mut why = e.to_string();
                let mut src = std::error::Error::source(&e);
                while let Some(s) = src {
                    why = format!("{why}: {s}");
                    src = s.source();
                }
                StoreError::new(format!("cannot connect to {}: {why}", redact(url)))
            })?;
            // A database already at this schema version is used as it is: one query, instead of
            // some thirty idempotent statements on every start.
            let at: Option<i32> = client
                .query_opt("SELECT version FROM inv_meta", &[])
                .ok()
                .flatten()
                .map(|r| r.get(0));
            if at != Some(SCHEMA_VERSION) {
                set_up(&mut client)?;
            }
            Ok(PgStore {
                client: std::cell::RefCell::new(Some(client)),
            })
        })
    }
}

/// Creates what is missing of the schema (one connection at a time) and records its version.
fn set_up(client: &mut Client) -> Result<(), StoreError> {
    let mut tx = client.transaction()?;
    tx.batch_execute("SELECT pg_advisory_xact_lock(424242)")?;
    tx.batch_execute(SCHEMA)?;
    tx.batch_execute(crate::store::INDEXES)?;
    // Rows written before the counts existed (by an older version) are counted once.
    tx.batch_execute(
        "INSERT INTO inv_counts
         SELECT rtype, account, region, COALESCE(status, ''), COUNT(*) FROM inv_resources
         WHERE gone_at IS NULL AND NOT EXISTS (SELECT 1 FROM inv_counts)
         GROUP BY 1, 2, 3, 4",
    )?;
    tx.commit()?;
    // Search through a trigram index where pg_trgm can be had (it is a trusted
    // extension: a database owner may create it); without it, search reads every row.
    let mut tx = client.transaction()?;
    let trgm = tx
        .batch_execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        .and_then(|_| {
            tx.batch_execute(
            "CREATE INDEX IF NOT EXISTS inv_find ON inv_resources USING gin (find gin_trgm_ops)",
        )
        });
    match trgm {
        Ok(()) => tx.commit()?,
        Err(e) => {
            tracing::warn!("no trigram index for search (pg_trgm: {e}); search reads every row");
            tx.rollback()?;
        }
    }
    // Statistics for what an upgrade added (the search column): without them the planner
    // guesses how many rows a search matches. (A second on 1,000,000 rows; nothing when new.)
    client.batch_execute("ANALYZE inv_resources")?;
    client.batch_execute(&format!(
        "DELETE FROM inv_meta; INSERT INTO inv_meta (version) VALUES ({SCHEMA_VERSION})"
    ))?;
    Ok(())
}

impl PgStore {
    fn c(&self) -> std::cell::RefMut<'_, Client> {
        std::cell::RefMut::map(self.client.borrow_mut(), |c| {
            c.as_mut()
                .expect("the client is only taken when the store is dropped")
        })
    }

    fn where_clause(f: &Filter) -> Where {
        let mut args: Vec<String> = Vec::new();
        let search = f.search.as_ref().map(|s| {
            args.push(like_pattern(s));
            // lower() on both sides: the same case folding as the stored column's.
            "find LIKE lower($1)"
        });
        let mut rest = Vec::new();
        for (col, v) in f.equalities() {
            args.push(v.clone());
            rest.push(format!("{col} = ${}", args.len()));
        }
        if let Some(scan) = f.scan {
            args.push(scan.to_string());
            rest.push(format!("last_scan = ${}::bigint", args.len()));
        }
        if !f.include_gone {
            rest.push("gone_at IS NULL".into());
        }
        Where { search, rest, args }
    }

    fn row(r: &Row) -> Stored {
        let tags: String = r.get("tags");
        let raw: String = r.get("raw");
        Stored {
            record: Record {
                account: r.get("account"),
                region: r.get("region"),
                rtype: r.get("rtype"),
                id: r.get("id"),
                arn: r.get("arn"),
                name: r.get("name"),
                status: r.get("status"),
                created: r.get("created"),
                tags: serde_json::from_str(&tags).unwrap_or_default(),
                raw: serde_json::from_str(&raw).unwrap_or(Value::Null),
            },
            first_seen: r.get("first_seen"),
            last_seen: r.get("last_seen"),
            gone_at: r.get("gone_at"),
        }
    }
}

/// A connection string without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            let user = creds.split(':').next().unwrap_or("");
            format!("{}{user}:***{}", &url[..s + 3], &url[at..])
        }
        _ => url.to_string(),
    }
}

fn params(args: &[String]) -> Vec<&(dyn ToSql + Sync)> {
    args.iter().map(|a| a as &(dyn ToSql + Sync)).collect()
}

type Tx<'a> = postgres::Transaction<'a>;

fn record_change(
    tx: &mut Tx<'_>,
    scan: i64,
    at: &str,
    change: &str,
    key: &str,
    who: (&str, &str, &str, &str),
    fields: &Value,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO inv_changes (scan, at, change, key, account, region, rtype, id, fields)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        &[
            &scan,
            &at,
            &change,
            &key,
            &who.0,
            &who.1,
            &who.2,
            &who.3,
            &fields.to_string(),
        ],
    )?;
    Ok(())
}

impl InventoryStore for PgStore {
    fn begin_scan(&mut self, meta: &Value) -> Result<i64, StoreError> {
        blocking(|| {
            let row = self.c().query_one(
                "INSERT INTO inv_scans (started, meta) VALUES ($1, $2) RETURNING id",
                &[&now(), &meta.to_string()],
            )?;
            Ok(row.get(0))
        })
    }

    fn upsert(&mut self, scan: i64, records: &[Record]) -> Result<Counts, StoreError> {
        blocking(|| {
            let at = now();
            let mut client = self.c();
            let mut tx = client.transaction()?;
            let mut counts = Counts::default();
            for r in records {
                let key = r.key();
                let d = doc(r);
                let dg = digest(&d);
                let old = tx.query_opt(
                    "SELECT digest, raw, tags, name, status, created, arn, gone_at FROM inv_resources WHERE key = $1",
                    &[&key],
                )?;
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
                             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13, $14)",
                            &[&key, &r.account, &r.region, &r.rtype, &r.id, &r.arn, &r.name, &r.status, &r.created, &tags, &raw, &dg, &at, &scan],
                        )?;
                        record_change(&mut tx, scan, &at, "added", &key, who, &Value::Null)?;
                        counts.added += 1;
                    }
                    Some(o) => {
                        let gone_at: Option<String> = o.get("gone_at");
                        let old_digest: String = o.get("digest");
                        if gone_at.is_some() {
                            record_change(
                                &mut tx,
                                scan,
                                &at,
                                "added",
                                &key,
                                who,
                                &json!({"back_after": gone_at}),
                            )?;
                            counts.added += 1;
                        } else if old_digest != dg {
                            let old_tags: String = o.get("tags");
                            let old_raw: String = o.get("raw");
                            let before = json!({
                                "name": o.get::<_, Option<String>>("name"),
                                "status": o.get::<_, Option<String>>("status"),
                                "created": o.get::<_, Option<String>>("created"),
                                "arn": o.get::<_, String>("arn"),
                                "tags": serde_json::from_str::<Value>(&old_tags).unwrap_or(Value::Null),
                                "raw": serde_json::from_str::<Value>(&old_raw).unwrap_or(Value::Null),
                            });
                            let fields = Value::Array(diff_fields(&before, &d, 50));
                            record_change(&mut tx, scan, &at, "changed", &key, who, &fields)?;
                            counts.changed += 1;
                        }
                        tx.execute(
                            "UPDATE inv_resources SET arn = $2, name = $3, status = $4, created = $5, tags = $6, raw = $7, digest = $8,
                                    last_seen = $9, last_scan = $10, gone_at = NULL WHERE key = $1",
                            &[&key, &r.arn, &r.name, &r.status, &r.created, &tags, &raw, &dg, &at, &scan],
                        )?;
                    }
                }
            }
            tx.commit()?;
            Ok(counts)
        })
    }

    fn part_done(
        &mut self,
        scan: i64,
        account: &str,
        region: &str,
        rtype: &str,
    ) -> Result<u64, StoreError> {
        blocking(|| {
            let at = now();
            let mut client = self.c();
            let mut tx = client.transaction()?;
            let gone = tx.query(
                "UPDATE inv_resources SET gone_at = $5
                 WHERE account = $1 AND region = $2 AND rtype = $3 AND last_scan <> $4 AND gone_at IS NULL
                 RETURNING key, id",
                &[&account, &region, &rtype, &scan, &at],
            )?;
            for r in &gone {
                let key: String = r.get(0);
                let id: String = r.get(1);
                record_change(
                    &mut tx,
                    scan,
                    &at,
                    "removed",
                    &key,
                    (account, region, rtype, &id),
                    &Value::Null,
                )?;
            }
            let found: i64 = tx
                .query_one(
                    "SELECT COUNT(*) FROM inv_resources WHERE account = $1 AND region = $2 AND rtype = $3 AND last_scan = $4",
                    &[&account, &region, &rtype, &scan],
                )?
                .get(0);
            tx.execute(
                "INSERT INTO inv_parts (scan, account, region, rtype, outcome, found, at) VALUES ($1, $2, $3, $4, 'ok', $5, $6)",
                &[&scan, &account, &region, &rtype, &found, &at],
            )?;
            tx.commit()?;
            Ok(gone.len() as u64)
        })
    }

    fn part_failed(&mut self, scan: i64, e: &ScanError) -> Result<(), StoreError> {
        blocking(|| {
            self.c().execute(
                "INSERT INTO inv_parts (scan, account, region, rtype, outcome, found, code, message, at)
                 VALUES ($1, $2, $3, $4, 'error', 0, $5, $6, $7)",
                &[&scan, &e.account, &e.region, &e.rtype, &e.code, &e.message, &now()],
            )?;
            Ok(())
        })
    }

    fn finish_scan(
        &mut self,
        scan: i64,
        summary: &Value,
        retention_days: u32,
    ) -> Result<(), StoreError> {
        let cutoff = (chrono::Utc::now() - chrono::Duration::days(i64::from(retention_days)))
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        blocking(|| {
            let mut client = self.c();
            let mut tx = client.transaction()?;
            tx.execute(
                "UPDATE inv_scans SET finished = $2, summary = $3 WHERE id = $1",
                &[&scan, &now(), &summary.to_string()],
            )?;
            tx.execute("DELETE FROM inv_resources WHERE last_seen < $1", &[&cutoff])?;
            tx.commit()?;
            Ok(())
        })
    }

    fn list(&self, f: &Filter, sort: Sort, page: u64, per_page: u64) -> Result<Page, StoreError> {
        blocking(|| {
            let started = std::time::Instant::now();
            let wh = Self::where_clause(f);
            let (w, args) = (wh.sql(true), params(&wh.args));
            let mut client = self.c();
            let page = page.max(1);
            let offset = (page - 1) * per_page;
            let order = sort.order_by();
            let count = |client: &mut Client, limit: &str| -> Result<u64, StoreError> {
                let n: i64 = client
                    .query_one(
                        &format!(
                            "SELECT COUNT(*) FROM (SELECT 1 FROM inv_resources {w} {limit}) m"
                        ),
                        &args,
                    )?
                    .get(0);
                Ok(u64::try_from(n).unwrap_or(0))
            };
            let (rows, total, exact) = if let Some(search) = wh.search {
                // A search page, planned by how dense its matches are. First the walk: the
                // first rows of the sort order (its index), searched. If the page fills there,
                // the matches are dense and are counted up to the cap.
                let walked = if let Some(walk) = search_walk(offset, per_page) {
                    let rows = client.query(
                        &format!(
                            "SELECT * FROM (SELECT * FROM inv_resources {} ORDER BY {order} LIMIT {walk}) s
                             WHERE {search} ORDER BY {order} LIMIT {per_page} OFFSET {offset}",
                            wh.sql(false)
                        ),
                        &args,
                    )?;
                    (rows.len() as u64 == per_page).then_some(rows)
                } else {
                    None
                };
                match walked {
                    Some(rows) => {
                        let n = count(&mut client, &format!("LIMIT {}", SEARCH_COUNT_CAP + 1))?;
                        (rows, n.min(SEARCH_COUNT_CAP), n <= SEARCH_COUNT_CAP)
                    }
                    None => {
                        // Sparse (or deep): the trigram index's candidates, rechecked, all
                        // sorted, and counted exactly in the same pass (13,643 matches of
                        // 1,000,000 rows: ~55 ms); then the page's whole rows by key. The sort
                        // carries only the columns it orders by (whole rows spill to disk:
                        // +15 ms), and the count is in a subquery of its own: beside the ORDER
                        // BY, the planner would cost it as if it streamed and walk the whole
                        // sort index for it (1.8 s).
                        let rows = client.query(
                            &format!(
                                "SELECT r.*, p.matches FROM (
                                     SELECT key, matches FROM (
                                         SELECT {SORT_COLUMNS}, COUNT(*) OVER () AS matches
                                         FROM inv_resources {w}) m
                                     ORDER BY {order} LIMIT {per_page} OFFSET {offset}) p
                                 JOIN inv_resources r USING (key) ORDER BY {order}"
                            ),
                            &args,
                        )?;
                        let total = match rows.first() {
                            Some(r) => u64::try_from(r.get::<_, i64>("matches")).unwrap_or(0),
                            None if offset == 0 => 0,
                            // Past the last page: the window saw no row to count on.
                            None => count(&mut client, "")?,
                        };
                        (rows, total, true)
                    }
                }
            } else {
                let total = if f.counted() {
                    let (sql, vals) = f.counts_query(|i| format!("${i}"));
                    let n: i64 = client.query_one(&sql, &params(&vals))?.get(0);
                    u64::try_from(n).unwrap_or(0)
                } else {
                    count(&mut client, "")?
                };
                let rows = client.query(
                    &format!(
                        "SELECT * FROM inv_resources {w} ORDER BY {order} LIMIT {per_page} OFFSET {offset}"
                    ),
                    &args,
                )?;
                (rows, total, true)
            };
            Ok(Page {
                total,
                exact,
                page,
                per_page,
                items: rows.iter().map(Self::row).collect(),
                query_ms: started.elapsed().as_secs_f64() * 1000.0,
            })
        })
    }

    fn each(
        &self,
        f: &Filter,
        sort: Sort,
        each: &mut dyn FnMut(Stored) -> Result<(), StoreError>,
    ) -> Result<u64, StoreError> {
        blocking(|| {
            use postgres::fallible_iterator::FallibleIterator;
            let wh = Self::where_clause(f);
            let mut client = self.c();
            let mut rows = client.query_raw(
                &format!(
                    "SELECT * FROM inv_resources {} ORDER BY {}",
                    wh.sql(true),
                    sort.order_by()
                ),
                params(&wh.args),
            )?;
            let mut n = 0;
            while let Some(r) = rows.next()? {
                each(Self::row(&r))?;
                n += 1;
            }
            Ok(n)
        })
    }

    fn find(&self, needle: &str) -> Result<Vec<Stored>, StoreError> {
        blocking(|| {
            let rows = self.c().query(
                "SELECT * FROM inv_resources WHERE arn = $1 OR id = $1 OR key = $1",
                &[&needle],
            )?;
            Ok(rows.iter().map(Self::row).collect())
        })
    }

    fn stats(&self) -> Result<Value, StoreError> {
        blocking(|| {
            let mut client = self.c();
            let mut group = |col: &str| -> Result<BTreeMap<String, i64>, StoreError> {
                let rows = client.query(&crate::store::counts_by(col), &[])?;
                Ok(rows
                    .iter()
                    .map(|r| (r.get::<_, String>(0), r.get::<_, i64>(1)))
                    .collect())
            };
            let by_type = group("rtype")?;
            let total: i64 = by_type.values().sum();
            Ok(json!({
                "total": total,
                "by_type": by_type,
                "by_account": group("account")?,
                "by_region": group("region")?,
            }))
        })
    }

    fn status(&self) -> Result<Vec<SyncStatus>, StoreError> {
        blocking(|| {
            let mut client = self.c();
            let latest = client.query(
                "SELECT account, region, MAX(scan) FROM inv_parts GROUP BY account, region ORDER BY account, region",
                &[],
            )?;
            let mut out = Vec::new();
            for l in latest {
                let (account, region, scan): (String, String, i64) = (l.get(0), l.get(1), l.get(2));
                let s = client.query_one(
                    "SELECT started, finished FROM inv_scans WHERE id = $1",
                    &[&scan],
                )?;
                let found: i64 = client
                    .query_one(
                        "SELECT COALESCE(SUM(found), 0)::BIGINT FROM inv_parts WHERE scan = $1 AND account = $2 AND region = $3",
                        &[&scan, &account, &region],
                    )?
                    .get(0);
                let errors = client
                    .query(
                        "SELECT rtype, code, message FROM inv_parts WHERE scan = $1 AND account = $2 AND region = $3 AND outcome = 'error' ORDER BY rtype",
                        &[&scan, &account, &region],
                    )?
                    .iter()
                    .map(|r| ScanError {
                        account: account.clone(),
                        region: region.clone(),
                        rtype: r.get(0),
                        code: r.get::<_, Option<String>>(1).unwrap_or_default(),
                        message: r.get::<_, Option<String>>(2).unwrap_or_default(),
                    })
                    .collect();
                out.push(SyncStatus {
                    last_started: s.get(0),
                    last_finished: s.get(1),
                    account,
                    region,
                    found: u64::try_from(found).unwrap_or(0),
                    errors,
                });
            }
            Ok(out)
        })
    }

    fn each_change(
        &self,
        since: Option<&str>,
        each: &mut dyn FnMut(Change) -> Result<(), StoreError>,
    ) -> Result<u64, StoreError> {
        blocking(|| {
            use postgres::fallible_iterator::FallibleIterator;
            let mut client = self.c();
            let since = since.unwrap_or("").to_string();
            let mut rows = client.query_raw(
                "SELECT scan, at, change, account, region, rtype, id, fields FROM inv_changes WHERE at >= $1 ORDER BY seq",
                params(std::slice::from_ref(&since)),
            )?;
            let mut n = 0;
            while let Some(r) = rows.next()? {
                let fields: String = r.get(7);
                each(Change {
                    scan: r.get(0),
                    at: r.get(1),
                    change: r.get(2),
                    account: r.get(3),
                    region: r.get(4),
                    rtype: r.get(5),
                    id: r.get(6),
                    fields: serde_json::from_str(&fields).unwrap_or(Value::Null),
                })?;
                n += 1;
            }
            Ok(n)
        })
    }

    fn scans(&self) -> Result<Vec<Value>, StoreError> {
        blocking(|| {
            let rows = self.c().query(
                "SELECT id, started, finished, meta, summary FROM inv_scans ORDER BY id DESC",
                &[],
            )?;
            Ok(rows
                .iter()
                .map(|r| {
                    let meta: String = r.get(3);
                    let summary: Option<String> = r.get(4);
                    json!({
                        "id": r.get::<_, i64>(0),
                        "started": r.get::<_, String>(1),
                        "finished": r.get::<_, Option<String>>(2),
                        "meta": serde_json::from_str::<Value>(&meta).unwrap_or(Value::Null),
                        "summary": summary.and_then(|s| serde_json::from_str::<Value>(&s).ok()),
                    })
                })
                .collect())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{redact, SORT_COLUMNS};
    use crate::store::Sort;

    #[test]
    fn a_search_page_carries_every_column_its_sort_orders_by() {
        for sort in Sort::ALL {
            for col in sort.order_by().split(", ") {
                let col = col.trim_end_matches(" DESC");
                assert!(
                    SORT_COLUMNS.split(", ").any(|c| c == col),
                    "{sort:?} orders by {col}"
                );
            }
        }
    }

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(
            redact("postgres://gm:s3cret@db.example:5432/inv"),
            "postgres://gm:***@db.example:5432/inv"
        );
        assert_eq!(
            redact("postgres://db.example/inv"),
            "postgres://db.example/inv"
        );
    }
}
