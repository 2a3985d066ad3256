//! `kms:key`: `ListKeys`, paginated, then `DescribeKey` for each (up to 8 at once) for state,
//! creation date, description and manager.

use futures::stream::{self, StreamExt};

use super::{collector, time, CollectError, Cx};

collector!("kms:key", regional, collect);

async fn collect(cx: Cx) -> Result<u64, CollectError> {
    let client = client!(aws_sdk_kms, cx);
    let tags = cx.tags_of("kms").await?;
    let mut pages = client.list_keys().into_paginator().send();
    let mut ids = Vec::new();
    while let Some(page) = pages.next().await {
        ids.extend(
            page.map_err(CollectError::sdk)?
                .keys()
                .iter()
                .filter_map(|k| k.key_id().map(str::to_string)),
        );
    }
    let mut described = stream::iter(ids)
        .map(|id| {
            let client = client.clone();
            async move { client.describe_key().key_id(id).send().await }
        })
        .buffer_unordered(8);
    let mut n = 0;
    while let Some(out) = described.next().await {
        let out = out.map_err(CollectError::sdk)?;
        let Some(x) = out.key_metadata() else {
            continue;
        };
        let id = x.key_id();
        let arn = x
            .arn()
            .map(str::to_string)
            .unwrap_or_else(|| cx.arn("kms", &format!("key/{id}")));
        let mut r = cx.record(&C, id, arn, crate::raw::to_json(x));
        r.name = x
            .description()
            .filter(|d| !d.is_empty())
            .map(str::to_string);
        r.status = x.key_state().map(|s| s.as_str().to_string());
        r.created = time(x.creation_date());
        r.tags = tags.of(&r.arn);
        cx.emit(r).await?;
        n += 1;
    }
    Ok(n)
}
