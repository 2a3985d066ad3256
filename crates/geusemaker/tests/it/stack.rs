//! The AI stack through `deploy` and `cost`, against moto. moto's spot prices are fake
//! (0.00001 everywhere), so placement here only proves that live quotes are read and used;
//! choosing among real prices is unit-tested in gm-cost on fixture quotes.

use crate::support::*;

#[test]
fn dev_tier_deploys_the_stack_and_destroy_removes_all_of_it() {
    let env = Env::new();
    let d = name("stack");
    let out = env.gm_json(
        &[
            "deploy",
            "--tier",
            "dev",
            "--name",
            &d,
            "--ssh-cidr",
            "203.0.113.7/32",
            "--yes",
        ],
        0,
    );
    assert_eq!(out["report"]["outcome"], "ok", "{out:#}");
    // The request budget of a first deploy (issue 11): one plan, under the lock, and a final
    // read of only what the run cannot know; the catalog's CPU type, quoted live, is not asked
    // about again.
    let requests = out["report"]["requests"].as_u64().unwrap();
    assert!(
        out["report"]["requests_by_operation"]
            .get("DescribeInstanceTypes")
            .is_none(),
        "{out:#}"
    );
    assert!(
        requests <= 24,
        "{requests} requests: {:#}",
        out["report"]["requests_by_operation"]
    );
    assert_eq!(out["tier"], "dev");
    assert!(
        out["placement"]["explanation"]
            .as_str()
            .unwrap()
            .contains("spot price"),
        "{out:#}"
    );
    let services: Vec<&str> = out["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        services,
        ["postgres", "n8n", "ollama", "qdrant", "crawl4ai"]
    );
    assert_eq!(out["secrets"].as_array().unwrap().len(), 5);
    // moto invents the instance's address: with a custom endpoint nothing is probed there.
    for h in out["health"].as_array().unwrap() {
        assert_eq!(h["state"], "skipped", "{h:#}");
        assert_eq!(
            h["detail"], "skipped: custom endpoint, pass --probe-host",
            "{h:#}"
        );
    }

    let instances = live_instances(&d);
    assert_eq!(instances.len(), 1);
    let i = &instances[0];
    assert_eq!(i.instance_type().unwrap().as_str(), "t3.xlarge");
    assert_eq!(i.instance_lifecycle().map(|l| l.as_str()), Some("spot"));
    assert_eq!(tag(i.tags(), "geusemaker:tier"), Some("dev"));
    // The zone of the spot price placement chose is the zone the instance runs in, and the
    // result says which zone and price.
    let zone = i.placement().and_then(|p| p.availability_zone()).unwrap();
    assert_eq!(out["placement"]["availability_zone"], zone, "{out:#}");
    assert_eq!(out["running"]["availability_zone"], zone, "{out:#}");
    assert_eq!(out["running"]["market"], "spot", "{out:#}");
    assert!(out["running"]["spot_usd_per_hour"].is_f64(), "{out:#}");
    assert!(i
        .iam_instance_profile()
        .and_then(|p| p.arn())
        .unwrap_or("")
        .ends_with(&format!("gm-{d}-stack")));
    let data: Vec<_> = volumes(&d)
        .into_iter()
        .filter(|v| v.size() == Some(30) && v.attachments()[0].device() == Some("/dev/sdf"))
        .collect();
    assert_eq!(data.len(), 1, "the data volume");
    let sg = &groups(&d)[0];
    let mut ports: Vec<(i32, String)> = sg
        .ip_permissions()
        .iter()
        .map(|p| {
            (
                p.from_port().unwrap(),
                p.ip_ranges()[0].cidr_ip().unwrap().to_string(),
            )
        })
        .collect();
    ports.sort();
    assert_eq!(
        ports,
        [
            (22, "203.0.113.7/32".to_string()),
            (5678, "0.0.0.0/0".to_string())
        ],
        "least privilege"
    );

    // What the store recorded without reading the group back is what AWS holds.
    let state = env.gm_json(&["inspect", &d], 0);
    let record = state["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["address"] == "sg/stack")
        .cloned()
        .unwrap();
    assert_eq!(record["aws_id"], sg.group_id().unwrap(), "{record:#}");
    assert_eq!(
        record["attributes"]["vpc"],
        sg.vpc_id().unwrap(),
        "{record:#}"
    );
    assert_eq!(record["attributes"]["name"], sg.group_name().unwrap());

    // The same request again changes nothing.
    let again = env.gm_json(
        &[
            "deploy",
            "--tier",
            "dev",
            "--name",
            &d,
            "--ssh-cidr",
            "203.0.113.7/32",
            "--yes",
        ],
        0,
    );
    assert_eq!(again["report"]["changes"], 0, "{again:#}");

    let gone = env.gm_json(&["destroy", &d, "--yes"], 0);
    assert!(gone["remaining"].as_array().unwrap().is_empty(), "{gone:#}");
    assert!(live_instances(&d).is_empty());
    assert!(
        volumes(&d).is_empty(),
        "the kept data volume goes with destroy"
    );
    assert!(groups(&d).is_empty());
    let destroyed: Vec<&str> = gone["destroyed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["address"].as_str().unwrap())
        .collect();
    assert!(
        destroyed.iter().any(|a| a.starts_with("role/")),
        "{destroyed:?}"
    );
    assert_eq!(
        destroyed
            .iter()
            .filter(|a| a.starts_with("secret/"))
            .count(),
        5,
        "{destroyed:?}"
    );
}

#[test]
fn dry_run_shows_the_generated_spec_and_changes_nothing() {
    let env = Env::new();
    let d = name("dry");
    let out = env.gm(&["deploy", "--tier", "gpu", "--name", &d, "--dry-run"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("type: g4dn.xlarge"), "{text}");
    assert!(text.contains("read_secrets: true"), "{text}");
    assert!(live_instances(&d).is_empty());
}

#[test]
fn a_forced_type_without_a_gpu_is_refused_for_the_gpu_tier() {
    let env = Env::new();
    let out = env.gm(&[
        "deploy",
        "--tier",
        "gpu",
        "--instance-type",
        "t3.xlarge",
        "--yes",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("t3.xlarge has no GPU"));
}

#[test]
fn over_budget_needs_confirmation() {
    let env = Env::new();
    let d = name("budget");
    let out = env.gm(&[
        "deploy",
        "--tier",
        "gpu",
        "--name",
        &d,
        "--market",
        "on-demand",
        "--budget",
        "0.10",
        "--yes",
    ]);
    assert_eq!(
        out.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("over the budget of $0.1000/h"), "{err}");
    assert!(live_instances(&d).is_empty());
}

#[test]
fn cost_compares_tiers_from_the_dated_catalog() {
    let env = Env::new();
    let rows = env.gm_json(&["cost", "--compare-tiers", "--market", "on-demand"], 0);
    let rows = rows.as_array().unwrap();
    let tiers: Vec<&str> = rows.iter().map(|r| r["tier"].as_str().unwrap()).collect();
    assert_eq!(tiers, ["dev", "automation", "gpu"]);
    let gpu = &rows[2];
    assert_eq!(gpu["instance_type"], "g4dn.xlarge");
    // g4dn.xlarge 0.526 + public IPv4 0.005 + (60 + 100) GiB gp3 at 0.08/GiB-month.
    let expected = 0.526 + 0.005 + 160.0 * 0.08 / 730.0;
    assert!(
        (gpu["hourly"].as_f64().unwrap() - expected).abs() < 1e-9,
        "{gpu:#}"
    );
    let text =
        String::from_utf8_lossy(&env.gm(&["cost", "--tier", "automation"]).stdout).to_string();
    assert!(
        text.contains("catalog prices are from 2025-01-15"),
        "{text}"
    );
}

#[test]
fn wait_healthy_probes_the_public_service_on_the_probe_host() {
    // moto's instances are not real: a stand-in n8n answers on a loopback address of its own.
    let listener = std::net::TcpListener::bind("127.0.0.77:5678").unwrap();
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for conn in listener.incoming() {
            let Ok(mut c) = conn else { continue };
            let mut buf = [0u8; 1024];
            let n = c.read(&mut buf).unwrap_or(0);
            let ok = String::from_utf8_lossy(&buf[..n]).starts_with("GET /healthz/readiness ");
            let status = if ok { "200 OK" } else { "404 Not Found" };
            let _ =
                c.write_all(format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n").as_bytes());
        }
    });
    let env = Env::new();
    let d = name("healthy");
    let out = env.gm_json(
        &[
            "deploy",
            "--tier",
            "automation",
            "--name",
            &d,
            "--yes",
            "--wait-healthy",
            "--timeout",
            "20",
            "--probe-host",
            "127.0.0.77",
        ],
        0,
    );
    let health = out["health"].as_array().unwrap();
    let n8n = health.iter().find(|h| h["service"] == "n8n").unwrap();
    assert_eq!(n8n["state"], "healthy", "{out:#}");
    let pg = health.iter().find(|h| h["service"] == "postgres").unwrap();
    assert_eq!(pg["state"], "private");
    let _ = env.gm_json(&["destroy", &d, "--yes"], 0);
}

#[test]
fn wait_healthy_against_an_emulator_needs_a_probe_host() {
    let env = Env::new();
    let d = name("noprobe");
    let out = env.gm(&[
        "deploy",
        "--tier",
        "dev",
        "--name",
        &d,
        "--wait-healthy",
        "--yes",
    ]);
    assert_eq!(out.status.code(), Some(2), "a usage error");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("needs --probe-host"), "{err}");
    assert!(
        live_instances(&d).is_empty(),
        "refused before anything is made"
    );
}

#[test]
fn wait_healthy_fails_when_nothing_answers() {
    let env = Env::new();
    let d = name("unhealthy");
    let out = env.gm(&[
        "deploy",
        "--tier",
        "automation",
        "--name",
        &d,
        "--yes",
        "--wait-healthy",
        "--timeout",
        "2",
        "--probe-host",
        "127.0.0.78",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("n8n is not healthy after 2 s"), "{err}");
    let _ = env.gm_json(&["destroy", &d, "--yes"], 0);
}

#[test]
fn a_stack_file_sets_the_choices_and_flags_override_it() {
    let env = Env::new();
    let file = env.dir.path().join("stack.yaml");
    std::fs::write(
        &file,
        "name: from-file\ntier: automation\nservices: [n8n, qdrant]\nmarket: on-demand\n",
    )
    .unwrap();
    let f = file.to_str().unwrap();
    let d = name("fileflag");
    let out = env.gm_json(&["deploy", "-f", f, "--name", &d, "--dry-run"], 0);
    assert_eq!(out["deployment"], d.as_str(), "the flag wins over the file");
    let spec = out["spec"].as_str().unwrap();
    assert!(
        spec.contains("qdrant"),
        "services come from the file: {spec}"
    );
    assert!(spec.contains("market: on-demand"), "{spec}");
    std::fs::write(&file, "tier: automation\nservcies: [n8n]\n").unwrap();
    let bad = env.gm(&["deploy", "-f", f, "--dry-run"]);
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("stack.yaml:2:1: unknown field `servcies`")
            && err.contains("did you mean `services`?"),
        "{err}"
    );
}

#[test]
fn reused_resources_are_checked_before_anything_is_made() {
    let env = Env::new();
    let d = name("reuse");
    let out = env.gm(&[
        "deploy",
        "--tier",
        "automation",
        "--name",
        &d,
        "--key-pair",
        "no-such-key",
        "--yes",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("key pair `no-such-key` does not exist in us-east-1"),
        "{err}"
    );
    let out = env.gm(&[
        "deploy",
        "--tier",
        "automation",
        "--name",
        &d,
        "--subnet",
        "subnet-0123456789abcdef0",
        "--yes",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("subnet `subnet-0123456789abcdef0` does not exist"));
    assert!(live_instances(&d).is_empty());
    // A subnet of another VPC puts the security group in that VPC.
    let (vpc, subnet) = block_on(async {
        let vpc = ec2()
            .create_vpc()
            .cidr_block("10.88.0.0/16")
            .send()
            .await
            .unwrap()
            .vpc()
            .unwrap()
            .vpc_id()
            .unwrap()
            .to_string();
        let subnet = ec2()
            .create_subnet()
            .vpc_id(&vpc)
            .cidr_block("10.88.1.0/24")
            .availability_zone("us-east-1a")
            .send()
            .await
            .unwrap()
            .subnet()
            .unwrap()
            .subnet_id()
            .unwrap()
            .to_string();
        (vpc, subnet)
    });
    let dry = env.gm_json(
        &[
            "deploy",
            "--tier",
            "automation",
            "--name",
            &d,
            "--subnet",
            &subnet,
            "--dry-run",
        ],
        0,
    );
    let spec = dry["spec"].as_str().unwrap();
    assert!(spec.contains(&format!("vpc: {vpc}")), "{spec}");
    assert!(spec.contains(&format!("subnet: {subnet}")), "{spec}");
}

#[test]
fn heal_relaunches_a_reclaimed_stack_on_its_kept_data_volume() {
    let env = Env::new();
    let d = name("heal");
    env.gm_json(
        &["deploy", "--tier", "automation", "--name", &d, "--yes"],
        0,
    );
    let first = live_instances(&d).remove(0);
    let data_before: Vec<String> = volumes(&d)
        .iter()
        .filter(|v| v.attachments().first().and_then(|a| a.device()) == Some("/dev/sdf"))
        .map(|v| v.volume_id().unwrap().to_string())
        .collect();
    assert_eq!(data_before.len(), 1, "{:#?}", volumes(&d));
    // AWS reclaims the spot instance.
    block_on(async {
        ec2()
            .terminate_instances()
            .instance_ids(first.instance_id().unwrap())
            .send()
            .await
            .unwrap()
    });
    assert!(live_instances(&d).is_empty());

    let report = env.gm_json(&["heal", &d, "--yes"], 0);
    assert_eq!(report["outcome"], "ok", "{report:#}");
    let healed = live_instances(&d);
    assert_eq!(healed.len(), 1);
    let new = &healed[0];
    assert_ne!(new.instance_id(), first.instance_id());
    assert_eq!(
        tag(new.tags(), "geusemaker:tier"),
        Some("automation"),
        "the stack's own tags survive"
    );
    let on_sdf: Vec<String> = new
        .block_device_mappings()
        .iter()
        .filter(|m| m.device_name() == Some("/dev/sdf"))
        .filter_map(|m| m.ebs().and_then(|e| e.volume_id()).map(str::to_string))
        .collect();
    assert_eq!(
        on_sdf, data_before,
        "the kept data volume is attached again, no new one is made"
    );
    // Only the old data volume is on /dev/sdf or loose; the root volume (also 30 GiB) is new.
    let data_volumes = volumes(&d)
        .into_iter()
        .filter(|v| v.attachments().first().and_then(|a| a.device()) != Some("/dev/xvda"))
        .count();
    assert_eq!(data_volumes, 1);
    let again = env.gm_json(&["heal", &d, "--yes"], 0);
    assert_eq!(again["changes"], 0, "{again:#}");
    env.gm_json(&["destroy", &d, "--yes"], 0);
    assert!(volumes(&d).is_empty());
}

#[test]
fn redeploying_with_other_services_keeps_the_data_volume() {
    let env = Env::new();
    let d = name("redeploy");
    env.gm_json(&["deploy", "--tier", "dev", "--name", &d, "--yes"], 0);
    let first = live_instances(&d).remove(0);
    let on_sdf = |i: &aws_sdk_ec2::types::Instance| -> Vec<String> {
        i.block_device_mappings()
            .iter()
            .filter(|m| m.device_name() == Some("/dev/sdf"))
            .filter_map(|m| m.ebs().and_then(|e| e.volume_id()).map(str::to_string))
            .collect()
    };
    let data = on_sdf(&first);
    assert_eq!(data.len(), 1, "{first:#?}");

    // Other services mean other user data: the instance is replaced (a spot one is terminated
    // first, it cannot be stopped) and the data volume goes with it.
    let out = env.gm_json(
        &[
            "deploy",
            "--tier",
            "dev",
            "--name",
            &d,
            "--services",
            "postgres,n8n",
            "--yes",
        ],
        0,
    );
    assert_eq!(out["report"]["outcome"], "ok", "{out:#}");
    // Placement stays in the zone the data volume is in, whatever spot prices say now.
    let zone = first
        .placement()
        .and_then(|p| p.availability_zone())
        .unwrap();
    assert!(
        out["placement"]["explanation"]
            .as_str()
            .unwrap()
            .contains(&format!("kept in {zone}")),
        "{out:#}"
    );
    let live = live_instances(&d);
    assert_eq!(live.len(), 1);
    assert_ne!(live[0].instance_id(), first.instance_id());
    assert_eq!(
        on_sdf(&live[0]),
        data,
        "the same data volume, not a new one"
    );
    let loose: Vec<_> = volumes(&d)
        .into_iter()
        .filter(|v| v.attachments().is_empty())
        .collect();
    assert!(loose.is_empty(), "nothing left behind: {loose:#?}");
    env.gm_json(&["destroy", &d, "--yes"], 0);
    assert!(volumes(&d).is_empty());
}

#[test]
fn refreshing_prices_without_a_pricing_api_keeps_the_catalog_and_says_why() {
    // moto has no Pricing API: the refresh fails with a hint and the dated catalog stays in use.
    let env = Env::new();
    let out = env.gm(&["cost", "--refresh-prices", "--regions", "us-east-1"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("GetProducts"), "{err}");
    assert!(
        err.contains("catalog dated 2025-01-15 stays in use"),
        "{err}"
    );
    assert!(!env.dir.path().join("prices.json").exists());
}

#[test]
fn refreshed_prices_beside_the_state_are_used_and_cited() {
    let env = Env::new();
    std::fs::write(
        env.dir.path().join("prices.json"),
        r#"{"date":"2026-11-23","source":"AWS Pricing API, Linux shared tenancy","on_demand_hourly":{"us-east-1":{"g4dn.xlarge":0.5}}}"#,
    )
    .unwrap();
    let rows = env.gm_json(&["cost", "--tier", "gpu", "--market", "on-demand"], 0);
    let gpu = &rows[0];
    let expected = 0.5 + 0.005 + 160.0 * 0.08 / 730.0;
    assert!(
        (gpu["hourly"].as_f64().unwrap() - expected).abs() < 1e-9,
        "{gpu:#}"
    );
    let text = String::from_utf8_lossy(&env.gm(&["cost", "--tier", "gpu"]).stdout).to_string();
    assert!(
        text.contains("on-demand: AWS Pricing API") && text.contains("embedded catalog 2025-01-15"),
        "{text}"
    );
}

/// An EC2 client on the shared moto in `region`.
fn ec2_in(region: &str) -> aws_sdk_ec2::Client {
    let conf = aws_sdk_ec2::config::Builder::from(&sdk_config())
        .region(aws_sdk_ec2::config::Region::new(region.to_string()))
        .build();
    aws_sdk_ec2::Client::from_conf(conf)
}

/// VPC ids tagged with the deployment in `region`.
fn tagged_vpcs(c: &aws_sdk_ec2::Client, d: &str) -> Vec<String> {
    block_on(async {
        c.describe_vpcs()
            .filters(filter("tag:geusemaker:deployment", d))
            .send()
            .await
            .unwrap()
            .vpcs()
            .iter()
            .filter_map(|v| v.vpc_id().map(String::from))
            .collect()
    })
}

#[test]
fn in_a_region_without_a_default_vpc_deploy_gives_the_stack_its_own_network() {
    // A region of the shared moto no other test uses, its default VPC removed as Control
    // Tower removes it.
    let region = "eu-west-1";
    let c = ec2_in(region);
    block_on(async {
        let vpcs = c
            .describe_vpcs()
            .filters(filter("is-default", "true"))
            .send()
            .await
            .unwrap();
        for v in vpcs.vpcs() {
            let id = v.vpc_id().unwrap();
            let subnets = c
                .describe_subnets()
                .filters(filter("vpc-id", id))
                .send()
                .await
                .unwrap();
            for s in subnets.subnets() {
                c.delete_subnet()
                    .subnet_id(s.subnet_id().unwrap())
                    .send()
                    .await
                    .unwrap();
            }
            let gws = c
                .describe_internet_gateways()
                .filters(filter("attachment.vpc-id", id))
                .send()
                .await
                .unwrap();
            for g in gws.internet_gateways() {
                let gid = g.internet_gateway_id().unwrap();
                c.detach_internet_gateway()
                    .internet_gateway_id(gid)
                    .vpc_id(id)
                    .send()
                    .await
                    .unwrap();
                c.delete_internet_gateway()
                    .internet_gateway_id(gid)
                    .send()
                    .await
                    .unwrap();
            }
            c.delete_vpc().vpc_id(id).send().await.unwrap();
        }
    });
    let env = Env::new();
    let d = name("novpc");
    let out = env.gm_json(
        &[
            "deploy", "--tier", "dev", "--name", &d, "--region", region, "--yes",
        ],
        0,
    );
    assert_eq!(out["report"]["outcome"], "ok", "{out:#}");
    let vpcs = tagged_vpcs(&c, &d);
    assert_eq!(vpcs.len(), 1, "the stack's own VPC");
    let instance_vpc = block_on(async {
        let r = c
            .describe_instances()
            .filters(filter("tag:geusemaker:deployment", &d))
            .send()
            .await
            .unwrap();
        r.reservations()[0].instances()[0]
            .vpc_id()
            .map(String::from)
    });
    assert_eq!(instance_vpc.as_deref(), Some(vpcs[0].as_str()));
    let gone = env.gm_json(&["destroy", &d, "--region", region, "--yes"], 0);
    assert!(gone["remaining"].as_array().unwrap().is_empty(), "{gone:#}");
    assert!(
        tagged_vpcs(&c, &d).is_empty(),
        "destroy removed the network"
    );

    // `--network default` refuses instead, with the fix.
    let out = env.gm(&[
        "deploy",
        "--tier",
        "dev",
        "--name",
        &d,
        "--region",
        region,
        "--network",
        "default",
        "--yes",
    ]);
    assert_ne!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no default VPC") && err.contains("network"),
        "{err}"
    );
}
