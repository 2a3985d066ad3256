//! `elbv2:target-group`: `DescribeTargetGroups`, paginated, with tags (`DescribeTags`, 20 per
//! call).

use std::collections::{BTreeMap, HashMap};

use super::{collector, named, CollectError, Cx};

collector!("elbv2:target-group", regional, collect);

async fn collect(cx: Cx) -> Result<u64, CollectError> {
    let client = client!(aws_sdk_elasticloadbalancingv2, cx);
    let mut pages = client.describe_target_groups().into_paginator().send();
    let mut n = 0;
    while let Some(page) = pages.next().await {
        let page = page.map_err(CollectError::sdk)?;
        for chunk in page.target_groups().chunks(20) {
            let arns: Vec<String> = chunk
                .iter()
                .filter_map(|t| t.target_group_arn().map(str::to_string))
                .collect();
            let tags = tags_of(&client, &arns).await?;
            for x in chunk {
                let arn = x.target_group_arn().unwrap_or_default().to_string();
                let mut r = cx.record(&C, &arn, arn.clone(), crate::raw::to_json(x));
                r.name = x.target_group_name().map(str::to_string);
                r.status = Some(
                    if x.load_balancer_arns().is_empty() {
                        "unused"
                    } else {
                        "in-use"
                    }
                    .into(),
                );
                r.tags = tags.get(&arn).cloned().unwrap_or_default();
                cx.emit(named(r)).await?;
                n += 1;
            }
        }
    }
    Ok(n)
}

/// Tags of up to 20 ELBv2 resources, by ARN.
pub(super) async fn tags_of(
    client: &aws_sdk_elasticloadbalancingv2::Client,
    arns: &[String],
) -> Result<HashMap<String, BTreeMap<String, String>>, CollectError> {
    if arns.is_empty() {
        return Ok(HashMap::new());
    }
    let out = client
        .describe_tags()
        .set_resource_arns(Some(arns.to_vec()))
        .send()
        .await
        .map_err(CollectError::sdk)?;
    Ok(out
        .tag_descriptions()
        .iter()
        .map(|d| {
            (
                d.resource_arn().unwrap_or_default().to_string(),
                d.tags()
                    .iter()
                    .map(|t| {
                        (
                            t.key().unwrap_or_default().to_string(),
                            t.value().unwrap_or_default().to_string(),
                        )
                    })
                    .collect(),
            )
        })
        .collect())
}
