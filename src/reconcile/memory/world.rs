//! [`World`] for [`MemoryWorld`]: each tool call is recorded as the command
//! line the production world would run, checked against the host model and
//! applied to it.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use super::{Checkout, MemoryWorld, Recipe, Secret, failed};
use crate::envfile::{EnvFile, EnvFileError};
use crate::reconcile::ReconcileError;
use crate::reconcile::state::{self, AppState};
use crate::reconcile::world::{Sleep, World};
use crate::tools::ToolError;
use crate::tools::abra;
use crate::tools::docker::{NetworkRow, SwarmState};

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
            sha256: crate::reconcile::decide::app::digest(&data),
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
            sha256: crate::reconcile::decide::app::digest(value.as_bytes()),
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
