//! Runner plans and service configs built from the registry: the same types
//! `ccci` reads, filled with every decision made here.

use std::collections::BTreeMap;

use crate::config::{
    AbraApp, BackupbotConfigV1, BridgeConfigV1, BridgeCredentials, CONFIG_SCHEMA, DroneApi,
    DroneConfigV1, DroneCron, FileSecret, ProxyConfigV1, SwarmConfigV1,
};
use crate::header::JsonHeader;
use crate::plan::{HostSecret, PLAN_SCHEMA, PlanV1, Timeouts};
use crate::registry::values::{AbsPath, HttpUrl, Version, Word};
use crate::registry::{Host, Recipe, Registry};

use crate::names::abra;
use crate::names::host::{self, credential, secret};

/// Values built from validated parts are valid; a failure here is a bug in the
/// generator, reported as such instead of a panic.
#[derive(Debug, thiserror::Error)]
#[error("internal error: the generator built an invalid {what}: {value:?}")]
pub struct BuiltInvalid {
    pub what: &'static str,
    pub value: String,
}

fn build<T: std::str::FromStr>(what: &'static str, value: String) -> Result<T, BuiltInvalid> {
    value.parse().map_err(|_| BuiltInvalid { what, value })
}

pub fn runner_plan(host: &Host, recipe: &Recipe) -> Result<PlanV1, BuiltInvalid> {
    Ok(PlanV1 {
        header: JsonHeader,
        schema: PLAN_SCHEMA,
        recipe: recipe.name.clone(),
        repo: recipe.repo.clone(),
        category: recipe.category.clone(),
        gitea_url: host.gitea.url.clone(),
        git_url: (!recipe.on_gitea).then(|| recipe.git_url.clone()),
        web: recipe.web,
        token_file: build("path", secret::path(secret::GITEA_BOT_TOKEN))?,
        ci_domain: host.ci_domain.clone(),
        server: build("word", abra::SERVER.to_owned())?,
        abra_dir: host.abra_dir.clone(),
        runs_dir: host.runs_dir.clone(),
        timeouts: Timeouts {
            deploy_secs: recipe.deploy_timeout.as_secs(),
            http_secs: recipe.http_timeout.as_secs(),
            deadline_secs: host.run.deadline.as_secs(),
            janitor_max_age_secs: host.run.janitor_max_age.as_secs(),
        },
        lanes: recipe.lanes,
        backup: recipe.backup,
        lint: recipe.lint,
        recipe_tests: recipe.recipe_tests,
        health: recipe.health.clone(),
        env: recipe.env.clone(),
        env_from_domain: recipe.env_from_domain.clone(),
        compose_files: recipe.compose_files.clone(),
        secret_values: recipe
            .secret_values
            .iter()
            .map(|(name, key)| {
                Ok((
                    name.clone(),
                    HostSecret {
                        key: key.clone(),
                        file: build("path", secret::path(key.as_str()))?,
                    },
                ))
            })
            .collect::<Result<_, BuiltInvalid>>()?,
        marker: recipe.marker.clone(),
        upgrade_base: recipe.upgrade_base.clone(),
        skip: recipe.skip.clone(),
        compose_allow: recipe.compose_allow.clone(),
        checks: recipe.checks.clone(),
        browser: recipe.browser.clone(),
        depends_on: recipe.depends_on.clone(),
    })
}

fn https(domain: &impl std::fmt::Display) -> Result<HttpUrl, BuiltInvalid> {
    build("URL", format!("https://{domain}"))
}

fn abra_app(
    host: &Host,
    recipe: &str,
    version: &Version,
    domain: &crate::registry::values::Domain,
    env: &[(&str, String)],
) -> Result<AbraApp, BuiltInvalid> {
    let mut map: BTreeMap<String, String> = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();
    // Infra apps use the wildcard certificate too: never ACME.
    map.insert("LETS_ENCRYPT_ENV".to_owned(), String::new());
    Ok(AbraApp {
        server: build("word", abra::SERVER.to_owned())?,
        abra_dir: host.abra_dir.clone(),
        recipe: build("word", recipe.to_owned())?,
        version: version.clone(),
        domain: domain.clone(),
        env: map,
        env_files: BTreeMap::new(),
    })
}

fn file_secret(
    name: &str,
    version_key: Option<&str>,
    file: String,
) -> Result<FileSecret, BuiltInvalid> {
    Ok(FileSecret {
        name: build::<Word>("word", name.to_owned())?,
        version_key: version_key.map(str::to_owned),
        file: build::<AbsPath>("path", file)?,
    })
}

pub fn swarm_config(host: &Host) -> Result<SwarmConfigV1, BuiltInvalid> {
    Ok(SwarmConfigV1 {
        header: JsonHeader,
        schema: CONFIG_SCHEMA,
        advertise_addr: host.advertise_addr,
        network: build("word", host::PROXY_NETWORK.to_owned())?,
    })
}

/// Traefik in wildcard mode (docs/traefik.md, "Wildcard certificate without ACME"):
/// the certificate and key come from files, ACME is off.
pub fn proxy_config(host: &Host) -> Result<ProxyConfigV1, BuiltInvalid> {
    let env = [
        ("WILDCARDS_ENABLED", "1".to_owned()),
        ("SECRET_WILDCARD_CERT_VERSION", "v1".to_owned()),
        ("SECRET_WILDCARD_KEY_VERSION", "v1".to_owned()),
        (
            "COMPOSE_FILE",
            "compose.yml:compose.wildcard.yml".to_owned(),
        ),
    ];
    Ok(ProxyConfigV1 {
        header: JsonHeader,
        schema: CONFIG_SCHEMA,
        app: abra_app(
            host,
            "traefik",
            &host.infra.traefik,
            &host.infra.traefik_domain,
            &env,
        )?,
        secrets: vec![
            file_secret(
                "ssl_cert",
                Some("SECRET_WILDCARD_CERT_VERSION"),
                format!("{}/fullchain.pem", host.cert_dir),
            )?,
            file_secret(
                "ssl_key",
                Some("SECRET_WILDCARD_KEY_VERSION"),
                format!("{}/privkey.pem", host.cert_dir),
            )?,
        ],
    })
}

