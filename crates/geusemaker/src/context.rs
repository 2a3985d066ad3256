//! Turning global options into the parts commands use: spec, state store, AWS connection, engine.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use gm_cloud::{Cloud, CloudOptions};
use gm_engine::{Engine, EngineOptions, JsonlAudit, Stop, StopReason};
use gm_plan::Desired;
use gm_spec::LoadedSpec;
use gm_state::Store;

use crate::cli::Global;
use crate::error::{CliError, ExitStatus};
use crate::output::Out;
use crate::settings::Settings;

/// What every command gets.
pub struct Ctx<'a> {
    /// Global options.
    pub global: &'a Global,
    /// The global options and the environment, resolved once.
    pub settings: Settings,
    /// Output settings.
    pub out: Out,
}

impl Ctx<'_> {
    /// The state database path: --state, GEUSEMAKER_STATE, or the user's data folder.
    pub fn state_path(&self) -> PathBuf {
        self.settings.state.clone()
    }

    /// The audit log, beside the state database.
    pub fn audit_path(&self) -> PathBuf {
        self.settings.audit.clone()
    }

    /// Where prices refreshed from the AWS Pricing API are kept, beside the state.
    pub fn prices_path(&self) -> PathBuf {
        self.settings.prices.clone()
    }

    /// Opens the state store.
    pub fn store(&self) -> Result<Store, CliError> {
        Ok(Store::open(&self.state_path())?)
    }

    /// A deployment the state store knows, or an error that says how to find the right name.
    pub fn deployment(
        &self,
        store: &Store,
        name: &str,
    ) -> Result<gm_state::DeploymentRecord, CliError> {
        store.deployment(name)?.ok_or_else(|| {
            CliError::new(
                "GM-STATE-002",
                format!("no deployment `{name}` in {}", self.state_path().display()),
                ExitStatus::Failed,
            )
            .hint("`geusemaker list` shows the deployments this state store knows")
        })
    }

    /// Loads and validates a spec, and derives what it wants.
    pub fn spec(&self, path: &Path) -> Result<(LoadedSpec, Desired), CliError> {
        let files = self.settings.files;
        let loaded = gm_spec::load_with(path, gm_spec::LoadOptions { files })?;
        let desired = gm_plan::desire(&loaded);
        Ok((loaded, desired))
    }

    /// Connects to AWS. Region: flag, AWS_REGION, the spec, then us-east-1. Profile: flag, the
    /// spec, then the SDK's default chain.
    pub async fn cloud(&self, spec: Option<&LoadedSpec>) -> Cloud {
        Cloud::connect(&self.cloud_options(None, spec)).await
    }

    /// Connects to AWS in `region` (when a command knows the region from elsewhere: the state
    /// store, a stack file, a list of regions).
    pub async fn cloud_in(&self, region: &str) -> Cloud {
        Cloud::connect(&self.cloud_options(Some(region.to_string()), None)).await
    }

    /// An engine for `deployment` in `region`.
    pub async fn engine_in(
        &self,
        deployment: &str,
        region: &str,
        opts: EngineOptions,
    ) -> Result<Engine, CliError> {
        let store = self.store()?;
        let cloud = self
            .cloud_in(region)
            .await
            .with_audit(deployment, Arc::new(JsonlAudit::new(&self.audit_path())));
        Ok(trapped(Engine::new(cloud, store, opts)))
    }

    /// The region, by the documented precedence (see [`Settings::region`]).
    pub fn region(&self, from_file: Option<&str>) -> String {
        self.settings.region(from_file)
    }

    /// True when AWS calls go to an endpoint of the user's choosing: see
    /// [`CloudOptions::endpoint_overridden`].
    pub fn endpoint_overridden(&self) -> bool {
        self.cloud_options(None, None).endpoint_overridden()
    }

    /// Connection options for `region` (profile and endpoint from the flags).
    pub fn cloud_options_in(&self, region: &str) -> CloudOptions {
        self.cloud_options(Some(region.to_string()), None)
    }

    fn cloud_options(&self, region: Option<String>, spec: Option<&LoadedSpec>) -> CloudOptions {
        self.settings.cloud_options(region, spec)
    }

    /// An engine for `deployment`, recording mutating calls in the audit log.
    pub async fn engine(
        &self,
        deployment: &str,
        spec: Option<&LoadedSpec>,
        opts: EngineOptions,
    ) -> Result<Engine, CliError> {
        let store = self.store()?;
        let cloud = self
            .cloud(spec)
            .await
            .with_audit(deployment, Arc::new(JsonlAudit::new(&self.audit_path())));
        Ok(trapped(Engine::new(cloud, store, opts)))
    }
}

