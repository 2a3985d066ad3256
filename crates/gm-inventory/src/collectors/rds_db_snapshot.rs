//! `rds:db-snapshot`: manual and automated DB snapshots (`DescribeDBSnapshots`, paginated).

use super::rds_db_instance::rds_tags;
use super::{collector, time, CollectError, Cx};

collector!("rds:db-snapshot", regional, collect);

async fn collect(cx: Cx) -> Result<u64, CollectError> {
    let client = client!(aws_sdk_rds, cx);
    let mut pages = client.describe_db_snapshots().into_paginator().send();
    let mut n = 0;
    while let Some(page) = pages.next().await {
        let page = page.map_err(CollectError::sdk)?;
        for x in page.db_snapshots() {
            let id = x.db_snapshot_identifier().unwrap_or_default();
            let arn = x
                .db_snapshot_arn()
                .map(str::to_string)
                .unwrap_or_else(|| cx.arn("rds", &format!("snapshot:{id}")));
            let mut r = cx.record(&C, id, arn, crate::raw::to_json(x));
            r.name = Some(id.to_string());
            r.status = x.status().map(str::to_string);
            r.created = time(x.snapshot_create_time());
            r.tags = rds_tags(x.tag_list());
            cx.emit(r).await?;
            n += 1;
        }
    }
    Ok(n)
}
