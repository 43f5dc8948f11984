//! The dashboard rendered from a fixture runs directory: what the pages say,
//! the badges as SVG text, what an incremental update touches, pruning.

mod dashboard_support;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::SystemTime;

use ccci::dashboard::{Options, rebuild, update};
use dashboard_support::*;

fn read(site: &Path, rel: &str) -> String {
    std::fs::read_to_string(site.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn built() -> (tempfile::TempDir, Options) {
    let tmp = tempfile::tempdir().unwrap();
    let runs = tmp.path().join("runs");
    let site = tmp.path().join("site");
    fixture(&runs);
    let opts = options(&runs, &site);
    let report = update(&opts).unwrap();
    assert!(report.rebuilt, "no state yet: the first update rebuilds");
    (tmp, opts)
}

#[test]
fn the_index_shows_the_latest_run_of_every_enrolled_recipe() {
    let (_tmp, opts) = built();
    let index = read(&opts.site_dir, "index.html");
    insta::assert_snapshot!("dashboard_index", index);
    assert!(index.contains("gaseous") && index.contains("no runs yet"));
    assert!(
        index.contains("skipped: upgrade"),
        "skipped rungs shown with the level"
    );
    assert!(
        index.contains("results.json unreadable"),
        "a corrupt latest run is shown as such"
    );
    assert!(index.contains("Unreadable runs") && index.contains("21"));
    assert!(!index.contains("<script"), "no JavaScript");
}

#[test]
fn run_pages_show_the_rung_table_reasons_and_artifacts() {
    let (_tmp, opts) = built();
    let red = read(&opts.site_dir, "r/keycloak/run-keycloak~000002.html");
    insta::assert_snapshot!("dashboard_run_red", red);
    assert!(red.contains("the marker written before the upgrade is gone"));
    assert!(red.contains("href=\"../../runs/keycloak/000002/junit.xml\""));
    let bare = read(&opts.site_dir, "r/keycloak/run-keycloak~000001.html");
    assert!(bare.contains("summary.md <span class=\"muted\">(missing)</span>"));
    let shot = read(&opts.site_dir, "r/custom-html/run-14.html");
    assert!(shot.contains("<img src=\"../../runs/14/index.png\""));
    let corrupt = read(&opts.site_dir, "unreadable/21.html");
    assert!(corrupt.contains("could not be read") && corrupt.contains("21/results.json"));
    assert!(
        !corrupt.contains(&opts.runs_dir.display().to_string()),
        "no host paths"
    );
    let known = read(&opts.site_dir, "r/keycloak/run-keycloak~000003.html");
    assert!(known.contains("could not be read"));
}

#[test]
fn badges_and_endpoints_per_recipe() {
    let (_tmp, opts) = built();
    for r in ["custom-html", "keycloak", "nextcloud", "gaseous"] {
        insta::assert_snapshot!(
            format!("badge_{r}"),
            read(&opts.site_dir, &format!("{r}.svg"))
        );
    }
    let v: serde_json::Value =
        serde_json::from_str(&read(&opts.site_dir, "custom-html.json")).unwrap();
    assert_eq!(v["latest"]["green"], true);
    assert_eq!(v["latest"]["skipped"], serde_json::json!(["upgrade"]));
    assert_eq!(v["runs"], 5);
    // The badge says what the level leaves out.
    assert_eq!(
        v["message"],
        "level functional · upgrade skipped: no older release · passed"
    );
    let n: serde_json::Value =
        serde_json::from_str(&read(&opts.site_dir, "nextcloud.json")).unwrap();
    // Nothing failed, one rung could not be decided: the badge says so, in
    // grey, never "failed" in red.
    assert_eq!(n["latest"]["green"], false, "unverified is not green");
    assert_eq!(n["latest"]["verdict"], "unverified");
    assert_eq!(
        n["message"],
        "level upgrade · upgrade skipped: no older release · unverified"
    );
    assert_eq!(n["color"], "#9f9f9f");
}

fn mtimes(site: &Path) -> BTreeMap<String, SystemTime> {
    let mut out = BTreeMap::new();
    let mut stack = vec![site.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(site).unwrap().to_string_lossy().into_owned();
                out.insert(rel, e.metadata().unwrap().modified().unwrap());
            }
        }
    }
    out
}

#[test]
fn an_update_after_one_run_touches_only_that_recipes_pages_and_the_index() {
    let (_tmp, opts) = built();
    let before = mtimes(&opts.site_dir);
    std::thread::sleep(std::time::Duration::from_millis(20));
    write_run(
        &opts.runs_dir,
        "30",
        &run_of("nextcloud", true, 60, 9),
        false,
    );
    let report = update(&opts).unwrap();
    assert!(!report.rebuilt);
    assert_eq!(report.added, 1);
    let mut written = report.log.written.clone();
    written.sort();
    assert_eq!(
        written,
        [
            "index.html",
            "nextcloud.json",
            "nextcloud.svg",
            "r/nextcloud/index.html",
            "r/nextcloud/page-1.html",
            "r/nextcloud/run-30.html",
        ]
    );
    let after = mtimes(&opts.site_dir);
    for (f, t) in &before {
        let ours = f.starts_with("r/nextcloud/")
            || f.starts_with("nextcloud.")
            || f == "index.html"
            || f.starts_with(".state");
        if !ours {
            assert_eq!(after.get(f), Some(t), "{f} was rewritten");
        }
    }
    assert!(read(&opts.site_dir, "index.html").contains("run-30.html"));
    // Nothing new: only the index (ages) is rendered, and it did not change.
    let again = update(&opts).unwrap();
    assert!(again.log.written.is_empty(), "{:?}", again.log.written);
    // A full rebuild agrees with the incremental result.
    let full = rebuild(&opts).unwrap();
    assert!(full.log.written.is_empty(), "{:?}", full.log.written);
    assert!(full.log.removed.is_empty(), "{:?}", full.log.removed);
}

