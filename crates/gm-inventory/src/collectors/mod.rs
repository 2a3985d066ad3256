//! One collector per resource type, each in its own file, all registered in [`registry`].
//!
//! A collector lists every resource of its type in one account and region (global types once
//! per account), paginating to the end, and streams each record to the scan's writer as soon as
//! its page arrives, so memory stays flat however many resources there are.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use tokio::sync::mpsc;

use crate::model::{Msg, Record};

/// A client of the SDK crate `$sdk` for the collector's account and region, whose requests the
/// scan counts (`$cx.requests`).
macro_rules! client {
    ($sdk:ident, $cx:expr) => {
        $sdk::Client::from_conf(
            $sdk::config::Builder::from(&$cx.config)
                .interceptor(gm_aws::CountingInterceptor($cx.requests.clone()))
                .build(),
        )
    };
}

mod acm_certificate;
mod apigateway_http_api;
mod apigateway_rest_api;
mod autoscaling_group;
mod autoscaling_launch_configuration;
mod cloudformation_stack;
mod cloudfront_distribution;
mod cloudwatch_alarm;
mod docdb_cluster;
mod dynamodb_table;
mod ec2_address;
mod ec2_dhcp_options;
mod ec2_image;
mod ec2_instance;
mod ec2_internet_gateway;
mod ec2_key_pair;
mod ec2_launch_template;
mod ec2_nat_gateway;
mod ec2_network_acl;
mod ec2_network_interface;
mod ec2_route_table;
mod ec2_security_group;
mod ec2_snapshot;
mod ec2_subnet;
mod ec2_volume;
mod ec2_vpc;
mod ec2_vpc_endpoint;
mod ecr_repository;
mod ecs_cluster;
mod ecs_service;
mod ecs_task;
mod ecs_task_definition;
mod efs_file_system;
mod eks_cluster;
mod elasticache_cluster;
mod elb_load_balancer;
mod elbv2_load_balancer;
mod elbv2_target_group;
mod events_rule;
mod iam_group;
mod iam_instance_profile;
mod iam_policy;
mod iam_role;
mod iam_user;
mod kinesis_stream;
mod kms_key;
mod lambda_function;
mod logs_log_group;
mod rds_db_cluster;
mod rds_db_instance;
mod rds_db_snapshot;
mod redshift_cluster;
mod route53_hosted_zone;
mod s3_bucket;
mod secretsmanager_secret;
mod sfn_state_machine;
mod sns_topic;
mod sqs_queue;
mod ssm_parameter;

/// Every collector, in the order a scan starts them.
pub fn registry() -> Vec<Collector> {
    vec![
        ec2_instance::C,
        ec2_volume::C,
        ec2_snapshot::C,
        ec2_image::C,
        ec2_address::C,
        ec2_network_interface::C,
        ec2_key_pair::C,
        ec2_launch_template::C,
        ec2_vpc::C,
        ec2_subnet::C,
        ec2_route_table::C,
        ec2_internet_gateway::C,
        ec2_nat_gateway::C,
        ec2_vpc_endpoint::C,
        ec2_security_group::C,
        ec2_network_acl::C,
        ec2_dhcp_options::C,
        elbv2_load_balancer::C,
        elbv2_target_group::C,
        efs_file_system::C,
        ssm_parameter::C,
        iam_role::C,
        iam_user::C,
        iam_group::C,
        iam_policy::C,
        iam_instance_profile::C,
        cloudfront_distribution::C,
        elb_load_balancer::C,
        autoscaling_group::C,
        autoscaling_launch_configuration::C,
        lambda_function::C,
        ecs_cluster::C,
        ecs_service::C,
        ecs_task::C,
        ecs_task_definition::C,
        eks_cluster::C,
        ecr_repository::C,
        rds_db_instance::C,
        rds_db_cluster::C,
        docdb_cluster::C,
        rds_db_snapshot::C,
        dynamodb_table::C,
        elasticache_cluster::C,
        redshift_cluster::C,
        s3_bucket::C,
        kms_key::C,
        secretsmanager_secret::C,
        acm_certificate::C,
        route53_hosted_zone::C,
        sns_topic::C,
        sqs_queue::C,
        kinesis_stream::C,
        sfn_state_machine::C,
        events_rule::C,
        cloudwatch_alarm::C,
        logs_log_group::C,
        cloudformation_stack::C,
        apigateway_rest_api::C,
        apigateway_http_api::C,
    ]
}

