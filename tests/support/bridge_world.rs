//! A world for bridge tests: a fake Gitea and a fake Drone, a state and a runs
//! directory, a bridge config pointing at them, and a bridge that runs
//! in-process with intervals scaled down (20 ms poll) and can be killed
//! (its task dropped) and started again at will.
//!
//! Tests never sleep and hope: they wait for an event. [`World::wait_for`]
//! re-checks its condition whenever a fake served a request or the bridge
//! finished a round of work; [`Running::quiet`] waits until the bridge has
//! looked again (two more feed polls, each followed by working its jobs, and
//! a round over its followed builds), which is what "nothing more happens"
//! means for a loop driven by those rounds.
//!
//! The bridge talks to the fakes over real sockets, so tokio's paused clock
//! cannot stand in for time here: with I/O in flight the runtime would jump
//! straight to the client's timeout. The rounds are the clock instead.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ccci::bridge::exec::{Bridge, Progress};
use ccci::bridge::metrics::Metrics;
use ccci::bridge::{Secrets, Settings, Tuning};
use ccci::config::{BridgeConfigV1, BridgeCredentials, CONFIG_SCHEMA};
use ccci::header::JsonHeader;
use serde_json::Value;
use tokio::sync::watch;

use super::fake_drone::FakeDrone;
use super::fake_gitea::{FakeGitea, GITEA_TOKEN};

pub const ORG: &str = "coop-cloud";
pub const BOT: &str = "ccci-bot";
pub const CI_REPO: &str = "coop-cloud/ccci";
pub const REPO: &str = "coop-cloud/custom-html";
pub const RECIPE: &str = "custom-html";
pub const SHA: &str = "9fc1ad6ebf12462f3f9773003e26b4c6f54a772e";
pub const SHA2: &str = "1111111111111111111111111111111111111111";
pub const FORK: &str = "bob/custom-html";
pub const HOOK_SECRET: &str = "hook-secret-value-123";

pub struct World {
    pub gitea: FakeGitea,
    pub drone: FakeDrone,
    pub state: tempfile::TempDir,
    pub runs: tempfile::TempDir,
    pub repos: BTreeMap<String, String>,
    pub tuning: Tuning,
    pub webhook: bool,
    /// The bridge takes Drone's signed build events on `/drone-hook`
    /// (secret [`super::drone_webhook::DRONE_HOOK_SECRET`]).
    pub drone_hook: bool,
    /// The progress of the bridge started last, for [`World::wait_for`].
    progress: Mutex<Option<watch::Receiver<Progress>>>,
}

/// A running bridge; dropping it kills it (its task is aborted).
pub struct Running {
    task: tokio::task::JoinHandle<()>,
    pub addr: SocketAddr,
    pub metrics: Arc<Metrics>,
    progress: watch::Receiver<Progress>,
}

/// How long any event-driven wait may take before the test fails.
const PATIENCE: Duration = Duration::from_secs(10);

impl Running {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn progress(&self) -> Progress {
        *self.progress.borrow()
    }

    /// Wait until the bridge's progress satisfies `cond`.
    pub async fn until(&self, mut cond: impl FnMut(&Progress) -> bool) {
        let mut rx = self.progress.clone();
        let waited = tokio::time::timeout(PATIENCE, rx.wait_for(|p| cond(p))).await;
        assert!(
            matches!(waited, Ok(Ok(_))),
            "the bridge made no such progress: {:?}",
            self.progress()
        );
    }

    /// The bridge has looked again since now: two more feed polls (each
    /// followed by working the due jobs) and one more round over the followed
    /// builds. Anything the present state calls for has been done by then.
    pub async fn quiet(&self) {
        let at = self.progress();
        self.until(|p| p.feed_polls >= at.feed_polls + 2 && p.follow_rounds > at.follow_rounds)
            .await;
    }

    /// `n` more complete sweeps (each followed by working the due jobs).
    pub async fn sweeps(&self, n: u64) {
        let at = self.progress().sweeps;
        self.until(|p| p.sweeps >= at + n).await;
    }

