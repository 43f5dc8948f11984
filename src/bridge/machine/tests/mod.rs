//! The machine without a network or a clock: a small harness applies the
//! ledger effects the way the executor does, keeps the last *saved* ledger
//! (what survives a kill), and checks on every call that a non-idempotent
//! one is announced on disk first. A crash is a new `JobWork` made from the
//! saved ledger.

use std::collections::BTreeMap;

use super::*;
use crate::bridge::core::Rules;
use crate::bridge::fixtures::rules;
use crate::bridge::ledger::{BuildRef, CommentRef, Stage};
use crate::bridge::report;
use crate::forge::gitea::StatusState;
use crate::results::{ResultsV1, RungResult, Status};

const SHA: &str = "9fc1ad6ebf12462f3f9773003e26b4c6f54a772e";
const DRONE: &str = "https://drone.example.org";
const T0: i64 = 1_750_000_000_000;
/// How long a server may act on a call after its answer was lost.
const SETTLE_MS: i64 = 30_000;

fn comment(id: u64) -> CommentRef {
    CommentRef {
        id,
        repo: "acme/widget".parse().expect("slug"),
        pr: 42,
        user: "alice".into(),
        created_at: T0 / 1000 - 5,
    }
}

fn params() -> BuildParams {
    BuildParams {
        recipe: "custom-html".parse().expect("recipe"),
        git_ref: SHA.into(),
        src: "bob/widget".parse().expect("slug"),
        pr: 42,
    }
}

fn job(id: u64, stage: Stage) -> Job {
    Job {
        comment: comment(id),
        recipe: "custom-html".parse().expect("recipe"),
        request: Default::default(),
        stage,
        reacted: false,
        attempts: 0,
        not_before_ms: 0,
        sent_at_ms: 0,
    }
}

fn build(n: u64) -> BuildRef {
    BuildRef {
        number: n,
        link: format!("{DRONE}/acme/ci/{n}"),
    }
}

fn follow(n: u64, comment_id: u64, report_comment: u64) -> Follow {
    Follow {
        build: build(n),
        params: params(),
        comment: comment(comment_id),
        report_comment,
        upload_sent_at_ms: 0,
    }
}

fn pull_open() -> Answer {
    Answer::Pull {
        state: "open".into(),
        merged: false,
        head_sha: SHA.into(),
        head_repo: Some("bob/widget".into()),
    }
}

fn ok(a: Answer) -> Event {
    Event::Answer(a)
}

fn fail(class: ErrorClass) -> Event {
    Event::Failed(Failure::new(class, "boom"))
}

/// The executor, minus the I/O.
struct Harness {
    rules: Rules,
    ci: RepoSlug,
    ledger: Ledger,
    /// The ledger as last saved: what a kill leaves.
    saved: Ledger,
    now_ms: i64,
    calls: Vec<Call>,
    notes: Vec<Note>,
    /// Every save fails (the executor then makes no call and says so).
    disk_full: bool,
}

impl Harness {
    fn new() -> Self {
        Self {
            rules: rules(),
            ci: "acme/ci".parse().expect("slug"),
            ledger: Ledger::default(),
            saved: Ledger::default(),
            now_ms: T0,
            calls: Vec::new(),
            notes: Vec::new(),
            disk_full: false,
        }
    }

    /// A job the screen accepted (saved, as `see` does).
    fn with_job(mut self, j: Job) -> Self {
        self.ledger.jobs.insert(j.comment.id, j);
        self.saved = self.ledger.clone();
        self
    }

    fn with_follow(mut self, f: Follow) -> Self {
        self.ledger.following.insert(f.build.number, f);
        self.saved = self.ledger.clone();
        self
    }

    /// The bridge is killed: the next life starts from what was saved.
    fn crash(&mut self) {
        self.ledger = self.saved.clone();
    }

    fn job_work(&self, id: u64) -> Work {
        Work::Job(JobWork::new(self.ledger.jobs[&id].clone()))
    }

    fn follow_work(&self, n: u64) -> Work {
        Work::Follow(FollowWork::new(self.ledger.following[&n].clone()))
    }

