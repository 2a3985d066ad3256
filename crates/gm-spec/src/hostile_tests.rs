//! Hostile specs: every one is refused (or loaded) without a crash, a hang or an unbounded
//! allocation, and every refusal says where — a line and column, or a byte offset.
//!
//! Specs will come through the server's API, so each of these is also a request someone could
//! send. The corpus is hand-written cases plus mechanical damage to a good spec.

use std::path::Path;

use crate::{load_str, load_str_with, text, FileAccess, LoadOptions, LoadedSpec, SpecError};

const GOOD: &str = r#"version: 1
deployment: web-demo
tags: {team: ml}
security_groups:
  - name: web
    ingress:
      - {protocol: tcp, port: 22, cidr: 203.0.113.0/24}
instances:
  - name: web
    count: 2
    type: t3.medium
    ami: al2023
    security_groups: [web]
    user_data: {inline: "echo hello"}
    volumes:
      - {device: /dev/sdf, size: 100, type: gp3, delete_on_termination: false}
"#;

/// Loads raw bytes the way `load` reads a file.
fn load_bytes(bytes: &[u8]) -> Result<LoadedSpec, SpecError> {
    let text = text::decode("spec.yaml", bytes)?;
    load_str("spec.yaml", &text, Path::new("."))
}

/// Asserts the outcome is a located refusal and returns its text.
fn located(name: &str, r: Result<LoadedSpec, SpecError>) -> String {
    match r {
        Ok(_) => panic!("{name}: loaded, but should be refused"),
        Err(SpecError::Invalid(d)) => {
            assert!(!d.problems.is_empty(), "{name}: no problem listed");
            for p in &d.problems {
                assert!(
                    p.pos.line >= 1 && p.pos.col >= 1,
                    "{name}: a problem without a position: {p:?}"
                );
                assert!(!p.message.is_empty(), "{name}: empty message");
            }
            d.to_string()
        }
        Err(e) => panic!("{name}: not a located problem: {e}"),
    }
}

/// A refusal with a located error, or a spec that loads: never a panic or a position-less error.
fn loads_or_located(name: &str, r: Result<LoadedSpec, SpecError>) {
    if r.is_err() {
        located(name, r);
    }
}

fn billion_laughs(levels: usize) -> String {
    let mut s = String::from("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..levels {
        let refs = vec![format!("*a{}", i - 1); 9].join(", ");
        s.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
    }
    s
}

