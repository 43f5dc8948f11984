//! The one funnel every interruption of a run goes through: a signal, the
//! death of the parent (the runner's step shell) and the plan's deadline all
//! set one [`Cancel`] token. The lanes never look at signals: every operation
//! they ask of the world passes through [`Interruptible`], which answers
//! "interrupted" once the token is set, so the current step stops at its next
//! call (a wait stops at its next sleep). Teardown is never interrupted: it is
//! passed straight through, and the lanes make it once per app as always.
//!
//! What an interrupted rung comes to is decided in [`interrupted_rungs`]: a
//! pure function of the lane's outcomes and the reason.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::fetch::{Checkout, FetchError, FetchSpec};
use super::platform::{AppRef, OpError, Platform, ServiceState, TaskState, TeardownReport};
use super::probe::{Answer, ProbeConfig, ProbeFailure, ProbeSetupError};
use super::rungs::RungOutcome;
use super::world::{
    AppHttp, Browser, BrowserSetupError, ChildEnd, ChildRun, Clock, Git, Page, Processes, Web,
    World,
};
use crate::registry::Rung;
use crate::results::Status;

#[derive(Default)]
struct Inner {
    set: AtomicBool,
    reason: Mutex<Option<String>>,
    deadline: Mutex<Option<(Instant, String)>>,
    /// Fault injection: trip after this many checks (0 = never).
    trip_at: AtomicU64,
    trip_reason: Mutex<String>,
    checks: AtomicU64,
}

/// A cancellation token shared by the signal watchers, the deadline and the
/// run. Cloning shares it. The first reason given wins.
#[derive(Clone, Default)]
pub struct Cancel(Arc<Inner>);

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Cancel {
    pub fn new() -> Self {
        Self::default()
    }

    /// Stop the run for `reason`; later calls keep the first reason.
    pub fn cancel(&self, reason: impl Into<String>) {
        let mut r = lock(&self.0.reason);
        if r.is_none() {
            *r = Some(reason.into());
        }
        self.0.set.store(true, Ordering::SeqCst);
    }

    /// Why the run was stopped, if it was.
    pub fn reason(&self) -> Option<String> {
        if self.0.set.load(Ordering::SeqCst) {
            lock(&self.0.reason).clone()
        } else {
            None
        }
    }

    /// Expire at `at` on the run's clock, for `reason`.
    pub fn set_deadline(&self, at: Instant, reason: impl Into<String>) {
        *lock(&self.0.deadline) = Some((at, reason.into()));
    }

    /// Fault injection for tests: cancel with `reason` at the `n`-th check
    /// (every operation through [`Interruptible`] is one check).
    pub fn trip_after_checks(&self, n: u64, reason: impl Into<String>) {
        *lock(&self.0.trip_reason) = reason.into();
        self.0.trip_at.store(n, Ordering::SeqCst);
    }

    /// How many checks were made so far.
    pub fn checks(&self) -> u64 {
        self.0.checks.load(Ordering::SeqCst)
    }

    /// A check point: `Err(reason)` once the run must stop.
    pub fn check(&self, now: Instant) -> Result<(), String> {
        let n = self.0.checks.fetch_add(1, Ordering::SeqCst) + 1;
        let trip = self.0.trip_at.load(Ordering::SeqCst);
        if trip != 0 && n >= trip {
            let why = lock(&self.0.trip_reason).clone();
            self.cancel(why);
        }
        let expired = match &*lock(&self.0.deadline) {
            Some((at, why)) if now >= *at => Some(why.clone()),
            _ => None,
        };
        if let Some(why) = expired {
            self.cancel(why);
        }
        match self.reason() {
            Some(r) => Err(r),
            None => Ok(()),
        }
    }

    /// How long a sleep may last before the deadline (all of `d` without one).
    fn sleep_budget(&self, now: Instant, d: Duration) -> Duration {
        match &*lock(&self.0.deadline) {
            Some((at, _)) => d.min(at.saturating_duration_since(now)),
            None => d,
        }
    }
}