    /// One step, its effects applied; returns the call it ends with.
    fn step(&mut self, work: &mut Work, event: Event) -> Option<Call> {
        let ctx = Ctx {
            rules: &self.rules,
            ledger: &self.ledger,
            now_ms: self.now_ms,
            drone_url: DRONE,
            ci_repo: &self.ci,
            retry: Retry {
                base_ms: 100,
                cap_ms: 1000,
                fatal_ms: 5000,
                settle_ms: SETTLE_MS as u64,
            },
        };
        let (next, effects) = step(work.clone(), event, &ctx);
        *work = next;
        if let Work::Job(j) = &*work
            && !j.is_done()
        {
            self.ledger.jobs.insert(j.job().comment.id, j.job().clone());
        }
        let n = effects.len();
        let mut unsaved = false;
        for (i, e) in effects.into_iter().enumerate() {
            match e {
                Effect::Save if self.disk_full => unsaved = true,
                Effect::Save => self.saved = self.ledger.clone(),
                Effect::Finish { comment, handled } => {
                    self.ledger.jobs.remove(&comment);
                    self.ledger.handled.insert(comment, handled);
                }
                Effect::Follow(f) => {
                    self.ledger.following.insert(f.build.number, f);
                }
                Effect::Unfollow(b) => {
                    self.ledger.following.remove(&b);
                }
                Effect::RememberRefusal(k) => {
                    self.ledger.remember_refusal(k, self.now_ms / 1000);
                }
                Effect::Tell(note) => self.notes.push(note),
                Effect::Call(c) => {
                    assert_eq!(i + 1, n, "a call is the last effect");
                    if unsaved {
                        // As the executor: the call is not made, the job hears why.
                        return self.step(work, Event::NotSaved("disk full".into()));
                    }
                    self.check_announced(work, &c);
                    self.calls.push(c.clone());
                    return Some(c);
                }
            }
        }
        None
    }

    /// A call that must not be repeated blindly is marked on disk first.
    fn check_announced(&self, work: &Work, c: &Call) {
        if let Call::UploadAsset { build, .. } = c {
            let saved = &self.saved.following[build];
            assert_ne!(saved.upload_sent_at_ms, 0, "upload without a saved mark");
        }
        let Work::Job(j) = work else { return };
        let saved = &self.saved.jobs[&j.job().comment.id];
        match c {
            Call::CreateBuild { .. } => assert!(
                matches!(saved.stage, Stage::Triggering { sent: true, .. }),
                "create without a saved mark: {saved:?}"
            ),
            Call::Post { .. } => assert!(
                matches!(
                    saved.stage,
                    Stage::Replying { posting: true, .. } | Stage::Acking { posting: true, .. }
                ),
                "post without a saved mark: {saved:?}"
            ),
            Call::React { .. } => assert!(saved.reacted, "react without a saved mark"),
            _ => {}
        }
    }

    /// Feed answers in order; each must be answered by a call. Returns the
    /// call left open after the last one (if any).
    fn run(&mut self, work: &mut Work, answers: Vec<Event>) -> Option<Call> {
        let mut pending = self.step(work, Event::Wake);
        for a in answers {
            assert!(pending.is_some(), "an answer with no call open: {a:?}");
            pending = self.step(work, a);
        }
        pending
    }

    /// Feed answers to the call already open.
    fn run_from(&mut self, work: &mut Work, answers: Vec<Event>) -> Option<Call> {
        let mut pending = None;
        for a in answers {
            pending = self.step(work, a);
        }
        pending
    }

    fn outcome(&self, id: u64) -> Option<&Outcome> {
        self.ledger.handled.get(&id).map(|h| &h.outcome)
    }
}

fn triggering(sent: bool) -> Stage {
    Stage::Triggering {
        params: params(),
        intent_at: T0 / 1000,
        sent,
    }
}

fn is_create(c: &Option<Call>) -> bool {
    matches!(c, Some(Call::CreateBuild { .. }))
}

/// Reactions, membership, pull and timeline answered for an allowed member.
fn facts_ok() -> Vec<Event> {
    vec![
        ok(Answer::Reactions(vec![])),
        ok(Answer::Membership(Membership::Member)),
        ok(pull_open()),
        ok(Answer::Timeline(vec![])),
    ]
}

mod crash;
mod follow;
mod pictures;
mod recover;
mod settle;
mod stages;
