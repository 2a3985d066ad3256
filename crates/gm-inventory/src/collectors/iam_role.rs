//! `iam:role`: `GetAccountAuthorizationDetails` for roles, paginated at 1,000; global, listed
//! once per account. `ListRoles` would be the same number of calls but leaves out the tags
//! (and the last use); this call carries them, with the role's inline and attached policies.

use super::{collector, iam_tags, time, CollectError, Cx};

collector!("iam:role", global, collect);

async fn collect(cx: Cx) -> Result<u64, CollectError> {
    let client = aws_sdk_iam::Client::new(&cx.config);
    let mut pages = client
        .get_account_authorization_details()
        .filter(aws_sdk_iam::types::EntityType::Role)
        .max_items(1000)
        .into_paginator()
        .send();
    let mut n = 0;
    while let Some(page) = pages.next().await {
        let page = page.map_err(CollectError::sdk)?;
        for x in page.role_detail_list() {
            let (Some(id), Some(arn)) = (x.role_id(), x.arn()) else {
                continue;
            };
            let mut r = cx.record(&C, id, arn.to_string(), crate::raw::to_json(x));
            r.name = x.role_name().map(str::to_string);
            r.created = time(x.create_date());
            r.tags = iam_tags(x.tags());
            cx.emit(r).await?;
            n += 1;
        }
    }
    Ok(n)
}
