//! `ccci reconcile <swarm|proxy|drone|backupbot>`: converge one piece of the
//! host to the state its config (rendered by ccci-gen) declares. Run by a
//! systemd oneshot on every activation and boot, so every step first looks
//! and only then acts: a second run with nothing changed performs no
//! mutating call. A missing precondition (a certificate file, a token file)
//! fails before anything is touched, with a message naming the path.
//!
//! Each piece looks at the host through a [`world::World`], decides in pure
//! functions ([`decide`]) and performs the actions through the same world:
//! [`world::ToolsWorld`] in production, [`memory::MemoryWorld`] in tests.

pub mod app;
pub mod backupbot;
pub mod decide;
pub mod drone;
pub mod memory;
pub mod proxy;
pub mod state;
pub mod swarm;
pub mod world;

use std::path::Path;

use crate::envfile::EnvFileError;
use crate::forge::drone::DroneError;
use crate::tools::abra::Abra;
use crate::tools::docker::Docker;
use crate::tools::git::Git;
use crate::tools::{Program, ToolError, pty};

/// Why a reconcile failed.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    /// A file the config names is not there (or not readable): the operator
    /// must provide it; nothing was changed.
    #[error("{what} {path} is missing or unreadable: {source}")]
    MissingFile {
        what: &'static str,
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Tool(#[from] ToolError),
    #[error(transparent)]
    EnvFile(#[from] EnvFileError),
    #[error(transparent)]
    Drone(#[from] DroneError),
    /// Something on the host contradicts what the config needs.
    #[error("{0}")]
    Precondition(String),
    #[error("{path}: reconcile state: {reason}")]
    State { path: String, reason: String },
}

/// What a reconcile changed, one line per action, for the journal.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub actions: Vec<String>,
}

impl Report {
    pub fn did(&mut self, action: impl Into<String>) {
        self.actions.push(action.into());
    }

    pub fn is_noop(&self) -> bool {
        self.actions.is_empty()
    }
}

/// The external programs a reconcile uses.
#[derive(Debug, Clone)]
pub struct Tools {
    pub abra: Program,
    pub script: Program,
    pub docker: Docker,
    pub git: Git,
}

impl Tools {
    /// From `CCCI_ABRA`, `CCCI_DOCKER`, `CCCI_GIT`, `CCCI_SCRIPT` or PATH.
    pub fn from_env() -> Tools {
        Tools {
            abra: Program::from_env("CCCI_ABRA", "abra", crate::tools::SLOW),
            script: pty::script_program(),
            docker: Docker::new(),
            git: Git::new(),
        }
    }

    pub fn abra(&self, abra_dir: &Path) -> Abra {
        Abra::with_programs(self.abra.clone(), self.script.clone(), abra_dir)
    }
}

/// Read a secret-bearing file's bytes, or fail naming it.
pub(crate) fn read_required(
    world: &dyn world::World,
    what: &'static str,
    path: &Path,
) -> Result<Vec<u8>, ReconcileError> {
    world
        .read_file(path)
        .map_err(|source| ReconcileError::MissingFile {
            what,
            path: path.display().to_string(),
            source,
        })
}
