//! A call whose answer was lost (client timeout, kill between send and
//! answer) may still be acted on by its server: the job waits until the call
//! has settled before it looks for evidence, so a late build or comment is
//! found, not duplicated. Evidence is matched by the job's identity.

use super::*;

fn lost() -> Event {
    Event::Failed(Failure::lost(ErrorClass::Retryable, "timed out"))
}

fn creates(h: &Harness) -> usize {
    h.calls
        .iter()
        .filter(|c| matches!(c, Call::CreateBuild { .. }))
        .count()
}

fn posts(h: &Harness) -> usize {
    h.calls
        .iter()
        .filter(|c| matches!(c, Call::Post { .. }))
        .count()
}

#[test]
fn a_create_that_timed_out_is_not_looked_for_before_it_settled() {
    let mut h = Harness::new().with_job(job(7, triggering(false)));
    let mut w = h.job_work(7);
    assert!(is_create(&h.step(&mut w, Event::Wake)));
    // Drone is still creating the build when the client gives up.
    assert_eq!(h.step(&mut w, lost()), None);
    // Every retry tick before the settle time does nothing remote.
    for _ in 0..10 {
        h.now_ms += 1000;
        assert_eq!(h.step(&mut w, Event::Wake), None);
    }
    assert_eq!(creates(&h), 1);
    assert_eq!(h.saved.jobs[&7].not_before_ms, T0 + SETTLE_MS);
    h.now_ms = T0 + SETTLE_MS;
    assert_eq!(
        h.step(&mut w, Event::Wake),
        Some(Call::RecentBuilds { page: 1 })
    );
    // By now the build the first call made is listed: adopted.
    let next = h.step(
        &mut w,
        ok(Answer::Builds(vec![(58, build_query(&params(), Some(7)))])),
    );
    // Adopted: its "started" comment is looked for before anything is set.
    assert!(matches!(next, Some(Call::Comments { .. })), "{next:?}");
    let next = h.step(&mut w, ok(Answer::Comments(vec![])));
    assert!(matches!(next, Some(Call::SetStatus { .. })), "{next:?}");
    assert_eq!(creates(&h), 1);
}

#[test]
fn killed_between_the_create_and_its_answer_the_next_life_waits_it_out() {
    let mut h = Harness::new().with_job(job(7, triggering(false)));
    let mut w = h.job_work(7);
    assert!(is_create(&h.step(&mut w, Event::Wake)));
    h.crash();
    h.now_ms += 2000; // restarted quickly
    let mut w = h.job_work(7);
    assert_eq!(h.step(&mut w, Event::Wake), None);
    assert!(
        h.notes
            .iter()
            .any(|n| matches!(n, Note::Settling { comment: 7, wait_ms } if *wait_ms == (SETTLE_MS - 2000) as u64))
    );
    // A kill during the wait changes nothing: the send time is on disk.
    h.crash();
    let mut w = h.job_work(7);
    assert_eq!(h.step(&mut w, Event::Wake), None);
    h.now_ms = T0 + SETTLE_MS;
    let mut w = h.job_work(7);
    assert_eq!(
        h.step(&mut w, Event::Wake),
        Some(Call::RecentBuilds { page: 1 })
    );
}

#[test]
fn a_create_drone_answered_with_an_error_is_looked_for_at_once() {
    let mut h = Harness::new().with_job(job(7, triggering(false)));
    let mut w = h.job_work(7);
    h.step(&mut w, Event::Wake);
    // A 500 is an answer: Drone is done with the call.
    h.step(&mut w, fail(ErrorClass::Retryable));
    h.now_ms += 100;
    assert_eq!(
        h.step(&mut w, Event::Wake),
        Some(Call::RecentBuilds { page: 1 })
    );
    assert!(is_create(&h.step(&mut w, ok(Answer::Builds(vec![])))));
}

