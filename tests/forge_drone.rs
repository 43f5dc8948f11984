//! The Drone API client against the in-process fake Drone: requests it sends,
//! answers it decodes, and how failures are classified.

mod support;

use std::collections::BTreeMap;

use ccci::forge::ErrorClass;
use ccci::forge::drone::{BuildCreated, CronPatch, DroneClient, DroneToken, NewCron, RepoPatch};
use support::fake_drone::{Failure, FakeDrone};

const SLUG: &str = "coop-cloud/ccci";

fn client(drone: &FakeDrone) -> DroneClient {
    DroneClient::new(&drone.url(), DroneToken::new(drone.token())).unwrap()
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn get_repo_sends_bearer_token_and_decodes_repository() {
    let drone = FakeDrone::start();
    drone.add_repo(SLUG, false);
    let repo = rt()
        .block_on(client(&drone).repo("coop-cloud", "ccci"))
        .unwrap();
    assert_eq!(repo.slug, SLUG);
    assert!(!repo.active);
    let reqs = drone.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].method, "GET");
    assert_eq!(reqs[0].path, "/api/repos/coop-cloud/ccci");
}

#[test]
fn activate_repo_posts_and_returns_active_repo_with_default_timeout() {
    let drone = FakeDrone::start();
    drone.add_repo(SLUG, false);
    let repo = rt()
        .block_on(client(&drone).activate_repo("coop-cloud", "ccci"))
        .unwrap();
    assert!(repo.active);
    assert_eq!(repo.timeout, 60);
    assert_eq!(drone.mutating_requests()[0].method, "POST");
}

#[test]
fn patch_repo_sends_only_the_fields_set() {
    let drone = FakeDrone::start();
    drone.add_repo(SLUG, true);
    let patch = RepoPatch {
        timeout: Some(90),
        ..RepoPatch::default()
    };
    let repo = rt()
        .block_on(client(&drone).patch_repo("coop-cloud", "ccci", &patch))
        .unwrap();
    assert_eq!(repo.timeout, 90);
    let req = &drone.mutating_requests()[0];
    assert_eq!(req.method, "PATCH");
    assert_eq!(req.body, r#"{"timeout":90}"#);
}

#[test]
fn timeout_patch_by_non_admin_is_silently_ignored_like_drone() {
    let drone = FakeDrone::start();
    drone.add_repo(SLUG, true);
    drone.set_admin(false);
    let patch = RepoPatch {
        timeout: Some(90),
        ..RepoPatch::default()
    };
    let repo = rt()
        .block_on(client(&drone).patch_repo("coop-cloud", "ccci", &patch))
        .unwrap();
    assert_eq!(repo.timeout, 60, "the caller must compare and notice");
}

#[test]
fn cron_jobs_can_be_created_listed_updated_and_deleted() {
    let drone = FakeDrone::start();
    drone.add_repo(SLUG, true);
    let c = client(&drone);
    let rt = rt();
    let new = NewCron {
        name: "keycloak".into(),
        expr: "0 3 * * 1".into(),
        branch: "main".into(),
    };
    let created = rt
        .block_on(c.create_cron("coop-cloud", "ccci", &new))
        .unwrap();
    assert_eq!(created.name, "keycloak");
    assert_eq!(created.expr, "0 3 * * 1");
    let patch = CronPatch {
        branch: Some("next".into()),
        ..CronPatch::default()
    };
    let updated = rt
        .block_on(c.update_cron("coop-cloud", "ccci", "keycloak", &patch))
        .unwrap();
    assert_eq!(updated.branch, "next");
    let listed = rt.block_on(c.crons("coop-cloud", "ccci")).unwrap();
    assert_eq!(listed.len(), 1);
    rt.block_on(c.delete_cron("coop-cloud", "ccci", "keycloak"))
        .unwrap();
    assert!(
        rt.block_on(c.crons("coop-cloud", "ccci"))
            .unwrap()
            .is_empty()
    );
    let paths: Vec<String> = drone
        .mutating_requests()
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(
        paths,
        [
            "POST /api/repos/coop-cloud/ccci/cron",
            "PATCH /api/repos/coop-cloud/ccci/cron/keycloak",
            "DELETE /api/repos/coop-cloud/ccci/cron/keycloak",
        ]
    );
}

#[test]
fn create_build_passes_branch_and_params_in_the_query() {
    let drone = FakeDrone::start();
    drone.add_repo(SLUG, true);
    let params = BTreeMap::from([
        ("RECIPE".to_owned(), "keycloak".to_owned()),
        ("REF".to_owned(), "0123abc".to_owned()),
    ]);
    let out = rt()
        .block_on(client(&drone).create_build("coop-cloud", "ccci", "main", &params))
        .unwrap();
    let BuildCreated::Created(build) = out else {
        panic!("expected a build, got {out:?}");
    };
    assert_eq!(build.number, 1);
    assert_eq!(build.event, "custom");
    assert_eq!(build.params, params);
    let req = &drone.requests()[0];
    assert_eq!(req.path, "/api/repos/coop-cloud/ccci/builds");
    assert_eq!(req.query_value("branch"), Some("main"));
    assert_eq!(req.query_value("RECIPE"), Some("keycloak"));
}

#[test]
fn create_build_answered_200_null_is_not_scheduled_not_success() {
    let drone = FakeDrone::start();
    drone.add_repo(SLUG, true);
    drone.fail_next(Failure::NullBuild);
    let out = rt()
        .block_on(client(&drone).create_build("coop-cloud", "ccci", "main", &BTreeMap::new()))
        .unwrap();
    assert_eq!(out, BuildCreated::NotScheduled);
}

#[test]
fn get_build_returns_stages_and_steps() {
    let drone = FakeDrone::start();
    drone.add_repo(SLUG, true);
    let c = client(&drone);
    let rt = rt();
    rt.block_on(c.create_build("coop-cloud", "ccci", "main", &BTreeMap::new()))
        .unwrap();
    drone.set_build_status(SLUG, 1, "failure");
    let build = rt.block_on(c.build("coop-cloud", "ccci", 1)).unwrap();
    assert!(build.is_finished());
    assert_eq!(build.stages.len(), 1);
    assert_eq!(build.stages[0].steps.len(), 2);
    assert_eq!(build.stages[0].steps[1].status, "failure");
}

#[test]
fn cancel_build_kills_a_pending_build() {
    let drone = FakeDrone::start();
    drone.add_repo(SLUG, true);
    let c = client(&drone);
    let rt = rt();
    rt.block_on(c.create_build("coop-cloud", "ccci", "main", &BTreeMap::new()))
        .unwrap();
    let build = rt
        .block_on(c.cancel_build("coop-cloud", "ccci", 1))
        .unwrap();
    assert_eq!(build.status, "killed");
    assert_eq!(drone.mutating_requests().last().unwrap().method, "DELETE");
}

#[test]
fn server_error_is_retryable() {
    let drone = FakeDrone::start();
    drone.add_repo(SLUG, true);
    drone.fail_next(Failure::Status(502));
    let err = rt()
        .block_on(client(&drone).repo("coop-cloud", "ccci"))
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::Retryable);
    assert_eq!(err.status(), Some(502));
}