/// The lane's outcomes after an interruption for `why`: a rung that did not
/// finish because of it (its reason carries the interruption) is
/// `unverified` with the reason; a rung that passed, was skipped or really
/// failed before the interruption keeps its outcome.
pub fn interrupted_rungs(
    rungs: BTreeMap<Rung, RungOutcome>,
    why: &str,
) -> BTreeMap<Rung, RungOutcome> {
    rungs
        .into_iter()
        .map(|(r, o)| {
            let cut = o.reason.contains(why);
            let o = if cut && matches!(o.status, Status::Fail | Status::Unverified) {
                RungOutcome::unverified(why, o.duration_secs)
            } else {
                o
            };
            (r, o)
        })
        .collect()
}

/// A world whose every operation but teardown first checks the token.
pub struct Interruptible<'a> {
    inner: &'a dyn World,
    cancel: Cancel,
}

impl<'a> Interruptible<'a> {
    pub fn new(inner: &'a dyn World, cancel: Cancel) -> Self {
        Interruptible { inner, cancel }
    }

    fn check(&self) -> Result<(), String> {
        self.cancel.check(self.inner.clock().now())
    }

    fn op(&self) -> Result<(), OpError> {
        // Infra: an interruption says nothing about the recipe.
        self.check().map_err(OpError::Infra)
    }
}

impl World for Interruptible<'_> {
    fn platform(&self) -> &dyn Platform {
        self
    }
    fn git(&self) -> &dyn Git {
        self
    }
    fn web(&self) -> &dyn Web {
        self
    }
    fn processes(&self) -> &dyn Processes {
        self
    }
    fn clock(&self) -> &dyn Clock {
        self
    }
    fn browser(&self) -> &dyn Browser {
        self
    }
}

/// A browser is not opened once the run must stop; an open one finishes its
/// check (each step is bounded by the run's HTTP timeout).
impl Browser for Interruptible<'_> {
    fn open<'a>(
        &'a self,
        config: &ProbeConfig,
        domain: &str,
    ) -> Result<Box<dyn Page + 'a>, BrowserSetupError> {
        self.check().map_err(BrowserSetupError::Browser)?;
        self.inner.browser().open(config, domain)
    }
}

impl Clock for Interruptible<'_> {
    fn now(&self) -> Instant {
        self.inner.clock().now()
    }
    /// A sleep ends early when the token is set, and never outlasts the
    /// deadline: a wait notices either within one short slice.
    fn sleep(&self, d: Duration) {
        const SLICE: Duration = Duration::from_millis(100);
        let clock = self.inner.clock();
        let end = clock.now() + d;
        loop {
            let now = clock.now();
            if now >= end || self.cancel.check(now).is_err() {
                return;
            }
            let left = self.cancel.sleep_budget(now, end - now);
            if left.is_zero() {
                // The deadline is now: the next check trips it.
                let _ = self.cancel.check(clock.now());
                return;
            }
            clock.sleep(left.min(SLICE));
        }
    }
    fn unix_secs(&self) -> u64 {
        self.inner.clock().unix_secs()
    }
}

