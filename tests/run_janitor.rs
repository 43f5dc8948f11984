//! `ccci janitor`'s scenarios over the in-memory host: a live run is never
//! touched, orphans are reaped with or without their env file, a young one
//! is kept, two janitors at once reap each orphan once, `--dry-run` changes
//! nothing, and a scan of 200 run apps is fast. Locks and records are real
//! files in a temporary directory.

#[path = "support/mem_fixture.rs"]
mod mem_fixture;
#[path = "support/mem_world/mod.rs"]
mod mem_world;
#[path = "support/recipe_fixture.rs"]
mod recipe_fixture;

use std::path::Path;
use std::time::{Duration, Instant};

use ccci::registry::values::Domain;
use ccci::run::janitor::{Scope, Verdict, sweep};
use ccci::run::runstate::{self, RunRecord};
use ccci::run::world::Clock;
use mem_world::{Call, MemApp, MemWorld, Secret, Service, Volume};

const CI: &str = "ci.example.org";

fn world() -> MemWorld {
    mem_fixture::Scenario::green().world
}

fn domain(i: u32) -> String {
    format!("cust-{i:06x}.{CI}")
}

/// A run app as a run leaves it: env file, a service, a volume, a secret.
fn seed(w: &MemWorld, d: &str, env_file: bool, age_secs: Option<u64>) {
    let stack = d.replace('.', "_");
    let mut s = w.state();
    if env_file {
        s.apps.insert(
            d.to_owned(),
            MemApp {
                abra_dir: "/abra".into(),
                server: "default".into(),
                recipe: "custom-html".into(),
                env_text: "TYPE=custom-html\n".into(),
            },
        );
    }
    s.services.insert(
        format!("{stack}_app"),
        Service {
            stack: stack.clone(),
            replicas: 1,
            running: 1,
            ready_at: Duration::ZERO,
            labels: Default::default(),
            mounts: Default::default(),
            update_state: None,
            crashing: false,
            deployed_at: Duration::ZERO,
        },
    );
    s.volumes.insert(
        format!("{stack}_content"),
        Volume {
            stack: stack.clone(),
            files: Default::default(),
        },
    );
    s.secrets.insert(
        format!("{stack}_pw_v1"),
        Secret {
            stack: stack.clone(),
            value: "x".into(),
        },
    );
    drop(s);
    if let Some(a) = age_secs {
        w.app_ages.lock().unwrap().insert(d.to_owned(), a);
    }
}

fn left(w: &MemWorld, d: &str) -> usize {
    let stack = format!("{}_", d.replace('.', "_"));
    let s = w.state();
    s.services.keys().filter(|k| k.starts_with(&stack)).count()
        + s.volumes.keys().filter(|k| k.starts_with(&stack)).count()
        + s.secrets.keys().filter(|k| k.starts_with(&stack)).count()
        + usize::from(s.apps.contains_key(d))
}

fn teardowns(w: &MemWorld, d: &str) -> usize {
    w.calls()
        .iter()
        .filter(|c| matches!(c, Call::Teardown { domain } if domain == d))
        .count()
}

fn scope<'a>(state: &Path, ci: &'a Domain, dry_run: bool) -> Scope<'a> {
    Scope {
        state_dir: state.to_owned(),
        abra_dir: "/abra".into(),
        server: "default".into(),
        ci_domain: ci,
        max_age: Duration::from_secs(3600),
        dry_run,
    }
}

fn ci() -> Domain {
    CI.parse().unwrap()
}

#[test]
fn a_live_run_is_never_touched_and_one_past_its_deadline_is_reported() {
    let (w, t, ci) = (world(), tempfile::tempdir().unwrap(), ci());
    seed(&w, &domain(1), true, Some(99_999));
    let _held = runstate::try_lock(t.path(), &domain(1)).unwrap().unwrap();
    RunRecord {
        run_id: "r1".into(),
        pid: 1,
        started_unix: w.unix_secs() - 99_999,
        deadline_unix: w.unix_secs() - 60,
        apps: [domain(1)].into(),
    }
    .write(t.path())
    .unwrap();
    let sw = sweep(&w, &scope(t.path(), &ci, false));
    assert_eq!(sw.seen.len(), 1);
    assert_eq!(sw.seen[0].1, Verdict::LiveOverdue { over_secs: 60 });
    assert!(sw.reaped.is_empty());
    assert_eq!(left(&w, &domain(1)), 4);
    let lines = sw.lines(false).join("\n");
    assert!(lines.contains("past its deadline by 60 s"), "{lines}");
}

