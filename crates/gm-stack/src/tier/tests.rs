//! Tiers compile to the right spec; the compose file and boot script are what they claim.

use super::*;
use gm_spec::Market;

fn request(tier: Tier) -> StackRequest {
    StackRequest {
        ssh_cidr: Some("203.0.113.7/32".into()),
        ..StackRequest::new("ai-demo", tier, "us-east-1")
    }
}

#[test]
fn dev_tier_is_cpu_spot_with_all_services_and_a_kept_data_volume() {
    let s = compile(&request(Tier::Dev)).unwrap();
    let names: Vec<&str> = s.services.iter().map(|s| s.name).collect();
    assert_eq!(names, ["postgres", "n8n", "ollama", "qdrant", "crawl4ai"]);
    let g = &s.spec.spec.instances[0];
    // 8.5 GiB of services + 1 GiB overhead → the cheapest x86 type with ≥ 10 GiB.
    assert_eq!(g.instance_type, "t3.xlarge");
    assert_eq!(g.market, Market::Spot);
    assert_eq!(g.volumes[0].device, "/dev/sdf");
    assert!(!g.volumes[0].delete_on_termination);
    assert_eq!(
        s.spec.spec.tags.get("geusemaker:tier").map(String::as_str),
        Some("dev")
    );
    let sg = &s.spec.spec.security_groups[0];
    let ports: Vec<u16> = sg.ingress.iter().filter_map(|r| r.port).collect();
    assert_eq!(
        ports,
        [22, 5678],
        "only SSH (from the caller) and n8n are open"
    );
    assert_eq!(sg.ingress[0].cidr.as_deref(), Some("203.0.113.7/32"));
}

#[test]
fn automation_tier_is_n8n_and_postgres_on_a_small_cpu_type() {
    let s = compile(&request(Tier::Automation)).unwrap();
    let names: Vec<&str> = s.services.iter().map(|s| s.name).collect();
    assert_eq!(names, ["postgres", "n8n"]);
    assert_eq!(s.spec.spec.instances[0].instance_type, "t3.medium");
    assert!(!s.compose.contains("ollama"));
}

#[test]
fn gpu_tier_needs_a_gpu_with_16_gib() {
    let s = compile(&request(Tier::Gpu)).unwrap();
    assert_eq!(s.spec.spec.instances[0].instance_type, "g4dn.xlarge");
    assert!(s.compose.contains("driver: nvidia"), "{}", s.compose);
    assert!(s.user_data.contains("nvidia-ctk runtime configure"));
    assert!(s.user_data.contains("ollama pull llama3.1:8b"));
    let mut r = request(Tier::Gpu);
    r.instance_type = Some("t3.2xlarge".into());
    let err = compile(&r).unwrap_err().to_string();
    assert!(err.contains("t3.2xlarge has no GPU"), "{err}");
}

#[test]
fn services_subset_and_unknown_service() {
    let mut r = request(Tier::Dev);
    r.services = vec!["n8n".into(), "qdrant".into()];
    let s = compile(&r).unwrap();
    let names: Vec<&str> = s.services.iter().map(|s| s.name).collect();
    assert_eq!(
        names,
        ["postgres", "n8n", "qdrant"],
        "n8n brings its database"
    );
    r.services = vec!["redis".into()];
    assert!(compile(&r)
        .unwrap_err()
        .to_string()
        .contains("unknown service `redis`"));
}

#[test]
fn spot_quotes_choose_the_zone() {
    let mut r = request(Tier::Automation);
    r.quotes = vec![
        SpotQuote {
            region: "us-east-1".into(),
            availability_zone: "us-east-1b".into(),
            instance_type: "t3.medium".into(),
            usd_per_hour: 0.0125,
            timestamp: "t".into(),
        },
        SpotQuote {
            region: "us-east-1".into(),
            availability_zone: "us-east-1f".into(),
            instance_type: "t3.medium".into(),
            usd_per_hour: 0.0119,
            timestamp: "t".into(),
        },
    ];
    let s = compile(&r).unwrap();
    assert_eq!(s.placement.availability_zone.as_deref(), Some("us-east-1f"));
    // The launch goes to the zone the price was found in.
    assert_eq!(s.spec.spec.instances[0].zone.as_deref(), Some("us-east-1f"));
    let d = gm_plan::desire(&s.spec);
    assert_eq!(d.instances[0].zone.as_deref(), Some("us-east-1f"));

    // A re-deploy keeps the zone its instance (and data volume) is in, even when another is
    // cheaper now, and says so.
    r.zone = Some("us-east-1b".into());
    let s = compile(&r).unwrap();
    assert_eq!(s.placement.availability_zone.as_deref(), Some("us-east-1b"));
    assert!((s.placement.usd_per_hour - 0.0125).abs() < 1e-9);
    assert_eq!(s.spec.spec.instances[0].zone.as_deref(), Some("us-east-1b"));
    assert!(
        s.placement.explanation.contains("kept in us-east-1b"),
        "{}",
        s.placement.explanation
    );

    // With a subnet, the subnet decides the zone: the spec names no zone of its own.
    r.subnet = Some("subnet-0abc12345def67890".into());
    let s = compile(&r).unwrap();
    assert_eq!(s.spec.spec.instances[0].zone, None);
    assert_eq!(s.placement.availability_zone.as_deref(), Some("us-east-1b"));

    // The stack's own network puts its first subnet, and so the instance, in that zone.
    r.subnet = None;
    r.zone = None;
    r.network = true;
    let s = compile(&r).unwrap();
    let net = s.spec.spec.network.as_ref().unwrap();
    assert_eq!(net.subnets[0].zone, "us-east-1f");
    assert_eq!(net.subnets[1].zone, "auto");
    let d = gm_plan::desire(&s.spec);
    assert_eq!(d.instances[0].zone, None, "the subnet decides");
    assert_eq!(
        d.instances[0].subnet,
        Some(gm_plan::SubnetRef::Ours("subnet/public-a".into()))
    );
}

