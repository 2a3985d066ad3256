//! GeuseMaker's one AWS foundation, shared by the engine's cloud layer (`gm-cloud`) and the
//! inventory (`gm-inventory`): the SDK configuration (region by precedence, profile, endpoint
//! override, retries, timeouts), the interceptor that counts every request, the one classifier
//! of AWS errors, and partition-aware ARNs. It knows no resource kinds and no specs.

mod config;
mod counter;
mod error;
mod partition;

pub use config::{sdk_config, CloudOptions, DEFAULT_REGION};
pub use counter::{CountingInterceptor, RequestCounter};
pub use error::{chain, classify, ErrorKind, SdkFailure, Stage};
pub use partition::{arn, home_region, partition};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_classified_by_what_the_caller_can_do() {
        assert_eq!(
            classify(Some("InsufficientInstanceCapacity")),
            ErrorKind::Capacity
        );
        assert_eq!(classify(Some("InvalidVpcID.NotFound")), ErrorKind::NotFound);
        assert_eq!(classify(Some("NoSuchEntity")), ErrorKind::NotFound);
        assert_eq!(classify(Some("AccessDeniedException")), ErrorKind::Auth);
        assert_eq!(classify(Some("RequestLimitExceeded")), ErrorKind::Throttled);
        assert_eq!(classify(Some("InvalidIPAddress.InUse")), ErrorKind::InUse);
        assert_eq!(classify(Some("InvalidParameterValue")), ErrorKind::Invalid);
        assert_eq!(classify(Some("SomethingElse")), ErrorKind::Other);
        assert_eq!(classify(None), ErrorKind::Other);
    }
}
