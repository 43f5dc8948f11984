//! The production [`Platform`]: abra and docker through `crate::tools`, one
//! `ABRA_DIR` per lane (the app's), env edits through `crate::envfile`.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use super::platform::{AppRef, OpError, Platform, ServiceState, TaskState, TeardownReport};
use crate::tools::abra::{Abra, NewApp};
use crate::tools::docker::Docker;
use crate::tools::{Call, Program, ToolError, pty};

/// abra + docker as found through `CCCI_ABRA` / `CCCI_DOCKER` / `CCCI_SCRIPT`
/// or on PATH.
pub struct AbraPlatform {
    abra: Program,
    script: Program,
    docker: Docker,
    tar: Program,
    /// The longest a deploy, backup or restore call may take.
    pub slow_timeout: Duration,
    /// Values abra generated, per domain, until the run takes them for its
    /// masker.
    generated: Mutex<BTreeMap<String, Vec<String>>>,
}

impl AbraPlatform {
    pub fn from_env(slow_timeout: Duration) -> Self {
        AbraPlatform {
            abra: Program::from_env("CCCI_ABRA", "abra", slow_timeout),
            script: pty::script_program(),
            docker: Docker::new(),
            tar: Program::from_env("CCCI_TAR", "tar", crate::tools::QUICK),
            slow_timeout,
            generated: Mutex::default(),
        }
    }

    /// With explicit programs (tests point these at fakes).
    pub fn new(
        abra: Program,
        script: Program,
        docker: Docker,
        tar: Program,
        slow_timeout: Duration,
    ) -> Self {
        AbraPlatform {
            abra,
            script,
            docker,
            tar,
            slow_timeout,
            generated: Mutex::default(),
        }
    }

    /// Keep the values of `abra … secret generate -m` output for the masker.
    fn learn(&self, app: &AppRef, machine_output: &str) {
        let values = super::mask::generated_values(machine_output);
        if let Ok(mut g) = self.generated.lock() {
            g.entry(app.domain.clone()).or_default().extend(values);
        }
    }

    fn abra(&self, app: &AppRef) -> Abra {
        Abra::with_programs(self.abra.clone(), self.script.clone(), &app.abra_dir)
    }
}

fn op(e: ToolError) -> OpError {
    match e {
        ToolError::Timeout { command, after, .. } => OpError::Timeout {
            what: command,
            secs: after.as_secs(),
        },
        ToolError::Spawn { command, source } => OpError::Infra(format!("{command}: {source}")),
        other => OpError::Failed(other.to_string()),
    }
}

impl Platform for AbraPlatform {
    fn app_new(&self, app: &AppRef) -> Result<(), OpError> {
        // Secrets are generated in their own step (with -m, output discarded).
        self.abra(app)
            .app_new(&app.recipe, &app.server, &app.domain, &NewApp::default())
            .map_err(op)
    }

    fn set_env(&self, app: &AppRef, edits: &[(String, String)]) -> Result<(), OpError> {
        let map: BTreeMap<String, String> = edits.iter().cloned().collect();
        crate::envfile::edit_file(&app.env_file(), &map)
            .map(drop)
            .map_err(|e| OpError::Failed(e.to_string()))
    }

    fn env(&self, app: &AppRef) -> Result<crate::envfile::EnvFile, OpError> {
        crate::envfile::read_file(&app.env_file()).map_err(|e| OpError::Failed(e.to_string()))
    }

    fn secret_generate(&self, app: &AppRef) -> Result<(), OpError> {
        let out = self
            .abra(app)
            .secret_generate_all_output(&app.domain)
            .map_err(op)?;
        self.learn(app, &out);
        Ok(())
    }

    fn secret_generate_one(&self, app: &AppRef, name: &str, version: &str) -> Result<(), OpError> {
        let out = self
            .abra(app)
            .secret_generate_output(&app.domain, name, version)
            .map_err(op)?;
        self.learn(app, &out);
        Ok(())
    }

