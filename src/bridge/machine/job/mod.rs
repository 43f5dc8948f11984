//! The stages of a comment job: received (facts, then the core's decision:
//! react, supersede, reply, trigger or finish), replying, triggering and
//! acknowledging (pending status, "started" comment, then the build is
//! followed). What the job is waiting for lives in memory only: a restart
//! wakes the job at its saved stage, and the saved "may have happened" flags
//! say where evidence must be looked for first.

mod failure;
mod recover;
mod supersede;

use std::collections::VecDeque;

use crate::bridge::core::{self, Ask, Facts, TriggerResult};
use crate::bridge::ledger::{BuildRef, Follow, Handled, Job, Outcome, Stage};
use crate::bridge::report;
use crate::forge::ErrorClass;
use crate::forge::gitea::StatusState;

use super::{
    Answer, Call, Ctx, Effect, Event, Failure, Note, SeenPost, ask_call, build_query, known_builds,
    learn, status_call,
};
use failure::{ask_name, failed, postpone, unexpected, waiting_name};
use recover::{recover, recover_builds, recover_reply};
use supersede::{
    cancelled, report_step, report_step_start, supersede_check, supersede_edit, supersede_status,
    superseded,
};

/// Evidence of an earlier post is searched this far before the time it was
/// intended (seconds): server clocks and second precision.
const EVIDENCE_SLACK_SECS: i64 = 120;

/// A job and its progress since it was last woken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobWork {
    job: Job,
    /// Facts gathered for the decision (received only).
    facts: Facts,
    /// The rest of the core's decision, carried out in order.
    plan: VecDeque<core::Effect>,
    /// The core has decided since the last wake (so its plan is not made twice).
    decided: bool,
    waiting: Option<Waiting>,
    done: bool,
}

/// The call a job is waiting for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Waiting {
    Fact(Ask),
    React,
    /// The superseded build's status, asked before cancelling it.
    SupersedeCheck(u64),
    Cancel(u64),
    /// The superseded build had finished: its own report, made by the
    /// follow's stages, before the new command goes on.
    Report(Box<super::FollowWork>),
    SupersedeStatus(u64),
    SupersedeEdit(u64),
    ReplyEvidence,
    ReplyPost,
    /// This page of the builds.
    BuildEvidence(u32),
    Create,
    /// The error status of a trigger that made no build; then this reply.
    ErrorStatus {
        text: String,
        outcome: Outcome,
    },
    /// The pending status; then acknowledge with the "started" comment
    /// found already, or look for one / post one.
    PendingStatus(Option<u64>),
    /// The "started" comment, by the build's marker; `status_set`: the
    /// pending status went out before.
    StartedEvidence {
        status_set: bool,
    },
    StartedPost,
    /// Recovering: this page of the builds, for one made for the job.
    RecoverBuilds(u32),
    /// Recovering: the PR's comments, for the job's reply.
    RecoverReply,
}

impl JobWork {
    pub fn new(job: Job) -> Self {
        Self {
            job,
            facts: Facts::default(),
            plan: VecDeque::new(),
            decided: false,
            waiting: None,
            done: false,
        }
    }

    pub fn job(&self) -> &Job {
        &self.job
    }

    /// The job finished: the ledger keeps only its outcome.
    pub fn is_done(&self) -> bool {
        self.done
    }
}

type Fx = Vec<Effect>;

pub(super) fn step(mut w: JobWork, event: Event, ctx: &Ctx<'_>) -> (JobWork, Fx) {
    let mut fx = Vec::new();
    if w.done {
        return (w, fx);
    }
    match event {
        Event::Wake => {
            if w.waiting.is_none() && w.job.not_before_ms <= ctx.now_ms {
                begin(&mut w, &mut fx, ctx);
            }
        }
        // The superseded build's report is the follow's to make.
        Event::Answer(_) | Event::Failed(_) | Event::NotSaved(_)
            if matches!(w.waiting, Some(Waiting::Report(_))) =>
        {
            if let Some(Waiting::Report(report)) = w.waiting.take() {
                report_step(&mut w, &mut fx, *report, event, ctx);
            }
        }
        // An outcome with no call waiting for it is stale: ignored.
        Event::Answer(a) => {
            if let Some(waiting) = w.waiting.take() {
                answer(&mut w, &mut fx, waiting, a, ctx);
            }
        }
        Event::Failed(f) => {
            if let Some(waiting) = w.waiting.take() {
                failed(&mut w, &mut fx, waiting, f, ctx);
            }
        }
        Event::NotSaved(message) => {
            // The call was not made: nothing of it can still be on its way.
            w.job.sent_at_ms = 0;
            w.waiting = None;
            postpone(
                &mut w,
                &mut fx,
                Failure::new(ErrorClass::Retryable, message),
                ctx,
            );
        }
    }
    (w, fx)
}

