//! Every error code the CLI can print, in one table: `geusemaker explain CODE` reads it, and
//! `docs/errors.md` is generated from it (a test fails when either is out of date, or when the
//! source uses a code the table lacks).

use crate::error::ExitStatus;

/// One error code.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Code {
    /// `GM-AREA-NNN`; families end in `*` (`GM-AWS-*`: the rest is AWS's own code).
    pub code: &'static str,
    /// The exit code it comes with.
    pub exit: ExitStatus,
    /// What it means.
    pub meaning: &'static str,
    /// What to do about it.
    pub fix: &'static str,
}

const fn c(code: &'static str, exit: ExitStatus, meaning: &'static str, fix: &'static str) -> Code {
    Code {
        code,
        exit,
        meaning,
        fix,
    }
}

/// How a code made from AWS's own error code begins (`GM-AWS-Throttling`).
pub const AWS_PREFIX: &str = "GM-AWS-";

/// The table, by area.
pub const CODES: &[Code] = &[
    c("GM-AWS-*", ExitStatus::Failed, "An AWS call failed; the rest of the code is AWS's own error code (GM-AWS-UnauthorizedOperation, GM-AWS-InsufficientInstanceCapacity, …), and GM-AWS-ERROR when AWS sent none (the endpoint could not be reached).", "The message names the call; the hint depends on the kind of failure (credentials, capacity, not found, throttled, in use). `geusemaker explain GM-AWS-<code>` says which kind a code is."),
    c("GM-APPLY-*", ExitStatus::RolledBack, "An apply failed part-way; the rest of the code is the failed call's AWS code. Exit 5 when it rolled back what it had made, 1 when it was past the point of no return and left what it reports.", "Read the report (`-o json` has it whole): it lists what was done, undone and left. Fix the cause and apply again: the next run converges, it never duplicates."),
    c("GM-CLI-001", ExitStatus::Usage, "A change needs confirmation and standard input is not a terminal.", "Pass `--yes` in scripts and CI, after reviewing the plan (`geusemaker plan`)."),
    c("GM-CLI-002", ExitStatus::Aborted, "You answered no at the confirmation; nothing was changed.", "Nothing to do."),
    c("GM-CLI-003", ExitStatus::Usage, "`destroy` needs a deployment: a name or its spec.", "`geusemaker destroy NAME` or `geusemaker destroy -f spec.yaml`; `geusemaker list` shows the names."),
    c("GM-CLI-004", ExitStatus::Usage, "`cost` needs a tier, or `--compare-tiers`.", "`geusemaker cost --tier dev`, or `geusemaker cost --compare-tiers`."),
    c("GM-CLI-005", ExitStatus::Usage, "`deploy` needs a tier, from `--tier` or the stack file.", "Add `--tier dev|gpu|prod`, or `tier:` to the stack file."),
    c("GM-CLI-006", ExitStatus::Usage, "`explain` was given a code that does not exist.", "`geusemaker explain --all` lists every code."),
    c("GM-COST-001", ExitStatus::Aborted, "The deployment would cost more than `--budget` allows; nothing was deployed.", "Raise `--budget`, choose a smaller `--instance-type`, or fewer `--services`."),
    c("GM-COST-002", ExitStatus::Failed, "The refreshed price file could not be written.", "Check that the state directory is writable (`geusemaker state path`)."),
    c("GM-DESTROY-001", ExitStatus::Failed, "Destroy finished with resources still in AWS (the report lists them).", "Run destroy again: it picks up where it stopped. The deployment stays recorded until AWS confirms everything gone."),
    c("GM-HEAL-001", ExitStatus::Failed, "The deployment has no recorded spec to heal from.", "Apply its spec once with `geusemaker apply -f`; heal then uses the recorded copy."),
    c("GM-HEALTH-001", ExitStatus::Failed, "A stack service was not healthy within the timeout (`deploy --wait-healthy`).", "`geusemaker monitor NAME` shows the boot script's progress; raise `--timeout` for large models."),
    c("GM-INV-001", ExitStatus::Failed, "The inventory store could not be opened or written.", "Check that the state file is writable (`geusemaker state path`)."),
    c("GM-INV-003", ExitStatus::Failed, "No resource with that ARN or id is in the inventory.", "`geusemaker inventory list` shows what the last scan found; scan again if it is new."),
    c("GM-INV-004", ExitStatus::Usage, "An unknown resource type was named.", "`geusemaker inventory types` lists the types, as `service:kind`."),
    c("GM-INV-005", ExitStatus::Usage, "The listing cannot be sorted by that field.", "Sort by one of the fields `--help` lists."),
    c("GM-INV-006", ExitStatus::Failed, "An export could not be written to its destination.", "Check that the destination is writable (for S3: `s3:PutObject` on an existing bucket)."),
    c("GM-INV-007", ExitStatus::Usage, "An account id is not twelve digits.", "Write account ids as 12 digits, e.g. `123456789012`."),
    c("GM-INV-008", ExitStatus::Failed, "The PostgreSQL inventory store could not be reached.", "Check the URL (postgres://user:password@host:port/database), that the server is up and the database exists; for TLS add `?sslmode=require`."),
    c("GM-INV-009", ExitStatus::Usage, "An export destination is neither a local path nor an S3 URL, or names no object.", "Give a local path, or an S3 URL such as `s3://my-audit-bucket/inventory`."),
    c("GM-INV-010", ExitStatus::Failed, "There is no scan to archive, or the scan named is not the latest.", "Run `geusemaker inventory scan` first; only the latest scan can be archived whole."),
    c("GM-LOCK-001", ExitStatus::Locked, "Another run holds the deployment's lock (a lease in SSM), so this one changed nothing.", "Wait for it with `--lock-timeout SECONDS`. A dead run's lock lapses within 2 minutes, or remove it with `geusemaker state unlock NAME`."),
    c("GM-STOP-001", ExitStatus::RolledBack, "The run was interrupted (Ctrl-C): it stopped before its next step, once the calls in flight had answered. An apply undid what it had made (exit 5), or, past the point of no return, left what the report lists (exit 1); a destroy stopped with the rest still to remove (exit 1).", "Run the same command again when you are ready: it plans against what AWS has and converges, or finishes the destroy. A second Ctrl-C quits at once (exit 130); the next run then resumes from the journal."),
    c("GM-STOP-002", ExitStatus::Failed, "Another run broke this run's lock on the deployment (it took this run for dead), so this run stopped before its next step and left what it had made, undoing nothing: the run holding the lock plans against what AWS has, this run's work included.", "Let the run holding the lock finish; then `geusemaker plan` shows what is left. If runs break each other's locks, a clock is far off or a run stalled for over two minutes."),
    c("GM-SPEC-000", ExitStatus::Usage, "The spec is invalid (no more precise code applies).", "Read the message and hint at the file:line:column given."),
    c("GM-SPEC-001", ExitStatus::Usage, "The spec file could not be read, or is not a file.", "Check the path and its permissions."),
    c("GM-SPEC-002", ExitStatus::Usage, "The spec is not valid YAML.", "Fix the syntax at the position given (indentation, quoting, a missing `:`)."),
    c("GM-SPEC-003", ExitStatus::Usage, "The spec has a field GeuseMaker does not know (often a typo).", "Use the suggested field; `geusemaker schema` prints every field."),
    c("GM-SPEC-004", ExitStatus::Usage, "A field has a value outside its allowed set.", "Use one of the values the hint lists."),
    c("GM-SPEC-005", ExitStatus::Usage, "A required field is missing.", "Add the field the message names."),
    c("GM-SPEC-006", ExitStatus::Usage, "A field has the wrong type (a list where a map belongs, text where a number does).", "Write the value in the form the hint shows."),
    c("GM-SPEC-007", ExitStatus::Usage, "The spec is not UTF-8 text (UTF-16, binary, or a bad byte).", "Save it as UTF-8."),
    c("GM-SPEC-008", ExitStatus::Usage, "The spec file is larger than the limit for a spec.", "Split it, or move large user data into files it references."),
    c("GM-SPEC-010", ExitStatus::Usage, "The spec's `version` is not one this GeuseMaker reads.", "Write `version: 1`."),
    c("GM-SPEC-011", ExitStatus::Usage, "A deployment, group or security group name is not valid.", "Use lower-case letters, digits and `-` (1–63 characters for a deployment)."),
    c("GM-SPEC-012", ExitStatus::Usage, "`region` is not an AWS region name.", "Write it like `us-east-1`."),
    c("GM-SPEC-013", ExitStatus::Usage, "Two groups (or security groups) share a name.", "Give each its own name; use `count` for copies."),
    c("GM-SPEC-014", ExitStatus::Usage, "A security group's `vpc` is neither `default` nor a VPC id.", "Write `default` or `vpc-…`."),
    c("GM-SPEC-015", ExitStatus::Usage, "A rule's ports are missing, malformed or not allowed for its protocol.", "tcp/udp need `port` or `ports: FROM-TO`; icmp and `all` take none."),
    c("GM-SPEC-016", ExitStatus::Usage, "A rule's source is not one IPv4 CIDR or one source group.", "Write exactly one of `cidr: 203.0.113.0/24` or `source_group: NAME`."),
    c("GM-SPEC-017", ExitStatus::Usage, "A source group is neither a group of this spec nor an `sg-…` id.", "Name a group from `security_groups:`, or an existing `sg-…`."),
    c("GM-SPEC-020", ExitStatus::Usage, "A group's `count` is over 500.", "Split the group."),
    c("GM-SPEC-021", ExitStatus::Usage, "`type` is not an EC2 instance type.", "Write it like `t3.medium`."),
    c("GM-SPEC-022", ExitStatus::Usage, "`ami` is neither a known alias nor an AMI id.", "Use an alias the hint lists (al2023, ubuntu-24.04, …) or `ami-…`."),
    c("GM-SPEC-023", ExitStatus::Usage, "`subnet` is neither a subnet id nor a name from `network.subnets`.", "Write `subnet-…` or a subnet name of the spec's network, or leave it out."),
    c("GM-SPEC-024", ExitStatus::Usage, "A key pair name is empty or too long.", "Name an existing key pair (1–255 characters)."),
    c("GM-SPEC-025", ExitStatus::Usage, "An instance's security groups are unknown, repeated, or more than 5.", "List up to 5 groups, each once, defined in the spec or as `sg-…`."),
    c("GM-SPEC-026", ExitStatus::Usage, "`spot` options are set on an on-demand group.", "Set `market: spot`, or remove `spot:`."),
    c("GM-SPEC-027", ExitStatus::Usage, "`spot.max_price` is not a positive hourly price.", "Write USD per hour as text: `max_price: \"0.05\"`."),
    c("GM-SPEC-028", ExitStatus::Usage, "`iam_instance_profile` is empty.", "Name an instance profile, or leave it out."),
    c("GM-SPEC-030", ExitStatus::Usage, "A data volume's device name is not one EC2 accepts.", "Use `/dev/sdf` to `/dev/sdp`."),
    c("GM-SPEC-031", ExitStatus::Usage, "Two volumes of a group use the same device.", "Give each volume its own device."),
    c("GM-SPEC-032", ExitStatus::Usage, "A volume's size is outside its type's range.", "Use a size the message's range allows."),
    c("GM-SPEC-033", ExitStatus::Usage, "`kms_key` is set on an unencrypted volume.", "Add `encrypted: true`."),
    c("GM-SPEC-034", ExitStatus::Usage, "A volume's IOPS are missing, out of range, or not allowed for its type or size.", "Follow the range in the message; gp3 without `iops` gets 3000."),
    c("GM-SPEC-035", ExitStatus::Usage, "`throughput` is set on a type other than gp3, or out of range.", "gp3 only, 125–1000 MiB/s."),
    c("GM-SPEC-040", ExitStatus::Usage, "`user_data` needs exactly one of `file` or `inline`.", "Write `{file: path/to/script.sh}` or `{inline: \"…\"}`."),
    c("GM-SPEC-041", ExitStatus::Usage, "A user-data file cannot be read, or lies outside the spec's folder.", "Keep scripts beside the spec, or pass `--allow-user-data-outside`."),
    c("GM-SPEC-042", ExitStatus::Usage, "The user data (with the monitoring wrapper) is over EC2's 16 KiB.", "Download the bulk from the script, or set `monitor: false`."),
    c("GM-SPEC-050", ExitStatus::Usage, "Too many tags leave no room for GeuseMaker's own (AWS allows 50).", "Remove some tags."),
    c("GM-SPEC-051", ExitStatus::Usage, "A tag key or value is too long, or the key is reserved (`aws:`, `geusemaker:`, `Name`).", "Shorten it, or rename the key."),
    c("GM-SPEC-060", ExitStatus::Usage, "A secret's name is invalid or repeated.", "Use unique lower-case names with digits and `-`."),
    c("GM-SPEC-061", ExitStatus::Usage, "A secret's length is outside 16–256.", "Choose a length from 16 to 256."),
    c("GM-SPEC-062", ExitStatus::Usage, "A role's name is invalid or repeated.", "Use unique names of up to 32 lower-case letters, digits and `-`."),
    c("GM-SPEC-063", ExitStatus::Usage, "A managed policy is not an IAM policy ARN.", "Write it like `arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore`."),
    c("GM-SPEC-064", ExitStatus::Usage, "An instance names both `role` and `iam_instance_profile`, or a role not defined under `roles:`.", "Use one of the two; define the role under `roles:`."),
    c("GM-SPEC-070", ExitStatus::Usage, "The load balancer's target is not an instance group of the spec, or has `count: 0`.", "Name a group from `instances:` with at least one instance."),
    c("GM-SPEC-071", ExitStatus::Usage, "The load balancer's port or health-check path is not valid.", "A port from 1 to 65535 and a path such as `/healthz`."),
    c("GM-SPEC-072", ExitStatus::Usage, "`certificate_arn` is not an ACM certificate ARN.", "Paste the ARN of a certificate in the same region: `arn:aws:acm:REGION:ACCOUNT:certificate/ID`."),
    c("GM-SPEC-073", ExitStatus::Usage, "The load balancer's subnets are neither subnet ids nor names from `network.subnets`, or cover fewer than two zones.", "List subnets in two zones or more, or none for the network's public subnets (the default VPC's without a network)."),
    c("GM-SPEC-074", ExitStatus::Usage, "A CDN has no load balancer to front.", "Add `load_balancer:`, or remove `cdn:`."),
    c("GM-SPEC-080", ExitStatus::Usage, "`network.vpc` is neither a VPC id nor `{cidr: …}`.", "Write an existing VPC's id (`vpc-…`), or `{cidr: 10.40.0.0/16}` to create one."),
    c("GM-SPEC-081", ExitStatus::Usage, "A network has no subnets, or a subnet name is invalid or used twice.", "List at least one subnet, each with its own name of lower-case letters, digits and `-`."),
    c("GM-SPEC-082", ExitStatus::Usage, "A VPC or subnet block is not a /16–/28 IPv4 CIDR from its first address, lies outside the VPC's, or overlaps another subnet.", "Write blocks like `10.40.1.0/24`, inside the VPC's range and apart from each other."),
    c("GM-SPEC-083", ExitStatus::Usage, "A subnet's zone is not an availability zone of the spec's region.", "Write a zone like `us-east-1a`, or `auto`."),
    c("GM-SPEC-084", ExitStatus::Usage, "An instance group's `zone:` disagrees with its subnet, or no subnet of the network is in that zone.", "Leave out `zone:` or `subnet:`, or write the zone on the network's subnet."),
    c("GM-SPEC-085", ExitStatus::Usage, "`network.nat_gateway` is set, but the network has no public subnet to put it in or no private subnet for it to serve.", "Add the missing kind of subnet, or remove `nat_gateway`."),
    c("GM-STACK-001", ExitStatus::Usage, "The stack request cannot compile (an unknown service, a missing dependency, a type too small for the tier).", "See `geusemaker deploy --help` for tiers, services and instance types."),
    c("GM-STACK-002", ExitStatus::Usage, "AWS reports the chosen instance type lacks what the tier needs.", "Choose another `--instance-type`, or let the tier choose."),
    c("GM-STACK-003", ExitStatus::Usage, "The chosen instance type is not offered in the region.", "Choose another type or region."),
    c("GM-STACK-004", ExitStatus::Usage, "The stack file names an unknown tier or market.", "Use a tier (dev, gpu, prod) and a market (spot, on-demand)."),
    c("GM-STACK-005", ExitStatus::Usage, "The key pair does not exist in the region.", "Create or import it there, or pick one the message lists."),
    c("GM-STACK-006", ExitStatus::Usage, "The subnet does not exist in the region.", "Pass a subnet of that region (`geusemaker discover` lists them)."),
    c("GM-STACK-007", ExitStatus::Usage, "The chosen instance type is not offered in the subnet's zone.", "Choose another subnet or type."),
    c("GM-STACK-008", ExitStatus::Usage, "`--wait-healthy` was asked with a custom endpoint and no `--probe-host`: an emulator's instance addresses are invented.", "Pass `--probe-host 127.0.0.1` (services you run locally), or drop `--wait-healthy`."),
    c("GM-STATE-001", ExitStatus::Failed, "The state store failed (cannot open, write, or a newer schema).", "Follow the hint; `geusemaker state path` shows where the state lives."),
    c("GM-STATE-002", ExitStatus::Failed, "The state store knows no deployment of that name.", "`geusemaker list` shows the deployments this state store knows."),
    c("GM-UD-001", ExitStatus::Failed, "The user-data script failed on an instance (`apply --wait-user-data`).", "`geusemaker monitor NAME` shows its last lines and exit code."),
    c("GM-UD-002", ExitStatus::Failed, "A user-data script was still running when the timeout passed.", "Raise `--timeout`, or watch it with `geusemaker monitor NAME`."),
];

