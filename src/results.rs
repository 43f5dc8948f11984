//! `results.json`: what one `ccci run` proved. Written by `ccci run` into the
//! run's output directory, read by `ccci bridge` to report on the PR. One type,
//! both sides, with a schema version; `tests/contract_snapshots.rs` shows its
//! shape, and [`crate::report`] renders it for people.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::contract::{Contract, ContractError};
use crate::registry::Rung;
use crate::registry::values::{RecipeName, RepoSlug};

/// The results format version; bump it on any incompatible change.
pub const RESULTS_SCHEMA: u32 = 1;

/// The outcome of one rung or one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pass,
    Fail,
    /// Intentionally not run; the reason says why (never a hidden failure).
    Skip,
    /// Could not be decided (infrastructure trouble, a dependency failed):
    /// not a pass, and the build is not green.
    Unverified,
}

/// The two independent apps of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Lane {
    /// New app at the PR head: install, backup/restore, functional.
    Fresh,
    /// New app at the base release, then chaos deploy of the head.
    Upgrade,
}

/// `results.json`, schema 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResultsV1 {
    pub schema: u32,
    pub recipe: RecipeName,
    /// The commit tested (40 hex).
    pub git_ref: String,
    pub src: RepoSlug,
    pub pr: Option<u64>,
    pub run_id: String,
    /// RFC 3339 UTC.
    pub started_at: String,
    pub duration_secs: f64,
    /// The highest rung with every rung below it pass or skip; `None` when even
    /// install did not pass.
    pub level: Option<Rung>,
    /// Exit status the run chose: true when no rung (lint aside) is fail or unverified.
    pub green: bool,
    pub rungs: BTreeMap<Rung, RungResult>,
    pub lanes: BTreeMap<Lane, LaneResult>,
    pub checks: Vec<CheckResult>,
    /// Teardown problems (leftover services, volumes…): a run that leaves
    /// orphans is not green.
    pub teardown: Vec<String>,
    /// What "healthy" meant for this recipe. Added within schema 1: absent
    /// (`None`) in results written before it, like the two fields below.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub floor: Option<Floor>,
    /// The release the upgrade lane started from; `None` when the lane did
    /// not run (the upgrade rung's reason says why).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgrade_base: Option<UpgradeBase>,
    /// Whether a data marker proved that data survives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_survival: Option<DataSurvival>,
}

/// The health floor a run judged its apps by.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Floor {
    /// Every service converged and `GET path` over HTTPS answered one of
    /// `statuses`, from the app and not Traefik's fallback.
    Http { path: String, statuses: Vec<u16> },
    /// A recipe with no web domain: every service reached its declared
    /// replicas (0 included); nothing is probed over HTTPS.
    Convergence,
}

impl Floor {
    /// The floor in words: `GET /x → 200, 401`, `convergence (no web domain)`.
    pub fn describe(&self) -> String {
        match self {
            Floor::Http { path, statuses } => format!(
                "GET {path} → {}",
                statuses
                    .iter()
                    .map(u16::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Floor::Convergence => "convergence (no web domain)".to_owned(),
        }
    }
}

/// The release the upgrade lane deployed before the head.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpgradeBase {
    /// The release tag as written (`v1.0.2`, `1.2.0+1.29.0`).
    pub version: String,
    /// The commit the tag names, 40 hex.
    pub commit: String,
}

/// Whether the run proved that data survives, and how or why not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSurvival {
    pub proven: bool,
    /// The rungs whose marker check passed, or why none did.
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RungResult {
    pub status: Status,
    /// Why it failed, was skipped or is unverified; empty for a pass.
    pub reason: String,
    pub duration_secs: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LaneResult {
    pub status: Status,
    /// The app domain the lane deployed.
    pub domain: String,
    pub reason: String,
    pub duration_secs: f64,
    /// The landing page's screenshot, a file in the run's output directory;
    /// `None` when none was taken or capture failed (never a verdict).
    pub screenshot: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckResult {
    pub rung: Rung,
    pub lane: Lane,
    pub name: String,
    pub status: Status,
    pub detail: String,
    pub duration_secs: f64,
    /// A screenshot of where a browser check failed, a file in the run's
    /// output directory.
    pub screenshot: Option<String>,
}

/// The results contract.
pub const RESULTS: Contract = Contract {
    what: "results",
    schema: RESULTS_SCHEMA,
    remedy: "the run was made by a different ccci version",
};

/// Why results could not be read.
pub type ResultsError = ContractError;

impl ResultsV1 {
    pub fn read(path: &Path) -> Result<Self, ResultsError> {
        RESULTS.read(path)
    }
}
