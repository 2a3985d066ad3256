//! `lambda:function`: `ListFunctions`, paginated; tags from the tagging API
//! (`Cx::tags_of`), not one `ListTags` per function.

use super::{collector, CollectError, Cx};

collector!("lambda:function", regional, collect);

async fn collect(cx: Cx) -> Result<u64, CollectError> {
    let client = client!(aws_sdk_lambda, cx);
    let tags = cx.tags_of("lambda").await?;
    let mut pages = client.list_functions().into_paginator().send();
    let mut n = 0;
    while let Some(page) = pages.next().await {
        let page = page.map_err(CollectError::sdk)?;
        for x in page.functions() {
            let name = x.function_name().unwrap_or_default();
            let arn = x
                .function_arn()
                .map(str::to_string)
                .unwrap_or_else(|| cx.arn("lambda", &format!("function:{name}")));
            let mut r = cx.record(&C, name, arn, crate::raw::to_json(x));
            r.name = Some(name.to_string());
            r.status = Some(
                x.state()
                    .map_or_else(|| "Active".to_string(), |s| s.as_str().to_string()),
            );
            r.created = x.last_modified().map(str::to_string);
            r.tags = tags.of(&r.arn);
            cx.emit(r).await?;
            n += 1;
        }
    }
    Ok(n)
}
