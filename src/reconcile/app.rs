//! Converging one infrastructure app deployed with abra (traefik, drone,
//! backup-bot-two): local server, recipe at the pinned version, env file,
//! secrets, and a deploy only when it is not deployed or what it would
//! deploy (recipe version, env file) changed since the last deploy.

use std::collections::BTreeMap;
use std::path::PathBuf;

use sha2::{Digest, Sha256};

use super::state::{self, SecretState};
use super::{ReconcileError, Report, Tools, read_required};
use crate::config::{AbraApp, FileSecret};
use crate::envfile;
use crate::names;
use crate::tools::abra::NewApp;

/// A secret abra generates (random) when docker does not have it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedSecret {
    pub name: String,
}

/// What one app needs besides its [`AbraApp`] settings.
#[derive(Debug, Clone, Default)]
pub struct AppSecrets<'a> {
    pub files: &'a [FileSecret],
    pub generated: &'a [GeneratedSecret],
}

/// The env key holding a secret's version: the configured one, else abra's
/// convention `SECRET_<NAME>_VERSION`.
pub fn version_key(secret: &FileSecret) -> String {
    secret
        .version_key
        .clone()
        .unwrap_or_else(|| names::stack::secret_version_key(secret.name.as_str()))
}

/// `v1` → `v2`; anything not ending in digits gets `2` appended.
pub fn next_version(v: &str) -> String {
    let digits = v.len() - v.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    let (stem, num) = v.split_at(v.len() - digits);
    match num.parse::<u64>() {
        Ok(n) => format!("{stem}{}", n + 1),
        Err(_) => format!("{v}2"),
    }
}