/// The stop switches of this process's engines, for the Ctrl-C handler.
static TRAPPED: std::sync::Mutex<Vec<Stop>> = std::sync::Mutex::new(Vec::new());

/// `engine`, its stop switch pulled by Ctrl-C. The first Ctrl-C while a run changes AWS asks it
/// to stop at its next step and undo what it made (the calls in flight finish and are
/// journaled; see `gm_engine::Stop`); a second one, or one while nothing is being changed (a
/// plan, a confirmation prompt), exits at once with 130, as a shell expects. A run killed that
/// way is resumed by the next apply from its journal.
fn trapped(engine: Engine) -> Engine {
    let mut stops = TRAPPED.lock().unwrap_or_else(|p| p.into_inner());
    if stops.is_empty() {
        tokio::spawn(async {
            let mut asked = false;
            while tokio::signal::ctrl_c().await.is_ok() {
                let changing: Vec<Stop> = TRAPPED
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .iter()
                    .filter(|s| s.is_changing())
                    .cloned()
                    .collect();
                if asked || changing.is_empty() {
                    eprintln!("\ninterrupted");
                    std::process::exit(i32::from(ExitStatus::Interrupted.code()));
                }
                asked = true;
                for s in changing {
                    s.request(StopReason::Interrupted);
                }
                eprintln!(
                    "\ninterrupt: stopping once the AWS calls in flight have answered, then \
                     undoing this run's changes. Press Ctrl-C again to quit at once (the next \
                     apply resumes from the journal)."
                );
            }
        });
    }
    stops.push(engine.stop());
    engine
}

/// Asks before a change. With `token`, the user must type it (e.g. the deployment name).
pub fn confirm(question: &str, yes: bool, token: Option<&str>) -> Result<(), CliError> {
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(CliError::new(
            "GM-CLI-001",
            "refusing to make changes without confirmation: stdin is not a terminal",
            ExitStatus::Usage,
        )
        .hint("review the plan, then run again with --yes"));
    }
    match token {
        Some(t) => eprint!("{question}\n  Type `{t}` to confirm: "),
        None => eprint!("{question} [y/N] "),
    }
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
    let answer = line.trim();
    let ok = match token {
        Some(t) => answer == t,
        None => matches!(answer, "y" | "Y" | "yes" | "YES" | "Yes"),
    };
    if ok {
        Ok(())
    } else {
        Err(CliError::new(
            "GM-CLI-002",
            "aborted; nothing was changed",
            ExitStatus::Aborted,
        ))
    }
}

/// What the state keeps of a spec so `heal` can re-apply it anywhere: the spec with user data
/// inlined as it was launched, and GeuseMaker's own tags (a stack's tier) kept aside.
pub fn spec_record(loaded: &LoadedSpec) -> serde_json::Value {
    let mut spec = loaded.spec.clone();
    for (g, ud) in spec.instances.iter_mut().zip(&loaded.user_data) {
        g.user_data = ud.as_ref().map(|u| gm_spec::UserDataSpec {
            file: None,
            inline: Some(u.clone()),
            monitor: false,
        });
    }
    let own: gm_plan::Tags = spec
        .tags
        .iter()
        .filter(|(k, _)| k.starts_with("geusemaker:"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    spec.tags.retain(|k, _| !k.starts_with("geusemaker:"));
    serde_json::json!({"spec": spec, "own_tags": own})
}

/// The spec a deployment was last applied from, as recorded by [`spec_record`].
pub fn spec_from_record(name: &str, v: &serde_json::Value) -> Result<LoadedSpec, CliError> {
    let yaml = gm_spec::yaml::to_yaml(&v["spec"]);
    let mut loaded = gm_spec::load_str_with(
        &format!("<recorded spec of {name}>"),
        &yaml,
        Path::new("."),
        // Recorded with its user data inlined: it names no file to read.
        gm_spec::LoadOptions {
            files: gm_spec::FileAccess::Inline,
        },
    )?;
    if let Some(own) = v["own_tags"].as_object() {
        for (k, val) in own {
            if let Some(s) = val.as_str() {
                loaded.spec.tags.insert(k.clone(), s.to_string());
            }
        }
    }
    Ok(loaded)
}