/// What a collector runs with: one account's credentials in one region, and the writer.
#[derive(Clone)]
pub struct Cx {
    /// SDK configuration (credentials and region of this account and region).
    pub config: aws_config::SdkConfig,
    /// Account id.
    pub account: String,
    /// Region (for global types: the region their endpoint is called in).
    pub region: String,
    /// Where records go.
    pub tx: mpsc::Sender<Msg>,
    /// The scan's request count, shared by every collector's clients.
    pub requests: std::sync::Arc<gm_aws::RequestCounter>,
}

/// A collector's running list call.
pub type Run = Pin<Box<dyn Future<Output = Result<u64, CollectError>> + Send>>;

/// A resource type and how to list it.
#[derive(Clone, Copy)]
pub struct Collector {
    /// `service:kind`.
    pub rtype: &'static str,
    /// Listed once per account (IAM, CloudFront, …), recorded with region `global`.
    pub global: bool,
    /// Lists everything of the type in `cx`'s account and region; returns how many.
    pub run: fn(Cx) -> Run,
}

impl std::fmt::Debug for Collector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Collector")
            .field("rtype", &self.rtype)
            .field("global", &self.global)
            .finish()
    }
}

/// Why a type could not be listed.
#[derive(Debug, Clone)]
pub struct CollectError {
    /// AWS's code, or `Transport`/`Closed`.
    pub code: String,
    /// Message.
    pub message: String,
}

impl CollectError {
    /// From any SDK error.
    pub fn sdk<E, R>(e: SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        // Read the way the engine's cloud layer reads it (gm-aws); the inventory records the
        // code, or what kind of failure had none.
        let f = gm_aws::SdkFailure::of(&e);
        CollectError {
            code: match f.stage {
                gm_aws::Stage::Answered => f.code.unwrap_or_else(|| "Unknown".into()),
                gm_aws::Stage::Unreadable => UNPARSABLE.into(),
                gm_aws::Stage::Transport => "Transport".into(),
            },
            message: f.message,
        }
    }
}

/// The code of an answer the SDK could not read (a malformed or unexpected response).
pub const UNPARSABLE: &str = "UnparsableResponse";

impl Cx {
    /// Sends one record to the writer.
    pub async fn emit(&self, r: Record) -> Result<(), CollectError> {
        self.tx
            .send(Msg::Record(Box::new(r)))
            .await
            .map_err(|_| CollectError {
                code: "Closed".into(),
                message: "the scan's writer stopped".into(),
            })
    }

    /// The region a record of a type is filed under.
    pub fn record_region(&self, global: bool) -> String {
        if global {
            "global".into()
        } else {
            self.region.clone()
        }
    }

    /// A record with the common fields filled; the collector adds name, status, …
    pub fn record(&self, c: &Collector, id: &str, arn: String, raw: serde_json::Value) -> Record {
        Record {
            account: self.account.clone(),
            region: self.record_region(c.global),
            rtype: c.rtype.to_string(),
            id: id.to_string(),
            arn,
            name: None,
            status: None,
            created: None,
            tags: BTreeMap::new(),
            raw,
        }
    }

    /// `arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE` for APIs that return no ARN (the
    /// partition is the region's: `aws-cn` in China, `aws-us-gov` in GovCloud).
    pub fn arn(&self, service: &str, resource: &str) -> String {
        gm_aws::arn(&self.region, service, &self.region, &self.account, resource)
    }

