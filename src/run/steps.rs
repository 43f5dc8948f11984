//! Steps both lanes use: bring an app up, wait until it is healthy, write and
//! read data markers, record checks. Each step returns a verdict; the lanes
//! turn verdicts into rung outcomes.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::marker::{self, MarkerRead, MarkerValue};
use super::platform::{AppRef, OpError, ServiceState};
use super::probe::{self, ProbeConfig};
use super::progress::Progress;
use super::world::{AppHttp, Clock, Platform, World};
use crate::plan::PlanV1;
use crate::registry::{Marker, Rung};
use crate::results::{CheckResult, Floor, Lane, Status};

/// What every step of a run shares.
pub struct RunCtx<'a> {
    pub plan: &'a PlanV1,
    pub world: &'a dyn World,
    pub probe: ProbeConfig,
    pub progress: Progress,
    pub run_id: String,
    /// The commit under test, 40 hex.
    pub head: String,
    /// How often the run looks at the app while waiting.
    pub poll: Duration,
    /// How many times a backup is redone when it does not hold the marker.
    pub backup_attempts: u32,
    /// The recipe's `tests/`, snapshotted right after checkout.
    pub recipe_tests: Option<PathBuf>,
    /// Whether the backup rung applies, or why not.
    pub backup: Result<(), String>,
    /// Set when the run must stop; waits give up at once.
    pub cancel: super::interrupt::Cancel,
    /// The run's output directory: screenshots go there.
    pub out_dir: PathBuf,
}

impl RunCtx<'_> {
    /// abra and docker.
    pub fn platform(&self) -> &dyn Platform {
        self.world.platform()
    }
    /// The world's clock: now.
    pub fn now(&self) -> Instant {
        self.world.clock().now()
    }
    /// Seconds since `t` on the world's clock.
    pub fn secs_since(&self, t: Instant) -> f64 {
        self.world.clock().secs_since(t)
    }
}

/// Checks recorded by one lane, timed on the world's clock.
pub struct Checks<'a> {
    clock: &'a dyn Clock,
    list: Mutex<Vec<CheckResult>>,
    landing: Mutex<Option<String>>,
}

impl<'a> Checks<'a> {
    pub fn new(clock: &'a dyn Clock) -> Self {
        Checks {
            clock,
            list: Mutex::default(),
            landing: Mutex::default(),
        }
    }

    /// Keep the lane's landing screenshot (a file name in the output directory).
    pub fn set_landing_screenshot(&self, name: Option<String>) {
        if let Ok(mut l) = self.landing.lock() {
            *l = name;
        }
    }

    pub fn landing_screenshot(&self) -> Option<String> {
        self.landing.lock().ok().and_then(|l| l.clone())
    }

    pub fn record(
        &self,
        rung: Rung,
        lane: Lane,
        name: &str,
        status: Status,
        detail: &str,
        since: Instant,
    ) {
        if let Ok(mut v) = self.list.lock() {
            v.push(CheckResult {
                rung,
                lane,
                name: name.to_owned(),
                status,
                detail: detail.to_owned(),
                duration_secs: self.clock.secs_since(since),
                screenshot: None,
            });
        }
    }

    /// Attach the screenshot taken where the last recorded check failed.
    pub fn attach_screenshot(&self, screenshot: Option<String>) {
        if let Ok(mut v) = self.list.lock()
            && let Some(last) = v.last_mut()
        {
            last.screenshot = screenshot;
        }
    }

    /// Record a verdict as pass or fail and hand it back.
    pub fn verdict(
        &self,
        rung: Rung,
        lane: Lane,
        name: &str,
        since: Instant,
        v: Result<String, String>,
    ) -> Result<String, String> {
        match &v {
            Ok(d) => self.record(rung, lane, name, Status::Pass, d, since),
            Err(e) => self.record(rung, lane, name, Status::Fail, e, since),
        }
        v
    }

    pub fn into_vec(self) -> Vec<CheckResult> {
        self.list.into_inner().unwrap_or_default()
    }
}