#[test]
fn on_demand_names_no_zone_unless_one_is_pinned() {
    let mut r = request(Tier::Automation);
    r.spot = false;
    let s = compile(&r).unwrap();
    assert_eq!(s.spec.spec.instances[0].zone, None);
    r.zone = Some("us-east-1d".into());
    let s = compile(&r).unwrap();
    assert_eq!(s.spec.spec.instances[0].zone.as_deref(), Some("us-east-1d"));
    // A pin in a region placement may not use is ignored.
    r.zone = Some("eu-west-1a".into());
    let s = compile(&r).unwrap();
    assert_eq!(s.spec.spec.instances[0].zone, None);
    assert_eq!(s.placement.region, "us-east-1");
}

#[test]
fn compose_is_valid_yaml_with_names_ports_health_data_and_no_secret_values() {
    let s = compile(&request(Tier::Dev)).unwrap();
    let doc = gm_spec::yaml::parse(&s.compose).expect("compose parses");
    let services = doc.value["services"].as_object().unwrap();
    assert_eq!(services.len(), 5);
    for (name, svc) in services {
        assert!(
            svc["image"].as_str().unwrap().contains(':'),
            "{name} is pinned"
        );
        assert!(
            !svc["image"].as_str().unwrap().ends_with(":latest"),
            "{name}"
        );
        assert!(
            svc["healthcheck"]["test"].is_array(),
            "{name} has a health check"
        );
        for v in svc["volumes"].as_array().unwrap() {
            assert!(v.as_str().unwrap().starts_with("/data/"), "{name}: {v}");
        }
        for p in svc["ports"].as_array().unwrap() {
            let p = p.as_str().unwrap();
            if name == "n8n" {
                assert!(p.starts_with("0.0.0.0:5678"), "{p}");
            } else {
                assert!(p.starts_with("127.0.0.1:"), "{name} is not public: {p}");
            }
        }
        if let Some(env) = svc["environment"].as_object() {
            for (k, v) in env {
                let v = v.as_str().unwrap();
                if k.contains("PASSWORD")
                    || k.contains("KEY")
                    || k.contains("SECRET")
                    || k.contains("TOKEN")
                {
                    assert!(
                        v.starts_with("${") && v.ends_with('}'),
                        "{name}.{k} must come from .env, got {v}"
                    );
                }
            }
        }
    }
    // The starter kit's most common support question: services by name, not localhost.
    assert_eq!(
        services["n8n"]["environment"]["OLLAMA_HOST"],
        "http://ollama:11434"
    );
    assert_eq!(
        services["n8n"]["environment"]["QDRANT_URL"],
        "http://qdrant:6333"
    );
    assert_eq!(
        services["n8n"]["depends_on"]["postgres"]["condition"],
        "service_healthy"
    );
    assert_eq!(
        services["crawl4ai"]["environment"]["OLLAMA_BASE_URL"],
        "http://ollama:11434"
    );
}

#[test]
fn boot_script_reads_secrets_from_ssm_and_fits_in_user_data() {
    let s = compile(&request(Tier::Dev)).unwrap();
    for p in &s.secret_parameters {
        assert!(s.user_data.contains(p.as_str()), "{p}");
        assert!(p.starts_with("/geusemaker/ai-demo/"));
    }
    assert_eq!(s.secret_parameters.len(), 5);
    // The spec creates exactly those secrets, and a role that may read them for the instance.
    let desired: Vec<String> = s
        .spec
        .spec
        .secrets
        .iter()
        .map(|x| format!("/geusemaker/ai-demo/{}", x.name))
        .collect();
    assert_eq!(desired, s.secret_parameters);
    assert!(s.spec.spec.roles[0].read_secrets);
    assert_eq!(s.spec.spec.instances[0].role.as_deref(), Some("stack"));
    let wrapped = s.spec.user_data[0].as_deref().unwrap();
    assert!(
        wrapped.len() <= gm_spec::user_data::USER_DATA_LIMIT,
        "{}",
        wrapped.len()
    );
    assert!(s.user_data.contains("spot/instance-action"), "spot watcher");
}

#[test]
fn the_compiled_spec_round_trips_through_the_validator() {
    let s = compile(&request(Tier::Gpu)).unwrap();
    let again = gm_spec::load_str("x.yaml", &s.spec_yaml, std::path::Path::new(".")).unwrap();
    assert_eq!(again.spec.instances, s.spec.spec.instances);
}

