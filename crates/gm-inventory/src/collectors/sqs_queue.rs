//! `sqs:queue`: `ListQueues`, paginated at 1,000 per page (URLs; the name is the URL's last
//! part).

use super::{collector, CollectError, Cx};

collector!("sqs:queue", regional, collect);

async fn collect(cx: Cx) -> Result<u64, CollectError> {
    let client = client!(aws_sdk_sqs, cx);
    let tags = cx.tags_of("sqs").await?;
    let mut pages = client
        .list_queues()
        .max_results(1000)
        .into_paginator()
        .send();
    let mut n = 0;
    while let Some(page) = pages.next().await {
        let page = page.map_err(CollectError::sdk)?;
        for url in page.queue_urls() {
            let name = url.rsplit('/').next().unwrap_or_default();
            let mut r = cx.record(
                &C,
                name,
                cx.arn("sqs", name),
                serde_json::json!({ "queue_url": url }),
            );
            r.name = Some(name.to_string());
            r.tags = tags.of(&r.arn);
            cx.emit(r).await?;
            n += 1;
        }
    }
    Ok(n)
}
