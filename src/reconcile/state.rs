//! What reconcile remembers between runs, per app, in
//! `<ABRA_DIR>/ccci-reconcile/<domain>.json`: the fingerprint of the last
//! successful deploy (recipe, version, env file) and, per file secret, the
//! version in use and the SHA-256 of the file it was inserted from.
//!
//! Why a state file: docker never gives a secret's content back, so whether
//! a certificate file changed since it was inserted can only be known from a
//! digest taken at insert time. Keeping it beside abra's own state (not in
//! the app's env file, which humans read and abra owns) keeps the env file
//! clean. Losing the state file is safe: a secret that docker has but no
//! digest vouches for is inserted again from its file as a new version, and
//! the app is redeployed once.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::ReconcileError;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppState {
    /// Fingerprint of what was last deployed successfully.
    #[serde(default)]
    pub deployed: Option<String>,
    #[serde(default)]
    pub secrets: BTreeMap<String, SecretState>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretState {
    pub version: String,
    pub sha256: String,
}

pub fn path(abra_dir: &Path, domain: &str) -> PathBuf {
    abra_dir
        .join("ccci-reconcile")
        .join(format!("{domain}.json"))
}

pub fn load(path: &Path) -> Result<AppState, ReconcileError> {
    match std::fs::read_to_string(path) {
        Ok(text) => parse(path, &text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(AppState::default()),
        Err(e) => Err(ReconcileError::State {
            path: path.display().to_string(),
            reason: e.to_string(),
        }),
    }
}

/// The state a state file's text holds (`path` only names it in errors).
pub fn parse(path: &Path, text: &str) -> Result<AppState, ReconcileError> {
    serde_json::from_str(text).map_err(|e| ReconcileError::State {
        path: path.display().to_string(),
        reason: e.to_string(),
    })
}

/// The text a state file holds (`path` only names it in errors).
pub fn render(path: &Path, state: &AppState) -> Result<String, ReconcileError> {
    serde_json::to_string_pretty(state)
        .map(|text| format!("{text}\n"))
        .map_err(|e| ReconcileError::State {
            path: path.display().to_string(),
            reason: e.to_string(),
        })
}

pub fn save(path: &Path, state: &AppState) -> Result<(), ReconcileError> {
    let err = |reason: String| ReconcileError::State {
        path: path.display().to_string(),
        reason,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| err(e.to_string()))?;
    }
    let text = render(path, state)?;
    if !path.exists() {
        std::fs::write(path, b"").map_err(|e| err(e.to_string()))?;
    }
    crate::envfile::write_atomically(path, text.as_bytes()).map_err(|e| err(e.to_string()))
}
