//! `ec2:dhcp-options`: `DescribeDhcpOptions`, paginated.

use aws_sdk_ec2::types::DhcpOptions;

use super::{collector, ec2_tags, named, CollectError, Cx};

collector!("ec2:dhcp-options", regional, collect);

async fn collect(cx: Cx) -> Result<u64, CollectError> {
    let client = client!(aws_sdk_ec2, cx);
    let mut pages = client.describe_dhcp_options().into_paginator().send();
    let mut n = 0;
    while let Some(page) = pages.next().await {
        let page = page.map_err(CollectError::sdk)?;
        for x in page.dhcp_options() {
            emit(&cx, x).await?;
            n += 1;
        }
    }
    Ok(n)
}

async fn emit(cx: &Cx, x: &DhcpOptions) -> Result<(), CollectError> {
    let id = x.dhcp_options_id().unwrap_or_default();
    let mut r = cx.record(
        &C,
        id,
        cx.arn("ec2", &format!("dhcp-options/{id}")),
        crate::raw::to_json(x),
    );
    r.status = None;
    r.created = None;
    r.tags = ec2_tags(x.tags());
    r.name = None;
    cx.emit(named(r)).await
}