    /// Kill the bridge at whatever await point it is at.
    pub async fn kill(mut self) {
        self.task.abort();
        let _ = (&mut self.task).await;
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub fn fast_tuning() -> Tuning {
    Tuning {
        poll_interval: Duration::from_millis(20),
        sweep_interval: Duration::from_secs(3600),
        follow_interval: Duration::from_millis(20),
        retry_base: Duration::from_millis(20),
        retry_cap: Duration::from_millis(160),
        fatal_retry: Duration::from_millis(120),
        http_timeout: Duration::from_secs(5),
        settle: Duration::from_millis(300),
        sweep_overlap: Duration::from_secs(60),
        max_comment_age: Duration::from_secs(24 * 3600),
        max_trigger_attempts: 3,
    }
}

impl World {
    /// One enrolled recipe repository with PR 1 open at `SHA` from a fork;
    /// `alice` is an org member, `mallory` is not.
    pub fn new() -> World {
        Self::with_repos(&[(REPO, RECIPE)])
    }

    pub fn with_repos(repos: &[(&str, &str)]) -> World {
        let gitea = FakeGitea::start(ORG, BOT);
        gitea.add_member("alice");
        for (r, _) in repos {
            gitea.add_repo(r);
        }
        if repos.iter().any(|(r, _)| *r == REPO) {
            gitea.add_pr(REPO, 1, SHA, Some(FORK));
        }
        let drone = FakeDrone::start();
        drone.add_repo(CI_REPO, true);
        World {
            gitea,
            drone,
            state: state_dir(),
            runs: tempfile::tempdir().expect("runs dir"),
            repos: repos
                .iter()
                .map(|(r, n)| ((*r).to_owned(), (*n).to_owned()))
                .collect(),
            tuning: fast_tuning(),
            webhook: false,
            drone_hook: false,
            progress: Mutex::new(None),
        }
    }

    /// The config as ccci-gen would render it for this world.
    pub fn config(&self) -> BridgeConfigV1 {
        BridgeConfigV1 {
            header: JsonHeader,
            schema: CONFIG_SCHEMA,
            gitea_url: self.gitea.url().parse().expect("gitea url"),
            org: ORG.parse().expect("org"),
            bot_user: BOT.parse().expect("bot"),
            drone_url: self.drone.url().parse().expect("drone url"),
            ci_repo: CI_REPO.parse().expect("ci repo"),
            ci_branch: "main".parse().expect("word"),
            repos: self
                .repos
                .iter()
                .map(|(r, n)| (r.parse().expect("slug"), n.parse().expect("recipe")))
                .collect(),
            trigger: "!testme".parse().expect("word"),
            allowlist: vec![],
            poll_interval_secs: 2,
            sweep_interval_secs: 600,
            listen: "127.0.0.1:0".parse().expect("addr"),
            webhook: self.webhook,
            runs_dir: self
                .runs
                .path()
                .to_str()
                .expect("utf-8")
                .parse()
                .expect("abs path"),
            credentials: BridgeCredentials {
                gitea_token: "gitea_token".into(),
                drone_token: "drone_token".into(),
                webhook_secret: self.webhook.then(|| "webhook_secret".into()),
                drone_hook_secret: self.drone_hook.then(|| "drone_hook_secret".into()),
            },
        }
    }

    pub fn settings(&self) -> Settings {
        Settings::from_config(&self.config(), self.state.path()).with_tuning(self.tuning.clone())
    }

    pub fn secrets(&self) -> Secrets {
        Secrets {
            gitea_token: GITEA_TOKEN.to_owned(),
            drone_token: self.drone.token(),
            webhook_secret: self.webhook.then(|| HOOK_SECRET.as_bytes().to_vec()),
            drone_hook_secret: self
                .drone_hook
                .then(|| super::drone_webhook::DRONE_HOOK_SECRET.as_bytes().to_vec()),
        }
    }

    /// Start a bridge on this world's state directory.
    pub async fn start(&self) -> Running {
        self.start_with(self.settings()).await
    }

    pub async fn start_with(&self, settings: Settings) -> Running {
        let metrics = Arc::new(Metrics::default());
        let bridge = Bridge::new(settings, self.secrets(), metrics.clone()).expect("bridge starts");
        let progress = bridge.progress();
        *self.progress.lock().unwrap_or_else(|p| p.into_inner()) = Some(progress.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let task = tokio::spawn(bridge.run(Some(listener)));
        Running {
            task,
            addr,
            metrics,
            progress,
        }
    }

    /// Wait until `cond` holds, re-checking it each time a fake served a
    /// request or the bridge finished a round; false after `timeout`.
    pub async fn wait_for(&self, timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
        let mut gitea = Some(self.gitea.served());
        let mut drone = Some(self.drone.served());
        let mut bridge = self
            .progress
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if cond() {
                return true;
            }
            tokio::select! {
                () = changed(&mut gitea) => {}
                () = changed(&mut drone) => {}
                () = changed(&mut bridge) => {}
                () = tokio::time::sleep_until(deadline) => return cond(),
            }
        }
    }

    pub fn builds(&self) -> Vec<Value> {
        self.drone.builds(CI_REPO)
    }

    /// Build params as a sorted map of strings.
    pub fn params(build: &Value) -> BTreeMap<String, String> {
        build["params"]
            .as_object()
            .map(|o| {
                o.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_owned()))
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn runs_dir(&self) -> PathBuf {
        self.runs.path().to_owned()
    }

    /// Write `<runs>/<n>/results.json` (and summary.md) as `ccci run` would.
    pub fn write_results(&self, build: u64, git_ref: &str, green: bool, summary: &str) {
        let dir = self.runs.path().join(build.to_string());
        std::fs::create_dir_all(&dir).expect("run dir");
        let install = if green { "pass" } else { "fail" };
        let results = serde_json::json!({
            "schema": 1, "recipe": RECIPE, "git_ref": git_ref, "src": FORK, "pr": 1,
            "run_id": "custom-html-abc123", "started_at": "2026-01-01T00:00:00Z",
            "duration_secs": 61.0,
            "level": if green { serde_json::json!("backup_restore") } else { Value::Null },
            "green": green,
            "rungs": {
                "install": { "status": install, "reason": if green { "" } else { "health check answered 502" }, "duration_secs": 20.0 },
                "upgrade": { "status": "skip", "reason": "no earlier release", "duration_secs": 0.0 },
                "backup_restore": { "status": if green { "pass" } else { "unverified" }, "reason": "", "duration_secs": 30.0 }
            },
            "lanes": {}, "checks": [], "teardown": []
        });
        std::fs::write(
            dir.join("results.json"),
            serde_json::to_vec_pretty(&results).expect("json"),
        )
        .expect("write results");
        std::fs::write(dir.join("summary.md"), summary).expect("write summary");
    }
}

/// A state directory in memory when the machine has one: every ledger save
/// is fsynced (about 8 ms each on a disk), and the kills these tests inflict
/// abort a task, not the OS, so what they test does not depend on the disk.
/// That a save survives a torn write is unit-tested in `ledger.rs`.
fn state_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("ccci-bridge-state")
        .tempdir_in("/dev/shm")
        .or_else(|_| tempfile::tempdir())
        .expect("state dir")
}

/// The next change of a watched value; never, once its sender is gone.
async fn changed<T>(rx: &mut Option<watch::Receiver<T>>) {
    let gone = match rx {
        Some(r) => r.changed().await.is_err(),
        None => std::future::pending().await,
    };
    if gone {
        *rx = None;
    }
}

/// Poll `cond` every 10 ms until it holds or `timeout` passes. For the
/// benchmarks, which measure latencies against a fixed clock; scenarios use
/// [`World::wait_for`].
pub async fn wait_for(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() > end {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// HMAC-SHA256 hex of `body` under the test secret.
pub fn sign(body: &[u8]) -> String {
    use hmac::{Hmac, KeyInit, Mac};
    let mut mac =
        <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(HOOK_SECRET.as_bytes()).expect("key");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// The webhook payload Gitea sends for a new PR comment.
pub fn hook_payload(
    gitea: &FakeGitea,
    comment_id: u64,
    repo: &str,
    pr: u64,
    user: &str,
) -> Vec<u8> {
    let body = gitea.comment_body(comment_id).expect("comment exists");
    let now = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .expect("formats");
    let html = format!("{}/{repo}/pulls/{pr}", gitea.url());
    serde_json::to_vec(&serde_json::json!({
        "action": "created",
        "issue": { "id": 1, "number": pr, "pull_request": { "merged": false } },
        "pull_request": null,
        "comment": {
            "id": comment_id, "html_url": format!("{html}#issuecomment-{comment_id}"),
            "pull_request_url": html, "issue_url": "",
            "user": { "id": 7, "login": user }, "body": body,
            "created_at": now, "updated_at": now
        },
        "repository": { "id": 12, "full_name": repo },
        "sender": { "id": 7, "login": user },
        "is_pull": true
    }))
    .expect("json")
}
