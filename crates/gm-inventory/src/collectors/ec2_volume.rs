//! `ec2:volume`: `DescribeVolumes`, paginated.

use aws_sdk_ec2::types::Volume;

use super::{collector, ec2_tags, named, time, CollectError, Cx};

collector!("ec2:volume", regional, collect);

async fn collect(cx: Cx) -> Result<u64, CollectError> {
    let client = client!(aws_sdk_ec2, cx);
    let mut pages = client.describe_volumes().into_paginator().send();
    let mut n = 0;
    while let Some(page) = pages.next().await {
        let page = page.map_err(CollectError::sdk)?;
        for x in page.volumes() {
            emit(&cx, x).await?;
            n += 1;
        }
    }
    Ok(n)
}

async fn emit(cx: &Cx, x: &Volume) -> Result<(), CollectError> {
    let id = x.volume_id().unwrap_or_default();
    let mut r = cx.record(
        &C,
        id,
        cx.arn("ec2", &format!("volume/{id}")),
        crate::raw::to_json(x),
    );
    r.status = x.state().map(|s| s.as_str().to_string());
    r.created = time(x.create_time());
    r.tags = ec2_tags(x.tags());
    r.name = None;
    cx.emit(named(r)).await
}
