//! `ccci`: the runtime on the CI host. Each subcommand is a thin front end over
//! the library; exit codes: 0 success, 1 the work failed, 2 usage or input error.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "ccci",
    version,
    about = "Co-op Cloud recipe CI: run, reconcile, bridge"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Deploy a recipe at a commit, prove it, report it (exit 0 green, 1 red, 2 usage).
    Run {
        /// The runner plan, runners/<recipe>.json.
        #[arg(long)]
        plan: std::path::PathBuf,
        /// The commit to test (40 hex).
        #[arg(long = "ref")]
        git_ref: String,
        /// The repository the commit comes from, owner/name (a fork for fork PRs).
        #[arg(long)]
        src: String,
        /// The pull request number (its refs/pull/N/head is fetched).
        #[arg(long)]
        pr: Option<u64>,
        /// Where to write results.json, junit.xml, summary.md, lint.txt
        /// (default: <runs_dir>/<recipe>/<run id>).
        #[arg(long)]
        out: Option<std::path::PathBuf>,
        /// Run the fresh and upgrade lanes one after the other.
        #[arg(long)]
        sequential: bool,
        /// The gateway the run domains are routed to (env CCCI_HTTPS_ADDR).
        #[arg(long)]
        https_addr: Option<std::net::SocketAddr>,
        /// An extra trusted CA certificate in PEM (env CCCI_CA_FILE).
        #[arg(long)]
        ca_file: Option<std::path::PathBuf>,
        /// Clone from <URL>/<owner>/<name>.git instead of the plan's Gitea (env CCCI_GIT_URL).
        #[arg(long)]
        git_url: Option<String>,
    },
    /// Check a runner plan without running it (prints the resolved plan).
    CheckPlan {
        /// A runner plan, runners/<recipe>.json.
        #[arg(long)]
        plan: std::path::PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run {
            plan,
            git_ref,
            src,
            pr,
            out,
            sequential,
            https_addr,
            ca_file,
            git_url,
        } => {
            let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
            let https_addr = match https_addr
                .map(Ok)
                .or_else(|| env("CCCI_HTTPS_ADDR").map(|v| v.parse()))
            {
                None => std::net::SocketAddr::from(([127, 0, 0, 1], 443)),
                Some(Ok(a)) => a,
                Some(Err(e)) => {
                    eprintln!("error: CCCI_HTTPS_ADDR: {e}");
                    return ExitCode::from(2);
                }
            };
            let args = ccci::run::cli::RunArgs {
                plan,
                git_ref,
                src,
                pr,
                out,
                lanes: sequential.then_some(ccci::registry::LaneMode::Sequential),
                https_addr,
                ca_file: ca_file.or_else(|| env("CCCI_CA_FILE").map(Into::into)),
                git_url: git_url.or_else(|| env("CCCI_GIT_URL")),
                poll: std::time::Duration::from_millis(250),
            };
            match ccci::run::cli::run(&args, ccci::run::progress::Progress::stdout()) {
                Ok(done) => ExitCode::from(done.exit),
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(2)
                }
            }
        }
        Command::CheckPlan { plan } => match ccci::plan::PlanV1::read(&plan) {
            Ok(p) => {
                println!(
                    "{}: plan for {} is valid (schema {})",
                    plan.display(),
                    p.recipe,
                    p.schema
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(2)
            }
        },
    }
}
