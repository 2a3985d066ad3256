//! `autoscaling:group`: `DescribeAutoScalingGroups`, paginated (tags come with each group).

use super::{collector, named, time, CollectError, Cx};

collector!("autoscaling:group", regional, collect);

async fn collect(cx: Cx) -> Result<u64, CollectError> {
    let client = client!(aws_sdk_autoscaling, cx);
    let mut pages = client
        .describe_auto_scaling_groups()
        .into_paginator()
        .send();
    let mut n = 0;
    while let Some(page) = pages.next().await {
        let page = page.map_err(CollectError::sdk)?;
        for x in page.auto_scaling_groups() {
            let name = x.auto_scaling_group_name().unwrap_or_default();
            let arn = x
                .auto_scaling_group_arn()
                .map(str::to_string)
                .unwrap_or_else(|| {
                    cx.arn(
                        "autoscaling",
                        &format!("autoScalingGroup:*:autoScalingGroupName/{name}"),
                    )
                });
            let mut r = cx.record(&C, name, arn, crate::raw::to_json(x));
            r.name = Some(name.to_string());
            r.status = Some(x.status().unwrap_or("active").to_string());
            r.created = time(x.created_time());
            r.tags = x
                .tags()
                .iter()
                .filter_map(|t| {
                    Some((
                        t.key()?.to_string(),
                        t.value().unwrap_or_default().to_string(),
                    ))
                })
                .collect();
            cx.emit(named(r)).await?;
            n += 1;
        }
    }
    Ok(n)
}
