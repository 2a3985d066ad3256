//! `apigateway:http-api`: API Gateway v2 HTTP and WebSocket APIs (`GetApis`, page by page).

use super::{collector, time, CollectError, Cx};

collector!("apigateway:http-api", regional, collect);

async fn collect(cx: Cx) -> Result<u64, CollectError> {
    let client = client!(aws_sdk_apigatewayv2, cx);
    let mut token: Option<String> = None;
    let mut n = 0;
    loop {
        let page = client
            .get_apis()
            .set_next_token(token.take())
            .max_results("100")
            .send()
            .await
            .map_err(CollectError::sdk)?;
        for x in page.items() {
            let id = x.api_id().unwrap_or_default();
            let mut r = cx.record(
                &C,
                id,
                gm_aws::arn(
                    &cx.region,
                    "apigateway",
                    &cx.region,
                    "",
                    &format!("/apis/{id}"),
                ),
                crate::raw::to_json(x),
            );
            r.name = x.name().map(str::to_string);
            r.status = x.protocol_type().map(|p| p.as_str().to_string());
            r.created = time(x.created_date());
            r.tags = x
                .tags()
                .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default();
            cx.emit(r).await?;
            n += 1;
        }
        match page.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_string()),
            _ => break,
        }
    }
    Ok(n)
}
