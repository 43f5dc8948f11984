//! Recipe fetch: a fresh abra directory per lane with the shared `servers/`
//! (and `catalogue/`) linked in and its own `recipes/`, the recipe cloned from
//! `--src`, the head (and `refs/pull/N/head`) fetched, `checkout -f` of the
//! exact commit, verified.
//!
//! Why per lane and not only per run: the two lanes run at the same time and
//! abra reads the recipe from `$ABRA_DIR/recipes/<recipe>`; the upgrade lane
//! checks out the base release while the fresh lane deploys the head. One
//! shared checkout corrupted concurrent runs before (docs/abra.md, "One ABRA_DIR per lane").
//!
//! A token for a private mirror is read from a file and handed to each git
//! command through `GIT_CONFIG_*` environment variables: never in argv (which
//! `ps` shows), never in `.git/config`, never in an error message.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::tools::ToolError;
use crate::tools::git::Git;

pub use super::version::TagRef;

/// Why a fetch failed. Messages never carry the token.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("cannot prepare {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot read the token file {path}: {source}")]
    Token {
        path: String,
        source: std::io::Error,
    },
    #[error("git {what}: {source}")]
    Git {
        what: &'static str,
        #[source]
        source: ToolError,
    },
    #[error("after checkout HEAD is {found}, expected {expected}")]
    WrongHead { expected: String, found: String },
    #[error("{0:?} is not a full 40-hex commit id")]
    BadRef(String),
    /// The run was stopped before this step (`super::interrupt`).
    #[error("{0}")]
    Interrupted(String),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> FetchError + '_ {
    move |source| FetchError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// What to fetch.
#[derive(Debug, Clone)]
pub struct FetchSpec {
    pub recipe: String,
    /// The repository the commit comes from (`--src`, maybe a fork).
    pub src_url: String,
    /// The recipe's own repository: release tags and `refs/pull/N/head` live here.
    pub upstream_url: String,
    /// The commit to test, 40 hex.
    pub git_ref: String,
    pub pr: Option<u64>,
    pub token_file: Option<PathBuf>,
    pub timeout: Duration,
}

/// A recipe checked out in a lane's abra directory.
#[derive(Debug, Clone)]
pub struct Checkout {
    pub abra_dir: PathBuf,
    pub recipe_dir: PathBuf,
}

/// Make a fresh abra directory at `dir`: `servers/` and `catalogue/` linked to
/// the shared directory's, `recipes/` new and empty.
pub fn prepare_abra_dir(dir: &Path, shared: &Path) -> Result<(), FetchError> {
    use crate::names::abra::{CATALOGUE, RECIPES, SERVERS};
    std::fs::create_dir_all(dir.join(RECIPES)).map_err(io_err(dir))?;
    for sub in [SERVERS, CATALOGUE] {
        let target = shared.join(sub);
        let link = dir.join(sub);
        if target.exists() && !link.exists() {
            std::os::unix::fs::symlink(&target, &link).map_err(io_err(&link))?;
        }
    }
    Ok(())
}

fn is_full_sha(s: &str) -> bool {
    s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A `crate::tools::git` call failed while doing `what`.
fn git_err(what: &'static str) -> impl FnOnce(ToolError) -> FetchError {
    move |source| FetchError::Git { what, source }
}

fn read_token(path: &Path) -> Result<Option<String>, FetchError> {
    match std::fs::read_to_string(path) {
        Ok(t) if t.trim().is_empty() => Ok(None),
        Ok(t) => Ok(Some(t.trim().to_owned())),
        // No token file: public repositories need none.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(FetchError::Token {
            path: path.display().to_string(),
            source,
        }),
    }
}

