//! A scan: every (account, region, type) part run concurrently under two bounds (overall and per
//! account), records streamed through one channel into the store in batches, so memory stays
//! flat as accounts × regions grow. A part that fails (access denied, service missing in the
//! region) is recorded and the scan goes on.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Instant;

use futures::stream::{self, StreamExt};
use serde::Serialize;
use serde_json::json;
use tokio::sync::{mpsc, Semaphore};

use crate::collectors::{Collector, Cx};
use crate::model::{Msg, Record, ScanError};
use crate::store::{InventoryStore, StoreError};

/// One account to scan, with credentials for it (the caller's, or assumed into it).
#[derive(Clone)]
pub struct Target {
    /// Account id.
    pub account: String,
    /// SDK configuration carrying that account's credentials (the region is set per part).
    pub config: aws_config::SdkConfig,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The configuration carries credentials: only the account is shown.
        f.debug_struct("Target")
            .field("account", &self.account)
            .finish_non_exhaustive()
    }
}

/// How to scan.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    /// Regions (already resolved: `all` is expanded by the caller).
    pub regions: Vec<String>,
    /// The collectors to run.
    pub collectors: Vec<Collector>,
    /// Parts running at once, overall.
    pub concurrency: usize,
    /// Parts running at once in one account (keeps one account under its API rate limits).
    pub per_account: usize,
    /// Days a resource no longer seen stays in the latest view.
    pub retention_days: u32,
}

/// What a scan did.
#[derive(Debug, Clone, Serialize)]
pub struct ScanSummary {
    /// Scan id in the store.
    pub scan: i64,
    /// Accounts scanned.
    pub accounts: Vec<String>,
    /// Regions scanned.
    pub regions: Vec<String>,
    /// Resources found.
    pub found: u64,
    /// Found per type.
    pub by_type: BTreeMap<String, u64>,
    /// New since the last scan.
    pub added: u64,
    /// Changed since the last scan.
    pub changed: u64,
    /// No longer seen.
    pub removed: u64,
    /// Parts listed completely.
    pub parts_ok: u64,
    /// Parts that failed, with why.
    pub errors: Vec<ScanError>,
    /// Wall time, ms.
    pub duration_ms: u64,
    /// Requests sent to AWS (retries and pages included).
    #[serde(default)]
    pub requests: u64,
    /// The same by API operation (`DescribeVpcs`, `GetResources`, …).
    #[serde(default)]
    pub requests_by_operation: BTreeMap<String, u64>,
}

/// Records are written in transactions of this many.
const BATCH: usize = 500;

/// Runs the scan into `store`.
pub async fn scan(
    targets: &[Target],
    opts: &ScanOptions,
    store: &mut dyn InventoryStore,
) -> Result<ScanSummary, StoreError> {
    let started = Instant::now();
    let types: Vec<&str> = opts.collectors.iter().map(|c| c.rtype).collect();
    let accounts: Vec<String> = targets.iter().map(|t| t.account.clone()).collect();
    let scan_id = store.begin_scan(&json!({
        "accounts": accounts, "regions": opts.regions, "types": types,
    }))?;
    // Global types are listed once per account, through the first region.
    let home = opts
        .regions
        .first()
        .cloned()
        .unwrap_or_else(|| "us-east-1".into());
    let mut jobs = Vec::new();
    for t in targets {
        for c in &opts.collectors {
            let regions: Vec<&String> = if c.global {
                vec![&home]
            } else {
                opts.regions.iter().collect()
            };
            for r in regions {
                jobs.push((t.clone(), r.clone(), *c));
            }
        }
    }
    let (tx, mut rx) = mpsc::channel::<Msg>(4 * BATCH);
    let per_account: HashMap<String, Arc<Semaphore>> = targets
        .iter()
        .map(|t| {
            (
                t.account.clone(),
                Arc::new(Semaphore::new(opts.per_account.max(1))),
            )
        })
        .collect();
    let concurrency = opts.concurrency.max(1);
    let counter = Arc::new(gm_aws::RequestCounter::default());
    let requests = counter.clone();
    let runner = tokio::spawn(async move {
        stream::iter(jobs)
            .for_each_concurrent(concurrency, |(t, region, c)| {
                let tx = tx.clone();
                let requests = requests.clone();
                let sem = per_account.get(&t.account).cloned();
                async move {
                    let _permit = match &sem {
                        Some(s) => s.clone().acquire_owned().await.ok(),
                        None => None,
                    };
                    let config = t
                        .config
                        .to_builder()
                        .region(aws_config::Region::new(region.clone()))
                        .build();
                    let cx = Cx {
                        config,
                        account: t.account.clone(),
                        region: region.clone(),
                        tx: tx.clone(),
                        requests: requests.clone(),
                    };
                    let record_region = cx.record_region(c.global);
                    let msg = match (c.run)(cx).await {
                        Ok(count) => Msg::Done {
                            account: t.account.clone(),
                            region: record_region,
                            rtype: c.rtype.to_string(),
                            count,
                        },
                        Err(e) => Msg::Failed(ScanError {
                            account: t.account.clone(),
                            region: record_region,
                            rtype: c.rtype.to_string(),
                            code: e.code,
                            message: e.message,
                        }),
                    };
                    // The writer gone means the scan is over anyway.
                    let _ = tx.send(msg).await;
                }
            })
            .await;
    });

    let mut summary = ScanSummary {
        scan: scan_id,
        accounts,
        regions: opts.regions.clone(),
        found: 0,
        by_type: BTreeMap::new(),
        added: 0,
        changed: 0,
        removed: 0,
        parts_ok: 0,
        errors: Vec::new(),
        duration_ms: 0,
        requests: 0,
        requests_by_operation: BTreeMap::new(),
    };
    let mut batch: Vec<Record> = Vec::with_capacity(BATCH);
    let flush = |batch: &mut Vec<Record>,
                 store: &mut dyn InventoryStore,
                 summary: &mut ScanSummary|
     -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        let c = store.upsert(scan_id, batch)?;
        summary.added += c.added;
        summary.changed += c.changed;
        batch.clear();
        Ok(())
    };
    while let Some(msg) = rx.recv().await {
        match msg {
            Msg::Record(r) => {
                summary.found += 1;
                *summary.by_type.entry(r.rtype.clone()).or_default() += 1;
                batch.push(*r);
                if batch.len() >= BATCH {
                    flush(&mut batch, store, &mut summary)?;
                }
            }
            Msg::Done {
                account,
                region,
                rtype,
                ..
            } => {
                // Every record of this part came before its end: write them, then look for
                // what it no longer has.
                flush(&mut batch, store, &mut summary)?;
                summary.removed += store.part_done(scan_id, &account, &region, &rtype)?;
                summary.parts_ok += 1;
            }
            Msg::Failed(e) => {
                flush(&mut batch, store, &mut summary)?;
                store.part_failed(scan_id, &e)?;
                summary.errors.push(e);
            }
        }
    }
    flush(&mut batch, store, &mut summary)?;
    if let Err(e) = runner.await {
        tracing::warn!("scan runner ended abnormally: {e}");
    }
    summary.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    summary.requests = counter.total();
    summary.requests_by_operation = counter.by_operation();
    store.finish_scan(
        scan_id,
        &serde_json::to_value(&summary).unwrap_or_default(),
        opts.retention_days,
    )?;
    Ok(summary)
}
