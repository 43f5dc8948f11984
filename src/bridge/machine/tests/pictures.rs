//! Reported with screenshots: the landing page attached and shown inline,
//! a failed check's page attached and linked; each file attached once, even
//! when an upload's answer was lost; a refused upload never costs the report.

use super::*;
use crate::results::{CheckResult, Lane, LaneResult};

const URL1: &str = "https://git.example.org/attachments/1111";
const URL2: &str = "https://git.example.org/attachments/2222";

/// A red run with a landing screenshot and a failed check's screenshot.
fn results_with_shots(landing: &str, failed: &str) -> Box<ResultsV1> {
    let mut r = super::follow::results(SHA, false);
    r.lanes.insert(
        Lane::Fresh,
        LaneResult {
            status: Status::Fail,
            domain: "cust-1a2b3c.ci.example.org".into(),
            reason: String::new(),
            duration_secs: 20.0,
            screenshot: Some(landing.into()),
        },
    );
    r.checks.push(CheckResult {
        rung: crate::registry::Rung::Install,
        lane: Lane::Fresh,
        name: "admin login".into(),
        status: Status::Fail,
        detail: "expect_text: Welcome not found".into(),
        duration_secs: 2.0,
        screenshot: Some(failed.into()),
    });
    r
}

/// Up to the report's first edit answered: the next call is returned.
fn reported(h: &mut Harness, results: Box<ResultsV1>) -> (Work, Option<Call>) {
    *h = Harness::new().with_follow(follow(57, 1, 900));
    let mut w = h.follow_work(57);
    let answers = vec![
        ok(Answer::Build {
            status: "failure".into(),
            finished: true,
        }),
        ok(Answer::Results {
            results: Ok(results),
        }),
        ok(Answer::Done), // the report's text
    ];
    let next = h.run(&mut w, answers);
    (w, next)
}

fn upload(file: &str) -> Option<Call> {
    Some(Call::UploadAsset {
        repo: comment(1).repo,
        comment: 900,
        build: 57,
        file: file.into(),
    })
}

fn uploaded(url: &str) -> Event {
    ok(Answer::Uploaded { url: url.into() })
}

#[test]
fn screenshots_are_attached_then_shown_in_the_report_then_the_status_set() {
    let mut h = Harness::new();
    let (mut w, next) = reported(
        &mut h,
        results_with_shots("screenshot.png", "browser-1.png"),
    );
    assert_eq!(
        next,
        Some(Call::CommentAssets {
            repo: comment(1).repo,
            comment: 900
        }),
        "the text first, then the attachments are looked at"
    );
    assert_eq!(
        h.step(&mut w, ok(Answer::Assets(vec![]))),
        upload("screenshot.png")
    );
    assert_eq!(h.step(&mut w, uploaded(URL1)), upload("browser-1.png"));
    let edit = h.step(&mut w, uploaded(URL2));
    let Some(Call::Edit { comment, body, .. }) = edit else {
        panic!("{edit:?}")
    };
    assert_eq!(comment, 900);
    assert!(body.contains(&format!("![landing page]({URL1})")), "{body}");
    assert!(
        body.contains(&format!(
            "[screenshot where the check `admin login` failed]({URL2})"
        )),
        "{body}"
    );
    assert!(
        body.ends_with(&report::build_marker(57)),
        "the marker stays last"
    );
    let status = h.step(&mut w, ok(Answer::Done));
    assert!(matches!(status, Some(Call::SetStatus { .. })), "{status:?}");
    assert_eq!(h.step(&mut w, ok(Answer::Done)), None);
    assert!(!h.saved.following.contains_key(&57));
}

#[test]
fn a_screenshot_already_attached_is_not_uploaded_again() {
    let mut h = Harness::new();
    let (mut w, _) = reported(
        &mut h,
        results_with_shots("screenshot.png", "browser-1.png"),
    );
    let have = vec![
        ("screenshot.png".to_owned(), URL1.to_owned()),
        ("unrelated.txt".to_owned(), "https://x/y".to_owned()),
    ];
    assert_eq!(
        h.step(&mut w, ok(Answer::Assets(have))),
        upload("browser-1.png")
    );
    let edit = h.step(&mut w, uploaded(URL2));
    assert!(matches!(edit, Some(Call::Edit { .. })), "{edit:?}");
    let uploads = h
        .calls
        .iter()
        .filter(|c| matches!(c, Call::UploadAsset { .. }))
        .count();
    assert_eq!(uploads, 1);
}

