//! `s3:bucket`: `ListBuckets`, paginated; global (one listing per account covers every
//! region; each bucket's own region is in its metadata). Tags come from the tagging API, which
//! sees a bucket in the bucket's own region: one `GetResources` call per 100 tagged buckets of
//! each region the listing names (the scan's region when the listing names none).

use std::collections::HashSet;

use super::{collector, time, CollectError, Cx, Tags};

collector!("s3:bucket", global, collect);

async fn collect(cx: Cx) -> Result<u64, CollectError> {
    let client = client!(aws_sdk_s3, cx);
    let mut pages = client.list_buckets().into_paginator().send();
    let mut tags = Tags::default();
    let mut asked = HashSet::new();
    let mut n = 0;
    while let Some(page) = pages.next().await {
        let page = page.map_err(CollectError::sdk)?;
        for x in page.buckets() {
            let region = x.bucket_region().unwrap_or(&cx.region);
            if asked.insert(region.to_string()) {
                cx.add_tags("s3", region, &mut tags).await?;
            }
        }
        for x in page.buckets() {
            let name = x.name().unwrap_or_default();
            let mut r = cx.record(
                &C,
                name,
                gm_aws::arn(&cx.region, "s3", "", "", name),
                crate::raw::to_json(x),
            );
            r.name = Some(name.to_string());
            r.created = time(x.creation_date());
            r.tags = tags.of(&r.arn);
            cx.emit(r).await?;
            n += 1;
        }
    }
    Ok(n)
}
