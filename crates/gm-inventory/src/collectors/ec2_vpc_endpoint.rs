//! `ec2:vpc-endpoint`: `DescribeVpcEndpoints`, paginated.

use aws_sdk_ec2::types::VpcEndpoint;

use super::{collector, ec2_tags, named, time, CollectError, Cx};

collector!("ec2:vpc-endpoint", regional, collect);

async fn collect(cx: Cx) -> Result<u64, CollectError> {
    let client = client!(aws_sdk_ec2, cx);
    let mut pages = client.describe_vpc_endpoints().into_paginator().send();
    let mut n = 0;
    while let Some(page) = pages.next().await {
        let page = page.map_err(CollectError::sdk)?;
        for x in page.vpc_endpoints() {
            emit(&cx, x).await?;
            n += 1;
        }
    }
    Ok(n)
}

async fn emit(cx: &Cx, x: &VpcEndpoint) -> Result<(), CollectError> {
    let id = x.vpc_endpoint_id().unwrap_or_default();
    let mut r = cx.record(
        &C,
        id,
        cx.arn("ec2", &format!("vpc-endpoint/{id}")),
        crate::raw::to_json(x),
    );
    r.status = x.state().map(|s| s.as_str().to_string());
    r.created = time(x.creation_timestamp());
    r.tags = ec2_tags(x.tags());
    // The Name tag first; the service otherwise.
    let mut r = named(r);
    if r.name.is_none() {
        r.name = x.service_name().map(str::to_string);
    }
    cx.emit(r).await
}
