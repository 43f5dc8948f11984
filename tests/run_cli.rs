//! The `ccci run` binary: arguments, exit codes (0 green, 1 red, 2 usage or
//! plan error), artifacts and live progress, over the fake host. The green
//! run is the one end-to-end smoke run of the production world (abra and
//! docker fakes, real git, a real HTTPS gateway, a real recipe test): it also
//! proves the argv contract holds for a whole run. Lane scenarios run over
//! the in-memory world (tests/run_lanes.rs).

#[allow(dead_code)]
#[path = "support/fake_tools.rs"]
mod fake_tools;
#[path = "support/https_app.rs"]
mod https_app;
#[path = "support/recipe_fixture.rs"]
mod recipe_fixture;
#[path = "support/run_fixture.rs"]
mod run_fixture;

use std::process::Output;

use ccci::registry::Rung;
use ccci::results::ResultsV1;
use ccci::results::Status;
use fake_tools::{FakeHost, ToolCall};
use run_fixture::{
    Commit, REPO, World, compose, pr_head, release, worker_compose, worker_plan, worker_release,
};

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

/// Only a fake host and a plan file: for runs that must stop before any tool.
fn bare() -> (FakeHost, std::path::PathBuf) {
    let host = FakeHost::new();
    let plan = host.root.join("custom-html.json");
    let json = recipe_fixture::plan_json(&host.root);
    std::fs::write(&plan, serde_json::to_string_pretty(&json).unwrap()).unwrap();
    (host, plan)
}

fn calls_of(w: &World, words: &[&str]) -> Vec<ToolCall> {
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

/// What a whole run asked of abra avoids its traps (see docs/abra.md).
fn assert_abra_driven_safely(w: &World) {
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
    // Every app is undeployed exactly once.
    let mut news: Vec<String> = calls_of(w, &["app", "new"])
        .iter()
        .map(|c| c.argv[6].clone())
        .collect();
    let mut undeploys: Vec<String> = calls_of(w, &["app", "undeploy"])
        .iter()
        .map(|c| c.argv[2].clone())
        .collect();
    assert_eq!(news.len(), 2);
    news.sort();
    undeploys.sort();
    assert_eq!(news, undeploys);
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
    assert!(
        results
            .checks
            .iter()
            .any(|c| c.name == "tests/smoke.sh" && c.status == ccci::results::Status::Pass),
        "{:#?}",
        results.checks
    );
    assert_abra_driven_safely(&w);
    assert_nothing_left(&w);
}

#[test]
fn red_run_exits_1_with_results() {
    // Any red run exits 1; a deploy that fails is the cheapest one. The
    // rung-by-rung red scenarios run in memory (tests/run_lanes.rs).
    let w = world();
    w.host.set_control(
        serde_json::json!({"fail": {"app deploy": "FATA deploy failed: image not found"}}),
    );
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
    assert!(summary.contains("| install | ❌ fail |"), "{summary}");
    assert!(
        results.rungs[&ccci::registry::Rung::Install]
            .reason
            .contains("image not found"),
        "{:?}",
        results.rungs
    );
    // --sequential: the fresh lane's app is gone before the upgrade lane's exists.
    let order: Vec<String> = w
        .host
        .calls()
        .into_iter()
        .filter(|c| {
            c.argv.starts_with(&["app".to_owned(), "new".to_owned()])
                || c.argv
                    .starts_with(&["app".to_owned(), "undeploy".to_owned()])
        })
        .map(|c| c.argv[1].clone())
        .collect();
    assert_eq!(order, ["new", "undeploy", "new", "undeploy"]);
    assert_nothing_left(&w);
}

#[test]
fn a_worker_with_no_web_domain_runs_green_through_the_binary() {
    // web = false over the fake host: services at their declared replicas
    // (the cron service at 0) are the floor, nothing goes over HTTPS, and an
    // exec marker proves the data through upgrade and backup/restore.
    let w = World::new(
        vec![worker_release("1.0.0+1"), worker_release("1.1.0+1")],
        Commit {
            files: vec![("compose.yml".into(), worker_compose("1.2.0+1", "data"))],
            tag: None,
        },
    );
    let mut plan: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&w.plan_path).unwrap()).unwrap();
    worker_plan(&mut plan);
    std::fs::write(&w.plan_path, plan.to_string()).unwrap();
    let out = ccci_run(&w, &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let results = ResultsV1::read(&w.out.join("results.json")).unwrap();
    assert_eq!(results.floor, Some(ccci::results::Floor::Convergence));
    assert!(results.data_survival.as_ref().is_some_and(|d| d.proven));
    for r in [Rung::Install, Rung::Upgrade, Rung::BackupRestore] {
        assert_eq!(results.rungs[&r].status, Status::Pass, "{r:?}");
    }
    assert!(w.gateway.requests.lock().unwrap().is_empty());
    let summary = std::fs::read_to_string(w.out.join("summary.md")).unwrap();
    assert!(
        summary.contains("Floor: `convergence (no web domain)`"),
        "{summary}"
    );
    assert_nothing_left(&w);
}

