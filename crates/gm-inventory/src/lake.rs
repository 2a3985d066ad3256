//! Exports for a data lake: Parquet tables of the latest inventory and of its history, and a
//! scan's raw JSON, laid out as Athena (and Hive, Spark, DuckDB) read them:
//!
//! ```text
//! PREFIX/athena.sql                                   CREATE TABLE statements for the three
//! PREFIX/resources/part-00000.parquet                 the latest view (the export's filters)
//! PREFIX/history/dt=YYYY-MM-DD/part-00000.parquet     changes, one partition per day
//! PREFIX/raw/dt=YYYY-MM-DD/scan=N/records.json.gz     one scan's records as JSON Lines
//! ```
//!
//! Files are written to a local directory: the destination itself, or a staging directory that
//! [`upload`] then copies to `s3://bucket/prefix`. Every file name is derived from its content's
//! partition, so an export repeated later replaces its files instead of adding duplicates.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parquet::basic::Compression;
use parquet::column::writer::ColumnWriter;
use parquet::data_type::ByteArray;
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;
use serde_json::Value;

use crate::export::ExportError;
use crate::store::{Change, Filter, InventoryStore, Sort, StoreError, Stored};

/// Where a lake export goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dest {
    /// A local directory.
    Local(PathBuf),
    /// An S3 bucket and key prefix (no leading or trailing `/`; may be empty).
    S3 {
        /// Bucket.
        bucket: String,
        /// Key prefix.
        prefix: String,
    },
}

impl Dest {
    /// `s3://bucket[/prefix]` or a local path.
    pub fn parse(s: &str) -> Result<Dest, String> {
        let Some(rest) = s.strip_prefix("s3://") else {
            if s.is_empty() {
                return Err("the destination is empty".into());
            }
            return Ok(Dest::Local(PathBuf::from(s)));
        };
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let valid = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
        if !valid {
            return Err(format!(
                "`{bucket}` is not an S3 bucket name (3–63 lowercase letters, digits, `-` and `.`)"
            ));
        }
        Ok(Dest::S3 {
            bucket: bucket.to_string(),
            prefix: prefix.trim_matches('/').to_string(),
        })
    }

    /// The URL or path of `rel` under this destination.
    pub fn locate(&self, rel: &str) -> String {
        match self {
            Dest::Local(p) => p.join(rel).display().to_string(),
            Dest::S3 { bucket, prefix } => format!("s3://{bucket}/{}", key(prefix, rel)),
        }
    }
}

/// The S3 key of `rel` under `prefix`.
fn key(prefix: &str, rel: &str) -> String {
    if prefix.is_empty() {
        rel.to_string()
    } else {
        format!("{prefix}/{rel}")
    }
}

/// One file an export wrote, relative to the destination.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LakeFile {
    /// Path under the destination (`history/dt=2026-11-30/part-00000.parquet`).
    pub path: String,
    /// Rows in it.
    pub rows: u64,
    /// Size in bytes.
    pub bytes: u64,
}

/// Rows per Parquet row group, at most; a group is also closed once its buffered values pass
/// [`GROUP_BYTES`], so memory stays bounded whatever the size of the raw metadata.
const GROUP_ROWS: usize = 50_000;
const GROUP_BYTES: usize = 16 << 20;

const RESOURCE_SCHEMA: &str = "
message inventory_resource {
  REQUIRED BYTE_ARRAY account (STRING);
  REQUIRED BYTE_ARRAY region (STRING);
  REQUIRED BYTE_ARRAY type (STRING);
  REQUIRED BYTE_ARRAY id (STRING);
  REQUIRED BYTE_ARRAY arn (STRING);
  OPTIONAL BYTE_ARRAY name (STRING);
  OPTIONAL BYTE_ARRAY status (STRING);
  OPTIONAL INT64 created (TIMESTAMP(MILLIS,true));
  REQUIRED INT64 first_seen (TIMESTAMP(MILLIS,true));
  REQUIRED INT64 last_seen (TIMESTAMP(MILLIS,true));
  OPTIONAL INT64 gone_at (TIMESTAMP(MILLIS,true));
  REQUIRED group tags (MAP) {
    REPEATED group key_value {
      REQUIRED BYTE_ARRAY key (STRING);
      REQUIRED BYTE_ARRAY value (STRING);
    }
  }
  REQUIRED BYTE_ARRAY raw (STRING);
}";

