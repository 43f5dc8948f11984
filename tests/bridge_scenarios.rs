//! `ccci bridge` end to end against the in-process fake Gitea and fake Drone:
//! each test is one scenario of the bridge and asserts on what a maintainer would
//! see (builds created, comments, reactions, commit statuses).

mod support;

use std::time::Duration;

use support::bridge_world::{
    BOT, CI_REPO, FORK, HOOK_SECRET, RECIPE, REPO, Running, SHA, SHA2, World, hook_payload, sign,
};
use support::fake_drone::Failure;
use support::fake_gitea::now_secs;

const T: Duration = Duration::from_secs(10);

fn bot_comments(w: &World, pr: u64) -> Vec<String> {
    w.gitea
        .comments_by(REPO, pr, BOT)
        .into_iter()
        .map(|c| c.body)
        .collect()
}

async fn one_build(w: &World) -> serde_json::Value {
    assert!(
        w.wait_for(T, || w.builds().len() == 1).await,
        "expected one build"
    );
    w.builds().remove(0)
}

/// The start-up sweep is complete (its cursor saved): later comments by
/// users who hide their activity reach the bridge only through the webhook.
async fn after_first_sweep(b: &Running) {
    b.until(|p| p.sweeps >= 1).await;
}

/// A counter's value from `/metrics` text (0 when absent).
fn metric(b: &Running, series: &str) -> u64 {
    b.metrics
        .render()
        .lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0)
}

