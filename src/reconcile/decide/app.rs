//! Decisions for one infrastructure app deployed with abra, in two stages.
//!
//! *Setup* makes the app exist: abra's local server, the recipe fetched and
//! checked out at the pinned version, the app's env file. Each step needs the
//! previous one to look at, so [`setup_step`] picks one action at a time and
//! is asked again after it ran; an action that did not take effect is an
//! error, never a loop.
//!
//! *Converge* makes the app what the config says, from one look: env values,
//! secret versions (bumped when a secret's file changed), secrets docker lacks,
//! and a deploy only when the stack is gone or what would be deployed
//! (recipe, version, env file) differs from the last successful deploy.

use std::collections::{BTreeMap, BTreeSet};

use sha2::{Digest, Sha256};

use crate::config::{AbraApp, FileSecret};
use crate::envfile::EnvFile;
use crate::reconcile::ReconcileError;
use crate::reconcile::app::{GeneratedSecret, conventional_version_key, next_version, version_key};
use crate::reconcile::state::{AppState, SecretState};
use crate::tools::abra;

/// What a look at the app's setup saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetupSeen {
    /// abra's local server directory exists.
    pub server: bool,
    pub recipe: RecipeSeen,
    /// The app's env file exists.
    pub app: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecipeSeen {
    /// Not fetched yet.
    Missing,
    /// Fetched: the commit checked out, and the one the pinned version names
    /// (`None` when the checkout has no such version).
    Fetched {
        head: String,
        wanted: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetupAction {
    AddServer,
    FetchRecipe,
    CheckOutVersion,
    CreateApp,
}

/// The next setup action, or `None` when the app is set up. `done` lists the
/// actions already performed in this reconcile: one wanted again did not
/// take effect.
pub fn setup_step(
    app: &AbraApp,
    seen: &SetupSeen,
    done: &[SetupAction],
) -> Result<Option<SetupAction>, ReconcileError> {
    let abra_dir = std::path::Path::new(app.abra_dir.as_str());
    let server = app.server.as_str();
    let recipe = app.recipe.as_str();
    let recipe_dir = abra::recipe_dir(abra_dir, recipe);
    let next = if !seen.server {
        SetupAction::AddServer
    } else {
        match &seen.recipe {
            RecipeSeen::Missing => SetupAction::FetchRecipe,
            RecipeSeen::Fetched { wanted: None, .. } => {
                return Err(ReconcileError::Precondition(format!(
                    "recipe {recipe} has no version {} in {} (abra recipe fetch {recipe} to update it)",
                    app.version,
                    recipe_dir.display()
                )));
            }
            RecipeSeen::Fetched {
                head,
                wanted: Some(wanted),
            } if head != wanted => SetupAction::CheckOutVersion,
            RecipeSeen::Fetched { .. } if !seen.app => SetupAction::CreateApp,
            RecipeSeen::Fetched { .. } => return Ok(None),
        }
    };
    if !done.contains(&next) {
        return Ok(Some(next));
    }
    Err(ReconcileError::Precondition(match next {
        SetupAction::AddServer => format!(
            "abra server add --local did not create {}/servers/{server}: the config's server name must be abra's local server name",
            abra_dir.display()
        ),
        SetupAction::FetchRecipe => format!(
            "abra recipe fetch {recipe} did not create {}",
            recipe_dir.display()
        ),
        SetupAction::CheckOutVersion => format!(
            "checking out {recipe} {} in {} did not move its HEAD there",
            app.version,
            recipe_dir.display()
        ),
        SetupAction::CreateApp => format!(
            "abra app new did not create {}",
            abra::env_file(abra_dir, server, app.domain.as_str()).display()
        ),
    }))
}

/// What a look at a set-up app saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppSeen {
    /// The app's env file.
    pub env: EnvFile,
    /// What the last reconcile recorded.
    pub state: AppState,
    /// Docker secrets of the app's stack.
    pub secrets: BTreeSet<String>,
    /// The stack has services.
    pub deployed: bool,
}

/// A file secret and the SHA-256 (hex) of its file now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileDigest<'a> {
    pub secret: &'a FileSecret,
    pub sha256: String,
}

/// What an app needs besides its settings: file secrets with their digests,
/// and secrets abra generates.
#[derive(Debug, Clone, Copy)]
pub struct WantedSecrets<'a> {
    pub files: &'a [FileDigest<'a>],
    pub generated: &'a [GeneratedSecret],
}

