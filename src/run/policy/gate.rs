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

fn check(
    (rung, lane): (Rung, Lane),
    name: String,
    status: Status,
    detail: String,
    secs: f64,
) -> CheckResult {
    CheckResult {
        rung,
        lane,
        name,
        status,
        detail,
        duration_secs: secs,
        screenshot: None,
    }
}

/// Judge one checkout: its checks (the verdict first, then each exception
/// used) and the refusal, if any. `what` names the checkout in the checks
/// and progress lines ("" for the head).
fn judge(
    plan: &PlanV1,
    recipe_dir: &Path,
    progress: &Progress,
    at: (Rung, Lane),
    what: &str,
) -> (Vec<CheckResult>, Option<String>) {
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
            progress.line("policy", &format!("exception{what}: {line}"));
            checks.push(check(
                at,
                format!("{EXCEPTION_CHECK}: {}", violation.rule),
                Status::Pass,
                line,
                0.0,
            ));
        }
    }
    let (status, detail) = match &refusal {
        None => {
            let files = verdict.map(|v| v.files.join(", ")).unwrap_or_default();
            progress.line("policy", &format!("compose files allowed{what}: {files}"));
            (Status::Pass, files)
        }
        Some(reason) => {
            progress.line("policy", &format!("{reason}{what}"));
            (Status::Fail, reason.clone())
        }
    };
    checks.insert(
        0,
        check(at, format!("{POLICY_CHECK}{what}"), status, detail, secs),
    );
    (checks, refusal)
}

/// Check the head's compose files (in `recipe_dir`) against the policy.
pub fn gate(plan: &PlanV1, recipe_dir: &Path, progress: &Progress) -> Gate {
    let (checks, refusal) = judge(plan, recipe_dir, progress, (Rung::Install, Lane::Fresh), "");
    let Some(reason) = refusal else {
        return Gate::Open(checks);
    };
    let not_run = "the compose policy refused the recipe: nothing was deployed";
    let mut rungs: BTreeMap<Rung, RungOutcome> = Rung::ALL
        .into_iter()
        .map(|r| (r, RungOutcome::unverified(not_run, 0.0)))
        .collect();
    for (r, why) in &plan.skip {
        rungs.insert(*r, RungOutcome::skip(why.clone()));
    }
    let secs = checks.first().map_or(0.0, |c| c.duration_secs);
    rungs.insert(Rung::Install, RungOutcome::fail(reason, secs));
    Gate::Refused(rungs, checks)
}

/// Check the upgrade base's compose files (in its checkout) before the
/// upgrade lane deploys it: a release is as untrusted as the PR head, and
/// the policy may have changed since it was tagged. `Err` carries the
/// refusal; the checks are the upgrade lane's either way.
pub fn gate_base(
    plan: &PlanV1,
    recipe_dir: &Path,
    base: &str,
    progress: &Progress,
) -> (Vec<CheckResult>, Result<(), String>) {
    let what = format!(" (base release {base})");
    let (checks, refusal) = judge(
        plan,
        recipe_dir,
        progress,
        (Rung::Upgrade, Lane::Upgrade),
        &what,
    );
    (checks, refusal.map_or(Ok(()), Err))
}
