//! The fresh lane: a new app at the PR head → install checks → backup and
//! restore → the recipe's own tests. Its rungs: install, backup_restore,
//! functional.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use super::browser;
use super::marker::{self, MarkerValue};
use super::platform::{AppRef, OpError};
use super::probe;
use super::rungs::RungOutcome;
use super::steps::{self, Checks, RunCtx, short};
use super::world::{AppHttp, ChildEnd, ChildRun};
use crate::registry::Rung;
use crate::results::{Lane, Status};

const SCOPE: &str = "fresh";
const L: Lane = Lane::Fresh;

/// Run the fresh lane's checks on a created app. Teardown is the caller's.
pub fn run(
    ctx: &RunCtx<'_>,
    app: &AppRef,
    label: &str,
    checks: &Checks<'_>,
) -> BTreeMap<Rung, RungOutcome> {
    let mut rungs = BTreeMap::new();
    let install = install(ctx, app, label, checks);
    let installed = install.status == Status::Pass;
    rungs.insert(Rung::Install, install);

    let probe = ctx.world.web().client(&ctx.probe, &app.domain);
    let after_install = |rung: Rung, f: &dyn Fn(&dyn AppHttp) -> RungOutcome| -> RungOutcome {
        if let Some(reason) = ctx.plan.skip.get(&rung) {
            return RungOutcome::skip(reason.clone());
        }
        if !installed {
            return RungOutcome::unverified("install did not pass", 0.0);
        }
        match &probe {
            Ok(p) => f(p.as_ref()),
            Err(e) => RungOutcome::unverified(e.to_string(), 0.0),
        }
    };
    rungs.insert(
        Rung::BackupRestore,
        after_install(Rung::BackupRestore, &|p| {
            backup_restore(ctx, app, p, checks)
        }),
    );
    rungs.insert(
        Rung::Functional,
        after_install(Rung::Functional, &|_| functional(ctx, app, checks)),
    );
    rungs
}

fn install(ctx: &RunCtx<'_>, app: &AppRef, label: &str, checks: &Checks<'_>) -> RungOutcome {
    let start = ctx.now();
    let secs = || ctx.secs_since(start);
    if let Err(e) = steps::create_and_deploy(ctx, app, label, SCOPE) {
        checks.record(
            Rung::Install,
            L,
            "deploy",
            Status::Fail,
            &e.to_string(),
            start,
        );
        // The host failing us says nothing about the recipe.
        return match e {
            OpError::Infra(_) => {
                RungOutcome::unverified(format!("deploy of the head: {e}"), secs())
            }
            _ => RungOutcome::fail(format!("deploy of the head failed: {e}"), secs()),
        };
    }
    let probe = match ctx.world.web().client(&ctx.probe, &app.domain) {
        Ok(p) => p,
        Err(e) => return RungOutcome::unverified(e.to_string(), secs()),
    };
    let probe = probe.as_ref();
    ctx.progress.line(SCOPE, "waiting until healthy");
    let t = ctx.now();
    if let Err(e) = checks.verdict(
        Rung::Install,
        L,
        "healthy",
        t,
        steps::wait_healthy(ctx, app, probe),
    ) {
        return RungOutcome::fail(e, secs());
    }
    ctx.progress.line(SCOPE, "healthy; running install checks");
    let mut failed = Vec::new();
    // A recipe with no web domain has nothing to probe or show in a
    // browser (the registry refuses such checks for it; a plan is trusted
    // no further than that).
    let web = ctx.plan.web;
    let (http_checks, browser_checks) = if web {
        (ctx.plan.checks.as_slice(), ctx.plan.browser.as_slice())
    } else {
        (&[][..], &[][..])
    };
    for c in http_checks {
        let t = ctx.now();
        if let Err(e) = checks.verdict(Rung::Install, L, &c.name, t, probe::http_check(probe, c)) {
            failed.push(format!("{}: {e}", c.name));
        }
    }
    let mut undecided = Vec::new();
    if !browser_checks.is_empty() {
        let _ = std::fs::create_dir_all(&ctx.out_dir);
        ctx.progress.line(SCOPE, "browser: landing-page screenshot");
        checks.set_landing_screenshot(browser::landing_screenshot(
            ctx,
            app,
            &ctx.out_dir,
            browser::SCREENSHOT_BUDGET,
        ));
    }
    for (i, b) in browser_checks.iter().enumerate() {
        ctx.progress.line(SCOPE, &format!("browser: {}", b.name));
        let t = ctx.now();
        let v = browser::run_check(ctx, app, i, b, &ctx.out_dir);
        let name = format!("browser: {}", b.name);
        match v.status {
            Status::Fail => failed.push(format!("{name}: {}", v.detail)),
            Status::Unverified => undecided.push(format!("{name}: {}", v.detail)),
            _ => {}
        }
        checks.record(Rung::Install, L, &name, v.status, &v.detail, t);
        checks.attach_screenshot(v.screenshot);
    }
    if !failed.is_empty() {
        RungOutcome::fail(failed.join("; "), secs())
    } else if !undecided.is_empty() {
        RungOutcome::unverified(undecided.join("; "), secs())
    } else {
        RungOutcome::pass(secs())
    }
}

