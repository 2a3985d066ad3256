//! `geusemaker inventory …`: scan accounts into the inventory, and read it back.

use serde_json::json;

use gm_inventory::pg::PgStore;
use gm_inventory::store::{SqliteStore, Stored};
use gm_inventory::{Filter, InventoryStore, ScanOptions, Sort};

use gm_inventory::export::ExportError;
use gm_inventory::lake::{self, Dest, LakeFile};

use crate::cli::{
    InventoryArgs, InventoryCommand, InventoryExportArgs, InventoryFilterArgs, InventoryScanArgs,
};
use crate::context::Ctx;
use crate::error::{CliError, ExitStatus};

impl From<gm_inventory::store::StoreError> for CliError {
    fn from(e: gm_inventory::store::StoreError) -> Self {
        CliError::new("GM-INV-001", e.to_string(), ExitStatus::Failed)
            .hint("check that the state file is writable (`geusemaker state path`)")
    }
}

fn aws_error(what: &str, e: gm_inventory::CollectError) -> CliError {
    CliError::new(
        &format!("GM-INV-{}", e.code),
        format!("{what}: {}", e.message),
        ExitStatus::Failed,
    )
    .hint("check the credentials (`aws sts get-caller-identity`), --profile and --endpoint-url")
}

/// The store `--store` names: PostgreSQL for a URL, SQLite otherwise.
fn open(ctx: &Ctx<'_>, store: Option<&str>) -> Result<Box<dyn InventoryStore>, CliError> {
    Ok(match store {
        Some(u) if u.starts_with("postgres://") || u.starts_with("postgresql://") => {
            Box::new(PgStore::connect(u).map_err(|e| {
                CliError::new("GM-INV-008", e.to_string(), ExitStatus::Failed).hint(
                    "check the URL (postgres://user:password@host:port/database), that the server is up and the database exists; TLS: add ?sslmode=require, or ?sslmode=verify-full&sslrootcert=CA.pem to check the server",
                )
            })?)
        }
        Some(path) => Box::new(SqliteStore::open(std::path::Path::new(
            path.trim_start_matches("sqlite://"),
        ))?),
        None => Box::new(SqliteStore::open(&ctx.state_path())?),
    })
}

