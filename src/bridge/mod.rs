//! `ccci bridge`: from a `!testme` comment on a recipe PR to a living report.
//!
//! Three trigger sources (org activity feed, per-repo sweep, optional webhook)
//! feed one pure decision core (`core`, the rules) and state machine
//! (`machine`, every stage of a job); a thin executor (`exec`) performs the
//! effects the machine asks for against Gitea and Drone and feeds back the outcomes;
//! a durable ledger (`ledger`) makes every comment fire exactly once across
//! restarts, and the bot's reaction on the comment is a second, remote marker.
//! Followed builds are polled; Drone's signed build events (`drone_hook`)
//! make a finished one reported at once.

pub mod core;
pub mod drone_hook;
pub mod exec;
#[cfg(test)]
mod fixtures;
pub mod grammar;
pub mod http;
pub mod ledger;
pub mod machine;
pub mod metrics;
pub mod report;
pub mod screen;
pub mod sources;

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::bridge::core::Rules;
use crate::config::BridgeConfigV1;
use crate::registry::values::RepoSlug;

/// Timings, with the production defaults; tests scale them down.
#[derive(Debug, Clone)]
pub struct Tuning {
    pub poll_interval: Duration,
    pub sweep_interval: Duration,
    /// How often followed builds are asked for their status: without Drone's
    /// build events, a finished build is reported within this.
    pub follow_interval: Duration,
    /// First retry delay; doubles per attempt up to `retry_cap`.
    pub retry_base: Duration,
    pub retry_cap: Duration,
    /// Longest delay between retries after a fatal (configuration or
    /// authorisation) error.
    pub fatal_retry: Duration,
    pub http_timeout: Duration,
    /// How long a server may still act on a call after its client gave up
    /// waiting (or was killed): evidence of a create or post is conclusive
    /// only this long after it was sent
    /// (docs/drone.md, "A lost answer is not a failed call").
    pub settle: Duration,
    /// The sweep re-reads this much before its cursor (second precision, skew).
    pub sweep_overlap: Duration,
    /// Comments older than this never fire (and the first sweep looks back this far).
    pub max_comment_age: Duration,
    pub max_trigger_attempts: u32,
}

impl Tuning {
    /// From the config's intervals, everything else at its default.
    pub fn from_config(c: &BridgeConfigV1) -> Self {
        Self {
            poll_interval: Duration::from_secs(c.poll_interval_secs.max(1)),
            sweep_interval: Duration::from_secs(c.sweep_interval_secs.max(1)),
            // One status request per followed build per poll: a handful of
            // builds at a time, and the report comes within the interval
            // that bounds the trigger too.
            follow_interval: Duration::from_secs(c.poll_interval_secs.max(1)),
            retry_base: Duration::from_secs(2),
            retry_cap: Duration::from_secs(300),
            fatal_retry: Duration::from_secs(30),
            http_timeout: Duration::from_secs(20),
            settle: Duration::from_secs(60),
            sweep_overlap: Duration::from_secs(60),
            max_comment_age: Duration::from_secs(24 * 3600),
            max_trigger_attempts: 5,
        }
    }
}

/// How old a comment only the sweep saw must be before it is judged: three
/// feed polls (the feed shows a comment as created), at least a second
/// (timestamps are whole seconds), and well within the sweep's overlap, so
/// the next sweep re-reads what this one left.
fn unproven_grace_secs(t: &Tuning) -> i64 {
    let polls = (t.poll_interval.as_millis() as i64 * 3 + 999) / 1000;
    polls.max(1).min(t.sweep_overlap.as_secs() as i64 / 2)
}

/// Everything the bridge needs besides its secrets.
#[derive(Debug, Clone)]
pub struct Settings {
    pub rules: Rules,
    pub gitea_url: String,
    pub drone_url: String,
    pub ci_repo: RepoSlug,
    /// The CI repository's branch builds run from.
    pub ci_branch: String,
    pub runs_dir: PathBuf,
    pub state_dir: PathBuf,
    pub tuning: Tuning,
}

impl Settings {
    pub fn from_config(c: &BridgeConfigV1, state_dir: &Path) -> Self {
        let tuning = Tuning::from_config(c);
        Self {
            rules: Rules {
                org: c.org.to_string(),
                bot_user: c.bot_user.to_string(),
                trigger: c.trigger.to_string(),
                repos: c.repos.clone(),
                allowlist: c.allowlist.iter().map(ToString::to_string).collect(),
                max_comment_age_secs: tuning.max_comment_age.as_secs() as i64,
                max_trigger_attempts: tuning.max_trigger_attempts,
                unproven_grace_secs: unproven_grace_secs(&tuning),
            },
            gitea_url: c.gitea_url.trimmed().to_owned(),
            drone_url: c.drone_url.trimmed().to_owned(),
            ci_repo: c.ci_repo.clone(),
            ci_branch: c.ci_branch.to_string(),
            runs_dir: PathBuf::from(c.runs_dir.as_str()),
            state_dir: state_dir.to_owned(),
            tuning,
        }
    }

    /// Apply a new tuning (keeps the rules' copies in step).
    pub fn with_tuning(mut self, t: Tuning) -> Self {
        self.rules.max_comment_age_secs = t.max_comment_age.as_secs() as i64;
        self.rules.max_trigger_attempts = t.max_trigger_attempts;
        self.rules.unproven_grace_secs = unproven_grace_secs(&t);
        self.tuning = t;
        self
    }
}

/// The secrets, read from files and never logged.
#[derive(Clone)]
pub struct Secrets {
    pub gitea_token: String,
    pub drone_token: String,
    pub webhook_secret: Option<Vec<u8>>,
    /// The secret Drone signs its build events with (`None`: the Drone
    /// hook is off and `/drone-hook` answers 404).
    pub drone_hook_secret: Option<Vec<u8>>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secrets(<redacted>)")
    }
}

/// Why the bridge could not start.
#[derive(Debug, thiserror::Error)]
pub enum BridgeError {
    #[error(transparent)]
    Ledger(#[from] ledger::LedgerError),
    #[error(transparent)]
    Gitea(#[from] crate::forge::gitea::GiteaError),
    #[error(transparent)]
    Drone(#[from] crate::forge::drone::DroneError),
    #[error("listener: {0}")]
    Listen(std::io::Error),
    #[error("credential {name}: {detail}")]
    Credential { name: String, detail: String },
}

/// Read a systemd credential `$CREDENTIALS_DIRECTORY/<name>` (trailing
/// whitespace dropped). The value is never part of an error.
pub fn read_credential(dir: &Path, name: &str) -> Result<String, BridgeError> {
    if name.is_empty() || name.contains('/') || name == ".." {
        return Err(BridgeError::Credential {
            name: name.to_owned(),
            detail: "not a plain file name".into(),
        });
    }
    let text = std::fs::read_to_string(dir.join(name)).map_err(|e| BridgeError::Credential {
        name: name.to_owned(),
        detail: e.to_string(),
    })?;
    let v = text.trim().to_owned();
    if v.is_empty() {
        return Err(BridgeError::Credential {
            name: name.to_owned(),
            detail: "empty".into(),
        });
    }
    Ok(v)
}
