//! `route53:hosted-zone`: `ListHostedZones`, paginated; global, listed once per account.

use super::{collector, CollectError, Cx};

collector!("route53:hosted-zone", global, collect);

async fn collect(cx: Cx) -> Result<u64, CollectError> {
    let client = aws_sdk_route53::Client::new(&cx.config);
    let mut pages = client.list_hosted_zones().into_paginator().send();
    let mut n = 0;
    while let Some(page) = pages.next().await {
        let page = page.map_err(CollectError::sdk)?;
        for x in page.hosted_zones() {
            let id = x.id().trim_start_matches("/hostedzone/");
            let mut r = cx.record(
                &C,
                id,
                format!("arn:aws:route53:::hostedzone/{id}"),
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
            cx.emit(r).await?;
            n += 1;
        }
    }
    Ok(n)
}
