//! An in-memory [`World`](super::world::World) for tests: a model of the host a reconcile sees
//! (files, abra's servers, recipe checkouts and apps, docker's swarm,
//! networks, secrets and stacks, a clock) in which a whole reconcile runs in
//! microseconds. It keeps the rules abra and docker enforce where a wrong
//! sequence would fail on a real host (a second `server add`, a deploy
//! without `-f` of a deployed app, a deploy whose secrets or network are
//! missing, inserting a secret version twice), and records every tool call
//! as the command line the production world runs, so tests read the same.
//!
//! The model is here; its `World` implementation, one tool call at a time,
//! is in `world.rs`. The argv itself is not modelled: which flags abra needs
//! (`-C -o`, `-f`, `-c` …) is tested against the fake executables.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::envfile::EnvFile;
use crate::tools::ToolError;
use crate::tools::abra;
use crate::tools::docker::{NetworkRow, SwarmState};

mod world;

/// A recipe abra can fetch: its releases (oldest first), the `.env.sample`
/// `abra app new` copies, and what a deploy needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recipe {
    pub tags: Vec<String>,
    pub env_sample: String,
    /// `(secret, env key of its version)`: a deploy fails when docker lacks
    /// `<stack>_<secret>_<version>`.
    pub secrets: Vec<(String, String)>,
    /// External networks a deploy needs.
    pub networks: Vec<String>,
}

impl Recipe {
    /// The commit a tag names (the model's commits are named after them).
    pub fn commit(name: &str, tag: &str) -> String {
        format!("{name}@{tag}")
    }
}

/// A recipe checked out under `$ABRA_DIR/recipes`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkout {
    pub recipe: String,
    pub head: String,
}

/// A docker secret; its value only when abra generated it (for leak checks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Secret {
    pub sha256: String,
    pub from_file: bool,
    pub generated: Option<String>,
}

/// A deployed stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployed {
    pub recipe: String,
    /// The release tag at the checkout's head, or `unknown`.
    pub version: String,
    pub env: BTreeMap<String, String>,
    pub count: u32,
}

/// One tool call, as its command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub line: String,
    pub mutating: bool,
}

/// The modelled host; tests arrange and inspect it through
/// [`MemoryWorld::host`].
#[derive(Debug, Clone)]
pub struct MemoryHost {
    pub files: BTreeMap<PathBuf, Vec<u8>>,
    pub dirs: BTreeSet<PathBuf>,
    /// Recipes `abra recipe fetch` can clone.
    pub upstream: BTreeMap<String, Recipe>,
    pub checkouts: BTreeMap<PathBuf, Checkout>,
    pub swarm: SwarmState,
    pub networks: BTreeMap<String, NetworkRow>,
    pub secrets: BTreeMap<String, Secret>,
    pub stacks: BTreeMap<String, Deployed>,
    pub calls: Vec<Call>,
    /// A call whose command line (without the program) starts with a key
    /// fails with the value as its stderr.
    pub fail: BTreeMap<String, String>,
    pub generated: u32,
    pub clock: Duration,
}

impl Default for MemoryHost {
    fn default() -> Self {
        let net = |name: &str| NetworkRow {
            name: name.to_owned(),
            driver: name.to_owned(),
            scope: "local".to_owned(),
        };
        MemoryHost {
            files: BTreeMap::new(),
            dirs: BTreeSet::new(),
            upstream: BTreeMap::new(),
            checkouts: BTreeMap::new(),
            swarm: SwarmState::Inactive,
            networks: [("bridge", net("bridge")), ("host", net("host"))]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
            secrets: BTreeMap::new(),
            stacks: BTreeMap::new(),
            calls: Vec::new(),
            fail: BTreeMap::new(),
            generated: 0,
            clock: Duration::ZERO,
        }
    }
}

impl MemoryHost {
    pub fn write(&mut self, path: impl Into<PathBuf>, content: impl Into<Vec<u8>>) {
        self.files.insert(path.into(), content.into());
    }

    pub fn text(&self, path: &Path) -> Option<String> {
        self.files
            .get(path)
            .map(|b| String::from_utf8_lossy(b).into_owned())
    }

    /// Remove a file, or everything under a directory.
    pub fn remove(&mut self, path: &Path) {
        self.files.retain(|p, _| !p.starts_with(path));
        self.dirs.retain(|p| !p.starts_with(path));
    }

