//! The engine against the in-memory simulator (`gm-sim`): every mutating call of an apply and
//! of a destroy is failed in turn, in each of the three ways a call can fail, for several specs
//! (omicron's `action_failure_can_unwind` is the model). After each failure:
//! - a run that undid itself leaves nothing of the deployment in the account;
//! - a run past its point of no return leaves what it reports, and the next apply converges
//!   with exactly one instance at each address;
//! - a destroy finishes the job when run again, leaving nothing.
//!
//! Every call of an apply and of a destroy is also the moment a stop comes (a Ctrl-C, or another
//! run breaking the lock): an interrupted run undoes itself like a failed one, a run that lost
//! its lock leaves its work as it is, and either way the next runs converge and destroy it all.
//!
//! The same cases run against moto in the CLI's integration tests; these run in seconds.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use gm_cloud::CloudApi;
use gm_engine::{ApplyReport, Engine, EngineError, EngineOptions, NoProgress, Outcome, StopReason};
use gm_plan::Desired;
use gm_sim::{Failure, Sim};
use gm_state::Store;

/// A spec to exercise, loaded once.
struct Case {
    name: &'static str,
    desired: Desired,
}

fn example(file: &str) -> Desired {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(file);
    let loaded = gm_spec::load(&path).unwrap_or_else(|e| panic!("{file}: {e}"));
    gm_plan::desire(&loaded)
}

fn from_yaml(name: &str, yaml: &str) -> Desired {
    let loaded =
        gm_spec::load_str(name, yaml, Path::new(".")).unwrap_or_else(|e| panic!("{name}: {e}"));
    gm_plan::desire(&loaded)
}

fn stack_tier() -> Desired {
    let stack = gm_stack::compile(&gm_stack::StackRequest {
        ssh_cidr: Some("203.0.113.7/32".into()),
        edge: Some(gm_stack::EdgeRequest::default()),
        ..gm_stack::StackRequest::new("ai-sim", gm_stack::Tier::Dev, "us-east-1")
    })
    .expect("the dev tier compiles");
    gm_plan::desire(&stack.spec)
}

const EDGE: &str = "version: 1
deployment: edge-sim
security_groups:
  - name: lb
    ingress: [{protocol: tcp, port: 80, cidr: 0.0.0.0/0}]
  - name: web
    ingress: [{protocol: tcp, port: 8080, source_group: lb}]
instances:
  - name: web
    count: 2
    type: t3.micro
    ami: al2023
    security_groups: [web]
load_balancer:
  target: web
  port: 8080
  health_check: /ready
  security_groups: [lb]
cdn: {}
";

const NETWORK: &str = "version: 1
deployment: net-sim
network:
  vpc: {cidr: 10.40.0.0/16}
  subnets:
    - {name: public-a, cidr: 10.40.1.0/24, public: true}
    - {name: public-b, cidr: 10.40.2.0/24, public: true}
    - {name: private, cidr: 10.40.10.0/24}
security_groups:
  - name: lb
    ingress: [{protocol: tcp, port: 80, cidr: 0.0.0.0/0}]
  - name: app
    ingress: [{protocol: tcp, port: 8080, source_group: lb}]
instances:
  - name: app
    count: 2
    type: t3.micro
    ami: al2023
    subnet: private
    security_groups: [app]
load_balancer:
  target: app
  port: 8080
  security_groups: [lb]
";

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "web-server",
            desired: example("web-server.yaml"),
        },
        Case {
            name: "database",
            desired: example("database.yaml"),
        },
        Case {
            name: "dev-box",
            desired: example("dev-box.yaml"),
        },
        Case {
            name: "spot-data",
            desired: example("spot-data.yaml"),
        },
        Case {
            name: "gpu",
            desired: example("gpu.yaml"),
        },
        Case {
            name: "dev tier with edge",
            desired: stack_tier(),
        },
        Case {
            name: "load balancer and cdn",
            desired: from_yaml("edge.yaml", EDGE),
        },
        Case {
            name: "own network",
            desired: from_yaml("network.yaml", NETWORK),
        },
        Case {
            name: "own network with a NAT gateway",
            desired: from_yaml("nat.yaml", &nat_spec()),
        },
    ]
}

/// `NETWORK` with a NAT gateway for its private subnet.
fn nat_spec() -> String {
    NETWORK
        .replace("deployment: net-sim", "deployment: nat-sim")
        .replace("  subnets:\n", "  nat_gateway: true\n  subnets:\n")
}

/// A fresh engine over `sim` with its own state store in `dir` (a new process, as the CLI is).
fn engine(sim: &Arc<Sim>, dir: &Path) -> Engine {
    let store = Store::open(&dir.join("state.db")).expect("state store opens");
    let cloud: Arc<dyn CloudApi> = sim.clone();
    Engine::shared(
        cloud,
        store,
        EngineOptions {
            timeout: Duration::from_secs(5),
            ..EngineOptions::default()
        },
    )
}

