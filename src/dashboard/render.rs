//! The pages, badges and JSON of the site, as text: pure functions of the
//! remembered entries (and, for a run page, of its results), rendered through
//! the templates in `templates/dashboard/` with HTML auto-escaping.

use minijinja::Environment;
use serde::Serialize;
use serde_json::json;

use crate::names::files::{JUNIT_FILE, LINT_FILE, RESULTS_FILE, SUMMARY_FILE};
use crate::report::{self, Verdict};
use crate::results::ResultsV1;

use super::badge::{self, Badge};
use super::model::{Entry, Outcome, Summary, age, run_key};

/// Where the runs directory is served, relative to the site root.
pub const RUNS_MOUNT: &str = "runs";

pub fn recipe_index(recipe: &str) -> String {
    format!("r/{recipe}/index.html")
}

pub fn recipe_page(recipe: &str, page: u64) -> String {
    format!("r/{recipe}/page-{page}.html")
}

/// The page of one run: under its recipe, or under `unreadable/` when a
/// corrupt run's recipe cannot be known.
pub fn run_page(recipe: Option<&str>, rel: &str) -> String {
    match recipe {
        Some(r) => format!("r/{r}/run-{}.html", run_key(rel)),
        None => format!("unreadable/{}.html", run_key(rel)),
    }
}

pub fn badge_file(recipe: &str) -> String {
    format!("{recipe}.svg")
}

pub fn json_file(recipe: &str) -> String {
    format!("{recipe}.json")
}

#[derive(Serialize)]
struct Row<'a> {
    rel: &'a str,
    href: String,
    corrupt: bool,
    error: Option<&'a str>,
    #[serde(flatten)]
    summary: Option<&'a Summary>,
    age: String,
    /// The CSS class of the verdict cell.
    class: &'static str,
}

/// The CSS class of a verdict: unverified is neither a pass nor a failure.
fn verdict_class(s: Option<&Summary>) -> &'static str {
    match s {
        Some(s) if s.green => "pass",
        Some(s) if s.verdict == Verdict::Unverified.word() => "unverified",
        _ => "fail",
    }
}

fn row<'a>(e: &'a Entry, href: String, now: i64) -> Row<'a> {
    let (summary, error) = match &e.outcome {
        Outcome::Read(s) => (Some(&**s), None),
        Outcome::Corrupt { error } => (None, Some(error.as_str())),
    };
    Row {
        rel: &e.rel,
        href,
        corrupt: error.is_some(),
        error,
        summary,
        age: age(now, e.started),
        class: verdict_class(summary),
    }
}

/// One recipe on the index: its latest run, if any.
pub struct IndexRecipe<'a> {
    pub name: &'a str,
    pub latest: Option<&'a Entry>,
}

pub fn index(
    env: &Environment<'_>,
    recipes: &[IndexRecipe<'_>],
    unreadable: &[&Entry],
    now: i64,
    generated_at: &str,
) -> Result<String, minijinja::Error> {
    let recipes: Vec<_> = recipes
        .iter()
        .map(|r| {
            json!({
                "name": r.name,
                "latest": r.latest.map(|e| row(e, run_page(Some(r.name), &e.rel), now)),
            })
        })
        .collect();
    let unreadable: Vec<_> = unreadable
        .iter()
        .map(|e| row(e, run_page(None, &e.rel), now))
        .collect();
    crate::generate::templates::render(
        env,
        "dashboard/index.html.j2",
        &json!({ "recipes": recipes, "unreadable": unreadable, "generated_at": generated_at }),
    )
}

/// Which history page: the recipe's front page (its newest runs and a link
/// to every page) or one numbered page (a link to the front and the page
/// before it, so adding a page never changes the older ones).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageKind {
    Front,
    Numbered,
}

/// One history page: `entries` are the runs whose position falls on `page`.
pub fn history(
    env: &Environment<'_>,
    recipe: &str,
    kind: PageKind,
    page: u64,
    (first_page, last_page): (u64, u64),
    entries: &[&Entry],
) -> Result<String, minijinja::Error> {
    let mut sorted: Vec<&&Entry> = entries.iter().collect();
    sorted.sort_by_key(|e| std::cmp::Reverse((e.started, e.seq)));
    let runs: Vec<_> = sorted
        .into_iter()
        .map(|e| row(e, format!("run-{}.html", run_key(&e.rel)), 0))
        .collect();
    let pages: Vec<u64> = match kind {
        PageKind::Front => (first_page..=last_page).rev().collect(),
        PageKind::Numbered => Vec::new(),
    };
    let older = (kind == PageKind::Numbered && page > first_page).then(|| page - 1);
    crate::generate::templates::render(
        env,
        "dashboard/recipe.html.j2",
        &json!({ "recipe": recipe, "page": page, "pages": pages, "older": older, "runs": runs }),
    )
}