    fn secret_insert_file(
        &self,
        app: &AppRef,
        name: &str,
        version: &str,
        file: &Path,
    ) -> Result<(), OpError> {
        self.abra(app)
            .secret_insert_file(&app.domain, name, version, file)
            .map_err(op)
    }

    fn take_secret_values(&self, app: &AppRef) -> Vec<String> {
        self.generated
            .lock()
            .ok()
            .and_then(|mut g| g.remove(&app.domain))
            .unwrap_or_default()
    }

    fn secrets(&self, app: &AppRef) -> Result<Vec<String>, OpError> {
        self.docker
            .secrets(&crate::names::stack::stack_prefix(&app.stack))
            .map_err(op)
    }

    fn deploy(&self, app: &AppRef, redeploy: bool) -> Result<(), OpError> {
        self.abra(app)
            .app_deploy(&app.domain, redeploy)
            .map(drop)
            .map_err(op)
    }

    fn services(&self, app: &AppRef) -> Result<Vec<ServiceState>, OpError> {
        let rows = self.docker.services(Some(&app.stack)).map_err(op)?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let (running, desired) = row.replica_counts().unwrap_or((0, 1));
            let info = self.docker.service_inspect(&row.name).map_err(op)?;
            out.push(ServiceState {
                name: row.name,
                running,
                desired,
                labels: info.labels,
                update_state: info.update_state,
            });
        }
        Ok(out)
    }

    fn tasks(&self, app: &AppRef) -> Result<Vec<TaskState>, OpError> {
        let rows = self.docker.services(Some(&app.stack)).map_err(op)?;
        let mut out = Vec::new();
        for row in rows {
            for t in self.docker.service_ps(&row.name).map_err(op)? {
                out.push(TaskState {
                    service: row.name.clone(),
                    // "Failed 3 seconds ago" → "failed".
                    state: t
                        .current_state
                        .split_whitespace()
                        .next()
                        .unwrap_or("")
                        .to_ascii_lowercase(),
                    error: t.error,
                });
            }
        }
        Ok(out)
    }

    fn logs(&self, _app: &AppRef, service: &str, lines: u32) -> Result<String, OpError> {
        self.docker.service_logs(service, lines).map_err(op)
    }

    fn replicas(&self, app: &AppRef) -> Result<Vec<ServiceState>, OpError> {
        let rows = self.docker.services(Some(&app.stack)).map_err(op)?;
        Ok(rows
            .into_iter()
            .map(|row| {
                let (running, desired) = row.replica_counts().unwrap_or((0, 1));
                ServiceState {
                    name: row.name,
                    running,
                    desired,
                    ..ServiceState::default()
                }
            })
            .collect())
    }

    fn exec(&self, app: &AppRef, service: &str, script: &str) -> Result<String, OpError> {
        let full = crate::names::stack::service_name(&app.stack, service)
            .map_err(|e| OpError::Failed(e.to_string()))?;
        let ctr = self
            .docker
            .container_of(&full)
            .map_err(op)?
            .ok_or_else(|| OpError::Failed(format!("no running container of {full}")))?;
        self.docker
            .exec(&ctr, &["sh", "-c", script])
            .map(|o| o.stdout)
            .map_err(op)
    }

    fn backup_create(&self, app: &AppRef) -> Result<(), OpError> {
        self.abra(app)
            .backup_create(&app.domain)
            .map(drop)
            .map_err(op)
    }

    fn backup_holds(&self, app: &AppRef, needle: &str) -> Result<bool, OpError> {
        // Download the newest backup into a scratch directory and look inside
        // every archive: a truncated dump or an empty volume does not hold it.
        let dir = ScratchDir::new(
            app.abra_dir
                .join(format!("backup-{:06x}", crate::names::run::fresh_nonce())),
        )?;
        Call::new(&self.abra)
            .env("ABRA_DIR", &app.abra_dir)
            .args(["app", "backup", "download", &app.domain, "-C", "-o", "-n"])
            .dir(dir.path())
            .tty(&self.script)
            .timeout(self.slow_timeout)
            .run()
            .map_err(op)?;
        archives_hold(&self.tar, dir.path(), needle)
    }

    fn restore(&self, app: &AppRef) -> Result<(), OpError> {
        self.abra(app).restore(&app.domain).map(drop).map_err(op)
    }

    fn lint(&self, abra_dir: &Path, recipe: &str) -> Result<String, OpError> {
        Abra::with_programs(self.abra.clone(), self.script.clone(), abra_dir)
            .recipe_lint(recipe)
            .map(|r| r.output)
            .map_err(op)
    }

    fn teardown(&self, app: &AppRef) -> TeardownReport {
        basic_teardown(self, app)
    }
}

