//! One whole run: fetch, the two lanes (concurrent by default) and lint, each
//! app torn down by exactly one teardown call whatever happened, then the
//! results assembled. One lane's failure never hides the other's results.

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::time::Duration;

use super::fetch::Checkout;
use super::interrupt::{self, Cancel, Interruptible};
use super::platform::{AppRef, TeardownReport};
use super::policy::gate::Gate;
use super::prepare::{Prepared, prepare};
use super::probe::ProbeConfig;
use super::progress::Progress;
use super::rungs::{self, RungOutcome};
use super::steps::{self, Checks, RunCtx};
use super::version::BaseChoice;
use super::world::World;
use super::{fresh, upgrade};
use crate::names::run as naming;
use crate::plan::PlanV1;
use crate::registry::values::RepoSlug;
use crate::registry::{LaneMode, Rung};
use crate::report::short_sha;
use crate::results::{
    CheckResult, Lane, LaneResult, RESULTS_SCHEMA, ResultsV1, Status, UpgradeBase,
};

/// Everything one run needs besides the plan.
pub struct RunInputs<'a> {
    pub plan: &'a PlanV1,
    pub world: &'a dyn World,
    pub probe: ProbeConfig,
    pub progress: Progress,
    /// The commit to test, 40 hex.
    pub git_ref: String,
    pub src: RepoSlug,
    pub pr: Option<u64>,
    /// Where the run keeps its abra directories and clones while it runs.
    pub work_dir: PathBuf,
    /// The run's output directory: results and screenshots.
    pub out_dir: PathBuf,
    pub lanes: LaneMode,
    pub poll: Duration,
    pub backup_attempts: u32,
    pub run_id: String,
    /// Clone URLs are `<git_base>/<owner>/<name>.git`; the plan's Gitea URL
    /// unless overridden (a mirror, or a local directory in tests).
    pub git_base: String,
    /// Set by a signal, the parent's death or the plan's deadline: the
    /// current step stops and every app is torn down (`super::interrupt`).
    pub cancel: Cancel,
}

/// What a run produced: the results and abra's lint output.
pub struct RunOutput {
    pub results: ResultsV1,
    pub lint_text: String,
}

/// A new run id: 12 hex digits.
pub fn new_run_id() -> String {
    format!("{:06x}{:06x}", naming::fresh_nonce(), naming::fresh_nonce())
}

/// Run a lane body against a new app, then tear the app down: exactly one
/// teardown call, after success, failure or panic alike.
fn with_app<T>(
    world: &dyn World,
    progress: &Progress,
    scope: &str,
    app: &AppRef,
    body: impl FnOnce() -> T,
    on_panic: impl FnOnce(String) -> T,
) -> (T, TeardownReport) {
    let out = catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|p| {
        let msg = p
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_else(|| "unknown panic".into());
        on_panic(format!("internal error in the {scope} lane: {msg}"))
    });
    progress.line(scope, &format!("tearing down {}", app.domain));
    let report = world.platform().teardown(app);
    for p in &report.problems {
        progress.line(scope, &format!("teardown problem: {p}"));
    }
    (out, report)
}

struct LaneRun {
    domain: String,
    rungs: BTreeMap<Rung, RungOutcome>,
    checks: Vec<CheckResult>,
    teardown: TeardownReport,
    secs: f64,
    screenshot: Option<String>,
}

fn app_ref(plan: &PlanV1, abra_dir: PathBuf) -> (AppRef, String) {
    let names = naming::run_app(&plan.recipe, naming::fresh_nonce(), &plan.ci_domain);
    (
        AppRef {
            abra_dir,
            server: plan.server.to_string(),
            recipe: plan.recipe.to_string(),
            domain: names.domain,
            stack: names.stack,
        },
        names.label.to_string(),
    )
}

