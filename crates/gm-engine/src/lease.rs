//! One changing run at a time per deployment, whichever machine or state file it runs from.
//!
//! The lock is a lease kept in AWS (an SSM parameter, see `gm_cloud::lease_parameter`), not in
//! the state file: two engineers with their own state files, or a laptop and CI, see the same
//! lease. Taking it is one `PutParameter` without overwrite, which AWS performs atomically, so
//! of two runs racing exactly one wins. The holder renews it every [`RENEW_EVERY`]; a lease
//! whose expiry has passed, or whose process is gone from this very machine, is stale and the
//! next run breaks it (saying so). Everything else waits up to `--lock-timeout` and then stops
//! with the holder's name, command and start time.
//!
//! SSM has no conditional delete, so breaking a stale lease can race with another run breaking
//! it too. The breaker re-reads just before deleting, and after creating its own lease waits
//! [`SETTLE`] and reads it back: of two breakers, the one whose lease was deleted sees the
//! other's and goes back to waiting (docs/architecture.md, "The deployment lock").

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use gm_cloud::{CloudApi, CloudError};
use serde::{Deserialize, Serialize};
use tokio::task::JoinHandle;

use crate::{Engine, EngineError, Progress, Stop, StopReason};

/// How long a lease lasts without renewal. Generous, so that clocks a minute apart do not make
/// a live lease look expired.
pub const LEASE_TTL: Duration = Duration::from_secs(120);
/// How often the holder renews its lease.
pub const RENEW_EVERY: Duration = Duration::from_secs(30);
/// How long a run that broke a stale lease waits before reading its own lease back.
const SETTLE: Duration = Duration::from_secs(1);
/// Longest pause between two attempts while waiting.
const MAX_POLL: Duration = Duration::from_secs(2);

/// Who holds a deployment's lock: what the parameter's value says, as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// Random, unique to one acquisition: how a run recognises its own lease.
    pub id: String,
    /// The command holding it (`apply`, `destroy`, …).
    pub command: String,
    /// The user running it.
    pub user: String,
    /// The machine it runs on.
    pub host: String,
    /// The machine's process namespace: two containers may share a host name but not this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid_namespace: Option<String>,
    /// The holder's process id on `host`.
    pub pid: u32,
    /// When that process started (clock ticks since boot), so a reused pid is not mistaken
    /// for the holder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid_start: Option<u64>,
    /// When the lease was taken.
    pub acquired: DateTime<Utc>,
    /// When it lapses unless renewed.
    pub expires: DateTime<Utc>,
}

/// Why a lease no longer protects anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stale {
    /// Its holder stopped renewing it.
    Expired,
    /// Its holder ran on this machine and that process is gone.
    ProcessGone,
}

/// This machine and process, as a lease records them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Here {
    /// Host name.
    pub host: String,
    /// Process namespace, when the system tells.
    pub pid_namespace: Option<String>,
}

impl Here {
    /// The machine this runs on.
    pub fn current() -> Here {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .or_else(|| std::env::var("HOSTNAME").ok().filter(|s| !s.is_empty()))
            .unwrap_or_else(|| "unknown".to_string());
        let pid_namespace = std::fs::read_link("/proc/self/ns/pid")
            .ok()
            .map(|p| p.to_string_lossy().into_owned());
        Here {
            host,
            pid_namespace,
        }
    }
}

/// How a process on this machine looks, for telling whether a lease's holder still runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcessState {
    /// It runs, started at this tick.
    Running(Option<u64>),
    /// It does not exist, or has exited and awaits its parent (a zombie).
    Gone,
    /// This system cannot tell.
    Unknown,
}

/// What `/proc` says about `pid`.
pub fn process_state(pid: u32) -> ProcessState {
    if !std::path::Path::new("/proc/self/stat").exists() {
        return ProcessState::Unknown;
    }
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => parse_stat(&stat),
        Err(_) => ProcessState::Gone,
    }
}

/// Reads a `/proc/PID/stat` line: the command name is in parentheses and may itself contain
/// spaces or parentheses, so fields are counted from the last `)`. The state is field 3 and
/// the start time field 22.
fn parse_stat(stat: &str) -> ProcessState {
    let Some(close) = stat.rfind(')') else {
        return ProcessState::Unknown;
    };
    let mut fields = stat[close + 1..].split_whitespace();
    let state = fields.next();
    if state == Some("Z") || state == Some("X") {
        return ProcessState::Gone;
    }
    // After the state come fields 4..=21, then the start time.
    let start = fields.nth(18).and_then(|s| s.parse().ok());
    ProcessState::Running(start)
}

