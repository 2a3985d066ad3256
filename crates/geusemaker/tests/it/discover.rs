//! Discovery of reusable resources, against moto (seeded with boto3), and its cache.

use crate::support::*;

#[test]
fn discover_lists_every_kind_and_caches_the_answer() {
    let env = Env::new();
    let tag = name("disc");
    let seeded = std::process::Command::new("python3")
        .arg(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/it/support/seed_discovery.py"),
        )
        .args([&moto().url(), &tag])
        .output()
        .unwrap();
    assert!(
        seeded.status.success(),
        "{}",
        String::from_utf8_lossy(&seeded.stderr)
    );
    let ids: serde_json::Value = serde_json::from_slice(&seeded.stdout).unwrap();

    let out = env.gm_json(&["discover", "--vpc", ids["vpc"].as_str().unwrap()], 0);
    assert!(
        out["cached_seconds_ago"].is_null(),
        "first answer comes from AWS"
    );
    let d = &out["discovery"];
    assert!(d["errors"].as_array().unwrap().is_empty(), "{d:#}");
    let vpc = d["vpcs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["id"] == ids["vpc"])
        .unwrap();
    assert_eq!(vpc["name"], tag.as_str());
    let subnets = d["subnets"].as_array().unwrap();
    assert_eq!(subnets.len(), 2, "only the VPC asked for: {subnets:#?}");
    let public = subnets.iter().find(|s| s["id"] == ids["subnet"]).unwrap();
    assert_eq!(public["public"], true);
    assert_eq!(public["availability_zone"], "us-east-1a");
    assert_eq!(public["cidr"], "10.77.1.0/24");
    assert!(public["free_ips"].as_i64().unwrap() > 200);
    assert!(d["security_groups"]
        .as_array()
        .unwrap()
        .iter()
        .any(|g| g["id"] == ids["sg"]));
    assert!(d["key_pairs"]
        .as_array()
        .unwrap()
        .iter()
        .any(|k| k["name"] == format!("{tag}-key").as_str()));
    assert!(d["load_balancers"]
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l["arn"] == ids["lb"]));
    assert!(d["file_systems"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["id"] == ids["fs"]));
    assert!(d["distributions"]
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x["id"] == ids["cf"]));

    let again = env.gm_json(&["discover", "--vpc", ids["vpc"].as_str().unwrap()], 0);
    assert!(
        again["cached_seconds_ago"].as_i64().is_some(),
        "second answer from the cache"
    );
    let fresh = env.gm_json(
        &[
            "discover",
            "--vpc",
            ids["vpc"].as_str().unwrap(),
            "--refresh",
        ],
        0,
    );
    assert!(fresh["cached_seconds_ago"].is_null());
}
