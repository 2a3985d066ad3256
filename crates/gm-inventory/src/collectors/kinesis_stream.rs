//! `kinesis:stream`: `ListStreams`, paginated (summaries with ARN, status and creation time).

use super::{collector, time, CollectError, Cx};

collector!("kinesis:stream", regional, collect);

async fn collect(cx: Cx) -> Result<u64, CollectError> {
    let client = client!(aws_sdk_kinesis, cx);
    let tags = cx.tags_of("kinesis").await?;
    let mut pages = client.list_streams().into_paginator().send();
    let mut n = 0;
    while let Some(page) = pages.next().await {
        let page = page.map_err(CollectError::sdk)?;
        for x in page.stream_summaries() {
            let name = x.stream_name();
            let mut r = cx.record(&C, name, x.stream_arn().to_string(), crate::raw::to_json(x));
            r.name = Some(name.to_string());
            r.status = Some(x.stream_status().as_str().to_string());
            r.created = time(x.stream_creation_timestamp());
            r.tags = tags.of(&r.arn);
            cx.emit(r).await?;
            n += 1;
        }
    }
    Ok(n)
}
