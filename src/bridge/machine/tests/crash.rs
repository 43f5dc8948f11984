//! Every crash window: killed after the "may have happened" mark was saved but
//! before the call, after the call but before its answer, after the answer but
//! before it was saved.

use super::*;

#[test]
fn killed_after_marking_the_create_but_before_it_the_next_life_looks_then_creates() {
    let mut h = Harness::new().with_job(job(7, triggering(false)));
    let mut w = h.job_work(7);
    assert!(is_create(&h.step(&mut w, Event::Wake)));
    h.crash();
    h.now_ms += SETTLE_MS; // what the first call may still do is done // the call never left
    let mut w = h.job_work(7);
    assert_eq!(
        h.step(&mut w, Event::Wake),
        Some(Call::RecentBuilds { page: 1 })
    );
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
    h.crash();
    h.now_ms += SETTLE_MS; // what the first call may still do is done // the build was made; its answer is lost
    let mut w = h.job_work(7);
    h.step(&mut w, Event::Wake);
    let next = h.step(
        &mut w,
        ok(Answer::Builds(vec![(58, build_query(&params(), Some(7)))])),
    );
    // Adopted: its "started" comment is looked for before anything is set.
    assert!(matches!(next, Some(Call::Comments { .. })), "{next:?}");
    let next = h.step(&mut w, ok(Answer::Comments(vec![])));
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
    h.now_ms += SETTLE_MS; // what the first call may still do is done
    let mut w = h.job_work(7);
    h.step(&mut w, Event::Wake);
    let next = h.step(
        &mut w,
        ok(Answer::Builds(vec![(58, build_query(&params(), Some(7)))])),
    );
    // Adopted: its "started" comment is looked for before anything is set.
    assert!(matches!(next, Some(Call::Comments { .. })), "{next:?}");
    let next = h.step(&mut w, ok(Answer::Comments(vec![])));
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
        ok(Answer::Builds(vec![(58, build_query(&params(), Some(7)))])),
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
    h.now_ms += SETTLE_MS; // what the first call may still do is done
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
fn a_create_mark_that_could_not_be_saved_is_saved_before_the_create_is_tried_again() {
    let mut h = Harness::new().with_job(job(7, triggering(false)));
    let mut w = h.job_work(7);
    h.disk_full = true;
    assert_eq!(h.step(&mut w, Event::Wake), None);
    assert!(h.calls.is_empty(), "no create without its mark on disk");
    h.disk_full = false;
    h.now_ms += 1000;
    // The mark is set in memory: evidence first, then the create, and the
    // harness checks the mark reached the disk before it.
    assert_eq!(
        h.step(&mut w, Event::Wake),
        Some(Call::RecentBuilds { page: 1 })
    );
    assert!(is_create(&h.step(&mut w, ok(Answer::Builds(vec![])))));
}

#[test]
fn a_reaction_mark_that_could_not_be_saved_is_saved_before_the_reaction_is_tried_again() {
    let mut h = Harness::new().with_job(job(7, Stage::Received));
    let mut w = h.job_work(7);
    h.disk_full = true;
    assert_eq!(h.run(&mut w, facts_ok()), None);
    assert!(!h.calls.iter().any(|c| matches!(c, Call::React { .. })));
    h.disk_full = false;
    h.now_ms += 1000;
    let react = h.run(&mut w, facts_ok());
    assert!(matches!(react, Some(Call::React { .. })), "{react:?}");
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