fn fresh_lane(ctx: &RunCtx<'_>, checkout: &Checkout) -> LaneRun {
    let start = ctx.now();
    let (app, label) = app_ref(ctx.plan, checkout.abra_dir.clone());
    let checks = Checks::new(ctx.world.clock());
    let (rungs, teardown) = with_app(
        ctx.world,
        &ctx.progress,
        "fresh",
        &app,
        || fresh::run(ctx, &app, &label, &checks),
        |why| {
            [Rung::Install, Rung::BackupRestore, Rung::Functional]
                .into_iter()
                .map(|r| (r, RungOutcome::unverified(why.clone(), 0.0)))
                .collect()
        },
    );
    LaneRun {
        domain: app.domain,
        rungs,
        screenshot: checks.landing_screenshot(),
        checks: checks.into_vec(),
        teardown,
        secs: ctx.secs_since(start),
    }
}

fn upgrade_lane(ctx: &RunCtx<'_>, inp: &RunInputs<'_>, prepared: &Prepared) -> LaneRun {
    let start = ctx.now();
    let skipped = |reason: String| LaneRun {
        screenshot: None,
        domain: String::new(),
        rungs: [(Rung::Upgrade, RungOutcome::skip(reason))].into(),
        checks: Vec::new(),
        teardown: TeardownReport::default(),
        secs: 0.0,
    };
    if let Some(reason) = ctx.plan.skip.get(&Rung::Upgrade) {
        return skipped(reason.clone());
    }
    let base = match &prepared.base {
        BaseChoice::Base(b) => b.clone(),
        BaseChoice::None(reason) => return skipped(reason.clone()),
    };
    let not_tried = |reason: String, checks: Vec<CheckResult>| LaneRun {
        screenshot: None,
        domain: String::new(),
        rungs: [(Rung::Upgrade, RungOutcome::unverified(reason, 0.0))].into(),
        checks,
        teardown: TeardownReport::default(),
        secs: ctx.secs_since(start),
    };
    let abra = inp.work_dir.join("upgrade");
    let timeout = Duration::from_secs(ctx.plan.timeouts.http_secs.max(120));
    let git = ctx.world.git();
    let checkout = git
        .prepare_abra_dir(&abra, &PathBuf::from(ctx.plan.abra_dir.as_str()))
        .and_then(|()| {
            git.clone_local(
                &prepared.fresh,
                &abra,
                ctx.plan.recipe.as_str(),
                &base.commit,
                timeout,
            )
        });
    let checkout = match checkout {
        Ok(c) => c,
        Err(e) => {
            return not_tried(
                format!("checkout of the base {}: {e}", base.tag),
                Vec::new(),
            );
        }
    };
    // The base is deployed too: the policy judges its compose files first.
    // A refused base is not the PR's fault, so the upgrade is unverified.
    let (policy_checks, allowed) =
        super::policy::gate::gate_base(ctx.plan, &checkout.recipe_dir, &base.tag, &ctx.progress);
    if let Err(reason) = allowed {
        return not_tried(
            format!("the base release {} was not deployed: {reason}", base.tag),
            policy_checks,
        );
    }
    let (app, label) = app_ref(ctx.plan, abra);
    let checks = Checks::new(ctx.world.clock());
    let (outcome, teardown) = with_app(
        ctx.world,
        &ctx.progress,
        "upgrade",
        &app,
        || upgrade::run(ctx, &app, &label, &checkout, &base.tag, &checks),
        |why| RungOutcome::unverified(why, 0.0),
    );
    let mut all_checks = policy_checks;
    all_checks.extend(checks.into_vec());
    LaneRun {
        screenshot: None,
        domain: app.domain,
        rungs: [(Rung::Upgrade, outcome)].into(),
        checks: all_checks,
        teardown,
        secs: ctx.secs_since(start),
    }
}

fn lane_status(rungs: &BTreeMap<Rung, RungOutcome>) -> (Status, String) {
    let find = |s: Status| rungs.iter().find(|(_, o)| o.status == s);
    if let Some((r, o)) = find(Status::Fail) {
        return (Status::Fail, format!("{}: {}", r.as_str(), o.reason));
    }
    if let Some((r, o)) = find(Status::Unverified) {
        return (Status::Unverified, format!("{}: {}", r.as_str(), o.reason));
    }
    if find(Status::Pass).is_some() {
        return (Status::Pass, String::new());
    }
    let reason = rungs
        .values()
        .next()
        .map(|o| o.reason.clone())
        .unwrap_or_default();
    (Status::Skip, reason)
}

