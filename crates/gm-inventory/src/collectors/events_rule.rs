//! `events:rule`: EventBridge `ListRules` on the default bus, page by page (`NextToken`).

use super::{collector, CollectError, Cx};

collector!("events:rule", regional, collect);

async fn collect(cx: Cx) -> Result<u64, CollectError> {
    let client = client!(aws_sdk_eventbridge, cx);
    let tags = cx.tags_of("events").await?;
    let mut token: Option<String> = None;
    let mut n = 0;
    loop {
        let page = client
            .list_rules()
            .set_next_token(token.take())
            .limit(100)
            .send()
            .await
            .map_err(CollectError::sdk)?;
        for x in page.rules() {
            let name = x.name().unwrap_or_default();
            let arn = x
                .arn()
                .map(str::to_string)
                .unwrap_or_else(|| cx.arn("events", &format!("rule/{name}")));
            let mut r = cx.record(&C, &arn.clone(), arn, crate::raw::to_json(x));
            r.name = Some(name.to_string());
            r.status = x.state().map(|s| s.as_str().to_string());
            r.tags = tags.of(&r.arn);
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