impl Lease {
    /// A lease for this process running `command`, valid for [`LEASE_TTL`] from `now`.
    pub fn new(command: &str, now: DateTime<Utc>) -> Lease {
        let here = Here::current();
        let pid = std::process::id();
        let pid_start = match process_state(pid) {
            ProcessState::Running(start) => start,
            _ => None,
        };
        Lease {
            // Without the system's random source, time and pid are unique enough to tell one
            // acquisition from another.
            id: gm_cloud::generate_secret(16).unwrap_or_else(|_| {
                format!("{pid}-{}", now.timestamp_nanos_opt().unwrap_or_default())
            }),
            command: command.to_string(),
            user: std::env::var("USER")
                .or_else(|_| std::env::var("USERNAME"))
                .ok()
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "unknown".to_string()),
            host: here.host,
            pid_namespace: here.pid_namespace,
            pid,
            pid_start,
            acquired: now,
            expires: now + ttl(),
        }
    }

    /// Reads a lease from the parameter's value; `None` when it is not one of ours (then it
    /// counts as held, never as stale: a lock nobody can read is not broken silently).
    pub fn parse(value: &str) -> Option<Lease> {
        serde_json::from_str(value).ok()
    }

    /// The parameter's value.
    pub fn to_value(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Whether the lease no longer protects anything, seen from `here` at `now`, given how the
    /// holder's process looks (asked only when the holder ran on this machine).
    pub fn staleness(
        &self,
        now: DateTime<Utc>,
        here: &Here,
        process: impl Fn(u32) -> ProcessState,
    ) -> Option<Stale> {
        if now >= self.expires {
            return Some(Stale::Expired);
        }
        let same_machine = self.host == here.host
            && self.pid_namespace.is_some()
            && self.pid_namespace == here.pid_namespace;
        if !same_machine {
            return None;
        }
        match process(self.pid) {
            ProcessState::Gone => Some(Stale::ProcessGone),
            ProcessState::Running(Some(start))
                if self.pid_start.is_some_and(|mine| mine != start) =>
            {
                Some(Stale::ProcessGone)
            }
            _ => None,
        }
    }

    /// "`apply` by alice@build-7 (pid 4242) since 2026-12-03T07:10:00Z".
    pub fn describe(&self) -> String {
        format!(
            "`{}` by {}@{} (pid {}) since {}",
            self.command,
            self.user,
            self.host,
            self.pid,
            self.acquired
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        )
    }
}

fn ttl() -> chrono::Duration {
    chrono::Duration::from_std(LEASE_TTL).unwrap_or_else(|_| chrono::Duration::seconds(120))
}

/// Who holds a lease, for a message: the lease's own description, or the raw value when it is
/// not one of ours.
fn holder_of(value: &str) -> String {
    Lease::parse(value).map_or_else(
        || format!("an unreadable lease ({} bytes)", value.len()),
        |l| l.describe(),
    )
}

/// Why the lease `value` is stale seen from `here` now, in words; `None` while it holds (and
/// always for a value that is not one of ours).
fn stale_reason(value: &str, here: &Here) -> Option<&'static str> {
    let lease = Lease::parse(value)?;
    match lease.staleness(Utc::now(), here, process_state)? {
        Stale::Expired => Some("it expired"),
        Stale::ProcessGone => Some("its process is gone"),
    }
}

/// A held lock. Renews itself until released; dropping it without [`LeaseGuard::release`]
/// stops the renewal and releases it in the background when a runtime is still there (a run
/// that dies outright leaves a lease that lapses within [`LEASE_TTL`], or at once for the next
/// run on the same machine).
pub struct LeaseGuard {
    cloud: Arc<dyn CloudApi>,
    deployment: String,
    /// The lease's id while held; `None` once released.
    id: Option<String>,
    heartbeat: JoinHandle<()>,
}

impl std::fmt::Debug for LeaseGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeaseGuard")
            .field("deployment", &self.deployment)
            .field("lease", &self.id)
            .finish()
    }
}

impl LeaseGuard {
    fn new(engine: &Engine, deployment: &str, lease: Lease) -> LeaseGuard {
        LeaseGuard {
            cloud: engine.cloud.clone(),
            deployment: deployment.to_string(),
            id: Some(lease.id.clone()),
            heartbeat: heartbeat(
                engine.cloud.clone(),
                deployment.to_string(),
                lease,
                engine.renew_every,
                engine.stop.clone(),
            ),
        }
    }

