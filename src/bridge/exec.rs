//! The executor: the thin layer between the pure core and the world. It owns
//! the ledger (one task, so sources never race), turns feed rows, sweep pages
//! and webhook deliveries into seen comments, gathers the facts the core asks
//! for, performs the effects it returns, and follows builds to their end.
//!
//! Exactly once: before every call that is not idempotent (creating a build,
//! posting a comment) the step is saved with a "may have happened" flag; after
//! a crash the executor first looks for evidence of the call (a Drone build
//! with the same parameters, a comment carrying the hidden marker) and only
//! repeats it if there is none.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use time::OffsetDateTime;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::bridge::core::{
    self, Authz, Decision, Effect, Facts, PrFacts, Screen, SeenComment, Source, TriggerResult,
};
use crate::bridge::http::{self, Listener, now_ms};
use crate::bridge::ledger::{
    BuildParams, BuildRef, Follow, Handled, Job, Ledger, LedgerStore, Outcome, Stage,
};
use crate::bridge::metrics::Metrics;
use crate::bridge::report;
use crate::bridge::sources;
use crate::bridge::{BridgeError, Secrets, Settings};
use crate::forge::ErrorClass;
use crate::forge::drone::{BuildCreated, DroneClient, DroneError, DroneToken};
use crate::forge::gitea::{
    self, ApiObserver, GiteaClient, GiteaError, Membership, NewStatus, PAGE_LIMIT, StatusState,
};
use crate::results::ResultsV1;

/// How many feed pages one cycle reads back at most (50 rows each).
const FEED_MAX_PAGES: u32 = 10;

/// A failed step: what to do about it.
#[derive(Debug)]
struct StepError {
    class: ErrorClass,
    message: String,
}

impl From<GiteaError> for StepError {
    fn from(e: GiteaError) -> Self {
        Self {
            class: e.class(),
            message: e.to_string(),
        }
    }
}

impl From<DroneError> for StepError {
    fn from(e: DroneError) -> Self {
        Self {
            class: e.class(),
            message: e.to_string(),
        }
    }
}

impl From<crate::bridge::ledger::LedgerError> for StepError {
    fn from(e: crate::bridge::ledger::LedgerError) -> Self {
        // A state directory that cannot be written must stop progress, not
        // silently lose the exactly-once guarantee; it may come back.
        Self {
            class: ErrorClass::Retryable,
            message: e.to_string(),
        }
    }
}

fn now_secs() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