    /// The tags of every tagged resource of `service` (a Resource Groups Tagging API filter:
    /// `sqs`, `lambda`, …) in this account and region, by ARN: one `GetResources` call per 100
    /// resources, for the types whose list calls carry no tags (instead of a call per
    /// resource). Asked before the listing, so records still stream out as they are listed.
    pub async fn tags_of(&self, service: &str) -> Result<Tags, CollectError> {
        let mut out = Tags::default();
        self.add_tags(service, &self.region, &mut out).await?;
        Ok(out)
    }

    /// [`Cx::tags_of`] for a global service whose tags the tagging API keeps in its home region
    /// (us-east-1 in the `aws` partition: CloudFront), whatever region the scan went through.
    pub async fn global_tags_of(&self, service: &str) -> Result<Tags, CollectError> {
        let mut out = Tags::default();
        self.add_tags(service, gm_aws::home_region(&self.region), &mut out)
            .await?;
        Ok(out)
    }

    /// Adds to `out` the tags of `service`'s tagged resources as the tagging API in `region`
    /// sees them (S3 buckets are seen in their own region).
    pub async fn add_tags(
        &self,
        service: &str,
        region: &str,
        out: &mut Tags,
    ) -> Result<(), CollectError> {
        use aws_sdk_resourcegroupstagging::config::{Builder, Region};
        let conf = Builder::from(&self.config)
            .region(Region::new(region.to_string()))
            .interceptor(gm_aws::CountingInterceptor(self.requests.clone()))
            .build();
        let client = aws_sdk_resourcegroupstagging::Client::from_conf(conf);
        let mut pages = client
            .get_resources()
            .resource_type_filters(service)
            .resources_per_page(100)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| {
                let mut e = CollectError::sdk(e);
                e.message = format!("tag:GetResources ({service}, {region}): {}", e.message);
                e
            })?;
            for m in page.resource_tag_mapping_list() {
                if let Some(arn) = m.resource_arn() {
                    let tags = m
                        .tags()
                        .iter()
                        .map(|t| (t.key().to_string(), t.value().to_string()))
                        .collect();
                    out.0.insert(arn.to_string(), tags);
                }
            }
        }
        Ok(())
    }
}

/// Tags by ARN, from [`Cx::tags_of`].
#[derive(Debug, Default)]
pub struct Tags(std::collections::HashMap<String, BTreeMap<String, String>>);

impl Tags {
    /// The tags of `arn` (empty when it has none). A log group's ARN as its list call gives it
    /// ends in `:*`; the tagging API's does not.
    pub fn of(&self, arn: &str) -> BTreeMap<String, String> {
        self.0
            .get(arn)
            .or_else(|| self.0.get(arn.trim_end_matches(":*")))
            .cloned()
            .unwrap_or_default()
    }
}

/// Defines a collector's `C` from its type, scope and async list function.
macro_rules! collector {
    ($rtype:literal, global, $run:ident) => {
        $crate::collectors::collector!(@def $rtype, true, $run);
    };
    ($rtype:literal, regional, $run:ident) => {
        $crate::collectors::collector!(@def $rtype, false, $run);
    };
    (@def $rtype:literal, $global:expr, $run:ident) => {
        pub(crate) const C: $crate::collectors::Collector = $crate::collectors::Collector {
            rtype: $rtype,
            global: $global,
            run: start,
        };

        // A named function, not a closure in the const: the const's value is used inside
        // `$run`, so checking its future is `Send` must not need the const's body.
        fn start(cx: $crate::collectors::Cx) -> $crate::collectors::Run {
            Box::pin($run(cx))
        }
    };
}
pub(crate) use collector;

/// EC2-style tags as a map.
pub(crate) fn ec2_tags(tags: &[aws_sdk_ec2::types::Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or("").to_string())))
        .collect()
}

