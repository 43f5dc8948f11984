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
use engine::{AppCmd, Run, compose, pr_head, release, run, runs};

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
    let (r, out, secs) = run(
        "cctg-green",
        &[
            release("1.0.0+1.0", GOOD),
            release("1.1.0+1.0", GOOD),
            pr_head(compose("1.2.0+1.0", &GOOD, false)),
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
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
    for c in &res.checks {
        eprintln!(
            "  {:?}/{:?} {} {:.2} s {}",
            c.rung, c.lane, c.name, c.duration_secs, c.detail
        );
    }
    for (lane, x) in &res.lanes {
        eprintln!("lane {lane:?}: {:?} {:.1} s", x.status, x.duration_secs);
    }
    eprintln!("green run wall time {secs:.1} s");
}

#[test]
fn engine_crash_looping_app_is_red_at_install() {
    let crash = AppCmd::Crash;
    let (r, out, _) = run(
        "cctc-crash",
        &[
            release("1.0.0+1.0", GOOD),
            pr_head(compose("1.1.0+1.0", &crash, false)),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let (status, reason) = rung_status(&r, Rung::Install);
    assert_eq!(status, Status::Fail, "{reason}");
    eprintln!("crash loop: install {:?}: {reason}", status);
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
