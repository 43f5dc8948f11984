//! Superseded: a newer command on the same PR looks at the build still
//! followed for it. A build that already finished (the follow had not seen
//! it yet) gets its real report, never a cancel; a running one is cancelled,
//! its status marked and its report edited. Then the new command goes on.
//! Every call here is idempotent; a failure other than "already gone" starts
//! the job over.

use crate::bridge::ledger::Follow;
use crate::bridge::report;
use crate::forge::ErrorClass;
use crate::forge::gitea::StatusState;

use super::super::{Call, Ctx, Effect, Event, FollowWork, Note, follow, status_call};
use super::failure::postpone;
use super::{Fx, JobWork, Waiting, advance, call};

/// Drone's status of a build its cancel stopped (`core.StatusKilled`).
const KILLED: &str = "killed";

/// Ask the build's status first: only a running build may be cancelled.
pub(super) fn supersede_check(w: &mut JobWork, fx: &mut Fx, build: u64) {
    let ask = Call::Build { number: build };
    call(w, fx, Waiting::SupersedeCheck(build), ask);
}

/// The cancel's answer is the build as it now stands. Drone leaves a build
/// that had already finished as it was (docs/drone.md, "Superseding a
/// build"): then it finished between the look and the cancel, and is
/// reported for what it did.
pub(super) fn cancelled(w: &mut JobWork, fx: &mut Fx, build: u64, status: String, ctx: &Ctx<'_>) {
    if crate::forge::drone::is_terminal(&status) && status != KILLED {
        return report_step_start(w, fx, build, status, ctx);
    }
    supersede_status(w, fx, build, ctx);
}

/// Report a finished superseded build through the follow's own stages.
pub(super) fn report_step_start(
    w: &mut JobWork,
    fx: &mut Fx,
    build: u64,
    status: String,
    ctx: &Ctx<'_>,
) {
    let Some(f) = followed(build, ctx) else {
        return advance(w, fx, ctx);
    };
    let (report, effects) = FollowWork::finished(f.clone(), status);
    carry(w, fx, report, effects, ctx);
}

/// One outcome of the report's calls, fed to the follow's stages.
pub(super) fn report_step(
    w: &mut JobWork,
    fx: &mut Fx,
    report: FollowWork,
    event: Event,
    ctx: &Ctx<'_>,
) {
    let (report, effects) = follow::step(report, event, ctx);
    carry(w, fx, report, effects, ctx);
}

/// Take the report's effects as the job's own: wait for its call, go on
/// once it is made (the build is unfollowed by then), or start the job over
/// when it failed (the next wake looks at the build again).
fn carry(w: &mut JobWork, fx: &mut Fx, report: FollowWork, effects: Fx, ctx: &Ctx<'_>) {
    fx.extend(effects);
    if report.is_done() {
        return advance(w, fx, ctx);
    }
    if report.is_waiting() {
        w.waiting = Some(Waiting::Report(Box::new(report)));
        return;
    }
    let f = crate::bridge::machine::Failure::new(
        ErrorClass::Retryable,
        format!(
            "reporting superseded build #{} failed",
            report.follow().build.number
        ),
    );
    postpone(w, fx, f, ctx);
}

pub(super) fn followed<'a>(build: u64, ctx: &Ctx<'a>) -> Option<&'a Follow> {
    ctx.ledger.following.get(&build)
}

pub(super) fn supersede_status(w: &mut JobWork, fx: &mut Fx, build: u64, ctx: &Ctx<'_>) {
    let Some(f) = followed(build, ctx) else {
        return advance(w, fx, ctx);
    };
    let c = status_call(
        &f.comment.repo,
        &f.params,
        StatusState::Error,
        &report::superseded_description(&ctx.rules.trigger),
        &f.build.link,
    );
    call(w, fx, Waiting::SupersedeStatus(build), c);
}

pub(super) fn supersede_edit(w: &mut JobWork, fx: &mut Fx, build: u64, ctx: &Ctx<'_>) {
    let Some(f) = followed(build, ctx) else {
        return advance(w, fx, ctx);
    };
    let edit = Call::Edit {
        repo: f.comment.repo.clone(),
        comment: f.report_comment,
        body: report::superseded(&f.params, &f.build, &ctx.rules.trigger),
    };
    call(w, fx, Waiting::SupersedeEdit(build), edit);
}

pub(super) fn superseded(w: &mut JobWork, fx: &mut Fx, build: u64, ctx: &Ctx<'_>) {
    fx.push(Effect::Tell(Note::Superseded { build }));
    fx.push(Effect::Unfollow(build));
    fx.push(Effect::Save);
    advance(w, fx, ctx);
}
