//! Which accounts and regions a scan covers.

use crate::collectors::CollectError;

/// The account the credentials in `config` belong to (`GetCallerIdentity`).
pub async fn caller_account(config: &aws_config::SdkConfig) -> Result<String, CollectError> {
    let out = aws_sdk_sts::Client::new(config)
        .get_caller_identity()
        .send()
        .await
        .map_err(CollectError::sdk)?;
    Ok(out.account().unwrap_or_default().to_string())
}

/// The regions enabled for the account (`DescribeRegions`, opted-in or not requiring it).
pub async fn enabled_regions(config: &aws_config::SdkConfig) -> Result<Vec<String>, CollectError> {
    let out = aws_sdk_ec2::Client::new(config)
        .describe_regions()
        .send()
        .await
        .map_err(CollectError::sdk)?;
    let mut regions: Vec<String> = out
        .regions()
        .iter()
        .filter(|r| r.opt_in_status().is_none_or(|s| s != "not-opted-in"))
        .filter_map(|r| r.region_name().map(str::to_string))
        .collect();
    regions.sort();
    Ok(regions)
}
