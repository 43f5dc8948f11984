//! Benchmarks of the bridge's performance budgets, against the fakes with 1 org,
//! 300 enrolled repositories and 5 open PRs each. Ignored by default (they
//! take minutes); run them with
//!
//! ```text
//! cargo test --test bridge_bench -- --ignored --nocapture --test-threads=1
//! ```
//!
//! and read the numbers they print. Each also asserts its goal.

mod support;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ccci::bridge::Tuning;
use support::bridge_world::{
    BOT, CI_REPO, FORK, REPO, Running, World, hook_payload, sign, wait_for,
};
use support::drone_webhook::DRONE_HOOK_SECRET;

fn big_world() -> World {
    let repos: Vec<(String, String)> = (0..300)
        .map(|i| (format!("coop-cloud/r{i:03}"), format!("r{i:03}")))
        .collect();
    let refs: Vec<(&str, &str)> = repos
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let w = World::with_repos(&refs);
    for (r, _) in &repos {
        for pr in 1..=5u64 {
            let sha = format!("{:040x}", 0xbeef_0000_u64 + pr);
            w.gitea.add_pr(r, pr, &sha, None);
        }
    }
    w
}

fn p95(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(|a, b| a.total_cmp(b));
    let at = |q: f64| v[((v.len() as f64 * q).ceil() as usize).clamp(1, v.len()) - 1];
    (at(0.5), at(0.95), v[v.len() - 1])
}