#[test]
fn orphans_are_reaped_with_or_without_their_env_file() {
    let (w, t, ci) = (world(), tempfile::tempdir().unwrap(), ci());
    seed(&w, &domain(1), true, Some(7200));
    seed(&w, &domain(2), false, None);
    // Not run apps: never touched.
    seed(&w, &format!("traefik.{CI}"), true, Some(99_999));
    let sw = sweep(&w, &scope(t.path(), &ci, false));
    let reaped: Vec<&str> = sw.reaped.iter().map(|(d, _)| d.as_str()).collect();
    assert_eq!(reaped, [domain(1), domain(2)]);
    for d in [domain(1), domain(2)] {
        assert_eq!(left(&w, &d), 0, "{d}");
        assert_eq!(teardowns(&w, &d), 1, "{d}");
    }
    assert_eq!(left(&w, &format!("traefik.{CI}")), 4);
    let lines = sw.lines(false).join("\n");
    assert!(lines.contains(&format!("reaped {}", domain(2))), "{lines}");
}

#[test]
fn a_young_orphan_is_kept() {
    let (w, t, ci) = (world(), tempfile::tempdir().unwrap(), ci());
    seed(&w, &domain(1), true, Some(60));
    let sw = sweep(&w, &scope(t.path(), &ci, false));
    assert_eq!(sw.seen[0].1, Verdict::Young { age_secs: 60 });
    assert!(sw.reaped.is_empty());
    assert_eq!(left(&w, &domain(1)), 4);
}

#[test]
fn dry_run_changes_nothing() {
    let (w, t, ci) = (world(), tempfile::tempdir().unwrap(), ci());
    seed(&w, &domain(1), true, Some(7200));
    seed(&w, &domain(2), false, None);
    let sw = sweep(&w, &scope(t.path(), &ci, true));
    assert_eq!(sw.reaped.len(), 2);
    assert_eq!(left(&w, &domain(1)), 4);
    assert_eq!(left(&w, &domain(2)), 3);
    assert!(!w.calls().iter().any(|c| matches!(c, Call::Teardown { .. })));
    assert!(sw.lines(true)[0].starts_with("would reap"));
}

#[test]
fn two_janitors_at_once_reap_each_orphan_once() {
    let (w, t, ci) = (world(), tempfile::tempdir().unwrap(), ci());
    for i in 0..40 {
        seed(&w, &domain(i), i % 2 == 0, Some(7200));
    }
    let sc = scope(t.path(), &ci, false);
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| sweep(&w, &sc));
        let b = s.spawn(|| sweep(&w, &sc));
        (a.join().unwrap(), b.join().unwrap())
    });
    assert_eq!(a.reaped.len() + b.reaped.len(), 40);
    for i in 0..40 {
        assert_eq!(teardowns(&w, &domain(i)), 1, "{}", domain(i));
        assert_eq!(left(&w, &domain(i)), 0);
    }
}

/// A scan of 200 run apps (and a reap of them) stays far below 2 s.
#[test]
fn a_janitor_scan_of_200_run_apps_is_fast() {
    let (w, t, ci) = (world(), tempfile::tempdir().unwrap(), ci());
    for i in 0..200 {
        seed(&w, &domain(i), i % 3 != 0, Some(7200));
    }
    let start = Instant::now();
    let dry = sweep(&w, &scope(t.path(), &ci, true));
    let scan = start.elapsed();
    assert_eq!(dry.reaped.len(), 200);
    let start = Instant::now();
    let real = sweep(&w, &scope(t.path(), &ci, false));
    let reap = start.elapsed();
    assert_eq!(real.reaped.len(), 200);
    eprintln!(
        "janitor over 200 run apps (in memory, real lock files): scan {scan:?}, scan and reap {reap:?}"
    );
    assert!(scan < Duration::from_secs(2), "{scan:?}");
}
