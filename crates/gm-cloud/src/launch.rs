//! Launching instances and resolving the AMIs they start from.

use std::collections::HashMap;

use aws_sdk_ec2::types::{
    BlockDeviceMapping, EbsBlockDevice, IamInstanceProfileSpecification,
    InstanceInterruptionBehavior, InstanceMarketOptionsRequest, InstanceType, MarketType,
    ResourceType, SpotInstanceType, SpotMarketOptions, TagSpecification, VolumeType,
};
use base64::Engine;
use serde::Serialize;

use crate::{filter, sdk_tags, Cloud, CloudError, ErrorKind};

/// An AMI as resolved for launching.
#[derive(Debug, Clone, Serialize)]
pub struct ImageInfo {
    /// `ami-…`.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Root device, e.g. `/dev/xvda`.
    pub root_device_name: String,
    /// `x86_64` or `arm64`.
    pub architecture: String,
}

/// Spot settings of a launch.
#[derive(Debug, Clone)]
pub struct SpotRequest {
    /// USD per hour; the on-demand price otherwise.
    pub max_price: Option<String>,
    /// `terminate`, `stop` or `hibernate`.
    pub interruption: String,
    /// Launch on-demand when AWS has no spot capacity.
    pub fallback_on_demand: bool,
}

/// An EBS volume created with the instance.
#[derive(Debug, Clone)]
pub struct BlockDeviceRequest {
    /// Device name.
    pub device: String,
    /// GiB (the AMI's size for the root volume otherwise).
    pub size: Option<i32>,
    /// gp3, io2, …
    pub volume_type: String,
    /// Provisioned IOPS.
    pub iops: Option<i32>,
    /// MiB/s.
    pub throughput: Option<i32>,
    /// Encrypted at rest.
    pub encrypted: bool,
    /// KMS key.
    pub kms_key: Option<String>,
    /// Deleted with the instance.
    pub delete_on_termination: bool,
}

/// Everything `RunInstances` needs for one instance.
#[derive(Debug, Clone)]
pub struct LaunchRequest {
    /// Idempotency token (same token, same instance, on AWS).
    pub client_token: String,
    /// `ami-…`.
    pub image_id: String,
    /// Instance type.
    pub instance_type: String,
    /// Key pair.
    pub key_name: Option<String>,
    /// Subnet.
    pub subnet_id: Option<String>,
    /// Security groups.
    pub security_group_ids: Vec<String>,
    /// Spot settings; on-demand when `None`.
    pub spot: Option<SpotRequest>,
    /// Instance profile name.
    pub iam_instance_profile: Option<String>,
    /// User data, plain text (encoded here).
    pub user_data: Option<String>,
    /// Volumes created at launch.
    pub block_devices: Vec<BlockDeviceRequest>,
    /// Tags on the instance, set at creation.
    pub instance_tags: gm_model::Tags,
    /// Tags on its volumes, set at creation.
    pub volume_tags: gm_model::Tags,
    /// Launch in this zone (to take over a kept volume there).
    pub availability_zone: Option<String>,
}

/// What a launch produced.
#[derive(Debug, Clone, Serialize)]
pub struct LaunchOutcome {
    /// `i-…`.
    pub instance_id: String,
    /// True when spot had no capacity and the instance was launched on-demand.
    pub fell_back_to_on_demand: bool,
}

/// AWS's public SSM parameter holding the current AMI of an alias.
fn alias_parameter(alias: &str) -> Option<&'static str> {
    Some(match alias {
        "al2023" => "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64",
        "al2023-arm64" => "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64",
        "ubuntu-24.04" => {
            "/aws/service/canonical/ubuntu/server/24.04/stable/current/amd64/hvm/ebs-gp3/ami-id"
        }
        "ubuntu-24.04-arm64" => {
            "/aws/service/canonical/ubuntu/server/24.04/stable/current/arm64/hvm/ebs-gp3/ami-id"
        }
        _ => return None,
    })
}