/// IAM's tags as a map.
pub(crate) fn iam_tags(tags: &[aws_sdk_iam::types::Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .collect()
}

/// What `GetAccountAuthorizationDetails` says of IAM roles or users, by id: their tags and the
/// fields their list call leaves out (inline and attached policies, groups, instance profiles,
/// last use). The list call has fields the details lack (a role's description and session
/// length, a user's last password use), so a record is the list call's, completed from here.
#[derive(Default)]
pub(crate) struct IamDetails(
    std::collections::HashMap<String, (BTreeMap<String, String>, serde_json::Value)>,
);

impl IamDetails {
    pub(crate) fn insert(
        &mut self,
        id: &str,
        tags: &[aws_sdk_iam::types::Tag],
        detail: serde_json::Value,
    ) {
        self.0.insert(id.to_string(), (iam_tags(tags), detail));
    }

    /// Gives `r` its tags, and adds each field of its details that its raw record lacks or has
    /// empty.
    pub(crate) fn complete(&mut self, r: &mut Record) {
        use serde_json::Value;
        let Some((tags, detail)) = self.0.remove(&r.id) else {
            return;
        };
        r.tags = tags;
        if let (Value::Object(raw), Value::Object(detail)) = (&mut r.raw, detail) {
            for (k, v) in detail {
                let empty = match raw.get(&k) {
                    None | Some(Value::Null) => true,
                    Some(Value::Array(a)) => a.is_empty(),
                    Some(_) => false,
                };
                if empty {
                    raw.insert(k, v);
                }
            }
        }
    }
}

/// An RFC 3339 time from an SDK time.
pub(crate) fn time(t: Option<&aws_smithy_types::DateTime>) -> Option<String> {
    t.and_then(|t| t.fmt(aws_smithy_types::date_time::Format::DateTime).ok())
}

/// Fills a record's name from its `Name` tag when it has no name of its own.
pub(crate) fn named(mut r: Record) -> Record {
    if r.name.is_none() {
        r.name = r.tags.get("Name").cloned();
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(raw: serde_json::Value) -> Record {
        Record {
            account: "111111111111".into(),
            region: "global".into(),
            rtype: "iam:role".into(),
            id: "AROAEXAMPLE".into(),
            arn: "arn:aws:iam::111111111111:role/r".into(),
            name: Some("r".into()),
            status: None,
            created: None,
            tags: BTreeMap::new(),
            raw,
        }
    }

    #[test]
    fn iam_details_fill_what_the_list_call_left_empty_and_keep_the_rest() {
        let tag = aws_sdk_iam::types::Tag::builder()
            .key("team")
            .value("ml")
            .build()
            .expect("key and value are set");
        let mut details = IamDetails::default();
        details.insert(
            "AROAEXAMPLE",
            &[tag],
            serde_json::json!({
                "role_name": "from-details",
                "tags": [{"key": "team", "value": "ml"}],
                "role_last_used": {"region": "eu-west-1"},
                "attached_managed_policies": [{"policy_name": "p"}],
            }),
        );
        let mut r = record(serde_json::json!({
            "role_name": "r",
            "description": "kept",
            "tags": [],
            "role_last_used": null,
        }));
        details.complete(&mut r);
        assert_eq!(r.tags.get("team").map(String::as_str), Some("ml"));
        assert_eq!(r.raw["role_name"], "r", "the list call's value is kept");
        assert_eq!(r.raw["description"], "kept");
        assert_eq!(r.raw["tags"][0]["key"], "team", "an empty list is filled");
        assert_eq!(
            r.raw["role_last_used"]["region"], "eu-west-1",
            "null is filled"
        );
        assert_eq!(r.raw["attached_managed_policies"][0]["policy_name"], "p");

        // Details are used once; a record with none is left as it was.
        let mut again = record(serde_json::json!({"tags": []}));
        details.complete(&mut again);
        assert!(again.tags.is_empty());
        assert_eq!(again.raw, serde_json::json!({"tags": []}));
    }
}
