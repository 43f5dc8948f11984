//! `ccci bridge`, the follow and report side, end to end against the fake
//! Gitea and fake Drone: a superseded build that had already finished, and
//! builds reported through Drone's signed system webhook.

mod support;

use std::time::Duration;

use support::bridge_world::{BOT, CI_REPO, REPO, Running, SHA, SHA2, World};
use support::drone_webhook::{
    DRONE_HOOK_SECRET, build_updated, http_date, now_unix, signed_headers,
};
use support::fake_gitea::now_secs;

const T: Duration = Duration::from_secs(10);

fn bot_comments(w: &World, pr: u64) -> Vec<String> {
    w.gitea
        .comments_by(REPO, pr, BOT)
        .into_iter()
        .map(|c| c.body)
        .collect()
}

/// A world whose bridge looks at its followed builds only at start (see
/// [`started`]): what happens to a build afterwards reaches it only another way.
fn world_with_a_slow_follow() -> World {
    let mut w = World::new();
    w.tuning.follow_interval = Duration::from_secs(3600);
    w
}

/// The bridge has made its one round over the followed builds (the first
/// tick of each timer is at once, but a busy loop may take it late).
async fn started(b: &Running) {
    b.until(|p| p.follow_rounds >= 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_build_that_finished_before_a_second_testme_is_reported_never_cancelled() {
    let w = world_with_a_slow_follow();
    let b = w.start().await;
    started(&b).await;
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

// ---- Drone's system webhook ------------------------------------------------

/// A bridge taking Drone's build events, the fake Drone sending them to it.
async fn hooked(w: &mut World) -> Running {
    w.drone_hook = true;
    let b = w.start().await;
    w.drone
        .set_webhook(&format!("{}/drone-hook", b.url()), DRONE_HOOK_SECRET);
    started(&b).await;
    b
}

/// A `!testme` whose build is created and acknowledged (followed).
async fn followed_build(w: &World) {
    w.gitea.comment(REPO, 1, "alice", "!testme");
    assert!(w.wait_for(T, || w.builds().len() == 1).await);
    assert!(w.wait_for(T, || !bot_comments(w, 1).is_empty()).await);
    assert!(
        w.wait_for(T, || w.gitea.statuses(REPO, SHA).len() == 1)
            .await
    );
}

/// Request headers as (name, value).
type Headers = Vec<(String, String)>;

/// A counter's value from `/metrics` text (0 when absent).
fn metric(b: &Running, series: &str) -> u64 {
    b.metrics
        .render()
        .lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_build_event_reports_the_build_without_waiting_for_the_follow() {
    let mut w = world_with_a_slow_follow();
    let b = hooked(&mut w).await;
    followed_build(&w).await;
    w.write_results(1, SHA, true, "all green");
    w.drone.set_build_status(CI_REPO, 1, "success");
    assert!(
        w.wait_for(T, || w.gitea.statuses(REPO, SHA).len() == 2)
            .await,
        "reported through the webhook; the follow does not tick for an hour"
    );
    assert_eq!(w.gitea.statuses(REPO, SHA)[1].state, "success");
    assert!(bot_comments(&w, 1)[0].starts_with("✅ CI run for **custom-html**"));
    // The fake records the answer once it has read it, which may be after the
    // report the delivery woke has already landed.
    assert!(
        w.wait_for(T, || w.drone.hook_answers() == vec![202]).await,
        "{:?}",
        w.drone.hook_answers()
    );
    assert_eq!(
        metric(
            &b,
            "ccci_bridge_hook_deliveries_total{hook=\"drone\",outcome=\"accepted\"}"
        ),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_build_event_signed_with_another_secret_is_401_counted_and_changes_nothing() {
    let mut w = world_with_a_slow_follow();
    let b = hooked(&mut w).await;
    w.drone
        .set_webhook(&format!("{}/drone-hook", b.url()), "not-the-secret");
    followed_build(&w).await;
    w.write_results(1, SHA, true, "all green");
    w.drone.set_build_status(CI_REPO, 1, "success");
    assert!(w.wait_for(T, || w.drone.hook_answers() == vec![401]).await);
    b.until(|p| p.feed_polls >= 3).await;
    assert_eq!(
        w.gitea.statuses(REPO, SHA).len(),
        1,
        "not reported: {:?}",
        w.gitea.statuses(REPO, SHA)
    );
    assert_eq!(
        metric(
            &b,
            "ccci_bridge_hook_deliveries_total{hook=\"drone\",outcome=\"signature\"}"
        ),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsigned_stale_or_tampered_deliveries_are_401() {
    let mut w = World::new();
    let b = hooked(&mut w).await;
    let url = format!("{}/drone-hook", b.url());
    let repo = serde_json::json!({ "slug": CI_REPO });
    let build = serde_json::json!({ "number": 1, "status": "success" });
    let body = build_updated(&repo, &build);
    let now = now_unix();
    let fresh = signed_headers(DRONE_HOOK_SECRET, &body, &http_date(now));
    let stale = signed_headers(DRONE_HOOK_SECRET, &body, &http_date(now - 3600));
    let other = build_updated(
        &repo,
        &serde_json::json!({ "number": 2, "status": "success" }),
    );
    let cases: Vec<(&str, Headers, Vec<u8>)> = vec![
        ("unsigned", vec![], body.clone()),
        ("stale", stale, body.clone()),
        ("another body", fresh.clone(), other),
    ];
    for (name, headers, body) in cases {
        let url = url.clone();
        let status =
            tokio::task::spawn_blocking(move || support::drone_webhook::post(&url, &headers, body))
                .await
                .expect("joined");
        assert_eq!(status, 401, "{name}");
    }
    // The same delivery, fresh and untouched, is believed.
    let status =
        tokio::task::spawn_blocking(move || support::drone_webhook::post(&url, &fresh, body))
            .await
            .expect("joined");
    assert_eq!(status, 202);
    assert_eq!(
        metric(
            &b,
            "ccci_bridge_hook_deliveries_total{hook=\"drone\",outcome=\"stale\"}"
        ),
        1
    );
    b.until(|p| p.drone_hooks == 1).await;
}

// ---- screenshots on the PR ---------------------------------------------------

/// Not a real PNG: the bytes only have to arrive unchanged.
const LANDING: &[u8] = b"\x89PNG\r\n\x1a\n landing page pixels";
const FAILED: &[u8] = b"\x89PNG\r\n\x1a\n failed step pixels";

/// Build 1's results as a red run that left a landing screenshot and one of
/// a failed browser check, with the files in its output directory.
fn write_results_with_screenshots(w: &World) {
    w.write_results(1, SHA, false, "red");
    let dir = w.runs_dir().join("1");
    let path = dir.join("results.json");
    let mut r: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).expect("results")).expect("json");
    r["lanes"]["fresh"] = serde_json::json!({
        "status": "fail", "domain": "cust-1a2b3c.ci.example.org", "reason": "",
        "duration_secs": 20.0, "screenshot": "screenshot.png"
    });
    r["checks"] = serde_json::json!([{
        "rung": "install", "lane": "fresh", "name": "admin login", "status": "fail",
        "detail": "expect_text: Welcome not found", "duration_secs": 2.0,
        "screenshot": "browser-1.png"
    }]);
    std::fs::write(&path, serde_json::to_vec(&r).expect("json")).expect("write");
    std::fs::write(dir.join("screenshot.png"), LANDING).expect("png");
    std::fs::write(dir.join("browser-1.png"), FAILED).expect("png");
}

fn report_id(w: &World) -> u64 {
    w.gitea.comments_by(REPO, 1, BOT)[0].id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_screenshots_are_attached_once_and_shown_on_the_report() {
    let w = World::new();
    let _b = w.start().await;
    followed_build(&w).await;
    write_results_with_screenshots(&w);
    w.drone.set_build_status(CI_REPO, 1, "failure");
    assert!(
        w.wait_for(T, || w.gitea.statuses(REPO, SHA).len() == 2)
            .await
    );
    let id = report_id(&w);
    let assets = w.gitea.assets(id);
    let names: Vec<&str> = assets.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["screenshot.png", "browser-1.png"]);
    assert_eq!(assets[0].bytes, LANDING);
    assert_eq!(assets[1].bytes, FAILED);
    let body = w.gitea.comment_body(id).expect("report");
    let url = |i: usize| format!("{}/attachments/{}", w.gitea.url(), assets[i].uuid);
    assert!(
        body.contains(&format!("![landing page]({})", url(0))),
        "{body}"
    );
    assert!(
        body.contains(&format!(
            "[screenshot where the check `admin login` failed]({})",
            url(1)
        )),
        "{body}"
    );
    assert!(body.starts_with("❌ CI run for **custom-html**"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_whose_answer_was_lost_is_not_attached_twice() {
    let mut w = World::new();
    w.tuning.http_timeout = Duration::from_millis(300);
    w.tuning.settle = Duration::from_millis(1500);
    let _b = w.start().await;
    followed_build(&w).await;
    write_results_with_screenshots(&w);
    // The first upload is stored after the client gave up waiting.
    w.gitea.slow_next_writes("/assets", 1, 700);
    w.drone.set_build_status(CI_REPO, 1, "failure");
    assert!(
        w.wait_for(T, || w.gitea.statuses(REPO, SHA).len() == 2)
            .await
    );
    let names: Vec<String> = w
        .gitea
        .assets(report_id(&w))
        .into_iter()
        .map(|a| a.name)
        .collect();
    assert_eq!(names, ["screenshot.png", "browser-1.png"], "each once");
    assert!(w.gitea.slow_in_flight() == 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_upload_still_leaves_the_report_and_its_status() {
    let w = World::new();
    w.gitea.set_max_asset_bytes(8);
    let _b = w.start().await;
    followed_build(&w).await;
    write_results_with_screenshots(&w);
    w.drone.set_build_status(CI_REPO, 1, "failure");
    assert!(
        w.wait_for(T, || w.gitea.statuses(REPO, SHA).len() == 2)
            .await
    );
    assert_eq!(w.gitea.statuses(REPO, SHA)[1].state, "failure");
    let body = w.gitea.comment_body(report_id(&w)).expect("report");
    assert!(body.starts_with("❌ CI run for **custom-html**"), "{body}");
    assert!(!body.contains("/attachments/"), "{body}");
    assert!(w.gitea.assets(report_id(&w)).is_empty());
}
