//! `ccci janitor`: find run apps nobody is running any more and tear them
//! down with the same verified teardown a run uses.
//!
//! Run apps are found twice over: from the env files in the shared abra
//! directory and from the engine's objects (services, volumes, secrets,
//! configs, networks) by the naming rule (`crate::names::run`), so an orphan
//! whose env file is gone is found too. Each is then judged by [`decide`], a
//! pure function: a held lock is a live run and never touched (reported when
//! its run is past its deadline); otherwise an app older than the maximum
//! age is an orphan. Before reaping, the janitor takes the app's lock and
//! looks again, so two janitors at once reap each orphan once.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::platform::{AppRef, TeardownReport};
use super::runstate::{self, RunRecord};
use crate::registry::values::Domain;

/// What the janitor needs of the host.
pub trait JanitorHost: Send + Sync {
    /// Domains with an env file in the shared abra directory, with the
    /// file's age in seconds if known.
    fn env_files(&self) -> Result<Vec<(String, Option<u64>)>, String>;
    /// The names of every service, volume, secret, config and network.
    fn engine_objects(&self) -> Result<Vec<String>, String>;
    /// The run's verified teardown.
    fn teardown(&self, app: &AppRef) -> TeardownReport;
    /// Seconds since the Unix epoch.
    fn now_unix(&self) -> u64;
}

/// One run app as found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Found {
    pub domain: String,
    pub env_file: bool,
    pub engine_objects: usize,
    /// Whether a live process holds its lock.
    pub locked: bool,
    /// Seconds since its run started (the state record), else since its env
    /// file was written; `None` when neither is known.
    pub age_secs: Option<u64>,
    /// The record's deadline, when a record names the app.
    pub deadline_unix: Option<u64>,
}

/// What to do with one app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// A live run holds it.
    Live,
    /// A live run holds it past its deadline: reported, never stolen.
    LiveOverdue { over_secs: u64 },
    /// Unlocked but younger than the maximum age: perhaps a run between
    /// steps of its start; kept.
    Young { age_secs: u64 },
    /// Unlocked and old (or of unknown age): torn down.
    Orphan,
}

/// Judge one app.
pub fn decide(f: &Found, max_age: Duration, now_unix: u64) -> Verdict {
    if f.locked {
        return match f.deadline_unix {
            Some(d) if now_unix > d => Verdict::LiveOverdue {
                over_secs: now_unix - d,
            },
            _ => Verdict::Live,
        };
    }
    match f.age_secs {
        Some(a) if a < max_age.as_secs() => Verdict::Young { age_secs: a },
        _ => Verdict::Orphan,
    }
}

/// Merge the env files, the engine's objects and the records into one
/// entry per run app (locks are looked up afterwards).
pub fn discover(
    env_files: &[(String, Option<u64>)],
    objects: &[String],
    records: &[RunRecord],
    ci_domain: &Domain,
    now_unix: u64,
) -> Vec<Found> {
    let mut by: BTreeMap<String, Found> = BTreeMap::new();
    for (d, age) in env_files {
        if crate::names::run::parse_run_domain(d, ci_domain).is_none() {
            continue;
        }
        let f = by.entry(d.clone()).or_insert_with(|| Found {
            domain: d.clone(),
            ..Found::default()
        });
        f.env_file = true;
        f.age_secs = *age;
    }
    for o in objects {
        if let Some(d) = crate::names::run::parse_run_object(o, ci_domain) {
            let f = by.entry(d.clone()).or_insert_with(|| Found {
                domain: d,
                ..Found::default()
            });
            f.engine_objects += 1;
        }
    }
    for r in records {
        for d in &r.apps {
            if let Some(f) = by.get_mut(d) {
                f.age_secs = Some(now_unix.saturating_sub(r.started_unix));
                f.deadline_unix = Some(r.deadline_unix);
            }
        }
    }
    by.into_values().collect()
}

/// What one sweep saw and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sweep {
    /// Every app found, with its verdict.
    pub seen: Vec<(Found, Verdict)>,
    /// Apps torn down (or that would be, with `dry_run`), with what their
    /// teardown left.
    pub reaped: Vec<(String, TeardownReport)>,
    /// Problems looking (a listing that failed).
    pub problems: Vec<String>,
}