/// How an AMI alias is looked up: owner, name pattern, architecture.
fn alias_query(alias: &str) -> Option<(&'static str, &'static str, &'static str)> {
    Some(match alias {
        "al2023" => ("amazon", "al2023-ami-2023.*-kernel-*-x86_64", "x86_64"),
        "al2023-arm64" => ("amazon", "al2023-ami-2023.*-kernel-*-arm64", "arm64"),
        "ubuntu-24.04" => (
            "099720109477",
            "ubuntu/images/hvm-ssd*/ubuntu-noble-24.04-amd64-server-*",
            "x86_64",
        ),
        "ubuntu-24.04-arm64" => (
            "099720109477",
            "ubuntu/images/hvm-ssd*/ubuntu-noble-24.04-arm64-server-*",
            "arm64",
        ),
        _ => return None,
    })
}

impl Cloud {
    /// Resolves AMI aliases (newest matching image) and ids: one `DescribeImages` per alias and
    /// one for all ids.
    pub async fn resolve_images(
        &self,
        amis: &[String],
    ) -> Result<HashMap<String, ImageInfo>, CloudError> {
        let mut out = HashMap::new();
        let explicit: Vec<String> = amis
            .iter()
            .filter(|a| a.starts_with("ami-"))
            .cloned()
            .collect();
        let aliases: Vec<&String> = amis.iter().filter(|a| !a.starts_with("ami-")).collect();
        let from_ssm = self.alias_ids_from_ssm(&aliases).await;
        let mut ids = explicit.clone();
        ids.extend(from_ssm.values().cloned());
        ids.sort();
        ids.dedup();
        if !ids.is_empty() {
            let resp = self
                .ec2
                .describe_images()
                .set_image_ids(Some(ids.clone()))
                .send()
                .await
                .map_err(|e| CloudError::from_sdk("DescribeImages", e))?;
            for img in resp.images() {
                let info = image_info(img);
                out.insert(info.id.clone(), info);
            }
            if let Some(missing) = explicit.iter().find(|i| !out.contains_key(*i)) {
                return Err(CloudError::new(
                    "DescribeImages",
                    Some("InvalidAMIID.NotFound"),
                    format!(
                        "AMI {missing} does not exist in {} or is not shared with this account",
                        self.region
                    ),
                ));
            }
        }
        for alias in aliases {
            if let Some(info) = from_ssm
                .get(alias.as_str())
                .and_then(|id| out.get(id))
                .cloned()
            {
                out.insert(alias.clone(), info);
                continue;
            }
            let Some((owner, pattern, arch)) = alias_query(alias) else {
                return Err(CloudError::new(
                    "DescribeImages",
                    Some("UnknownAlias"),
                    format!("unknown AMI alias `{alias}`"),
                ));
            };
            let resp = self
                .ec2
                .describe_images()
                .owners(owner)
                .filters(filter("name", &[pattern]))
                .filters(filter("architecture", &[arch]))
                .filters(filter("state", &["available"]))
                .send()
                .await
                .map_err(|e| CloudError::from_sdk("DescribeImages", e))?;
            let newest = resp
                .images()
                .iter()
                .filter(|i| !i.name().unwrap_or("").contains("minimal"))
                .max_by(|a, b| (a.creation_date(), a.name()).cmp(&(b.creation_date(), b.name())));
            match newest {
                Some(img) => {
                    out.insert(alias.clone(), image_info(img));
                }
                None => {
                    return Err(CloudError::new(
                        "DescribeImages",
                        Some("InvalidAMIID.NotFound"),
                        format!(
                            "no image matches alias `{alias}` ({pattern}) in {}",
                            self.region
                        ),
                    ))
                }
            }
        }
        Ok(out)
    }

