//! `ccci run` against the real Docker engine (tests/support/engine.rs): the
//! abra double deploys for real, ccci's own docker calls (services, tasks,
//! labels, update state, exec, volumes, secrets, teardown verification) meet
//! the engine. Each scenario ends with the engine asked for anything of the
//! run left. Excluded from the default `cargo nextest run`
//! (.config/nextest.toml); scripts/test runs them when docker answers.

#[path = "support/engine.rs"]
mod engine;
#[path = "support/https_app.rs"]
mod https_app;

use ccci::registry::Rung;
use ccci::results::Status;
use engine::{AppCmd, CallLog, Run, compose, pr_head, release, run, runs};

const GOOD: AppCmd = AppCmd::Serve {
    page: "custom-html",
};

fn rung_status(r: &Run, rung: Rung) -> (Status, String) {
    let res = r.results();
    let x = &res.rungs[&rung];
    (x.status, x.reason.clone())
}

#[test]
fn engine_green_run_with_both_lanes() {
    let prefix = "cctg";
    let engine = engine::Engine::acquire();
    let r = Run::new(
        "cctg-green",
        &[
            release("1.0.0+1.0", GOOD),
            release("1.1.0+1.0", GOOD),
            pr_head(compose("1.2.0+1.0", &GOOD, false)),
        ],
    );
    // Every abra and docker call ccci makes is logged with its start and
    // end: the time no call is under way is ccci's own.
    let calls = CallLog::new(r.dir.path());
    *engine::GATEWAY_LOG.lock().unwrap() = Some(calls.log.clone());
    let start = std::time::Instant::now();
    let start_ns = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let out = r
        .command(&engine)
        .env("CCCI_ABRA", &calls.abra)
        .env("CCCI_DOCKER", &calls.docker)
        .output()
        .unwrap();
    let wall = start.elapsed().as_secs_f64();
    *engine::GATEWAY_LOG.lock().unwrap() = None;
    let left = engine::objects_named(prefix);
    engine::remove_all(prefix);
    drop(engine);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(left.is_empty(), "left on the engine: {left:?}");
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    eprintln!("{}", String::from_utf8_lossy(&out.stdout));
    let res = r.results();
    assert!(res.green, "{:#?}\n{stderr}", res.rungs);
    assert!(res.teardown.is_empty(), "{:?}", res.teardown);
    for (rung, x) in &res.rungs {
        eprintln!(
            "{rung:?}: {:?} {:.1} s {}",
            x.status, x.duration_secs, x.reason
        );
    }
    for (lane, x) in &res.lanes {
        eprintln!("lane {lane:?}: {:?} {:.1} s", x.status, x.duration_secs);
    }
    let logged = calls.calls();
    let busy = calls.busy_secs();
    let in_prog = |p: &str| -> f64 {
        logged
            .iter()
            .filter(|c| c.prog == p)
            .map(|c| (c.end_ns - c.start_ns) as f64 / 1e9)
            .sum()
    };
    let own = (wall - busy).max(0.0);
    eprintln!(
        "green run: wall {wall:.1} s; abra/docker/gateway under way {busy:.1} s ({} calls; summed over both lanes: abra {:.1} s, docker {:.1} s, HTTPS through the gateway {:.1} s); ccci's own {own:.2} s = {:.1} %",
        logged.len(),
        in_prog("abra"),
        in_prog("docker"),
        in_prog("gateway"),
        100.0 * own / wall
    );
    // A pause between two looks at the swarm (or two health probes) is the
    // poll interval while the engine converges, not work of ccci's.
    let all_gaps = calls.gaps(start_ns, usize::MAX);
    let polling: f64 = all_gaps
        .iter()
        .filter(|(_, _, what)| {
            let looks = |s: &str| {
                [
                    "docker service ls",
                    "docker service inspect",
                    "docker service ps",
                    "gateway GET",
                ]
                .iter()
                .any(|l| s.starts_with(l))
            };
            what.strip_prefix("after ")
                .and_then(|w| w.split_once(" / before "))
                .is_some_and(|(a, b)| looks(a) && looks(b))
        })
        .map(|g| g.1)
        .sum();
    let beyond = own - polling;
    eprintln!(
        "  of ccci's own time, {polling:.2} s are poll intervals while waiting for the engine; the rest, {beyond:.2} s = {:.1} % of the wall time, is ccci's overhead",
        100.0 * beyond / wall
    );
    for (at, secs, what) in all_gaps.iter().take(8) {
        eprintln!("  idle {secs:.2} s at {at:.1} s {what}");
    }
    // The goal is 10 % (measured alone: ~7 %); the bound leaves room for
    // the engine tests running side by side on a loaded host.
    assert!(
        beyond / wall <= 0.25,
        "ccci's overhead {beyond:.2} s of {wall:.1} s"
    );
}