fn call(w: &mut JobWork, fx: &mut Fx, waiting: Waiting, c: Call) {
    w.waiting = Some(waiting);
    fx.push(Effect::Call(c));
}

/// Start the saved stage over.
fn begin(w: &mut JobWork, fx: &mut Fx, ctx: &Ctx<'_>) {
    let in_flight = matches!(
        w.job.stage,
        Stage::Replying { posting: true, .. }
            | Stage::Triggering { sent: true, .. }
            | Stage::Acking { posting: true, .. }
            | Stage::Recovering
    );
    if in_flight && unsettled(w, fx, ctx) {
        return;
    }
    let c = &w.job.comment;
    match &w.job.stage {
        Stage::Received => {
            w.facts = Facts::default();
            w.plan.clear();
            w.decided = false;
            advance(w, fx, ctx);
        }
        Stage::Replying { posting: true, .. } => {
            let since = c.created_at - EVIDENCE_SLACK_SECS;
            let (repo, pr) = (c.repo.clone(), c.pr);
            call(
                w,
                fx,
                Waiting::ReplyEvidence,
                Call::Comments { repo, pr, since },
            );
        }
        Stage::Replying { .. } => post_reply(w, fx, ctx),
        Stage::Triggering { sent: true, .. } => {
            call(
                w,
                fx,
                Waiting::BuildEvidence(1),
                Call::RecentBuilds { page: 1 },
            );
        }
        Stage::Triggering { .. } => create(w, fx, ctx),
        Stage::Acking { .. } => pending_status(w, fx, None),
        Stage::Recovering => {
            let page = Call::RecentBuilds { page: 1 };
            call(w, fx, Waiting::RecoverBuilds(1), page);
        }
    }
}

/// Received: carry out the decision, or ask the next fact it needs.
fn advance(w: &mut JobWork, fx: &mut Fx, ctx: &Ctx<'_>) {
    loop {
        if let Some(effect) = w.plan.pop_front() {
            match effect {
                core::Effect::React => {
                    // Saved before the call: our own reaction must not read
                    // as "handled before" after a crash right after it. Saved
                    // even when already set, since a failed save leaves the
                    // mark in memory only.
                    w.job.reacted = true;
                    fx.push(Effect::Save);
                    let c = &w.job.comment;
                    let react = Call::React {
                        repo: c.repo.clone(),
                        comment: c.id,
                        content: report::REACTION,
                    };
                    return call(w, fx, Waiting::React, react);
                }
                core::Effect::Supersede { build } => {
                    if ctx.ledger.following.contains_key(&build) {
                        return supersede_check(w, fx, build);
                    }
                }
                core::Effect::Reply { text, outcome } => {
                    w.job.stage = Stage::Replying {
                        text,
                        outcome,
                        posting: false,
                    };
                    w.job.attempts = 0;
                    return post_reply(w, fx, ctx);
                }
                core::Effect::Trigger(params) => {
                    w.job.stage = Stage::Triggering {
                        params,
                        intent_at: ctx.now_secs(),
                        sent: false,
                    };
                    w.job.attempts = 0;
                    return create(w, fx, ctx);
                }
                core::Effect::Finish(outcome) => return finish(w, fx, outcome, ctx),
                core::Effect::Recover => return recover(w, fx, ctx),
            }
            continue;
        }
        if w.decided {
            return;
        }
        match core::decide(&w.job, &w.facts, ctx.rules, ctx.ledger) {
            core::Decision::Need(ask) => {
                let c = ask_call(ask, &w.job, ctx.rules);
                return call(w, fx, Waiting::Fact(ask), c);
            }
            core::Decision::Act(effects) => {
                w.decided = true;
                w.plan = effects.into();
            }
        }
    }
}

