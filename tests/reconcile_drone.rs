//! `ccci reconcile drone`: the drone recipe with Gitea OAuth, then the CI
//! repository's settings and cron jobs through the (fake) Drone API. The app
//! runs in the in-memory world, the API over HTTP against the fake Drone;
//! the binary with the fake abra/docker is checked for its precondition.

mod support;

use support::fake_drone::FakeDrone;
use support::infra::*;

const CI_REPO: &str = "coop-cloud/ccci";

fn setup() -> (MemInfra, FakeDrone) {
    let drone = FakeDrone::start();
    drone.add_repo(CI_REPO, false);
    (MemInfra::with_swarm(), drone)
}

fn http_mutations(drone: &FakeDrone) -> Vec<String> {
    drone
        .mutating_requests()
        .iter()
        .map(|r| format!("{} {} {}", r.method, r.path, r.body))
        .map(|s| s.trim_end().to_owned())
        .collect()
}

#[test]
fn first_reconcile_deploys_drone_and_configures_the_ci_repo() {
    let (i, drone) = setup();
    done(i.reconcile("drone", &i.drone_config(&drone.url())));
    let rpc = path_str(&i.secrets.join("drone_rpc_secret"));
    let client = path_str(&i.secrets.join("drone_client_secret"));
    assert_eq!(
        i.mutations(),
        [
            "abra server add --local -n".to_owned(),
            "abra recipe fetch drone -n".to_owned(),
            format!("abra app new drone -s default -D {DRONE_DOMAIN} -n -C -o"),
            format!("abra app secret insert {DRONE_DOMAIN} rpc_secret v1 {rpc} -f -C -o -n"),
            format!("abra app secret insert {DRONE_DOMAIN} client_secret v1 {client} -f -C -o -n"),
            format!("abra app deploy {DRONE_DOMAIN} -C -o -n -c"),
        ]
    );
    let env = i.env_text(DRONE_DOMAIN);
    assert!(
        env.lines().any(|l| l == "GITEA_DOMAIN=git.example.org"),
        "{env}"
    );
    assert!(
        env.lines()
            .any(|l| l == "COMPOSE_FILE=compose.yml:compose.gitea.yml"),
        "{env}"
    );
    assert_eq!(
        http_mutations(&drone),
        [
            "POST /api/repos/coop-cloud/ccci",
            r#"POST /api/repos/coop-cloud/ccci/cron {"name":"custom-html","expr":"0 3 * * 1","branch":"main"}"#,
            r#"POST /api/repos/coop-cloud/ccci/cron {"name":"keycloak","expr":"0 4 * * 1","branch":"main"}"#,
        ]
    );
    assert_eq!(drone.repo(CI_REPO).unwrap()["active"], true);
}

#[test]
fn the_build_timeout_is_patched_when_it_differs() {
    let (i, drone) = setup();
    let mut cfg = i.drone_config(&drone.url());
    cfg["api"]["build_timeout_minutes"] = 90.into();
    done(i.reconcile("drone", &cfg));
    assert!(
        http_mutations(&drone)
            .contains(&r#"PATCH /api/repos/coop-cloud/ccci {"timeout":90}"#.to_owned())
    );
    assert_eq!(drone.repo(CI_REPO).unwrap()["timeout"], 90);
}

#[test]
fn second_reconcile_performs_no_mutating_call_nor_request() {
    let (i, drone) = setup();
    let cfg = i.drone_config(&drone.url());
    done(i.reconcile("drone", &cfg));
    i.clear_calls();
    drone.clear_requests();
    let report = done(i.reconcile("drone", &cfg));
    assert_eq!(i.mutations(), Vec::<String>::new());
    assert_eq!(http_mutations(&drone), Vec::<String>::new());
    assert!(report.is_noop(), "{report:?}");
    let every_request_authorised = drone
        .requests()
        .iter()
        .all(|r| r.path == "/healthz" || r.path.starts_with("/api/"));
    assert!(every_request_authorised);
}

#[test]
fn the_cron_of_a_removed_recipe_is_deleted() {
    let (i, drone) = setup();
    let mut cfg = i.drone_config(&drone.url());
    done(i.reconcile("drone", &cfg));
    cfg["api"]["crons"]
        .as_array_mut()
        .unwrap()
        .retain(|c| c["name"] != "keycloak");
    drone.clear_requests();
    done(i.reconcile("drone", &cfg));
    assert_eq!(
        http_mutations(&drone),
        ["DELETE /api/repos/coop-cloud/ccci/cron/keycloak"]
    );
    let names: Vec<String> = drone
        .crons(CI_REPO)
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["custom-html"]);
}