impl Platform for Interruptible<'_> {
    fn app_new(&self, app: &AppRef) -> Result<(), OpError> {
        self.op()?;
        self.inner.platform().app_new(app)
    }
    fn set_env(&self, app: &AppRef, edits: &[(String, String)]) -> Result<(), OpError> {
        self.op()?;
        self.inner.platform().set_env(app, edits)
    }
    fn env(&self, app: &AppRef) -> Result<crate::envfile::EnvFile, OpError> {
        self.op()?;
        self.inner.platform().env(app)
    }
    fn secret_generate(&self, app: &AppRef) -> Result<(), OpError> {
        self.op()?;
        self.inner.platform().secret_generate(app)
    }
    fn secret_generate_one(&self, app: &AppRef, name: &str, version: &str) -> Result<(), OpError> {
        self.op()?;
        self.inner
            .platform()
            .secret_generate_one(app, name, version)
    }
    fn secret_insert_file(
        &self,
        app: &AppRef,
        name: &str,
        version: &str,
        file: &Path,
    ) -> Result<(), OpError> {
        self.op()?;
        self.inner
            .platform()
            .secret_insert_file(app, name, version, file)
    }
    /// Forwarded: the values must reach the masker, interrupted or not.
    fn take_secret_values(&self, app: &AppRef) -> Vec<String> {
        self.inner.platform().take_secret_values(app)
    }
    fn secrets(&self, app: &AppRef) -> Result<Vec<String>, OpError> {
        self.op()?;
        self.inner.platform().secrets(app)
    }
    fn deploy(&self, app: &AppRef, redeploy: bool) -> Result<(), OpError> {
        self.op()?;
        self.inner.platform().deploy(app, redeploy)
    }
    fn services(&self, app: &AppRef) -> Result<Vec<ServiceState>, OpError> {
        self.op()?;
        self.inner.platform().services(app)
    }
    fn replicas(&self, app: &AppRef) -> Result<Vec<ServiceState>, OpError> {
        self.op()?;
        self.inner.platform().replicas(app)
    }
    fn tasks(&self, app: &AppRef) -> Result<Vec<TaskState>, OpError> {
        self.op()?;
        self.inner.platform().tasks(app)
    }
    fn logs(&self, app: &AppRef, service: &str, lines: u32) -> Result<String, OpError> {
        self.op()?;
        self.inner.platform().logs(app, service, lines)
    }
    fn exec(&self, app: &AppRef, service: &str, script: &str) -> Result<String, OpError> {
        self.op()?;
        self.inner.platform().exec(app, service, script)
    }
    fn backup_create(&self, app: &AppRef) -> Result<(), OpError> {
        self.op()?;
        self.inner.platform().backup_create(app)
    }
    fn backup_holds(&self, app: &AppRef, needle: &str) -> Result<bool, OpError> {
        self.op()?;
        self.inner.platform().backup_holds(app, needle)
    }
    fn restore(&self, app: &AppRef) -> Result<(), OpError> {
        self.op()?;
        self.inner.platform().restore(app)
    }
    fn lint(&self, abra_dir: &Path, recipe: &str) -> Result<String, OpError> {
        self.op()?;
        self.inner.platform().lint(abra_dir, recipe)
    }
    /// Never interrupted: this is what an interruption leads to.
    fn teardown(&self, app: &AppRef) -> TeardownReport {
        self.inner.platform().teardown(app)
    }
}

impl Git for Interruptible<'_> {
    fn prepare_abra_dir(&self, dir: &Path, shared: &Path) -> Result<(), FetchError> {
        self.check().map_err(FetchError::Interrupted)?;
        self.inner.git().prepare_abra_dir(dir, shared)
    }
    fn fetch(&self, spec: &FetchSpec, abra_dir: &Path) -> Result<Checkout, FetchError> {
        self.check().map_err(FetchError::Interrupted)?;
        self.inner.git().fetch(spec, abra_dir)
    }
    fn clone_local(
        &self,
        from: &Checkout,
        abra_dir: &Path,
        recipe: &str,
        rev: &str,
        timeout: Duration,
    ) -> Result<Checkout, FetchError> {
        self.check().map_err(FetchError::Interrupted)?;
        self.inner
            .git()
            .clone_local(from, abra_dir, recipe, rev, timeout)
    }
    fn checkout(
        &self,
        recipe_dir: &Path,
        rev: &str,
        timeout: Duration,
    ) -> Result<String, FetchError> {
        self.check().map_err(FetchError::Interrupted)?;
        self.inner.git().checkout(recipe_dir, rev, timeout)
    }
    fn tags(
        &self,
        recipe_dir: &Path,
        timeout: Duration,
    ) -> Result<Vec<super::fetch::TagRef>, FetchError> {
        self.check().map_err(FetchError::Interrupted)?;
        self.inner.git().tags(recipe_dir, timeout)
    }
    fn reachable_tag(&self, recipe_dir: &Path, timeout: Duration) -> Option<String> {
        self.inner.git().reachable_tag(recipe_dir, timeout)
    }
}

struct InterruptibleHttp<'a> {
    inner: Box<dyn AppHttp + 'a>,
    world: &'a Interruptible<'a>,
}

