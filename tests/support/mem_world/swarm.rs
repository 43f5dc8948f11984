//! abra and docker in memory: the [`Platform`] part of the model. Each
//! operation does what abra or docker would do to the host, as the fake
//! executables do, minus the argv (see tests/fixtures/bin for that).

use std::collections::BTreeMap;
use std::path::Path;

use ccci::envfile::EnvFile;
use ccci::run::platform::{AppRef, OpError, ServiceState, TaskState, TeardownReport};
use ccci::run::world::Platform;
use sha2::{Digest, Sha256};

use super::compose::{self, Compose};
use super::container::{exec_script, lint_table};
use super::{Call, MemWorld, State};

/// An app's env file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemApp {
    pub abra_dir: std::path::PathBuf,
    pub server: String,
    pub recipe: String,
    pub env_text: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    pub stack: String,
    pub replicas: u32,
    /// Running once the virtual clock reaches `ready_at`.
    pub running: u32,
    pub ready_at: std::time::Duration,
    pub labels: BTreeMap<String, String>,
    /// Container path → full volume name.
    pub mounts: BTreeMap<String, String>,
    pub update_state: Option<String>,
    /// Its tasks exit at once (the `crash_loop` knob): one failed task
    /// a second after the deploy, then one per restart delay (5 s).
    pub crashing: bool,
    /// When the deploy that made this spec happened (virtual time).
    pub deployed_at: std::time::Duration,
}

/// The deploy label of a fixture service that checks a secret's value at
/// start: `<name>:<value>`; with any other value its tasks exit.
pub const EXPECTS_SECRET: &str = "ccci-fixture.expects-secret";

