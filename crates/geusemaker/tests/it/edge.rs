//! The edge in front of a stack: an Application Load Balancer with HTTPS (an ACM certificate
//! requested from moto) and CloudFront in front of it, made by `deploy` and removed by `destroy`,
//! and the same through a spec with `apply`. moto deploys distributions at once; on AWS
//! disabling one takes minutes, which destroy waits for.

use crate::support::*;

fn elb() -> aws_sdk_elasticloadbalancingv2::Client {
    aws_sdk_elasticloadbalancingv2::Client::new(&sdk_config())
}

fn cloudfront() -> aws_sdk_cloudfront::Client {
    aws_sdk_cloudfront::Client::new(&sdk_config())
}

fn certificate(domain: &str) -> String {
    String::from_utf8(support_script("acm_cert.py", &[domain]))
        .unwrap()
        .trim()
        .to_string()
}

/// Load balancers named for the deployment (empty when gone).
fn load_balancers(d: &str) -> Vec<aws_sdk_elasticloadbalancingv2::types::LoadBalancer> {
    block_on(async {
        match elb()
            .describe_load_balancers()
            .names(format!("gm-{d}"))
            .send()
            .await
        {
            Ok(o) => o.load_balancers().to_vec(),
            Err(_) => Vec::new(),
        }
    })
}

fn target_groups(d: &str) -> Vec<aws_sdk_elasticloadbalancingv2::types::TargetGroup> {
    block_on(async {
        match elb()
            .describe_target_groups()
            .names(format!("gm-{d}"))
            .send()
            .await
        {
            Ok(o) => o.target_groups().to_vec(),
            Err(_) => Vec::new(),
        }
    })
}

/// Distributions carrying the deployment's comment: (id, origin domain, enabled). moto's
/// ListDistributions leaves comment and origins out of its summaries, so each is read whole.
fn distributions(d: &str) -> Vec<(String, String, bool)> {
    block_on(async {
        let cf = cloudfront();
        let out = cf.list_distributions().send().await.unwrap();
        let ids: Vec<String> = out
            .distribution_list()
            .map(|l| l.items().iter().map(|x| x.id().to_string()).collect())
            .unwrap_or_default();
        let mut found = Vec::new();
        for id in ids {
            // Another test may delete its own distribution between the list and this read.
            let Ok(got) = cf.get_distribution().id(&id).send().await else {
                continue;
            };
            let c = got.distribution().unwrap().distribution_config().unwrap();
            if c.comment() == format!("geusemaker:{d}") {
                found.push((
                    id,
                    c.origins().unwrap().items()[0].domain_name().to_string(),
                    c.enabled(),
                ));
            }
        }
        found
    })
}

