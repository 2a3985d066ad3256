//! `autoscaling:launch-configuration`: `DescribeLaunchConfigurations`, paginated.

use super::{collector, time, CollectError, Cx};

collector!("autoscaling:launch-configuration", regional, collect);

async fn collect(cx: Cx) -> Result<u64, CollectError> {
    let client = client!(aws_sdk_autoscaling, cx);
    let mut pages = client
        .describe_launch_configurations()
        .into_paginator()
        .send();
    let mut n = 0;
    while let Some(page) = pages.next().await {
        let page = page.map_err(CollectError::sdk)?;
        for x in page.launch_configurations() {
            let name = x.launch_configuration_name().unwrap_or_default();
            let arn = x
                .launch_configuration_arn()
                .map(str::to_string)
                .unwrap_or_else(|| {
                    cx.arn(
                        "autoscaling",
                        &format!("launchConfiguration:*:launchConfigurationName/{name}"),
                    )
                });
            let mut r = cx.record(&C, name, arn, crate::raw::to_json(x));
            r.name = Some(name.to_string());
            r.created = time(x.created_time());
            cx.emit(r).await?;
            n += 1;
        }
    }
    Ok(n)
}