    /// Stops renewing and deletes the lease if it is still ours.
    pub async fn release(mut self) -> Result<(), CloudError> {
        self.heartbeat.abort();
        match self.id.take() {
            Some(id) => release(self.cloud.as_ref(), &self.deployment, &id).await,
            None => Ok(()),
        }
    }
}

impl LeaseGuard {
    /// [`LeaseGuard::release`]; a failure is a note, not an error: the change is done, and the
    /// lease lapses within [`LEASE_TTL`].
    pub async fn release_noting(self, progress: &dyn Progress) {
        if let Err(e) = self.release().await {
            progress.note(&format!(
                "could not release the deployment's lock ({}); it lapses within {} s",
                e.short(),
                LEASE_TTL.as_secs()
            ));
        }
    }
}

impl Drop for LeaseGuard {
    fn drop(&mut self) {
        self.heartbeat.abort();
        let Some(id) = self.id.take() else { return };
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            let cloud = self.cloud.clone();
            let deployment = self.deployment.clone();
            rt.spawn(async move {
                let _ = release(cloud.as_ref(), &deployment, &id).await;
            });
        }
    }
}

/// Whether the parameter's value is the lease with `id`.
fn is_lease(value: Option<&str>, id: &str) -> bool {
    value.and_then(Lease::parse).is_some_and(|l| l.id == id)
}

async fn release(cloud: &dyn CloudApi, deployment: &str, id: &str) -> Result<(), CloudError> {
    if is_lease(cloud.read_lease(deployment).await?.as_deref(), id) {
        cloud.delete_lease(deployment).await?;
    }
    Ok(())
}

/// Renews the lease every `every` while the run lasts. A lease found to be another's (or gone)
/// means another run broke it: the run is stopped at its next step ([`StopReason::LockLost`]).
fn heartbeat(
    cloud: Arc<dyn CloudApi>,
    deployment: String,
    mut lease: Lease,
    every: Duration,
    stop: Stop,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            match cloud.read_lease(&deployment).await {
                Ok(v) if is_lease(v.as_deref(), &lease.id) => {}
                Ok(other) => {
                    tracing::warn!(
                        deployment,
                        holder = other.as_deref().map(holder_of),
                        "this run's lock on the deployment was broken by another run; stopping \
                         at the next step"
                    );
                    stop.request(StopReason::LockLost);
                    return;
                }
                Err(e) => {
                    // Keep trying: the lease lasts four renewals.
                    tracing::warn!(deployment, error = %e, "could not renew the lock");
                    continue;
                }
            }
            lease.expires = Utc::now() + ttl();
            if let Err(e) = cloud.write_lease(&deployment, &lease.to_value()).await {
                tracing::warn!(deployment, error = %e, "could not renew the lock");
            }
        }
    })
}

/// What one attempt at the lock found.
enum Attempt {
    /// The lease is ours.
    Taken,
    /// The lease changed under us: try again at once.
    Again,
    /// A live run holds it (who, in words).
    Held(String),
}

impl Engine {
    /// Runs `locked` holding `deployment`'s lock for `command` (waiting up to `wait` for a live
    /// holder), then releases the lock whatever `locked` returned. Failing to release is a note,
    /// not an error: the change is done, and the lease lapses within [`LEASE_TTL`]. Every
    /// changing command (the CLI's, the server's) goes through here or [`Engine::replanned`].
    pub async fn locked<T, E>(
        &self,
        deployment: &str,
        command: &str,
        wait: Duration,
        progress: &dyn Progress,
        locked: impl AsyncFnOnce() -> Result<T, E>,
    ) -> Result<T, E>
    where
        E: From<EngineError>,
    {
        let guard = self.lock(deployment, command, wait, progress).await?;
        let result = locked().await;
        guard.release_noting(progress).await;
        result
    }

    /// Whether the store has live resources of `deployment`. A run for one it has none of is
    /// about to make them: it takes the lock before its one plan ([`Engine::locked`]) instead of
    /// planning, locking and planning again ([`Engine::replanned`]), which saves a whole read.
    pub fn knows(&self, deployment: &str) -> Result<bool, EngineError> {
        Ok(self
            .store()
            .resources(deployment)?
            .iter()
            .any(|r| r.is_live()))
    }

