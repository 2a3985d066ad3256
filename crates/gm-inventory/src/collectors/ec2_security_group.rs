//! `ec2:security-group`: `DescribeSecurityGroups`, paginated.

use aws_sdk_ec2::types::SecurityGroup;

use super::{collector, ec2_tags, named, CollectError, Cx};

collector!("ec2:security-group", regional, collect);

async fn collect(cx: Cx) -> Result<u64, CollectError> {
    let client = client!(aws_sdk_ec2, cx);
    let mut pages = client.describe_security_groups().into_paginator().send();
    let mut n = 0;
    while let Some(page) = pages.next().await {
        let page = page.map_err(CollectError::sdk)?;
        for x in page.security_groups() {
            emit(&cx, x).await?;
            n += 1;
        }
    }
    Ok(n)
}

async fn emit(cx: &Cx, x: &SecurityGroup) -> Result<(), CollectError> {
    let id = x.group_id().unwrap_or_default();
    let mut r = cx.record(
        &C,
        id,
        cx.arn("ec2", &format!("security-group/{id}")),
        crate::raw::to_json(x),
    );
    r.status = None;
    r.created = None;
    r.tags = ec2_tags(x.tags());
    r.name = x.group_name().map(str::to_string);
    cx.emit(named(r)).await
}