/// What `geusemaker apply --yes` does: plan; if there is anything to do, plan again under the
/// lock and apply that.
async fn apply(engine: &Engine, desired: &Desired) -> Result<Option<ApplyReport>, EngineError> {
    let (_, plan) = engine.plan(desired).await?;
    if plan.is_empty() {
        return Ok(None);
    }
    engine
        .replanned(
            desired,
            "apply",
            Duration::ZERO,
            &NoProgress,
            async |actual, plan| {
                engine
                    .apply(desired, actual, plan, None, &NoProgress)
                    .await
                    .map(Some)
            },
        )
        .await
}

/// What `geusemaker destroy --yes` does; the names of what is still there.
async fn destroy(engine: &Engine, deployment: &str) -> Result<Vec<String>, EngineError> {
    if engine.destroy_plan(deployment).await?.is_empty() {
        engine.clear_stale_lock(deployment).await?;
        return Ok(Vec::new());
    }
    engine
        .locked(
            deployment,
            "destroy",
            Duration::ZERO,
            &NoProgress,
            async || {
                let plan = engine.destroy_plan(deployment).await?;
                Ok(engine.destroy(&plan, &NoProgress).await?.remaining)
            },
        )
        .await
}

/// The addresses that have more than one live instance.
fn duplicates(sim: &Sim, deployment: &str) -> Vec<String> {
    let mut seen = std::collections::BTreeMap::<String, usize>::new();
    for i in sim.world().live_instances() {
        if i.tags.get(gm_plan::TAG_DEPLOYMENT).map(String::as_str) == Some(deployment) {
            *seen
                .entry(i.logical_id().unwrap_or("?").to_string())
                .or_default() += 1;
        }
    }
    seen.into_iter()
        .filter(|(_, n)| *n > 1)
        .map(|(a, n)| format!("{a} ×{n}"))
        .collect()
}

/// A failed release leaves this process's lease, which only lapses after two minutes (a new
/// process would break it at once: ours is still alive); a user removes it with `state unlock`,
/// and tests do the same before the next run.
async fn unlock_if_left(engine: &Engine, deployment: &str) {
    let _ = engine.unlock(deployment).await;
}

/// Applies to convergence (the run after a failure), then checks the plan is empty and no
/// address has two instances.
async fn converge(sim: &Arc<Sim>, dir: &Path, desired: &Desired, what: &str) {
    let e = engine(sim, dir);
    unlock_if_left(&e, &desired.deployment).await;
    if let Err(err) = apply(&e, desired).await {
        panic!("{what}: the apply after the failure failed: {err}");
    }
    let (_, plan) = e.plan(desired).await.expect("plan");
    assert!(
        plan.is_empty(),
        "{what}: not converged, still to do:\n{}",
        plan.to_text()
    );
    assert_eq!(
        duplicates(sim, &desired.deployment),
        Vec::<String>::new(),
        "{what}"
    );
}

/// Destroys until done (at most twice more), then checks nothing of the deployment is left.
async fn destroy_to_nothing(sim: &Arc<Sim>, dir: &Path, deployment: &str, what: &str) {
    let e = engine(sim, dir);
    unlock_if_left(&e, deployment).await;
    let mut remaining = match destroy(&e, deployment).await {
        Ok(r) => r,
        Err(err) => panic!("{what}: destroy failed: {err}"),
    };
    if !remaining.is_empty() {
        remaining = destroy(&e, deployment).await.expect("second destroy");
    }
    assert_eq!(remaining, Vec::<String>::new(), "{what}: destroy left");
    assert_eq!(
        sim.world().holds_any_of(deployment),
        Vec::<String>::new(),
        "{what}: the account still holds"
    );
}

/// The mutating calls of a clean apply and of a clean destroy of `case`, after checking the
/// clean runs themselves.
async fn clean_counts(case: &Case) -> (u64, u64) {
    let sim = Arc::new(Sim::default());
    let dir = tempfile::tempdir().expect("temp dir");
    let e = engine(&sim, dir.path());
    let report = apply(&e, &case.desired)
        .await
        .unwrap_or_else(|err| panic!("{}: clean apply: {err}", case.name))
        .expect("a fresh account has something to do");
    assert_eq!(report.outcome, Outcome::Ok, "{}", case.name);
    let applied = sim.mutations().len() as u64;
    assert!(
        apply(&e, &case.desired).await.expect("re-apply").is_none(),
        "{}: a second apply has nothing to do",
        case.name
    );
    assert_eq!(
        sim.mutations().len() as u64,
        applied,
        "{}: a no-op apply mutates nothing",
        case.name
    );
    destroy_to_nothing(&sim, dir.path(), &case.desired.deployment, case.name).await;
    let destroyed = sim.mutations().len() as u64 - applied;
    (applied, destroyed)
}

