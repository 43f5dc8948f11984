//! The abra-and-docker part of the run's world (`super::world::World`).
//!
//! `lanes` decides what to do and judges the answers; a [`Platform`] performs
//! one operation per call (abra and docker in production, see `abra_platform`;
//! an in-memory model in tests/support/mem_world).
//! Teardown is one call, [`Platform::teardown`], that the lanes make exactly
//! once per app whatever happened before, interrupted or not
//! (`super::interrupt`); the janitor reaps orphans with the same call.

use std::collections::BTreeMap;
use std::path::PathBuf;

/// One run app as the tools see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppRef {
    /// This lane's abra directory (`ABRA_DIR`).
    pub abra_dir: PathBuf,
    pub server: String,
    pub recipe: String,
    pub domain: String,
    pub stack: String,
}

impl AppRef {
    /// abra's env file of the app.
    pub fn env_file(&self) -> PathBuf {
        crate::names::abra::env_file(&self.abra_dir, &self.server, &self.domain)
    }
}

/// One swarm service of the app's stack.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServiceState {
    /// The full service name, `<stack>_<service>`.
    pub name: String,
    pub running: u32,
    pub desired: u32,
    pub labels: BTreeMap<String, String>,
    /// Docker's `UpdateStatus.State` (`updating`, `completed`,
    /// `rollback_started`, `rollback_completed`, …), if any update happened.
    pub update_state: Option<String>,
}

impl ServiceState {
    /// Replicas at their count and no update under way: with
    /// `order: start-first` the old task keeps every replica count at
    /// `1/1` while the swarm updates or rolls back (docs/docker.md,
    /// "Rollbacks").
    pub fn converged(&self) -> bool {
        self.running == self.desired && !self.updating()
    }

    /// Docker is still moving the service to its new spec (or back).
    pub fn updating(&self) -> bool {
        matches!(
            self.update_state.as_deref(),
            Some("updating" | "rollback_started")
        )
    }

    pub fn rolled_back(&self) -> bool {
        self.update_state
            .as_deref()
            .is_some_and(|s| s.starts_with("rollback"))
    }
}

/// One task of a service, as `docker service ps` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TaskState {
    /// The full service name, `<stack>_<service>`.
    pub service: String,
    /// The current state's first word, lower case (`running`, `starting`,
    /// `failed`, `rejected`, `shutdown`, `complete`, …).
    pub state: String,
    /// The task's error, if any (`task: non-zero exit (1)`, `No such image`).
    pub error: String,
}

/// A tool call that did not do what was asked. `Infra` means the platform
/// itself misbehaved (the result is unverified, not the recipe's fault).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpError {
    #[error("{0}")]
    Failed(String),
    #[error("{what} did not finish within {secs} s")]
    Timeout { what: String, secs: u64 },
    #[error("infrastructure: {0}")]
    Infra(String),
}

/// What teardown found. Empty `problems` means nothing of the app is left.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TeardownReport {
    pub problems: Vec<String>,
}

/// Everything a lane asks of abra and docker.
pub trait Platform: Send + Sync {
    /// `abra app new <recipe> -s <server> -D <domain> -S -n -C -o` from the
    /// lane's current checkout (chaos: never a checkout of a tag).
    fn app_new(&self, app: &AppRef) -> Result<(), OpError>;
    /// Set env keys in the app's env file (replace, never duplicate).
    fn set_env(&self, app: &AppRef, edits: &[(String, String)]) -> Result<(), OpError>;
    /// The app's env file as it is now.
    fn env(&self, app: &AppRef) -> Result<crate::envfile::EnvFile, OpError>;
    /// `abra app secret generate --all -m`, output kept out of every log.
    fn secret_generate(&self, app: &AppRef) -> Result<(), OpError>;
    /// `abra app secret generate <domain> <name> <version> -m`, output kept
    /// out of every log: one secret the app's checkout added.
    fn secret_generate_one(&self, app: &AppRef, name: &str, version: &str) -> Result<(), OpError>;
    /// `abra app secret insert <domain> <name> <version> <file> -f`: a secret
    /// whose value is the content of a host file, read by abra itself so the
    /// value is never on a command line (docs/abra.md, "Secret values from
    /// the host"). Required, so that no wrapper can silently drop it.
    fn secret_insert_file(
        &self,
        app: &AppRef,
        name: &str,
        version: &str,
        file: &std::path::Path,
    ) -> Result<(), OpError>;
    /// The secret values generated for `app` since the last call, for the
    /// run's masker only (`super::mask`): never logged, never in an error.
    /// A platform that cannot know them returns none.
    fn take_secret_values(&self, _app: &AppRef) -> Vec<String> {
        Vec::new()
    }
    /// The docker secrets of the app's stack (`docker secret ls`): the only
    /// trustworthy answer to whether a secret exists
    /// (docs/abra.md, "Whether a secret exists").
    fn secrets(&self, app: &AppRef) -> Result<Vec<String>, OpError>;
    /// `abra app deploy -C -o -c -n` (and `-f` when `redeploy`): the current
    /// checkout, no converge checks (the run waits itself).
    fn deploy(&self, app: &AppRef, redeploy: bool) -> Result<(), OpError>;
    /// The stack's services with replica state, labels and update state.
    fn services(&self, app: &AppRef) -> Result<Vec<ServiceState>, OpError>;
    /// Replica counts only (labels may be empty): the cheap question asked
    /// on every poll while waiting for convergence.
    fn replicas(&self, app: &AppRef) -> Result<Vec<ServiceState>, OpError> {
        self.services(app)
    }
    /// Every task of every service of the stack, failed ones included
    /// (`docker service ps --no-trunc`): how a crash loop is seen. A
    /// platform that cannot tell answers none, and the wait falls back to
    /// the deploy timeout.
    fn tasks(&self, _app: &AppRef) -> Result<Vec<TaskState>, OpError> {
        Ok(Vec::new())
    }
    /// The last `lines` log lines of one service (`docker service logs`),
    /// for the results of a service that keeps failing.
    fn logs(&self, _app: &AppRef, _service: &str, _lines: u32) -> Result<String, OpError> {
        Ok(String::new())
    }
    /// `sh -c <script>` inside a running container of `<stack>_<service>`; stdout.
    fn exec(&self, app: &AppRef, service: &str, script: &str) -> Result<String, OpError>;
    /// `abra app backup create` under a pseudo-terminal.
    fn backup_create(&self, app: &AppRef) -> Result<(), OpError>;
    /// Whether the newest backup's content holds `needle`.
    fn backup_holds(&self, app: &AppRef, needle: &str) -> Result<bool, OpError>;
    /// `abra app restore` under a pseudo-terminal.
    fn restore(&self, app: &AppRef) -> Result<(), OpError>;
    /// `abra recipe lint <recipe>` under a pseudo-terminal; its whole output.
    fn lint(&self, abra_dir: &std::path::Path, recipe: &str) -> Result<String, OpError>;
    /// Remove the app completely (undeploy, volumes, secrets, env file). Called
    /// once per app, always, even after a failure or panic in the lane.
    fn teardown(&self, app: &AppRef) -> TeardownReport;
}