#[derive(Serialize)]
struct Artifact {
    name: String,
    href: String,
    present: bool,
}

/// The page of one run. `files` are the names in its directory.
pub fn run(
    env: &Environment<'_>,
    recipe: Option<&str>,
    entry: &Entry,
    results: Option<&ResultsV1>,
    files: &[String],
) -> Result<String, minijinja::Error> {
    let root = if recipe.is_some() { "../../" } else { "../" };
    let href = |f: &str| format!("{root}{RUNS_MOUNT}/{}/{f}", entry.rel);
    let mut artifacts: Vec<Artifact> = [RESULTS_FILE, SUMMARY_FILE, JUNIT_FILE, LINT_FILE]
        .into_iter()
        .map(|f| Artifact {
            name: f.to_owned(),
            href: href(f),
            present: files.iter().any(|x| x == f),
        })
        .collect();
    let mut screenshots = Vec::new();
    for f in files {
        if artifacts.iter().any(|a| &a.name == f) {
            continue;
        }
        if f.ends_with(".png") {
            screenshots.push(href(f));
        }
        artifacts.push(Artifact {
            name: f.clone(),
            href: href(f),
            present: true,
        });
    }
    let summary = match &entry.outcome {
        Outcome::Read(s) => Some(s),
        Outcome::Corrupt { .. } => None,
    };
    let error = match &entry.outcome {
        Outcome::Corrupt { error } => Some(error.as_str()),
        Outcome::Read(_) => None,
    };
    let ctx = json!({
        "recipe": recipe.unwrap_or("unknown recipe"),
        "recipe_href": recipe.map(|_| "index.html"),
        "rel": entry.rel,
        "root": root,
        "error": error,
        "s": summary,
        "rows": results.map(report::rung_rows).unwrap_or_default(),
        "proof": results.map(report::proof_items).unwrap_or_default(),
        "checks": results.map(report::bad_checks).unwrap_or_default(),
        "teardown": results.map(|r| r.teardown.clone()).unwrap_or_default(),
        "artifacts": artifacts,
        "screenshots": screenshots,
    });
    crate::generate::templates::render(env, "dashboard/run.html.j2", &ctx)
}

/// The level as the badge says it: with the skipped rungs and unproven
/// data when the state knows them.
fn badge_level(s: &Summary) -> &str {
    if s.level_line.is_empty() {
        &s.level
    } else {
        &s.level_line
    }
}

/// The badge of a recipe's latest run.
pub fn badge_of(latest: Option<&Entry>) -> Badge {
    let (message, color) = match latest.map(|e| &e.outcome) {
        None => ("no runs".to_owned(), badge::GREY),
        Some(Outcome::Corrupt { .. }) => ("unreadable".to_owned(), badge::GREY),
        Some(Outcome::Read(s)) => (
            format!("{} · {}", badge_level(s), s.verdict),
            if s.green {
                badge::GREEN
            } else if s.verdict == Verdict::Unverified.word() {
                badge::GREY
            } else {
                badge::RED
            },
        ),
    };
    Badge {
        label: "ccci".to_owned(),
        message,
        color,
    }
}

/// Schema of `<recipe>.json`.
pub const ENDPOINT_SCHEMA: u32 = 1;

/// `<recipe>.json`: the latest run for other tools, with the badge's words
/// in the fields a shields endpoint badge reads.
pub fn endpoint(recipe: &str, latest: Option<&Entry>, runs: usize) -> String {
    let b = badge_of(latest);
    let latest = latest.map(|e| match &e.outcome {
        Outcome::Read(s) => json!({
            "run": e.rel,
            "page": run_page(Some(recipe), &e.rel),
            "green": s.green,
            "verdict": s.verdict,
            "level": s.level,
            "level_line": s.level_line,
            "skipped": s.skipped,
            "git_ref": s.git_ref,
            "pr": s.pr,
            "started_at": s.started_at,
            "duration_secs": s.duration_secs,
        }),
        Outcome::Corrupt { error } => json!({ "run": e.rel, "corrupt": error }),
    });
    let v = json!({
        "schema": ENDPOINT_SCHEMA,
        "recipe": recipe,
        "runs": runs,
        "latest": latest,
        "schemaVersion": 1,
        "label": b.label,
        "message": b.message,
        "color": b.color,
    });
    let mut s = serde_json::to_string_pretty(&v).unwrap_or_default();
    s.push('\n');
    s
}