const CHANGE_SCHEMA: &str = "
message inventory_change {
  REQUIRED INT64 scan;
  REQUIRED INT64 at (TIMESTAMP(MILLIS,true));
  REQUIRED BYTE_ARRAY change (STRING);
  REQUIRED BYTE_ARRAY account (STRING);
  REQUIRED BYTE_ARRAY region (STRING);
  REQUIRED BYTE_ARRAY type (STRING);
  REQUIRED BYTE_ARRAY id (STRING);
  REQUIRED group fields (LIST) {
    REPEATED group list {
      REQUIRED group element {
        REQUIRED BYTE_ARRAY path (STRING);
        OPTIONAL BYTE_ARRAY old (STRING);
        OPTIONAL BYTE_ARRAY new (STRING);
      }
    }
  }
}";

/// One leaf column's buffered values and levels.
#[derive(Default)]
struct Leaf {
    bytes: Vec<ByteArray>,
    ints: Vec<i64>,
    def: Vec<i16>,
    rep: Vec<i16>,
}

/// A Parquet file written a row at a time, a row group per [`GROUP_ROWS`] rows.
struct Table {
    writer: SerializedFileWriter<BufWriter<File>>,
    leaves: Vec<Leaf>,
    rows: usize,
    buffered: usize,
    total: u64,
    path: PathBuf,
}

fn perr(path: &Path, e: impl std::fmt::Display) -> ExportError {
    ExportError::Write {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

impl Table {
    fn create(path: &Path, schema: &str) -> Result<Table, ExportError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| perr(dir, e))?;
        }
        let schema = Arc::new(parse_message_type(schema).map_err(|e| perr(path, e))?);
        let props = Arc::new(
            WriterProperties::builder()
                .set_compression(Compression::SNAPPY)
                .set_created_by(format!("geusemaker {}", env!("CARGO_PKG_VERSION")))
                .build(),
        );
        let file = File::create(path).map_err(|e| perr(path, e))?;
        let writer = SerializedFileWriter::new(BufWriter::new(file), schema, props)
            .map_err(|e| perr(path, e))?;
        let n = writer.schema_descr().num_columns();
        Ok(Table {
            writer,
            leaves: (0..n).map(|_| Leaf::default()).collect(),
            rows: 0,
            buffered: 0,
            total: 0,
            path: path.to_path_buf(),
        })
    }

    /// A string value of leaf `i` at definition level `def`, repetition level `rep`.
    fn text(&mut self, i: usize, s: &str, def: i16, rep: i16) {
        self.buffered += s.len();
        let l = &mut self.leaves[i];
        l.bytes.push(ByteArray::from(s.as_bytes().to_vec()));
        l.def.push(def);
        l.rep.push(rep);
    }

    fn int(&mut self, i: usize, v: i64, def: i16, rep: i16) {
        self.buffered += 8;
        let l = &mut self.leaves[i];
        l.ints.push(v);
        l.def.push(def);
        l.rep.push(rep);
    }

    /// No value for leaf `i`: a null or an empty repeated field, defined up to `def`.
    fn null(&mut self, i: usize, def: i16, rep: i16) {
        let l = &mut self.leaves[i];
        l.def.push(def);
        l.rep.push(rep);
    }

    fn opt_text(&mut self, i: usize, s: Option<&str>) {
        match s {
            Some(s) => self.text(i, s, 1, 0),
            None => self.null(i, 0, 0),
        }
    }

    fn opt_time(&mut self, i: usize, s: Option<&str>) {
        match s.and_then(millis) {
            Some(t) => self.int(i, t, 1, 0),
            None => self.null(i, 0, 0),
        }
    }

    fn end_row(&mut self) -> Result<(), ExportError> {
        self.rows += 1;
        self.total += 1;
        if self.rows >= GROUP_ROWS || self.buffered >= GROUP_BYTES {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), ExportError> {
        if self.rows == 0 {
            return Ok(());
        }
        let path = self.path.clone();
        let mut rg = self.writer.next_row_group().map_err(|e| perr(&path, e))?;
        let mut i = 0;
        while let Some(mut col) = rg.next_column().map_err(|e| perr(&path, e))? {
            let leaf = std::mem::take(&mut self.leaves[i]);
            // Levels only where the schema has them: a required top-level column has none.
            let d = descr(col.untyped());
            let (max_def, max_rep) = (d.max_def_level(), d.max_rep_level());
            let def = (max_def > 0).then_some(leaf.def.as_slice());
            let rep = (max_rep > 0).then_some(leaf.rep.as_slice());
            match col.untyped() {
                ColumnWriter::ByteArrayColumnWriter(w) => w.write_batch(&leaf.bytes, def, rep),
                ColumnWriter::Int64ColumnWriter(w) => w.write_batch(&leaf.ints, def, rep),
                _ => Err(parquet::errors::ParquetError::General(
                    "unexpected column type".into(),
                )),
            }
            .map_err(|e| perr(&path, e))?;
            col.close().map_err(|e| perr(&path, e))?;
            i += 1;
        }
        rg.close().map_err(|e| perr(&path, e))?;
        self.rows = 0;
        self.buffered = 0;
        Ok(())
    }

    fn close(mut self) -> Result<u64, ExportError> {
        self.flush()?;
        let path = self.path.clone();
        self.writer.close().map_err(|e| perr(&path, e))?;
        Ok(self.total)
    }
}

