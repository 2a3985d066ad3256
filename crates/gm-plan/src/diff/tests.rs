//! Plans for the changes users make to specs.

use std::path::Path;

use super::*;
use crate::{desire, ActualSg, Attachment, BlockDevice};

const SPEC: &str = r#"version: 1
deployment: demo
tags: {team: ml}
security_groups:
  - name: web
    ingress:
      - {protocol: tcp, port: 22, cidr: 10.0.0.0/8}
instances:
  - name: web
    count: 2
    type: t3.micro
    ami: al2023
    security_groups: [web]
    user_data: {inline: "echo hi"}
    volumes:
      - {device: /dev/sdf, size: 10, type: gp3, iops: 4000}
"#;

fn desired(text: &str) -> Desired {
    desire(&gm_spec::load_str("spec.yaml", text, Path::new(".")).expect("valid spec"))
}

/// What the cloud layer would read back after applying `d` exactly.
fn converged(d: &Desired) -> Actual {
    let mut a = Actual::default();
    for (i, sg) in d.security_groups.iter().enumerate() {
        a.security_groups.push(ActualSg {
            id: format!("sg-{i:08}"),
            name: sg.aws_name.clone(),
            vpc_id: Some("vpc-1".into()),
            tags: sg.tags.clone(),
            ingress: sg.ingress.clone(),
        });
    }
    for (n, inst) in d.instances.iter().enumerate() {
        let id = format!("i-{n:08}");
        let groups = inst
            .security_groups
            .iter()
            .map(|g| match g {
                GroupRef::Id(x) => x.clone(),
                GroupRef::Ours(name) => {
                    let k = d
                        .security_groups
                        .iter()
                        .position(|s| &s.name == name)
                        .unwrap();
                    format!("sg-{k:08}")
                }
            })
            .collect();
        let mut block_devices = Vec::new();
        for (j, v) in inst.volumes.iter().enumerate() {
            let vid = format!("vol-{n:04}{j:04}");
            block_devices.push(BlockDevice {
                device: v.device.clone(),
                volume_id: vid.clone(),
                delete_on_termination: v.delete_on_termination,
            });
            a.volumes.push(ActualVolume {
                id: vid,
                size: v.size as i32,
                volume_type: v.volume_type.as_str().into(),
                iops: v.iops.map(|x| x as i32),
                throughput: v.throughput.map(|x| x as i32),
                encrypted: v.encrypted,
                kms_key_id: None,
                state: "in-use".into(),
                tags: inst.volume_tags.clone(),
                attachments: vec![Attachment {
                    instance_id: id.clone(),
                    device: v.device.clone(),
                    delete_on_termination: v.delete_on_termination,
                }],
                availability_zone: None,
            });
        }
        a.instances.push(ActualInstance {
            id,
            state: "running".into(),
            instance_type: inst.instance_type.clone(),
            image_id: "ami-12345678".into(),
            subnet_id: Some("subnet-1".into()),
            key_name: inst.key_pair.clone(),
            tags: inst.tags.clone(),
            security_group_ids: groups,
            launch_time: Some(format!("2026-01-01T00:00:0{n}Z")),
            root_device_name: Some("/dev/xvda".into()),
            block_devices,
            ..Default::default()
        });
    }
    a
}

#[test]
fn empty_account_creates_everything_in_dependency_order() {
    let d = desired(SPEC);
    let p = diff(&d, &Actual::default());
    let addrs: Vec<&str> = p.changes.iter().map(|c| c.address.as_str()).collect();
    assert_eq!(addrs, ["sg/web", "instance/web/0", "instance/web/1"]);
    assert!(p.changes.iter().all(|c| c.kind == ChangeKind::Create));
    assert_eq!(
        p.summary(),
        "Plan: 3 to create, 0 to update, 0 to replace, 0 to destroy."
    );
}

