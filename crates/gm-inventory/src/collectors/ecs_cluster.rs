//! `ecs:cluster`: `ListClusters`, paginated, then `DescribeClusters` (100 per call, with tags).

use super::{collector, CollectError, Cx};

collector!("ecs:cluster", regional, collect);

async fn collect(cx: Cx) -> Result<u64, CollectError> {
    let client = client!(aws_sdk_ecs, cx);
    let arns = cluster_arns(&client).await?;
    let mut n = 0;
    for chunk in arns.chunks(100) {
        let out = client
            .describe_clusters()
            .set_clusters(Some(chunk.to_vec()))
            .include(aws_sdk_ecs::types::ClusterField::Tags)
            .send()
            .await
            .map_err(CollectError::sdk)?;
        for x in out.clusters() {
            let arn = x.cluster_arn().unwrap_or_default();
            let mut r = cx.record(&C, arn, arn.to_string(), crate::raw::to_json(x));
            r.name = x.cluster_name().map(str::to_string);
            r.status = x.status().map(str::to_string);
            r.tags = ecs_tags(x.tags());
            cx.emit(r).await?;
            n += 1;
        }
    }
    Ok(n)
}

/// Every cluster ARN of the region.
pub(super) async fn cluster_arns(
    client: &aws_sdk_ecs::Client,
) -> Result<Vec<String>, CollectError> {
    let mut pages = client.list_clusters().into_paginator().send();
    let mut out = Vec::new();
    while let Some(page) = pages.next().await {
        out.extend(
            page.map_err(CollectError::sdk)?
                .cluster_arns()
                .iter()
                .cloned(),
        );
    }
    Ok(out)
}

/// ECS tags as a map.
pub(super) fn ecs_tags(
    tags: &[aws_sdk_ecs::types::Tag],
) -> std::collections::BTreeMap<String, String> {
    tags.iter()
        .filter_map(|t| {
            Some((
                t.key()?.to_string(),
                t.value().unwrap_or_default().to_string(),
            ))
        })
        .collect()
}
