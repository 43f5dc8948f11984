//! The leak scan at the end of a run (docs/security.md, "Masking and the
//! leak scan"): every string of the results and the lint text is masked
//! before an artifact is rendered; what remains is scanned for token shapes;
//! once written, every artifact file is scanned again for known values and
//! token shapes. A hit fails the run and leaves the artifact redacted.

use std::path::Path;

use super::mask::Masker;
use crate::registry::Rung;
use crate::results::{CheckResult, Lane, ResultsV1, Status};

/// The check a leak adds to the results.
pub const LEAK_CHECK: &str = "leak scan";

/// Mask every string of `results` and `lint`; redact token shapes. Returns
/// what was found (never the values); when anything was, the run is red and
/// a failed `leak scan` check says why.
pub fn seal(results: &mut ResultsV1, lint: &mut String, masker: &Masker) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    let mut note = |f: Vec<String>| {
        for x in f {
            if !found.contains(&x) {
                found.push(x);
            }
        }
    };
    let mut fix = |s: &mut String| {
        let f = masker.findings(s);
        if !f.is_empty() {
            *s = masker.redact(s);
            note(f);
        }
    };
    fix(lint);
    fix(&mut results.git_ref);
    fix(&mut results.run_id);
    for r in results.rungs.values_mut() {
        fix(&mut r.reason);
    }
    for l in results.lanes.values_mut() {
        fix(&mut l.reason);
        fix(&mut l.domain);
    }
    for c in &mut results.checks {
        fix(&mut c.name);
        fix(&mut c.detail);
    }
    for t in &mut results.teardown {
        fix(t);
    }
    if !found.is_empty() {
        fail(results, &found);
    }
    found
}

fn fail(results: &mut ResultsV1, found: &[String]) {
    results.green = false;
    results.checks.push(CheckResult {
        rung: Rung::Install,
        lane: Lane::Fresh,
        name: LEAK_CHECK.to_owned(),
        status: Status::Fail,
        detail: format!(
            "the run's output held {}; written redacted",
            found.join(", ")
        ),
        duration_secs: 0.0,
        screenshot: None,
    });
}

/// The run's masker at the start: the host's secret files (every file in the
/// directory of the plan's token file, the Gitea token among them).
pub fn masker_for(plan: &crate::plan::PlanV1) -> Masker {
    let m = Masker::new();
    let token = Path::new(plan.token_file.as_str());
    // The directory is the host's secrets directory only when it holds the
    // token (a plan without a token file points anywhere).
    if let Ok(t) = std::fs::read_to_string(token) {
        m.add(&t);
        if let Some(dir) = token.parent() {
            super::mask::add_secret_dir(&m, dir);
        }
    }
    m
}

/// Seal the results, write every artifact, scan what was written. `Ok(false)`
/// when the scan found anything (the run is then red).
pub fn write_sealed(
    dir: &Path,
    results: &mut ResultsV1,
    lint: &mut String,
    masker: &Masker,
    progress: &super::progress::Progress,
) -> Result<bool, super::report::ReportError> {
    let found = seal(results, lint, masker);
    if !found.is_empty() {
        progress.line(
            "run",
            &format!(
                "leak scan: {}; artifacts written redacted",
                found.join(", ")
            ),
        );
    }
    super::report::write_all(dir, results, lint)?;
    let after = scan_dir(dir, masker);
    for (file, f) in &after {
        progress.line(
            "run",
            &format!(
                "leak scan: {file} held {}; rewritten redacted",
                f.join(", ")
            ),
        );
    }
    Ok(found.is_empty() && after.is_empty())
}

/// Scan the artifact files in `dir` after they were written; rewrite any with
/// a finding redacted. Returns `(file name, findings)` per file with a hit.
pub fn scan_dir(dir: &Path, masker: &Masker) -> Vec<(String, Vec<String>)> {
    let mut hits = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return hits;
    };
    let mut files: Vec<_> = entries
        .flatten()
        .filter(|e| e.metadata().is_ok_and(|m| m.is_file()))
        .map(|e| e.path())
        .collect();
    files.sort();
    for path in files {
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let f = masker.findings(&text);
        if f.is_empty() {
            continue;
        }
        // Best effort: if the rewrite fails the caller still fails the run.
        let _ = crate::envfile::write_atomically(&path, masker.redact(&text).as_bytes());
        let name = path
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        hits.push((name, f));
    }
    hits
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::results::{LaneResult, RungResult};

    fn results(reason: &str) -> ResultsV1 {
        ResultsV1 {
            schema: crate::results::RESULTS_SCHEMA,
            recipe: "custom-html".parse().unwrap(),
            git_ref: "a".repeat(40),
            src: "coop-cloud/custom-html".parse().unwrap(),
            pr: Some(1),
            run_id: "0123456789ab".into(),
            started_at: "2026-11-30T00:00:00Z".into(),
            duration_secs: 1.0,
            level: None,
            green: true,
            rungs: [(
                Rung::Functional,
                RungResult {
                    status: Status::Fail,
                    reason: reason.to_owned(),
                    duration_secs: 0.0,
                },
            )]
            .into(),
            lanes: [(
                Lane::Fresh,
                LaneResult {
                    status: Status::Fail,
                    domain: "x.ci.example.org".into(),
                    reason: reason.to_owned(),
                    duration_secs: 0.0,
                    screenshot: None,
                },
            )]
            .into(),
            checks: Vec::new(),
            teardown: Vec::new(),
            floor: None,
            upgrade_base: None,
            data_survival: None,
        }
    }

    #[test]
    fn a_known_value_is_masked_everywhere_and_fails_the_run() {
        let m = Masker::new();
        m.add("planted-value");
        let mut r = results("tests/t: exit status: 1: planted-value");
        let mut lint = "ok planted-value".to_owned();
        let found = seal(&mut r, &mut lint, &m);
        assert_eq!(found, ["a known secret value"]);
        // Masked everywhere, and the run is red: a value reached an output.
        assert_eq!(lint, "ok ***");
        assert_eq!(
            r.rungs[&Rung::Functional].reason,
            "tests/t: exit status: 1: ***"
        );
        assert!(!r.green);
        let json = serde_json::to_string(&r).unwrap();
        assert!(!json.contains("planted-value"));
        assert!(r.checks.iter().any(|c| c.name == LEAK_CHECK));
    }

    #[test]
    fn nothing_found_changes_nothing() {
        let m = Masker::new();
        m.add("planted-value");
        let mut r = results("deploy failed");
        let before = serde_json::to_string(&r).unwrap();
        assert!(seal(&mut r, &mut String::new(), &m).is_empty());
        assert_eq!(serde_json::to_string(&r).unwrap(), before);
    }

    #[test]
    fn a_written_artifact_with_a_token_is_rewritten_redacted() {
        let d = tempfile::tempdir().unwrap();
        let tok = format!("glpat-{}", "z".repeat(24));
        std::fs::write(d.path().join("summary.md"), format!("x {tok}\n")).unwrap();
        std::fs::write(d.path().join("lint.txt"), "clean\n").unwrap();
        let hits = scan_dir(d.path(), &Masker::new());
        assert_eq!(
            hits,
            [("summary.md".to_owned(), vec!["GitLab token".to_owned()])]
        );
        assert_eq!(
            std::fs::read_to_string(d.path().join("summary.md")).unwrap(),
            "x ***\n"
        );
    }
}
