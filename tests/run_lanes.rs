//! `ccci run` end to end over the fake abra/docker host, a real HTTPS gateway
//! and real git repositories: a green recipe passes every rung, and every
//! known-bad recipe goes red at the right rung with the right reason.

#[allow(dead_code)]
#[path = "support/fake_tools.rs"]
mod fake_tools;
#[path = "support/https_app.rs"]
mod https_app;
#[path = "support/run_fixture.rs"]
mod run_fixture;

use std::time::Duration;

use ccci::registry::{LaneMode, Rung};
use ccci::results::{Lane, ResultsV1, Status};
use ccci::run::lanes::{self, RunInputs};
use ccci::run::platform::{AppRef, OpError, Platform, ServiceState, TeardownReport};
use ccci::run::progress::Progress;
use run_fixture::{HTML, REPO, World, compose, pr_head, release};
use std::sync::Mutex;

fn green_world() -> World {
    World::new(
        vec![release("1.0.0+1.25"), release("1.1.0+1.27")],
        pr_head(compose("1.2.0+1.27", "content", "DOMAIN")),
    )
}

/// Delegates to the real platform and, just before each teardown, keeps the
/// env the fake abra deployed the app with (teardown erases it).
struct EnvSpy<'a> {
    inner: &'a dyn Platform,
    world: &'a World,
    deployed_env: Mutex<Vec<serde_json::Value>>,
    /// The fake's secrets (with their generated values) before each teardown.
    secrets: Mutex<Vec<serde_json::Value>>,
}

impl Platform for EnvSpy<'_> {
    fn app_new(&self, a: &AppRef) -> Result<(), OpError> {
        self.inner.app_new(a)
    }
    fn set_env(&self, a: &AppRef, e: &[(String, String)]) -> Result<(), OpError> {
        self.inner.set_env(a, e)
    }
    fn secret_generate(&self, a: &AppRef) -> Result<(), OpError> {
        self.inner.secret_generate(a)
    }
    fn secret_generate_one(&self, a: &AppRef, n: &str, v: &str) -> Result<(), OpError> {
        self.inner.secret_generate_one(a, n, v)
    }
    fn secrets(&self, a: &AppRef) -> Result<Vec<String>, OpError> {
        self.inner.secrets(a)
    }
    fn deploy(&self, a: &AppRef, r: bool) -> Result<(), OpError> {
        self.inner.deploy(a, r)
    }
    fn services(&self, a: &AppRef) -> Result<Vec<ServiceState>, OpError> {
        self.inner.services(a)
    }
    fn replicas(&self, a: &AppRef) -> Result<Vec<ServiceState>, OpError> {
        self.inner.replicas(a)
    }
    fn exec(&self, a: &AppRef, s: &str, c: &str) -> Result<String, OpError> {
        self.inner.exec(a, s, c)
    }
    fn backup_create(&self, a: &AppRef) -> Result<(), OpError> {
        self.inner.backup_create(a)
    }
    fn backup_holds(&self, a: &AppRef, n: &str) -> Result<bool, OpError> {
        self.inner.backup_holds(a, n)
    }
    fn restore(&self, a: &AppRef) -> Result<(), OpError> {
        self.inner.restore(a)
    }
    fn lint(&self, d: &std::path::Path, r: &str) -> Result<String, OpError> {
        self.inner.lint(d, r)
    }
    fn teardown(&self, a: &AppRef) -> TeardownReport {
        let state = self.world.state();
        let env = state["deployed"][&a.stack]["env"].clone();
        self.deployed_env.lock().unwrap().push(env);
        self.secrets.lock().unwrap().push(state["secrets"].clone());
        self.inner.teardown(a)
    }
}

struct Green {
    world: World,
    results: ResultsV1,
    lint: String,
    deployed_env: Vec<serde_json::Value>,
}