/// Clone the recipe into `<abra_dir>/recipes/<recipe>` and check out the ref.
pub fn fetch(spec: &FetchSpec, abra_dir: &Path) -> Result<Checkout, FetchError> {
    if !is_full_sha(&spec.git_ref) {
        return Err(FetchError::BadRef(spec.git_ref.clone()));
    }
    let token = match &spec.token_file {
        Some(p) => read_token(p)?,
        None => None,
    };
    let recipe_dir = crate::names::abra::recipe_dir(abra_dir, &spec.recipe);
    // A leftover clone (no tags, another remote) once poisoned version
    // resolution: always start from an empty directory.
    if recipe_dir.exists() {
        std::fs::remove_dir_all(&recipe_dir).map_err(io_err(&recipe_dir))?;
    }
    let git = Git::new().with_timeout(spec.timeout);
    let token = token.as_deref();
    git.clone_no_checkout(&spec.src_url, &recipe_dir, token)
        .map_err(git_err("clone"))?;
    if spec.src_url != spec.upstream_url {
        // Release tags live in the recipe's own repository, not in a fork.
        git.fetch_tags(&recipe_dir, &spec.upstream_url, token)
            .map_err(git_err("fetch tags"))?;
    }
    if let Some(pr) = spec.pr {
        let refspec = format!("refs/pull/{pr}/head:refs/ccci/pr-head");
        git.fetch(&recipe_dir, &spec.upstream_url, &[&refspec], token)
            .map_err(git_err("fetch PR head"))?;
    }
    let have = git
        .resolve(&recipe_dir, &spec.git_ref)
        .map_err(git_err("rev-parse"))?
        .is_some();
    if !have {
        git.fetch(&recipe_dir, "origin", &[&spec.git_ref], token)
            .map_err(git_err("fetch ref"))?;
    }
    checkout(&recipe_dir, &spec.git_ref, spec.timeout)?;
    Ok(Checkout {
        abra_dir: abra_dir.to_owned(),
        recipe_dir,
    })
}

/// A second lane's clone, made locally from the first (no network, all tags).
pub fn clone_local(
    from: &Checkout,
    abra_dir: &Path,
    recipe: &str,
    rev: &str,
    timeout: Duration,
) -> Result<Checkout, FetchError> {
    let recipe_dir = crate::names::abra::recipe_dir(abra_dir, recipe);
    if recipe_dir.exists() {
        std::fs::remove_dir_all(&recipe_dir).map_err(io_err(&recipe_dir))?;
    }
    Git::new()
        .with_timeout(timeout)
        .clone_no_checkout(&from.recipe_dir.to_string_lossy(), &recipe_dir, None)
        .map_err(git_err("local clone"))?;
    checkout(&recipe_dir, rev, timeout)?;
    Ok(Checkout {
        abra_dir: abra_dir.to_owned(),
        recipe_dir,
    })
}

/// `checkout -f` a revision and return HEAD; when `rev` is a full commit id,
/// HEAD must be exactly it.
pub fn checkout(recipe_dir: &Path, rev: &str, timeout: Duration) -> Result<String, FetchError> {
    let git = Git::new().with_timeout(timeout);
    git.checkout_force(recipe_dir, rev)
        .map_err(git_err("checkout"))?;
    let head = git.head(recipe_dir).map_err(git_err("rev-parse"))?;
    if is_full_sha(rev) && !head.eq_ignore_ascii_case(rev) {
        return Err(FetchError::WrongHead {
            expected: rev.to_owned(),
            found: head,
        });
    }
    Ok(head)
}

/// The repository's tags.
pub fn tags(recipe_dir: &Path, timeout: Duration) -> Result<Vec<TagRef>, FetchError> {
    Ok(Git::new()
        .with_timeout(timeout)
        .tags(recipe_dir)
        .map_err(git_err("tag"))?
        .into_iter()
        .map(|(name, commit)| TagRef { name, commit })
        .collect())
}

/// The newest tag reachable from HEAD, if any.
pub fn reachable_tag(recipe_dir: &Path, timeout: Duration) -> Option<String> {
    Git::new()
        .with_timeout(timeout)
        .describe_tag(recipe_dir)
        .ok()
        .filter(|s| !s.is_empty())
}

