//! Finding runs in the runs directory. Two layouts live there side by side
//! (src/names/files.rs): `<build number>/` from Drone builds and
//! `<recipe>/<run id>/` from `ccci run` without `--out`. A directory holding a
//! `results.json` is a run; any other non-numeric directory is a recipe's.

use std::path::Path;

use crate::contract::ContractError;
use crate::names::files::RESULTS_FILE;
use crate::results::ResultsV1;

use super::model::{Entry, Outcome, Summary, unix_time};

/// A run read from disk: its entry and, when readable, its results.
pub struct Found {
    pub recipe: Option<String>,
    pub entry: Entry,
    pub results: Option<ResultsV1>,
    /// File names in the run's directory (artifacts, screenshots).
    pub files: Vec<String>,
}

fn is_build(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit())
}

fn subdirs(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<String> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| !n.starts_with('.'))
        .collect();
    out.sort();
    out
}

/// Run directories (relative paths) not in `seen`, sorted. Build
/// directories are judged by name alone and seen ones are skipped before
/// anything else is asked of them: with thousands of runs on disk this
/// listing is most of an update's time.
pub fn candidates(runs_dir: &Path, seen: impl Fn(&str) -> bool) -> Vec<String> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(runs_dir) else {
        return out;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.starts_with('.') || seen(name) || !e.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        if is_build(name) || runs_dir.join(name).join(RESULTS_FILE).exists() {
            out.push(name.to_owned());
            continue;
        }
        for child in subdirs(&runs_dir.join(name)) {
            let rel = format!("{name}/{child}");
            if !seen(&rel) {
                out.push(rel);
            }
        }
    }
    out.sort();
    out
}

/// Read one run. `None` while its `results.json` is not there yet (a run in
/// progress, or one that died before writing it).
pub fn read_run(runs_dir: &Path, rel: &str) -> Option<Found> {
    let dir = runs_dir.join(rel);
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .ok()?
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    files.sort();
    if !files.iter().any(|f| f == RESULTS_FILE) {
        return None;
    }
    let parent_recipe = rel.split_once('/').map(|(r, _)| r.to_owned());
    match ResultsV1::read(&dir.join(RESULTS_FILE)) {
        Ok(r) => Some(Found {
            recipe: Some(r.recipe.to_string()),
            entry: Entry {
                rel: rel.to_owned(),
                seq: 0,
                started: unix_time(&r.started_at),
                outcome: Outcome::Read(Box::new(Summary::of(&r))),
            },
            results: Some(r),
            files,
        }),
        Err(e) => Some(Found {
            recipe: parent_recipe,
            entry: Entry {
                rel: rel.to_owned(),
                seq: 0,
                // Its start is unknown: when results.json was written stands in,
                // so the run still ages out with the retention.
                started: modified(&dir.join(RESULTS_FILE)),
                outcome: Outcome::Corrupt {
                    error: corrupt_reason(runs_dir, &e),
                },
            },
            results: None,
            files,
        }),
    }
}

/// The error without the host's runs directory in it: pages are served.
fn corrupt_reason(runs_dir: &Path, e: &ContractError) -> String {
    let prefix = format!("{}/", runs_dir.display());
    e.to_string().replace(&prefix, "")
}

fn modified(path: &Path) -> i64 {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0))
}