/// The entry for `code`: an exact match, or the family (`GM-AWS-…`, `GM-APPLY-…`) it is of.
pub fn find(code: &str) -> Option<&'static Code> {
    let upper = code.trim().to_ascii_uppercase();
    CODES.iter().find(|c| c.code == upper).or_else(|| {
        CODES.iter().find(|c| {
            c.code
                .strip_suffix('*')
                .is_some_and(|prefix| upper.starts_with(prefix) && upper.len() > prefix.len())
        })
    })
}

/// The code most like `code`, for a "did you mean" (the spec loader's typo matcher).
pub fn near(code: &str) -> Vec<&'static str> {
    let all: Vec<String> = CODES.iter().map(|c| c.code.to_string()).collect();
    gm_spec::closest(&code.trim().to_ascii_uppercase(), &all)
        .and_then(|c| CODES.iter().find(|e| e.code == c))
        .map(|e| e.code)
        .into_iter()
        .collect()
}

/// `docs/errors.md`.
pub fn markdown() -> String {
    let mut s = String::from(
        "# Error codes\n\n<!-- Generated from crates/geusemaker/src/codes.rs by its tests; \
         edit the table there. -->\n\nEvery error GeuseMaker prints has a stable code, \
         an exit code, a message and usually a hint. `geusemaker explain CODE` prints the \
         entry below; with `-o json` errors carry the code in `error.code`.\n\n\
         | code | exit | meaning | what to do |\n| --- | --- | --- | --- |\n",
    );
    for c in CODES {
        s.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            c.code,
            c.exit,
            c.meaning.replace('|', "\\|"),
            c.fix.replace('|', "\\|")
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_sorted_within_their_area() {
        let mut seen = std::collections::HashSet::new();
        for c in CODES {
            assert!(seen.insert(c.code), "{} twice", c.code);
            assert!(c.code.starts_with("GM-"), "{}", c.code);
            assert!(!c.meaning.is_empty() && !c.fix.is_empty(), "{}", c.code);
        }
    }

    #[test]
    fn every_code_the_source_uses_is_in_the_table() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut missing = std::collections::BTreeSet::new();
        let mut stack = vec![root];
        while let Some(dir) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for e in entries.flatten() {
                let p = e.path();
                if p.is_dir() {
                    // Integration tests name wrong codes on purpose.
                    if !p.ends_with("target") && !p.ends_with("tests") {
                        stack.push(p);
                    }
                    continue;
                }
                if p.extension().is_none_or(|x| x != "rs") || p.ends_with("codes.rs") {
                    continue;
                }
                let text = std::fs::read_to_string(&p).unwrap_or_default();
                for (i, _) in text.match_indices("\"GM-") {
                    let rest = &text[i + 1..];
                    let end = rest.find('"').unwrap_or(rest.len());
                    let code = &rest[..end];
                    let literal = code.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
                    if literal && code.len() > 6 && find(code).is_none() {
                        missing.insert(format!("{code} ({})", p.display()));
                    }
                }
            }
        }
        assert!(missing.is_empty(), "add to codes.rs: {missing:#?}");
    }

    #[test]
    fn aws_codes_are_found_by_family_and_typos_get_suggestions() {
        assert_eq!(
            find("GM-AWS-UnauthorizedOperation").map(|c| c.code),
            Some("GM-AWS-*")
        );
        assert_eq!(find("gm-lock-001").map(|c| c.code), Some("GM-LOCK-001"));
        assert!(find("GM-AWS-").is_none());
        assert!(find("GM-NOPE-1").is_none());
        assert!(near("GM-LOCK-01").contains(&"GM-LOCK-001"));
    }

    #[test]
    fn the_error_docs_are_generated_from_the_table() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/errors.md");
        let want = markdown();
        if std::env::var_os("GEUSEMAKER_BLESS").is_some() {
            std::fs::write(&path, &want).expect("write docs/errors.md");
        }
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            have == want,
            "docs/errors.md is out of date: run `GEUSEMAKER_BLESS=1 cargo test -p geusemaker --bin geusemaker codes`"
        );
    }
}