/// One green run shared by the tests that only look at it (each run costs
/// seconds of fake-tool start-ups).
fn green() -> &'static Green {
    static GREEN: std::sync::OnceLock<Green> = std::sync::OnceLock::new();
    GREEN.get_or_init(|| {
        let world = green_world();
        let platform = world.platform();
        let spy = EnvSpy {
            inner: &platform,
            world: &world,
            deployed_env: Mutex::default(),
            secrets: Mutex::default(),
        };
        let (results, lint) = run_on(&world, &spy, LaneMode::Concurrent);
        let deployed_env = spy.deployed_env.into_inner().unwrap();
        Green {
            world,
            results,
            lint,
            deployed_env,
        }
    })
}

fn run(w: &World, lanes_mode: LaneMode) -> (ResultsV1, String) {
    run_on(w, &w.platform(), lanes_mode)
}

fn run_on(w: &World, platform: &dyn Platform, lanes_mode: LaneMode) -> (ResultsV1, String) {
    let progress = if std::env::var_os("CCCI_TEST_PROGRESS").is_some() {
        Progress::stdout()
    } else {
        Progress::silent()
    };
    run_with(w, platform, lanes_mode, progress)
}

fn run_with(
    w: &World,
    platform: &dyn Platform,
    lanes_mode: LaneMode,
    progress: Progress,
) -> (ResultsV1, String) {
    let inputs = RunInputs {
        plan: &w.plan,
        platform,
        probe: w.probe(),
        progress,
        git_ref: w.head.clone(),
        src: REPO.parse().unwrap(),
        pr: Some(1),
        work_dir: w.out.join("work"),
        lanes: lanes_mode,
        poll: Duration::from_millis(50),
        backup_attempts: 3,
        run_id: "abc123def456".into(),
        git_base: w.git_base.clone(),
    };
    let out = lanes::execute(&inputs);
    (out.results, out.lint_text)
}

fn rung(r: &ResultsV1, rung: Rung) -> (Status, String) {
    let x = &r.rungs[&rung];
    (x.status, x.reason.clone())
}

fn calls_of(w: &World, words: &[&str]) -> Vec<fake_tools::ToolCall> {
    w.host
        .calls()
        .into_iter()
        .filter(|c| c.argv.len() >= words.len() && c.argv[..words.len()] == *words)
        .collect()
}

fn assert_nothing_left(w: &World) {
    let s = w.state();
    for kind in ["services", "volumes", "secrets", "configs", "deployed"] {
        let left: Vec<&String> = s[kind]
            .as_object()
            .map(|m| m.keys().collect())
            .unwrap_or_default();
        assert!(left.is_empty(), "{kind} left after the run: {left:?}");
    }
    let envs: Vec<_> = std::fs::read_dir(w.host.abra_dir.join("servers/default"))
        .unwrap()
        .collect();
    assert!(envs.is_empty(), "env files left: {envs:?}");
}

#[test]
fn green_recipe_passes_every_rung() {
    let g = green();
    let (w, r, lint) = (&g.world, &g.results, &g.lint);
    for rg in Rung::ALL {
        assert_eq!(rung(r, rg).0, Status::Pass, "{rg:?}: {:?}", rung(r, rg).1);
    }
    assert_eq!(r.level, Some(Rung::Lint));
    assert!(r.green);
    assert!(r.teardown.is_empty(), "{:?}", r.teardown);
    assert_eq!(r.lanes[&Lane::Fresh].status, Status::Pass);
    assert_eq!(r.lanes[&Lane::Upgrade].status, Status::Pass);
    assert!(lint.contains("R016"));
    assert_nothing_left(w);
}

#[test]
fn green_run_drives_abra_with_the_flags_that_avoid_its_traps() {
    let g = green();
    let (w, r) = (&g.world, &g.results);
    assert!(r.green);
    // No command reset the recipe checkout (every -C/-o command got them).
    assert_eq!(
        w.state()["resets"],
        serde_json::json!([]),
        "{:#?}",
        w.host.calls()
    );
    for c in calls_of(w, &["app", "deploy"]) {
        assert!(
            c.argv.contains(&"-c".to_owned()),
            "deploy without -c: {}",
            c.line()
        );
    }
    for c in calls_of(w, &["app", "secret", "generate"]) {
        assert!(c.argv.contains(&"-m".to_owned()), "{}", c.line());
    }
    for words in [
        &["app", "backup", "create"][..],
        &["app", "restore"],
        &["recipe", "lint"],
    ] {
        let calls = calls_of(w, words);
        assert!(!calls.is_empty(), "{words:?} never ran");
        assert!(calls.iter().all(|c| c.tty), "{words:?} without a terminal");
    }
    // Each lane has its own ABRA_DIR: concurrent lanes never share a checkout.
    let dirs: std::collections::BTreeSet<_> = calls_of(w, &["app", "new"])
        .into_iter()
        .filter_map(|c| c.abra_dir)
        .collect();
    assert_eq!(dirs.len(), 2, "{dirs:?}");
}

