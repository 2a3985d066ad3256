//! Roles and secrets owned by a deployment, against moto's IAM and SSM.

use crate::support::*;

fn iam() -> aws_sdk_iam::Client {
    aws_sdk_iam::Client::new(&sdk_config())
}

fn ssm() -> aws_sdk_ssm::Client {
    aws_sdk_ssm::Client::new(&sdk_config())
}

fn spec(d: &str) -> String {
    format!(
        r#"version: 1
deployment: {d}
secrets: [{{name: db-password}}, {{name: api-key, length: 32}}]
roles:
  - {{name: app, read_secrets: true, managed_policies: ["arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"]}}
instances:
  - {{name: a, type: t3.micro, ami: al2023, role: app}}
"#
    )
}

#[test]
fn roles_and_secrets_are_created_used_kept_secret_and_destroyed() {
    let env = Env::new();
    let d = name("ident");
    let path = env.spec(&spec(&d));
    let p = path.to_str().unwrap();
    let report = env.gm_json(&["apply", "-f", p, "--yes"], 0);
    assert_eq!(report["outcome"], "ok", "{report:#}");

    let role_name = format!("gm-{d}-app");
    let (role, profile, attached, inline) = block_on(async {
        let role = iam().get_role().role_name(&role_name).send().await.unwrap();
        let profile = iam()
            .get_instance_profile()
            .instance_profile_name(&role_name)
            .send()
            .await
            .unwrap();
        let attached = iam()
            .list_attached_role_policies()
            .role_name(&role_name)
            .send()
            .await
            .unwrap();
        let inline = iam()
            .get_role_policy()
            .role_name(&role_name)
            .policy_name("geusemaker-secrets")
            .send()
            .await
            .unwrap();
        (role, profile, attached, inline)
    });
    assert_eq!(role.role().unwrap().path(), format!("/geusemaker/{d}/"));
    assert_eq!(
        profile.instance_profile().unwrap().roles()[0].role_name(),
        role_name
    );
    assert_eq!(attached.attached_policies().len(), 1);
    assert!(
        inline
            .policy_document()
            .contains(&format!("geusemaker/{d}")),
        "{}",
        inline.policy_document()
    );

    let instance = &live_instances(&d)[0];
    assert!(
        instance
            .iam_instance_profile()
            .and_then(|p| p.arn())
            .unwrap_or("")
            .ends_with(&role_name),
        "{:?}",
        instance.iam_instance_profile()
    );

    let value = block_on(async {
        let out = ssm()
            .get_parameter()
            .name(format!("/geusemaker/{d}/db-password"))
            .with_decryption(true)
            .send()
            .await
            .unwrap();
        let p = out.parameter().unwrap().clone();
        assert_eq!(p.r#type().map(|t| t.as_str()), Some("SecureString"));
        p.value().unwrap().to_string()
    });
    assert_eq!(value.len(), 48);
    // The value is nowhere but SSM: not in stdout, the state file or the audit log.
    let state = std::fs::read(env.state()).unwrap();
    assert!(!String::from_utf8_lossy(&state).contains(&value));
    let audit = std::fs::read_to_string(env.dir.path().join("state.audit.jsonl")).unwrap();
    assert!(!audit.contains(&value));
    assert!(!report.to_string().contains(&value));

    // inspect hides values unless asked, and shows the stored one when asked.
    let hidden = env.gm_json(&["inspect", &d], 0);
    assert!(
        hidden["secrets"][format!("/geusemaker/{d}/db-password")].is_null(),
        "{hidden:#}"
    );
    let shown = env.gm_json(&["inspect", &d, "--show-secrets"], 0);
    assert_eq!(
        shown["secrets"][format!("/geusemaker/{d}/db-password")],
        value.as_str()
    );

    // Re-applying keeps the secret as it is and changes nothing.
    let again = env.gm_json(&["apply", "-f", p, "--yes"], 0);
    assert_eq!(again["changes"], 0, "{again:#}");

    // Removing a secret from the spec removes it from SSM.
    let fewer = env.spec(&spec(&d).replace("{name: db-password}, ", ""));
    let r = env.gm_json(&["apply", "-f", fewer.to_str().unwrap(), "--yes"], 0);
    assert_eq!(r["destroyed"][0]["address"], "secret/db-password", "{r:#}");

    let gone = env.gm_json(&["destroy", "-f", p, "--yes"], 0);
    assert!(gone["remaining"].as_array().unwrap().is_empty(), "{gone:#}");
    let (role_gone, params) = block_on(async {
        let role = iam().get_role().role_name(&role_name).send().await;
        let params = ssm()
            .get_parameters_by_path()
            .path(format!("/geusemaker/{d}"))
            .send()
            .await
            .unwrap();
        (role.is_err(), params.parameters().len())
    });
    assert!(role_gone, "the role is deleted");
    assert_eq!(params, 0, "the secrets are deleted");
    assert!(live_instances(&d).is_empty());
}

#[test]
fn a_failed_launch_rolls_back_roles_and_secrets_too() {
    let proxy = Proxy::start(vec![Fault {
        action: "RunInstances",
        body_contains: None,
        after: 0,
        times: usize::MAX,
        code: "InsufficientInstanceCapacity",
        status: 400,
    }]);
    let env = Env::via(&proxy);
    let d = name("identrb");
    let path = env.spec(&spec(&d));
    let out = env.gm(&["apply", "-f", path.to_str().unwrap(), "--yes"]);
    assert_eq!(
        out.status.code(),
        Some(5),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (role_gone, params) = block_on(async {
        let role = iam()
            .get_role()
            .role_name(format!("gm-{d}-app"))
            .send()
            .await;
        let params = ssm()
            .get_parameters_by_path()
            .path(format!("/geusemaker/{d}"))
            .send()
            .await
            .unwrap();
        (role.is_err(), params.parameters().len())
    });
    assert!(role_gone);
    assert_eq!(params, 0);
}

#[test]
fn a_lost_answer_to_our_own_create_is_adopted_not_rolled_back() {
    for (action, body_contains) in [
        ("CreateSecurityGroup", None),
        ("AuthorizeSecurityGroupIngress", None),
        ("CreateRole", None),
        // A secret, then the deployment's lock: both are SSM parameters.
        ("PutParameter", Some("/geusemaker/")),
        ("PutParameter", Some("/geusemaker-lock/")),
    ] {
        // The call reaches AWS; its answer is lost; the SDK tries again and AWS says "exists".
        let proxy = Proxy::start(vec![Fault {
            action,
            body_contains,
            after: 0,
            times: 1,
            code: LOST_ANSWER,
            status: 0,
        }]);
        let env = Env::via(&proxy);
        let d = name("lost");
        let text = format!(
            "{}security_groups:\n  - name: web\n    ingress:\n      - {{protocol: tcp, port: 22, cidr: 203.0.113.0/24}}\n",
            spec(&d)
        )
        .replace("role: app}", "role: app, security_groups: [web]}");
        let path = env.spec(&text);
        let out = env.gm(&["apply", "-f", path.to_str().unwrap(), "--yes", "-o", "json"]);
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{action}: {report:#}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(report["outcome"], "ok", "{action}: {report:#}");
        assert!(proxy.matched(0) >= 2, "{action}: the fault was hit");
        assert_eq!(groups(&d).len(), 1, "{action}: one group");
        assert_eq!(live_instances(&d).len(), 1, "{action}: one instance");
        // Converged: a fault-free re-apply changes nothing; destroy leaves nothing.
        let direct = Env::new();
        let again = direct.gm_json(&["apply", "-f", path.to_str().unwrap(), "--yes"], 0);
        assert_eq!(again["changes"], 0, "{action}: {again:#}");
        direct.gm_json(&["destroy", &d, "--yes"], 0);
        assert!(groups(&d).is_empty(), "{action}");
        let left = block_on(async {
            ssm()
                .get_parameters_by_path()
                .path(format!("/geusemaker/{d}/"))
                .send()
                .await
                .unwrap()
        });
        assert!(left.parameters().is_empty(), "{action}: secrets left");
    }
}

/// What is left of a deployment in AWS: (instances, volumes, groups, secrets).
fn leftovers(d: &str) -> (usize, usize, usize, usize) {
    let secrets = block_on(async {
        ssm()
            .get_parameters_by_path()
            .path(format!("/geusemaker/{d}/"))
            .send()
            .await
            .map(|o| o.parameters().len())
            .unwrap_or(0)
    });
    (
        live_instances(d).len(),
        volumes(d).len(),
        groups(d).len(),
        secrets,
    )
}

/// Every mutating call of an apply and of a destroy, failed in each way once: the run's exit
/// code tells the truth, a fault-free re-run converges with one instance at the address, and
/// the final destroy leaves nothing.
#[test]
fn every_mutating_call_can_fail_in_every_way() {
    // (action, text its request must carry): the deployment's lock and its secrets are both
    // SSM parameters, told apart by path.
    let apply_actions = [
        ("CreateSecurityGroup", None),
        ("AuthorizeSecurityGroupIngress", None),
        ("CreateRole", None),
        ("CreateInstanceProfile", None),
        ("AddRoleToInstanceProfile", None),
        ("PutParameter", Some("/geusemaker/")),
        ("PutParameter", Some("/geusemaker-lock/")),
        ("RunInstances", None),
        ("CreateTags", None),
    ];
    let destroy_actions = [
        ("TerminateInstances", None),
        ("DeleteSecurityGroup", None),
        ("DeleteVolume", None),
        ("DeleteParameters", None),
        ("DeleteRole", None),
        ("DeleteParameter", Some("/geusemaker-lock/")),
    ];
    let modes: [(&'static str, u16); 3] = [
        (LOST_ANSWER, 0),
        ("InternalError", 500),
        ("RequestLimitExceeded", 503),
    ];
    let (mut applies, mut destroys, mut wrong_exits, mut duplicates) = (0, 0, 0, 0);
    let mut missed = Vec::new();
    // `bench/faults.sh` raises this to fail the 2nd, 3rd, … call of each action as well.
    let rounds: usize = std::env::var("GM_FAULT_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let mut cases = Vec::new();
    for after in 0..rounds {
        for (i, action) in apply_actions.iter().chain(&destroy_actions).enumerate() {
            for mode in modes {
                cases.push((after, *action, i >= apply_actions.len(), mode));
            }
        }
    }
    for (after, (action, body_contains), on_destroy, (code, status)) in cases {
        {
            let proxy = Proxy::start(vec![Fault {
                action,
                body_contains,
                after,
                times: 1,
                code,
                status,
            }]);
            let faulty = Env::via(&proxy);
            let direct = Env::new();
            let d = name("faults");
            let text = format!(
                "{}security_groups:\n  - name: web\n    ingress:\n      - {{protocol: tcp, port: 22, cidr: 203.0.113.0/24}}\n",
                spec(&d)
            )
            .replace(
                "role: app}",
                "role: app, security_groups: [web], volumes: [{device: /dev/sdf, size: 8, type: gp3, delete_on_termination: false}]}",
            );
            let path = faulty.spec(&text);
            let p = path.to_str().unwrap();
            let case = format!(
                "{action}{} #{} {code}",
                body_contains.map_or(String::new(), |b| format!(" {b}")),
                after + 1
            );
            let first = if on_destroy {
                direct.gm_json(&["apply", "-f", p, "--yes"], 0);
                faulty.gm(&["destroy", &d, "--yes", "-o", "json"])
            } else {
                faulty.gm(&["apply", "-f", p, "--yes", "-o", "json"])
            };
            if proxy.matched(0) <= after {
                // Later rounds fail a later call, which not every action makes.
                if after == 0 {
                    missed.push(case.clone());
                }
            }
            let report: serde_json::Value =
                serde_json::from_slice(&first.stdout).unwrap_or_default();
            let code_seen = first.status.code();
            match (on_destroy, code_seen) {
                (false, Some(0)) => {
                    applies += 1;
                    if report["outcome"] != "ok" {
                        wrong_exits += 1;
                    }
                }
                (false, Some(5)) => {
                    applies += 1;
                    // Rolled back: nothing of the run is left.
                    if leftovers(&d) != (0, 0, 0, 0) {
                        wrong_exits += 1;
                        eprintln!("{case}: rolled back with leftovers {:?}", leftovers(&d));
                    }
                }
                (true, Some(0)) => {
                    destroys += 1;
                    if leftovers(&d) != (0, 0, 0, 0) {
                        wrong_exits += 1;
                        eprintln!("{case}: destroy said done, left {:?}", leftovers(&d));
                    }
                }
                (_, other) => {
                    if on_destroy {
                        destroys += 1;
                    } else {
                        applies += 1;
                    }
                    // Any other failure must say so (non-zero) and converge below.
                    assert_ne!(other, Some(0), "{case}");
                }
            }
            if !on_destroy {
                let again = direct.gm_json(&["apply", "-f", p, "--yes"], 0);
                applies += 1;
                assert_eq!(again["outcome"], "ok", "{case}: {again:#}");
                let live = live_instances(&d);
                if live.len() != 1 {
                    duplicates += live.len().saturating_sub(1);
                    eprintln!("{case}: {} instances after the re-apply", live.len());
                }
            }
            direct.gm_json(&["destroy", &d, "--yes"], 0);
            destroys += 1;
            assert_eq!(
                leftovers(&d),
                (0, 0, 0, 0),
                "{case}: destroy leaves nothing"
            );
        }
    }
    eprintln!(
        "fault campaign: {applies} applies, {destroys} destroys, {duplicates} duplicates, {wrong_exits} wrong exits; not called: {missed:?}"
    );
    assert!(missed.is_empty(), "every fault is hit: {missed:?}");
    assert_eq!((duplicates, wrong_exits), (0, 0));
    assert!(
        applies >= 40 * rounds && destroys >= 30 * rounds,
        "{applies} {destroys}"
    );
}
