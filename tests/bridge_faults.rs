//! Fault injection: the bridge is killed at random instants, many times, while
//! comments keep arriving and builds finish; in the end every comment fired
//! exactly once (one build, one "started" comment, one report per PR; one
//! refusal per non-member command; one reply per command a push in the same
//! second made ambiguous; nothing at all for a comment edited into a command
//! within its second), also when a server was still acting on a call when
//! the bridge died. Some commands sit on line 20 of a long comment, past
//! what the feed row shows.
//!
//! The bridge runs in-process and is killed by aborting its task: the abort
//! lands at whatever await point it is at (between any two HTTP calls, after
//! a request was sent but before its answer was read), which is where a real
//! SIGKILL would leave remote effects half-done. Each life ends right after a
//! random number of requests reached the fakes (each answer is delayed, so
//! the bridge is still waiting for it), or at a random instant. What an abort cannot cut is a
//! ledger write, which is synchronous; that it survives a kill mid-write is
//! the job of the temp file + fsync + rename, unit-tested in `ledger.rs`.
//! In-process runs make 60 restarts take seconds, with a seeded, repeatable
//! schedule.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use support::bridge_world::{BOT, CI_REPO, REPO, World};
use support::fake_gitea::now_secs;

/// A small, seeded generator: the schedule is the same on every run.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn sha(pr: u64) -> String {
    format!("{:040x}", 0xabc0_0000_u64 + pr)
}

/// A review long enough that the feed row keeps only its first lines, with
/// the command on line 20.
fn long_review() -> String {
    let mut lines: Vec<String> = (1..20)
        .map(|i| format!("Line {i} of the review, with a remark or two."))
        .collect();
    lines.push("!testme".into());
    lines.join("\n")
}

/// Lives ended by a kill at a random instant.
const RESTARTS: u64 = 100;
/// Lives more, each ended by a kill while a "started" comment is being
/// posted: the narrowest window, hit on purpose rather than by luck.
const AIMED: u64 = 10;