/// Perform one run. Never panics on bad input; everything that goes wrong
/// ends up in the results. An interruption (`inp.cancel`, or the plan's
/// `deadline_secs` on the world's clock) stops the current step; every app
/// is still torn down and the cut rungs are `unverified` with the reason.
pub fn execute(inp: &RunInputs<'_>) -> RunOutput {
    if let Some((after, why)) = interrupt::step_deadline(inp.plan.timeouts.deadline_secs) {
        inp.cancel
            .set_deadline(inp.world.clock().now() + after, why);
    }
    let world = Interruptible::new(inp.world, inp.cancel.clone());
    execute_in(&RunInputs {
        plan: inp.plan,
        world: &world,
        probe: inp.probe.clone(),
        progress: inp.progress.clone(),
        git_ref: inp.git_ref.clone(),
        src: inp.src.clone(),
        pr: inp.pr,
        work_dir: inp.work_dir.clone(),
        out_dir: inp.out_dir.clone(),
        lanes: inp.lanes,
        poll: inp.poll,
        backup_attempts: inp.backup_attempts,
        run_id: inp.run_id.clone(),
        git_base: inp.git_base.clone(),
        cancel: inp.cancel.clone(),
    })
}

/// The rungs as an interruption leaves them (unchanged without one).
fn after_interruption(
    cancel: &Cancel,
    rungs: BTreeMap<Rung, RungOutcome>,
) -> BTreeMap<Rung, RungOutcome> {
    match cancel.reason() {
        Some(why) => interrupt::interrupted_rungs(rungs, &why),
        None => rungs,
    }
}

