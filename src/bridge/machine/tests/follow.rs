//! Following → reported.

use super::*;

pub(super) fn results(git_ref: &str, green: bool) -> Box<ResultsV1> {
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
        floor: None,
        upgrade_base: None,
        data_survival: None,
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
            }),
        ],
    );
    let Some(Call::Edit { comment, body, .. }) = edit else {
        panic!("{edit:?}")
    };
    assert_eq!(comment, 900);
    assert!(body.starts_with("✅ CI run for **custom-html**"));
    assert_eq!(body.matches("| rung | result |").count(), 1, "{body}");
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
fn results_of_another_schema_are_reported_as_such_not_as_missing() {
    let f = follow(57, 1, 900);
    let why = Err("results.json has schema 2, the bridge reads schema 1".to_owned());
    let r = crate::bridge::machine::follow::final_report(&f, "success", &why);
    assert_eq!(r.state, StatusState::Error);
    assert!(r.body.contains("schema 2"), "{}", r.body);
    assert!(!r.body.contains("no results.json"), "{}", r.body);
}

#[test]
fn results_for_another_commit_are_not_believed() {
    let f = follow(57, 1, 900);
    let other = Ok(results(&"1".repeat(40), true));
    let r = crate::bridge::machine::follow::final_report(&f, "success", &other);
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
