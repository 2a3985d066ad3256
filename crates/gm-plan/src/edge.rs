//! The edge in front of instances: an Application Load Balancer with its target group and
//! listeners, and a CloudFront distribution whose origin is that load balancer.
//!
//! Names are derived from the deployment (load balancer and target group names are unique per
//! account and region), so a deployment's edge is found with one named describe and confirmed by
//! its `geusemaker:deployment` tag; the distribution carries the deployment in its comment, the
//! one field `ListDistributions` returns that we control.

use std::collections::BTreeSet;

use crate::diff::{Action, Change, ChangeKind, Plan};
use crate::{
    Actual, ActualCdn, ActualTargetGroup, Address, Desired, DesiredLb, Listener, CDN_ADDRESS,
    LB_ADDRESS, TG_ADDRESS,
};

/// CloudFront's managed cache policy `CachingDisabled`. What a deployment puts behind its load
/// balancer is an application (n8n above all), not a website: a cached answer would show one
/// user another's page.
pub const CACHING_DISABLED: &str = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad";
/// CloudFront's managed origin request policy `AllViewer`: cookies, headers and query strings
/// reach the application as the browser sent them (n8n's session cookie, its webhooks' queries).
pub const ALL_VIEWER: &str = "216adef6-5c7f-47e4-b989-5492eafa07d3";