#[test]
fn every_app_is_torn_down_exactly_once() {
    let g = green();
    let (w, r) = (&g.world, &g.results);
    let news: Vec<String> = calls_of(w, &["app", "new"])
        .iter()
        .map(|c| c.argv[6].clone())
        .collect();
    let undeploys: Vec<String> = calls_of(w, &["app", "undeploy"])
        .iter()
        .map(|c| c.argv[2].clone())
        .collect();
    assert_eq!(news.len(), 2);
    let mut a = news.clone();
    let mut b = undeploys.clone();
    a.sort();
    b.sort();
    assert_eq!(a, b);
    assert_eq!(
        r.lanes[&Lane::Fresh].domain.len(),
        "cust-000000.ci.example.org".len()
    );
}

#[test]
fn upgrade_that_loses_the_marker_fails_the_upgrade_rung_only() {
    // The PR renames the volume: a fresh install is fine, an upgrade loses the data.
    let w = World::new(
        vec![release("1.0.0+1.25"), release("1.1.0+1.27")],
        pr_head(compose("1.2.0+1.27", "html", "DOMAIN")),
    );
    let (r, _) = run(&w, LaneMode::Concurrent);
    let (st, why) = rung(&r, Rung::Upgrade);
    assert_eq!(st, Status::Fail);
    assert!(why.contains("the upgrade lost the marker"), "{why}");
    // The other lane's results are all there.
    assert_eq!(rung(&r, Rung::Install).0, Status::Pass);
    assert_eq!(rung(&r, Rung::BackupRestore).0, Status::Pass);
    assert!(!r.green);
    assert_eq!(r.level, Some(Rung::Install));
    assert_nothing_left(&w);
}

#[test]
fn upgrade_that_silently_rolls_back_fails() {
    let w = green_world();
    w.host
        .set_control(serde_json::json!({"rollback": ["cust-*"]}));
    let (r, _) = run(&w, LaneMode::Concurrent);
    let (st, why) = rung(&r, Rung::Upgrade);
    assert_eq!(st, Status::Fail);
    assert!(why.contains("rolled back"), "{why}");
    assert_eq!(rung(&r, Rung::Install).0, Status::Pass);
    assert!(!r.green);
}

#[test]
fn chaos_version_that_is_not_the_head_fails() {
    let w = green_world();
    w.host
        .set_control(serde_json::json!({"stale_chaos_version": ["cust-*"]}));
    let (r, _) = run(&w, LaneMode::Concurrent);
    let (st, why) = rung(&r, Rung::Upgrade);
    assert_eq!(st, Status::Fail);
    assert!(
        why.contains("chaos-version") && why.contains("expected the head"),
        "{why}"
    );
}

#[test]
fn backup_that_succeeds_without_the_data_fails_after_bounded_redos() {
    let w = green_world();
    w.host
        .set_control(serde_json::json!({"backup_lies": ["cust-*"]}));
    let (r, _) = run(&w, LaneMode::Concurrent);
    let (st, why) = rung(&r, Rung::BackupRestore);
    assert_eq!(st, Status::Fail);
    assert!(why.contains("the backup does not hold the marker"), "{why}");
    assert_eq!(calls_of(&w, &["app", "backup", "create"]).len(), 3);
    assert!(
        calls_of(&w, &["app", "restore"]).is_empty(),
        "restored from a bad backup"
    );
    assert_eq!(rung(&r, Rung::Install).0, Status::Pass);
    assert_eq!(rung(&r, Rung::Upgrade).0, Status::Pass);
}

