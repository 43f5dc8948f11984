//! How commands are heard and approved, end to end against the fake Gitea
//! and Drone: a command bound to a commit, edits within the creation second,
//! two commands in one cycle, a command the sweep alone sees, one left
//! half-done when the state directory was lost, and the sweep's cursors.

mod support;

use std::time::Duration;

use ccci::bridge::ledger::{Handled, Ledger, LedgerStore, Outcome};
use support::bridge_world::{BOT, CI_REPO, HOOK_SECRET, REPO, Running, SHA, SHA2, World};
use support::fake_gitea::now_secs;

const T: Duration = Duration::from_secs(10);

fn bot_comments(w: &World, pr: u64) -> Vec<String> {
    w.gitea
        .comments_by(REPO, pr, BOT)
        .into_iter()
        .map(|c| c.body)
        .collect()
}

fn ledger(w: &World) -> Ledger {
    LedgerStore::new(w.state.path()).load().expect("ledger")
}

/// Sweeps until one started after `at` (unix seconds) completed: a comment
/// only the sweep sees is judged once it is older than the grace (1 s with
/// the test poll interval).
async fn swept_after(b: &Running, at: i64) {
    while now_secs() <= at {
        b.sweeps(1).await;
    }
    b.sweeps(2).await;
    b.quiet().await;
}

