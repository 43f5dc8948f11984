//! Real recipe shapes, enrolled through the registry and run over the
//! in-memory world: a router rule computed from the run domain, a secret
//! that needs a real value from the host, a `COMPOSE_FILE` chain extended by
//! the registry, and a recipe that is not on the host's Gitea. Each runs
//! green, and each breaks the right way when its data is broken.

#[path = "support/mem_fixture.rs"]
mod mem_fixture;
#[path = "support/mem_world/mod.rs"]
mod mem_world;
#[path = "support/recipe_fixture.rs"]
mod recipe_fixture;

use std::path::Path;
use std::sync::{Arc, Mutex};

use ccci::registry::{LaneMode, Rung, Source, load_from_sources};
use ccci::results::{Lane, ResultsV1, Status};
use ccci::run::progress::Progress;
use mem_fixture::{Commit, GIT_BASE, HTML, REPO, Scenario};
use mem_world::{Call, EXPECTS_SECRET};
use serde_json::Value;

const HOST: &str = r#"
[host]
name = "cc-ci"
ci_domain = "ci.example.org"
[gitea]
url = "https://git.example.org"
org = "coop-cloud"
bot_user = "ccci-bot"
oauth_client_id = "abc"
[abra]
version = "0.10.0-beta"
sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
[infra]
traefik = "3.0.0+v3.1.0"
drone = "1.0.0+2.20.0"
backup_bot_two = "2.0.0+2.0.0"
"#;

/// Every shape proves its data with a file the app serves.
const MARKER: &str = "\n[marker]\nkind = \"http-file\"\npath = \"/usr/share/nginx/html/ccci-marker.txt\"\nurl_path = \"/ccci-marker.txt\"\n";

/// The value the host holds for the secret shape's `api_key`.
const API_KEY: &str = "host-api-key-7f3a9c21";

/// The runner plan `ccci-gen` makes of `recipes/custom-html.toml` = `toml`,
/// with the host's paths moved into the scenario's directory (host secrets
/// under `<dir>/secrets/`).
fn enrolled(toml: &str) -> impl FnOnce(&Path) -> Value {
    let host = Source {
        path: "ccci.toml".into(),
        text: HOST.into(),
    };
    let recipe = Source {
        path: "recipes/custom-html.toml".into(),
        text: format!("{toml}{MARKER}"),
    };
    let reg = load_from_sources(&host, &[recipe]).unwrap_or_else(|e| panic!("{e}"));
    let r = reg.recipes.values().next().unwrap();
    let plan = ccci::generate::plans::runner_plan(&reg.host, r).unwrap();
    let mut v = serde_json::to_value(plan).unwrap();
    move |dir: &Path| {
        v["abra_dir"] = dir.join("abra").to_str().unwrap().into();
        v["runs_dir"] = dir.join("runs").to_str().unwrap().into();
        v["token_file"] = dir.join("no-token").to_str().unwrap().into();
        v["timeouts"]["deploy_secs"] = 20.into();
        v["timeouts"]["http_secs"] = 5.into();
        if let Some(m) = v["secret_values"].as_object_mut() {
            for hs in m.values_mut() {
                let key = hs["key"].as_str().unwrap().to_owned();
                hs["file"] = dir.join("secrets").join(key).to_str().unwrap().into();
            }
        }
        v
    }
}

/// A compose file with `extra_labels` on the app's router and services
/// `extra` appended (YAML under `services:`), and top-level `tail`.
fn compose(version: &str, rule: &str, app_extra: &str, tail: &str) -> String {
    format!(
        r#"version: "3.8"
services:
  app:
    image: nginx:1.25
    volumes:
      - content:{HTML}
    networks:
      - proxy
    deploy:
      labels:
        - "traefik.enable=true"
        - "traefik.http.routers.${{STACK_NAME}}.rule={rule}"
        - "traefik.http.routers.${{STACK_NAME}}.entrypoints=web-secure"
        - "coop-cloud.${{STACK_NAME}}.version={version}"
        - "coop-cloud.${{STACK_NAME}}.timeout=5"
        - "backupbot.backup=true"
{app_extra}volumes:
  content:
networks:
  proxy:
    external: true
{tail}"#
    )
}

