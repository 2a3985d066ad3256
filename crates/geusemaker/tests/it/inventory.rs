//! The inventory against moto: every collected type seeded in two accounts (the caller's and an
//! organization member entered through AssumeRole) and two regions (global types once per
//! account), scanned, and found with its id, name, tags, region and account; a second scan records what
//! was added, removed and changed; a type AWS refuses is reported and the scan goes on; SSM's
//! 10-per-page answers exercise pagination. The moto server is shared by the tests of this
//! file, so assertions look for each test's own resources, never at totals.

use std::collections::BTreeMap;

use crate::support::*;

fn seed(region: &str, tag: &str, extra: &[&str]) -> BTreeMap<String, Vec<String>> {
    let mut args = vec![region, tag];
    args.extend_from_slice(extra);
    serde_json::from_slice(&support_script("seed_inventory.py", &args)).unwrap()
}

/// Every stored resource of one type, by id (one page of 100 is enough for a test's own).
fn listed(env: &Env, rtype: &str, search: &str) -> Vec<serde_json::Value> {
    let page = env.gm_json(
        &[
            "inventory",
            "list",
            "--type",
            rtype,
            "--search",
            search,
            "--per-page",
            "100",
        ],
        0,
    );
    page["items"].as_array().unwrap().clone()
}

