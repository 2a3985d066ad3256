//! `acm:certificate`: `ListCertificates`, paginated.

use super::{collector, time, CollectError, Cx};

collector!("acm:certificate", regional, collect);

async fn collect(cx: Cx) -> Result<u64, CollectError> {
    let client = client!(aws_sdk_acm, cx);
    let tags = cx.tags_of("acm").await?;
    let mut pages = client.list_certificates().into_paginator().send();
    let mut n = 0;
    while let Some(page) = pages.next().await {
        let page = page.map_err(CollectError::sdk)?;
        for x in page.certificate_summary_list() {
            let arn = x.certificate_arn().unwrap_or_default();
            let mut r = cx.record(&C, arn, arn.to_string(), crate::raw::to_json(x));
            r.name = x.domain_name().map(str::to_string);
            r.status = x.status().map(|s| s.as_str().to_string());
            r.created = time(x.created_at());
            r.tags = tags.of(&r.arn);
            cx.emit(r).await?;
            n += 1;
        }
    }
    Ok(n)
}