/// The running bridge.
pub struct Bridge {
    settings: Settings,
    gitea: GiteaClient,
    drone: DroneClient,
    metrics: Arc<Metrics>,
    store: LedgerStore,
    ledger: Ledger,
    webhook_secret: Option<Arc<Vec<u8>>>,
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
        })
    }

    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// Serve the listener (if any) and run every source until the task is
    /// dropped. Each loop turn does one kind of work to its end, so a kill
    /// between any two awaits leaves a ledger the next start resumes from.
    pub async fn run(mut self, listener: Option<TcpListener>) {
        let (tx, mut rx) = mpsc::channel::<SeenComment>(1024);
        let _server = listener.map(|l| {
            let t = &self.settings.tuning;
            let state = Listener {
                metrics: self.metrics.clone(),
                webhook_secret: self.webhook_secret.clone(),
                comments: tx.clone(),
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
                }
                _ = feed.tick() => {
                    self.poll_feed().await;
                    self.work_jobs().await;
                }
                _ = sweep.tick() => {
                    self.sweep().await;
                    self.work_jobs().await;
                }
                _ = follow.tick() => self.follow().await,
                _ = jobs.tick() => self.work_jobs().await,
            }
        }
    }

    fn save(&self) -> Result<(), StepError> {
        self.store.save(&self.ledger).map_err(StepError::from)
    }

    /// One seen comment through the screen; an accepted one becomes a job.
    /// Err only when the comment could not be judged (fetching it failed).
    async fn see(&mut self, seen: SeenComment) -> Result<(), StepError> {
        self.metrics.comment_seen(seen.source.as_str());
        let rules = &self.settings.rules;
        let verdict = core::screen(&seen, rules, &self.ledger, now_secs());
        let verdict = if verdict == Screen::FetchFull {
            let full = match self.gitea.comment(&seen.repo, seen.id).await {
                Ok(c) => c,
                Err(e) if e.class() == ErrorClass::Skip => return Ok(()),
                Err(e) => return Err(e.into()),
            };
            let mut full = sources::from_comment(&seen.repo, &full, seen.source, now_secs());
            // The feed row proves creation; its time is the creation time.
            full.edited = seen.source != Source::Feed && full.edited;
            core::screen(&full, &self.settings.rules, &self.ledger, now_secs())
        } else {
            verdict
        };
        match verdict {
            Screen::Accept(job) => {
                tracing::info!(
                    comment = job.comment.id,
                    repo = %job.comment.repo,
                    pr = job.comment.pr,
                    user = %job.comment.user,
                    source = seen.source.as_str(),
                    "command accepted"
                );
                self.ledger.jobs.insert(job.comment.id, *job);
                self.save()?;
            }
            Screen::Ignore(why) => {
                tracing::debug!(comment = seen.id, ?why, "comment ignored");
            }
            Screen::FetchFull => {}
        }
        Ok(())
    }

    /// The org feed, read back to the cursor: one request per cycle when
    /// nothing happened.
    async fn poll_feed(&mut self) {
        let org = self.settings.rules.org.clone();
        let cursor = self.ledger.feed_cursor;
        let mut rows = Vec::new();
        for page in 1..=FEED_MAX_PAGES {
            let batch = match self.gitea.org_feed(&org, page, PAGE_LIMIT).await {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!(error = %e, class = ?e.class(), "feed poll failed");
                    return;
                }
            };
            let n = batch.len();
            let fresh: Vec<_> = batch
                .into_iter()
                .filter(|a| cursor.is_none_or(|c| a.id > c))
                .collect();
            let reached_cursor = fresh.len() < n;
            rows.extend(fresh);
            // Without a cursor (first start) one page is the look-back; the
            // sweep covers anything older.
            if cursor.is_none() || reached_cursor || n < PAGE_LIMIT as usize {
                break;
            }
        }
        self.metrics.poll_ok(now_ms());
        rows.sort_by_key(|a| a.id);
        let now = now_secs();
        let mut new_cursor = cursor;
        for a in rows {
            if let Some(seen) = sources::from_activity(&a, now)
                && let Err(e) = self.see(seen).await
            {
                // Leave the cursor before this row: it is read again next cycle.
                tracing::warn!(error = %e.message, "feed row not judged, retrying next cycle");
                break;
            }
            new_cursor = Some(new_cursor.map_or(a.id, |c| c.max(a.id)));
        }
        if new_cursor != self.ledger.feed_cursor {
            self.ledger.feed_cursor = new_cursor;
            if let Err(e) = self.save() {
                tracing::error!(error = %e.message, "cannot save the feed cursor");
            }
        }
    }

    /// Every enrolled repository's comments since the last sweep: catches
    /// comments the feed hides (users keeping their activity private).
    async fn sweep(&mut self) {
        let t = self.settings.tuning.clone();
        let now = now_secs();
        let since_secs = match self.ledger.sweep_since {
            Some(s) => s - t.sweep_overlap.as_secs() as i64,
            None => now - t.max_comment_age.as_secs() as i64,
        };
        let since =
            OffsetDateTime::from_unix_timestamp(since_secs).unwrap_or(OffsetDateTime::UNIX_EPOCH);
        let repos: Vec<_> = self.settings.rules.repos.keys().cloned().collect();
        let mut started: Option<i64> = None;
        let mut complete = true;
        for repo in repos {
            let mut page = 1;
            loop {
                let p = match self
                    .gitea
                    .repo_comments_since(repo.as_str(), since, page)
                    .await
                {
                    Ok(p) => p,
                    Err(e) => {
                        tracing::warn!(error = %e, repo = %repo, "sweep page failed");
                        complete = false;
                        break;
                    }
                };
                if started.is_none() {
                    started = Some(p.server_time.map_or(now, |t| t.unix_timestamp()));
                }
                let n = p.comments.len();
                for c in &p.comments {
                    let seen = sources::from_comment(repo.as_str(), c, Source::Sweep, now_secs());
                    if let Err(e) = self.see(seen).await {
                        tracing::warn!(error = %e.message, "swept comment not judged");
                        complete = false;
                    }
                }
                let read = u64::from(page) * u64::from(PAGE_LIMIT);
                if n < PAGE_LIMIT as usize || p.total.is_some_and(|t| read >= t) {
                    break;
                }
                page += 1;
            }
        }
        // Only a complete sweep moves the cursor: a failed repo is re-read.
        if complete && let Some(s) = started {
            self.ledger.sweep_since = Some(s);
            self.ledger
                .prune(now - t.max_comment_age.as_secs() as i64 - 86_400);
            if let Err(e) = self.save() {
                tracing::error!(error = %e.message, "cannot save the sweep cursor");
            }
        }
    }

    /// Work every job that is due, oldest comment first.
    async fn work_jobs(&mut self) {
        let now = now_ms();
        let due: Vec<u64> = self
            .ledger
            .jobs
            .iter()
            .filter(|(_, j)| j.not_before_ms <= now)
            .map(|(id, _)| *id)
            .collect();
        for id in due {
            match self.work(id).await {
                Ok(()) => {}
                // The PR, comment or SHA is gone: nothing left to do for it.
                Err(e) if e.class == ErrorClass::Skip => {
                    tracing::info!(comment = id, error = %e.message, "skipped");
                    if let Err(e) = self.finish(id, Outcome::Gone) {
                        tracing::error!(error = %e.message, "cannot save the ledger");
                    }
                }
                Err(e) => self.postpone(id, e),
            }
        }
    }

    /// Schedule a retry of a job according to the error's class.
    fn postpone(&mut self, id: u64, e: StepError) {
        let t = self.settings.tuning.clone();
        let Some(job) = self.ledger.jobs.get_mut(&id) else {
            return;
        };
        job.attempts += 1;
        let delay = match e.class {
            ErrorClass::Retryable => core::backoff_ms(
                job.attempts,
                t.retry_base.as_millis() as u64,
                t.retry_cap.as_millis() as u64,
            ),
            ErrorClass::Fatal | ErrorClass::Skip => t.fatal_retry.as_millis() as u64,
        };
        job.not_before_ms = now_ms() + delay as i64;
        match e.class {
            ErrorClass::Fatal | ErrorClass::Skip => tracing::error!(
                comment = id,
                error = %e.message,
                "configuration error; the bridge keeps running and retries later"
            ),
            ErrorClass::Retryable => tracing::warn!(
                comment = id,
                attempts = job.attempts,
                retry_in_ms = delay,
                error = %e.message,
                "transient error, will retry"
            ),
        }
        if let Err(e) = self.save() {
            tracing::error!(error = %e.message, "cannot save the ledger");
        }
    }

    /// Take one job as far as it goes.
    async fn work(&mut self, id: u64) -> Result<(), StepError> {
        loop {
            let Some(job) = self.ledger.jobs.get(&id).cloned() else {
                return Ok(());
            };
            let before = job.clone();
            match job.stage.clone() {
                Stage::Received => self.decide(job).await?,
                Stage::Replying {
                    text,
                    outcome,
                    posting,
                } => self.reply(job, &text, outcome, posting).await?,
                Stage::Triggering { params, sent, .. } => self.trigger(job, params, sent).await?,
                Stage::Acking {
                    params,
                    build,
                    posting,
                    intent_at,
                } => self.ack(job, params, build, posting, intent_at).await?,
            }
            match self.ledger.jobs.get(&id) {
                None => return Ok(()),
                Some(j) if j.not_before_ms > now_ms() => return Ok(()),
                // A step that changed nothing would spin: wait for the next tick.
                Some(j) if *j == before => return Ok(()),
                Some(_) => {}
            }
        }
    }

    /// Gather facts until the core can act, then perform its effects.
    async fn decide(&mut self, mut job: Job) -> Result<(), StepError> {
        let c = job.comment.clone();
        let repo = c.repo.as_str().to_owned();
        let mut facts = Facts::default();
        let effects = loop {
            match core::decide(&job, &facts, &self.settings.rules, &self.ledger) {
                Decision::Act(effects) => break effects,
                Decision::Need(ask) => match ask {
                    core::Ask::Reactions => {
                        let rs = match self.gitea.reactions(&repo, c.id).await {
                            Err(e) if e.class() == ErrorClass::Skip => {
                                return self.finish(c.id, Outcome::Gone);
                            }
                            r => r?,
                        };
                        let bot = &self.settings.rules.bot_user;
                        facts.bot_reacted = Some(rs.iter().any(|r| {
                            r.content == report::REACTION
                                && r.user
                                    .as_ref()
                                    .is_some_and(|u| u.login.eq_ignore_ascii_case(bot))
                        }));
                    }
                    core::Ask::Membership => {
                        let m = self
                            .gitea
                            .membership(&self.settings.rules.org, &c.user)
                            .await?;
                        facts.authz = Some(match m {
                            Membership::Member => Authz::Member,
                            Membership::NotMember => Authz::NotMember,
                        });
                    }
                    core::Ask::Pull => {
                        facts.pr = Some(match self.gitea.pull(&repo, c.pr).await {
                            Ok(pr) if pr.state == "open" && !pr.merged => PrFacts::Open {
                                head_sha: pr.head.sha,
                                head_repo: pr.head.repo.map(|r| r.full_name),
                            },
                            Ok(_) => PrFacts::Closed,
                            Err(e) if e.class() == ErrorClass::Skip => {
                                return self.finish(c.id, Outcome::Gone);
                            }
                            Err(e) => return Err(e.into()),
                        });
                    }
                    core::Ask::Timeline => {
                        let since = OffsetDateTime::from_unix_timestamp(c.created_at)
                            .unwrap_or(OffsetDateTime::UNIX_EPOCH);
                        let events = self.gitea.timeline_since(&repo, c.pr, since).await?;
                        facts.pushed_after = Some(events.iter().any(|e| {
                            e.kind == gitea::TIMELINE_PUSH
                                && gitea::parse_time(&e.created_at)
                                    .is_some_and(|t| t.unix_timestamp() > c.created_at)
                        }));
                    }
                },
            }
        };
        for effect in effects {
            match effect {
                Effect::React => {
                    if !job.reacted {
                        // Saved before the call: our own reaction must not read
                        // as "handled before" after a crash right after it.
                        job.reacted = true;
                        self.ledger.jobs.insert(c.id, job.clone());
                        self.save()?;
                    }
                    self.gitea.react(&repo, c.id, report::REACTION).await?;
                }
                Effect::Supersede { build } => self.supersede(build).await?,
                Effect::Reply { text, outcome } => {
                    job.stage = Stage::Replying {
                        text,
                        outcome,
                        posting: false,
                    };
                    job.attempts = 0;
                    self.ledger.jobs.insert(c.id, job.clone());
                    self.save()?;
                }
                Effect::Trigger(params) => {
                    job.stage = Stage::Triggering {
                        params,
                        intent_at: now_secs(),
                        sent: false,
                    };
                    job.attempts = 0;
                    self.ledger.jobs.insert(c.id, job.clone());
                    self.save()?;
                }
                Effect::Finish(outcome) => return self.finish(c.id, outcome),
            }
        }
        Ok(())
    }

    /// Record a comment as handled.
    fn finish(&mut self, id: u64, outcome: Outcome) -> Result<(), StepError> {
        if outcome == Outcome::Refused {
            self.metrics.refusal();
        }
        tracing::info!(comment = id, ?outcome, "comment handled");
        self.ledger.jobs.remove(&id);
        self.ledger.handled.insert(
            id,
            Handled {
                at: now_secs(),
                outcome,
            },
        );
        self.save()
    }

    /// A bot comment on the PR carrying `marker`, posted since `since` (secs).
    async fn find_own_comment(
        &self,
        repo: &str,
        pr: u64,
        since: i64,
        marker: &str,
    ) -> Result<Option<u64>, StepError> {
        let since =
            OffsetDateTime::from_unix_timestamp(since - 120).unwrap_or(OffsetDateTime::UNIX_EPOCH);
        let bot = &self.settings.rules.bot_user;
        let comments = self.gitea.pr_comments_since(repo, pr, since).await?;
        Ok(comments
            .iter()
            .find(|c| c.login().eq_ignore_ascii_case(bot) && c.body.contains(marker))
            .map(|c| c.id))
    }

    async fn reply(
        &mut self,
        mut job: Job,
        text: &str,
        outcome: Outcome,
        posting: bool,
    ) -> Result<(), StepError> {
        let c = job.comment.clone();
        let repo = c.repo.as_str();
        let marker = report::reply_marker(c.id);
        let already = if posting {
            self.find_own_comment(repo, c.pr, c.created_at, &marker)
                .await?
                .is_some()
        } else {
            false
        };
        if !already {
            job.stage = Stage::Replying {
                text: text.to_owned(),
                outcome: outcome.clone(),
                posting: true,
            };
            self.ledger.jobs.insert(c.id, job.clone());
            self.save()?;
            self.gitea
                .create_comment(repo, c.pr, &report::reply_body(text, c.id))
                .await?;
        }
        if outcome == Outcome::Refused {
            self.ledger.refusals_replied.insert(core::refusal_key(&c));
        }
        self.finish(c.id, outcome)
    }

    /// Build numbers the ledger already accounts for (never adopted twice).
    fn known_builds(&self) -> Vec<u64> {
        let mut known: Vec<u64> = self.ledger.following.keys().copied().collect();
        known.extend(
            self.ledger
                .handled
                .values()
                .filter_map(|h| match h.outcome {
                    Outcome::Triggered { build } => Some(build),
                    _ => None,
                }),
        );
        known.extend(self.ledger.jobs.values().filter_map(|j| match &j.stage {
            Stage::Acking { build, .. } => Some(build.number),
            _ => None,
        }));
        known
    }

    fn build_ref(&self, number: u64) -> BuildRef {
        BuildRef {
            number,
            link: format!(
                "{}/{}/{}",
                self.settings.drone_url, self.settings.ci_repo, number
            ),
        }
    }

    fn drone_observe(&self, endpoint: &'static str, ok: bool) {
        self.metrics.request("drone", endpoint, ok);
    }

    /// A build of the CI repo with exactly these parameters that the ledger
    /// does not know: the trace of a create call cut short by a crash.
    async fn find_build(&self, params: &BuildParams) -> Result<Option<u64>, StepError> {
        let want: BTreeMap<String, String> = core::drone_params(params)
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        let ci = &self.settings.ci_repo;
        let r = self.drone.builds(ci.owner(), ci.name(), 1, 50).await;
        self.drone_observe("builds", r.is_ok());
        let known = self.known_builds();
        Ok(r?
            .into_iter()
            .filter(|b| b.params == want)
            .map(|b| b.number.max(0) as u64)
            .find(|n| !known.contains(n)))
    }

    async fn trigger(
        &mut self,
        mut job: Job,
        params: BuildParams,
        sent: bool,
    ) -> Result<(), StepError> {
        let c = job.comment.clone();
        // An earlier create call may have made the build before the answer
        // was lost (crash, timeout): adopt it rather than make a second one.
        let existing = if sent {
            match self.find_build(&params).await {
                Ok(found) => found,
                Err(e) => return self.drone_failed(job, params, e).await,
            }
        } else {
            None
        };
        let number = match existing {
            Some(n) => {
                tracing::info!(
                    comment = c.id,
                    build = n,
                    "adopting the build an earlier attempt created"
                );
                Some(n)
            }
            None => {
                if let Stage::Triggering { sent, .. } = &mut job.stage
                    && !*sent
                {
                    *sent = true;
                    self.ledger.jobs.insert(c.id, job.clone());
                    self.save()?;
                }
                let ci = &self.settings.ci_repo;
                let query: BTreeMap<String, String> = core::drone_params(&params)
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), v))
                    .collect();
                let r = self
                    .drone
                    .create_build(ci.owner(), ci.name(), &self.settings.ci_branch, &query)
                    .await;
                self.drone_observe("create_build", r.is_ok());
                match r {
                    Ok(BuildCreated::Created(b)) => Some(b.number.max(0) as u64),
                    Ok(BuildCreated::NotScheduled) => None,
                    Err(e) => return self.drone_failed(job, params, e.into()).await,
                }
            }
        };
        let Some(number) = number else {
            tracing::error!(
                comment = c.id,
                "Drone answered 200 null: no pipeline matched"
            );
            let effect = core::after_trigger(&TriggerResult::NoPipeline, &self.settings.rules);
            return self
                .report_trigger_error(
                    job,
                    params,
                    effect,
                    "CI configuration error: no build was created",
                )
                .await;
        };
        let latency = (now_ms() as f64 / 1000.0) - c.created_at as f64;
        self.metrics.trigger(latency);
        tracing::info!(
            comment = c.id,
            build = number,
            latency_secs = latency,
            "build created"
        );
        let intent_at = match job.stage {
            Stage::Triggering { intent_at, .. } => intent_at,
            _ => now_secs(),
        };
        job.stage = Stage::Acking {
            params,
            build: self.build_ref(number),
            posting: false,
            intent_at,
        };
        job.attempts = 0;
        self.ledger.jobs.insert(c.id, job);
        self.save()
    }

    /// A failed create call: retry later, or report once the attempts are spent.
    async fn drone_failed(
        &mut self,
        job: Job,
        params: BuildParams,
        e: StepError,
    ) -> Result<(), StepError> {
        if e.class != ErrorClass::Retryable {
            // A CI repository Drone does not know (404) is configuration too.
            return Err(StepError {
                class: ErrorClass::Fatal,
                message: e.message,
            });
        }
        let attempts = job.attempts + 1;
        let effect = core::after_trigger(&TriggerResult::Failed { attempts }, &self.settings.rules);
        if effect.is_none() {
            return Err(e);
        }
        tracing::error!(comment = job.comment.id, attempts, error = %e.message, "Drone unreachable, giving up");
        self.report_trigger_error(
            job,
            params,
            effect,
            "CI infrastructure error: Drone unreachable",
        )
        .await
    }

    /// A trigger that produced no build: error status, then the reply.
    async fn report_trigger_error(
        &mut self,
        mut job: Job,
        params: BuildParams,
        effect: Option<Effect>,
        description: &str,
    ) -> Result<(), StepError> {
        let Some(Effect::Reply { text, outcome }) = effect else {
            return Ok(());
        };
        let target = self.settings.drone_url.clone();
        self.set_status(
            job.comment.repo.as_str(),
            &params,
            StatusState::Error,
            description,
            &target,
        )
        .await?;
        job.stage = Stage::Replying {
            text,
            outcome,
            posting: false,
        };
        job.attempts = 0;
        self.ledger.jobs.insert(job.comment.id, job);
        self.save()
    }

    async fn set_status(
        &self,
        repo: &str,
        params: &BuildParams,
        state: StatusState,
        description: &str,
        target_url: &str,
    ) -> Result<(), StepError> {
        let status = NewStatus {
            state,
            target_url: target_url.to_owned(),
            description: description.chars().take(140).collect(),
            context: crate::names::host::status_context(&params.recipe),
        };
        self.gitea
            .set_status(repo, &params.git_ref, &status)
            .await
            .map_err(StepError::from)
    }

    /// Pending status and the "started" comment, then follow the build.
    async fn ack(
        &mut self,
        mut job: Job,
        params: BuildParams,
        build: BuildRef,
        posting: bool,
        intent_at: i64,
    ) -> Result<(), StepError> {
        let c = job.comment.clone();
        let repo = c.repo.to_string();
        self.set_status(
            &repo,
            &params,
            StatusState::Pending,
            &format!("build #{} running", build.number),
            &build.link,
        )
        .await?;
        let marker = report::build_marker(build.number);
        let found = if posting {
            self.find_own_comment(&repo, c.pr, intent_at, &marker)
                .await?
        } else {
            None
        };
        let report_comment = match found {
            Some(id) => id,
            None => {
                job.stage = Stage::Acking {
                    params: params.clone(),
                    build: build.clone(),
                    posting: true,
                    intent_at,
                };
                self.ledger.jobs.insert(c.id, job.clone());
                self.save()?;
                self.gitea
                    .create_comment(&repo, c.pr, &report::started(&params, &build))
                    .await?
                    .id
            }
        };
        self.ledger.following.insert(
            build.number,
            Follow {
                build: build.clone(),
                params,
                comment: c.clone(),
                report_comment,
            },
        );
        self.finish(
            c.id,
            Outcome::Triggered {
                build: build.number,
            },
        )
    }

    /// Cancel a build superseded by a newer command on the same PR.
    async fn supersede(&mut self, number: u64) -> Result<(), StepError> {
        let Some(f) = self.ledger.following.get(&number).cloned() else {
            return Ok(());
        };
        let ci = &self.settings.ci_repo;
        let r = self
            .drone
            .cancel_build(ci.owner(), ci.name(), number as i64)
            .await;
        self.drone_observe("cancel_build", r.is_ok());
        match r {
            Ok(_) => {}
            Err(e) if e.class() == ErrorClass::Skip => {}
            Err(e) => return Err(e.into()),
        }
        let repo = f.comment.repo.to_string();
        self.set_status(
            &repo,
            &f.params,
            StatusState::Error,
            &report::superseded_description(&self.settings.rules.trigger),
            &f.build.link,
        )
        .await?;
        match self
            .gitea
            .edit_comment(
                &repo,
                f.report_comment,
                &report::superseded(&f.params, &f.build, &self.settings.rules.trigger),
            )
            .await
        {
            Ok(()) => {}
            Err(e) if e.class() == ErrorClass::Skip => {}
            Err(e) => return Err(e.into()),
        }
        tracing::info!(build = number, "superseded build cancelled");
        self.ledger.following.remove(&number);
        self.save()
    }

    /// Ask Drone about every followed build; report the finished ones.
    async fn follow(&mut self) {
        let numbers: Vec<u64> = self.ledger.following.keys().copied().collect();
        for n in numbers {
            if let Err(e) = self.follow_one(n).await {
                tracing::warn!(build = n, error = %e.message, "following the build failed; retrying");
            }
        }
    }

    async fn follow_one(&mut self, number: u64) -> Result<(), StepError> {
        let Some(f) = self.ledger.following.get(&number).cloned() else {
            return Ok(());
        };
        let ci = &self.settings.ci_repo;
        let r = self.drone.build(ci.owner(), ci.name(), number as i64).await;
        self.drone_observe("build", r.is_ok());
        let status = match r {
            Ok(b) if !b.is_finished() => return Ok(()),
            Ok(b) => b.status,
            Err(e) if e.class() == ErrorClass::Skip => "vanished".to_owned(),
            Err(e) => return Err(e.into()),
        };
        let final_report = final_report(&self.settings.runs_dir, &f, &status);
        let repo = f.comment.repo.to_string();
        match self
            .gitea
            .edit_comment(&repo, f.report_comment, &final_report.body)
            .await
        {
            Ok(()) => {}
            // Someone deleted the report comment: the status still tells.
            Err(e) if e.class() == ErrorClass::Skip => {
                tracing::warn!(build = number, error = %e, "report comment gone");
            }
            Err(e) => return Err(e.into()),
        }
        self.set_status(
            &repo,
            &f.params,
            final_report.state,
            &final_report.description,
            &f.build.link,
        )
        .await?;
        tracing::info!(build = number, status = %status, state = ?final_report.state, "build reported");
        self.ledger.following.remove(&number);
        self.save()
    }
}

/// The report of a finished build from the run's artifacts in
/// `<runs_dir>/<build number>/`.
pub fn final_report(runs_dir: &Path, f: &Follow, drone_status: &str) -> report::FinalReport {
    let dir = crate::names::files::build_output_dir(runs_dir, f.build.number);
    match ResultsV1::read(&dir.join(crate::names::files::RESULTS_FILE)) {
        Ok(r) if r.git_ref != f.params.git_ref => report::infrastructure_error(
            &f.params,
            &f.build,
            drone_status,
            "the results are for another commit",
        ),
        Ok(r) => report::finished(&f.params, &f.build, &r),
        Err(e) => {
            tracing::warn!(build = f.build.number, error = %e, "no usable results");
            report::infrastructure_error(&f.params, &f.build, drone_status, "no results.json")
        }
    }
}