#[test]
fn a_scan_finds_every_type_in_two_accounts_and_two_regions_with_ids_names_tags_and_history() {
    let env = Env::new();
    let tag = name("inv");
    let east = seed("us-east-1", &tag, &["--global", "--params", "23"]);
    let west = seed("us-west-2", &tag, &[]);
    // The same again in an organization member account, entered through AssumeRole (its own
    // tag: S3 bucket names and CloudFront caller references are global).
    let member = seed_org(&tag)["account"].as_str().unwrap().to_string();
    let mtag = format!("{tag}-m");
    let m_east = seed("us-east-1", &mtag, &["--global", "--assume", &member]);
    let m_west = seed("us-west-2", &mtag, &["--assume", &member]);
    let types = env.gm_json(&["inventory", "types"], 0);
    assert!(types.as_array().unwrap().len() >= 50);
    // Every type but DocumentDB (moto cannot create one) is seeded in us-east-1.
    let seeded: std::collections::BTreeSet<&str> = east.keys().map(String::as_str).collect();
    let missing: Vec<&str> = types
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["type"].as_str().unwrap())
        .filter(|t| !seeded.contains(t))
        .collect();
    assert_eq!(missing, ["docdb:cluster"]);

    let accounts = format!("123456789012,{member}");
    let scan = env.gm_json(
        &[
            "inventory",
            "scan",
            "--accounts",
            &accounts,
            "--regions",
            "us-east-1,us-west-2",
        ],
        0,
    );
    assert!(scan["errors"].as_array().unwrap().is_empty(), "{scan:#}");
    assert_eq!(
        scan["accounts"],
        serde_json::json!(["123456789012", member])
    );

    for (account, tag, region, seeded) in [
        ("123456789012", &tag, "us-east-1", &east),
        ("123456789012", &tag, "us-west-2", &west),
        (member.as_str(), &mtag, "us-east-1", &m_east),
        (member.as_str(), &mtag, "us-west-2", &m_west),
    ] {
        for (rtype, ids) in seeded.iter() {
            let global = ["iam:", "cloudfront:", "s3:", "route53:"]
                .iter()
                .any(|p| rtype.starts_with(p));
            let want_region = if global { "global" } else { region };
            // Search by id (every type's id or ARN contains it).
            for id in ids {
                let found = env.gm_json(&["inventory", "show", id], 0);
                let rows: Vec<&serde_json::Value> = found
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|r| {
                        r["type"] == rtype.as_str()
                            && r["region"] == want_region
                            && r["account"] == account
                    })
                    .collect();
                assert_eq!(
                    rows.len(),
                    1,
                    "{rtype} {id} in {account} {want_region}: {found:#}"
                );
                let r = rows[0];
                assert!(r["arn"].as_str().unwrap().starts_with("arn:aws:"), "{r:#}");
                assert!(
                    r["raw"].is_object(),
                    "{rtype}: raw metadata is JSON: {}",
                    r["raw"]
                );
                // Tags where the list (or its batch describe) returns them, or, for the types
                // whose list carries none, the tagging API (`GetResources`) as moto answers it.
                let tagged = rtype.starts_with("ec2:")
                    || rtype.starts_with("elbv2:")
                    || rtype.starts_with("rds:")
                    || matches!(
                        rtype.as_str(),
                        "efs:file-system"
                            | "elb:load-balancer"
                            | "autoscaling:group"
                            | "ecs:cluster"
                            | "ecs:service"
                            | "eks:cluster"
                            | "redshift:cluster"
                            | "secretsmanager:secret"
                            | "cloudformation:stack"
                            | "apigateway:rest-api"
                            | "apigateway:http-api"
                            | "lambda:function"
                            | "sqs:queue"
                            | "sns:topic"
                            | "kms:key"
                            | "dynamodb:table"
                            | "logs:log-group"
                            | "ssm:parameter"
                            | "acm:certificate"
                            | "cloudwatch:alarm"
                            | "s3:bucket"
                            | "cloudfront:distribution"
                            | "route53:hosted-zone"
                            | "iam:role"
                            | "iam:user"
                    );
                // moto's GetResources has no EventBridge rules, ECR repositories, Kinesis
                // streams or state machines (docs/emulator-gaps.md): those come back untagged.
                if tagged {
                    assert_eq!(r["tags"]["inv"], tag.as_str(), "{rtype}: {r:#}");
                }
                // An IAM role has what ListRoles gives (the description) and what only the
                // authorization details give (attached policies).
                if rtype == "iam:role" {
                    assert_eq!(r["raw"]["description"], format!("{tag} role"), "{r:#}");
                    assert_eq!(
                        r["raw"]["attached_managed_policies"][0]["policy_name"],
                        format!("{tag}-policy"),
                        "{r:#}"
                    );
                }
                let own_name = matches!(
                    rtype.as_str(),
                    "ec2:security-group" | "ec2:key-pair" | "ec2:launch-template" | "ec2:image"
                );
                if rtype.starts_with("ec2:") && tagged && !own_name {
                    assert_eq!(r["name"], tag.as_str(), "{rtype}: the Name tag is the name");
                }
                if own_name {
                    assert!(
                        r["name"].as_str().unwrap().starts_with(tag.as_str()),
                        "{rtype}: {r:#}"
                    );
                }
            }
        }
    }
    // 23 parameters under the test's path came back across moto's 10-per-page answers.
    let params = listed(&env, "ssm:parameter", &format!("/{tag}/"));
    let east_params = params.iter().filter(|p| p["region"] == "us-east-1").count();
    assert_eq!(east_params, 23, "pagination to the end");
    assert_eq!(params.len(), 23 + 3);
    let instance = &east["ec2:instance"][0];
    let rows = listed(&env, "ec2:instance", instance);
    assert_eq!(rows[0]["status"], "running");

    // Changes, then a second scan: tag changed, volume removed, parameter added.
    let ec2 = ec2();
    block_on(async {
        ec2.create_tags()
            .resources(instance)
            .tags(
                aws_sdk_ec2::types::Tag::builder()
                    .key("team")
                    .value("ml")
                    .build(),
            )
            .send()
            .await
            .unwrap();
        ec2.delete_volume()
            .volume_id(&east["ec2:volume"][0])
            .send()
            .await
            .unwrap();
        aws_sdk_ssm::Client::new(&sdk_config())
            .put_parameter()
            .name(format!("/{tag}/late"))
            .value("v")
            .r#type(aws_sdk_ssm::types::ParameterType::String)
            .send()
            .await
            .unwrap();
    });
    let second = env.gm_json(
        &["inventory", "scan", "--regions", "us-east-1,us-west-2"],
        0,
    );
    assert!(second["added"].as_u64().unwrap() >= 1, "{second:#}");
    assert!(second["removed"].as_u64().unwrap() >= 1, "{second:#}");
    let scan2 = second["scan"].as_i64().unwrap();
    let history = env.gm_json(&["inventory", "history"], 0);
    let mine = |change: &str, id: &str| {
        history
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["scan"] == scan2 && c["change"] == change && c["id"] == id)
            .cloned()
    };
    let changed = mine("changed", instance).expect("the tagged instance changed");
    let paths: Vec<&str> = changed["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert!(paths.contains(&"tags.team"), "field-level diff: {paths:?}");
    assert!(paths.iter().any(|p| p.starts_with("raw.tags")), "{paths:?}");
    assert!(mine("removed", &east["ec2:volume"][0]).is_some());
    assert!(mine("added", &format!("/{tag}/late")).is_some());
    // Gone from the latest view, still there with --include-gone.
    assert!(listed(&env, "ec2:volume", &east["ec2:volume"][0]).is_empty());
    let with_gone = env.gm_json(
        &[
            "inventory",
            "list",
            "--type",
            "ec2:volume",
            "--search",
            &east["ec2:volume"][0],
            "--include-gone",
        ],
        0,
    );
    assert!(with_gone["items"][0]["gone_at"].is_string());

    // Stats and status.
    let stats = env.gm_json(&["inventory", "stats"], 0);
    assert!(stats["by_region"]["us-west-2"].as_u64().unwrap() >= west.len() as u64);
    assert!(stats["by_region"]["global"].as_u64().unwrap() >= 6);
    let status = env.gm_json(&["inventory", "status"], 0);
    let synced: Vec<(&str, &str)> = status
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["account"].as_str().unwrap(),
                s["region"].as_str().unwrap(),
            )
        })
        .collect();
    let mut want = Vec::new();
    for account in ["123456789012", member.as_str()] {
        for region in ["global", "us-east-1", "us-west-2"] {
            want.push((account, region));
        }
    }
    want.sort();
    assert_eq!(synced, want, "the last sync of each account and region");

    // Exports with the same filters: CSV and JSON.
    let csv = env.dir.path().join("volumes.csv");
    env.gm_json(
        &[
            "inventory",
            "export",
            "--format",
            "csv",
            "--type",
            "ec2:instance",
            "--account",
            "123456789012",
            "--search",
            &tag,
            "--to",
            csv.to_str().unwrap(),
        ],
        0,
    );
    let text = std::fs::read_to_string(&csv).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap(),
        "account,region,type,id,arn,name,status,created,first_seen,last_seen,tags"
    );
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 2, "one instance per region: {text}");
    assert!(rows.iter().all(|r| r.contains(",ec2:instance,")));
    // XLSX: the audit header (time, filters), the table header and only the filtered rows.
    let xlsx = env.dir.path().join("west.xlsx");
    let out = env.gm_json(
        &[
            "inventory",
            "export",
            "--format",
            "xlsx",
            "--region",
            "us-west-2",
            "--type",
            "ec2:vpc",
            "--account",
            "123456789012",
            "--search",
            &tag,
            "--tags",
            "columns",
            "--to",
            xlsx.to_str().unwrap(),
        ],
        0,
    );
    assert_eq!(out["resources"], 1);
    {
        use calamine::{open_workbook, Data, Reader, Xlsx};
        let mut wb: Xlsx<_> = open_workbook(&xlsx).unwrap();
        let sheet = wb.worksheet_range("inventory").unwrap();
        let cell = |r: u32, c: u32| sheet.get_value((r, c)).cloned().unwrap_or(Data::Empty);
        assert_eq!(
            cell(1, 1),
            Data::String(out["exported_at"].as_str().unwrap().into())
        );
        assert_eq!(
            cell(2, 1),
            Data::String(format!(
                "type=ec2:vpc, account=123456789012, region=us-west-2, search={tag}"
            ))
        );
        assert_eq!(cell(4, 3), Data::String("id".into()));
        assert_eq!(cell(5, 3), Data::String(west["ec2:vpc"][0].clone()));
        assert_eq!(cell(5, 1), Data::String("us-west-2".into()));
        assert_eq!(cell(4, 11), Data::String("tag:inv".into()));
        assert_eq!(cell(5, 11), Data::String(tag.clone()));
        assert_eq!(cell(6, 3), Data::Empty);
    }
    let json_path = env.dir.path().join("all.json");
    let out = env.gm_json(
        &[
            "inventory",
            "export",
            "--format",
            "json",
            "--region",
            "us-west-2",
            "--search",
            &tag,
            "--to",
            json_path.to_str().unwrap(),
        ],
        0,
    );
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap()).unwrap();
    assert_eq!(doc["filters"]["region"], "us-west-2");
    assert!(doc["exported_at"].is_string());
    let exported = doc["resources"].as_array().unwrap();
    assert_eq!(exported.len() as u64, out["resources"].as_u64().unwrap());
    assert!(exported.iter().all(|r| r["region"] == "us-west-2"));
}