#[test]
fn a_changed_cron_expression_is_recreated_because_drone_cannot_patch_it() {
    let (i, drone) = setup();
    let mut cfg = i.drone_config(&drone.url());
    done(i.reconcile("drone", &cfg));
    cfg["api"]["crons"][0]["expr"] = "30 2 * * 0".into();
    drone.clear_requests();
    done(i.reconcile("drone", &cfg));
    assert_eq!(
        http_mutations(&drone),
        [
            "DELETE /api/repos/coop-cloud/ccci/cron/custom-html",
            r#"POST /api/repos/coop-cloud/ccci/cron {"name":"custom-html","expr":"30 2 * * 0","branch":"main"}"#,
        ]
    );
}

#[test]
fn a_changed_cron_branch_is_patched_in_place() {
    let (i, drone) = setup();
    let mut cfg = i.drone_config(&drone.url());
    done(i.reconcile("drone", &cfg));
    cfg["api"]["crons"][1]["branch"] = "next".into();
    drone.clear_requests();
    done(i.reconcile("drone", &cfg));
    assert_eq!(
        http_mutations(&drone),
        [r#"PATCH /api/repos/coop-cloud/ccci/cron/keycloak {"branch":"next","disabled":false}"#]
    );
}

#[test]
fn a_timeout_silently_ignored_by_drone_is_an_error_naming_the_admin_requirement() {
    let (i, drone) = setup();
    drone.set_admin(false);
    let mut cfg = i.drone_config(&drone.url());
    cfg["api"]["build_timeout_minutes"] = 90.into();
    let err = i.reconcile("drone", &cfg).unwrap_err();
    assert!(err.to_string().contains("admin"), "{err}");
}

#[test]
fn a_missing_token_file_fails_naming_the_path_and_touches_nothing() {
    let (i, drone) = setup();
    let cfg = i.drone_config(&drone.url());
    i.host().remove(&i.secrets.join("drone_token"));
    let err = i.reconcile("drone", &cfg).unwrap_err().to_string();
    assert!(
        err.contains(&path_str(&i.secrets.join("drone_token"))),
        "{err}"
    );
    assert_eq!(i.calls(), Vec::<String>::new());
    assert!(drone.requests().is_empty());
}

#[test]
fn a_bad_token_fails_and_is_never_printed() {
    let (i, drone) = setup();
    let cfg = i.drone_config(&drone.url());
    drone.set_token("another-token-entirely");
    // What ccci would print: the error (there is no report on failure).
    let all = i.reconcile("drone", &cfg).unwrap_err().to_string();
    assert!(all.contains("401"), "{all}");
    assert!(!all.contains(support::fake_drone::FAKE_TOKEN));
}

#[test]
fn an_unsynced_repo_is_synced_then_activated() {
    let drone = FakeDrone::start();
    drone.add_unsynced_repo(CI_REPO);
    let i = MemInfra::with_swarm();
    done(i.reconcile("drone", &i.drone_config(&drone.url())));
    let muts = http_mutations(&drone);
    assert_eq!(muts[0], "POST /api/user/repos");
    assert_eq!(muts[1], "POST /api/repos/coop-cloud/ccci");
}

#[test]
fn an_unhealthy_drone_fails_after_the_health_wait() {
    use ccci::reconcile::drone::Waits;
    use std::time::Duration;
    let (i, drone) = setup();
    drone.set_healthy(false);
    let cfg = i.drone_config(&drone.url());
    let waits = Waits {
        health_timeout: Duration::from_millis(300),
        poll: Duration::from_millis(50),
        ..Waits::default()
    };
    let err = i.reconcile_drone(&cfg, waits).unwrap_err();
    assert!(err.to_string().contains("/healthz"), "{err}");
    assert!(
        drone
            .requests()
            .iter()
            .filter(|r| r.path == "/healthz")
            .count()
            >= 2
    );
    assert!(http_mutations(&drone).is_empty());
}

#[test]
fn a_transient_drone_error_is_retried() {
    use ccci::reconcile::drone::Waits;
    use std::time::Duration;
    let (i, drone) = setup();
    drone.fail_next(support::fake_drone::Failure::Status(502));
    let cfg = i.drone_config(&drone.url());
    let waits = Waits {
        retry_delay: Duration::from_millis(10),
        ..Waits::default()
    };
    let report = i.reconcile_drone(&cfg, waits).unwrap();
    assert!(
        report.actions.iter().any(|a| a.contains("retrying")),
        "{report:?}"
    );
    assert_eq!(drone.repo(CI_REPO).unwrap()["active"], true);
    assert_eq!(drone.crons(CI_REPO).len(), 2);
}

#[test]
fn an_unauthorised_token_is_not_retried() {
    use ccci::reconcile::drone::Waits;
    use std::time::Duration;
    let (i, drone) = setup();
    drone.fail_next(support::fake_drone::Failure::Unauthorized);
    let cfg = i.drone_config(&drone.url());
    let waits = Waits {
        retry_delay: Duration::from_millis(10),
        ..Waits::default()
    };
    assert!(i.reconcile_drone(&cfg, waits).is_err());
    let api_calls = drone
        .requests()
        .iter()
        .filter(|r| r.path.starts_with("/api/"))
        .count();
    assert_eq!(api_calls, 1);
}

/// Through `ccci` and the fake abra/docker: the token is read before any
/// tool runs, and a missing one exits 1 naming it.
mod through_the_fakes {
    use super::support::fake_drone::FakeDrone;
    use super::support::infra::*;

    #[test]
    fn a_missing_token_file_fails_naming_the_path_and_touches_nothing() {
        let drone = FakeDrone::start();
        drone.add_repo(super::CI_REPO, false);
        let i = Infra::bare();
        let cfg = i.drone_config(&drone.url());
        std::fs::remove_file(i.secrets.join("drone_token")).unwrap();
        let out = i.reconcile("drone", &cfg);
        assert_eq!(out.status.code(), Some(1));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(&path_str(&i.secrets.join("drone_token"))),
            "{stderr}"
        );
        assert_eq!(i.host.calls(), vec![]);
        assert!(drone.requests().is_empty());
    }
}

