//! `ec2:internet-gateway`: `DescribeInternetGateways`, paginated.

use aws_sdk_ec2::types::InternetGateway;

use super::{collector, ec2_tags, named, CollectError, Cx};

collector!("ec2:internet-gateway", regional, collect);

async fn collect(cx: Cx) -> Result<u64, CollectError> {
    let client = client!(aws_sdk_ec2, cx);
    let mut pages = client.describe_internet_gateways().into_paginator().send();
    let mut n = 0;
    while let Some(page) = pages.next().await {
        let page = page.map_err(CollectError::sdk)?;
        for x in page.internet_gateways() {
            emit(&cx, x).await?;
            n += 1;
        }
    }
    Ok(n)
}

async fn emit(cx: &Cx, x: &InternetGateway) -> Result<(), CollectError> {
    let id = x.internet_gateway_id().unwrap_or_default();
    let mut r = cx.record(
        &C,
        id,
        cx.arn("ec2", &format!("internet-gateway/{id}")),
        crate::raw::to_json(x),
    );
    r.status = Some(if x.attachments().is_empty() {
        "detached".to_string()
    } else {
        "attached".to_string()
    });
    r.created = None;
    r.tags = ec2_tags(x.tags());
    r.name = None;
    cx.emit(named(r)).await
}
