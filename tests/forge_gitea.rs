//! The Gitea client against the in-process fake Gitea: what it sends, what it
//! decodes, and how it classifies failures (above all: membership redirects
//! are never followed and never read as "not a member").

mod support;

use std::time::Duration;

use ccci::forge::ErrorClass;
use ccci::forge::gitea::{GiteaClient, GiteaError, Membership, NewStatus, StatusState};
use support::fake_gitea::{FakeGitea, GITEA_TOKEN, now_secs};

const REPO: &str = "acme/widget";
const SHA: &str = "9fc1ad6ebf12462f3f9773003e26b4c6f54a772e";

fn setup() -> (FakeGitea, GiteaClient) {
    let g = FakeGitea::start("acme", "ccci-bot");
    g.add_repo(REPO);
    g.add_pr(REPO, 42, SHA, Some("bob/widget"));
    g.add_member("alice");
    let c = GiteaClient::new(&g.url(), GITEA_TOKEN, Duration::from_secs(5), None).expect("client");
    (g, c)
}

#[tokio::test]
async fn membership_is_204_member_and_404_not() {
    let (_g, c) = setup();
    assert_eq!(
        c.membership("acme", "alice").await.expect("answer"),
        Membership::Member
    );
    assert_eq!(
        c.membership("acme", "mallory").await.expect("answer"),
        Membership::NotMember
    );
}

#[tokio::test]
async fn a_membership_redirect_is_a_retryable_error_and_is_not_followed() {
    let (g, c) = setup();
    g.set_membership_status("alice", Some(303));
    let err = c
        .membership("acme", "alice")
        .await
        .expect_err("indeterminate");
    assert_eq!(err.class(), ErrorClass::Retryable);
    assert!(err.to_string().contains("303"), "{err}");
    assert_eq!(g.count("GET", "/public_members/"), 0);
}

#[tokio::test]
async fn a_bad_token_is_fatal() {
    let (g, _) = setup();
    let c = GiteaClient::new(&g.url(), "wrong", Duration::from_secs(5), None).expect("client");
    let err = c.pull(REPO, 42).await.expect_err("401");
    assert_eq!(err.class(), ErrorClass::Fatal);
    assert!(!err.to_string().contains("wrong"), "token not in the error");
}

#[tokio::test]
async fn a_missing_pr_is_skip_and_a_5xx_is_retry() {
    let (g, c) = setup();
    assert_eq!(
        c.pull(REPO, 99).await.expect_err("404").class(),
        ErrorClass::Skip
    );
    g.fail_next("/pulls/42", 502);
    assert_eq!(
        c.pull(REPO, 42).await.expect_err("502").class(),
        ErrorClass::Retryable
    );
}

#[tokio::test]
async fn a_connection_refused_is_retry() {
    let c =
        GiteaClient::new("http://127.0.0.1:9", "t", Duration::from_secs(2), None).expect("client");
    let err = c.pull(REPO, 1).await.expect_err("refused");
    assert!(matches!(err, GiteaError::Transport { .. }));
    assert_eq!(err.class(), ErrorClass::Retryable);
}

#[tokio::test]
async fn a_pr_decodes_head_sha_and_fork() {
    let (_g, c) = setup();
    let pr = c.pull(REPO, 42).await.expect("pr");
    assert_eq!(pr.state, "open");
    assert_eq!(pr.head.sha, SHA);
    assert_eq!(pr.head.repo.expect("fork").full_name, "bob/widget");
}

#[tokio::test]
async fn repo_comments_carry_total_server_time_and_pr_numbers() {
    let (g, c) = setup();
    g.comment(REPO, 42, "alice", "!testme");
    g.issue_comment(REPO, 7, "alice", "hello");
    let since = time::OffsetDateTime::from_unix_timestamp(now_secs() - 60).expect("time");
    let page = c.repo_comments_since(REPO, since, 1).await.expect("page");
    assert_eq!(page.total, Some(2));
    assert!(page.server_time.is_some(), "Date header parsed");
    assert_eq!(page.comments[0].pr_number(), Some(42));
    assert_eq!(page.comments[1].pr_number(), None);
    let q = &g.requests()[0].query;
    assert!(q.iter().any(|(k, v)| k == "since" && v.ends_with('Z')));
    assert!(q.iter().any(|(k, v)| k == "limit" && v == "50"));
}

#[tokio::test]
async fn the_feed_is_newest_first_with_truncated_content() {
    let (g, c) = setup();
    g.comment(REPO, 42, "alice", "first");
    g.comment(REPO, 42, "alice", &"y".repeat(300));
    let feed = c.org_feed("acme", 1, 50).await.expect("feed");
    assert_eq!(feed.len(), 2);
    assert!(feed[0].id > feed[1].id);
    assert_eq!(feed[0].op_type, "comment_pull");
    assert_eq!(feed[0].content.len(), "42|".len() + 200);
}

#[tokio::test]
async fn reactions_comments_and_statuses_round_trip() {
    let (g, c) = setup();
    let id = g.comment(REPO, 42, "alice", "!testme");
    assert!(c.reactions(REPO, id).await.expect("none").is_empty());
    c.react(REPO, id, "eyes").await.expect("201");
    c.react(REPO, id, "eyes").await.expect("200, idempotent");
    let rs = c.reactions(REPO, id).await.expect("one");
    assert_eq!(rs.len(), 1);
    assert_eq!(rs[0].user.as_ref().expect("user").login, "ccci-bot");
    let mine = c.create_comment(REPO, 42, "started").await.expect("201");
    c.edit_comment(REPO, mine.id, "done").await.expect("200");
    assert_eq!(g.comment_body(mine.id).as_deref(), Some("done"));
    c.set_status(
        REPO,
        SHA,
        &NewStatus {
            state: StatusState::Pending,
            target_url: "https://drone.example.org/acme/ci/1".into(),
            description: "build #1 running".into(),
            context: "ccci/widget".into(),
        },
    )
    .await
    .expect("201");
    let st = g.statuses(REPO, SHA);
    assert_eq!(st[0].state, "pending");
    assert_eq!(st[0].context, "ccci/widget");
}

#[tokio::test]
async fn the_timeline_shows_pushes_with_server_times() {
    let (g, c) = setup();
    let at = now_secs();
    g.push_at(REPO, 42, "1111111111111111111111111111111111111111", at);
    let since = time::OffsetDateTime::from_unix_timestamp(at - 10).expect("time");
    let events = c.timeline_since(REPO, 42, since).await.expect("timeline");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind, "pull_push");
}
