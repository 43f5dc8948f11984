//! The registry as it is written: `ccci.toml` and `recipes/<name>.toml`.
//!
//! These types deserialize straight from TOML. Their fields are already validated
//! value types, so a bad value is reported by serde with the exact span. Keys whose
//! default depends on another file (a recipe's timeouts default to the host's) stay
//! `Option` here and are settled in `resolve`.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};

use serde::{Deserialize, Serialize};

use super::values::{
    AbsPath, ComposeFileName, Domain, Duration, EnvKey, GitUrl, HostName, HostSecretKey, HttpUrl,
    RecipeName, RepoSlug, SecretName, ServiceName, Sha256, StatusList, UrlPath, UserName, Version,
    Word,
};

/// `ccci.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostFile {
    pub host: HostSection,
    pub gitea: GiteaSection,
    #[serde(default)]
    pub drone: DroneSection,
    #[serde(default)]
    pub run: RunSection,
    #[serde(default)]
    pub bridge: BridgeSection,
    pub abra: AbraSection,
    pub infra: InfraSection,
    #[serde(default)]
    pub dashboard: DashboardSection,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DashboardSection {
    pub domain: Option<Domain>,
    pub site_dir: Option<AbsPath>,
    pub retention: Option<Duration>,
    pub nginx: Option<Version>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostSection {
    pub name: HostName,
    pub ci_domain: Domain,
    pub advertise_addr: Option<Ipv4Addr>,
    pub cert_dir: Option<AbsPath>,
    pub runs_dir: Option<AbsPath>,
    pub abra_dir: Option<AbsPath>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GiteaSection {
    pub url: HttpUrl,
    pub org: UserName,
    pub bot_user: UserName,
    pub oauth_client_id: Word,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DroneSection {
    pub domain: Option<Domain>,
    pub ci_repo: Option<RepoSlug>,
    pub runner_capacity: Option<u32>,
    pub build_timeout: Option<Duration>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunSection {
    pub deploy_timeout: Option<Duration>,
    pub http_timeout: Option<Duration>,
    pub deadline: Option<Duration>,
    pub janitor_max_age: Option<Duration>,
    pub lanes: Option<LaneMode>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BridgeSection {
    pub poll_interval: Option<Duration>,
    pub sweep_interval: Option<Duration>,
    pub trigger: Option<Word>,
    pub allowlist: Option<Vec<UserName>>,
    pub listen: Option<SocketAddr>,
    pub webhook: Option<bool>,
    pub drone_hook_base_url: Option<HttpUrl>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AbraSection {
    pub version: Version,
    pub url: Option<HttpUrl>,
    pub sha256: Sha256,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InfraSection {
    pub traefik: Version,
    pub drone: Version,
    pub backup_bot_two: Version,
    pub traefik_domain: Option<Domain>,
    pub backupbot_domain: Option<Domain>,
    pub backup_repository: Option<AbsPath>,
}

/// `recipes/<name>.toml`. An empty file is a valid recipe: it gets the generic checks.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecipeFile {
    pub repo: Option<RepoSlug>,
    pub git_url: Option<GitUrl>,
    pub category: Option<Word>,
    pub web: Option<bool>,
    pub deploy_timeout: Option<Duration>,
    pub http_timeout: Option<Duration>,
    pub lanes: Option<LaneMode>,
    pub backup: Option<BackupMode>,
    pub recipe_tests: Option<bool>,
    pub lint: Option<bool>,
    pub weekly_sweep: Option<bool>,
    pub upgrade_base: Option<Version>,
    pub depends_on: Option<Vec<RecipeName>>,
    pub health: Option<HealthSection>,
    pub env: Option<BTreeMap<EnvKey, String>>,
    pub env_from_domain: Option<BTreeMap<EnvKey, String>>,
    pub compose_files: Option<Vec<ComposeFileName>>,
    pub secret_values: Option<BTreeMap<SecretName, HostSecretKey>>,
    pub marker: Option<Marker>,
    pub skip: Option<BTreeMap<Rung, String>>,
    pub compose_allow: Option<BTreeMap<crate::run::policy::Rule, String>>,
    pub check: Option<Vec<HttpCheckEntry>>,
    pub browser: Option<Vec<BrowserCheckEntry>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthSection {
    pub path: Option<UrlPath>,
    pub statuses: Option<StatusList>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpCheckEntry {
    pub name: String,
    pub path: UrlPath,
    pub statuses: Option<StatusList>,
    pub body_contains: Option<String>,
    pub json_key: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrowserCheckEntry {
    pub name: String,
    pub path: Option<UrlPath>,
    pub expect_text: Option<String>,
    pub selector: Option<String>,
    pub screenshot: Option<bool>,
    pub steps: Option<Vec<super::BrowserStep>>,
}

// ---- shared with the runner plan -------------------------------------------------

/// Whether a run's two lanes (fresh, upgrade) run at the same time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LaneMode {
    Concurrent,
    Sequential,
}

/// Whether the backup → mutate → restore rung runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BackupMode {
    /// When the recipe's compose files carry `backupbot.backup` labels.
    Auto,
    /// Always: the recipe is backup-capable even if detection says otherwise.
    Always,
    /// Never (prefer `[skip] backup_restore = "why"`, which records the reason).
    Never,
}

/// A reported rung of a run, in level order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rung {
    Install,
    Upgrade,
    BackupRestore,
    Functional,
    Lint,
}

impl Rung {
    pub const ALL: [Rung; 5] = [
        Rung::Install,
        Rung::Upgrade,
        Rung::BackupRestore,
        Rung::Functional,
        Rung::Lint,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Rung::Install => "install",
            Rung::Upgrade => "upgrade",
            Rung::BackupRestore => "backup_restore",
            Rung::Functional => "functional",
            Rung::Lint => "lint",
        }
    }
}

/// The SQL engine a database marker talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SqlEngine {
    Postgres,
    Mariadb,
}

/// How a run writes a data marker into the app and reads it back. Enrolling a
/// recipe needs only one of these, never runner code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Marker {
    /// A file written into a volume with `docker exec`, read back over HTTPS.
    HttpFile {
        #[serde(default = "default_app_service")]
        service: ServiceName,
        path: AbsPath,
        url_path: UrlPath,
    },
    /// A file written and read with `docker exec`.
    ExecFile {
        #[serde(default = "default_app_service")]
        service: ServiceName,
        path: AbsPath,
    },
    /// A row in a `ccci_marker` table, through the database client in the DB service.
    Sql {
        engine: SqlEngine,
        #[serde(default = "default_db_service")]
        service: ServiceName,
        database: Word,
        user: Word,
        /// A file inside the DB container holding the user's password, handed
        /// to the client in its environment (PGPASSWORD, MYSQL_PWD).
        #[serde(default)]
        password_file: Option<AbsPath>,
    },
    /// Custom commands run with `sh -c` inside the service; `{value}` is replaced
    /// by the marker value (a shell-safe token) in `write`; `read` prints it.
    Exec {
        #[serde(default = "default_app_service")]
        service: ServiceName,
        write: String,
        read: String,
    },
}

pub const DEFAULT_APP_SERVICE: &str = "app";
pub const DEFAULT_DB_SERVICE: &str = "db";

fn default_app_service() -> ServiceName {
    DEFAULT_APP_SERVICE
        .parse()
        .expect("constant is a valid service name")
}

fn default_db_service() -> ServiceName {
    DEFAULT_DB_SERVICE
        .parse()
        .expect("constant is a valid service name")
}
