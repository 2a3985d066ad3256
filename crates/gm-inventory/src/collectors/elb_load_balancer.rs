//! `elb:load-balancer`: Classic Load Balancers (`DescribeLoadBalancers`, paginated), with tags
//! (`DescribeTags`, 20 names per call).

use std::collections::{BTreeMap, HashMap};

use super::{collector, named, time, CollectError, Cx};

collector!("elb:load-balancer", regional, collect);

async fn collect(cx: Cx) -> Result<u64, CollectError> {
    let client = client!(aws_sdk_elasticloadbalancing, cx);
    let mut pages = client.describe_load_balancers().into_paginator().send();
    let mut n = 0;
    while let Some(page) = pages.next().await {
        let page = page.map_err(CollectError::sdk)?;
        for chunk in page.load_balancer_descriptions().chunks(20) {
            let names: Vec<String> = chunk
                .iter()
                .filter_map(|l| l.load_balancer_name().map(str::to_string))
                .collect();
            let tags = tags_of(&client, &names).await?;
            for x in chunk {
                let name = x.load_balancer_name().unwrap_or_default();
                let mut r = cx.record(
                    &C,
                    name,
                    cx.arn("elasticloadbalancing", &format!("loadbalancer/{name}")),
                    crate::raw::to_json(x),
                );
                r.name = Some(name.to_string());
                r.created = time(x.created_time());
                r.tags = tags.get(name).cloned().unwrap_or_default();
                cx.emit(named(r)).await?;
                n += 1;
            }
        }
    }
    Ok(n)
}

async fn tags_of(
    client: &aws_sdk_elasticloadbalancing::Client,
    names: &[String],
) -> Result<HashMap<String, BTreeMap<String, String>>, CollectError> {
    if names.is_empty() {
        return Ok(HashMap::new());
    }
    let out = client
        .describe_tags()
        .set_load_balancer_names(Some(names.to_vec()))
        .send()
        .await
        .map_err(CollectError::sdk)?;
    Ok(out
        .tag_descriptions()
        .iter()
        .map(|d| {
            (
                d.load_balancer_name().unwrap_or_default().to_string(),
                d.tags()
                    .iter()
                    .map(|t| {
                        (
                            t.key().to_string(),
                            t.value().unwrap_or_default().to_string(),
                        )
                    })
                    .collect(),
            )
        })
        .collect())
}
