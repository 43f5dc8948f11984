//! How a run's results read to people: the verdict, the level and the rung
//! table, rendered once from [`ResultsV1`] for both `summary.md` (written by
//! `ccci run`) and the PR comment (edited by `ccci bridge`), so the two never
//! drift. Pure text functions; Markdown as Gitea renders it.

use std::fmt::Write as _;

use crate::registry::Rung;
use crate::results::{ResultsV1, Status};

/// Hex digits of a commit shown to people, as `git log --oneline` does.
pub const SHORT_SHA_LEN: usize = 7;

/// A commit id shortened for display.
pub fn short_sha(sha: &str) -> &str {
    sha.get(..SHORT_SHA_LEN).unwrap_or(sha)
}

/// The word of a status, as `results.json` spells it.
pub fn status_word(s: Status) -> &'static str {
    match s {
        Status::Pass => "pass",
        Status::Fail => "fail",
        Status::Skip => "skip",
        Status::Unverified => "unverified",
    }
}

/// The icon of a status.
pub fn status_icon(s: Status) -> &'static str {
    match s {
        Status::Pass => "✅",
        Status::Fail => "❌",
        Status::Skip => "⏭️",
        Status::Unverified => "❔",
    }
}

/// What a run's results say as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Passed,
    /// A rung (lint aside) failed, or teardown left something behind.
    Failed,
    /// Not green, yet nothing failed: some rung could not be decided. Saying
    /// "failed" would blame the recipe for the host's trouble.
    Unverified,
}

/// The verdict of the results (lint is never decisive).
pub fn verdict_of(results: &ResultsV1) -> Verdict {
    let failed = results
        .rungs
        .iter()
        .any(|(r, v)| *r != Rung::Lint && v.status == Status::Fail);
    if results.green {
        Verdict::Passed
    } else if failed || !results.teardown.is_empty() {
        Verdict::Failed
    } else {
        Verdict::Unverified
    }
}

impl Verdict {
    pub fn icon(self) -> &'static str {
        match self {
            Verdict::Passed => "✅",
            Verdict::Failed => "❌",
            Verdict::Unverified => status_icon(Status::Unverified),
        }
    }

    pub fn word(self) -> &'static str {
        match self {
            Verdict::Passed => "passed",
            Verdict::Failed => "failed",
            Verdict::Unverified => "unverified",
        }
    }
}

/// The verdict of a run: its icon and word.
pub fn verdict(results: &ResultsV1) -> (&'static str, &'static str) {
    let v = verdict_of(results);
    (v.icon(), v.word())
}

/// The level reached, or `none` when even install did not pass.
pub fn level(results: &ResultsV1) -> &'static str {
    results.level.map_or("none", Rung::as_str)
}

/// Longest short reason a skip note shows (characters).
pub const SHORT_REASON_MAX: usize = 40;

/// The short form of a skip reason: up to its first colon (reasons are
/// written "what: detail", e.g. "no older release: …"), capped.
pub fn short_reason(reason: &str) -> String {
    let head = reason.split(':').next().unwrap_or("").trim();
    let one_line = head.replace(['\n', '\r'], " ");
    let mut out: String = one_line.chars().take(SHORT_REASON_MAX).collect();
    if out.chars().count() < one_line.chars().count() {
        out.push('…');
    }
    out
}

/// The rungs skipped on purpose, each with the short form of its reason:
/// `("upgrade", "no older release")`. Lint is left out: it never counts
/// toward what a run proved.
pub fn skip_notes(results: &ResultsV1) -> Vec<(&'static str, String)> {
    Rung::ALL
        .into_iter()
        .filter(|r| *r != Rung::Lint)
        .filter_map(|r| {
            let x = results.rungs.get(&r)?;
            (x.status == Status::Skip).then(|| (r.as_str(), short_reason(&x.reason)))
        })
        .collect()
}

/// Whether the run says data survival was not proven (older results, which
/// do not say, are not flagged).
pub fn data_unproven(results: &ResultsV1) -> bool {
    results.data_survival.as_ref().is_some_and(|d| !d.proven)
}

/// What "data survival not proven" reads as everywhere.
pub const DATA_UNPROVEN: &str = "data survival not proven";

/// The level with what it leaves out, as plain text for the badge and the
/// dashboard: `level backup_restore · upgrade skipped: no older release ·
/// data survival not proven`.
pub fn level_line(results: &ResultsV1) -> String {
    format!("level {}{}", level(results), level_notes(results))
}