/// A call that may have reached its server was sent less than the settle
/// time ago (the answer was lost to a timeout or a kill): the server may
/// still be acting on it, so finding no evidence now would prove nothing and
/// a second call could duplicate it. Sleep until the first call has settled.
fn unsettled(w: &mut JobWork, fx: &mut Fx, ctx: &Ctx<'_>) -> bool {
    if w.job.sent_at_ms == 0 {
        return false;
    }
    let settled_at = w.job.sent_at_ms + ctx.retry.settle_ms as i64;
    if ctx.now_ms >= settled_at {
        return false;
    }
    w.job.not_before_ms = settled_at;
    fx.push(Effect::Tell(Note::Settling {
        comment: w.job.comment.id,
        wait_ms: (settled_at - ctx.now_ms) as u64,
    }));
    fx.push(Effect::Save);
    true
}

/// Mark a non-idempotent call as sent now (saved by the caller before it).
fn mark_sent(job: &mut Job, ctx: &Ctx<'_>) {
    job.sent_at_ms = ctx.now_ms;
}

/// Post the reply; the save before marks the post as maybe made.
fn post_reply(w: &mut JobWork, fx: &mut Fx, ctx: &Ctx<'_>) {
    let Stage::Replying { text, posting, .. } = &mut w.job.stage else {
        return;
    };
    *posting = true;
    let text = text.clone();
    mark_sent(&mut w.job, ctx);
    let body = report::reply_body(&text, w.job.comment.id);
    fx.push(Effect::Save);
    let c = &w.job.comment;
    let post = Call::Post {
        repo: c.repo.clone(),
        pr: c.pr,
        body,
    };
    call(w, fx, Waiting::ReplyPost, post);
}

/// Create the build; the save before marks the call as maybe made. Saved
/// even when the mark is already set: a failed save leaves it in memory
/// only, and a kill after the call would then lose it.
fn create(w: &mut JobWork, fx: &mut Fx, ctx: &Ctx<'_>) {
    let id = w.job.comment.id;
    let Stage::Triggering { params, sent, .. } = &mut w.job.stage else {
        return;
    };
    let query = build_query(params, Some(id));
    *sent = true;
    mark_sent(&mut w.job, ctx);
    fx.push(Effect::Save);
    call(w, fx, Waiting::Create, Call::CreateBuild { query });
}

fn pending_status(w: &mut JobWork, fx: &mut Fx, found: Option<u64>) {
    let Stage::Acking { params, build, .. } = &w.job.stage else {
        return;
    };
    let description = format!("build #{} running", build.number);
    let c = status_call(
        &w.job.comment.repo,
        params,
        StatusState::Pending,
        &description,
        &build.link,
    );
    call(w, fx, Waiting::PendingStatus(found), c);
}

/// The build's "started" comment may exist (a post whose answer was lost,
/// or one a life whose ledger was lost made): look for it by the build's
/// marker, from when the build was asked for on.
fn started_evidence(w: &mut JobWork, fx: &mut Fx, status_set: bool) {
    let Stage::Acking { intent_at, .. } = &w.job.stage else {
        return;
    };
    let c = &w.job.comment;
    let comments = Call::Comments {
        repo: c.repo.clone(),
        pr: c.pr,
        since: intent_at - EVIDENCE_SLACK_SECS,
    };
    call(w, fx, Waiting::StartedEvidence { status_set }, comments);
}

fn post_started(w: &mut JobWork, fx: &mut Fx, ctx: &Ctx<'_>) {
    let Stage::Acking {
        params,
        build,
        posting,
        ..
    } = &mut w.job.stage
    else {
        return;
    };
    *posting = true;
    let body = report::started(params, build);
    mark_sent(&mut w.job, ctx);
    fx.push(Effect::Save);
    let c = &w.job.comment;
    let post = Call::Post {
        repo: c.repo.clone(),
        pr: c.pr,
        body,
    };
    call(w, fx, Waiting::StartedPost, post);
}

fn finish(w: &mut JobWork, fx: &mut Fx, outcome: Outcome, ctx: &Ctx<'_>) {
    if outcome == Outcome::Refused {
        fx.push(Effect::Tell(Note::Refused));
    }
    fx.push(Effect::Tell(Note::Handled {
        comment: w.job.comment.id,
        outcome: outcome.clone(),
    }));
    fx.push(Effect::Finish {
        comment: w.job.comment.id,
        handled: Handled {
            at: ctx.now_secs(),
            outcome,
        },
    });
    fx.push(Effect::Save);
    w.done = true;
    w.waiting = None;
}

