//! The policy as the run's first step before any deploy: refused means the
//! install rung fails with the reason and nothing else runs (no app, no
//! platform call); allowed exceptions are recorded as checks the report
//! lists.

use std::collections::BTreeMap;
use std::path::Path;

use crate::plan::PlanV1;
use crate::registry::Rung;
use crate::results::{CheckResult, Lane, Status};

use super::super::progress::Progress;
use super::super::rungs::RungOutcome;

/// The check that records the policy's verdict.
pub const POLICY_CHECK: &str = "compose policy";
/// The prefix of the checks that record exceptions the registry grants
/// (`src/report.rs` lists them).
pub const EXCEPTION_CHECK: &str = "compose policy exception";

/// What the gate lets through.
pub enum Gate {
    /// Go on; these checks go into the results.
    Open(Vec<CheckResult>),
    /// Stop: every rung's outcome, and the checks.
    Refused(BTreeMap<Rung, RungOutcome>, Vec<CheckResult>),
}

fn check(name: String, status: Status, detail: String, secs: f64) -> CheckResult {
    CheckResult {
        rung: Rung::Install,
        lane: Lane::Fresh,
        name,
        status,
        detail,
        duration_secs: secs,
        screenshot: None,
    }
}

/// Check the head's compose files (in `recipe_dir`) against the policy.
pub fn gate(plan: &PlanV1, recipe_dir: &Path, progress: &Progress) -> Gate {
    let start = std::time::Instant::now();
    let verdict = super::check_checkout(recipe_dir, plan);
    let secs = start.elapsed().as_secs_f64();
    let refusal = match &verdict {
        Err(e) => Some(e.to_string()),
        Ok(v) if v.is_refused() => Some(v.refusal()),
        Ok(_) => None,
    };
    let mut checks = Vec::new();
    if let Ok(v) = &verdict {
        for (violation, why) in &v.excepted {
            let line = format!("{violation} — allowed: {why}");
            progress.line("policy", &format!("exception: {line}"));
            checks.push(check(
                format!("{EXCEPTION_CHECK}: {}", violation.rule),
                Status::Pass,
                line,
                0.0,
            ));
        }
    }
    match refusal {
        None => {
            let files = verdict.map(|v| v.files.join(", ")).unwrap_or_default();
            progress.line("policy", &format!("compose files allowed: {files}"));
            checks.insert(0, check(POLICY_CHECK.into(), Status::Pass, files, secs));
            Gate::Open(checks)
        }
        Some(reason) => {
            progress.line("policy", &reason);
            checks.insert(
                0,
                check(POLICY_CHECK.into(), Status::Fail, reason.clone(), secs),
            );
            let not_run = "the compose policy refused the recipe: nothing was deployed";
            let mut rungs: BTreeMap<Rung, RungOutcome> = Rung::ALL
                .into_iter()
                .map(|r| (r, RungOutcome::unverified(not_run, 0.0)))
                .collect();
            for (r, why) in &plan.skip {
                rungs.insert(*r, RungOutcome::skip(why.clone()));
            }
            rungs.insert(Rung::Install, RungOutcome::fail(reason, secs));
            Gate::Refused(rungs, checks)
        }
    }
}
