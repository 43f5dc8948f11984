//! Real recipe shapes over the in-memory world (tests/support/mem_world):
//! an app routed under a path prefix, an app whose `/` answers 401 by
//! design, a worker stack with no web domain (a service at 0 replicas, data
//! proven by an exec marker), and a repository tagged `v1.0.0…v1.0.3` with
//! the head on the newest tag. Each runs green as enrolled, and each goes
//! red (or skips) the right way when its registry data or its recipe is
//! wrong.

#[path = "support/mem_fixture.rs"]
mod mem_fixture;
#[path = "support/mem_world/mod.rs"]
mod mem_world;
#[path = "support/recipe_fixture.rs"]
mod recipe_fixture;

use ccci::plan::PlanV1;
use ccci::registry::{LaneMode, Rung};
use ccci::results::{Floor, ResultsV1, Status};
use mem_fixture::{
    Commit, ENV_SAMPLE, GIT_BASE, REPO, Scenario, compose, pr_head, release, worker_compose,
    worker_plan, worker_release,
};
use mem_world::{Call, app_answer};
use serde_json::json;

fn rung(r: &ResultsV1, rung: Rung) -> (Status, String) {
    let x = &r.rungs[&rung];
    (x.status, x.reason.clone())
}

/// Change the scenario's plan as the registry would have rendered it.
fn edit_plan(sc: &mut Scenario, edit: impl FnOnce(&mut serde_json::Value)) {
    let mut v = serde_json::to_value(&sc.plan).unwrap();
    edit(&mut v);
    sc.plan = PlanV1::from_json("edited.json", &v.to_string()).unwrap();
}

/// A compose file routed `Host(...) && PathPrefix(`/app`)`.
fn path_prefix_compose(version: &str, prefix: &str) -> String {
    compose(version, "content", "DOMAIN").replace(
        "Host(`${DOMAIN}`)",
        &format!("Host(`${{DOMAIN}}`) && PathPrefix(`{prefix}`)"),
    )
}

fn path_prefix_app(prefix_in_head: &str) -> Scenario {
    let mut sc = Scenario::new(
        vec![Commit {
            files: vec![
                (
                    "compose.yml".into(),
                    path_prefix_compose("1.0.0+1.0", "/app"),
                ),
                (".env.sample".into(), ENV_SAMPLE.into()),
            ],
            tag: Some("1.0.0+1.0".into()),
        }],
        pr_head(path_prefix_compose("1.1.0+1.0", prefix_in_head)),
    );
    sc.world
        .site
        .routes
        .insert("/app/".into(), app_answer(200, "the app"));
    // The marker lives in the served volume but is read with docker exec:
    // the app serves nothing outside its prefix.
    edit_plan(&mut sc, |p| {
        p["health"] = json!({"path": "/app/", "statuses": [200]});
        p["checks"] = json!([]);
        p["marker"] = json!({"kind": "exec-file", "service": "app",
            "path": "/usr/share/nginx/html/ccci-marker.txt"});
    });
    sc
}

#[test]
fn a_path_prefix_app_is_healthy_on_its_health_path() {
    let sc = path_prefix_app("/app");
    let (r, _) = sc.run(LaneMode::Concurrent);
    for rg in [Rung::Install, Rung::Upgrade, Rung::BackupRestore] {
        assert_eq!(rung(&r, rg).0, Status::Pass, "{rg:?}: {}", rung(&r, rg).1);
    }
    assert!(r.green);
    assert_eq!(
        r.floor,
        Some(Floor::Http {
            path: "/app/".into(),
            statuses: vec![200]
        })
    );
    // The floor never asked for `/`, which only Traefik would answer.
    let asked = sc.world.state().requests.clone();
    assert!(!asked.is_empty());
    assert!(asked.iter().all(|(_, p)| p == "/app/"), "{asked:?}");
    assert!(ccci::report::summary_md(&r).contains("Floor: `GET /app/ → 200`"));
    sc.assert_nothing_left();
}

#[test]
fn a_path_prefix_app_probed_at_the_root_meets_traefiks_fallback() {
    // The registry forgot `health.path`: `/` matches no router.
    let mut sc = path_prefix_app("/app");
    edit_plan(&mut sc, |p| {
        p["health"] = json!({"path": "/", "statuses": [200, 301, 302]});
    });
    let (r, _) = sc.run(LaneMode::Concurrent);
    let (st, why) = rung(&r, Rung::Install);
    assert_eq!(st, Status::Fail);
    assert!(why.contains("GET /: Traefik's fallback 404"), "{why}");
    assert!(!r.green);
    sc.assert_nothing_left();
}

#[test]
fn a_head_that_moves_the_prefix_fails_install() {
    let sc = path_prefix_app("/other");
    let (r, _) = sc.run(LaneMode::Concurrent);
    let (st, why) = rung(&r, Rung::Install);
    assert_eq!(st, Status::Fail);
    assert!(why.contains("GET /app/: Traefik's fallback 404"), "{why}");
    // The upgrade lane deploys the same head over the base: red too.
    assert_eq!(rung(&r, Rung::Upgrade).0, Status::Fail);
}

