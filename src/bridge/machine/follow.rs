//! The stages of a followed build: following (its status asked on every
//! tick), then reported (the "started" comment edited into the report, its
//! screenshots attached and shown, the final status set, the build no longer
//! followed). Every call here is idempotent but the upload, which is made
//! only for a name the comment's attachments lack, so a crash at any point
//! only repeats them; a failure waits for the next tick. A screenshot Gitea
//! refuses is left out; the report text is always there first.

use crate::bridge::ledger::Follow;
use crate::bridge::report::{self, FinalReport, Shot};
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
    Results {
        status: String,
    },
    Edit {
        status: String,
        report: FinalReport,
        pictures: Pictures,
    },
    /// The report comment's attachments, to upload only what is missing.
    Assets {
        status: String,
        report: FinalReport,
        pictures: Pictures,
    },
    Upload {
        status: String,
        report: FinalReport,
        pictures: Pictures,
        file: String,
    },
    /// The report edited again, showing the attached screenshots.
    Show {
        status: String,
        report: FinalReport,
    },
    FinalStatus {
        status: String,
        report: FinalReport,
    },
}

/// The screenshots of a report and how far their upload got.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Pictures {
    shots: Vec<Shot>,
    /// (file, download URL) of those the comment has.
    attached: Vec<(String, String)>,
    /// Files Gitea (or the runs directory) refused: left out.
    skipped: Vec<String>,
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

