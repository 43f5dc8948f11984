//! What people read: `summary.md` and the bridge's PR texts, rendered from
//! the canonical results and reviewed as insta snapshots.

mod results_example;

use ccci::bridge::ledger::{BuildParams, BuildRef};
use ccci::bridge::report;
use ccci::results::ResultsV1;

fn params(r: &ResultsV1) -> BuildParams {
    BuildParams {
        recipe: r.recipe.clone(),
        git_ref: r.git_ref.clone(),
        src: r.src.clone(),
        pr: 42,
    }
}

fn build() -> BuildRef {
    BuildRef {
        number: 57,
        link: "https://drone.ci.example.org/coop-cloud/ccci/57".to_owned(),
    }
}

fn comment(r: &ResultsV1) -> String {
    let f = report::finished(&params(r), &build(), r);
    format!("status: {:?} {:?}\n---\n{}", f.state, f.description, f.body)
}

#[test]
fn summary_of_a_green_run() {
    insta::assert_snapshot!(ccci::report::summary_md(&results_example::green()));
}

#[test]
fn summary_of_a_red_run() {
    insta::assert_snapshot!(ccci::report::summary_md(&results_example::red()));
}

#[test]
fn pr_comment_of_a_green_run() {
    insta::assert_snapshot!(comment(&results_example::green()));
}

#[test]
fn pr_comment_of_a_red_run() {
    insta::assert_snapshot!(comment(&results_example::red()));
}

/// The comment and summary.md share one table: the comment shows it once and
/// it is exactly summary.md's.
#[test]
fn the_comment_shows_the_summary_table_once() {
    for r in [results_example::green(), results_example::red()] {
        let table = ccci::report::rung_table(&r);
        let body = report::finished(&params(&r), &build(), &r).body;
        assert_eq!(body.matches(&table).count(), 1, "{body}");
        assert_eq!(body.matches("| rung |").count(), 1, "{body}");
        assert!(ccci::report::summary_md(&r).contains(&table));
    }
}

/// Every other text the bridge posts, with a trigger word other than the
/// default so that a hard-coded one shows.
#[test]
fn replies_and_interim_comments() {
    let r = results_example::green();
    let p = params(&r);
    let b = build();
    let trigger = "/ci-test";
    let infra = report::infrastructure_error(&p, &b, "killed", "no results.json");
    let texts = [
        ("started", report::started(&p, &b)),
        ("superseded", report::superseded(&p, &b, trigger)),
        ("superseded status", report::superseded_description(trigger)),
        (
            "refusal",
            report::refusal("mallory", "is not on this CI's allowlist", trigger),
        ),
        ("pushed after", report::pushed_after(trigger)),
        ("no pipeline", report::no_pipeline(trigger)),
        ("drone unreachable", report::drone_unreachable(trigger, 5)),
        ("reply body", report::reply_body("text", 1234)),
        (
            "infrastructure error",
            format!("{:?} {:?}\n{}", infra.state, infra.description, infra.body),
        ),
    ];
    let joined: String = texts
        .iter()
        .map(|(what, text)| format!("=== {what} ===\n{text}\n"))
        .collect();
    insta::assert_snapshot!(joined);
}
