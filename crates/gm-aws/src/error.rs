//! AWS errors classified once, for the engine and the inventory alike: by AWS's code, and, for
//! the failures that carry none (no answer, no credentials), by how the SDK failed.

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

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

/// The kind of a failure with AWS's error code `code` (`None`: no code, e.g. a transport
/// failure, classified by the caller).
pub fn classify(code: Option<&str>) -> ErrorKind {
    match code {
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
        Some("Throttling" | "ThrottlingException" | "RequestLimitExceeded") => ErrorKind::Throttled,
        Some(
            "DependencyViolation"
            | "InvalidGroup.InUse"
            | "InvalidIPAddress.InUse"
            | "VolumeInUse"
            | "ResourceInUse"
            | "DistributionNotDisabled",
        ) => ErrorKind::InUse,
        Some(c)
            if c.starts_with("Invalid") || c.contains("Malformed") || c == "MissingParameter" =>
        {
            ErrorKind::Invalid
        }
        _ => ErrorKind::Other,
    }
}

/// How far a failed call got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// AWS answered with an error.
    Answered,
    /// An answer came that the SDK could not read (malformed or unexpected).
    Unreadable,
    /// No answer: the request was not built or sent, could not connect, or timed out.
    Transport,
}

/// What an SDK error says, from any service's client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdkFailure {
    /// How far the call got.
    pub stage: Stage,
    /// AWS's error code, when it sent one.
    pub code: Option<String>,
    /// AWS's message, or a description of the failure with its causes.
    pub message: String,
    /// Classification.
    pub kind: ErrorKind,
}

impl SdkFailure {
    /// Reads an SDK error.
    pub fn of<E, R>(err: &SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        let causes = chain(err);
        let mentions_credentials = causes.contains("credentials");
        match err {
            SdkError::DispatchFailure(d) => {
                if d.is_user() || mentions_credentials || format!("{d:?}").contains("credentials") {
                    SdkFailure {
                        stage: Stage::Transport,
                        code: None,
                        message: format!("no usable AWS credentials: {causes}"),
                        kind: ErrorKind::Auth,
                    }
                } else {
                    SdkFailure {
                        stage: Stage::Transport,
                        code: None,
                        message: format!("cannot reach the AWS endpoint: {causes}"),
                        kind: ErrorKind::Unreachable,
                    }
                }
            }
            SdkError::TimeoutError(_) => SdkFailure {
                stage: Stage::Transport,
                code: None,
                message: "the request timed out".into(),
                kind: ErrorKind::Unreachable,
            },
            _ => {
                let code = err.code().map(str::to_string);
                let mut kind = classify(code.as_deref());
                if code.is_none() && mentions_credentials {
                    kind = ErrorKind::Auth;
                }
                SdkFailure {
                    stage: match err {
                        SdkError::ServiceError(_) => Stage::Answered,
                        SdkError::ResponseError(_) => Stage::Unreadable,
                        _ => Stage::Transport,
                    },
                    message: err.message().map(str::to_string).unwrap_or(causes),
                    code,
                    kind,
                }
            }
        }
    }
}

/// An error with its sources, `outer: inner: …`.
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}