/// A directory removed when dropped.
struct ScratchDir(std::path::PathBuf);

impl ScratchDir {
    fn new(path: std::path::PathBuf) -> Result<Self, OpError> {
        std::fs::create_dir_all(&path)
            .map_err(|e| OpError::Infra(format!("{}: {e}", path.display())))?;
        Ok(ScratchDir(path))
    }
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Whether any archive in `dir` holds `needle` (`tar -xOf` detects gzip).
fn archives_hold(tar: &Program, dir: &Path, needle: &str) -> Result<bool, OpError> {
    let entries = std::fs::read_dir(dir).map_err(|e| OpError::Infra(e.to_string()))?;
    let mut any = false;
    for e in entries.flatten() {
        let path = e.path();
        if !path.is_file() {
            continue;
        }
        any = true;
        let out = Call::new(tar).arg("-xOf").arg(&path).run().map_err(op)?;
        if out.stdout.contains(needle) {
            return Ok(true);
        }
    }
    if any {
        Ok(false)
    } else {
        Err(OpError::Failed(
            "abra app backup download produced no archive".into(),
        ))
    }
}

/// How long teardown waits for the swarm to remove a stack's containers.
/// On Docker 20.10 an undeployed stack's exited task containers go within
/// seconds (six seen for a restarting service); this bounds a stuck one.
const CONTAINERS_GONE: Duration = Duration::from_secs(30);

/// Poll until no container of `stack` exists, up to [`CONTAINERS_GONE`];
/// the error names the containers still there.
fn wait_containers_gone(p: &AbraPlatform, stack: &str) -> Result<(), String> {
    wait_gone(|| p.docker.stack_containers(stack))
}

/// Poll `list` until it lists nothing, up to [`CONTAINERS_GONE`]; the error
/// names what is still there.
fn wait_gone(
    list: impl Fn() -> Result<Vec<String>, crate::tools::ToolError>,
) -> Result<(), String> {
    let start = std::time::Instant::now();
    loop {
        match list() {
            Ok(c) if c.is_empty() => return Ok(()),
            Ok(c) if start.elapsed() >= CONTAINERS_GONE => return Err(c.join(", ")),
            Err(e) if start.elapsed() >= CONTAINERS_GONE => return Err(e.to_string()),
            _ => std::thread::sleep(Duration::from_millis(250)),
        }
    }
}

/// Undeploy, remove volumes (retrying: a stopping task holds its volume for a
/// moment) and secrets, then the env file only once the stack is gone; report
/// whatever is left (docs/docker.md, "Teardown, verified"). The janitor
/// reaps orphans with this same teardown (`super::janitor`).
fn basic_teardown(p: &AbraPlatform, app: &AppRef) -> TeardownReport {
    let abra = p.abra(app);
    let mut problems = Vec::new();
    let env_exists = app.env_file().exists();
    if env_exists {
        // "not deployed" is fine here; leftovers are checked below.
        let _ = abra.app_undeploy(&app.domain);
    }
    let services_left = |p: &AbraPlatform| p.docker.services(Some(&app.stack)).map(|s| s.len());
    if services_left(p).unwrap_or(0) > 0 {
        let _ = p.docker.stack_rm(&app.stack);
    }
    // The swarm stops a removed service's tasks seconds later and removes
    // their containers seconds after that (docs/docker.md, "Removed services
    // linger"); nothing of the app is kept, so its containers are removed
    // now. Only once no service is left, or the swarm would replace them.
    if services_left(p).is_ok_and(|n| n == 0)
        && let Ok(c) = p.docker.stack_containers(&app.stack)
        && !c.is_empty()
    {
        let _ = p.docker.containers_rm_force(&c);
    }
    // Volumes cannot go while any container of the stack exists, exited
    // ones included; wait for the swarm to reap them first.
    let reaped = wait_containers_gone(p, &app.stack);
    if env_exists {
        let mut removed = false;
        for attempt in 0..5 {
            if abra.volume_remove(&app.domain).is_ok() {
                removed = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(200 * (attempt + 1)));
        }
        if !removed {
            for v in p.docker.volumes(Some(&app.stack)).unwrap_or_default() {
                let _ = p.docker.volume_rm(&v);
            }
        }
        let _ = abra.secret_remove_all(&app.domain);
    }
    // A removed stack's own network goes seconds after its services
    // (docs/docker.md, "Stack networks"): wait for it like for the
    // containers, so that what is verified below is what stays.
    // A listing that fails stops the wait at once: the listings verified
    // below already report an engine that does not answer.
    let _ = wait_gone(|| Ok(p.docker.stack_networks(&app.stack).unwrap_or_default()));
    let prefix = crate::names::stack::stack_prefix(&app.stack);
    if !env_exists {
        // An orphan whose env file is gone (the janitor finds those by the
        // naming rule): abra cannot address it, docker can.
        for v in p.docker.volumes(Some(&app.stack)).unwrap_or_default() {
            let _ = p.docker.volume_rm(&v);
        }
    }
    // abra stops at the first secret it cannot remove; docker is asked for
    // each one left, and says why one stays (a service outside the stack
    // still using it: docs/docker.md, "Secrets in use").
    let mut secret_errors = Vec::new();
    for s in p.docker.secrets(&prefix).unwrap_or_default() {
        if let Err(e) = p.docker.secret_rm(&s) {
            secret_errors.push(e.to_string());
        }
    }
    match services_left(p) {
        Ok(0) => {
            if env_exists && let Err(e) = std::fs::remove_file(app.env_file()) {
                problems.push(format!("env file {}: {e}", app.env_file().display()));
            }
        }
        Ok(n) => problems.push(format!("{n} service(s) of {} left", app.stack)),
        Err(e) => problems.push(format!("cannot list services: {e}")),
    }
    match p.docker.volumes(Some(&app.stack)) {
        Ok(v) if !v.is_empty() => problems.push(match &reaped {
            Ok(()) => format!("volumes left: {}", v.join(", ")),
            Err(c) => format!("volumes left: {} (held by {c})", v.join(", ")),
        }),
        Ok(_) => {}
        Err(e) => problems.push(format!("cannot list volumes: {e}")),
    }
    for (kind, list) in [
        ("secrets", p.docker.secrets(&prefix)),
        ("configs", p.docker.configs(&prefix)),
    ] {
        match list {
            Ok(v) if !v.is_empty() && kind == "secrets" && !secret_errors.is_empty() => problems
                .push(format!(
                    "{kind} left: {} ({})",
                    v.join(", "),
                    secret_errors.join("; ")
                )),
            Ok(v) if !v.is_empty() => problems.push(format!("{kind} left: {}", v.join(", "))),
            Ok(_) => {}
            Err(e) => problems.push(format!("cannot list {kind}: {e}")),
        }
    }
    if let Ok(v) = p.docker.stack_networks(&app.stack)
        && !v.is_empty()
    {
        problems.push(format!("networks left: {}", v.join(", ")));
    }
    TeardownReport { problems }
}