/// What the level leaves out, as plain text, each part led by ` · `;
/// empty when nothing was skipped and data survival is not in doubt.
pub fn level_notes(results: &ResultsV1) -> String {
    let mut out = String::new();
    for (rung, why) in skip_notes(results) {
        if why.is_empty() {
            let _ = write!(out, " · {rung} skipped");
        } else {
            let _ = write!(out, " · {rung} skipped: {why}");
        }
    }
    if data_unproven(results) {
        let _ = write!(out, " · {DATA_UNPROVEN}");
    }
    out
}

/// [`level_line`] for Markdown: the level in bold, every reason inert.
pub fn level_line_md(results: &ResultsV1) -> String {
    let mut out = format!("Level: **{}**", level(results));
    for note in level_notes_md(results) {
        let _ = write!(out, " · {note}");
    }
    out
}

/// What the level leaves out, in Markdown, one part each (reasons inert):
/// `upgrade skipped: `no older release``, `⚠️ data survival not proven`.
pub fn level_notes_md(results: &ResultsV1) -> Vec<String> {
    let mut out: Vec<String> = skip_notes(results)
        .into_iter()
        .map(|(rung, why)| {
            if why.is_empty() {
                format!("{rung} skipped")
            } else {
                format!("{rung} skipped: {}", cell(&why))
            }
        })
        .collect();
    if data_unproven(results) {
        out.push(format!("⚠️ {DATA_UNPROVEN}"));
    }
    out
}

/// One thing a run stood on, in words: the dashboard shows it as HTML,
/// [`proof_lines`] as Markdown.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ProofItem {
    pub label: &'static str,
    /// ✅ or ⚠️ for data survival, empty otherwise.
    pub icon: &'static str,
    pub text: String,
}

/// What a run stood on: the floor, the upgrade base and whether data
/// survival was proven. Empty for results written before these were
/// recorded.
pub fn proof_items(results: &ResultsV1) -> Vec<ProofItem> {
    let mut out = Vec::new();
    if let Some(f) = &results.floor {
        out.push(ProofItem {
            label: "Floor",
            icon: "",
            text: f.describe(),
        });
    }
    if let Some(b) = &results.upgrade_base {
        out.push(ProofItem {
            label: "Upgrade base",
            icon: "",
            text: format!("{} at {}", b.version, short_sha(&b.commit)),
        });
    }
    if let Some(d) = &results.data_survival {
        let (icon, word) = if d.proven {
            ("✅", "proven")
        } else {
            ("⚠️", "not proven")
        };
        out.push(ProofItem {
            label: "Data survival",
            icon,
            text: format!("{word} — {}", d.detail),
        });
    }
    out
}

/// [`proof_items`] as Markdown list items, the text inert.
pub fn proof_lines(results: &ResultsV1) -> Vec<String> {
    proof_items(results)
        .into_iter()
        .map(|p| {
            let icon = if p.icon.is_empty() {
                String::new()
            } else {
                format!("{} ", p.icon)
            };
            format!("{}: {icon}{}", p.label, cell(&p.text))
        })
        .collect()
}

/// A duration to the second: `12s`, `1m 01s`.
pub fn duration(secs: f64) -> String {
    let total = if secs.is_finite() && secs > 0.0 {
        secs.round() as u64
    } else {
        0
    };
    if total >= 60 {
        format!("{}m {:02}s", total / 60, total % 60)
    } else {
        format!("{total}s")
    }
}

/// Longest run output one cell or list item shows (characters).
pub const CELL_MAX: usize = 300;

/// Run output made inert for one Markdown table cell or list item: a code
/// span, so no markup, HTML, link, image, mention or hidden marker from it
/// reaches a rendered page (Gitea neither renders HTML nor links nor
/// mentions inside code), on one line, without column breaks, and capped.
pub fn cell(s: &str) -> String {
    let one_line = s.replace(['\n', '\r'], " ");
    let mut text: String = one_line.chars().take(CELL_MAX).collect();
    if text.chars().count() < one_line.chars().count() {
        text.push('…');
    }
    let text = text.trim();
    if text.is_empty() {
        return String::new();
    }
    // A fence longer than any backtick run inside; spaces keep a leading or
    // trailing backtick off the fence.
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    let pad = if text.starts_with('`') || text.ends_with('`') {
        " "
    } else {
        ""
    };
    // GFM splits table cells at `|` even inside code spans; and an HTML
    // comment opener is broken so no text can pass for the bot's hidden
    // markers, which are searched for as plain text.
    let text = text.replace('|', "\\|").replace("<!--", "<!\u{200b}--");
    format!("{fence}{pad}{text}{pad}{fence}")
}

/// One row of the rung table, as words: the Markdown table here and the
/// dashboard's HTML table are both rendered from these.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RungRow {
    pub rung: &'static str,
    pub icon: &'static str,
    pub status: &'static str,
    pub duration: String,
    pub reason: String,
}

