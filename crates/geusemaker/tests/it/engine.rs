//! The engine end to end against moto: apply, re-apply, change, fail part-way, destroy.
//! Every check reads AWS back through the SDK, the way a user would verify.

use crate::support::*;

fn spec(deployment: &str) -> String {
    format!(
        r#"version: 1
deployment: {deployment}
tags: {{team: ml}}
security_groups:
  - name: web
    ingress:
      - {{protocol: tcp, port: 22, cidr: 203.0.113.0/24}}
      - {{protocol: tcp, ports: 80-443, cidr: 0.0.0.0/0}}
instances:
  - name: web
    count: 2
    type: t3.micro
    ami: al2023
    security_groups: [web]
    user_data: {{inline: "echo hello-from-web"}}
    root_volume: {{size: 12, type: gp3}}
    volumes:
      - {{device: /dev/sdf, size: 20, type: gp3, iops: 4000, throughput: 250, encrypted: true, delete_on_termination: false}}
    tags: {{role: web}}
  - name: worker
    count: 1
    type: t3.small
    ami: al2023
    market: spot
    spot: {{max_price: "0.05", fallback: on-demand}}
"#
    )
}

fn apply(env: &Env, spec: &std::path::Path) -> serde_json::Value {
    env.gm_json(&["apply", "-f", spec.to_str().unwrap(), "--yes"], 0)
}

#[test]
fn apply_creates_exactly_the_spec() {
    let env = Env::new();
    let d = name("exact");
    let path = env.spec(&spec(&d));
    let report = apply(&env, &path);
    assert_eq!(report["outcome"], "ok");
    assert_eq!(report["created"].as_array().unwrap().len(), 4, "{report:#}");

    let instances = live_instances(&d);
    assert_eq!(instances.len(), 3);
    let web: Vec<_> = instances
        .iter()
        .filter(|i| {
            tag(i.tags(), "geusemaker:id")
                .unwrap()
                .starts_with("instance/web/")
        })
        .collect();
    assert_eq!(web.len(), 2);
    for i in &web {
        assert_eq!(i.instance_type().unwrap().as_str(), "t3.micro");
        assert_eq!(i.instance_lifecycle(), None, "web is on-demand");
        assert_eq!(tag(i.tags(), "geusemaker:deployment"), Some(d.as_str()));
        assert_eq!(tag(i.tags(), "geusemaker:managed"), Some("true"));
        assert_eq!(tag(i.tags(), "team"), Some("ml"));
        assert_eq!(tag(i.tags(), "role"), Some("web"));
        assert!(tag(i.tags(), "Name")
            .unwrap()
            .starts_with(&format!("{d}-web-")));
        let group_ids: Vec<&str> = i
            .security_groups()
            .iter()
            .filter_map(|g| g.group_id())
            .collect();
        assert_eq!(group_ids.len(), 1);
        // User data as AWS returns it: the user's script inside the monitoring wrapper.
        let ud = block_on(async {
            ec2()
                .describe_instance_attribute()
                .instance_id(i.instance_id().unwrap())
                .attribute(aws_sdk_ec2::types::InstanceAttributeName::UserData)
                .send()
                .await
                .unwrap()
        });
        use base64::Engine;
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(ud.user_data().unwrap().value().unwrap())
            .unwrap();
        let text = String::from_utf8(decoded).unwrap();
        assert!(text.contains("echo hello-from-web"), "{text}");
        assert!(text.contains("GEUSEMAKER-UD"), "{text}");
    }
    let worker = instances
        .iter()
        .find(|i| tag(i.tags(), "geusemaker:id") == Some("instance/worker/0"))
        .unwrap();
    assert_eq!(
        worker.instance_lifecycle().map(|l| l.as_str()),
        Some("spot")
    );
    assert_eq!(worker.instance_type().unwrap().as_str(), "t3.small");

    let vols = volumes(&d);
    let data: Vec<_> = vols.iter().filter(|v| v.size() == Some(20)).collect();
    assert_eq!(data.len(), 2, "one data volume per web instance");
    for v in &data {
        assert_eq!(v.volume_type().unwrap().as_str(), "gp3");
        // moto ignores Iops/Throughput in block-device mappings; the engine converges them
        // after launch with ModifyVolume, so AWS ends up as the spec says either way.
        assert_eq!(v.iops(), Some(4000));
        assert_eq!(v.throughput(), Some(250));
        assert_eq!(v.encrypted(), Some(true));
        assert_eq!(v.attachments()[0].device(), Some("/dev/sdf"));
    }
    let roots: Vec<_> = vols.iter().filter(|v| v.size() == Some(12)).collect();
    assert_eq!(roots.len(), 2, "root volumes of the web instances");

    let sgs = groups(&d);
    assert_eq!(sgs.len(), 1);
    let ports: Vec<(i32, i32)> = sgs[0]
        .ip_permissions()
        .iter()
        .map(|p| (p.from_port().unwrap(), p.to_port().unwrap()))
        .collect();
    assert!(
        ports.contains(&(22, 22)) && ports.contains(&(80, 443)),
        "{ports:?}"
    );
}

#[test]
fn second_apply_makes_zero_mutating_calls_and_at_most_three_requests() {
    let env = Env::new();
    let d = name("noop");
    let path = env.spec(&spec(&d));
    apply(&env, &path);
    let audit_before = env.audit_lines();
    assert!(audit_before > 0);
    let again = apply(&env, &path);
    assert_eq!(again["changes"], 0, "{again:#}");
    assert!(again["requests"].as_u64().unwrap() <= 3, "{again:#}");
    assert_eq!(env.audit_lines(), audit_before, "no mutating call was made");
    assert_eq!(live_instances(&d).len(), 3);
}

#[test]
fn apply_after_deleting_the_state_file_creates_nothing() {
    let env = Env::new();
    let d = name("lost");
    let path = env.spec(&spec(&d));
    apply(&env, &path);
    let ids: Vec<String> = live_instances(&d)
        .iter()
        .map(|i| i.instance_id().unwrap().to_string())
        .collect();
    std::fs::remove_file(env.state()).unwrap();
    let again = apply(&env, &path);
    assert_eq!(again["changes"], 0, "{again:#}");
    let mut after: Vec<String> = live_instances(&d)
        .iter()
        .map(|i| i.instance_id().unwrap().to_string())
        .collect();
    let mut before = ids;
    before.sort();
    after.sort();
    assert_eq!(before, after);
}

#[test]
fn changed_spec_updates_only_what_changed() {
    let env = Env::new();
    let d = name("change");
    let path = env.spec(&spec(&d));
    apply(&env, &path);
    let worker_before = live_instances(&d)
        .into_iter()
        .find(|i| tag(i.tags(), "geusemaker:id") == Some("instance/worker/0"))
        .unwrap();
    let changed = spec(&d)
        .replace("type: t3.micro", "type: t3.large")
        .replace("size: 20", "size: 30")
        .replace("count: 2", "count: 3")
        .replace("{team: ml}", "{team: ai}");
    let path = env.spec(&changed);
    let plan = env.gm_json(&["plan", "-f", path.to_str().unwrap()], 0);
    let kinds: Vec<(String, String)> = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["kind"].as_str().unwrap().to_string(),
                c["address"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        kinds.contains(&("create".into(), "instance/web/2".into())),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&("update".into(), "instance/web/0".into())),
        "{kinds:?}"
    );
    assert!(
        !kinds.iter().any(|(k, _)| k == "replace" || k == "delete"),
        "{kinds:?}"
    );
    let report = apply(&env, &path);
    assert_eq!(report["outcome"], "ok");
    assert!(report["created"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["address"] == "instance/web/2"));

    let instances = live_instances(&d);
    assert_eq!(instances.len(), 4);
    for i in instances.iter().filter(|i| {
        tag(i.tags(), "geusemaker:id")
            .unwrap()
            .starts_with("instance/web/")
    }) {
        assert_eq!(i.instance_type().unwrap().as_str(), "t3.large");
        assert_eq!(tag(i.tags(), "team"), Some("ai"));
    }
    let worker = instances
        .iter()
        .find(|i| tag(i.tags(), "geusemaker:id") == Some("instance/worker/0"))
        .unwrap();
    assert_eq!(
        worker.instance_id(),
        worker_before.instance_id(),
        "worker was not touched"
    );
    assert_eq!(worker.instance_type().unwrap().as_str(), "t3.small");
    for v in volumes(&d)
        .iter()
        .filter(|v| v.attachments().first().and_then(|a| a.device()) == Some("/dev/sdf"))
    {
        assert_eq!(v.size(), Some(30));
    }
    // And the result is stable.
    let again = apply(&env, &path);
    assert_eq!(again["changes"], 0, "{again:#}");
}