#[test]
fn unauthorized_is_fatal_and_does_not_show_the_token() {
    let drone = FakeDrone::start();
    drone.add_repo(SLUG, true);
    let c = DroneClient::new(&drone.url(), DroneToken::new("wrong-token-value-xyz")).unwrap();
    let err = rt().block_on(c.repo("coop-cloud", "ccci")).unwrap_err();
    assert_eq!(err.class(), ErrorClass::Fatal);
    assert!(!err.to_string().contains("wrong-token-value-xyz"));
    assert!(!format!("{err:?}").contains("wrong-token-value-xyz"));
}

#[test]
fn unknown_repo_is_skip() {
    let drone = FakeDrone::start();
    let err = rt()
        .block_on(client(&drone).repo("coop-cloud", "nope"))
        .unwrap_err();
    assert!(err.is_not_found());
    assert_eq!(err.class(), ErrorClass::Skip);
}

#[test]
fn connection_refused_is_retryable() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let c = DroneClient::new(&format!("http://127.0.0.1:{port}"), DroneToken::new("t")).unwrap();
    let err = rt().block_on(c.repo("a", "b")).unwrap_err();
    assert_eq!(err.class(), ErrorClass::Retryable);
}

#[test]
fn sync_makes_a_new_repo_visible() {
    let drone = FakeDrone::start();
    drone.add_unsynced_repo(SLUG);
    let c = client(&drone);
    let rt = rt();
    assert!(
        rt.block_on(c.repo("coop-cloud", "ccci"))
            .unwrap_err()
            .is_not_found()
    );
    rt.block_on(c.sync_user_repos()).unwrap();
    assert!(rt.block_on(c.repo("coop-cloud", "ccci")).is_ok());
}
