//! `ecs:task-definition`: `ListTaskDefinitions`, paginated (ARNs; `family:revision` as the
//! name). Describing each would cost one call per revision.

use super::{collector, CollectError, Cx};

collector!("ecs:task-definition", regional, collect);

async fn collect(cx: Cx) -> Result<u64, CollectError> {
    let client = client!(aws_sdk_ecs, cx);
    let mut pages = client.list_task_definitions().into_paginator().send();
    let mut n = 0;
    while let Some(page) = pages.next().await {
        let page = page.map_err(CollectError::sdk)?;
        for arn in page.task_definition_arns() {
            let mut r = cx.record(
                &C,
                arn,
                arn.clone(),
                serde_json::json!({ "task_definition_arn": arn }),
            );
            r.name = arn.rsplit('/').next().map(str::to_string);
            r.status = Some("ACTIVE".into());
            cx.emit(r).await?;
            n += 1;
        }
    }
    Ok(n)
}
