//! The edge: Application Load Balancer (ELBv2) and CloudFront. Reads find a deployment's edge by
//! its derived names and comment, confirmed by tag; writes are audited like every mutation.

use std::time::{Duration, Instant};

use aws_sdk_cloudfront::types as cf;
use aws_sdk_elasticloadbalancingv2::types as elb;
use gm_model::{
    ActualCdn, ActualLb, ActualTargetGroup, DesiredCdn, DesiredLb, Listener, Tags, TAG_DEPLOYMENT,
};

use crate::{gone_is_ok, Backoff, Cloud, CloudError, ErrorKind};

/// The origin id inside the distribution.
const ORIGIN_ID: &str = "geusemaker-alb";

/// What the deployment's edge looks like in AWS.
#[derive(Debug, Clone, Default)]
pub struct ActualEdge {
    /// The load balancer.
    pub load_balancer: Option<ActualLb>,
    /// Its target group.
    pub target_group: Option<ActualTargetGroup>,
    /// Distributions with the deployment's comment.
    pub distributions: Vec<ActualCdn>,
}

impl ActualEdge {
    /// Puts what was read into a deployment's read-back.
    pub fn fill(self, actual: &mut gm_model::Actual) {
        actual.load_balancer = self.load_balancer;
        actual.target_group = self.target_group;
        actual.distributions = self.distributions;
    }
}

fn gone_is_none<T>(r: Result<T, CloudError>) -> Result<Option<T>, CloudError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.kind == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

fn elb_tags(tags: &Tags) -> Vec<elb::Tag> {
    tags.iter()
        .map(|(k, v)| elb::Tag::builder().key(k).value(v).build())
        .collect()
}

impl Cloud {
    /// The deployment's load balancer, target group and distributions: the two named describes
    /// and the distribution list run concurrently, then tags, listeners and target health.
    pub async fn describe_edge(&self, deployment: &str) -> Result<ActualEdge, CloudError> {
        let name = gm_model::lb_name(deployment);
        let comment = gm_model::cdn_comment(deployment);
        let (lb, tg, distributions) = tokio::try_join!(
            self.find_lb(&name),
            self.find_target_group(&name),
            self.find_distributions(&comment),
        )?;
        let arns: Vec<String> = lb
            .iter()
            .map(|l| l.arn.clone())
            .chain(tg.iter().map(|t| t.arn.clone()))
            .collect();
        let (tags, lb, tg) = tokio::try_join!(
            self.elb_tags(&arns),
            async {
                match lb {
                    Some(lb) => self.with_listeners(lb).await.map(Some),
                    None => Ok(None),
                }
            },
            async {
                match tg {
                    Some(tg) => self.target_health(tg).await.map(Some),
                    None => Ok(None),
                }
            },
        )?;
        // A name clash with something we did not make is never touched.
        let ours = |arn: &str| {
            tags.get(arn)
                .and_then(|t| t.get(TAG_DEPLOYMENT))
                .map(String::as_str)
                == Some(deployment)
        };
        Ok(ActualEdge {
            load_balancer: lb.filter(|l| ours(&l.arn)).map(|mut l| {
                l.tags = tags.get(&l.arn).cloned().unwrap_or_default();
                l
            }),
            target_group: tg.filter(|t| ours(&t.arn)),
            distributions,
        })
    }

    /// Tags of up to 20 ELB resources, by ARN.
    async fn elb_tags(
        &self,
        arns: &[String],
    ) -> Result<std::collections::HashMap<String, Tags>, CloudError> {
        if arns.is_empty() {
            return Ok(Default::default());
        }
        let out = self
            .elb
            .describe_tags()
            .set_resource_arns(Some(arns.to_vec()))
            .send()
            .await
            .map_err(|e| CloudError::from_sdk("DescribeTags", e))?;
        Ok(out
            .tag_descriptions()
            .iter()
            .map(|d| {
                (
                    d.resource_arn().unwrap_or_default().to_string(),
                    d.tags()
                        .iter()
                        .map(|t| {
                            (
                                t.key().unwrap_or_default().to_string(),
                                t.value().unwrap_or_default().to_string(),
                            )
                        })
                        .collect(),
                )
            })
            .collect())
    }

