//! `ec2:image`: `DescribeImages` (owned by the account), paginated.

use aws_sdk_ec2::types::Image;

use super::{collector, ec2_tags, named, CollectError, Cx};

collector!("ec2:image", regional, collect);

async fn collect(cx: Cx) -> Result<u64, CollectError> {
    let client = client!(aws_sdk_ec2, cx);
    let mut pages = client
        .describe_images()
        .owners("self")
        .into_paginator()
        .send();
    let mut n = 0;
    while let Some(page) = pages.next().await {
        let page = page.map_err(CollectError::sdk)?;
        for x in page.images() {
            emit(&cx, x).await?;
            n += 1;
        }
    }
    Ok(n)
}

async fn emit(cx: &Cx, x: &Image) -> Result<(), CollectError> {
    let id = x.image_id().unwrap_or_default();
    let mut r = cx.record(
        &C,
        id,
        cx.arn("ec2", &format!("image/{id}")),
        crate::raw::to_json(x),
    );
    r.status = x.state().map(|s| s.as_str().to_string());
    r.created = x.creation_date().map(str::to_string);
    r.tags = ec2_tags(x.tags());
    r.name = x.name().map(str::to_string);
    cx.emit(named(r)).await
}
