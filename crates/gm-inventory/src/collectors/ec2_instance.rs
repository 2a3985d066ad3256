//! `ec2:instance`: `DescribeInstances`, paginated (terminated instances included while AWS
//! still reports them).

use aws_sdk_ec2::types::Instance;

use super::{collector, ec2_tags, named, time, CollectError, Cx};

collector!("ec2:instance", regional, collect);

async fn collect(cx: Cx) -> Result<u64, CollectError> {
    let client = client!(aws_sdk_ec2, cx);
    let mut pages = client.describe_instances().into_paginator().send();
    let mut n = 0;
    while let Some(page) = pages.next().await {
        let page = page.map_err(CollectError::sdk)?;
        for x in page.reservations().iter().flat_map(|r| r.instances()) {
            emit(&cx, x).await?;
            n += 1;
        }
    }
    Ok(n)
}

async fn emit(cx: &Cx, x: &Instance) -> Result<(), CollectError> {
    let id = x.instance_id().unwrap_or_default();
    let mut r = cx.record(
        &C,
        id,
        cx.arn("ec2", &format!("instance/{id}")),
        crate::raw::to_json(x),
    );
    r.status = x
        .state()
        .and_then(|s| s.name())
        .map(|s| s.as_str().to_string());
    r.created = time(x.launch_time());
    r.tags = ec2_tags(x.tags());
    cx.emit(named(r)).await
}
