//! `ccci run`: deploy one recipe at one commit, prove it, report it.
//!
//! The pure parts (naming, versions, rungs, markers, lint, reports) are small
//! modules tested on their own; `lanes` orchestrates them over the
//! [`world::World`] seam, behind which abra, docker, git, HTTPS, child
//! processes and the clock are driven (`production` is the real one).

pub mod abra_platform;
pub mod browser;
pub mod child;
pub mod cli;
pub mod contain;
pub mod crashloop;
pub mod fetch;
pub mod fresh;
pub mod interrupt;
pub mod janitor;
pub mod janitor_cli;
pub mod lanes;
pub mod leak;
pub mod lint_rung;
pub mod marker;
pub mod mask;
pub mod outdir;
pub mod platform;
pub mod policy;
mod prepare;
pub mod probe;
pub mod production;
pub mod progress;
pub mod report;
pub mod rungs;
pub mod runstate;
pub mod sandbox;
pub mod secrets;
pub mod steps;
pub mod stop;
pub mod upgrade;
pub mod version;
pub mod webdriver;
pub mod world;
