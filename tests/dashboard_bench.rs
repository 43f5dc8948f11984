//! Dashboard timings with 10,000 runs on disk: a full rebuild (< 5 s) and the
//! incremental update after one more run (< 50 ms). Ignored by default (it
//! writes ~40,000 files); run with
//! `cargo nextest run --release --test dashboard_bench --run-ignored only`.

mod dashboard_support;

use std::time::Instant;

use ccci::dashboard::{rebuild, update};
use dashboard_support::*;

#[test]
#[ignore = "benchmark: writes 10,000 runs"]
fn ten_thousand_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let runs = tmp.path().join("runs");
    let site = tmp.path().join("site");
    let recipes = ["custom-html", "keycloak", "nextcloud", "gaseous"];
    for i in 0..10_000u64 {
        let recipe = recipes[(i % 4) as usize];
        let r = run_of(recipe, i % 5 != 0, 10_000_000 - i as i64 * 60, i);
        write_run(&runs, &format!("{}", 1000 + i), &r, false);
    }
    let opts = options(&runs, &site);
    let t = Instant::now();
    let full = rebuild(&opts).unwrap();
    let full_t = t.elapsed();
    assert_eq!(full.added, 10_000);
    let t = Instant::now();
    let again = rebuild(&opts).unwrap();
    let again_t = t.elapsed();
    assert!(again.log.written.is_empty());
    // Several updates, one new run each (two recipes in turn): the median is
    // the figure, so one scheduling hiccup on a shared machine does not decide.
    let mut times = Vec::new();
    let mut files = 0;
    for k in 0..7u64 {
        let recipe = ["keycloak", "gaseous"][(k % 2) as usize];
        write_run(
            &runs,
            &format!("{}", 20_000 + k),
            &run_of(recipe, true, 5, 20_000 + k),
            false,
        );
        let t = Instant::now();
        let inc = update(&opts).unwrap();
        times.push(t.elapsed());
        assert_eq!(inc.added, 1);
        assert!(!inc.rebuilt);
        files = inc.log.written.len();
    }
    let mut sorted = times.clone();
    sorted.sort();
    let inc_t = sorted[sorted.len() / 2];
    eprintln!(
        "full rebuild of 10,000 runs: {full_t:?} ({} files); unchanged rebuild: {again_t:?}; \
         incremental after one run: median {inc_t:?} of {times:?} ({files} files)",
        full.log.written.len(),
    );
    assert!(full_t.as_secs_f64() < 5.0, "full rebuild took {full_t:?}");
    assert!(inc_t.as_millis() < 50, "incremental took {inc_t:?}");
}
