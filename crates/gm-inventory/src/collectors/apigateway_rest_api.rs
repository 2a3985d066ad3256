//! `apigateway:rest-api`: API Gateway REST APIs (`GetRestApis`, paginated; tags included).

use super::{collector, time, CollectError, Cx};

collector!("apigateway:rest-api", regional, collect);

async fn collect(cx: Cx) -> Result<u64, CollectError> {
    let client = client!(aws_sdk_apigateway, cx);
    let mut pages = client.get_rest_apis().into_paginator().send();
    let mut n = 0;
    while let Some(page) = pages.next().await {
        let page = page.map_err(CollectError::sdk)?;
        for x in page.items() {
            let id = x.id().unwrap_or_default();
            let mut r = cx.record(
                &C,
                id,
                gm_aws::arn(
                    &cx.region,
                    "apigateway",
                    &cx.region,
                    "",
                    &format!("/restapis/{id}"),
                ),
                crate::raw::to_json(x),
            );
            r.name = x.name().map(str::to_string);
            r.created = time(x.created_date());
            r.tags = x
                .tags()
                .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default();
            cx.emit(r).await?;
            n += 1;
        }
    }
    Ok(n)
}
