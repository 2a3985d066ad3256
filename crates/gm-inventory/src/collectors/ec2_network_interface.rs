//! `ec2:network-interface`: `DescribeNetworkInterfaces`, paginated.

use aws_sdk_ec2::types::NetworkInterface;

use super::{collector, ec2_tags, named, CollectError, Cx};

collector!("ec2:network-interface", regional, collect);

async fn collect(cx: Cx) -> Result<u64, CollectError> {
    let client = client!(aws_sdk_ec2, cx);
    let mut pages = client.describe_network_interfaces().into_paginator().send();
    let mut n = 0;
    while let Some(page) = pages.next().await {
        let page = page.map_err(CollectError::sdk)?;
        for x in page.network_interfaces() {
            emit(&cx, x).await?;
            n += 1;
        }
    }
    Ok(n)
}

async fn emit(cx: &Cx, x: &NetworkInterface) -> Result<(), CollectError> {
    let id = x.network_interface_id().unwrap_or_default();
    let mut r = cx.record(
        &C,
        id,
        cx.arn("ec2", &format!("network-interface/{id}")),
        crate::raw::to_json(x),
    );
    r.status = x.status().map(|s| s.as_str().to_string());
    r.created = None;
    r.tags = ec2_tags(x.tag_set());
    // The Name tag first; the description otherwise.
    let mut r = named(r);
    if r.name.is_none() {
        r.name = x
            .description()
            .filter(|d| !d.is_empty())
            .map(str::to_string);
    }
    cx.emit(r).await
}