/// Runs `check` for every point, eight at a time on their own tasks (each point has its own
/// simulator and state store); a failed check fails the test with its message.
async fn each_point<P, F, Fut>(points: Vec<P>, check: F)
where
    P: Send + 'static,
    F: Fn(P) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let check = Arc::new(check);
    let queue = Arc::new(std::sync::Mutex::new(points));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let (queue, check) = (queue.clone(), check.clone());
        workers.spawn(async move {
            loop {
                let next = queue.lock().map(|mut q| q.pop()).unwrap_or(None);
                let Some(p) = next else { break };
                check(p).await;
            }
        });
    }
    while let Some(done) = workers.join_next().await {
        if let Err(e) = done {
            if e.is_panic() {
                std::panic::resume_unwind(e.into_panic());
            }
            panic!("a worker ended: {e}");
        }
    }
}

/// Fails mutating call `n` of a fresh apply of `case` in the way `how` says, then checks what
/// the run left and that the next runs converge and destroy everything.
async fn apply_fails_at(case: Arc<Case>, calls: u64, n: u64, how: Failure) {
    let dep = case.desired.deployment.clone();
    let what = format!("{}: call {n} of {calls} fails ({how:?})", case.name);
    let sim = Arc::new(Sim::default());
    let dir = tempfile::tempdir().expect("temp dir");
    sim.fail_call(n, how);
    let e = engine(&sim, dir.path());
    let result = apply(&e, &case.desired).await;
    assert!(
        sim.failures_pending().is_empty(),
        "{what}: the run made fewer calls than the clean one"
    );
    let failed_call = sim.mutations()[usize::try_from(n - 1).unwrap_or(0)]
        .action
        .clone();
    match &result {
        // Undone, or failed before changing anything (the lock, a read): nothing of the
        // run may be left but the lease of a failed release.
        Err(EngineError::Failed(r)) if r.outcome == Outcome::RolledBack => {
            unlock_if_left(&e, &dep).await;
            assert_eq!(
                sim.world().holds_any_of(&dep),
                Vec::<String>::new(),
                "{what} ({failed_call}): rolled back, yet the account holds"
            );
        }
        Err(EngineError::Cloud(_)) => {
            unlock_if_left(&e, &dep).await;
            assert_eq!(
                sim.world().holds_any_of(&dep),
                Vec::<String>::new(),
                "{what} ({failed_call}): failed before any change, yet the account holds"
            );
        }
        // Past the point of no return: the report says what is left and why.
        Err(EngineError::Failed(r)) => {
            assert_eq!(r.outcome, Outcome::Failed, "{what}");
            assert!(r.failure.is_some(), "{what}: a failure without a reason");
        }
        // A failure the engine recovered from by itself (a tag repaired by the final
        // converge, a retried delete).
        Ok(_) => {}
        Err(other) => panic!("{what}: unexpected error {other}"),
    }
    drop(e);
    converge(&sim, dir.path(), &case.desired, &what).await;
    destroy_to_nothing(&sim, dir.path(), &dep, &what).await;
}

