//! Recovering: a comment carrying the bot's reaction that the ledger does
//! not know (its state directory was lost while the job was under way) is
//! finished from what Gitea and Drone show, never dropped in silence
//! (docs/gitea.md, "Reactions as a handled marker").

use std::collections::BTreeMap;

use crate::bridge::core::Facts;
use crate::bridge::ledger::{Outcome, Stage};
use crate::bridge::report;

use super::super::{Call, Ctx, Effect, SeenPost, known_builds};
use super::{
    EVIDENCE_SLACK_SECS, Fx, JobWork, Waiting, advance, begin, call, created, finish, mark_sent,
    own_post,
};

/// The bot's reaction is on the comment, the ledger knew nothing of it: an
/// earlier life took the command (its state directory was lost) and may have
/// been anywhere in it, even retrying. Whatever it sent may still be in
/// flight, so the job first waits that out as after a lost answer, then
/// looks for the build made for it and for its reply
/// ([`recover_builds`], [`recover_reply`]); with neither, it is decided
/// afresh and answered, never dropped in silence.
pub(super) fn recover(w: &mut JobWork, fx: &mut Fx, ctx: &Ctx<'_>) {
    w.job.reacted = true;
    w.job.stage = Stage::Recovering;
    w.job.attempts = 0;
    mark_sent(&mut w.job, ctx);
    fx.push(Effect::Save);
    w.plan.clear();
    w.decided = false;
    begin(w, fx, ctx);
}

/// Recovering, one page of builds: adopt the one made for this job.
pub(super) fn recover_builds(
    w: &mut JobWork,
    fx: &mut Fx,
    page: u32,
    builds: &[(u64, BTreeMap<String, String>)],
    ctx: &Ctx<'_>,
) {
    let id = w.job.comment.id.to_string();
    let known = known_builds(ctx.ledger);
    let found = builds
        .iter()
        .filter(|(n, p)| p.get(super::super::JOB_PARAM) == Some(&id) && !known.contains(n))
        .filter_map(|(n, p)| Some((*n, super::super::params_of(p, &w.job.recipe)?)))
        .min_by_key(|(n, _)| *n);
    if let Some((n, params)) = found {
        // Asked for no earlier than the command: its "started" comment, if
        // any, is looked for from there.
        w.job.stage = Stage::Triggering {
            params,
            intent_at: w.job.comment.created_at,
            sent: true,
        };
        return created(w, fx, n, true, ctx);
    }
    if builds.len() >= super::super::EVIDENCE_PAGE as usize && page < super::super::EVIDENCE_PAGES {
        let next = Call::RecentBuilds { page: page + 1 };
        return call(w, fx, Waiting::RecoverBuilds(page + 1), next);
    }
    let c = &w.job.comment;
    let comments = Call::Comments {
        repo: c.repo.clone(),
        pr: c.pr,
        since: c.created_at - EVIDENCE_SLACK_SECS,
    };
    call(w, fx, Waiting::RecoverReply, comments);
}

/// Recovering, no build: the reply ends it; without one, decide afresh.
pub(super) fn recover_reply(w: &mut JobWork, fx: &mut Fx, posts: &[SeenPost], ctx: &Ctx<'_>) {
    let marker = report::reply_marker(w.job.comment.id);
    if own_post(posts, &marker, ctx).is_some() {
        return finish(w, fx, Outcome::AlreadyMarked, ctx);
    }
    w.job.stage = Stage::Received;
    w.job.sent_at_ms = 0;
    fx.push(Effect::Save);
    w.facts = Facts {
        bot_reacted: Some(true),
        ..Facts::default()
    };
    w.plan.clear();
    w.decided = false;
    advance(w, fx, ctx);
}
