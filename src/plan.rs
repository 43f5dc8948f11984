//! The runner plan: everything `ccci run` needs to test one recipe, fully
//! resolved by ccci-gen into `runners/<recipe>.json`. One type, written by the
//! generator and read by the runtime; a round-trip test holds them together
//! and `tests/contract_snapshots.rs` shows its shape.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::contract::{Contract, ContractError};
use crate::header::JsonHeader;
use crate::registry::values::{
    AbsPath, ComposeFileName, Domain, EnvKey, GitUrl, HostSecretKey, HttpUrl, RecipeName, RepoSlug,
    SecretName, Version, Word,
};
use crate::registry::{BackupMode, BrowserCheck, Health, HttpCheck, LaneMode, Marker, Rung};

/// The plan format version; bump it on any incompatible change.
pub const PLAN_SCHEMA: u32 = 1;

/// `runners/<recipe>.json`, schema 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanV1 {
    #[serde(rename = "//")]
    pub header: JsonHeader,
    pub schema: u32,
    pub recipe: RecipeName,
    /// The recipe's own repository (PRs may come from forks: `--src` says which).
    pub repo: RepoSlug,
    pub category: Word,
    /// `false`: a worker or cron stack with no web domain; install is proven
    /// by convergence, data by an exec, exec-file or sql marker.
    #[serde(default = "yes")]
    pub web: bool,
    /// Clone URLs are `<gitea_url>/<owner>/<name>.git`.
    pub gitea_url: HttpUrl,
    /// Set only for a recipe that is not on the host's Gitea: where the run
    /// clones it from (an http(s) URL or a local repository). Absent: the
    /// Gitea clone URL of `repo` (`names::host::gitea_clone_url`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_url: Option<GitUrl>,
    /// File holding the bot token for private mirrors (passed per command, never stored).
    pub token_file: AbsPath,
    /// Run apps are `<label>.<ci_domain>`.
    pub ci_domain: Domain,
    /// abra's name for the local swarm.
    pub server: Word,
    /// The shared abra directory whose `servers/` each run links in.
    pub abra_dir: AbsPath,
    pub runs_dir: AbsPath,
    pub timeouts: Timeouts,
    pub lanes: LaneMode,
    pub backup: BackupMode,
    pub lint: bool,
    pub recipe_tests: bool,
    pub health: Health,
    pub env: BTreeMap<EnvKey, String>,
    /// Values are templates over `{label}`, `{domain}`, `{ci_domain}`
    /// (see `registry::fill_domain_template`).
    pub env_from_domain: BTreeMap<EnvKey, String>,
    /// Optional compose files appended to the `COMPOSE_FILE` chain the
    /// recipe's `.env.sample` selects (`run::compose_chain`).
    #[serde(default)]
    pub compose_files: Vec<ComposeFileName>,
    /// Secrets inserted before deploy with a value from the host's secrets
    /// instead of generated.
    #[serde(default)]
    pub secret_values: BTreeMap<SecretName, HostSecret>,
    pub marker: Option<Marker>,
    pub upgrade_base: Option<Version>,
    /// Rungs that do not apply, with the reason to report.
    pub skip: BTreeMap<Rung, String>,
    /// Compose policy exceptions with their reasons (absent when none).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub compose_allow: BTreeMap<crate::run::policy::Rule, String>,
    pub checks: Vec<HttpCheck>,
    pub browser: Vec<BrowserCheck>,
    pub depends_on: Vec<RecipeName>,
}

fn yes() -> bool {
    true
}

/// Where a secret's value comes from on the host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostSecret {
    /// The key in the host's sops secrets file.
    pub key: HostSecretKey,
    /// The file sops-nix materialises it as.
    pub file: AbsPath,
}

/// Every duration of a run, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Timeouts {
    pub deploy_secs: u64,
    pub http_secs: u64,
    /// The whole run, teardown included, ends before this.
    pub deadline_secs: u64,
    pub janitor_max_age_secs: u64,
}

/// The runner plan contract.
pub const PLAN: Contract = Contract {
    what: "runner plan",
    schema: PLAN_SCHEMA,
    remedy: "regenerate with ccci-gen",
};

/// Why a plan could not be read.
pub type PlanError = ContractError;

impl PlanV1 {
    /// Read and check a plan file.
    pub fn read(path: &Path) -> Result<Self, PlanError> {
        PLAN.read(path)
    }

    pub fn from_json(shown: &str, text: &str) -> Result<Self, PlanError> {
        PLAN.parse(shown, text)
    }
}
