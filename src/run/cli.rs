//! What `ccci run` does between parsing its arguments and exiting: check the
//! inputs (exit 2 on a usage or plan error), run, write the artifacts, and
//! choose the exit code (0 green, 1 not).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::lanes::{self, RunInputs};
use super::probe::ProbeConfig;
use super::production::ProductionWorld;
use super::progress::Progress;
use crate::plan::PlanV1;
use crate::registry::LaneMode;
use crate::registry::values::RepoSlug;

/// The arguments of `ccci run`, already parsed by the front end.
#[derive(Debug, Clone)]
pub struct RunArgs {
    pub plan: PathBuf,
    pub git_ref: String,
    pub src: String,
    pub pr: Option<u64>,
    pub out: Option<PathBuf>,
    pub lanes: Option<LaneMode>,
    /// The gateway every run domain is routed to.
    pub https_addr: SocketAddr,
    pub ca_file: Option<PathBuf>,
    pub git_url: Option<String>,
    /// How often the run looks at a deploying app.
    pub poll: Duration,
}

/// A problem with the inputs: exit 2.
#[derive(Debug, thiserror::Error)]
pub enum UsageError {
    #[error(transparent)]
    Plan(#[from] crate::plan::PlanError),
    #[error("--ref {0:?}: expected a full 40-hex commit id")]
    Ref(String),
    #[error("--src {0:?}: {1}")]
    Src(String, String),
    #[error("--ca-file {0}: {1}")]
    Ca(String, std::io::Error),
    #[error(transparent)]
    Out(#[from] super::outdir::OutDirError),
}

/// How a run ended.
pub struct Finished {
    pub exit: u8,
    pub out: PathBuf,
}

/// Perform `ccci run`. `Err` only for usage and plan errors.
pub fn run(args: &RunArgs, progress: Progress) -> Result<Finished, UsageError> {
    // No exit on a signal, which would end the process before teardown:
    // signals only stop the run (`super::stop`), an open browser finishes its
    // bounded step and is stopped when its page drops, and `stop_all` below
    // catches the rest.
    let plan = PlanV1::read(&args.plan)?;
    if !crate::registry::values::is_commit_id(&args.git_ref) {
        return Err(UsageError::Ref(args.git_ref.clone()));
    }
    let src: RepoSlug = args
        .src
        .parse()
        .map_err(|e: crate::registry::values::Invalid| UsageError::Src(args.src.clone(), e.0))?;
    let extra_ca_pem = match &args.ca_file {
        Some(p) => Some(std::fs::read(p).map_err(|e| UsageError::Ca(p.display().to_string(), e))?),
        None => None,
    };
    let run_id = lanes::new_run_id();
    let out = args.out.clone().unwrap_or_else(|| {
        crate::names::files::run_output_dir(
            std::path::Path::new(plan.runs_dir.as_str()),
            plan.recipe.as_str(),
            &run_id,
        )
    });
    let masker = super::leak::masker_for(&plan);
    let progress = progress.with_masker(masker.clone());
    // Before anything is deployed: a run that could not write its results
    // must not start.
    super::outdir::prepare_out(&out)?;
    let work = super::outdir::WorkDir::create(&out)?;
    let cancel = super::interrupt::Cancel::new();
    for (what, watch) in [
        (
            "signals",
            super::stop::watch_signals as fn(_, _) -> std::io::Result<()>,
        ),
        ("the parent process", super::stop::watch_parent),
    ] {
        if let Err(e) = watch(cancel.clone(), progress.clone()) {
            progress.line("run", &format!("cannot watch {what}: {e}"));
        }
    }
    // Orphans of earlier runs first: their slots and names are this run's.
    let facts = super::janitor_cli::HostFacts::of_plan(&plan);
    for line in super::janitor_cli::run(&facts, false).lines(false) {
        progress.line("janitor", &line);
    }
    let slow = Duration::from_secs(plan.timeouts.deploy_secs.max(60));
    let state_dir =
        crate::names::files::run_state_dir(std::path::Path::new(plan.runs_dir.as_str()));
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let record = super::runstate::RunRecord {
        run_id: run_id.clone(),
        pid: std::process::id(),
        started_unix: started,
        deadline_unix: started + plan.timeouts.deadline_secs,
        apps: Default::default(),
    };
    let platform = super::abra_platform::AbraPlatform::from_env(slow);
    let world = match super::runstate::Claiming::new(platform, state_dir.clone(), record) {
        Ok(claiming) => ProductionWorld::new(claiming),
        Err(e) => {
            // Without a record the janitor still sees the locks it cannot
            // take: the run goes on, unlocked apps are the only risk.
            progress.line(
                "run",
                &format!(
                    "cannot write the run record in {}: {e}",
                    state_dir.display()
                ),
            );
            ProductionWorld::from_env(slow)
        }
    };
    let inputs = RunInputs {
        plan: &plan,
        world: &world,
        probe: ProbeConfig {
            connect: args.https_addr,
            extra_ca_pem,
            request_timeout: Duration::from_secs(plan.timeouts.http_secs.max(1)),
        },
        progress: progress.clone(),
        git_ref: args.git_ref.to_ascii_lowercase(),
        src,
        pr: args.pr,
        work_dir: work.path().to_owned(),
        out_dir: out.clone(),
        lanes: args.lanes.unwrap_or(plan.lanes),
        poll: args.poll,
        backup_attempts: 3,
        run_id,
        git_base: args
            .git_url
            .clone()
            .unwrap_or_else(|| plan.gitea_url.trimmed().to_owned()),
        cancel,
    };
    let mut output = lanes::execute(&inputs);
    super::webdriver::stop_all();
    // Nothing of the run's clones is needed any more; the artifacts live beside.
    if let Err(e) = work.remove() {
        progress.line("run", &format!("cannot remove the work directory: {e}"));
    }
    let (results, lint) = (&mut output.results, &mut output.lint_text);
    let written = super::leak::write_sealed(&out, results, lint, &masker, &progress)
        .map_err(|e| e.to_string())
        .and_then(|clean| {
            super::outdir::set_modes(&out)
                .map(|()| clean)
                .map_err(|e| e.to_string())
        });
    let exit = match written {
        Ok(clean) => {
            progress.line("run", &format!("results in {}", out.display()));
            super::rungs::exit_code(clean && output.results.green)
        }
        Err(e) => {
            progress.line("run", &format!("cannot write the results: {e}"));
            1
        }
    };
    Ok(Finished { exit, out })
}
