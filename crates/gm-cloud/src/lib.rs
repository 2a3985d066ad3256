//! The engine's AWS calls: EC2, IAM, SSM, ELB, CloudFront and pricing operations, the audit
//! trail, and the [`CloudApi`] seam. SDK configuration, request counting and error
//! classification come from `gm-aws`, shared with the inventory (and re-exported here).

mod api;
mod audit;
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
use aws_config::Region;

pub use api::CloudApi;
pub use audit::{AuditRecord, AuditSink, NoAudit};
pub use describe::{no_default_vpc, NO_DEFAULT_VPC};
pub use discover::{
    Discovery, DistributionInfo, FileSystemInfo, GroupInfo, KeyPairInfo, LoadBalancerInfo,
    SubnetInfo, VpcInfo,
};
pub use edge::ActualEdge;
pub use error::{gone_is_ok, ok_if, CloudError};
pub use gm_aws::{
    partition, sdk_config, CloudOptions, CountingInterceptor, ErrorKind, RequestCounter,
    DEFAULT_REGION,
};
pub use identity::{generate_secret, SECRETS_POLICY};
pub use launch::{
    launch_token, next_launch_token, BlockDeviceRequest, ImageInfo, LaunchOutcome, LaunchRequest,
    SpotRequest,
};
pub use lock::{lease_parameter, LEASE_PREFIX};
pub use pricing::on_demand_price;
pub use wait::{Backoff, WaitTarget};

/// The code of a NAT gateway that ended `failed` (or went away) instead of becoming available.
pub const NAT_GATEWAY_FAILED: &str = "NatGatewayFailed";

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
            .interceptor(CountingInterceptor(counter.clone()))
            .build();
        let iam_conf = aws_sdk_iam::config::Builder::from(&sdk)
            .interceptor(CountingInterceptor(counter.clone()))
            .build();
        let ssm_conf = aws_sdk_ssm::config::Builder::from(&sdk)
            .interceptor(CountingInterceptor(counter.clone()))
            .build();
        let count = CountingInterceptor(counter.clone());
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
                .interceptor(CountingInterceptor(counter.clone()))
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

/// Tags in the SDK's form.
fn sdk_tags(tags: &gm_model::Tags) -> Vec<aws_sdk_ec2::types::Tag> {
    tags.iter()
        .map(|(k, v)| aws_sdk_ec2::types::Tag::builder().key(k).value(v).build())
        .collect()
}

/// Tags from the SDK's form.
fn plain_tags(tags: &[aws_sdk_ec2::types::Tag]) -> gm_model::Tags {
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
