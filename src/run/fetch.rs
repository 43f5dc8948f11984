//! Recipe fetch: a fresh abra directory per lane with the shared `servers/`
//! (and `catalogue/`) linked in and its own `recipes/`, the recipe cloned from
//! `--src`, the head (and `refs/pull/N/head`) fetched, `checkout -f` of the
//! exact commit, verified.
//!
//! Why per lane and not only per run: the two lanes run at the same time and
//! abra reads the recipe from `$ABRA_DIR/recipes/<recipe>`; the upgrade lane
//! checks out the base release while the fresh lane deploys the head. One
//! shared checkout corrupted concurrent runs before (DOMAIN.md §10).
//!
//! A token for a private mirror is read from a file and handed to each git
//! command through `GIT_CONFIG_*` environment variables: never in argv (which
//! `ps` shows), never in `.git/config`, never in an error message.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::child::{WaitError, wait_with_deadline};

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
    #[error("git {what} failed: {stderr}")]
    Git { what: String, stderr: String },
    #[error("git {what} did not finish within {secs} s")]
    Timeout { what: String, secs: u64 },
    #[error("after checkout HEAD is {found}, expected {expected}")]
    WrongHead { expected: String, found: String },
    #[error("{0:?} is not a full 40-hex commit id")]
    BadRef(String),
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
    std::fs::create_dir_all(dir.join("recipes")).map_err(io_err(dir))?;
    for sub in ["servers", "catalogue"] {
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

/// A git invocation with a deadline and, when a token is given, the auth
/// header passed through the environment.
struct Git<'a> {
    dir: Option<&'a Path>,
    token: Option<String>,
    timeout: Duration,
}

impl Git<'_> {
    fn run(&self, what: &str, args: &[&str]) -> Result<String, FetchError> {
        let mut cmd = std::process::Command::new(git_program());
        if let Some(d) = self.dir {
            cmd.arg("-C").arg(d);
        }
        cmd.args(args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            // Never prompt for credentials on a CI host: fail instead.
            .env("GIT_TERMINAL_PROMPT", "0");
        if let Some(token) = &self.token {
            cmd.env("GIT_CONFIG_COUNT", "1")
                .env("GIT_CONFIG_KEY_0", "http.extraHeader")
                .env(
                    "GIT_CONFIG_VALUE_0",
                    format!("Authorization: token {token}"),
                );
        }
        let child = cmd.spawn().map_err(|e| FetchError::Git {
            what: what.to_owned(),
            stderr: e.to_string(),
        })?;
        let output = wait_with_deadline(child, self.timeout).map_err(|e| match e {
            WaitError::Timeout => FetchError::Timeout {
                what: what.to_owned(),
                secs: self.timeout.as_secs(),
            },
            WaitError::Io(e) => FetchError::Git {
                what: what.to_owned(),
                stderr: e.to_string(),
            },
        })?;
        if !output.status.success() {
            let mut stderr = String::from_utf8_lossy(&output.stderr).trim().to_owned();
            if let Some(t) = &self.token {
                stderr = stderr.replace(t.as_str(), "***");
            }
            return Err(FetchError::Git {
                what: what.to_owned(),
                stderr,
            });
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }
}

fn git_program() -> std::ffi::OsString {
    std::env::var_os("CCCI_GIT").unwrap_or_else(|| "git".into())
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
    let recipe_dir = abra_dir.join("recipes").join(&spec.recipe);
    // A leftover clone (no tags, another remote) once poisoned version
    // resolution: always start from an empty directory.
    if recipe_dir.exists() {
        std::fs::remove_dir_all(&recipe_dir).map_err(io_err(&recipe_dir))?;
    }
    let top = Git {
        dir: None,
        token: token.clone(),
        timeout: spec.timeout,
    };
    let dir_str = recipe_dir.to_string_lossy().into_owned();
    top.run(
        "clone",
        &["clone", "--quiet", "--no-checkout", &spec.src_url, &dir_str],
    )?;
    let git = Git {
        dir: Some(&recipe_dir),
        token,
        timeout: spec.timeout,
    };
    if spec.src_url != spec.upstream_url {
        // Release tags live in the recipe's own repository, not in a fork.
        git.run(
            "fetch tags",
            &["fetch", "--quiet", "--tags", &spec.upstream_url],
        )?;
    }
    if let Some(pr) = spec.pr {
        let refspec = format!("refs/pull/{pr}/head:refs/ccci/pr-head");
        git.run(
            "fetch PR head",
            &["fetch", "--quiet", &spec.upstream_url, &refspec],
        )?;
    }
    let have = git
        .run(
            "cat-file",
            &["cat-file", "-e", &format!("{}^{{commit}}", spec.git_ref)],
        )
        .is_ok();
    if !have {
        git.run("fetch ref", &["fetch", "--quiet", "origin", &spec.git_ref])?;
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
    let recipe_dir = abra_dir.join("recipes").join(recipe);
    if recipe_dir.exists() {
        std::fs::remove_dir_all(&recipe_dir).map_err(io_err(&recipe_dir))?;
    }
    let git = Git {
        dir: None,
        token: None,
        timeout,
    };
    let from_s = from.recipe_dir.to_string_lossy().into_owned();
    let to_s = recipe_dir.to_string_lossy().into_owned();
    git.run(
        "local clone",
        &["clone", "--quiet", "--no-checkout", &from_s, &to_s],
    )?;
    checkout(&recipe_dir, rev, timeout)?;
    Ok(Checkout {
        abra_dir: abra_dir.to_owned(),
        recipe_dir,
    })
}

/// `checkout -f` a revision and return HEAD; when `rev` is a full commit id,
/// HEAD must be exactly it.
pub fn checkout(recipe_dir: &Path, rev: &str, timeout: Duration) -> Result<String, FetchError> {
    let git = Git {
        dir: Some(recipe_dir),
        token: None,
        timeout,
    };
    git.run(
        "checkout",
        &[
            "-c",
            "advice.detachedHead=false",
            "checkout",
            "--quiet",
            "-f",
            rev,
        ],
    )?;
    let head = git
        .run("rev-parse", &["rev-parse", "HEAD"])?
        .trim()
        .to_owned();
    if is_full_sha(rev) && !head.eq_ignore_ascii_case(rev) {
        return Err(FetchError::WrongHead {
            expected: rev.to_owned(),
            found: head,
        });
    }
    Ok(head)
}

/// The repository's tags.
pub fn tags(recipe_dir: &Path, timeout: Duration) -> Result<Vec<String>, FetchError> {
    let git = Git {
        dir: Some(recipe_dir),
        token: None,
        timeout,
    };
    Ok(git
        .run("tag", &["tag", "--list"])?
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect())
}

/// The newest tag reachable from HEAD, if any.
pub fn reachable_tag(recipe_dir: &Path, timeout: Duration) -> Option<String> {
    let git = Git {
        dir: Some(recipe_dir),
        token: None,
        timeout,
    };
    git.run("describe", &["describe", "--tags", "--abbrev=0", "HEAD"])
        .ok()
        .map(|s| s.trim().to_owned())
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