/// Converge `app` and its secrets; deploy when needed. `label` names the app
/// in report lines ("proxy", "drone", …).
pub fn converge(
    label: &str,
    app: &AbraApp,
    secrets: &AppSecrets<'_>,
    tools: &Tools,
    report: &mut Report,
) -> Result<(), ReconcileError> {
    // Preconditions first: nothing is touched when a secret file is missing.
    let mut digests = BTreeMap::new();
    for s in secrets.files {
        let bytes = read_required("secret file", s.file.as_str().as_ref())?;
        digests.insert(s.name.as_str().to_owned(), hex(&Sha256::digest(&bytes)));
    }

    let abra_dir = PathBuf::from(app.abra_dir.as_str());
    let abra = tools.abra(&abra_dir);
    let domain = app.domain.as_str();
    let server = app.server.as_str();
    let recipe = app.recipe.as_str();
    let version = app.version.as_str();
    let stack = names::stack::stack_name(domain);

    if !names::abra::server_dir(&abra_dir, server).is_dir() {
        abra.server_add_local()?;
        report.did(format!("{label}: added the local abra server"));
        if !names::abra::server_dir(&abra_dir, server).is_dir() {
            return Err(ReconcileError::Precondition(format!(
                "abra server add --local did not create {}/servers/{server}: the config's server name must be abra's local server name",
                abra_dir.display()
            )));
        }
    }

    let recipe_dir = names::abra::recipe_dir(&abra_dir, recipe);
    if !recipe_dir.is_dir() {
        abra.recipe_fetch(recipe)?;
        report.did(format!("{label}: fetched recipe {recipe}"));
    }
    let (head, wanted) = tools.git.head_and(&recipe_dir, version)?;
    let Some(wanted) = wanted else {
        return Err(ReconcileError::Precondition(format!(
            "recipe {recipe} has no version {version} in {} (abra recipe fetch {recipe} to update it)",
            recipe_dir.display()
        )));
    };
    if head != wanted {
        tools.git.checkout_force(&recipe_dir, version)?;
        report.did(format!("{label}: checked out {recipe} {version}"));
    }

    let env_path = names::abra::env_file(&abra_dir, server, domain);
    if !env_path.is_file() {
        abra.app_new(
            recipe,
            server,
            domain,
            // No version: the checkout was pinned above and every abra call is
            // chaos, so a version pin in the env file could only go stale.
            &NewApp {
                version: None,
                generate_secrets: false,
            },
        )?;
        report.did(format!("{label}: created app {domain}"));
    }

    let state_path = state::path(&abra_dir, domain);
    let before = state::load(&state_path)?;
    let mut st = before.clone();

    let existing = tools.docker.secrets(&names::stack::stack_prefix(&stack))?;

    // Secret versions the env file must carry, bumped for rotated files.
    let env_now = envfile::read_file(&env_path)?;
    let mut wanted_env = app.env.clone();
    let mut inserts: Vec<(&FileSecret, String)> = Vec::new();
    for s in secrets.files {
        let name = s.name.as_str();
        let key = version_key(s);
        let current = wanted_env
            .get(&key)
            .cloned()
            .or_else(|| env_now.get(&key))
            .unwrap_or_else(|| names::stack::DEFAULT_SECRET_VERSION.to_owned());
        let digest = &digests[name];
        let version = match st.secrets.get(name) {
            Some(rec) if &rec.sha256 != digest => {
                let v = next_version(&rec.version);
                report.did(format!("{label}: {} changed, secret {name} → {v}", s.file));
                v
            }
            Some(rec) => rec.version.clone(),
            // No record but docker has the secret (state lost, or inserted by
            // hand): its content cannot be read back, so insert the file as
            // a new version rather than trust it.
            None if existing.contains(&names::stack::secret_name(domain, name, &current)) => {
                let v = next_version(&current);
                report.did(format!(
                    "{label}: secret {name} {current} has no recorded digest, inserting {} as {v}",
                    s.file
                ));
                v
            }
            None => current,
        };
        wanted_env.insert(key, version.clone());
        inserts.push((s, version));
    }
    if envfile::edit_file(&env_path, &wanted_env)? {
        report.did(format!("{label}: updated {}", env_path.display()));
    }

    for (s, version) in &inserts {
        let name = s.name.as_str();
        let full = names::stack::secret_name(domain, name, version);
        if !existing.contains(&full) {
            abra.secret_insert_file(domain, name, version, s.file.as_str().as_ref())?;
            report.did(format!(
                "{label}: inserted secret {name} {version} from {}",
                s.file
            ));
        }
        st.secrets.insert(
            name.to_owned(),
            SecretState {
                version: version.clone(),
                sha256: digests[name].clone(),
            },
        );
    }
    let env_after = envfile::read_file(&env_path)?;
    for g in secrets.generated {
        let version = env_after
            .get(&names::stack::secret_version_key(&g.name))
            .unwrap_or_else(|| names::stack::DEFAULT_SECRET_VERSION.to_owned());
        let full = names::stack::secret_name(domain, &g.name, &version);
        if !existing.contains(&full) {
            abra.secret_generate(domain, &g.name, &version)?;
            report.did(format!("{label}: generated secret {} {version}", g.name));
        }
    }

    let fingerprint = {
        let mut h = Sha256::new();
        h.update(recipe.as_bytes());
        h.update([0]);
        h.update(version.as_bytes());
        h.update([0]);
        h.update(env_after.render().as_bytes());
        hex(&h.finalize())
    };
    let deployed = !tools.docker.services(Some(&stack))?.is_empty();
    if !deployed || st.deployed.as_deref() != Some(fingerprint.as_str()) {
        abra.app_deploy(domain, deployed)?;
        report.did(format!(
            "{label}: {} {recipe} {version} at {domain}",
            if deployed { "redeployed" } else { "deployed" }
        ));
        st.deployed = Some(fingerprint);
    }
    if st != before {
        state::save(&state_path, &st)?;
    }
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_bumped() {
        assert_eq!(next_version("v1"), "v2");
        assert_eq!(next_version("v9"), "v10");
        assert_eq!(next_version("x"), "x2");
    }
}
