//! `states:state-machine`: Step Functions `ListStateMachines`, paginated.

use super::{collector, time, CollectError, Cx};

collector!("states:state-machine", regional, collect);

async fn collect(cx: Cx) -> Result<u64, CollectError> {
    let client = client!(aws_sdk_sfn, cx);
    let tags = cx.tags_of("states").await?;
    let mut pages = client.list_state_machines().into_paginator().send();
    let mut n = 0;
    while let Some(page) = pages.next().await {
        let page = page.map_err(CollectError::sdk)?;
        for x in page.state_machines() {
            let arn = x.state_machine_arn();
            let mut r = cx.record(&C, arn, arn.to_string(), crate::raw::to_json(x));
            r.name = Some(x.name().to_string());
            r.status = Some(x.r#type().as_str().to_string());
            r.created = time(Some(x.creation_date()));
            r.tags = tags.of(&r.arn);
            cx.emit(r).await?;
            n += 1;
        }
    }
    Ok(n)
}