/// The edge changes: creates and updates go to `plan` (after the instances, which they need),
/// removals to `deletes` (before security groups, which they use).
pub(crate) fn edge_changes(
    plan: &mut Plan,
    deletes: &mut Vec<Change>,
    desired: &Desired,
    actual: &Actual,
) {
    let mut lb_new = false;
    match (&desired.load_balancer, &actual.load_balancer) {
        (Some(d), None) => {
            lb_new = true;
            let mut details = vec![format!(
                "application load balancer {}, forwarding to instance/{}/* port {} (health check {})",
                d.aws_name, d.target, d.port, d.health_check
            )];
            for l in d.listeners() {
                details.push(listener_text(&l));
            }
            plan.changes.push(Change {
                kind: ChangeKind::Create,
                address: LB_ADDRESS.into(),
                aws_id: None,
                details,
                disruptive: false,
                action: Action::CreateLb {
                    lb: Box::new(d.clone()),
                    // A target group left by an earlier failed run is taken over, not duplicated.
                    target_group_arn: actual.target_group.as_ref().map(|t| t.arn.clone()),
                },
            });
        }
        (Some(d), Some(a)) => {
            let tg = actual.target_group.as_ref();
            let port_changed = tg.is_some_and(|t| t.port != i32::from(d.port));
            let subnets_changed = !d.subnets.is_empty() && {
                let want: BTreeSet<Option<&str>> = d
                    .subnets
                    .iter()
                    .map(|s| s.resolve(&actual.network))
                    .collect();
                let have: BTreeSet<Option<&str>> =
                    a.subnets.iter().map(|s| Some(s.as_str())).collect();
                want != have
            };
            if port_changed || subnets_changed || tg.is_none() {
                lb_new = true;
                let mut details = Vec::new();
                if port_changed {
                    details.push(format!(
                        "target port: {} → {}",
                        tg.map_or(0, |t| t.port),
                        d.port
                    ));
                }
                if subnets_changed {
                    details.push(format!(
                        "subnets: {} → {}",
                        a.subnets.join(","),
                        d.subnets
                            .iter()
                            .map(crate::SubnetRef::as_str)
                            .collect::<Vec<_>>()
                            .join(",")
                    ));
                }
                if tg.is_none() {
                    details.push("its target group is missing".into());
                }
                details.push("new DNS name; the CDN origin follows".into());
                plan.changes.push(Change {
                    kind: ChangeKind::Replace,
                    address: LB_ADDRESS.into(),
                    aws_id: Some(a.arn.clone()),
                    details,
                    disruptive: true,
                    action: Action::ReplaceLb {
                        lb: Box::new(d.clone()),
                        old_arn: a.arn.clone(),
                        old_target_group_arn: tg.map(|t| t.arn.clone()),
                    },
                });
            } else {
                let mut want = d.listeners();
                want.sort();
                let mut have = a.listeners.clone();
                have.sort();
                let listeners = want != have;
                let health = tg.is_some_and(|t| t.health_check != d.health_check);
                let mut details = Vec::new();
                if listeners {
                    details.push(format!(
                        "listeners: {} → {}",
                        have.iter()
                            .map(listener_short)
                            .collect::<Vec<_>>()
                            .join(", "),
                        want.iter()
                            .map(listener_short)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
                if health {
                    details.push(format!(
                        "health check: {} → {}",
                        tg.map_or("", |t| t.health_check.as_str()),
                        d.health_check
                    ));
                }
                if !details.is_empty() {
                    plan.changes.push(Change {
                        kind: ChangeKind::Update,
                        address: LB_ADDRESS.into(),
                        aws_id: Some(a.arn.clone()),
                        details,
                        disruptive: false,
                        action: Action::UpdateLb {
                            lb: Box::new(d.clone()),
                            arn: a.arn.clone(),
                            target_group_arn: tg.map(|t| t.arn.clone()).unwrap_or_default(),
                            listeners,
                            health_check: health,
                        },
                    });
                }
            }
            if !lb_new {
                if let Some(t) = tg {
                    target_sync(plan, d, t, actual);
                }
            }
        }
        (None, a) => {
            let a = a.as_ref();
            if a.is_some() || actual.target_group.is_some() {
                deletes.push(Change {
                    kind: ChangeKind::Delete,
                    address: LB_ADDRESS.into(),
                    aws_id: a.map(|a| a.arn.clone()),
                    details: vec![format!(
                        "load balancer {} with its listeners and target group",
                        a.map_or_else(
                            || actual.target_group.as_ref().map_or("", |t| t.name.as_str()),
                            |a| a.name.as_str()
                        )
                    )],
                    disruptive: true,
                    action: Action::DeleteLb {
                        arn: a.map(|a| a.arn.clone()),
                        target_group_arn: actual.target_group.as_ref().map(|t| t.arn.clone()),
                    },
                });
            }
        }
    }

    let mut cdns = actual.distributions.iter();
    match (&desired.cdn, cdns.next()) {
        (Some(d), None) => plan.changes.push(Change {
            kind: ChangeKind::Create,
            address: CDN_ADDRESS.into(),
            aws_id: None,
            details: vec![format!(
                "CloudFront distribution ({}), origin: the load balancer over {}",
                d.price_class,
                if d.https_origin { "HTTPS" } else { "HTTP" }
            )],
            disruptive: false,
            action: Action::CreateCdn {
                cdn: Box::new(d.clone()),
            },
        }),
        (Some(d), Some(a)) => {
            let origin_moved = lb_new
                || actual
                    .load_balancer
                    .as_ref()
                    .is_some_and(|lb| lb.dns_name != a.origin);
            let mut details = Vec::new();
            if origin_moved {
                details.push(format!("origin: {} → the load balancer", a.origin));
            }
            if a.price_class != d.price_class {
                details.push(format!(
                    "price class: {} → {}",
                    a.price_class, d.price_class
                ));
            }
            if !a.enabled {
                details.push("enabled: false → true".into());
            }
            if !details.is_empty() {
                plan.changes.push(Change {
                    kind: ChangeKind::Update,
                    address: CDN_ADDRESS.into(),
                    aws_id: Some(a.id.clone()),
                    details,
                    disruptive: false,
                    action: Action::UpdateCdn {
                        cdn: Box::new(d.clone()),
                        id: a.id.clone(),
                    },
                });
            }
        }
        (None, Some(a)) => deletes.insert(0, cdn_delete(a)),
        (None, None) => {}
    }
    // Extra distributions with our comment (a create whose answer was lost) go too.
    for a in cdns {
        deletes.insert(0, cdn_delete(a));
    }
}

fn cdn_delete(a: &ActualCdn) -> Change {
    Change {
        kind: ChangeKind::Delete,
        address: CDN_ADDRESS.into(),
        aws_id: Some(a.id.clone()),
        details: vec![format!(
            "distribution {} (disabled first, deleted once deployed)",
            a.domain_name
        )],
        disruptive: true,
        action: Action::DeleteCdn { id: a.id.clone() },
    }
}

/// Registers new instances of the target group and drops gone ones; planned when the registered
/// set differs from the group's instances or the instances themselves change.
fn target_sync(plan: &mut Plan, d: &DesiredLb, tg: &ActualTargetGroup, actual: &Actual) {
    let live: BTreeSet<&str> = actual
        .instances
        .iter()
        .filter(|i| {
            i.logical_id()
                .and_then(Address::parse)
                .is_some_and(|a| a.is_instance_of(&d.target))
        })
        .map(|i| i.id.as_str())
        .collect();
    let registered: BTreeSet<&str> = tg.targets.iter().map(String::as_str).collect();
    let instances_change = plan.changes.iter().any(|c| {
        c.kind != ChangeKind::Update
            && Address::parse(&c.address).is_some_and(|a| a.is_instance_of(&d.target))
    });
    if live == registered && !instances_change {
        return;
    }
    plan.changes.push(Change {
        kind: ChangeKind::Update,
        address: TG_ADDRESS.into(),
        aws_id: Some(tg.arn.clone()),
        details: vec![format!(
            "targets follow instance/{}/*: {} registered now",
            d.target,
            registered.len()
        )],
        disruptive: false,
        action: Action::SyncTargets {
            group: d.target.clone(),
            target_group_arn: tg.arn.clone(),
        },
    });
}

fn listener_short(l: &Listener) -> String {
    format!(
        "{}:{}{}",
        l.protocol,
        l.port,
        if l.redirect_https { "→HTTPS" } else { "" }
    )
}

fn listener_text(l: &Listener) -> String {
    match (&l.certificate_arn, l.redirect_https) {
        (_, true) => format!("listener {} {}: redirect to HTTPS 443", l.protocol, l.port),
        (Some(c), _) => format!("listener {} {}: certificate {c}", l.protocol, l.port),
        (None, false) => format!("listener {} {}: forward", l.protocol, l.port),
    }
}