fn backup_restore(
    ctx: &RunCtx<'_>,
    app: &AppRef,
    probe: &dyn AppHttp,
    checks: &Checks<'_>,
) -> RungOutcome {
    if let Err(reason) = &ctx.backup {
        return RungOutcome::skip(reason.clone());
    }
    let Some(m) = &ctx.plan.marker else {
        return RungOutcome::skip("no data marker declared: nothing to prove a restore with");
    };
    let start = ctx.now();
    let secs = || ctx.secs_since(start);
    let r = Rung::BackupRestore;
    let original = MarkerValue::new(&ctx.run_id, "original");
    let mutated = MarkerValue::new(&ctx.run_id, "mutated");

    ctx.progress.line(SCOPE, "backup: seeding the marker");
    let t = ctx.now();
    if let Err(e) = checks.verdict(
        r,
        L,
        "seed marker",
        t,
        steps::write_marker(ctx, app, probe, m, &original).map(|()| original.as_str().to_owned()),
    ) {
        return RungOutcome::unverified(e, secs());
    }

    // A backup can report success without the data (a DB restarting mid-dump):
    // look inside it, and redo it a bounded number of times.
    let mut held = false;
    let mut why = String::new();
    for attempt in 1..=ctx.backup_attempts.max(1) {
        ctx.progress
            .line(SCOPE, &format!("backup: creating (attempt {attempt})"));
        let t = ctx.now();
        match ctx.platform().backup_create(app) {
            Ok(()) => {}
            Err(e) => {
                checks.record(r, L, "backup create", Status::Fail, &e.to_string(), t);
                return RungOutcome::fail(format!("backup create failed: {e}"), secs());
            }
        }
        match ctx.platform().backup_holds(app, original.as_str()) {
            Ok(true) => {
                checks.record(
                    r,
                    L,
                    "backup holds the marker",
                    Status::Pass,
                    &format!("attempt {attempt}"),
                    t,
                );
                held = true;
                break;
            }
            Ok(false) => {
                why = format!("the backup does not hold the marker (after {attempt} attempt(s))")
            }
            Err(e) => why = format!("cannot inspect the backup: {e}"),
        }
    }
    if !held {
        checks.record(r, L, "backup holds the marker", Status::Fail, &why, start);
        return RungOutcome::fail(why, secs());
    }

    ctx.progress.line(SCOPE, "backup: mutating");
    let t = ctx.now();
    if let Err(e) = checks.verdict(
        r,
        L,
        "mutate marker",
        t,
        steps::write_marker(ctx, app, probe, m, &mutated).map(|()| mutated.as_str().to_owned()),
    ) {
        return RungOutcome::unverified(e, secs());
    }

    ctx.progress.line(SCOPE, "backup: restoring");
    let t = ctx.now();
    if let Err(e) = ctx.platform().restore(app) {
        checks.record(r, L, "restore", Status::Fail, &e.to_string(), t);
        return RungOutcome::fail(format!("restore failed: {e}"), secs());
    }
    let t = ctx.now();
    if let Err(e) = checks.verdict(
        r,
        L,
        "healthy after restore",
        t,
        steps::wait_healthy(ctx, app, probe),
    ) {
        return RungOutcome::fail(format!("after restore: {e}"), secs());
    }
    let t = ctx.now();
    let back = steps::read_marker(ctx, app, probe, m)
        .map_err(|e| format!("after restore the marker is gone: {e}"))
        .and_then(|got| {
            if marker::holds(&got, &original) {
                Ok(format!("{} is back", original.as_str()))
            } else {
                Err(format!(
                    "after restore the marker reads {:?}, expected {}",
                    short(&got),
                    original.as_str()
                ))
            }
        });
    match checks.verdict(r, L, "marker restored", t, back) {
        Ok(_) => RungOutcome::pass(secs()),
        Err(e) => RungOutcome::fail(e, secs()),
    }
}