fn descr<'a>(w: &'a ColumnWriter<'_>) -> &'a parquet::schema::types::ColumnDescriptor {
    match w {
        ColumnWriter::BoolColumnWriter(w) => w.get_descriptor(),
        ColumnWriter::Int32ColumnWriter(w) => w.get_descriptor(),
        ColumnWriter::Int64ColumnWriter(w) => w.get_descriptor(),
        ColumnWriter::Int96ColumnWriter(w) => w.get_descriptor(),
        ColumnWriter::FloatColumnWriter(w) => w.get_descriptor(),
        ColumnWriter::DoubleColumnWriter(w) => w.get_descriptor(),
        ColumnWriter::ByteArrayColumnWriter(w) => w.get_descriptor(),
        ColumnWriter::FixedLenByteArrayColumnWriter(w) => w.get_descriptor(),
    }
}

/// Milliseconds since the epoch of an RFC 3339 time.
fn millis(s: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.timestamp_millis())
}

/// The UTC day of an RFC 3339 time, `YYYY-MM-DD` (the partition of a change).
fn day(s: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.naive_utc().date().to_string())
        .unwrap_or_else(|_| s.chars().take(10).collect())
}

fn write_resource(t: &mut Table, x: &Stored) -> Result<(), ExportError> {
    let r = &x.record;
    for (i, v) in [&r.account, &r.region, &r.rtype, &r.id, &r.arn]
        .into_iter()
        .enumerate()
    {
        t.text(i, v, 0, 0);
    }
    t.opt_text(5, r.name.as_deref());
    t.opt_text(6, r.status.as_deref());
    t.opt_time(7, r.created.as_deref());
    t.int(8, millis(&x.first_seen).unwrap_or(0), 0, 0);
    t.int(9, millis(&x.last_seen).unwrap_or(0), 0, 0);
    t.opt_time(10, x.gone_at.as_deref());
    if r.tags.is_empty() {
        t.null(11, 0, 0);
        t.null(12, 0, 0);
    } else {
        for (n, (k, v)) in r.tags.iter().enumerate() {
            let rep = i16::from(n > 0);
            t.text(11, k, 1, rep);
            t.text(12, v, 1, rep);
        }
    }
    t.text(13, &r.raw.to_string(), 0, 0);
    t.end_row()
}

