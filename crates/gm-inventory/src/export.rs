//! Exports of the latest inventory, with the same filters as `list`: CSV, JSON and XLSX. Rows
//! stream from the store into the file, so an export of any size uses little memory (the XLSX
//! writer runs in its constant-memory mode).

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;

use rust_xlsxwriter::{Format, FormatAlign, Workbook, XlsxError};
use serde_json::json;

use crate::store::{Filter, InventoryStore, Sort, StoreError, Stored};

/// An export format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// Comma-separated values, one header row.
    Csv,
    /// One JSON document: `{exported_at, filters, resources: […]}`.
    Json,
    /// One Excel sheet with an audit header (filters, time), typed columns, a frozen header row
    /// and an autofilter.
    Xlsx,
}

impl ExportFormat {
    /// Parses `csv`, `json` or `xlsx`.
    pub fn parse(s: &str) -> Option<ExportFormat> {
        Some(match s {
            "csv" => ExportFormat::Csv,
            "json" => ExportFormat::Json,
            "xlsx" => ExportFormat::Xlsx,
            _ => return None,
        })
    }
}

/// How tags appear in CSV and XLSX.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TagLayout {
    /// One `tags` column: `key=value; key=value`.
    #[default]
    Column,
    /// One column per tag key (`tag:KEY`).
    Columns,
}

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// Reading the store.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Writing the file.
    #[error("cannot write {path}: {message}")]
    Write {
        /// The file.
        path: String,
        /// Why.
        message: String,
    },
}

/// The columns every export has, in order.
pub const COLUMNS: &[&str] = &[
    "account",
    "region",
    "type",
    "id",
    "arn",
    "name",
    "status",
    "created",
    "first_seen",
    "last_seen",
];

fn cells(x: &Stored) -> [&str; 10] {
    let r = &x.record;
    [
        &r.account,
        &r.region,
        &r.rtype,
        &r.id,
        &r.arn,
        r.name.as_deref().unwrap_or(""),
        r.status.as_deref().unwrap_or(""),
        r.created.as_deref().unwrap_or(""),
        &x.first_seen,
        &x.last_seen,
    ]
}