    /// [`Engine::locked`] for a change to `desired`: plans again once the lock is held (another
    /// run may have changed the deployment meanwhile, and what is applied must be planned
    /// against what AWS has now) and hands that plan to `run`.
    pub async fn replanned<T, E>(
        &self,
        desired: &gm_plan::Desired,
        command: &str,
        wait: Duration,
        progress: &dyn Progress,
        run: impl AsyncFnOnce(&gm_plan::Actual, &gm_plan::Plan) -> Result<T, E>,
    ) -> Result<T, E>
    where
        E: From<EngineError>,
    {
        self.locked(&desired.deployment, command, wait, progress, async || {
            let (actual, plan) = self.plan(desired).await?;
            run(&actual, &plan).await
        })
        .await
    }

    /// Takes `deployment`'s lock for `command`, waiting up to `wait` for a live holder to
    /// finish. A stale lease is broken, with a note saying whose it was.
    pub async fn lock(
        &self,
        deployment: &str,
        command: &str,
        wait: Duration,
        progress: &dyn Progress,
    ) -> Result<LeaseGuard, EngineError> {
        let here = Here::current();
        let started = std::time::Instant::now();
        let mut told_waiting = false;
        let mut pause = Duration::from_millis(200);
        loop {
            let lease = Lease::new(command, Utc::now());
            let holder = match self.attempt(deployment, &lease, &here, progress).await? {
                Attempt::Taken => return Ok(LeaseGuard::new(self, deployment, lease)),
                Attempt::Again => continue,
                Attempt::Held(holder) => holder,
            };
            if started.elapsed() >= wait {
                return Err(EngineError::Locked {
                    deployment: deployment.to_string(),
                    holder,
                    waited_secs: started.elapsed().as_secs(),
                });
            }
            if !told_waiting {
                progress.note(&format!(
                    "waiting for the lock on `{deployment}`, held by {holder}"
                ));
                told_waiting = true;
            }
            let left = wait.saturating_sub(started.elapsed());
            tokio::time::sleep(pause.min(left).max(Duration::from_millis(50))).await;
            pause = (pause * 2).min(MAX_POLL);
        }
    }

    /// One try at creating `lease`, breaking a stale one in the way.
    async fn attempt(
        &self,
        deployment: &str,
        lease: &Lease,
        here: &Here,
        progress: &dyn Progress,
    ) -> Result<Attempt, EngineError> {
        let cloud = self.cloud();
        let value = lease.to_value();
        let created = match cloud.create_lease(deployment, &value).await {
            Ok(created) => created,
            // The create may have landed with its answer lost: look before giving up, so that
            // a lost answer does not leave behind a lease that no run holds.
            Err(e) => match cloud.read_lease(deployment).await {
                Ok(Some(current)) if current == value => return Ok(Attempt::Taken),
                _ => return Err(e.into()),
            },
        };
        if created {
            return Ok(Attempt::Taken);
        }
        let current = match cloud.read_lease(deployment).await? {
            // Released between our two calls.
            None => return Ok(Attempt::Again),
            // Our own call landed but its answer was lost, and the SDK's retry found the lease
            // it had just made.
            Some(current) if current == value => return Ok(Attempt::Taken),
            Some(current) => current,
        };
        let Some(why) = stale_reason(&current, here) else {
            return Ok(Attempt::Held(holder_of(&current)));
        };
        progress.note(&format!(
            "breaking a stale lock on `{deployment}` ({why}): {}",
            holder_of(&current)
        ));
        // Delete only what we judged: someone may have broken it already.
        if cloud.read_lease(deployment).await?.as_deref() == Some(&current) {
            cloud.delete_lease(deployment).await?;
        }
        if !cloud.create_lease(deployment, &value).await? {
            // Another run took it first: wait for that one.
            return Ok(Attempt::Again);
        }
        // Of two runs that broke the same stale lease, the one whose lease the other deleted
        // finds out here and waits.
        tokio::time::sleep(SETTLE).await;
        if cloud.read_lease(deployment).await?.as_deref() == Some(&value) {
            Ok(Attempt::Taken)
        } else {
            Ok(Attempt::Again)
        }
    }

    /// Deletes `deployment`'s lease if it is stale (its run died), returning whose it was and
    /// why it was stale: a destroy that finds nothing left calls this, so that a dead run's
    /// lease does not outlive its deployment. A live lease is left alone.
    pub async fn clear_stale_lock(&self, deployment: &str) -> Result<Option<String>, EngineError> {
        let cloud = self.cloud();
        let Some(current) = cloud.read_lease(deployment).await? else {
            return Ok(None);
        };
        let Some(why) = stale_reason(&current, &Here::current()) else {
            return Ok(None);
        };
        cloud.delete_lease(deployment).await?;
        Ok(Some(format!("{} ({why})", holder_of(&current))))
    }