/// Copy the recipe's `tests/` (if any) to `dest`, keeping permissions: later
/// abra calls can reset the checkout.
pub fn snapshot_tests(recipe_dir: &Path, dest: &Path) -> Result<Option<PathBuf>, FetchError> {
    let src = recipe_dir.join("tests");
    if !src.is_dir() {
        return Ok(None);
    }
    copy_tree(&src, dest)?;
    Ok(Some(dest.to_owned()))
}

fn copy_tree(src: &Path, dest: &Path) -> Result<(), FetchError> {
    std::fs::create_dir_all(dest).map_err(io_err(dest))?;
    for entry in std::fs::read_dir(src).map_err(io_err(src))? {
        let entry = entry.map_err(io_err(src))?;
        let from = entry.path();
        let to = dest.join(entry.file_name());
        let kind = entry.file_type().map_err(io_err(&from))?;
        if kind.is_dir() {
            copy_tree(&from, &to)?;
        } else if kind.is_file() {
            // fs::copy keeps the permission bits (the executable bit matters).
            std::fs::copy(&from, &to).map_err(io_err(&from))?;
        }
        // Symlinks are not followed: a recipe must not make the runner read
        // files outside its checkout.
    }
    Ok(())
}

/// The compose files of a checkout (`compose.yml`, `compose.*.yml`), sorted.
pub fn compose_files(recipe_dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(recipe_dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                n.starts_with("compose") && (n.ends_with(".yml") || n.ends_with(".yaml"))
            })
        })
        .collect();
    files.sort();
    files
}

/// Whether the compose files carry backup-bot-two's `backupbot.backup` labels.
/// (Older spellings such as `backupbot.backup.path` alone are ignored by
/// current backup-bot-two, but they still contain the prefix; what matters is
/// the `backupbot.backup` switch label itself.)
pub fn has_backup_labels(recipe_dir: &Path) -> bool {
    compose_files(recipe_dir).iter().any(|p| {
        std::fs::read_to_string(p).is_ok_and(|text| {
            text.lines().any(|l| {
                let l = l
                    .trim()
                    .trim_start_matches('-')
                    .trim()
                    .trim_matches(['"', '\'']);
                l.starts_with("backupbot.backup=") || l.starts_with("backupbot.backup:")
            })
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backup_label_detection_wants_the_switch_label() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("compose.yml"),
            "services:\n  app:\n    deploy:\n      labels:\n        - \"backupbot.backup=true\"\n",
        )
        .unwrap();
        assert!(has_backup_labels(d.path()));
        let e = tempfile::tempdir().unwrap();
        std::fs::write(e.path().join("compose.yml"), "services:\n  app:\n    deploy:\n      labels:\n        - \"backupbot.backup.path=/x\"\n").unwrap();
        assert!(!has_backup_labels(e.path()));
        let m = tempfile::tempdir().unwrap();
        std::fs::write(
            m.path().join("compose.yml"),
            "services:\n  app:\n    deploy:\n      labels:\n        backupbot.backup: \"true\"\n",
        )
        .unwrap();
        assert!(has_backup_labels(m.path()));
    }

    #[test]
    fn prepare_links_servers_and_makes_empty_recipes() {
        let shared = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(shared.path().join("servers/default")).unwrap();
        let run = tempfile::tempdir().unwrap();
        let dir = run.path().join("abra");
        prepare_abra_dir(&dir, shared.path()).unwrap();
        assert!(dir.join("servers/default").is_dir());
        assert!(
            std::fs::symlink_metadata(dir.join("servers"))
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(std::fs::read_dir(dir.join("recipes")).unwrap().count(), 0);
        assert!(!dir.join("catalogue").exists());
    }

    #[test]
    fn a_short_ref_is_refused() {
        let spec = FetchSpec {
            recipe: "x".into(),
            src_url: "file:///nonexistent".into(),
            upstream_url: "file:///nonexistent".into(),
            git_ref: "abc123".into(),
            pr: None,
            token_file: None,
            timeout: Duration::from_secs(5),
        };
        let d = tempfile::tempdir().unwrap();
        assert!(matches!(fetch(&spec, d.path()), Err(FetchError::BadRef(_))));
    }
}
