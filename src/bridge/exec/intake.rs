//! Comments in: the org feed (read back to its cursor), the per-repo sweep
//! and webhook deliveries, each seen comment through the core's screen; an
//! accepted one becomes a job in the ledger. The paging and cursor rules are
//! in `sources`; here they are only applied.

use time::OffsetDateTime;

use crate::bridge::core::{self, Ignored, Screen, SeenComment, Source};
use crate::bridge::http::now_ms;
use crate::bridge::metrics::ApiHealth;
use crate::bridge::sources;
use crate::forge::ErrorClass;
use crate::forge::gitea::{GiteaError, PAGE_LIMIT};
use crate::registry::values::RepoSlug;

use super::Bridge;

/// How many feed pages one cycle reads back at most (50 rows each).
const FEED_MAX_PAGES: u32 = 10;

/// A comment that could not be judged (fetching or saving failed): it is
/// read again next cycle.
#[derive(Debug)]
pub(super) struct NotJudged(String);

pub(super) fn now_secs() -> i64 {
    now_ms().div_euclid(1000)
}

impl Bridge {
    /// One seen comment through the screen; an accepted one becomes a job.
    /// A comment judged from its text as created, or known edited, is
    /// remembered as settled (saved with the cursor that follows).
    pub(super) async fn see(&mut self, mut seen: SeenComment) -> Result<(), NotJudged> {
        // The trigger latency counts from here, the fetch of a cut row included.
        let heard_ms = now_ms();
        self.metrics.comment_seen(seen.source.as_str());
        let rules = &self.settings.rules;
        let mut verdict = core::screen(&seen, rules, &self.ledger, now_secs());
        if verdict == Screen::FetchFull {
            let full = match self.gitea.comment(&seen.repo, seen.id).await {
                Ok(c) => c,
                Err(e) if e.class() == ErrorClass::Skip => return Ok(()),
                Err(e) => return Err(NotJudged(e.to_string())),
            };
            let trigger = &self.settings.rules.trigger;
            seen = sources::refetched(&seen, &full, trigger, now_secs());
            verdict = core::screen(&seen, &self.settings.rules, &self.ledger, now_secs());
        }
        match verdict {
            Screen::Accept(mut job) => {
                job.request.received_ms = heard_ms;
                tracing::info!(
                    comment = job.comment.id,
                    repo = %job.comment.repo,
                    pr = job.comment.pr,
                    user = %job.comment.user,
                    source = seen.source.as_str(),
                    unverified = job.request.unverified,
                    "command accepted"
                );
                self.ledger.jobs.insert(job.comment.id, *job);
                self.save().map_err(|e| NotJudged(e.to_string()))?;
            }
            Screen::Ignore(why) => {
                let settles = why == Ignored::Edited || (why == Ignored::NoCommand && seen.proven);
                if settles {
                    self.ledger.settle(seen.id, seen.created_at);
                }
                tracing::debug!(comment = seen.id, ?why, "comment ignored");
            }
            Screen::FetchFull => {}
        }
        Ok(())
    }

    /// The org feed, read back to the cursor: one request per cycle when
    /// nothing happened.
    pub(super) async fn poll_feed(&mut self) {
        let org = self.settings.rules.org.clone();
        let cursor = self.ledger.feed_cursor;
        let mut rows = Vec::new();
        for page in 1..=FEED_MAX_PAGES {
            let batch = match self.gitea.org_feed(&org, page, PAGE_LIMIT).await {
                Ok(b) => {
                    self.metrics.api_outcome("gitea", ApiHealth::Up, now_ms());
                    b
                }
                Err(e) => {
                    tracing::warn!(error = %e, class = ?e.class(), "feed poll failed");
                    let health = match e {
                        GiteaError::Status {
                            status: 401 | 403, ..
                        } => ApiHealth::AuthRefused,
                        GiteaError::Transport { .. } => ApiHealth::Unreachable,
                        _ => ApiHealth::Up,
                    };
                    self.metrics.api_outcome("gitea", health, now_ms());
                    return;
                }
            };
            let (fresh, more) = sources::feed_page(batch, cursor, PAGE_LIMIT);
            rows.extend(fresh);
            if !more {
                break;
            }
        }
        self.metrics.poll_ok(now_ms());
        rows.sort_by_key(|a| a.id);
        let now = now_secs();
        let mut new_cursor = cursor;
        for a in rows {
            if let Some(seen) = sources::from_activity(&a, now)
                && let Err(NotJudged(e)) = self.see(seen).await
            {
                // Leave the cursor before this row: it is read again next cycle.
                tracing::warn!(error = %e, "feed row not judged, retrying next cycle");
                break;
            }
            new_cursor = Some(new_cursor.map_or(a.id, |c| c.max(a.id)));
        }
        if new_cursor != self.ledger.feed_cursor {
            self.ledger.feed_cursor = new_cursor;
            if let Err(e) = self.save() {
                tracing::error!(error = %e, "cannot save the feed cursor");
            }
        }
    }

    /// Every enrolled repository's comments since its last sweep: catches
    /// comments the feed hides (users keeping their activity private). Each
    /// repository keeps its own cursor, so one that fails (gone, 404,
    /// unreachable) is re-read next time without holding back the others;
    /// pruning the ledger depends on no repository.
    pub(super) async fn sweep(&mut self) {
        let t = self.settings.tuning.clone();
        let now = now_secs();
        let max_age = t.max_comment_age.as_secs() as i64;
        let overlap = t.sweep_overlap.as_secs() as i64;
        let repos: Vec<_> = self.settings.rules.repos.keys().cloned().collect();
        let mut complete = true;
        for repo in repos {
            let last = (self.ledger.sweep_cursors.get(&repo).copied()).or(self.ledger.sweep_since);
            let since = sources::sweep_start(last, now, overlap, max_age);
            match self.sweep_repo(&repo, since, now).await {
                Some(started) => {
                    self.ledger.sweep_cursors.insert(repo, started);
                }
                None => complete = false,
            }
        }
        let enrolled = &self.settings.rules.repos;
        self.ledger
            .sweep_cursors
            .retain(|r, _| enrolled.contains_key(r));
        if complete {
            // Every repository has its own cursor now.
            self.ledger.sweep_since = None;
        }
        // Comments older than the age limit never fire, whatever any cursor
        // says; their records are kept a day longer.
        self.ledger.prune(now - max_age - 86_400);
        if let Err(e) = self.save() {
            tracing::error!(error = %e, "cannot save the sweep cursors");
        }
    }

    /// One repository's comments since `since_secs`, every page; the server
    /// time the sweep of it started at when every comment was judged.
    async fn sweep_repo(&mut self, repo: &RepoSlug, since_secs: i64, now: i64) -> Option<i64> {
        let since =
            OffsetDateTime::from_unix_timestamp(since_secs).unwrap_or(OffsetDateTime::UNIX_EPOCH);
        let mut started: Option<i64> = None;
        let mut complete = true;
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
                    return None;
                }
            };
            started.get_or_insert(p.server_time.map_or(now, |t| t.unix_timestamp()));
            for c in &p.comments {
                let seen = sources::from_comment(repo.as_str(), c, Source::Sweep, now_secs());
                if let Err(NotJudged(e)) = self.see(seen).await {
                    tracing::warn!(error = %e, repo = %repo, "swept comment not judged");
                    complete = false;
                }
            }
            if !sources::sweep_more(page, p.comments.len(), p.total, PAGE_LIMIT) {
                break;
            }
            page += 1;
        }
        if complete { started } else { None }
    }
}