#[test]
fn the_drone_hook_secret_reaches_the_env_file_from_its_file_and_a_rotation_redeploys() {
    let (i, drone) = setup();
    let hook = i.secrets.join("drone_webhook_secret");
    i.host().write(hook.clone(), "first-hook-secret\n");
    let mut cfg = i.drone_config(&drone.url());
    cfg["app"]["env_files"] = serde_json::json!({ "DRONE_WEBHOOK_SECRET": path_str(&hook) });
    let report = done(i.reconcile("drone", &cfg));
    assert!(
        !lines(&report).contains("first-hook-secret"),
        "never printed"
    );
    let env = i.env_text(DRONE_DOMAIN);
    assert!(
        env.lines()
            .any(|l| l == "DRONE_WEBHOOK_SECRET=first-hook-secret"),
        "{env}"
    );
    i.clear_calls();
    assert!(done(i.reconcile("drone", &cfg)).is_noop(), "unchanged");
    i.host().write(hook.clone(), "second-hook-secret\n");
    i.clear_calls();
    done(i.reconcile("drone", &cfg));
    assert_eq!(i.deploys().len(), 1, "a rotated secret redeploys");
    assert!(
        i.env_text(DRONE_DOMAIN)
            .contains("DRONE_WEBHOOK_SECRET=second-hook-secret")
    );
    // A missing file stops the reconcile before anything is touched.
    i.host().remove(&hook);
    i.clear_calls();
    let err = i.reconcile("drone", &cfg).unwrap_err().to_string();
    assert!(err.contains(&path_str(&hook)), "{err}");
    assert_eq!(i.mutations(), Vec::<String>::new());
}
