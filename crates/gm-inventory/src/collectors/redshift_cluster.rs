//! `redshift:cluster`: `DescribeClusters`, paginated (tags come with each cluster).

use super::{collector, named, time, CollectError, Cx};

collector!("redshift:cluster", regional, collect);

async fn collect(cx: Cx) -> Result<u64, CollectError> {
    let client = client!(aws_sdk_redshift, cx);
    let mut pages = client.describe_clusters().into_paginator().send();
    let mut n = 0;
    while let Some(page) = pages.next().await {
        let page = page.map_err(CollectError::sdk)?;
        for x in page.clusters() {
            let id = x.cluster_identifier().unwrap_or_default();
            let mut r = cx.record(
                &C,
                id,
                cx.arn("redshift", &format!("cluster:{id}")),
                crate::raw::to_json(x),
            );
            r.name = Some(id.to_string());
            r.status = x.cluster_status().map(str::to_string);
            r.created = time(x.cluster_create_time());
            r.tags = x
                .tags()
                .iter()
                .filter_map(|t| {
                    Some((
                        t.key()?.to_string(),
                        t.value().unwrap_or_default().to_string(),
                    ))
                })
                .collect();
            cx.emit(named(r)).await?;
            n += 1;
        }
    }
    Ok(n)
}