fn login_app(statuses: serde_json::Value, host_var: &str) -> Scenario {
    let mut sc = Scenario::new(
        vec![release("1.0.0+1.0")],
        pr_head(compose("1.1.0+1.0", "content", host_var)),
    );
    sc.world.site.home_status = 401;
    sc.world.site.home = "login required".into();
    edit_plan(&mut sc, |p| {
        p["health"] = json!({"path": "/", "statuses": statuses});
        p["checks"] = json!([]);
    });
    sc
}

#[test]
fn an_app_whose_root_answers_401_by_design_is_healthy_when_401_is_declared() {
    let sc = login_app(json!([401]), "DOMAIN");
    let (r, _) = sc.run(LaneMode::Concurrent);
    for rg in [Rung::Install, Rung::Upgrade, Rung::BackupRestore] {
        assert_eq!(rung(&r, rg).0, Status::Pass, "{rg:?}: {}", rung(&r, rg).1);
    }
    assert!(r.green);
    let healthy = r
        .checks
        .iter()
        .find(|c| c.name == "healthy")
        .expect("a healthy check");
    assert!(healthy.detail.contains("GET / → 401"), "{}", healthy.detail);
}

#[test]
fn an_app_whose_root_answers_401_fails_the_default_floor() {
    let sc = login_app(json!([200, 301, 302]), "DOMAIN");
    let (r, _) = sc.run(LaneMode::Concurrent);
    let (st, why) = rung(&r, Rung::Install);
    assert_eq!(st, Status::Fail);
    assert!(
        why.contains("GET /: status 401, expected one of 200, 301, 302"),
        "{why}"
    );
}

#[test]
fn traefiks_fallback_never_passes_even_where_404_is_declared() {
    // The head's router names an unset variable: no router matches, and
    // Traefik's 404 is not the app's 404.
    let sc = login_app(json!([401, 404]), "NOPE");
    let (r, _) = sc.run(LaneMode::Concurrent);
    let (st, why) = rung(&r, Rung::Install);
    assert_eq!(st, Status::Fail);
    assert!(why.contains("Traefik's fallback 404"), "{why}");
}

fn worker(head_volume: &str) -> Scenario {
    let mut sc = Scenario::new(
        vec![worker_release("1.0.0+1"), worker_release("1.1.0+1")],
        Commit {
            files: vec![("compose.yml".into(), worker_compose("1.2.0+1", head_volume))],
            tag: None,
        },
    );
    edit_plan(&mut sc, worker_plan);
    sc
}

#[test]
fn a_worker_with_no_web_domain_is_installed_by_convergence_and_proves_its_data() {
    let sc = worker("data");
    let (r, _) = sc.run(LaneMode::Concurrent);
    for rg in [Rung::Install, Rung::Upgrade, Rung::BackupRestore] {
        assert_eq!(rung(&r, rg).0, Status::Pass, "{rg:?}: {}", rung(&r, rg).1);
    }
    assert!(r.green, "{:?}", r.rungs);
    assert_eq!(r.floor, Some(Floor::Convergence));
    // Nothing went over HTTPS, no browser opened, no landing screenshot.
    assert!(sc.world.state().requests.is_empty());
    assert_eq!(sc.world.state().browsers_opened, 0);
    assert!(r.lanes.values().all(|l| l.screenshot.is_none()));
    let healthy = r.checks.iter().find(|c| c.name == "healthy").unwrap();
    assert!(
        healthy.detail.contains("cron 0/0") && healthy.detail.contains("worker 1/1"),
        "{}",
        healthy.detail
    );
    let data = r.data_survival.as_ref().unwrap();
    assert!(data.proven, "{}", data.detail);
    // The marker went through docker exec in the worker.
    assert!(sc.world.calls().iter().any(|c| matches!(
        c, Call::Exec { service, script, .. } if service == "worker" && script.starts_with("echo ")
    )));
    sc.assert_nothing_left();
}

#[test]
fn a_worker_head_that_renames_its_volume_loses_the_data_in_the_upgrade() {
    let sc = worker("state");
    let (r, _) = sc.run(LaneMode::Concurrent);
    assert_eq!(rung(&r, Rung::Install).0, Status::Pass);
    let (st, why) = rung(&r, Rung::Upgrade);
    assert_eq!(st, Status::Fail);
    assert!(why.contains("lost the marker"), "{why}");
    sc.assert_nothing_left();
}

#[test]
fn a_worker_whose_service_never_reaches_its_replicas_fails_install() {
    let mut sc = worker("data");
    // Run apps are named after the recipe (custom-html): `cust-…`.
    sc.world.knobs.crash_loop = vec!["cust-*".into()];
    let (r, _) = sc.run(LaneMode::Concurrent);
    let (st, why) = rung(&r, Rung::Install);
    assert_eq!(st, Status::Fail);
    assert!(why.contains("worker"), "{why}");
}

