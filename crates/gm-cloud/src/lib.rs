//! The only GeuseMaker part that calls AWS: SDK configuration (profile, region, endpoint,
//! retries), error classification, request counting, the audit trail, and EC2 operations.
//! It knows nothing about specs: it reads and writes resources.

mod api;
mod audit;
mod counter;
mod describe;
mod discover;
mod edge;
mod error;
mod identity;
mod launch;
mod lock;
mod network;
mod ops;
mod pricing;
mod wait;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};

pub use api::CloudApi;
pub use audit::{AuditRecord, AuditSink, NoAudit};
pub use counter::RequestCounter;
pub use describe::{no_default_vpc, NO_DEFAULT_VPC};
pub use discover::{
    Discovery, DistributionInfo, FileSystemInfo, GroupInfo, KeyPairInfo, LoadBalancerInfo,
    SubnetInfo, VpcInfo,
};
pub use edge::ActualEdge;
pub use error::{gone_is_ok, ok_if, CloudError, ErrorKind};
pub use identity::{generate_secret, SECRETS_POLICY};
pub use launch::{
    launch_token, next_launch_token, BlockDeviceRequest, ImageInfo, LaunchOutcome, LaunchRequest,
    SpotRequest,
};
pub use lock::{lease_parameter, LEASE_PREFIX};
pub use pricing::on_demand_price;
pub use wait::{Backoff, WaitTarget};

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

/// A connection to one account and region.
#[derive(Clone)]
pub struct Cloud {
    ec2: aws_sdk_ec2::Client,
    iam: aws_sdk_iam::Client,
    ssm: aws_sdk_ssm::Client,
    elb: aws_sdk_elasticloadbalancingv2::Client,
    efs: aws_sdk_efs::Client,
    cloudfront: aws_sdk_cloudfront::Client,
    pricing: aws_sdk_pricing::Client,
    region: String,
    counter: Arc<RequestCounter>,
    audit: Arc<dyn AuditSink>,
    deployment: Option<String>,
}

impl std::fmt::Debug for Cloud {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cloud")
            .field("region", &self.region)
            .finish()
    }
}

impl Cloud {
    /// Builds clients from options; no request is sent until the first call.
    pub async fn connect(opts: &CloudOptions) -> Cloud {
        let sdk = sdk_config(opts).await;
        let region = sdk
            .region()
            .map_or_else(|| DEFAULT_REGION.to_string(), |r| r.to_string());
        Cloud::from_sdk(&sdk, region)
    }

    fn from_sdk(sdk: &aws_config::SdkConfig, region: String) -> Cloud {
        let sdk = sdk.clone();
        let counter = Arc::new(RequestCounter::default());
        let ec2_conf = aws_sdk_ec2::config::Builder::from(&sdk)
            .interceptor(counter::CountingInterceptor(counter.clone()))
            .build();
        let iam_conf = aws_sdk_iam::config::Builder::from(&sdk)
            .interceptor(counter::CountingInterceptor(counter.clone()))
            .build();
        let ssm_conf = aws_sdk_ssm::config::Builder::from(&sdk)
            .interceptor(counter::CountingInterceptor(counter.clone()))
            .build();
        let count = counter::CountingInterceptor(counter.clone());
        let elb = aws_sdk_elasticloadbalancingv2::Client::from_conf(
            aws_sdk_elasticloadbalancingv2::config::Builder::from(&sdk)
                .interceptor(count.clone())
                .build(),
        );
        let efs = aws_sdk_efs::Client::from_conf(
            aws_sdk_efs::config::Builder::from(&sdk)
                .interceptor(count.clone())
                .build(),
        );
        let cloudfront = aws_sdk_cloudfront::Client::from_conf(
            aws_sdk_cloudfront::config::Builder::from(&sdk)
                .interceptor(count)
                .build(),
        );
        // The Pricing API answers in us-east-1 (and ap-south-1) for every region.
        let pricing = aws_sdk_pricing::Client::from_conf(
            aws_sdk_pricing::config::Builder::from(&sdk)
                .region(Region::new("us-east-1"))
                // A refresh is optional: fail fast when the API is not there (GetProducts answers
                // in well under a second where it is).
                .retry_config(RetryConfig::standard().with_max_attempts(2))
                .timeout_config(
                    TimeoutConfig::builder()
                        .connect_timeout(Duration::from_secs(3))
                        .operation_attempt_timeout(Duration::from_secs(4))
                        .build(),
                )
                .interceptor(counter::CountingInterceptor(counter.clone()))
                .build(),
        );
        Cloud {
            pricing,
            elb,
            efs,
            cloudfront,
            ec2: aws_sdk_ec2::Client::from_conf(ec2_conf),
            iam: aws_sdk_iam::Client::from_conf(iam_conf),
            ssm: aws_sdk_ssm::Client::from_conf(ssm_conf),
            region,
            counter,
            audit: Arc::new(NoAudit),
            deployment: None,
        }
    }

