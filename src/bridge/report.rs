//! What the bridge writes on a PR: the short replies, the "started" comment
//! and the final report it is edited into (verdict, level and build link, then
//! the rung table and details [`crate::report`] renders for `summary.md` too).
//! Pure text functions; every comment the bridge posts carries a hidden marker
//! so that, after a crash, it can find what it already posted instead of
//! posting it twice. Replies name the trigger word the config sets.

use crate::bridge::ledger::{BuildParams, BuildRef};
use crate::forge::gitea::StatusState;
use crate::report::{cell, details, duration, level, level_notes_md, short_sha as short, verdict};
use crate::results::ResultsV1;

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

/// The command named a commit that is not the PR head.
pub fn not_head(trigger: &str, named: &str, head_sha: &str) -> String {
    format!(
        "`{trigger} {named}` was not run: `{named}` is not the head of this pull request, which is `{head_sha}`. Comment `{trigger} {}` to test the head.",
        short(head_sha)
    )
}

/// An older command of the same PR, answered without a build because a
/// newer one started its own.
pub fn coalesced(trigger: &str) -> String {
    format!(
        "`{trigger}` was not run on its own: a newer `{trigger}` on this pull request arrived at the same time and started the build."
    )
}

/// Only the comment's current body was seen, and Gitea's data cannot tell
/// whether it was edited into a command within the second it was created.
pub fn unverifiable(trigger: &str) -> String {
    format!(
        "`{trigger}` was not run: the bridge could not tell whether this comment was edited after it was written (it saw only its current text, not the org activity feed's copy). Comment `{trigger}` again, as a new comment. If this keeps happening, Gitea hides your activity from the feed (\"keep activity private\"): the CI's admin can make the bot a site admin or turn on the bridge's Gitea webhook."
    )
}

pub fn no_pipeline(trigger: &str) -> String {
    format!(
        "⚠️ `{trigger}` failed: Drone accepted the request but created no build (no pipeline matched the custom event). This is a CI configuration error, not a verdict on the PR."
    )
}

pub fn drone_unreachable(trigger: &str, attempts: u32) -> String {
    format!(
        "⚠️ `{trigger}` failed: Drone could not be reached after {attempts} attempts. This is a CI infrastructure error, not a verdict on the PR; comment again later."
    )
}

/// A reply's body: the text and the marker.
pub fn reply_body(text: &str, comment: u64) -> String {
    format!("{text}\n\n{}", reply_marker(comment))
}

/// How the acknowledgement comment begins (and no report does). Any body a
/// running build's comment is edited into must begin with it too: recovery
/// after a lost state directory takes any other body carrying the build's
/// marker for a final report and does not follow the build again.
const STARTED_HEAD: &str = "⏳ started CI run";

/// Whether a comment of the bot is still the acknowledgement, not yet
/// edited into a report.
pub fn is_started(body: &str) -> bool {
    body.starts_with(STARTED_HEAD)
}

/// The acknowledgement comment, edited later into the report.
pub fn started(p: &BuildParams, b: &BuildRef) -> String {
    format!(
        "{STARTED_HEAD} for **{}** @ `{}` → [build #{}]({})\n\n{}",
        p.recipe,
        short(&p.git_ref),
        b.number,
        b.link,
        build_marker(b.number)
    )
}

/// The commit status of a build a newer trigger replaced.
pub fn superseded_description(trigger: &str) -> String {
    format!("superseded by a newer {trigger}")
}