    async fn find_lb(&self, name: &str) -> Result<Option<ActualLb>, CloudError> {
        let r = self
            .elb
            .describe_load_balancers()
            .names(name)
            .send()
            .await
            .map_err(|e| CloudError::from_sdk("DescribeLoadBalancers", e));
        let Some(out) = gone_is_none(r)? else {
            return Ok(None);
        };
        Ok(out.load_balancers().first().map(|lb| ActualLb {
            arn: lb.load_balancer_arn().unwrap_or_default().into(),
            name: lb.load_balancer_name().unwrap_or_default().into(),
            dns_name: lb.dns_name().unwrap_or_default().into(),
            state: lb
                .state()
                .and_then(|s| s.code())
                .map(|c| c.as_str().to_string())
                .unwrap_or_default(),
            vpc_id: lb.vpc_id().unwrap_or_default().into(),
            subnets: lb
                .availability_zones()
                .iter()
                .filter_map(|z| z.subnet_id().map(str::to_string))
                .collect(),
            security_groups: lb.security_groups().to_vec(),
            tags: Tags::new(),
            listeners: Vec::new(),
        }))
    }

    /// A found load balancer with its listeners.
    async fn with_listeners(&self, mut lb: ActualLb) -> Result<ActualLb, CloudError> {
        let mut pages = self
            .elb
            .describe_listeners()
            .load_balancer_arn(&lb.arn)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| CloudError::from_sdk("DescribeListeners", e))?;
            lb.listeners.extend(page.listeners().iter().map(listener));
        }
        Ok(lb)
    }

    async fn find_target_group(&self, name: &str) -> Result<Option<ActualTargetGroup>, CloudError> {
        let r = self
            .elb
            .describe_target_groups()
            .names(name)
            .send()
            .await
            .map_err(|e| CloudError::from_sdk("DescribeTargetGroups", e));
        let Some(out) = gone_is_none(r)? else {
            return Ok(None);
        };
        Ok(out.target_groups().first().map(|t| ActualTargetGroup {
            arn: t.target_group_arn().unwrap_or_default().into(),
            name: t.target_group_name().unwrap_or_default().into(),
            port: t.port().unwrap_or_default(),
            health_check: t.health_check_path().unwrap_or("/").into(),
            targets: Vec::new(),
            health: Vec::new(),
        }))
    }

    async fn target_health(
        &self,
        mut tg: ActualTargetGroup,
    ) -> Result<ActualTargetGroup, CloudError> {
        let out = self
            .elb
            .describe_target_health()
            .target_group_arn(&tg.arn)
            .send()
            .await
            .map_err(|e| CloudError::from_sdk("DescribeTargetHealth", e))?;
        for d in out.target_health_descriptions() {
            if let Some(id) = d.target().and_then(|t| t.id()).map(str::to_string) {
                let state = d
                    .target_health()
                    .and_then(|h| h.state())
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default();
                tg.targets.push(id.clone());
                tg.health.push((id, state));
            }
        }
        Ok(tg)
    }

    async fn find_distributions(&self, comment: &str) -> Result<Vec<ActualCdn>, CloudError> {
        let mut pages = self.cloudfront.list_distributions().into_paginator().send();
        let mut out = Vec::new();
        let mut truncated = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| CloudError::from_sdk("ListDistributions", e))?;
            let Some(list) = page.distribution_list() else {
                continue;
            };
            for d in list.items() {
                // AWS always sends a summary's origins (at least one) and comment. An emulator
                // that leaves them out (moto 5; the SDK fills the gap with empty values) gets one
                // GetDistribution per such summary instead.
                if d.origins().is_none_or(|o| o.items().is_empty()) {
                    truncated.push(d.id().to_string());
                } else if d.comment() == comment {
                    out.push(ActualCdn {
                        id: d.id().into(),
                        arn: d.arn().into(),
                        domain_name: d.domain_name().into(),
                        enabled: d.enabled(),
                        status: d.status().into(),
                        origin: d
                            .origins()
                            .and_then(|o| o.items().first())
                            .map(|o| o.domain_name().to_string())
                            .unwrap_or_default(),
                        price_class: d.price_class().as_str().to_string(),
                    });
                }
            }
        }
        for id in truncated {
            let got = self
                .cloudfront
                .get_distribution()
                .id(&id)
                .send()
                .await
                .map_err(|e| CloudError::from_sdk("GetDistribution", e));
            let Some(got) = gone_is_none(got)? else {
                continue;
            };
            let Some(d) = got.distribution() else {
                continue;
            };
            let Some(c) = d.distribution_config().filter(|c| c.comment() == comment) else {
                continue;
            };
            out.push(ActualCdn {
                id: d.id().into(),
                arn: d.arn().into(),
                domain_name: d.domain_name().into(),
                enabled: c.enabled(),
                status: d.status().into(),
                origin: c
                    .origins()
                    .and_then(|o| o.items().first())
                    .map(|o| o.domain_name().to_string())
                    .unwrap_or_default(),
                price_class: c
                    .price_class()
                    .map(|p| p.as_str().to_string())
                    .unwrap_or_default(),
            });
        }
        Ok(out)
    }

    /// Creates the target group (unless `existing_tg` is given), the load balancer and its
    /// listeners. Returns (load balancer ARN, target group ARN, DNS name). A failure part-way
    /// leaves pieces [`Cloud::delete_lb`] removes: both are found again by name.
    pub async fn create_lb(
        &self,
        lb: &DesiredLb,
        subnets: &[String],
        vpc_id: &str,
        security_groups: &[String],
        existing_tg: Option<&str>,
    ) -> Result<(String, String, String), CloudError> {
        let tg_arn = match existing_tg {
            Some(a) => a.to_string(),
            None => {
                let call = self
                    .elb
                    .create_target_group()
                    .name(&lb.aws_name)
                    .protocol(elb::ProtocolEnum::Http)
                    .port(i32::from(lb.port))
                    .vpc_id(vpc_id)
                    .target_type(elb::TargetTypeEnum::Instance)
                    .health_check_path(&lb.health_check)
                    .health_check_protocol(elb::ProtocolEnum::Http)
                    .matcher(elb::Matcher::builder().http_code("200-399").build())
                    .set_tags(Some(elb_tags(&lb.tags)));
                self.mutate(
                    "CreateTargetGroup",
                    std::slice::from_ref(&lb.aws_name),
                    |a: &String| vec![a.clone()],
                    async {
                        let out = call
                            .send()
                            .await
                            .map_err(|e| CloudError::from_sdk("CreateTargetGroup", e))?;
                        Ok(out
                            .target_groups()
                            .first()
                            .and_then(|t| t.target_group_arn())
                            .unwrap_or_default()
                            .to_string())
                    },
                )
                .await?
            }
        };
        let call = self
            .elb
            .create_load_balancer()
            .name(&lb.aws_name)
            .r#type(elb::LoadBalancerTypeEnum::Application)
            .scheme(elb::LoadBalancerSchemeEnum::InternetFacing)
            .set_subnets(Some(subnets.to_vec()))
            .set_security_groups((!security_groups.is_empty()).then(|| security_groups.to_vec()))
            .set_tags(Some(elb_tags(&lb.tags)));
        let (arn, dns) = self
            .mutate(
                "CreateLoadBalancer",
                std::slice::from_ref(&lb.aws_name),
                |a: &(String, String)| vec![a.0.clone()],
                async {
                    let out = call
                        .send()
                        .await
                        .map_err(|e| CloudError::from_sdk("CreateLoadBalancer", e))?;
                    let b = out.load_balancers().first();
                    Ok((
                        b.and_then(|b| b.load_balancer_arn())
                            .unwrap_or_default()
                            .to_string(),
                        b.and_then(|b| b.dns_name()).unwrap_or_default().to_string(),
                    ))
                },
            )
            .await?;
        self.create_listeners(&arn, &tg_arn, lb).await?;
        Ok((arn, tg_arn, dns))
    }

    /// Creates the listeners `lb` wants on the load balancer `arn`.
    pub async fn create_listeners(
        &self,
        arn: &str,
        tg_arn: &str,
        lb: &DesiredLb,
    ) -> Result<(), CloudError> {
        for l in lb.listeners() {
            let action = if l.redirect_https {
                elb::Action::builder()
                    .r#type(elb::ActionTypeEnum::Redirect)
                    .redirect_config(
                        elb::RedirectActionConfig::builder()
                            .protocol("HTTPS")
                            .port("443")
                            .status_code(elb::RedirectActionStatusCodeEnum::Http301)
                            .build(),
                    )
                    .build()
            } else {
                elb::Action::builder()
                    .r#type(elb::ActionTypeEnum::Forward)
                    .target_group_arn(tg_arn)
                    .build()
            };
            let protocol = if l.protocol == "HTTPS" {
                elb::ProtocolEnum::Https
            } else {
                elb::ProtocolEnum::Http
            };
            let call = self
                .elb
                .create_listener()
                .load_balancer_arn(arn)
                .protocol(protocol)
                .port(l.port)
                .set_certificates(
                    l.certificate_arn
                        .as_ref()
                        .map(|c| vec![elb::Certificate::builder().certificate_arn(c).build()]),
                )
                .default_actions(action);
            self.mutate_unit("CreateListener", &[arn.to_string()], call.send())
                .await?;
        }
        Ok(())
    }

    /// Deletes every listener of the load balancer `arn`, then creates the wanted ones.
    pub async fn replace_listeners(
        &self,
        arn: &str,
        tg_arn: &str,
        lb: &DesiredLb,
    ) -> Result<(), CloudError> {
        let out = self
            .elb
            .describe_listeners()
            .load_balancer_arn(arn)
            .send()
            .await
            .map_err(|e| CloudError::from_sdk("DescribeListeners", e))?;
        for l in out.listeners() {
            if let Some(la) = l.listener_arn() {
                let call = self.elb.delete_listener().listener_arn(la);
                gone_is_ok(
                    self.mutate_unit("DeleteListener", &[la.to_string()], call.send())
                        .await,
                )?;
            }
        }
        self.create_listeners(arn, tg_arn, lb).await
    }

    /// Sets the target group's health check path.
    pub async fn set_health_check(&self, tg_arn: &str, path: &str) -> Result<(), CloudError> {
        let call = self
            .elb
            .modify_target_group()
            .target_group_arn(tg_arn)
            .health_check_path(path);
        self.mutate_unit("ModifyTargetGroup", &[tg_arn.to_string()], call.send())
            .await
    }

    /// Makes the registered targets exactly `instance_ids` (one register and one deregister
    /// call at most).
    pub async fn sync_targets(
        &self,
        tg_arn: &str,
        port: u16,
        instance_ids: &[String],
    ) -> Result<(), CloudError> {
        let have = self
            .target_health(ActualTargetGroup {
                arn: tg_arn.to_string(),
                ..ActualTargetGroup::default()
            })
            .await?
            .targets;
        let target = |id: &&String| {
            elb::TargetDescription::builder()
                .id(*id)
                .port(i32::from(port))
                .build()
        };
        let add: Vec<&String> = instance_ids.iter().filter(|i| !have.contains(i)).collect();
        let drop: Vec<&String> = have.iter().filter(|i| !instance_ids.contains(i)).collect();
        if !add.is_empty() {
            let targets = add.iter().map(target).collect();
            let ids: Vec<String> = add.iter().map(|s| (*s).clone()).collect();
            let call = self
                .elb
                .register_targets()
                .target_group_arn(tg_arn)
                .set_targets(Some(targets));
            self.mutate_unit("RegisterTargets", &ids, call.send())
                .await?;
        }
        if !drop.is_empty() {
            let targets = drop.iter().map(target).collect();
            let ids: Vec<String> = drop.iter().map(|s| (*s).clone()).collect();
            let call = self
                .elb
                .deregister_targets()
                .target_group_arn(tg_arn)
                .set_targets(Some(targets));
            gone_is_ok(
                self.mutate_unit("DeregisterTargets", &ids, call.send())
                    .await,
            )?;
        }
        Ok(())
    }

    /// Deletes the load balancer (its listeners go with it), then the target group, retrying
    /// while AWS still sees the group in use by the load balancer being deleted.
    pub async fn delete_lb(
        &self,
        arn: Option<&str>,
        tg_arn: Option<&str>,
        timeout: Duration,
    ) -> Result<(), CloudError> {
        if let Some(arn) = arn {
            let call = self.elb.delete_load_balancer().load_balancer_arn(arn);
            gone_is_ok(
                self.mutate_unit("DeleteLoadBalancer", &[arn.to_string()], call.send())
                    .await,
            )?;
        }
        if let Some(tg) = tg_arn {
            let deadline = Instant::now() + timeout;
            let mut backoff = Backoff::default();
            loop {
                let call = self.elb.delete_target_group().target_group_arn(tg);
                match gone_is_ok(
                    self.mutate_unit("DeleteTargetGroup", &[tg.to_string()], call.send())
                        .await,
                ) {
                    Err(e) if e.kind == ErrorKind::InUse && Instant::now() < deadline => {
                        tokio::time::sleep(backoff.next_delay()).await;
                    }
                    other => return other,
                }
            }
        }
        Ok(())
    }

    /// Creates the distribution with the load balancer as its only origin. Returns (id, domain).
    pub async fn create_cdn(
        &self,
        cdn: &DesiredCdn,
        origin: &str,
    ) -> Result<(String, String), CloudError> {
        let reference = format!(
            "{}-{}",
            cdn.comment.replace(':', "-"),
            chrono::Utc::now().timestamp_millis()
        );
        let config = distribution_config(cdn, origin, &reference, true)?;
        let tags = cf::Tags::builder()
            .set_items(Some(
                cdn.tags
                    .iter()
                    .filter_map(|(k, v)| cf::Tag::builder().key(k).value(v).build().ok())
                    .collect(),
            ))
            .build();
        let with_tags = cf::DistributionConfigWithTags::builder()
            .distribution_config(config)
            .tags(tags)
            .build();
        let call = self
            .cloudfront
            .create_distribution_with_tags()
            .distribution_config_with_tags(with_tags);
        self.mutate(
            "CreateDistributionWithTags",
            std::slice::from_ref(&cdn.comment),
            |a: &(String, String)| vec![a.0.clone()],
            async {
                let out = call
                    .send()
                    .await
                    .map_err(|e| CloudError::from_sdk("CreateDistributionWithTags", e))?;
                let d = out.distribution();
                Ok((
                    d.map(|d| d.id().to_string()).unwrap_or_default(),
                    d.map(|d| d.domain_name().to_string()).unwrap_or_default(),
                ))
            },
        )
        .await
    }

    /// Rewrites the distribution's configuration: origin, price class, enabled.
    pub async fn update_cdn(
        &self,
        id: &str,
        cdn: &DesiredCdn,
        origin: &str,
    ) -> Result<(), CloudError> {
        let (config, etag) = self.cdn_config(id).await?;
        let reference = config.caller_reference().to_string();
        let new = distribution_config(cdn, origin, &reference, true)?;
        let call = self
            .cloudfront
            .update_distribution()
            .id(id)
            .if_match(etag)
            .distribution_config(new);
        self.mutate_unit("UpdateDistribution", &[id.to_string()], call.send())
            .await
    }

    async fn cdn_config(&self, id: &str) -> Result<(cf::DistributionConfig, String), CloudError> {
        let out = self
            .cloudfront
            .get_distribution_config()
            .id(id)
            .send()
            .await
            .map_err(|e| CloudError::from_sdk("GetDistributionConfig", e))?;
        let etag = out.e_tag().unwrap_or_default().to_string();
        let config = out.distribution_config().cloned().ok_or_else(|| {
            CloudError::new(
                "GetDistributionConfig",
                None,
                "the answer had no configuration",
            )
        })?;
        Ok((config, etag))
    }

    /// Disables the distribution, waits until CloudFront has deployed that (minutes on AWS),
    /// then deletes it. Gone already is success.
    pub async fn delete_cdn(&self, id: &str, timeout: Duration) -> Result<(), CloudError> {
        let Some((config, mut etag)) = gone_is_none(self.cdn_config(id).await)? else {
            return Ok(());
        };
        if config.enabled() {
            let mut off = config.clone();
            off.enabled = false;
            let call = self
                .cloudfront
                .update_distribution()
                .id(id)
                .if_match(&etag)
                .distribution_config(off);
            let out = self
                .mutate(
                    "UpdateDistribution",
                    &[id.to_string()],
                    |_: &Option<String>| vec![],
                    async {
                        call.send()
                            .await
                            .map(|o| o.e_tag().map(str::to_string))
                            .map_err(|e| CloudError::from_sdk("UpdateDistribution", e))
                    },
                )
                .await?;
            if let Some(e) = out {
                etag = e;
            }
        }
        let deadline = Instant::now() + timeout;
        let mut backoff = Backoff::default();
        loop {
            let out = self
                .cloudfront
                .get_distribution()
                .id(id)
                .send()
                .await
                .map_err(|e| CloudError::from_sdk("GetDistribution", e));
            let Some(out) = gone_is_none(out)? else {
                return Ok(());
            };
            if out.distribution().map(|d| d.status()) == Some("Deployed") {
                if let Some(e) = out.e_tag() {
                    etag = e.to_string();
                }
                break;
            }
            if Instant::now() >= deadline {
                return Err(CloudError::new(
                    "GetDistribution",
                    Some("Timeout"),
                    format!("distribution {id} is disabled but not yet deployed; run destroy again in a few minutes"),
                ));
            }
            tokio::time::sleep(backoff.next_delay().max(Duration::from_secs(1))).await;
        }
        let call = self.cloudfront.delete_distribution().id(id).if_match(etag);
        gone_is_ok(
            self.mutate_unit("DeleteDistribution", &[id.to_string()], call.send())
                .await,
        )
    }
}