fn fast_sweep() -> World {
    let mut w = World::new();
    w.tuning.sweep_interval = Duration::from_millis(40);
    w
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_testme_naming_the_head_in_any_case_builds_that_commit() {
    let w = World::new();
    let _b = w.start().await;
    w.gitea.comment(
        REPO,
        1,
        "alice",
        &format!("!testme {}", &SHA[..9].to_uppercase()),
    );
    assert!(w.wait_for(T, || w.builds().len() == 1).await);
    assert_eq!(World::params(&w.builds()[0])["REF"], SHA);
    assert!(w.wait_for(T, || bot_comments(&w, 1).len() == 1).await);
    assert!(bot_comments(&w, 1)[0].starts_with("⏳ started"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_testme_naming_another_commit_is_refused_with_the_head_named() {
    let w = World::new();
    let b = w.start().await;
    w.gitea.comment(REPO, 1, "alice", "!testme 1234567");
    assert!(w.wait_for(T, || !bot_comments(&w, 1).is_empty()).await);
    b.quiet().await;
    assert!(w.builds().is_empty());
    let replies = bot_comments(&w, 1);
    assert_eq!(replies.len(), 1);
    assert!(
        replies[0].contains("`1234567` is not the head"),
        "{}",
        replies[0]
    );
    assert!(replies[0].contains(SHA), "{}", replies[0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_testme_naming_a_commit_pushed_in_the_same_second_builds_exactly_it() {
    let w = World::new();
    let now = now_secs();
    w.gitea.push_at(REPO, 1, SHA2, now);
    w.gitea
        .comment_at(REPO, 1, "alice", &format!("!testme {}", &SHA2[..7]), now);
    let _b = w.start().await;
    assert!(w.wait_for(T, || w.builds().len() == 1).await);
    assert_eq!(World::params(&w.builds()[0])["REF"], SHA2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_testme_in_one_cycle_make_one_build_and_one_superseded_reply() {
    let w = World::new();
    let first = w.gitea.comment(REPO, 1, "alice", "!testme");
    let second = w.gitea.comment(REPO, 1, "alice", "!testme");
    let b = w.start().await;
    assert!(w.wait_for(T, || bot_comments(&w, 1).len() == 2).await);
    b.quiet().await;
    b.quiet().await;
    let builds = w.builds();
    assert_eq!(builds.len(), 1, "one build, none cancelled");
    assert_eq!(World::params(&builds[0])["CCCI_JOB"], second.to_string());
    assert!(
        !w.drone.requests().iter().any(|r| r.method == "DELETE"),
        "nothing cancelled"
    );
    let replies = bot_comments(&w, 1);
    assert_eq!(replies.len(), 2, "{replies:?}");
    assert_eq!(
        replies
            .iter()
            .filter(|r| r.contains("was not run on its own"))
            .count(),
        1,
        "{replies:?}"
    );
    assert!(replies.iter().any(|r| r.starts_with("⏳ started")));
    for id in [first, second] {
        assert_eq!(w.gitea.reactions(id).len(), 1, "both acknowledged");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_comment_edited_into_a_testme_within_its_second_does_not_fire_when_swept() {
    let w = fast_sweep();
    let now = now_secs();
    let id = w.gitea.comment_at(REPO, 1, "alice", "looks good", now);
    w.gitea.edit(id, "!testme", now);
    let b = w.start().await;
    swept_after(&b, now + 1).await;
    assert!(w.builds().is_empty());
    assert!(
        bot_comments(&w, 1).is_empty(),
        "judged from its text as created"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_only_the_sweep_sees_is_answered_with_a_request_for_a_new_one() {
    let w = fast_sweep();
    w.gitea.hide_activity("alice");
    let now = now_secs();
    let id = w.gitea.comment_at(REPO, 1, "alice", "looks good", now);
    // Edited within its second: the API cannot show it, so nothing swept
    // alone ever fires.
    w.gitea.edit(id, "!testme", now);
    let b = w.start().await;
    assert!(w.wait_for(T, || !bot_comments(&w, 1).is_empty()).await);
    swept_after(&b, now + 1).await;
    assert!(w.builds().is_empty());
    let replies = bot_comments(&w, 1);
    assert_eq!(replies.len(), 1, "answered once across sweeps");
    assert!(
        replies[0].contains("Comment `!testme` again"),
        "{}",
        replies[0]
    );
    assert_eq!(w.gitea.reactions(id).len(), 1);
}

/// The `edited` delivery Gitea sends for a comment (the body as edited).
fn edited_payload(w: &World, id: u64) -> Vec<u8> {
    let body = support::bridge_world::hook_payload(&w.gitea, id, REPO, 1, "alice");
    let mut v: serde_json::Value = serde_json::from_slice(&body).expect("json");
    v["action"] = "edited".into();
    v["changes"] = serde_json::json!({ "body": { "from": "looks good" } });
    serde_json::to_vec(&v).expect("json")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edited_delivery_keeps_the_sweep_from_judging_the_comment() {
    let mut w = fast_sweep();
    w.webhook = true;
    w.gitea.hide_activity("alice");
    let now = now_secs();
    let id = w.gitea.comment_at(REPO, 1, "alice", "looks good", now);
    w.gitea.edit(id, "!testme", now);
    let b = w.start().await;
    let body = edited_payload(&w, id);
    let status = reqwest::Client::new()
        .post(format!("{}/hook", b.url()))
        .header("X-Gitea-Event", "issue_comment")
        .header("X-Gitea-Signature", support::bridge_world::sign(&body))
        .body(body)
        .send()
        .await
        .expect("delivered")
        .status();
    assert_eq!(status, 202);
    b.until(|p| p.deliveries >= 1).await;
    swept_after(&b, now + 1).await;
    assert!(w.builds().is_empty());
    assert!(bot_comments(&w, 1).is_empty(), "an edit, silently ignored");
    let _ = HOOK_SECRET;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_state_dir_lost_while_a_job_retries_still_finishes_the_command() {
    let w = World::new();
    let b = w.start().await;
    // Drone refuses the bridge's token: the job keeps retrying.
    w.drone.set_token("rotated-token");
    let id = w.gitea.comment(REPO, 1, "alice", "!testme");
    assert!(
        w.wait_for(T, || !w.gitea.reactions(id).is_empty()
            && w.drone.requests().len() >= 3)
            .await,
        "acknowledged and retrying"
    );
    b.kill().await;
    std::fs::remove_dir_all(w.state.path()).expect("state lost");
    // The token is fixed; the next life knows nothing but the reaction.
    let b = w.start().await;
    assert!(
        w.wait_for(T, || w.builds().len() == 1).await,
        "the command was not dropped"
    );
    assert!(w.wait_for(T, || bot_comments(&w, 1).len() == 1).await);
    b.quiet().await;
    assert_eq!(w.builds().len(), 1);
    assert_eq!(World::params(&w.builds()[0])["CCCI_JOB"], id.to_string());
    assert!(bot_comments(&w, 1)[0].starts_with("⏳ started"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repo_answering_404_holds_back_neither_the_others_cursors_nor_pruning() {
    let mut w = fast_sweep();
    // Enrolled, but Gitea does not know it (renamed, deleted).
    w.repos
        .insert("coop-cloud/gone".into(), "gone-recipe".into());
    let mut old = Ledger::default();
    old.handled.insert(
        1,
        Handled {
            at: 1,
            outcome: Outcome::Refused,
        },
    );
    old.remember_refusal(format!("{REPO}#1@mallory"), 1);
    LedgerStore::new(w.state.path()).save(&old).expect("saved");
    let b = w.start().await;
    b.sweeps(2).await;
    let l = ledger(&w);
    assert!(
        l.sweep_cursors.contains_key(&REPO.parse().expect("slug")),
        "{l:?}"
    );
    assert!(
        !l.sweep_cursors
            .contains_key(&"coop-cloud/gone".parse().expect("slug"))
    );
    assert!(l.handled.is_empty(), "pruned");
    assert!(l.refusals_replied.is_empty(), "refusals pruned too");
    assert!(
        w.gitea
            .count("GET", "/repos/coop-cloud/gone/issues/comments")
            >= 2
    );
    let _ = CI_REPO;
}