/// Requests both fakes received so far.
fn requests(w: &World) -> usize {
    w.gitea.request_count() + w.drone.requests().len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_and_restarted_a_hundred_times_every_comment_fires_exactly_once() {
    let mut w = World::new();
    // Well past the slowest write below (on a loaded machine a request also
    // arrives late): a job whose call may still be in the server's hands
    // waits that long before looking for it.
    w.tuning.settle = Duration::from_millis(300);
    // Spread each job over several milliseconds so kills land inside jobs.
    w.gitea.set_latency_ms(2);
    w.drone.set_latency_ms(3);
    let mut rng = XorShift(0x5eed_cafe_f00d_1234);
    let mut next_pr = 10u64;
    let mut posted: Vec<u64> = Vec::new();
    // PRs where a non-member asked: one refusal each, no build.
    let mut refused: Vec<u64> = Vec::new();
    // PRs pushed to in the second of the command, after it: one reply each.
    let mut pushed: Vec<u64> = Vec::new();
    // PRs with a comment edited into a command within its second: nothing.
    let mut edited: Vec<(u64, u64)> = Vec::new();
    // PRs with two commands taken in together: one build, one reply for
    // the older.
    let mut pairs: Vec<u64> = Vec::new();
    let mut long_commands = 0;
    // Lives that began with a finished build still to be reported.
    let mut reports_owed = 0;
    // Lives in which a create or a post was still being processed by the
    // server when the bridge died (its answer lost after the server acted).
    let mut slow_lives = 0;
    let mut resumed_with_work = 0;
    // Which step the kills interrupted (job stage as the next life finds it).
    let mut cut_at: BTreeMap<String, u32> = BTreeMap::new();
    for life in 0..RESTARTS + AIMED {
        let aimed = life % 11 == 5;
        // What the previous life left half-done, as the next one finds it.
        let ledger =
            std::fs::read_to_string(w.state.path().join("ledger.json")).unwrap_or_default();
        let ledger: serde_json::Value = serde_json::from_str(&ledger).unwrap_or_default();
        let jobs = ledger["jobs"].as_object().cloned().unwrap_or_default();
        if !jobs.is_empty() {
            resumed_with_work += 1;
        }
        let finished: Vec<String> = w
            .builds()
            .iter()
            .filter(|b| b["status"] == "success")
            .map(|b| b["number"].to_string())
            .collect();
        if let Some(f) = ledger["following"].as_object()
            && f.keys().any(|n| finished.contains(n))
        {
            reports_owed += 1;
        }
        for job in jobs.values() {
            let stage = &job["stage"];
            let mut key = stage["step"].as_str().unwrap_or("?").to_owned();
            for flag in ["posting", "sent"] {
                if stage[flag] == true {
                    key = format!("{key}+{flag}");
                }
            }
            *cut_at.entry(key).or_insert(0u32) += 1;
        }
        // Some lives meet a busy server: the next create and the next post
        // take effect only after the kill may have come.
        let slow = rng.below(3) == 0;
        let slow_ms = 20 + rng.below(50);
        if slow {
            w.drone.slow_next_writes("/builds", 1, slow_ms);
            w.gitea.slow_next_writes("/comments", 1, slow_ms);
            slow_lives += 1;
        }
        let posted_before = posted.len();
        let bridge = w.start().await;
        if rng.below(3) == 0 {
            w.gitea.add_pr(REPO, next_pr, &sha(next_pr), None);
            w.gitea.comment(REPO, next_pr, "mallory", "!testme");
            refused.push(next_pr);
            next_pr += 1;
        }
        for _ in 0..rng.below(2) + u64::from(rng.below(3) == 0) {
            w.gitea.add_pr(REPO, next_pr, &sha(next_pr), None);
            let body = if rng.below(4) == 0 {
                long_commands += 1;
                long_review()
            } else {
                "!testme".to_owned()
            };
            w.gitea.comment(REPO, next_pr, "alice", &body);
            posted.push(next_pr);
            next_pr += 1;
        }
        // Half the busy lives slow the "started" comment of this life's
        // command itself (not the reaction or a report edit before it), so
        // kills land while it is being posted.
        if rng.below(2) == 0
            && slow
            && let Some(pr) = posted.get(posted_before)
        {
            w.gitea
                .slow_next_writes(&format!("/issues/{pr}/comments"), 1, slow_ms);
        }
        if rng.below(8) == 0 {
            w.gitea.add_pr(REPO, next_pr, &sha(next_pr), None);
            w.gitea.comment(REPO, next_pr, "alice", "!testme");
            w.gitea.comment(REPO, next_pr, "alice", "!testme");
            pairs.push(next_pr);
            next_pr += 1;
        }
        if rng.below(6) == 0 {
            w.gitea.add_pr(REPO, next_pr, &sha(next_pr), None);
            let now = now_secs();
            w.gitea.comment_at(REPO, next_pr, "alice", "!testme", now);
            w.gitea.push_at(REPO, next_pr, &sha(next_pr + 5000), now);
            pushed.push(next_pr);
            next_pr += 1;
        }
        if rng.below(6) == 0 {
            w.gitea.add_pr(REPO, next_pr, &sha(next_pr), None);
            let now = now_secs();
            let id = w
                .gitea
                .comment_at(REPO, next_pr, "alice", "looks good", now);
            w.gitea.edit(id, "!testme", now);
            edited.push((next_pr, id));
            next_pr += 1;
        }
        // Finish some builds (with results) so reports happen across kills too.
        for b in w.builds() {
            let n = b["number"].as_u64().expect("number");
            if b["status"] == "pending" && rng.below(3) == 0 {
                let git_ref = World::params(&b)["REF"].clone();
                w.write_results(n, &git_ref, true, "green");
                w.drone.set_build_status(CI_REPO, n as i64, "success");
            }
        }
        // Kill right after the k-th request reached a fake (its effect is
        // done, its answer not yet read: the "call made, answer lost"
        // window), or at a random instant if fewer came by then.
        let k = rng.below(30) as usize;
        let base = requests(&w);
        let deadline = Duration::from_millis(rng.below(80));
        if aimed {
            // A fresh command whose "started" comment (or, every other time,
            // whose refusal reply) the server is still posting when the
            // bridge dies: random kills alone reach these windows only now
            // and then.
            let refusal = (life / 11) % 2 == 1;
            w.gitea.add_pr(REPO, next_pr, &sha(next_pr), None);
            w.gitea
                .slow_next_writes(&format!("/issues/{next_pr}/comments"), 1, 150);
            if refusal {
                w.gitea.comment(REPO, next_pr, "mallory", "!testme");
                refused.push(next_pr);
            } else {
                w.gitea.comment(REPO, next_pr, "alice", "!testme");
                posted.push(next_pr);
            }
            next_pr += 1;
            w.wait_for(Duration::from_secs(5), || w.gitea.slow_in_flight() >= 1)
                .await;
        } else {
            w.wait_for(deadline, || requests(&w) >= base + k).await;
        }
        bridge.kill().await;
    }
    // A last life without kills: everything still owed gets done.
    let bridge = w.start().await;
    let expected = posted.len() + pairs.len();
    assert!(
        expected >= 40,
        "the schedule posts enough comments ({expected})"
    );
    assert!(
        w.wait_for(Duration::from_secs(30), || {
            w.builds().len() >= expected
                && posted
                    .iter()
                    .chain(&refused)
                    .chain(&pushed)
                    .all(|pr| !w.gitea.comments_by(REPO, *pr, BOT).is_empty())
                && pairs
                    .iter()
                    .all(|pr| w.gitea.comments_by(REPO, *pr, BOT).len() >= 2)
        })
        .await,
        "every comment handled: {} builds for {expected} comments",
        w.builds().len()
    );
    // Finish every build and let the reports land.
    for b in w.builds() {
        let n = b["number"].as_u64().expect("number");
        if b["status"] == "pending" {
            let git_ref = World::params(&b)["REF"].clone();
            w.write_results(n, &git_ref, true, "green");
            w.drone.set_build_status(CI_REPO, n as i64, "success");
        }
    }
    assert!(
        w.wait_for(Duration::from_secs(30), || posted.iter().all(|pr| {
            w.gitea
                .comments_by(REPO, *pr, BOT)
                .iter()
                .all(|c| c.body.starts_with("✅"))
        }) && pairs.iter().all(|pr| {
            w.gitea
                .comments_by(REPO, *pr, BOT)
                .iter()
                .any(|c| c.body.starts_with("✅"))
        }))
        .await,
        "every report edited in place"
    );
    // What a slow server was still doing is done, and the bridge has looked
    // again since: a duplicate would show now.
    assert!(
        w.wait_for(Duration::from_secs(10), || w.drone.slow_in_flight() == 0
            && w.gitea.slow_in_flight() == 0)
            .await
    );
    bridge.quiet().await;
    bridge.quiet().await;

    let mut builds_per_pr: BTreeMap<String, usize> = BTreeMap::new();
    for b in w.builds() {
        *builds_per_pr
            .entry(World::params(&b)["PR"].clone())
            .or_default() += 1;
    }
    for pr in &posted {
        assert_eq!(
            builds_per_pr.get(&pr.to_string()),
            Some(&1),
            "PR {pr}: one build"
        );
        let mine = w.gitea.comments_by(REPO, *pr, BOT);
        assert_eq!(
            mine.len(),
            1,
            "PR {pr}: one started comment, edited into the report"
        );
        let statuses = w.gitea.statuses(REPO, &sha(*pr));
        assert_eq!(statuses.first().map(|s| s.state.as_str()), Some("pending"));
        assert_eq!(statuses.last().map(|s| s.state.as_str()), Some("success"));
    }
    assert_eq!(w.builds().len(), expected, "no build for anything else");
    for pr in &refused {
        let replies = w.gitea.comments_by(REPO, *pr, BOT);
        assert_eq!(replies.len(), 1, "PR {pr}: one refusal");
        assert!(replies[0].body.contains("not run"), "{}", replies[0].body);
    }
    for pr in &pushed {
        let replies = w.gitea.comments_by(REPO, *pr, BOT);
        assert_eq!(
            replies.len(),
            1,
            "PR {pr}: one reply for a same-second push"
        );
        assert!(
            replies[0].body.contains("pushed after the comment"),
            "{}",
            replies[0].body
        );
        assert_eq!(
            builds_per_pr.get(&pr.to_string()),
            None,
            "PR {pr}: no build"
        );
    }
    for pr in &pairs {
        assert_eq!(
            builds_per_pr.get(&pr.to_string()),
            Some(&1),
            "PR {pr}: one build"
        );
        let mine = w.gitea.comments_by(REPO, *pr, BOT);
        let coalesced = mine
            .iter()
            .filter(|c| c.body.contains("was not run on its own"))
            .count();
        assert_eq!(
            (mine.len(), coalesced),
            (2, 1),
            "PR {pr}: a report and one reply for the older command"
        );
    }
    for (pr, id) in &edited {
        assert!(
            w.gitea.comments_by(REPO, *pr, BOT).is_empty(),
            "PR {pr}: an edit within the second fires nothing"
        );
        assert!(
            w.gitea.reactions(*id).is_empty(),
            "PR {pr}: not even a reaction"
        );
        assert_eq!(
            builds_per_pr.get(&pr.to_string()),
            None,
            "PR {pr}: no build"
        );
    }
    eprintln!(
        "fault injection: {RESTARTS} random kills and {AIMED} aimed ({slow_lives} lives with a slow server), {expected} commands ({long_commands} on line 20 of a long comment) -> {} builds, {} started/report comments; {} refusals -> {} replies; {} same-second pushes, {} same-second edits, {} pairs taken in together; {resumed_with_work} restarts resumed half-done work, {reports_owed} owed a report; interrupted steps: {cut_at:?}",
        w.builds().len(),
        posted
            .iter()
            .map(|pr| w.gitea.comments_by(REPO, *pr, BOT).len())
            .sum::<usize>(),
        refused.len(),
        refused
            .iter()
            .map(|pr| w.gitea.comments_by(REPO, *pr, BOT).len())
            .sum::<usize>(),
        pushed.len(),
        edited.len(),
        pairs.len(),
    );
    assert!(!refused.is_empty() && slow_lives >= 10);
    assert!(!pushed.is_empty() && !edited.is_empty() && !pairs.is_empty() && long_commands >= 5);
    assert!(
        reports_owed >= 3,
        "kills must land while reports are owed ({reports_owed})"
    );
    for window in ["triggering+sent", "acking+posting", "replying+posting"] {
        assert!(
            cut_at.get(window).copied().unwrap_or(0) >= 1,
            "no kill landed in the {window} window: {cut_at:?}"
        );
    }
    assert!(
        resumed_with_work >= 5,
        "the kills must land inside jobs often enough to test anything ({resumed_with_work})"
    );
}
