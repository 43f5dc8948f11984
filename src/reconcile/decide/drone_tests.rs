use serde_json::json;

use super::*;
use crate::forge::drone::DroneError;

fn api(timeout: u64, crons: serde_json::Value) -> DroneApi {
    serde_json::from_value(json!({
        "url": "https://drone.example.org",
        "token_file": "/run/secrets/drone_token",
        "ci_repo": "coop-cloud/ccci",
        "build_timeout_minutes": timeout,
        "crons": crons,
    }))
    .unwrap()
}

fn two_crons() -> serde_json::Value {
    json!([
        { "name": "keycloak", "expr": "0 4 * * 1", "branch": "main" },
        { "name": "custom-html", "expr": "0 3 * * 1", "branch": "main" },
    ])
}

fn cron(name: &str, expr: &str, branch: &str, disabled: bool) -> Cron {
    serde_json::from_value(json!({
        "id": 1, "name": name, "expr": expr, "branch": branch, "disabled": disabled,
    }))
    .unwrap()
}

fn repo(timeout: i64) -> Repo {
    serde_json::from_value(json!({ "id": 1, "active": true, "timeout": timeout })).unwrap()
}

fn new(name: &str, expr: &str, branch: &str) -> NewCron {
    NewCron {
        name: name.to_owned(),
        expr: expr.to_owned(),
        branch: branch.to_owned(),
    }
}

#[test]
fn missing_crons_are_created_in_name_order() {
    let api = api(60, two_crons());
    assert_eq!(
        plan_crons(&api.crons, &[]),
        [
            CronAction::Create(new("custom-html", "0 3 * * 1", "main")),
            CronAction::Create(new("keycloak", "0 4 * * 1", "main")),
        ]
    );
}

#[test]
fn crons_as_configured_need_nothing() {
    let api = api(60, two_crons());
    let have = [
        cron("keycloak", "0 4 * * 1", "main", false),
        cron("custom-html", "0 3 * * 1", "main", false),
    ];
    assert!(plan_crons(&api.crons, &have).is_empty());
}

#[test]
fn a_cron_no_longer_configured_is_deleted_first() {
    let api = api(
        60,
        json!([{ "name": "custom-html", "expr": "0 3 * * 1", "branch": "main" }]),
    );
    let have = [
        cron("custom-html", "0 3 * * 1", "next", false),
        cron("keycloak", "0 4 * * 1", "main", false),
    ];
    let plan = plan_crons(&api.crons, &have);
    assert_eq!(
        plan[0],
        CronAction::Delete {
            name: "keycloak".to_owned()
        }
    );
    assert_eq!(plan.len(), 2);
}

#[test]
fn a_changed_expression_is_recreated() {
    let api = api(
        60,
        json!([{ "name": "custom-html", "expr": "30 2 * * 0", "branch": "main" }]),
    );
    let have = [cron("custom-html", "0 3 * * 1", "main", false)];
    assert_eq!(
        plan_crons(&api.crons, &have),
        [CronAction::Recreate {
            cron: new("custom-html", "30 2 * * 0", "main"),
            was: "0 3 * * 1".to_owned(),
        }]
    );
}

#[test]
fn a_changed_branch_or_a_disabled_cron_is_patched_in_place() {
    let api = api(
        60,
        json!([{ "name": "keycloak", "expr": "0 4 * * 1", "branch": "next" }]),
    );
    let patch = CronAction::Update {
        name: "keycloak".to_owned(),
        patch: CronPatch {
            branch: Some("next".to_owned()),
            disabled: Some(false),
            ..CronPatch::default()
        },
    };
    let moved = [cron("keycloak", "0 4 * * 1", "main", false)];
    assert_eq!(plan_crons(&api.crons, &moved), std::slice::from_ref(&patch));
    let disabled = [cron("keycloak", "0 4 * * 1", "next", true)];
    assert_eq!(plan_crons(&api.crons, &disabled), [patch]);
}

#[test]
fn no_configured_cron_deletes_them_all() {
    let api = api(60, json!([]));
    let have = [
        cron("a", "0 1 * * *", "main", false),
        cron("b", "0 2 * * *", "main", true),
    ];
    assert_eq!(plan_crons(&api.crons, &have).len(), 2);
}

#[test]
fn the_timeout_is_patched_only_when_it_differs() {
    assert_eq!(timeout_patch(&api(60, json!([])), &repo(60)), None);
    let patch = timeout_patch(&api(90, json!([])), &repo(60)).unwrap();
    assert_eq!(patch.timeout, Some(90));
    assert_eq!(serde_json::to_string(&patch).unwrap(), r#"{"timeout":90}"#);
}

#[test]
fn a_timeout_drone_ignored_names_the_admin_requirement() {
    let api = api(90, json!([]));
    assert!(check_timeout(&api, &repo(90)).is_ok());
    let err = check_timeout(&api, &repo(60)).unwrap_err().to_string();
    assert!(
        err.contains("stayed 60 min (wanted 90)") && err.contains("admin"),
        "{err}"
    );
}

fn status(code: u16) -> ReconcileError {
    ReconcileError::Drone(DroneError::Status {
        method: "GET".to_owned(),
        path: "/api/repos/coop-cloud/ccci".to_owned(),
        status: code,
        message: String::new(),
    })
}

#[test]
fn only_transient_errors_are_retried_and_only_while_attempts_remain() {
    assert!(retry(&status(502), 1, 3));
    assert!(retry(&status(502), 2, 3));
    assert!(!retry(&status(502), 3, 3));
    assert!(!retry(&status(401), 1, 3));
    assert!(!retry(&status(404), 1, 3));
    assert!(!retry(&ReconcileError::Precondition("x".to_owned()), 1, 3));
}
