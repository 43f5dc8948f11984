//! Converging one infrastructure app deployed with abra (traefik, drone,
//! backup-bot-two): local server, recipe at the pinned version, env file,
//! secrets, and a deploy only when it is not deployed or what it would
//! deploy (recipe version, env file) changed since the last deploy.
//!
//! This is the look and act around the decisions in [`super::decide::app`]:
//! look at the host through a [`World`], decide, perform the actions.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::decide::app::{
    self as decide, AppAction, AppSeen, FileDigest, RecipeSeen, SetupAction, SetupSeen,
    WantedSecrets,
};
use super::world::World;
use super::{ReconcileError, Report, read_required};
use crate::config::{AbraApp, FileSecret};
use crate::names;

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
    world: &dyn World,
    report: &mut Report,
) -> Result<(), ReconcileError> {
    // Preconditions first: nothing is touched when a secret file is missing.
    let mut files = Vec::new();
    for s in secrets.files {
        let bytes = read_required(world, "secret file", s.file.as_str().as_ref())?;
        files.push(FileDigest {
            secret: s,
            sha256: decide::digest(&bytes),
        });
    }
    // Env values kept in secret files join the wanted env here, so that the
    // decisions see one env and a rotated file redeploys like any change.
    let mut with_files;
    let app = if app.env_files.is_empty() {
        app
    } else {
        with_files = app.clone();
        for (key, file) in &app.env_files {
            let bytes = read_required(world, "env secret file", file.as_str().as_ref())?;
            let value = String::from_utf8_lossy(&bytes).trim().to_owned();
            with_files.env.insert(key.clone(), value);
        }
        &with_files
    };
    let at = Place::of(app);

    let mut done = Vec::new();
    while let Some(step) = decide::setup_step(app, &look_setup(world, app, &at)?, &done)? {
        set_up(world, label, app, &at, step, report)?;
        done.push(step);
    }

    let seen = look(world, &at)?;
    let wanted = WantedSecrets {
        files: &files,
        generated: secrets.generated,
    };
    let plan = decide::converge(label, app, wanted, &seen)?;
    report.actions.extend(plan.notes);
    for action in plan.actions {
        act(world, label, app, &at, action, report)?;
    }
    Ok(())
}

/// Where abra keeps the app's pieces.
struct Place {
    abra_dir: PathBuf,
    recipe_dir: PathBuf,
    env: PathBuf,
    state: PathBuf,
    stack: String,
}

impl Place {
    fn of(app: &AbraApp) -> Place {
        let abra_dir = PathBuf::from(app.abra_dir.as_str());
        let domain = app.domain.as_str();
        Place {
            recipe_dir: names::abra::recipe_dir(&abra_dir, app.recipe.as_str()),
            env: names::abra::env_file(&abra_dir, app.server.as_str(), domain),
            state: super::state::path(&abra_dir, domain),
            stack: names::stack::stack_name(domain),
            abra_dir,
        }
    }
}

fn look_setup(world: &dyn World, app: &AbraApp, at: &Place) -> Result<SetupSeen, ReconcileError> {
    let server_dir = names::abra::server_dir(&at.abra_dir, app.server.as_str());
    let recipe = if world.is_dir(&at.recipe_dir) {
        let (head, wanted) = world.head_and(&at.recipe_dir, app.version.as_str())?;
        RecipeSeen::Fetched { head, wanted }
    } else {
        RecipeSeen::Missing
    };
    Ok(SetupSeen {
        server: world.is_dir(&server_dir),
        recipe,
        app: world.is_file(&at.env),
    })
}

fn set_up(
    world: &dyn World,
    label: &str,
    app: &AbraApp,
    at: &Place,
    step: SetupAction,
    report: &mut Report,
) -> Result<(), ReconcileError> {
    let recipe = app.recipe.as_str();
    match step {
        SetupAction::AddServer => {
            world.server_add_local(&at.abra_dir)?;
            report.did(format!("{label}: added the local abra server"));
        }
        SetupAction::FetchRecipe => {
            world.recipe_fetch(&at.abra_dir, recipe)?;
            report.did(format!("{label}: fetched recipe {recipe}"));
        }
        SetupAction::CheckOutVersion => {
            world.checkout_force(&at.recipe_dir, app.version.as_str())?;
            report.did(format!("{label}: checked out {recipe} {}", app.version));
        }
        SetupAction::CreateApp => {
            let domain = app.domain.as_str();
            world.app_new(&at.abra_dir, recipe, app.server.as_str(), domain)?;
            report.did(format!("{label}: created app {domain}"));
        }
    }
    Ok(())
}

fn look(world: &dyn World, at: &Place) -> Result<AppSeen, ReconcileError> {
    Ok(AppSeen {
        state: world.load_state(&at.state)?,
        secrets: world
            .secrets(&names::stack::stack_prefix(&at.stack))?
            .into_iter()
            .collect::<BTreeSet<_>>(),
        env: world.read_env(&at.env)?,
        deployed: world.stack_deployed(&at.stack)?,
    })
}

fn act(
    world: &dyn World,
    label: &str,
    app: &AbraApp,
    at: &Place,
    action: AppAction,
    report: &mut Report,
) -> Result<(), ReconcileError> {
    let domain = app.domain.as_str();
    match action {
        AppAction::SetEnv(pairs) => {
            if world.edit_env(&at.env, &pairs)? {
                report.did(format!("{label}: updated {}", at.env.display()));
            }
        }
        AppAction::InsertSecret {
            name,
            version,
            file,
        } => {
            world.secret_insert_file(&at.abra_dir, domain, &name, &version, Path::new(&file))?;
            report.did(format!(
                "{label}: inserted secret {name} {version} from {file}"
            ));
        }
        AppAction::GenerateSecret { name, version } => {
            world.secret_generate(&at.abra_dir, domain, &name, &version)?;
            report.did(format!("{label}: generated secret {name} {version}"));
        }
        AppAction::Deploy { redeploy } => {
            world.app_deploy(&at.abra_dir, domain, redeploy)?;
            report.did(format!(
                "{label}: {} {} {} at {domain}",
                if redeploy { "redeployed" } else { "deployed" },
                app.recipe,
                app.version
            ));
        }
        AppAction::SaveState(st) => world.save_state(&at.state, &st)?,
    }
    Ok(())
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