/// The rows of the rung table: one per rung the run reports, in ladder order.
pub fn rung_rows(results: &ResultsV1) -> Vec<RungRow> {
    Rung::ALL
        .into_iter()
        .filter_map(|rung| {
            results.rungs.get(&rung).map(|r| RungRow {
                rung: rung.as_str(),
                icon: status_icon(r.status),
                status: status_word(r.status),
                duration: duration(r.duration_secs),
                reason: r.reason.clone(),
            })
        })
        .collect()
}

/// The rungs a run skipped on purpose, in ladder order.
pub fn skipped_rungs(results: &ResultsV1) -> Vec<&'static str> {
    Rung::ALL
        .into_iter()
        .filter(|r| {
            results
                .rungs
                .get(r)
                .is_some_and(|x| x.status == Status::Skip)
        })
        .map(Rung::as_str)
        .collect()
}

/// The checks that failed or could not be decided (lint has its own rung row
/// and `lint.txt`): `(icon, "rung / name", detail)`.
pub fn bad_checks(results: &ResultsV1) -> Vec<(&'static str, String, String)> {
    results
        .checks
        .iter()
        .filter(|c| matches!(c.status, Status::Fail | Status::Unverified) && c.rung != Rung::Lint)
        .map(|c| {
            (
                status_icon(c.status),
                format!("{} / {}", c.rung.as_str(), c.name),
                c.detail.clone(),
            )
        })
        .collect()
}

/// The rung table: one row per rung the run reports, in ladder order.
pub fn rung_table(results: &ResultsV1) -> String {
    let mut out = String::from("| rung | result | duration | reason |\n|---|---|---|---|\n");
    for r in rung_rows(results) {
        let _ = writeln!(
            out,
            "| {} | {} {} | {} | {} |",
            r.rung,
            r.icon,
            r.status,
            r.duration,
            cell(&r.reason)
        );
    }
    out
}

/// Everything below the headline: the rung table, then the checks that failed
/// or could not be decided (lint has its own rung row and `lint.txt`), then
/// what teardown left behind.
pub fn details(results: &ResultsV1) -> String {
    let mut out = String::new();
    let proof = proof_lines(results);
    for line in &proof {
        let _ = writeln!(out, "- {line}");
    }
    if !proof.is_empty() {
        out.push('\n');
    }
    out.push_str(&rung_table(results));
    let bad: Vec<_> = results
        .checks
        .iter()
        .filter(|c| matches!(c.status, Status::Fail | Status::Unverified) && c.rung != Rung::Lint)
        .collect();
    if !bad.is_empty() {
        out.push_str("\nFailed checks:\n\n");
        for c in bad {
            let _ = write!(
                out,
                "- {} {} / {}: {}",
                status_icon(c.status),
                c.rung.as_str(),
                cell(&c.name),
                cell(&c.detail)
            );
            // The file sits next to results.json in the run's artifacts.
            match &c.screenshot {
                Some(f) => {
                    let _ = writeln!(out, " (screenshot {})", cell(f));
                }
                None => out.push('\n'),
            }
        }
    }
    let allowed: Vec<_> = results
        .checks
        .iter()
        .filter(|c| {
            c.name
                .starts_with(crate::run::policy::gate::EXCEPTION_CHECK)
        })
        .collect();
    if !allowed.is_empty() {
        out.push_str("\nCompose policy exceptions (granted by the registry):\n\n");
        for c in allowed {
            let _ = writeln!(out, "- {}", cell(&c.detail));
        }
    }
    if !results.teardown.is_empty() {
        out.push_str("\n⚠️ Teardown left:\n\n");
        for t in &results.teardown {
            let _ = writeln!(out, "- {}", cell(t));
        }
    }
    out
}

