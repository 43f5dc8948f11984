//! The recipe the `ccci run` scenarios deploy (custom-html: nginx serving a
//! volume), its releases and PR heads, and the plan they run with. Shared by
//! the fake-host world (run_fixture.rs) and the in-memory one (mem_fixture.rs).
#![allow(dead_code)]

use serde_json::Value;

pub const CI: &str = "ci.example.org";
pub const REPO: &str = "coop-cloud/custom-html";
pub const HTML: &str = "/usr/share/nginx/html";

/// A compose file as the recipe writes it; `volume` and `host_rule` vary in
/// the known-bad recipes.
pub fn compose(version: &str, volume: &str, host_var: &str) -> String {
    format!(
        r#"version: "3.8"
services:
  app:
    image: nginx:1.25
    volumes:
      - {volume}:{HTML}
    networks:
      - proxy
    deploy:
      update_config:
        failure_action: rollback
        order: start-first
      labels:
        - "traefik.enable=true"
        - "traefik.http.routers.${{STACK_NAME}}.rule=Host(`${{{host_var}}}`)"
        - "traefik.http.routers.${{STACK_NAME}}.entrypoints=web-secure"
        - "coop-cloud.${{STACK_NAME}}.version={version}"
        - "coop-cloud.${{STACK_NAME}}.timeout=5"
        - "backupbot.backup=true"
volumes:
  {volume}:
networks:
  proxy:
    external: true
"#
    )
}

pub const ENV_SAMPLE: &str = "TYPE=custom-html\nDOMAIN=custom-html.example.com\n## Domain aliases\n#EXTRA_DOMAINS=', `www.custom-html.example.com`'\nLETS_ENCRYPT_ENV=production";

pub const SMOKE_TEST: &str = "#!/bin/sh\n# The recipe's own test: the run must hand it the app.\ntest -n \"$CCCI_BASE_URL\" && test -n \"$CCCI_APP_DOMAIN\" && test -n \"$CCCI_STACK\" || { echo 'missing CCCI_* environment' >&2; exit 1; }\ncase \"$CCCI_BASE_URL\" in https://*.ci.example.org) ;; *) echo \"bad base url $CCCI_BASE_URL\" >&2; exit 1;; esac\n";

/// One commit of the recipe: files to write, and a tag (releases) or not (the PR).
pub struct Commit {
    pub files: Vec<(String, String)>,
    pub tag: Option<String>,
}

pub fn release(version: &str) -> Commit {
    Commit {
        files: vec![
            ("compose.yml".into(), compose(version, "content", "DOMAIN")),
            (".env.sample".into(), ENV_SAMPLE.into()),
        ],
        tag: Some(version.into()),
    }
}

/// The PR head: a new version, the recipe's tests, and whatever `compose` says.
pub fn pr_head(compose_text: String) -> Commit {
    Commit {
        files: vec![
            ("compose.yml".into(), compose_text),
            ("tests/smoke.sh".into(), SMOKE_TEST.into()),
        ],
        tag: None,
    }
}

/// The plan every scenario runs: minimal.json with the recipe's repository,
/// an HTTPS-file marker in the served volume and one home-page check; paths
/// under `root`.
pub fn plan_json(root: &std::path::Path) -> Value {
    let mut plan: Value =
        serde_json::from_str(include_str!("../fixtures/plans/minimal.json")).unwrap();
    plan["repo"] = REPO.into();
    plan["abra_dir"] = root.join("abra").to_str().unwrap().into();
    plan["runs_dir"] = root.join("runs").to_str().unwrap().into();
    plan["token_file"] = root.join("no-token").to_str().unwrap().into();
    plan["timeouts"]["deploy_secs"] = 20.into();
    plan["timeouts"]["http_secs"] = 5.into();
    plan["marker"] = serde_json::json!({
        "kind": "http-file", "service": "app",
        "path": format!("{HTML}/ccci-marker.txt"), "url_path": "/ccci-marker.txt"
    });
    plan["checks"] = serde_json::json!([
        {"name": "home page", "path": "/", "statuses": [200], "body_contains": "custom-html", "json_key": null}
    ]);
    plan
}

/// A worker stack with no web domain: a worker with a data volume and a
/// cron service declared at 0 replicas; no router.
pub fn worker_compose(version: &str, volume: &str) -> String {
    format!(
        r#"version: "3.8"
services:
  worker:
    image: example/worker:1
    volumes:
      - {volume}:/data
    deploy:
      labels:
        - "coop-cloud.${{STACK_NAME}}.version={version}"
        - "backupbot.backup=true"
  cron:
    image: example/cron:1
    deploy:
      replicas: 0
volumes:
  {volume}:
"#
    )
}

/// A release of the worker recipe.
pub fn worker_release(version: &str) -> Commit {
    Commit {
        files: vec![
            ("compose.yml".into(), worker_compose(version, "data")),
            (
                ".env.sample".into(),
                "TYPE=worker\nDOMAIN=worker.example.com\n".into(),
            ),
        ],
        tag: Some(version.into()),
    }
}

/// The plan of the worker recipe as the registry renders `web = false`
/// with an exec marker in the worker's volume.
pub fn worker_plan(plan: &mut Value) {
    plan["web"] = false.into();
    plan["checks"] = serde_json::json!([]);
    plan["browser"] = serde_json::json!([]);
    plan["recipe_tests"] = false.into();
    plan["marker"] = serde_json::json!({"kind": "exec", "service": "worker",
        "write": "echo {value} > /data/marker", "read": "cat /data/marker"});
}
