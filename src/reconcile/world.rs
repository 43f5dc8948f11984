//! The seam between reconcile's decisions and the host: every file, abra,
//! docker and git operation a reconcile performs, and the clock its waits
//! use. [`ToolsWorld`] is the production world over `src/tools`;
//! [`super::memory::MemoryWorld`] is an in-memory model the scenario tests
//! run against. A world only performs; it never decides.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::time::{Duration, Instant};

use super::state::{self, AppState};
use super::{ReconcileError, Tools};
use crate::envfile::{self, EnvFile, EnvFileError};
use crate::tools::ToolError;
use crate::tools::abra::NewApp;
use crate::tools::docker::{NetworkRow, SwarmState};

/// A sleep that a world may shorten (the in-memory world only moves its clock).
pub type Sleep<'a> = Pin<Box<dyn Future<Output = ()> + 'a>>;

/// What a reconcile touches on the host.
pub trait World {
    /// A file's bytes (certificates, secrets, the Drone token).
    fn read_file(&self, path: &Path) -> std::io::Result<Vec<u8>>;
    fn is_dir(&self, path: &Path) -> bool;
    fn is_file(&self, path: &Path) -> bool;
    /// An app's env file.
    fn read_env(&self, path: &Path) -> Result<EnvFile, EnvFileError>;
    /// Set `pairs` in an env file, keeping every other line; whether it changed.
    fn edit_env(&self, path: &Path, pairs: &BTreeMap<String, String>)
    -> Result<bool, EnvFileError>;
    /// What the last reconcile recorded (empty when there is no state file).
    fn load_state(&self, path: &Path) -> Result<AppState, ReconcileError>;
    fn save_state(&self, path: &Path, state: &AppState) -> Result<(), ReconcileError>;

    /// `(HEAD, the commit rev names)` of a checkout.
    fn head_and(&self, dir: &Path, rev: &str) -> Result<(String, Option<String>), ToolError>;
    fn checkout_force(&self, dir: &Path, rev: &str) -> Result<(), ToolError>;

    fn server_add_local(&self, abra_dir: &Path) -> Result<(), ToolError>;
    fn recipe_fetch(&self, abra_dir: &Path, recipe: &str) -> Result<(), ToolError>;
    /// `abra app new` at the current checkout (no version pin, no secrets).
    fn app_new(
        &self,
        abra_dir: &Path,
        recipe: &str,
        server: &str,
        domain: &str,
    ) -> Result<(), ToolError>;
    fn secret_insert_file(
        &self,
        abra_dir: &Path,
        domain: &str,
        name: &str,
        version: &str,
        file: &Path,
    ) -> Result<(), ToolError>;
    fn secret_generate(
        &self,
        abra_dir: &Path,
        domain: &str,
        name: &str,
        version: &str,
    ) -> Result<(), ToolError>;
    fn app_deploy(&self, abra_dir: &Path, domain: &str, force: bool) -> Result<(), ToolError>;

    fn swarm_state(&self) -> Result<SwarmState, ToolError>;
    fn swarm_init(&self, advertise_addr: &str) -> Result<(), ToolError>;
    fn networks(&self) -> Result<Vec<NetworkRow>, ToolError>;
    fn create_attachable_overlay(&self, name: &str) -> Result<(), ToolError>;
    /// Docker secret names starting with `prefix`.
    fn secrets(&self, prefix: &str) -> Result<Vec<String>, ToolError>;
    /// Whether a stack has any service.
    fn stack_deployed(&self, stack: &str) -> Result<bool, ToolError>;

    fn now(&self) -> Instant;
    fn sleep(&self, d: Duration) -> Sleep<'_>;
}

/// The production world: the host's files, and abra, docker and git through
/// `src/tools`.
#[derive(Debug, Clone)]
pub struct ToolsWorld {
    tools: Tools,
}

impl ToolsWorld {
    pub fn new(tools: Tools) -> ToolsWorld {
        ToolsWorld { tools }
    }
}

