//! Which compose files an app's env selects: `COMPOSE_FILE`, a `:`-separated
//! list, evaluated line by line as the env file is read, so a later line's
//! `$COMPOSE_FILE` (or `${COMPOSE_FILE}`) is the value so far — the chain
//! recipes' `.env.sample` files use to add optional files
//! (docs/abra.md, "COMPOSE_FILE chains"). Unset or empty: `compose.yml`.
//! The registry's `compose_files` are appended to the chain.
//!
//! This is the one decision of which files a run app deploys: the run writes
//! its answer into the app's `COMPOSE_FILE` (`run::steps::app_env_edits`), the
//! compose policy checks exactly these files (`super::check_checkout`), and
//! the secrets a recipe declares are read from them (`run::secrets`).

use std::collections::BTreeMap;
use std::path::{Component, Path};

use crate::envfile::EnvFile;
use crate::registry::values::ComposeFileName;

/// The selected files, in order and without repeats, then `extra` (the
/// registry's `compose_files`) not already selected; and every variable of
/// the final env (for `${VAR}` in the compose files), `COMPOSE_FILE` being
/// the whole selection.
pub fn selected(
    sample: &str,
    edits: &[(String, String)],
    extra: &[ComposeFileName],
) -> (Vec<String>, BTreeMap<String, String>) {
    let mut env = EnvFile::parse(sample);
    // Edits replace a key's value in place, as the platform's set_env does;
    // a value that cannot be written is left out (set_env would fail too).
    for (k, v) in edits {
        let _ = env.set(k, v);
    }
    let mut vars: BTreeMap<String, String> = BTreeMap::new();
    for line in env.render().lines() {
        for (k, raw) in EnvFile::parse(line).to_map() {
            let value = super::rules::substitute(&raw, &vars);
            vars.insert(k, value);
        }
    }
    let chain = vars
        .get("COMPOSE_FILE")
        .filter(|v| !v.trim().is_empty())
        .cloned()
        .unwrap_or_else(|| "compose.yml".to_owned());
    let mut files: Vec<String> = Vec::new();
    let chosen = chain.split(':').map(str::trim).filter(|f| !f.is_empty());
    for f in chosen.chain(extra.iter().map(ComposeFileName::as_str)) {
        if !files.iter().any(|x| x == f) {
            files.push(f.to_owned());
        }
    }
    vars.insert("COMPOSE_FILE".to_owned(), files.join(":"));
    (files, vars)
}

/// Read `name` inside `recipe_dir`; a name that leaves the directory is an
/// error, not a read.
pub fn read_in(recipe_dir: &Path, name: &str) -> Result<String, String> {
    let p = Path::new(name);
    if p.components()
        .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err("a compose file outside the recipe".into());
    }
    let path = recipe_dir.join(p);
    // A symlink could point anywhere on the host.
    let meta = std::fs::symlink_metadata(&path).map_err(|e| format!("cannot read: {e}"))?;
    if meta.file_type().is_symlink() {
        return Err("a symbolic link, not a file of the recipe".into());
    }
    std::fs::read_to_string(&path).map_err(|e| format!("cannot read: {e}"))
}