pub fn superseded(p: &BuildParams, b: &BuildRef, trigger: &str) -> String {
    format!(
        "⏹️ CI run for **{}** @ `{}` was superseded by a newer `{trigger}` and cancelled → [build #{}]({})\n\n{}",
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

/// Most of a comment Gitea will take, leaving room for the headline.
const DETAILS_MAX: usize = 60_000;

/// The report of a build that left results.
pub fn finished(p: &BuildParams, b: &BuildRef, results: &ResultsV1) -> FinalReport {
    let level = level(results);
    let (icon, word) = verdict(results);
    let state = if results.green {
        StatusState::Success
    } else {
        StatusState::Failure
    };
    let mut details = details(results);
    if details.len() > DETAILS_MAX {
        // At a line end, so no code span is left open.
        let cut = (0..=DETAILS_MAX)
            .rev()
            .find(|&i| details.is_char_boundary(i) && details[i..].starts_with('\n'))
            .unwrap_or(0);
        details.truncate(cut);
        details.push_str("\n\n… (cut short: the build's summary.md has it all)\n");
    }
    let notes = level_notes_md(results);
    let notes = if notes.is_empty() {
        String::new()
    } else {
        format!(" ({})", notes.join(" · "))
    };
    let body = format!(
        "{icon} CI run for **{}** @ `{}` {word}, level **{level}**{} in {} → [build #{}]({})\n\n{details}\n{}",
        p.recipe,
        short(&p.git_ref),
        notes,
        duration(results.duration_secs),
        b.number,
        b.link,
        build_marker(b.number)
    );
    FinalReport {
        state,
        description: format!("level: {level}"),
        body,
    }
}

/// A screenshot a run left that the report shows: the landing page inline,
/// the page where a browser check failed as a link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shot {
    /// The file in the run's output directory, and the attachment's name.
    pub file: String,
    /// `None`: the landing page; else the name of the check that failed.
    pub failed_check: Option<String>,
}

/// The screenshots of `results` worth showing, landing page first, each
/// file once. Only names the naming rules give screenshots count: a name in
/// `results.json` cannot make the bridge read any other file.
pub fn screenshots(results: &ResultsV1) -> Vec<Shot> {
    use crate::names::files::is_screenshot_name;
    use crate::results::Status;
    let landing = results
        .lanes
        .values()
        .filter_map(|l| l.screenshot.clone())
        .map(|file| Shot {
            file,
            failed_check: None,
        });
    let failed = results
        .checks
        .iter()
        .filter(|c| c.status == Status::Fail)
        .filter_map(|c| {
            c.screenshot.clone().map(|file| Shot {
                file,
                failed_check: Some(c.name.clone()),
            })
        });
    let mut shots: Vec<Shot> = Vec::new();
    for s in landing.chain(failed) {
        if is_screenshot_name(&s.file) && !shots.iter().any(|o| o.file == s.file) {
            shots.push(s);
        }
    }
    shots
}

/// Whether a download URL can go into Markdown as is: http(s), and nothing
/// that could end the link or start markup.
fn plain_url(url: &str) -> bool {
    (url.starts_with("https://") || url.starts_with("http://"))
        && url.len() <= 2048
        && url.bytes().all(|b| {
            b.is_ascii_graphic()
                && !matches!(
                    b,
                    b'(' | b')' | b'<' | b'>' | b'"' | b'\'' | b'`' | b'[' | b']'
                )
        })
}

/// `body` with its screenshots shown, each `(shot, download URL)`: the
/// landing page as an inline image, a failed check's page as a link named
/// after the check (inert, [`cell`]). Inserted before the hidden marker.
pub fn with_screenshots(body: &str, shown: &[(Shot, String)]) -> String {
    let mut section = String::new();
    for (shot, url) in shown.iter().filter(|(_, u)| plain_url(u)) {
        match &shot.failed_check {
            None => section.push_str(&format!("![landing page]({url})\n\n")),
            Some(check) => section.push_str(&format!(
                "[screenshot where the check {} failed]({url})\n\n",
                cell(check)
            )),
        }
    }
    if section.is_empty() {
        return body.to_owned();
    }
    match body.rfind("<!-- ccci:build:") {
        Some(at) => format!("{}{section}{}", &body[..at], &body[at..]),
        None => format!("{body}\n\n{section}"),
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
            "⚠️ CI run for **{}** @ `{}` hit an infrastructure error: the build ended {} without results ({}) → [build #{}]({})\n\n{}",
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
    use crate::registry::Rung;
    use crate::results::{RungResult, Status};
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
    fn replies_name_the_configured_trigger_word() {
        for text in [
            refusal("bob", "is not on this CI's allowlist", "/ci"),
            pushed_after("/ci"),
            no_pipeline("/ci"),
            drone_unreachable("/ci", 3),
            superseded(&params(), &build(), "/ci"),
            superseded_description("/ci"),
        ] {
            assert!(text.contains("/ci"), "{text}");
            assert!(!text.contains("!testme"), "{text}");
        }
    }

    #[test]
    fn screenshots_are_shown_inert_and_only_from_plain_urls() {
        let body = format!("✅ text\n\n{}", build_marker(57));
        let landing = Shot {
            file: "screenshot.png".into(),
            failed_check: None,
        };
        let hostile = Shot {
            file: "browser-1.png".into(),
            failed_check: Some("x](https://evil) <!-- ccci:build:999 --> @admin".into()),
        };
        let out = with_screenshots(
            &body,
            &[
                (
                    landing.clone(),
                    "https://git.example.org/attachments/a".into(),
                ),
                (hostile, "https://git.example.org/attachments/b".into()),
                (landing, "https://x/) ![evil](https://evil".into()),
            ],
        );
        assert!(out.contains("![landing page](https://git.example.org/attachments/a)"));
        assert!(out.contains(
            "[screenshot where the check `x](https://evil) <!\u{200b}-- ccci:build:999 --> @admin` failed](https://git.example.org/attachments/b)"
        ), "{out}");
        assert!(!out.contains("![evil]"), "{out}");
        assert_eq!(out.matches("<!-- ccci:build:").count(), 1, "{out}");
        assert!(out.ends_with(&build_marker(57)));
        assert_eq!(with_screenshots(&body, &[]), body);
    }

    #[test]
    fn the_started_comment_names_recipe_short_sha_and_build_link() {
        let s = started(&params(), &build());
        assert!(s.contains("**custom-html** @ `9fc1ad6`"));
        assert!(s.contains("[build #57](https://drone.example.org/coop-cloud/ccci/57)"));
        assert!(s.contains(&build_marker(57)));
    }

    fn results(rungs: BTreeMap<Rung, RungResult>) -> ResultsV1 {
        ResultsV1 {
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
            floor: None,
            upgrade_base: None,
            data_survival: None,
        }
    }

    #[test]
    fn an_oversized_report_is_cut_and_keeps_its_marker() {
        let mut r = results(BTreeMap::new());
        r.green = false;
        r.teardown = vec!["é".repeat(100); 1_000];
        let f = finished(&params(), &build(), &r);
        assert!(f.body.len() < DETAILS_MAX + 1_000, "{}", f.body.len());
        assert!(f.body.contains("cut short"));
        assert!(f.body.ends_with(&build_marker(57)));
        assert_eq!(f.state, StatusState::Failure);
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
        let r = results(rungs);
        let f = finished(&params(), &build(), &r);
        assert_eq!(f.state, StatusState::Success);
        assert_eq!(f.description, "level: upgrade");
        assert!(f.body.contains("| install | ✅ pass | 12s |  |"));
        assert!(f.body.contains("no earlier release \\| none"));
        assert!(f.body.contains("in 1m 01s"));
        assert_eq!(f.body.matches("| install |").count(), 1, "the table once");
        assert!(f.body.ends_with(&build_marker(57)));
    }

    #[test]
    fn hostile_run_output_reaches_the_comment_inert() {
        let hostile = "<script>alert(1)</script></details><img src=x onerror=alert(1)> \
                       <!-- ccci:build:999 --> @admin [click](https://evil.example) ![i](x) **bold** | col";
        let mut rungs = BTreeMap::new();
        rungs.insert(
            Rung::Install,
            RungResult {
                status: Status::Fail,
                reason: hostile.into(),
                duration_secs: 1.0,
            },
        );
        let mut r = results(rungs);
        r.green = false;
        r.checks = vec![crate::results::CheckResult {
            rung: Rung::Install,
            lane: crate::results::Lane::Fresh,
            name: hostile.into(),
            status: Status::Fail,
            detail: format!("{hostile}\n{}", "x".repeat(10_000)),
            duration_secs: 0.0,
            screenshot: None,
        }];
        r.teardown = vec![hostile.into()];
        let body = finished(&params(), &build(), &r).body;
        // The only marker is the bot's own, last.
        assert_eq!(body.matches("<!-- ccci:").count(), 1, "{body}");
        assert!(body.ends_with(&build_marker(57)));
        // Every hostile text sits inside a code span, on its line, capped.
        for line in body.lines().filter(|l| l.contains("<script>")) {
            let spans: Vec<&str> = line.split('`').collect();
            for (i, part) in spans.iter().enumerate() {
                if part.contains('<') || part.contains('@') || part.contains("](") {
                    assert!(i % 2 == 1, "outside a code span: {part:?} in {line}");
                }
            }
            assert!(line.chars().count() < 2 * crate::report::CELL_MAX, "{line}");
        }
    }
}
