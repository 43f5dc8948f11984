//! The Drone server (the `drone` recipe with Gitea OAuth) and its settings
//! through the Drone API: wait for health, activate the CI repository, set
//! its build timeout, and make the cron jobs exactly the configured ones.

use std::time::Duration;

use super::app::{self, AppSecrets};
use super::decide::drone::{self as decide, CronAction};
use super::world::{ToolsWorld, World};
use super::{ReconcileError, Report, Tools, read_required};
use crate::config::{DroneApi, DroneConfigV1};
use crate::forge::drone::{DroneClient, DroneToken, Repo};

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
    reconcile_in(cfg, &ToolsWorld::new(tools.clone()), waits)
}

/// [`reconcile`] in any world (the Drone API is always reached over HTTP).
pub fn reconcile_in(
    cfg: &DroneConfigV1,
    world: &dyn World,
    waits: Waits,
) -> Result<Report, ReconcileError> {
    // The token is a precondition too: check it before touching anything.
    let token = read_required(
        world,
        "Drone token file",
        cfg.api.token_file.as_str().as_ref(),
    )?;
    let token = DroneToken::new(String::from_utf8_lossy(&token).into_owned());

    let mut report = Report::default();
    let secrets = AppSecrets {
        files: &cfg.secrets,
        generated: &[],
    };
    app::converge("drone", &cfg.app, &secrets, world, &mut report)?;

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| ReconcileError::Precondition(format!("drone: cannot start a runtime: {e}")))?;
    runtime.block_on(async {
        let mut attempt = 1;
        loop {
            match settings(&cfg.api, token.clone(), waits, world, &mut report).await {
                Err(e) if decide::retry(&e, attempt, waits.attempts) => {
                    report.did(format!("drone: retrying after a transient error: {e}"));
                    attempt += 1;
                    world.sleep(waits.retry_delay).await;
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
    world: &dyn World,
    report: &mut Report,
) -> Result<(), ReconcileError> {
    let client = DroneClient::new(api.url.trimmed(), token)?;
    let started = world.now();
    while !client.healthy().await {
        if world.now().duration_since(started) >= waits.health_timeout {
            return Err(ReconcileError::Precondition(format!(
                "drone: {} did not answer /healthz within {}s",
                api.url,
                waits.health_timeout.as_secs()
            )));
        }
        world.sleep(waits.poll).await;
    }

    let (owner, name) = (api.ci_repo.owner(), api.ci_repo.name());
    let repo = match look_repo(&client, owner, name).await? {
        Some(repo) => repo,
        None => {
            client.sync_user_repos().await?;
            report.did("drone: synced the repository list from Gitea");
            look_repo(&client, owner, name)
                .await?
                .ok_or_else(|| decide::unknown_repo(api))?
        }
    };
    let repo = if repo.active {
        repo
    } else {
        let r = client.activate_repo(owner, name).await?;
        report.did(format!("drone: activated {}", api.ci_repo));
        r
    };
    if let Some(patch) = decide::timeout_patch(api, &repo) {
        let patched = client.patch_repo(owner, name, &patch).await?;
        decide::check_timeout(api, &patched)?;
        report.did(format!(
            "drone: build timeout of {} set to {} min",
            api.ci_repo,
            decide::wanted_timeout(api)
        ));
    }

    let existing = client.crons(owner, name).await?;
    for action in decide::plan_crons(&api.crons, &existing) {
        match action {
            CronAction::Delete { name: cron } => {
                client.delete_cron(owner, name, &cron).await?;
                report.did(format!("drone: deleted cron {cron} (no longer enrolled)"));
            }
            CronAction::Create(new) => {
                client.create_cron(owner, name, &new).await?;
                report.did(format!("drone: created cron {} ({})", new.name, new.expr));
            }
            CronAction::Recreate { cron, was } => {
                client.delete_cron(owner, name, &cron.name).await?;
                client.create_cron(owner, name, &cron).await?;
                report.did(format!(
                    "drone: recreated cron {} ({was} → {})",
                    cron.name, cron.expr
                ));
            }
            CronAction::Update { name: cron, patch } => {
                client.update_cron(owner, name, &cron, &patch).await?;
                report.did(format!("drone: updated cron {cron}"));
            }
        }
    }
    Ok(())
}

/// The CI repository, or `None` when Drone does not know it (yet).
async fn look_repo(
    client: &DroneClient,
    owner: &str,
    name: &str,
) -> Result<Option<Repo>, ReconcileError> {
    match client.repo(owner, name).await {
        Ok(repo) => Ok(Some(repo)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e.into()),
    }
}
