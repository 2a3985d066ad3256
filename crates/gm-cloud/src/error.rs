//! AWS errors, classified once so callers decide by kind, and users get a hint.

use aws_sdk_ec2::error::{ProvideErrorMetadata, SdkError};
pub use gm_aws::ErrorKind;

/// A failed AWS call.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{action} failed: {message}")]
pub struct CloudError {
    /// The API action, e.g. `RunInstances`.
    pub action: String,
    /// AWS's error code, when it sent one.
    pub code: Option<String>,
    /// AWS's message, or a description of the transport failure.
    pub message: String,
    /// Classification.
    pub kind: ErrorKind,
}

impl gm_model::Hint for CloudError {
    /// `GM-AWS-` and AWS's own code (`GM-AWS-ERROR` when it sent none).
    fn code(&self) -> String {
        format!("GM-AWS-{}", self.code.as_deref().unwrap_or("ERROR"))
    }

    fn hint(&self) -> Option<String> {
        CloudError::hint(self)
    }
}

impl CloudError {
    /// Builds an error from a code and message.
    pub fn new(action: &str, code: Option<&str>, message: impl Into<String>) -> Self {
        let kind = gm_aws::classify(code);
        CloudError {
            action: action.to_string(),
            code: code.map(str::to_string),
            message: message.into(),
            kind,
        }
    }

    /// Classifies an SDK error (see [`gm_aws::SdkFailure`]).
    pub fn from_sdk<E, R>(action: &str, err: SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        let f = gm_aws::SdkFailure::of(&err);
        CloudError {
            action: action.to_string(),
            code: f.code,
            message: f.message,
            kind: f.kind,
        }
    }

    /// What the user can do about it.
    pub fn hint(&self) -> Option<String> {
        if self.code.as_deref() == Some(crate::NO_DEFAULT_VPC) {
            return Some("give the deployment its own network: a `network:` section in the spec (see the README's spec reference), or `geusemaker deploy --network create`".into());
        }
        Some(match self.kind {
            ErrorKind::Capacity => "AWS has no capacity for this type here now: try another zone or type, or set `spot.fallback: on-demand`".into(),
            ErrorKind::Auth => "check credentials: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or --profile NAME (see `aws configure list`)".into(),
            ErrorKind::Unreachable => "check --endpoint-url / AWS_ENDPOINT_URL and the network; the region's EC2 endpoint must answer".into(),
            ErrorKind::Throttled => "AWS is throttling this account; retry later or lower --parallelism".into(),
            ErrorKind::NotFound if self.removes() => "AWS no longer has it: it was removed already (by an earlier run, or outside GeuseMaker); running the command again counts it as done".into(),
            ErrorKind::NotFound => "a resource the spec names does not exist in this region: check ids, key pair and subnet".into(),
            ErrorKind::InUse if self.removes() => "it is still used by another resource (a just-terminated instance's network interface, another group's rule, a load balancer): wait a minute and run the command again".into(),
            ErrorKind::InUse => "the resource is still used by another; wait and run the command again".into(),
            ErrorKind::Invalid | ErrorKind::Other => return None,
        })
    }

    /// Whether the failed call removes something (a delete, terminate, detach, revoke, …): a
    /// not-found there means the work is done, not that the spec names something missing.
    fn removes(&self) -> bool {
        [
            "Delete",
            "Terminate",
            "Detach",
            "Revoke",
            "Deregister",
            "Remove",
            "Disassociate",
        ]
        .iter()
        .any(|verb| self.action.starts_with(verb))
    }

    /// Short form for reports: `Code: message`.
    pub fn short(&self) -> String {
        match &self.code {
            Some(c) => format!("{c}: {}", self.message),
            None => self.message.clone(),
        }
    }
}

/// A removal whose target is already gone has done its work: not-found counts as success.
pub fn gone_is_ok(r: Result<(), CloudError>) -> Result<(), CloudError> {
    match r {
        Err(e) if e.kind == ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

/// An answer of AWS's error `code` means the state asked for is already there: success.
pub fn ok_if(code: &str, r: Result<(), CloudError>) -> Result<(), CloudError> {
    match r {
        Err(e) if e.code.as_deref() == Some(code) => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hint_knows_whether_the_failed_call_was_removing_something() {
        let gone = CloudError::new("DeleteSecurityGroup", Some("InvalidGroup.NotFound"), "gone");
        assert!(gone.hint().is_some_and(|h| h.contains("removed already")));
        let missing = CloudError::new("RunInstances", Some("InvalidSubnetID.NotFound"), "no");
        assert!(missing.hint().is_some_and(|h| h.contains("the spec names")));
        let busy = CloudError::new("DeleteSecurityGroup", Some("DependencyViolation"), "used");
        assert!(busy
            .hint()
            .is_some_and(|h| h.contains("another group's rule")));
        let busy_attach = CloudError::new("AttachVolume", Some("VolumeInUse"), "used");
        assert!(busy_attach
            .hint()
            .is_some_and(|h| !h.contains("another group's rule")));
    }
}
