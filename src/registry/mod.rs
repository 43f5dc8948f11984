//! The registry: the host (`ccci.toml`) and the enrolled recipes
//! (`recipes/<name>.toml`), loaded, validated and with every default applied.
//!
//! Everything the generator renders and everything the runtime reads is derived
//! from [`Registry`]; nothing downstream re-reads the TOML.

mod browser_steps;
mod collect;
mod domain_template;
mod error;
mod explain;
pub mod keys;
mod load;
pub mod model;
mod recipe_inputs;
mod resolve;
mod spans;
pub mod values;

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};

pub use browser_steps::BrowserStep;
pub use domain_template::{check_domain_template, fill_domain_template};
pub use error::{Diagnostic, LoadError};
pub use load::{HOST_FILE, RECIPES_DIR, Source, load, load_from_sources};
pub use model::{BackupMode, LaneMode, Marker, Rung, SqlEngine};
use values::{
    AbsPath, ComposeFileName, Domain, Duration, EnvKey, GitUrl, HostName, HostSecretKey, HttpUrl,
    RecipeName, RepoSlug, SecretName, Sha256, StatusList, UrlPath, UserName, Version, Word,
};

/// The whole, validated registry.
#[derive(Debug, Clone, PartialEq)]
pub struct Registry {
    pub host: Host,
    /// Sorted by name, so every output that lists recipes is deterministic.
    pub recipes: BTreeMap<RecipeName, Recipe>,
}

/// The CI host, with defaults applied.
#[derive(Debug, Clone, PartialEq)]
pub struct Host {
    pub name: HostName,
    /// Test apps live at `<label>.<ci_domain>` under one wildcard certificate.
    pub ci_domain: Domain,
    pub advertise_addr: Ipv4Addr,
    pub cert_dir: AbsPath,
    pub runs_dir: AbsPath,
    pub abra_dir: AbsPath,
    pub gitea: Gitea,
    pub drone: Drone,
    pub run: RunDefaults,
    pub bridge: Bridge,
    pub abra: Abra,
    pub infra: Infra,
    pub dashboard: Dashboard,
}

/// The dashboard: a static site served read-only at its own domain.
#[derive(Debug, Clone, PartialEq)]
pub struct Dashboard {
    pub domain: Domain,
    pub site_dir: AbsPath,
    /// Runs older than this are deleted, from disk and from the pages.
    pub retention: Duration,
    /// The tag of the `nginx` image that serves the site.
    pub nginx: Version,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Gitea {
    pub url: HttpUrl,
    pub org: UserName,
    pub bot_user: UserName,
    pub oauth_client_id: Word,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Drone {
    pub domain: Domain,
    /// The repository whose `.drone.yml` (this repository's) runs recipe CI.
    pub ci_repo: RepoSlug,
    pub runner_capacity: u32,
    pub build_timeout: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RunDefaults {
    pub deploy_timeout: Duration,
    pub http_timeout: Duration,
    /// Hard deadline of one `ccci run`; shorter than the build timeout so that the
    /// run's own teardown finishes before Drone kills the step.
    pub deadline: Duration,
    pub janitor_max_age: Duration,
    pub lanes: LaneMode,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Bridge {
    pub poll_interval: Duration,
    pub sweep_interval: Duration,
    pub trigger: Word,
    pub allowlist: Vec<UserName>,
    pub listen: SocketAddr,
    pub webhook: bool,
    /// The bridge's listener as the Drone server's container reaches it;
    /// `None`: Drone sends no build events and followed builds are polled.
    pub drone_hook_base_url: Option<HttpUrl>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Abra {
    pub version: Version,
    pub url: HttpUrl,
    pub sha256: Sha256,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Infra {
    pub traefik: Version,
    pub traefik_domain: Domain,
    pub drone: Version,
    pub backup_bot_two: Version,
    pub backupbot_domain: Domain,
    pub backup_repository: AbsPath,
}

/// One enrolled recipe, with defaults applied.
#[derive(Debug, Clone, PartialEq)]
pub struct Recipe {
    pub name: RecipeName,
    pub repo: RepoSlug,
    /// Where the run and the weekly sweep clone the recipe from.
    pub git_url: GitUrl,
    /// Whether `git_url` is the recipe's repository on the host's Gitea: only
    /// those are watched for the trigger comment.
    pub on_gitea: bool,
    pub category: Word,
    /// `false`: a worker or cron stack that serves no web domain.
    pub web: bool,
    pub deploy_timeout: Duration,
    pub http_timeout: Duration,
    pub lanes: LaneMode,
    pub backup: BackupMode,
    pub recipe_tests: bool,
    pub lint: bool,
    pub weekly_sweep: bool,
    pub upgrade_base: Option<Version>,
    pub depends_on: Vec<RecipeName>,
    pub health: Health,
    pub env: BTreeMap<EnvKey, String>,
    pub env_from_domain: BTreeMap<EnvKey, String>,
    /// Optional compose files appended to the chain `.env.sample` selects.
    pub compose_files: Vec<ComposeFileName>,
    /// Secrets inserted with a value from the host's secrets instead of generated.
    pub secret_values: BTreeMap<SecretName, HostSecretKey>,
    pub marker: Option<Marker>,
    pub skip: BTreeMap<Rung, String>,
    /// Compose policy rules this recipe is excepted from, each with the
    /// reason the report shows.
    pub compose_allow: BTreeMap<crate::run::policy::Rule, String>,
    pub checks: Vec<HttpCheck>,
    pub browser: Vec<BrowserCheck>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Health {
    pub path: UrlPath,
    pub statuses: StatusList,
}

/// An HTTP check added to the generic floor.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpCheck {
    pub name: String,
    pub path: UrlPath,
    pub statuses: StatusList,
    pub body_contains: Option<String>,
    pub json_key: Option<String>,
}

/// A page a real browser must render, and a flow it must get through
/// (docs/browser.md).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrowserCheck {
    pub name: String,
    pub path: UrlPath,
    pub expect_text: Option<String>,
    pub selector: Option<String>,
    pub screenshot: bool,
    /// Run in order once the page loaded.
    pub steps: Vec<BrowserStep>,
}

/// The placeholders an `env_from_domain` value may use.
/// (The template may be any text, e.g. a Traefik rule; see `check_domain_template`.)
pub const DOMAIN_PLACEHOLDERS: [&str; 3] = ["{label}", "{domain}", "{ci_domain}"];
