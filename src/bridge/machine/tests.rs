//! The machine without a network or a clock: a small harness applies the
//! ledger effects the way the executor does, keeps the last *saved* ledger
//! (what survives a kill), and checks on every call that a non-idempotent
//! one is announced on disk first. A crash is a new `JobWork` made from the
//! saved ledger.

use std::collections::BTreeMap;

use super::*;
use crate::bridge::core::Rules;
use crate::bridge::ledger::{BuildRef, CommentRef, Stage};
use crate::bridge::report;
use crate::forge::gitea::StatusState;
use crate::results::{ResultsV1, RungResult, Status};

const SHA: &str = "9fc1ad6ebf12462f3f9773003e26b4c6f54a772e";
const DRONE: &str = "https://drone.example.org";
const T0: i64 = 1_750_000_000_000;

fn rules() -> Rules {
    let mut repos = BTreeMap::new();
    repos.insert(
        "acme/widget".parse().expect("slug"),
        "custom-html".parse().expect("recipe"),
    );
    Rules {
        org: "acme".into(),
        bot_user: "ccci-bot".into(),
        trigger: "!testme".into(),
        repos,
        allowlist: vec![],
        max_comment_age_secs: 86_400,
        max_trigger_attempts: 3,
    }
}

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
        stage,
        reacted: false,
        attempts: 0,
        not_before_ms: 0,
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
        for (i, e) in effects.into_iter().enumerate() {
            match e {
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
                    self.ledger.refusals_replied.insert(k);
                }
                Effect::Tell(note) => self.notes.push(note),
                Effect::Call(c) => {
                    assert_eq!(i + 1, n, "a call is the last effect");
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

    fn outcome(&self, id: u64) -> Option<&Outcome> {
        self.ledger.handled.get(&id).map(|h| &h.outcome)
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

// ---- received → triggered → acknowledged -------------------------------

#[test]
fn a_member_command_goes_from_received_to_followed() {
    let mut h = Harness::new().with_job(job(7, Stage::Received));
    let mut w = h.job_work(7);
    let mut answers = facts_ok();
    answers.push(ok(Answer::Done)); // react
    let open = h.run(&mut w, answers);
    assert_eq!(
        open,
        Some(Call::CreateBuild {
            query: build_query(&params())
        })
    );
    assert_eq!(
        h.calls[..4]
            .iter()
            .map(|c| std::mem::discriminant(c))
            .collect::<Vec<_>>(),
        [
            Call::Reactions {
                repo: comment(7).repo,
                comment: 7
            },
            Call::Membership {
                org: "acme".into(),
                user: "alice".into()
            },
            Call::Pull {
                repo: comment(7).repo,
                pr: 42
            },
            Call::Timeline {
                repo: comment(7).repo,
                pr: 42,
                since: comment(7).created_at
            },
        ]
        .iter()
        .map(std::mem::discriminant)
        .collect::<Vec<_>>()
    );
    let status = h.step(&mut w, ok(Answer::Created(Some(57))));
    let Some(Call::SetStatus { sha, status, .. }) = status else {
        panic!("{status:?}")
    };
    assert_eq!(sha, SHA);
    assert_eq!(status.state, StatusState::Pending);
    assert_eq!(status.description, "build #57 running");
    assert_eq!(status.target_url, format!("{DRONE}/acme/ci/57"));
    assert_eq!(status.context, "ccci/custom-html");
    assert!(matches!(
        h.saved.jobs[&7].stage,
        Stage::Acking { posting: false, .. }
    ));
    let post = h.step(&mut w, ok(Answer::Done));
    let Some(Call::Post { body, .. }) = post else {
        panic!("{post:?}")
    };
    assert_eq!(body, report::started(&params(), &build(57)));
    assert_eq!(h.step(&mut w, ok(Answer::Posted(900))), None);
    assert_eq!(h.outcome(7), Some(&Outcome::Triggered { build: 57 }));
    assert_eq!(h.saved.following[&57], follow(57, 7, 900));
    assert!(h.saved.jobs.is_empty());
    assert!(h.notes.iter().any(|n| matches!(
        n,
        Note::BuildCreated {
            build: 57,
            adopted: false,
            ..
        }
    )));
}

#[test]
fn a_comment_already_carrying_the_bots_reaction_finishes_untouched() {
    let mut h = Harness::new().with_job(job(7, Stage::Received));
    let mut w = h.job_work(7);
    let bot = ok(Answer::Reactions(vec![("CCCI-Bot".into(), "eyes".into())]));
    assert_eq!(h.run(&mut w, vec![bot]), None);
    assert_eq!(h.outcome(7), Some(&Outcome::AlreadyMarked));
    assert_eq!(h.calls.len(), 1, "no reaction, no reply");
}

#[test]
fn a_non_member_gets_one_reply_and_the_refusal_is_remembered() {
    let mut h = Harness::new().with_job(job(7, Stage::Received));
    let mut w = h.job_work(7);
    let open = h.run(
        &mut w,
        vec![
            ok(Answer::Reactions(vec![])),
            ok(Answer::Membership(Membership::NotMember)),
            ok(Answer::Done),
        ],
    );
    let Some(Call::Post { body, .. }) = open else {
        panic!("{open:?}")
    };
    assert!(body.contains("alice is not a member of the acme organisation"));
    assert!(body.contains(&report::reply_marker(7)));
    assert_eq!(h.step(&mut w, ok(Answer::Posted(901))), None);
    assert_eq!(h.outcome(7), Some(&Outcome::Refused));
    assert!(h.saved.refusals_replied.contains("acme/widget#42@alice"));
    assert!(h.notes.contains(&Note::Refused));
    // The same user again on the same PR: reacted, not replied to.
    let mut h = h.with_job(job(8, Stage::Received));
    let mut w = h.job_work(8);
    let open = h.run(
        &mut w,
        vec![
            ok(Answer::Reactions(vec![])),
            ok(Answer::Membership(Membership::NotMember)),
            ok(Answer::Done),
        ],
    );
    assert_eq!(open, None);
    assert_eq!(h.outcome(8), Some(&Outcome::Refused));
}

#[test]
fn a_closed_pr_is_marked_and_finished() {
    let mut h = Harness::new().with_job(job(7, Stage::Received));
    let mut w = h.job_work(7);
    let closed = ok(Answer::Pull {
        state: "closed".into(),
        merged: false,
        head_sha: SHA.into(),
        head_repo: None,
    });
    let open = h.run(
        &mut w,
        vec![
            ok(Answer::Reactions(vec![])),
            ok(Answer::Membership(Membership::Member)),
            closed,
            ok(Answer::Done),
        ],
    );
    assert_eq!(open, None);
    assert_eq!(h.outcome(7), Some(&Outcome::PrClosed));
}

#[test]
fn a_push_after_the_comment_is_replied_to_not_built() {
    let mut h = Harness::new().with_job(job(7, Stage::Received));
    let mut w = h.job_work(7);
    let after = comment(7).created_at + 1;
    let mut answers = facts_ok();
    answers[3] = ok(Answer::Timeline(vec![
        ("comment".into(), Some(after)),
        ("pull_push".into(), Some(after)),
    ]));
    answers.push(ok(Answer::Done));
    let open = h.run(&mut w, answers);
    assert!(matches!(open, Some(Call::Post { .. })), "{open:?}");
    h.step(&mut w, ok(Answer::Posted(1)));
    assert_eq!(h.outcome(7), Some(&Outcome::PushedAfter));
    assert!(
        !h.calls
            .iter()
            .any(|c| matches!(c, Call::CreateBuild { .. }))
    );
}

#[test]
fn a_transient_error_postpones_with_backoff_and_forgets_the_facts() {
    let mut h = Harness::new().with_job(job(7, Stage::Received));
    let mut w = h.job_work(7);
    let open = h.run(
        &mut w,
        vec![ok(Answer::Reactions(vec![])), fail(ErrorClass::Retryable)],
    );
    assert_eq!(open, None);
    let saved = &h.saved.jobs[&7];
    assert_eq!(saved.attempts, 1);
    assert_eq!(saved.not_before_ms, T0 + 100);
    // Not due yet: woken, it does nothing.
    assert_eq!(h.step(&mut w, Event::Wake), None);
    h.now_ms = T0 + 100;
    let again = h.step(&mut w, Event::Wake);
    assert!(matches!(again, Some(Call::Reactions { .. })), "{again:?}");
    // A second failure doubles the delay.
    h.step(&mut w, fail(ErrorClass::Retryable));
    assert_eq!(h.saved.jobs[&7].not_before_ms, T0 + 100 + 200);
}

#[test]
fn a_configuration_error_waits_long_and_a_missing_object_ends_the_job() {
    let mut h = Harness::new().with_job(job(7, Stage::Received));
    let mut w = h.job_work(7);
    h.run(&mut w, vec![fail(ErrorClass::Fatal)]);
    assert_eq!(h.saved.jobs[&7].not_before_ms, T0 + 5000);
    h.now_ms += 5000;
    h.run(&mut w, vec![fail(ErrorClass::Skip)]);
    assert_eq!(h.outcome(7), Some(&Outcome::Gone));
    assert!(h.saved.jobs.is_empty());
}

// ---- superseded ---------------------------------------------------------

#[test]
fn a_second_command_cancels_marks_and_edits_the_running_build_then_triggers() {
    let mut h = Harness::new()
        .with_follow(follow(57, 1, 900))
        .with_job(job(7, Stage::Received));
    let mut w = h.job_work(7);
    let mut answers = facts_ok();
    answers.push(ok(Answer::Done)); // react
    let cancel = h.run(&mut w, answers);
    assert_eq!(cancel, Some(Call::CancelBuild { number: 57 }));
    let status = h.step(&mut w, ok(Answer::Done));
    let Some(Call::SetStatus { status, .. }) = status else {
        panic!("{status:?}")
    };
    assert_eq!(status.state, StatusState::Error);
    assert_eq!(status.description, "superseded by a newer !testme");
    assert_eq!(status.target_url, build(57).link);
    let edit = h.step(&mut w, ok(Answer::Done));
    assert_eq!(
        edit,
        Some(Call::Edit {
            repo: comment(1).repo,
            comment: 900,
            body: report::superseded(&params(), &build(57)),
        })
    );
    let create = h.step(&mut w, ok(Answer::Done));
    assert!(is_create(&create));
    assert!(!h.saved.following.contains_key(&57), "unfollowed and saved");
}

#[test]
fn a_superseded_build_or_report_already_gone_does_not_stop_the_new_one() {
    let mut h = Harness::new()
        .with_follow(follow(57, 1, 900))
        .with_job(job(7, Stage::Received));
    let mut w = h.job_work(7);
    let mut answers = facts_ok();
    answers.extend([
        ok(Answer::Done),       // react
        fail(ErrorClass::Skip), // cancel: 404
        ok(Answer::Done),       // status
        fail(ErrorClass::Skip), // edit: 404
    ]);
    assert!(is_create(&h.run(&mut w, answers)));
}

#[test]
fn a_transient_error_while_superseding_starts_the_job_over() {
    let mut h = Harness::new()
        .with_follow(follow(57, 1, 900))
        .with_job(job(7, Stage::Received));
    let mut w = h.job_work(7);
    let mut answers = facts_ok();
    answers.extend([ok(Answer::Done), fail(ErrorClass::Retryable)]);
    assert_eq!(h.run(&mut w, answers), None);
    assert_eq!(h.saved.jobs[&7].stage, Stage::Received);
    assert!(h.saved.jobs[&7].reacted);
    assert!(h.saved.following.contains_key(&57), "still followed");
}

// ---- triggering: failures -------------------------------------------------

fn triggering(sent: bool) -> Stage {
    Stage::Triggering {
        params: params(),
        intent_at: T0 / 1000,
        sent,
    }
}

#[test]
fn drone_down_is_retried_then_reported_with_an_error_status_and_a_reply() {
    let mut h = Harness::new().with_job(job(7, triggering(false)));
    let mut w = h.job_work(7);
    assert!(is_create(&h.step(&mut w, Event::Wake)));
    assert_eq!(h.step(&mut w, fail(ErrorClass::Retryable)), None);
    h.now_ms += 10_000;
    // The create may have reached Drone: look before creating again.
    assert_eq!(h.step(&mut w, Event::Wake), Some(Call::RecentBuilds));
    assert_eq!(h.step(&mut w, fail(ErrorClass::Retryable)), None);
    h.now_ms += 10_000;
    assert_eq!(h.step(&mut w, Event::Wake), Some(Call::RecentBuilds));
    let status = h.step(&mut w, fail(ErrorClass::Retryable));
    let Some(Call::SetStatus { status, .. }) = status else {
        panic!("{status:?}")
    };
    assert_eq!(status.state, StatusState::Error);
    assert_eq!(
        status.description,
        "CI infrastructure error: Drone unreachable"
    );
    assert_eq!(status.target_url, DRONE);
    let reply = h.step(&mut w, ok(Answer::Done));
    let Some(Call::Post { body, .. }) = reply else {
        panic!("{reply:?}")
    };
    assert!(body.contains("could not be reached after 3 attempts"));
    h.step(&mut w, ok(Answer::Posted(5)));
    assert_eq!(h.outcome(7), Some(&Outcome::DroneFailed));
    assert_eq!(
        h.calls
            .iter()
            .filter(|c| matches!(c, Call::CreateBuild { .. } | Call::RecentBuilds))
            .count(),
        3,
        "three attempts"
    );
}

#[test]
fn a_ci_repository_drone_does_not_know_is_a_configuration_error_not_gone() {
    let mut h = Harness::new().with_job(job(7, triggering(false)));
    let mut w = h.job_work(7);
    h.run(&mut w, vec![fail(ErrorClass::Skip)]);
    assert!(h.outcome(7).is_none());
    assert_eq!(h.saved.jobs[&7].not_before_ms, T0 + 5000);
}

#[test]
fn drone_200_null_is_an_error_status_and_a_reply() {
    let mut h = Harness::new().with_job(job(7, triggering(false)));
    let mut w = h.job_work(7);
    let status = h.run(&mut w, vec![ok(Answer::Created(None))]);
    let Some(Call::SetStatus { status, .. }) = status else {
        panic!("{status:?}")
    };
    assert_eq!(
        status.description,
        "CI configuration error: no build was created"
    );
    let reply = h.step(&mut w, ok(Answer::Done));
    assert!(matches!(reply, Some(Call::Post { body, .. }) if body.contains("created no build")));
    h.step(&mut w, ok(Answer::Posted(5)));
    assert_eq!(h.outcome(7), Some(&Outcome::NoPipeline));
}

// ---- crash windows ----------------------------------------------------------

#[test]
fn killed_after_marking_the_create_but_before_it_the_next_life_looks_then_creates() {
    let mut h = Harness::new().with_job(job(7, triggering(false)));
    let mut w = h.job_work(7);
    assert!(is_create(&h.step(&mut w, Event::Wake)));
    h.crash(); // the call never left
    let mut w = h.job_work(7);
    assert_eq!(h.step(&mut w, Event::Wake), Some(Call::RecentBuilds));
    let other = BTreeMap::from([("RECIPE".to_owned(), "other".to_owned())]);
    assert!(is_create(
        &h.step(&mut w, ok(Answer::Builds(vec![(3, other)])))
    ));
}

#[test]
fn killed_after_the_create_reached_drone_the_next_life_adopts_the_build() {
    let mut h = Harness::new().with_job(job(7, triggering(false)));
    let mut w = h.job_work(7);
    assert!(is_create(&h.step(&mut w, Event::Wake)));
    h.crash(); // the build was made; its answer is lost
    let mut w = h.job_work(7);
    h.step(&mut w, Event::Wake);
    let next = h.step(
        &mut w,
        ok(Answer::Builds(vec![(58, build_query(&params()))])),
    );
    assert!(matches!(next, Some(Call::SetStatus { .. })), "{next:?}");
    assert!(matches!(
        &h.saved.jobs[&7].stage,
        Stage::Acking { build, .. } if build.number == 58
    ));
    assert_eq!(
        h.calls
            .iter()
            .filter(|c| matches!(c, Call::CreateBuild { .. }))
            .count(),
        1
    );
    assert!(h.notes.iter().any(|n| matches!(
        n,
        Note::BuildCreated {
            build: 58,
            adopted: true,
            ..
        }
    )));
}

#[test]
fn killed_after_the_answer_but_before_saving_it_the_build_is_adopted_too() {
    let mut h = Harness::new().with_job(job(7, triggering(false)));
    let mut w = h.job_work(7);
    h.step(&mut w, Event::Wake);
    // The answer arrived; the kill lands before the Acking stage was saved.
    let saved = h.saved.clone();
    h.step(&mut w, ok(Answer::Created(Some(58))));
    h.saved = saved;
    h.crash();
    let mut w = h.job_work(7);
    h.step(&mut w, Event::Wake);
    let next = h.step(
        &mut w,
        ok(Answer::Builds(vec![(58, build_query(&params()))])),
    );
    assert!(matches!(next, Some(Call::SetStatus { .. })), "{next:?}");
}

#[test]
fn a_build_the_ledger_already_accounts_for_is_never_adopted() {
    let mut h = Harness::new()
        .with_follow(follow(58, 1, 900))
        .with_job(job(7, triggering(true)));
    let mut w = h.job_work(7);
    h.step(&mut w, Event::Wake);
    let next = h.step(
        &mut w,
        ok(Answer::Builds(vec![(58, build_query(&params()))])),
    );
    assert!(is_create(&next), "{next:?}");
}

fn acking(posting: bool) -> Stage {
    Stage::Acking {
        params: params(),
        build: build(57),
        posting,
        intent_at: T0 / 1000,
    }
}

#[test]
fn killed_before_the_started_comment_went_out_it_is_posted_once() {
    let mut h = Harness::new().with_job(job(7, acking(false)));
    let mut w = h.job_work(7);
    let post = h.run(&mut w, vec![ok(Answer::Done)]);
    assert!(matches!(post, Some(Call::Post { .. })));
    h.crash();
    let mut w = h.job_work(7);
    let evidence = h.run(&mut w, vec![ok(Answer::Done)]);
    assert_eq!(
        evidence,
        Some(Call::Comments {
            repo: comment(7).repo,
            pr: 42,
            since: T0 / 1000 - 120,
        })
    );
    // Someone quoting the marker is not the bot.
    let quoted = SeenPost {
        id: 5,
        login: "mallory".into(),
        body: report::build_marker(57),
    };
    let post = h.step(&mut w, ok(Answer::Comments(vec![quoted])));
    assert!(matches!(post, Some(Call::Post { .. })));
    h.step(&mut w, ok(Answer::Posted(901)));
    assert_eq!(h.saved.following[&57].report_comment, 901);
}

#[test]
fn killed_after_the_started_comment_went_out_it_is_found_by_its_marker() {
    let mut h = Harness::new().with_job(job(7, acking(true)));
    let mut w = h.job_work(7);
    let mine = SeenPost {
        id: 900,
        login: "ccci-bot".into(),
        body: report::started(&params(), &build(57)),
    };
    let open = h.run(
        &mut w,
        vec![ok(Answer::Done), ok(Answer::Comments(vec![mine]))],
    );
    assert_eq!(open, None);
    assert!(!h.calls.iter().any(|c| matches!(c, Call::Post { .. })));
    assert_eq!(h.saved.following[&57].report_comment, 900);
    assert_eq!(h.outcome(7), Some(&Outcome::Triggered { build: 57 }));
}

fn replying(posting: bool) -> Stage {
    Stage::Replying {
        text: "no".into(),
        outcome: Outcome::Refused,
        posting,
    }
}

#[test]
fn killed_around_a_reply_it_goes_out_exactly_once() {
    // Posted before the kill: found, not posted again.
    let mut h = Harness::new().with_job(job(7, replying(true)));
    let mut w = h.job_work(7);
    assert!(matches!(
        h.step(&mut w, Event::Wake),
        Some(Call::Comments { since, .. }) if since == comment(7).created_at - 120
    ));
    let mine = SeenPost {
        id: 3,
        login: "ccci-bot".into(),
        body: report::reply_body("no", 7),
    };
    assert_eq!(h.step(&mut w, ok(Answer::Comments(vec![mine]))), None);
    assert_eq!(h.outcome(7), Some(&Outcome::Refused));
    assert!(h.saved.refusals_replied.contains("acme/widget#42@alice"));
    // Not posted before the kill: posted now.
    let mut h = Harness::new().with_job(job(7, replying(true)));
    let mut w = h.job_work(7);
    let post = h.run(&mut w, vec![ok(Answer::Comments(vec![]))]);
    assert_eq!(
        post,
        Some(Call::Post {
            repo: comment(7).repo,
            pr: 42,
            body: report::reply_body("no", 7),
        })
    );
}

#[test]
fn killed_after_marking_the_reaction_the_next_life_does_not_take_it_for_an_old_one() {
    let mut h = Harness::new().with_job(job(7, Stage::Received));
    let mut w = h.job_work(7);
    let mut answers = facts_ok();
    answers.truncate(4);
    assert!(matches!(h.run(&mut w, answers), Some(Call::React { .. })));
    h.crash(); // the reaction may or may not be on the comment
    assert!(h.saved.jobs[&7].reacted);
    let mut w = h.job_work(7);
    let mut answers = facts_ok();
    answers[0] = ok(Answer::Reactions(vec![("ccci-bot".into(), "eyes".into())]));
    answers.push(ok(Answer::Done));
    assert!(is_create(&h.run(&mut w, answers)));
}

#[test]
fn a_call_whose_mark_could_not_be_saved_is_not_made_and_the_job_waits() {
    let mut h = Harness::new().with_job(job(7, triggering(false)));
    let mut w = h.job_work(7);
    assert!(is_create(&h.step(&mut w, Event::Wake)));
    // The executor could not save: it feeds that back instead of calling.
    assert_eq!(h.step(&mut w, Event::NotSaved("disk full".into())), None);
    let j = &h.ledger.jobs[&7];
    assert_eq!(j.attempts, 1);
    assert_eq!(j.not_before_ms, T0 + 100);
}

#[test]
fn stale_outcomes_and_early_wakes_do_nothing() {
    let mut h = Harness::new().with_job(job(7, Stage::Received));
    let mut w = h.job_work(7);
    assert_eq!(h.step(&mut w, ok(Answer::Done)), None);
    assert_eq!(h.step(&mut w, fail(ErrorClass::Skip)), None);
    assert!(h.outcome(7).is_none());
    assert!(matches!(
        h.step(&mut w, Event::Wake),
        Some(Call::Reactions { .. })
    ));
    // Woken again while waiting: no second call.
    assert_eq!(h.step(&mut w, Event::Wake), None);
}

// ---- following → reported -----------------------------------------------

fn results(git_ref: &str, green: bool) -> Box<ResultsV1> {
    let mut rungs = BTreeMap::new();
    rungs.insert(
        crate::registry::Rung::Install,
        RungResult {
            status: if green { Status::Pass } else { Status::Fail },
            reason: String::new(),
            duration_secs: 20.0,
        },
    );
    Box::new(ResultsV1 {
        schema: 1,
        recipe: "custom-html".parse().expect("recipe"),
        git_ref: git_ref.into(),
        src: "bob/widget".parse().expect("slug"),
        pr: Some(42),
        run_id: "x".into(),
        started_at: "2026-01-01T00:00:00Z".into(),
        duration_secs: 61.0,
        level: green.then_some(crate::registry::Rung::Install),
        green,
        rungs,
        lanes: BTreeMap::new(),
        checks: vec![],
        teardown: vec![],
    })
}

fn finished(status: &str) -> Event {
    ok(Answer::Build {
        status: status.into(),
        finished: true,
    })
}

#[test]
fn a_running_build_is_only_asked_about() {
    let mut h = Harness::new().with_follow(follow(57, 1, 900));
    let mut w = h.follow_work(57);
    let running = ok(Answer::Build {
        status: "running".into(),
        finished: false,
    });
    assert_eq!(h.run(&mut w, vec![running]), None);
    assert_eq!(h.calls, vec![Call::Build { number: 57 }]);
    assert!(h.saved.following.contains_key(&57));
}

#[test]
fn a_finished_build_is_reported_in_place_then_unfollowed() {
    let mut h = Harness::new().with_follow(follow(57, 1, 900));
    let mut w = h.follow_work(57);
    let edit = h.run(
        &mut w,
        vec![
            finished("success"),
            ok(Answer::Results {
                results: Ok(results(SHA, true)),
                summary: Some("all green".into()),
            }),
        ],
    );
    let Some(Call::Edit { comment, body, .. }) = edit else {
        panic!("{edit:?}")
    };
    assert_eq!(comment, 900);
    assert!(body.starts_with("✅ CI run for **custom-html**"));
    assert!(body.contains("all green"));
    let status = h.step(&mut w, ok(Answer::Done));
    let Some(Call::SetStatus { status, .. }) = status else {
        panic!("{status:?}")
    };
    assert_eq!(status.state, StatusState::Success);
    assert_eq!(status.description, "level: install");
    assert_eq!(h.step(&mut w, ok(Answer::Done)), None);
    assert!(!h.saved.following.contains_key(&57));
}

#[test]
fn a_vanished_build_or_missing_results_is_an_infrastructure_error() {
    let mut h = Harness::new().with_follow(follow(57, 1, 900));
    let mut w = h.follow_work(57);
    let edit = h.run(
        &mut w,
        vec![
            fail(ErrorClass::Skip),
            ok(Answer::Results {
                results: Err("no such file".into()),
                summary: None,
            }),
        ],
    );
    let Some(Call::Edit { body, .. }) = edit else {
        panic!("{edit:?}")
    };
    assert!(body.contains("infrastructure error"));
    assert!(body.contains("`vanished`"));
    let status = h.step(&mut w, ok(Answer::Done));
    assert!(
        matches!(status, Some(Call::SetStatus { status, .. }) if status.state == StatusState::Error)
    );
}

#[test]
fn results_for_another_commit_are_not_believed() {
    let f = follow(57, 1, 900);
    let other = Ok(results(&"1".repeat(40), true));
    let r = follow::final_report(&f, "success", &other, None);
    assert_eq!(r.state, StatusState::Error);
    assert!(r.body.contains("the results are for another commit"));
}

#[test]
fn a_deleted_report_comment_still_gets_the_final_status() {
    let mut h = Harness::new().with_follow(follow(57, 1, 900));
    let mut w = h.follow_work(57);
    let status = h.run(
        &mut w,
        vec![
            finished("failure"),
            ok(Answer::Results {
                results: Ok(results(SHA, false)),
                summary: None,
            }),
            fail(ErrorClass::Skip),
        ],
    );
    assert!(
        matches!(status, Some(Call::SetStatus { status, .. }) if status.state == StatusState::Failure)
    );
}

#[test]
fn a_failed_report_is_retried_from_the_start_on_the_next_tick() {
    let mut h = Harness::new().with_follow(follow(57, 1, 900));
    let mut w = h.follow_work(57);
    let open = h.run(
        &mut w,
        vec![
            finished("success"),
            ok(Answer::Results {
                results: Ok(results(SHA, true)),
                summary: None,
            }),
            ok(Answer::Done),
            fail(ErrorClass::Retryable),
        ],
    );
    assert_eq!(open, None);
    assert!(h.saved.following.contains_key(&57), "still followed");
    // A kill anywhere here only repeats idempotent calls.
    h.crash();
    let mut w = h.follow_work(57);
    assert_eq!(
        h.step(&mut w, Event::Wake),
        Some(Call::Build { number: 57 })
    );
}
