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

/// An account of the organization.
#[derive(Debug, Clone, serde::Serialize)]
pub struct OrgAccount {
    /// Account id.
    pub id: String,
    /// Account name.
    pub name: String,
}

/// The active accounts of the caller's AWS Organization (`ListAccounts`, paginated).
pub async fn organization_accounts(
    config: &aws_config::SdkConfig,
) -> Result<Vec<OrgAccount>, CollectError> {
    let client = aws_sdk_organizations::Client::new(config);
    let mut pages = client.list_accounts().into_paginator().send();
    let mut out = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(CollectError::sdk)?;
        for a in page.accounts() {
            #[allow(deprecated)]
            let active = a
                .status()
                .is_none_or(|s| *s == aws_sdk_organizations::types::AccountStatus::Active);
            if active {
                out.push(OrgAccount {
                    id: a.id().unwrap_or_default().to_string(),
                    name: a.name().unwrap_or_default().to_string(),
                });
            }
        }
    }
    Ok(out)
}

/// A configuration whose credentials come from assuming `role` in `account` (short-lived, and
/// refreshed by the SDK as they expire). The role is assumed once here, so a refusal is known
/// before the scan starts.
pub async fn assume(
    base: &aws_config::SdkConfig,
    account: &str,
    role: &str,
    external_id: Option<&str>,
) -> Result<aws_config::SdkConfig, CollectError> {
    use aws_credential_types::provider::ProvideCredentials;
    let arn = if role.starts_with("arn:") {
        role.replace("ACCOUNT", account)
    } else {
        let region = base.region().map_or("us-east-1", |r| r.as_ref());
        gm_aws::arn(region, "iam", "", account, &format!("role/{role}"))
    };
    let mut b = aws_config::sts::AssumeRoleProvider::builder(arn.clone())
        .session_name("geusemaker-inventory")
        .configure(base);
    if let Some(id) = external_id {
        b = b.external_id(id);
    }
    let provider = b.build().await;
    provider
        .provide_credentials()
        .await
        .map_err(|e| CollectError {
            code: "AssumeRoleFailed".into(),
            message: format!("cannot assume {arn}: {e}"),
        })?;
    Ok(base
        .to_builder()
        .credentials_provider(
            aws_credential_types::provider::SharedCredentialsProvider::new(provider),
        )
        .build())
}
