//! `iam:role`: `ListRoles`, paginated; global, listed once per account.

use super::{collector, time, CollectError, Cx};

collector!("iam:role", global, collect);

async fn collect(cx: Cx) -> Result<u64, CollectError> {
    let client = aws_sdk_iam::Client::new(&cx.config);
    let mut pages = client.list_roles().into_paginator().send();
    let mut n = 0;
    while let Some(page) = pages.next().await {
        let page = page.map_err(CollectError::sdk)?;
        for x in page.roles() {
            let mut r = cx.record(&C, x.role_id(), x.arn().to_string(), crate::raw::to_json(x));
            r.name = Some(x.role_name().to_string());
            r.created = time(Some(x.create_date()));
            r.tags = x
                .tags()
                .iter()
                .map(|t| (t.key().to_string(), t.value().to_string()))
                .collect();
            cx.emit(r).await?;
            n += 1;
        }
    }
    Ok(n)
}
