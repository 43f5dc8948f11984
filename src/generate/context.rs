//! Template contexts: decisions already made.
//!
//! These structs are load-bearing: templates read their fields and nothing
//! else, and they only format. Every list is in its final order, every name
//! is computed, every command is assembled here (shell-quoted where it is
//! shell); a template never interprets registry data.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::header::GENERATED;
use crate::registry::Registry;

use super::escape::{Unrepresentable, sh_quote};
use crate::names::files::{self, ServiceConfig};
use crate::names::host::{self, secret};

/// A reconcile oneshot (docs/architecture.md, "Reconcile oneshots"): converges
/// one app on every boot and activation, no run-once sentinel.
#[derive(Debug, Serialize)]
pub struct ReconcileUnit {
    /// systemd unit name, without `.service`.
    pub name: String,
    pub description: String,
    /// `ccci reconcile <app>`.
    pub app: String,
    /// Relative Nix path of the config.
    pub config: String,
    /// Units this one is ordered after and requires (besides docker).
    pub after: Vec<String>,
    /// nixpkgs attributes on the unit's PATH.
    pub path: Vec<String>,
}

impl ReconcileUnit {
    fn new(config: ServiceConfig, description: &str, after: &[&str]) -> Self {
        let app = config.piece().unwrap_or_default();
        let swarm = config == ServiceConfig::Swarm;
        let mut units = vec![host::service("docker"), host::service(host::SWARM_UNIT)];
        units.extend(after.iter().map(|u| host::service(u)));
        Self {
            name: host::reconcile_unit(app),
            description: description.to_owned(),
            app: app.to_owned(),
            config: config.module_relative_path(),
            after: if swarm {
                vec![host::service("docker")]
            } else {
                units
            },
            path: if swarm {
                vec!["docker".to_owned()]
            } else {
                vec![
                    "abra".to_owned(),
                    "docker".to_owned(),
                    "git".to_owned(),
                    "util-linux".to_owned(),
                ]
            },
        }
    }
}

