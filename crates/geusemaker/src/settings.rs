//! The global options and the environment, resolved once at start-up into what the commands
//! use: where the state, the audit log and refreshed prices live, how to reach AWS (region by
//! its documented precedence, profile, endpoint), which user-data files a spec may read, how
//! long to wait for a lock, and the engine options of a changing command.

use std::path::PathBuf;
use std::time::Duration;

use gm_cloud::CloudOptions;
use gm_engine::EngineOptions;
use gm_spec::{FileAccess, LoadedSpec};

use crate::cli::Global;

/// What the global options and the environment decide.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// The state database: --state, GEUSEMAKER_STATE, or the user's data folder.
    pub state: PathBuf,
    /// The audit log, beside the state (`STATE.audit.jsonl`).
    pub audit: PathBuf,
    /// Prices refreshed from the AWS Pricing API, beside the state.
    pub prices: PathBuf,
    /// The region chosen outside any file: --region (GEUSEMAKER_REGION), AWS_REGION,
    /// AWS_DEFAULT_REGION.
    region: Option<String>,
    /// --profile (GEUSEMAKER_PROFILE).
    profile: Option<String>,
    /// --endpoint-url (GEUSEMAKER_ENDPOINT_URL); AWS_ENDPOINT_URL is read by the SDK.
    endpoint_url: Option<String>,
    /// Which files a spec's `user_data.file` may name.
    pub files: FileAccess,
    /// How long a changing command waits for another run's lock.
    pub lock_wait: Duration,
}

impl Settings {
    /// Resolves `global` with the process environment.
    pub fn resolve(global: &Global) -> Settings {
        Settings::resolve_with(global, |k| std::env::var(k).ok(), dirs::data_dir())
    }

    /// Resolves `global` with `env` for environment variables and `data_dir` for the user's
    /// data folder (tests pass their own).
    pub fn resolve_with(
        global: &Global,
        env: impl Fn(&str) -> Option<String>,
        data_dir: Option<PathBuf>,
    ) -> Settings {
        let state = global.state.clone().unwrap_or_else(|| {
            data_dir
                .unwrap_or_else(|| PathBuf::from("."))
                .join("geusemaker")
                .join("state.db")
        });
        let stem = state
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("state")
            .to_string();
        Settings {
            audit: state.with_file_name(format!("{stem}.audit.jsonl")),
            prices: state.with_file_name("prices.json"),
            state,
            region: global.region.clone().or_else(|| {
                ["AWS_REGION", "AWS_DEFAULT_REGION"]
                    .iter()
                    .find_map(|k| env(k).filter(|v| !v.is_empty()))
            }),
            profile: global.profile.clone(),
            endpoint_url: global.endpoint_url.clone(),
            files: if global.allow_user_data_outside {
                FileAccess::Anywhere
            } else {
                FileAccess::SpecFolder
            },
            lock_wait: Duration::from_secs(global.lock_timeout),
        }
    }

    /// The region, by the documented precedence: --region (or GEUSEMAKER_REGION), AWS_REGION,
    /// AWS_DEFAULT_REGION, the spec's or stack file's `region:`, then us-east-1.
    pub fn region(&self, from_file: Option<&str>) -> String {
        self.region
            .clone()
            .or_else(|| from_file.map(str::to_string))
            .unwrap_or_else(|| gm_cloud::DEFAULT_REGION.to_string())
    }

    /// How to reach AWS in `region` (else the region by precedence, with the spec's), with the
    /// profile of the flag or else the spec's.
    pub fn cloud_options(&self, region: Option<String>, spec: Option<&LoadedSpec>) -> CloudOptions {
        CloudOptions {
            region: Some(
                region.unwrap_or_else(|| self.region(spec.and_then(|s| s.spec.region.as_deref()))),
            ),
            profile: self
                .profile
                .clone()
                .or_else(|| spec.and_then(|s| s.spec.profile.clone())),
            endpoint_url: self.endpoint_url.clone(),
            max_attempts: None,
        }
    }

    /// The engine options of a changing command that waits up to `timeout_secs` for AWS.
    pub fn engine_options(&self, timeout_secs: u64) -> EngineOptions {
        EngineOptions {
            timeout: Duration::from_secs(timeout_secs),
            ..EngineOptions::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::Cli;

    fn settings(args: &[&str], env: &[(&str, &str)]) -> Settings {
        let cli = Cli::try_parse_from(["geusemaker"].iter().chain(args).chain(&["list"]))
            .expect("valid arguments");
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::resolve_with(
            &cli.global,
            |k| env.iter().find(|(e, _)| e == k).map(|(_, v)| v.clone()),
            Some(PathBuf::from("/home/u/.local/share")),
        )
    }

    #[test]
    fn the_region_goes_flag_then_environment_then_file_then_default() {
        let env = [
            ("AWS_REGION", "eu-west-1"),
            ("AWS_DEFAULT_REGION", "eu-north-1"),
        ];
        assert_eq!(
            settings(&["--region", "ap-south-1"], &env).region(Some("us-west-2")),
            "ap-south-1"
        );
        assert_eq!(settings(&[], &env).region(Some("us-west-2")), "eu-west-1");
        assert_eq!(
            settings(
                &[],
                &[("AWS_REGION", ""), ("AWS_DEFAULT_REGION", "eu-north-1")]
            )
            .region(None),
            "eu-north-1"
        );
        assert_eq!(settings(&[], &[]).region(Some("us-west-2")), "us-west-2");
        assert_eq!(settings(&[], &[]).region(None), gm_cloud::DEFAULT_REGION);
    }

    #[test]
    fn the_audit_log_and_prices_sit_beside_the_state() {
        let s = settings(&["--state", "/srv/gm/team.db"], &[]);
        assert_eq!(s.audit, PathBuf::from("/srv/gm/team.audit.jsonl"));
        assert_eq!(s.prices, PathBuf::from("/srv/gm/prices.json"));
        let d = settings(&[], &[]);
        assert_eq!(
            d.state,
            PathBuf::from("/home/u/.local/share/geusemaker/state.db")
        );
    }

    #[test]
    fn the_flags_profile_beats_the_specs_and_files_stay_in_the_spec_folder() {
        let s = settings(&["--profile", "ops", "--lock-timeout", "30"], &[]);
        let o = s.cloud_options(Some("us-east-2".into()), None);
        assert_eq!(o.profile.as_deref(), Some("ops"));
        assert_eq!(o.region.as_deref(), Some("us-east-2"));
        assert_eq!(s.lock_wait, Duration::from_secs(30));
        assert_eq!(s.files, FileAccess::SpecFolder);
        let anywhere = settings(&["--allow-user-data-outside"], &[]);
        assert_eq!(anywhere.files, FileAccess::Anywhere);
    }
}