impl AppHttp for InterruptibleHttp<'_> {
    fn get(&self, path: &str) -> Result<Answer, ProbeFailure> {
        self.world.check().map_err(ProbeFailure::Transport)?;
        self.inner.get(path)
    }
}

impl Web for Interruptible<'_> {
    fn client<'b>(
        &'b self,
        config: &ProbeConfig,
        domain: &str,
    ) -> Result<Box<dyn AppHttp + 'b>, ProbeSetupError> {
        let inner = self.inner.web().client(config, domain)?;
        Ok(Box::new(InterruptibleHttp { inner, world: self }))
    }
}

impl Processes for Interruptible<'_> {
    fn run(&self, child: &ChildRun<'_>) -> ChildEnd {
        if let Err(why) = self.check() {
            return ChildEnd::Failed(why);
        }
        self.inner.processes().run(child)
    }
}

/// When the steps must stop so that teardown still ends before the plan's
/// `deadline_secs` (which counts the whole run, teardown included): a
/// quarter of the deadline, at most two minutes, is kept for teardown.
/// `None` without a deadline. Returns the offset and the reason to report.
pub fn step_deadline(deadline_secs: u64) -> Option<(Duration, String)> {
    if deadline_secs == 0 {
        return None;
    }
    let reserve = (deadline_secs / 4).min(120);
    let stop = deadline_secs - reserve;
    Some((
        Duration::from_secs(stop),
        format!(
            "the run's deadline: stopped after {stop} s, {reserve} s before the plan's {deadline_secs} s, to tear down in time"
        ),
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_deadline_keeps_time_for_teardown() {
        assert_eq!(step_deadline(0), None);
        assert_eq!(step_deadline(3300).unwrap().0, Duration::from_secs(3180));
        assert_eq!(step_deadline(40).unwrap().0, Duration::from_secs(30));
    }

    use super::*;

    #[test]
    fn the_first_reason_wins_and_a_check_reports_it() {
        let c = Cancel::new();
        let now = Instant::now();
        assert_eq!(c.check(now), Ok(()));
        c.cancel("interrupted by SIGTERM");
        c.cancel("interrupted by SIGINT");
        assert_eq!(c.check(now), Err("interrupted by SIGTERM".into()));
    }

    #[test]
    fn the_deadline_trips_at_its_instant() {
        let c = Cancel::new();
        let t0 = Instant::now();
        c.set_deadline(t0 + Duration::from_secs(60), "deadline");
        assert_eq!(c.check(t0 + Duration::from_secs(59)), Ok(()));
        assert_eq!(
            c.check(t0 + Duration::from_secs(60)),
            Err("deadline".into())
        );
    }

    #[test]
    fn a_trip_fires_at_the_nth_check() {
        let c = Cancel::new();
        c.trip_after_checks(3, "x");
        let now = Instant::now();
        assert!(c.check(now).is_ok());
        assert!(c.check(now).is_ok());
        assert_eq!(c.check(now), Err("x".into()));
    }

    #[test]
    fn only_rungs_cut_by_the_interruption_become_unverified() {
        let why = "interrupted by SIGTERM";
        let cut = format!("deploy of the head: infrastructure: {why}");
        let rungs: BTreeMap<_, _> = [
            (Rung::Install, RungOutcome::pass(1.0)),
            (Rung::BackupRestore, RungOutcome::fail(cut, 2.0)),
            (Rung::Functional, RungOutcome::fail("the test said no", 1.0)),
            (Rung::Upgrade, RungOutcome::skip("no base")),
        ]
        .into();
        let out = interrupted_rungs(rungs, why);
        assert_eq!(out[&Rung::Install].status, Status::Pass);
        assert_eq!(out[&Rung::BackupRestore].status, Status::Unverified);
        assert_eq!(out[&Rung::BackupRestore].reason, "interrupted by SIGTERM");
        assert_eq!(out[&Rung::Functional].status, Status::Fail);
        assert_eq!(out[&Rung::Upgrade].status, Status::Skip);
    }
}