/// The Drone server with Gitea OAuth, and what the Drone API must say afterwards.
pub fn drone_config(reg: &Registry) -> Result<DroneConfigV1, BuiltInvalid> {
    let host = &reg.host;
    let mut env = vec![
        ("COMPOSE_FILE", "compose.yml:compose.gitea.yml".to_owned()),
        ("GITEA_CLIENT_ID", host.gitea.oauth_client_id.to_string()),
        ("GITEA_DOMAIN", host.gitea.url.host().to_owned()),
        // The bot becomes a Drone admin at its first (OAuth) login, which the
        // build-timeout PATCH needs (docs/drone.md, "Build timeout needs an admin").
        (
            "DRONE_USER_CREATE",
            format!("username:{},admin:true", host.gitea.bot_user),
        ),
    ];
    // Drone's build events to the bridge (docs/drone.md, "System webhooks"):
    // only `build:updated`, the event a finished build sends.
    let hook = host.bridge.drone_hook_base_url.as_ref();
    if let Some(base) = hook {
        env.push((
            "DRONE_WEBHOOK_ENDPOINT",
            format!("{}{}", base.trimmed(), host::DRONE_HOOK_PATH),
        ));
        env.push(("DRONE_WEBHOOK_EVENTS", "build:updated".to_owned()));
    }
    let crons = reg
        .recipes
        .values()
        .filter(|r| r.weekly_sweep)
        .map(|r| {
            Ok(DroneCron {
                name: r.name.clone(),
                expr: host::WEEKLY.to_owned(),
                branch: build("word", host::CI_BRANCH.to_owned())?,
            })
        })
        .collect::<Result<Vec<_>, BuiltInvalid>>()?;
    Ok(DroneConfigV1 {
        header: JsonHeader,
        schema: CONFIG_SCHEMA,
        app: AbraApp {
            env_files: match hook {
                Some(_) => BTreeMap::from([(
                    "DRONE_WEBHOOK_SECRET".to_owned(),
                    build("path", secret::path(secret::DRONE_WEBHOOK))?,
                )]),
                None => BTreeMap::new(),
            },
            ..abra_app(host, "drone", &host.infra.drone, &host.drone.domain, &env)?
        },
        secrets: vec![
            file_secret("rpc_secret", None, secret::path(secret::DRONE_RPC))?,
            file_secret("client_secret", None, secret::path(secret::DRONE_CLIENT))?,
        ],
        api: DroneApi {
            url: https(&host.drone.domain)?,
            token_file: build("path", secret::path(secret::DRONE_API_TOKEN))?,
            ci_repo: host.drone.ci_repo.clone(),
            build_timeout_minutes: host.drone.build_timeout.as_minutes_ceil(),
            crons,
        },
    })
}

pub fn backupbot_config(host: &Host) -> Result<BackupbotConfigV1, BuiltInvalid> {
    let env = [(
        "RESTIC_REPOSITORY",
        host.infra.backup_repository.to_string(),
    )];
    Ok(BackupbotConfigV1 {
        header: JsonHeader,
        schema: CONFIG_SCHEMA,
        app: abra_app(
            host,
            "backup-bot-two",
            &host.infra.backup_bot_two,
            &host.infra.backupbot_domain,
            &env,
        )?,
        restic_password_secret: build("word", "restic_password".to_owned())?,
    })
}

pub fn bridge_config(reg: &Registry) -> Result<BridgeConfigV1, BuiltInvalid> {
    let host = &reg.host;
    Ok(BridgeConfigV1 {
        header: JsonHeader,
        schema: CONFIG_SCHEMA,
        gitea_url: host.gitea.url.clone(),
        org: host.gitea.org.clone(),
        bot_user: host.gitea.bot_user.clone(),
        drone_url: https(&host.drone.domain)?,
        ci_repo: host.drone.ci_repo.clone(),
        ci_branch: build("word", host::CI_BRANCH.to_owned())?,
        repos: reg
            .recipes
            .values()
            // A recipe cloned from elsewhere has no pull requests on the
            // host's Gitea to watch.
            .filter(|r| r.on_gitea)
            .map(|r| (r.repo.clone(), r.name.clone()))
            .collect(),
        trigger: host.bridge.trigger.clone(),
        allowlist: host.bridge.allowlist.clone(),
        poll_interval_secs: host.bridge.poll_interval.as_secs(),
        sweep_interval_secs: host.bridge.sweep_interval.as_secs(),
        listen: host.bridge.listen,
        webhook: host.bridge.webhook,
        runs_dir: host.runs_dir.clone(),
        credentials: BridgeCredentials {
            gitea_token: credential::GITEA_TOKEN.to_owned(),
            drone_token: credential::DRONE_TOKEN.to_owned(),
            webhook_secret: host
                .bridge
                .webhook
                .then(|| credential::WEBHOOK_SECRET.to_owned()),
            drone_hook_secret: host
                .bridge
                .drone_hook_base_url
                .as_ref()
                .map(|_| credential::DRONE_HOOK_SECRET.to_owned()),
        },
    })
}
