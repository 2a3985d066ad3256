//! `sns:topic`: `ListTopics`, paginated (ARNs; the name is the ARN's last part).

use super::{collector, CollectError, Cx};

collector!("sns:topic", regional, collect);

async fn collect(cx: Cx) -> Result<u64, CollectError> {
    let client = client!(aws_sdk_sns, cx);
    let tags = cx.tags_of("sns").await?;
    let mut pages = client.list_topics().into_paginator().send();
    let mut n = 0;
    while let Some(page) = pages.next().await {
        let page = page.map_err(CollectError::sdk)?;
        for x in page.topics() {
            let arn = x.topic_arn().unwrap_or_default();
            let mut r = cx.record(&C, arn, arn.to_string(), crate::raw::to_json(x));
            r.name = arn.rsplit(':').next().map(str::to_string);
            r.tags = tags.of(&r.arn);
            cx.emit(r).await?;
            n += 1;
        }
    }
    Ok(n)
}