/// The env edits every deploy gets: the plan's env, env computed from the run
/// domain, and `LETS_ENCRYPT_ENV` forced empty last so nothing overrides it
/// (Traefik would otherwise try ACME for a test app).
pub fn env_edits(plan: &PlanV1, label: &str) -> Vec<(String, String)> {
    let mut edits: Vec<(String, String)> = plan
        .env
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    for (k, template) in &plan.env_from_domain {
        edits.push((
            k.to_string(),
            crate::registry::fill_domain_template(template, label, &plan.ci_domain),
        ));
    }
    edits.retain(|(k, _)| k != "LETS_ENCRYPT_ENV");
    edits.push(("LETS_ENCRYPT_ENV".into(), String::new()));
    edits
}

/// The env edits of a new run app whose env file is now `env_text` (abra's
/// copy of the recipe's `.env.sample`): [`env_edits`], and `COMPOSE_FILE`
/// set to the whole selection (the sample's chain evaluated, then the
/// registry's `compose_files`), decided by the same function the compose
/// policy checks with (`super::policy::select::selected`).
pub fn app_env_edits(plan: &PlanV1, label: &str, env_text: &str) -> Vec<(String, String)> {
    let mut edits = env_edits(plan, label);
    let (files, _) = super::policy::select::selected(env_text, &edits, &plan.compose_files);
    // Before LETS_ENCRYPT_ENV, which stays last.
    let at = edits.len().saturating_sub(1);
    edits.insert(at, ("COMPOSE_FILE".into(), files.join(":")));
    edits
}

/// `app new`, env edits, secrets, deploy: the app exists afterwards even when
/// a later step failed, so the caller always tears it down.
pub fn create_and_deploy(
    ctx: &RunCtx<'_>,
    app: &AppRef,
    label: &str,
    scope: &str,
) -> Result<(), OpError> {
    ctx.progress
        .line(scope, &format!("creating app {}", app.domain));
    let p = ctx.platform();
    p.app_new(app)?;
    let sample = p.env(app)?.render();
    p.set_env(app, &app_env_edits(ctx.plan, label, &sample))?;
    provide_secrets(ctx, app, scope)?;
    ctx.progress.line(scope, "deploying");
    p.deploy(app, false)
}

/// Every secret of a new app: those the plan names in `secret_values` are
/// inserted from the host's secrets, the rest generated. A host secret that
/// is missing fails the step before any secret is made, so nothing deploys.
fn provide_secrets(ctx: &RunCtx<'_>, app: &AppRef, scope: &str) -> Result<(), OpError> {
    let p = ctx.platform();
    if ctx.plan.secret_values.is_empty() {
        p.secret_generate(app)?;
        for v in p.take_secret_values(app) {
            ctx.progress.masker().add(&v);
        }
        return Ok(());
    }
    for hs in ctx.plan.secret_values.values() {
        let value = super::secrets::host_value(hs).map_err(OpError::Failed)?;
        ctx.progress.masker().add(&value);
    }
    let recipe_dir = crate::names::abra::recipe_dir(&app.abra_dir, &app.recipe);
    let declared = super::secrets::declared(&recipe_dir, &p.env(app)?).map_err(OpError::Failed)?;
    let undeclared: Vec<&str> = ctx
        .plan
        .secret_values
        .keys()
        .map(|n| n.as_str())
        .filter(|n| !declared.iter().any(|d| d.name == *n))
        .collect();
    if !undeclared.is_empty() {
        return Err(OpError::Failed(format!(
            "secret_values names {}, which the compose files in use do not declare",
            undeclared.join(", ")
        )));
    }
    for d in &declared {
        provide_one(ctx, app, d, scope)?;
    }
    Ok(())
}

