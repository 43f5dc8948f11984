//! The executor: the thin layer between the state machine and the world. It
//! owns the ledger (one task, so sources never race) and runs one loop of
//! timers and webhook deliveries. Each turn either takes comments in
//! (`intake`: feed, sweep, webhook, through the core's screen) or drives work
//! (`drive`: wake each job or followed build and feed the machine the
//! outcomes of the effects it asks for, which `perform` carries out against
//! Gitea, Drone and the runs directory). No rule of the bridge lives here.

mod drive;
mod intake;
mod perform;

use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

use crate::bridge::core::SeenComment;
use crate::bridge::http::{self, Listener, now_ms};
use crate::bridge::ledger::{Ledger, LedgerError, LedgerStore};
use crate::bridge::metrics::Metrics;
use crate::bridge::{BridgeError, Secrets, Settings};
use crate::forge::drone::{DroneClient, DroneToken};
use crate::forge::gitea::{ApiObserver, GiteaClient};

/// The running bridge.
pub struct Bridge {
    settings: Settings,
    gitea: GiteaClient,
    drone: DroneClient,
    metrics: Arc<Metrics>,
    store: LedgerStore,
    ledger: Ledger,
    webhook_secret: Option<Arc<Vec<u8>>>,
    drone_hook_secret: Option<Arc<Vec<u8>>>,
    progress: watch::Sender<Progress>,
}

/// How many rounds of each kind of work the loop has completed: lets a
/// watcher (tests, a supervisor) wait for "the bridge has looked again"
/// instead of sleeping and hoping it did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    /// Feed polls, each followed by working the due jobs.
    pub feed_polls: u64,
    /// Complete or failed sweeps, each followed by working the due jobs.
    pub sweeps: u64,
    /// Rounds over the followed builds.
    pub follow_rounds: u64,
    /// Webhook deliveries taken in, each followed by working the due jobs.
    pub deliveries: u64,
    /// Rounds over the due jobs on their own timer.
    pub job_rounds: u64,
    /// Finished builds Drone announced, each looked at (and reported if
    /// followed).
    pub drone_hooks: u64,
}

/// Aborts a spawned task when dropped, so that dropping (or aborting) the
/// bridge also stops its listener.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Bridge {
    /// Load the ledger and build the clients; nothing is contacted yet.
    pub fn new(
        settings: Settings,
        secrets: Secrets,
        metrics: Arc<Metrics>,
    ) -> Result<Self, BridgeError> {
        let store = LedgerStore::new(&settings.state_dir);
        let ledger = store.load()?;
        let observer: Arc<dyn ApiObserver> = metrics.clone();
        let gitea = GiteaClient::new(
            &settings.gitea_url,
            &secrets.gitea_token,
            settings.tuning.http_timeout,
            Some(observer),
        )?;
        let drone = DroneClient::with_timeout(
            &settings.drone_url,
            DroneToken::new(secrets.drone_token),
            settings.tuning.http_timeout,
        )?;
        Ok(Self {
            settings,
            gitea,
            drone,
            metrics,
            store,
            ledger,
            webhook_secret: secrets.webhook_secret.map(Arc::new),
            drone_hook_secret: secrets.drone_hook_secret.map(Arc::new),
            progress: watch::Sender::new(Progress::default()),
        })
    }

    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// Watch the loop's progress; the value changes after every round.
    pub fn progress(&self) -> watch::Receiver<Progress> {
        self.progress.subscribe()
    }

    /// Serve the listener (if any) and run every source until the task is
    /// dropped. Each loop turn does one kind of work to its end, so a kill
    /// between any two awaits leaves a ledger the next start resumes from.
    pub async fn run(mut self, listener: Option<TcpListener>) {
        let (tx, mut rx) = mpsc::channel::<SeenComment>(1024);
        let (finished_tx, mut finished_rx) = mpsc::channel::<u64>(1024);
        let _server = listener.map(|l| {
            let t = &self.settings.tuning;
            let state = Listener {
                metrics: self.metrics.clone(),
                webhook_secret: self.webhook_secret.clone(),
                comments: tx.clone(),
                drone_hook_secret: self.drone_hook_secret.clone(),
                finished_builds: finished_tx.clone(),
                ci_repo: self.settings.ci_repo.to_string(),
                stale_after_ms: (t.poll_interval.as_millis() as i64 * 10).max(60_000),
                started_ms: now_ms(),
            };
            let app = http::router(state);
            AbortOnDrop(tokio::spawn(async move {
                if let Err(e) = axum::serve(l, app).await {
                    tracing::error!(error = %e, "listener stopped");
                }
            }))
        });
        let t = self.settings.tuning.clone();
        let mut feed = tokio::time::interval(t.poll_interval);
        let mut sweep = tokio::time::interval(t.sweep_interval);
        let mut follow = tokio::time::interval(t.follow_interval);
        let mut jobs = tokio::time::interval(t.retry_base.min(t.poll_interval));
        for i in [&mut feed, &mut sweep, &mut follow, &mut jobs] {
            i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        }
        tracing::info!(
            repos = self.settings.rules.repos.len(),
            jobs = self.ledger.jobs.len(),
            following = self.ledger.following.len(),
            "bridge started"
        );
        loop {
            tokio::select! {
                biased;
                Some(seen) = rx.recv() => {
                    let _ = self.see(seen).await;
                    self.work_jobs().await;
                    self.progress.send_modify(|p| p.deliveries += 1);
                }
                Some(number) = finished_rx.recv() => {
                    self.follow_build(number).await;
                    self.progress.send_modify(|p| p.drone_hooks += 1);
                }
                _ = feed.tick() => {
                    self.poll_feed().await;
                    self.work_jobs().await;
                    self.progress.send_modify(|p| p.feed_polls += 1);
                }
                _ = sweep.tick() => {
                    self.sweep().await;
                    self.work_jobs().await;
                    self.progress.send_modify(|p| p.sweeps += 1);
                }
                _ = follow.tick() => {
                    self.follow().await;
                    self.progress.send_modify(|p| p.follow_rounds += 1);
                }
                _ = jobs.tick() => {
                    self.work_jobs().await;
                    self.progress.send_modify(|p| p.job_rounds += 1);
                }
            }
        }
    }

    fn save(&self) -> Result<(), LedgerError> {
        self.store.save(&self.ledger)
    }
}
