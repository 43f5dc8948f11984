//! Everything `ccci run` touches, behind one seam: the [`World`].
//!
//! The lanes decide; a world only performs. It is made of six parts, each a
//! small trait, so a world can be assembled from parts:
//!
//! - [`Platform`]: abra and docker (apps, env files, secrets, deploys,
//!   services, exec, backups, lint, teardown);
//! - [`Git`]: the recipe's repository (fetch, local clones, checkout, tags);
//! - [`Web`]: HTTPS requests to a run app through the gateway;
//! - [`Browser`]: a real browser on a run app (WebDriver, docs/browser.md);
//! - [`Processes`]: child processes (the recipe's own tests);
//! - [`Clock`]: now and sleep, so waits can cost nothing in a model.
//!
//! Three worlds are meant to exist: the production one
//! (`super::production::ProductionWorld`: abra, docker, git, reqwest, real
//! processes, the system clock), an in-memory model for fast scenario tests
//! (`tests/support/mem_world`), and the real Docker engine with an abra
//! double for lifecycle tests, which only swaps the [`Platform`] part of the
//! production world.
//!
//! Recipe checkouts are directories on the local disk in every world: the
//! lanes read compose files, `.env.sample` and `tests/` from them. A world's
//! [`Git`] decides what those directories hold.

use std::path::Path;
use std::time::{Duration, Instant};

use super::fetch::{Checkout, FetchError, FetchSpec};
pub use super::platform::Platform;
use super::probe::{Answer, ProbeConfig, ProbeFailure, ProbeSetupError};

/// Everything a run touches.
pub trait World: Send + Sync {
    fn platform(&self) -> &dyn Platform;
    fn git(&self) -> &dyn Git;
    fn web(&self) -> &dyn Web;
    fn browser(&self) -> &dyn Browser;
    fn processes(&self) -> &dyn Processes;
    fn clock(&self) -> &dyn Clock;
}

/// The recipe's repository as the run needs it.
pub trait Git: Send + Sync {
    /// Make a fresh abra directory at `dir` for one lane: the shared
    /// directory's `servers/` (and `catalogue/`) linked in, `recipes/` empty.
    fn prepare_abra_dir(&self, dir: &Path, shared: &Path) -> Result<(), FetchError>;
    /// Clone the recipe into `<abra_dir>/recipes/<recipe>` and check out the
    /// exact commit of `spec` (with release tags and the PR head fetched).
    fn fetch(&self, spec: &FetchSpec, abra_dir: &Path) -> Result<Checkout, FetchError>;
    /// A second lane's clone, made from the first (all tags), at `rev`.
    fn clone_local(
        &self,
        from: &Checkout,
        abra_dir: &Path,
        recipe: &str,
        rev: &str,
        timeout: Duration,
    ) -> Result<Checkout, FetchError>;
    /// `checkout -f` a revision; returns HEAD, which is exactly `rev` when
    /// `rev` is a full commit id.
    fn checkout(
        &self,
        recipe_dir: &Path,
        rev: &str,
        timeout: Duration,
    ) -> Result<String, FetchError>;
    /// The repository's tags.
    fn tags(
        &self,
        recipe_dir: &Path,
        timeout: Duration,
    ) -> Result<Vec<super::fetch::TagRef>, FetchError>;
    /// The newest tag reachable from HEAD, if any.
    fn reachable_tag(&self, recipe_dir: &Path, timeout: Duration) -> Option<String>;
}

/// An HTTPS client bound to one app domain.
pub trait AppHttp: Send + Sync {
    /// GET `path`: an answer of any status, or why there was none (Traefik's
    /// default certificate, another trust problem, no connection).
    fn get(&self, path: &str) -> Result<Answer, ProbeFailure>;
}

/// HTTPS to run apps.
pub trait Web: Send + Sync {
    /// A client for `domain`, connecting where `config` says.
    fn client<'a>(
        &'a self,
        config: &ProbeConfig,
        domain: &str,
    ) -> Result<Box<dyn AppHttp + 'a>, ProbeSetupError>;
}

/// A browser that could not be started: the check is unverified, never a pass.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BrowserSetupError {
    #[error("the browser driver cannot be started: {0}")]
    Driver(String),
    #[error("the browser cannot be started: {0}")]
    Browser(String),
    #[error("the extra CA cannot be given to the browser: {0}")]
    Trust(String),
}

/// One browser window on one app domain, pinned to the gateway and trusting
/// what the probe trusts. Dropping it stops the browser and its driver.
/// Errors are the driver's words; the caller adds the step and the URL.
pub trait Page {
    /// Open a path of the app and wait for the document to load.
    fn goto(&mut self, path: &str) -> Result<(), String>;
    /// Type `value` into the first element matching `css`.
    fn fill(&mut self, css: &str, value: &str) -> Result<(), String>;
    fn click(&mut self, css: &str) -> Result<(), String>;
    /// Whether an element matches `css` now.
    fn has(&mut self, css: &str) -> Result<bool, String>;
    /// The rendered text of the page body.
    fn text(&mut self) -> Result<String, String>;
    fn title(&mut self) -> Result<String, String>;
    fn url(&mut self) -> Result<String, String>;
    /// Whether the document finished loading.
    fn loaded(&mut self) -> Result<bool, String>;
    /// A PNG of the viewport.
    fn screenshot(&mut self) -> Result<Vec<u8>, String>;
}

/// Real browsers on run apps.
pub trait Browser: Send + Sync {
    /// A fresh browser (new profile, no state) for `domain`.
    fn open<'a>(
        &'a self,
        config: &ProbeConfig,
        domain: &str,
    ) -> Result<Box<dyn Page + 'a>, BrowserSetupError>;
}

/// One child process to run to completion.
#[derive(Debug, Clone)]
pub struct ChildRun<'a> {
    pub program: &'a Path,
    /// Its working directory.
    pub dir: &'a Path,
    /// The child's variables: a contained child gets only the `CCCI_*`
    /// ones of these (`super::contain`).
    pub env: Vec<(String, String)>,
    /// Killed when it runs longer.
    pub budget: Duration,
    /// Directories a contained child must not see (the host's secrets
    /// directory): covered by an empty one where the sandbox runs.
    pub hidden: Vec<std::path::PathBuf>,
}

/// How a child process ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChildEnd {
    Exited {
        success: bool,
        /// The exit status as the system words it (`exit status: 1`).
        status: String,
        stderr: String,
    },
    /// Killed at the end of its budget.
    TimedOut,
    /// It could not be started or waited for.
    Failed(String),
}

/// Child processes.
pub trait Processes: Send + Sync {
    fn run(&self, child: &ChildRun<'_>) -> ChildEnd;
}

/// The time the run measures budgets and durations with.
pub trait Clock: Send + Sync {
    fn now(&self) -> Instant;
    fn sleep(&self, d: Duration);
    /// Seconds since the Unix epoch, for the results' start time.
    fn unix_secs(&self) -> u64;
    /// Seconds since `t`, as results record them.
    fn secs_since(&self, t: Instant) -> f64 {
        self.now().saturating_duration_since(t).as_secs_f64()
    }
}