/// The sweep at start-up reads all 300 repositories once; wait for it.
async fn after_startup_sweep(w: &World) {
    assert!(
        wait_for(Duration::from_secs(60), || w
            .gitea
            .count("GET", "/issues/comments")
            >= 300)
        .await
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark"]
async fn bench_gitea_requests_per_steady_state_cycle() {
    let mut w = big_world();
    w.tuning.poll_interval = Duration::from_millis(100);
    let _b = w.start().await;
    after_startup_sweep(&w).await;
    w.gitea.clear_requests();
    // Wall-clock on purpose: what is measured is requests per elapsed cycle.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let total = w.gitea.request_count();
    let cycles = w.gitea.count("GET", "/activities/feeds");
    let per_cycle = total as f64 / cycles as f64;
    println!(
        "BENCH requests per steady-state cycle: {per_cycle:.2} ({total} Gitea requests in {cycles} cycles; 300 repos x 5 PRs; per-PR polling would need 1800)"
    );
    assert!(cycles >= 20);
    assert_eq!(total, cycles, "exactly one request per cycle");
}

/// A histogram's `_count` and `_sum` from the bridge's `/metrics` text.
fn histogram(text: &str, family: &str) -> (u64, u64) {
    let value = |suffix: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{family}_{suffix} ")))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (value("count"), value("sum"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark"]
async fn bench_trigger_latency_at_a_1s_interval() {
    let mut w = big_world();
    w.tuning.poll_interval = Duration::from_secs(1);
    let b = w.start().await;
    after_startup_sweep(&w).await;
    let feed_polls = w.gitea.count("GET", "/activities/feeds");
    let t_steady = Instant::now();
    let mut samples = Vec::new();
    let mut seed = 0x1234_5678_9abc_def1_u64;
    for i in 0..40u64 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        // Comments arrive at any phase of the poll cycle.
        tokio::time::sleep(Duration::from_millis(seed % 1000)).await;
        let repo = format!("coop-cloud/r{:03}", (i * 7) % 300);
        let pr = 1 + (i % 5);
        let before = w.builds().len();
        let t0 = Instant::now();
        w.gitea.comment(&repo, pr, "alice", "!testme");
        assert!(wait_for(Duration::from_secs(10), || w.builds().len() > before).await);
        samples.push(t0.elapsed().as_secs_f64());
    }
    let (p50, p95v, max) = p95(samples);
    let (count, sum_ms) = histogram(
        &b.metrics.render(),
        "ccci_bridge_trigger_latency_milliseconds",
    );
    let polls = w.gitea.count("GET", "/activities/feeds") - feed_polls;
    println!(
        "BENCH trigger latency (feed, 1 s interval, 40 comments): p50 {p50:.3} s, p95 {p95v:.3} s, max {max:.3} s; the bridge's own metric (heard to created): {count} triggers, mean {:.1} ms; {polls} feed polls in {:.1} s",
        sum_ms as f64 / count.max(1) as f64,
        t_steady.elapsed().as_secs_f64()
    );
    assert_eq!(count, 40);
    assert!(p95v <= 1.5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark"]
async fn bench_webhook_trigger_latency() {
    let mut w = big_world();
    w.webhook = true;
    w.tuning.poll_interval = Duration::from_secs(2);
    // Only the webhook can see these comments: the path measured is the hook's.
    w.gitea.hide_activity("alice");
    let b = w.start().await;
    after_startup_sweep(&w).await;
    let client = reqwest::Client::new();
    let mut samples = Vec::new();
    for i in 0..50u64 {
        let repo = format!("coop-cloud/r{:03}", (i * 11) % 300);
        let pr = 1 + (i % 5);
        let before = w.builds().len();
        let id = w.gitea.comment(&repo, pr, "alice", "!testme");
        let body = hook_payload(&w.gitea, id, &repo, pr, "alice");
        let t0 = Instant::now();
        let status = client
            .post(format!("{}/hook", b.url()))
            .header("X-Gitea-Event", "issue_comment")
            .header("X-Gitea-Signature", sign(&body))
            .body(body)
            .send()
            .await
            .expect("delivered")
            .status();
        assert_eq!(status, 202);
        assert!(wait_for(Duration::from_secs(10), || w.builds().len() > before).await);
        samples.push(t0.elapsed().as_secs_f64());
    }
    let (p50, p95v, max) = p95(samples);
    println!(
        "BENCH webhook delivery to build created (50 comments): p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms",
        p50 * 1000.0,
        p95v * 1000.0,
        max * 1000.0
    );
    assert!(p95v < 0.5);
    let _ = (BOT, CI_REPO);
}

/// Build end → final report, `n` builds one after another: each a new PR's
/// `!testme`, acknowledged and followed, then ended green; the time from the
/// end to the final commit status. Returns the samples in seconds.
async fn report_latencies(w: &World, b: &Running, n: u64) -> Vec<f64> {
    let phase_ms = w.tuning.poll_interval.as_millis() as u64;
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    let mut samples = Vec::new();
    for i in 0..n {
        let pr = 100 + i;
        let sha = format!("{:040x}", 0xabc0_0000_u64 + i);
        w.gitea.add_pr(REPO, pr, &sha, Some(FORK));
        let before = w.builds().len();
        w.gitea.comment(REPO, pr, "alice", "!testme");
        assert!(wait_for(Duration::from_secs(20), || w.builds().len() > before).await);
        let number = w.builds()[before]["number"].as_i64().expect("number");
        assert!(
            wait_for(Duration::from_secs(20), || !w
                .gitea
                .comments_by(REPO, pr, BOT)
                .is_empty())
            .await
        );
        // The loop finishes the round that posted the comment (and follows
        // the build) before it starts another.
        let at = b.progress();
        b.until(|p| p != &at).await;
        // Builds end at any phase of the follow's timer.
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        tokio::time::sleep(Duration::from_millis(seed % phase_ms.max(1))).await;
        w.write_results(number as u64, &sha, true, "green");
        let t0 = Instant::now();
        w.drone.set_build_status(CI_REPO, number, "success");
        assert!(
            wait_for(Duration::from_secs(20), || w
                .gitea
                .statuses(REPO, &sha)
                .iter()
                .any(|s| s.state == "success"))
            .await
        );
        samples.push(t0.elapsed().as_secs_f64());
    }
    samples
}

/// The production timings for a 2 s poll interval.
fn production_tuning(w: &World) -> Tuning {
    let mut c = w.config();
    c.poll_interval_secs = 2;
    Tuning::from_config(&c)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark"]
async fn bench_build_end_to_report_with_the_drone_hook() {
    let mut w = World::new();
    w.drone_hook = true;
    w.tuning = production_tuning(&w);
    // Only the build event can report in time: the follow looks once, at start.
    w.tuning.follow_interval = Duration::from_secs(3600);
    let b = w.start().await;
    w.drone
        .set_webhook(&format!("{}/drone-hook", b.url()), DRONE_HOOK_SECRET);
    b.until(|p| p.follow_rounds >= 1).await;
    let samples = report_latencies(&w, &b, 30).await;
    let (p50, p95v, max) = p95(samples);
    println!(
        "BENCH build end to final report, Drone webhook (30 builds): p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms",
        p50 * 1000.0,
        p95v * 1000.0,
        max * 1000.0
    );
    assert!(p95v <= 2.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark"]
async fn bench_build_end_to_report_by_polling() {
    let mut w = World::new();
    w.tuning = production_tuning(&w);
    let interval = w.tuning.follow_interval.as_secs_f64();
    let b = w.start().await;
    let samples = report_latencies(&w, &b, 30).await;
    let (p50, p95v, max) = p95(samples);
    println!(
        "BENCH build end to final report, polling every {interval:.0} s (30 builds): p50 {p50:.3} s, p95 {p95v:.3} s, max {max:.3} s"
    );
    assert!(p95v <= interval);
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmRSS")
}

/// The real `ccci bridge` binary, its own process, so RSS is the bridge's alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark"]
async fn bench_rss_of_the_bridge_process_after_1000_cycles() {
    let w = big_world();
    let dir = tempfile::tempdir().expect("dir");
    let creds = dir.path().join("creds");
    std::fs::create_dir(&creds).expect("creds");
    std::fs::write(creds.join("gitea_token"), support::fake_gitea::GITEA_TOKEN).expect("token");
    std::fs::write(creds.join("drone_token"), w.drone.token()).expect("token");
    let config = dir.path().join("bridge.json");
    let mut f = std::fs::File::create(&config).expect("config");
    f.write_all(&serde_json::to_vec_pretty(&w.config()).expect("json"))
        .expect("write");
    drop(f);
    let mut child = Command::new(env!("CARGO_BIN_EXE_ccci"))
        .args(["bridge", "--config"])
        .arg(&config)
        .arg("--state-dir")
        .arg(w.state.path())
        .env("CREDENTIALS_DIRECTORY", &creds)
        .env("CCCI_BRIDGE_POLL_MS", "5")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn ccci bridge");
    let pid = child.id();
    after_startup_sweep(&w).await;
    let start_rss = rss_kib(pid);
    let t0 = Instant::now();
    let base = w.gitea.count("GET", "/activities/feeds");
    assert!(
        wait_for(Duration::from_secs(120), || w
            .gitea
            .count("GET", "/activities/feeds")
            >= base + 1000)
        .await
    );
    let rss = rss_kib(pid);
    let took = t0.elapsed();
    let _ = child.kill();
    let _ = child.wait();
    println!(
        "BENCH RSS of `ccci bridge` (debug build): {:.1} MiB after the start-up sweep, {:.1} MiB after 1000 more cycles ({:.1} s)",
        start_rss as f64 / 1024.0,
        rss as f64 / 1024.0,
        took.as_secs_f64()
    );
    assert!(rss < 30 * 1024);
}
