//! `route53:hosted-zone`: `ListHostedZones`, paginated; global, listed once per account. Tags
//! from `ListTagsForResources`, ten zones a call (Route 53's own batch), as each page arrives.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_route53::types::TagResourceType;

use super::{collector, CollectError, Cx};

collector!("route53:hosted-zone", global, collect);

/// The most zones `ListTagsForResources` takes at once.
const TAG_BATCH: usize = 10;

async fn collect(cx: Cx) -> Result<u64, CollectError> {
    let client = client!(aws_sdk_route53, cx);
    let mut pages = client.list_hosted_zones().into_paginator().send();
    let mut n = 0;
    while let Some(page) = pages.next().await {
        let page = page.map_err(CollectError::sdk)?;
        let ids: Vec<&str> = page
            .hosted_zones()
            .iter()
            .map(|x| x.id().trim_start_matches("/hostedzone/"))
            .collect();
        let mut tags: HashMap<String, BTreeMap<String, String>> = HashMap::new();
        for batch in ids.chunks(TAG_BATCH) {
            let out = client
                .list_tags_for_resources()
                .resource_type(TagResourceType::Hostedzone)
                .set_resource_ids(Some(batch.iter().map(|s| s.to_string()).collect()))
                .send()
                .await
                .map_err(CollectError::sdk)?;
            for set in out.resource_tag_sets() {
                let Some(id) = set.resource_id() else {
                    continue;
                };
                let of = set
                    .tags()
                    .iter()
                    .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
                    .collect();
                tags.insert(id.trim_start_matches("/hostedzone/").to_string(), of);
            }
        }
        for (x, id) in page.hosted_zones().iter().zip(ids) {
            let mut r = cx.record(
                &C,
                id,
                gm_aws::arn(&cx.region, "route53", "", "", &format!("hostedzone/{id}")),
                crate::raw::to_json(x),
            );
            r.name = Some(x.name().to_string());
            r.status = Some(
                if x.config().is_some_and(|c| c.private_zone()) {
                    "private"
                } else {
                    "public"
                }
                .into(),
            );
            r.tags = tags.remove(id).unwrap_or_default();
            cx.emit(r).await?;
            n += 1;
        }
    }
    Ok(n)
}