fn write_change(t: &mut Table, c: &Change) -> Result<(), ExportError> {
    t.int(0, c.scan, 0, 0);
    t.int(1, millis(&c.at).unwrap_or(0), 0, 0);
    for (i, v) in [&c.change, &c.account, &c.region, &c.rtype, &c.id]
        .into_iter()
        .enumerate()
    {
        t.text(i + 2, v, 0, 0);
    }
    let fields = c.fields.as_array().map(Vec::as_slice).unwrap_or_default();
    if fields.is_empty() {
        for i in 7..10 {
            t.null(i, 0, 0);
        }
    }
    for (n, f) in fields.iter().enumerate() {
        let rep = i16::from(n > 0);
        t.text(7, f["path"].as_str().unwrap_or(""), 1, rep);
        for (i, side) in [(8, "old"), (9, "new")] {
            match &f[side] {
                Value::Null => t.null(i, 1, rep),
                v => t.text(i, &v.to_string(), 2, rep),
            }
        }
    }
    t.end_row()
}

/// Whether a change belongs to the export: the type, account and region filters apply to the
/// history too (status and search describe the current state, so they do not).
fn change_selected(f: &Filter, c: &Change) -> bool {
    f.rtype.as_ref().is_none_or(|t| *t == c.rtype)
        && f.account.as_ref().is_none_or(|a| *a == c.account)
        && f.region.as_ref().is_none_or(|r| *r == c.region)
}

/// Writes the Parquet tables into `dir`: the latest view the filter selects, and the history
/// (changes since `since`, or all) partitioned by day; then `athena.sql` for `dest`.
pub fn write_parquet(
    store: &dyn InventoryStore,
    f: &Filter,
    since: Option<&str>,
    dir: &Path,
    dest: &Dest,
) -> Result<Vec<LakeFile>, ExportError> {
    let mut files = Vec::new();
    let rel = "resources/part-00000.parquet";
    let mut t = Table::create(&dir.join(rel), RESOURCE_SCHEMA)?;
    let mut failure = None;
    store.each(f, Sort::Type, &mut |x| {
        if failure.is_none() {
            failure = write_resource(&mut t, &x).err();
        }
        Ok(())
    })?;
    if let Some(e) = failure {
        return Err(e);
    }
    let rows = t.close()?;
    files.push(lake_file(dir, rel, rows)?);

    // Changes come oldest first, so each day's partition is written in one go.
    let mut current: Option<(String, Table)> = None;
    let mut failure = None;
    store.each_change(since, &mut |c| {
        if failure.is_some() || !change_selected(f, &c) {
            return Ok(());
        }
        let d = day(&c.at);
        let mut step = || -> Result<(), ExportError> {
            if current.as_ref().is_none_or(|(cd, _)| *cd != d) {
                if let Some((old, t)) = current.take() {
                    let rel = history_file(&old);
                    let rows = t.close()?;
                    files.push(lake_file(dir, &rel, rows)?);
                }
                let t = Table::create(&dir.join(history_file(&d)), CHANGE_SCHEMA)?;
                current = Some((d.clone(), t));
            }
            match current.as_mut() {
                Some((_, t)) => write_change(t, &c),
                None => Ok(()),
            }
        };
        failure = step().err();
        Ok(())
    })?;
    if let Some(e) = failure {
        return Err(e);
    }
    if let Some((d, t)) = current.take() {
        let rows = t.close()?;
        files.push(lake_file(dir, &history_file(&d), rows)?);
    }
    files.push(write_athena_sql(dir, dest)?);
    Ok(files)
}

/// Writes `athena.sql` (the tables at `dest`) into `dir`.
pub fn write_athena_sql(dir: &Path, dest: &Dest) -> Result<LakeFile, ExportError> {
    let path = dir.join("athena.sql");
    std::fs::write(&path, athena_sql(dest)).map_err(|e| perr(&path, e))?;
    lake_file(dir, "athena.sql", 0)
}