    /// Resolves aliases through AWS's public SSM parameters (one `GetParameters` call). Aliases
    /// it cannot resolve (no permission, an emulator without them) are left to `DescribeImages`.
    async fn alias_ids_from_ssm(&self, aliases: &[&String]) -> HashMap<String, String> {
        let names: Vec<(String, String)> = aliases
            .iter()
            .filter_map(|a| alias_parameter(a).map(|p| (a.to_string(), p.to_string())))
            .collect();
        if names.is_empty() {
            return HashMap::new();
        }
        let resp = self
            .ssm
            .get_parameters()
            .set_names(Some(names.iter().map(|(_, p)| p.clone()).collect()))
            .send()
            .await;
        let Ok(resp) = resp else {
            tracing::debug!("public AMI parameters unavailable; using DescribeImages");
            return HashMap::new();
        };
        let mut out = HashMap::new();
        for p in resp.parameters() {
            if let (Some(name), Some(value)) = (p.name(), p.value()) {
                if let Some((alias, _)) = names.iter().find(|(_, n)| n == name) {
                    if value.starts_with("ami-") {
                        out.insert(alias.clone(), value.to_string());
                    }
                }
            }
        }
        out
    }

    /// Launches one instance with its tags and volumes; falls back to on-demand when spot has
    /// no capacity and the request allows it.
    pub async fn launch(&self, req: &LaunchRequest) -> Result<LaunchOutcome, CloudError> {
        match self
            .run_instance_fresh(req, req.spot.as_ref(), &req.client_token)
            .await
        {
            Ok(id) => Ok(LaunchOutcome {
                instance_id: id,
                fell_back_to_on_demand: false,
            }),
            Err(e)
                if e.kind == ErrorKind::Capacity
                    && req.spot.as_ref().is_some_and(|s| s.fallback_on_demand) =>
            {
                tracing::warn!("no spot capacity ({}); launching on-demand", e.short());
                let token = format!("{}-od", &req.client_token[..req.client_token.len().min(61)]);
                let id = self.run_instance_fresh(req, None, &token).await?;
                Ok(LaunchOutcome {
                    instance_id: id,
                    fell_back_to_on_demand: true,
                })
            }
            Err(e) => Err(e),
        }
    }

    /// Launches with `token`; when AWS answers with an instance that is already gone (the token
    /// was used by an earlier launch at this address whose instance has since been terminated),
    /// launches again with a token derived from that instance — the same derivation in every
    /// process, so concurrent or repeated runs still share one token per launch.
    async fn run_instance_fresh(
        &self,
        req: &LaunchRequest,
        spot: Option<&SpotRequest>,
        token: &str,
    ) -> Result<String, CloudError> {
        let mut token = token.to_string();
        for _ in 0..8 {
            let (id, state) = self
                .run_instance_when_profile_ready(req, spot, &token)
                .await?;
            if !matches!(state.as_str(), "shutting-down" | "terminated") {
                return Ok(id);
            }
            tracing::info!("token {token} names {id}, already {state}: launching anew");
            token = next_launch_token(&token, &id);
        }
        Err(CloudError::new(
            "RunInstances",
            None,
            "every launch token for this address names a terminated instance",
        ))
    }

