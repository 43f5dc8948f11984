//! Superseded: a newer command on the same PR cancels the build still
//! followed for it, marks its status and edits its report, then the new
//! command goes on. Every call here is idempotent; a failure other than
//! "already gone" starts the job over.

use crate::bridge::ledger::Follow;
use crate::bridge::report;
use crate::forge::gitea::StatusState;

use super::super::{Call, Ctx, Effect, Note, status_call};
use super::{Fx, JobWork, Waiting, advance, call};

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
