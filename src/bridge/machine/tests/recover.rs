//! A comment carrying the bot's reaction that the ledger does not know (a
//! lost state directory): the job waits out what an earlier life may have
//! left in flight, then adopts the build made for it, or ends at its reply,
//! or, with neither, is decided afresh. Never finished in silence.

use super::*;

fn bot_reacted() -> Event {
    ok(Answer::Reactions(vec![("CCCI-Bot".into(), "eyes".into())]))
}

/// The job woken, found reacted, and settled: the first recovery call.
fn recovering(h: &mut Harness, w: &mut Work) -> Option<Call> {
    assert_eq!(h.run(w, vec![bot_reacted()]), None, "waits first");
    assert!(matches!(h.saved.jobs[&7].stage, Stage::Recovering));
    assert!(h.notes.iter().any(|n| matches!(n, Note::Settling { .. })));
    h.now_ms += SETTLE_MS;
    h.step(w, Event::Wake)
}

#[test]
fn the_build_an_earlier_life_made_is_adopted_with_its_started_comment() {
    let mut h = Harness::new().with_job(job(7, Stage::Received));
    let mut w = h.job_work(7);
    assert_eq!(
        recovering(&mut h, &mut w),
        Some(Call::RecentBuilds { page: 1 })
    );
    let other = build_query(&params(), Some(6));
    let mine = build_query(&params(), Some(7));
    // The started comment may exist: looked for before anything is set.
    let look = h.step(&mut w, ok(Answer::Builds(vec![(58, other), (57, mine)])));
    assert!(
        matches!(look, Some(Call::Comments { since, .. }) if since < comment(7).created_at),
        "{look:?}"
    );
    let started = SeenPost {
        id: 900,
        login: "ccci-bot".into(),
        body: report::started(&params(), &build(57)),
    };
    let status = h.step(&mut w, ok(Answer::Comments(vec![started])));
    assert!(matches!(status, Some(Call::SetStatus { .. })), "{status:?}");
    assert_eq!(h.step(&mut w, ok(Answer::Done)), None);
    assert_eq!(h.outcome(7), Some(&Outcome::Triggered { build: 57 }));
    assert_eq!(h.saved.following[&57].report_comment, 900);
    assert!(
        !h.calls
            .iter()
            .any(|c| matches!(c, Call::CreateBuild { .. } | Call::Post { .. }))
    );
}

#[test]
fn a_build_already_reported_is_not_followed_again_nor_marked_pending() {
    let mut h = Harness::new().with_job(job(7, Stage::Received));
    let mut w = h.job_work(7);
    recovering(&mut h, &mut w);
    let mine = build_query(&params(), Some(7));
    h.step(&mut w, ok(Answer::Builds(vec![(57, mine)])));
    let report = SeenPost {
        id: 900,
        login: "ccci-bot".into(),
        body: format!("✅ CI run passed\n\n{}", report::build_marker(57)),
    };
    assert_eq!(h.step(&mut w, ok(Answer::Comments(vec![report]))), None);
    assert_eq!(h.outcome(7), Some(&Outcome::Triggered { build: 57 }));
    assert!(h.saved.following.is_empty());
    assert!(!h.calls.iter().any(|c| matches!(c, Call::SetStatus { .. })));
}

#[test]
fn a_reply_an_earlier_life_posted_ends_the_job() {
    let mut h = Harness::new().with_job(job(7, Stage::Received));
    let mut w = h.job_work(7);
    recovering(&mut h, &mut w);
    let look = h.step(&mut w, ok(Answer::Builds(vec![])));
    assert!(matches!(look, Some(Call::Comments { .. })), "{look:?}");
    let reply = SeenPost {
        id: 901,
        login: "ccci-bot".into(),
        body: report::reply_body("not run", 7),
    };
    assert_eq!(h.step(&mut w, ok(Answer::Comments(vec![reply]))), None);
    assert_eq!(h.outcome(7), Some(&Outcome::AlreadyMarked));
}

#[test]
fn a_command_dropped_mid_retry_is_decided_afresh_and_built() {
    let mut h = Harness::new().with_job(job(7, Stage::Received));
    let mut w = h.job_work(7);
    recovering(&mut h, &mut w);
    h.step(&mut w, ok(Answer::Builds(vec![])));
    // A forged marker in someone else's comment proves nothing.
    let forged = SeenPost {
        id: 902,
        login: "mallory".into(),
        body: report::reply_body("x", 7),
    };
    let next = h.step(&mut w, ok(Answer::Comments(vec![forged])));
    assert!(matches!(next, Some(Call::Membership { .. })), "{next:?}");
    let create = h.run_from(
        &mut w,
        vec![
            ok(Answer::Membership(Membership::Member)),
            ok(pull_open()),
            ok(Answer::Timeline(vec![])),
            ok(Answer::Done), // react (idempotent)
        ],
    );
    assert_eq!(
        create,
        Some(Call::CreateBuild {
            query: build_query(&params(), Some(7))
        })
    );
}

#[test]
fn a_recovery_cut_by_a_crash_resumes_recovering() {
    let mut h = Harness::new().with_job(job(7, Stage::Received));
    let mut w = h.job_work(7);
    recovering(&mut h, &mut w);
    h.crash();
    let mut w = h.job_work(7);
    assert_eq!(
        h.step(&mut w, Event::Wake),
        Some(Call::RecentBuilds { page: 1 })
    );
}
