//! `iam:user`: `GetAccountAuthorizationDetails` for users, paginated at 1,000; global, listed
//! once per account. `ListUsers` leaves out the tags; this call carries them, with the user's
//! groups and inline and attached policies.

use super::{collector, iam_tags, time, CollectError, Cx};

collector!("iam:user", global, collect);

async fn collect(cx: Cx) -> Result<u64, CollectError> {
    let client = aws_sdk_iam::Client::new(&cx.config);
    let mut pages = client
        .get_account_authorization_details()
        .filter(aws_sdk_iam::types::EntityType::User)
        .max_items(1000)
        .into_paginator()
        .send();
    let mut n = 0;
    while let Some(page) = pages.next().await {
        let page = page.map_err(CollectError::sdk)?;
        for x in page.user_detail_list() {
            let (Some(id), Some(arn)) = (x.user_id(), x.arn()) else {
                continue;
            };
            let mut r = cx.record(&C, id, arn.to_string(), crate::raw::to_json(x));
            r.name = x.user_name().map(str::to_string);
            r.created = time(x.create_date());
            r.tags = iam_tags(x.tags());
            cx.emit(r).await?;
            n += 1;
        }
    }
    Ok(n)
}
