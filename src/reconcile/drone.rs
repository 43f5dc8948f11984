//! The Drone server (the `drone` recipe with Gitea OAuth) and its settings
//! through the Drone API: wait for health, activate the CI repository, set
//! its build timeout, and make the cron jobs exactly the configured ones.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::app::{self, AppSecrets};
use super::{ReconcileError, Report, Tools, read_required};
use crate::config::{DroneApi, DroneConfigV1};
use crate::forge::ErrorClass;
use crate::forge::drone::{CronPatch, DroneClient, DroneToken, NewCron, RepoPatch};

/// How long to wait for Drone to answer `/healthz` after a (re)deploy, and
/// how often to retry API settings that failed transiently (5xx, timeouts:
/// Traefik answers 502 for a moment while Drone's task is replaced).
#[derive(Debug, Clone, Copy)]
pub struct Waits {
    pub health_timeout: Duration,
    pub poll: Duration,
    pub attempts: u32,
    pub retry_delay: Duration,
}

impl Default for Waits {
    fn default() -> Self {
        Waits {
            health_timeout: Duration::from_secs(300),
            poll: Duration::from_secs(2),
            attempts: 3,
            retry_delay: Duration::from_secs(5),
        }
    }
}

pub fn reconcile(
    cfg: &DroneConfigV1,
    tools: &Tools,
    waits: Waits,
) -> Result<Report, ReconcileError> {
    // The token is a precondition too: check it before touching anything.
    let token = read_required("Drone token file", cfg.api.token_file.as_str().as_ref())?;
    let token = DroneToken::new(String::from_utf8_lossy(&token).into_owned());

    let mut report = Report::default();
    let secrets = AppSecrets {
        files: &cfg.secrets,
        generated: &[],
    };
    app::converge("drone", &cfg.app, &secrets, tools, &mut report)?;

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| ReconcileError::Precondition(format!("drone: cannot start a runtime: {e}")))?;
    runtime.block_on(async {
        let mut attempt = 1;
        loop {
            match settings(&cfg.api, token.clone(), waits, &mut report).await {
                Err(ReconcileError::Drone(e))
                    if e.class() == ErrorClass::Retryable && attempt < waits.attempts =>
                {
                    report.did(format!("drone: retrying after a transient error: {e}"));
                    attempt += 1;
                    tokio::time::sleep(waits.retry_delay).await;
                }
                other => return other,
            }
        }
    })?;
    Ok(report)
}

async fn settings(
    api: &DroneApi,
    token: DroneToken,
    waits: Waits,
    report: &mut Report,
) -> Result<(), ReconcileError> {
    let client = DroneClient::new(api.url.trimmed(), token)?;
    let started = Instant::now();
    while !client.healthy().await {
        if started.elapsed() >= waits.health_timeout {
            return Err(ReconcileError::Precondition(format!(
                "drone: {} did not answer /healthz within {}s",
                api.url,
                waits.health_timeout.as_secs()
            )));
        }
        tokio::time::sleep(waits.poll).await;
    }

    let (owner, name) = (api.ci_repo.owner(), api.ci_repo.name());
    let repo = match client.repo(owner, name).await {
        Err(e) if e.is_not_found() => {
            client.sync_user_repos().await?;
            report.did("drone: synced the repository list from Gitea");
            client.repo(owner, name).await.map_err(|e| {
                if e.is_not_found() {
                    ReconcileError::Precondition(format!(
                        "drone: {} is unknown to Drone even after a sync: log the bot into Drone once through Gitea OAuth, and check it can see the repository",
                        api.ci_repo
                    ))
                } else {
                    e.into()
                }
            })?
        }
        other => other?,
    };
    let repo = if repo.active {
        repo
    } else {
        let r = client.activate_repo(owner, name).await?;
        report.did(format!("drone: activated {}", api.ci_repo));
        r
    };
    let timeout = i64::try_from(api.build_timeout_minutes).unwrap_or(i64::MAX);
    if repo.timeout != timeout {
        let patch = RepoPatch {
            timeout: Some(timeout),
            ..RepoPatch::default()
        };
        let r = client.patch_repo(owner, name, &patch).await?;
        if r.timeout != timeout {
            return Err(ReconcileError::Precondition(format!(
                "drone: the build timeout of {} stayed {} min (wanted {timeout}): Drone ignores timeout changes unless the token belongs to an admin",
                api.ci_repo, r.timeout
            )));
        }
        report.did(format!(
            "drone: build timeout of {} set to {timeout} min",
            api.ci_repo
        ));
    }

    let existing = client.crons(owner, name).await?;
    let wanted: BTreeMap<&str, _> = api.crons.iter().map(|c| (c.name.as_str(), c)).collect();
    for cron in &existing {
        if !wanted.contains_key(cron.name.as_str()) {
            client.delete_cron(owner, name, &cron.name).await?;
            report.did(format!(
                "drone: deleted cron {} (no longer enrolled)",
                cron.name
            ));
        }
    }
    for (cron_name, want) in &wanted {
        let new = NewCron {
            name: (*cron_name).to_owned(),
            expr: want.expr.clone(),
            branch: want.branch.as_str().to_owned(),
        };
        match existing.iter().find(|c| c.name == *cron_name) {
            None => {
                client.create_cron(owner, name, &new).await?;
                report.did(format!("drone: created cron {cron_name} ({})", want.expr));
            }
            // Drone cannot change an expression in place.
            Some(have) if have.expr != want.expr => {
                client.delete_cron(owner, name, cron_name).await?;
                client.create_cron(owner, name, &new).await?;
                report.did(format!(
                    "drone: recreated cron {cron_name} ({} → {})",
                    have.expr, want.expr
                ));
            }
            Some(have) if have.branch != want.branch.as_str() || have.disabled => {
                let patch = CronPatch {
                    branch: Some(want.branch.as_str().to_owned()),
                    disabled: Some(false),
                    ..CronPatch::default()
                };
                client.update_cron(owner, name, cron_name, &patch).await?;
                report.did(format!("drone: updated cron {cron_name}"));
            }
            Some(_) => {}
        }
    }
    Ok(())
}
