//! `logs:log-group`: CloudWatch Logs `DescribeLogGroups`, paginated.

use super::{collector, CollectError, Cx};

collector!("logs:log-group", regional, collect);

async fn collect(cx: Cx) -> Result<u64, CollectError> {
    let client = client!(aws_sdk_cloudwatchlogs, cx);
    let tags = cx.tags_of("logs").await?;
    let mut pages = client.describe_log_groups().into_paginator().send();
    let mut n = 0;
    while let Some(page) = pages.next().await {
        let page = page.map_err(CollectError::sdk)?;
        for x in page.log_groups() {
            let name = x.log_group_name().unwrap_or_default();
            let arn = x
                .arn()
                .map(|a| a.trim_end_matches(":*").to_string())
                .unwrap_or_else(|| cx.arn("logs", &format!("log-group:{name}")));
            let mut r = cx.record(&C, name, arn, crate::raw::to_json(x));
            r.name = Some(name.to_string());
            r.created = x
                .creation_time()
                .and_then(chrono::DateTime::from_timestamp_millis)
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
            r.tags = tags.of(&r.arn);
            cx.emit(r).await?;
            n += 1;
        }
    }
    Ok(n)
}
