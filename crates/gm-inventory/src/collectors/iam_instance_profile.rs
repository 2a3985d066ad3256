//! `iam:instance-profile`: `ListInstanceProfiles`, paginated; global, listed once per account.

use super::{collector, iam_tags, time, CollectError, Cx};

collector!("iam:instance-profile", global, collect);

async fn collect(cx: Cx) -> Result<u64, CollectError> {
    let client = client!(aws_sdk_iam, cx);
    let mut pages = client.list_instance_profiles().into_paginator().send();
    let mut n = 0;
    while let Some(page) = pages.next().await {
        let page = page.map_err(CollectError::sdk)?;
        for x in page.instance_profiles() {
            let mut r = cx.record(
                &C,
                x.instance_profile_id(),
                x.arn().to_string(),
                crate::raw::to_json(x),
            );
            r.name = Some(x.instance_profile_name().to_string());
            r.created = time(Some(x.create_date()));
            // Empty from AWS, whose list call leaves tags out (they are a call per resource).
            r.tags = iam_tags(x.tags());
            cx.emit(r).await?;
            n += 1;
        }
    }
    Ok(n)
}
