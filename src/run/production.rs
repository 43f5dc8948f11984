//! The production [`World`]: abra and docker (`super::abra_platform`), git
//! (`super::fetch` over `crate::tools::git`), HTTPS through reqwest
//! (`super::probe::AppProbe`), real child processes and the system clock.
//!
//! The platform part is a parameter: the lifecycle tests' world (the real
//! Docker engine with an abra double) is this world with another
//! [`Platform`].

use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::abra_platform::AbraPlatform;
use super::fetch::{self, Checkout, FetchError, FetchSpec};
use super::probe::{AppProbe, ProbeConfig, ProbeSetupError};
use super::webdriver::ChromeBrowser;
use super::world::{
    AppHttp, Browser, ChildEnd, ChildRun, Clock, Git, Platform, Processes, Web, World,
};

/// The world `ccci run` acts on.
pub struct ProductionWorld {
    platform: Box<dyn Platform>,
    browser: ChromeBrowser,
}

impl ProductionWorld {
    /// abra and docker as found through `CCCI_ABRA` / `CCCI_DOCKER` /
    /// `CCCI_SCRIPT` or on PATH.
    pub fn from_env(slow_timeout: Duration) -> Self {
        Self::new(AbraPlatform::from_env(slow_timeout))
    }

    /// Real git, HTTPS, processes and clock around `platform`.
    pub fn new(platform: impl Platform + 'static) -> Self {
        ProductionWorld {
            platform: Box::new(platform),
            browser: ChromeBrowser::from_env(),
        }
    }

    /// This world with another browser (a chromedriver at a given path).
    pub fn with_browser(mut self, browser: ChromeBrowser) -> Self {
        self.browser = browser;
        self
    }
}

impl World for ProductionWorld {
    fn platform(&self) -> &dyn Platform {
        self.platform.as_ref()
    }
    fn git(&self) -> &dyn Git {
        &RealGit
    }
    fn web(&self) -> &dyn Web {
        &RealWeb
    }
    fn browser(&self) -> &dyn Browser {
        &self.browser
    }
    fn processes(&self) -> &dyn Processes {
        &RealProcesses
    }
    fn clock(&self) -> &dyn Clock {
        &SystemClock
    }
}

/// git through `crate::tools::git`.
pub struct RealGit;

impl Git for RealGit {
    fn prepare_abra_dir(&self, dir: &Path, shared: &Path) -> Result<(), FetchError> {
        fetch::prepare_abra_dir(dir, shared)
    }
    fn fetch(&self, spec: &FetchSpec, abra_dir: &Path) -> Result<Checkout, FetchError> {
        fetch::fetch(spec, abra_dir)
    }
    fn clone_local(
        &self,
        from: &Checkout,
        abra_dir: &Path,
        recipe: &str,
        rev: &str,
        timeout: Duration,
    ) -> Result<Checkout, FetchError> {
        fetch::clone_local(from, abra_dir, recipe, rev, timeout)
    }
    fn checkout(
        &self,
        recipe_dir: &Path,
        rev: &str,
        timeout: Duration,
    ) -> Result<String, FetchError> {
        fetch::checkout(recipe_dir, rev, timeout)
    }
    fn tags(
        &self,
        recipe_dir: &Path,
        timeout: Duration,
    ) -> Result<Vec<super::fetch::TagRef>, FetchError> {
        fetch::tags(recipe_dir, timeout)
    }
    fn reachable_tag(&self, recipe_dir: &Path, timeout: Duration) -> Option<String> {
        fetch::reachable_tag(recipe_dir, timeout)
    }
}

/// HTTPS through reqwest, pinned to the gateway.
pub struct RealWeb;

impl AppHttp for AppProbe {
    fn get(&self, path: &str) -> Result<super::probe::Answer, super::probe::ProbeFailure> {
        AppProbe::get(self, path)
    }
}

impl Web for RealWeb {
    fn client<'a>(
        &'a self,
        config: &ProbeConfig,
        domain: &str,
    ) -> Result<Box<dyn AppHttp + 'a>, ProbeSetupError> {
        Ok(Box::new(AppProbe::new(config, domain)?))
    }
}

/// Real processes, contained (`super::contain`): an unprivileged user, a
/// cleared environment, a private directory, a budget and an output cap.
pub struct RealProcesses;

impl Processes for RealProcesses {
    fn run(&self, c: &ChildRun<'_>) -> ChildEnd {
        super::contain::run(c)
    }
}

/// The system's clocks.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
    fn sleep(&self, d: Duration) {
        std::thread::sleep(d);
    }
    fn unix_secs(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(script: &str, budget: Duration) -> ChildEnd {
        let dir = tempfile::tempdir().unwrap();
        let program = dir.path().join("t.sh");
        std::fs::write(&program, format!("#!/bin/sh\n{script}\n")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
        RealProcesses.run(&ChildRun {
            program: &program,
            dir: dir.path(),
            env: vec![("CCCI_STACK".into(), "given".into())],
            budget,
            hidden: Vec::new(),
        })
    }

    #[test]
    fn a_child_gets_its_env_and_its_exit_and_stderr_come_back() {
        let end = run(
            "test \"$CCCI_STACK\" = given || exit 9; echo broken >&2; exit 3",
            Duration::from_secs(10),
        );
        assert_eq!(
            end,
            ChildEnd::Exited {
                success: false,
                status: "exit status: 3".into(),
                stderr: "broken\n".into(),
            }
        );
    }

    #[test]
    fn a_child_past_its_budget_is_killed() {
        let start = Instant::now();
        assert_eq!(
            run("sleep 30", Duration::from_millis(200)),
            ChildEnd::TimedOut
        );
        assert!(start.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn a_program_that_cannot_start_is_a_failure() {
        let end = RealProcesses.run(&ChildRun {
            program: Path::new("/nonexistent/test"),
            dir: Path::new("/"),
            env: Vec::new(),
            budget: Duration::from_secs(1),
            hidden: Vec::new(),
        });
        assert!(matches!(end, ChildEnd::Failed(e) if e.starts_with("cannot start")));
    }
}