    /// A new instance profile takes seconds to be usable by EC2 (IAM is eventually
    /// consistent): launches naming one are retried while EC2 says the profile is invalid.
    async fn run_instance_when_profile_ready(
        &self,
        req: &LaunchRequest,
        spot: Option<&SpotRequest>,
        token: &str,
    ) -> Result<(String, String), CloudError> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
        let mut backoff = crate::Backoff::default();
        loop {
            match self.run_instance(req, spot, token).await {
                Err(e)
                    if req.iam_instance_profile.is_some()
                        && e.kind == ErrorKind::Invalid
                        && e.message.to_ascii_lowercase().contains("instance profile")
                        && std::time::Instant::now() < deadline =>
                {
                    tokio::time::sleep(backoff.next_delay().max(std::time::Duration::from_secs(1)))
                        .await;
                }
                other => return other,
            }
        }
    }

    /// One `RunInstances`: the instance's id and state.
    async fn run_instance(
        &self,
        req: &LaunchRequest,
        spot: Option<&SpotRequest>,
        token: &str,
    ) -> Result<(String, String), CloudError> {
        let mut call = self
            .ec2
            .run_instances()
            .client_token(token)
            .image_id(&req.image_id)
            .instance_type(InstanceType::from(req.instance_type.as_str()))
            .min_count(1)
            .max_count(1)
            .set_key_name(req.key_name.clone())
            .set_subnet_id(req.subnet_id.clone())
            .set_security_group_ids(
                (!req.security_group_ids.is_empty()).then(|| req.security_group_ids.clone()),
            )
            .tag_specifications(
                TagSpecification::builder()
                    .resource_type(ResourceType::Instance)
                    .set_tags(Some(sdk_tags(&req.instance_tags)))
                    .build(),
            );
        if !req.block_devices.is_empty() {
            call = call.tag_specifications(
                TagSpecification::builder()
                    .resource_type(ResourceType::Volume)
                    .set_tags(Some(sdk_tags(&req.volume_tags)))
                    .build(),
            );
        }
        if let Some(s) = spot {
            let persistent = s.interruption != "terminate";
            call = call.instance_market_options(
                InstanceMarketOptionsRequest::builder()
                    .market_type(MarketType::Spot)
                    .spot_options(
                        SpotMarketOptions::builder()
                            .set_max_price(s.max_price.clone())
                            .spot_instance_type(if persistent {
                                SpotInstanceType::Persistent
                            } else {
                                SpotInstanceType::OneTime
                            })
                            .instance_interruption_behavior(InstanceInterruptionBehavior::from(
                                s.interruption.as_str(),
                            ))
                            .build(),
                    )
                    .build(),
            );
        }
        if let Some(z) = &req.availability_zone {
            call = call.placement(
                aws_sdk_ec2::types::Placement::builder()
                    .availability_zone(z)
                    .build(),
            );
        }
        if let Some(p) = &req.iam_instance_profile {
            call = call
                .iam_instance_profile(IamInstanceProfileSpecification::builder().name(p).build());
        }
        if let Some(ud) = &req.user_data {
            call = call.user_data(base64::engine::general_purpose::STANDARD.encode(ud));
        }
        for b in &req.block_devices {
            call = call.block_device_mappings(
                BlockDeviceMapping::builder()
                    .device_name(&b.device)
                    .ebs(
                        EbsBlockDevice::builder()
                            .set_volume_size(b.size)
                            .volume_type(VolumeType::from(b.volume_type.as_str()))
                            .set_iops(b.iops)
                            .set_throughput(b.throughput)
                            .encrypted(b.encrypted)
                            .set_kms_key_id(b.kms_key.clone())
                            .delete_on_termination(b.delete_on_termination)
                            .build(),
                    )
                    .build(),
            );
        }
        let ids = vec![req
            .instance_tags
            .get(gm_model::TAG_ID)
            .cloned()
            .unwrap_or_default()];
        let out = self
            .mutate(
                "RunInstances",
                &ids,
                |r: &(String, String)| vec![r.0.clone()],
                async {
                    let resp = call
                        .send()
                        .await
                        .map_err(|e| CloudError::from_sdk("RunInstances", e))?;
                    resp.instances()
                        .first()
                        .and_then(|i| {
                            let state = i
                                .state()
                                .and_then(|s| s.name())
                                .map_or("pending", |n| n.as_str());
                            Some((i.instance_id()?.to_string(), state.to_string()))
                        })
                        .ok_or_else(|| {
                            CloudError::new("RunInstances", None, "AWS returned no instance")
                        })
                },
            )
            .await?;
        Ok(out)
    }
}

/// A `ClientToken` for a launch described by `what`: a digest, so the same launch gets the
/// same token in every process (51 characters; EC2 allows 64).
pub fn launch_token(what: &str) -> String {
    use sha2::Digest;
    let h = sha2::Sha256::digest(what.as_bytes());
    format!("gm-{}", hex::encode(&h[..24]))
}

/// The token after `token` when it names the gone instance `dead`.
pub fn next_launch_token(token: &str, dead: &str) -> String {
    launch_token(&format!("{token}|{dead}"))
}