impl Sweep {
    /// One line per app that matters, for the operator.
    pub fn lines(&self, dry_run: bool) -> Vec<String> {
        let mut out = Vec::new();
        for (f, v) in &self.seen {
            match v {
                Verdict::LiveOverdue { over_secs } => out.push(format!(
                    "{}: live run past its deadline by {over_secs} s (left alone)",
                    f.domain
                )),
                Verdict::Young { age_secs } => out.push(format!(
                    "{}: unlocked but only {age_secs} s old (kept)",
                    f.domain
                )),
                _ => {}
            }
        }
        for (d, rep) in &self.reaped {
            let verb = if dry_run { "would reap" } else { "reaped" };
            if rep.problems.is_empty() {
                out.push(format!("{verb} {d}"));
            } else {
                out.push(format!("{verb} {d}; left: {}", rep.problems.join("; ")));
            }
        }
        out.extend(self.problems.iter().cloned());
        out
    }
}

/// Where the janitor acts.
pub struct Scope<'a> {
    pub state_dir: PathBuf,
    pub abra_dir: PathBuf,
    pub server: String,
    pub ci_domain: &'a Domain,
    pub max_age: Duration,
    pub dry_run: bool,
}

fn app_ref(scope: &Scope<'_>, domain: &str) -> AppRef {
    let label = domain.split('.').next().unwrap_or(domain);
    AppRef {
        abra_dir: scope.abra_dir.clone(),
        server: scope.server.clone(),
        // Teardown addresses the app by domain and stack; the recipe name
        // only labels it.
        recipe: label.to_owned(),
        domain: domain.to_owned(),
        stack: crate::names::stack::stack_name(domain),
    }
}

fn look(host: &dyn JanitorHost, scope: &Scope<'_>, problems: &mut Vec<String>) -> Vec<Found> {
    let envs = host.env_files().unwrap_or_else(|e| {
        problems.push(format!("cannot list env files: {e}"));
        Vec::new()
    });
    let objects = host.engine_objects().unwrap_or_else(|e| {
        problems.push(format!("cannot list the engine's objects: {e}"));
        Vec::new()
    });
    let records = RunRecord::read_all(&scope.state_dir);
    let mut found = discover(&envs, &objects, &records, scope.ci_domain, host.now_unix());
    for f in &mut found {
        f.locked = runstate::is_held(&scope.state_dir, &f.domain).unwrap_or_else(|e| {
            problems.push(format!("{}: cannot read its lock: {e}", f.domain));
            // Unknown: treat as live, never reap what might be running.
            true
        });
    }
    found
}

/// Find run apps and reap the orphans.
pub fn sweep(host: &dyn JanitorHost, scope: &Scope<'_>) -> Sweep {
    let mut out = Sweep::default();
    let now = host.now_unix();
    let found = look(host, scope, &mut out.problems);
    let mut orphans = BTreeSet::new();
    for f in found {
        let v = decide(&f, scope.max_age, now);
        if v == Verdict::Orphan {
            orphans.insert(f.domain.clone());
        }
        out.seen.push((f, v));
    }
    for d in orphans {
        if scope.dry_run {
            out.reaped.push((d, TeardownReport::default()));
            continue;
        }
        // Hold the lock while reaping: a second janitor sees it held.
        let _lock = match runstate::try_lock(&scope.state_dir, &d) {
            Ok(Some(l)) => l,
            Ok(None) => continue,
            Err(e) => {
                out.problems.push(format!("{d}: cannot lock it: {e}"));
                continue;
            }
        };
        // Another janitor may have reaped it between our look and our lock.
        if !still_there(host, scope, &d) {
            continue;
        }
        let rep = host.teardown(&app_ref(scope, &d));
        out.reaped.push((d, rep));
    }
    out
}