/// Insert one declared secret from the host when the plan says so, else
/// generate it; generated values go to the masker.
fn provide_one(
    ctx: &RunCtx<'_>,
    app: &AppRef,
    d: &super::secrets::Declared,
    scope: &str,
) -> Result<(), OpError> {
    let p = ctx.platform();
    let host = ctx
        .plan
        .secret_values
        .iter()
        .find(|(n, _)| n.as_str() == d.name)
        .map(|(_, hs)| hs);
    match host {
        Some(hs) => {
            // Read again: the masker must know the value even on this path.
            let value = super::secrets::host_value(hs).map_err(OpError::Failed)?;
            ctx.progress.masker().add(&value);
            ctx.progress.line(
                scope,
                &format!(
                    "inserting the secret {} ({}) from the host secret {}",
                    d.name, d.version, hs.key
                ),
            );
            p.secret_insert_file(
                app,
                &d.name,
                &d.version,
                std::path::Path::new(hs.file.as_str()),
            )
        }
        None => {
            p.secret_generate_one(app, &d.name, &d.version)?;
            for v in p.take_secret_values(app) {
                ctx.progress.masker().add(&v);
            }
            Ok(())
        }
    }
}

/// Provide the secrets the app's checkout declares that docker does not
/// have (a PR that adds a secret, deployed over the base release's app):
/// from the host when the plan names them, else generated.
/// Returns the names provided; generated values never leave abra.
pub fn generate_missing_secrets(
    ctx: &RunCtx<'_>,
    app: &AppRef,
    recipe_dir: &std::path::Path,
    scope: &str,
) -> Result<Vec<String>, OpError> {
    let env = ctx.platform().env(app)?;
    let declared = super::secrets::declared(recipe_dir, &env).map_err(OpError::Failed)?;
    let existing = ctx.platform().secrets(app)?;
    let missing = super::secrets::missing(&declared, &app.stack, &existing);
    for d in &missing {
        ctx.progress.line(
            scope,
            &format!("providing the new secret {} ({})", d.name, d.version),
        );
        provide_one(ctx, app, d, scope)?;
    }
    Ok(missing.into_iter().map(|d| d.name).collect())
}

fn timeout_label(services: &[ServiceState], stack: &str) -> Option<u64> {
    let key = format!("coop-cloud.{stack}.timeout");
    services
        .iter()
        .filter_map(|s| s.labels.get(&key))
        .filter_map(|v| v.trim().parse::<u64>().ok())
        .max()
}

fn convergence(services: &[ServiceState]) -> Result<(), String> {
    if services.is_empty() {
        return Err("no service of the stack exists".into());
    }
    let waiting: Vec<String> = services
        .iter()
        .filter(|s| !s.converged())
        .map(|s| match &s.update_state {
            Some(u) if s.updating() => format!("{} {}/{} ({u})", s.name, s.running, s.desired),
            _ => format!("{} {}/{}", s.name, s.running, s.desired),
        })
        .collect();
    if waiting.is_empty() {
        Ok(())
    } else {
        Err(format!("not converged: {}", waiting.join(", ")))
    }
}

/// The floor a plan's apps are judged by (docs/architecture.md, "The
/// floor"): the recipe's health path with its statuses, or for a recipe
/// with no web domain (`web = false`) convergence alone.
pub fn floor_of(plan: &PlanV1) -> Floor {
    if !plan.web {
        return Floor::Convergence;
    }
    Floor::Http {
        path: plan.health.path.as_str().to_owned(),
        statuses: plan.health.statuses.as_slice().to_vec(),
    }
}

/// One look at the app against its floor: `Ok(detail)` when it stands.
fn meets_floor(
    floor: &Floor,
    services: &[ServiceState],
    probe: &dyn AppHttp,
) -> Result<String, String> {
    convergence(services)?;
    match floor {
        // A worker stack: every service at its declared replicas (0 too)
        // is all "installed" can mean; there is nothing to ask over HTTPS.
        Floor::Convergence => Ok(format!(
            "converged: {} (no web domain)",
            services
                .iter()
                .map(|s| format!("{} {}/{}", s.name, s.running, s.desired))
                .collect::<Vec<_>>()
                .join(", ")
        )),
        Floor::Http { path, statuses } => {
            probe::floor_at(probe, path, statuses).map(|f| format!("converged; {f}"))
        }
    }
}