pub async fn run(ctx: &Ctx<'_>, args: &InventoryArgs) -> Result<ExitStatus, CliError> {
    let mut store = open(ctx, args.store.as_deref())?;
    let store = store.as_mut();
    match &args.command {
        InventoryCommand::Scan(a) => scan(ctx, a, store).await,
        InventoryCommand::List(a) => {
            let (f, sort) = filter(&a.filter)?;
            let page = store.list(&f, sort, a.page, a.per_page)?;
            ctx.out.data(&page, || {
                let mut s = table(&page.items);
                let pages = page.total.div_ceil(page.per_page.max(1)).max(1);
                if page.exact {
                    s.push_str(&format!(
                        "page {}/{pages}, {} resource(s)\n",
                        page.page, page.total
                    ));
                } else {
                    s.push_str(&format!(
                        "page {} of more than {pages}, more than {} resource(s) (a broad search is counted that far)\n",
                        page.page, page.total
                    ));
                }
                s
            });
            Ok(ExitStatus::Ok)
        }
        InventoryCommand::Show { resource } => {
            let found = store.find(resource)?;
            if found.is_empty() {
                return Err(CliError::new(
                    "GM-INV-003",
                    format!("no resource with ARN or id `{resource}` in the inventory"),
                    ExitStatus::Failed,
                )
                .hint("`geusemaker inventory list --search TEXT` finds it by part of its name, id or ARN; `inventory scan` refreshes the inventory"));
            }
            ctx.out.data(&found, || {
                found
                    .iter()
                    .map(|s| serde_json::to_string_pretty(s).unwrap_or_default() + "\n")
                    .collect()
            });
            Ok(ExitStatus::Ok)
        }
        InventoryCommand::Stats => {
            let stats = store.stats()?;
            ctx.out.data(&stats, || {
                let mut s = format!("{} resource(s)\n", stats["total"]);
                for (title, key) in [
                    ("by type", "by_type"),
                    ("by account", "by_account"),
                    ("by region", "by_region"),
                ] {
                    s.push_str(&format!("\n{title}:\n"));
                    if let Some(m) = stats[key].as_object() {
                        for (k, v) in m {
                            s.push_str(&format!("  {k:<32} {v}\n"));
                        }
                    }
                }
                s
            });
            Ok(ExitStatus::Ok)
        }
        InventoryCommand::Status => {
            let status = store.status()?;
            ctx.out.data(&status, || {
                if status.is_empty() {
                    return "No scans yet: run `geusemaker inventory scan`.\n".into();
                }
                let mut s = format!(
                    "{:<14} {:<16} {:<26} {:>7}  ERRORS\n",
                    "ACCOUNT", "REGION", "LAST SYNC", "FOUND"
                );
                for x in &status {
                    s.push_str(&format!(
                        "{:<14} {:<16} {:<26} {:>7}  {}\n",
                        x.account,
                        x.region,
                        x.last_finished.as_deref().unwrap_or("running"),
                        x.found,
                        x.errors.len()
                    ));
                    for e in &x.errors {
                        s.push_str(&format!("    {}: {} {}\n", e.rtype, e.code, e.message));
                    }
                }
                s
            });
            Ok(ExitStatus::Ok)
        }
        InventoryCommand::History { since } => {
            let changes = store.history(since.as_deref())?;
            ctx.out.data(&changes, || {
                let mut s = String::new();
                for c in &changes {
                    s.push_str(&format!(
                        "{} scan {} {:<8} {} {} {} {}\n",
                        c.at, c.scan, c.change, c.account, c.region, c.rtype, c.id
                    ));
                    if let Some(fields) = c.fields.as_array() {
                        for f in fields {
                            s.push_str(&format!(
                                "      {}: {} → {}\n",
                                f["path"].as_str().unwrap_or(""),
                                f["old"],
                                f["new"]
                            ));
                        }
                    }
                }
                if s.is_empty() {
                    s = "No changes recorded.\n".into();
                }
                s
            });
            Ok(ExitStatus::Ok)
        }
        InventoryCommand::Export(a) => export(ctx, a, store).await,
        InventoryCommand::Archive(a) => {
            let dest = destination(&a.to)?;
            let out = archive(ctx, a.scan, &dest, store).await?;
            ctx.out.data(&out, || archive_text(&out));
            Ok(ExitStatus::Ok)
        }
        InventoryCommand::Types => {
            let types: Vec<serde_json::Value> = gm_inventory::registry()
                .iter()
                .map(|c| json!({"type": c.rtype, "scope": if c.global { "global" } else { "regional" }}))
                .collect();
            ctx.out.data(&types, || {
                types
                    .iter()
                    .map(|t| {
                        format!(
                            "{:<28} {}\n",
                            t["type"].as_str().unwrap_or(""),
                            t["scope"].as_str().unwrap_or("")
                        )
                    })
                    .collect()
            });
            Ok(ExitStatus::Ok)
        }
    }
}