pub(super) fn step(mut w: FollowWork, event: Event, ctx: &Ctx<'_>) -> (FollowWork, Fx) {
    let mut fx = Vec::new();
    if w.done {
        return (w, fx);
    }
    let number = w.follow.build.number;
    match (w.waiting.take(), event) {
        // An upload whose answer was lost may still be stored: wait until it
        // settled, so the attachments looked at next are conclusive.
        (None, Event::Wake) if upload_unsettled(&w.follow, ctx) => {}
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
            let pictures = Pictures {
                shots: match &results {
                    Ok(r) if r.git_ref == w.follow.params.git_ref => report::screenshots(r),
                    _ => Vec::new(),
                },
                ..Pictures::default()
            };
            let edit = Call::Edit {
                repo: w.follow.comment.repo.clone(),
                comment: w.follow.report_comment,
                body: report.body.clone(),
            };
            let waiting = Waiting::Edit {
                status,
                report,
                pictures,
            };
            call(&mut w, &mut fx, waiting, edit);
        }
        (
            Some(Waiting::Edit {
                status,
                report,
                pictures,
            }),
            Event::Answer(Answer::Done),
        ) => {
            if pictures.shots.is_empty() {
                final_status(&mut w, &mut fx, status, report);
            } else {
                let list = Call::CommentAssets {
                    repo: w.follow.comment.repo.clone(),
                    comment: w.follow.report_comment,
                };
                let waiting = Waiting::Assets {
                    status,
                    report,
                    pictures,
                };
                call(&mut w, &mut fx, waiting, list);
            }
        }
        (
            Some(Waiting::Assets {
                status,
                report,
                mut pictures,
            }),
            Event::Answer(Answer::Assets(assets)),
        ) => {
            pictures.attached = assets
                .into_iter()
                .filter(|(name, _)| pictures.shots.iter().any(|s| &s.file == name))
                .collect();
            next_picture(&mut w, &mut fx, status, report, pictures, ctx);
        }
        (
            Some(Waiting::Upload {
                status,
                report,
                mut pictures,
                file,
            }),
            Event::Answer(Answer::Uploaded { url }),
        ) => {
            settled(&mut w, &mut fx);
            pictures.attached.push((file, url));
            next_picture(&mut w, &mut fx, status, report, pictures, ctx);
        }
        // A refused upload (too large, a type Gitea does not take, no such
        // file) is left out; a failure that may pass is retried next tick.
        (
            Some(Waiting::Upload {
                status,
                report,
                mut pictures,
                file,
            }),
            Event::Failed(f),
        ) if !transient(&f) => {
            settled(&mut w, &mut fx);
            fx.push(Effect::Tell(Note::ScreenshotLeftOut {
                build: number,
                file: file.clone(),
                message: f.message,
            }));
            pictures.skipped.push(file);
            next_picture(&mut w, &mut fx, status, report, pictures, ctx);
        }
        // Answered: Gitea is done with it (and stored nothing); the next
        // tick need not wait for it to settle.
        (Some(Waiting::Upload { .. }), Event::Failed(f)) if !f.lost => {
            settled(&mut w, &mut fx);
            failed(&mut fx, number, f);
        }
        // Attachments cannot be listed for good: no screenshots, the rest
        // of the report goes on.
        (Some(Waiting::Assets { status, report, .. }), Event::Failed(f)) if !transient(&f) => {
            fx.push(Effect::Tell(Note::ScreenshotLeftOut {
                build: number,
                file: "*".to_owned(),
                message: f.message,
            }));
            final_status(&mut w, &mut fx, status, report);
        }
        (Some(Waiting::Show { status, report }), Event::Answer(Answer::Done)) => {
            final_status(&mut w, &mut fx, status, report);
        }
        (Some(Waiting::Show { status, report }), Event::Failed(f)) if !transient(&f) => {
            final_status(&mut w, &mut fx, status, report);
        }
        // Someone deleted the report comment: the status still tells.
        (Some(Waiting::Edit { status, report, .. }), Event::Failed(f))
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

/// Whether an upload was sent less than the settle time ago.
fn upload_unsettled(f: &Follow, ctx: &Ctx<'_>) -> bool {
    f.upload_sent_at_ms != 0 && ctx.now_ms < f.upload_sent_at_ms + ctx.retry.settle_ms as i64
}

/// The upload was answered: Gitea is done with it, nothing is in flight.
fn settled(w: &mut FollowWork, fx: &mut Fx) {
    w.follow.upload_sent_at_ms = 0;
    fx.push(Effect::Follow(w.follow.clone()));
}

/// A failure that may pass by itself (no answer, a server error, refused
/// credentials): the stage is tried again on the next tick.
fn transient(f: &Failure) -> bool {
    f.lost || f.auth || f.class == ErrorClass::Retryable
}

/// Upload the next screenshot the comment lacks; when none is left, show
/// the attached ones in the report (or go on to the status if none is).
fn next_picture(
    w: &mut FollowWork,
    fx: &mut Fx,
    status: String,
    report: FinalReport,
    pictures: Pictures,
    ctx: &Ctx<'_>,
) {
    let missing = pictures.shots.iter().find(|s| {
        !pictures.attached.iter().any(|(f, _)| f == &s.file) && !pictures.skipped.contains(&s.file)
    });
    if let Some(shot) = missing {
        let upload = Call::UploadAsset {
            repo: w.follow.comment.repo.clone(),
            comment: w.follow.report_comment,
            build: w.follow.build.number,
            file: shot.file.clone(),
        };
        let file = shot.file.clone();
        // Not idempotent: marked on disk before it is sent.
        w.follow.upload_sent_at_ms = ctx.now_ms;
        fx.push(Effect::Follow(w.follow.clone()));
        fx.push(Effect::Save);
        let waiting = Waiting::Upload {
            status,
            report,
            pictures,
            file,
        };
        return call(w, fx, waiting, upload);
    }
    let shown: Vec<(Shot, String)> = pictures
        .shots
        .iter()
        .filter_map(|s| {
            let (_, url) = pictures.attached.iter().find(|(f, _)| f == &s.file)?;
            Some((s.clone(), url.clone()))
        })
        .collect();
    if shown.is_empty() {
        return final_status(w, fx, status, report);
    }
    let edit = Call::Edit {
        repo: w.follow.comment.repo.clone(),
        comment: w.follow.report_comment,
        body: report::with_screenshots(&report.body, &shown),
    };
    call(w, fx, Waiting::Show { status, report }, edit);
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