fn history_file(day: &str) -> String {
    format!("history/dt={day}/part-00000.parquet")
}

fn lake_file(dir: &Path, rel: &str, rows: u64) -> Result<LakeFile, ExportError> {
    let p = dir.join(rel);
    let bytes = std::fs::metadata(&p).map_err(|e| perr(&p, e))?.len();
    Ok(LakeFile {
        path: rel.to_string(),
        rows,
        bytes,
    })
}

/// Writes the records scan `scan` saw (the latest view's rows last seen by it, gone or not) as
/// gzip-compressed JSON Lines: `raw/dt=DAY/scan=N/records.json.gz`, one [`Stored`] per line.
pub fn write_raw(
    store: &dyn InventoryStore,
    scan: i64,
    started: &str,
    dir: &Path,
) -> Result<LakeFile, ExportError> {
    let rel = format!("raw/dt={}/scan={scan}/records.json.gz", day(started));
    let path = dir.join(&rel);
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d).map_err(|e| perr(d, e))?;
    }
    let file = File::create(&path).map_err(|e| perr(&path, e))?;
    let mut gz = flate2::write::GzEncoder::new(BufWriter::new(file), flate2::Compression::new(6));
    let f = Filter {
        scan: Some(scan),
        include_gone: true,
        ..Filter::default()
    };
    let n = store.each(&f, Sort::Type, &mut |x| {
        serde_json::to_writer(&mut gz, &x).map_err(|e| StoreError::from_io(&e.into()))?;
        gz.write_all(b"\n").map_err(|e| StoreError::from_io(&e))
    })?;
    gz.finish()
        .and_then(|mut w| w.flush())
        .map_err(|e| perr(&path, e))?;
    lake_file(dir, &rel, n)
}

/// `CREATE EXTERNAL TABLE` statements for the three tables at `dest`. The history and raw
/// tables use partition projection, so new days are queryable without `MSCK REPAIR TABLE`.
pub fn athena_sql(dest: &Dest) -> String {
    let loc = |t: &str| dest.locate(&format!("{t}/"));
    format!(
        r#"-- GeuseMaker inventory tables for Amazon Athena. Run each statement in the Athena console
-- (or `aws athena start-query-execution`); the database is yours to choose.

CREATE EXTERNAL TABLE IF NOT EXISTS inventory_resources (
  account string, region string, type string, id string, arn string, name string,
  status string, created timestamp, first_seen timestamp, last_seen timestamp,
  gone_at timestamp, tags map<string,string>, raw string
)
STORED AS PARQUET
LOCATION '{resources}';

CREATE EXTERNAL TABLE IF NOT EXISTS inventory_history (
  scan bigint, at timestamp, change string, account string, region string, type string,
  id string, fields array<struct<path:string,old:string,new:string>>
)
PARTITIONED BY (dt string)
STORED AS PARQUET
LOCATION '{history}'
TBLPROPERTIES (
  'projection.enabled' = 'true',
  'projection.dt.type' = 'date',
  'projection.dt.format' = 'yyyy-MM-dd',
  'projection.dt.range' = '2020-01-01,NOW',
  'storage.location.template' = '{history}dt=${{dt}}/'
);

CREATE EXTERNAL TABLE IF NOT EXISTS inventory_raw (
  account string, region string, type string, id string, arn string, name string,
  status string, created string, tags map<string,string>, raw string,
  first_seen string, last_seen string, gone_at string
)
PARTITIONED BY (dt string, scan bigint)
ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'
LOCATION '{raw}';
-- inventory_raw's partitions: MSCK REPAIR TABLE inventory_raw; after each archive.
"#,
        resources = loc("resources"),
        history = loc("history"),
        raw = loc("raw"),
    )
}