#[test]
fn a_refused_type_is_reported_and_the_scan_goes_on() {
    let proxy = Proxy::start(vec![Fault {
        action: "DescribeNatGateways",
        body_contains: None,
        after: 0,
        times: usize::MAX,
        code: "UnauthorizedOperation",
        status: 403,
    }]);
    let env = Env::via(&proxy);
    let tag = name("deny");
    let seeded = seed("us-east-1", &tag, &[]);
    let scan = env.gm_json(
        &[
            "inventory",
            "scan",
            "--regions",
            "us-east-1",
            "--types",
            "ec2:nat-gateway,ec2:vpc,ssm:parameter",
        ],
        0,
    );
    let errors = scan["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{scan:#}");
    assert_eq!(errors[0]["type"], "ec2:nat-gateway");
    assert_eq!(errors[0]["code"], "UnauthorizedOperation");
    assert!(scan["by_type"]["ec2:vpc"].as_u64().unwrap() >= 1);
    assert!(!listed(&env, "ec2:vpc", &seeded["ec2:vpc"][0]).is_empty());
    let status = env.gm_json(&["inventory", "status"], 0);
    assert_eq!(status[0]["errors"][0]["type"], "ec2:nat-gateway");
    assert!(proxy.count("DescribeNatGateways") >= 1);
    // The scan counts what its collectors send: at least the three listings, at most what the
    // proxy saw (which also has the account look-ups).
    let listings: usize = ["DescribeNatGateways", "DescribeVpcs", "DescribeParameters"]
        .iter()
        .map(|a| proxy.count(a))
        .sum();
    let seen: usize = proxy.counts.lock().unwrap().values().sum();
    let counted = scan["requests"].as_u64().unwrap() as usize;
    let by_operation: u64 = scan["requests_by_operation"]
        .as_object()
        .unwrap()
        .values()
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert_eq!(by_operation as usize, counted, "{scan:#}");
    assert!(
        scan["requests_by_operation"]["DescribeVpcs"]
            .as_u64()
            .unwrap()
            >= 1
    );
    assert!(
        (listings..=seen).contains(&counted),
        "{counted} not in {listings}..={seen}: {:?}",
        proxy.counts.lock().unwrap()
    );
}