#[derive(Debug, Serialize)]
pub struct DefaultModule {
    pub header: &'static str,
    pub imports: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct SwarmModule {
    pub header: &'static str,
    pub prune_flags: Vec<String>,
    pub firewall_ports: Vec<u16>,
    pub unit: ReconcileUnit,
}

#[derive(Debug, Serialize)]
pub struct AbraModule {
    pub header: &'static str,
    pub version: String,
    pub url: String,
    pub sha256: String,
}

#[derive(Debug, Serialize)]
pub struct AppModule {
    pub header: &'static str,
    pub unit: ReconcileUnit,
    /// Directories the app needs on the host (tmpfiles `d` rules).
    pub directories: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct RunnerModule {
    pub header: &'static str,
    /// systemd unit name, without `.service`.
    pub unit: String,
    /// Units the runner starts after (builds need the swarm).
    pub after: Vec<String>,
    pub environment: Vec<(String, String)>,
    /// sops template holding `DRONE_RPC_SECRET=`.
    pub env_template: String,
    pub env_template_lines: Vec<(String, String)>,
    pub runs_dir: String,
    /// The janitor's oneshot and timer unit name.
    pub janitor_unit: String,
    /// `ccci janitor`'s arguments (each escaped by the template).
    pub janitor_args: Vec<String>,
    pub janitor_every: String,
}

#[derive(Debug, Serialize)]
pub struct BridgeModule {
    pub header: &'static str,
    /// systemd unit name, without `.service`.
    pub unit: String,
    /// The word a comment must carry, as the config sets it.
    pub trigger: String,
    pub description: String,
    pub config: String,
    pub state_directory: String,
    /// (credential name, sops secret name)
    pub credentials: Vec<(String, String)>,
    pub runs_dir: String,
}

#[derive(Debug, Serialize)]
pub struct HarnessModule {
    pub header: &'static str,
    /// nixpkgs attributes joined into the runner's PATH.
    pub packages: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct SecretsModule {
    pub header: &'static str,
    pub secrets: Vec<SecretEntry>,
}

#[derive(Debug, Serialize)]
pub struct SecretEntry {
    pub name: String,
    pub purpose: String,
}

#[derive(Debug, Serialize)]
pub struct DroneYml {
    pub header: &'static str,
    pub pipelines: Vec<Pipeline>,
}

#[derive(Debug, Serialize)]
pub struct Pipeline {
    pub name: String,
    pub events: Vec<String>,
    /// `trigger.cron`, for sweep pipelines.
    pub cron: Vec<String>,
    pub concurrency: Option<u32>,
    pub steps: Vec<Step>,
}

#[derive(Debug, Serialize)]
pub struct Step {
    pub name: String,
    pub environment: Vec<(String, String)>,
    /// Shell commands, already quoted.
    pub commands: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct KeysDoc {
    pub header: &'static str,
    pub reference: String,
}

pub fn default_module() -> DefaultModule {
    DefaultModule {
        header: GENERATED,
        imports: [
            "swarm",
            "abra",
            "proxy",
            "drone",
            "drone-runner",
            "backupbot",
            "bridge",
            "harness",
            "secrets",
            "dashboard",
        ]
        .iter()
        .map(|m| format!("./{m}.nix"))
        .collect(),
    }
}

pub fn swarm_module() -> SwarmModule {
    SwarmModule {
        header: GENERATED,
        // Volumes are not pruned: `until` is refused together with `--volumes`,
        // and an unfiltered volume prune could take a stopped infra app's data.
        // Leftover test volumes are the janitor's job.
        prune_flags: vec!["--all".into(), "--filter".into(), "until=24h".into()],
        firewall_ports: vec![80, 443],
        unit: ReconcileUnit::new(
            ServiceConfig::Swarm,
            "ccci: Docker swarm and the proxy overlay network",
            &[],
        ),
    }
}

pub fn abra_module(reg: &Registry) -> AbraModule {
    let abra = &reg.host.abra;
    AbraModule {
        header: GENERATED,
        version: abra.version.to_string(),
        url: abra.url.to_string(),
        sha256: abra.sha256.to_string(),
    }
}

pub fn proxy_module(reg: &Registry) -> AppModule {
    AppModule {
        header: GENERATED,
        unit: ReconcileUnit::new(
            ServiceConfig::Proxy,
            "ccci: Traefik (wildcard certificate, no ACME)",
            &[],
        ),
        directories: vec![reg.host.cert_dir.to_string()],
    }
}

pub fn drone_module() -> AppModule {
    AppModule {
        header: GENERATED,
        // Drone's API is reached through Traefik, so the proxy comes first.
        unit: ReconcileUnit::new(
            ServiceConfig::Drone,
            "ccci: Drone server, CI repository settings and cron jobs",
            &[&host::reconcile_unit("proxy")],
        ),
        directories: vec![],
    }
}

pub fn backupbot_module() -> AppModule {
    AppModule {
        header: GENERATED,
        unit: ReconcileUnit::new(ServiceConfig::Backupbot, "ccci: backup-bot-two", &[]),
        directories: vec![],
    }
}

pub fn runner_module(reg: &Registry) -> RunnerModule {
    let host = &reg.host;
    RunnerModule {
        header: GENERATED,
        unit: host::RUNNER_UNIT.to_owned(),
        after: vec![host::service("docker"), host::service(host::SWARM_UNIT)],
        environment: vec![
            ("DRONE_RPC_PROTO".into(), "https".into()),
            ("DRONE_RPC_HOST".into(), host.drone.domain.to_string()),
            (
                "DRONE_RUNNER_CAPACITY".into(),
                host.drone.runner_capacity.to_string(),
            ),
            ("DRONE_RUNNER_NAME".into(), host.name.to_string()),
            // The exec runner points HOME at the build workspace; abra then finds
            // no servers (docs/drone.md, "HOME on the exec runner"). Steps set HOME again.
            ("HOME".into(), "/root".into()),
        ],
        env_template: "drone-runner.env".into(),
        env_template_lines: vec![("DRONE_RPC_SECRET".into(), secret::DRONE_RPC.into())],
        runs_dir: host.runs_dir.to_string(),
        janitor_unit: host::JANITOR_UNIT.to_owned(),
        janitor_args: vec![
            "janitor".into(),
            "--abra-dir".into(),
            host.abra_dir.to_string(),
            "--server".into(),
            crate::names::abra::SERVER.into(),
            "--ci-domain".into(),
            host.ci_domain.to_string(),
            "--runs-dir".into(),
            host.runs_dir.to_string(),
            "--max-age".into(),
            format!("{}s", host.run.janitor_max_age.as_secs()),
        ],
        janitor_every: host::JANITOR_EVERY.to_owned(),
    }
}

pub fn bridge_module(reg: &Registry) -> BridgeModule {
    use crate::names::host::credential;
    let mut credentials = vec![
        (
            credential::GITEA_TOKEN.to_owned(),
            secret::GITEA_BOT_TOKEN.to_owned(),
        ),
        (
            credential::DRONE_TOKEN.to_owned(),
            secret::DRONE_API_TOKEN.to_owned(),
        ),
    ];
    if reg.host.bridge.webhook {
        credentials.push((
            credential::WEBHOOK_SECRET.to_owned(),
            secret::WEBHOOK.to_owned(),
        ));
    }
    if reg.host.bridge.drone_hook_base_url.is_some() {
        credentials.push((
            credential::DRONE_HOOK_SECRET.to_owned(),
            secret::DRONE_WEBHOOK.to_owned(),
        ));
    }
    BridgeModule {
        header: GENERATED,
        config: ServiceConfig::Bridge.module_relative_path(),
        unit: host::BRIDGE_UNIT.to_owned(),
        trigger: reg.host.bridge.trigger.to_string(),
        description: format!(
            "ccci bridge: {} comments to Drone builds and PR reports",
            reg.host.bridge.trigger
        ),
        state_directory: host::BRIDGE_UNIT.to_owned(),
        credentials,
        runs_dir: reg.host.runs_dir.to_string(),
    }
}

pub fn harness_module() -> HarnessModule {
    HarnessModule {
        header: GENERATED,
        packages: [
            "ccci",
            "abra",
            "git",
            "docker",
            "chromium",
            "chromedriver",
            "util-linux",
            "bash",
            "coreutils",
            "gnugrep",
            "gnused",
            "findutils",
            "openssh",
            "nix",
        ]
        .iter()
        .map(|p| (*p).to_owned())
        .collect(),
    }
}

/// Every secret the host needs, with what it is for.
pub fn secrets(reg: &Registry) -> Vec<SecretEntry> {
    let mut list = vec![
        (
            secret::DRONE_RPC,
            "shared secret of the Drone server and its exec runner (any long random string)",
        ),
        (
            secret::DRONE_CLIENT,
            "client secret of the Gitea OAuth application Drone logs in with",
        ),
        (
            secret::DRONE_API_TOKEN,
            "Drone API token of the bot (Drone UI → user settings, after the one-time OAuth login)",
        ),
        (
            secret::GITEA_BOT_TOKEN,
            "Gitea token of the bot: read:organization, write:issue, write:repository",
        ),
    ];
    if reg.host.bridge.webhook {
        list.push((
            secret::WEBHOOK,
            "HMAC secret of the Gitea webhook to the bridge's /hook",
        ));
    }
    if reg.host.bridge.drone_hook_base_url.is_some() {
        list.push((
            secret::DRONE_WEBHOOK,
            "secret the Drone server signs its build events to the bridge's /drone-hook with (any long random string)",
        ));
    }
    let mut entries: Vec<SecretEntry> = list
        .into_iter()
        .map(|(name, purpose)| SecretEntry {
            name: name.to_owned(),
            purpose: purpose.to_owned(),
        })
        .collect();
    entries.extend(recipe_secret_values(reg));
    entries
}

/// The host secrets recipes take real values from (`secret_values`), one entry
/// per key however many recipes use it; `ccci run` reads the file sops-nix
/// makes of each and inserts it into the test app.
fn recipe_secret_values(reg: &Registry) -> Vec<SecretEntry> {
    let mut users: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for recipe in reg.recipes.values() {
        for (name, key) in &recipe.secret_values {
            users
                .entry(key.as_str())
                .or_default()
                .push(format!("{}'s secret {name}", recipe.name));
        }
    }
    users
        .into_iter()
        .map(|(key, used_by)| SecretEntry {
            name: key.to_owned(),
            purpose: format!(
                "value of {} in its test apps (a real value, not generated)",
                used_by.join(", ")
            ),
        })
        .collect()
}

pub fn secrets_module(reg: &Registry) -> SecretsModule {
    SecretsModule {
        header: GENERATED,
        secrets: secrets(reg),
    }
}

/// `.drone.yml`: self-test on push, recipe CI on the bridge's custom builds,
/// one weekly sweep per opted-in recipe.
pub fn drone_yml(reg: &Registry) -> Result<DroneYml, Unrepresentable> {
    let host = &reg.host;
    let runs = sh_quote(host.runs_dir.as_str())?;
    let home = vec![("HOME".to_owned(), "/root".to_owned())];
    let enrolled = reg
        .recipes
        .keys()
        .map(|n| sh_quote(n.as_str()))
        .collect::<Result<Vec<_>, _>>()?
        .join("|");
    // Parameters arrive as environment variables straight from the build
    // request: validate every one before it reaches a command. No `${…}` here:
    // Drone substitutes that syntax into the YAML before the shell sees it.
    // `grep -z` makes the whole value one record, so a newline cannot smuggle
    // a second line past `-x`.
    let mut recipe_ci = vec![Pipeline {
        name: "recipe-ci".into(),
        events: vec!["custom".into()],
        cron: vec![],
        concurrency: Some(host.drone.runner_capacity),
        steps: vec![
            Step {
                name: "validate parameters".into(),
                environment: vec![],
                commands: vec![
                    if enrolled.is_empty() {
                        "echo \"RECIPE: no recipe is enrolled\" >&2; exit 2".to_owned()
                    } else {
                        format!("case \"$RECIPE\" in {enrolled}) ;; *) echo \"RECIPE must be an enrolled recipe, got: $RECIPE\" >&2; exit 2 ;; esac")
                    },
                    "printf '%s' \"$REF\" | grep -Eqxz '[0-9a-f]{40}' || { echo \"REF must be a 40-hex commit id\" >&2; exit 2; }".into(),
                    "printf '%s' \"$SRC\" | grep -Eqxz '[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+' || { echo \"SRC must be owner/name\" >&2; exit 2; }".into(),
                    "printf '%s' \"$PR\" | grep -Eqxz '[0-9]+' || { echo \"PR must be a number\" >&2; exit 2; }".into(),
                ],
            },
            Step {
                name: "run".into(),
                environment: home.clone(),
                commands: vec![format!(
                    "ccci run --plan \"{plan}\" --ref \"$REF\" --src \"$SRC\" --pr \"$PR\" --out {out}",
                    plan = files::runner_plan_file("$RECIPE"),
                    out = files::build_output_dir_sh(&runs),
                )],
            },
        ],
    }];
    let mut pipelines = vec![Pipeline {
        name: "self-test".into(),
        events: vec!["push".into()],
        cron: vec![],
        concurrency: None,
        steps: vec![
            Step {
                name: "generated files are fresh".into(),
                environment: vec![],
                commands: vec!["ccci-gen --check".into()],
            },
            Step {
                name: "flake checks".into(),
                environment: home.clone(),
                commands: vec!["nix flake check --no-build".into()],
            },
        ],
    }];
    pipelines.append(&mut recipe_ci);
    for recipe in reg.recipes.values().filter(|r| r.weekly_sweep) {
        // The recipe's own git URL: a recipe that is not on the host's Gitea
        // is swept from where it lives.
        let url = recipe.git_url.as_str();
        pipelines.push(Pipeline {
            name: host::sweep_pipeline_name(&recipe.name),
            events: vec!["cron".into()],
            cron: vec![recipe.name.to_string()],
            concurrency: Some(1),
            steps: vec![Step {
                name: "run".into(),
                environment: home.clone(),
                commands: vec![
                    format!("REF=$(git ls-remote {} HEAD | cut -f1)", sh_quote(url)?),
                    "printf '%s' \"$REF\" | grep -Eqxz '[0-9a-f]{40}' || { echo \"cannot resolve the default branch head\" >&2; exit 2; }".into(),
                    format!(
                        "ccci run --plan {} --ref \"$REF\" --src {} --out {}",
                        sh_quote(&files::runner_plan_path(&recipe.name))?,
                        sh_quote(recipe.repo.as_str())?,
                        files::build_output_dir_sh(&runs),
                    ),
                ],
            }],
        });
    }
    Ok(DroneYml {
        header: GENERATED,
        pipelines,
    })
}

pub fn keys_doc() -> KeysDoc {
    KeysDoc {
        header: GENERATED,
        reference: crate::registry::keys::reference_markdown(),
    }
}
