//! Performance: a no-op reconcile of all four pieces (swarm, proxy, drone,
//! backupbot) with the fake tools must take under 1 s of ccci's own time.
//!
//! "Own time" is measured as the CPU time of the thread running the
//! reconciles (`/proc/thread-self/schedstat`), which excludes the fake
//! executables (separate processes, Python start-up dominates) and the fake
//! Drone server (its own thread). Wall time, the number of tool calls and an
//! estimate of the wall time not spent in child processes are printed too:
//! `cargo test --test reconcile_perf -- --nocapture`.

mod support;

use std::time::{Duration, Instant};

use ccci::config::parse_config;
use ccci::reconcile::{self, Tools, drone::Waits};
use support::fake_drone::FakeDrone;
use support::infra::*;

fn thread_cpu() -> Duration {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").expect("schedstat");
    let ns: u64 = text.split_whitespace().next().unwrap().parse().unwrap();
    Duration::from_nanos(ns)
}

fn all_four(i: &Infra, tools: &Tools, drone_url: &str) -> usize {
    let waits = Waits {
        health_timeout: Duration::from_secs(10),
        poll: Duration::from_millis(50),
        ..Waits::default()
    };
    let swarm = parse_config("swarm", &i.swarm_config().to_string()).unwrap();
    let proxy = parse_config("proxy", &i.proxy_config().to_string()).unwrap();
    let drone = parse_config("drone", &i.drone_config(drone_url).to_string()).unwrap();
    let backup = parse_config("backupbot", &i.backupbot_config().to_string()).unwrap();
    let mut actions = 0;
    actions += reconcile::swarm::reconcile(&swarm, tools)
        .unwrap()
        .actions
        .len();
    actions += reconcile::proxy::reconcile(&proxy, tools)
        .unwrap()
        .actions
        .len();
    actions += reconcile::drone::reconcile(&drone, tools, waits)
        .unwrap()
        .actions
        .len();
    actions += reconcile::backupbot::reconcile(&backup, tools)
        .unwrap()
        .actions
        .len();
    actions
}

#[test]
fn a_noop_reconcile_of_all_four_takes_under_a_second_of_its_own_time() {
    let i = Infra::new();
    let drone = FakeDrone::start();
    drone.add_repo("coop-cloud/ccci", true);
    let tools = i.tools();
    assert!(
        all_four(&i, &tools, &drone.url()) > 0,
        "the first run must do the work"
    );
    i.host.clear_calls();
    drone.clear_requests();

    let cpu0 = thread_cpu();
    let wall0 = Instant::now();
    let actions = all_four(&i, &tools, &drone.url());
    let wall = wall0.elapsed();
    let cpu = thread_cpu() - cpu0;

    assert_eq!(actions, 0);
    assert!(i.host.mutating_calls().is_empty());
    assert!(drone.mutating_requests().is_empty());
    let calls = i.host.calls().len();

    // The cost of one fake call on this machine right now, to estimate the
    // wall time spent outside child processes.
    let probe = Instant::now();
    for _ in 0..3 {
        i.host.docker().swarm_state().unwrap();
    }
    let per_call = probe.elapsed() / 3;
    let outside = wall.saturating_sub(per_call * calls as u32);
    println!(
        "no-op reconcile of swarm+proxy+drone+backupbot: own CPU {:.1} ms, wall {:.0} ms, \
         {calls} fake tool calls (~{:.0} ms each), {} HTTP requests, wall outside tools ~{:.0} ms",
        cpu.as_secs_f64() * 1e3,
        wall.as_secs_f64() * 1e3,
        per_call.as_secs_f64() * 1e3,
        drone.requests().len(),
        outside.as_secs_f64() * 1e3,
    );
    assert!(cpu < Duration::from_secs(1), "own CPU time {cpu:?}");
}