#[test]
fn bad_inventory_input_gets_a_clear_error() {
    let env = Env::new();
    let out = env.gm(&["inventory", "scan", "--types", "ec2:instanse"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unknown resource type `ec2:instanse`"),
        "{err}"
    );
    assert!(err.contains("inventory types"), "{err}");
    let out = env.gm(&["inventory", "list", "--sort", "size"]);
    assert_eq!(out.status.code(), Some(2));
    let out = env.gm(&["inventory", "list", "--per-page", "30"]);
    assert_eq!(out.status.code(), Some(2));
    let out = env.gm(&["inventory", "show", "i-nothere"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--search"));
}

/// The names on a page of `inventory list --output json`, in order.
fn names_of(page: &serde_json::Value) -> Vec<&str> {
    page["items"]
        .as_array()
        .expect("a page has items")
        .iter()
        .map(|r| r["name"].as_str().unwrap_or_default())
        .collect()
}

fn seed_org(tag: &str) -> serde_json::Value {
    serde_json::from_slice(&support_script("seed_org.py", &[tag])).unwrap()
}

#[test]
fn every_account_of_the_organization_is_scanned_through_assume_role() {
    let env = Env::new();
    let tag = name("org");
    let member = seed_org(&tag);
    let member_id = member["account"].as_str().unwrap().to_string();
    let scan = env.gm_json(
        &[
            "inventory",
            "scan",
            "--accounts",
            "all",
            "--regions",
            "us-east-1",
            "--types",
            "ec2:vpc",
        ],
        0,
    );
    let accounts: Vec<&str> = scan["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert!(accounts.contains(&"123456789012"), "{accounts:?}");
    assert!(accounts.contains(&member_id.as_str()), "{accounts:?}");
    let found = env.gm_json(&["inventory", "show", member["vpc"].as_str().unwrap()], 0);
    assert_eq!(found[0]["account"], member_id.as_str());
    assert_eq!(found[0]["name"], tag.as_str());
    let mine = env.gm_json(
        &[
            "inventory",
            "list",
            "--type",
            "ec2:vpc",
            "--account",
            &member_id,
        ],
        0,
    );
    assert!(mine["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["account"] == member_id.as_str()));
}

#[test]
fn an_account_that_refuses_the_role_is_reported_and_the_others_are_scanned() {
    let tag = name("refuse");
    let member = seed_org(&tag);
    let member_id: &'static str = Box::leak(
        member["account"]
            .as_str()
            .unwrap()
            .to_string()
            .into_boxed_str(),
    );
    let proxy = Proxy::start(vec![Fault {
        action: "AssumeRole",
        body_contains: Some(member_id),
        after: 0,
        times: usize::MAX,
        code: "AccessDenied",
        status: 403,
    }]);
    let env = Env::via(&proxy);
    let scan = env.gm_json(
        &[
            "inventory",
            "scan",
            "--accounts",
            &format!("123456789012,{member_id}"),
            "--regions",
            "us-east-1",
            "--types",
            "ec2:vpc",
            "--external-id",
            "ext-42",
        ],
        0,
    );
    let errors = scan["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{scan:#}");
    assert_eq!(errors[0]["account"], member_id);
    assert_eq!(errors[0]["code"], "AssumeRoleFailed");
    assert!(errors[0]["message"]
        .as_str()
        .unwrap()
        .contains("OrganizationAccountAccessRole"));
    assert!(
        scan["by_type"]["ec2:vpc"].as_u64().unwrap() >= 1,
        "the caller's account is scanned"
    );
    let status = env.gm_json(&["inventory", "status"], 0);
    assert!(status
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["account"] == member_id && s["errors"][0]["code"] == "AssumeRoleFailed"));
}

#[test]
fn the_inventory_works_the_same_in_postgresql() {
    let env = Env::new();
    let tag = name("pg");
    let url = pg_database(&tag.replace('-', "_"));
    // `geusemaker inventory --store URL ARGS… -o json`, expecting success.
    let inv = |args: &[&str]| {
        let mut all = vec!["inventory", "--store", url.as_str()];
        all.extend_from_slice(args);
        env.gm_json(&all, 0)
    };
    let seeded = seed("us-east-1", &tag, &[]);
    let types = "ec2:vpc,ec2:instance,ssm:parameter,sqs:queue";
    let scan = inv(&["scan", "--regions", "us-east-1", "--types", types]);
    assert!(scan["errors"].as_array().unwrap().is_empty(), "{scan:#}");
    let instance = &seeded["ec2:instance"][0];
    let found = inv(&["show", instance]);
    assert_eq!(found[0]["name"], tag.as_str());
    assert_eq!(found[0]["tags"]["inv"], tag.as_str());
    assert!(found[0]["raw"].is_object());
    let page = inv(&[
        "list",
        "--type",
        "ssm:parameter",
        "--search",
        &tag,
        "--sort",
        "name",
    ]);
    assert_eq!(page["total"], 3);
    // Search ignores case, as in SQLite, through a trigram index.
    let upper = inv(&[
        "list",
        "--type",
        "ssm:parameter",
        "--search",
        &tag.to_uppercase(),
    ]);
    assert_eq!(upper["total"], 3);
    let db = tag.replace('-', "_");
    assert_eq!(
        psql(
            &db,
            "SELECT count(*) FROM pg_indexes WHERE indexname = 'inv_find'"
        ),
        "1"
    );
    // A database an older version made (schema 2: search over an expression index, no stored
    // search column) is brought up to date on connect, and searches the same.
    psql(
        &db,
        "DROP INDEX inv_find; ALTER TABLE inv_resources DROP COLUMN find;
         CREATE INDEX inv_search ON inv_resources USING gin ((id || ' ' || COALESCE(name, '') || ' ' || arn) gin_trgm_ops);
         UPDATE inv_meta SET version = 2",
    );
    let again = inv(&[
        "list",
        "--type",
        "ssm:parameter",
        "--search",
        &tag.to_uppercase(),
    ]);
    assert_eq!(again["total"], 3);
    assert_eq!(
        psql(
            &db,
            "SELECT string_agg(indexname, ',' ORDER BY indexname) FROM pg_indexes WHERE indexname IN ('inv_find', 'inv_search')"
        ),
        "inv_find"
    );
    let names = names_of(&page);
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);

    // A change, a second scan, the history.
    block_on(async {
        ec2()
            .create_tags()
            .resources(instance)
            .tags(
                aws_sdk_ec2::types::Tag::builder()
                    .key("stage")
                    .value("2")
                    .build(),
            )
            .send()
            .await
            .unwrap();
    });
    let second = inv(&["scan", "--regions", "us-east-1", "--types", types]);
    assert!(second["changed"].as_u64().unwrap() >= 1);
    let history = inv(&["history"]);
    let changed = history
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["change"] == "changed" && c["id"] == instance.as_str())
        .expect("the change is in PostgreSQL's history");
    assert!(changed["fields"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["path"] == "tags.stage"));
    let stats = inv(&["stats"]);
    assert!(stats["by_type"]["ec2:vpc"].as_u64().unwrap() >= 1);
    // The maintained counts agree with a count of the rows.
    let counted: u64 = psql(
        &db,
        "SELECT count(*) FROM inv_resources WHERE gone_at IS NULL",
    )
    .parse()
    .unwrap();
    assert_eq!(stats["total"], counted);
    let vpcs = inv(&["list", "--type", "ec2:vpc"]);
    assert_eq!(vpcs["total"], stats["by_type"]["ec2:vpc"]);

    // A broad search (its page found among the first rows of the sort order) is counted up to
    // 1,000, its page still the first in sort order; a narrower one is counted exactly. (Rows written straight into the table: the triggers keep up.)
    psql(
        &db,
        "INSERT INTO inv_resources (key, account, region, rtype, id, arn, name, status, tags, raw, digest, first_seen, last_seen, last_scan)
         SELECT '999999999999|us-east-1|ec2:vpc|vpc-bulk' || i, '999999999999', 'us-east-1', 'ec2:vpc', 'vpc-bulk' || i,
                'arn:aws:ec2:us-east-1:999999999999:vpc/vpc-bulk' || i, 'bulk-' || i, 'available', '{}', '{}', 'd',
                '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z', 1
         FROM generate_series(1, 1100) i",
    );
    let search = |text: &str| inv(&["list", "--search", text, "--sort", "name"]);
    let broad = search("BULK-");
    assert_eq!(broad["exact"], false, "{}", broad["total"]);
    assert_eq!(broad["total"], 1000);
    let names = names_of(&broad);
    let want = psql(
        &db,
        "SELECT string_agg(name, ',') FROM (SELECT name FROM inv_resources WHERE name LIKE 'bulk-%' ORDER BY name, key LIMIT 25) t",
    );
    assert_eq!(
        names.join(","),
        want,
        "the page is the first 25 in name order"
    );
    let narrow = search("bulk-10");
    assert_eq!(narrow["exact"], true);
    assert_eq!(
        narrow["total"], 111,
        "bulk-10, bulk-100…109, bulk-1000…1099"
    );
    // A page its walk cannot fill (the second of 100 when 111 match) is sorted whole and
    // counted in the same pass; past the last page, counted on its own.
    let tail = inv(&[
        "list",
        "--search",
        "bulk-10",
        "--sort",
        "name",
        "--per-page",
        "100",
        "--page",
        "2",
    ]);
    assert_eq!(
        (tail["total"].as_u64(), tail["exact"].as_bool()),
        (Some(111), Some(true))
    );
    let want = psql(
        &db,
        "SELECT string_agg(name, ',') FROM (SELECT name FROM inv_resources WHERE name LIKE 'bulk-10%' ORDER BY name, key OFFSET 100) t",
    );
    let names = names_of(&tail);
    assert_eq!(names.join(","), want, "the last 11 in name order");
    let past = inv(&[
        "list",
        "--search",
        "bulk-10",
        "--per-page",
        "100",
        "--page",
        "3",
    ]);
    assert_eq!(
        (
            past["total"].as_u64(),
            past["items"].as_array().map(Vec::len)
        ),
        (Some(111), Some(0))
    );
    let out = env.gm(&["inventory", "--store", &url, "list", "--search", "bulk-"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("more than 1000 resource(s)"));
    let status = inv(&["status"]);
    assert_eq!(status[0]["region"], "us-east-1");
    let csv = env.dir.path().join("pg.csv");
    let out = inv(&[
        "export",
        "--format",
        "csv",
        "--search",
        &tag,
        "--type",
        "sqs:queue",
        "--to",
        csv.to_str().unwrap(),
    ]);
    assert_eq!(out["resources"], 1);
    // Nothing went to the SQLite state file.
    assert!(
        !env.state().exists() || {
            let local = env.gm_json(&["inventory", "stats"], 0);
            local["total"] == 0
        }
    );
    // A server that is not there is a clear error.
    let out = env.gm(&[
        "inventory",
        "--store",
        "postgres://gm:secret@127.0.0.1:1/none",
        "stats",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot connect") && !err.contains("secret"),
        "{err}"
    );
}

/// Runs `lake_check.py` (boto3 and DuckDB) against the shared moto; its JSON answer.
fn lake(args: &[&str]) -> serde_json::Value {
    let out = support_script("lake_check.py", args);
    if out.is_empty() {
        return serde_json::Value::Null;
    }
    serde_json::from_slice(&out).unwrap()
}

#[test]
fn parquet_history_and_raw_json_land_in_s3_in_a_layout_athena_reads() {
    let env = Env::new();
    let tag = name("lake");
    let seeded = seed("us-east-1", &tag, &[]);
    let vpc = &seeded["ec2:vpc"][0];
    let bucket = tag.to_lowercase();
    lake(&["bucket", &bucket]);
    let dest = format!("s3://{bucket}/inv");

    // The scan archives its raw JSON as it ends.
    let scan = env.gm_json(
        &[
            "inventory",
            "scan",
            "--regions",
            "us-east-1",
            "--types",
            "ec2:vpc,ssm:parameter",
            "--archive",
            &dest,
        ],
        0,
    );
    let id = scan["scan"].as_i64().unwrap();
    assert_eq!(scan["archive"]["scan"], id, "{scan:#}");
    assert!(scan["archive"]["records"].as_u64().unwrap() >= 4);

    let export_vpcs = || {
        env.gm_json(
            &[
                "inventory",
                "export",
                "--format",
                "parquet",
                "--type",
                "ec2:vpc",
                "--to",
                &dest,
            ],
            0,
        )
    };
    let out = export_vpcs();
    assert_eq!(out["destination"], format!("{dest}/"));
    assert!(out["resources"].as_u64().unwrap() >= 1, "{out:#}");
    let xlsx = env.gm_json(
        &[
            "inventory",
            "export",
            "--format",
            "xlsx",
            "--to",
            &format!("s3://{bucket}/reports/inventory.xlsx"),
        ],
        0,
    );
    assert!(xlsx["resources"].as_u64().unwrap() >= 4);

    let today = chrono_today();
    let found = lake(&["read", &bucket, "inv"]);
    let keys: Vec<&str> = found["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|k| k.as_str())
        .collect();
    for want in [
        "inv/athena.sql".to_string(),
        "inv/resources/part-00000.parquet".into(),
        format!("inv/history/dt={today}/part-00000.parquet"),
        format!("inv/raw/dt={today}/scan={id}/records.json.gz"),
        "reports/inventory.xlsx".into(),
    ] {
        assert!(
            keys.contains(&want.as_str()),
            "{want} missing from {keys:?}"
        );
    }
    // The latest view: only VPCs (the export's filter), ours with its tags as a map.
    let resources = found["resources"].as_array().unwrap();
    assert!(resources.iter().all(|r| r["type"] == "ec2:vpc"));
    let ours = resources
        .iter()
        .find(|r| r["id"] == vpc.as_str())
        .unwrap_or_else(|| panic!("{vpc} not in {resources:?}"));
    assert_eq!(ours["region"], "us-east-1");
    assert!(
        ours["tags"].to_string().contains(&tag),
        "tags are a map with the seed's tag: {}",
        ours["tags"]
    );
    assert!(
        ours["seen_type"].as_str().unwrap().starts_with("TIMESTAMP"),
        "{ours}"
    );
    // The history, partitioned by day: the scan's additions of VPCs, nothing of other types.
    let history = found["history"].as_array().unwrap();
    assert!(
        history
            .iter()
            .any(|h| h["dt"] == today.as_str() && h["change"] == "added" && h["type"] == "ec2:vpc"),
        "{history:?}"
    );
    assert!(history.iter().all(|h| h["type"] == "ec2:vpc"));
    // The raw archive: every record the scan saw, with AWS's own metadata.
    let raw = found["raw"].as_array().unwrap();
    let ours = raw
        .iter()
        .find(|r| r["id"] == vpc.as_str())
        .unwrap_or_else(|| panic!("{vpc} not archived"));
    assert_eq!(ours["scan"], id);
    assert!(ours["raw"].to_string().contains(vpc.as_str()), "{ours}");
    for p in &seeded["ssm:parameter"] {
        assert!(
            raw.iter().any(|r| r["id"] == p.as_str()),
            "{p} not archived"
        );
    }

    // An export repeated replaces its files: the same keys, no second copy.
    export_vpcs();
    let again = lake(&["read", &bucket, "inv"]);
    assert_eq!(again["keys"], found["keys"]);

    // Bad destinations: a clear refusal before any work, or AWS's reason.
    let out = env.gm(&[
        "inventory",
        "export",
        "--format",
        "parquet",
        "--to",
        "s3://Bad_Bucket/x",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not an S3 bucket name"));
    let out = env.gm(&[
        "inventory",
        "export",
        "--format",
        "csv",
        "--to",
        &format!("s3://{bucket}"),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("names no object"));
    let out = env.gm(&[
        "inventory",
        "export",
        "--format",
        "parquet",
        "--to",
        "s3://no-such-bucket-here/x",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("NoSuchBucket"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Today in UTC, `YYYY-MM-DD` (the partition the scan's changes land in).
fn chrono_today() -> String {
    let out = std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn postgresql_connections_are_encrypted_and_verify_the_server_as_asked() {
    let env = Env::new();
    // `gm_tls` refuses plain connections (scripts/pg_launcher.py).
    let base = pg_database("gm_tls");
    let certs = postgres_certs();
    let with = |q: &str| format!("{base}?{q}");
    let stats = |url: &str| env.gm(&["inventory", "--store", url, "-o", "json", "stats"]);

    let plain = stats(&with("sslmode=disable"));
    assert_eq!(plain.status.code(), Some(1));
    let err = String::from_utf8_lossy(&plain.stderr);
    assert!(err.contains("no encryption"), "{err}");
    assert!(err.contains("sslmode"), "the hint names sslmode: {err}");

    // The default (prefer) and require encrypt without checking the certificate, as libpq does.
    for url in [base.clone(), with("sslmode=require")] {
        let out = stats(&url);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{url}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["total"], 0);
    }
    // verify-full with the server's CA: the chain and the name (127.0.0.1) check out.
    let ca = certs.join("ca.pem");
    let out = stats(&with(&format!(
        "sslmode=verify-full&sslrootcert={}",
        ca.display()
    )));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Another CA: refused, and said why.
    let other = certs.join("other-ca.pem");
    for mode in ["verify-full", "verify-ca", "require"] {
        let out = stats(&with(&format!(
            "sslmode={mode}&sslrootcert={}",
            other.display()
        )));
        assert_eq!(out.status.code(), Some(1), "{mode}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("UnknownIssuer"), "{mode}: {err}");
    }
}