fn v_release(n: u32, head_files: bool) -> Commit {
    let version = format!("1.0.{n}+1.0.{n}");
    let files = if head_files {
        pr_head(compose(&version, "content", "DOMAIN")).files
    } else {
        release(&version).files
    };
    Commit {
        files,
        tag: Some(format!("v1.0.{n}")),
    }
}

fn tag_commit(sc: &Scenario, tag: &str) -> String {
    sc.world.state().repos[&format!("{GIT_BASE}/{REPO}.git")].tags[tag].clone()
}

#[test]
fn v_tags_with_the_head_on_the_newest_tag_upgrade_from_the_one_before() {
    // The head is the commit of v1.0.3 (labelled 1.0.3+1.0.3): v1.0.3 is
    // the commit under test, never its own base.
    let sc = Scenario::new(
        vec![
            v_release(0, false),
            v_release(1, false),
            v_release(2, false),
        ],
        v_release(3, true),
    );
    assert_eq!(tag_commit(&sc, "v1.0.3"), sc.head);
    let (r, _) = sc.run(LaneMode::Concurrent);
    assert_eq!(
        rung(&r, Rung::Upgrade).0,
        Status::Pass,
        "{:?}",
        rung(&r, Rung::Upgrade)
    );
    let base = r.upgrade_base.as_ref().expect("a base is recorded");
    assert_eq!(base.version, "v1.0.2");
    assert_eq!(base.commit, tag_commit(&sc, "v1.0.2"));
    assert!(
        ccci::report::summary_md(&r).contains("Upgrade base: `v1.0.2 at "),
        "{}",
        ccci::report::summary_md(&r)
    );
    // The head was then checked out over the base for the chaos deploy.
    assert!(sc.world.calls().iter().any(|c| matches!(
        c, Call::Checkout { rev, .. } if *rev == sc.head
    )));
    assert!(r.green);
}

#[test]
fn the_only_tag_on_the_head_leaves_no_older_release_and_the_level_says_so() {
    let sc = Scenario::new(vec![], v_release(3, true));
    let (r, _) = sc.run(LaneMode::Concurrent);
    let (st, why) = rung(&r, Rung::Upgrade);
    assert_eq!(st, Status::Skip);
    assert!(why.starts_with("no older release"), "{why}");
    assert_eq!(r.upgrade_base, None);
    assert!(r.green);
    let line = ccci::report::level_line(&r);
    assert!(line.contains("upgrade skipped: no older release"), "{line}");
    assert_eq!(app_news(&sc), 1, "no upgrade app is created");
}

fn app_news(sc: &Scenario) -> usize {
    sc.world
        .calls()
        .iter()
        .filter(|c| matches!(c, Call::AppNew { .. }))
        .count()
}

#[test]
fn a_base_release_the_compose_policy_refuses_is_never_deployed() {
    // The previous release bind-mounts a host directory: the policy judges
    // the base before the upgrade lane deploys it.
    let bad = compose("1.0.0+1.25", "content", "DOMAIN").replace(
        "      - content:/usr/share",
        "      - /etc:/host-etc\n      - content:/usr/share",
    );
    let sc = Scenario::new(
        vec![Commit {
            files: vec![
                ("compose.yml".into(), bad),
                (".env.sample".into(), ENV_SAMPLE.into()),
            ],
            tag: Some("1.0.0+1.25".into()),
        }],
        pr_head(compose("1.1.0+1.25", "content", "DOMAIN")),
    );
    let (r, _) = sc.run(LaneMode::Concurrent);
    assert_eq!(rung(&r, Rung::Install).0, Status::Pass);
    let (st, why) = rung(&r, Rung::Upgrade);
    assert_eq!(st, Status::Unverified);
    assert!(
        why.contains("base release 1.0.0+1.25 was not deployed") && why.contains("host_bind_mount"),
        "{why}"
    );
    assert_eq!(app_news(&sc), 1, "only the fresh lane's app");
    assert!(
        r.checks
            .iter()
            .any(|c| c.name == "compose policy (base release 1.0.0+1.25)"
                && c.status == Status::Fail)
    );
    assert!(!r.green);
}

#[test]
fn a_run_without_a_marker_says_data_survival_is_not_proven() {
    let mut sc = Scenario::green();
    edit_plan(&mut sc, |p| p["marker"] = json!(null));
    let (r, _) = sc.run(LaneMode::Concurrent);
    assert!(r.green);
    let data = r.data_survival.as_ref().unwrap();
    assert!(!data.proven);
    assert_eq!(data.detail, "no data marker declared");
    assert!(ccci::report::summary_md(&r).contains("⚠️ data survival not proven"));
    assert!(ccci::report::level_line(&r).ends_with("data survival not proven"));
}