/// When the first container of the recipe's stacks to exit with a failure
/// finished, as the engine recorded it.
fn first_failed_container(prefix: &str) -> Option<time::OffsetDateTime> {
    let ids = engine::docker(&[
        "ps",
        "-a",
        "--filter",
        "status=exited",
        "--filter",
        &format!("name={prefix}"),
        "--format",
        "{{.ID}}",
    ]);
    String::from_utf8_lossy(&ids.stdout)
        .lines()
        .filter_map(|id| {
            let o = engine::docker(&[
                "inspect",
                "--format",
                "{{.State.ExitCode}} {{.State.FinishedAt}}",
                id.trim(),
            ]);
            let text = String::from_utf8_lossy(&o.stdout).trim().to_owned();
            let (code, at) = text.split_once(' ')?;
            (code != "0")
                .then(|| {
                    time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339)
                        .ok()
                })
                .flatten()
        })
        .min()
}

#[test]
fn engine_crash_looping_app_is_red_at_install_within_30_s_of_its_first_failure() {
    use std::io::BufRead;
    let prefix = "cctc";
    let engine = engine::Engine::acquire();
    let r = Run::new(
        "cctc-crash",
        &[
            release("1.0.0+1.0", GOOD),
            pr_head(compose("1.1.0+1.0", &AppCmd::Crash, false)),
        ],
    );
    let mut child = r
        .command(&engine)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    // Watch the engine for the first failed task while the run waits: the
    // swarm removes the containers once the run tears the app down.
    let done = std::sync::atomic::AtomicBool::new(false);
    let (first_failure, red_at) = std::thread::scope(|s| {
        let watcher = s.spawn(|| {
            let mut first = None;
            while first.is_none() && !done.load(std::sync::atomic::Ordering::Relaxed) {
                first = first_failed_container(prefix);
                if first.is_none() {
                    std::thread::sleep(std::time::Duration::from_millis(250));
                }
            }
            first
        });
        let mut red_at = None;
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            // The wait for health ended and the install rung is decided.
            if red_at.is_none() && line.contains("fresh: tearing down") {
                red_at = Some(time::OffsetDateTime::now_utc());
            }
        }
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        (watcher.join().unwrap(), red_at)
    });
    let out = child.wait_with_output().unwrap();
    let left = engine::objects_named(prefix);
    engine::remove_all(prefix);
    drop(engine);
    assert!(left.is_empty(), "left on the engine: {left:?}");
    assert_eq!(out.status.code(), Some(1));
    let (status, reason) = rung_status(&r, Rung::Install);
    assert_eq!(status, Status::Fail, "{reason}");
    assert!(reason.starts_with("crash loop: "), "{reason}");
    assert!(reason.contains("non-zero exit (1)"), "{reason}");
    let first = first_failure.expect("the engine showed a failed task");
    let red = red_at.expect("the fresh lane tore down");
    let secs = (red - first).as_seconds_f64();
    eprintln!("crash loop: first failed task to red install rung {secs:.1} s; {reason}");
    assert!(
        secs <= 30.0,
        "{secs:.1} s from the first failed task to red"
    );
}

#[test]
fn engine_upgrade_rolled_back_by_the_swarm_is_red_at_upgrade() {
    let (r, out, _) = run(
        "cctr-rollback",
        &[
            release("1.0.0+1.0", GOOD),
            pr_head(compose("1.1.0+1.0", &GOOD, true)),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let (status, reason) = rung_status(&r, Rung::Upgrade);
    assert_eq!(status, Status::Fail, "{reason}");
    eprintln!("rollback: upgrade {status:?}: {reason}");
}

#[test]
fn engine_app_serving_the_wrong_content_is_red_at_install() {
    let wrong = AppCmd::Serve {
        page: "Welcome to nginx!",
    };
    let (r, out, _) = run(
        "cctw-wrong",
        &[
            release("1.0.0+1.0", GOOD),
            pr_head(compose("1.1.0+1.0", &wrong, false)),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let (status, reason) = rung_status(&r, Rung::Install);
    assert_eq!(status, Status::Fail, "{reason}");
    assert!(reason.contains("home page"), "{reason}");
}

#[test]
fn engine_teardown_waits_out_a_task_that_stops_slowly() {
    // The task ignores SIGTERM and holds its volume until it is killed:
    // removing the volume right after the undeploy fails "volume is in use".
    let slow = AppCmd::SlowStop {
        page: "custom-html",
    };
    let (r, out, _) = run(
        "ccts-slowstop",
        &[
            release("1.0.0+1.0", GOOD),
            pr_head(compose("1.1.0+1.0", &slow, false)),
        ],
    );
    let res = r.results();
    assert!(res.teardown.is_empty(), "{:?}", res.teardown);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn engine_two_runs_of_one_recipe_at_once_are_both_green_and_leave_nothing() {
    let commits = || {
        [
            release("1.0.0+1.0", GOOD),
            pr_head(compose("1.1.0+1.0", &GOOD, false)),
        ]
    };
    let (one, two) = (commits(), commits());
    let done = runs("cctt-twice", &[&one, &two]);
    let (a, b) = (&done[0], &done[1]);
    for (r, out, _) in [a, b] {
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(r.results().green);
    }
    let domains = |r: &Run| -> Vec<String> {
        r.results()
            .lanes
            .values()
            .map(|l| l.domain.clone())
            .collect()
    };
    let (da, db) = (domains(&a.0), domains(&b.0));
    assert!(da.iter().all(|d| !db.contains(d)), "{da:?} {db:?}");
}
