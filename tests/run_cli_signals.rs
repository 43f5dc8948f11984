//! `ccci run` stopped from outside, with real signals, over the fake host
//! (abra and docker fakes, real git, a real HTTPS gateway): SIGTERM while it
//! waits for a service that never converges (then SIGINT and SIGHUP during
//! the teardown), and the parent shell `kill -9`ed. Each time every app is gone,
//! `results.json` is written with the running rung `unverified` and the
//! reason, and an `--out` that was not empty is refused before anything ran.
//! The random-point variants run in memory (tests/run_interrupt.rs).
//! Last, `ccci janitor` over the same fakes: a live run's apps are left
//! alone, and a run killed with -9 leaves orphans the janitor reaps.

#[allow(dead_code)]
#[path = "support/fake_tools.rs"]
mod fake_tools;
#[path = "support/https_app.rs"]
mod https_app;
#[path = "support/recipe_fixture.rs"]
mod recipe_fixture;
#[path = "support/run_fixture.rs"]
mod run_fixture;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use ccci::registry::Rung;
use ccci::results::{ResultsV1, Status};
use run_fixture::{REPO, World, compose, pr_head, release};

/// A run whose app never converges: it waits until it is stopped.
fn stuck_world() -> World {
    let w = World::new(
        vec![release("1.0.0+1.25"), release("1.1.0+1.27")],
        pr_head(compose("1.2.0+1.27", "content", "DOMAIN")),
    );
    w.host
        .set_control(serde_json::json!({"crash_loop": ["cust-*"]}));
    w
}

fn run_args(w: &World, c: &mut Command) {
    c.args(["run", "--plan"])
        .arg(&w.plan_path)
        .args(["--ref", &w.head, "--src", REPO, "--pr", "1", "--out"])
        .arg(&w.out)
        .arg("--sequential")
        .env("CCCI_HTTPS_ADDR", w.gateway.addr.to_string())
        .env("CCCI_CA_FILE", w.ca_file())
        .env("CCCI_GIT_URL", &w.git_base);
}

/// Start the binary; its stdout lines arrive on the receiver.
fn spawn(w: &World) -> (Child, mpsc::Receiver<String>) {
    let mut c = w.host.command(env!("CARGO_BIN_EXE_ccci"));
    run_args(w, &mut c);
    let mut child = c
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for l in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(l).is_err() {
                return;
            }
        }
    });
    (child, rx)
}

fn wait_for_line(rx: &mpsc::Receiver<String>, needle: &str) -> Vec<String> {
    let end = Instant::now() + Duration::from_secs(60);
    let mut seen = Vec::new();
    while Instant::now() < end {
        if let Ok(l) = rx.recv_timeout(Duration::from_millis(100)) {
            let hit = l.contains(needle);
            seen.push(l);
            if hit {
                return seen;
            }
        }
    }
    panic!("no line with {needle:?} within 60 s: {seen:#?}");
}

fn kill(sig: &str, pid: u32) {
    let st = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .unwrap();
    assert!(st.success());
}

fn wait_exit(child: &mut Child) -> Option<i32> {
    let end = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            return st.code();
        }
        assert!(Instant::now() < end, "the run did not end after the signal");
        std::thread::sleep(Duration::from_millis(20));
    }
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
    assert!(!w.out.join("work").exists(), "the work dir is removed");
}

fn assert_install_cut(w: &World, why: &str) {
    let r = ResultsV1::read(&w.out.join("results.json")).unwrap();
    assert!(!r.green);
    let install = &r.rungs[&Rung::Install];
    assert_eq!(install.status, Status::Unverified, "{:#?}", r.rungs);
    assert_eq!(install.reason, why);
}

/// SIGTERM while waiting; SIGINT and SIGHUP during the teardown change
/// nothing but a log line.
#[test]
fn sigterm_tears_down_and_writes_results_and_a_second_signal_does_not_abort_it() {
    let w = stuck_world();
    let (mut child, rx) = spawn(&w);
    wait_for_line(&rx, "waiting until healthy");
    let t = Instant::now();
    kill("-TERM", child.id());
    wait_for_line(&rx, "tearing down");
    kill("-INT", child.id());
    kill("-HUP", child.id());
    assert_eq!(wait_exit(&mut child), Some(1));
    let took = t.elapsed();
    assert_install_cut(&w, "interrupted by SIGTERM");
    assert_nothing_left(&w);
    eprintln!("SIGTERM → apps gone and results written: {took:?} (fake host)");
    assert!(took < Duration::from_secs(15), "{took:?}");
}

