//! `cloudfront:distribution`: `ListDistributions`, paginated; global, listed once per account.
//! Tags come from the tagging API in us-east-1, where CloudFront's are kept (one
//! `GetResources` call per 100 tagged distributions).

use super::{collector, time, CollectError, Cx};

collector!("cloudfront:distribution", global, collect);

async fn collect(cx: Cx) -> Result<u64, CollectError> {
    let client = client!(aws_sdk_cloudfront, cx);
    let tags = cx.global_tags_of("cloudfront").await?;
    let mut pages = client.list_distributions().into_paginator().send();
    let mut n = 0;
    while let Some(page) = pages.next().await {
        let page = page.map_err(CollectError::sdk)?;
        for x in page
            .distribution_list()
            .map(|l| l.items())
            .unwrap_or_default()
        {
            let mut r = cx.record(&C, x.id(), x.arn().to_string(), crate::raw::to_json(x));
            r.name = Some(x.domain_name().to_string());
            r.status = Some(x.status().to_string());
            r.created = time(Some(x.last_modified_time()));
            r.tags = tags.of(&r.arn);
            cx.emit(r).await?;
            n += 1;
        }
    }
    Ok(n)
}