/// Wait until every service converged and the floor (the recipe's health
/// path with its statuses) passes; the budget is the plan's deploy timeout, or the recipe's
/// `coop-cloud.<stack>.timeout` label when that is longer.
pub fn wait_healthy(ctx: &RunCtx<'_>, app: &AppRef, probe: &dyn AppHttp) -> Result<String, String> {
    let start = ctx.now();
    let floor = floor_of(ctx.plan);
    let mut budget = Duration::from_secs(ctx.plan.timeouts.deploy_secs);
    let mut last: String;
    // The full listing (labels, update state) once, for the recipe's
    // timeout label, and again on every poll while an update is under way
    // (replica counts alone do not show it); otherwise only replica counts.
    let mut labels_seen = false;
    let mut crash = super::crashloop::Watch::default();
    let mut updating = false;
    loop {
        let listing = if labels_seen && !updating {
            ctx.platform().replicas(app)
        } else {
            ctx.platform().services(app)
        };
        match listing {
            Ok(services) => {
                updating = services.iter().any(ServiceState::updating);
                if !labels_seen && !services.is_empty() {
                    labels_seen = true;
                    if let Some(secs) = timeout_label(&services, &app.stack) {
                        budget = budget.max(Duration::from_secs(secs));
                    }
                }
                match meets_floor(&floor, &services, probe) {
                    Ok(detail) => {
                        return Ok(format!("{detail} (after {:.1} s)", ctx.secs_since(start)));
                    }
                    Err(e) => last = e,
                }
            }
            Err(e) => last = format!("cannot list services: {e}"),
        }
        if let Some(why) = ctx.cancel.reason() {
            return Err(why);
        }
        if let Some(why) = crash.look(ctx.platform(), ctx.world.clock(), app) {
            return Err(why);
        }
        if ctx.now().saturating_duration_since(start) >= budget {
            return Err(format!("not healthy within {} s: {last}", budget.as_secs()));
        }
        ctx.world.clock().sleep(ctx.poll);
    }
}

/// Read a marker back: the raw text the app returned.
pub fn read_marker(
    ctx: &RunCtx<'_>,
    app: &AppRef,
    probe: &dyn AppHttp,
    m: &Marker,
) -> Result<String, String> {
    match marker::read_plan(m) {
        MarkerRead::Exec(s) => ctx
            .platform()
            .exec(app, &s.service, &s.script)
            .map_err(|e| format!("reading the marker in {}: {e}", s.service)),
        MarkerRead::Https { path } => {
            let a = probe.get(&path).map_err(|e| format!("GET {path}: {e}"))?;
            if a.status != 200 {
                return Err(format!("GET {path}: status {}", a.status));
            }
            Ok(a.body)
        }
    }
}

/// Write a marker and read it back once, so a later "lost" really means lost.
pub fn write_marker(
    ctx: &RunCtx<'_>,
    app: &AppRef,
    probe: &dyn AppHttp,
    m: &Marker,
    value: &MarkerValue,
) -> Result<(), String> {
    let w = marker::write_script(m, value);
    ctx.platform()
        .exec(app, &w.service, &w.script)
        .map_err(|e| format!("writing the marker in {}: {e}", w.service))?;
    let got = read_marker(ctx, app, probe, m)?;
    if marker::holds(&got, value) {
        Ok(())
    } else {
        Err(format!(
            "the marker {} did not read back right after writing it (read {:?})",
            value.as_str(),
            short(&got)
        ))
    }
}