#[test]
fn placement_may_choose_another_allowed_region_but_not_with_regional_choices() {
    let mut r = request(Tier::Automation);
    r.other_regions = vec!["us-west-2".into()];
    r.quotes = vec![
        SpotQuote {
            region: "us-east-1".into(),
            availability_zone: "us-east-1a".into(),
            instance_type: "t3.medium".into(),
            usd_per_hour: 0.0150,
            timestamp: "t".into(),
        },
        SpotQuote {
            region: "us-west-2".into(),
            availability_zone: "us-west-2c".into(),
            instance_type: "t3.medium".into(),
            usd_per_hour: 0.0110,
            timestamp: "t".into(),
        },
    ];
    let s = compile(&r).unwrap();
    assert_eq!(s.placement.region, "us-west-2");
    assert_eq!(s.spec.spec.region.as_deref(), Some("us-west-2"));
    assert!(
        s.user_data.contains("REGION=us-west-2"),
        "the boot script reads secrets where they are"
    );
    r.key_pair = Some("mine".into());
    let s = compile(&r).unwrap();
    assert_eq!(s.placement.region, "us-east-1", "key pairs are regional");
}

#[test]
fn an_edge_puts_n8n_behind_the_load_balancer_with_https_and_cloudfront() {
    let mut r = request(Tier::Gpu);
    r.edge = Some(crate::EdgeRequest {
        certificate_arn: Some("arn:aws:acm:us-east-1:123456789012:certificate/abc".into()),
        cdn: true,
        subnets: Vec::new(),
    });
    let s = compile(&r).unwrap();
    let spec = &s.spec.spec;
    let lb = spec.load_balancer.as_ref().unwrap();
    assert_eq!((lb.target.as_str(), lb.port), ("stack", 5678));
    assert_eq!(lb.health_check, "/healthz");
    assert_eq!(lb.security_groups, ["alb"]);
    assert!(spec.cdn.is_some());
    let stack = spec
        .security_groups
        .iter()
        .find(|g| g.name == "stack")
        .unwrap();
    let n8n = stack.ingress.iter().find(|x| x.port == Some(5678)).unwrap();
    assert_eq!(n8n.source_group.as_deref(), Some("alb"));
    assert!(n8n.cidr.is_none(), "n8n is not open to the internet");
    let alb = spec
        .security_groups
        .iter()
        .find(|g| g.name == "alb")
        .unwrap();
    let mut ports: Vec<u16> = alb.ingress.iter().filter_map(|x| x.port).collect();
    ports.sort();
    assert_eq!(ports, [80, 443]);
    // Without a certificate: HTTP only, no 443 rule.
    r.edge = Some(crate::EdgeRequest::default());
    let s = compile(&r).unwrap();
    let alb = s
        .spec
        .spec
        .security_groups
        .iter()
        .find(|g| g.name == "alb")
        .unwrap();
    assert_eq!(alb.ingress.len(), 1);
    assert!(s.spec.spec.cdn.is_none());
    // A load balancer needs n8n to front.
    r.services = vec!["ollama".into()];
    assert!(matches!(compile(&r), Err(CompileError::MissingService(_))));
}

#[test]
fn the_boot_script_reports_container_health_on_the_console() {
    let s = compile(&request(Tier::Dev)).unwrap();
    assert!(s.user_data.contains("gm_step health health_reporter"));
    assert!(s
        .user_data
        .contains("printf 'GEUSEMAKER-UD health service=%s state=%s\\n'"));
    assert!(s
        .user_data
        .contains("--format '{{.Service}} {{.State}} {{.Health}}'"));
    assert!(s.user_data.contains("OnUnitActiveSec=5min"));
}

#[test]
fn an_own_network_puts_the_stack_and_its_load_balancer_in_public_subnets_of_its_vpc() {
    let s = compile(&StackRequest {
        network: true,
        edge: Some(EdgeRequest::default()),
        ..request(Tier::Dev)
    })
    .unwrap();
    let spec = &s.spec.spec;
    let net = spec.network.as_ref().expect("a network");
    assert_eq!(
        net.vpc,
        gm_spec::VpcSpec::Create(gm_spec::NewVpcSpec {
            cidr: STACK_NETWORK_CIDR.into()
        })
    );
    assert_eq!(net.subnets.iter().filter(|x| x.public).count(), 2);
    assert!(
        spec.security_groups.iter().all(|g| g.vpc.is_none()),
        "groups go in the network's VPC"
    );
    assert!(
        spec.instances[0].subnet.is_none(),
        "the network's first subnet"
    );
    assert!(
        spec.load_balancer.as_ref().expect("lb").subnets.is_empty(),
        "the load balancer takes the network's public subnets"
    );
    let Err(err) = compile(&StackRequest {
        network: true,
        subnet: Some("subnet-0abc12345def67890".into()),
        ..request(Tier::Dev)
    }) else {
        panic!("a network and a subnet exclude each other")
    };
    assert!(err.to_string().contains("--network create"), "{err}");
}
