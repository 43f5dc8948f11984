//! `ccci-gen enroll`: read a recipe (a git URL, a local repository or a
//! plain directory) and propose its `recipes/<name>.toml`, with a comment on
//! every choice naming the file and line it came from.
//!
//! - `source`: where the recipe is (clone or read) and its release tags;
//! - `sample`: `.env.sample` (the `COMPOSE_FILE` chain, variables, secrets);
//! - `compose`: the selected compose files, as typed services with located labels;
//! - `labels`: the Traefik router rule and the backupbot labels;
//! - `images`: the deploy timeout an image's kind needs;
//! - `propose`: the decisions, a typed [`Proposal`];
//! - `document`: the proposal as commented TOML;
//! - `write`: validation with the registry's own loader, then an atomic write.
//!
//! What the labels mean is described in docs/enroll.md.

pub mod compose;
pub mod decide;
pub mod document;
pub mod images;
pub mod labels;
pub mod propose;
pub mod sample;
pub mod source;
pub mod write;

use std::fmt;
use std::path::PathBuf;

pub use propose::Proposal;
pub use write::{EnrollOptions, Enrolled, enroll};

/// A place in the recipe: a file relative to the recipe's root and a 1-based line.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct At {
    pub file: String,
    pub line: usize,
}

impl At {
    pub fn new(file: &str, line: usize) -> At {
        At {
            file: file.to_owned(),
            line,
        }
    }
}

impl fmt::Display for At {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// Why a recipe could not be enrolled. Each names the file (and line) and
/// what was expected; nothing is written.
#[derive(Debug, thiserror::Error)]
pub enum EnrollError {
    #[error(
        "{0}: neither a directory nor a git URL (expected a path to a recipe or e.g. https://git.coopcloud.tech/coop-cloud/custom-html.git)"
    )]
    NotASource(String),
    #[error("cannot clone {url}: {why}")]
    Clone { url: String, why: String },
    #[error("{dir}: no compose file: a recipe has a compose.yml at its root")]
    NoCompose { dir: String },
    #[error("{at}: COMPOSE_FILE names {file}, which is not in the recipe ({why})")]
    MissingComposeFile { at: At, file: String, why: String },
    #[error("{at}: not YAML: {why}")]
    Yaml { at: At, why: String },
    #[error("{at}: label {label:?}: {expected}")]
    Label {
        at: At,
        label: String,
        expected: String,
    },
    #[error("{path}: cannot read: {why}")]
    Read { path: String, why: String },
    #[error(
        "the recipe name {name:?} is not valid ({why}); pass --name with e.g. --name custom-html"
    )]
    Name { name: String, why: String },
    #[error("{path} already exists; pass --force to replace it")]
    Exists { path: PathBuf },
    #[error("the registry at {root} cannot be read:\n{why}")]
    Registry { root: String, why: String },
    #[error("the proposed {path} does not load with the registry (nothing was written):\n{why}")]
    Invalid { path: String, why: String },
    #[error("{path}: cannot write: {why}")]
    Write { path: String, why: String },
}