const HEAD: &str = "3fa9c1d2e4b5a6978877665544332211ffeeddcc";

#[test]
fn a_short_ref_is_a_usage_error() {
    let (host, plan) = bare();
    let out = host
        .command(env!("CARGO_BIN_EXE_ccci"))
        .args(["run", "--plan"])
        .arg(&plan)
        .args(["--ref", "abc123", "--src", REPO])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("40-hex"));
    assert!(host.calls().is_empty(), "nothing ran");
}

#[test]
fn a_bad_plan_is_exit_2() {
    let (host, plan) = bare();
    std::fs::write(&plan, r#"{"schema": 9}"#).unwrap();
    let out = host
        .command(env!("CARGO_BIN_EXE_ccci"))
        .args(["run", "--plan"])
        .arg(&plan)
        .args(["--ref", HEAD, "--src", REPO, "--pr", "1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("regenerate"));
    assert!(host.calls().is_empty(), "nothing ran");
}

#[test]
fn a_bad_src_is_exit_2() {
    let (host, plan) = bare();
    let out = host
        .command(env!("CARGO_BIN_EXE_ccci"))
        .args(["run", "--plan"])
        .arg(&plan)
        .args(["--ref", HEAD, "--src", "no-slash"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(host.calls().is_empty(), "nothing ran");
}

#[test]
fn a_recipe_from_a_local_repository_with_a_compose_chain_and_a_host_secret_runs_green() {
    // Real git, the fake abra and docker, the `ccci run` binary: the recipe's
    // repository is a local path (not on the Gitea), its .env.sample builds a
    // COMPOSE_FILE chain whose second file declares a secret that needs the
    // host's value.
    let postgres = "version: \"3.8\"\nservices:\n  db:\n    image: postgres:${POSTGRES_TAG:-16}\n    volumes:\n      - postgres:/var/lib/postgresql/data\nvolumes:\n  postgres:\nsecrets:\n  api_key:\n    external: true\n    name: ${STACK_NAME}_api_key_${SECRET_API_KEY_VERSION}\n";
    let sample = "TYPE=custom-html\nDOMAIN=custom-html.example.com\nCOMPOSE_FILE=\"compose.yml\"\nCOMPOSE_FILE=\"$COMPOSE_FILE:compose.postgres.yml\"\nSECRET_API_KEY_VERSION=v1\nLETS_ENCRYPT_ENV=production";
    let files = |v: &str| {
        vec![
            ("compose.yml".to_owned(), compose(v, "content", "DOMAIN")),
            ("compose.postgres.yml".to_owned(), postgres.to_owned()),
            (".env.sample".to_owned(), sample.to_owned()),
        ]
    };
    let commit = |v: &str, tag: bool| recipe_fixture::Commit {
        files: files(v),
        tag: tag.then(|| v.to_owned()),
    };
    let w = World::new(
        vec![commit("1.0.0+1.25", true), commit("1.1.0+1.27", true)],
        commit("1.2.0+1.27", false),
    );
    let local = w.host.root.join("git").join(format!("{REPO}.git"));
    let value = "host-api-key-7f3a9c21";
    let secret_file = w.host.root.join("host-secrets/custom_html_api_key");
    std::fs::create_dir_all(secret_file.parent().unwrap()).unwrap();
    std::fs::write(&secret_file, value).unwrap();
    let mut plan: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&w.plan_path).unwrap()).unwrap();
    plan["git_url"] = local.to_str().unwrap().into();
    // Only the fresh lane's install: the green run above covers the other
    // rungs, and the in-memory scenarios (tests/run_recipe_shapes.rs) the
    // upgrade lane's insert.
    plan["lint"] = false.into();
    plan["backup"] = "never".into();
    plan["skip"] = serde_json::json!({"upgrade": "covered by the in-memory scenarios"});
    plan["secret_values"] = serde_json::json!({
        "api_key": {"key": "custom_html_api_key", "file": secret_file.to_str().unwrap()}
    });
    std::fs::write(&w.plan_path, serde_json::to_string_pretty(&plan).unwrap()).unwrap();
    // The Gitea base leads nowhere: the recipe must come from its git_url.
    let out = ccci_run(&w, &["--git-url", "file:///nonexistent/gitea"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let inserts = calls_of(&w, &["app", "secret", "insert"]);
    assert_eq!(inserts.len(), 1, "{:#?}", w.host.calls());
    for c in &inserts {
        assert_eq!(c.argv[4..6], ["api_key", "v1"]);
        assert_eq!(c.argv[6], secret_file.to_str().unwrap());
        assert!(c.argv.contains(&"-f".to_owned()), "{}", c.line());
    }
    assert!(w.host.calls().iter().all(|c| !c.line().contains(value)));
    assert!(!stdout.contains(value));
    let results = std::fs::read_to_string(w.out.join("results.json")).unwrap();
    assert!(!results.contains(value));
    assert!(
        results.contains("compose.yml, compose.postgres.yml"),
        "the policy checked the chain"
    );
    assert_eq!(w.state()["resets"], serde_json::json!([]));
    assert_nothing_left(&w);
}
