//! `cloudformation:stack`: `DescribeStacks`, paginated (tags come with each stack).

use super::{collector, time, CollectError, Cx};

collector!("cloudformation:stack", regional, collect);

async fn collect(cx: Cx) -> Result<u64, CollectError> {
    let client = client!(aws_sdk_cloudformation, cx);
    let mut pages = client.describe_stacks().into_paginator().send();
    let mut n = 0;
    while let Some(page) = pages.next().await {
        let page = page.map_err(CollectError::sdk)?;
        for x in page.stacks() {
            let name = x.stack_name().unwrap_or_default();
            let arn = x
                .stack_id()
                .map(str::to_string)
                .unwrap_or_else(|| cx.arn("cloudformation", &format!("stack/{name}")));
            let mut r = cx.record(&C, &arn.clone(), arn, crate::raw::to_json(x));
            r.name = Some(name.to_string());
            r.status = x.stack_status().map(|s| s.as_str().to_string());
            r.created = time(x.creation_time());
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
            cx.emit(r).await?;
            n += 1;
        }
    }
    Ok(n)
}