#[test]
fn user_data_change_replaces_the_instance() {
    let env = Env::new();
    let d = name("replace");
    let one = format!("version: 1\ndeployment: {d}\ninstances:\n  - {{name: app, type: t3.micro, ami: al2023, user_data: {{inline: \"echo one\"}}}}\n");
    let path = env.spec(&one);
    apply(&env, &path);
    let before = live_instances(&d)[0].instance_id().unwrap().to_string();
    let path = env.spec(&one.replace("echo one", "echo two"));
    let plan = env.gm(&["plan", "-f", path.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&plan.stdout);
    assert!(
        text.contains("± replace instance/app/0")
            && text.contains("user data changed (forces replacement)"),
        "{text}"
    );
    let report = apply(&env, &path);
    assert_eq!(
        report["replaced"].as_array().unwrap().len(),
        1,
        "{report:#}"
    );
    let after = live_instances(&d);
    assert_eq!(after.len(), 1);
    assert_ne!(after[0].instance_id().unwrap(), before);
}

fn kept_volume_spec(d: &str, script: &str) -> String {
    format!(
        "version: 1\ndeployment: {d}\ninstances:\n  - name: db\n    type: t3.micro\n    ami: al2023\n    user_data: {{inline: \"{script}\"}}\n    volumes:\n      - {{device: /dev/sdf, size: 8, type: gp3, delete_on_termination: false}}\n"
    )
}

/// The data volume of `instance` at /dev/sdf, by its attachment.
fn data_volume_of(d: &str, instance: &str) -> Option<String> {
    volumes(d)
        .into_iter()
        .find(|v| {
            v.attachments()
                .iter()
                .any(|a| a.instance_id() == Some(instance) && a.device() == Some("/dev/sdf"))
        })
        .and_then(|v| v.volume_id().map(str::to_string))
}

#[test]
fn a_replacement_takes_the_data_volume_with_it() {
    let env = Env::new();
    let d = name("move");
    let path = env.spec(&kept_volume_spec(&d, "echo one"));
    apply(&env, &path);
    let old = live_instances(&d)[0].instance_id().unwrap().to_string();
    let data = data_volume_of(&d, &old).expect("a data volume on the first instance");

    let path = env.spec(&kept_volume_spec(&d, "echo two"));
    let plan = env.gm(&["plan", "-f", path.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&plan.stdout);
    assert!(
        text.contains(&format!(
            "data volume {data} moves to the new instance at /dev/sdf"
        )),
        "{text}"
    );
    assert!(
        text.contains("is stopped before its volumes move"),
        "{text}"
    );

    let report = apply(&env, &path);
    assert_eq!(report["outcome"], "ok", "{report:#}");
    let live = live_instances(&d);
    assert_eq!(live.len(), 1);
    let new = live[0].instance_id().unwrap().to_string();
    assert_ne!(new, old);
    assert_eq!(
        data_volume_of(&d, &new).as_deref(),
        Some(data.as_str()),
        "the same volume, with its data, is on the new instance"
    );
    let all = volumes(&d);
    assert_eq!(all.len(), 1, "no second, empty data volume: {all:?}");
    let updated = report["updated"].as_array().unwrap();
    assert!(
        updated.iter().any(|u| u["aws_id"] == data.as_str()
            && u["what"].as_str().unwrap_or("").contains("moved from")),
        "{report:#}"
    );
    // Converged: nothing more to do.
    let again = apply(&env, &path);
    assert_eq!(again["changes"], 0, "{again:#}");
}

#[test]
fn an_instance_launches_in_its_zone_and_a_new_zone_does_not_replace_it() {
    let env = Env::new();
    let d = name("zone");
    let zoned = |z: &str| {
        kept_volume_spec(&d, "echo one").replace(
            "    ami: al2023\n",
            &format!("    ami: al2023\n    zone: {z}\n"),
        )
    };
    let path = env.spec(&zoned("us-east-1c"));
    let plan = env.gm(&["plan", "-f", path.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&plan.stdout);
    assert!(
        text.contains("t3.micro from al2023 in us-east-1c"),
        "{text}"
    );
    apply(&env, &path);
    let live = live_instances(&d);
    let zone_of = |i: &aws_sdk_ec2::types::Instance| {
        i.placement()
            .and_then(|p| p.availability_zone())
            .map(str::to_string)
    };
    assert_eq!(zone_of(&live[0]).as_deref(), Some("us-east-1c"));
    let data = data_volume_of(&d, live[0].instance_id().unwrap()).expect("a data volume");
    // The zone places launches only: the running instance and its data stay where they are.
    let path = env.spec(&zoned("us-east-1d"));
    let again = apply(&env, &path);
    assert_eq!(again["changes"], 0, "{again:#}");
    // A replacement goes where its data volume is, not to the new zone.
    let path = env.spec(&zoned("us-east-1d").replace("echo one", "echo two"));
    let report = apply(&env, &path);
    assert_eq!(report["outcome"], "ok", "{report:#}");
    let live = live_instances(&d);
    assert_eq!(live.len(), 1);
    assert_eq!(zone_of(&live[0]).as_deref(), Some("us-east-1c"));
    assert_eq!(
        data_volume_of(&d, live[0].instance_id().unwrap()).as_deref(),
        Some(data.as_str())
    );
}

#[test]
fn a_failed_replacement_gives_the_data_volume_back() {
    // The first launch (the initial apply) goes through; the replacement's launch fails.
    let proxy = Proxy::start(vec![Fault {
        action: "RunInstances",
        body_contains: None,
        after: 1,
        times: usize::MAX,
        code: "InsufficientInstanceCapacity",
        status: 400,
    }]);
    let env = Env::via(&proxy);
    let d = name("moveback");
    let path = env.spec(&kept_volume_spec(&d, "echo one"));
    apply(&env, &path);
    let old = live_instances(&d)[0].instance_id().unwrap().to_string();
    let data = data_volume_of(&d, &old).expect("a data volume on the first instance");

    let path = env.spec(&kept_volume_spec(&d, "echo two"));
    let out = env.gm(&["apply", "-f", path.to_str().unwrap(), "--yes", "-o", "json"]);
    assert_eq!(
        out.status.code(),
        Some(5),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["outcome"], "rolled-back", "{report:#}");
    let live = live_instances(&d);
    assert_eq!(live.len(), 1, "only the old instance");
    assert_eq!(live[0].instance_id(), Some(old.as_str()));
    assert_eq!(
        live[0].state().and_then(|s| s.name()).map(|n| n.as_str()),
        Some("running"),
        "started again"
    );
    assert_eq!(
        data_volume_of(&d, &old).as_deref(),
        Some(data.as_str()),
        "the data volume is back on the old instance"
    );
    assert_eq!(volumes(&d).len(), 1);
}

#[test]
fn count_down_terminates_highest_index_and_destroy_removes_kept_volumes() {
    let env = Env::new();
    let d = name("count");
    let path = env.spec(&spec(&d));
    apply(&env, &path);
    let path = env.spec(&spec(&d).replace("count: 2", "count: 1"));
    let report = apply(&env, &path);
    let destroyed = report["destroyed"].as_array().unwrap();
    assert_eq!(destroyed.len(), 1);
    assert_eq!(destroyed[0]["address"], "instance/web/1");
    // The data volume of web/1 has delete_on_termination: false: it is kept, still tagged.
    let kept: Vec<_> = volumes(&d)
        .into_iter()
        .filter(|v| v.attachments().is_empty())
        .collect();
    assert_eq!(kept.len(), 1);
    assert_eq!(
        tag(kept[0].tags(), "geusemaker:instance"),
        Some("instance/web/1")
    );
    let out = env.gm(&["destroy", &d, "--yes"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(live_instances(&d).is_empty());
    assert!(volumes(&d).is_empty(), "kept volumes go with destroy");
    assert!(groups(&d).is_empty());
}

#[test]
fn failure_part_way_leaves_nothing_behind() {
    // The third launch fails with a capacity error the spec does not allow to fall back from.
    let proxy = Proxy::start(vec![Fault {
        action: "RunInstances",
        body_contains: None,
        after: 2,
        times: usize::MAX,
        code: "InsufficientInstanceCapacity",
        status: 400,
    }]);
    let env = Env::via(&proxy);
    let d = name("rollback");
    let text = spec(&d).replace(
        "market: spot\n    spot: {max_price: \"0.05\", fallback: on-demand}\n",
        "",
    );
    let path = env.spec(&text);
    let out = env.gm(&[
        "apply",
        "-f",
        path.to_str().unwrap(),
        "--yes",
        "--parallelism",
        "1",
        "-o",
        "json",
    ]);
    assert_eq!(
        out.status.code(),
        Some(5),
        "exit 5 = failed and rolled back\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["outcome"], "rolled-back");
    assert_eq!(report["failure"]["code"], "InsufficientInstanceCapacity");
    let undone = report["undone"].as_array().unwrap();
    assert!(
        undone.iter().any(|u| u["address"] == "sg/web"),
        "{report:#}"
    );
    assert!(live_instances(&d).is_empty(), "no instance left");
    assert!(
        volumes(&d).is_empty(),
        "no volume left (the kept-on-termination ones too)"
    );
    assert!(groups(&d).is_empty(), "no security group left");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("hint:"), "{stderr}");
}

#[test]
fn spot_capacity_error_falls_back_to_on_demand() {
    let proxy = Proxy::start(vec![Fault {
        action: "RunInstances",
        body_contains: Some("MarketType=spot"),
        after: 0,
        times: usize::MAX,
        code: "InsufficientInstanceCapacity",
        status: 400,
    }]);
    let env = Env::via(&proxy);
    let d = name("fallback");
    let text = format!("version: 1\ndeployment: {d}\ninstances:\n  - {{name: gpu, type: g4dn.xlarge, ami: al2023, market: spot, spot: {{fallback: on-demand}}}}\n");
    let path = env.spec(&text);
    let report = apply(&env, &path);
    assert!(
        report["created"][0]["what"]
            .as_str()
            .unwrap()
            .contains("on-demand"),
        "{report:#}"
    );
    assert_eq!(
        report["instances"][0]["market"],
        "on-demand (spot fallback)"
    );
    let i = &live_instances(&d)[0];
    assert_eq!(i.instance_lifecycle(), None, "launched on-demand");
    // A fallback is not drift: the next apply changes nothing.
    let again = apply(&env, &path);
    assert_eq!(again["changes"], 0);
}

#[test]
fn destroy_removes_only_ours_and_keeps_referenced_resources() {
    let env = Env::new();
    let d = name("keep");
    let existing_sg = block_on(async {
        let vpc = ec2()
            .describe_vpcs()
            .filters(filter("is-default", "true"))
            .send()
            .await
            .unwrap()
            .vpcs()[0]
            .vpc_id()
            .unwrap()
            .to_string();
        ec2()
            .create_security_group()
            .group_name(format!("{d}-existing"))
            .description("made by someone else")
            .vpc_id(vpc)
            .send()
            .await
            .unwrap()
            .group_id()
            .unwrap()
            .to_string()
    });
    let text = format!(
        "version: 1\ndeployment: {d}\nsecurity_groups:\n  - {{name: own, ingress: [{{protocol: tcp, port: 22, cidr: 10.0.0.0/8}}]}}\ninstances:\n  - {{name: a, count: 2, type: t3.micro, ami: al2023, security_groups: [own, {existing_sg}]}}\n"
    );
    let path = env.spec(&text);
    apply(&env, &path);
    assert_eq!(live_instances(&d).len(), 2);
    // Refused without --yes when stdin is not a terminal.
    let out = env.gm(&["destroy", "-f", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        live_instances(&d).len(),
        2,
        "nothing removed without confirmation"
    );
    let report = env.gm_json(&["destroy", "-f", path.to_str().unwrap(), "--yes"], 0);
    assert!(report["remaining"].as_array().unwrap().is_empty());
    // One plan of every kind, under the lock; the read after it covers only the kinds found
    // (EC2's three); the lock's three; a terminate, its wait, a volume read, a group delete.
    assert!(report["requests"].as_u64().unwrap() <= 24, "{report:#}");
    let kept = report["kept"].as_array().unwrap();
    assert!(
        kept.iter()
            .any(|k| k.as_str().unwrap().contains(&existing_sg)),
        "the report names what it kept: {kept:?}"
    );
    assert!(live_instances(&d).is_empty());
    assert!(groups(&d).is_empty());
    let still = block_on(async {
        ec2()
            .describe_security_groups()
            .group_ids(&existing_sg)
            .send()
            .await
            .map(|o| o.security_groups().len())
    });
    assert_eq!(still.ok(), Some(1), "a referenced group is never deleted");
    // Destroy is idempotent.
    let again = env.gm_json(&["destroy", &d, "--yes"], 0);
    assert!(again["destroyed"].as_array().unwrap().is_empty());
    let list = env.gm_json(&["list"], 0);
    assert_eq!(list[0]["status"], "destroyed");
}

#[test]
fn a_duplicate_made_outside_is_removed_keeping_the_original() {
    let env = Env::new();
    let d = name("dup");
    let text = format!(
        "version: 1\ndeployment: {d}\ninstances:\n  - {{name: a, type: t3.micro, ami: al2023}}\n"
    );
    let path = env.spec(&text);
    apply(&env, &path);
    let original = live_instances(&d)[0].clone();
    // Simulate a retried launch that AWS did not deduplicate (moto ignores ClientToken).
    block_on(async {
        let tags: Vec<_> = original.tags().to_vec();
        ec2()
            .run_instances()
            .image_id(original.image_id().unwrap())
            .instance_type(aws_sdk_ec2::types::InstanceType::T3Micro)
            .min_count(1)
            .max_count(1)
            .tag_specifications(
                aws_sdk_ec2::types::TagSpecification::builder()
                    .resource_type(aws_sdk_ec2::types::ResourceType::Instance)
                    .set_tags(Some(tags))
                    .build(),
            )
            .send()
            .await
            .unwrap()
    });
    assert_eq!(live_instances(&d).len(), 2);
    let report = apply(&env, &path);
    assert_eq!(
        report["destroyed"].as_array().unwrap().len(),
        1,
        "{report:#}"
    );
    let left = live_instances(&d);
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].instance_id(), original.instance_id());
}

#[test]
fn a_duplicate_goes_with_its_kept_volume() {
    let env = Env::new();
    let d = name("dupvol");
    let path = env.spec(&kept_volume_spec(&d, "echo one"));
    apply(&env, &path);
    let original = live_instances(&d)[0].clone();
    let data = data_volume_of(&d, original.instance_id().unwrap()).expect("data volume");
    // A second copy with its own kept volume, as a lost launch answer would leave.
    let copy = block_on(async {
        let out = ec2()
            .run_instances()
            .image_id(original.image_id().unwrap())
            .instance_type(aws_sdk_ec2::types::InstanceType::T3Micro)
            .min_count(1)
            .max_count(1)
            .block_device_mappings(
                aws_sdk_ec2::types::BlockDeviceMapping::builder()
                    .device_name("/dev/sdf")
                    .ebs(
                        aws_sdk_ec2::types::EbsBlockDevice::builder()
                            .volume_size(8)
                            .delete_on_termination(false)
                            .build(),
                    )
                    .build(),
            )
            .tag_specifications(
                aws_sdk_ec2::types::TagSpecification::builder()
                    .resource_type(aws_sdk_ec2::types::ResourceType::Instance)
                    .set_tags(Some(original.tags().to_vec()))
                    .build(),
            )
            .tag_specifications(
                aws_sdk_ec2::types::TagSpecification::builder()
                    .resource_type(aws_sdk_ec2::types::ResourceType::Volume)
                    .set_tags(Some(original.tags().to_vec()))
                    .build(),
            )
            .send()
            .await
            .unwrap();
        out.instances()[0].instance_id().unwrap().to_string()
    });
    let extra = data_volume_of(&d, &copy).expect("the copy's volume");
    let plan = env.gm(&["plan", "-f", path.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&plan.stdout);
    assert!(
        text.contains(&format!("its kept volume {extra} at /dev/sdf goes with it")),
        "{text}"
    );
    let report = apply(&env, &path);
    assert!(
        report["destroyed"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["aws_id"] == extra.as_str()),
        "{report:#}"
    );
    let left = volumes(&d);
    let ids: Vec<&str> = left.iter().filter_map(|v| v.volume_id()).collect();
    assert!(ids.contains(&data.as_str()), "the original's data stays");
    assert!(
        !ids.contains(&extra.as_str()),
        "the copy's volume is gone: {ids:?}"
    );
    assert!(
        left.iter().all(|v| !v.attachments().is_empty()),
        "no kept volume attached to nothing"
    );
}

#[test]
fn apply_needs_yes_without_a_terminal_and_creates_nothing() {
    let env = Env::new();
    let d = name("noyes");
    let path = env.spec(&spec(&d));
    let out = env.gm(&["apply", "-f", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--yes"));
    assert!(live_instances(&d).is_empty());
}

#[test]
fn plan_detailed_exitcode_reports_changes() {
    let env = Env::new();
    let d = name("exitcode");
    let path = env.spec(&format!(
        "version: 1\ndeployment: {d}\ninstances:\n  - {{name: a, type: t3.micro, ami: al2023}}\n"
    ));
    let p = path.to_str().unwrap();
    let out = env.gm(&["plan", "-f", p, "--detailed-exitcode"]);
    assert_eq!(out.status.code(), Some(3));
    // The plan is priced from the dated catalog: t3.micro + its public IPv4 + an 8 GiB gp3 root.
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Cost: $0.0000/h → $0.0163/h"), "{text}");
    assert!(text.contains("[catalog 2025-01-15]"), "{text}");
    let plan = env.gm_json(&["plan", "-f", p], 0);
    let after = plan["cost"]["hourly_after"].as_f64().unwrap();
    assert!(
        (after - (0.0104 + 0.005 + 8.0 * 0.08 / 730.0)).abs() < 1e-9,
        "{after}"
    );
    apply(&env, &path);
    assert_eq!(
        env.gm(&["plan", "-f", p, "--detailed-exitcode"])
            .status
            .code(),
        Some(0)
    );
}

#[test]
fn invalid_spec_exits_2_with_a_located_error() {
    let env = Env::new();
    let path = env.spec("version: 1\ndeployment: x\ninstances:\n  - name: a\n    type: t3.micro\n    ami: al2023\n    cuont: 2\n");
    let out = env.gm(&["apply", "-f", path.to_str().unwrap(), "--yes"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("spec.yaml:7:5: unknown field `cuont`"),
        "{err}"
    );
    assert!(err.contains("did you mean `count`?"), "{err}");
}

#[test]
fn status_and_monitor_read_aws() {
    let env = Env::new();
    let d = name("status");
    let path = env.spec(&spec(&d));
    apply(&env, &path);
    let p = path.to_str().unwrap();
    let status = env.gm_json(&["status", "-f", p], 0);
    assert_eq!(status["in_sync"], true);
    assert_eq!(status["instances"].as_array().unwrap().len(), 3);
    let monitor = env.gm_json(&["monitor", "-f", p], 0);
    let list = monitor.as_array().unwrap();
    assert_eq!(list.len(), 3);
    // moto's GetConsoleOutput returns fixed boot text with no markers, so scripts show as
    // pending there; parsing of real markers is unit-tested in gm-engine.
    for m in list {
        let expected = if m["address"]
            .as_str()
            .unwrap()
            .starts_with("instance/worker")
        {
            "none"
        } else {
            "pending"
        };
        assert_eq!(m["user_data"]["state"], expected, "{m:#}");
    }
}

#[test]
fn state_records_runs_steps_and_provenance() {
    let env = Env::new();
    let d = name("state");
    let path = env.spec(&spec(&d));
    apply(&env, &path);
    let out = env.gm(&["state", "export"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let dep = v["deployments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == d.as_str())
        .unwrap();
    let run = &dep["runs"][0];
    assert_eq!(run["command"], "apply");
    assert_eq!(run["outcome"], "ok");
    let steps = run["steps"].as_array().unwrap();
    assert!(steps.iter().all(|s| s["outcome"] == "ok"), "{steps:#?}");
    assert!(steps
        .iter()
        .any(|s| s["action"] == "create" && s["address"] == "instance/web/1"));
    let records = dep["resource_records"].as_array().unwrap();
    let image = records
        .iter()
        .find(|r| r["kind"] == "image")
        .expect("the resolved AMI is recorded");
    assert_eq!(image["provenance"], "referenced");
    assert!(image["aws_id"].as_str().unwrap().starts_with("ami-"));
    assert_eq!(
        records
            .iter()
            .filter(|r| r["kind"] == "instance" && r["provenance"] == "created")
            .count(),
        3
    );
}

#[test]
fn throttling_and_server_errors_are_retried_until_apply_converges() {
    let proxy = Proxy::start(vec![
        Fault {
            action: "RunInstances",
            body_contains: None,
            after: 0,
            times: 2,
            code: "RequestLimitExceeded",
            status: 503,
        },
        Fault {
            action: "DescribeInstances",
            body_contains: None,
            after: 0,
            times: 1,
            code: "InternalError",
            status: 500,
        },
    ]);
    let env = Env::via(&proxy);
    let d = name("throttle");
    let path = env.spec(&format!("version: 1\ndeployment: {d}\ninstances:\n  - {{name: a, count: 2, type: t3.micro, ami: al2023}}\n"));
    let report = apply(&env, &path);
    assert_eq!(report["outcome"], "ok", "{report:#}");
    assert_eq!(
        live_instances(&d).len(),
        2,
        "exactly the spec, no duplicates from retries"
    );
    // Two launches answered with throttling were sent again.
    assert_eq!(proxy.count("RunInstances"), 4);
}

#[test]
fn wait_user_data_gives_up_at_the_timeout_with_a_hint() {
    let env = Env::new();
    let d = name("udwait");
    let path = env.spec(&format!("version: 1\ndeployment: {d}\ninstances:\n  - {{name: a, type: t3.micro, ami: al2023, user_data: {{inline: \"echo hi\"}}}}\n"));
    // moto's console never shows the wrapper's markers, so the script never "finishes" there.
    let out = env.gm(&[
        "apply",
        "-f",
        path.to_str().unwrap(),
        "--yes",
        "--wait-user-data",
        "--timeout",
        "1",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("user data still not finished after 1 s on instance/a/0"),
        "{err}"
    );
    assert!(err.contains("hint:"), "{err}");
}

#[test]
fn yaml_output_is_one_document() {
    let env = Env::new();
    let d = name("yaml");
    let path = env.spec(&format!(
        "version: 1\ndeployment: {d}\ninstances:\n  - {{name: a, type: t3.micro, ami: al2023}}\n"
    ));
    let out = env.gm(&["plan", "-f", path.to_str().unwrap(), "-o", "yaml"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("---"), "{text}");
    assert!(text.contains("address: instance/a/0"), "{text}");
    assert_eq!(text.matches("---").count(), 1, "{text}");
}

#[test]
fn a_profile_from_the_spec_or_the_flag_supplies_credentials() {
    let env = Env::new();
    let aws = env.dir.path().join(".aws");
    std::fs::create_dir_all(&aws).unwrap();
    std::fs::write(
        aws.join("credentials"),
        "[dev]\naws_access_key_id = from-profile\naws_secret_access_key = from-profile\n",
    )
    .unwrap();
    std::fs::write(aws.join("config"), "[profile dev]\nregion = us-east-1\n").unwrap();
    let d = name("profile");
    let body =
        format!("deployment: {d}\ninstances:\n  - {{name: a, type: t3.micro, ami: al2023}}\n");
    // No keys in the environment and no profile: the SDK's chain finds nothing.
    let bare = env.spec(&format!("version: 1\n{body}"));
    let out = env.gm_without_keys(&["plan", "-f", bare.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("credentials"), "{err}");
    assert!(err.contains("hint:"), "{err}");
    // --profile names the profile.
    let out = env.gm_without_keys(&["plan", "-f", bare.to_str().unwrap(), "--profile", "dev"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // So does `profile:` in the spec.
    let with_profile = env.spec(&format!("version: 1\nprofile: dev\n{body}"));
    let out = env.gm_without_keys(&["apply", "-f", with_profile.to_str().unwrap(), "--yes"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(live_instances(&d).len(), 1);
}

#[test]
fn throttled_calls_are_retried_and_the_run_goes_on() {
    // EC2 throttles the first three describes; the SDK backs off and tries again.
    let proxy = Proxy::start(vec![Fault {
        action: "DescribeInstances",
        body_contains: None,
        after: 0,
        times: 3,
        code: "RequestLimitExceeded",
        status: 503,
    }]);
    let env = Env::via(&proxy);
    let d = name("throttle");
    let path = env.spec(&format!(
        "version: 1\ndeployment: {d}\ninstances:\n  - {{name: a, type: t3.micro, ami: al2023}}\n"
    ));
    let plan = env.gm_json(&["plan", "-f", path.to_str().unwrap()], 0);
    assert_eq!(
        plan["changes"].as_array().map(Vec::len),
        Some(1),
        "{plan:#}"
    );
    let n = proxy.counts.lock().unwrap()["DescribeInstances"];
    assert_eq!(n, 4, "three throttled tries and one answer");
}

#[test]
fn a_launch_in_flight_at_a_kill_is_waited_for_not_duplicated() {
    // The first launch sits on the wire for 6 s; the apply is killed meanwhile.
    let proxy = Proxy::start(vec![Fault {
        action: "RunInstances",
        body_contains: None,
        after: 0,
        times: 1,
        code: "SLOW:6000",
        status: 0,
    }]);
    let env = Env::via(&proxy);
    let d = name("inflight");
    let path = env.spec(&format!(
        "version: 1\ndeployment: {d}\ninstances:\n  - {{name: a, type: t3.micro, ami: al2023}}\n"
    ));
    let p = path.to_str().unwrap();
    let mut child = env.spawn(&["apply", "-f", p, "--yes"]);
    until_sent(&proxy, &mut child, "RunInstances");
    child.kill().expect("kill the apply");
    let _ = child.wait();

    // At once, a new apply: it finds the unanswered launch in the journal and waits for it.
    let out = env.gm(&["apply", "-f", p, "--yes", "-o", "json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("launch(es) unanswered (instance/a/0)"),
        "{err}"
    );
    // Nothing of the deployment was known, so that run locked before planning. The killed
    // run's lock names a process on this machine that is gone: it was broken at once.
    assert!(
        err.contains("breaking a stale lock") && err.contains("its process is gone"),
        "{err}"
    );
    assert_eq!(lease(&d), None, "the lock was released");
    // Well after the held request has landed: one instance at the address.
    std::thread::sleep(std::time::Duration::from_secs(2));
    assert_eq!(live_instances(&d).len(), 1, "no duplicate");
    assert_eq!(proxy.count("RunInstances"), 1, "no second launch");
    // The journal no longer holds it: the next apply does not wait.
    let again = env.gm(&["apply", "-f", p, "--yes"]);
    assert!(!String::from_utf8_lossy(&again.stderr).contains("unanswered"));
    // That had nothing to change and took no lock.
    assert_eq!(lease(&d), None);
    let destroy = env.gm(&["destroy", &d, "--yes"]);
    let err = String::from_utf8_lossy(&destroy.stderr);
    assert_eq!(destroy.status.code(), Some(0), "{err}");
    assert!(!err.contains("stale lock"), "{err}");
    assert_eq!(lease(&d), None, "no lock is left behind");
}

/// Sends SIGINT (what Ctrl-C sends) to a child.
fn interrupt(child: &std::process::Child) {
    let sent = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(sent.success(), "SIGINT sent");
}

/// Waits until `action` has reached the proxy (the child may not have ended first).
fn until_sent(proxy: &Proxy, child: &mut std::process::Child, action: &str) {
    let waited = std::time::Instant::now();
    while proxy.count(action) == 0 && waited.elapsed().as_secs() < 60 {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the run ended ({status}) before {action}");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(proxy.count(action), 1, "{action} is on the wire");
}

/// A group and an instance in it, the group's create held on the wire for `ms`.
fn held_group_spec(env: &Env, d: &str) -> std::path::PathBuf {
    env.spec(&format!(
        "version: 1\ndeployment: {d}\nsecurity_groups:\n  - name: web\n    ingress: [{{protocol: tcp, port: 80, cidr: 0.0.0.0/0}}]\ninstances:\n  - {{name: a, type: t3.micro, ami: al2023, security_groups: [web]}}\n"
    ))
}

fn held(action: &'static str, ms: u64) -> Proxy {
    Proxy::start(vec![Fault {
        action,
        body_contains: None,
        after: 0,
        times: 1,
        code: Box::leak(format!("SLOW:{ms}").into_boxed_str()),
        status: 0,
    }])
}

#[test]
fn ctrl_c_during_an_apply_stops_it_at_the_next_step_and_undoes_it() {
    let proxy = held("CreateSecurityGroup", 3000);
    let env = Env::via(&proxy);
    let d = name("sigint");
    let path = held_group_spec(&env, &d);
    let p = path.to_str().unwrap();
    let mut child = env.spawn_piped(&["apply", "-f", p, "--yes", "-o", "json"]);
    until_sent(&proxy, &mut child, "CreateSecurityGroup");
    interrupt(&child);
    let out = child.wait_with_output().expect("the apply ends");
    let err = String::from_utf8_lossy(&out.stderr);
    // The create in flight was answered, then the run stopped and undid it: exit 5.
    assert_eq!(out.status.code(), Some(5), "{err}");
    assert!(err.contains("interrupt: stopping"), "{err}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("a JSON report");
    assert_eq!(report["outcome"], "rolled-back", "{report:#}");
    assert_eq!(report["failure"]["code"], "Interrupted", "{report:#}");
    assert_eq!(report["undone"][0]["address"], "sg/web", "{report:#}");
    assert!(err.contains("the run was interrupted"), "{err}");
    assert_eq!(
        proxy.count("AuthorizeSecurityGroupIngress"),
        0,
        "no step after the stop"
    );
    assert_eq!(proxy.count("RunInstances"), 0, "no launch after the stop");
    assert!(groups(&d).is_empty(), "the group it made was deleted");
    assert_eq!(lease(&d), None, "the lock was released");
    // The next apply makes it all, once.
    let again = env.gm(&["apply", "-f", p, "--yes"]);
    assert_eq!(
        again.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert_eq!(live_instances(&d).len(), 1);
    assert_eq!(groups(&d).len(), 1);
    let gone = env.gm(&["destroy", &d, "--yes"]);
    assert_eq!(gone.status.code(), Some(0));
}

#[test]
fn ctrl_c_during_a_destroy_reports_what_it_removed_and_what_is_left() {
    let proxy = held("TerminateInstances", 3000);
    let env = Env::via(&proxy);
    let d = name("sigintd");
    let path = held_group_spec(&env, &d);
    let p = path.to_str().unwrap();
    let applied = env.gm(&["apply", "-f", p, "--yes"]);
    assert_eq!(applied.status.code(), Some(0));
    let mut child = env.spawn_piped(&["destroy", &d, "--yes", "-o", "json"]);
    until_sent(&proxy, &mut child, "TerminateInstances");
    interrupt(&child);
    let out = child.wait_with_output().expect("the destroy ends");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    // The result is the partial report, with the error beside it.
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("a JSON report");
    assert_eq!(report["error"]["code"], "GM-STOP-001", "{report:#}");
    let remaining = report["remaining"].as_array().expect("remaining");
    assert!(
        remaining
            .iter()
            .any(|r| r.as_str().unwrap().starts_with("sg/web")),
        "the group it did not reach is named: {report:#}"
    );
    assert!(!groups(&d).is_empty(), "no step after the stop");
    // The next destroy finishes the job.
    let gone = env.gm(&["destroy", &d, "--yes"]);
    assert_eq!(gone.status.code(), Some(0));
    assert!(groups(&d).is_empty() && live_instances(&d).is_empty());
}

#[test]
fn a_second_ctrl_c_quits_at_once_and_the_next_apply_resumes() {
    let proxy = held("RunInstances", 4000);
    let env = Env::via(&proxy);
    let d = name("sigint2");
    let path = held_group_spec(&env, &d);
    let p = path.to_str().unwrap();
    let mut child = env.spawn_piped(&["apply", "-f", p, "--yes"]);
    until_sent(&proxy, &mut child, "RunInstances");
    interrupt(&child);
    std::thread::sleep(std::time::Duration::from_millis(300));
    interrupt(&child);
    let out = child.wait_with_output().expect("the apply ends");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{err}");
    // The launch it left unanswered is waited for, not repeated.
    let again = env.gm(&["apply", "-f", p, "--yes"]);
    let err = String::from_utf8_lossy(&again.stderr);
    assert_eq!(again.status.code(), Some(0), "{err}");
    assert!(
        err.contains("launch(es) unanswered (instance/a/0)"),
        "{err}"
    );
    std::thread::sleep(std::time::Duration::from_secs(2));
    assert_eq!(live_instances(&d).len(), 1, "no duplicate");
    let gone = env.gm(&["destroy", &d, "--yes"]);
    assert_eq!(gone.status.code(), Some(0));
    assert!(groups(&d).is_empty() && live_instances(&d).is_empty());
}

#[test]
fn ctrl_c_before_any_change_quits_at_once() {
    // The plan's read is held; nothing is being changed, so there is nothing to wait for.
    let proxy = held("DescribeInstances", 3000);
    let env = Env::via(&proxy);
    let d = name("sigint3");
    let path = held_group_spec(&env, &d);
    let mut child = env.spawn_piped(&["plan", "-f", path.to_str().unwrap()]);
    until_sent(&proxy, &mut child, "DescribeInstances");
    interrupt(&child);
    let out = child.wait_with_output().expect("the plan ends");
    // 130 is the handler quitting at once; had it waited for a step, the plan would have ended
    // with 0 once the read was answered.
    assert_eq!(out.status.code(), Some(130));
}

// ---- The deployment lock: one changing run at a time, whatever machine or state file ----

fn ssm() -> aws_sdk_ssm::Client {
    aws_sdk_ssm::Client::new(&sdk_config())
}

/// The deployment's lease, as AWS keeps it.
fn lease(d: &str) -> Option<String> {
    block_on(async {
        ssm()
            .get_parameter()
            .name(format!("/geusemaker-lock/{d}"))
            .send()
            .await
            .ok()
            .and_then(|o| o.parameter().and_then(|p| p.value()).map(str::to_string))
    })
}

/// Writes a lease as another run, on another machine, would.
fn foreign_lease(d: &str, value: &str) {
    block_on(async {
        ssm()
            .put_parameter()
            .name(format!("/geusemaker-lock/{d}"))
            .value(value)
            .r#type(aws_sdk_ssm::types::ParameterType::String)
            .overwrite(true)
            .send()
            .await
            .expect("put lease")
    });
}

fn lease_of(host: &str, expires: chrono::DateTime<chrono::Utc>) -> String {
    serde_json::json!({
        "id": "someone-else", "command": "apply", "user": "bob", "host": host,
        "pid": 4242, "acquired": "2026-12-03T06:00:00Z", "expires": expires.to_rfc3339(),
    })
    .to_string()
}

fn three(d: &str) -> String {
    format!(
        "version: 1\ndeployment: {d}\ninstances:\n  - {{name: a, count: 3, type: t3.micro, ami: al2023}}\n"
    )
}

/// The addresses of the deployment's live instances, sorted, one per instance.
fn addresses(d: &str) -> Vec<String> {
    let mut ids: Vec<String> = live_instances(d)
        .iter()
        .filter_map(|i| tag(i.tags(), "geusemaker:id").map(str::to_string))
        .collect();
    ids.sort();
    ids
}

/// Each address of the deployment once: no duplicate, none missing.
fn assert_each_address_once(d: &str) {
    assert_eq!(
        addresses(d),
        ["instance/a/0", "instance/a/1", "instance/a/2"]
    );
}

/// Both runs plan before either launches: the first launch is held on the wire for 3 s.
fn slow_first_launch() -> Proxy {
    Proxy::start(vec![Fault {
        action: "RunInstances",
        body_contains: None,
        after: 0,
        times: 1,
        code: "SLOW:3000",
        status: 0,
    }])
}

fn run_both(a: &Env, b: &Env, p: &str, extra: &[&str]) -> Vec<std::process::Output> {
    let mut args = vec!["apply", "-f", p, "--yes", "-o", "json"];
    args.extend_from_slice(extra);
    std::thread::scope(|s| {
        let one = s.spawn(|| a.gm(&args));
        let two = s.spawn(|| b.gm(&args));
        vec![one.join().expect("first"), two.join().expect("second")]
    })
}

#[test]
fn two_applies_at_once_from_two_state_files_make_each_instance_once() {
    let proxy = slow_first_launch();
    let (a, b) = (Env::via(&proxy), Env::via(&proxy));
    let d = name("race");
    let p = a.spec(&three(&d));
    let outs = run_both(&a, &b, p.to_str().unwrap(), &[]);
    let codes: Vec<Option<i32>> = outs.iter().map(|o| o.status.code()).collect();
    let loser = outs
        .iter()
        .find(|o| o.status.code() == Some(6))
        .unwrap_or_else(|| panic!("one run is refused: {codes:?}"));
    assert!(codes.contains(&Some(0)), "{codes:?}");
    let err = String::from_utf8_lossy(&loser.stderr);
    let report: serde_json::Value = serde_json::from_slice(&loser.stdout).expect("json");
    assert_eq!(report["error"]["code"], "GM-LOCK-001", "{report:#}");
    assert!(err.contains("is locked by `apply` by"), "{err}");
    assert!(err.contains("state unlock"), "{err}");
    assert_each_address_once(&d);
    assert_eq!(lease(&d), None, "the winner released its lock");
}

#[test]
fn a_second_apply_with_a_lock_timeout_waits_then_finds_nothing_to_do() {
    let proxy = slow_first_launch();
    // One state file for both, as two terminals on one machine.
    let env = Env::via(&proxy);
    let d = name("queue");
    let p = env.spec(&three(&d));
    let outs = run_both(&env, &env, p.to_str().unwrap(), &["--lock-timeout", "60"]);
    for o in &outs {
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    let reports: Vec<serde_json::Value> = outs
        .iter()
        .map(|o| serde_json::from_slice(&o.stdout).expect("json"))
        .collect();
    let waited = outs
        .iter()
        .position(|o| String::from_utf8_lossy(&o.stderr).contains("waiting for the lock"))
        .expect("one run says it waits");
    assert_eq!(reports[waited]["changes"], 0, "{:#}", reports[waited]);
    assert_eq!(
        reports[1 - waited]["changes"],
        3,
        "{:#}",
        reports[1 - waited]
    );
    assert_each_address_once(&d);
}

#[test]
fn a_live_foreign_lock_stops_changes_but_not_plans_and_unlock_removes_it() {
    let env = Env::new();
    let d = name("held");
    let p = env.spec(&three(&d));
    let p = p.to_str().unwrap();
    foreign_lease(
        &d,
        &lease_of(
            "elsewhere",
            chrono::Utc::now() + chrono::Duration::minutes(10),
        ),
    );
    // Reading is never locked.
    env.gm_json(&["plan", "-f", p], 0);
    let out = env.gm(&["apply", "-f", p, "--yes"]);
    assert_eq!(out.status.code(), Some(6));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("`apply` by bob@elsewhere (pid 4242)"), "{err}");
    assert!(live_instances(&d).is_empty(), "nothing was launched");
    // `state unlock` names the holder and removes the lease.
    let removed = env.gm_json(&["state", "unlock", &d, "--yes"], 0);
    assert!(
        removed["removed"]
            .as_str()
            .is_some_and(|s| s.contains("bob@elsewhere")),
        "{removed:#}"
    );
    assert_eq!(lease(&d), None);
    env.gm_json(&["apply", "-f", p, "--yes"], 0);
    assert_each_address_once(&d);
    // A run with nothing to change takes no lock, so a held one does not stop it.
    foreign_lease(
        &d,
        &lease_of(
            "elsewhere",
            chrono::Utc::now() + chrono::Duration::minutes(10),
        ),
    );
    let again = env.gm_json(&["apply", "-f", p, "--yes"], 0);
    assert_eq!(again["changes"], 0);
    let destroy = env.gm(&["destroy", &d, "--yes"]);
    assert_eq!(destroy.status.code(), Some(6), "destroy is a change too");
    let unlocked = env.gm_json(&["state", "unlock", &d, "--yes"], 0);
    assert!(unlocked["removed"].is_string());
    let nothing = env.gm_json(&["state", "unlock", &d, "--yes"], 0);
    assert!(nothing["removed"].is_null(), "{nothing:#}");
    env.gm_json(&["destroy", &d, "--yes"], 0);
}

#[test]
fn an_expired_or_unreadable_lock_is_broken_or_kept_as_it_says() {
    let env = Env::new();
    let d = name("stale");
    let p = env.spec(&three(&d));
    let p = p.to_str().unwrap();
    // Not ours to read: never broken silently.
    foreign_lease(&d, "held by the release pipeline");
    let out = env.gm(&["apply", "-f", p, "--yes"]);
    assert_eq!(out.status.code(), Some(6));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unreadable lease"));
    // Expired: the next run breaks it and says whose it was.
    foreign_lease(
        &d,
        &lease_of(
            "elsewhere",
            chrono::Utc::now() - chrono::Duration::minutes(1),
        ),
    );
    let out = env.gm(&["apply", "-f", p, "--yes"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("breaking a stale lock") && err.contains("it expired"),
        "{err}"
    );
    assert!(err.contains("bob@elsewhere"), "{err}");
    assert_eq!(lease(&d), None);
    assert_each_address_once(&d);
}

/// SIGKILL at chosen points: the run is killed while one mutating call is on the wire (held by
/// the proxy for 3 s, then delivered, so it takes effect with nobody to hear the answer). The
/// next run must converge — each address once, no lock left — and destroy must leave nothing.
#[test]
fn a_run_killed_at_each_mutating_call_converges_on_the_next() {
    let points: [(&'static str, bool); 7] = [
        ("PutParameter", false),
        ("CreateSecurityGroup", false),
        ("AuthorizeSecurityGroupIngress", false),
        ("RunInstances", false),
        ("TerminateInstances", true),
        ("DeleteSecurityGroup", true),
        ("DeleteVolume", true),
    ];
    std::thread::scope(|s| {
        for (action, on_destroy) in points {
            s.spawn(move || killed_at(action, on_destroy));
        }
    });
}

fn killed_at(action: &'static str, on_destroy: bool) {
    let proxy = Proxy::start(vec![Fault {
        action,
        body_contains: None,
        after: 0,
        times: 1,
        code: "SLOW:3000",
        status: 0,
    }]);
    let env = Env::via(&proxy);
    let d = name("killed");
    let path = env.spec(&spec(&d));
    let p = path.to_str().unwrap();
    if on_destroy {
        // The fault lets the apply's calls through: only destroy makes these.
        env.gm_json(&["apply", "-f", p, "--yes"], 0);
    }
    let mut child = if on_destroy {
        env.spawn(&["destroy", &d, "--yes"])
    } else {
        env.spawn(&["apply", "-f", p, "--yes"])
    };
    let started = std::time::Instant::now();
    while proxy.matched(0) == 0 && started.elapsed().as_secs() < 60 {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // Launches go concurrently: the first is held, the others may be sent too.
    assert!(proxy.matched(0) >= 1, "{action}: the call is on the wire");
    child.kill().expect("kill");
    let _ = child.wait();
    // Let the held call land: it took effect, and the killed run never heard.
    std::thread::sleep(std::time::Duration::from_millis(3500));
    if !on_destroy {
        let out = env.gm(&["apply", "-f", p, "--yes", "-o", "json"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{action}: {err}");
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json report");
        let resumed = report["warnings"].as_array().is_some_and(|w| {
            w.iter()
                .any(|x| x.as_str().is_some_and(|s| s.starts_with("resuming: run")))
        });
        // A kill at the lock's own call comes before the run is journaled.
        assert_eq!(
            resumed,
            action != "PutParameter",
            "{action}: says it resumes an interrupted run: {report:#}"
        );
        assert_eq!(
            addresses(&d),
            ["instance/web/0", "instance/web/1", "instance/worker/0"],
            "{action}: each address once"
        );
        assert_eq!(groups(&d).len(), 1, "{action}: one group");
        let again = env.gm_json(&["apply", "-f", p, "--yes"], 0);
        assert_eq!(again["changes"], 0, "{action}: converged: {again:#}");
    }
    let out = env.gm(&["destroy", &d, "--yes"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{action}: {err}");
    if on_destroy {
        assert!(
            err.contains("resuming: run") && err.contains("(destroy, started"),
            "{action}: the destroy says it resumes the killed one: {err}"
        );
    }
    assert!(live_instances(&d).is_empty(), "{action}: instances left");
    assert!(volumes(&d).is_empty(), "{action}: volumes left");
    assert!(groups(&d).is_empty(), "{action}: groups left");
    assert_eq!(lease(&d), None, "{action}: lock left");
}

fn network_spec(deployment: &str, vpc: &str) -> String {
    format!(
        r#"version: 1
deployment: {deployment}
network:
  vpc: {vpc}
  subnets:
    - {{name: public-a, cidr: 10.60.1.0/24, public: true}}
    - {{name: private, cidr: 10.60.10.0/24}}
security_groups:
  - name: app
    ingress: [{{protocol: tcp, port: 22, cidr: 10.60.0.0/16}}]
instances:
  - name: app
    type: t3.micro
    ami: al2023
    subnet: private
    security_groups: [app]
"#
    )
}

/// The deployment's network as AWS reports it by tag: (VPC ids, subnet ids, gateway ids,
/// route table ids).
fn network_of(d: &str) -> (Vec<String>, Vec<String>, Vec<String>, Vec<String>) {
    block_on(async {
        let f = || filter("tag:geusemaker:deployment", d);
        let c = ec2();
        let vpcs = c.describe_vpcs().filters(f()).send().await.unwrap();
        let subnets = c.describe_subnets().filters(f()).send().await.unwrap();
        let gws = c
            .describe_internet_gateways()
            .filters(f())
            .send()
            .await
            .unwrap();
        let rts = c.describe_route_tables().filters(f()).send().await.unwrap();
        (
            vpcs.vpcs()
                .iter()
                .filter_map(|v| v.vpc_id().map(String::from))
                .collect(),
            subnets
                .subnets()
                .iter()
                .filter_map(|s| s.subnet_id().map(String::from))
                .collect(),
            gws.internet_gateways()
                .iter()
                .filter_map(|g| g.internet_gateway_id().map(String::from))
                .collect(),
            rts.route_tables()
                .iter()
                .filter_map(|t| t.route_table_id().map(String::from))
                .collect(),
        )
    })
}

#[test]
fn an_own_network_is_created_exactly_kept_by_reapplies_and_destroyed_completely() {
    let env = Env::new();
    let d = name("net");
    let path = env.spec(&network_spec(&d, "{cidr: 10.60.0.0/16}"));
    let report = apply(&env, &path);
    assert_eq!(report["outcome"], "ok", "{report:#}");
    let (vpcs, subnets, gws, rts) = network_of(&d);
    assert_eq!(
        (vpcs.len(), subnets.len(), gws.len(), rts.len()),
        (1, 2, 1, 1)
    );
    let (vpc, rt) = block_on(async {
        let c = ec2();
        let v = c.describe_vpcs().vpc_ids(&vpcs[0]).send().await.unwrap();
        let t = c
            .describe_route_tables()
            .route_table_ids(&rts[0])
            .send()
            .await
            .unwrap();
        (v.vpcs()[0].clone(), t.route_tables()[0].clone())
    });
    assert_eq!(vpc.cidr_block(), Some("10.60.0.0/16"));
    assert!(
        rt.routes()
            .iter()
            .any(|r| r.destination_cidr_block() == Some("0.0.0.0/0")
                && r.gateway_id() == Some(gws[0].as_str())),
        "{rt:?}"
    );
    let associated: Vec<&str> = rt
        .associations()
        .iter()
        .filter_map(|a| a.subnet_id())
        .collect();
    assert_eq!(associated.len(), 1, "only the public subnet routes out");
    let instances = live_instances(&d);
    assert_eq!(instances.len(), 1);
    let private = instances[0].subnet_id().unwrap().to_string();
    assert!(subnets.contains(&private) && !associated.contains(&private.as_str()));
    assert_eq!(instances[0].vpc_id(), Some(vpcs[0].as_str()));
    assert_eq!(groups(&d)[0].vpc_id(), Some(vpcs[0].as_str()));

    // Re-apply: no mutating call, at most seven requests (three for EC2, four for the network).
    let audit = env.audit_lines();
    let again = apply(&env, &path);
    assert_eq!(again["changes"], 0, "{again:#}");
    assert!(again["requests"].as_u64().unwrap() <= 7, "{again:#}");
    assert_eq!(env.audit_lines(), audit, "no mutating call");

    // A lost state file finds the same network by tag.
    std::fs::remove_file(env.state()).unwrap();
    let again = apply(&env, &path);
    assert_eq!(again["changes"], 0, "{again:#}");
    assert_eq!(network_of(&d).0, vpcs);

    let out = env.gm_json(&["destroy", "-f", path.to_str().unwrap(), "--yes"], 0);
    assert!(out["remaining"].as_array().unwrap().is_empty(), "{out:#}");
    assert_eq!(
        network_of(&d),
        (vec![], vec![], vec![], vec![]),
        "nothing of the network left"
    );
    assert!(live_instances(&d).is_empty());
}

#[test]
fn a_nat_gateway_gives_the_private_subnet_a_way_out_and_destroy_releases_its_address() {
    let env = Env::new();
    let d = name("nat");
    let spec = network_spec(&d, "{cidr: 10.60.0.0/16}")
        .replace("  subnets:\n", "  nat_gateway: true\n  subnets:\n");
    let path = env.spec(&spec);
    let report = apply(&env, &path);
    assert_eq!(report["outcome"], "ok", "{report:#}");
    let (vpcs, subnets, _, rts) = network_of(&d);
    assert_eq!((vpcs.len(), subnets.len(), rts.len()), (1, 2, 2));
    // moto ignores tag filters on DescribeNatGateways: ask by VPC.
    let nats = || {
        block_on(async {
            let out = ec2()
                .describe_nat_gateways()
                .filter(filter("vpc-id", &vpcs[0]))
                .send()
                .await
                .unwrap();
            out.nat_gateways()
                .iter()
                .filter(|n| n.state().map(|s| s.as_str()) != Some("deleted"))
                .cloned()
                .collect::<Vec<_>>()
        })
    };
    let addresses = || {
        block_on(async {
            let out = ec2()
                .describe_addresses()
                .filters(filter("tag:geusemaker:deployment", &d))
                .send()
                .await
                .unwrap();
            out.addresses().to_vec()
        })
    };
    let live = nats();
    assert_eq!(live.len(), 1, "{live:?}");
    let nat = &live[0];
    let eips = addresses();
    assert_eq!(eips.len(), 1, "{eips:?}");
    assert_eq!(
        nat.nat_gateway_addresses()[0].allocation_id(),
        eips[0].allocation_id()
    );
    let instances = live_instances(&d);
    let private = instances[0].subnet_id().unwrap().to_string();
    assert_ne!(
        nat.subnet_id(),
        Some(private.as_str()),
        "the NAT sits in the public subnet"
    );
    let tables = block_on(async {
        ec2()
            .describe_route_tables()
            .filters(filter("association.subnet-id", &private))
            .send()
            .await
            .unwrap()
            .route_tables()
            .to_vec()
    });
    assert_eq!(tables.len(), 1, "{tables:?}");
    assert!(
        tables[0]
            .routes()
            .iter()
            .any(|r| r.destination_cidr_block() == Some("0.0.0.0/0")
                && r.nat_gateway_id() == nat.nat_gateway_id()),
        "the private subnet routes out through the NAT gateway: {tables:?}"
    );

    // Re-apply: no mutating call; the NAT gateway and its address add two reads.
    let audit = env.audit_lines();
    let again = apply(&env, &path);
    assert_eq!(again["changes"], 0, "{again:#}");
    assert!(again["requests"].as_u64().unwrap() <= 9, "{again:#}");
    assert_eq!(env.audit_lines(), audit, "no mutating call");

    let out = env.gm_json(&["destroy", "-f", path.to_str().unwrap(), "--yes"], 0);
    assert!(out["remaining"].as_array().unwrap().is_empty(), "{out:#}");
    assert!(nats().is_empty(), "the NAT gateway is deleted");
    assert!(addresses().is_empty(), "the Elastic IP is released");
    assert_eq!(
        network_of(&d),
        (vec![], vec![], vec![], vec![]),
        "nothing of the network left"
    );
}

#[test]
fn a_referenced_vpc_survives_destroy_while_our_subnets_in_it_go() {
    let env = Env::new();
    let d = name("netref");
    let (vpc, igw) = block_on(async {
        let c = ec2();
        let v = c
            .create_vpc()
            .cidr_block("10.60.0.0/16")
            .send()
            .await
            .unwrap();
        let vpc = v.vpc().unwrap().vpc_id().unwrap().to_string();
        let g = c.create_internet_gateway().send().await.unwrap();
        let igw = g
            .internet_gateway()
            .unwrap()
            .internet_gateway_id()
            .unwrap()
            .to_string();
        c.attach_internet_gateway()
            .internet_gateway_id(&igw)
            .vpc_id(&vpc)
            .send()
            .await
            .unwrap();
        (vpc, igw)
    });
    let path = env.spec(&network_spec(&d, &vpc));
    let report = apply(&env, &path);
    assert_eq!(report["outcome"], "ok", "{report:#}");
    let (vpcs, subnets, gws, rts) = network_of(&d);
    assert!(
        vpcs.is_empty() && gws.is_empty(),
        "the VPC and its gateway are not ours"
    );
    assert_eq!((subnets.len(), rts.len()), (2, 1));
    let out = env.gm_json(&["destroy", "-f", path.to_str().unwrap(), "--yes"], 0);
    assert!(out["remaining"].as_array().unwrap().is_empty(), "{out:#}");
    assert_eq!(network_of(&d), (vec![], vec![], vec![], vec![]));
    block_on(async {
        let c = ec2();
        let v = c.describe_vpcs().vpc_ids(&vpc).send().await.unwrap();
        assert_eq!(v.vpcs().len(), 1, "the referenced VPC survives");
        let g = c
            .describe_internet_gateways()
            .internet_gateway_ids(&igw)
            .send()
            .await
            .unwrap();
        assert_eq!(
            g.internet_gateways()[0].attachments()[0].vpc_id(),
            Some(vpc.as_str()),
            "its gateway stays attached"
        );
    });
}
