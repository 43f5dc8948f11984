//! The `ccci run` binary: arguments, exit codes (0 green, 1 red, 2 usage or
//! plan error), artifacts and live progress, over the fake host.

#[allow(dead_code)]
#[path = "support/fake_tools.rs"]
mod fake_tools;
#[path = "support/https_app.rs"]
mod https_app;
#[path = "support/run_fixture.rs"]
mod run_fixture;

use std::process::Output;

use ccci::results::ResultsV1;
use run_fixture::{REPO, World, compose, pr_head, release};

fn ccci_run(w: &World, extra: &[&str]) -> Output {
    let ca = w.ca_file();
    let mut c = w.host.command(env!("CARGO_BIN_EXE_ccci"));
    c.args(["run", "--plan"])
        .arg(&w.plan_path)
        .args(["--ref", &w.head, "--src", REPO, "--pr", "1", "--out"])
        .arg(&w.out)
        .env("CCCI_HTTPS_ADDR", w.gateway.addr.to_string())
        .env("CCCI_CA_FILE", &ca)
        .env("CCCI_GIT_URL", &w.git_base)
        .args(extra);
    c.output().unwrap()
}

fn world() -> World {
    World::new(
        vec![release("1.0.0+1.25"), release("1.1.0+1.27")],
        pr_head(compose("1.2.0+1.27", "content", "DOMAIN")),
    )
}

#[test]
fn green_run_exits_0_and_writes_every_artifact() {
    let w = world();
    let out = ccci_run(&w, &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let results = ResultsV1::read(&w.out.join("results.json")).unwrap();
    assert!(results.green);
    assert_eq!(results.git_ref, w.head);
    assert_eq!(results.pr, Some(1));
    let junit = std::fs::read_to_string(w.out.join("junit.xml")).unwrap();
    assert!(
        junit.contains("<testcase") && !junit.contains("<failure"),
        "{junit}"
    );
    let summary = std::fs::read_to_string(w.out.join("summary.md")).unwrap();
    assert!(summary.contains("| install | ✅ pass |"), "{summary}");
    assert!(summary.contains("Level: **lint**"), "{summary}");
    let lint = std::fs::read_to_string(w.out.join("lint.txt")).unwrap();
    assert!(lint.contains("R001"), "{lint}");
    // One progress line per step, each with the elapsed time.
    assert!(stdout.lines().count() > 10);
    assert!(
        stdout
            .lines()
            .all(|l| l.starts_with('[') && l.contains("s] ")),
        "{stdout}"
    );
    assert!(
        !w.out.join("work").exists(),
        "the run's clones are cleaned up"
    );
}

#[test]
fn red_run_exits_1_with_results() {
    let w = world();
    w.host
        .set_control(serde_json::json!({"rollback": ["cust-*"]}));
    let out = ccci_run(&w, &["--sequential"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let results = ResultsV1::read(&w.out.join("results.json")).unwrap();
    assert!(!results.green);
    let summary = std::fs::read_to_string(w.out.join("summary.md")).unwrap();
    assert!(summary.contains("| upgrade | ❌ fail |"), "{summary}");
}

#[test]
fn a_short_ref_is_a_usage_error() {
    let w = world();
    let mut c = w.host.command(env!("CARGO_BIN_EXE_ccci"));
    let out = c
        .args(["run", "--plan"])
        .arg(&w.plan_path)
        .args(["--ref", "abc123", "--src", REPO])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("40-hex"));
    assert!(w.host.calls().is_empty(), "nothing ran");
}

#[test]
fn a_bad_plan_is_exit_2() {
    let w = world();
    std::fs::write(&w.plan_path, r#"{"schema": 9}"#).unwrap();
    let out = ccci_run(&w, &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("regenerate"));
}

#[test]
fn a_bad_src_is_exit_2() {
    let w = world();
    let mut c = w.host.command(env!("CARGO_BIN_EXE_ccci"));
    let out = c
        .args(["run", "--plan"])
        .arg(&w.plan_path)
        .args(["--ref", &w.head, "--src", "no-slash"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