fn functional(ctx: &RunCtx<'_>, app: &AppRef, checks: &Checks<'_>) -> RungOutcome {
    if !ctx.plan.recipe_tests {
        return RungOutcome::skip("the plan does not run the recipe's own tests");
    }
    let Some(dir) = &ctx.recipe_tests else {
        return RungOutcome::skip("the recipe ships no tests/");
    };
    let tests = executables(dir);
    if tests.is_empty() {
        return RungOutcome::skip("the recipe's tests/ holds no executable");
    }
    let start = ctx.now();
    let mut failed = Vec::new();
    for t in tests {
        let name = t
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        ctx.progress.line(SCOPE, &format!("recipe test {name}"));
        let since = ctx.now();
        let v = run_recipe_test(ctx, app, &t);
        if let Err(e) = checks.verdict(Rung::Functional, L, &format!("tests/{name}"), since, v) {
            failed.push(format!("tests/{name}: {e}"));
        }
    }
    if failed.is_empty() {
        RungOutcome::pass(ctx.secs_since(start))
    } else {
        RungOutcome::fail(failed.join("; "), ctx.secs_since(start))
    }
}

fn executables(dir: &Path) -> Vec<std::path::PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| {
            e.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
        .map(|e| e.path())
        .collect();
    v.sort();
    v
}

/// The host's secrets directory: the one holding the plan's token file, when
/// that file exists (the masker reads the same directory).
fn host_secrets_dir(plan: &crate::plan::PlanV1) -> Option<std::path::PathBuf> {
    let token = Path::new(plan.token_file.as_str());
    token
        .is_file()
        .then(|| token.parent().map(Path::to_path_buf))
        .flatten()
}

fn run_recipe_test(ctx: &RunCtx<'_>, app: &AppRef, path: &Path) -> Result<String, String> {
    let budget = Duration::from_secs(ctx.plan.timeouts.deploy_secs);
    let end = ctx.world.processes().run(&ChildRun {
        program: path,
        dir: path.parent().unwrap_or(Path::new("/")),
        env: vec![
            ("CCCI_BASE_URL".into(), format!("https://{}", app.domain)),
            ("CCCI_APP_DOMAIN".into(), app.domain.clone()),
            ("CCCI_STACK".into(), app.stack.clone()),
            // Where the gateway is, for tests that pin their connection like
            // the probe does (curl --resolve).
            ("CCCI_CONNECT_ADDR".into(), ctx.probe.connect.to_string()),
        ],
        budget,
        hidden: host_secrets_dir(ctx.plan).into_iter().collect(),
    });
    match end {
        ChildEnd::Exited { success: true, .. } => Ok("exit 0".into()),
        ChildEnd::Exited { status, stderr, .. } => {
            let last = stderr
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("");
            Err(format!("{status}: {}", short(last)))
        }
        ChildEnd::TimedOut => Err(format!("did not finish within {} s", budget.as_secs())),
        ChildEnd::Failed(e) => Err(e),
    }
}
