//! `ec2:route-table`: `DescribeRouteTables`, paginated.

use aws_sdk_ec2::types::RouteTable;

use super::{collector, ec2_tags, named, CollectError, Cx};

collector!("ec2:route-table", regional, collect);

async fn collect(cx: Cx) -> Result<u64, CollectError> {
    let client = client!(aws_sdk_ec2, cx);
    let mut pages = client.describe_route_tables().into_paginator().send();
    let mut n = 0;
    while let Some(page) = pages.next().await {
        let page = page.map_err(CollectError::sdk)?;
        for x in page.route_tables() {
            emit(&cx, x).await?;
            n += 1;
        }
    }
    Ok(n)
}

async fn emit(cx: &Cx, x: &RouteTable) -> Result<(), CollectError> {
    let id = x.route_table_id().unwrap_or_default();
    let mut r = cx.record(
        &C,
        id,
        cx.arn("ec2", &format!("route-table/{id}")),
        crate::raw::to_json(x),
    );
    r.status = None;
    r.created = None;
    r.tags = ec2_tags(x.tags());
    r.name = None;
    cx.emit(named(r)).await
}