/// Copies `files` from `dir` to the S3 destination, one `PutObject` each (streamed from disk).
/// Returns how many objects it wrote.
pub async fn upload(
    config: &aws_config::SdkConfig,
    dir: &Path,
    bucket: &str,
    prefix: &str,
    files: &[LakeFile],
) -> Result<u64, ExportError> {
    // Path-style addressing for a custom endpoint (LocalStack, moto, a VPC endpoint by IP).
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(config)
            .force_path_style(config.endpoint_url().is_some())
            .build(),
    );
    let mut n = 0;
    for f in files {
        let path = dir.join(&f.path);
        let body = aws_sdk_s3::primitives::ByteStream::from_path(&path)
            .await
            .map_err(|e| perr(&path, e))?;
        let content_type = match f.path.rsplit('.').next().unwrap_or_default() {
            "parquet" => "application/vnd.apache.parquet",
            "gz" => "application/gzip",
            "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "csv" => "text/csv; charset=utf-8",
            "json" => "application/json",
            _ => "text/plain; charset=utf-8",
        };
        let k = key(prefix, &f.path);
        s3.put_object()
            .bucket(bucket)
            .key(&k)
            .content_type(content_type)
            .body(body)
            .send()
            .await
            .map_err(|e| {
                let e = crate::collectors::CollectError::sdk(e);
                ExportError::Write {
                    path: format!("s3://{bucket}/{k}"),
                    message: format!("{}: {}", e.code, e.message),
                }
            })?;
        n += 1;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Record;
    use crate::store::SqliteStore;
    use parquet::file::reader::{FileReader, SerializedFileReader};
    use serde_json::json;

    fn rec(id: &str, tags: &[(&str, &str)], status: &str) -> Record {
        Record {
            account: "111111111111".into(),
            region: "eu-west-1".into(),
            rtype: "ec2:instance".into(),
            id: id.into(),
            arn: format!("arn:aws:ec2:eu-west-1:111111111111:instance/{id}"),
            name: (id != "i-3").then(|| format!("n-{id}")),
            status: Some(status.into()),
            created: Some("2026-01-02T03:04:05Z".into()),
            tags: tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            raw: json!({"InstanceId": id, "State": {"Name": status}}),
        }
    }

    fn rows(path: &Path) -> Vec<Value> {
        let r = SerializedFileReader::new(File::open(path).unwrap()).unwrap();
        r.get_row_iter(None)
            .unwrap()
            .map(|row| row.unwrap().to_json_value())
            .collect()
    }

    #[test]
    fn destinations_parse_with_clear_refusals() {
        assert_eq!(
            Dest::parse("s3://my-bucket/a/b/").unwrap(),
            Dest::S3 {
                bucket: "my-bucket".into(),
                prefix: "a/b".into()
            }
        );
        assert_eq!(
            Dest::parse("s3://my-bucket").unwrap().locate("history/"),
            "s3://my-bucket/history/"
        );
        assert!(Dest::parse("s3://My_Bucket/x")
            .unwrap_err()
            .contains("not an S3 bucket name"));
        assert_eq!(Dest::parse("out").unwrap(), Dest::Local("out".into()));
    }

    #[test]
    fn parquet_tables_hold_the_view_and_the_history_by_day() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = SqliteStore::open(&dir.path().join("s.db")).unwrap();
        let scan = s.begin_scan(&json!({})).unwrap();
        s.upsert(
            scan,
            &[
                rec("i-1", &[("team", "ml"), ("env", "prod")], "running"),
                rec("i-2", &[], "running"),
                rec("i-3", &[("team", "web")], "running"),
            ],
        )
        .unwrap();
        let scan2 = s.begin_scan(&json!({})).unwrap();
        s.upsert(scan2, &[rec("i-1", &[("team", "ml")], "stopped")])
            .unwrap();

        let out = dir.path().join("lake");
        let files = write_parquet(
            &s,
            &Filter::default(),
            None,
            &out,
            &Dest::Local(out.clone()),
        )
        .unwrap();
        let today = chrono::Utc::now().date_naive().to_string();
        let paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
        let hist = format!("history/dt={today}/part-00000.parquet");
        assert_eq!(
            paths,
            ["resources/part-00000.parquet", hist.as_str(), "athena.sql"]
        );

        let res = rows(&out.join("resources/part-00000.parquet"));
        assert_eq!(res.len(), 3);
        let by_id = |id: &str| res.iter().find(|r| r["id"] == id).unwrap().clone();
        let i1 = by_id("i-1");
        assert_eq!(i1["status"], "stopped");
        assert_eq!(i1["tags"], json!({"team": "ml"}));
        assert_eq!(by_id("i-2")["tags"], json!({}), "an empty map, not a null");
        assert_eq!(by_id("i-3")["name"], Value::Null, "i-3 has no name");
        assert_eq!(by_id("i-3")["tags"], json!({"team": "web"}));
        assert!(i1["created"].is_string(), "a typed timestamp: {i1}");
        let raw: Value = serde_json::from_str(i1["raw"].as_str().unwrap()).unwrap();
        assert_eq!(raw["State"]["Name"], "stopped");

        let hist = rows(&out.join(&hist));
        assert_eq!(files[1].rows, 4, "three added, one changed");
        let changed = hist.iter().find(|c| c["change"] == "changed").unwrap();
        assert_eq!(changed["id"], "i-1");
        let fields = changed["fields"].as_array().unwrap();
        assert!(
            fields
                .iter()
                .any(|f| f["path"] == "tags.env" && f["old"] == "\"prod\"" && f["new"].is_null()),
            "{fields:?}"
        );
        assert_eq!(hist[0]["fields"], json!([]), "an addition has no fields");

        let sql = std::fs::read_to_string(out.join("athena.sql")).unwrap();
        assert!(sql.contains("PARTITIONED BY (dt string)"));
        assert!(sql.contains(&format!("LOCATION '{}/history/'", out.display())));
    }

    #[test]
    fn history_follows_the_type_account_and_region_filters() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = SqliteStore::open(&dir.path().join("s.db")).unwrap();
        let scan = s.begin_scan(&json!({})).unwrap();
        let mut other = rec("vol-1", &[], "in-use");
        other.rtype = "ec2:volume".into();
        s.upsert(scan, &[rec("i-1", &[], "running"), other])
            .unwrap();
        let f = Filter {
            rtype: Some("ec2:volume".into()),
            ..Filter::default()
        };
        let out = dir.path().join("lake");
        let files = write_parquet(&s, &f, None, &out, &Dest::Local(out.clone())).unwrap();
        assert_eq!(files[0].rows, 1);
        assert_eq!(files[1].rows, 1);
        assert_eq!(rows(&out.join(&files[1].path))[0]["id"], "vol-1");
    }

    #[test]
    fn a_scan_archives_as_gzip_json_lines() {
        use std::io::BufRead;
        let dir = tempfile::tempdir().unwrap();
        let mut s = SqliteStore::open(&dir.path().join("s.db")).unwrap();
        let scan = s.begin_scan(&json!({})).unwrap();
        s.upsert(
            scan,
            &[rec("i-1", &[], "running"), rec("i-2", &[], "running")],
        )
        .unwrap();
        let scan2 = s.begin_scan(&json!({})).unwrap();
        s.upsert(scan2, &[rec("i-2", &[], "running")]).unwrap();
        let f = write_raw(&s, scan2, "2026-11-30T10:00:00Z", dir.path()).unwrap();
        assert_eq!(
            f.path,
            format!("raw/dt=2026-11-30/scan={scan2}/records.json.gz")
        );
        assert_eq!(f.rows, 1, "only what scan {scan2} saw");
        let gz = flate2::read::GzDecoder::new(File::open(dir.path().join(&f.path)).unwrap());
        let lines: Vec<Value> = std::io::BufReader::new(gz)
            .lines()
            .map(|l| serde_json::from_str(&l.unwrap()).unwrap())
            .collect();
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0]["id"], "i-2");
        assert_eq!(lines[0]["raw"]["InstanceId"], "i-2");
    }
}