fn still_there(host: &dyn JanitorHost, scope: &Scope<'_>, domain: &str) -> bool {
    let env = host
        .env_files()
        .map(|v| v.iter().any(|(d, _)| d == domain))
        .unwrap_or(true);
    let obj = host
        .engine_objects()
        .map(|v| {
            v.iter().any(|o| {
                crate::names::run::parse_run_object(o, scope.ci_domain).as_deref() == Some(domain)
            })
        })
        .unwrap_or(true);
    env || obj
}

/// A duration as the command line gives it: `90`, `90s`, `30m`, `2h`, `1d`.
pub fn parse_age(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?}: expected a number with s, m, h or d"))?;
    let mult = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("{s:?}: expected a number with s, m, h or d")),
    };
    Ok(Duration::from_secs(n * mult))
}

/// The shared abra directory's env files of `server`, with their ages.
pub fn env_files_in(abra_dir: &Path, server: &str, now_unix: u64) -> Vec<(String, Option<u64>)> {
    let dir = abra_dir.join("servers").join(server);
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let domain = name.strip_suffix(".env")?.to_owned();
            let age = e
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|t| now_unix.saturating_sub(t.as_secs()));
            Some((domain, age))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(locked: bool, age: Option<u64>, deadline: Option<u64>) -> Found {
        Found {
            domain: "cust-000001.ci.example.org".into(),
            locked,
            age_secs: age,
            deadline_unix: deadline,
            ..Found::default()
        }
    }

    #[test]
    fn a_held_lock_is_live_even_when_old_and_overdue_is_only_reported() {
        let max = Duration::from_secs(3600);
        assert_eq!(
            decide(&found(true, Some(99_999), None), max, 100),
            Verdict::Live
        );
        assert_eq!(
            decide(&found(true, Some(99_999), Some(50)), max, 100),
            Verdict::LiveOverdue { over_secs: 50 }
        );
    }

    #[test]
    fn unlocked_apps_are_kept_young_and_reaped_old_or_of_unknown_age() {
        let max = Duration::from_secs(3600);
        assert_eq!(
            decide(&found(false, Some(10), None), max, 100),
            Verdict::Young { age_secs: 10 }
        );
        assert_eq!(
            decide(&found(false, Some(3600), None), max, 100),
            Verdict::Orphan
        );
        assert_eq!(decide(&found(false, None, None), max, 100), Verdict::Orphan);
    }

    #[test]
    fn discovery_merges_env_files_objects_and_records() {
        let ci: Domain = "ci.example.org".parse().unwrap();
        let envs = vec![
            ("cust-000001.ci.example.org".to_owned(), Some(5000)),
            ("traefik.ci.example.org".to_owned(), Some(5000)),
        ];
        let objects = vec![
            "cust-000001_ci_example_org_app".to_owned(),
            "cust-000002_ci_example_org_content".to_owned(),
            "cust-000002_ci_example_org_default".to_owned(),
            "traefik_ci_example_org_app".to_owned(),
            "proxy".to_owned(),
        ];
        let records = vec![RunRecord {
            run_id: "r".into(),
            pid: 1,
            started_unix: 900,
            deadline_unix: 2000,
            apps: ["cust-000001.ci.example.org".to_owned()].into(),
        }];
        let f = discover(&envs, &objects, &records, &ci, 1000);
        assert_eq!(f.len(), 2, "{f:#?}");
        assert_eq!(f[0].domain, "cust-000001.ci.example.org");
        assert!(f[0].env_file);
        assert_eq!(f[0].engine_objects, 1);
        assert_eq!(f[0].age_secs, Some(100), "the record's start wins");
        assert_eq!(f[0].deadline_unix, Some(2000));
        assert_eq!(f[1].domain, "cust-000002.ci.example.org");
        assert!(!f[1].env_file);
        assert_eq!(f[1].engine_objects, 2);
        assert_eq!(f[1].age_secs, None);
    }

    #[test]
    fn ages_parse_with_units() {
        assert_eq!(parse_age("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_age("30m").unwrap(), Duration::from_secs(1800));
        assert_eq!(parse_age("2h").unwrap(), Duration::from_secs(7200));
        assert_eq!(parse_age("1d").unwrap(), Duration::from_secs(86_400));
        assert!(parse_age("1w").is_err());
        assert!(parse_age("").is_err());
    }
}
