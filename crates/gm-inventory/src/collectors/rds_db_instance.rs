//! `rds:db-instance`: `DescribeDBInstances`, paginated (tags come with each instance;
//! DocumentDB and Neptune instances are listed here too, with their engine).

use super::{collector, named, time, CollectError, Cx};

collector!("rds:db-instance", regional, collect);

async fn collect(cx: Cx) -> Result<u64, CollectError> {
    let client = client!(aws_sdk_rds, cx);
    let mut pages = client.describe_db_instances().into_paginator().send();
    let mut n = 0;
    while let Some(page) = pages.next().await {
        let page = page.map_err(CollectError::sdk)?;
        for x in page.db_instances() {
            let id = x.db_instance_identifier().unwrap_or_default();
            let arn = x
                .db_instance_arn()
                .map(str::to_string)
                .unwrap_or_else(|| cx.arn("rds", &format!("db:{id}")));
            let mut r = cx.record(&C, id, arn, crate::raw::to_json(x));
            r.name = Some(id.to_string());
            r.status = x.db_instance_status().map(str::to_string);
            r.created = time(x.instance_create_time());
            r.tags = rds_tags(x.tag_list());
            cx.emit(named(r)).await?;
            n += 1;
        }
    }
    Ok(n)
}

/// RDS tags as a map.
pub(super) fn rds_tags(
    tags: &[aws_sdk_rds::types::Tag],
) -> std::collections::BTreeMap<String, String> {
    tags.iter()
        .filter_map(|t| {
            Some((
                t.key()?.to_string(),
                t.value().unwrap_or_default().to_string(),
            ))
        })
        .collect()
}