async fn acked(w: &World, pr: u64) -> bool {
    w.wait_for(T, || !bot_comments(w, pr).is_empty()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_testme_creates_exactly_one_build_with_exact_params_and_the_ack_trio() {
    let w = World::new();
    let b = w.start().await;
    let id = w.gitea.comment(REPO, 1, "alice", "!testme");
    let build = one_build(&w).await;
    assert_eq!(build["event"], "custom");
    let p = World::params(&build);
    assert_eq!(
        p.into_iter().collect::<Vec<_>>(),
        vec![
            // The job's identity: evidence of a lost create names its comment.
            ("CCCI_JOB".to_owned(), id.to_string()),
            ("PR".to_owned(), "1".to_owned()),
            ("RECIPE".to_owned(), RECIPE.to_owned()),
            ("REF".to_owned(), SHA.to_owned()),
            ("SRC".to_owned(), FORK.to_owned()),
        ]
    );
    let create = w
        .drone
        .requests()
        .into_iter()
        .find(|r| r.method == "POST")
        .expect("create request");
    assert_eq!(create.path, format!("/api/repos/{CI_REPO}/builds"));
    assert_eq!(create.query_value("branch"), Some("main"));
    assert!(acked(&w, 1).await);
    assert!(
        w.gitea
            .reactions(id)
            .contains(&(BOT.to_owned(), "eyes".to_owned()))
    );
    let statuses = w.gitea.statuses(REPO, SHA);
    assert_eq!(statuses.len(), 1);
    assert_eq!(statuses[0].state, "pending");
    assert_eq!(statuses[0].context, "ccci/custom-html");
    assert_eq!(
        statuses[0].target_url,
        format!("{}/{CI_REPO}/1", w.drone.url())
    );
    let comments = bot_comments(&w, 1);
    assert_eq!(comments.len(), 1);
    assert!(comments[0].starts_with("⏳ started CI run for **custom-html** @ `9fc1ad6`"));
    assert!(comments[0].contains(&format!("{}/{CI_REPO}/1", w.drone.url())));
    b.quiet().await;
    assert_eq!(w.builds().len(), 1, "fires once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_member_gets_no_build_and_one_reply() {
    let w = World::new();
    let b = w.start().await;
    w.gitea.comment(REPO, 1, "mallory", "!testme");
    assert!(acked(&w, 1).await);
    w.gitea.comment(REPO, 1, "mallory", "!testme");
    assert!(
        w.wait_for(T, || metric(&b, "ccci_bridge_refusals_total") == 2)
            .await
    );
    b.quiet().await;
    assert!(w.builds().is_empty());
    let replies = bot_comments(&w, 1);
    assert_eq!(replies.len(), 1, "{replies:?}");
    assert!(replies[0].contains("mallory is not a member of the coop-cloud organisation"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quoted_fenced_own_longer_and_argument_comments_do_nothing() {
    let w = World::new();
    let b = w.start().await;
    let ids = [
        w.gitea.comment(REPO, 1, "alice", "> !testme\n\nwhy not?"),
        w.gitea.comment(REPO, 1, "alice", "```\n!testme\n```"),
        w.gitea.comment(REPO, 1, BOT, "!testme"),
        w.gitea.comment(REPO, 1, "alice", "!testmexyz"),
        w.gitea.comment(REPO, 1, "alice", "!testme foo"),
        w.gitea.issue_comment(REPO, 7, "alice", "!testme"),
    ];
    // The feed has delivered all six to the core (and a real one would fire).
    assert!(
        w.wait_for(T, || metric(
            &b,
            "ccci_bridge_comments_seen_total{source=\"feed\"}"
        ) >= 6)
            .await
    );
    w.gitea.comment(REPO, 1, "alice", "!testme");
    one_build(&w).await;
    b.quiet().await;
    assert_eq!(w.builds().len(), 1, "only the real command fired");
    let mine = bot_comments(&w, 1);
    assert_eq!(
        mine.len(),
        2,
        "the bot's own comment and one started comment"
    );
    for id in ids {
        assert!(w.gitea.reactions(id).is_empty());
    }
    assert_eq!(
        w.gitea.all_statuses().len(),
        1,
        "the real command's pending"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edited_comment_does_not_fire_even_when_swept() {
    let mut w = World::new();
    // A sweep every 40 ms: it sees the edit (the feed never does).
    w.tuning.sweep_interval = Duration::from_millis(40);
    let id = w.gitea.comment(REPO, 1, "alice", "looks good");
    w.gitea.edit(id, "!testme", now_secs() + 1);
    let b = w.start().await;
    // Swept twice, each sweep followed by working the jobs: the edit was seen.
    b.sweeps(2).await;
    assert!(w.builds().is_empty());
    assert!(w.gitea.count("GET", "/issues/comments") >= 2, "swept");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweep_hears_a_comment_the_feed_hides_and_answers_it_once() {
    let mut w = World::new();
    w.tuning.sweep_interval = Duration::from_millis(40);
    w.gitea.hide_activity("alice");
    let b = w.start().await;
    w.gitea.comment(REPO, 1, "alice", "!testme");
    // Only its current body was seen: whether it was edited into a command
    // within its second cannot be told, so a new command is asked for.
    assert!(acked(&w, 1).await);
    // Swept again (the sweep re-reads its overlap): still one answer.
    b.sweeps(2).await;
    b.quiet().await;
    assert!(w.builds().is_empty());
    let replies = bot_comments(&w, 1);
    assert_eq!(replies.len(), 1);
    assert!(
        replies[0].contains("Comment `!testme` again"),
        "{}",
        replies[0]
    );
}

/// A review long enough that the feed keeps only its first lines.
fn long_review(command_line: &str) -> String {
    let mut lines: Vec<String> = (1..20)
        .map(|i| format!("Line {i} of the review, with a remark or two."))
        .collect();
    lines.push(command_line.to_owned());
    lines.join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_testme_on_line_twenty_of_a_long_comment_fires_from_the_feed() {
    let w = World::new();
    let b = w.start().await;
    after_first_sweep(&b).await;
    let sweeps = b.progress().sweeps;
    w.gitea.comment(REPO, 1, "alice", &long_review("!testme"));
    one_build(&w).await;
    assert_eq!(b.progress().sweeps, sweeps, "no sweep was needed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_comment_rewritten_into_a_testme_within_its_second_does_not_fire() {
    let w = World::new();
    let b = w.start().await;
    after_first_sweep(&b).await;
    let now = now_secs();
    let id = w
        .gitea
        .comment_at(REPO, 1, "alice", &long_review("Thanks!"), now);
    w.gitea
        .edit(id, &format!("!testme\n{}", long_review("")), now);
    b.quiet().await;
    b.quiet().await;
    assert!(w.builds().is_empty());
    assert!(bot_comments(&w, 1).is_empty());
}

async fn deliver(b: &Running, body: &[u8], signature: &str) -> reqwest::StatusCode {
    reqwest::Client::new()
        .post(format!("{}/hook", b.url()))
        .header("X-Gitea-Event", "issue_comment")
        .header("X-Gitea-Event-Type", "pull_request_comment")
        .header("X-Gitea-Signature", signature)
        .header("Content-Type", "application/json")
        .body(body.to_vec())
        .send()
        .await
        .expect("delivered")
        .status()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_comment_via_feed_and_webhook_fires_once() {
    let mut w = World::new();
    w.webhook = true;
    let b = w.start().await;
    let id = w.gitea.comment(REPO, 1, "alice", "!testme");
    let body = hook_payload(&w.gitea, id, REPO, 1, "alice");
    assert_eq!(deliver(&b, &body, &sign(&body)).await, 202);
    one_build(&w).await;
    assert_eq!(deliver(&b, &body, &sign(&body)).await, 202);
    b.until(|p| p.deliveries >= 2).await;
    b.quiet().await;
    assert_eq!(w.builds().len(), 1);
    let m = b.metrics.render();
    assert!(m.contains("ccci_bridge_comments_seen_total{source=\"webhook\"} 2"));
    assert!(m.contains("ccci_bridge_triggers_total 1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_alone_triggers_without_the_feed() {
    let mut w = World::new();
    w.webhook = true;
    w.gitea.hide_activity("alice");
    let b = w.start().await;
    after_first_sweep(&b).await;
    let id = w.gitea.comment(REPO, 1, "alice", "!testme");
    let body = hook_payload(&w.gitea, id, REPO, 1, "alice");
    assert_eq!(deliver(&b, &body, &sign(&body)).await, 202);
    one_build(&w).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_signature_is_401_and_nothing_happens() {
    let mut w = World::new();
    w.webhook = true;
    w.gitea.hide_activity("alice");
    let b = w.start().await;
    after_first_sweep(&b).await;
    let id = w.gitea.comment(REPO, 1, "alice", "!testme");
    let body = hook_payload(&w.gitea, id, REPO, 1, "alice");
    let mut forged = sign(&body);
    forged.replace_range(0..1, if forged.starts_with('0') { "1" } else { "0" });
    assert_eq!(deliver(&b, &body, &forged).await, 401);
    assert_eq!(deliver(&b, &body, "").await, 401);
    let tampered = String::from_utf8(body.clone())
        .expect("utf-8")
        .replace("\"number\":1", "\"number\":2")
        .into_bytes();
    assert_eq!(deliver(&b, &tampered, &sign(&body)).await, 401);
    b.quiet().await;
    assert!(w.builds().is_empty());
    assert!(w.gitea.reactions(id).is_empty());
    let _ = HOOK_SECRET;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn membership_303_is_no_build_and_retried_not_a_no() {
    let w = World::new();
    w.gitea.add_member("carol");
    w.gitea.set_membership_status("carol", Some(303));
    let _b = w.start().await;
    w.gitea.comment(REPO, 1, "carol", "!testme");
    assert!(
        w.wait_for(T, || w.gitea.count("GET", "/members/carol") >= 3)
            .await,
        "membership asked again and again"
    );
    assert!(w.builds().is_empty());
    assert!(bot_comments(&w, 1).is_empty(), "no refusal for a 303");
    assert_eq!(
        w.gitea.count("GET", "/public_members/"),
        0,
        "redirect not followed"
    );
    // Once Gitea answers properly, the same comment fires.
    w.gitea.set_membership_status("carol", None);
    one_build(&w).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_after_the_comment_means_no_build_and_one_reply() {
    let w = World::new();
    let now = now_secs();
    w.gitea.comment_at(REPO, 1, "alice", "!testme", now - 5);
    w.gitea.push_at(REPO, 1, SHA2, now - 2);
    let b = w.start().await;
    assert!(acked(&w, 1).await);
    b.quiet().await;
    assert!(w.builds().is_empty());
    let replies = bot_comments(&w, 1);
    assert_eq!(replies.len(), 1);
    assert!(replies[0].contains("new commits were pushed after the comment"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_in_the_same_second_after_the_comment_means_no_build_and_one_reply() {
    let w = World::new();
    let now = now_secs();
    w.gitea.comment_at(REPO, 1, "alice", "!testme", now);
    w.gitea.push_at(REPO, 1, SHA2, now);
    let b = w.start().await;
    assert!(acked(&w, 1).await);
    b.quiet().await;
    assert!(w.builds().is_empty(), "the pushed commit is not built");
    let replies = bot_comments(&w, 1);
    assert_eq!(replies.len(), 1);
    assert!(replies[0].contains("Comment `!testme` again"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_in_the_same_second_before_the_comment_tests_the_new_head() {
    let w = World::new();
    let now = now_secs();
    w.gitea.push_at(REPO, 1, SHA2, now);
    w.gitea.comment_at(REPO, 1, "alice", "!testme", now);
    let _b = w.start().await;
    let build = one_build(&w).await;
    assert_eq!(World::params(&build)["REF"], SHA2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_before_the_comment_tests_the_new_head() {
    let w = World::new();
    let now = now_secs();
    w.gitea.push_at(REPO, 1, SHA2, now - 5);
    w.gitea.comment_at(REPO, 1, "alice", "!testme", now - 2);
    let _b = w.start().await;
    let build = one_build(&w).await;
    assert_eq!(World::params(&build)["REF"], SHA2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_testme_cancels_the_first_build() {
    let w = World::new();
    let _b = w.start().await;
    w.gitea.comment(REPO, 1, "alice", "!testme");
    one_build(&w).await;
    w.drone.set_build_status(CI_REPO, 1, "running");
    assert!(acked(&w, 1).await);
    w.gitea.push_at(REPO, 1, SHA2, now_secs() - 1);
    w.gitea.comment_at(REPO, 1, "alice", "!testme", now_secs());
    assert!(w.wait_for(T, || w.builds().len() == 2).await);
    assert!(w.wait_for(T, || w.builds()[0]["status"] == "killed").await);
    assert!(
        w.drone
            .requests()
            .iter()
            .any(|r| r.method == "DELETE" && r.path == format!("/api/repos/{CI_REPO}/builds/1"))
    );
    let old = w.gitea.statuses(REPO, SHA);
    assert_eq!(old.last().expect("status").state, "error");
    assert!(
        old.last()
            .expect("status")
            .description
            .contains("superseded")
    );
    assert!(w.wait_for(T, || bot_comments(&w, 1).len() == 2).await);
    assert!(bot_comments(&w, 1)[0].contains("superseded"));
    assert_eq!(World::params(&w.builds()[1])["REF"], SHA2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drone_200_null_is_reported_as_an_error() {
    let w = World::new();
    w.drone.fail_next(Failure::NullBuild);
    let b = w.start().await;
    w.gitea.comment(REPO, 1, "alice", "!testme");
    assert!(acked(&w, 1).await);
    b.quiet().await;
    assert!(w.builds().is_empty());
    let replies = bot_comments(&w, 1);
    assert_eq!(replies.len(), 1);
    assert!(replies[0].contains("created no build"));
    let st = w.gitea.statuses(REPO, SHA);
    assert_eq!(st.len(), 1);
    assert_eq!(st[0].state, "error");
    assert_eq!(st[0].context, "ccci/custom-html");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drone_down_is_retried_then_a_build_is_created() {
    let w = World::new();
    w.drone.fail_next(Failure::Status(503));
    w.drone.fail_next(Failure::Status(502));
    let _b = w.start().await;
    w.gitea.comment(REPO, 1, "alice", "!testme");
    one_build(&w).await;
    assert!(acked(&w, 1).await);
    assert!(
        w.drone.requests().len() >= 4,
        "two failures, then list and create"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drone_down_for_good_is_retried_then_reported() {
    let w = World::new();
    for _ in 0..3 {
        w.drone.fail_next(Failure::Status(503));
    }
    let b = w.start().await;
    w.gitea.comment(REPO, 1, "alice", "!testme");
    assert!(acked(&w, 1).await);
    b.quiet().await;
    assert!(w.builds().is_empty());
    assert_eq!(w.drone.requests().len(), 3, "three attempts");
    let replies = bot_comments(&w, 1);
    assert_eq!(replies.len(), 1);
    assert!(replies[0].contains("could not be reached after 3 attempts"));
    assert_eq!(w.gitea.statuses(REPO, SHA)[0].state, "error");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finished_build_edits_the_comment_into_the_report_and_sets_the_status() {
    let w = World::new();
    let _b = w.start().await;
    w.gitea.comment(REPO, 1, "alice", "!testme");
    one_build(&w).await;
    assert!(acked(&w, 1).await);
    let report_id = w.gitea.comments_by(REPO, 1, BOT)[0].id;
    w.write_results(1, SHA, true, "## custom-html\nall rungs green");
    w.drone.set_build_status(CI_REPO, 1, "success");
    assert!(
        w.wait_for(T, || w.gitea.statuses(REPO, SHA).len() == 2)
            .await,
        "final status"
    );
    let st = w.gitea.statuses(REPO, SHA);
    assert_eq!(st[1].state, "success");
    assert_eq!(st[1].description, "level: backup_restore");
    assert_eq!(st[1].context, "ccci/custom-html");
    let body = w.gitea.comment_body(report_id).expect("report");
    assert!(
        body.starts_with(
            "✅ CI run for **custom-html** @ `9fc1ad6` passed, level **backup_restore**"
        )
    );
    assert!(body.contains("| install | ✅ pass | 20s |"));
    assert!(body.contains("| upgrade | ⏭️ skip | 0s | `no earlier release` |"));
    assert_eq!(
        body.matches("| install |").count(),
        1,
        "the rung table once: {body}"
    );
    assert!(body.contains(&format!("{}/{CI_REPO}/1", w.drone.url())));
    assert_eq!(
        bot_comments(&w, 1).len(),
        1,
        "edited in place, not a new comment"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_run_reports_failure_with_its_level() {
    let w = World::new();
    let _b = w.start().await;
    w.gitea.comment(REPO, 1, "alice", "!testme");
    one_build(&w).await;
    assert!(acked(&w, 1).await);
    w.write_results(1, SHA, false, "");
    w.drone.set_build_status(CI_REPO, 1, "failure");
    assert!(
        w.wait_for(T, || w.gitea.statuses(REPO, SHA).len() == 2)
            .await
    );
    let st = w.gitea.statuses(REPO, SHA);
    assert_eq!(st[1].state, "failure");
    assert_eq!(st[1].description, "level: none");
    assert!(bot_comments(&w, 1)[0].contains("health check answered 502"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_build_ending_without_results_is_an_infrastructure_error() {
    let w = World::new();
    let _b = w.start().await;
    w.gitea.comment(REPO, 1, "alice", "!testme");
    one_build(&w).await;
    assert!(acked(&w, 1).await);
    w.drone.set_build_status(CI_REPO, 1, "error");
    assert!(
        w.wait_for(T, || w.gitea.statuses(REPO, SHA).len() == 2)
            .await
    );
    let st = w.gitea.statuses(REPO, SHA);
    assert_eq!(st[1].state, "error");
    let body = &bot_comments(&w, 1)[0];
    assert!(body.contains("infrastructure error"));
    assert!(body.contains("`no results.json`"), "{body}");
    assert!(body.contains(&format!("{}/{CI_REPO}/1", w.drone.url())));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_of_another_schema_are_reported_as_such() {
    let w = World::new();
    let _b = w.start().await;
    w.gitea.comment(REPO, 1, "alice", "!testme");
    one_build(&w).await;
    assert!(acked(&w, 1).await);
    let dir = w.runs.path().join("1");
    std::fs::create_dir_all(&dir).expect("run dir");
    std::fs::write(dir.join("results.json"), r#"{"schema": 2, "recipe": "x"}"#).expect("write");
    w.drone.set_build_status(CI_REPO, 1, "success");
    assert!(
        w.wait_for(T, || w.gitea.statuses(REPO, SHA).len() == 2)
            .await
    );
    let body = &bot_comments(&w, 1)[0];
    assert!(body.contains("results.json has schema 2"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn comments_posted_while_down_each_fire_once_after_a_restart() {
    let w = World::with_repos(&[(REPO, RECIPE), ("coop-cloud/keycloak", "keycloak")]);
    w.gitea.add_pr("coop-cloud/keycloak", 4, SHA2, None);
    w.gitea.add_pr(REPO, 2, SHA2, None);
    let b = w.start().await;
    w.gitea.comment(REPO, 1, "alice", "!testme");
    one_build(&w).await;
    b.kill().await;
    w.gitea.comment(REPO, 2, "alice", "!testme");
    w.gitea
        .comment("coop-cloud/keycloak", 4, "alice", "!testme");
    w.gitea.comment(REPO, 2, "alice", "unrelated chatter");
    let b = w.start().await;
    assert!(w.wait_for(T, || w.builds().len() == 3).await);
    b.quiet().await;
    assert_eq!(w.builds().len(), 3);
    let mut prs: Vec<_> = w
        .builds()
        .iter()
        .map(|b| {
            let p = World::params(b);
            (p["RECIPE"].clone(), p["PR"].clone())
        })
        .collect();
    prs.sort();
    assert_eq!(
        prs,
        vec![
            ("custom-html".to_owned(), "1".to_owned()),
            ("custom-html".to_owned(), "2".to_owned()),
            ("keycloak".to_owned(), "4".to_owned()),
        ]
    );
    // The keycloak PR is not from a fork: SRC is the base repository.
    assert!(
        w.builds()
            .iter()
            .any(|b| World::params(b)["SRC"] == "coop-cloud/keycloak")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_state_directory_with_reactions_present_fires_nothing_again() {
    let w = World::new();
    let b = w.start().await;
    w.gitea.comment(REPO, 1, "alice", "!testme");
    one_build(&w).await;
    assert!(acked(&w, 1).await);
    b.kill().await;
    std::fs::remove_dir_all(w.state.path()).expect("state lost");
    let mut w2_settings = w.settings();
    // A fresh sweep would also see the old comment: make it run now.
    w2_settings.tuning.sweep_interval = Duration::from_millis(40);
    let b = w.start_with(w2_settings).await;
    // The fresh sweep saw the old comment (twice) and judged it.
    b.sweeps(2).await;
    b.quiet().await;
    assert_eq!(w.builds().len(), 1);
    assert_eq!(bot_comments(&w, 1).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_comment_with_a_foreign_reaction_still_fires() {
    let w = World::new();
    let id = w.gitea.comment(REPO, 1, "alice", "!testme");
    w.gitea.add_reaction(id, "bob", "eyes");
    let _b = w.start().await;
    one_build(&w).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gitea_401_is_fatal_logged_and_the_bridge_keeps_running() {
    let w = World::new();
    w.gitea.fail_next("/reactions", 401);
    let _b = w.start().await;
    w.gitea.comment(REPO, 1, "alice", "!testme");
    // The configuration error is retried slowly; once fixed, the comment fires.
    one_build(&w).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_drone_token_shows_in_healthz_and_metrics_and_the_job_resumes_soon() {
    // Production backs off auth errors to at most 30 s between tries.
    let defaults = ccci::bridge::Tuning::from_config(&World::new().config());
    assert!(defaults.fatal_retry <= Duration::from_secs(30));
    let w = World::new();
    let token = w.drone.token();
    let b = w.start().await;
    w.drone.set_token("rotated");
    w.gitea.comment(REPO, 1, "alice", "!testme");
    assert!(
        w.wait_for(T, || metric(
            &b,
            "ccci_bridge_auth_refusals_total{api=\"drone\"}"
        ) >= 1)
            .await
    );
    let c = reqwest::Client::new();
    let health = |c: reqwest::Client| {
        let url = format!("{}/healthz", b.url());
        async move {
            let r = c.get(url).send().await.expect("healthz");
            (r.status().as_u16(), r.text().await.expect("text"))
        }
    };
    let (code, text) = health(c.clone()).await;
    assert_eq!(code, 503, "{text}");
    assert!(text.contains("drone: credentials refused"), "{text}");
    assert_eq!(metric(&b, "ccci_bridge_api_up{api=\"drone\"}"), 0);
    // The token is right again: the job goes on within the backoff cap.
    w.drone.set_token(&token);
    one_build(&w).await;
    assert_eq!(health(c).await.0, 200);
    assert_eq!(metric(&b, "ccci_bridge_api_up{api=\"drone\"}"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_and_metrics_are_served_on_the_listener() {
    let w = World::new();
    let b = w.start().await;
    w.gitea.comment(REPO, 1, "alice", "!testme");
    one_build(&w).await;
    // The ack follows the create call's answer: the bridge has counted it.
    assert!(acked(&w, 1).await);
    let c = reqwest::Client::new();
    let h = c
        .get(format!("{}/healthz", b.url()))
        .send()
        .await
        .expect("healthz");
    assert_eq!(h.status(), 200);
    let m = c
        .get(format!("{}/metrics", b.url()))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(m.contains("ccci_bridge_triggers_total 1"));
    assert!(m.contains("ccci_bridge_comments_seen_total{source=\"feed\"}"));
    assert!(m.contains("ccci_bridge_api_requests_total{api=\"gitea\",endpoint=\"org_feed\"}"));
    assert!(
        m.contains("ccci_bridge_api_requests_total{api=\"drone\",endpoint=\"create_build\"} 1")
    );
    assert!(m.contains("ccci_bridge_trigger_latency_milliseconds_count 1"));
    let hook = c
        .post(format!("{}/hook", b.url()))
        .body("{}")
        .send()
        .await
        .expect("hook");
    assert_eq!(hook.status(), 404, "webhook disabled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unenrolled_repo_and_a_closed_pr_do_nothing() {
    let w = World::new();
    w.gitea.add_repo("coop-cloud/not-enrolled");
    w.gitea.add_pr("coop-cloud/not-enrolled", 1, SHA, None);
    w.gitea.add_pr(REPO, 3, SHA2, None);
    w.gitea.close_pr(REPO, 3);
    let b = w.start().await;
    let other = w
        .gitea
        .comment("coop-cloud/not-enrolled", 1, "alice", "!testme");
    let closed = w.gitea.comment(REPO, 3, "alice", "!testme");
    // The closed PR's comment is handled (marked), nothing more.
    assert!(
        w.wait_for(T, || !w.gitea.reactions(closed).is_empty())
            .await
    );
    b.quiet().await;
    assert!(w.builds().is_empty());
    assert!(w.gitea.all_statuses().is_empty());
    assert!(
        w.gitea.reactions(other).is_empty(),
        "not enrolled: not touched"
    );
}