#[test]
fn gpu_stack_with_https_load_balancer_and_cdn_deploys_and_destroys_completely() {
    let env = Env::new();
    let d = name("edge");
    let cert = certificate(&format!("{d}.example.org"));
    let args = [
        "deploy",
        "--tier",
        "gpu",
        "--name",
        &d,
        "--certificate-arn",
        &cert,
        "--cdn",
        "--yes",
    ];
    let out = env.gm_json(&args, 0);
    assert_eq!(out["report"]["outcome"], "ok", "{out:#}");

    // The load balancer: HTTPS with the certificate, HTTP redirecting to it.
    let lbs = load_balancers(&d);
    assert_eq!(lbs.len(), 1);
    let lb = &lbs[0];
    let lb_arn = lb.load_balancer_arn().unwrap().to_string();
    let dns = lb.dns_name().unwrap().to_string();
    let (listeners, tags) = block_on(async {
        let l = elb()
            .describe_listeners()
            .load_balancer_arn(&lb_arn)
            .send()
            .await
            .unwrap();
        let t = elb()
            .describe_tags()
            .resource_arns(&lb_arn)
            .send()
            .await
            .unwrap();
        (l.listeners().to_vec(), t.tag_descriptions().to_vec())
    });
    let mut seen: Vec<(i32, String, bool)> = listeners
        .iter()
        .map(|l| {
            (
                l.port().unwrap(),
                l.protocol().unwrap().as_str().to_string(),
                l.certificates().first().and_then(|c| c.certificate_arn()) == Some(cert.as_str()),
            )
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            (80, "HTTP".to_string(), false),
            (443, "HTTPS".to_string(), true)
        ]
    );
    let redirect = listeners.iter().find(|l| l.port() == Some(80)).unwrap();
    assert_eq!(
        redirect.default_actions()[0].r#type().unwrap().as_str(),
        "redirect"
    );
    assert!(
        tags[0]
            .tags()
            .iter()
            .any(|t| t.key() == Some("geusemaker:deployment") && t.value() == Some(d.as_str())),
        "cost-allocation tag on the load balancer"
    );

    // The target group: n8n's port and health check, the instance registered.
    let tgs = target_groups(&d);
    assert_eq!(tgs.len(), 1);
    assert_eq!(tgs[0].port(), Some(5678));
    assert_eq!(tgs[0].health_check_path(), Some("/healthz"));
    let targets = block_on(async {
        elb()
            .describe_target_health()
            .target_group_arn(tgs[0].target_group_arn().unwrap())
            .send()
            .await
            .unwrap()
            .target_health_descriptions()
            .iter()
            .filter_map(|t| t.target().and_then(|t| t.id()).map(str::to_string))
            .collect::<Vec<_>>()
    });
    let instances = live_instances(&d);
    assert_eq!(instances.len(), 1);
    assert_eq!(targets, [instances[0].instance_id().unwrap().to_string()]);
    assert_eq!(
        instances[0].instance_type().unwrap().as_str(),
        "g4dn.xlarge"
    );

    // n8n is reachable only from the load balancer's group; the load balancer from anywhere.
    let sgs = groups(&d);
    let alb_sg = sgs
        .iter()
        .find(|g| g.group_name() == Some(format!("{d}-alb").as_str()))
        .unwrap();
    let stack_sg = sgs
        .iter()
        .find(|g| g.group_name() == Some(format!("{d}-stack").as_str()))
        .unwrap();
    let n8n = stack_sg
        .ip_permissions()
        .iter()
        .find(|p| p.from_port() == Some(5678))
        .unwrap();
    assert!(
        n8n.ip_ranges().is_empty(),
        "n8n is not open to the internet"
    );
    assert_eq!(
        n8n.user_id_group_pairs()[0].group_id(),
        alb_sg.group_id(),
        "n8n only from the load balancer"
    );
    let mut alb_ports: Vec<i32> = alb_sg
        .ip_permissions()
        .iter()
        .map(|p| p.from_port().unwrap())
        .collect();
    alb_ports.sort();
    assert_eq!(alb_ports, [80, 443]);
    assert_eq!(
        lb.security_groups(),
        [alb_sg.group_id().unwrap().to_string()]
    );

    // CloudFront in front of the load balancer, and the result points at it.
    let cdns = distributions(&d);
    assert_eq!(cdns.len(), 1, "{cdns:?}");
    assert_eq!(
        cdns[0].1, dns,
        "the distribution's origin is the load balancer"
    );
    let n8n_url = out["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "n8n")
        .unwrap()["url"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        n8n_url.starts_with("https://") && n8n_url.contains("cloudfront"),
        "{n8n_url}"
    );
    // The estimate includes the load balancer and CloudFront.
    let lines = out["cost"].to_string();
    assert!(
        lines.contains("load balancer") && lines.contains("CloudFront"),
        "{lines}"
    );

    // Again: nothing to do.
    let again = env.gm_json(&args, 0);
    assert_eq!(again["report"]["changes"], 0, "{again:#}");

    // Destroy removes the edge too, distribution first.
    let gone = env.gm_json(&["destroy", &d, "--yes"], 0);
    assert!(gone["remaining"].as_array().unwrap().is_empty(), "{gone:#}");
    let destroyed: Vec<&str> = gone["destroyed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["address"].as_str().unwrap())
        .collect();
    assert_eq!(
        &destroyed[..3],
        ["cdn", "load-balancer", "target-group"],
        "{destroyed:?}"
    );
    assert!(load_balancers(&d).is_empty());
    assert!(target_groups(&d).is_empty());
    assert!(distributions(&d).is_empty());
    assert!(groups(&d).is_empty());
    assert!(live_instances(&d).is_empty());
}

#[test]
fn a_spec_edge_follows_the_spec_and_plain_deployments_do_not_read_it() {
    let env = Env::new();
    let d = name("edgespec");
    let base = format!(
        "version: 1\ndeployment: {d}\nsecurity_groups:\n  - name: lb\n    ingress: [{{protocol: tcp, port: 80, cidr: 0.0.0.0/0}}]\n  - name: web\n    ingress: [{{protocol: tcp, port: 8080, source_group: lb}}]\ninstances:\n  - name: web\n    count: 2\n    type: t3.micro\n    ami: al2023\n    security_groups: [web]\n"
    );
    let with_lb = format!(
        "{base}load_balancer:\n  target: web\n  port: 8080\n  health_check: /ready\n  security_groups: [lb]\ncdn: {{}}\n"
    );
    let spec = env.spec(&with_lb);
    let out = env.gm_json(&["apply", "-f", spec.to_str().unwrap(), "--yes"], 0);
    assert_eq!(out["outcome"], "ok", "{out:#}");
    let tgs = target_groups(&d);
    assert_eq!(tgs[0].port(), Some(8080));
    let registered = block_on(async {
        elb()
            .describe_target_health()
            .target_group_arn(tgs[0].target_group_arn().unwrap())
            .send()
            .await
            .unwrap()
            .target_health_descriptions()
            .len()
    });
    assert_eq!(registered, 2, "both instances are targets");
    assert_eq!(distributions(&d).len(), 1);
    // HTTP only without a certificate, forwarding to the targets.
    let plan = env.gm_json(&["plan", "-f", spec.to_str().unwrap()], 0);
    assert_eq!(plan["changes"].as_array().unwrap().len(), 0, "{plan:#}");

    // Scaling the group re-targets the load balancer.
    let scaled = env.spec(&with_lb.replace("count: 2", "count: 3"));
    let out = env.gm_json(&["apply", "-f", scaled.to_str().unwrap(), "--yes"], 0);
    assert_eq!(out["outcome"], "ok", "{out:#}");
    let registered = block_on(async {
        elb()
            .describe_target_health()
            .target_group_arn(tgs[0].target_group_arn().unwrap())
            .send()
            .await
            .unwrap()
            .target_health_descriptions()
            .len()
    });
    assert_eq!(registered, 3);

    // Dropping the edge from the spec removes it, distribution first; instances stay.
    let plain = env.spec(&base.replace("count: 2", "count: 3"));
    let plan = env.gm(&["plan", "-f", plain.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&plan.stdout).to_string();
    let cdn_at = text.find("destroy cdn").expect(&text);
    let lb_at = text.find("destroy load-balancer").expect(&text);
    assert!(cdn_at < lb_at, "{text}");
    let out = env.gm_json(&["apply", "-f", plain.to_str().unwrap(), "--yes"], 0);
    assert_eq!(out["outcome"], "ok", "{out:#}");
    assert!(load_balancers(&d).is_empty());
    assert!(target_groups(&d).is_empty());
    assert!(distributions(&d).is_empty());
    assert_eq!(live_instances(&d).len(), 3);

    // Now the store remembers no edge: a plan reads EC2 only (three describes).
    let plan = env.gm_json(&["plan", "-f", plain.to_str().unwrap()], 0);
    assert_eq!(plan["changes"].as_array().unwrap().len(), 0, "{plan:#}");
    env.gm_json(&["destroy", &d, "--yes"], 0);
}

#[test]
fn an_edge_without_an_origin_or_with_one_subnet_is_a_spec_error() {
    let env = Env::new();
    let spec = env.spec(
        "version: 1\ndeployment: bad-edge\ninstances:\n  - name: web\n    type: t3.micro\n    ami: al2023\nload_balancer:\n  target: api\n  port: 80\n  subnets: [subnet-0abc12345def67890]\n",
    );
    let out = env.gm(&["validate", "-f", spec.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(err.contains("`api` is not an instance group"), "{err}");
    assert!(err.contains("two availability zones"), "{err}");
    assert!(
        err.contains(":8:"),
        "positions point at the spec line: {err}"
    );
}
