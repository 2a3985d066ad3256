//! `iam:role`: `GetAccountAuthorizationDetails` for roles, then `ListRoles`, both paginated at
//! 1,000; global, listed once per account. `ListRoles` leaves out tags, policies and last use;
//! the details leave out the description and session length: a record has both, for two
//! calls per 1,000 roles.

use super::{collector, time, CollectError, Cx, IamDetails};

collector!("iam:role", global, collect);

async fn collect(cx: Cx) -> Result<u64, CollectError> {
    let client = client!(aws_sdk_iam, cx);
    let mut details = IamDetails::default();
    let mut pages = client
        .get_account_authorization_details()
        .filter(aws_sdk_iam::types::EntityType::Role)
        .max_items(1000)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        for x in page.map_err(CollectError::sdk)?.role_detail_list() {
            if let Some(id) = x.role_id() {
                details.insert(id, x.tags(), crate::raw::to_json(x));
            }
        }
    }
    let mut pages = client.list_roles().max_items(1000).into_paginator().send();
    let mut n = 0;
    while let Some(page) = pages.next().await {
        let page = page.map_err(CollectError::sdk)?;
        for x in page.roles() {
            let mut r = cx.record(&C, x.role_id(), x.arn().to_string(), crate::raw::to_json(x));
            r.name = Some(x.role_name().to_string());
            r.created = time(Some(x.create_date()));
            details.complete(&mut r);
            cx.emit(r).await?;
            n += 1;
        }
    }
    Ok(n)
}