fn tag_text(x: &Stored) -> String {
    x.record
        .tags
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The filters as one line, for headers (`none` when there are none).
pub fn describe_filters(f: &Filter) -> String {
    let mut parts = Vec::new();
    for (k, v) in [
        ("type", &f.rtype),
        ("account", &f.account),
        ("region", &f.region),
        ("status", &f.status),
        ("search", &f.search),
    ] {
        if let Some(v) = v {
            parts.push(format!("{k}={v}"));
        }
    }
    if f.include_gone {
        parts.push("include-gone".into());
    }
    if parts.is_empty() {
        "none".into()
    } else {
        parts.join(", ")
    }
}

/// Writes the rows `f` selects to `path`; returns how many.
pub fn export(
    store: &dyn InventoryStore,
    f: &Filter,
    sort: Sort,
    format: ExportFormat,
    tags: TagLayout,
    path: &Path,
    exported_at: &str,
) -> Result<u64, ExportError> {
    let werr = |e: &dyn std::fmt::Display| ExportError::Write {
        path: path.display().to_string(),
        message: e.to_string(),
    };
    // Tag keys first when they become columns (one more pass over the rows).
    let keys: Vec<String> = if tags == TagLayout::Columns && format != ExportFormat::Json {
        let mut keys = BTreeSet::new();
        store.each(f, sort, &mut |x| {
            keys.extend(x.record.tags.keys().cloned());
            Ok(())
        })?;
        keys.into_iter().collect()
    } else {
        Vec::new()
    };
    match format {
        ExportFormat::Csv => {
            let file = std::fs::File::create(path).map_err(|e| werr(&e))?;
            let mut w = std::io::BufWriter::new(file);
            let mut header: Vec<String> = COLUMNS.iter().map(|c| c.to_string()).collect();
            match tags {
                TagLayout::Column => header.push("tags".into()),
                TagLayout::Columns => header.extend(keys.iter().map(|k| format!("tag:{k}"))),
            }
            writeln!(
                w,
                "{}",
                header
                    .iter()
                    .map(|h| csv_field(h))
                    .collect::<Vec<_>>()
                    .join(",")
            )
            .map_err(|e| werr(&e))?;
            let n = store.each(f, sort, &mut |x| {
                let mut row: Vec<String> = cells(&x).iter().map(|c| csv_field(c)).collect();
                match tags {
                    TagLayout::Column => row.push(csv_field(&tag_text(&x))),
                    TagLayout::Columns => row.extend(
                        keys.iter()
                            .map(|k| csv_field(x.record.tags.get(k).map_or("", String::as_str))),
                    ),
                }
                writeln!(w, "{}", row.join(",")).map_err(|e| StoreError::from_io(&e))
            })?;
            w.flush().map_err(|e| werr(&e))?;
            Ok(n)
        }
        ExportFormat::Json => {
            let file = std::fs::File::create(path).map_err(|e| werr(&e))?;
            let mut w = std::io::BufWriter::new(file);
            write!(
                w,
                "{{\"exported_at\":{},\"filters\":{},\"resources\":[",
                json!(exported_at),
                serde_json::to_string(f).unwrap_or_else(|_| "{}".into())
            )
            .map_err(|e| werr(&e))?;
            let mut first = true;
            let n = store.each(f, sort, &mut |x| {
                if !first {
                    w.write_all(b",\n").map_err(|e| StoreError::from_io(&e))?;
                }
                first = false;
                serde_json::to_writer(&mut w, &x).map_err(|e| StoreError::from_io(&e.into()))
            })?;
            writeln!(w, "]}}").map_err(|e| werr(&e))?;
            w.flush().map_err(|e| werr(&e))?;
            Ok(n)
        }
        ExportFormat::Xlsx => {
            xlsx(store, f, sort, tags, &keys, path, exported_at).map_err(|e| match e {
                XlsxOrStore::Store(s) => ExportError::Store(s),
                XlsxOrStore::Xlsx(x) => werr(&x),
            })
        }
    }
}

enum XlsxOrStore {
    Store(StoreError),
    Xlsx(XlsxError),
}

impl From<XlsxError> for XlsxOrStore {
    fn from(e: XlsxError) -> Self {
        XlsxOrStore::Xlsx(e)
    }
}

impl From<StoreError> for XlsxOrStore {
    fn from(e: StoreError) -> Self {
        XlsxOrStore::Store(e)
    }
}

/// Rows above the table: title, export time, filters, blank.
pub const XLSX_HEADER_ROWS: u32 = 4;

fn xlsx(
    store: &dyn InventoryStore,
    f: &Filter,
    sort: Sort,
    tags: TagLayout,
    keys: &[String],
    path: &Path,
    exported_at: &str,
) -> Result<u64, XlsxOrStore> {
    let mut wb = Workbook::new();
    let bold = Format::new().set_bold();
    let title = Format::new().set_bold().set_font_size(14);
    let head = Format::new()
        .set_bold()
        .set_background_color("D9E1F2")
        .set_align(FormatAlign::Center);
    let when = Format::new().set_num_format("yyyy-mm-dd hh:mm:ss");
    let ws = wb.add_worksheet_with_constant_memory()?;
    ws.set_name("inventory")?;
    ws.write_string_with_format(0, 0, "GeuseMaker inventory export", &title)?;
    ws.write_string_with_format(1, 0, "Exported at", &bold)?;
    ws.write_string(1, 1, exported_at)?;
    ws.write_string_with_format(2, 0, "Filters", &bold)?;
    ws.write_string(2, 1, describe_filters(f))?;
    let mut header: Vec<String> = COLUMNS.iter().map(|c| c.to_string()).collect();
    match tags {
        TagLayout::Column => header.push("tags".into()),
        TagLayout::Columns => header.extend(keys.iter().map(|k| format!("tag:{k}"))),
    }
    let top = XLSX_HEADER_ROWS;
    for (c, h) in header.iter().enumerate() {
        let col = u16::try_from(c).unwrap_or(u16::MAX);
        ws.write_string_with_format(top, col, h, &head)?;
        let width = match h.as_str() {
            "arn" => 60,
            "id" | "name" | "tags" => 32,
            "created" | "first_seen" | "last_seen" => 20,
            _ => 16,
        };
        ws.set_column_width(col, width)?;
    }
    let mut row = top;
    let mut failure: Option<XlsxError> = None;
    let n = store.each(f, sort, &mut |x| {
        if failure.is_some() {
            return Ok(());
        }
        row += 1;
        let r = row;
        let mut put = || -> Result<(), XlsxError> {
            for (c, v) in cells(&x).iter().enumerate() {
                let col = u16::try_from(c).unwrap_or(u16::MAX);
                // Times are typed cells, so Excel sorts and filters them as dates.
                let is_time = matches!(COLUMNS[c], "created" | "first_seen" | "last_seen");
                match is_time.then(|| parse_time(v)).flatten() {
                    Some(t) => {
                        ws.write_datetime_with_format(r, col, t, &when)?;
                    }
                    None if !v.is_empty() => {
                        ws.write_string(r, col, *v)?;
                    }
                    None => {}
                }
            }
            let base = COLUMNS.len();
            match tags {
                TagLayout::Column => {
                    let t = tag_text(&x);
                    if !t.is_empty() {
                        ws.write_string(r, u16::try_from(base).unwrap_or(u16::MAX), t)?;
                    }
                }
                TagLayout::Columns => {
                    for (i, k) in keys.iter().enumerate() {
                        if let Some(v) = x.record.tags.get(k) {
                            ws.write_string(r, u16::try_from(base + i).unwrap_or(u16::MAX), v)?;
                        }
                    }
                }
            }
            Ok(())
        };
        if let Err(e) = put() {
            failure = Some(e);
        }
        Ok(())
    })?;
    if let Some(e) = failure {
        return Err(e.into());
    }
    let last_col = u16::try_from(header.len().saturating_sub(1)).unwrap_or(u16::MAX);
    ws.set_freeze_panes(top + 1, 0)?;
    ws.autofilter(top, 0, row.max(top + 1), last_col)?;
    wb.save(path)?;
    Ok(n)
}

fn parse_time(s: &str) -> Option<chrono::NaiveDateTime> {
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.naive_utc())
}

