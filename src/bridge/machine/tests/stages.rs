//! Received → triggered → acknowledged, superseded, and the failures of triggering.

use super::*;

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
            query: build_query(&params(), Some(7))
        })
    );
    let c = comment(7);
    assert_eq!(
        h.calls[..4],
        [
            Call::Reactions {
                repo: c.repo.clone(),
                comment: 7
            },
            Call::Membership {
                org: "acme".into(),
                user: "alice".into()
            },
            Call::Pull {
                repo: c.repo.clone(),
                pr: 42
            },
            Call::Timeline {
                repo: c.repo.clone(),
                pr: 42,
                since: c.created_at
            },
        ]
    );
    assert_eq!(
        h.calls[4],
        Call::React {
            repo: c.repo,
            comment: 7,
            content: "eyes"
        }
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
        (8, "comment".into(), Some(after)),
        (9, "pull_push".into(), Some(after)),
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

/// What the core decides when the timeline holds these entries.
fn after_timeline(events: Vec<(u64, String, Option<i64>)>) -> Option<Outcome> {
    let mut h = Harness::new().with_job(job(7, Stage::Received));
    let mut w = h.job_work(7);
    let mut answers = facts_ok();
    answers[3] = ok(Answer::Timeline(events));
    answers.push(ok(Answer::Done)); // react
    match h.run(&mut w, answers) {
        Some(Call::Post { .. }) => {
            h.step(&mut w, ok(Answer::Posted(1)));
            h.outcome(7).cloned()
        }
        Some(Call::CreateBuild { .. }) => Some(Outcome::Triggered { build: 0 }),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_push_in_the_comments_second_is_ordered_by_id() {
    let same = comment(7).created_at;
    let push = |id| vec![(id, "pull_push".to_owned(), Some(same))];
    // Gitea numbers the push and the comment from one sequence.
    assert_eq!(after_timeline(push(8)), Some(Outcome::PushedAfter));
    assert_eq!(
        after_timeline(push(6)),
        Some(Outcome::Triggered { build: 0 })
    );
}

#[test]
fn a_push_that_cannot_be_ordered_is_taken_for_a_later_one() {
    let c = comment(7).created_at;
    let push = |at| vec![(0, "pull_push".to_owned(), at)];
    assert_eq!(after_timeline(push(Some(c))), Some(Outcome::PushedAfter));
    assert_eq!(after_timeline(push(None)), Some(Outcome::PushedAfter));
    assert_eq!(
        after_timeline(push(Some(c - 1))),
        Some(Outcome::Triggered { build: 0 })
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
fn a_configuration_error_backs_off_to_its_cap_and_a_missing_object_ends_the_job() {
    let mut h = Harness::new().with_job(job(7, Stage::Received));
    let mut w = h.job_work(7);
    // A 401 may be over in a moment (a token being rotated): the first retry
    // comes soon, later ones back off, never past the configuration cap.
    let mut waits = Vec::new();
    for _ in 0..8 {
        h.run(&mut w, vec![fail(ErrorClass::Fatal)]);
        let wait = h.saved.jobs[&7].not_before_ms - h.now_ms;
        waits.push(wait);
        h.now_ms += wait;
    }
    assert_eq!(waits[..3], [100, 200, 400]);
    assert_eq!(waits.iter().max(), Some(&5000));
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
    let look = h.run(&mut w, answers);
    assert_eq!(look, Some(Call::Build { number: 57 }), "looked at first");
    let cancel = h.step(&mut w, build_status("running", false));
    assert_eq!(cancel, Some(Call::CancelBuild { number: 57 }));
    let status = h.step(&mut w, build_status("killed", true));
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
            body: report::superseded(&params(), &build(57), "!testme"),
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
        ok(Answer::Done),               // react
        build_status("running", false), // look
        fail(ErrorClass::Skip),         // cancel: 404
        ok(Answer::Done),               // status
        fail(ErrorClass::Skip),         // edit: 404
    ]);
    assert!(is_create(&h.run(&mut w, answers)));
}

fn build_status(status: &str, finished: bool) -> Event {
    ok(Answer::Build {
        status: status.into(),
        finished,
    })
}

/// The superseded build finished before anyone looked: `status` as Drone
/// gives it; returns the job work and the call after the look.
fn supersede_finished(h: &mut Harness, status: &str) -> (Work, Option<Call>) {
    *h = Harness::new()
        .with_follow(follow(57, 1, 900))
        .with_job(job(7, Stage::Received));
    let mut w = h.job_work(7);
    let mut answers = facts_ok();
    answers.extend([ok(Answer::Done), build_status(status, true)]);
    let next = h.run(&mut w, answers);
    (w, next)
}

#[test]
fn a_superseded_build_that_already_finished_is_reported_never_cancelled() {
    let mut h = Harness::new();
    let (mut w, next) = supersede_finished(&mut h, "success");
    assert_eq!(next, Some(Call::ReadResults { number: 57 }));
    let results = Ok(super::follow::results(SHA, true));
    let edit = h.step(&mut w, ok(Answer::Results { results }));
    let Some(Call::Edit { comment, body, .. }) = edit else {
        panic!("{edit:?}")
    };
    assert_eq!(comment, 900);
    assert!(!body.contains("superseded"), "a real report: {body}");
    let status = h.step(&mut w, ok(Answer::Done));
    let Some(Call::SetStatus { status, .. }) = status else {
        panic!("{status:?}")
    };
    assert_eq!(status.state, StatusState::Success);
    let create = h.step(&mut w, ok(Answer::Done));
    assert!(is_create(&create), "then the new command goes on");
    assert!(
        !h.calls
            .iter()
            .any(|c| matches!(c, Call::CancelBuild { .. }))
    );
    assert!(
        !h.saved.following.contains_key(&57),
        "reported and unfollowed"
    );
    assert!(
        h.notes
            .iter()
            .any(|n| matches!(n, Note::Reported { build: 57, .. }))
    );
    assert!(!h.notes.iter().any(|n| matches!(n, Note::Superseded { .. })));
}

#[test]
fn a_build_that_finished_between_the_look_and_the_cancel_is_reported() {
    let mut h = Harness::new()
        .with_follow(follow(57, 1, 900))
        .with_job(job(7, Stage::Received));
    let mut w = h.job_work(7);
    let mut answers = facts_ok();
    answers.extend([ok(Answer::Done), build_status("running", false)]);
    assert_eq!(
        h.run(&mut w, answers),
        Some(Call::CancelBuild { number: 57 })
    );
    // Drone leaves a finished build as it was and answers with it.
    let next = h.step(&mut w, build_status("failure", true));
    assert_eq!(next, Some(Call::ReadResults { number: 57 }));
}

#[test]
fn a_failed_report_of_a_finished_superseded_build_starts_the_job_over() {
    let mut h = Harness::new();
    let (mut w, _) = supersede_finished(&mut h, "success");
    let results = Ok(super::follow::results(SHA, true));
    h.step(&mut w, ok(Answer::Results { results }));
    assert_eq!(h.step(&mut w, fail(ErrorClass::Retryable)), None);
    assert_eq!(h.saved.jobs[&7].stage, Stage::Received);
    assert!(h.saved.following.contains_key(&57), "still followed");
    // Woken again, it looks at the build again before anything else.
    h.now_ms += 60_000;
    let mut w = h.job_work(7);
    let mut answers = facts_ok();
    answers.push(ok(Answer::Done));
    assert_eq!(h.run(&mut w, answers), Some(Call::Build { number: 57 }));
}

#[test]
fn a_transient_error_while_superseding_starts_the_job_over() {
    let mut h = Harness::new()
        .with_follow(follow(57, 1, 900))
        .with_job(job(7, Stage::Received));
    let mut w = h.job_work(7);
    let mut answers = facts_ok();
    answers.extend([
        ok(Answer::Done),
        build_status("running", false),
        fail(ErrorClass::Retryable),
    ]);
    assert_eq!(h.run(&mut w, answers), None);
    assert_eq!(h.saved.jobs[&7].stage, Stage::Received);
    assert!(h.saved.jobs[&7].reacted);
    assert!(h.saved.following.contains_key(&57), "still followed");
}

// ---- triggering: failures -------------------------------------------------

#[test]
fn drone_down_is_retried_then_reported_with_an_error_status_and_a_reply() {
    let mut h = Harness::new().with_job(job(7, triggering(false)));
    let mut w = h.job_work(7);
    assert!(is_create(&h.step(&mut w, Event::Wake)));
    assert_eq!(h.step(&mut w, fail(ErrorClass::Retryable)), None);
    h.now_ms += 10_000;
    // The create may have reached Drone: look before creating again.
    assert_eq!(
        h.step(&mut w, Event::Wake),
        Some(Call::RecentBuilds { page: 1 })
    );
    assert_eq!(h.step(&mut w, fail(ErrorClass::Retryable)), None);
    h.now_ms += 10_000;
    assert_eq!(
        h.step(&mut w, Event::Wake),
        Some(Call::RecentBuilds { page: 1 })
    );
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
            .filter(|c| matches!(c, Call::CreateBuild { .. } | Call::RecentBuilds { .. }))
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
    assert_eq!(h.saved.jobs[&7].not_before_ms, T0 + 100);
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