    /// Deletes `deployment`'s lease whoever holds it (`state unlock`); returns who held it.
    pub async fn unlock(&self, deployment: &str) -> Result<Option<String>, EngineError> {
        let cloud = self.cloud();
        let Some(current) = cloud.read_lease(deployment).await? else {
            return Ok(None);
        };
        cloud.delete_lease(deployment).await?;
        Ok(Some(holder_of(&current)))
    }

    /// Who holds `deployment`'s lock now, if anyone.
    pub async fn lock_holder(&self, deployment: &str) -> Result<Option<String>, EngineError> {
        Ok(self
            .cloud()
            .read_lease(deployment)
            .await?
            .map(|v| holder_of(&v)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lease_at(host: &str, ns: Option<&str>, pid: u32, start: Option<u64>) -> Lease {
        let now = Utc::now();
        Lease {
            id: "abc".into(),
            command: "apply".into(),
            user: "alice".into(),
            host: host.into(),
            pid_namespace: ns.map(str::to_string),
            pid,
            pid_start: start,
            acquired: now,
            expires: now + ttl(),
        }
    }

    fn here() -> Here {
        Here {
            host: "box".into(),
            pid_namespace: Some("pid:[1]".into()),
        }
    }

    #[test]
    fn a_live_lease_elsewhere_is_held_until_it_expires() {
        let l = lease_at("elsewhere", Some("pid:[1]"), 7, None);
        let gone = |_| ProcessState::Gone;
        assert_eq!(l.staleness(Utc::now(), &here(), gone), None);
        let later = l.expires + chrono::Duration::seconds(1);
        assert_eq!(l.staleness(later, &here(), gone), Some(Stale::Expired));
    }

    #[test]
    fn a_lease_whose_process_is_gone_here_is_stale_at_once() {
        let l = lease_at("box", Some("pid:[1]"), 7, Some(100));
        let now = Utc::now();
        assert_eq!(
            l.staleness(now, &here(), |_| ProcessState::Gone),
            Some(Stale::ProcessGone)
        );
        // The pid was reused by a process that started later.
        assert_eq!(
            l.staleness(now, &here(), |_| ProcessState::Running(Some(200))),
            Some(Stale::ProcessGone)
        );
        assert_eq!(
            l.staleness(now, &here(), |_| ProcessState::Running(Some(100))),
            None
        );
        assert_eq!(l.staleness(now, &here(), |_| ProcessState::Unknown), None);
    }

    #[test]
    fn another_process_namespace_with_the_same_host_name_is_not_this_machine() {
        let l = lease_at("box", Some("pid:[2]"), 7, Some(100));
        assert_eq!(
            l.staleness(Utc::now(), &here(), |_| ProcessState::Gone),
            None
        );
        let unknown_ns = lease_at("box", None, 7, Some(100));
        assert_eq!(
            unknown_ns.staleness(Utc::now(), &here(), |_| ProcessState::Gone),
            None
        );
    }

    #[test]
    fn stat_lines_are_read_from_the_last_parenthesis() {
        let line = "4242 (gm (weird) name) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10";
        assert_eq!(parse_stat(line), ProcessState::Running(Some(987_654)));
        let zombie = "4242 (gm) Z 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 0 0";
        assert_eq!(parse_stat(zombie), ProcessState::Gone);
        assert_eq!(parse_stat("garbage"), ProcessState::Unknown);
    }

    #[test]
    fn this_process_is_seen_running_with_its_start_time() {
        let me = Lease::new("apply", Utc::now());
        if let ProcessState::Running(start) = process_state(me.pid) {
            assert_eq!(start, me.pid_start);
            assert_eq!(
                me.staleness(Utc::now(), &Here::current(), process_state),
                None
            );
        }
    }

    #[test]
    fn a_lease_round_trips_and_an_unreadable_value_names_no_holder() {
        let l = lease_at("box", Some("pid:[1]"), 7, Some(100));
        assert_eq!(Lease::parse(&l.to_value()), Some(l.clone()));
        assert!(Lease::parse("locked by bob").is_none());
        assert!(holder_of("locked by bob").contains("unreadable"));
        assert!(holder_of(&l.to_value()).contains("alice@box (pid 7)"));
    }
}
