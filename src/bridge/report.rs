//! What the bridge writes on a PR: the commit status context, the short
//! replies, the "started" comment and the final report it is edited into
//! (verdict, level, stage table, durations, build link). Pure text functions;
//! every comment the bridge posts carries a hidden marker so that, after a
//! crash, it can find what it already posted instead of posting it twice.

use crate::bridge::ledger::{BuildParams, BuildRef};
use crate::forge::gitea::StatusState;
use crate::registry::Rung;
use crate::results::{ResultsV1, Status};

/// The hidden marker of the report comment of a build.
pub fn build_marker(build: u64) -> String {
    format!("<!-- ccci:build:{build} -->")
}

/// The hidden marker of a reply to a comment.
pub fn reply_marker(comment: u64) -> String {
    format!("<!-- ccci:reply:{comment} -->")
}

/// The reaction the bot leaves on every comment it handled.
pub const REACTION: &str = "eyes";

fn short(sha: &str) -> &str {
    sha.get(..7).unwrap_or(sha)
}

pub fn refusal(user: &str, why: &str, trigger: &str) -> String {
    format!(
        "@{user} `{trigger}` was not run: {user} {why}. Ask a maintainer to comment `{trigger}`."
    )
}

pub fn pushed_after(trigger: &str) -> String {
    format!(
        "`{trigger}` was not run: new commits were pushed after the comment, so it is unclear which commit to test. Comment `{trigger}` again to test the new head."
    )
}

pub fn no_pipeline() -> String {
    "⚠️ `!testme` failed: Drone accepted the request but created no build (no pipeline matched the custom event). This is a CI configuration error, not a verdict on the PR.".to_owned()
}

pub fn drone_unreachable(attempts: u32) -> String {
    format!(
        "⚠️ `!testme` failed: Drone could not be reached after {attempts} attempts. This is a CI infrastructure error, not a verdict on the PR; comment again later."
    )
}

/// A reply's body: the text and the marker.
pub fn reply_body(text: &str, comment: u64) -> String {
    format!("{text}\n\n{}", reply_marker(comment))
}

/// The acknowledgement comment, edited later into the report.
pub fn started(p: &BuildParams, b: &BuildRef) -> String {
    format!(
        "⏳ started CI run for **{}** @ `{}` → [build #{}]({})\n\n{}",
        p.recipe,
        short(&p.git_ref),
        b.number,
        b.link,
        build_marker(b.number)
    )
}

pub fn superseded(p: &BuildParams, b: &BuildRef) -> String {
    format!(
        "⏹️ CI run for **{}** @ `{}` was superseded by a newer `!testme` and cancelled → [build #{}]({})\n\n{}",
        p.recipe,
        short(&p.git_ref),
        b.number,
        b.link,
        build_marker(b.number)
    )
}

/// The final status and the edited comment of a finished build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinalReport {
    pub state: StatusState,
    pub description: String,
    pub body: String,
}

/// Most of a comment Gitea will take, with room for the table.
const SUMMARY_MAX: usize = 30_000;

fn rung_icon(s: Status) -> &'static str {
    match s {
        Status::Pass => "✅ pass",
        Status::Fail => "❌ fail",
        Status::Skip => "⏭️ skip",
        Status::Unverified => "❔ unverified",
    }
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace(['\n', '\r'], " ")
}

fn secs(d: f64) -> String {
    if d >= 60.0 {
        format!("{}m {:02}s", (d / 60.0).floor(), (d % 60.0).round() as u64)
    } else {
        format!("{d:.0}s")
    }
}

