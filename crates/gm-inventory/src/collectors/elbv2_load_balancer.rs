//! `elbv2:load-balancer`: application, network and gateway load balancers
//! (`DescribeLoadBalancers`, paginated), with their tags (`DescribeTags`, 20 per call).

use super::{collector, named, time, CollectError, Cx};

collector!("elbv2:load-balancer", regional, collect);

async fn collect(cx: Cx) -> Result<u64, CollectError> {
    let client = client!(aws_sdk_elasticloadbalancingv2, cx);
    let mut pages = client.describe_load_balancers().into_paginator().send();
    let mut n = 0;
    while let Some(page) = pages.next().await {
        let page = page.map_err(CollectError::sdk)?;
        for chunk in page.load_balancers().chunks(20) {
            let arns: Vec<String> = chunk
                .iter()
                .filter_map(|l| l.load_balancer_arn().map(str::to_string))
                .collect();
            let tags = super::elbv2_target_group::tags_of(&client, &arns).await?;
            for x in chunk {
                let arn = x.load_balancer_arn().unwrap_or_default().to_string();
                let mut r = cx.record(&C, &arn, arn.clone(), crate::raw::to_json(x));
                r.name = x.load_balancer_name().map(str::to_string);
                r.status = x
                    .state()
                    .and_then(|s| s.code())
                    .map(|c| c.as_str().to_string());
                r.created = time(x.created_time());
                r.tags = tags.get(&arn).cloned().unwrap_or_default();
                cx.emit(named(r)).await?;
                n += 1;
            }
        }
    }
    Ok(n)
}
