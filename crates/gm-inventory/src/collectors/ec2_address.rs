//! `ec2:elastic-ip`: `DescribeAddresses` (one call: the API has no pages).

use super::{collector, ec2_tags, named, CollectError, Cx};

collector!("ec2:elastic-ip", regional, collect);

async fn collect(cx: Cx) -> Result<u64, CollectError> {
    let client = client!(aws_sdk_ec2, cx);
    let out = client
        .describe_addresses()
        .send()
        .await
        .map_err(CollectError::sdk)?;
    let mut n = 0;
    for x in out.addresses() {
        let id = x
            .allocation_id()
            .or(x.public_ip())
            .unwrap_or_default()
            .to_string();
        let mut r = cx.record(
            &C,
            &id,
            cx.arn("ec2", &format!("elastic-ip/{id}")),
            crate::raw::to_json(x),
        );
        r.status = Some(
            if x.association_id().is_some() {
                "associated"
            } else {
                "unassociated"
            }
            .into(),
        );
        r.tags = ec2_tags(x.tags());
        // The Name tag first; the address otherwise.
        let mut r = named(r);
        if r.name.is_none() {
            r.name = x.public_ip().map(str::to_string);
        }
        cx.emit(r).await?;
        n += 1;
    }
    Ok(n)
}
