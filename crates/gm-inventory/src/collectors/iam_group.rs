//! `iam:group`: `ListGroups`, paginated (groups carry no tags); global, listed once per account.

use super::{collector, time, CollectError, Cx};

collector!("iam:group", global, collect);

async fn collect(cx: Cx) -> Result<u64, CollectError> {
    let client = client!(aws_sdk_iam, cx);
    let mut pages = client.list_groups().into_paginator().send();
    let mut n = 0;
    while let Some(page) = pages.next().await {
        let page = page.map_err(CollectError::sdk)?;
        for x in page.groups() {
            let mut r = cx.record(
                &C,
                x.group_id(),
                x.arn().to_string(),
                crate::raw::to_json(x),
            );
            r.name = Some(x.group_name().to_string());
            r.created = time(Some(x.create_date()));
            cx.emit(r).await?;
            n += 1;
        }
    }
    Ok(n)
}
