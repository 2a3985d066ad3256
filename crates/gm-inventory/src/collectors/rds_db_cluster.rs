//! `rds:db-cluster`: Aurora and Multi-AZ clusters (`DescribeDBClusters`, paginated), without
//! the DocumentDB ones, which are `docdb:cluster`.

use super::rds_db_instance::rds_tags;
use super::{collector, named, time, CollectError, Cx};

collector!("rds:db-cluster", regional, collect);

async fn collect(cx: Cx) -> Result<u64, CollectError> {
    clusters(cx, &C, |engine| engine != "docdb").await
}

/// DB clusters whose engine `keep` accepts.
pub(super) async fn clusters(
    cx: Cx,
    c: &super::Collector,
    keep: fn(&str) -> bool,
) -> Result<u64, CollectError> {
    let client = client!(aws_sdk_rds, cx);
    let mut pages = client.describe_db_clusters().into_paginator().send();
    let mut n = 0;
    while let Some(page) = pages.next().await {
        let page = page.map_err(CollectError::sdk)?;
        for x in page
            .db_clusters()
            .iter()
            .filter(|x| keep(x.engine().unwrap_or_default()))
        {
            let id = x.db_cluster_identifier().unwrap_or_default();
            let arn = x
                .db_cluster_arn()
                .map(str::to_string)
                .unwrap_or_else(|| cx.arn("rds", &format!("cluster:{id}")));
            let mut r = cx.record(c, id, arn, crate::raw::to_json(x));
            r.name = Some(id.to_string());
            r.status = x.status().map(str::to_string);
            r.created = time(x.cluster_create_time());
            r.tags = rds_tags(x.tag_list());
            cx.emit(named(r)).await?;
            n += 1;
        }
    }
    Ok(n)
}
