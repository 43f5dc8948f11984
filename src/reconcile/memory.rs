//! An in-memory [`World`] for tests: a model of the host a reconcile sees
//! (files, abra's servers, recipe checkouts and apps, docker's swarm,
//! networks, secrets and stacks, a clock) in which a whole reconcile runs in
//! microseconds. It keeps the rules abra and docker enforce where a wrong
//! sequence would fail on a real host (a second `server add`, a deploy
//! without `-f` of a deployed app, a deploy whose secrets or network are
//! missing, inserting a secret version twice), and records every tool call
//! as the command line the production world runs, so tests read the same.
//!
//! The argv itself is not modelled: which flags abra needs (`-C -o`, `-f`,
//! `-c` …) is tested against the fake executables.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::ReconcileError;
use super::state::{self, AppState};
use super::world::{Sleep, World};
use crate::envfile::{EnvFile, EnvFileError};
use crate::tools::ToolError;
use crate::tools::abra;
use crate::tools::docker::{NetworkRow, SwarmState};

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

fn d(p: &Path) -> String {
    p.display().to_string()
}

impl World for MemoryWorld {
    fn read_file(&self, path: &Path) -> std::io::Result<Vec<u8>> {
        self.host().files.get(path).cloned().ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::NotFound, "No such file or directory")
        })
    }

    fn is_dir(&self, path: &Path) -> bool {
        let h = self.host();
        h.dirs.contains(path) || h.checkouts.contains_key(path)
    }

    fn is_file(&self, path: &Path) -> bool {
        self.host().files.contains_key(path)
    }

    fn read_env(&self, path: &Path) -> Result<EnvFile, EnvFileError> {
        let bytes = self.read_file(path).map_err(|source| EnvFileError::Io {
            path: d(path),
            source,
        })?;
        let text = String::from_utf8(bytes).map_err(|_| EnvFileError::NotText { path: d(path) })?;
        Ok(EnvFile::parse(&text))
    }

    fn edit_env(
        &self,
        path: &Path,
        pairs: &BTreeMap<String, String>,
    ) -> Result<bool, EnvFileError> {
        let mut env = self.read_env(path)?;
        let changed = env.set_all(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))?;
        if changed {
            self.host().write(path, env.render());
        }
        Ok(changed)
    }

    fn load_state(&self, path: &Path) -> Result<AppState, ReconcileError> {
        match self.host().text(path) {
            Some(text) => state::parse(path, &text),
            None => Ok(AppState::default()),
        }
    }

    fn save_state(&self, path: &Path, st: &AppState) -> Result<(), ReconcileError> {
        let text = state::render(path, st)?;
        self.host().write(path, text);
        Ok(())
    }

    fn head_and(&self, dir: &Path, rev: &str) -> Result<(String, Option<String>), ToolError> {
        let mut h = self.host();
        let line = format!("git -C {} rev-parse HEAD {rev}^{{commit}}", d(dir));
        h.call(line.clone(), false)?;
        let c = h
            .checkouts
            .get(dir)
            .ok_or_else(|| failed(&line, "fatal: not a git repository"))?;
        let tags = h.upstream.get(&c.recipe).map(|r| r.tags.as_slice());
        let wanted = if tags.unwrap_or_default().iter().any(|t| t == rev) {
            Some(Recipe::commit(&c.recipe, rev))
        } else {
            (rev == c.head).then(|| c.head.clone())
        };
        Ok((c.head.clone(), wanted))
    }

    fn checkout_force(&self, dir: &Path, rev: &str) -> Result<(), ToolError> {
        let mut h = self.host();
        let line = format!("git -C {} checkout -q -f {rev}", d(dir));
        h.call(line.clone(), true)?;
        let h = &mut *h;
        let c = h
            .checkouts
            .get_mut(dir)
            .ok_or_else(|| failed(&line, "fatal: not a git repository"))?;
        let known = h
            .upstream
            .get(&c.recipe)
            .is_some_and(|r| r.tags.iter().any(|t| t == rev));
        if !known {
            return Err(failed(
                &line,
                &format!("error: pathspec '{rev}' did not match"),
            ));
        }
        c.head = Recipe::commit(&c.recipe, rev);
        Ok(())
    }

    fn server_add_local(&self, abra_dir: &Path) -> Result<(), ToolError> {
        let mut h = self.host();
        let line = "abra server add --local -n".to_owned();
        h.call(line.clone(), true)?;
        let dir = abra_dir.join("servers").join("default");
        if !h.dirs.insert(dir) {
            return Err(failed(&line, "FATA server default already exists"));
        }
        Ok(())
    }

    fn recipe_fetch(&self, abra_dir: &Path, recipe: &str) -> Result<(), ToolError> {
        let mut h = self.host();
        let line = format!("abra recipe fetch {recipe} -n");
        h.call(line.clone(), true)?;
        let dir = abra::recipe_dir(abra_dir, recipe);
        if h.checkouts.contains_key(&dir) {
            return Ok(());
        }
        let head = h
            .upstream
            .get(recipe)
            .and_then(|r| r.tags.last())
            .map(|t| Recipe::commit(recipe, t))
            .ok_or_else(|| {
                failed(
                    &line,
                    &format!("FATA unable to fetch {recipe}: repository not found"),
                )
            })?;
        h.checkouts.insert(
            dir,
            Checkout {
                recipe: recipe.to_owned(),
                head,
            },
        );
        Ok(())
    }

    fn app_new(
        &self,
        abra_dir: &Path,
        recipe: &str,
        server: &str,
        domain: &str,
    ) -> Result<(), ToolError> {
        let mut h = self.host();
        let line = format!("abra app new {recipe} -s {server} -D {domain} -n -C -o");
        h.call(line.clone(), true)?;
        if !h
            .checkouts
            .contains_key(&abra::recipe_dir(abra_dir, recipe))
        {
            return Err(failed(
                &line,
                &format!("FATA unable to find recipe {recipe}"),
            ));
        }
        if !h.dirs.contains(&abra_dir.join("servers").join(server)) {
            return Err(failed(
                &line,
                &format!("FATA server {server} does not exist"),
            ));
        }
        let path = abra::env_file(abra_dir, server, domain);
        if h.files.contains_key(&path) {
            return Err(failed(&line, &format!("FATA {domain} already exists")));
        }
        let sample = h
            .upstream
            .get(recipe)
            .map(|r| r.env_sample.clone())
            .unwrap_or_default();
        h.write(path, new_env(&sample, recipe, domain));
        Ok(())
    }

    fn secret_insert_file(
        &self,
        abra_dir: &Path,
        domain: &str,
        name: &str,
        version: &str,
        file: &Path,
    ) -> Result<(), ToolError> {
        let mut h = self.host();
        let line = format!(
            "abra app secret insert {domain} {name} {version} {} -f -C -o -n",
            d(file)
        );
        h.call(line.clone(), true)?;
        h.env_of(abra_dir, domain, &line)?;
        let data = h
            .files
            .get(file)
            .cloned()
            .ok_or_else(|| failed(&line, &format!("FATA open {}: no such file", d(file))))?;
        let full = abra::secret_name(domain, name, version);
        if h.secrets.contains_key(&full) {
            return Err(failed(&line, &format!("FATA secret {full} already exists")));
        }
        let secret = Secret {
            sha256: super::decide::app::digest(&data),
            from_file: true,
            generated: None,
        };
        h.secrets.insert(full, secret);
        Ok(())
    }

    fn secret_generate(
        &self,
        abra_dir: &Path,
        domain: &str,
        name: &str,
        version: &str,
    ) -> Result<(), ToolError> {
        let mut h = self.host();
        let line = format!("abra app secret generate {domain} {name} {version} -m -C -o -n");
        h.call(line.clone(), true)?;
        h.env_of(abra_dir, domain, &line)?;
        let full = abra::secret_name(domain, name, version);
        if h.secrets.contains_key(&full) {
            return Err(failed(&line, &format!("FATA secret {full} already exists")));
        }
        h.generated += 1;
        let value = format!("generated-secret-value-{:04}", h.generated);
        let secret = Secret {
            sha256: super::decide::app::digest(value.as_bytes()),
            from_file: false,
            generated: Some(value),
        };
        h.secrets.insert(full, secret);
        Ok(())
    }

    fn app_deploy(&self, abra_dir: &Path, domain: &str, force: bool) -> Result<(), ToolError> {
        let mut h = self.host();
        let line = format!(
            "abra app deploy {domain} -C -o -n -c{}",
            if force { " -f" } else { "" }
        );
        h.call(line.clone(), true)?;
        h.deploy(abra_dir, domain, force, &line)
    }

    fn swarm_state(&self) -> Result<SwarmState, ToolError> {
        let mut h = self.host();
        h.call(
            "docker info --format {{.Swarm.LocalNodeState}}".to_owned(),
            false,
        )?;
        Ok(h.swarm.clone())
    }

    fn swarm_init(&self, advertise_addr: &str) -> Result<(), ToolError> {
        let mut h = self.host();
        let line = format!("docker swarm init --advertise-addr {advertise_addr}");
        h.call(line.clone(), true)?;
        if h.swarm != SwarmState::Inactive {
            return Err(failed(&line, "This node is already part of a swarm."));
        }
        h.swarm = SwarmState::Active;
        h.networks.insert(
            "ingress".to_owned(),
            NetworkRow {
                name: "ingress".to_owned(),
                driver: "overlay".to_owned(),
                scope: "swarm".to_owned(),
            },
        );
        Ok(())
    }

    fn networks(&self) -> Result<Vec<NetworkRow>, ToolError> {
        let mut h = self.host();
        h.call("docker network ls --format {{json .}}".to_owned(), false)?;
        Ok(h.networks.values().cloned().collect())
    }

    fn create_attachable_overlay(&self, name: &str) -> Result<(), ToolError> {
        let mut h = self.host();
        let line = format!("docker network create --driver overlay --attachable {name}");
        h.call(line.clone(), true)?;
        if h.swarm != SwarmState::Active {
            return Err(failed(&line, "This node is not a swarm manager."));
        }
        if h.networks.contains_key(name) {
            return Err(failed(
                &line,
                &format!("network with name {name} already exists"),
            ));
        }
        let row = NetworkRow {
            name: name.to_owned(),
            driver: "overlay".to_owned(),
            scope: "swarm".to_owned(),
        };
        h.networks.insert(name.to_owned(), row);
        Ok(())
    }

    fn secrets(&self, prefix: &str) -> Result<Vec<String>, ToolError> {
        let mut h = self.host();
        h.call(
            format!("docker secret ls --filter name={prefix} --format {{{{.Name}}}}"),
            false,
        )?;
        Ok(h.secrets
            .keys()
            .filter(|n| n.starts_with(prefix))
            .cloned()
            .collect())
    }

    fn stack_deployed(&self, stack: &str) -> Result<bool, ToolError> {
        let mut h = self.host();
        h.call(
            format!(
                "docker service ls --filter label=com.docker.stack.namespace={stack} --format {{{{json .}}}}"
            ),
            false,
        )?;
        Ok(h.stacks.contains_key(stack))
    }

    fn now(&self) -> Instant {
        self.epoch + self.host().clock
    }

    fn sleep(&self, d: Duration) -> Sleep<'_> {
        self.host().clock += d;
        Box::pin(std::future::ready(()))
    }
}

/// The env file `abra app new` writes: the recipe's sample with `RECIPE=`
/// first and `DOMAIN=` set; a missing final newline stays missing.
fn new_env(sample: &str, recipe: &str, domain: &str) -> String {
    let mut lines: Vec<String> = sample
        .lines()
        .filter(|l| !l.starts_with("TYPE=") && !l.starts_with("RECIPE="))
        .map(|l| {
            if l.starts_with("DOMAIN=") {
                format!("DOMAIN={domain}")
            } else {
                l.to_owned()
            }
        })
        .collect();
    lines.insert(0, format!("RECIPE={recipe}"));
    if !lines.iter().any(|l| l.starts_with("DOMAIN=")) {
        lines.insert(1, format!("DOMAIN={domain}"));
    }
    let end = if sample.ends_with('\n') || sample.is_empty() {
        "\n"
    } else {
        ""
    };
    format!("{}{end}", lines.join("\n"))
}