/// The hand-written cases: (name, bytes, a phrase the error must contain).
fn corpus() -> Vec<(&'static str, Vec<u8>, &'static str)> {
    let good = GOOD.as_bytes();
    let with = |from: &str, to: &str| -> Vec<u8> {
        assert!(GOOD.contains(from), "test bug: {from}");
        GOOD.replacen(from, to, 1).into_bytes()
    };
    let mut c: Vec<(&'static str, Vec<u8>, &'static str)> = vec![
        (
            "billion laughs",
            billion_laughs(9).into_bytes(),
            "expands to more than",
        ),
        (
            "laughs inside a spec",
            format!("{}instances: *a8\n", billion_laughs(9)).into_bytes(),
            "expands to more than",
        ),
        (
            "quadratic aliases",
            {
                let mut s = String::from("x: &x [a, b, c, d, e, f, g, h, i, j]\n");
                for i in 0..20_000 {
                    s.push_str(&format!("k{i}: *x\n"));
                }
                s.into_bytes()
            },
            "expands to more than",
        ),
        (
            "deep flow lists",
            format!("version: {}{}", "[".repeat(100_000), "]".repeat(100_000)).into_bytes(),
            "nested more than",
        ),
        (
            "deep flow maps",
            format!("version: {}1{}", "{a: ".repeat(10_000), "}".repeat(10_000)).into_bytes(),
            "nested more than",
        ),
        (
            "deep block lists",
            format!("{}x\n", "- ".repeat(500)).into_bytes(),
            "nested more than",
        ),
        ("unknown anchor", with("ami: al2023", "ami: *nowhere"), ""),
        ("self-referencing anchor", b"a: &x [*x]\n".to_vec(), ""),
        (
            "utf-16 le",
            {
                let mut b = vec![0xFF, 0xFE];
                b.extend(GOOD.encode_utf16().flat_map(|u| u.to_le_bytes()));
                b
            },
            "UTF-16",
        ),
        (
            "utf-16 be",
            {
                let mut b = vec![0xFE, 0xFF];
                b.extend(GOOD.encode_utf16().flat_map(|u| u.to_be_bytes()));
                b
            },
            "UTF-16",
        ),
        (
            "utf-16 without a bom",
            GOOD.encode_utf16().flat_map(|u| u.to_le_bytes()).collect(),
            "binary",
        ),
        (
            "latin-1",
            with("team: ml", "team: caf\u{e9}")
                .iter()
                .flat_map(|b| match *b {
                    0xC3 => None,
                    0xA9 => Some(0xE9),
                    x => Some(x),
                })
                .collect(),
            "not UTF-8",
        ),
        (
            "windows-1252 quotes",
            {
                let mut b = with("echo hello", "echo XhelloY");
                for x in b.iter_mut() {
                    if *x == b'X' {
                        *x = 0x93;
                    } else if *x == b'Y' {
                        *x = 0x94;
                    }
                }
                b
            },
            "not UTF-8",
        ),
        ("a lone nul", vec![0], "binary"),
        (
            "nul in the middle",
            with("count: 2", "count: 2\0"),
            "binary",
        ),
        (
            "random bytes",
            {
                // A fixed xorshift sequence: the same "binary file" every run.
                let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
                (0..4096)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        (x >> 24) as u8
                    })
                    .collect()
            },
            "",
        ),
        (
            "over the size limit",
            {
                let mut b = good.to_vec();
                b.extend(std::iter::repeat_n(b'#', text::MAX_SPEC_BYTES));
                b
            },
            "larger than",
        ),
        (
            "one huge line",
            with("team: ml", &format!("team: {}", "x".repeat(600_000))),
            "",
        ),
        ("empty", Vec::new(), "empty"),
        ("whitespace only", b"   \n\n\t\n".to_vec(), ""),
        ("comments only", b"# nothing\n# here\n".to_vec(), "empty"),
        ("bom only", vec![0xEF, 0xBB, 0xBF], "empty"),
        (
            "bom and an unknown field",
            {
                let mut b = vec![0xEF, 0xBB, 0xBF];
                b.extend(GOOD.replacen("count", "cuont", 1).bytes());
                b
            },
            "unknown field `cuont`",
        ),
        (
            "two documents",
            format!("{GOOD}---\n{GOOD}").into_bytes(),
            "more than one YAML document",
        ),
        ("tab indentation", with("    count: 2", "\tcount: 2"), ""),
        ("unclosed quote", with("\"echo hello\"", "\"echo hello"), ""),
        ("unclosed list", with("[web]", "[web"), ""),
        ("unclosed map", with("{team: ml}", "{team: ml"), ""),
        (
            "map as a key",
            with("deployment: web-demo", "? {a: 1}\n: web-demo"),
            "map key",
        ),
        (
            "list as a key",
            with("deployment: web-demo", "? [a]\n: web-demo"),
            "map key",
        ),
        (
            "duplicate key",
            with("version: 1\n", "version: 1\nversion: 1\n"),
            "duplicate key",
        ),
        (
            "huge count",
            with("count: 2", "count: 99999999999999999999999"),
            "",
        ),
        ("negative count", with("count: 2", "count: -1"), ""),
        ("infinite count", with("count: 2", "count: .inf"), ""),
        ("float count", with("count: 2", "count: 1.5"), ""),
        (
            "count past the limit",
            with("count: 2", "count: 100000"),
            "",
        ),
        ("count as text", with("count: 2", "count: \"2\""), ""),
        (
            "very long deployment name",
            with(
                "deployment: web-demo",
                &format!("deployment: {}", "d".repeat(10_000)),
            ),
            "",
        ),
        (
            "control characters in a name",
            with("deployment: web-demo", "deployment: \"web\\u0007demo\""),
            "",
        ),
        (
            "nul escape in a tag",
            with("team: ml", "team: \"m\\0l\""),
            "",
        ),
        (
            "right-to-left override",
            with("deployment: web-demo", "deployment: \"web\u{202e}demo\""),
            "",
        ),
        (
            "emoji in a group name",
            with(
                "  - name: web\n    ingress",
                "  - name: w\u{1f600}b\n    ingress",
            ),
            "",
        ),
        (
            "binary tag",
            with("ami: al2023", "ami: !!binary aGVsbG8="),
            "",
        ),
        (
            "custom tag",
            with("ami: al2023", "ami: !shell rm -rf /"),
            "",
        ),
        ("version as text", with("version: 1", "version: \"1\""), ""),
        ("version 2", with("version: 1", "version: 2"), ""),
        ("root is a list", b"- version: 1\n".to_vec(), ""),
        ("root is a scalar", b"hello\n".to_vec(), ""),
        ("root is null", b"~\n".to_vec(), ""),
        ("cr line endings", GOOD.replace('\n', "\r").into_bytes(), ""),
        (
            "yaml 1.1 directive",
            format!(
                "%YAML 1.1\n---\n{}",
                GOOD.replace("version: 1", "version: 2")
            )
            .into_bytes(),
            "",
        ),
        (
            "unknown directive",
            format!(
                "%FOO bar\n---\n{}",
                GOOD.replace("version: 1", "version: 2")
            )
            .into_bytes(),
            "",
        ),
        (
            "merge key",
            with("tags: {team: ml}", "base: &b {team: ml}\ntags: {<<: *b}"),
            "",
        ),
        ("port out of range", with("port: 22", "port: 65536"), ""),
        ("port range reversed", with("port: 22", "ports: 443-80"), ""),
        ("bad cidr", with("203.0.113.0/24", "999.0.0.0/8"), ""),
        (
            "cidr without a prefix",
            with("203.0.113.0/24", "203.0.113.0"),
            "",
        ),
        ("ipv6 nonsense", with("203.0.113.0/24", "::::/200"), ""),
        ("volume size zero", with("size: 100", "size: 0"), ""),
        (
            "volume size huge",
            with("size: 100", "size: 4294967296"),
            "",
        ),
        (
            "device outside /dev",
            with("/dev/sdf", "../../etc/passwd"),
            "",
        ),
        (
            "user data file and inline",
            with("{inline: \"echo hello\"}", "{inline: x, file: y}"),
            "",
        ),
        (
            "user data file outside",
            with("{inline: \"echo hello\"}", "{file: ../../etc/passwd}"),
            "user-data file",
        ),
        (
            "user data absolute path",
            with("{inline: \"echo hello\"}", "{file: /etc/passwd}"),
            "user-data file",
        ),
        (
            "user data is /dev/zero",
            with("{inline: \"echo hello\"}", "{file: /dev/zero}"),
            "user-data file",
        ),
        (
            "user data over the limit",
            with("echo hello", &"e".repeat(20_000)),
            "EC2 allows",
        ),
        (
            "empty instances list",
            with("instances:\n", "instances: []\nx:\n"),
            "",
        ),
        (
            "instances is a map",
            with(
                "instances:\n  - name: web",
                "instances:\n  a:\n    name: web",
            ),
            "",
        ),
        (
            "sixty tags",
            with(
                "tags: {team: ml}",
                &format!(
                    "tags: {{{}}}",
                    (0..60)
                        .map(|i| format!("k{i}: v"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ),
            "",
        ),
        (
            "tag key too long",
            with("team: ml", &format!("{}: ml", "k".repeat(200))),
            "",
        ),
        ("reserved tag", with("team: ml", "\"aws:x\": ml"), ""),
        (
            "unknown top-level key",
            with("version: 1", "version: 1\nbogus: true"),
            "unknown field",
        ),
        (
            "null where a map is wanted",
            with("tags: {team: ml}", "tags: ~"),
            "",
        ),
        (
            "list where a string is wanted",
            with("ami: al2023", "ami: [a, b]"),
            "",
        ),
        (
            "map where a number is wanted",
            with("count: 2", "count: {a: 1}"),
            "",
        ),
        (
            "deeply nested tags within limits",
            with(
                "tags: {team: ml}",
                &format!("tags: {}1{}", "{a: ".repeat(30), "}".repeat(30)),
            ),
            "",
        ),
        (
            "many groups",
            {
                let mut s = GOOD.replace("security_groups:\n  - name: web\n", "security_groups:\n");
                s = s.replace(
                    "    ingress:\n      - {protocol: tcp, port: 22, cidr: 203.0.113.0/24}\n",
                    &(0..3000)
                        .map(|i| format!("  - {{name: g{i}}}\n"))
                        .collect::<String>(),
                );
                s.into_bytes()
            },
            "",
        ),
        (
            "truncated in a flow map",
            good[..good.len() - 30].to_vec(),
            "",
        ),
    ];
    // Mechanical damage to the good spec: cut it at every 29th byte, and overwrite every 23rd
    // byte with a byte that is not valid there.
    for cut in (1..good.len()).step_by(29) {
        c.push(("truncated", good[..cut].to_vec(), ""));
    }
    for (n, at) in (0..good.len()).step_by(23).enumerate() {
        let mut b = good.to_vec();
        b[at] = [b':', b'{', b'[', b'&', b'*', b'\'', b'"', 0xFF][n % 8];
        c.push(("damaged", b, ""));
    }
    c
}

#[test]
fn the_hostile_corpus_is_refused_with_positions_and_never_crashes() {
    let corpus = corpus();
    assert!(corpus.len() >= 80, "the corpus has {} cases", corpus.len());
    let mut refused = 0;
    for (name, bytes, phrase) in &corpus {
        let r = load_bytes(bytes);
        let good_damage = matches!(*name, "truncated" | "damaged");
        if good_damage || phrase.is_empty() {
            if r.is_err() {
                refused += 1;
            }
            loads_or_located(name, r);
        } else {
            let e = located(name, r);
            refused += 1;
            assert!(e.contains(phrase), "{name}: expected `{phrase}` in:\n{e}");
        }
    }
    // Nearly all must be refused; the few that load are damage the spec shrugs off (a comment).
    assert!(
        refused * 10 >= corpus.len() * 8,
        "{refused} of {}",
        corpus.len()
    );
}

#[test]
fn user_data_files_stay_in_the_spec_folder() {
    let root = tempfile::tempdir().unwrap();
    let specs = root.path().join("specs");
    std::fs::create_dir_all(specs.join("scripts")).unwrap();
    std::fs::write(specs.join("scripts/boot.sh"), "echo inside\n").unwrap();
    std::fs::write(root.path().join("secret.sh"), "echo outside\n").unwrap();
    let spec = |file: &str| GOOD.replace("{inline: \"echo hello\"}", &format!("{{file: {file}}}"));
    let inside = load_str("spec.yaml", &spec("scripts/boot.sh"), &specs).unwrap();
    assert!(inside.user_data[0]
        .as_deref()
        .unwrap()
        .contains("echo inside"));
    // `./` and a `..` that comes back inside are fine.
    load_str("spec.yaml", &spec("./scripts/../scripts/boot.sh"), &specs).unwrap();

    for outside in ["../secret.sh", "scripts/../../secret.sh", "/etc/passwd"] {
        let e = located(outside, load_str("spec.yaml", &spec(outside), &specs));
        assert!(e.contains("outside the spec's folder"), "{outside}: {e}");
        assert!(e.contains("--allow-user-data-outside"), "{e}");
    }
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(root.path().join("secret.sh"), specs.join("link.sh")).unwrap();
        let e = located("symlink", load_str("spec.yaml", &spec("link.sh"), &specs));
        assert!(e.contains("outside the spec's folder"), "{e}");
    }
    // The CLI's explicit permission reads it; the server's specs read no file at all.
    let anywhere = LoadOptions {
        files: FileAccess::Anywhere,
    };
    let ok = load_str_with("spec.yaml", &spec("../secret.sh"), &specs, anywhere).unwrap();
    assert!(ok.user_data[0].as_deref().unwrap().contains("echo outside"));
    let inline = LoadOptions {
        files: FileAccess::Inline,
    };
    let e = located(
        "inline only",
        load_str_with("spec.yaml", &spec("scripts/boot.sh"), &specs, inline),
    );
    assert!(e.contains("must carry its user data inline"), "{e}");
}
