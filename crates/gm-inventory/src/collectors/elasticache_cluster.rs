//! `elasticache:cluster`: `DescribeCacheClusters`, paginated.

use super::{collector, time, CollectError, Cx};

collector!("elasticache:cluster", regional, collect);

async fn collect(cx: Cx) -> Result<u64, CollectError> {
    let client = client!(aws_sdk_elasticache, cx);
    let mut pages = client.describe_cache_clusters().into_paginator().send();
    let mut n = 0;
    while let Some(page) = pages.next().await {
        let page = page.map_err(CollectError::sdk)?;
        for x in page.cache_clusters() {
            let id = x.cache_cluster_id().unwrap_or_default();
            let arn = x
                .arn()
                .map(str::to_string)
                .unwrap_or_else(|| cx.arn("elasticache", &format!("cluster:{id}")));
            let mut r = cx.record(&C, id, arn, crate::raw::to_json(x));
            r.name = Some(id.to_string());
            r.status = x.cache_cluster_status().map(str::to_string);
            r.created = time(x.cache_cluster_create_time());
            cx.emit(r).await?;
            n += 1;
        }
    }
    Ok(n)
}