#[test]
fn history_is_paged_newest_first_and_old_pages_stay_put() {
    let tmp = tempfile::tempdir().unwrap();
    let runs = tmp.path().join("runs");
    let site = tmp.path().join("site");
    for i in 0..120u64 {
        write_run(
            &runs,
            &format!("{}", 100 + i),
            &run_of("keycloak", i % 3 != 0, 100_000 - i as i64 * 60, i),
            true,
        );
    }
    let opts = options(&runs, &site);
    rebuild(&opts).unwrap();
    let front = read(&site, "r/keycloak/index.html");
    assert!(front.contains("href=\"page-2.html\"") && front.contains("href=\"page-1.html\""));
    assert!(front.contains("run-219.html"));
    let p1 = read(&site, "r/keycloak/page-1.html");
    assert!(p1.contains("run-100.html") && !p1.contains("run-150.html"));
    let newest = p1.find("run-149.html").unwrap();
    assert!(newest < p1.find("run-100.html").unwrap(), "newest first");
    write_run(&runs, "300", &run_of("keycloak", true, 10, 300), true);
    let r = update(&opts).unwrap();
    assert!(r.log.written.contains(&"r/keycloak/page-3.html".to_owned()));
    assert!(
        !r.log
            .written
            .iter()
            .any(|f| f.ends_with("page-1.html") || f.ends_with("page-2.html"))
    );
}

#[test]
fn runs_past_the_retention_are_pruned_from_disk_and_pages() {
    let (_tmp, mut opts) = built();
    opts.retention_secs = Some(2 * 86_400 + 1);
    let r = update(&opts).unwrap();
    let mut pruned = r.pruned.clone();
    pruned.sort();
    assert_eq!(pruned, ["10", "11", "12"]);
    assert!(!opts.runs_dir.join("10").exists());
    assert!(opts.runs_dir.join("13").exists());
    assert!(!opts.site_dir.join("r/custom-html/run-10.html").exists());
    let page = read(&opts.site_dir, "r/custom-html/index.html");
    assert!(!page.contains("run-10.html") && page.contains("run-13.html"));
    let full = rebuild(&opts).unwrap();
    assert!(
        full.log.written.is_empty() && full.log.removed.is_empty(),
        "{full:?}"
    );
}

#[test]
fn a_damaged_state_means_a_rebuild_not_a_crash() {
    let (_tmp, opts) = built();
    std::fs::write(opts.site_dir.join(".state/index.json"), "{").unwrap();
    let r = update(&opts).unwrap();
    assert!(r.rebuilt);
    assert!(r.log.written.is_empty(), "{:?}", r.log.written);
    // A damaged history page is found when a new run needs it.
    let pages = opts.site_dir.join(".state/r/keycloak");
    for p in std::fs::read_dir(&pages).unwrap() {
        std::fs::write(p.unwrap().path(), "[{").unwrap();
    }
    write_run(
        &opts.runs_dir,
        "9001",
        &run_of("keycloak", true, 1, 9001),
        false,
    );
    let r = update(&opts).unwrap();
    assert!(r.rebuilt, "{r:?}");
    let v: serde_json::Value =
        serde_json::from_str(&read(&opts.site_dir, "keycloak.json")).unwrap();
    assert_eq!(v["latest"]["run"], "9001", "the rebuild has the new run");
}

/// The index in real headless Chromium: the page renders (text on it) and the
/// badges render (the green of a passing badge is on the screenshot). No
/// JavaScript is needed, so it is disabled.
#[test]
fn chromium_renders_the_index_and_its_badges() {
    let (tmp, opts) = built();
    let shot = tmp.path().join("index.png");
    let out = std::process::Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-javascript",
            "--hide-scrollbars",
            "--window-size=412,915",
        ])
        .arg(format!(
            "--user-data-dir={}",
            tmp.path().join("profile").display()
        ))
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!(
            "file://{}",
            opts.site_dir.join("index.html").display()
        ))
        .output()
        .expect("chromium is installed by scripts/test");
    assert!(
        shot.exists(),
        "no screenshot: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&shot).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(
        (info.width, info.height),
        (412, 915),
        "a phone-sized viewport"
    );
    let px = info.color_type.samples();
    let pixels: Vec<&[u8]> = buf[..info.buffer_size()].chunks(px).collect();
    let dark = pixels
        .iter()
        .filter(|p| p[0] < 100 && p[1] < 100 && p[2] < 100)
        .count();
    assert!(dark > 500, "the index has text ({dark} dark pixels)");
    // #4c1 with the badge's faint gradient on top.
    let green = pixels
        .iter()
        .filter(|p| (55..=80).contains(&p[0]) && p[1] >= 185 && p[2] <= 40)
        .count();
    assert!(
        green > 100,
        "a passing badge is drawn ({green} green pixels)"
    );
}
