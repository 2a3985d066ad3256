//! `efs:file-system`: `DescribeFileSystems`, paginated (tags come with each file system).

use super::{collector, named, time, CollectError, Cx};

collector!("efs:file-system", regional, collect);

async fn collect(cx: Cx) -> Result<u64, CollectError> {
    let client = client!(aws_sdk_efs, cx);
    let mut pages = client.describe_file_systems().into_paginator().send();
    let mut n = 0;
    while let Some(page) = pages.next().await {
        let page = page.map_err(CollectError::sdk)?;
        for x in page.file_systems() {
            let id = x.file_system_id();
            let arn = x
                .file_system_arn()
                .map(str::to_string)
                .unwrap_or_else(|| cx.arn("elasticfilesystem", &format!("file-system/{id}")));
            let mut r = cx.record(&C, id, arn, crate::raw::to_json(x));
            r.name = x.name().map(str::to_string);
            r.status = Some(x.life_cycle_state().as_str().to_string());
            r.created = time(Some(x.creation_time()));
            r.tags = x
                .tags()
                .iter()
                .map(|t| (t.key().to_string(), t.value().to_string()))
                .collect();
            cx.emit(named(r)).await?;
            n += 1;
        }
    }
    Ok(n)
}
