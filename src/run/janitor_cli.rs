//! `ccci janitor` over the real host (abra's env files, the Docker engine,
//! the run's verified teardown), and the sweep every run starts with.

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::abra_platform::AbraPlatform;
use super::janitor::{self, JanitorHost, Scope, Sweep};
use super::platform::{AppRef, Platform, TeardownReport};
use crate::plan::PlanV1;
use crate::tools::docker::Docker;

/// The production host of the janitor.
pub struct HostJanitor {
    platform: AbraPlatform,
    docker: Docker,
    abra_dir: PathBuf,
    server: String,
}

impl HostJanitor {
    /// abra and docker as `ccci run` finds them, the plan's shared abra
    /// directory and server.
    pub fn from_env(plan: &PlanV1) -> Self {
        HostJanitor {
            platform: AbraPlatform::from_env(Duration::from_secs(
                plan.timeouts.deploy_secs.max(60),
            )),
            docker: Docker::new(),
            abra_dir: PathBuf::from(plan.abra_dir.as_str()),
            server: plan.server.to_string(),
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

/// The janitor's scope for a plan's host.
pub fn scope(plan: &PlanV1, max_age: Duration, dry_run: bool) -> Scope<'_> {
    Scope {
        state_dir: crate::names::files::run_state_dir(std::path::Path::new(plan.runs_dir.as_str())),
        abra_dir: PathBuf::from(plan.abra_dir.as_str()),
        server: plan.server.to_string(),
        ci_domain: &plan.ci_domain,
        max_age,
        dry_run,
    }
}

/// One sweep of the plan's host.
pub fn run(plan: &PlanV1, max_age: Option<Duration>, dry_run: bool) -> Sweep {
    let max_age = max_age.unwrap_or(Duration::from_secs(plan.timeouts.janitor_max_age_secs));
    janitor::sweep(&HostJanitor::from_env(plan), &scope(plan, max_age, dry_run))
}