async fn scan(
    ctx: &Ctx<'_>,
    a: &InventoryScanArgs,
    store: &mut dyn InventoryStore,
) -> Result<ExitStatus, CliError> {
    // A bad archive destination fails before the scan, not after it.
    let archive_to = a.archive.as_deref().map(destination).transpose()?;
    let region = ctx.region(None);
    let config = gm_cloud::sdk_config(&ctx.cloud_options_in(&region)).await;
    let request = gm_inventory::ScanRequest {
        accounts: a.accounts.clone(),
        regions: a.regions.clone(),
        types: a.types.clone(),
        role: a.role.clone(),
        external_id: a.external_id.clone(),
    };
    let resolved = gm_inventory::resolve(&config, &region, &request)
        .await
        .map_err(|e| match e {
            gm_inventory::ResolveError::UnknownType(t) => CliError::new(
                "GM-INV-004",
                format!("unknown resource type `{t}`"),
                ExitStatus::Usage,
            )
            .hint("`geusemaker inventory types` lists them"),
            gm_inventory::ResolveError::BadAccount(id) => CliError::new(
                "GM-INV-007",
                format!("`{id}` is not an AWS account id"),
                ExitStatus::Usage,
            )
            .hint("account ids are 12 digits; or use --accounts all"),
            gm_inventory::ResolveError::Aws { doing, error, hint } => {
                let e = aws_error(doing, error);
                match hint {
                    Some(h) => e.hint(h),
                    None => e,
                }
            }
        })?;
    let gm_inventory::ResolvedScan {
        targets,
        refused,
        regions,
        collectors,
        ..
    } = resolved;
    ctx.out.say(&format!(
        "Scanning {} type(s) in {} account(s), {} region(s)…",
        collectors.len(),
        targets.len(),
        regions.len()
    ));
    let opts = ScanOptions {
        regions,
        collectors,
        concurrency: a.concurrency,
        per_account: a.per_account,
        retention_days: a.retention_days,
    };
    let mut summary = gm_inventory::scan(&targets, &opts, store).await?;
    for e in refused {
        store.part_failed(summary.scan, &e)?;
        summary.accounts.push(e.account.clone());
        summary.errors.push(e);
    }
    let archived = match &archive_to {
        Some(dest) => Some(archive(ctx, Some(summary.scan), dest, store).await?),
        None => None,
    };
    let mut out = serde_json::to_value(&summary).unwrap_or_default();
    if let (Some(a), Some(o)) = (&archived, out.as_object_mut()) {
        o.insert("archive".into(), a.clone());
    }
    ctx.out.data(&out, || {
        let mut s = format!(
            "Scan {}: {} resource(s) in {:.1} s and {} request(s) — {} added, {} changed, {} removed.\n",
            summary.scan,
            summary.found,
            summary.duration_ms as f64 / 1000.0,
            summary.requests,
            summary.added,
            summary.changed,
            summary.removed
        );
        for (t, n) in &summary.by_type {
            s.push_str(&format!("  {t:<28} {n}\n"));
        }
        for e in &summary.errors {
            s.push_str(&format!(
                "  not listed: {} in {} {}: {} {}\n",
                e.rtype, e.account, e.region, e.code, e.message
            ));
        }
        if summary.errors.iter().any(|e| is_refusal(&e.code)) {
            s.push_str(
                "  hint: a refused part needs the action its message names; the README's \
                 inventory section (\"Permissions\") has the read-only policy for every type\n",
            );
        }
        if let Some(a) = &archived {
            s.push_str(&archive_text(a));
        }
        s
    });
    Ok(ExitStatus::Ok)
}

/// Whether an AWS error code says the caller lacks a permission (services spell it
/// differently: `AccessDenied`, `AccessDeniedException`, EC2's `UnauthorizedOperation`, SNS's
/// `AuthorizationError`).
fn is_refusal(code: &str) -> bool {
    code.starts_with("AccessDenied")
        || code == "UnauthorizedOperation"
        || code == "AuthorizationError"
}

fn filter(a: &InventoryFilterArgs) -> Result<(Filter, Sort), CliError> {
    let sort = Sort::parse(&a.sort).ok_or_else(|| {
        CliError::new(
            "GM-INV-005",
            format!("cannot sort by `{}`", a.sort),
            ExitStatus::Usage,
        )
        .hint("sort by type, name, account, region, status, created or last-seen")
    })?;
    Ok((
        Filter {
            rtype: a.rtype.clone(),
            account: a.account.clone(),
            region: a.region.clone(),
            status: a.status.clone(),
            search: a.search.clone(),
            include_gone: a.include_gone,
            scan: None,
        },
        sort,
    ))
}

fn table(items: &[Stored]) -> String {
    let mut s = format!(
        "{:<24} {:<14} {:<14} {:<24} {:<28} STATUS\n",
        "TYPE", "ACCOUNT", "REGION", "ID", "NAME"
    );
    for x in items {
        let r = &x.record;
        s.push_str(&format!(
            "{:<24} {:<14} {:<14} {:<24} {:<28} {}\n",
            r.rtype,
            r.account,
            r.region,
            r.id,
            r.name.as_deref().unwrap_or("-"),
            r.status.as_deref().unwrap_or("-")
        ));
    }
    s
}

