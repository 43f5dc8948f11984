//! The recipe's repository in memory: commits (each a whole tree), tags and
//! refs; clones are copies, a checkout writes the commit's files into the
//! checkout directory so the lanes can read them like a real work tree.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use ccci::run::fetch::{Checkout, FetchError, FetchSpec, TagRef};
use ccci::run::world::Git;
use ccci::tools::ToolError;
use sha2::{Digest, Sha256};

use super::{Call, MemWorld};

/// One commit: every file of the tree, with whether it is executable.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemCommit {
    pub parent: Option<String>,
    pub files: BTreeMap<String, (String, bool)>,
}

/// A repository: commits by id, tags and other refs by name.
#[derive(Debug, Clone, Default)]
pub struct Repo {
    pub commits: BTreeMap<String, MemCommit>,
    pub tags: BTreeMap<String, String>,
    pub refs: BTreeMap<String, String>,
}

/// A clone in a checkout directory.
#[derive(Debug, Clone)]
pub struct Clone_ {
    pub repo: Repo,
    pub head: String,
}

impl Repo {
    /// Commit `files` over `parent`'s tree; the id is a digest of both.
    pub fn commit(&mut self, parent: Option<&str>, files: &[(String, String)]) -> String {
        let mut tree = parent
            .and_then(|p| self.commits.get(p))
            .map(|c| c.files.clone())
            .unwrap_or_default();
        for (path, content) in files {
            tree.insert(path.clone(), (content.clone(), path.starts_with("tests/")));
        }
        let mut h = Sha256::new();
        h.update(parent.unwrap_or("root").as_bytes());
        for (p, (c, x)) in &tree {
            h.update(p.as_bytes());
            h.update([0, u8::from(*x)]);
            h.update(c.as_bytes());
        }
        let id = hex::encode(h.finalize())[..40].to_owned();
        self.commits.insert(
            id.clone(),
            MemCommit {
                parent: parent.map(str::to_owned),
                files: tree,
            },
        );
        id
    }

    /// The commit a revision names: `refs/tags/<t>`, a tag, a ref, a full id.
    pub fn resolve(&self, rev: &str) -> Option<String> {
        let rev = rev.to_ascii_lowercase();
        if let Some(t) = rev.strip_prefix("refs/tags/") {
            return self.tags.get(t).cloned();
        }
        self.tags
            .get(&rev)
            .or_else(|| self.refs.get(&rev))
            .cloned()
            .or_else(|| self.commits.contains_key(&rev).then_some(rev))
    }

    fn ancestors(&self, id: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut cur = Some(id.to_owned());
        while let Some(c) = cur {
            cur = self.commits.get(&c).and_then(|x| x.parent.clone());
            out.push(c);
        }
        out
    }

    /// A copy holding only what `tips` reach, and the tags on it.
    fn reaching(&self, tips: &[String]) -> Repo {
        let keep: BTreeSet<String> = tips.iter().flat_map(|t| self.ancestors(t)).collect();
        Repo {
            commits: self
                .commits
                .iter()
                .filter(|(id, _)| keep.contains(*id))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            tags: self
                .tags
                .iter()
                .filter(|(_, id)| keep.contains(*id))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            refs: BTreeMap::new(),
        }
    }
}

fn failed(what: &'static str, command: String, stderr: &str) -> FetchError {
    FetchError::Git {
        what,
        source: ToolError::Failed {
            command,
            status: Some(128),
            stderr: stderr.to_owned(),
            stdout: String::new(),
        },
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> FetchError + '_ {
    move |source| FetchError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Write a commit's tree into `dir`, replacing what was there.
fn materialise(dir: &Path, commit: &MemCommit) -> Result<(), FetchError> {
    use std::os::unix::fs::PermissionsExt;
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(io(dir))?;
    }
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    for (path, (content, exec)) in &commit.files {
        let p = dir.join(path);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        std::fs::write(&p, content).map_err(io(&p))?;
        if *exec {
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).map_err(io(&p))?;
        }
    }
    Ok(())
}

