//! `ccci bridge`, the follow and report side, end to end against the fake
//! Gitea and fake Drone: a superseded build that had already finished, and
//! builds reported through Drone's signed system webhook.

mod support;

use std::time::Duration;

use support::bridge_world::{BOT, CI_REPO, REPO, SHA, SHA2, World};
use support::fake_gitea::now_secs;

const T: Duration = Duration::from_secs(10);

fn bot_comments(w: &World, pr: u64) -> Vec<String> {
    w.gitea
        .comments_by(REPO, pr, BOT)
        .into_iter()
        .map(|c| c.body)
        .collect()
}

/// A world whose bridge looks at its followed builds only at start: what
/// happens to a build afterwards reaches it only another way.
fn world_with_a_slow_follow() -> World {
    let mut w = World::new();
    w.tuning.follow_interval = Duration::from_secs(3600);
    w
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_build_that_finished_before_a_second_testme_is_reported_never_cancelled() {
    let w = world_with_a_slow_follow();
    let _b = w.start().await;
    w.gitea.comment(REPO, 1, "alice", "!testme");
    assert!(w.wait_for(T, || w.builds().len() == 1).await);
    assert!(w.wait_for(T, || !bot_comments(&w, 1).is_empty()).await);
    // The build ends green; the follow has not looked since.
    w.write_results(1, SHA, true, "all green");
    w.drone.set_build_status(CI_REPO, 1, "success");
    w.gitea.push_at(REPO, 1, SHA2, now_secs() - 1);
    w.gitea.comment_at(REPO, 1, "alice", "!testme", now_secs());
    assert!(w.wait_for(T, || w.builds().len() == 2).await);
    assert!(w.wait_for(T, || bot_comments(&w, 1).len() == 2).await);
    assert_eq!(w.builds()[0]["status"], "success", "left as it finished");
    assert!(
        !w.drone.requests().iter().any(|r| r.method == "DELETE"),
        "a finished build is never cancelled"
    );
    let first = &bot_comments(&w, 1)[0];
    assert!(
        first.starts_with("✅ CI run for **custom-html**"),
        "{first}"
    );
    assert!(!first.contains("superseded"), "{first}");
    let old = w.gitea.statuses(REPO, SHA);
    assert_eq!(old.last().expect("status").state, "success");
}
