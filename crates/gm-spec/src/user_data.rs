//! The user-data wrapper: runs the user's script and reports its progress on the EC2 console,
//! where `monitor` reads it back with `GetConsoleOutput` (no SSH needed).
//!
//! Markers are single lines starting with `GEUSEMAKER-UD `:
//! `start`, `step-start name=…`, `step-ok name=…`, `step-fail name=… rc=…`, `log …`, `exit rc=…`.
//! Scripts may call `gm_step NAME CMD…` to report named steps; it is exported into their shell.
//! A step runs in a subshell (so `set -e` works inside it): variables it sets stay there.

use sha2::{Digest, Sha256};

/// EC2's limit on user data, before base64 encoding.
pub const USER_DATA_LIMIT: usize = 16 * 1024;

/// The prefix of every marker line.
pub const MARKER: &str = "GEUSEMAKER-UD";

/// Wraps `script` for monitoring, unless it is not a shell script (cloud-init directives, MIME).
pub fn wrap(script: &str) -> String {
    if !is_shell(script) {
        return script.to_string();
    }
    let mut delim = String::from("GEUSEMAKER_USER_SCRIPT");
    while script.lines().any(|l| l.trim() == delim) {
        delim.push('_');
    }
    let interpreter = if script.starts_with("#!") {
        ""
    } else {
        "/bin/bash "
    };
    format!(
        r#"#!/bin/bash
# shellcheck disable=SC2329  # gm_step and gm_console are exported for the user's script
# GeuseMaker user-data wrapper: runs the script below and reports progress on the console.
gm_console() {{ printf '{MARKER} %s\n' "$*" >> /dev/console 2>/dev/null || true; }}
# A step runs in the background and is waited for, so `set -e` inside it still stops it at
# the first failing command (it would be ignored in an `if` or `||` context).
gm_step() {{
  local name="$1" rc=0
  shift
  gm_console "step-start name=$name"
  "$@" &
  wait "$!" || rc=$?
  if [ "$rc" -eq 0 ]; then
    gm_console "step-ok name=$name"
  else
    gm_console "step-fail name=$name rc=$rc"
  fi
  return "$rc"
}}
export -f gm_console gm_step
mkdir -p /var/lib/geusemaker
gm_console "start ts=$(date +%s)"
cat > /var/lib/geusemaker/user-script <<'{delim}'
{script}
{delim}
chmod 700 /var/lib/geusemaker/user-script
{interpreter}/var/lib/geusemaker/user-script 2>&1 | while IFS= read -r line; do
  printf '%s\n' "$line" >> /var/log/geusemaker-user-data.log
  gm_console "log $line"
done
rc=${{PIPESTATUS[0]}}
gm_console "exit rc=$rc ts=$(date +%s)"
exit "$rc"
"#,
        script = script.trim_end_matches('\n'),
    )
}

/// True for scripts run by a shell; cloud-init directives and MIME archives are passed as is.
fn is_shell(script: &str) -> bool {
    let first = script.lines().next().unwrap_or("").trim();
    !(first.starts_with("#cloud-config")
        || first.starts_with("#include")
        || first.starts_with("#cloud-boothook")
        || first.starts_with("Content-Type:")
        || first.starts_with("MIME-Version:"))
}

/// Short content hash recorded as a tag, so a changed script is seen without reading it back.
pub fn digest(final_user_data: &str) -> String {
    let h = Sha256::digest(final_user_data.as_bytes());
    hex::encode(&h[..8])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapper_embeds_the_script_and_reports_exit() {
        let w = wrap("#!/bin/bash\necho hi\n");
        assert!(w.contains("echo hi"));
        assert!(w.contains("exit rc=$rc"));
        assert!(w.starts_with("#!/bin/bash"));
    }

    #[test]
    fn heredoc_delimiter_never_collides_with_the_script() {
        let w = wrap("echo a\nGEUSEMAKER_USER_SCRIPT\necho b\n");
        assert!(w.contains("<<'GEUSEMAKER_USER_SCRIPT_'"));
    }

    #[test]
    fn cloud_config_is_passed_through() {
        let s = "#cloud-config\npackages: [git]\n";
        assert_eq!(wrap(s), s);
    }

    #[test]
    fn digest_changes_with_content() {
        assert_ne!(digest("a"), digest("b"));
        assert_eq!(digest("a").len(), 16);
    }
}