#[test]
fn the_evidence_search_pages_back_past_builds_made_since() {
    let mut h = Harness::new().with_job(job(7, triggering(true)));
    let mut w = h.job_work(7);
    h.now_ms += SETTLE_MS;
    h.step(&mut w, Event::Wake);
    let others: Vec<_> = (200..300)
        .rev()
        .map(|n| (n, build_query(&params(), Some(n))))
        .collect();
    let next = h.step(&mut w, ok(Answer::Builds(others)));
    assert_eq!(next, Some(Call::RecentBuilds { page: 2 }));
    let next = h.step(
        &mut w,
        ok(Answer::Builds(vec![(58, build_query(&params(), Some(7)))])),
    );
    // Adopted: its "started" comment is looked for before anything is set.
    assert!(matches!(next, Some(Call::Comments { .. })), "{next:?}");
    let next = h.step(&mut w, ok(Answer::Comments(vec![])));
    assert!(matches!(next, Some(Call::SetStatus { .. })), "{next:?}");
    assert_eq!(creates(&h), 0);
}

#[test]
fn the_build_of_another_job_with_the_same_parameters_is_not_adopted() {
    let mut h = Harness::new().with_job(job(7, triggering(true)));
    let mut w = h.job_work(7);
    h.step(&mut w, Event::Wake);
    let next = h.step(
        &mut w,
        ok(Answer::Builds(vec![(58, build_query(&params(), Some(6)))])),
    );
    assert!(is_create(&next), "{next:?}");
}

#[test]
fn of_two_builds_a_lost_answer_left_the_oldest_is_adopted() {
    let mut h = Harness::new().with_job(job(7, triggering(true)));
    let mut w = h.job_work(7);
    h.step(&mut w, Event::Wake);
    let mine = build_query(&params(), Some(7));
    h.step(
        &mut w,
        ok(Answer::Builds(vec![(60, mine.clone()), (58, mine)])),
    );
    assert!(matches!(
        &h.saved.jobs[&7].stage,
        Stage::Acking { build, .. } if build.number == 58
    ));
}

#[test]
fn a_refusal_reply_that_timed_out_is_found_after_it_settled_not_posted_twice() {
    let mut h = Harness::new().with_job(job(7, crash_replying()));
    let mut w = h.job_work(7);
    assert!(matches!(
        h.step(&mut w, Event::Wake),
        Some(Call::Post { .. })
    ));
    assert_eq!(h.step(&mut w, lost()), None);
    h.now_ms += 1000;
    assert_eq!(h.step(&mut w, Event::Wake), None, "too early to look");
    h.now_ms = T0 + SETTLE_MS;
    let look = h.step(&mut w, Event::Wake);
    assert!(matches!(look, Some(Call::Comments { .. })), "{look:?}");
    let mine = SeenPost {
        id: 3,
        login: "ccci-bot".into(),
        body: report::reply_body("no", 7),
    };
    assert_eq!(h.step(&mut w, ok(Answer::Comments(vec![mine]))), None);
    assert_eq!(h.outcome(7), Some(&Outcome::Refused));
    assert_eq!(posts(&h), 1);
}

#[test]
fn a_started_comment_that_timed_out_is_found_after_it_settled_not_posted_twice() {
    let stage = Stage::Acking {
        params: params(),
        build: build(57),
        posting: false,
        intent_at: T0 / 1000,
    };
    let mut h = Harness::new().with_job(job(7, stage));
    let mut w = h.job_work(7);
    let post = h.run(&mut w, vec![ok(Answer::Done)]);
    assert!(matches!(post, Some(Call::Post { .. })));
    assert_eq!(h.step(&mut w, lost()), None);
    h.now_ms += 1000;
    assert_eq!(h.step(&mut w, Event::Wake), None, "too early to look");
    h.now_ms = T0 + SETTLE_MS;
    let look = h.run(&mut w, vec![ok(Answer::Done)]);
    assert!(matches!(look, Some(Call::Comments { .. })), "{look:?}");
    let mine = SeenPost {
        id: 901,
        login: "ccci-bot".into(),
        body: report::started(&params(), &build(57)),
    };
    h.step(&mut w, ok(Answer::Comments(vec![mine])));
    assert_eq!(h.saved.following[&57].report_comment, 901);
    assert_eq!(posts(&h), 1);
}

fn crash_replying() -> Stage {
    Stage::Replying {
        text: "no".into(),
        outcome: Outcome::Refused,
        posting: false,
    }
}