#[test]
fn converged_deployment_plans_nothing() {
    let d = desired(SPEC);
    let p = diff(&d, &converged(&d));
    assert!(p.is_empty(), "{}", p.to_text());
}

#[test]
fn count_up_adds_only_new_instances() {
    let before = desired(SPEC);
    let after = desired(&SPEC.replace("count: 2", "count: 3"));
    let p = diff(&after, &converged(&before));
    assert_eq!(p.changes.len(), 1, "{}", p.to_text());
    assert_eq!(p.changes[0].address, "instance/web/2");
    assert_eq!(p.changes[0].kind, ChangeKind::Create);
}

#[test]
fn count_down_removes_the_highest_index() {
    let before = desired(SPEC);
    let after = desired(&SPEC.replace("count: 2", "count: 1"));
    let p = diff(&after, &converged(&before));
    assert_eq!(p.changes.len(), 1, "{}", p.to_text());
    assert_eq!(p.changes[0].address, "instance/web/1");
    assert_eq!(p.changes[0].kind, ChangeKind::Delete);
}

#[test]
fn type_change_is_in_place_and_disruptive() {
    let before = desired(SPEC);
    let after = desired(&SPEC.replace("t3.micro", "t3.small"));
    let p = diff(&after, &converged(&before));
    assert_eq!(p.count(ChangeKind::Update), 2, "{}", p.to_text());
    assert!(p.changes.iter().all(|c| c.disruptive));
    assert!(p.to_text().contains("type: t3.micro → t3.small"));
}

#[test]
fn ami_and_user_data_changes_force_replacement() {
    let before = desired(SPEC);
    let after = desired(
        &SPEC
            .replace("ami: al2023", "ami: ami-0abcdef1234567890")
            .replace("echo hi", "echo bye"),
    );
    let p = diff(&after, &converged(&before));
    assert_eq!(p.count(ChangeKind::Replace), 2, "{}", p.to_text());
    let text = p.to_text();
    assert!(text.contains("± replace instance/web/0"), "{text}");
    assert!(
        text.contains("ami: al2023 → ami-0abcdef1234567890 (forces replacement)"),
        "{text}"
    );
    assert!(
        text.contains("user data changed (forces replacement)"),
        "{text}"
    );
}

