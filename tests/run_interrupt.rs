//! Stopping `ccci run` from outside, over the in-memory world: a signal or
//! the parent's death (both set the run's cancellation token) at random
//! points of a whole run, and the plan's deadline on the virtual clock.
//! Every app is torn down exactly once, nothing is left, and the rung that
//! was running is `unverified` with the reason. The same with real signals
//! through the binary: tests/run_cli_signals.rs.

#[path = "support/mem_fixture.rs"]
mod mem_fixture;
#[path = "support/mem_world/mod.rs"]
mod mem_world;
#[path = "support/recipe_fixture.rs"]
mod recipe_fixture;

use ccci::registry::{LaneMode, Rung};
use ccci::results::{ResultsV1, Status};
use ccci::run::interrupt::Cancel;
use ccci::run::progress::Progress;
use ccci::run::stop::PARENT_GONE;
use mem_fixture::Scenario;
use mem_world::Call;

/// How many check points a whole green run passes (each is a place an
/// interruption can land).
fn check_points(mode: LaneMode) -> u64 {
    let c = Cancel::new();
    let (r, _) = Scenario::green().run_cancellable(mode, Progress::silent(), c.clone());
    assert!(r.green);
    c.checks()
}

fn assert_torn_down_once(sc: &Scenario) {
    let calls = sc.world.calls();
    let mut news: Vec<&String> = calls
        .iter()
        .filter_map(|c| match c {
            Call::AppNew { domain, .. } => Some(domain),
            _ => None,
        })
        .collect();
    let mut downs: Vec<&String> = calls
        .iter()
        .filter_map(|c| match c {
            Call::Teardown { domain } => Some(domain),
            _ => None,
        })
        .collect();
    news.sort();
    downs.sort();
    let once: std::collections::BTreeSet<_> = downs.iter().collect();
    assert_eq!(
        once.len(),
        downs.len(),
        "no app is torn down twice: {downs:?}"
    );
    // An app whose creation the interruption refused is still torn down
    // (the lane cannot know how far abra got).
    assert!(
        news.iter().all(|d| once.contains(d)),
        "every app created is torn down: {news:?} vs {downs:?}"
    );
    sc.assert_nothing_left();
}

fn assert_stopped_for(r: &ResultsV1, why: &str) {
    assert!(!r.green);
    assert!(
        r.rungs
            .values()
            .any(|x| x.status == Status::Unverified && x.reason == why),
        "a rung is unverified with {why:?}: {:#?}",
        r.rungs
    );
    assert!(
        r.rungs.values().all(|x| x.status != Status::Fail),
        "an interruption is never the recipe's failure: {:#?}",
        r.rungs
    );
}

/// A small deterministic generator: the points differ, the test repeats.
fn points(seed: u64, n: u64, count: usize) -> Vec<u64> {
    let mut x = seed;
    (0..count)
        .map(|_| {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            1 + (x >> 33) % n
        })
        .collect()
}

fn interrupt_at_random_points(why: &str, seed: u64) {
    let mut landed = 0;
    for (i, mode) in [LaneMode::Concurrent, LaneMode::Sequential]
        .into_iter()
        .enumerate()
    {
        let n = check_points(mode);
        assert!(n > 20, "a green run passes {n} check points");
        for at in points(seed + i as u64, n, 14) {
            let sc = Scenario::green();
            let c = Cancel::new();
            c.trip_after_checks(at, why);
            let (r, _) = sc.run_cancellable(mode, Progress::silent(), c.clone());
            if c.reason().is_some() {
                landed += 1;
                assert_stopped_for(&r, why);
            } else {
                // Concurrent lanes share the virtual clock, so a run may
                // pass fewer check points than the measured one: this
                // interruption came after the end.
                assert!(r.green, "{:#?}", r.rungs);
            }
            assert_torn_down_once(&sc);
        }
    }
    assert!(
        landed >= 24,
        "only {landed} interruptions landed inside a run"
    );
}

#[test]
fn sigterm_at_24_random_points_tears_everything_down() {
    interrupt_at_random_points("interrupted by SIGTERM", 7);
}

#[test]
fn sigint_at_24_random_points_tears_everything_down() {
    interrupt_at_random_points("interrupted by SIGINT", 11);
}

#[test]
fn the_parent_shell_dying_at_24_random_points_tears_everything_down() {
    interrupt_at_random_points(PARENT_GONE, 13);
}

#[test]
fn a_second_signal_keeps_the_first_reason_and_the_teardown() {
    let sc = Scenario::green();
    let c = Cancel::new();
    c.trip_after_checks(12, "interrupted by SIGTERM");
    let (r, _) = sc.run_cancellable(LaneMode::Sequential, Progress::silent(), c.clone());
    c.cancel("interrupted by SIGINT");
    assert_stopped_for(&r, "interrupted by SIGTERM");
    assert_torn_down_once(&sc);
}

#[test]
fn the_deadline_stops_a_wait_and_tears_down_in_time() {
    // A recipe that takes longer than the deadline to start (no task
    // fails): without the deadline the wait would last the deploy timeout.
    let mut sc = Scenario::green();
    sc.world.knobs.converge_delay = std::time::Duration::from_secs(10_000);
    sc.plan.timeouts.deploy_secs = 900;
    sc.plan.timeouts.deadline_secs = 400;
    let start = sc.world.state().elapsed;
    let (r, _) = sc.run(LaneMode::Concurrent);
    let took = sc.world.state().elapsed - start;
    let (_, why) = ccci::run::interrupt::step_deadline(400).unwrap();
    assert_eq!(r.rungs[&Rung::Install].status, Status::Unverified);
    assert_eq!(r.rungs[&Rung::Install].reason, why);
    assert!(
        took.as_secs() <= 300 + 1,
        "the steps stop at the step deadline, not the deploy timeout ({took:?})"
    );
    assert_torn_down_once(&sc);
}
