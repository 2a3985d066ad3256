//! `secretsmanager:secret`: `ListSecrets`, paginated (metadata and tags; values are never
//! read).

use super::{collector, named, time, CollectError, Cx};

collector!("secretsmanager:secret", regional, collect);

async fn collect(cx: Cx) -> Result<u64, CollectError> {
    let client = client!(aws_sdk_secretsmanager, cx);
    let mut pages = client.list_secrets().into_paginator().send();
    let mut n = 0;
    while let Some(page) = pages.next().await {
        let page = page.map_err(CollectError::sdk)?;
        for x in page.secret_list() {
            let name = x.name().unwrap_or_default();
            let arn = x
                .arn()
                .map(str::to_string)
                .unwrap_or_else(|| cx.arn("secretsmanager", &format!("secret:{name}")));
            let mut r = cx.record(&C, &arn.clone(), arn, crate::raw::to_json(x));
            r.name = Some(name.to_string());
            r.status = Some(
                if x.deleted_date().is_some() {
                    "scheduled-for-deletion"
                } else {
                    "active"
                }
                .into(),
            );
            r.created = time(x.created_date());
            r.tags = x
                .tags()
                .iter()
                .filter_map(|t| {
                    Some((
                        t.key()?.to_string(),
                        t.value().unwrap_or_default().to_string(),
                    ))
                })
                .collect();
            cx.emit(named(r)).await?;
            n += 1;
        }
    }
    Ok(n)
}
