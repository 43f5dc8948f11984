//! A job's failed call: what is gone ends the job, what Drone refuses is
//! retried or reported, everything else waits (backoff for transient errors,
//! longer for configuration errors) and starts its stage over.

use crate::bridge::core::{self, Ask, Facts, TriggerResult};
use crate::bridge::ledger::Outcome;
use crate::forge::ErrorClass;

use super::super::{Ctx, Effect, Failure, Note};
use super::{
    Fx, JobWork, Waiting, error_status, finish, report_step_start, supersede_status, superseded,
};

pub(super) fn failed(w: &mut JobWork, fx: &mut Fx, waiting: Waiting, f: Failure, ctx: &Ctx<'_>) {
    // The server answered the non-idempotent call (with an error): it is
    // done with it, so its evidence, if any, is already there to be found.
    if matches!(
        waiting,
        Waiting::Create | Waiting::ReplyPost | Waiting::StartedPost
    ) && !f.lost
    {
        w.job.sent_at_ms = 0;
    }
    match waiting {
        // A build Drone no longer knows has ended too: the follow reports
        // it as it would have on its own tick.
        Waiting::SupersedeCheck(build) if f.class == ErrorClass::Skip => {
            report_step_start(w, fx, build, "vanished".to_owned(), ctx);
        }
        // The superseded build or its report is gone already: nothing to undo.
        Waiting::Cancel(build) if f.class == ErrorClass::Skip => {
            supersede_status(w, fx, build, ctx);
        }
        Waiting::SupersedeEdit(build) if f.class == ErrorClass::Skip => {
            superseded(w, fx, build, ctx);
        }
        Waiting::BuildEvidence(_) | Waiting::Create => drone_failed(w, fx, f, ctx),
        // Recovery reads only: whatever failed, it is tried again, and a CI
        // repository Drone does not know is configuration.
        Waiting::RecoverBuilds(_) if f.class == ErrorClass::Skip => {
            let f = Failure {
                class: ErrorClass::Fatal,
                ..f
            };
            postpone(w, fx, f, ctx);
        }
        _ if f.class == ErrorClass::Skip => {
            // The PR, comment or SHA is gone: nothing left to do for it.
            fx.push(Effect::Tell(Note::Skipped {
                comment: w.job.comment.id,
                message: f.message,
            }));
            finish(w, fx, Outcome::Gone, ctx);
        }
        _ => postpone(w, fx, f, ctx),
    }
}

/// A failed create (or evidence) call: retry later, or report once the
/// attempts are spent.
pub(super) fn drone_failed(w: &mut JobWork, fx: &mut Fx, f: Failure, ctx: &Ctx<'_>) {
    if f.class != ErrorClass::Retryable {
        // A CI repository Drone does not know (404) is configuration too.
        let f = Failure {
            class: ErrorClass::Fatal,
            ..f
        };
        return postpone(w, fx, f, ctx);
    }
    let attempts = w.job.attempts + 1;
    let reply = core::after_trigger(&TriggerResult::Failed { attempts }, ctx.rules);
    if reply.is_none() {
        return postpone(w, fx, f, ctx);
    }
    fx.push(Effect::Tell(Note::DroneGaveUp {
        comment: w.job.comment.id,
        attempts,
        message: f.message,
    }));
    error_status(
        w,
        fx,
        reply,
        "CI infrastructure error: Drone unreachable",
        ctx,
    );
}

/// Try the saved stage again later, according to the error's class.
pub(super) fn postpone(w: &mut JobWork, fx: &mut Fx, f: Failure, ctx: &Ctx<'_>) {
    w.job.attempts += 1;
    let r = ctx.retry;
    // A configuration or authorisation error may be fixed (or over: a short
    // 401 while a token rotates) at any moment: backed off like any other
    // error, but to its own, shorter cap.
    let cap_ms = match f.class {
        ErrorClass::Retryable => r.cap_ms,
        ErrorClass::Fatal | ErrorClass::Skip => r.fatal_ms,
    };
    let delay_ms = core::backoff_ms(w.job.attempts, r.base_ms, cap_ms);
    w.job.not_before_ms = ctx.now_ms + delay_ms as i64;
    w.facts = Facts::default();
    w.plan.clear();
    w.decided = false;
    w.waiting = None;
    fx.push(Effect::Tell(Note::Retrying {
        comment: w.job.comment.id,
        class: f.class,
        attempts: w.job.attempts,
        delay_ms,
        message: f.message,
    }));
    fx.push(Effect::Save);
}

pub(super) fn unexpected(w: &mut JobWork, fx: &mut Fx, what: &str, ctx: &Ctx<'_>) {
    let f = Failure::new(ErrorClass::Fatal, format!("{what}: unexpected answer"));
    postpone(w, fx, f, ctx);
}

pub(super) fn ask_name(ask: Ask) -> &'static str {
    match ask {
        Ask::Reactions => "reactions",
        Ask::Membership => "membership",
        Ask::Pull => "pull",
        Ask::Timeline => "timeline",
    }
}

pub(super) fn waiting_name(w: &Waiting) -> &'static str {
    match w {
        Waiting::Fact(a) => ask_name(*a),
        Waiting::React => "react",
        Waiting::SupersedeCheck(_) => "build status",
        Waiting::Cancel(_) => "cancel build",
        Waiting::Report(_) => "report build",
        Waiting::SupersedeStatus(_) | Waiting::PendingStatus(_) | Waiting::ErrorStatus { .. } => {
            "set status"
        }
        Waiting::SupersedeEdit(_) => "edit comment",
        Waiting::ReplyEvidence | Waiting::StartedEvidence { .. } | Waiting::RecoverReply => {
            "pr comments"
        }
        Waiting::ReplyPost | Waiting::StartedPost => "post comment",
        Waiting::BuildEvidence(_) | Waiting::RecoverBuilds(_) => "builds",
        Waiting::Create => "create build",
    }
}