    /// The command lines of the calls that change the host.
    pub fn mutations(&self) -> Vec<String> {
        self.calls
            .iter()
            .filter(|c| c.mutating)
            .map(|c| c.line.clone())
            .collect()
    }

    /// `docker stack rm`: the stack's services vanish (its secrets stay).
    pub fn remove_stack(&mut self, stack: &str) {
        self.stacks.remove(stack);
    }

    fn call(&mut self, line: String, mutating: bool) -> Result<(), ToolError> {
        self.calls.push(Call {
            line: line.clone(),
            mutating,
        });
        let args = line.split_once(' ').map_or("", |(_, a)| a);
        match self.fail.iter().find(|(k, _)| args.starts_with(k.as_str())) {
            Some((_, msg)) => Err(failed(&line, msg)),
            None => Ok(()),
        }
    }

    fn env_of(&self, abra_dir: &Path, domain: &str, line: &str) -> Result<EnvFile, ToolError> {
        let servers = abra_dir.join("servers");
        self.files
            .iter()
            .find(|(p, _)| {
                p.parent().and_then(Path::parent) == Some(servers.as_path())
                    && p.file_name()
                        .is_some_and(|n| *n == *format!("{domain}.env"))
            })
            .map(|(_, b)| EnvFile::parse(&String::from_utf8_lossy(b)))
            .ok_or_else(|| failed(line, &format!("FATA unable to find {domain}.env")))
    }

    fn deploy(
        &mut self,
        abra_dir: &Path,
        domain: &str,
        force: bool,
        line: &str,
    ) -> Result<(), ToolError> {
        let env = self.env_of(abra_dir, domain, line)?;
        let recipe_name = env.get("RECIPE").unwrap_or_default();
        let recipe_name = recipe_name.split(':').next().unwrap_or_default().to_owned();
        let stack = abra::stack_name(domain);
        let checkout = self
            .checkouts
            .get(&abra::recipe_dir(abra_dir, &recipe_name))
            .ok_or_else(|| failed(line, &format!("FATA unable to find recipe {recipe_name}")))?;
        let recipe = self.upstream.get(&recipe_name).cloned().unwrap_or_default();
        let previous = self.stacks.get(&stack);
        if previous.is_some() && !force {
            return Err(failed(line, &format!("FATA {domain} is already deployed")));
        }
        if self.swarm != SwarmState::Active {
            return Err(failed(line, "FATA this node is not a swarm manager"));
        }
        if let Some(n) = recipe
            .networks
            .iter()
            .find(|n| !self.networks.contains_key(*n))
        {
            return Err(failed(line, &format!("FATA network {n} not found")));
        }
        for (name, key) in &recipe.secrets {
            let version = env.get(key).unwrap_or_else(|| "v1".to_owned());
            let full = abra::stack_object_name(&stack, name, &version);
            if !self.secrets.contains_key(&full) {
                return Err(failed(line, &format!("FATA secret not found: {full}")));
            }
        }
        let version = recipe
            .tags
            .iter()
            .find(|t| Recipe::commit(&recipe_name, t) == checkout.head)
            .cloned()
            .unwrap_or_else(|| "unknown".to_owned());
        let count = previous.map_or(0, |p| p.count) + 1;
        self.stacks.insert(
            stack,
            Deployed {
                recipe: recipe_name,
                version,
                env: env.to_map(),
                count,
            },
        );
        Ok(())
    }
}

fn failed(line: &str, msg: &str) -> ToolError {
    ToolError::Failed {
        command: line.to_owned(),
        status: Some(1),
        stderr: format!("{msg}\n"),
        stdout: String::new(),
    }
}

/// The in-memory world; the clock moves only when the reconcile sleeps.
#[derive(Debug)]
pub struct MemoryWorld {
    host: Mutex<MemoryHost>,
    epoch: Instant,
}

impl Default for MemoryWorld {
    fn default() -> Self {
        MemoryWorld::new(MemoryHost::default())
    }
}

impl MemoryWorld {
    pub fn new(host: MemoryHost) -> MemoryWorld {
        MemoryWorld {
            host: Mutex::new(host),
            epoch: Instant::now(),
        }
    }

    /// The modelled host, to arrange or inspect.
    pub fn host(&self) -> MutexGuard<'_, MemoryHost> {
        // A panicking test must not hide the host from its assertions.
        self.host.lock().unwrap_or_else(|p| p.into_inner())
    }
}