/// Whether one of the bot's comments carries `marker`.
fn own_post<'a>(posts: &'a [SeenPost], marker: &str, ctx: &Ctx<'_>) -> Option<&'a SeenPost> {
    posts
        .iter()
        .find(|p| p.login.eq_ignore_ascii_case(&ctx.rules.bot_user) && p.body.contains(marker))
}

fn answer(w: &mut JobWork, fx: &mut Fx, waiting: Waiting, a: Answer, ctx: &Ctx<'_>) {
    match (waiting, a) {
        (Waiting::Fact(ask), a) => {
            if learn(&mut w.facts, ask, &a, &w.job, ctx.rules) {
                advance(w, fx, ctx);
            } else {
                unexpected(w, fx, ask_name(ask), ctx);
            }
        }
        (Waiting::React, Answer::Done) => advance(w, fx, ctx),
        (Waiting::SupersedeCheck(build), Answer::Build { status, finished }) => {
            if finished {
                report_step_start(w, fx, build, status, ctx);
            } else {
                let cancel = Call::CancelBuild { number: build };
                call(w, fx, Waiting::Cancel(build), cancel);
            }
        }
        (Waiting::Cancel(build), Answer::Build { status, .. }) => {
            cancelled(w, fx, build, status, ctx);
        }
        (Waiting::SupersedeStatus(build), Answer::Done) => supersede_edit(w, fx, build, ctx),
        (Waiting::SupersedeEdit(build), Answer::Done) => superseded(w, fx, build, ctx),
        (Waiting::ReplyEvidence, Answer::Comments(posts)) => {
            let marker = report::reply_marker(w.job.comment.id);
            if own_post(&posts, &marker, ctx).is_some() {
                replied(w, fx, ctx);
            } else {
                post_reply(w, fx, ctx);
            }
        }
        (Waiting::ReplyPost, Answer::Posted(_)) => replied(w, fx, ctx),
        (Waiting::BuildEvidence(page), Answer::Builds(builds)) => {
            let Stage::Triggering { params, .. } = &w.job.stage else {
                return;
            };
            let id = w.job.comment.id;
            let mine = build_query(params, Some(id));
            let unmarked = build_query(params, None);
            let known = known_builds(ctx.ledger);
            // An earlier create call may have made the build before the
            // answer was lost (crash, timeout): adopt it, never make a second.
            // The job's identity parameter makes the match exact; a build
            // without one (made before it existed) matches on the rest.
            // Should two exist after all, the oldest is adopted.
            let found = builds
                .iter()
                .filter(|(n, p)| (*p == mine || *p == unmarked) && !known.contains(n))
                .map(|(n, _)| *n)
                .min();
            let full = builds.len() >= super::EVIDENCE_PAGE as usize;
            match found {
                Some(n) => created(w, fx, n, true, ctx),
                // Not on this page, and older builds exist: look there too.
                None if full && page < super::EVIDENCE_PAGES => {
                    let next = Call::RecentBuilds { page: page + 1 };
                    call(w, fx, Waiting::BuildEvidence(page + 1), next);
                }
                None => create(w, fx, ctx),
            }
        }
        (Waiting::Create, Answer::Created(Some(n))) => created(w, fx, n, false, ctx),
        (Waiting::Create, Answer::Created(None)) => {
            fx.push(Effect::Tell(Note::NoPipeline {
                comment: w.job.comment.id,
            }));
            let reply = core::after_trigger(&TriggerResult::NoPipeline, ctx.rules);
            error_status(
                w,
                fx,
                reply,
                "CI configuration error: no build was created",
                ctx,
            );
        }
        (Waiting::ErrorStatus { text, outcome }, Answer::Done) => {
            w.job.stage = Stage::Replying {
                text,
                outcome,
                posting: false,
            };
            w.job.attempts = 0;
            post_reply(w, fx, ctx);
        }
        (Waiting::PendingStatus(Some(id)), Answer::Done) => acked(w, fx, id, ctx),
        (Waiting::PendingStatus(None), Answer::Done) => {
            if matches!(w.job.stage, Stage::Acking { posting: true, .. }) {
                started_evidence(w, fx, true);
            } else {
                post_started(w, fx, ctx);
            }
        }
        (Waiting::StartedEvidence { status_set }, Answer::Comments(posts)) => {
            let Stage::Acking { build, .. } = &w.job.stage else {
                return;
            };
            let number = build.number;
            let marker = report::build_marker(number);
            match own_post(&posts, &marker, ctx) {
                // Already edited into its report (or superseded): the build
                // was followed to its end by a life whose ledger was lost.
                Some(p) if !report::is_started(&p.body) => {
                    finish(w, fx, Outcome::Triggered { build: number }, ctx);
                }
                Some(p) if status_set => acked(w, fx, p.id, ctx),
                Some(p) => pending_status(w, fx, Some(p.id)),
                None if status_set => post_started(w, fx, ctx),
                None => pending_status(w, fx, None),
            }
        }
        (Waiting::StartedPost, Answer::Posted(id)) => acked(w, fx, id, ctx),
        (Waiting::RecoverBuilds(page), Answer::Builds(builds)) => {
            recover_builds(w, fx, page, &builds, ctx);
        }
        (Waiting::RecoverReply, Answer::Comments(posts)) => recover_reply(w, fx, &posts, ctx),
        (waiting, _) => unexpected(w, fx, waiting_name(&waiting), ctx),
    }
}

