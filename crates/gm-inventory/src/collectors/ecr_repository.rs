//! `ecr:repository`: `DescribeRepositories`, paginated; tags from the tagging API
//! (`Cx::tags_of`), not a call per repository.

use super::{collector, time, CollectError, Cx};

collector!("ecr:repository", regional, collect);

async fn collect(cx: Cx) -> Result<u64, CollectError> {
    let client = client!(aws_sdk_ecr, cx);
    let tags = cx.tags_of("ecr").await?;
    let mut pages = client.describe_repositories().into_paginator().send();
    let mut n = 0;
    while let Some(page) = pages.next().await {
        let page = page.map_err(CollectError::sdk)?;
        for x in page.repositories() {
            let name = x.repository_name().unwrap_or_default();
            let arn = x
                .repository_arn()
                .map(str::to_string)
                .unwrap_or_else(|| cx.arn("ecr", &format!("repository/{name}")));
            let mut r = cx.record(&C, name, arn, crate::raw::to_json(x));
            r.name = Some(name.to_string());
            r.created = time(x.created_at());
            r.tags = tags.of(&r.arn);
            cx.emit(r).await?;
            n += 1;
        }
    }
    Ok(n)
}
