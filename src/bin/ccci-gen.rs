//! `ccci-gen`: render the CI host from the registry.
//!
//! Exit codes: 0 done (or up to date with `--check`), 1 outputs are stale or
//! could not be written, 2 the registry is invalid or the command line is wrong.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use ccci::generate::outputs::render_all;
use ccci::generate::write::{Drift, check, write};

#[derive(Parser)]
#[command(
    name = "ccci-gen",
    version,
    about = "Render the ccci CI host (NixOS modules, configs, runner plans, .drone.yml) from the registry"
)]
struct Cli {
    /// Repository root holding ccci.toml and recipes/.
    #[arg(long, default_value = ".", global = true)]
    root: PathBuf,
    /// Render in memory and compare with the files on disk; write nothing.
    #[arg(long)]
    check: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Print the reference of every registry key (type, default, meaning).
    Keys,
    /// Read a recipe (git URL or local path) and propose its
    /// `recipes/<name>.toml`, a comment on each choice.
    Enroll {
        /// The recipe: a git URL, a local git repository or a plain directory.
        source: String,
        /// The recipe's name (default: the sample's TYPE, else the source's name).
        #[arg(long)]
        name: Option<String>,
        /// Replace an existing recipes/<name>.toml.
        #[arg(long)]
        force: bool,
        /// The registry root (default: --root).
        #[arg(long)]
        registry: Option<PathBuf>,
    },
}

/// `ccci-gen enroll`: 0 written, 1 the recipe could not be enrolled.
fn enroll(
    root: PathBuf,
    source: String,
    name: Option<String>,
    force: bool,
    registry: Option<PathBuf>,
) -> ExitCode {
    let opts = ccci::enroll::EnrollOptions {
        source,
        name,
        force,
        registry: registry.unwrap_or(root),
    };
    match ccci::enroll::enroll(&opts, &ccci::tools::git::Git::new()) {
        Ok(done) => {
            for note in &done.proposal.undecided {
                eprintln!("note: {note}");
            }
            println!("wrote {}", done.path.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Keys) => {
            print!("{}", ccci::registry::keys::reference_markdown());
            return ExitCode::SUCCESS;
        }
        Some(Command::Enroll {
            source,
            name,
            force,
            registry,
        }) => return enroll(cli.root, source, name, force, registry),
        None => {}
    }
    let registry = match ccci::registry::load(&cli.root) {
        Ok(r) => r,
        Err(e) => {
            eprint!("error: {e}");
            eprintln!("nothing was written");
            return ExitCode::from(2);
        }
    };
    let outputs = match render_all(&registry) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}\nnothing was written");
            return ExitCode::from(1);
        }
    };
    if cli.check {
        match check(&cli.root, &outputs) {
            Ok(drift) if drift.is_empty() => ExitCode::SUCCESS,
            Ok(drift) => {
                for d in &drift {
                    match d {
                        Drift::Missing { path } => eprintln!("missing: {path}"),
                        Drift::Differs { path, diff } => {
                            eprintln!("differs: {path}");
                            print!("{diff}");
                        }
                        Drift::Stale { path, .. } => {
                            eprintln!("stray: {path} (not rendered from the registry)")
                        }
                    }
                }
                eprintln!("generated files are out of date: run `ccci-gen` and commit the result");
                ExitCode::from(1)
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(1)
            }
        }
    } else {
        match write(&cli.root, &outputs) {
            Ok(report) => {
                for p in &report.written {
                    println!("wrote {p}");
                }
                for p in &report.removed {
                    println!("removed {p}");
                }
                println!(
                    "{} written, {} removed, {} unchanged",
                    report.written.len(),
                    report.removed.len(),
                    report.unchanged
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(1)
            }
        }
    }
}