#[test]
fn restore_that_does_not_bring_the_data_back_fails() {
    let w = green_world();
    w.host
        .set_control(serde_json::json!({"lose_volume_data": ["cust-*"]}));
    let (r, _) = run(&w, LaneMode::Concurrent);
    let (st, why) = rung(&r, Rung::BackupRestore);
    assert_eq!(st, Status::Fail);
    assert!(why.contains("after restore the marker reads"), "{why}");
}

#[test]
fn traefik_fallback_404_fails_install() {
    // A Host rule naming an unset variable: no router ever matches the domain.
    let mut w = World::new(
        vec![release("1.0.0+1.25"), release("1.1.0+1.27")],
        pr_head(compose("1.2.0+1.27", "content", "DOMAIN_TYPO")),
    );
    w.plan.timeouts.deploy_secs = 2;
    let (r, _) = run(&w, LaneMode::Concurrent);
    let (st, why) = rung(&r, Rung::Install);
    assert_eq!(st, Status::Fail);
    assert!(why.contains("Traefik's fallback 404"), "{why}");
    assert_eq!(rung(&r, Rung::BackupRestore).0, Status::Unverified);
    assert_eq!(rung(&r, Rung::Functional).0, Status::Unverified);
    assert_eq!(r.level, None);
    assert_nothing_left(&w);
}

#[test]
fn no_older_release_is_an_intentional_skip_not_a_failure() {
    let w = World::new(
        vec![release("1.0.0+1.25")],
        pr_head(compose("1.0.0+1.25", "content", "DOMAIN")),
    );
    let (r, _) = run(&w, LaneMode::Concurrent);
    let (st, why) = rung(&r, Rung::Upgrade);
    assert_eq!(st, Status::Skip);
    assert!(
        why.contains("no release older than the head's version 1.0.0+1.25"),
        "{why}"
    );
    assert!(r.green);
    assert_eq!(r.level, Some(Rung::Lint));
    assert_eq!(
        calls_of(&w, &["app", "new"]).len(),
        1,
        "no upgrade app is created"
    );
}

#[test]
fn a_crash_looping_head_fails_install_within_the_deploy_budget() {
    let mut w = green_world();
    w.plan.timeouts.deploy_secs = 2;
    w.host
        .set_control(serde_json::json!({"crash_loop": ["cust-*"]}));
    let (r, _) = run(&w, LaneMode::Concurrent);
    let (st, why) = rung(&r, Rung::Install);
    assert_eq!(st, Status::Fail);
    assert!(why.contains("not converged"), "{why}");
    assert_nothing_left(&w);
}

#[test]
fn sequential_lanes_give_the_same_results() {
    let w = green_world();
    let (r, _) = run(&w, LaneMode::Sequential);
    assert!(r.green, "{:#?}", r.rungs);
    assert_eq!(r.level, Some(Rung::Lint));
}

#[test]
fn lint_failures_are_reported_but_never_fail_the_run() {
    let w = green_world();
    w.host
        .set_control(serde_json::json!({"lint_failed": ["R010"]}));
    let (r, _) = run(&w, LaneMode::Concurrent);
    assert!(r.green);
    let r010 = r
        .checks
        .iter()
        .find(|c| c.name.starts_with("R010"))
        .unwrap();
    assert_eq!(r010.status, Status::Fail);
}

#[test]
fn a_ref_that_does_not_exist_is_unverified_everywhere() {
    let mut w = green_world();
    w.head = "0".repeat(40);
    let (r, _) = run(&w, LaneMode::Concurrent);
    assert!(!r.green);
    for rg in Rung::ALL {
        assert_eq!(rung(&r, rg).0, Status::Unverified, "{rg:?}");
    }
    assert!(rung(&r, Rung::Install).1.contains("recipe fetch"));
    assert!(calls_of(&w, &["app", "new"]).is_empty());
}

