//! `iam:policy`: customer managed policies (`ListPolicies` with scope `Local`), paginated;
//! global, listed once per account.

use aws_sdk_iam::types::PolicyScopeType;

use super::{collector, iam_tags, time, CollectError, Cx};

collector!("iam:policy", global, collect);

async fn collect(cx: Cx) -> Result<u64, CollectError> {
    let client = client!(aws_sdk_iam, cx);
    let mut pages = client
        .list_policies()
        .scope(PolicyScopeType::Local)
        .into_paginator()
        .send();
    let mut n = 0;
    while let Some(page) = pages.next().await {
        let page = page.map_err(CollectError::sdk)?;
        for x in page.policies() {
            let id = x.policy_id().unwrap_or_default();
            let arn = x.arn().unwrap_or_default().to_string();
            let mut r = cx.record(&C, id, arn, crate::raw::to_json(x));
            r.name = x.policy_name().map(str::to_string);
            r.status = Some(
                if x.attachment_count().unwrap_or(0) > 0 {
                    "attached"
                } else {
                    "unattached"
                }
                .into(),
            );
            r.created = time(x.create_date());
            // Empty from AWS, whose list call leaves tags out (they are a call per resource).
            r.tags = iam_tags(x.tags());
            cx.emit(r).await?;
            n += 1;
        }
    }
    Ok(n)
}