/// What a crash-looping service prints before it exits.
pub const CRASH_LOG: [&str; 2] = ["starting", "Error: cannot read /etc/app/config.yml"];

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Volume {
    pub stack: String,
    pub files: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Secret {
    pub stack: String,
    /// The generated value: it must never reach a log or an artifact.
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backup {
    pub volumes: BTreeMap<String, BTreeMap<String, String>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployed {
    pub domain: String,
    pub env: BTreeMap<String, String>,
    pub count: u32,
}

impl Service {
    /// Failed tasks so far: none for a healthy service.
    pub fn failed_tasks(&self, elapsed: std::time::Duration) -> u64 {
        let since = elapsed.saturating_sub(self.deployed_at).as_secs();
        if !self.crashing || since < 1 {
            0
        } else {
            1 + (since - 1) / 5
        }
    }

    pub fn running_now(&self, elapsed: std::time::Duration) -> u32 {
        if elapsed < self.ready_at {
            0
        } else {
            self.running
        }
    }
}

fn failed(msg: impl Into<String>) -> OpError {
    OpError::Failed(msg.into())
}

impl MemWorld {
    /// An injected failure of `op`, if the knobs ask for one.
    fn injected(&self, op: &str) -> Result<(), OpError> {
        match self.knobs.fail.get(op) {
            None => Ok(()),
            Some(m) => Err(match m.strip_prefix("infra:") {
                Some(rest) => OpError::Infra(rest.trim().to_owned()),
                None => OpError::Failed(m.clone()),
            }),
        }
    }

    fn app<'s>(s: &'s State, app: &AppRef) -> Result<&'s MemApp, OpError> {
        s.apps
            .get(&app.domain)
            .ok_or_else(|| failed(format!("unable to find {}.env: does it exist?", app.domain)))
    }

    /// The files of the commit checked out in the app's recipe directory.
    fn recipe_files(
        s: &State,
        abra_dir: &Path,
        recipe: &str,
    ) -> Result<BTreeMap<String, (String, bool)>, OpError> {
        let dir = abra_dir.join("recipes").join(recipe);
        let c = s
            .checkouts
            .get(&dir)
            .ok_or_else(|| failed(format!("unable to find recipe {recipe}")))?;
        Ok(c.repo.commits[&c.head].files.clone())
    }

    fn compose_of(
        s: &State,
        app: &AppRef,
        env: &BTreeMap<String, String>,
    ) -> Result<Compose, OpError> {
        let files = Self::recipe_files(s, &app.abra_dir, &app.recipe)?;
        let mut vars = env.clone();
        vars.insert("STACK_NAME".into(), app.stack.clone());
        let names = env
            .get("COMPOSE_FILE")
            .filter(|v| !v.is_empty())
            .cloned()
            .unwrap_or_else(|| "compose.yml".into());
        let mut parsed = Vec::new();
        for f in names.split(':').filter(|f| !f.is_empty()) {
            let (text, _) = files
                .get(f)
                .ok_or_else(|| failed(format!("{f} does not exist in the recipe")))?;
            parsed.push(compose::parse(text, &vars).map_err(failed)?);
        }
        Ok(compose::merge(parsed))
    }

    /// The app's env as abra reads it (chains evaluated).
    fn env_map(s: &State, app: &AppRef) -> Result<BTreeMap<String, String>, OpError> {
        Ok(super::env::evaluate(&Self::app(s, app)?.env_text))
    }

    fn generate(s: &mut State, stack: &str, name: &str, version: &str) -> Result<(), OpError> {
        let full = ccci::names::stack::versioned_name(stack, name, version);
        if s.secrets.contains_key(&full) {
            return Err(failed(format!("secret {full} already exists")));
        }
        let n = s.next_id();
        let value = hex::encode(Sha256::digest(format!(
            "{full}/{n}/{:?}",
            std::time::SystemTime::now()
        )))[..32]
            .to_owned();
        s.generated.push((full.clone(), value.clone()));
        s.secrets.insert(
            full,
            Secret {
                stack: stack.to_owned(),
                value,
            },
        );
        Ok(())
    }

    fn head_of(s: &State, app: &AppRef) -> Result<(String, Option<String>), OpError> {
        let dir = app.abra_dir.join("recipes").join(&app.recipe);
        let c = s
            .checkouts
            .get(&dir)
            .ok_or_else(|| failed(format!("unable to find recipe {}", app.recipe)))?;
        let tag = c
            .repo
            .tags
            .iter()
            .find(|(_, id)| **id == c.head)
            .map(|(t, _)| t.clone());
        Ok((c.head[..8].to_owned(), tag))
    }

    /// Create or update the stack's services and volumes, as a chaos deploy
    /// of the checkout does.
    fn converge(
        &self,
        s: &mut State,
        app: &AppRef,
        compose: &Compose,
        extra: BTreeMap<String, String>,
        redeploy: bool,
    ) {
        let stack = &app.stack;
        let k = &self.knobs;
        let crash_all = Self::listed(stack, &k.crash_loop);
        for (svc, spec) in &compose.services {
            // A fixture app that checks a secret's value at start exits
            // when it is wrong: `ccci-fixture.expects-secret=<name>:<value>`.
            let crash = crash_all
                || spec
                    .labels
                    .get(EXPECTS_SECRET)
                    .is_some_and(|want| !Self::secret_is(s, stack, want));
            let name = format!("{stack}_{svc}");
            let old = s.services.get(&name).cloned();
            let mut labels: BTreeMap<String, String> =
                [("com.docker.stack.namespace".to_owned(), stack.clone())].into();
            labels.extend(spec.labels.clone());
            labels.extend(extra.clone());
            let mounts: BTreeMap<String, String> = spec
                .mounts
                .iter()
                .map(|(p, v)| (p.clone(), format!("{stack}_{v}")))
                .collect();
            let replicas = spec.replicas.unwrap_or(1);
            let mut rec = Service {
                stack: stack.clone(),
                replicas,
                running: if crash { 0 } else { replicas },
                ready_at: s.elapsed + k.converge_delay,
                labels,
                mounts,
                update_state: Some("completed".into()),
                crashing: crash && replicas > 0,
                deployed_at: s.elapsed,
            };
            if let Some(old) = old.filter(|_| redeploy) {
                let key = format!("coop-cloud.{stack}.chaos-version");
                if Self::listed(stack, &k.stale_chaos_version)
                    && let Some(v) = old.labels.get(&key)
                {
                    rec.labels.insert(key, v.clone());
                }
                if Self::listed(stack, &k.rollback) {
                    rec.labels = old.labels.clone();
                    rec.update_state = Some("rollback_completed".into());
                }
            }
            for vol in rec.mounts.values() {
                s.volumes.entry(vol.clone()).or_insert_with(|| Volume {
                    stack: stack.clone(),
                    files: BTreeMap::new(),
                });
            }
            s.services.insert(name, rec);
        }
        for v in &compose.volumes {
            s.volumes
                .entry(format!("{stack}_{v}"))
                .or_insert_with(|| Volume {
                    stack: stack.clone(),
                    files: BTreeMap::new(),
                });
        }
    }

    /// Whether the stack's secret `<name>` (any version) holds `<value>`,
    /// for `want` = `<name>:<value>`.
    fn secret_is(s: &State, stack: &str, want: &str) -> bool {
        let Some((name, value)) = want.split_once(':') else {
            return false;
        };
        let prefix = format!("{stack}_{name}_");
        s.secrets
            .iter()
            .any(|(k, v)| k.starts_with(&prefix) && v.value == value)
    }

    fn states(&self, app: &AppRef, labels: bool) -> Result<Vec<ServiceState>, OpError> {
        let s = self.state();
        Ok(s.services
            .iter()
            .filter(|(_, v)| v.stack == app.stack)
            .map(|(n, v)| ServiceState {
                name: n.clone(),
                running: v.running_now(s.elapsed),
                desired: v.replicas,
                labels: if labels {
                    v.labels.clone()
                } else {
                    BTreeMap::new()
                },
                update_state: if labels { v.update_state.clone() } else { None },
            })
            .collect())
    }
}

impl Platform for MemWorld {
    fn app_new(&self, app: &AppRef) -> Result<(), OpError> {
        let mut s = self.state();
        s.calls.push(Call::AppNew {
            abra_dir: app.abra_dir.clone(),
            domain: app.domain.clone(),
        });
        self.injected("app_new")?;
        let files = Self::recipe_files(&s, &app.abra_dir, &app.recipe)?;
        if s.apps.contains_key(&app.domain) {
            return Err(failed(format!("{} already exists", app.domain)));
        }
        // Like abra: a copy of the sample with DOMAIN and RECIPE filled in; a
        // missing final newline stays missing.
        let sample = files
            .get(".env.sample")
            .map(|(t, _)| t.clone())
            .unwrap_or_default();
        let mut lines: Vec<String> = sample
            .lines()
            .filter(|l| !l.starts_with("TYPE=") && !l.starts_with("RECIPE="))
            .map(|l| {
                if l.starts_with("DOMAIN=") {
                    format!("DOMAIN={}", app.domain)
                } else {
                    l.to_owned()
                }
            })
            .collect();
        lines.insert(0, format!("RECIPE={}", app.recipe));
        if !lines.iter().any(|l| l.starts_with("DOMAIN=")) {
            lines.insert(1, format!("DOMAIN={}", app.domain));
        }
        let end = if sample.ends_with('\n') || sample.is_empty() {
            "\n"
        } else {
            ""
        };
        s.apps.insert(
            app.domain.clone(),
            MemApp {
                abra_dir: app.abra_dir.clone(),
                server: app.server.clone(),
                recipe: app.recipe.clone(),
                env_text: lines.join("\n") + end,
            },
        );
        Ok(())
    }

    fn set_env(&self, app: &AppRef, edits: &[(String, String)]) -> Result<(), OpError> {
        let mut s = self.state();
        s.calls.push(Call::SetEnv {
            domain: app.domain.clone(),
            edits: edits.to_vec(),
        });
        self.injected("set_env")?;
        let a = s
            .apps
            .get_mut(&app.domain)
            .ok_or_else(|| failed(format!("no env file for {}", app.domain)))?;
        let mut env = EnvFile::parse(&a.env_text);
        env.set_all(edits.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .map_err(|e| failed(e.to_string()))?;
        a.env_text = env.render();
        Ok(())
    }

    fn env(&self, app: &AppRef) -> Result<EnvFile, OpError> {
        let s = self.state();
        Ok(EnvFile::parse(&Self::app(&s, app)?.env_text))
    }

    fn take_secret_values(&self, app: &AppRef) -> Vec<String> {
        // What abra's `-m` output hands the production platform: every value
        // generated for the app's stack, each once.
        let mut s = self.state();
        let prefix = format!("{}_", app.stack);
        let new: Vec<(String, String)> = s
            .generated
            .iter()
            .filter(|(full, _)| full.starts_with(&prefix) && !s.handed.contains(full))
            .cloned()
            .collect();
        s.handed.extend(new.iter().map(|(f, _)| f.clone()));
        new.into_iter().map(|(_, v)| v).collect()
    }

    fn secret_generate(&self, app: &AppRef) -> Result<(), OpError> {
        let mut s = self.state();
        s.calls.push(Call::SecretGenerateAll {
            domain: app.domain.clone(),
        });
        self.injected("secret_generate")?;
        let env = Self::env_map(&s, app)?;
        let c = Self::compose_of(&s, app, &env)?;
        for name in &c.secrets {
            let version = env
                .get(&format!("SECRET_{}_VERSION", name.to_ascii_uppercase()))
                .cloned()
                .unwrap_or_else(|| "v1".into());
            Self::generate(&mut s, &app.stack, name, &version)?;
        }
        Ok(())
    }

    fn secret_generate_one(&self, app: &AppRef, name: &str, version: &str) -> Result<(), OpError> {
        let mut s = self.state();
        s.calls.push(Call::SecretGenerateOne {
            domain: app.domain.clone(),
            name: name.to_owned(),
            version: version.to_owned(),
        });
        self.injected("secret_generate_one")?;
        Self::app(&s, app)?;
        Self::generate(&mut s, &app.stack, name, version)
    }

    fn secret_insert_file(
        &self,
        app: &AppRef,
        name: &str,
        version: &str,
        file: &Path,
    ) -> Result<(), OpError> {
        let mut s = self.state();
        s.calls.push(Call::SecretInsert {
            domain: app.domain.clone(),
            name: name.to_owned(),
            version: version.to_owned(),
            file: file.to_owned(),
        });
        self.injected("secret_insert")?;
        Self::app(&s, app)?;
        // abra reads the file itself: its content is the value.
        let value = std::fs::read_to_string(file)
            .map_err(|e| failed(format!("open {}: {e}", file.display())))?;
        let full = ccci::names::stack::versioned_name(&app.stack, name, version);
        if s.secrets.contains_key(&full) {
            return Err(failed(format!("secret {full} already exists")));
        }
        s.secrets.insert(
            full,
            Secret {
                stack: app.stack.clone(),
                value,
            },
        );
        Ok(())
    }

    fn secrets(&self, app: &AppRef) -> Result<Vec<String>, OpError> {
        self.injected("secrets")?;
        let prefix = format!("{}_", app.stack);
        Ok(self
            .state()
            .secrets
            .keys()
            .filter(|n| n.starts_with(&prefix))
            .cloned()
            .collect())
    }

    fn deploy(&self, app: &AppRef, redeploy: bool) -> Result<(), OpError> {
        let mut s = self.state();
        let env = Self::env_map(&s, app)?;
        s.calls.push(Call::Deploy {
            domain: app.domain.clone(),
            redeploy,
            env: env.clone(),
        });
        self.injected("deploy")?;
        let previous = s.deployed.get(&app.stack).cloned();
        if previous.is_some() && !redeploy {
            return Err(failed(format!("{} is already deployed", app.domain)));
        }
        let compose = Self::compose_of(&s, app, &env)?;
        for sec in &compose.secrets {
            let version = env
                .get(&format!("SECRET_{}_VERSION", sec.to_ascii_uppercase()))
                .cloned()
                .unwrap_or_else(|| "v1".into());
            let full = ccci::names::stack::versioned_name(&app.stack, sec, &version);
            if !s.secrets.contains_key(&full) {
                return Err(failed(format!("secret not found: {full}")));
            }
        }
        let (short, tag) = Self::head_of(&s, app)?;
        let extra: BTreeMap<String, String> = [
            (format!("coop-cloud.{}.chaos", app.stack), "true".to_owned()),
            (format!("coop-cloud.{}.chaos-version", app.stack), short),
            (
                format!("coop-cloud.{}.version", app.stack),
                tag.unwrap_or_else(|| "unknown".into()),
            ),
        ]
        .into();
        self.converge(&mut s, app, &compose, extra, previous.is_some());
        s.deployed.insert(
            app.stack.clone(),
            Deployed {
                domain: app.domain.clone(),
                env,
                count: previous.map_or(0, |p| p.count) + 1,
            },
        );
        Ok(())
    }

    fn services(&self, app: &AppRef) -> Result<Vec<ServiceState>, OpError> {
        self.injected("services")?;
        self.states(app, true)
    }

    fn replicas(&self, app: &AppRef) -> Result<Vec<ServiceState>, OpError> {
        self.injected("services")?;
        self.states(app, false)
    }

    fn tasks(&self, app: &AppRef) -> Result<Vec<TaskState>, OpError> {
        let s = self.state();
        let mut out = Vec::new();
        for (n, v) in s.services.iter().filter(|(_, v)| v.stack == app.stack) {
            for _ in 0..v.running_now(s.elapsed) {
                out.push(TaskState {
                    service: n.clone(),
                    state: "running".into(),
                    error: String::new(),
                });
            }
            for _ in 0..v.failed_tasks(s.elapsed) {
                out.push(TaskState {
                    service: n.clone(),
                    state: "failed".into(),
                    error: "task: non-zero exit (1)".into(),
                });
            }
        }
        Ok(out)
    }

    fn logs(&self, _app: &AppRef, service: &str, lines: u32) -> Result<String, OpError> {
        let s = self.state();
        let v = s
            .services
            .get(service)
            .ok_or_else(|| failed(format!("service {service} not found")))?;
        let all: Vec<&str> = if v.crashing {
            CRASH_LOG.to_vec()
        } else {
            Vec::new()
        };
        let skip = all.len().saturating_sub(lines as usize);
        Ok(all[skip..].iter().map(|l| format!("{l}\n")).collect())
    }

    fn exec(&self, app: &AppRef, service: &str, script: &str) -> Result<String, OpError> {
        let mut s = self.state();
        s.calls.push(Call::Exec {
            domain: app.domain.clone(),
            service: service.to_owned(),
            script: script.to_owned(),
        });
        self.injected("exec")?;
        let full = format!("{}_{service}", app.stack);
        let svc = s
            .services
            .get(&full)
            .filter(|v| v.running_now(s.elapsed) > 0)
            .cloned()
            .ok_or_else(|| failed(format!("no running container of {full}")))?;
        exec_script(&mut s, &svc, script)
    }

    fn backup_create(&self, app: &AppRef) -> Result<(), OpError> {
        let mut s = self.state();
        s.calls.push(Call::BackupCreate {
            domain: app.domain.clone(),
        });
        self.injected("backup_create")?;
        Self::app(&s, app)?;
        let lies = Self::listed(&app.stack, &self.knobs.backup_lies);
        let volumes = s
            .volumes
            .iter()
            .filter(|(_, v)| v.stack == app.stack)
            .map(|(n, v)| {
                (
                    n.clone(),
                    if lies {
                        BTreeMap::new()
                    } else {
                        v.files.clone()
                    },
                )
            })
            .collect();
        s.backups
            .entry(app.domain.clone())
            .or_default()
            .push(Backup { volumes });
        Ok(())
    }

    fn backup_holds(&self, app: &AppRef, needle: &str) -> Result<bool, OpError> {
        self.injected("backup_holds")?;
        let s = self.state();
        let b = s
            .backups
            .get(&app.domain)
            .and_then(|b| b.last())
            .ok_or_else(|| failed(format!("no backup of {}", app.domain)))?;
        Ok(b.volumes
            .values()
            .flat_map(|f| f.values())
            .any(|c| c.contains(needle)))
    }

    fn restore(&self, app: &AppRef) -> Result<(), OpError> {
        let mut s = self.state();
        s.calls.push(Call::Restore {
            domain: app.domain.clone(),
        });
        self.injected("restore")?;
        let b = s
            .backups
            .get(&app.domain)
            .and_then(|b| b.last())
            .cloned()
            .ok_or_else(|| failed(format!("no backup of {}", app.domain)))?;
        if !Self::listed(&app.stack, &self.knobs.lose_volume_data) {
            for (n, files) in b.volumes {
                s.volumes
                    .entry(n)
                    .or_insert_with(|| Volume {
                        stack: app.stack.clone(),
                        files: BTreeMap::new(),
                    })
                    .files = files;
            }
        }
        Ok(())
    }

    fn lint(&self, abra_dir: &Path, recipe: &str) -> Result<String, OpError> {
        let mut s = self.state();
        s.calls.push(Call::Lint {
            abra_dir: abra_dir.to_owned(),
        });
        self.injected("lint")?;
        Self::recipe_files(&s, abra_dir, recipe)?;
        Ok(lint_table(&self.knobs.lint_failed))
    }

    fn teardown(&self, app: &AppRef) -> TeardownReport {
        let mut s = self.state();
        s.calls.push(Call::Teardown {
            domain: app.domain.clone(),
        });
        let stack = app.stack.clone();
        s.services.retain(|_, v| v.stack != stack);
        s.deployed.remove(&stack);
        s.volumes.retain(|_, v| v.stack != stack);
        let prefix = format!("{stack}_");
        s.secrets.retain(|n, _| !n.starts_with(&prefix));
        s.apps.remove(&app.domain);
        TeardownReport::default()
    }
}
