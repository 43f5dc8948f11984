//! The run's artifacts: `results.json`, `junit.xml`, `summary.md`, `lint.txt`.
//! Everything here is a pure function of [`ResultsV1`] (and the lint text) so
//! it can be tested without a run; `write_all` is the only effect.
//! `summary.md` is [`crate::report::summary_md`], the text the PR comment shares.

use std::fmt::Write as _;
use std::path::Path;

use crate::names::files::{JUNIT_FILE, LINT_FILE, RESULTS_FILE, SUMMARY_FILE};
use crate::registry::Rung;
use crate::report::summary_md;
use crate::results::{ResultsV1, Status};

/// Could not write an artifact.
#[derive(Debug, thiserror::Error)]
#[error("cannot write {path}: {source}")]
pub struct ReportError {
    pub path: String,
    pub source: std::io::Error,
}

/// `results.json`, pretty, with a final newline.
pub fn results_json(results: &ResultsV1) -> String {
    let mut s = serde_json::to_string_pretty(results).unwrap_or_else(|e| {
        // Serializing plain structs with string keys cannot fail; keep a
        // readable trace rather than a panic if it ever does.
        format!("{{\"error\": \"{}\"}}", xml_escape(&e.to_string()))
    });
    s.push('\n');
    s
}

fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 forbids most control characters.
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\t' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

/// `junit.xml`: one testsuite per rung, one testcase per check; a rung without
/// checks gets one testcase for the rung itself, so nothing is silent.
pub fn junit_xml(results: &ResultsV1) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let total = results.checks.len();
    let failures = results
        .checks
        .iter()
        .filter(|c| matches!(c.status, Status::Fail | Status::Unverified))
        .count();
    let _ = writeln!(
        out,
        "<testsuites name=\"ccci {recipe}\" tests=\"{total}\" failures=\"{failures}\" time=\"{t:.3}\">",
        recipe = xml_escape(results.recipe.as_str()),
        t = results.duration_secs
    );
    for rung in Rung::ALL {
        let checks: Vec<_> = results.checks.iter().filter(|c| c.rung == rung).collect();
        let rr = results.rungs.get(&rung);
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" time=\"{:.3}\">",
            rung.as_str(),
            checks.len().max(1),
            rr.map_or(0.0, |r| r.duration_secs)
        );
        if checks.is_empty() {
            let (status, reason) = rr.map_or((Status::Unverified, "not run"), |r| {
                (r.status, r.reason.as_str())
            });
            testcase(&mut out, rung.as_str(), rung.as_str(), status, reason, 0.0);
        }
        for c in checks {
            let class = format!("{}.{}", rung.as_str(), lane_word(c.lane));
            testcase(
                &mut out,
                &class,
                &c.name,
                c.status,
                &c.detail,
                c.duration_secs,
            );
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

fn lane_word(l: crate::results::Lane) -> &'static str {
    match l {
        crate::results::Lane::Fresh => "fresh",
        crate::results::Lane::Upgrade => "upgrade",
    }
}

fn testcase(out: &mut String, class: &str, name: &str, status: Status, detail: &str, secs: f64) {
    let _ = write!(
        out,
        "    <testcase classname=\"{}\" name=\"{}\" time=\"{secs:.3}\"",
        xml_escape(class),
        xml_escape(name)
    );
    let d = xml_escape(detail);
    match status {
        Status::Pass => {
            let _ = writeln!(out, "><system-out>{d}</system-out></testcase>");
        }
        Status::Skip => {
            let _ = writeln!(out, "><skipped message=\"{d}\"/></testcase>");
        }
        Status::Fail => {
            let _ = writeln!(out, "><failure message=\"{d}\"/></testcase>");
        }
        Status::Unverified => {
            let _ = writeln!(out, "><error message=\"unverified: {d}\"/></testcase>");
        }
    }
}

/// Write every artifact into `dir` (created if needed).
pub fn write_all(dir: &Path, results: &ResultsV1, lint_text: &str) -> Result<(), ReportError> {
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|source| ReportError {
            path: path.display().to_string(),
            source,
        })
    };
    std::fs::create_dir_all(dir).map_err(|source| ReportError {
        path: dir.display().to_string(),
        source,
    })?;
    write(LINT_FILE, lint_text)?;
    write(JUNIT_FILE, &junit_xml(results))?;
    write(SUMMARY_FILE, &summary_md(results))?;
    // Last: the bridge treats results.json as "the run is reported".
    write(RESULTS_FILE, &results_json(results))
}

/// Seconds since the epoch as RFC 3339 UTC (`2026-11-30T02:15:00Z`).
pub fn rfc3339_utc(epoch_secs: u64) -> String {
    let days = (epoch_secs / 86_400) as i64;
    let rem = epoch_secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_of_known_instants() {
        assert_eq!(rfc3339_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339_utc(1_796_005_800), "2026-11-30T02:30:00Z");
    }

    #[test]
    fn xml_escape_handles_markup_and_controls() {
        assert_eq!(
            xml_escape("<a & \"b\">\u{1}"),
            "&lt;a &amp; &quot;b&quot;&gt;"
        );
    }
}