const PLAIN_RULE: &str = "Host(`${DOMAIN}`)";

/// Two releases and a PR head, each with `files(version)`.
fn history(files: impl Fn(&str) -> Vec<(String, String)>) -> (Vec<Commit>, Commit) {
    let releases = ["1.0.0+1.25", "1.1.0+1.27"]
        .iter()
        .map(|v| Commit {
            files: files(v),
            tag: Some((*v).to_owned()),
        })
        .collect();
    let head = Commit {
        files: files("1.2.0+1.27"),
        tag: None,
    };
    (releases, head)
}

fn rung(r: &ResultsV1, rung: Rung) -> (Status, String) {
    let x = &r.rungs[&rung];
    (x.status, x.reason.clone())
}

fn assert_green(r: &ResultsV1) {
    for rg in [Rung::Install, Rung::Upgrade, Rung::BackupRestore] {
        assert_eq!(rung(r, rg).0, Status::Pass, "{rg:?}: {}", rung(r, rg).1);
    }
    assert!(r.green, "{:?}", r.rungs);
}

/// The env each deploy of `domain` used.
fn deployed_env(sc: &Scenario, domain: &str) -> Vec<std::collections::BTreeMap<String, String>> {
    sc.world
        .calls()
        .into_iter()
        .filter_map(|c| match c {
            Call::Deploy { domain: d, env, .. } if d == domain => Some(env),
            _ => None,
        })
        .collect()
}

fn deploys(sc: &Scenario) -> usize {
    sc.world
        .calls()
        .iter()
        .filter(|c| matches!(c, Call::Deploy { .. }))
        .count()
}