/// One CSV field, quoted when it must be.
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Record;
    use crate::store::SqliteStore;
    use calamine::{open_workbook, Data, Reader, Xlsx};

    fn record(id: &str, rtype: &str, tags: &[(&str, &str)]) -> Record {
        Record {
            account: "111111111111".into(),
            region: "eu-west-1".into(),
            rtype: rtype.into(),
            id: id.into(),
            arn: format!("arn:aws:ec2:eu-west-1:111111111111:thing/{id}"),
            name: Some(format!("name, \"{id}\"")),
            status: Some("running".into()),
            created: Some("2026-01-02T03:04:05Z".into()),
            tags: tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            raw: json!({"id": id}),
        }
    }

    fn store() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let mut s = SqliteStore::open(&dir.path().join("s.db")).unwrap();
        let scan = s.begin_scan(&json!({})).unwrap();
        s.upsert(
            scan,
            &[
                record("i-1", "ec2:instance", &[("team", "ml"), ("env", "prod")]),
                record("i-2", "ec2:instance", &[("team", "web")]),
                record("vol-1", "ec2:volume", &[]),
            ],
        )
        .unwrap();
        (dir, s)
    }

    #[test]
    fn xlsx_has_the_audit_header_typed_times_filters_and_rows() {
        let (dir, s) = store();
        let path = dir.path().join("out.xlsx");
        let f = Filter {
            rtype: Some("ec2:instance".into()),
            ..Filter::default()
        };
        let n = export(
            &s,
            &f,
            Sort::Type,
            ExportFormat::Xlsx,
            TagLayout::Columns,
            &path,
            "2026-11-30T12:00:00Z",
        )
        .unwrap();
        assert_eq!(n, 2);
        let mut wb: Xlsx<_> = open_workbook(&path).unwrap();
        let sheet = wb.worksheet_range("inventory").unwrap();
        let cell = |r: u32, c: u32| sheet.get_value((r, c)).cloned().unwrap_or(Data::Empty);
        assert_eq!(
            cell(0, 0),
            Data::String("GeuseMaker inventory export".into())
        );
        assert_eq!(cell(1, 1), Data::String("2026-11-30T12:00:00Z".into()));
        assert_eq!(cell(2, 1), Data::String("type=ec2:instance".into()));
        let header: Vec<String> = (0..12).map(|c| cell(4, c).to_string()).collect();
        assert_eq!(
            header,
            [
                "account",
                "region",
                "type",
                "id",
                "arn",
                "name",
                "status",
                "created",
                "first_seen",
                "last_seen",
                "tag:env",
                "tag:team"
            ]
        );
        assert_eq!(cell(5, 3), Data::String("i-1".into()));
        assert_eq!(cell(5, 5), Data::String("name, \"i-1\"".into()));
        assert!(
            matches!(cell(5, 7), Data::DateTime(_)),
            "created is a date: {:?}",
            cell(5, 7)
        );
        assert_eq!(cell(5, 10), Data::String("prod".into()));
        assert_eq!(cell(6, 11), Data::String("web".into()));
        assert_eq!(cell(6, 10), Data::Empty, "i-2 has no env tag");
        assert_eq!(cell(7, 3), Data::Empty, "the volume is filtered out");
    }

    #[test]
    fn csv_quotes_what_it_must_and_tags_fit_in_one_column() {
        let (dir, s) = store();
        let path = dir.path().join("out.csv");
        export(
            &s,
            &Filter::default(),
            Sort::Type,
            ExportFormat::Csv,
            TagLayout::Column,
            &path,
            "t",
        )
        .unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4);
        assert!(lines[0].ends_with(",last_seen,tags"));
        assert!(lines[1].contains(",\"name, \"\"i-1\"\"\","), "{}", lines[1]);
        assert!(lines[1].ends_with(",env=prod; team=ml"), "{}", lines[1]);
    }

    #[test]
    fn filters_read_as_one_line() {
        assert_eq!(describe_filters(&Filter::default()), "none");
        let f = Filter {
            region: Some("us-east-1".into()),
            search: Some("web".into()),
            include_gone: true,
            ..Filter::default()
        };
        assert_eq!(
            describe_filters(&f),
            "region=us-east-1, search=web, include-gone"
        );
    }
}