#[test]
fn the_checkout_is_the_exact_pr_commit() {
    let g = green();
    let (w, r) = (&g.world, &g.results);
    assert!(r.green);
    let short = &w.head[..8];
    // The fresh lane's deploy carried the head's chaos-version; the upgrade
    // check compared it to the full head.
    let up = r
        .checks
        .iter()
        .find(|c| c.name == "head deployed, no rollback")
        .unwrap();
    assert!(up.detail.contains(short), "{}", up.detail);
    let _ = HTML;
    let _ = w;
}

#[test]
fn every_deploy_has_lets_encrypt_env_empty_and_the_env_file_intact() {
    let g = green();
    assert_eq!(g.deployed_env.len(), 2, "one env per lane");
    for env in &g.deployed_env {
        // The sample said production and had no final newline: the edit
        // replaced the key in place and glued nothing onto the last line.
        assert_eq!(env["LETS_ENCRYPT_ENV"], "", "{env:#}");
        assert_eq!(env["RECIPE"], "custom-html", "{env:#}");
        assert!(
            env["DOMAIN"].as_str().unwrap().ends_with(".ci.example.org"),
            "{env:#}"
        );
    }
}

/// Progress lines kept in memory.
#[derive(Clone, Default)]
struct Lines(std::sync::Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Lines {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_pr_that_adds_a_secret_upgrades_green_without_showing_its_value() {
    // The head declares api_key, which the base releases never had: the app
    // the upgrade lane created from the base has no such secret.
    let head = format!(
        "{}secrets:\n  api_key:\n    external: true\n    name: ${{STACK_NAME}}_api_key_${{SECRET_API_KEY_VERSION}}\n",
        compose("1.2.0+1.27", "content", "DOMAIN")
    );
    let w = World::new(
        vec![release("1.0.0+1.25"), release("1.1.0+1.27")],
        pr_head(head),
    );
    let platform = w.platform();
    let spy = EnvSpy {
        inner: &platform,
        world: &w,
        deployed_env: Mutex::default(),
        secrets: Mutex::default(),
    };
    let lines = Lines::default();
    let (r, lint) = run_with(
        &w,
        &spy,
        LaneMode::Concurrent,
        Progress::to(Box::new(lines.clone())),
    );
    for rg in [Rung::Install, Rung::Upgrade] {
        assert_eq!(rung(&r, rg).0, Status::Pass, "{rg:?}: {}", rung(&r, rg).1);
    }
    // Exactly the new secret was generated by name, machine output, and only
    // in the upgrade lane (the fresh lane generates everything at app new).
    let by_name: Vec<_> = calls_of(&w, &["app", "secret", "generate"])
        .into_iter()
        .filter(|c| !c.argv.contains(&"--all".to_owned()))
        .collect();
    assert_eq!(by_name.len(), 1, "{by_name:#?}");
    assert_eq!(by_name[0].argv[4..6], ["api_key", "v1"]);
    assert!(by_name[0].argv.contains(&"-m".to_owned()));
    assert_eq!(by_name[0].argv[3], r.lanes[&Lane::Upgrade].domain);

    // A BTreeSet: both lanes share one fake host, each teardown sees both.
    let values: std::collections::BTreeSet<String> = spy
        .secrets
        .lock()
        .unwrap()
        .iter()
        .flat_map(|m| m.as_object().cloned().unwrap_or_default())
        .filter(|(name, _)| name.contains("_api_key_"))
        .filter_map(|(_, v)| v["generated"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(values.len(), 2, "one api_key per lane: {values:?}");
    let out = tempfile::tempdir().unwrap();
    ccci::run::report::write_all(out.path(), &r, &lint).unwrap();
    let mut shown = vec![(
        "progress".to_owned(),
        String::from_utf8(lines.0.lock().unwrap().clone()).unwrap(),
    )];
    for f in std::fs::read_dir(out.path()).unwrap() {
        let p = f.unwrap().path();
        shown.push((
            p.display().to_string(),
            std::fs::read_to_string(&p).unwrap(),
        ));
    }
    assert!(shown[0].1.contains("api_key"), "{}", shown[0].1);
    for (what, text) in &shown {
        for v in &values {
            assert!(!text.contains(v.as_str()), "a generated value is in {what}");
        }
    }
    assert_nothing_left(&w);
}