#[derive(Clone, Default)]
struct Lines(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Lines {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Lines {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

// ---- a router rule computed from the run domain -------------------------

const EXTRA_RULE: &str = "Host(`${DOMAIN}`${EXTRA_DOMAINS})";
const EXTRA_SAMPLE: &str = "TYPE=custom-html\nDOMAIN=custom-html.example.com\n## Domain aliases\n#EXTRA_DOMAINS=', `www.custom-html.example.com`'\nLETS_ENCRYPT_ENV=production\n";

fn router_shape(extra_domains: &str) -> Scenario {
    let (releases, head) = history(|v| {
        vec![
            ("compose.yml".into(), compose(v, EXTRA_RULE, "", "")),
            (".env.sample".into(), EXTRA_SAMPLE.into()),
        ]
    });
    let toml = format!("[env_from_domain]\nEXTRA_DOMAINS = {extra_domains:?}\n");
    Scenario::build(
        releases,
        head,
        enrolled(&toml),
        &format!("{GIT_BASE}/{REPO}.git"),
    )
}

#[test]
fn a_computed_router_rule_routes_the_run_domain() {
    let sc = router_shape(", `www-{label}.{ci_domain}`");
    let (r, _) = sc.run(LaneMode::Concurrent);
    assert_green(&r);
    let domain = &r.lanes[&Lane::Fresh].domain;
    let label = domain.split('.').next().unwrap();
    let env = &deployed_env(&sc, domain)[0];
    assert_eq!(
        env["EXTRA_DOMAINS"],
        format!(", `www-{label}.ci.example.org`")
    );
    sc.assert_nothing_left();
}

#[test]
fn a_router_rule_traefik_cannot_parse_fails_install() {
    // No back quotes: the rule is `Host(`d`, www-…)`, which Traefik refuses,
    // so the run domain answers with the fallback 404.
    let sc = router_shape(", www-{label}.{ci_domain}");
    let (r, _) = sc.run(LaneMode::Concurrent);
    let (status, reason) = rung(&r, Rung::Install);
    assert_eq!(status, Status::Fail, "{reason}");
    assert!(reason.contains("not healthy"), "{reason}");
    sc.assert_nothing_left();
}

#[test]
fn hostile_template_text_reaches_the_app_env_verbatim() {
    let (releases, head) = history(|v| {
        vec![
            ("compose.yml".into(), compose(v, PLAIN_RULE, "", "")),
            (".env.sample".into(), "DOMAIN=x.example.com\n".into()),
        ]
    });
    let template = "a'b\"c $(id) `x` $HOME \\ # {domain}";
    let toml = format!(
        "[env_from_domain]\nHOSTILE = {}\n",
        toml::Value::String(template.into())
    );
    let sc = Scenario::build(
        releases,
        head,
        enrolled(&toml),
        &format!("{GIT_BASE}/{REPO}.git"),
    );
    let (r, _) = sc.run(LaneMode::Concurrent);
    assert_green(&r);
    let domain = &r.lanes[&Lane::Fresh].domain;
    let env = &deployed_env(&sc, domain)[0];
    assert_eq!(
        env["HOSTILE"],
        format!("a'b\"c $(id) `x` $HOME \\ # {domain}")
    );
}

// ---- a secret that needs a real value -----------------------------------

fn secret_shape(host_value: Option<&str>) -> Scenario {
    let (releases, head) = history(|v| {
        let app_extra = format!(
            "        - \"{EXPECTS_SECRET}=api_key:{API_KEY}\"\n    secrets:\n      - api_key\n      - db_password\n"
        );
        let tail = "secrets:\n  api_key:\n    external: true\n    name: ${STACK_NAME}_api_key_${SECRET_API_KEY_VERSION}\n  db_password:\n    external: true\n    name: ${STACK_NAME}_db_password_${SECRET_DB_PASSWORD_VERSION}\n";
        vec![
            (
                "compose.yml".into(),
                compose(v, PLAIN_RULE, &app_extra, tail),
            ),
            (
                ".env.sample".into(),
                "DOMAIN=x.example.com\nSECRET_API_KEY_VERSION=v1\nSECRET_DB_PASSWORD_VERSION=v1\n"
                    .into(),
            ),
        ]
    });
    let sc = Scenario::build(
        releases,
        head,
        enrolled("[secret_values]\napi_key = \"custom_html_api_key\"\n"),
        &format!("{GIT_BASE}/{REPO}.git"),
    );
    if let Some(value) = host_value {
        let dir = sc.dir().join("secrets");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("custom_html_api_key"), value).unwrap();
    }
    sc
}

#[test]
fn a_required_secret_is_inserted_from_the_host_and_never_shown() {
    let sc = secret_shape(Some(API_KEY));
    let lines = Lines::default();
    let (r, _) = sc.run_with(LaneMode::Concurrent, Progress::to(Box::new(lines.clone())));
    assert_green(&r);
    let calls = sc.world.calls();
    let inserted: Vec<(String, String)> = calls
        .iter()
        .filter_map(|c| match c {
            Call::SecretInsert {
                name,
                version,
                file,
                ..
            } => {
                assert!(file.ends_with("secrets/custom_html_api_key"), "{file:?}");
                Some((name.clone(), version.clone()))
            }
            _ => None,
        })
        .collect();
    // Both lanes create an app; each gets the host's value.
    assert_eq!(
        inserted,
        vec![("api_key".to_owned(), "v1".to_owned()); 2],
        "{calls:?}"
    );
    // The other secret is generated by name, never with --all (which would
    // generate api_key too).
    assert!(
        calls
            .iter()
            .any(|c| matches!(c, Call::SecretGenerateOne { name, .. } if name == "db_password"))
    );
    assert!(
        !calls
            .iter()
            .any(|c| matches!(c, Call::SecretGenerateAll { .. }))
    );
    let results = serde_json::to_string(&r).unwrap();
    assert!(!results.contains(API_KEY));
    assert!(!lines.text().contains(API_KEY), "{}", lines.text());
    assert!(
        lines
            .text()
            .contains("from the host secret custom_html_api_key"),
        "{}",
        lines.text()
    );
    sc.assert_nothing_left();
}

#[test]
fn a_missing_host_secret_fails_install_naming_the_key_and_deploys_nothing() {
    let sc = secret_shape(None);
    let (r, _) = sc.run(LaneMode::Concurrent);
    let (status, reason) = rung(&r, Rung::Install);
    assert_eq!(status, Status::Fail, "{reason}");
    assert!(reason.contains("`custom_html_api_key`"), "{reason}");
    assert!(reason.contains("is missing"), "{reason}");
    assert_eq!(deploys(&sc), 0, "{:?}", sc.world.calls());
    assert!(
        !sc.world.calls().iter().any(|c| matches!(
            c,
            Call::SecretGenerateOne { .. } | Call::SecretGenerateAll { .. }
        )),
        "no secret is made before every host value is known"
    );
    assert!(!r.green);
    sc.assert_nothing_left();
}

#[test]
fn a_wrong_host_secret_value_fails_install() {
    // The app checks its key at start and exits: a crash loop, not a pass.
    let sc = secret_shape(Some("not-the-right-key-000"));
    let (r, _) = sc.run(LaneMode::Concurrent);
    let (status, reason) = rung(&r, Rung::Install);
    assert_eq!(status, Status::Fail, "{reason}");
    sc.assert_nothing_left();
}

// ---- a COMPOSE_FILE chain extended by the registry ----------------------

/// Routes only when `${VAR:-default}` is interpolated as docker does.
const CHAIN_RULE: &str = "Host(`${DOMAIN:-nowhere.example.com}`${EXTRA_DOMAINS:-})";

const CHAIN_SAMPLE: &str = "DOMAIN=x.example.com\nCOMPOSE_FILE=\"compose.yml\"\nCOMPOSE_FILE=\"$COMPOSE_FILE:compose.postgres.yml\"\n#COMPOSE_FILE=\"$COMPOSE_FILE:compose.smtp.yml\"\nPOSTGRES_TAG=16";

fn chain_shape(smtp: &str, toml: &str) -> Scenario {
    let smtp = smtp.to_owned();
    let (releases, head) = history(move |v| {
        vec![
            ("compose.yml".into(), compose(v, CHAIN_RULE, "", "")),
            (
                "compose.postgres.yml".into(),
                "version: \"3.8\"\nservices:\n  db:\n    image: postgres:${POSTGRES_TAG:-15}\n    volumes:\n      - postgres:/var/lib/postgresql/data\n    deploy:\n      labels:\n        - \"db.image=postgres:${POSTGRES_TAG:-15}\"\nvolumes:\n  postgres:\n"
                    .into(),
            ),
            ("compose.smtp.yml".into(), smtp.clone()),
            (".env.sample".into(), CHAIN_SAMPLE.into()),
        ]
    });
    Scenario::build(
        releases,
        head,
        enrolled(toml),
        &format!("{GIT_BASE}/{REPO}.git"),
    )
}

const SMTP: &str = "version: \"3.8\"\nservices:\n  smtp:\n    image: boky/postfix\n    deploy:\n      labels:\n        - \"smtp.stack=${STACK_NAME}\"\n";

#[test]
fn a_compose_file_chain_and_an_optional_file_are_deployed_and_checked() {
    let sc = chain_shape(SMTP, "compose_files = [\"compose.smtp.yml\"]\n");
    let (r, _) = sc.run(LaneMode::Concurrent);
    assert_green(&r);
    let want = "compose.yml:compose.postgres.yml:compose.smtp.yml";
    for lane in [Lane::Fresh, Lane::Upgrade] {
        let domain = &r.lanes[&lane].domain;
        for env in deployed_env(&sc, domain) {
            assert_eq!(env["COMPOSE_FILE"], want, "{lane:?}");
        }
    }
    let policy = r
        .checks
        .iter()
        .find(|c| c.name == "compose policy")
        .expect("the policy check");
    assert_eq!(
        policy.detail,
        "compose.yml, compose.postgres.yml, compose.smtp.yml"
    );
    sc.assert_nothing_left();
}

#[test]
fn the_chain_alone_deploys_its_files_and_interpolates_defaults() {
    let sc = chain_shape(SMTP, "");
    let (r, _) = sc.run(LaneMode::Sequential);
    assert_green(&r);
    let domain = &r.lanes[&Lane::Fresh].domain;
    let env = &deployed_env(&sc, domain)[0];
    assert_eq!(env["COMPOSE_FILE"], "compose.yml:compose.postgres.yml");
}

#[test]
fn an_optional_compose_file_the_policy_refuses_stops_the_run() {
    let evil =
        "version: \"3.8\"\nservices:\n  smtp:\n    image: boky/postfix\n    privileged: true\n";
    let sc = chain_shape(evil, "compose_files = [\"compose.smtp.yml\"]\n");
    let (r, _) = sc.run(LaneMode::Concurrent);
    let (status, reason) = rung(&r, Rung::Install);
    assert_eq!(status, Status::Fail, "{reason}");
    assert!(reason.contains("privileged"), "{reason}");
    assert!(reason.contains("compose.smtp.yml"), "{reason}");
    assert!(
        !sc.world
            .calls()
            .iter()
            .any(|c| matches!(c, Call::AppNew { .. })),
        "nothing is created"
    );
}

#[test]
fn a_compose_file_missing_from_the_recipe_fails_before_anything_is_made() {
    let sc = chain_shape(SMTP, "compose_files = [\"compose.s3.yml\"]\n");
    let (r, _) = sc.run(LaneMode::Concurrent);
    let (status, reason) = rung(&r, Rung::Install);
    assert_eq!(status, Status::Fail, "{reason}");
    assert!(reason.contains("compose.s3.yml"), "{reason}");
    assert_eq!(deploys(&sc), 0);
}

// ---- a recipe that is not on the host's Gitea ---------------------------

const LOCAL_REPO: &str = "/srv/recipes/custom-html";

fn local_shape(repo_at: &str) -> Scenario {
    let (releases, head) = history(|v| {
        vec![
            ("compose.yml".into(), compose(v, PLAIN_RULE, "", "")),
            (".env.sample".into(), "DOMAIN=x.example.com\n".into()),
        ]
    });
    Scenario::build(
        releases,
        head,
        enrolled(&format!("git_url = \"{LOCAL_REPO}\"\n")),
        repo_at,
    )
}

#[test]
fn a_recipe_off_the_gitea_is_cloned_from_its_git_url_without_the_token() {
    let sc = local_shape(LOCAL_REPO);
    assert_eq!(
        sc.plan.git_url.as_ref().map(|u| u.as_str()),
        Some(LOCAL_REPO)
    );
    let (r, _) = sc.run(LaneMode::Concurrent);
    assert_green(&r);
    let fetches: Vec<(String, String, bool)> = sc
        .world
        .calls()
        .into_iter()
        .filter_map(|c| match c {
            Call::Fetch {
                src_url,
                upstream_url,
                with_token,
                ..
            } => Some((src_url, upstream_url, with_token)),
            _ => None,
        })
        .collect();
    assert_eq!(
        fetches,
        vec![(LOCAL_REPO.to_owned(), LOCAL_REPO.to_owned(), false)]
    );
    sc.assert_nothing_left();
}

#[test]
fn a_recipe_off_the_gitea_is_never_looked_for_on_the_gitea() {
    // The repository exists only on the Gitea: the run must not fall back
    // to it, it reports that its own git URL cannot be cloned.
    let sc = local_shape(&format!("{GIT_BASE}/{REPO}.git"));
    let (r, _) = sc.run(LaneMode::Concurrent);
    assert!(!r.green);
    let (status, reason) = rung(&r, Rung::Install);
    assert_ne!(status, Status::Pass);
    assert!(reason.contains(LOCAL_REPO), "{reason}");
    assert_eq!(deploys(&sc), 0);
}
