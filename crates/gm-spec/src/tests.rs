//! Spec loading and validation, as a user sees the errors.

use std::path::Path;

use crate::{load_str, Market, SpecError, VolumeType};

const GOOD: &str = r#"version: 1
deployment: web-demo
region: us-east-1
tags: {team: ml}
security_groups:
  - name: web
    vpc: default
    ingress:
      - {protocol: tcp, port: 22, cidr: 203.0.113.0/24}
      - {protocol: tcp, ports: 80-443, cidr: 0.0.0.0/0}
instances:
  - name: web
    count: 3
    type: t3.medium
    ami: al2023
    key_pair: my-key
    security_groups: [web, sg-0123456789abcdef0]
    market: spot
    spot: {max_price: "0.05", fallback: on-demand, interruption: terminate}
    user_data: {inline: "echo hello"}
    root_volume: {size: 30, type: gp3, encrypted: true}
    volumes:
      - {device: /dev/sdf, size: 100, type: gp3, iops: 4000, throughput: 250,
         encrypted: true, kms_key: alias/data, delete_on_termination: false}
    tags: {role: web}
"#;

fn errors(text: &str) -> String {
    match load_str("spec.yaml", text, Path::new(".")) {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(e) => e.to_string(),
    }
}

fn bad(from: &str, to: &str) -> String {
    assert!(GOOD.contains(from), "test bug: `{from}` not in GOOD");
    errors(&GOOD.replacen(from, to, 1))
}

#[test]
fn the_issue_example_loads() {
    let s = load_str("spec.yaml", GOOD, Path::new(".")).unwrap();
    let g = &s.spec.instances[0];
    assert_eq!(g.count, 3);
    assert_eq!(g.market, Market::Spot);
    assert_eq!(g.volumes[0].volume_type, VolumeType::Gp3);
    assert!(!g.volumes[0].delete_on_termination);
    let ud = s.user_data[0].as_deref().unwrap();
    assert!(ud.contains("echo hello") && ud.contains("GEUSEMAKER-UD"));
}

#[test]
fn unknown_field_points_at_the_key_with_a_suggestion() {
    let e = bad("    count: 3\n", "    cuont: 3\n");
    assert!(
        e.starts_with("spec.yaml:13:5: unknown field `cuont`"),
        "{e}"
    );
    assert!(e.contains("did you mean `count`?"), "{e}");
}

#[test]
fn unknown_nested_field_in_flow_map_is_located() {
    let e = bad("iops: 4000", "iopz: 4000");
    assert!(e.contains("spec.yaml:23:"), "{e}");
    assert!(e.contains("did you mean `iops`?"), "{e}");
}

#[test]
fn gp3_iops_out_of_range_is_explained() {
    let e = bad("iops: 4000", "iops: 20000");
    assert!(
        e.contains("gp3 IOPS are 3000–16000; 20000 is out of range"),
        "{e}"
    );
    assert!(e.starts_with("spec.yaml:23:"), "{e}");
}

#[test]
fn io2_without_iops_is_rejected() {
    let e = bad("type: gp3, iops: 4000, throughput: 250", "type: io2");
    assert!(e.contains("io2 volumes need `iops`"), "{e}");
}

#[test]
fn gp3_throughput_range_is_checked() {
    let e = bad("throughput: 250", "throughput: 2000");
    assert!(e.contains("gp3 throughput is 125–1000 MiB/s"), "{e}");
}

#[test]
fn undefined_security_group_is_named() {
    let e = bad("[web, sg-0123456789abcdef0]", "[wbe]");
    assert!(e.contains("security group `wbe` is neither defined"), "{e}");
    assert!(e.contains("did you mean `web`?"), "{e}");
    assert!(e.starts_with("spec.yaml:17:"), "{e}");
}

#[test]
fn duplicate_group_names_are_rejected() {
    let text = format!("{GOOD}  - name: web\n    type: t3.micro\n    ami: al2023\n");
    let e = errors(&text);
    assert!(e.contains("duplicate instance group name `web`"), "{e}");
}

#[test]
fn missing_user_data_file_is_reported() {
    let e = bad("{inline: \"echo hello\"}", "{file: nope/missing.sh}");
    assert!(
        e.contains("user-data file `nope/missing.sh` not found"),
        "{e}"
    );
}

#[test]
fn user_data_over_16k_is_rejected() {
    let big = "x".repeat(17 * 1024);
    let e = bad(
        "{inline: \"echo hello\"}",
        &format!("{{inline: \"{big}\"}}"),
    );
    assert!(e.contains("EC2 allows 16384"), "{e}");
}

#[test]
fn user_data_file_is_read_relative_to_the_spec() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("boot.sh"), "#!/bin/bash\necho from-file\n").unwrap();
    let text = GOOD.replace("{inline: \"echo hello\"}", "{file: boot.sh}");
    let s = load_str("spec.yaml", &text, dir.path()).unwrap();
    assert!(s.user_data[0]
        .as_deref()
        .unwrap()
        .contains("echo from-file"));
}

