//! `ssm:parameter`: `DescribeParameters`, paginated (metadata only: values are never read).
//! Tags from the tagging API (`Cx::tags_of`), not one `ListTagsForResource` per parameter.

use super::{collector, time, CollectError, Cx};

collector!("ssm:parameter", regional, collect);

async fn collect(cx: Cx) -> Result<u64, CollectError> {
    let client = client!(aws_sdk_ssm, cx);
    let tags = cx.tags_of("ssm").await?;
    let mut pages = client
        .describe_parameters()
        .max_results(50)
        .into_paginator()
        .send();
    let mut n = 0;
    while let Some(page) = pages.next().await {
        let page = page.map_err(CollectError::sdk)?;
        for x in page.parameters() {
            let name = x.name().unwrap_or_default();
            let arn = x.arn().map(str::to_string).unwrap_or_else(|| {
                cx.arn(
                    "ssm",
                    &format!("parameter/{}", name.trim_start_matches('/')),
                )
            });
            let mut r = cx.record(&C, name, arn, crate::raw::to_json(x));
            r.name = Some(name.to_string());
            r.status = x.r#type().map(|t| t.as_str().to_string());
            r.created = time(x.last_modified_date());
            r.tags = tags.of(&r.arn);
            cx.emit(r).await?;
            n += 1;
        }
    }
    Ok(n)
}