/// One change to an app, in the order a plan lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppAction {
    /// Set these env keys (every other line of the file stays).
    SetEnv(BTreeMap<String, String>),
    /// `abra app secret insert` from the file.
    InsertSecret {
        name: String,
        version: String,
        file: String,
    },
    /// `abra app secret generate`; the value is never seen.
    GenerateSecret {
        name: String,
        version: String,
    },
    /// Deploy; `redeploy` when the stack is there (abra needs `-f`).
    Deploy {
        redeploy: bool,
    },
    SaveState(AppState),
}

/// Notes for the report (why a secret gets a new version) and the actions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppPlan {
    pub notes: Vec<String>,
    pub actions: Vec<AppAction>,
}

impl AppPlan {
    /// Whether the plan changes the host (a state save alone does not).
    pub fn mutates_host(&self) -> bool {
        self.actions
            .iter()
            .any(|a| !matches!(a, AppAction::SaveState(_)))
    }
}

/// Converge a set-up app: `label` names it in notes ("proxy", …).
pub fn converge(
    label: &str,
    app: &AbraApp,
    secrets: WantedSecrets<'_>,
    seen: &AppSeen,
) -> Result<AppPlan, ReconcileError> {
    let domain = app.domain.as_str();
    let mut plan = AppPlan::default();
    let mut st = seen.state.clone();

    // Secret versions the env file must carry, bumped for rotated files.
    let mut wanted_env = app.env.clone();
    let mut versions: Vec<(&FileDigest<'_>, String)> = Vec::new();
    for f in secrets.files {
        let name = f.secret.name.as_str();
        let key = version_key(f.secret);
        let current = wanted_env
            .get(&key)
            .cloned()
            .or_else(|| seen.env.get(&key))
            .unwrap_or_else(|| "v1".to_owned());
        let version = match st.secrets.get(name) {
            Some(rec) if rec.sha256 != f.sha256 => {
                let v = next_version(&rec.version);
                plan.notes.push(format!(
                    "{label}: {} changed, secret {name} → {v}",
                    f.secret.file
                ));
                v
            }
            Some(rec) => rec.version.clone(),
            // No record but docker has the secret (state lost, or inserted by
            // hand): its content cannot be read back, so insert the file as
            // a new version rather than trust it.
            None if seen
                .secrets
                .contains(&abra::secret_name(domain, name, &current)) =>
            {
                let v = next_version(&current);
                plan.notes.push(format!(
                    "{label}: secret {name} {current} has no recorded digest, inserting {} as {v}",
                    f.secret.file
                ));
                v
            }
            None => current,
        };
        wanted_env.insert(key, version.clone());
        versions.push((f, version));
    }

    let mut env_after = seen.env.clone();
    if env_after.set_all(wanted_env.iter().map(|(k, v)| (k.as_str(), v.as_str())))? {
        plan.actions.push(AppAction::SetEnv(wanted_env));
    }

    for (f, version) in versions {
        let name = f.secret.name.as_str();
        if !seen
            .secrets
            .contains(&abra::secret_name(domain, name, &version))
        {
            plan.actions.push(AppAction::InsertSecret {
                name: name.to_owned(),
                version: version.clone(),
                file: f.secret.file.as_str().to_owned(),
            });
        }
        st.secrets.insert(
            name.to_owned(),
            SecretState {
                version,
                sha256: f.sha256.clone(),
            },
        );
    }
    for g in secrets.generated {
        let version = env_after
            .get(&conventional_version_key(&g.name))
            .unwrap_or_else(|| "v1".to_owned());
        if !seen
            .secrets
            .contains(&abra::secret_name(domain, &g.name, &version))
        {
            plan.actions.push(AppAction::GenerateSecret {
                name: g.name.clone(),
                version,
            });
        }
    }

    let fp = fingerprint(app.recipe.as_str(), app.version.as_str(), &env_after);
    if !seen.deployed || st.deployed.as_deref() != Some(fp.as_str()) {
        // Record the inserted secrets before deploying: a failed deploy
        // leaves them in docker, and without a record each retry would
        // insert the files again as a new version (v2, v3 …).
        if st != seen.state {
            plan.actions.push(AppAction::SaveState(st.clone()));
        }
        plan.actions.push(AppAction::Deploy {
            redeploy: seen.deployed,
        });
        st.deployed = Some(fp);
    }
    if st != seen.state {
        plan.actions.push(AppAction::SaveState(st));
    }
    Ok(plan)
}

/// What a deploy deploys: recipe, version and the env file's text.
pub fn fingerprint(recipe: &str, version: &str, env: &EnvFile) -> String {
    let mut h = Sha256::new();
    h.update(recipe.as_bytes());
    h.update([0]);
    h.update(version.as_bytes());
    h.update([0]);
    h.update(env.render().as_bytes());
    hex(&h.finalize())
}

/// SHA-256 of a secret file's bytes, as the state file records it.
pub fn digest(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
#[path = "app_tests.rs"]
mod tests;
