//! `ecs:task`: per cluster, `ListTasks` (paginated), then `DescribeTasks` (100 per call, with
//! tags).

use super::ecs_cluster::{cluster_arns, ecs_tags};
use super::{collector, time, CollectError, Cx, UNPARSABLE};

collector!("ecs:task", regional, collect);

async fn collect(cx: Cx) -> Result<u64, CollectError> {
    let client = client!(aws_sdk_ecs, cx);
    let mut n = 0;
    for cluster in cluster_arns(&client).await? {
        let mut pages = client
            .list_tasks()
            .cluster(&cluster)
            .into_paginator()
            .send();
        let mut arns = Vec::new();
        while let Some(page) = pages.next().await {
            arns.extend(page.map_err(CollectError::sdk)?.task_arns().iter().cloned());
        }
        for chunk in arns.chunks(100) {
            let out = match client
                .describe_tasks()
                .cluster(&cluster)
                .set_tasks(Some(chunk.to_vec()))
                .include(aws_sdk_ecs::types::TaskField::Tags)
                .send()
                .await
                .map_err(CollectError::sdk)
            {
                Ok(out) => out,
                // An answer the SDK cannot read must not lose the tasks: record what the list
                // gave (their ARNs), with why there is no more.
                Err(e) if e.code == UNPARSABLE => {
                    for arn in chunk {
                        let mut r = cx.record(
                            &C,
                            arn,
                            arn.clone(),
                            serde_json::json!({"task_arn": arn, "cluster_arn": cluster, "describe_error": e.message}),
                        );
                        r.name = arn.rsplit('/').next().map(str::to_string);
                        cx.emit(r).await?;
                        n += 1;
                    }
                    continue;
                }
                Err(e) => return Err(e),
            };
            for x in out.tasks() {
                let arn = x.task_arn().unwrap_or_default();
                let mut r = cx.record(&C, arn, arn.to_string(), crate::raw::to_json(x));
                r.name = x.group().map(str::to_string);
                r.status = x.last_status().map(str::to_string);
                r.created = time(x.created_at());
                r.tags = ecs_tags(x.tags());
                cx.emit(r).await?;
                n += 1;
            }
        }
    }
    Ok(n)
}
