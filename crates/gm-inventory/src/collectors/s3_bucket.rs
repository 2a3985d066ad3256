//! `s3:bucket`: `ListBuckets`, paginated; global (one listing per account covers every
//! region; each bucket's own region is in its metadata). Tags would cost one
//! `GetBucketTagging` per bucket and are left out.

use super::{collector, time, CollectError, Cx};

collector!("s3:bucket", global, collect);

async fn collect(cx: Cx) -> Result<u64, CollectError> {
    let client = aws_sdk_s3::Client::new(&cx.config);
    let mut pages = client.list_buckets().into_paginator().send();
    let mut n = 0;
    while let Some(page) = pages.next().await {
        let page = page.map_err(CollectError::sdk)?;
        for x in page.buckets() {
            let name = x.name().unwrap_or_default();
            let mut r = cx.record(
                &C,
                name,
                format!("arn:aws:s3:::{name}"),
                crate::raw::to_json(x),
            );
            r.name = Some(name.to_string());
            r.created = time(x.creation_date());
            cx.emit(r).await?;
            n += 1;
        }
    }
    Ok(n)
}