#[test]
fn an_upload_whose_answer_was_lost_is_found_by_name_on_the_next_tick() {
    let mut h = Harness::new();
    let (mut w, _) = reported(
        &mut h,
        results_with_shots("screenshot.png", "browser-1.png"),
    );
    h.step(&mut w, ok(Answer::Assets(vec![])));
    // The answer never came; Gitea may have stored it all the same.
    let lost = Event::Failed(Failure::lost(ErrorClass::Retryable, "timed out"));
    assert_eq!(h.step(&mut w, lost), None);
    assert!(h.saved.following.contains_key(&57), "still followed");
    // Before the upload settled, a tick does nothing: Gitea may still be
    // storing it, so its absence from the list would prove nothing.
    h.now_ms += SETTLE_MS - 1;
    let mut w = h.follow_work(57);
    assert_eq!(h.step(&mut w, Event::Wake), None);
    // Settled: the report again, then the attachments as Gitea has them.
    h.now_ms += 1;
    let mut w = h.follow_work(57);
    let next = h.run(
        &mut w,
        vec![
            ok(Answer::Build {
                status: "failure".into(),
                finished: true,
            }),
            ok(Answer::Results {
                results: Ok(results_with_shots("screenshot.png", "browser-1.png")),
            }),
            ok(Answer::Done),
            ok(Answer::Assets(vec![("screenshot.png".into(), URL1.into())])),
        ],
    );
    assert_eq!(next, upload("browser-1.png"), "only the one not attached");
    let uploads: Vec<_> = h
        .calls
        .iter()
        .filter_map(|c| match c {
            Call::UploadAsset { file, .. } => Some(file.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(uploads, ["screenshot.png", "browser-1.png"]);
}

#[test]
fn a_crash_after_sending_an_upload_waits_for_it_to_settle_too() {
    let mut h = Harness::new();
    let (mut w, _) = reported(
        &mut h,
        results_with_shots("screenshot.png", "browser-1.png"),
    );
    assert_eq!(
        h.step(&mut w, ok(Answer::Assets(vec![]))),
        upload("screenshot.png")
    );
    h.crash();
    assert_ne!(
        h.ledger.following[&57].upload_sent_at_ms, 0,
        "the mark survived"
    );
    let mut w = h.follow_work(57);
    assert_eq!(h.step(&mut w, Event::Wake), None);
    h.now_ms += SETTLE_MS;
    let mut w = h.follow_work(57);
    assert_eq!(
        h.step(&mut w, Event::Wake),
        Some(Call::Build { number: 57 })
    );
}

#[test]
fn an_answered_upload_error_does_not_make_the_next_tick_wait() {
    let mut h = Harness::new();
    let (mut w, _) = reported(
        &mut h,
        results_with_shots("screenshot.png", "browser-1.png"),
    );
    h.step(&mut w, ok(Answer::Assets(vec![])));
    assert_eq!(h.step(&mut w, fail(ErrorClass::Retryable)), None);
    let mut w = h.follow_work(57);
    assert_eq!(
        h.step(&mut w, Event::Wake),
        Some(Call::Build { number: 57 })
    );
}

#[test]
fn a_refused_upload_is_left_out_and_the_report_goes_on() {
    let mut h = Harness::new();
    let (mut w, _) = reported(
        &mut h,
        results_with_shots("screenshot.png", "browser-1.png"),
    );
    h.step(&mut w, ok(Answer::Assets(vec![])));
    // Too large, or a type Gitea does not take: answered, not transient.
    let next = h.step(&mut w, fail(ErrorClass::Fatal));
    assert_eq!(next, upload("browser-1.png"));
    let edit = h.step(&mut w, uploaded(URL2));
    let Some(Call::Edit { body, .. }) = edit else {
        panic!("{edit:?}")
    };
    assert!(!body.contains("![landing page]"), "{body}");
    assert!(body.contains(URL2));
    assert!(h.notes.iter().any(|n| matches!(
        n,
        Note::ScreenshotLeftOut { file, .. } if file == "screenshot.png"
    )));
    assert!(matches!(
        h.step(&mut w, ok(Answer::Done)),
        Some(Call::SetStatus { .. })
    ));
}

#[test]
fn no_upload_succeeding_means_no_second_edit_and_the_status_still_comes() {
    let mut h = Harness::new();
    let (mut w, _) = reported(
        &mut h,
        results_with_shots("screenshot.png", "browser-1.png"),
    );
    h.step(&mut w, ok(Answer::Assets(vec![])));
    h.step(&mut w, fail(ErrorClass::Fatal));
    let next = h.step(&mut w, fail(ErrorClass::Skip));
    assert!(matches!(next, Some(Call::SetStatus { .. })), "{next:?}");
}

#[test]
fn names_that_are_not_screenshots_are_never_read_or_uploaded() {
    let mut h = Harness::new();
    let (_, next) = reported(
        &mut h,
        results_with_shots("../../ledger.json", "/etc/shadow"),
    );
    assert!(
        matches!(next, Some(Call::SetStatus { .. })),
        "no attachment step at all: {next:?}"
    );
}