/// A `--to` destination: a local path or `s3://bucket/prefix`.
fn destination(to: &str) -> Result<Dest, CliError> {
    Dest::parse(to).map_err(|m| {
        CliError::new("GM-INV-009", m, ExitStatus::Usage)
            .hint("give a local path, or an S3 URL such as s3://my-audit-bucket/inventory")
    })
}

fn export_failed(e: ExportError) -> CliError {
    CliError::new("GM-INV-006", e.to_string(), ExitStatus::Failed)
        .hint("check that the destination is writable (for S3: s3:PutObject on the bucket, and that it exists)")
}

/// Where files are written before they go to `dest`: the directory itself when local, a
/// temporary one (kept alive by the returned guard) when they are uploaded.
fn staging(dest: &Dest) -> Result<(Option<tempfile::TempDir>, std::path::PathBuf), CliError> {
    match dest {
        Dest::Local(p) => Ok((None, p.clone())),
        Dest::S3 { .. } => {
            let t = tempfile::tempdir().map_err(|e| {
                CliError::new(
                    "GM-INV-006",
                    format!("cannot create a staging directory: {e}"),
                    ExitStatus::Failed,
                )
                .hint("set TMPDIR to a writable directory with room for the export")
            })?;
            let p = t.path().to_path_buf();
            Ok((Some(t), p))
        }
    }
}

/// Copies staged files to S3 when that is the destination.
async fn deliver(
    ctx: &Ctx<'_>,
    dest: &Dest,
    dir: &std::path::Path,
    files: &[LakeFile],
) -> Result<(), CliError> {
    if let Dest::S3 { bucket, prefix } = dest {
        let region = ctx.region(None);
        let config = gm_cloud::sdk_config(&ctx.cloud_options_in(&region)).await;
        lake::upload(&config, dir, bucket, prefix, files)
            .await
            .map_err(export_failed)?;
    }
    Ok(())
}

/// Archives the raw JSON of `scan` (default: the latest) to `dest`.
async fn archive(
    ctx: &Ctx<'_>,
    scan: Option<i64>,
    dest: &Dest,
    store: &dyn InventoryStore,
) -> Result<serde_json::Value, CliError> {
    let scans = store.scans()?;
    let Some(latest) = scans.first() else {
        return Err(CliError::new(
            "GM-INV-010",
            "there is no scan to archive",
            ExitStatus::Failed,
        )
        .hint("run `geusemaker inventory scan` first"));
    };
    let latest_id = latest["id"].as_i64().unwrap_or(0);
    let id = scan.unwrap_or(latest_id);
    if id != latest_id {
        return Err(CliError::new(
            "GM-INV-010",
            format!("scan {id} is not the latest ({latest_id}): the store keeps each resource as the latest scan saw it, so only that scan can be archived whole"),
            ExitStatus::Usage,
        )
        .hint("archive every scan as it ends: `geusemaker inventory scan --archive DEST`"));
    }
    let started = latest["started"].as_str().unwrap_or_default().to_string();
    let (_guard, dir) = staging(dest)?;
    let file = lake::write_raw(store, id, &started, &dir).map_err(export_failed)?;
    let sql = lake::write_athena_sql(&dir, dest).map_err(export_failed)?;
    let files = vec![file, sql];
    deliver(ctx, dest, &dir, &files).await?;
    Ok(json!({
        "scan": id,
        "destination": dest.locate(""),
        "file": dest.locate(&files[0].path),
        "records": files[0].rows,
        "bytes": files[0].bytes,
    }))
}

fn archive_text(a: &serde_json::Value) -> String {
    format!(
        "Archived scan {} ({} record(s)) to {}.\n",
        a["scan"],
        a["records"],
        a["file"].as_str().unwrap_or("")
    )
}

