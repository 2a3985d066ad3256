//! `ec2:launch-template`: `DescribeLaunchTemplates`, paginated, 200 per page (the most AWS
//! allows; moto without it answers 15 and no next token).

use aws_sdk_ec2::types::LaunchTemplate;

use super::{collector, ec2_tags, named, time, CollectError, Cx};

collector!("ec2:launch-template", regional, collect);

async fn collect(cx: Cx) -> Result<u64, CollectError> {
    let client = client!(aws_sdk_ec2, cx);
    let mut pages = client
        .describe_launch_templates()
        .max_results(200)
        .into_paginator()
        .send();
    let mut n = 0;
    while let Some(page) = pages.next().await {
        let page = page.map_err(CollectError::sdk)?;
        for x in page.launch_templates() {
            emit(&cx, x).await?;
            n += 1;
        }
    }
    Ok(n)
}

async fn emit(cx: &Cx, x: &LaunchTemplate) -> Result<(), CollectError> {
    let id = x.launch_template_id().unwrap_or_default();
    let mut r = cx.record(
        &C,
        id,
        cx.arn("ec2", &format!("launch-template/{id}")),
        crate::raw::to_json(x),
    );
    r.status = None;
    r.created = time(x.create_time());
    r.tags = ec2_tags(x.tags());
    r.name = x.launch_template_name().map(str::to_string);
    cx.emit(named(r)).await
}
