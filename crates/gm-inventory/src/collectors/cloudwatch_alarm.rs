//! `cloudwatch:alarm`: metric and composite alarms (`DescribeAlarms`, paginated).

use super::{collector, time, CollectError, Cx};

collector!("cloudwatch:alarm", regional, collect);

async fn collect(cx: Cx) -> Result<u64, CollectError> {
    let client = client!(aws_sdk_cloudwatch, cx);
    let tags = cx.tags_of("cloudwatch").await?;
    let mut pages = client
        .describe_alarms()
        .alarm_types(aws_sdk_cloudwatch::types::AlarmType::MetricAlarm)
        .alarm_types(aws_sdk_cloudwatch::types::AlarmType::CompositeAlarm)
        .into_paginator()
        .send();
    let mut n = 0;
    while let Some(page) = pages.next().await {
        let page = page.map_err(CollectError::sdk)?;
        for x in page.metric_alarms() {
            let name = x.alarm_name().unwrap_or_default();
            let arn = x
                .alarm_arn()
                .map(str::to_string)
                .unwrap_or_else(|| cx.arn("cloudwatch", &format!("alarm:{name}")));
            let mut r = cx.record(&C, name, arn, crate::raw::to_json(x));
            r.name = Some(name.to_string());
            r.status = x.state_value().map(|s| s.as_str().to_string());
            r.created = time(x.alarm_configuration_updated_timestamp());
            r.tags = tags.of(&r.arn);
            cx.emit(r).await?;
            n += 1;
        }
        for x in page.composite_alarms() {
            let name = x.alarm_name().unwrap_or_default();
            let arn = x
                .alarm_arn()
                .map(str::to_string)
                .unwrap_or_else(|| cx.arn("cloudwatch", &format!("alarm:{name}")));
            let mut r = cx.record(&C, name, arn, crate::raw::to_json(x));
            r.name = Some(name.to_string());
            r.status = x.state_value().map(|s| s.as_str().to_string());
            r.created = time(x.alarm_configuration_updated_timestamp());
            r.tags = tags.of(&r.arn);
            cx.emit(r).await?;
            n += 1;
        }
    }
    Ok(n)
}
