//! AWS errors, classified once so callers decide by kind, and users get a hint.

use aws_sdk_ec2::error::{ProvideErrorMetadata, SdkError};

/// What sort of failure an AWS call had.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorKind {
    /// AWS has no capacity for the request (spot or on-demand) in that place.
    Capacity,
    /// A referenced resource does not exist.
    NotFound,
    /// Credentials missing, expired or not allowed.
    Auth,
    /// Still throttled after retries.
    Throttled,
    /// The endpoint could not be reached.
    Unreachable,
    /// The resource is still in use (e.g. a security group with instances).
    InUse,
    /// AWS rejected the request as invalid.
    Invalid,
    /// Anything else.
    Other,
}

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

const CAPACITY: &[&str] = &[
    "InsufficientInstanceCapacity",
    "InsufficientHostCapacity",
    "InsufficientCapacity",
    "InsufficientReservedInstanceCapacity",
    "SpotMaxPriceTooLow",
    "MaxSpotInstanceCountExceeded",
    "InsufficientCapacityOnOutpost",
    "capacity-not-available",
];

impl CloudError {
    /// Builds an error from a code and message.
    pub fn new(action: &str, code: Option<&str>, message: impl Into<String>) -> Self {
        let kind = match code {
            Some(c) if CAPACITY.contains(&c) => ErrorKind::Capacity,
            Some(c)
                if c.contains("NotFound")
                    || c.starts_with("InvalidAMIID")
                    || c.starts_with("NoSuch") =>
            {
                ErrorKind::NotFound
            }
            Some(
                "AuthFailure"
                | "UnauthorizedOperation"
                | "InvalidClientTokenId"
                | "SignatureDoesNotMatch"
                | "ExpiredToken"
                | "AccessDenied"
                | "AccessDeniedException"
                | "OptInRequired",
            ) => ErrorKind::Auth,
            Some("Throttling" | "ThrottlingException" | "RequestLimitExceeded") => {
                ErrorKind::Throttled
            }
            Some(
                "DependencyViolation"
                | "InvalidGroup.InUse"
                | "InvalidIPAddress.InUse"
                | "VolumeInUse"
                | "ResourceInUse"
                | "DistributionNotDisabled",
            ) => ErrorKind::InUse,
            Some(c)
                if c.starts_with("Invalid")
                    || c.contains("Malformed")
                    || c == "MissingParameter" =>
            {
                ErrorKind::Invalid
            }
            _ => ErrorKind::Other,
        };
        CloudError {
            action: action.to_string(),
            code: code.map(str::to_string),
            message: message.into(),
            kind,
        }
    }

    /// Classifies an SDK error.
    pub fn from_sdk<E, R>(action: &str, err: SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        match &err {
            SdkError::DispatchFailure(d) => {
                let mut e = CloudError::new(
                    action,
                    None,
                    format!("cannot reach the AWS endpoint: {}", chain(&err)),
                );
                if d.is_user()
                    || format!("{d:?}").contains("credentials")
                    || chain(&err).contains("credentials")
                {
                    e.kind = ErrorKind::Auth;
                    e.message = format!("no usable AWS credentials: {}", chain(&err));
                } else {
                    e.kind = ErrorKind::Unreachable;
                }
                e
            }
            SdkError::TimeoutError(_) => {
                let mut e = CloudError::new(action, None, "the request timed out");
                e.kind = ErrorKind::Unreachable;
                e
            }
            _ => {
                let code = err.code().map(str::to_string);
                let msg = err
                    .message()
                    .map(str::to_string)
                    .unwrap_or_else(|| chain(&err));
                let mut e = CloudError::new(action, code.as_deref(), msg);
                if e.code.is_none() && chain(&err).contains("credentials") {
                    e.kind = ErrorKind::Auth;
                }
                e
            }
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

fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
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