fn image_info(img: &aws_sdk_ec2::types::Image) -> ImageInfo {
    ImageInfo {
        id: img.image_id().unwrap_or_default().to_string(),
        name: img.name().unwrap_or_default().to_string(),
        root_device_name: img.root_device_name().unwrap_or("/dev/xvda").to_string(),
        architecture: img
            .architecture()
            .map(|a| a.as_str().to_string())
            .unwrap_or_default(),
    }
}

impl Cloud {
    /// The latest spot price per availability zone for each type (Linux), from
    /// `DescribeSpotPriceHistory` — one paginated call for all types.
    pub async fn spot_prices(
        &self,
        types: &[String],
    ) -> Result<Vec<gm_model::SpotQuote>, CloudError> {
        let mut pages = self
            .ec2
            .describe_spot_price_history()
            .set_instance_types(Some(
                types
                    .iter()
                    .map(|t| InstanceType::from(t.as_str()))
                    .collect(),
            ))
            .product_descriptions("Linux/UNIX")
            .start_time(aws_smithy_types::DateTime::from_secs(
                chrono::Utc::now().timestamp() - 3600,
            ))
            .into_paginator()
            .send();
        let mut latest: std::collections::BTreeMap<(String, String), gm_model::SpotQuote> =
            Default::default();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| CloudError::from_sdk("DescribeSpotPriceHistory", e))?;
            for p in page.spot_price_history() {
                let (Some(t), Some(az), Some(price)) =
                    (p.instance_type(), p.availability_zone(), p.spot_price())
                else {
                    continue;
                };
                let Ok(usd) = price.parse::<f64>() else {
                    continue;
                };
                let ts = p.timestamp().map(|t| t.to_string()).unwrap_or_default();
                let key = (t.as_str().to_string(), az.to_string());
                if latest.get(&key).is_none_or(|x| x.timestamp < ts) {
                    latest.insert(
                        key,
                        gm_model::SpotQuote {
                            region: self.region.clone(),
                            availability_zone: az.to_string(),
                            instance_type: t.as_str().to_string(),
                            usd_per_hour: usd,
                            timestamp: ts,
                        },
                    );
                }
            }
        }
        Ok(latest.into_values().collect())
    }
}

impl Cloud {
    /// What AWS says an instance type offers (vCPU, memory, architecture, GPUs), or `None` when
    /// the region does not offer it.
    pub async fn instance_type_info(
        &self,
        instance_type: &str,
    ) -> Result<Option<gm_model::TypeInfo>, CloudError> {
        let resp = self
            .ec2
            .describe_instance_types()
            .instance_types(InstanceType::from(instance_type))
            .send()
            .await;
        let resp = match resp {
            Ok(r) => r,
            Err(e) => {
                let e = CloudError::from_sdk("DescribeInstanceTypes", e);
                if e.kind == ErrorKind::Invalid || e.kind == ErrorKind::NotFound {
                    return Ok(None);
                }
                return Err(e);
            }
        };
        Ok(resp.instance_types().first().map(|t| {
            let gpus = t.gpu_info().map(|g| g.gpus()).unwrap_or_default();
            gm_model::TypeInfo {
                vcpu: t
                    .v_cpu_info()
                    .and_then(|v| v.default_v_cpus())
                    .and_then(|v| u32::try_from(v).ok())
                    .unwrap_or(0),
                memory_gib: t
                    .memory_info()
                    .and_then(|m| m.size_in_mib())
                    .and_then(|m| u32::try_from(m / 1024).ok())
                    .unwrap_or(0),
                arch: t
                    .processor_info()
                    .and_then(|p| p.supported_architectures().first())
                    .map(|a| a.as_str().to_string())
                    .unwrap_or_default(),
                gpus: gpus
                    .iter()
                    .filter_map(|g| g.count())
                    .map(|c| u32::try_from(c).unwrap_or(0))
                    .sum(),
                gpu: gpus.first().and_then(|g| g.name()).map(str::to_string),
                gpu_memory_gib: gpus
                    .first()
                    .and_then(|g| g.memory_info())
                    .and_then(|m| m.size_in_mib())
                    .and_then(|m| u32::try_from(m / 1024).ok()),
            }
        }))
    }
}
