//! Benchmark of a whole run with the fakes' simulated durations (deploy 5 s,
//! upgrade 5 s, backup 2 s): concurrent vs sequential lanes, how soon a run
//! notices an app became healthy, and the runtime's own CPU share; and the
//! cost of a whole run over the in-memory world (what every lane scenario in
//! tests/run_lanes.rs pays). Ignored by default (about two minutes); run with
//! `cargo test --release --test run_bench -- --ignored --nocapture`.

#[allow(dead_code)]
#[path = "support/fake_tools.rs"]
mod fake_tools;
#[path = "support/https_app.rs"]
mod https_app;
#[path = "support/mem_fixture.rs"]
mod mem_fixture;
#[path = "support/mem_world/mod.rs"]
mod mem_world;
#[path = "support/recipe_fixture.rs"]
mod recipe_fixture;
#[path = "support/run_fixture.rs"]
mod run_fixture;

use std::time::{Duration, Instant};

use ccci::registry::LaneMode;
use ccci::results::ResultsV1;
use ccci::run::abra_platform::AbraPlatform;
use ccci::run::lanes::{self, RunInputs};
use ccci::run::progress::Progress;
use run_fixture::{REPO, World, compose, pr_head, release};

fn world() -> World {
    World::new(
        vec![release("1.0.0+1.25"), release("1.1.0+1.27")],
        pr_head(compose("1.2.0+1.27", "content", "DOMAIN")),
    )
}

fn platform(w: &World, env: &[(&str, &str)]) -> AbraPlatform {
    let mut abra = w.host.abra_program();
    let mut docker = w.host.docker_program();
    for (k, v) in env {
        abra = abra.with_env(*k, *v);
        docker = docker.with_env(*k, *v);
    }
    AbraPlatform::new(
        abra,
        ccci::tools::pty::script_program(),
        ccci::tools::docker::Docker::with_program(docker),
        ccci::tools::Program::new("tar", Duration::from_secs(30)),
        Duration::from_secs(120),
    )
}

/// CPU seconds (user + system) this process has used, all threads.
fn own_cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap();
    let hz = std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .trim()
                .parse::<f64>()
                .ok()
        })
        .unwrap_or(100.0);
    ticks / hz
}

fn run(w: &World, mode: LaneMode, env: &[(&str, &str)]) -> (ResultsV1, f64, f64) {
    let p = ccci::run::production::ProductionWorld::new(platform(w, env));
    let inputs = RunInputs {
        plan: &w.plan,
        world: &p,
        probe: w.probe(),
        progress: Progress::silent(),
        git_ref: w.head.clone(),
        src: REPO.parse().unwrap(),
        pr: Some(1),
        work_dir: w.out.join(format!("work-{mode:?}")),
        out_dir: w.out.join(format!("out-{mode:?}")),
        lanes: mode,
        poll: Duration::from_millis(250),
        backup_attempts: 3,
        run_id: "bench0000001".into(),
        git_base: w.git_base.clone(),
        cancel: Default::default(),
    };
    let cpu0 = own_cpu_secs();
    let t = Instant::now();
    let out = lanes::execute(&inputs);
    let wall = t.elapsed().as_secs_f64();
    (out.results, wall, own_cpu_secs() - cpu0)
}

const DURATIONS: [(&str, &str); 2] = [
    ("CCCI_FAKE_DEPLOY_MS", "5000"),
    ("CCCI_FAKE_BACKUP_MS", "2000"),
];

#[test]
#[ignore]
fn bench_concurrent_lanes_against_sequential() {
    let w = world();
    let (rc, conc, cpu_c) = run(&w, LaneMode::Concurrent, &DURATIONS);
    assert!(rc.green, "{:#?}", rc.rungs);
    let w2 = world();
    let (rs, seq, cpu_s) = run(&w2, LaneMode::Sequential, &DURATIONS);
    assert!(rs.green, "{:#?}", rs.rungs);
    let ratio = conc / seq;
    println!(
        "BENCH full run, concurrent lanes: {conc:.1} s wall, {cpu_c:.2} s own CPU ({:.1} %)",
        100.0 * cpu_c / conc
    );
    println!(
        "BENCH full run, sequential lanes: {seq:.1} s wall, {cpu_s:.2} s own CPU ({:.1} %)",
        100.0 * cpu_s / seq
    );
    println!("BENCH concurrent / sequential = {ratio:.2} (target <= 0.60)");
    assert!(
        ratio <= 0.6,
        "concurrent lanes took {ratio:.2} of the sequential time"
    );
    assert!(
        cpu_c / conc < 0.05,
        "own CPU {:.1} % of the run",
        100.0 * cpu_c / conc
    );
}

#[test]
#[ignore]
fn bench_notices_healthy_within_a_second() {
    let w = world();
    let converge_s = 3.0;
    let (r, _, _) = run(
        &w,
        LaneMode::Concurrent,
        &[("CCCI_FAKE_CONVERGE_MS", "3000")],
    );
    assert!(r.green, "{:#?}", r.rungs);
    let mut worst: f64 = 0.0;
    for c in r
        .checks
        .iter()
        .filter(|c| c.name.contains("healthy") && !c.name.contains("restore"))
    {
        let after: f64 = c
            .detail
            .rsplit("(after ")
            .next()
            .unwrap()
            .trim_end_matches(" s)")
            .parse()
            .unwrap();
        let latency = after - converge_s;
        println!(
            "BENCH {} ({:?}): healthy {after:.2} s after the deploy returned, {latency:.2} s after convergence",
            c.name, c.lane
        );
        worst = worst.max(latency);
    }
    println!("BENCH worst notice latency: {worst:.2} s (target < 1 s)");
    assert!(worst < 1.0);
}

#[test]
#[ignore]
fn bench_in_memory_runs() {
    const N: u32 = 50;
    let mut walls = Vec::new();
    for mode in [LaneMode::Concurrent, LaneMode::Sequential] {
        let t = Instant::now();
        for _ in 0..N {
            let sc = mem_fixture::Scenario::green();
            let (r, _) = sc.run(mode);
            assert!(r.green, "{:#?}", r.rungs);
        }
        let per_run = t.elapsed().as_secs_f64() * 1000.0 / f64::from(N);
        println!("BENCH in-memory green run, {mode:?} lanes: {per_run:.1} ms per run");
        walls.push(per_run);
    }
    // A lane scenario must stay cheap enough to write many of them.
    assert!(walls.iter().all(|ms| *ms < 500.0), "{walls:?}");
}