fn replied(w: &mut JobWork, fx: &mut Fx, ctx: &Ctx<'_>) {
    let Stage::Replying { outcome, .. } = &w.job.stage else {
        return;
    };
    let outcome = outcome.clone();
    if outcome == Outcome::Refused {
        fx.push(Effect::RememberRefusal(core::refusal_key(&w.job.comment)));
    }
    finish(w, fx, outcome, ctx);
}

fn build_ref(number: u64, ctx: &Ctx<'_>) -> BuildRef {
    BuildRef {
        number,
        link: format!("{}/{}/{}", ctx.drone_url, ctx.ci_repo, number),
    }
}

/// The build exists: acknowledge it.
fn created(w: &mut JobWork, fx: &mut Fx, number: u64, adopted: bool, ctx: &Ctx<'_>) {
    let Stage::Triggering {
        params, intent_at, ..
    } = &w.job.stage
    else {
        return;
    };
    let c = &w.job.comment;
    // From when the command was heard; a job from before that was kept
    // falls back to the comment's (whole-second) creation time.
    let heard_ms = match w.job.request.received_ms {
        0 => c.created_at * 1000,
        ms => ms,
    };
    fx.push(Effect::Tell(Note::BuildCreated {
        comment: c.id,
        build: number,
        adopted,
        latency_ms: ctx.now_ms.saturating_sub(heard_ms).max(0) as u64,
    }));
    // An adopted build may already have its "started" comment, even its
    // report (made by a life whose ledger was lost): look before posting
    // one, and before a pending status could hide a final one.
    w.job.stage = Stage::Acking {
        params: params.clone(),
        build: build_ref(number, ctx),
        posting: adopted,
        intent_at: *intent_at,
    };
    w.job.attempts = 0;
    fx.push(Effect::Save);
    if adopted {
        started_evidence(w, fx, false);
    } else {
        pending_status(w, fx, None);
    }
}

/// A trigger that produced no build: the error status, then the reply.
fn error_status(
    w: &mut JobWork,
    fx: &mut Fx,
    reply: Option<core::Effect>,
    description: &str,
    ctx: &Ctx<'_>,
) {
    let (Some(core::Effect::Reply { text, outcome }), Stage::Triggering { params, .. }) =
        (reply, &w.job.stage)
    else {
        return;
    };
    let c = status_call(
        &w.job.comment.repo,
        params,
        StatusState::Error,
        description,
        ctx.drone_url,
    );
    call(w, fx, Waiting::ErrorStatus { text, outcome }, c);
}

fn acked(w: &mut JobWork, fx: &mut Fx, report_comment: u64, ctx: &Ctx<'_>) {
    let Stage::Acking { params, build, .. } = &w.job.stage else {
        return;
    };
    let number = build.number;
    fx.push(Effect::Follow(Follow {
        build: build.clone(),
        params: params.clone(),
        comment: w.job.comment.clone(),
        report_comment,
        upload_sent_at_ms: 0,
    }));
    finish(w, fx, Outcome::Triggered { build: number }, ctx);
}