#[test]
fn the_parent_shell_killed_stops_the_run() {
    let w = stuck_world();
    // The runner's step shell: ccci is its child, as under Drone's exec runner.
    let mut c = w.host.command("sh");
    c.args(["-c", "\"$0\" \"$@\" >/dev/null 2>&1 & wait"])
        .arg(env!("CARGO_BIN_EXE_ccci"));
    run_args(&w, &mut c);
    let mut shell = c.spawn().unwrap();
    // Wait until the stuck wait is on: the first poll of the services.
    let end = Instant::now() + Duration::from_secs(60);
    while !w
        .host
        .calls()
        .iter()
        .any(|c| c.argv.first().is_some_and(|a| a == "service"))
    {
        assert!(Instant::now() < end, "the run never reached the wait");
        std::thread::sleep(Duration::from_millis(50));
    }
    kill("-KILL", shell.id());
    let _ = shell.wait();
    let results = w.out.join("results.json");
    let end = Instant::now() + Duration::from_secs(60);
    while !results.exists() {
        assert!(Instant::now() < end, "no results after the shell died");
        std::thread::sleep(Duration::from_millis(50));
    }
    // results.json is written last but for the modes; let the run finish.
    std::thread::sleep(Duration::from_millis(300));
    assert_install_cut(&w, ccci::run::stop::PARENT_GONE);
    assert_nothing_left(&w);
}

#[test]
fn an_out_that_is_not_empty_is_refused_before_anything_runs() {
    let w = stuck_world();
    std::fs::create_dir_all(&w.out).unwrap();
    std::fs::write(w.out.join("precious"), "keep me").unwrap();
    let beside = w.out.parent().unwrap().join("beside.txt");
    std::fs::write(&beside, "keep me too").unwrap();
    let mut c = w.host.command(env!("CARGO_BIN_EXE_ccci"));
    run_args(&w, &mut c);
    let out = c.output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("must be absent or empty"), "{err}");
    assert!(w.host.calls().is_empty(), "nothing ran");
    assert_eq!(
        std::fs::read_to_string(w.out.join("precious")).unwrap(),
        "keep me"
    );
    assert_eq!(std::fs::read_to_string(&beside).unwrap(), "keep me too");
}

fn janitor(w: &World, extra: &[&str]) -> std::process::Output {
    let mut c = w.host.command(env!("CARGO_BIN_EXE_ccci"));
    c.args(["janitor", "--plan"]).arg(&w.plan_path).args(extra);
    c.output().unwrap()
}

#[test]
fn the_janitor_leaves_a_live_run_alone_and_reaps_it_once_killed() {
    let w = stuck_world();
    let (mut child, rx) = spawn(&w);
    wait_for_line(&rx, "waiting until healthy");
    // Live: its lock is held, whatever the age.
    let out = janitor(&w, &["--max-age", "0s"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!text.contains("reap"), "{text}");
    assert!(!w.state()["services"].as_object().unwrap().is_empty());
    // Killed with -9: no teardown, the kernel drops its locks.
    kill("-KILL", child.id());
    let _ = child.wait();
    let dry = janitor(&w, &["--max-age", "0s", "--dry-run"]);
    let text = String::from_utf8_lossy(&dry.stdout);
    assert!(text.contains("would reap cust-"), "{text}");
    assert!(!w.state()["services"].as_object().unwrap().is_empty());
    let out = janitor(&w, &["--max-age", "0s"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(text.matches("reaped cust-").count(), 1, "{text}");
    let s = w.state();
    for kind in ["services", "volumes", "secrets", "configs", "deployed"] {
        let left: Vec<&String> = s[kind]
            .as_object()
            .map(|m| m.keys().collect())
            .unwrap_or_default();
        assert!(left.is_empty(), "{kind} left after the janitor: {left:?}");
    }
}
