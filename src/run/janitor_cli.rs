//! `ccci janitor` over the real host (abra's env files, the Docker engine,
//! the run's verified teardown), and the sweep every run starts with.

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::abra_platform::AbraPlatform;
use super::janitor::{self, JanitorHost, Scope, Sweep};
use super::platform::{AppRef, Platform, TeardownReport};
use crate::plan::PlanV1;
use crate::tools::docker::Docker;

/// The host facts the janitor needs: from a runner plan, or given one by
/// one (the systemd timer has no plan at hand).
#[derive(Debug, Clone)]
pub struct HostFacts {
    pub abra_dir: PathBuf,
    pub server: String,
    pub ci_domain: crate::registry::values::Domain,
    pub runs_dir: PathBuf,
    pub max_age: Duration,
}

impl HostFacts {
    pub fn of_plan(plan: &PlanV1) -> Self {
        HostFacts {
            abra_dir: PathBuf::from(plan.abra_dir.as_str()),
            server: plan.server.to_string(),
            ci_domain: plan.ci_domain.clone(),
            runs_dir: PathBuf::from(plan.runs_dir.as_str()),
            max_age: Duration::from_secs(plan.timeouts.janitor_max_age_secs),
        }
    }
}

/// The production host of the janitor.
pub struct HostJanitor {
    platform: AbraPlatform,
    docker: Docker,
    abra_dir: PathBuf,
    server: String,
}

impl HostJanitor {
    /// abra and docker as `ccci run` finds them, the host's shared abra
    /// directory and server.
    pub fn from_env(facts: &HostFacts) -> Self {
        HostJanitor {
            // Teardown's slowest call (undeploy) gets the longest deploy budget.
            platform: AbraPlatform::from_env(Duration::from_secs(900)),
            docker: Docker::new(),
            abra_dir: facts.abra_dir.clone(),
            server: facts.server.clone(),
        }
    }
}

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl JanitorHost for HostJanitor {
    fn env_files(&self) -> Result<Vec<(String, Option<u64>)>, String> {
        Ok(janitor::env_files_in(
            &self.abra_dir,
            &self.server,
            now_unix(),
        ))
    }
    fn engine_objects(&self) -> Result<Vec<String>, String> {
        let d = &self.docker;
        let e = |e: crate::tools::ToolError| e.to_string();
        let mut out: Vec<String> = d
            .services(None)
            .map_err(e)?
            .into_iter()
            .map(|s| s.name)
            .collect();
        out.extend(d.volumes(None).map_err(e)?);
        out.extend(d.secrets("").map_err(e)?);
        out.extend(d.configs("").map_err(e)?);
        out.extend(d.networks().map_err(e)?.into_iter().map(|n| n.name));
        Ok(out)
    }
    fn teardown(&self, app: &AppRef) -> TeardownReport {
        self.platform.teardown(app)
    }
    fn now_unix(&self) -> u64 {
        now_unix()
    }
}

/// The janitor's scope on a host.
pub fn scope(facts: &HostFacts, dry_run: bool) -> Scope<'_> {
    Scope {
        state_dir: crate::names::files::run_state_dir(&facts.runs_dir),
        abra_dir: facts.abra_dir.clone(),
        server: facts.server.clone(),
        ci_domain: &facts.ci_domain,
        max_age: facts.max_age,
        dry_run,
    }
}

/// One sweep of the host.
pub fn run(facts: &HostFacts, dry_run: bool) -> Sweep {
    janitor::sweep(&HostJanitor::from_env(facts), &scope(facts, dry_run))
}