impl World for ToolsWorld {
    fn read_file(&self, path: &Path) -> std::io::Result<Vec<u8>> {
        std::fs::read(path)
    }

    fn is_dir(&self, path: &Path) -> bool {
        path.is_dir()
    }

    fn is_file(&self, path: &Path) -> bool {
        path.is_file()
    }

    fn read_env(&self, path: &Path) -> Result<EnvFile, EnvFileError> {
        envfile::read_file(path)
    }

    fn edit_env(
        &self,
        path: &Path,
        pairs: &BTreeMap<String, String>,
    ) -> Result<bool, EnvFileError> {
        envfile::edit_file(path, pairs)
    }

    fn load_state(&self, path: &Path) -> Result<AppState, ReconcileError> {
        state::load(path)
    }

    fn save_state(&self, path: &Path, state: &AppState) -> Result<(), ReconcileError> {
        state::save(path, state)
    }

    fn head_and(&self, dir: &Path, rev: &str) -> Result<(String, Option<String>), ToolError> {
        self.tools.git.head_and(dir, rev)
    }

    fn checkout_force(&self, dir: &Path, rev: &str) -> Result<(), ToolError> {
        self.tools.git.checkout_force(dir, rev)
    }

    fn server_add_local(&self, abra_dir: &Path) -> Result<(), ToolError> {
        self.tools.abra(abra_dir).server_add_local()
    }

    fn recipe_fetch(&self, abra_dir: &Path, recipe: &str) -> Result<(), ToolError> {
        self.tools.abra(abra_dir).recipe_fetch(recipe)
    }

    fn app_new(
        &self,
        abra_dir: &Path,
        recipe: &str,
        server: &str,
        domain: &str,
    ) -> Result<(), ToolError> {
        self.tools.abra(abra_dir).app_new(
            recipe,
            server,
            domain,
            // No version: the checkout is pinned by reconcile and every abra
            // call is chaos, so a version pin in the env file could only go stale.
            &NewApp {
                version: None,
                generate_secrets: false,
            },
        )
    }

    fn secret_insert_file(
        &self,
        abra_dir: &Path,
        domain: &str,
        name: &str,
        version: &str,
        file: &Path,
    ) -> Result<(), ToolError> {
        self.tools
            .abra(abra_dir)
            .secret_insert_file(domain, name, version, file)
    }

    fn secret_generate(
        &self,
        abra_dir: &Path,
        domain: &str,
        name: &str,
        version: &str,
    ) -> Result<(), ToolError> {
        self.tools
            .abra(abra_dir)
            .secret_generate(domain, name, version)
    }

    fn app_deploy(&self, abra_dir: &Path, domain: &str, force: bool) -> Result<(), ToolError> {
        self.tools
            .abra(abra_dir)
            .app_deploy(domain, force)
            .map(drop)
    }

    fn swarm_state(&self) -> Result<SwarmState, ToolError> {
        self.tools.docker.swarm_state()
    }

    fn swarm_init(&self, advertise_addr: &str) -> Result<(), ToolError> {
        self.tools.docker.swarm_init(advertise_addr)
    }

    fn networks(&self) -> Result<Vec<NetworkRow>, ToolError> {
        self.tools.docker.networks()
    }

    fn create_attachable_overlay(&self, name: &str) -> Result<(), ToolError> {
        self.tools.docker.create_attachable_overlay(name)
    }

    fn secrets(&self, prefix: &str) -> Result<Vec<String>, ToolError> {
        self.tools.docker.secrets(prefix)
    }

    fn stack_deployed(&self, stack: &str) -> Result<bool, ToolError> {
        Ok(!self.tools.docker.services(Some(stack))?.is_empty())
    }

    fn now(&self) -> Instant {
        Instant::now()
    }

    fn sleep(&self, d: Duration) -> Sleep<'_> {
        Box::pin(tokio::time::sleep(d))
    }
}
