//! Where the recipe to enrol is: a git URL (cloned shallow into a temporary
//! directory, tags listed from the remote), a local git repository (its
//! tags), or a plain directory (no tags).

use std::path::{Path, PathBuf};

use super::EnrollError;
use crate::registry::values::RepoSlug;
use crate::run::version::TagRef;
use crate::tools::git::Git;

/// How the recipe was reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Url(String),
    Repo(PathBuf),
    Dir(PathBuf),
}

/// A recipe on disk, ready to read.
#[derive(Debug)]
pub struct Checkout {
    pub origin: Origin,
    pub dir: PathBuf,
    /// Tags with the commits they name (`None`: not a git repository, so
    /// none can be known).
    pub tags: Option<Vec<TagRef>>,
    /// The commit checked out, for a git repository.
    pub head: Option<String>,
    /// The newest tag reachable from HEAD, when the history is there to say.
    pub describe: Option<String>,
    /// Keeps a clone alive until the proposal is made.
    _tmp: Option<TempDir>,
}

/// A directory removed on drop.
#[derive(Debug)]
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Whether `s` reads as a git URL rather than a path.
pub fn is_url(s: &str) -> bool {
    s.contains("://") || (s.contains('@') && s.contains(':') && !s.starts_with('/'))
}

/// The `owner/name` a git URL names (`https://host/owner/name.git`,
/// `git@host:owner/name`), when it is a valid slug.
pub fn slug_of_url(url: &str) -> Option<RepoSlug> {
    let path = url
        .split_once("://")
        .map(|(_, rest)| rest.split_once('/').map_or("", |(_, p)| p))
        .or_else(|| url.split_once(':').map(|(_, p)| p))?;
    let path = path.trim_end_matches('/');
    let path = path.strip_suffix(".git").unwrap_or(path);
    let mut parts = path.rsplit('/');
    let name = parts.next()?;
    let owner = parts.next()?;
    format!("{owner}/{name}").parse().ok()
}

/// The recipe's name as its source suggests: the last path segment without `.git`.
pub fn base_name(origin: &Origin) -> String {
    let s = match origin {
        Origin::Url(u) => u
            .trim_end_matches('/')
            .rsplit(['/', ':'])
            .next()
            .unwrap_or(u)
            .to_owned(),
        Origin::Repo(p) | Origin::Dir(p) => p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
    };
    s.strip_suffix(".git").unwrap_or(&s).to_owned()
}

fn tag_refs(tags: Vec<(String, String)>) -> Vec<TagRef> {
    tags.into_iter()
        .map(|(name, commit)| TagRef { name, commit })
        .collect()
}

/// Clone or open the recipe.
pub fn open(source: &str, git: &Git) -> Result<Checkout, EnrollError> {
    let path = Path::new(source);
    if path.is_dir() {
        let dir = path.canonicalize().map_err(|e| EnrollError::Read {
            path: source.to_owned(),
            why: e.to_string(),
        })?;
        if !dir.join(".git").exists() {
            return Ok(Checkout {
                origin: Origin::Dir(dir.clone()),
                dir,
                tags: None,
                head: None,
                describe: None,
                _tmp: None,
            });
        }
        let read = |what: &str, e: crate::tools::ToolError| EnrollError::Read {
            path: source.to_owned(),
            why: format!("cannot {what}: {e}"),
        };
        let tags = git.tags(&dir).map_err(|e| read("list its tags", e))?;
        let head = git.head(&dir).map_err(|e| read("read its HEAD", e))?;
        // No tag reachable is an answer, not an error.
        let describe = git.describe_tag(&dir).ok().filter(|t| !t.is_empty());
        return Ok(Checkout {
            origin: Origin::Repo(dir.clone()),
            dir,
            tags: Some(tag_refs(tags)),
            head: Some(head),
            describe,
            _tmp: None,
        });
    }
    if !is_url(source) {
        return Err(EnrollError::NotASource(source.to_owned()));
    }
    let tmp = std::env::temp_dir().join(format!(
        "ccci-enroll-{}-{}",
        std::process::id(),
        crate::names::run::fresh_nonce()
    ));
    let guard = TempDir(tmp.clone());
    let dir = tmp.join("recipe");
    std::fs::create_dir_all(&tmp).map_err(|e| EnrollError::Clone {
        url: source.to_owned(),
        why: e.to_string(),
    })?;
    let failed = |e: crate::tools::ToolError| EnrollError::Clone {
        url: source.to_owned(),
        why: e.stderr().trim().to_owned(),
    };
    git.clone_shallow(source, &dir).map_err(failed)?;
    let tags = git.remote_tags(&dir).map_err(failed)?;
    let head = git.head(&dir).map_err(failed)?;
    Ok(Checkout {
        origin: Origin::Url(source.to_owned()),
        dir,
        tags: Some(tag_refs(tags)),
        head: Some(head),
        // A shallow clone has no history to describe from.
        describe: None,
        _tmp: Some(guard),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_give_slugs_and_names() {
        let u = "https://git.coopcloud.tech/coop-cloud/custom-html.git";
        assert!(is_url(u) && is_url("git@host:o/n.git") && !is_url("./recipes/x"));
        assert_eq!(slug_of_url(u).unwrap().as_str(), "coop-cloud/custom-html");
        assert_eq!(slug_of_url("git@host:o/n").unwrap().as_str(), "o/n");
        assert!(slug_of_url("file:///x").is_none());
        assert_eq!(base_name(&Origin::Url(u.into())), "custom-html");
        assert_eq!(base_name(&Origin::Dir("/a/gaseous".into())), "gaseous");
    }
}
