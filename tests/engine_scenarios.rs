//! More `ccci run` scenarios against the real Docker engine
//! (tests/support/engine.rs): a two-service recipe whose database service,
//! added by the second file of a `COMPOSE_FILE` chain, keeps its data marker
//! on a "db" volume through the upgrade and backup/restore and uses a
//! generated versioned secret; and a run killed with `kill -9` mid-deploy,
//! whose orphans `ccci janitor` reaps. Each ends with the engine asked for
//! anything of the recipe left.

#[path = "support/engine.rs"]
mod engine;
#[path = "support/https_app.rs"]
mod https_app;

use std::io::BufRead;
use std::process::Stdio;
use std::time::{Duration, Instant};

use ccci::registry::Rung;
use ccci::results::Status;
use engine::{AppCmd, Commit, Engine, Run, compose, pr_head, release, run_with};

const GOOD: AppCmd = AppCmd::Serve {
    page: "custom-html",
};

/// The second file of the chain: a "db" service holding its data on the
/// `db` volume, needing the generated `db_password` secret to start.
const DB_COMPOSE: &str = r#"version: "3.8"
services:
  db:
    image: cct-busybox:1
    command:
      - sh
      - -c
      - "test -s /run/secrets/db_password || { echo 'no db_password' >&2; exit 1; }; trap 'exit 0' TERM; while :; do sleep 1 & wait $$!; done"
    volumes:
      - db:/var/lib/db
    secrets:
      - db_password
    deploy:
      restart_policy:
        delay: 1s
      labels:
        - "backupbot.backup=true"
volumes:
  db:
secrets:
  db_password:
    external: true
    name: ${STACK_NAME}_db_password_${SECRET_DB_PASSWORD_VERSION}
"#;

const DB_ENV_SAMPLE: &str = "TYPE=cctd-db\nDOMAIN=cctd-db.example.com\nLETS_ENCRYPT_ENV=production\nCOMPOSE_FILE=\"compose.yml:compose.db.yml\"\nSECRET_DB_PASSWORD_VERSION=v1\n";

fn db_release(version: &str) -> Commit {
    Commit {
        files: vec![
            ("compose.yml".into(), compose(version, &GOOD, false)),
            ("compose.db.yml".into(), DB_COMPOSE.into()),
            (".env.sample".into(), DB_ENV_SAMPLE.into()),
        ],
        tag: Some(version.into()),
    }
}

