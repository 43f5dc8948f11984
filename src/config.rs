//! The service configs ccci-gen renders into `modules-gen/etc/` and `ccci bridge`
//! / `ccci reconcile` read: one serde type per file, each with a schema version.
//! Every decision (env values, secret names, cron jobs) is made by the generator;
//! the runtime only converges to what the config says. The file names are
//! [`crate::names::files::ServiceConfig`]'s; `tests/contract_snapshots.rs`
//! shows each shape.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::contract::{Contract, ContractError};
use crate::header::JsonHeader;
use crate::registry::values::{
    AbsPath, Domain, HttpUrl, RecipeName, RepoSlug, UserName, Version, Word,
};

/// The config format version shared by every file under `modules-gen/etc/`.
pub const CONFIG_SCHEMA: u32 = 1;

/// `modules-gen/etc/bridge.json`: what `ccci bridge` watches and whom it trusts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BridgeConfigV1 {
    #[serde(rename = "//")]
    pub header: JsonHeader,
    pub schema: u32,
    pub gitea_url: HttpUrl,
    pub org: UserName,
    pub bot_user: UserName,
    pub drone_url: HttpUrl,
    /// The repository whose builds run recipe CI.
    pub ci_repo: RepoSlug,
    /// The branch of `ci_repo` builds are created on (its `.drone.yml` runs them).
    pub ci_branch: Word,
    /// Enrolled repository → recipe. Only comments on these repos are considered.
    pub repos: BTreeMap<RepoSlug, RecipeName>,
    pub trigger: Word,
    /// Empty: every org member may trigger.
    pub allowlist: Vec<UserName>,
    pub poll_interval_secs: u64,
    pub sweep_interval_secs: u64,
    pub listen: SocketAddr,
    pub webhook: bool,
    /// Where builds leave `<build number>/results.json`.
    pub runs_dir: AbsPath,
    /// Names of systemd credentials (files in `$CREDENTIALS_DIRECTORY`).
    pub credentials: BridgeCredentials,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BridgeCredentials {
    pub gitea_token: String,
    pub drone_token: String,
    /// Present when the webhook is enabled.
    pub webhook_secret: Option<String>,
    /// Present when the Drone server posts its build events to the bridge's
    /// `/drone-hook` (docs/drone.md, "System webhooks"): the secret they are
    /// signed with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drone_hook_secret: Option<String>,
}

/// `modules-gen/etc/reconcile-swarm.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SwarmConfigV1 {
    #[serde(rename = "//")]
    pub header: JsonHeader,
    pub schema: u32,
    pub advertise_addr: Ipv4Addr,
    /// The attachable overlay network every app's Traefik labels point at.
    pub network: Word,
}

/// An infrastructure app deployed with abra from a pinned recipe version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AbraApp {
    /// abra's name for the local server.
    pub server: Word,
    pub abra_dir: AbsPath,
    pub recipe: Word,
    pub version: Version,
    pub domain: Domain,
    /// Keys the app's `.env` must hold with exactly these values.
    pub env: BTreeMap<String, String>,
    /// Keys the app's `.env` must hold with the (trimmed) content of these
    /// files: secrets the recipe reads from its environment, kept out of
    /// this world-readable config.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env_files: BTreeMap<String, AbsPath>,
}

/// A secret inserted from a file when docker does not have it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSecret {
    /// The recipe's secret name, e.g. `ssl_cert`.
    pub name: Word,
    /// The env key holding the secret's version (bumped when the file changes),
    /// or none when the version stays at the recipe default.
    pub version_key: Option<String>,
    pub file: AbsPath,
}

/// `modules-gen/etc/reconcile-proxy.json`: Traefik in wildcard mode, no ACME.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxyConfigV1 {
    #[serde(rename = "//")]
    pub header: JsonHeader,
    pub schema: u32,
    pub app: AbraApp,
    pub secrets: Vec<FileSecret>,
}

/// `modules-gen/etc/reconcile-drone.json`: the Drone server and its API settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DroneConfigV1 {
    #[serde(rename = "//")]
    pub header: JsonHeader,
    pub schema: u32,
    pub app: AbraApp,
    pub secrets: Vec<FileSecret>,
    pub api: DroneApi,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DroneApi {
    pub url: HttpUrl,
    pub token_file: AbsPath,
    pub ci_repo: RepoSlug,
    pub build_timeout_minutes: u64,
    /// Exactly these cron jobs exist on the CI repo afterwards.
    pub crons: Vec<DroneCron>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DroneCron {
    /// Named after the recipe; the sweep pipeline's `trigger.cron` matches it.
    pub name: RecipeName,
    pub expr: String,
    pub branch: Word,
}

/// `modules-gen/etc/reconcile-backupbot.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupbotConfigV1 {
    #[serde(rename = "//")]
    pub header: JsonHeader,
    pub schema: u32,
    pub app: AbraApp,
    /// Generated by abra only when missing; its value is never printed.
    pub restic_password_secret: Word,
}

/// The service config contract.
pub const CONFIG: Contract = Contract {
    what: "config",
    schema: CONFIG_SCHEMA,
    remedy: "regenerate with ccci-gen",
};

/// Why a config could not be read.
pub type ConfigError = ContractError;

/// Read any of the configs above, checking its schema first.
pub fn read_config<T: DeserializeOwned>(path: &Path) -> Result<T, ConfigError> {
    CONFIG.read(path)
}

pub fn parse_config<T: DeserializeOwned>(shown: &str, text: &str) -> Result<T, ConfigError> {
    CONFIG.parse(shown, text)
}