#[test]
fn bad_enum_value_lists_the_allowed_ones() {
    let e = bad("market: spot", "market: spto");
    assert!(e.contains("`spto` is not a valid value here"), "{e}");
    assert!(e.contains("did you mean `spot`?"), "{e}");
}

#[test]
fn missing_required_field_is_named() {
    let e = bad("    type: t3.medium\n", "");
    assert!(e.contains("is missing the required field `type`"), "{e}");
}

#[test]
fn wrong_type_is_explained() {
    let e = bad("count: 3", "count: three");
    assert!(e.contains("instances[0].count"), "{e}");
    assert!(e.contains("spec.yaml:13:12"), "{e}");
}

#[test]
fn several_problems_are_all_reported_in_file_order() {
    let text = GOOD
        .replace("ami: al2023", "ami: al2032")
        .replace("iops: 4000", "iops: 1");
    let e = errors(&text);
    let ami = e.find("al2032").unwrap();
    let iops = e.find("gp3 IOPS").unwrap();
    assert!(ami < iops, "{e}");
    assert!(e.contains("did you mean `al2023`?"), "{e}");
}

#[test]
fn malformed_yaml_never_panics() {
    for text in [
        "",
        ":",
        "version: [",
        "- - -",
        "version: 1\ndeployment: x\ninstances: {a: 1}",
        "\u{0}",
        "a: &x [*x]",
    ] {
        let r = load_str("spec.yaml", text, Path::new("."));
        assert!(matches!(r, Err(SpecError::Invalid(_))), "{text:?}");
    }
}

#[test]
fn reserved_tags_are_rejected() {
    let e = bad("tags: {team: ml}", "tags: {\"geusemaker:id\": x}");
    assert!(e.contains("tag key `geusemaker:id` is reserved"), "{e}");
}

#[test]
fn spot_options_need_spot_market() {
    let e = bad("    market: spot\n", "");
    assert!(
        e.contains("`spot` options are set but `market` is on-demand"),
        "{e}"
    );
}

#[test]
fn bad_cidr_and_port_range_are_rejected() {
    let e = bad(
        "ports: 80-443, cidr: 0.0.0.0/0",
        "ports: 443-80, cidr: 0.0.0.0/33",
    );
    assert!(e.contains("`443-80` is not a port range"), "{e}");
    assert!(e.contains("`0.0.0.0/33` is not an IPv4 CIDR"), "{e}");
}

#[test]
fn schema_rejects_unknown_fields_and_names_the_contract() {
    let s = crate::json_schema();
    let text = s.to_string();
    assert!(text.contains("\"additionalProperties\":false"), "{text}");
    for field in [
        "deployment",
        "security_groups",
        "delete_on_termination",
        "max_price",
    ] {
        assert!(text.contains(field), "{field}");
    }
}

const NETWORK: &str = r#"version: 1
deployment: net-demo
region: us-east-1
network:
  vpc: {cidr: 10.40.0.0/16}
  subnets:
    - {name: public-a, zone: us-east-1a, cidr: 10.40.1.0/24, public: true}
    - {name: public-b, cidr: 10.40.2.0/24, public: true}
    - {name: private-a, zone: us-east-1a, cidr: 10.40.10.0/24}
instances:
  - name: app
    type: t3.micro
    ami: al2023
    subnet: private-a
load_balancer:
  target: app
  port: 80
"#;

fn bad_net(from: &str, to: &str) -> String {
    assert!(NETWORK.contains(from), "test bug: `{from}` not in NETWORK");
    errors(&NETWORK.replacen(from, to, 1))
}

#[test]
fn a_network_loads_with_created_or_referenced_vpc() {
    let s = load_str("spec.yaml", NETWORK, Path::new(".")).unwrap();
    let net = s.spec.network.as_ref().unwrap();
    assert_eq!(
        net.vpc,
        crate::VpcSpec::Create(crate::NewVpcSpec {
            cidr: "10.40.0.0/16".into()
        })
    );
    assert_eq!(net.subnets[1].zone, "auto", "zone defaults to auto");
    assert!(!net.subnets[2].public);
    assert_eq!(s.spec.instances[0].subnet.as_deref(), Some("private-a"));
    let r = load_str(
        "spec.yaml",
        &NETWORK.replace("{cidr: 10.40.0.0/16}", "vpc-0abc12345def67890"),
        Path::new("."),
    )
    .unwrap();
    assert_eq!(
        r.spec.network.unwrap().vpc,
        crate::VpcSpec::Existing("vpc-0abc12345def67890".into())
    );
}