#[test]
fn engine_two_services_db_volume_secret_and_compose_chain_keep_the_marker() {
    let (r, out, secs) = run_with(
        "cctd-db",
        &[
            db_release("1.0.0+1.0"),
            db_release("1.1.0+1.0"),
            pr_head(compose("1.2.0+1.0", &GOOD, false)),
        ],
        |plan| {
            plan["marker"] = serde_json::json!({
                "kind": "exec-file", "service": "db", "path": "/var/lib/db/ccci-marker.txt"
            });
        },
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let res = r.results();
    assert_eq!(out.status.code(), Some(0), "{stderr}\n{:#?}", res.rungs);
    assert!(res.green, "{:#?}", res.rungs);
    for rung in [Rung::Install, Rung::Upgrade, Rung::BackupRestore] {
        assert_eq!(res.rungs[&rung].status, Status::Pass, "{rung:?}");
    }
    // The marker went through the db service's volume in both lanes.
    let names: Vec<String> = res
        .checks
        .iter()
        .map(|c| format!("{} {}", c.name, c.detail))
        .collect();
    for want in ["marker restored", "marker intact"] {
        assert!(names.iter().any(|n| n.starts_with(want)), "{names:#?}");
    }
    assert!(res.teardown.is_empty(), "{:?}", res.teardown);
    eprintln!("two services, db volume, secret, chain: green in {secs:.1} s");
}

#[test]
fn engine_kill_9_mid_deploy_then_the_janitor_leaves_nothing() {
    let prefix = "cctk";
    let engine = Engine::acquire();
    let r = Run::new(
        "cctk-killed",
        &[
            release("1.0.0+1.0", GOOD),
            pr_head(compose("1.1.0+1.0", &GOOD, false)),
        ],
    );
    let mut child = r
        .command(&engine)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    // Killed while abra deploys: no teardown, no results.
    let until = Instant::now() + Duration::from_secs(60);
    let mut seen = Vec::new();
    loop {
        match rx.recv_timeout(until.saturating_duration_since(Instant::now())) {
            Ok(l) if l.contains(": deploying") => break,
            Ok(l) => seen.push(l),
            Err(e) => panic!("no deploy started ({e}): {seen:#?}"),
        }
    }
    let st = std::process::Command::new("kill")
        .args(["-KILL", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let _ = child.wait();
    // The orphaned abra finishes its deploy on its own; the janitor must
    // reap whatever it leaves, whenever it looks. Wait for its stack to
    // appear so there is something to reap.
    let until = Instant::now() + Duration::from_secs(30);
    while !engine::objects_named(prefix)
        .iter()
        .any(|o| o.starts_with("service "))
        && Instant::now() < until
    {
        std::thread::sleep(Duration::from_millis(200));
    }
    let before = engine::objects_named(prefix);
    let janitor = std::process::Command::new(env!("CARGO_BIN_EXE_ccci"))
        .args(["janitor", "--plan"])
        .arg(&r.plan)
        .args(["--max-age", "0s"])
        .env("CCCI_ABRA", engine::abra_double())
        .env_remove("CCCI_DOCKER")
        .env("CCCI_ENGINE_IMAGE", engine.image())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&janitor.stdout),
        String::from_utf8_lossy(&janitor.stderr)
    );
    let left = engine::objects_named(prefix);
    let envs: Vec<_> = std::fs::read_dir(r.dir.path().join("abra/servers/default"))
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    engine::remove_all(prefix);
    drop(engine);
    assert_eq!(janitor.status.code(), Some(0), "{text}");
    assert!(text.contains("reaped cctk-"), "{text}\nbefore: {before:?}");
    assert!(left.is_empty(), "left after the janitor: {left:?}\n{text}");
    assert!(envs.is_empty(), "env files left: {envs:?}");
    eprintln!("kill -9 then janitor: {before:?} reaped\n{text}");
}

#[test]
fn engine_a_secret_still_in_use_is_reported_at_teardown_and_reaped_later() {
    use std::io::BufRead;
    let prefix = "cctu";
    let engine = Engine::acquire();
    let r = Run::new_with(
        "cctu-inuse",
        &[db_release("1.0.0+1.0"), db_release("1.1.0+1.0")],
        |plan| {
            // The fresh lane alone is enough here.
            plan["skip"] = serde_json::json!({"upgrade": "not this scenario"});
            plan["marker"] = serde_json::json!({
                "kind": "exec-file", "service": "db", "path": "/var/lib/db/ccci-marker.txt"
            });
        },
    );
    let mut child = r
        .command(&engine)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let domain = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|l| {
            l.split_once("fresh: creating app ")
                .map(|(_, d)| d.trim().to_owned())
        })
        .expect("the fresh lane creates its app");
    let secret = format!("{}_db_password_v1", domain.replace('.', "_"));
    // A service outside the stack takes the app's secret as soon as it
    // exists: docker will not remove a secret a service uses.
    let holder = format!("cctuholder{}", std::process::id());
    let until = Instant::now() + Duration::from_secs(60);
    while !engine::objects_named(&secret)
        .iter()
        .any(|o| o.starts_with("secret "))
    {
        assert!(Instant::now() < until, "the run generated no {secret}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let created = engine::docker(&[
        "service",
        "create",
        "--detach",
        "--name",
        &holder,
        "--secret",
        &secret,
        engine.image(),
        "sh",
        "-c",
        "trap 'exit 0' TERM; while :; do sleep 1 & wait $!; done",
    ]);
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let out = child.wait_with_output().unwrap();
    let left_after_run = engine::objects_named(prefix);
    let _ = engine::docker(&["service", "rm", &holder]);
    // Its task goes seconds after the service; the secret is free at once.
    let janitor = std::process::Command::new(env!("CARGO_BIN_EXE_ccci"))
        .args(["janitor", "--plan"])
        .arg(&r.plan)
        .args(["--max-age", "0s"])
        .env("CCCI_ABRA", engine::abra_double())
        .env_remove("CCCI_DOCKER")
        .env("CCCI_ENGINE_IMAGE", engine.image())
        .output()
        .unwrap();
    let until = Instant::now() + Duration::from_secs(30);
    while !engine::objects_named(prefix).is_empty() && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(200));
    }
    let left = engine::objects_named(prefix);
    engine::remove_all(prefix);
    drop(engine);
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let res = r.results();
    assert_eq!(out.status.code(), Some(1), "{rest:#?}");
    assert!(!res.green);
    let problems = res.teardown.join("\n");
    assert!(
        problems.contains(&format!("secrets left: {secret}")) && problems.contains("in use"),
        "{problems}"
    );
    // Everything else of the app went: only the holder and the secret stay.
    let others: Vec<&String> = left_after_run
        .iter()
        .filter(|o| !o.contains(&holder) && !o.ends_with(&secret))
        .collect();
    assert!(others.is_empty(), "{others:?}");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&janitor.stdout),
        String::from_utf8_lossy(&janitor.stderr)
    );
    // The kill -9 scenario's janitor runs on the same engine at the same
    // time and may reap this orphan first, as two janitors on one host would:
    // what counts is that it goes, once.
    assert_eq!(janitor.status.code(), Some(0), "{text}");
    assert!(left.is_empty(), "left after the janitor: {left:?}\n{text}");
}