async fn export(
    ctx: &Ctx<'_>,
    a: &InventoryExportArgs,
    store: &dyn InventoryStore,
) -> Result<ExitStatus, CliError> {
    use gm_inventory::export::{ExportFormat, TagLayout};
    let (f, sort) = filter(&a.filter)?;
    let dest = destination(&a.to)?;
    let exported_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    if a.format == "parquet" {
        let (_guard, dir) = staging(&dest)?;
        let files = lake::write_parquet(store, &f, a.since.as_deref(), &dir, &dest)
            .map_err(export_failed)?;
        deliver(ctx, &dest, &dir, &files).await?;
        let resources = files.first().map_or(0, |x| x.rows);
        let changes: u64 = files
            .iter()
            .filter(|x| x.path.starts_with("history/"))
            .map(|x| x.rows)
            .sum();
        let out = json!({"destination": dest.locate(""), "format": "parquet", "resources": resources,
                         "changes": changes, "files": files, "filters": f, "exported_at": exported_at});
        ctx.out.data(&out, || {
            let mut s = format!(
                "Exported {resources} resource(s) and {changes} change(s) to {} (parquet; filters: {}):\n",
                dest.locate(""),
                gm_inventory::export::describe_filters(&f)
            );
            for x in &files {
                s.push_str(&format!("  {:<56} {:>9} row(s) {:>11} bytes\n", x.path, x.rows, x.bytes));
            }
            s.push_str("Table definitions for Athena: athena.sql\n");
            s
        });
        return Ok(ExitStatus::Ok);
    }
    let format = ExportFormat::parse(&a.format).unwrap_or(ExportFormat::Csv);
    let tags = if a.tags == "columns" {
        TagLayout::Columns
    } else {
        TagLayout::Column
    };
    // One file: written in place, or staged under its object key and uploaded.
    let (_guard, dir, rel) = match &dest {
        Dest::Local(p) => (None, std::path::PathBuf::new(), p.display().to_string()),
        Dest::S3 { bucket, prefix } => {
            if prefix.is_empty() || a.to.ends_with('/') {
                return Err(CliError::new(
                    "GM-INV-009",
                    format!("`{}` names no object for the {} file", a.to, a.format),
                    ExitStatus::Usage,
                )
                .hint(format!("name it: s3://{bucket}/inventory.{}", a.format)));
            }
            let (g, d) = staging(&dest)?;
            (g, d, prefix.clone())
        }
    };
    let path = dir.join(&rel);
    if let Some(parent) = path.parent().filter(|_| matches!(dest, Dest::S3 { .. })) {
        std::fs::create_dir_all(parent).map_err(|e| {
            export_failed(ExportError::Write {
                path: parent.display().to_string(),
                message: e.to_string(),
            })
        })?;
    }
    let n = gm_inventory::export::export(store, &f, sort, format, tags, &path, &exported_at)
        .map_err(export_failed)?;
    if let Dest::S3 { bucket, .. } = &dest {
        // Staged at its full key, so it goes up under an empty prefix.
        let file = LakeFile {
            path: rel.clone(),
            rows: n,
            bytes: 0,
        };
        let whole_key = Dest::S3 {
            bucket: bucket.clone(),
            prefix: String::new(),
        };
        deliver(ctx, &whole_key, &dir, std::slice::from_ref(&file)).await?;
    }
    let out = json!({"file": a.to, "format": a.format, "resources": n, "filters": f, "exported_at": exported_at});
    ctx.out.data(&out, || {
        format!(
            "Exported {n} resource(s) to {} ({}; filters: {}).\n",
            a.to,
            a.format,
            gm_inventory::export::describe_filters(&f)
        )
    });
    Ok(ExitStatus::Ok)
}

#[cfg(test)]
mod tests {
    use super::is_refusal;

    #[test]
    fn each_services_spelling_of_a_refused_permission_gets_the_hint() {
        for code in [
            "AccessDenied",
            "AccessDeniedException",
            "UnauthorizedOperation",
            "AuthorizationError",
        ] {
            assert!(is_refusal(code), "{code}");
        }
        for code in [
            "Throttling",
            "Transport",
            "UnparsableResponse",
            "OptInRequired",
        ] {
            assert!(!is_refusal(code), "{code}");
        }
    }
}
