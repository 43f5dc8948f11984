//! Decisions for the Drone API settings of the CI repository: its build
//! timeout, its cron jobs (exactly the configured ones), and which errors are
//! worth another attempt.

use std::collections::BTreeMap;

use crate::config::{DroneApi, DroneCron};
use crate::forge::ErrorClass;
use crate::forge::drone::{Cron, CronPatch, NewCron, Repo, RepoPatch};
use crate::reconcile::ReconcileError;

/// The build timeout the config wants, in Drone's unit (minutes).
pub fn wanted_timeout(api: &DroneApi) -> i64 {
    i64::try_from(api.build_timeout_minutes).unwrap_or(i64::MAX)
}

/// The patch that sets the build timeout, when the repo's differs.
pub fn timeout_patch(api: &DroneApi, repo: &Repo) -> Option<RepoPatch> {
    let timeout = wanted_timeout(api);
    (repo.timeout != timeout).then(|| RepoPatch {
        timeout: Some(timeout),
        ..RepoPatch::default()
    })
}

/// Drone answers a timeout patch with success even when it ignored it (the
/// token is not an admin's): only the returned repo tells.
pub fn check_timeout(api: &DroneApi, patched: &Repo) -> Result<(), ReconcileError> {
    let timeout = wanted_timeout(api);
    if patched.timeout == timeout {
        return Ok(());
    }
    Err(ReconcileError::Precondition(format!(
        "drone: the build timeout of {} stayed {} min (wanted {timeout}): Drone ignores timeout changes unless the token belongs to an admin",
        api.ci_repo, patched.timeout
    )))
}

/// The CI repository is still unknown after a sync of the bot's repositories.
pub fn unknown_repo(api: &DroneApi) -> ReconcileError {
    ReconcileError::Precondition(format!(
        "drone: {} is unknown to Drone even after a sync: log the bot into Drone once through Gitea OAuth, and check it can see the repository",
        api.ci_repo
    ))
}

/// One change to the CI repository's cron jobs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CronAction {
    /// Not configured (any more).
    Delete {
        name: String,
    },
    Create(NewCron),
    /// Drone cannot change an expression in place: delete, then create.
    Recreate {
        cron: NewCron,
        was: String,
    },
    /// Branch changed, or disabled by hand.
    Update {
        name: String,
        patch: CronPatch,
    },
}

/// Make the cron jobs exactly `wanted`: deletions first (in Drone's order),
/// then the configured ones by name.
pub fn plan_crons(wanted: &[DroneCron], existing: &[Cron]) -> Vec<CronAction> {
    let wanted: BTreeMap<&str, &DroneCron> = wanted.iter().map(|c| (c.name.as_str(), c)).collect();
    let mut actions: Vec<CronAction> = existing
        .iter()
        .filter(|c| !wanted.contains_key(c.name.as_str()))
        .map(|c| CronAction::Delete {
            name: c.name.clone(),
        })
        .collect();
    for (name, want) in wanted {
        let new = NewCron {
            name: name.to_owned(),
            expr: want.expr.clone(),
            branch: want.branch.as_str().to_owned(),
        };
        match existing.iter().find(|c| c.name == name) {
            None => actions.push(CronAction::Create(new)),
            Some(have) if have.expr != want.expr => actions.push(CronAction::Recreate {
                cron: new,
                was: have.expr.clone(),
            }),
            Some(have) if have.branch != want.branch.as_str() || have.disabled => {
                actions.push(CronAction::Update {
                    name: name.to_owned(),
                    patch: CronPatch {
                        branch: Some(want.branch.as_str().to_owned()),
                        disabled: Some(false),
                        ..CronPatch::default()
                    },
                })
            }
            Some(_) => {}
        }
    }
    actions
}

/// Whether a failed attempt at the API settings is worth another: only a
/// transient error (5xx, a timeout: Traefik answers 502 for a moment while
/// Drone's task is replaced), and only while attempts remain.
pub fn retry(err: &ReconcileError, attempt: u32, attempts: u32) -> bool {
    matches!(err, ReconcileError::Drone(e) if e.class() == ErrorClass::Retryable)
        && attempt < attempts
}

#[cfg(test)]
#[path = "drone_tests.rs"]
mod tests;
