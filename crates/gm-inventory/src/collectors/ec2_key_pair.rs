//! `ec2:key-pair`: `DescribeKeyPairs`, paginated.

use aws_sdk_ec2::types::KeyPairInfo;

use super::{collector, ec2_tags, named, time, CollectError, Cx};

collector!("ec2:key-pair", regional, collect);

async fn collect(cx: Cx) -> Result<u64, CollectError> {
    let client = client!(aws_sdk_ec2, cx);
    let page = client
        .describe_key_pairs()
        .send()
        .await
        .map_err(CollectError::sdk)?;
    let mut n = 0;
    for x in page.key_pairs() {
        emit(&cx, x).await?;
        n += 1;
    }
    Ok(n)
}

async fn emit(cx: &Cx, x: &KeyPairInfo) -> Result<(), CollectError> {
    let id = x.key_pair_id().unwrap_or_default();
    let mut r = cx.record(
        &C,
        id,
        cx.arn("ec2", &format!("key-pair/{id}")),
        crate::raw::to_json(x),
    );
    r.status = None;
    r.created = time(x.create_time());
    r.tags = ec2_tags(x.tags());
    r.name = x.key_name().map(str::to_string);
    cx.emit(named(r)).await
}
