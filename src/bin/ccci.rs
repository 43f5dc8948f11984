//! `ccci`: the runtime on the CI host. Each subcommand is a thin front end over
//! the library; exit codes: 0 success, 1 the work failed, 2 usage or input error.

use std::process::ExitCode;

use ccci::reconcile::{self, ReconcileError, Report, Tools};
use clap::{Parser, Subcommand, ValueEnum};

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
    /// Converge one piece of the host to its config (run by the reconcile
    /// oneshots on every boot); prints one line per change.
    Reconcile {
        #[arg(value_enum)]
        piece: Piece,
        /// The config ccci-gen rendered, modules-gen/etc/reconcile-<piece>.json.
        #[arg(long)]
        config: std::path::PathBuf,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Piece {
    Swarm,
    Proxy,
    Drone,
    Backupbot,
}

impl Piece {
    fn name(self) -> &'static str {
        match self {
            Piece::Swarm => "swarm",
            Piece::Proxy => "proxy",
            Piece::Drone => "drone",
            Piece::Backupbot => "backupbot",
        }
    }
}

fn reconcile_piece(piece: Piece, config: &std::path::Path) -> ExitCode {
    use ccci::config::read_config;
    let tools = Tools::from_env();
    let result: Result<Result<Report, ReconcileError>, ccci::config::ConfigError> = match piece {
        Piece::Swarm => read_config(config).map(|c| reconcile::swarm::reconcile(&c, &tools)),
        Piece::Proxy => read_config(config).map(|c| reconcile::proxy::reconcile(&c, &tools)),
        Piece::Drone => {
            read_config(config).map(|c| reconcile::drone::reconcile(&c, &tools, Default::default()))
        }
        Piece::Backupbot => {
            read_config(config).map(|c| reconcile::backupbot::reconcile(&c, &tools))
        }
    };
    match result {
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
        Ok(Err(e)) => {
            eprintln!("error: {}: {e}", piece.name());
            ExitCode::from(1)
        }
        Ok(Ok(report)) => {
            for line in &report.actions {
                println!("{line}");
            }
            if report.is_noop() {
                println!("{}: up to date", piece.name());
            }
            ExitCode::SUCCESS
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Reconcile { piece, config } => reconcile_piece(piece, &config),
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
