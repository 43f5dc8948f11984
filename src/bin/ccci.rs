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