/// The report of a build that left results.
pub fn finished(
    p: &BuildParams,
    b: &BuildRef,
    results: &ResultsV1,
    summary: Option<&str>,
) -> FinalReport {
    let level = results.level.map_or("none", Rung::as_str);
    let (icon, verdict, state) = if results.green {
        ("✅", "passed", StatusState::Success)
    } else {
        ("❌", "failed", StatusState::Failure)
    };
    let mut body = format!(
        "{icon} CI run for **{}** @ `{}` {verdict}, level **{level}** in {} → [build #{}]({})\n\n",
        p.recipe,
        short(&p.git_ref),
        secs(results.duration_secs),
        b.number,
        b.link
    );
    body.push_str("| stage | result | duration | note |\n|---|---|---|---|\n");
    for rung in Rung::ALL {
        if let Some(r) = results.rungs.get(&rung) {
            body.push_str(&format!(
                "| {} | {} | {} | {} |\n",
                rung.as_str(),
                rung_icon(r.status),
                secs(r.duration_secs),
                cell(&r.reason)
            ));
        }
    }
    if !results.teardown.is_empty() {
        body.push_str(&format!(
            "\n⚠️ teardown left: {}\n",
            cell(&results.teardown.join(", "))
        ));
    }
    if let Some(s) = summary.filter(|s| !s.trim().is_empty()) {
        let s: String = s.chars().take(SUMMARY_MAX).collect();
        body.push_str(&format!(
            "\n<details><summary>summary</summary>\n\n{s}\n\n</details>\n"
        ));
    }
    body.push('\n');
    body.push_str(&build_marker(b.number));
    FinalReport {
        state,
        description: format!("level: {level}"),
        body,
    }
}

/// The report of a build that ended without readable results.
pub fn infrastructure_error(
    p: &BuildParams,
    b: &BuildRef,
    drone_status: &str,
    why: &str,
) -> FinalReport {
    FinalReport {
        state: StatusState::Error,
        description: "infrastructure error: no results".to_owned(),
        body: format!(
            "⚠️ CI run for **{}** @ `{}` hit an infrastructure error: the build ended `{}` without results ({}) → [build #{}]({})\n\n{}",
            p.recipe,
            short(&p.git_ref),
            cell(drone_status),
            cell(why),
            b.number,
            b.link,
            build_marker(b.number)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::RungResult;
    use std::collections::BTreeMap;

    fn params() -> BuildParams {
        BuildParams {
            recipe: "custom-html".parse().expect("r"),
            git_ref: "9fc1ad6ebf12462f3f9773003e26b4c6f54a772e".into(),
            src: "bob/custom-html".parse().expect("s"),
            pr: 42,
        }
    }

    fn build() -> BuildRef {
        BuildRef {
            number: 57,
            link: "https://drone.example.org/coop-cloud/ccci/57".into(),
        }
    }

    #[test]
    fn the_started_comment_names_recipe_short_sha_and_build_link() {
        let s = started(&params(), &build());
        assert!(s.contains("**custom-html** @ `9fc1ad6`"));
        assert!(s.contains("[build #57](https://drone.example.org/coop-cloud/ccci/57)"));
        assert!(s.contains(&build_marker(57)));
    }

    #[test]
    fn a_green_run_reports_success_with_the_level_and_a_stage_table() {
        let mut rungs = BTreeMap::new();
        rungs.insert(
            Rung::Install,
            RungResult {
                status: Status::Pass,
                reason: String::new(),
                duration_secs: 12.0,
            },
        );
        rungs.insert(
            Rung::Upgrade,
            RungResult {
                status: Status::Skip,
                reason: "no earlier release | none".into(),
                duration_secs: 0.0,
            },
        );
        let r = ResultsV1 {
            schema: 1,
            recipe: "custom-html".parse().expect("r"),
            git_ref: params().git_ref,
            src: params().src,
            pr: Some(42),
            run_id: "x".into(),
            started_at: "2026-01-01T00:00:00Z".into(),
            duration_secs: 61.0,
            level: Some(Rung::Upgrade),
            green: true,
            rungs,
            lanes: BTreeMap::new(),
            checks: vec![],
            teardown: vec![],
        };
        let f = finished(&params(), &build(), &r, Some("all good"));
        assert_eq!(f.state, StatusState::Success);
        assert_eq!(f.description, "level: upgrade");
        assert!(f.body.contains("| install | ✅ pass | 12s |  |"));
        assert!(f.body.contains("no earlier release \\| none"));
        assert!(f.body.contains("in 1m 01s"));
        assert!(f.body.contains("all good"));
    }
}
