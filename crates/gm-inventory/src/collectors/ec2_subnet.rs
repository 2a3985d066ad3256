//! `ec2:subnet`: `DescribeSubnets`, paginated.

use aws_sdk_ec2::types::Subnet;

use super::{collector, ec2_tags, named, CollectError, Cx};

collector!("ec2:subnet", regional, collect);

async fn collect(cx: Cx) -> Result<u64, CollectError> {
    let client = client!(aws_sdk_ec2, cx);
    let mut pages = client.describe_subnets().into_paginator().send();
    let mut n = 0;
    while let Some(page) = pages.next().await {
        let page = page.map_err(CollectError::sdk)?;
        for x in page.subnets() {
            emit(&cx, x).await?;
            n += 1;
        }
    }
    Ok(n)
}

async fn emit(cx: &Cx, x: &Subnet) -> Result<(), CollectError> {
    let id = x.subnet_id().unwrap_or_default();
    let mut r = cx.record(
        &C,
        id,
        cx.arn("ec2", &format!("subnet/{id}")),
        crate::raw::to_json(x),
    );
    r.status = x.state().map(|s| s.as_str().to_string());
    r.created = None;
    r.tags = ec2_tags(x.tags());
    r.name = None;
    cx.emit(named(r)).await
}
