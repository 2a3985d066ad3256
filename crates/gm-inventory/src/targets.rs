//! What a scan covers, as a user asks for it: which resource types, which accounts (the
//! caller's, named ones, or the whole organization, each entered through `AssumeRole`) and
//! which regions (the default one, named ones, or all the account has enabled). The CLI and the
//! server resolve a request the same way, here.

use crate::accounts;
use crate::collectors::{registry, CollectError, Collector};
use crate::model::ScanError;
use crate::scan::Target;

/// A scan as asked for; `all` in `accounts` or `regions` means every one.
#[derive(Debug, Clone, Default)]
pub struct ScanRequest {
    /// Account ids; empty: the caller's; `all`: the organization's (and the caller's).
    pub accounts: Vec<String>,
    /// Regions; empty: `default_region`; `all`: every region the caller's account enabled.
    pub regions: Vec<String>,
    /// Resource types (`ec2:instance`, …); empty: every one.
    pub types: Vec<String>,
    /// The role other accounts are entered through: a name, or an ARN with `ACCOUNT`.
    pub role: String,
    /// `sts:ExternalId` for that role.
    pub external_id: Option<String>,
}

/// A request resolved into what [`crate::scan`] takes.
#[derive(Debug)]
pub struct ResolvedScan {
    /// The caller's account.
    pub caller: String,
    /// Accounts to scan, with their credentials.
    pub targets: Vec<Target>,
    /// Accounts whose role refused us, as failed parts (the scan goes on without them).
    pub refused: Vec<ScanError>,
    /// Regions to scan.
    pub regions: Vec<String>,
    /// Types to scan.
    pub collectors: Vec<Collector>,
}

/// Why a request could not be resolved.
#[derive(Debug)]
pub enum ResolveError {
    /// A type the registry does not have.
    UnknownType(String),
    /// Not a 12-digit account id.
    BadAccount(String),
    /// An AWS call failed: what it was for, the error, and what to do when that is more than
    /// checking the credentials.
    Aws {
        /// What the call was for.
        doing: &'static str,
        /// What AWS said.
        error: CollectError,
        /// The fix particular to this call.
        hint: Option<&'static str>,
    },
}

/// Resolves `req` with the caller's `config`: checks the types and account ids first (no
/// request is sent for a bad one), then asks AWS who the caller is, the regions (for `all`), the
/// organization's accounts (for `all`), and assumes the role in every other account.
pub async fn resolve(
    config: &aws_config::SdkConfig,
    default_region: &str,
    req: &ScanRequest,
) -> Result<ResolvedScan, ResolveError> {
    let all = registry();
    let collectors = if req.types.is_empty() {
        all
    } else {
        let mut chosen = Vec::new();
        for t in &req.types {
            match all.iter().find(|c| c.rtype == t) {
                Some(c) => chosen.push(*c),
                None => return Err(ResolveError::UnknownType(t.clone())),
            }
        }
        chosen
    };
    let named = !req.accounts.is_empty() && !req.accounts.iter().any(|x| x == "all");
    if named {
        if let Some(bad) = req
            .accounts
            .iter()
            .find(|id| id.len() != 12 || !id.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(ResolveError::BadAccount(bad.clone()));
        }
    }
    let aws = |doing: &'static str| {
        move |error| ResolveError::Aws {
            doing,
            error,
            hint: None,
        }
    };
    let caller = accounts::caller_account(config)
        .await
        .map_err(aws("cannot tell which account the credentials belong to"))?;
    let regions = if req.regions.is_empty() {
        vec![default_region.to_string()]
    } else if req.regions.iter().any(|r| r == "all") {
        accounts::enabled_regions(config)
            .await
            .map_err(aws("cannot list the account's regions"))?
    } else {
        req.regions.clone()
    };
    let ids: Vec<String> = if req.accounts.is_empty() {
        vec![caller.clone()]
    } else if named {
        req.accounts.clone()
    } else {
        let org = accounts::organization_accounts(config).await.map_err(|error| {
            ResolveError::Aws {
                doing: "cannot list the organization's accounts",
                error,
                hint: Some("`--accounts all` needs organizations:ListAccounts from the management (or a delegated administrator) account; or name the accounts: --accounts 111111111111,222222222222"),
            }
        })?;
        let mut ids: Vec<String> = org.into_iter().map(|o| o.id).collect();
        if !ids.contains(&caller) {
            ids.insert(0, caller.clone());
        }
        ids
    };
    // Every other account through AssumeRole; one that refuses is reported, the rest go on.
    let mut targets = Vec::new();
    let mut refused = Vec::new();
    for id in ids {
        if id == caller {
            targets.push(Target {
                account: id,
                config: config.clone(),
            });
            continue;
        }
        match accounts::assume(config, &id, &req.role, req.external_id.as_deref()).await {
            Ok(c) => targets.push(Target {
                account: id,
                config: c,
            }),
            Err(e) => refused.push(ScanError {
                account: id,
                region: "global".into(),
                rtype: "*".into(),
                code: e.code,
                message: e.message,
            }),
        }
    }
    Ok(ResolvedScan {
        caller,
        targets,
        refused,
        regions,
        collectors,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A configuration whose calls would fail: the checks below must not send any.
    fn offline() -> aws_config::SdkConfig {
        aws_config::SdkConfig::builder()
            .region(aws_config::Region::new("us-east-1"))
            .build()
    }

    #[tokio::test]
    async fn unknown_types_and_bad_account_ids_are_refused_before_any_request() {
        let req = ScanRequest {
            types: vec!["ec2:vpc".into(), "ec2:nope".into()],
            ..ScanRequest::default()
        };
        assert!(matches!(
            resolve(&offline(), "us-east-1", &req).await,
            Err(ResolveError::UnknownType(t)) if t == "ec2:nope"
        ));
        let req = ScanRequest {
            accounts: vec!["111111111111".into(), "12345".into()],
            ..ScanRequest::default()
        };
        assert!(matches!(
            resolve(&offline(), "us-east-1", &req).await,
            Err(ResolveError::BadAccount(a)) if a == "12345"
        ));
    }
}
