//! The guided deploy, driven through a pseudo-terminal as a person would answer it.

use crate::support::*;

fn drive(env: &Env, args: &[&str], answers: &[&str]) -> (i32, String) {
    let mut cmd = vec![env!("CARGO_BIN_EXE_geusemaker").to_string()];
    cmd.extend(args.iter().map(|s| s.to_string()));
    let out = std::process::Command::new("python3")
        .arg(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/support/pty_drive.py"))
        .arg(serde_json::to_string(&cmd).unwrap())
        .arg(serde_json::to_string(answers).unwrap())
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_ENDPOINT_URL", &env.endpoint)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("GEUSEMAKER_STATE", env.state())
        .env_remove("AWS_REGION")
        .output()
        .expect("python3 runs the pty driver");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (
        v["code"].as_i64().unwrap_or(-1) as i32,
        v["output"].as_str().unwrap_or("").to_string(),
    )
}

#[test]
fn answering_every_prompt_deploys_what_was_chosen() {
    let env = Env::new();
    let d = name("guided");
    // region, tier, name, services, subnet, key pair, market, then the final confirmation.
    let (code, out) = drive(
        &env,
        &["deploy", "--interactive"],
        &["", "2", &d, "", "", "", "on-demand", "y"],
    );
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("automation") && out.contains("n8n + PostgreSQL"),
        "the tiers are explained: {out}"
    );
    assert!(
        out.contains("Estimated cost"),
        "the cost is shown before confirming: {out}"
    );
    let instances = live_instances(&d);
    assert_eq!(instances.len(), 1, "{out}");
    assert_eq!(instances[0].instance_type().unwrap().as_str(), "t3.medium");
    assert_eq!(
        instances[0].instance_lifecycle(),
        None,
        "on-demand as answered"
    );
    let _ = env.gm_json(&["destroy", &d, "--yes"], 0);
}

#[test]
fn quitting_at_any_prompt_creates_nothing() {
    let env = Env::new();
    let d = name("quit");
    let (code, out) = drive(&env, &["deploy", "--interactive"], &["", "1", &d, "q"]);
    assert_eq!(code, 4, "{out}");
    assert!(out.contains("aborted; nothing was created"), "{out}");
    assert!(live_instances(&d).is_empty());
    // Declining the final confirmation is the same.
    let (code, out) = drive(
        &env,
        &["deploy", "--interactive"],
        &["", "1", &d, "", "", "", "", "n"],
    );
    assert_eq!(code, 4, "{out}");
    assert!(live_instances(&d).is_empty());
}