fn execute_in(inp: &RunInputs<'_>) -> RunOutput {
    let clock = inp.world.clock();
    let wall = clock.now();
    let started = clock.unix_secs();
    let plan = inp.plan;
    inp.progress.line(
        "run",
        &format!(
            "{} @ {} from {} (run {})",
            plan.recipe, inp.git_ref, inp.src, inp.run_id
        ),
    );

    let mut rungs: BTreeMap<Rung, RungOutcome> = BTreeMap::new();
    let mut lanes = BTreeMap::new();
    let mut checks = Vec::new();
    let mut teardown = Vec::new();
    let mut lint_text = String::new();
    let mut upgrade_base = None;

    inp.progress.line("run", "fetching the recipe");
    // The compose policy is the one step between the fetch and the first
    // deploy: a refused recipe gets no app at all (docs/security.md).
    let gated = prepare(inp).map(|p| {
        let gate = super::policy::gate::gate(plan, &p.fresh.recipe_dir, &inp.progress);
        (gate, p)
    });
    match gated {
        Err(e) => {
            inp.progress.line("run", &e);
            for r in Rung::ALL {
                rungs.insert(r, RungOutcome::unverified(e.clone(), 0.0));
            }
        }
        Ok((Gate::Refused(refused, gate_checks), _)) => {
            rungs.extend(refused);
            checks.extend(gate_checks);
        }
        Ok((Gate::Open(gate_checks), prepared)) => {
            checks.extend(gate_checks);
            let ctx = RunCtx {
                plan,
                world: inp.world,
                probe: inp.probe.clone(),
                progress: inp.progress.clone(),
                run_id: inp.run_id.clone(),
                head: inp.git_ref.to_ascii_lowercase(),
                poll: inp.poll,
                backup_attempts: inp.backup_attempts,
                recipe_tests: prepared.tests.clone(),
                backup: prepared.backup.clone(),
                cancel: inp.cancel.clone(),
                out_dir: inp.out_dir.clone(),
            };
            if let BaseChoice::Base(b) = &prepared.base {
                inp.progress.line(
                    "run",
                    &format!("upgrade base: {} ({})", b.tag, short_sha(&b.commit)),
                );
                if !plan.skip.contains_key(&Rung::Upgrade) {
                    upgrade_base = Some(UpgradeBase {
                        version: b.tag.clone(),
                        commit: b.commit.clone(),
                    });
                }
            }
            let (fresh, upgrade, lint_res) = match inp.lanes {
                LaneMode::Concurrent => std::thread::scope(|s| {
                    let u = s.spawn(|| upgrade_lane(&ctx, inp, &prepared));
                    let l = s.spawn(|| super::lint_rung::run(&ctx, &inp.work_dir, &prepared.fresh));
                    let f = fresh_lane(&ctx, &prepared.fresh);
                    (f, join_lane(u.join(), "upgrade"), join_lint(l.join()))
                }),
                LaneMode::Sequential => {
                    let f = fresh_lane(&ctx, &prepared.fresh);
                    let u = upgrade_lane(&ctx, inp, &prepared);
                    (
                        f,
                        u,
                        super::lint_rung::run(&ctx, &inp.work_dir, &prepared.fresh),
                    )
                }
            };
            for (lane, mut run) in [(Lane::Fresh, fresh), (Lane::Upgrade, upgrade)] {
                run.rungs = after_interruption(&inp.cancel, run.rungs);
                let (status, reason) = lane_status(&run.rungs);
                lanes.insert(
                    lane,
                    LaneResult {
                        status,
                        domain: run.domain,
                        reason,
                        duration_secs: run.secs,
                        screenshot: run.screenshot,
                    },
                );
                rungs.extend(run.rungs);
                checks.extend(run.checks);
                teardown.extend(run.teardown.problems);
            }
            rungs.insert(Rung::Lint, lint_res.0);
            checks.extend(lint_res.1);
            lint_text = lint_res.2;
        }
    }
    let rungs = after_interruption(&inp.cancel, rungs);
    if let Some(why) = inp.cancel.reason() {
        inp.progress.line("run", &format!("stopped: {why}"));
    }

    // A stopped run vouches for nothing, even when only lint (which never
    // fails a run) was cut.
    let green = rungs::is_green(&rungs, &teardown) && inp.cancel.reason().is_none();
    let level = rungs::level(&rungs);
    for r in Rung::ALL {
        if let Some(o) = rungs.get(&r) {
            let reason = if o.reason.is_empty() {
                String::new()
            } else {
                format!(" — {}", o.reason)
            };
            inp.progress.line(
                "result",
                &format!(
                    "{} {}{}",
                    r.as_str(),
                    crate::report::status_word(o.status),
                    reason
                ),
            );
        }
    }
    let results = ResultsV1 {
        schema: RESULTS_SCHEMA,
        recipe: plan.recipe.clone(),
        git_ref: inp.git_ref.clone(),
        src: inp.src.clone(),
        pr: inp.pr,
        run_id: inp.run_id.clone(),
        started_at: super::report::rfc3339_utc(started),
        duration_secs: clock.secs_since(wall),
        level,
        green,
        rungs: rungs.iter().map(|(r, o)| (*r, o.to_result())).collect(),
        lanes,
        checks,
        teardown,
        floor: Some(steps::floor_of(plan)),
        upgrade_base,
        data_survival: Some(rungs::data_survival(plan.marker.is_some(), &rungs)),
    };
    inp.progress.line(
        "result",
        &format!(
            "{} · {}",
            crate::report::level_line(&results),
            if green { "green" } else { "red" }
        ),
    );
    RunOutput { results, lint_text }
}

fn join_lane(r: std::thread::Result<LaneRun>, scope: &str) -> LaneRun {
    // with_app already catches panics in the lane body; this only fires for a
    // panic outside it, where no app exists yet.
    r.unwrap_or_else(|_| LaneRun {
        screenshot: None,
        domain: String::new(),
        rungs: [(
            Rung::Upgrade,
            RungOutcome::unverified(format!("internal error in the {scope} lane"), 0.0),
        )]
        .into(),
        checks: Vec::new(),
        teardown: TeardownReport::default(),
        secs: 0.0,
    })
}

fn join_lint(
    r: std::thread::Result<(RungOutcome, Vec<CheckResult>, String)>,
) -> (RungOutcome, Vec<CheckResult>, String) {
    r.unwrap_or_else(|_| {
        (
            RungOutcome::unverified("internal error in lint", 0.0),
            Vec::new(),
            String::new(),
        )
    })
}