fn listener(l: &elb::Listener) -> Listener {
    let action = l.default_actions().first();
    Listener {
        port: l.port().unwrap_or_default(),
        protocol: l
            .protocol()
            .map(|p| p.as_str().to_string())
            .unwrap_or_default(),
        certificate_arn: l
            .certificates()
            .first()
            .and_then(|c| c.certificate_arn())
            .map(str::to_string),
        redirect_https: action.and_then(|a| a.r#type()) == Some(&elb::ActionTypeEnum::Redirect),
    }
}

fn distribution_config(
    cdn: &DesiredCdn,
    origin: &str,
    reference: &str,
    enabled: bool,
) -> Result<cf::DistributionConfig, CloudError> {
    let bad = |e: aws_smithy_types::error::operation::BuildError| {
        CloudError::new("CreateDistribution", None, e.to_string())
    };
    let methods = [
        cf::Method::Get,
        cf::Method::Head,
        cf::Method::Options,
        cf::Method::Put,
        cf::Method::Post,
        cf::Method::Patch,
        cf::Method::Delete,
    ];
    let custom = cf::CustomOriginConfig::builder()
        .http_port(80)
        .https_port(443)
        .origin_protocol_policy(if cdn.https_origin {
            cf::OriginProtocolPolicy::HttpsOnly
        } else {
            cf::OriginProtocolPolicy::HttpOnly
        })
        .build()
        .map_err(bad)?;
    let o = cf::Origin::builder()
        .id(ORIGIN_ID)
        .domain_name(origin)
        .custom_origin_config(custom)
        .build()
        .map_err(bad)?;
    let allowed = cf::AllowedMethods::builder()
        .quantity(methods.len() as i32)
        .set_items(Some(methods.to_vec()))
        .cached_methods(
            cf::CachedMethods::builder()
                .quantity(2)
                .items(cf::Method::Get)
                .items(cf::Method::Head)
                .build()
                .map_err(bad)?,
        )
        .build()
        .map_err(bad)?;
    let behavior = cf::DefaultCacheBehavior::builder()
        .target_origin_id(ORIGIN_ID)
        .viewer_protocol_policy(cf::ViewerProtocolPolicy::RedirectToHttps)
        .allowed_methods(allowed)
        .cache_policy_id(&cdn.cache_policy_id)
        .origin_request_policy_id(&cdn.origin_request_policy_id)
        .compress(true)
        .build()
        .map_err(bad)?;
    let price_class = cf::PriceClass::from(cdn.price_class.as_str());
    cf::DistributionConfig::builder()
        .caller_reference(reference)
        .comment(&cdn.comment)
        .enabled(enabled)
        .price_class(price_class)
        .http_version(cf::HttpVersion::Http2)
        .origins(
            cf::Origins::builder()
                .quantity(1)
                .items(o)
                .build()
                .map_err(bad)?,
        )
        .default_cache_behavior(behavior)
        .build()
        .map_err(bad)
}
