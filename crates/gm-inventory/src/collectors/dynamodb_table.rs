//! `dynamodb:table`: `ListTables`, paginated, then `DescribeTable` for each (up to 8 at once).

use futures::stream::{self, StreamExt};

use super::{collector, time, CollectError, Cx};

collector!("dynamodb:table", regional, collect);

async fn collect(cx: Cx) -> Result<u64, CollectError> {
    let client = client!(aws_sdk_dynamodb, cx);
    let tags = cx.tags_of("dynamodb").await?;
    let mut pages = client.list_tables().into_paginator().send();
    let mut names = Vec::new();
    while let Some(page) = pages.next().await {
        names.extend(
            page.map_err(CollectError::sdk)?
                .table_names()
                .iter()
                .cloned(),
        );
    }
    let mut described = stream::iter(names)
        .map(|name| {
            let client = client.clone();
            async move { client.describe_table().table_name(name).send().await }
        })
        .buffer_unordered(8);
    let mut n = 0;
    while let Some(out) = described.next().await {
        let out = out.map_err(CollectError::sdk)?;
        let Some(x) = out.table() else { continue };
        let name = x.table_name().unwrap_or_default();
        let arn = x
            .table_arn()
            .map(str::to_string)
            .unwrap_or_else(|| cx.arn("dynamodb", &format!("table/{name}")));
        let mut r = cx.record(&C, name, arn, crate::raw::to_json(x));
        r.name = Some(name.to_string());
        r.status = x.table_status().map(|s| s.as_str().to_string());
        r.created = time(x.creation_date_time());
        r.tags = tags.of(&r.arn);
        cx.emit(r).await?;
        n += 1;
    }
    Ok(n)
}
