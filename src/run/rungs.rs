//! Rung outcomes, the level and the exit decision (docs/architecture.md, "Rungs and level"):
//! rungs install, upgrade, backup_restore, functional, lint; each pass / fail /
//! skip (intentional, with a reason) / unverified. The level is the highest rung
//! that passed with every rung below it pass or skip. Lint never fails a run.

use std::collections::BTreeMap;

use crate::registry::Rung;
use crate::results::{DataSurvival, RungResult, Status};

/// What one rung came to.
#[derive(Debug, Clone, PartialEq)]
pub struct RungOutcome {
    pub status: Status,
    pub reason: String,
    pub duration_secs: f64,
}

impl RungOutcome {
    pub fn pass(duration_secs: f64) -> Self {
        Self {
            status: Status::Pass,
            reason: String::new(),
            duration_secs,
        }
    }
    pub fn fail(reason: impl Into<String>, duration_secs: f64) -> Self {
        Self {
            status: Status::Fail,
            reason: reason.into(),
            duration_secs,
        }
    }
    pub fn skip(reason: impl Into<String>) -> Self {
        Self {
            status: Status::Skip,
            reason: reason.into(),
            duration_secs: 0.0,
        }
    }
    pub fn unverified(reason: impl Into<String>, duration_secs: f64) -> Self {
        Self {
            status: Status::Unverified,
            reason: reason.into(),
            duration_secs,
        }
    }

    pub fn to_result(&self) -> RungResult {
        RungResult {
            status: self.status,
            reason: self.reason.clone(),
            duration_secs: self.duration_secs,
        }
    }
}

/// The level of a run. A rung missing from the map counts as unverified.
pub fn level(rungs: &BTreeMap<Rung, RungOutcome>) -> Option<Rung> {
    let mut best = None;
    for rung in Rung::ALL {
        match rungs.get(&rung).map(|o| o.status) {
            Some(Status::Pass) => best = Some(rung),
            Some(Status::Skip) => {}
            _ => break,
        }
    }
    best
}

/// Green when no rung but lint is fail or unverified, every rung is accounted
/// for, and teardown left nothing behind.
pub fn is_green(rungs: &BTreeMap<Rung, RungOutcome>, teardown_problems: &[String]) -> bool {
    let rungs_ok = Rung::ALL.iter().filter(|r| **r != Rung::Lint).all(|r| {
        matches!(
            rungs.get(r).map(|o| o.status),
            Some(Status::Pass | Status::Skip)
        )
    });
    rungs_ok && teardown_problems.is_empty()
}

/// Whether data survival was proven: by a passed upgrade rung when a
/// marker is declared (its "marker intact" check is part of the pass), or
/// by a passed backup_restore rung (which needs a marker to pass at all).
pub fn data_survival(marker_declared: bool, rungs: &BTreeMap<Rung, RungOutcome>) -> DataSurvival {
    let passed = |r: Rung| rungs.get(&r).is_some_and(|o| o.status == Status::Pass);
    let by: Vec<&str> = [Rung::Upgrade, Rung::BackupRestore]
        .into_iter()
        .filter(|r| marker_declared && passed(*r))
        .map(Rung::as_str)
        .collect();
    if !by.is_empty() {
        return DataSurvival {
            proven: true,
            detail: format!("the data marker survived: {}", by.join(", ")),
        };
    }
    DataSurvival {
        proven: false,
        detail: if marker_declared {
            "no rung that checks the data marker passed".to_owned()
        } else {
            "no data marker declared".to_owned()
        },
    }
}

/// The process exit code of a finished run: 0 green, 1 not.
pub fn exit_code(green: bool) -> u8 {
    if green { 0 } else { 1 }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rungs(list: &[(Rung, Status)]) -> BTreeMap<Rung, RungOutcome> {
        list.iter()
            .map(|(r, s)| {
                (
                    *r,
                    RungOutcome {
                        status: *s,
                        reason: String::new(),
                        duration_secs: 0.0,
                    },
                )
            })
            .collect()
    }

    use Rung::*;
    use Status::*;

    #[test]
    fn all_pass_reaches_lint() {
        let r = rungs(&[
            (Install, Pass),
            (Upgrade, Pass),
            (BackupRestore, Pass),
            (Functional, Pass),
            (Lint, Pass),
        ]);
        assert_eq!(level(&r), Some(Lint));
        assert!(is_green(&r, &[]));
    }

    #[test]
    fn skips_are_stepped_over_but_never_become_the_level() {
        let r = rungs(&[
            (Install, Pass),
            (Upgrade, Skip),
            (BackupRestore, Pass),
            (Functional, Skip),
            (Lint, Skip),
        ]);
        assert_eq!(level(&r), Some(BackupRestore));
        assert!(is_green(&r, &[]));
    }

    #[test]
    fn a_failed_rung_caps_the_level_below_it() {
        let r = rungs(&[
            (Install, Pass),
            (Upgrade, Fail),
            (BackupRestore, Pass),
            (Functional, Pass),
            (Lint, Pass),
        ]);
        assert_eq!(level(&r), Some(Install));
        assert!(!is_green(&r, &[]));
    }

    #[test]
    fn failed_install_has_no_level() {
        let r = rungs(&[(Install, Fail), (Upgrade, Pass)]);
        assert_eq!(level(&r), None);
    }

    #[test]
    fn unverified_is_not_green() {
        let r = rungs(&[
            (Install, Pass),
            (Upgrade, Pass),
            (BackupRestore, Unverified),
            (Functional, Pass),
            (Lint, Pass),
        ]);
        assert!(!is_green(&r, &[]));
        assert_eq!(level(&r), Some(Upgrade));
    }

    #[test]
    fn lint_failure_keeps_the_run_green() {
        let r = rungs(&[
            (Install, Pass),
            (Upgrade, Pass),
            (BackupRestore, Pass),
            (Functional, Pass),
            (Lint, Fail),
        ]);
        assert!(is_green(&r, &[]));
        assert_eq!(level(&r), Some(Functional));
    }

    #[test]
    fn a_missing_rung_is_not_green() {
        let r = rungs(&[(Install, Pass)]);
        assert!(!is_green(&r, &[]));
    }

    #[test]
    fn teardown_leftovers_make_the_run_red() {
        let r = rungs(&[
            (Install, Pass),
            (Upgrade, Pass),
            (BackupRestore, Pass),
            (Functional, Pass),
            (Lint, Pass),
        ]);
        assert!(!is_green(&r, &["volume x left".into()]));
    }

    #[test]
    fn data_survival_needs_a_marker_and_a_passed_rung_that_carries_it() {
        let all_pass = rungs(&[(Install, Pass), (Upgrade, Pass), (BackupRestore, Pass)]);
        let d = data_survival(true, &all_pass);
        assert!(d.proven);
        assert!(d.detail.contains("upgrade, backup_restore"), "{}", d.detail);
        // Without a marker an upgrade pass proves the app runs, not the data.
        let d = data_survival(false, &all_pass);
        assert!(!d.proven);
        assert_eq!(d.detail, "no data marker declared");
        let skipped = rungs(&[(Install, Pass), (Upgrade, Skip), (BackupRestore, Fail)]);
        assert!(!data_survival(true, &skipped).proven);
        let only_backup = rungs(&[(Install, Pass), (Upgrade, Skip), (BackupRestore, Pass)]);
        assert_eq!(
            data_survival(true, &only_backup).detail,
            "the data marker survived: backup_restore"
        );
    }

    #[test]
    fn exit_code_is_zero_only_when_green() {
        assert_eq!(exit_code(true), 0);
        assert_eq!(exit_code(false), 1);
    }
}
