//! The loop that drives the machine: wake a piece of work, apply the effects
//! of each step to the ledger in order (saving it when told), make the call
//! the step ends with, and feed its outcome back, until a step asks for no
//! call. Effects are applied as they come; this file decides nothing.

use crate::bridge::http::now_ms;
use crate::bridge::machine::{self, Call, Ctx, Effect, Event, Note, Retry, Work};
use crate::bridge::metrics::ApiHealth;
use crate::forge::ErrorClass;

use super::Bridge;

impl Bridge {
    fn retry(&self) -> Retry {
        let t = &self.settings.tuning;
        Retry {
            base_ms: t.retry_base.as_millis() as u64,
            cap_ms: t.retry_cap.as_millis() as u64,
            fatal_ms: t.fatal_retry.as_millis() as u64,
            settle_ms: t.settle.as_millis() as u64,
        }
    }

    /// Wake every job, newest comment first (jobs not yet due stay asleep).
    pub(super) async fn work_jobs(&mut self) {
        for work in machine::jobs(&self.ledger) {
            self.drive(work).await;
        }
    }

    /// Ask Drone about every followed build; report the finished ones.
    pub(super) async fn follow(&mut self) {
        for work in machine::follows(&self.ledger) {
            self.drive(work).await;
        }
    }

    /// Drone says this build finished: look at it now if it is followed (a
    /// build not followed yet, still being acknowledged, is reported by the
    /// follow tick after that).
    pub(super) async fn follow_build(&mut self, number: u64) {
        if let Some(f) = self.ledger.following.get(&number) {
            let work = Work::Follow(machine::FollowWork::new(f.clone()));
            self.drive(work).await;
        }
    }

    /// Take one piece of work as far as it goes now.
    async fn drive(&mut self, mut work: Work) {
        let mut event = Event::Wake;
        loop {
            let ctx = Ctx {
                rules: &self.settings.rules,
                ledger: &self.ledger,
                now_ms: now_ms(),
                drone_url: &self.settings.drone_url,
                ci_repo: &self.settings.ci_repo,
                retry: self.retry(),
            };
            let (next, effects) = machine::step(work, event, &ctx);
            work = next;
            if let Work::Job(j) = &work
                && !j.is_done()
            {
                self.ledger.jobs.insert(j.job().comment.id, j.job().clone());
            }
            match self.apply(effects) {
                Next::Stop => return,
                Next::Call(call) => {
                    let api = super::perform::api_of(&call);
                    event = self.perform(call).await;
                    if let Some(api) = api {
                        self.metrics.api_outcome(api, api_health(&event), now_ms());
                    }
                }
                Next::NotSaved(message) => event = Event::NotSaved(message),
            }
        }
    }

    /// Apply a step's effects in order; the call, if any, comes last.
    fn apply(&mut self, effects: Vec<Effect>) -> Next {
        let mut unsaved: Option<String> = None;
        for effect in effects {
            match effect {
                Effect::Save => {
                    if let Err(e) = self.save() {
                        tracing::error!(error = %e, "cannot save the ledger");
                        unsaved = Some(e.to_string());
                    }
                }
                Effect::Finish { comment, handled } => {
                    self.ledger.jobs.remove(&comment);
                    self.ledger.handled.insert(comment, handled);
                }
                Effect::Follow(f) => {
                    self.ledger.following.insert(f.build.number, f);
                }
                Effect::Unfollow(n) => {
                    self.ledger.following.remove(&n);
                }
                Effect::RememberRefusal(key) => {
                    self.ledger.remember_refusal(key, now_ms().div_euclid(1000));
                }
                Effect::Tell(note) => self.tell(note),
                // A call whose "may have happened" mark is not on disk is not made.
                Effect::Call(call) => {
                    return match unsaved {
                        Some(message) => Next::NotSaved(message),
                        None => Next::Call(call),
                    };
                }
            }
        }
        Next::Stop
    }

    fn tell(&self, note: Note) {
        match note {
            Note::Handled { comment, outcome } => {
                tracing::info!(comment, ?outcome, "comment handled");
            }
            Note::Refused => self.metrics.refusal(),
            Note::BuildCreated {
                comment,
                build,
                adopted,
                latency_ms,
            } => {
                if adopted {
                    tracing::info!(
                        comment,
                        build,
                        "adopting the build an earlier attempt created"
                    );
                }
                self.metrics.trigger(latency_ms);
                tracing::info!(comment, build, latency_ms, "build created");
            }
            Note::NoPipeline { comment } => {
                tracing::error!(comment, "Drone answered 200 null: no pipeline matched");
            }
            Note::DroneGaveUp {
                comment,
                attempts,
                message,
            } => {
                tracing::error!(comment, attempts, error = %message, "Drone unreachable, giving up");
            }
            Note::Skipped { comment, message } => {
                tracing::info!(comment, error = %message, "skipped");
            }
            Note::Retrying {
                comment,
                class: ErrorClass::Retryable,
                attempts,
                delay_ms,
                message,
            } => tracing::warn!(
                comment,
                attempts,
                retry_in_ms = delay_ms,
                error = %message,
                "transient error, will retry"
            ),
            Note::Retrying {
                comment, message, ..
            } => tracing::error!(
                comment,
                error = %message,
                "configuration error; the bridge keeps running and retries later"
            ),
            Note::Settling { comment, wait_ms } => tracing::info!(
                comment,
                wait_ms,
                "an earlier call's answer was lost; waiting until it settled before looking for it"
            ),
            Note::Superseded { build } => tracing::info!(build, "superseded build cancelled"),
            Note::ReportCommentGone { build, message } => {
                tracing::warn!(build, error = %message, "report comment gone");
            }
            Note::NoResults { build, message } => {
                tracing::warn!(build, error = %message, "no usable results");
            }
            Note::Reported {
                build,
                status,
                report,
            } => tracing::info!(build, status = %status, state = ?report.state, "build reported"),
            Note::ScreenshotLeftOut {
                build,
                file,
                message,
            } => {
                tracing::warn!(build, file = %file, error = %message, "screenshot left out of the report");
            }
            Note::FollowFailed { build, message } => {
                tracing::warn!(build, error = %message, "following the build failed; retrying");
            }
        }
    }
}

/// How an API answered, for `/metrics` and `/healthz`.
fn api_health(event: &Event) -> ApiHealth {
    match event {
        Event::Failed(f) if f.auth => ApiHealth::AuthRefused,
        Event::Failed(f) if f.lost => ApiHealth::Unreachable,
        // An error status is an answer: the API is up.
        _ => ApiHealth::Up,
    }
}

/// What the loop does after a step's effects.
enum Next {
    Stop,
    Call(Call),
    NotSaved(String),
}
