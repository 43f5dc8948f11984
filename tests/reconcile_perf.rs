//! Performance: a no-op reconcile of all four pieces (swarm, proxy, drone,
//! backupbot) must take under 1 s of ccci's own time, and make few tool
//! calls (on a host each one is a process: abra, docker or git).
//!
//! The reconciles run in the in-memory world, so everything the measured
//! thread does is ccci's own work (looking, deciding, the Drone HTTP client);
//! "own time" is the CPU time of that thread (`/proc/thread-self/schedstat`),
//! which excludes the fake Drone server (its own thread). Print the numbers
//! with `cargo test --test reconcile_perf -- --nocapture`.

mod support;

use std::time::{Duration, Instant};

use ccci::reconcile::drone::Waits;
use support::fake_drone::FakeDrone;
use support::infra::*;

/// Tool calls a no-op reconcile of all four may make: per app the recipe
/// checkout (git), its secrets and its services (docker), plus the swarm
/// state and the networks.
const NOOP_CALL_BUDGET: usize = 11;

fn thread_cpu() -> Duration {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").expect("schedstat");
    let ns: u64 = text.split_whitespace().next().unwrap().parse().unwrap();
    Duration::from_nanos(ns)
}

fn all_four(i: &MemInfra, drone_url: &str) -> usize {
    let waits = Waits {
        health_timeout: Duration::from_secs(10),
        poll: Duration::from_millis(50),
        ..Waits::default()
    };
    let mut actions = 0;
    actions += done(i.reconcile("swarm", &i.swarm_config())).actions.len();
    actions += done(i.reconcile("proxy", &i.proxy_config())).actions.len();
    actions += done(i.reconcile_drone(&i.drone_config(drone_url), waits))
        .actions
        .len();
    actions += done(i.reconcile("backupbot", &i.backupbot_config()))
        .actions
        .len();
    actions
}

#[test]
fn a_noop_reconcile_of_all_four_takes_under_a_second_of_its_own_time() {
    let i = MemInfra::new();
    let drone = FakeDrone::start();
    drone.add_repo("coop-cloud/ccci", true);
    assert!(
        all_four(&i, &drone.url()) > 0,
        "the first run must do the work"
    );
    i.clear_calls();
    drone.clear_requests();

    let cpu0 = thread_cpu();
    let wall0 = Instant::now();
    let actions = all_four(&i, &drone.url());
    let wall = wall0.elapsed();
    let cpu = thread_cpu() - cpu0;

    assert_eq!(actions, 0);
    assert!(i.mutations().is_empty());
    assert!(drone.mutating_requests().is_empty());
    let calls = i.calls();
    println!(
        "no-op reconcile of swarm+proxy+drone+backupbot: own CPU {:.1} ms, wall {:.0} ms, \
         {} tool calls, {} HTTP requests",
        cpu.as_secs_f64() * 1e3,
        wall.as_secs_f64() * 1e3,
        calls.len(),
        drone.requests().len(),
    );
    assert!(cpu < Duration::from_secs(1), "own CPU time {cpu:?}");
    assert!(
        calls.len() <= NOOP_CALL_BUDGET,
        "a no-op made {} tool calls: {calls:#?}",
        calls.len()
    );
}