#[test]
fn volume_growth_and_iops_are_in_place() {
    let before = desired(SPEC);
    let after = desired(&SPEC.replace(
        "size: 10, type: gp3, iops: 4000",
        "size: 20, type: gp3, iops: 5000",
    ));
    let p = diff(&after, &converged(&before));
    assert_eq!(p.changes.len(), 2, "{}", p.to_text());
    match &p.changes[0].action {
        Action::ModifyVolume { change, .. } => {
            assert_eq!(change.size, Some(20));
            assert_eq!(change.iops, Some(5000));
            assert_eq!(change.volume_type, None);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn volume_shrink_is_a_warning_not_a_change() {
    let before = desired(&SPEC.replace("size: 10", "size: 20"));
    let after = desired(SPEC);
    let p = diff(&after, &converged(&before));
    assert!(p.is_empty(), "{}", p.to_text());
    assert_eq!(p.warnings.len(), 2);
    assert!(p.warnings[0].contains("cannot shrink"));
}

#[test]
fn tag_changes_touch_only_tags() {
    let before = desired(SPEC);
    let after = desired(&SPEC.replace("tags: {team: ml}", "tags: {team: ai}"));
    let p = diff(&after, &converged(&before));
    // one per instance, one per volume, one for the group
    assert_eq!(p.changes.len(), 5, "{}", p.to_text());
    assert!(p
        .changes
        .iter()
        .all(|c| matches!(c.action, Action::Tag { .. })));
    assert!(p.to_text().contains("tag team: ml → ai"));
}

#[test]
fn duplicate_instances_are_removed_keeping_the_oldest() {
    let d = desired(SPEC);
    let mut a = converged(&d);
    let mut dup = a.instances[0].clone();
    dup.id = "i-dup".into();
    dup.launch_time = Some("2027-01-01T00:00:00Z".into());
    a.instances.push(dup);
    let p = diff(&d, &a);
    assert_eq!(p.changes.len(), 1, "{}", p.to_text());
    assert_eq!(p.changes[0].aws_id.as_deref(), Some("i-dup"));
    assert!(p.changes[0].details[0].contains("duplicate"));
}

#[test]
fn rule_changes_update_the_group() {
    let before = desired(SPEC);
    let after = desired(&SPEC.replace("port: 22, cidr: 10.0.0.0/8", "port: 22, cidr: 10.1.0.0/16"));
    let p = diff(&after, &converged(&before));
    assert_eq!(p.changes.len(), 1, "{}", p.to_text());
    match &p.changes[0].action {
        Action::UpdateSgRules { add, remove, .. } => {
            assert_eq!(add.len(), 1);
            assert_eq!(remove.len(), 1);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn removed_group_is_destroyed_after_instances() {
    let before = desired(SPEC);
    let after = desired(&SPEC.replace("count: 2", "count: 0").replace("security_groups:\n  - name: web\n    ingress:\n      - {protocol: tcp, port: 22, cidr: 10.0.0.0/8}\n", "").replace("    security_groups: [web]\n", ""));
    let p = diff(&after, &converged(&before));
    let kinds: Vec<(&str, ChangeKind)> = p
        .changes
        .iter()
        .map(|c| (c.address.as_str(), c.kind))
        .collect();
    assert_eq!(
        kinds,
        [
            ("instance/web/0", ChangeKind::Delete),
            ("instance/web/1", ChangeKind::Delete),
            ("sg/web", ChangeKind::Delete)
        ]
    );
}

#[test]
fn detached_kept_volumes_are_reported_not_deleted() {
    let d = desired(SPEC);
    let mut a = converged(&d);
    let mut v = a.volumes[0].clone();
    v.id = "vol-kept".into();
    v.attachments.clear();
    a.volumes.push(v);
    let p = diff(&d, &a);
    assert!(p.is_empty());
    assert_eq!(p.kept.len(), 1);
    assert!(p.kept[0].contains("vol-kept"));
}

const IDENTITY: &str = r#"version: 1
deployment: demo
secrets: [{name: db-password}, {name: api-key, length: 32}]
roles:
  - {name: app, read_secrets: true, managed_policies: ["arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"]}
instances:
  - {name: a, type: t3.micro, ami: al2023, role: app}
"#;

#[test]
fn roles_and_secrets_are_created_before_instances() {
    let d = desired(IDENTITY);
    let p = diff(&d, &Actual::default());
    let addrs: Vec<&str> = p.changes.iter().map(|c| c.address.as_str()).collect();
    assert_eq!(
        addrs,
        [
            "role/app",
            "secret/db-password",
            "secret/api-key",
            "instance/a/0"
        ]
    );
    assert_eq!(
        d.instances[0].iam_instance_profile.as_deref(),
        Some("gm-demo-app")
    );
    assert_eq!(d.secrets[0].parameter, "/geusemaker/demo/db-password");
    assert!(d.roles[0]
        .secrets_policy
        .as_deref()
        .unwrap()
        .contains("parameter/geusemaker/demo/*"));
}

#[test]
fn existing_roles_and_secrets_plan_nothing_and_removed_ones_go_last() {
    let d = desired(IDENTITY);
    let mut a = converged(&d);
    a.roles.push(crate::ActualRole {
        name: "gm-demo-app".into(),
        arn: "arn:aws:iam::123456789012:role/geusemaker/demo/gm-demo-app".into(),
        profile: Some("gm-demo-app".into()),
        profile_has_role: true,
        managed_policies: vec!["arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore".into()],
        secrets_policy: Some("{}".into()),
    });
    for s in &d.secrets {
        a.secrets.push(crate::ActualSecret {
            parameter: s.parameter.clone(),
        });
    }
    assert!(diff(&d, &a).is_empty(), "{}", diff(&d, &a).to_text());
    let fewer = desired(&IDENTITY.replace(
        "secrets: [{name: db-password}, {name: api-key, length: 32}]",
        "secrets: [{name: db-password}]",
    ));
    let p = diff(&fewer, &a);
    assert_eq!(p.changes.len(), 1, "{}", p.to_text());
    assert!(
        matches!(&p.changes[0].action, Action::DeleteSecret { parameter } if parameter == "/geusemaker/demo/api-key")
    );
}

#[test]
fn role_policy_changes_are_updates() {
    let d = desired(&IDENTITY.replace(
        ", managed_policies: [\"arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore\"]",
        "",
    ));
    let mut a = converged(&d);
    a.roles.push(crate::ActualRole {
        name: "gm-demo-app".into(),
        arn: "arn".into(),
        profile: Some("gm-demo-app".into()),
        profile_has_role: true,
        managed_policies: vec!["arn:aws:iam::aws:policy/Old".into()],
        secrets_policy: None,
    });
    let p = diff(&d, &a);
    match &p.changes[0].action {
        Action::UpdateRole {
            attach,
            detach,
            secrets_policy,
            repair_profile,
            ..
        } => {
            assert!(attach.is_empty());
            assert_eq!(detach, &vec!["arn:aws:iam::aws:policy/Old".to_string()]);
            assert_eq!(*secrets_policy, Some(true));
            assert!(!repair_profile);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_new_instance_takes_over_its_kept_volume() {
    let text = SPEC
        .replace("count: 2", "count: 1")
        .replace("iops: 4000}", "iops: 4000, delete_on_termination: false}");
    let d = desired(&text);
    let mut a = converged(&d);
    a.instances.clear();
    let v = &mut a.volumes[0];
    v.attachments.clear();
    v.state = "available".into();
    v.availability_zone = Some("us-east-1c".into());
    v.tags.insert(crate::TAG_DEVICE.into(), "/dev/sdf".into());
    let p = diff(&d, &a);
    let create = p
        .changes
        .iter()
        .find(|c| c.address == "instance/web/0")
        .unwrap();
    match &create.action {
        Action::CreateInstance { reattach, .. } => {
            assert_eq!(reattach.len(), 1);
            assert_eq!(reattach[0].availability_zone, "us-east-1c");
            assert_eq!(reattach[0].device, "/dev/sdf");
        }
        other => panic!("{other:?}"),
    }
    assert!(
        p.kept.is_empty(),
        "a volume taken over is not listed as kept: {:?}",
        p.kept
    );
    assert!(p.to_text().contains("reattaches kept volume"));
}

#[test]
fn a_replaced_instance_hands_its_kept_volume_to_the_new_one() {
    let kept = SPEC
        .replace("count: 2", "count: 1")
        .replace("iops: 4000}", "iops: 4000, delete_on_termination: false}");
    let before = desired(&kept);
    let after = desired(&kept.replace("echo hi", "echo bye"));
    let mut a = converged(&before);
    a.volumes[0].availability_zone = Some("us-east-1b".into());
    let p = diff(&after, &a);
    let c = p
        .changes
        .iter()
        .find(|c| c.address == "instance/web/0")
        .expect("a change for the instance");
    match &c.action {
        Action::ReplaceInstance {
            moves,
            release,
            old_id,
            ..
        } => {
            assert_eq!(old_id, "i-00000000");
            assert_eq!(moves.len(), 1, "{moves:?}");
            assert_eq!(moves[0].volume_id, "vol-00000000");
            assert_eq!(moves[0].device, "/dev/sdf");
            assert_eq!(moves[0].availability_zone, "us-east-1b");
            assert_eq!(*release, Release::Stop);
        }
        other => panic!("{other:?}"),
    }
    let text = p.to_text();
    assert!(
        text.contains("data volume vol-00000000 moves to the new instance at /dev/sdf"),
        "{text}"
    );
    assert!(
        text.contains("i-00000000 is stopped before its volumes move"),
        "{text}"
    );

    // A one-time spot instance cannot be stopped: it goes first.
    a.instances[0].spot = true;
    let p = diff(&after, &a);
    let release = p.changes.iter().find_map(|c| match &c.action {
        Action::ReplaceInstance { release, .. } => Some(*release),
        _ => None,
    });
    assert_eq!(release, Some(Release::Terminate));
    assert!(p.to_text().contains("cannot be stopped"), "{}", p.to_text());
}

#[test]
fn a_replacement_without_kept_volumes_moves_nothing() {
    let before = desired(SPEC);
    let after = desired(&SPEC.replace("echo hi", "echo bye"));
    let p = diff(&after, &converged(&before));
    for c in &p.changes {
        if let Action::ReplaceInstance { moves, release, .. } = &c.action {
            assert!(moves.is_empty(), "{moves:?}");
            assert_eq!(*release, Release::Nothing);
        }
    }
    assert!(!p.to_text().contains("moves to the new instance"));
}

mod edge {
    use super::*;
    use crate::{ActualCdn, ActualLb, ActualTargetGroup};

    fn with_edge(extra: &str) -> Desired {
        desired(&format!(
            "{SPEC}load_balancer:\n  target: web\n  port: 8080\n  health_check: /ready\n{extra}"
        ))
    }

    /// `converged` plus the edge as the cloud layer would read it back.
    fn edge_converged(d: &Desired) -> Actual {
        let mut a = converged(d);
        let lb = d.load_balancer.as_ref().unwrap();
        let mut listeners = lb.listeners();
        listeners.reverse(); // AWS's order is not ours
        a.load_balancer = Some(ActualLb {
            arn: "arn:lb".into(),
            name: lb.aws_name.clone(),
            dns_name: "lb.example".into(),
            listeners,
            ..ActualLb::default()
        });
        a.target_group = Some(ActualTargetGroup {
            arn: "arn:tg".into(),
            name: lb.aws_name.clone(),
            port: i32::from(lb.port),
            health_check: lb.health_check.clone(),
            targets: a.instances.iter().map(|i| i.id.clone()).collect(),
            health: Vec::new(),
        });
        if let Some(c) = &d.cdn {
            a.distributions.push(ActualCdn {
                id: "E1".into(),
                domain_name: "d1.cloudfront.net".into(),
                enabled: true,
                status: "Deployed".into(),
                origin: "lb.example".into(),
                price_class: c.price_class.clone(),
                ..ActualCdn::default()
            });
        }
        a
    }

    fn actions(p: &Plan) -> Vec<(ChangeKind, String)> {
        p.changes
            .iter()
            .map(|c| (c.kind, c.address.clone()))
            .collect()
    }

    #[test]
    fn a_new_edge_is_created_after_the_instances() {
        let d = with_edge("cdn: {price_class: '200'}\n");
        let p = diff(&d, &Actual::default());
        let a = actions(&p);
        let lb = a.iter().position(|x| x.1 == "load-balancer").unwrap();
        let cdn = a.iter().position(|x| x.1 == "cdn").unwrap();
        let last_instance = a
            .iter()
            .rposition(|x| x.1.starts_with("instance/"))
            .unwrap();
        assert!(last_instance < lb && lb < cdn, "{a:?}");
        assert!(matches!(
            p.changes[cdn].action,
            Action::CreateCdn { ref cdn } if cdn.price_class == "PriceClass_200" && !cdn.https_origin
        ));
        // The plan, not the cloud layer, decides that the application behind it is not cached.
        let cdn = d.cdn.as_ref().unwrap();
        assert_eq!(cdn.cache_policy_id, crate::edge::CACHING_DISABLED);
        assert_eq!(cdn.origin_request_policy_id, crate::edge::ALL_VIEWER);
    }

    #[test]
    fn a_converged_edge_plans_nothing_whatever_the_listener_order() {
        let d = with_edge(
            "  certificate_arn: arn:aws:acm:us-east-1:123456789012:certificate/abc\ncdn: {}\n",
        );
        assert_eq!(d.load_balancer.as_ref().unwrap().listeners().len(), 2);
        assert!(d.cdn.as_ref().unwrap().https_origin);
        let p = diff(&d, &edge_converged(&d));
        assert!(p.is_empty(), "{}", p.to_text());
    }

    #[test]
    fn a_certificate_added_later_recreates_the_listeners_in_place() {
        let before = with_edge("");
        let a = edge_converged(&before);
        let after =
            with_edge("  certificate_arn: arn:aws:acm:us-east-1:123456789012:certificate/abc\n");
        let p = diff(&after, &a);
        assert_eq!(
            actions(&p),
            [(ChangeKind::Update, "load-balancer".to_string())]
        );
        assert!(matches!(
            p.changes[0].action,
            Action::UpdateLb {
                listeners: true,
                health_check: false,
                ..
            }
        ));
        assert!(
            p.changes[0].details[0].contains("HTTP:80→HTTPS"),
            "{:?}",
            p.changes[0].details
        );
    }

    #[test]
    fn a_new_port_replaces_the_load_balancer_and_moves_the_cdn_origin() {
        let before = with_edge("cdn: {}\n");
        let a = edge_converged(&before);
        let after = desired(&format!(
            "{SPEC}load_balancer:\n  target: web\n  port: 9090\n  health_check: /ready\ncdn: {{}}\n"
        ));
        let p = diff(&after, &a);
        assert_eq!(
            actions(&p),
            [
                (ChangeKind::Replace, "load-balancer".to_string()),
                (ChangeKind::Update, "cdn".to_string())
            ]
        );
    }

    #[test]
    fn scaling_the_target_group_resyncs_targets() {
        let d = with_edge("");
        let a = edge_converged(&d);
        let bigger = desired(
            &format!("{SPEC}load_balancer:\n  target: web\n  port: 8080\n  health_check: /ready\n")
                .replace("count: 2", "count: 3"),
        );
        let p = diff(&bigger, &a);
        assert!(
            p.changes
                .iter()
                .any(|c| matches!(c.action, Action::SyncTargets { .. })),
            "{}",
            p.to_text()
        );
    }

    #[test]
    fn a_removed_edge_goes_before_anything_else_is_deleted_cdn_first() {
        let d = with_edge("cdn: {}\n");
        let mut a = edge_converged(&d);
        // A duplicate distribution from a lost create answer goes too.
        a.distributions.push(ActualCdn {
            id: "E2".into(),
            ..a.distributions[0].clone()
        });
        let plain = desired(&SPEC.replace("count: 2", "count: 1"));
        let p = diff(&plain, &a);
        let a = actions(&p);
        assert_eq!(
            &a[..3],
            [
                (ChangeKind::Delete, "cdn".to_string()),
                (ChangeKind::Delete, "cdn".to_string()),
                (ChangeKind::Delete, "load-balancer".to_string())
            ],
            "{a:?}"
        );
        assert!(a.iter().any(|x| x.1 == "instance/web/1"), "{a:?}");
    }

    #[test]
    fn long_deployment_names_give_valid_elb_names() {
        let n = crate::lb_name("a-very-long-deployment-name-for-the-load-balancer");
        assert!(n.len() <= 32, "{n}");
        assert!(n.starts_with("gm-a-very-long"));
        assert!(!n.ends_with('-'));
        assert_ne!(
            n,
            crate::lb_name("a-very-long-deployment-name-for-the-load-balancer-2")
        );
        assert_eq!(crate::lb_name("demo"), "gm-demo");
    }
}