/// At most 80 characters of a text, for reasons.
pub fn short(s: &str) -> String {
    let t = s.trim();
    if t.chars().count() <= 80 {
        t.to_owned()
    } else {
        let mut out: String = t.chars().take(77).collect();
        out.push_str("...");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lets_encrypt_env_is_forced_empty_and_last() {
        let plan_json = include_str!("../../tests/fixtures/plans/minimal.json");
        let mut plan = PlanV1::from_json("t", plan_json).unwrap();
        plan.env
            .insert("LETS_ENCRYPT_ENV".parse().unwrap(), "production".into());
        plan.env.insert("FOO".parse().unwrap(), "bar".into());
        plan.env_from_domain.insert(
            "SANDBOX_DOMAIN".parse().unwrap(),
            "{label}-sandbox.{ci_domain}".into(),
        );
        let edits = env_edits(&plan, "cryp-000001");
        assert_eq!(
            edits.last(),
            Some(&("LETS_ENCRYPT_ENV".to_owned(), String::new()))
        );
        assert_eq!(
            edits
                .iter()
                .filter(|(k, _)| k == "LETS_ENCRYPT_ENV")
                .count(),
            1
        );
        assert!(edits.contains(&(
            "SANDBOX_DOMAIN".into(),
            "cryp-000001-sandbox.ci.example.org".into()
        )));
        assert!(edits.contains(&("FOO".into(), "bar".into())));
    }

    #[test]
    fn a_new_app_gets_the_whole_compose_selection_before_lets_encrypt() {
        let plan_json = include_str!("../../tests/fixtures/plans/minimal.json");
        let mut plan = PlanV1::from_json("t", plan_json).unwrap();
        plan.compose_files = vec!["compose.smtp.yml".parse().unwrap()];
        let sample = "COMPOSE_FILE=\"compose.yml\"\nCOMPOSE_FILE=\"$COMPOSE_FILE:compose.postgres.yml\"\nLETS_ENCRYPT_ENV=production\n";
        let edits = app_env_edits(&plan, "cust-000001", sample);
        let n = edits.len();
        assert_eq!(
            edits[n - 2],
            (
                "COMPOSE_FILE".to_owned(),
                "compose.yml:compose.postgres.yml:compose.smtp.yml".to_owned()
            )
        );
        assert_eq!(edits[n - 1], ("LETS_ENCRYPT_ENV".to_owned(), String::new()));
    }

    #[test]
    fn convergence_needs_every_service_at_its_replicas() {
        let s = |n: &str, r, d| ServiceState {
            name: n.into(),
            running: r,
            desired: d,
            ..Default::default()
        };
        assert!(convergence(&[]).is_err());
        assert!(
            convergence(&[s("a", 1, 1), s("b", 0, 1)])
                .unwrap_err()
                .contains("b 0/1")
        );
        assert!(convergence(&[s("a", 1, 1), s("b", 2, 2)]).is_ok());
    }

    /// A gateway that must not be asked.
    struct NoHttp;
    impl AppHttp for NoHttp {
        fn get(&self, path: &str) -> Result<probe::Answer, probe::ProbeFailure> {
            panic!("GET {path} on a recipe with no web domain")
        }
    }

    #[test]
    fn the_convergence_floor_counts_zero_replicas_and_asks_nothing_over_https() {
        let s = |n: &str, r, d| ServiceState {
            name: n.into(),
            running: r,
            desired: d,
            ..Default::default()
        };
        let ok = meets_floor(
            &Floor::Convergence,
            &[s("st_worker", 1, 1), s("st_cron", 0, 0)],
            &NoHttp,
        )
        .unwrap();
        assert!(ok.contains("st_cron 0/0"), "{ok}");
        let e = meets_floor(&Floor::Convergence, &[s("st_worker", 0, 1)], &NoHttp).unwrap_err();
        assert!(e.contains("st_worker 0/1"), "{e}");
        assert!(meets_floor(&Floor::Convergence, &[], &NoHttp).is_err());
    }

    #[test]
    fn a_web_false_plan_has_the_convergence_floor() {
        let plan_json = include_str!("../../tests/fixtures/plans/minimal.json");
        let mut plan = PlanV1::from_json("t", plan_json).unwrap();
        assert!(matches!(floor_of(&plan), Floor::Http { ref path, .. } if path == "/"));
        plan.web = false;
        assert_eq!(floor_of(&plan), Floor::Convergence);
    }

    #[test]
    fn an_update_under_way_is_not_converged_even_at_full_replicas() {
        let s = |state: Option<&str>| ServiceState {
            name: "a".into(),
            running: 1,
            desired: 1,
            update_state: state.map(str::to_owned),
            ..Default::default()
        };
        for busy in ["updating", "rollback_started"] {
            let e = convergence(&[s(Some(busy))]).unwrap_err();
            assert!(e.contains(&format!("a 1/1 ({busy})")), "{e}");
        }
        for done in [None, Some("completed"), Some("rollback_completed")] {
            assert!(convergence(&[s(done)]).is_ok(), "{done:?}");
        }
    }
}
