//! A runs directory of many runs across recipes, as `ccci run` leaves them:
//! green, red, unverified, skipped rungs, missing artifacts, corrupt results.
#![allow(dead_code)]

use std::path::Path;

use ccci::dashboard::Options;
use ccci::registry::Rung;
use ccci::results::{ResultsV1, RungResult, Status};

#[path = "../results_example/mod.rs"]
pub mod results_example;

/// 2026-12-01T00:00:00Z: every fixture run started before it.
pub const NOW: i64 = 1_796_083_200;

pub fn at(secs_before_now: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(NOW - secs_before_now).unwrap();
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

/// Write one run into `<runs>/<rel>/` with every artifact unless `bare`.
pub fn write_run(runs: &Path, rel: &str, r: &ResultsV1, bare: bool) {
    let dir = runs.join(rel);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("results.json"),
        serde_json::to_vec_pretty(r).unwrap(),
    )
    .unwrap();
    if !bare {
        std::fs::write(dir.join("summary.md"), ccci::report::summary_md(r)).unwrap();
        std::fs::write(dir.join("junit.xml"), "<testsuites/>\n").unwrap();
        std::fs::write(dir.join("lint.txt"), "R014: no healthcheck\n").unwrap();
    }
}

pub fn run_of(recipe: &str, green: bool, secs_ago: i64, n: u64) -> ResultsV1 {
    let mut r = if green {
        results_example::green()
    } else {
        results_example::red()
    };
    r.recipe = recipe.parse().unwrap();
    r.src = format!("coop-cloud/{recipe}").parse().unwrap();
    r.run_id = format!("{recipe}-{n:06}");
    r.started_at = at(secs_ago);
    r.git_ref = format!("{:07x}{}", 0x9fc1000 + n, "e".repeat(33));
    r
}

/// The fixture: three recipes and unreadable runs, in both layouts.
pub fn fixture(runs: &Path) {
    // custom-html: a green history, the latest skips upgrade.
    for i in 0..5u64 {
        write_run(
            runs,
            &format!("{}", 10 + i),
            &run_of("custom-html", true, 86_400 * (5 - i as i64), i),
            false,
        );
    }
    // keycloak: latest red; one older run without artifacts but results.
    write_run(
        runs,
        "keycloak/000001",
        &run_of("keycloak", true, 7200, 1),
        true,
    );
    write_run(
        runs,
        "keycloak/000002",
        &run_of("keycloak", false, 3600, 2),
        false,
    );
    // nextcloud: unverified backup, nothing failed, so not green.
    let mut u = run_of("nextcloud", true, 600, 3);
    u.green = false;
    u.level = Some(Rung::Upgrade);
    u.rungs.insert(
        Rung::BackupRestore,
        RungResult {
            status: Status::Unverified,
            reason: "backup-bot-two did not answer".into(),
            duration_secs: 30.0,
        },
    );
    write_run(runs, "20", &u, false);
    // Corrupt: a build (recipe unknown) and a recipe's run (recipe known).
    std::fs::create_dir_all(runs.join("21")).unwrap();
    std::fs::write(runs.join("21/results.json"), "{\"schema\": 1, \"recip").unwrap();
    std::fs::create_dir_all(runs.join("keycloak/000003")).unwrap();
    std::fs::write(runs.join("keycloak/000003/results.json"), "not json").unwrap();
    set_mtime(&runs.join("21/results.json"), NOW - 120);
    set_mtime(&runs.join("keycloak/000003/results.json"), NOW - 60);
    // A run still in progress: no results.json yet, not shown.
    std::fs::create_dir_all(runs.join("22")).unwrap();
    // A screenshot on a green run.
    std::fs::write(runs.join("14/index.png"), b"\x89PNG\r\n").unwrap();
}

pub fn options(runs: &Path, site: &Path) -> Options {
    Options {
        runs_dir: runs.to_owned(),
        site_dir: site.to_owned(),
        recipes: vec![
            "custom-html".into(),
            "keycloak".into(),
            "nextcloud".into(),
            "gaseous".into(),
        ],
        retention_secs: None,
        now: NOW,
    }
}

pub fn set_mtime(path: &Path, unix: i64) {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(unix as u64);
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(t)
        .unwrap();
}
