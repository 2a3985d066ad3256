//! `ecs:service`: per cluster, `ListServices` (paginated), then `DescribeServices` (10 per call,
//! with tags).

use super::ecs_cluster::{cluster_arns, ecs_tags};
use super::{collector, time, CollectError, Cx};

collector!("ecs:service", regional, collect);

async fn collect(cx: Cx) -> Result<u64, CollectError> {
    let client = client!(aws_sdk_ecs, cx);
    let mut n = 0;
    for cluster in cluster_arns(&client).await? {
        let mut pages = client
            .list_services()
            .cluster(&cluster)
            .into_paginator()
            .send();
        let mut arns = Vec::new();
        while let Some(page) = pages.next().await {
            arns.extend(
                page.map_err(CollectError::sdk)?
                    .service_arns()
                    .iter()
                    .cloned(),
            );
        }
        for chunk in arns.chunks(10) {
            let out = client
                .describe_services()
                .cluster(&cluster)
                .set_services(Some(chunk.to_vec()))
                .include(aws_sdk_ecs::types::ServiceField::Tags)
                .send()
                .await
                .map_err(CollectError::sdk)?;
            for x in out.services() {
                let arn = x.service_arn().unwrap_or_default();
                let mut r = cx.record(&C, arn, arn.to_string(), crate::raw::to_json(x));
                r.name = x.service_name().map(str::to_string);
                r.status = x.status().map(str::to_string);
                r.created = time(x.created_at());
                r.tags = ecs_tags(x.tags());
                cx.emit(r).await?;
                n += 1;
            }
        }
    }
    Ok(n)
}
