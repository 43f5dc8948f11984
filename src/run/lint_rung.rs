//! The lint rung: `abra recipe lint` on its own clone of the head, its rule
//! table turned into checks. Unsatisfied error-level rules fail the rung;
//! lint never fails a run (see `super::rungs`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::fetch::Checkout;
use super::rungs::RungOutcome;
use super::steps::RunCtx;
use crate::registry::Rung;
use crate::results::{CheckResult, Lane, Status};
use crate::tools::lint;

/// Run the lint rung: its outcome, its checks and abra's output.
pub fn run(
    ctx: &RunCtx<'_>,
    work_dir: &Path,
    fresh: &Checkout,
) -> (RungOutcome, Vec<CheckResult>, String) {
    if let Some(reason) = ctx.plan.skip.get(&Rung::Lint) {
        return (RungOutcome::skip(reason.clone()), Vec::new(), String::new());
    }
    if !ctx.plan.lint {
        return (
            RungOutcome::skip("lint is off in the plan"),
            Vec::new(),
            String::new(),
        );
    }
    let start = ctx.now();
    // Its own clone: lint must not touch a checkout a lane is deploying from.
    let abra = work_dir.join("lint");
    let timeout = Duration::from_secs(ctx.plan.timeouts.http_secs.max(120));
    let git = ctx.world.git();
    let prepared_dir = git
        .prepare_abra_dir(&abra, &PathBuf::from(ctx.plan.abra_dir.as_str()))
        .and_then(|()| git.clone_local(fresh, &abra, ctx.plan.recipe.as_str(), &ctx.head, timeout));
    if let Err(e) = prepared_dir {
        return (
            RungOutcome::unverified(e.to_string(), 0.0),
            Vec::new(),
            String::new(),
        );
    }
    ctx.progress.line("lint", "abra recipe lint");
    let text = match ctx.platform().lint(&abra, ctx.plan.recipe.as_str()) {
        Ok(t) => lint::strip_ansi(&t),
        Err(e) => {
            return (
                RungOutcome::unverified(format!("abra recipe lint: {e}"), ctx.secs_since(start)),
                Vec::new(),
                e.to_string(),
            );
        }
    };
    let rules = lint::parse_lint_table(&text);
    let secs = ctx.secs_since(start);
    let checks: Vec<CheckResult> = rules
        .iter()
        .map(|r| CheckResult {
            rung: Rung::Lint,
            lane: Lane::Fresh,
            name: format!("{} {}", r.id, r.rule),
            status: if r.skipped {
                Status::Skip
            } else if r.satisfied {
                Status::Pass
            } else {
                Status::Fail
            },
            detail: r.severity.clone(),
            duration_secs: 0.0,
            screenshot: None,
        })
        .collect();
    let outcome = if rules.is_empty() {
        RungOutcome::unverified("no rule table in abra's lint output", secs)
    } else {
        let bad = lint::unsatisfied(&rules);
        let errors: Vec<String> = bad
            .iter()
            .filter(|r| r.severity.starts_with("err"))
            .map(|r| format!("{} {}", r.id, r.rule))
            .collect();
        if errors.is_empty() {
            RungOutcome::pass(secs)
        } else {
            RungOutcome::fail(format!("unsatisfied: {}", errors.join(", ")), secs)
        }
    };
    (outcome, checks, text)
}
