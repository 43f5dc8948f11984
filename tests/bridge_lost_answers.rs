//! Answers lost after the server acted: a write that the server is still
//! processing when the client's timeout fires (or when the bridge is killed)
//! completes later. The bridge must find what it made, never make it twice:
//! one build, one "started" comment, one refusal per command.

mod support;

use std::time::Duration;

use support::bridge_world::{BOT, CI_REPO, REPO, World};

const T: Duration = Duration::from_secs(10);

/// A world whose client gives up long before the slow server is done, and
/// which waits out a call's processing time before looking for it.
fn impatient() -> World {
    let mut w = World::new();
    w.tuning.http_timeout = Duration::from_millis(150);
    w.tuning.settle = Duration::from_millis(700);
    w
}

/// Server-side processing time of the slow writes: past the client's
/// timeout, within the settle time.
const SLOW_MS: u64 = 450;

/// The slow servers are done: whatever a lost call made now exists, and
/// the bridge has looked again since.
async fn settled(w: &World, b: &support::bridge_world::Running) {
    assert!(
        w.wait_for(T, || w.drone.slow_in_flight() == 0
            && w.gitea.slow_in_flight() == 0)
            .await
    );
    b.quiet().await;
}

fn bot_comments(w: &World, pr: u64) -> usize {
    w.gitea.comments_by(REPO, pr, BOT).len()
}

fn creates(w: &World) -> usize {
    w.drone
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with(&format!("{CI_REPO}/builds")))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_answered_after_the_client_timeout_makes_one_build() {
    let w = impatient();
    w.drone.slow_next_writes("/builds", 1, SLOW_MS);
    let b = w.start().await;
    w.gitea.comment(REPO, 1, "alice", "!testme");
    assert!(
        w.wait_for(T, || bot_comments(&w, 1) == 1).await,
        "the build is acknowledged"
    );
    settled(&w, &b).await;
    assert_eq!(w.builds().len(), 1, "one build");
    assert_eq!(creates(&w), 1, "the create was not sent again");
    assert_eq!(bot_comments(&w, 1), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_between_the_create_and_its_answer_the_next_life_makes_no_second_build() {
    let mut w = impatient();
    w.tuning.http_timeout = Duration::from_secs(5);
    w.drone.slow_next_writes("/builds", 1, SLOW_MS);
    let b = w.start().await;
    w.gitea.comment(REPO, 1, "alice", "!testme");
    assert!(
        w.wait_for(T, || w.drone.slow_in_flight() == 1).await,
        "the create reached Drone"
    );
    b.kill().await; // the build is still being made
    let b = w.start().await;
    assert!(
        w.wait_for(T, || bot_comments(&w, 1) == 1).await,
        "the build is acknowledged"
    );
    settled(&w, &b).await;
    assert_eq!(w.builds().len(), 1, "one build");
    assert_eq!(creates(&w), 1, "adopted, not created again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_started_comment_answered_late_is_posted_once() {
    let w = impatient();
    w.gitea.slow_next_writes("/issues/1/comments", 1, SLOW_MS);
    let b = w.start().await;
    w.gitea.comment(REPO, 1, "alice", "!testme");
    assert!(
        w.wait_for(T, || !w.builds().is_empty() && bot_comments(&w, 1) >= 1)
            .await
    );
    settled(&w, &b).await;
    assert_eq!(bot_comments(&w, 1), 1, "one started comment");
    assert_eq!(w.builds().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_answered_late_is_posted_once() {
    let w = impatient();
    w.gitea.slow_next_writes("/issues/1/comments", 1, SLOW_MS);
    let b = w.start().await;
    w.gitea.comment(REPO, 1, "mallory", "!testme");
    assert!(w.wait_for(T, || bot_comments(&w, 1) >= 1).await);
    settled(&w, &b).await;
    assert_eq!(bot_comments(&w, 1), 1, "one refusal");
    assert!(w.builds().is_empty());
}