/// `summary.md`: a headline, the level and the [`details`].
pub fn summary_md(results: &ResultsV1) -> String {
    let (icon, word) = verdict(results);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "### ccci: {} @ `{}` — {icon} {word}\n",
        results.recipe,
        short_sha(&results.git_ref)
    );
    let _ = writeln!(
        out,
        "{} · run {} · {}\n",
        level_line_md(results),
        cell(&results.run_id),
        duration(results.duration_secs)
    );
    out.push_str(&details(results));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_round_to_the_second_and_carry_into_minutes() {
        assert_eq!(duration(0.0), "0s");
        assert_eq!(duration(12.4), "12s");
        assert_eq!(duration(59.6), "1m 00s");
        assert_eq!(duration(61.0), "1m 01s");
        assert_eq!(duration(119.6), "2m 00s");
        assert_eq!(duration(f64::NAN), "0s");
    }

    #[test]
    fn a_short_sha_is_seven_hex_digits() {
        assert_eq!(short_sha("9fc1ad6ebf12462f3f97"), "9fc1ad6");
        assert_eq!(short_sha("abc"), "abc");
    }

    fn bare() -> ResultsV1 {
        crate::results::ResultsV1 {
            schema: 1,
            recipe: "keycloak".parse().unwrap(),
            git_ref: "0".repeat(40),
            src: "coop-cloud/keycloak".parse().unwrap(),
            pr: None,
            run_id: "r".into(),
            started_at: String::new(),
            duration_secs: 0.0,
            level: None,
            green: false,
            rungs: Default::default(),
            lanes: Default::default(),
            checks: Vec::new(),
            teardown: Vec::new(),
            floor: None,
            upgrade_base: None,
            data_survival: None,
        }
    }

    #[test]
    fn the_level_line_names_skipped_rungs_and_unproven_data() {
        use crate::results::{DataSurvival, RungResult};
        let mut r = bare();
        r.level = Some(Rung::Install);
        let rung = |status, reason: &str| RungResult {
            status,
            reason: reason.into(),
            duration_secs: 0.0,
        };
        r.rungs.insert(Rung::Install, rung(Status::Pass, ""));
        r.rungs.insert(
            Rung::Upgrade,
            rung(Status::Skip, "no older release: nothing older than 1.0.0"),
        );
        r.rungs.insert(Rung::Lint, rung(Status::Skip, "lint off"));
        assert_eq!(
            level_line(&r),
            "level install · upgrade skipped: no older release"
        );
        r.data_survival = Some(DataSurvival {
            proven: false,
            detail: "no data marker declared".into(),
        });
        assert_eq!(
            level_line(&r),
            "level install · upgrade skipped: no older release · data survival not proven"
        );
        assert_eq!(
            level_line_md(&r),
            "Level: **install** · upgrade skipped: `no older release` · ⚠️ data survival not proven"
        );
        assert_eq!(
            proof_lines(&r),
            ["Data survival: ⚠️ `not proven — no data marker declared`"]
        );
    }

    #[test]
    fn a_failed_browser_check_names_its_screenshot() {
        let mut r = bare();
        r.checks.push(crate::results::CheckResult {
            rung: Rung::Install,
            lane: crate::results::Lane::Fresh,
            name: "browser: login".into(),
            status: Status::Fail,
            detail: "step 5 of 5 (expect_text \"Welcome\") failed at https://a/x".into(),
            duration_secs: 1.0,
            screenshot: Some("browser-1.png".into()),
        });
        assert!(
            details(&r).contains("failed at https://a/x` (screenshot `browser-1.png`)\n"),
            "{}",
            details(&r)
        );
    }

    #[test]
    fn the_verdict_is_what_the_rungs_say() {
        use crate::results::RungResult;
        let rung = |status| RungResult {
            status,
            reason: String::new(),
            duration_secs: 0.0,
        };
        let mut r = bare();
        r.level = Some(Rung::Install);
        r.rungs = [
            (Rung::Install, rung(Status::Pass)),
            (Rung::Upgrade, rung(Status::Unverified)),
            (Rung::Lint, rung(Status::Fail)),
        ]
        .into();
        // A lint failure is never decisive: only the unverified rung counts.
        assert_eq!(verdict(&r), ("❔", "unverified"));
        r.teardown.push("volume left".into());
        assert_eq!(verdict(&r), ("❌", "failed"), "leftovers are a failure");
        r.teardown.clear();
        r.rungs.insert(Rung::BackupRestore, rung(Status::Fail));
        assert_eq!(verdict(&r), ("❌", "failed"));
        r.green = true;
        assert_eq!(verdict(&r).1, "passed");
    }

    #[test]
    fn short_reasons_stop_at_the_first_colon_and_are_capped() {
        assert_eq!(
            short_reason("no older release: no tag is older than 1.0.3"),
            "no older release"
        );
        assert_eq!(
            short_reason("the plan says backup = never"),
            "the plan says backup = never"
        );
        let long = "x".repeat(60);
        assert_eq!(short_reason(&long).chars().count(), SHORT_REASON_MAX + 1);
        assert_eq!(short_reason("a\nb"), "a b");
    }

    #[test]
    fn a_cell_cannot_break_the_table() {
        assert_eq!(cell("a | b\nc\rd"), "`a \\| b c d`");
        assert_eq!(cell(""), "");
        assert_eq!(cell("say `hi`"), "`` say `hi` ``");
    }
}