fn is_full_sha(s: &str) -> bool {
    s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

impl MemWorld {
    fn check_out(&self, dir: &Path, clone: Clone_, rev: &str) -> Result<String, FetchError> {
        let id = clone.repo.resolve(rev).ok_or_else(|| {
            failed(
                "checkout",
                format!("git -C {} checkout -q -f {rev}", dir.display()),
                &format!("error: pathspec '{rev}' did not match any file(s) known to git"),
            )
        })?;
        materialise(dir, &clone.repo.commits[&id])?;
        let mut s = self.state();
        s.calls.push(Call::Checkout {
            recipe_dir: dir.to_owned(),
            rev: rev.to_owned(),
        });
        s.checkouts.insert(
            dir.to_owned(),
            Clone_ {
                repo: clone.repo,
                head: id.clone(),
            },
        );
        Ok(id)
    }

    fn clone_at(&self, dir: &Path) -> Result<Clone_, FetchError> {
        self.state().checkouts.get(dir).cloned().ok_or_else(|| {
            failed(
                "rev-parse",
                format!("git -C {} rev-parse HEAD", dir.display()),
                "fatal: not a git repository",
            )
        })
    }
}

impl Git for MemWorld {
    fn prepare_abra_dir(&self, dir: &Path, _shared: &Path) -> Result<(), FetchError> {
        std::fs::create_dir_all(dir.join("recipes")).map_err(io(dir))
    }

    fn fetch(&self, spec: &FetchSpec, abra_dir: &Path) -> Result<Checkout, FetchError> {
        if !is_full_sha(&spec.git_ref) {
            return Err(FetchError::BadRef(spec.git_ref.clone()));
        }
        let (src, upstream) = {
            let mut s = self.state();
            s.calls.push(Call::Fetch {
                git_ref: spec.git_ref.clone(),
                src_url: spec.src_url.clone(),
                upstream_url: spec.upstream_url.clone(),
                with_token: spec.token_file.is_some(),
            });
            (
                s.repos.get(&spec.src_url).cloned(),
                s.repos.get(&spec.upstream_url).cloned(),
            )
        };
        let not_found = |url: &str| {
            failed(
                "clone",
                format!("git clone -q --no-checkout {url}"),
                "fatal: repository not found",
            )
        };
        let src = src.ok_or_else(|| not_found(&spec.src_url))?;
        let upstream = upstream.ok_or_else(|| not_found(&spec.upstream_url))?;
        // A clone gets the branches and tags; release tags come from the
        // recipe's own repository; the PR head only through its ref.
        let mut tips: Vec<String> = src
            .refs
            .iter()
            .filter(|(r, _)| r.starts_with("refs/heads/"))
            .map(|(_, id)| id.clone())
            .collect();
        tips.extend(src.tags.values().cloned());
        let mut repo = src.reaching(&tips);
        let up_tags = upstream.reaching(&upstream.tags.values().cloned().collect::<Vec<_>>());
        repo.commits.extend(up_tags.commits);
        repo.tags.extend(up_tags.tags);
        if let Some(pr) = spec.pr {
            let r = format!("refs/pull/{pr}/head");
            let id = upstream.refs.get(&r).ok_or_else(|| {
                failed(
                    "fetch PR head",
                    format!("git fetch -q {} {r}:refs/ccci/pr-head", spec.upstream_url),
                    &format!("fatal: couldn't find remote ref {r}"),
                )
            })?;
            repo.commits
                .extend(upstream.reaching(std::slice::from_ref(id)).commits);
        }
        let want = spec.git_ref.to_ascii_lowercase();
        if !repo.commits.contains_key(&want) {
            // `git fetch origin <id>`: the server hands out any commit it has.
            if !src.commits.contains_key(&want) {
                return Err(failed(
                    "fetch ref",
                    format!("git fetch -q origin {want}"),
                    &format!("fatal: remote error: upload-pack: not our ref {want}"),
                ));
            }
            repo.commits
                .extend(src.reaching(std::slice::from_ref(&want)).commits);
        }
        let recipe_dir = abra_dir.join("recipes").join(&spec.recipe);
        let head = self.check_out(
            &recipe_dir,
            Clone_ {
                repo,
                head: String::new(),
            },
            &want,
        )?;
        if head != want {
            return Err(FetchError::WrongHead {
                expected: want,
                found: head,
            });
        }
        Ok(Checkout {
            abra_dir: abra_dir.to_owned(),
            recipe_dir,
        })
    }

    fn clone_local(
        &self,
        from: &Checkout,
        abra_dir: &Path,
        recipe: &str,
        rev: &str,
        _timeout: Duration,
    ) -> Result<Checkout, FetchError> {
        let clone = self.clone_at(&from.recipe_dir)?;
        let recipe_dir = abra_dir.join("recipes").join(recipe);
        self.check_out(&recipe_dir, clone, rev)?;
        Ok(Checkout {
            abra_dir: abra_dir.to_owned(),
            recipe_dir,
        })
    }

    fn checkout(
        &self,
        recipe_dir: &Path,
        rev: &str,
        _timeout: Duration,
    ) -> Result<String, FetchError> {
        let clone = self.clone_at(recipe_dir)?;
        let head = self.check_out(recipe_dir, clone, rev)?;
        if is_full_sha(rev) && !head.eq_ignore_ascii_case(rev) {
            return Err(FetchError::WrongHead {
                expected: rev.to_owned(),
                found: head,
            });
        }
        Ok(head)
    }

    fn tags(&self, recipe_dir: &Path, _timeout: Duration) -> Result<Vec<TagRef>, FetchError> {
        Ok(self
            .clone_at(recipe_dir)?
            .repo
            .tags
            .iter()
            .map(|(name, commit)| TagRef {
                name: name.clone(),
                commit: commit.clone(),
            })
            .collect())
    }

    fn reachable_tag(&self, recipe_dir: &Path, _timeout: Duration) -> Option<String> {
        let c = self.clone_at(recipe_dir).ok()?;
        c.repo.ancestors(&c.head).into_iter().find_map(|id| {
            c.repo
                .tags
                .iter()
                .filter(|(_, t)| **t == id)
                .map(|(name, _)| name.clone())
                .next_back()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commits_carry_their_parents_tree_and_tags_resolve() {
        let mut r = Repo::default();
        let a = r.commit(None, &[("compose.yml".into(), "a".into())]);
        let b = r.commit(Some(&a), &[("tests/t.sh".into(), "exit 0".into())]);
        r.tags.insert("1.0.0".into(), a.clone());
        assert_eq!(b.len(), 40);
        assert_ne!(a, b);
        assert!(r.commits[&b].files.contains_key("compose.yml"));
        assert!(r.commits[&b].files["tests/t.sh"].1, "tests are executable");
        assert_eq!(r.resolve("refs/tags/1.0.0"), Some(a.clone()));
        assert_eq!(r.resolve(&b.to_ascii_uppercase()), Some(b.clone()));
        assert_eq!(r.resolve("nope"), None);
        let only_a = r.reaching(std::slice::from_ref(&a));
        assert!(!only_a.commits.contains_key(&b));
        assert_eq!(only_a.tags.len(), 1);
    }
}
