//! The stages of a followed build: following (its status asked on every
//! tick), then reported (the "started" comment edited into the report, the
//! final status set, the build no longer followed). Every call here is
//! idempotent, so a crash at any point only repeats them; a failure waits for
//! the next tick.

use crate::bridge::ledger::Follow;
use crate::bridge::report::{self, FinalReport};
use crate::forge::ErrorClass;
use crate::results::ResultsV1;

use super::{Answer, Call, Ctx, Effect, Event, Failure, Note, status_call};

/// A followed build and its progress since the last tick.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowWork {
    follow: Follow,
    waiting: Option<Waiting>,
    done: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Waiting {
    Status,
    Results { status: String },
    Edit { status: String, report: FinalReport },
    FinalStatus { status: String, report: FinalReport },
}

impl FollowWork {
    pub fn new(follow: Follow) -> Self {
        Self {
            follow,
            waiting: None,
            done: false,
        }
    }

    pub fn follow(&self) -> &Follow {
        &self.follow
    }

    /// Reported: no longer followed.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Whether a call of this work is still open (its outcome is awaited).
    pub fn is_waiting(&self) -> bool {
        self.waiting.is_some()
    }

    /// A build someone else found finished with `status` (a superseding
    /// command looked before cancelling it): its report starts at once,
    /// with the results read first, exactly as after a tick.
    pub fn finished(follow: Follow, status: String) -> (Self, Vec<Effect>) {
        let mut w = Self::new(follow);
        let mut fx = Vec::new();
        read_results(&mut w, &mut fx, status);
        (w, fx)
    }
}

type Fx = Vec<Effect>;

pub(super) fn step(mut w: FollowWork, event: Event, _ctx: &Ctx<'_>) -> (FollowWork, Fx) {
    let mut fx = Vec::new();
    if w.done {
        return (w, fx);
    }
    let number = w.follow.build.number;
    match (w.waiting.take(), event) {
        (None, Event::Wake) => call(&mut w, &mut fx, Waiting::Status, Call::Build { number }),
        (
            Some(Waiting::Status),
            Event::Answer(Answer::Build {
                finished: false, ..
            }),
        ) => {}
        (Some(Waiting::Status), Event::Answer(Answer::Build { status, .. })) => {
            read_results(&mut w, &mut fx, status);
        }
        // A build Drone no longer knows has ended too.
        (Some(Waiting::Status), Event::Failed(f)) if f.class == ErrorClass::Skip => {
            read_results(&mut w, &mut fx, "vanished".to_owned());
        }
        (Some(Waiting::Results { status }), Event::Answer(Answer::Results { results })) => {
            if let Err(message) = &results {
                fx.push(Effect::Tell(Note::NoResults {
                    build: number,
                    message: message.clone(),
                }));
            }
            let report = final_report(&w.follow, &status, &results);
            let edit = Call::Edit {
                repo: w.follow.comment.repo.clone(),
                comment: w.follow.report_comment,
                body: report.body.clone(),
            };
            call(&mut w, &mut fx, Waiting::Edit { status, report }, edit);
        }
        (Some(Waiting::Edit { status, report }), Event::Answer(Answer::Done)) => {
            final_status(&mut w, &mut fx, status, report);
        }
        // Someone deleted the report comment: the status still tells.
        (Some(Waiting::Edit { status, report }), Event::Failed(f))
            if f.class == ErrorClass::Skip =>
        {
            fx.push(Effect::Tell(Note::ReportCommentGone {
                build: number,
                message: f.message,
            }));
            final_status(&mut w, &mut fx, status, report);
        }
        (Some(Waiting::FinalStatus { status, report }), Event::Answer(Answer::Done)) => {
            fx.push(Effect::Tell(Note::Reported {
                build: number,
                status,
                report,
            }));
            fx.push(Effect::Unfollow(number));
            fx.push(Effect::Save);
            w.done = true;
        }
        (Some(_), Event::Failed(f)) => failed(&mut fx, number, f),
        (Some(_), Event::NotSaved(message)) => failed(
            &mut fx,
            number,
            Failure::new(ErrorClass::Retryable, message),
        ),
        (Some(_), Event::Answer(_)) => failed(
            &mut fx,
            number,
            Failure::new(ErrorClass::Fatal, "unexpected answer"),
        ),
        // Woken while waiting, or an answer to nothing: stay as is.
        (waiting, _) => w.waiting = waiting,
    }
    (w, fx)
}

fn call(w: &mut FollowWork, fx: &mut Fx, waiting: Waiting, c: Call) {
    w.waiting = Some(waiting);
    fx.push(Effect::Call(c));
}

fn failed(fx: &mut Fx, build: u64, f: Failure) {
    fx.push(Effect::Tell(Note::FollowFailed {
        build,
        message: f.message,
    }));
}

fn read_results(w: &mut FollowWork, fx: &mut Fx, status: String) {
    let number = w.follow.build.number;
    call(
        w,
        fx,
        Waiting::Results { status },
        Call::ReadResults { number },
    );
}

fn final_status(w: &mut FollowWork, fx: &mut Fx, status: String, report: FinalReport) {
    let f = &w.follow;
    let c = status_call(
        &f.comment.repo,
        &f.params,
        report.state,
        &report.description,
        &f.build.link,
    );
    call(w, fx, Waiting::FinalStatus { status, report }, c);
}

/// The report of a finished build from what its run left.
pub fn final_report(
    f: &Follow,
    drone_status: &str,
    results: &Result<Box<ResultsV1>, String>,
) -> FinalReport {
    match results {
        Ok(r) if r.git_ref != f.params.git_ref => report::infrastructure_error(
            &f.params,
            &f.build,
            drone_status,
            "the results are for another commit",
        ),
        Ok(r) => report::finished(&f.params, &f.build, r),
        // Why there are none, as the reader found it (missing, invalid,
        // another schema): each calls for a different fix.
        Err(why) => report::infrastructure_error(&f.params, &f.build, drone_status, why),
    }
}
