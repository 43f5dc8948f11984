//! What the dashboard remembers of a run: enough to list it on the index and
//! its recipe's history without reading its `results.json` again. The words
//! (verdict, level, durations) come from [`crate::report`], never re-derived.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::report;
use crate::results::ResultsV1;

/// Runs per history page. Pages are numbered from a recipe's oldest run
/// (page 1) so that a new run changes only the newest page.
pub const PAGE_SIZE: u64 = 50;

/// One run as the pages list it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// The run's directory relative to the runs directory (`57`,
    /// `keycloak/3fa9c10c11e5`).
    pub rel: String,
    /// Position in its recipe's history, from 0; decides its page.
    pub seq: u64,
    /// Unix seconds the run started; 0 when unknown (a corrupt run).
    pub started: i64,
    pub outcome: Outcome,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Outcome {
    Read(Box<Summary>),
    /// `results.json` is there but could not be read: shown, never a crash.
    Corrupt {
        error: String,
    },
}

/// The headline of a readable run, in the words of [`crate::report`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub green: bool,
    pub verdict_icon: String,
    pub verdict: String,
    pub level: String,
    /// The level with the rungs skipped and unproven data
    /// ([`report::level_line`]); empty in state written before it.
    #[serde(default)]
    pub level_line: String,
    pub skipped: Vec<String>,
    pub git_ref: String,
    pub short_sha: String,
    pub src: String,
    pub pr: Option<u64>,
    pub run_id: String,
    pub started_at: String,
    pub duration: String,
    pub duration_secs: f64,
}

impl Summary {
    pub fn of(r: &ResultsV1) -> Summary {
        let (icon, word) = report::verdict(r);
        Summary {
            green: r.green,
            verdict_icon: icon.to_owned(),
            verdict: word.to_owned(),
            level: report::level(r).to_owned(),
            level_line: report::level_line(r),
            skipped: report::skipped_rungs(r)
                .into_iter()
                .map(str::to_owned)
                .collect(),
            git_ref: r.git_ref.clone(),
            short_sha: report::short_sha(&r.git_ref).to_owned(),
            src: r.src.to_string(),
            pr: r.pr,
            run_id: r.run_id.clone(),
            started_at: r.started_at.clone(),
            duration: report::duration(r.duration_secs),
            duration_secs: r.duration_secs,
        }
    }
}

/// Unix seconds of an RFC 3339 time; 0 when it does not parse.
pub fn unix_time(rfc3339: &str) -> i64 {
    OffsetDateTime::parse(rfc3339, &Rfc3339).map_or(0, |t| t.unix_timestamp())
}

/// How long ago, roughly: `42s`, `5m`, `3h`, `2d`.
pub fn age(now: i64, then: i64) -> String {
    if then == 0 {
        return "unknown".to_owned();
    }
    let d = (now - then).max(0);
    match d {
        0..60 => format!("{d}s"),
        60..3600 => format!("{}m", d / 60),
        3600..86400 => format!("{}h", d / 3600),
        _ => format!("{}d", d / 86400),
    }
}

/// The file-name-safe key of a run, its relative path with `/` as `~`.
pub fn run_key(rel: &str) -> String {
    rel.replace('/', "~")
}

/// The page (from 1) a run's position falls on.
pub fn page_of(seq: u64) -> u64 {
    seq / PAGE_SIZE + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_in_the_largest_whole_unit() {
        assert_eq!(age(100, 58), "42s");
        assert_eq!(age(10_000, 10_000 - 300), "5m");
        assert_eq!(age(100_000, 100_000 - 3 * 3600), "3h");
        assert_eq!(age(1_000_000, 1_000_000 - 2 * 86400 - 5), "2d");
        assert_eq!(age(5, 0), "unknown");
    }

    #[test]
    fn pages_hold_fifty_runs_from_the_oldest() {
        assert_eq!(page_of(0), 1);
        assert_eq!(page_of(49), 1);
        assert_eq!(page_of(50), 2);
    }

    #[test]
    fn times_parse_or_read_as_unknown() {
        assert_eq!(unix_time("1970-01-01T00:01:00Z"), 60);
        assert_eq!(unix_time("yesterday"), 0);
        assert_eq!(run_key("keycloak/3fa9"), "keycloak~3fa9");
    }
}
