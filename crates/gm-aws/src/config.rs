//! How to reach AWS: region by precedence, profile, endpoint override, retries and timeouts.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};

/// The region used when neither flag, environment nor spec names one.
pub const DEFAULT_REGION: &str = "us-east-1";

/// How to reach AWS.
#[derive(Debug, Clone, Default)]
pub struct CloudOptions {
    /// Region; `AWS_REGION`/`AWS_DEFAULT_REGION` and then `us-east-1` otherwise.
    pub region: Option<String>,
    /// Named profile; the SDK's default chain (environment first) otherwise.
    pub profile: Option<String>,
    /// Endpoint override (LocalStack, moto, a VPC endpoint); `AWS_ENDPOINT_URL` also works.
    pub endpoint_url: Option<String>,
    /// Attempts per call, including the first (default 8).
    pub max_attempts: Option<u32>,
}

impl CloudOptions {
    /// True when AWS calls go to an endpoint of the user's choosing (an emulator such as moto or
    /// LocalStack, a proxy): the addresses it reports for instances may be invented, so nothing
    /// may connect to them. The CLI and the server ask the same question here.
    pub fn endpoint_overridden(&self) -> bool {
        self.endpoint_url
            .as_deref()
            .is_some_and(|u| !u.trim().is_empty())
            || ["AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_EC2"]
                .iter()
                .any(|k| std::env::var(k).is_ok_and(|v| !v.trim().is_empty()))
    }
}

/// The SDK configuration every client is built from: region by precedence, adaptive retries
/// with backoff, timeouts, profile and endpoint override. No request is sent.
pub async fn sdk_config(opts: &CloudOptions) -> aws_config::SdkConfig {
    let region = opts
        .region
        .clone()
        .or_else(|| std::env::var("AWS_REGION").ok().filter(|s| !s.is_empty()))
        .or_else(|| {
            std::env::var("AWS_DEFAULT_REGION")
                .ok()
                .filter(|s| !s.is_empty())
        })
        .unwrap_or_else(|| DEFAULT_REGION.to_string());
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(region.clone()))
        // Standard, not adaptive: the adaptive rate limiter held calls back for seconds after a
        // single throttle (docs/decisions.md, "Retries").
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(opts.max_attempts.unwrap_or(8))
                .with_initial_backoff(Duration::from_millis(100))
                .with_max_backoff(Duration::from_secs(20)),
        )
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(5))
                .operation_attempt_timeout(Duration::from_secs(60))
                .build(),
        );
    if let Some(p) = &opts.profile {
        loader = loader.profile_name(p);
    }
    if let Some(url) = &opts.endpoint_url {
        loader = loader.endpoint_url(url);
    }
    loader.load().await
}