#[test]
fn network_mistakes_point_at_their_place_with_the_fix() {
    let e = bad_net("cidr: 10.40.10.0/24", "cidr: 10.41.10.0/24");
    assert!(
        e.contains("spec.yaml:9:") && e.contains("outside the VPC's `10.40.0.0/16`"),
        "{e}"
    );
    let e = bad_net("cidr: 10.40.2.0/24", "cidr: 10.40.1.128/25");
    assert!(e.contains("overlaps subnet `public-a`"), "{e}");
    let e = bad_net("cidr: 10.40.2.0/24", "cidr: 10.40.2.7/24");
    assert!(e.contains("write `10.40.2.0/24`"), "{e}");
    let e = bad_net("{cidr: 10.40.0.0/16}", "{cidr: 10.0.0.0/8}");
    assert!(e.contains("/16 to /28"), "{e}");
    let e = bad_net("{cidr: 10.40.0.0/16}", "vpc-nope");
    assert!(e.contains("`vpc-nope` is not a VPC id"), "{e}");
    let e = bad_net("{cidr: 10.40.0.0/16}", "[10.40.0.0/16]");
    assert!(e.contains("either an existing `vpc-…` id"), "{e}");
    let e = bad_net(
        "zone: us-east-1a, cidr: 10.40.1",
        "zone: eu-west-1a, cidr: 10.40.1",
    );
    assert!(
        e.contains("not a zone of the spec's region `us-east-1`"),
        "{e}"
    );
    let e = bad_net("name: public-b", "name: public-a");
    assert!(e.contains("duplicate subnet name `public-a`"), "{e}");
    let e = bad_net("subnet: private-a", "subnet: privat-a");
    assert!(
        e.contains("spec.yaml:14:") && e.contains("did you mean `private-a`?"),
        "{e}"
    );
    let e = bad_net(
        "cidr: 10.40.2.0/24, public: true}",
        "cidr: 10.40.2.0/24, public: false}",
    );
    assert!(
        e.contains("has 1; an Application Load Balancer needs two"),
        "{e}"
    );
    let e =
        errors("version: 1\ndeployment: d\nnetwork:\n  vpc: {cidr: 10.40.0.0/16}\n  subnets: []\n");
    assert!(e.contains("at least one subnet"), "{e}");
}

#[test]
fn a_nat_gateway_needs_a_public_subnet_to_sit_in_and_a_private_one_to_serve() {
    let with_nat =
        |text: &str| text.replacen("  subnets:\n", "  nat_gateway: true\n  subnets:\n", 1);
    let s = load_str("spec.yaml", &with_nat(NETWORK), Path::new(".")).unwrap();
    assert!(s.spec.network.as_ref().unwrap().nat_gateway);
    let all_public =
        with_nat(&NETWORK.replace("cidr: 10.40.10.0/24}", "cidr: 10.40.10.0/24, public: true}"));
    let e = errors(&all_public);
    assert!(
        e.contains("GM-SPEC-085")
            && e.contains("spec.yaml:6:")
            && e.contains("every subnet here is public"),
        "{e}"
    );
    let none_public = with_nat(&NETWORK.replace(", public: true}", "}"));
    let e = errors(&none_public);
    assert!(
        e.contains("GM-SPEC-085") && e.contains("no subnet here is public"),
        "{e}"
    );
}

#[test]
fn an_instance_zone_must_agree_with_where_it_goes() {
    // Default VPC: any zone of the region.
    let s = load_str(
        "spec.yaml",
        &GOOD.replace(
            "    market: spot\n",
            "    zone: us-east-1c\n    market: spot\n",
        ),
        Path::new("."),
    )
    .unwrap();
    assert_eq!(s.spec.instances[0].zone.as_deref(), Some("us-east-1c"));
    let e = bad(
        "    market: spot\n",
        "    zone: eu-west-1a\n    market: spot\n",
    );
    assert!(
        e.contains("GM-SPEC-083") && e.contains("not a zone of the spec's region `us-east-1`"),
        "{e}"
    );
    let e = bad("    market: spot\n", "    zone: east\n    market: spot\n");
    assert!(e.contains("`east` is not an availability zone name"), "{e}");
    let e = bad(
        "    market: spot\n",
        "    zone: us-east-1c\n    subnet: subnet-0abc12345def67890\n    market: spot\n",
    );
    assert!(
        e.contains("GM-SPEC-084") && e.contains("already decides the zone"),
        "{e}"
    );
    // A network: the zone written on the named subnet, or on some subnet.
    let ok = NETWORK.replace(
        "    subnet: private-a\n",
        "    subnet: private-a\n    zone: us-east-1a\n",
    );
    assert!(load_str("spec.yaml", &ok, Path::new(".")).is_ok());
    let e = bad_net(
        "    subnet: private-a\n",
        "    subnet: private-a\n    zone: us-east-1b\n",
    );
    assert!(
        e.contains("`us-east-1b` is not the zone of subnet `private-a` (us-east-1a)"),
        "{e}"
    );
    let e = bad_net("    subnet: private-a\n", "    zone: us-east-1b\n");
    assert!(
        e.contains("no subnet of `network.subnets` is written with zone `us-east-1b`"),
        "{e}"
    );
    let s = load_str(
        "spec.yaml",
        &NETWORK.replace("    subnet: private-a\n", "    zone: us-east-1a\n"),
        Path::new("."),
    )
    .unwrap();
    assert_eq!(s.spec.instances[0].zone.as_deref(), Some("us-east-1a"));
}