/// Fails mutating call `n` of a destroy after a clean apply of `case`; a re-run must finish.
async fn destroy_fails_at(case: Arc<Case>, applied: u64, calls: u64, n: u64, how: Failure) {
    let dep = case.desired.deployment.clone();
    let what = format!("{}: destroy call {n} of {calls} fails ({how:?})", case.name);
    let sim = Arc::new(Sim::default());
    let dir = tempfile::tempdir().expect("temp dir");
    let e = engine(&sim, dir.path());
    apply(&e, &case.desired).await.expect("clean apply");
    assert_eq!(sim.mutations().len() as u64, applied, "{what}");
    sim.fail_call(applied + n, how);
    // Whatever the faulted destroy reports, running it again finishes the job.
    let _ = destroy(&e, &dep).await;
    assert!(sim.failures_pending().is_empty(), "{what}: never reached");
    drop(e);
    destroy_to_nothing(&sim, dir.path(), &dep, &what).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn every_mutating_call_of_an_apply_can_fail_and_the_next_run_converges() {
    let started = std::time::Instant::now();
    let mut points = Vec::new();
    let mut summary = Vec::new();
    for case in cases() {
        let (calls, _) = clean_counts(&case).await;
        summary.push(format!("{} {calls}", case.name));
        let case = Arc::new(case);
        for n in 1..=calls {
            for how in Failure::ALL {
                points.push((case.clone(), calls, n, how));
            }
        }
    }
    let count = points.len();
    each_point(points, |(case, calls, n, how)| {
        apply_fails_at(case, calls, n, how)
    })
    .await;
    eprintln!(
        "apply failure points: {count} ({}) in {:.1} s",
        summary.join(", "),
        started.elapsed().as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn every_mutating_call_of_a_destroy_can_fail_and_a_rerun_finishes_it() {
    let started = std::time::Instant::now();
    let mut points = Vec::new();
    let mut summary = Vec::new();
    for case in cases() {
        let (applied, calls) = clean_counts(&case).await;
        summary.push(format!("{} {calls}", case.name));
        let case = Arc::new(case);
        for n in 1..=calls {
            for how in Failure::ALL {
                points.push((case.clone(), applied, calls, n, how));
            }
        }
    }
    let count = points.len();
    each_point(points, |(case, applied, calls, n, how)| {
        destroy_fails_at(case, applied, calls, n, how)
    })
    .await;
    eprintln!(
        "destroy failure points: {count} ({}) in {:.1} s",
        summary.join(", "),
        started.elapsed().as_secs_f64()
    );
}

/// The steps journaled for `deployment` so far, read through a connection of its own.
fn journaled(dir: &Path, deployment: &str) -> usize {
    let store = Store::open(&dir.join("state.db")).expect("state store opens");
    store
        .runs(deployment)
        .expect("runs")
        .iter()
        .map(|r| store.steps(r.id).expect("steps").len())
        .sum()
}

/// While mutating call `n` of a fresh apply of `case` is in flight, the run is asked to stop
/// for `why` (for a lost lock, another run's lease replaces ours too); then checks what the run
/// left, and that the next runs converge and destroy everything.
async fn apply_stopped_at(case: Arc<Case>, calls: u64, n: u64, why: StopReason) {
    let dep = case.desired.deployment.clone();
    let what = format!(
        "{}: stopped ({why:?}) during call {n} of {calls}",
        case.name
    );
    let sim = Arc::new(Sim::default());
    let dir = tempfile::tempdir().expect("temp dir");
    let e = engine(&sim, dir.path());
    let (stop, world) = (e.stop(), sim.clone());
    let at_stop = Arc::new(std::sync::Mutex::new(None));
    let (at, path) = (at_stop.clone(), dir.path().to_path_buf());
    sim.during_call(n, move || {
        *at.lock().unwrap() = Some(journaled(&path, &dep));
        if why == StopReason::LockLost {
            world.with_world(|w| {
                w.parameters.insert(
                    gm_cloud::lease_parameter(&dep),
                    (r#"{"id":"another run"}"#.to_string(), Default::default()),
                )
            });
        }
        stop.request(why);
    });
    let result = apply(&e, &case.desired).await;
    let dep = case.desired.deployment.clone();
    let stopped_code = Some(why.code().to_string());
    match &result {
        Err(EngineError::Failed(r)) if r.outcome == Outcome::RolledBack => {
            assert_eq!(
                why,
                StopReason::Interrupted,
                "{what}: a lost lock is never undone"
            );
            assert_eq!(
                r.failure.as_ref().and_then(|f| f.code.clone()),
                stopped_code,
                "{what}"
            );
            unlock_if_left(&e, &dep).await;
            assert_eq!(
                sim.world().holds_any_of(&dep),
                Vec::<String>::new(),
                "{what}: undone, yet the account holds"
            );
        }
        Err(EngineError::Failed(r)) => {
            assert_eq!(r.outcome, Outcome::Failed, "{what}");
            assert_eq!(
                r.failure.as_ref().and_then(|f| f.code.clone()),
                stopped_code,
                "{what}"
            );
        }
        // The stop came during the run's last step: no step was taken after it (the calls
        // that followed belong to the step in flight, or release the lock).
        Ok(_) => assert_eq!(
            Some(journaled(dir.path(), &dep)),
            *at_stop.lock().unwrap(),
            "{what}: steps were taken after the stop"
        ),
        Err(other) => panic!("{what}: unexpected error {other}"),
    }
    drop(e);
    converge(&sim, dir.path(), &case.desired, &what).await;
    destroy_to_nothing(&sim, dir.path(), &dep, &what).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn every_call_of_an_apply_can_be_interrupted_or_lose_its_lock_and_the_next_run_converges() {
    let started = std::time::Instant::now();
    let mut points = Vec::new();
    for case in cases() {
        let (calls, _) = clean_counts(&case).await;
        let case = Arc::new(case);
        for n in 1..=calls {
            for why in [StopReason::Interrupted, StopReason::LockLost] {
                points.push((case.clone(), calls, n, why));
            }
        }
    }
    let count = points.len();
    each_point(points, |(case, calls, n, why)| {
        apply_stopped_at(case, calls, n, why)
    })
    .await;
    eprintln!(
        "apply stop points: {count} in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn every_call_of_a_destroy_can_be_interrupted_and_a_rerun_finishes_it() {
    let started = std::time::Instant::now();
    let mut points = Vec::new();
    for case in cases() {
        let (applied, calls) = clean_counts(&case).await;
        let case = Arc::new(case);
        for n in 1..=calls {
            points.push((case.clone(), applied, calls, n));
        }
    }
    let count = points.len();
    each_point(points, |(case, applied, calls, n)| async move {
        let dep = case.desired.deployment.clone();
        let what = format!(
            "{}: destroy interrupted during call {n} of {calls}",
            case.name
        );
        let sim = Arc::new(Sim::default());
        let dir = tempfile::tempdir().expect("temp dir");
        let e = engine(&sim, dir.path());
        apply(&e, &case.desired).await.expect("clean apply");
        let stop = e.stop();
        let at_stop = Arc::new(std::sync::Mutex::new(None));
        let (at, path, d) = (at_stop.clone(), dir.path().to_path_buf(), dep.clone());
        sim.during_call(applied + n, move || {
            *at.lock().unwrap() = Some(journaled(&path, &d));
            stop.request(StopReason::Interrupted)
        });
        match destroy(&e, &dep).await {
            // Stopped with steps left: says why, and what it removed before (truly gone).
            Err(EngineError::DestroyFailed { report, cause }) => {
                assert!(cause.to_string().contains("interrupted"), "{what}: {cause}");
                let held = sim.world().holds_any_of(&dep).join(" ");
                for d in &report.destroyed {
                    assert!(
                        !held.contains(&d.aws_id),
                        "{what}: {} ({}) reported destroyed but still there: {held}",
                        d.address,
                        d.aws_id
                    );
                }
            }
            Err(err) => panic!("{what}: not a destroy failure with its report: {err}"),
            // The stop came during the last step: no step was taken after it.
            Ok(left) => {
                assert_eq!(left, Vec::<String>::new(), "{what}");
                assert_eq!(
                    Some(journaled(dir.path(), &dep)),
                    *at_stop.lock().unwrap(),
                    "{what}: steps were taken after the stop"
                );
            }
        }
        drop(e);
        destroy_to_nothing(&sim, dir.path(), &dep, &what).await;
    })
    .await;
    eprintln!(
        "destroy stop points: {count} in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_lock_is_noticed_by_the_heartbeat_and_stops_the_run() {
    let sim = Arc::new(Sim::default());
    let dir = tempfile::tempdir().expect("temp dir");
    let e = engine(&sim, dir.path()).renewing_every(Duration::from_millis(20));
    let guard = e
        .lock("hb", "apply", Duration::ZERO, &NoProgress)
        .await
        .expect("lock");
    // Renewals while the lease is ours change nothing.
    tokio::time::sleep(Duration::from_millis(80)).await;
    assert_eq!(e.stop().reason(), None);
    // Another run breaks it (its lease replaces ours).
    sim.with_world(|w| {
        w.parameters.insert(
            gm_cloud::lease_parameter("hb"),
            (r#"{"id":"another run"}"#.to_string(), Default::default()),
        )
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while e.stop().reason().is_none() && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(e.stop().reason(), Some(StopReason::LockLost));
    // Releasing leaves the other run's lease alone.
    guard.release().await.expect("release");
    assert!(sim
        .world()
        .parameters
        .contains_key(&gm_cloud::lease_parameter("hb")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_state_file_neither_duplicates_nor_orphans() {
    for case in cases() {
        let sim = Arc::new(Sim::default());
        let first = tempfile::tempdir().expect("temp dir");
        apply(&engine(&sim, first.path()), &case.desired)
            .await
            .expect("apply");
        let before = sim.world().live_instances().count();
        // Another machine, no state: the plan is empty and the destroy complete.
        let second = tempfile::tempdir().expect("temp dir");
        converge(&sim, second.path(), &case.desired, case.name).await;
        assert_eq!(
            sim.world().live_instances().count(),
            before,
            "{}",
            case.name
        );
        destroy_to_nothing(&sim, second.path(), &case.desired.deployment, case.name).await;
    }
}

/// `examples/spot-data.yaml` with another boot script: every worker is replaced, and each
/// worker's kept data volume must move to its replacement.
fn spot_data_changed() -> Desired {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let text = std::fs::read_to_string(dir.join("spot-data.yaml")).expect("example");
    let changed = text.replace("data_science_setup.sh", "docker_deployment.sh");
    assert_ne!(text, changed, "the example names its boot script");
    let loaded = gm_spec::load_str("spot-data-v2.yaml", &changed, &dir).expect("changed spec");
    gm_plan::desire(&loaded)
}

/// The data volumes of `deployment` (kept on termination), by id, with their address.
fn data_volumes(sim: &Sim, deployment: &str) -> std::collections::BTreeMap<String, String> {
    let w = sim.world();
    w.volumes
        .values()
        .filter(|v| v.tags.get(gm_plan::TAG_DEPLOYMENT).map(String::as_str) == Some(deployment))
        .filter(|v| {
            // Kept: attached without delete-on-termination, or not attached at all.
            v.attachments.iter().all(|a| !a.delete_on_termination)
        })
        .map(|v| {
            let at = v
                .attachments
                .first()
                .and_then(|a| w.instances.get(&a.instance_id))
                .and_then(|i| i.logical_id())
                .unwrap_or("detached")
                .to_string();
            (v.id.clone(), at)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn every_mutating_call_of_a_replacement_can_fail_and_no_data_volume_is_lost() {
    let started = std::time::Instant::now();
    let from = Arc::new(example("spot-data.yaml"));
    let to = Arc::new(spot_data_changed());
    // The clean update: count its calls, and see that the volumes moved.
    let sim = Arc::new(Sim::default());
    let dir = tempfile::tempdir().expect("temp dir");
    apply(&engine(&sim, dir.path()), &from)
        .await
        .expect("apply");
    let applied = sim.mutations().len() as u64;
    let before = data_volumes(&sim, &from.deployment);
    assert_eq!(before.len(), 3, "{before:?}");
    let report = apply(&engine(&sim, dir.path()), &to)
        .await
        .expect("update")
        .expect("a changed boot script is a change");
    assert_eq!(report.replaced.len(), 3, "{report:?}");
    let calls = sim.mutations().len() as u64 - applied;
    let update_calls: Vec<String> = sim.mutations()[usize::try_from(applied).unwrap_or(0)..]
        .iter()
        .map(|c| c.action.clone())
        .collect();
    eprintln!("the clean update: {}", update_calls.join(", "));
    let after = data_volumes(&sim, &from.deployment);
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>(),
        "the same volumes, by id"
    );
    assert_eq!(before, after, "each at its own address");

    let mut points = Vec::new();
    for n in 1..=calls {
        for how in Failure::ALL {
            points.push((n, how));
        }
    }
    let count = points.len();
    let (f, t) = (from.clone(), to.clone());
    each_point(points, move |(n, how)| {
        let (from, to) = (f.clone(), t.clone());
        async move {
            let what = format!("spot-data update: call {n} of {calls} fails ({how:?})");
            let sim = Arc::new(Sim::default());
            let dir = tempfile::tempdir().expect("temp dir");
            apply(&engine(&sim, dir.path()), &from)
                .await
                .expect("apply");
            let before = data_volumes(&sim, &from.deployment);
            sim.fail_call(applied + n, how);
            let _ = apply(&engine(&sim, dir.path()), &to).await;
            assert!(sim.failures_pending().is_empty(), "{what}: never reached");
            // Whatever happened, no data volume is gone.
            let now = data_volumes(&sim, &from.deployment);
            for id in before.keys() {
                assert!(now.contains_key(id), "{what}: data volume {id} was deleted");
            }
            converge(&sim, dir.path(), &to, &what).await;
            // Converged: the same volumes, each attached at its own address, none made anew.
            assert_eq!(
                data_volumes(&sim, &from.deployment),
                before,
                "{what}: the data volumes after converging"
            );
            destroy_to_nothing(&sim, dir.path(), &from.deployment, &what).await;
        }
    })
    .await;
    eprintln!(
        "replacement failure points: {count} ({calls} calls) in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

/// A network spec builds exactly its network, places instances and the load balancer in it,
/// re-applies with no change and few reads, and destroy removes all of it.
#[tokio::test]
async fn an_own_network_is_built_exactly_and_destroyed_completely() {
    let sim = Arc::new(Sim::default());
    let dir = tempfile::tempdir().expect("temp dir");
    let desired = from_yaml("network.yaml", NETWORK);
    let e = engine(&sim, dir.path());
    let report = apply(&e, &desired).await.expect("apply").expect("changes");
    assert_eq!(report.outcome, Outcome::Ok);
    let w = sim.world();
    assert_eq!(w.vpcs.len(), 1, "one VPC");
    let vpc = w.vpcs.values().next().expect("vpc");
    assert_eq!(vpc.cidr, "10.40.0.0/16");
    let ours: Vec<_> = w.subnets.iter().filter(|s| s.vpc_id == vpc.id).collect();
    assert_eq!(ours.len(), 3, "three subnets");
    let zones: std::collections::BTreeSet<_> =
        ours.iter().map(|s| s.availability_zone.as_str()).collect();
    assert_eq!(zones.len(), 3, "auto subnets spread over the zones");
    let private = ours
        .iter()
        .find(|s| s.cidr == "10.40.10.0/24")
        .expect("private subnet");
    assert!(!private.public);
    assert!(ours.iter().filter(|s| s.public).count() == 2);
    for i in w.live_instances() {
        assert_eq!(
            i.subnet_id.as_deref(),
            Some(private.id.as_str()),
            "{}",
            i.id
        );
    }
    assert_eq!(w.gateways.len(), 1);
    assert_eq!(
        w.gateways.values().next().expect("gateway").attached_to,
        vec![vpc.id.clone()]
    );
    let rt = w.route_tables.values().next().expect("route table");
    assert_eq!(rt.associations.len(), 2, "both public subnets");
    assert!(rt
        .routes
        .iter()
        .any(|(d, g)| d == "0.0.0.0/0" && g.starts_with("igw-")));
    let lb = w.load_balancers.values().next().expect("load balancer");
    let public: Vec<String> = ours
        .iter()
        .filter(|s| s.public)
        .map(|s| s.id.clone())
        .collect();
    let mut lb_subnets = lb.subnets.clone();
    lb_subnets.sort();
    let mut want = public.clone();
    want.sort();
    assert_eq!(
        lb_subnets, want,
        "the load balancer sits in the public subnets"
    );
    assert!(w
        .groups
        .values()
        .all(|g| g.vpc_id.as_deref() == Some(vpc.id.as_str())
            || !g.tags.contains_key(gm_plan::TAG_DEPLOYMENT)));

    // A no-op re-plan reads, and changes, nothing more than the network's four describes on
    // top of the deployment's own reads.
    let before = sim.requests().total();
    let (_, plan) = e.plan(&desired).await.expect("plan");
    assert!(plan.is_empty(), "converged:\n{}", plan.to_text());
    let reads = sim.requests().total() - before;
    assert!(reads <= 8, "a converged plan took {reads} requests");

    destroy_to_nothing(&sim, dir.path(), &desired.deployment, "network").await;
    let w = sim.world();
    assert!(w.vpcs.is_empty() && w.gateways.is_empty() && w.route_tables.is_empty());
}

/// A NAT gateway sits in the first public subnet with an Elastic IP, the private subnet routes
/// through it; removing `nat_gateway` removes all three, and destroy leaves no address behind.
#[tokio::test]
async fn a_nat_gateway_serves_the_private_subnet_and_goes_without_leaving_its_address() {
    let sim = Arc::new(Sim::default());
    let dir = tempfile::tempdir().expect("temp dir");
    let desired = from_yaml("nat.yaml", &nat_spec());
    let e = engine(&sim, dir.path());
    let report = apply(&e, &desired).await.expect("apply").expect("changes");
    assert_eq!(report.outcome, Outcome::Ok);
    let w = sim.world();
    assert_eq!(w.nat_gateways.len(), 1, "one NAT gateway");
    let nat = w.nat_gateways.values().next().expect("nat");
    let public_a = w
        .subnets
        .iter()
        .find(|s| s.cidr == "10.40.1.0/24")
        .expect("public-a");
    assert_eq!(nat.subnet_id, public_a.id, "in the first public subnet");
    assert_eq!(w.addresses.len(), 1, "one Elastic IP");
    assert_eq!(
        nat.allocation_ids,
        w.addresses.keys().cloned().collect::<Vec<_>>()
    );
    let private = w
        .subnets
        .iter()
        .find(|s| s.cidr == "10.40.10.0/24")
        .expect("private");
    let routes = w
        .route_tables
        .values()
        .find(|t| t.associations.iter().any(|(_, s)| s == &private.id))
        .expect("the private subnet has a route table");
    assert!(
        routes
            .routes
            .iter()
            .any(|(d, g)| d == "0.0.0.0/0" && g == &nat.id),
        "{routes:?}"
    );
    assert_eq!(routes.associations.len(), 1, "only the private subnet");

    // Converged: nothing to do, two reads more than a network without one.
    let before = sim.requests().total();
    let (_, plan) = e.plan(&desired).await.expect("plan");
    assert!(plan.is_empty(), "converged:\n{}", plan.to_text());
    let reads = sim.requests().total() - before;
    assert!(reads <= 10, "a converged plan took {reads} requests");

    // Without `nat_gateway`: the private route table, the gateway and its address go.
    let without = from_yaml(
        "network.yaml",
        &nat_spec().replace("  nat_gateway: true\n", ""),
    );
    let report = apply(&e, &without).await.expect("apply").expect("changes");
    assert_eq!(report.outcome, Outcome::Ok);
    let w = sim.world();
    assert!(w.nat_gateways.is_empty() && w.addresses.is_empty());
    assert_eq!(w.route_tables.len(), 1, "the public route table stays");

    // Back again, then destroy: nothing left, no address kept.
    apply(&e, &desired).await.expect("apply").expect("changes");
    assert_eq!(sim.world().nat_gateways.len(), 1);
    destroy_to_nothing(&sim, dir.path(), &desired.deployment, "nat").await;
    let w = sim.world();
    assert!(w.nat_gateways.is_empty() && w.addresses.is_empty() && w.vpcs.is_empty());
}

/// Subnets in a referenced VPC are ours; the VPC and its gateway are not, and survive destroy.
#[tokio::test]
async fn a_referenced_vpc_survives_and_routes_through_its_own_gateway() {
    let sim = Arc::new(Sim::default());
    let (vpc, gw) = sim.with_world(|w| {
        let vpc = w
            .create_vpc("10.50.0.0/16", &Default::default())
            .expect("vpc");
        let gw = w.create_gateway(&Default::default());
        w.attach_gateway(&gw, &vpc).expect("attach");
        (vpc, gw)
    });
    let yaml = NETWORK
        .replace("deployment: net-sim", "deployment: net-ref")
        .replace("{cidr: 10.40.0.0/16}", &vpc)
        .replace("10.40.", "10.50.");
    let desired = from_yaml("network-ref.yaml", &yaml);
    let dir = tempfile::tempdir().expect("temp dir");
    let e = engine(&sim, dir.path());
    let report = apply(&e, &desired).await.expect("apply").expect("changes");
    assert_eq!(report.outcome, Outcome::Ok);
    let w = sim.world();
    let rt = w.route_tables.values().next().expect("route table");
    assert!(
        rt.routes.iter().any(|(_, g)| g == &gw),
        "routes via the VPC's own gateway"
    );
    assert_eq!(w.gateways.len(), 1, "no gateway of ours");
    destroy_to_nothing(&sim, dir.path(), &desired.deployment, "referenced").await;
    let w = sim.world();
    assert!(w.vpcs.contains_key(&vpc), "the referenced VPC survives");
    assert_eq!(
        w.gateways[&gw].attached_to,
        vec![vpc.clone()],
        "its gateway stays attached"
    );
    assert!(
        w.subnets.iter().all(|s| s.vpc_id != vpc),
        "our subnets in it are gone"
    );
}

/// In a region without a default VPC, a spec without a network fails at plan time with the fix,
/// and nothing is made; the same spec with a network applies.
#[tokio::test]
async fn no_default_vpc_is_a_plan_time_error_with_the_fix() {
    let sim = Arc::new(Sim::default());
    sim.with_world(|w| {
        w.default_vpc = None;
        w.subnets.clear();
    });
    let dir = tempfile::tempdir().expect("temp dir");
    let e = engine(&sim, dir.path());
    let plain = example("web-server.yaml");
    let err = e.plan(&plain).await.expect_err("no default VPC");
    let text = err.to_string();
    assert!(
        text.contains("no default VPC") && text.contains("network:"),
        "{text}"
    );
    assert!(sim.mutations().is_empty(), "nothing was made");
    let report = apply(&e, &from_yaml("network.yaml", NETWORK))
        .await
        .expect("a network spec applies")
        .expect("changes");
    assert_eq!(report.outcome, Outcome::Ok);
}

/// A rollback reads AWS only for what its undo stack holds: a role create that fails (nothing of
/// EC2 made yet) is undone without listing instances, volumes or groups again.
#[tokio::test]
async fn a_rollback_reads_only_what_its_undo_stack_needs() {
    let desired = stack_tier();
    let clean = Arc::new(Sim::default());
    let dir = tempfile::tempdir().expect("temp dir");
    apply(&engine(&clean, dir.path()), &desired)
        .await
        .expect("clean apply");
    let n = clean
        .mutations()
        .iter()
        .find(|c| c.action == "CreateRole")
        .expect("the dev tier creates a role")
        .n;
    let sim = Arc::new(Sim::default());
    sim.fail_call(n, Failure::Error);
    let dir = tempfile::tempdir().expect("temp dir");
    let e = engine(&sim, dir.path());
    let result = apply(&e, &desired).await;
    assert!(
        matches!(&result, Err(EngineError::Failed(r)) if r.outcome == Outcome::RolledBack),
        "{result:?}"
    );
    assert_eq!(
        sim.world().holds_any_of(&desired.deployment),
        Vec::<String>::new()
    );
    // The plan before the lock, the plan under it, and the final read: one each. A rollback
    // that swept by tag whatever it had made read instances twice more.
    let ops = sim.requests().by_operation();
    for op in ["DescribeInstances", "DescribeSecurityGroups"] {
        assert_eq!(ops.get(op).copied(), Some(3), "{op}: {ops:?}");
    }
}