    /// The same connection, recording mutating calls for `deployment` into `audit`.
    pub fn with_audit(mut self, deployment: &str, audit: Arc<dyn AuditSink>) -> Cloud {
        self.deployment = Some(deployment.to_string());
        self.audit = audit;
        self
    }

    /// The region in use.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// Requests sent so far by this connection.
    pub fn requests(&self) -> &RequestCounter {
        &self.counter
    }

    /// Runs a mutating call and appends it to the audit trail, success or not.
    async fn mutate<T, Fut>(
        &self,
        action: &str,
        ids: &[String],
        created: impl Fn(&T) -> Vec<String>,
        call: Fut,
    ) -> Result<T, CloudError>
    where
        Fut: Future<Output = Result<T, CloudError>>,
    {
        let start = Instant::now();
        let result = call.await;
        let mut all_ids = ids.to_vec();
        let outcome = match &result {
            Ok(v) => {
                all_ids.extend(created(v));
                "ok".to_string()
            }
            Err(e) => format!("error: {}", e.short()),
        };
        self.audit.record(&AuditRecord {
            time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            deployment: self.deployment.clone(),
            region: self.region.clone(),
            action: action.to_string(),
            ids: all_ids,
            outcome,
            duration_ms: u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX),
        });
        result
    }
}

impl Cloud {
    /// Sends a mutating call whose answer carries nothing needed, classifying its error and
    /// recording it in the audit trail.
    /// A create call whose answer carries the new resource's id (`id_of` finds it), audited
    /// under `about` like every mutating call.
    async fn create_id<T, E, R, Fut>(
        &self,
        action: &str,
        about: &[String],
        send: Fut,
        id_of: impl FnOnce(&T) -> Option<String>,
    ) -> Result<String, CloudError>
    where
        Fut: Future<Output = Result<T, aws_sdk_ec2::error::SdkError<E, R>>>,
        E: aws_sdk_ec2::error::ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        self.mutate(action, about, |id: &String| vec![id.clone()], async {
            let out = send.await.map_err(|e| CloudError::from_sdk(action, e))?;
            id_of(&out).ok_or_else(|| {
                CloudError::new(action, None, "AWS answered without the new resource's id")
            })
        })
        .await
    }

    async fn mutate_unit<T, E, R, Fut>(
        &self,
        action: &str,
        ids: &[String],
        send: Fut,
    ) -> Result<(), CloudError>
    where
        Fut: Future<Output = Result<T, aws_sdk_ec2::error::SdkError<E, R>>>,
        E: aws_sdk_ec2::error::ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        self.mutate(action, ids, |_| vec![], async {
            send.await
                .map(|_| ())
                .map_err(|e| CloudError::from_sdk(action, e))
        })
        .await
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

/// Tags in the SDK's form.
fn sdk_tags(tags: &gm_plan::Tags) -> Vec<aws_sdk_ec2::types::Tag> {
    tags.iter()
        .map(|(k, v)| aws_sdk_ec2::types::Tag::builder().key(k).value(v).build())
        .collect()
}

/// Tags from the SDK's form.
fn plain_tags(tags: &[aws_sdk_ec2::types::Tag]) -> gm_plan::Tags {
    tags.iter()
        .filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or("").to_string())))
        .collect()
}

fn filter(name: &str, values: &[&str]) -> aws_sdk_ec2::types::Filter {
    aws_sdk_ec2::types::Filter::builder()
        .name(name)
        .set_values(Some(values.iter().map(|v| v.to_string()).collect()))
        .build()
}
