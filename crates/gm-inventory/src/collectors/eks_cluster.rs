//! `eks:cluster`: `ListClusters`, paginated, then `DescribeCluster` for each (up to 8 at once).

use futures::stream::{self, StreamExt};

use super::{collector, time, CollectError, Cx};

collector!("eks:cluster", regional, collect);

async fn collect(cx: Cx) -> Result<u64, CollectError> {
    let client = client!(aws_sdk_eks, cx);
    let mut pages = client.list_clusters().into_paginator().send();
    let mut names = Vec::new();
    while let Some(page) = pages.next().await {
        names.extend(page.map_err(CollectError::sdk)?.clusters().iter().cloned());
    }
    let mut described = stream::iter(names)
        .map(|name| {
            let client = client.clone();
            async move { client.describe_cluster().name(name).send().await }
        })
        .buffer_unordered(8);
    let mut n = 0;
    while let Some(out) = described.next().await {
        let out = out.map_err(CollectError::sdk)?;
        let Some(x) = out.cluster() else { continue };
        let name = x.name().unwrap_or_default();
        let arn = x
            .arn()
            .map(str::to_string)
            .unwrap_or_else(|| cx.arn("eks", &format!("cluster/{name}")));
        let mut r = cx.record(&C, name, arn, crate::raw::to_json(x));
        r.name = Some(name.to_string());
        r.status = x.status().map(|s| s.as_str().to_string());
        r.created = time(x.created_at());
        r.tags = x
            .tags()
            .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        cx.emit(r).await?;
        n += 1;
    }
    Ok(n)
}
