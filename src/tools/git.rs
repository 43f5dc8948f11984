//! `git` for recipe checkouts: which commit is checked out, moving it to a
//! tag, cloning, fetching PR heads and tags. A token for a private mirror is handed to git through
//! `GIT_CONFIG_*` environment variables (an `http.extraHeader` for this one
//! command), never on argv or in a git config file (docs/gitea.md, "Tokens for git").

use std::path::Path;

use super::{Call, Program, ToolError};

#[derive(Debug, Clone)]
pub struct Git {
    program: Program,
}

impl Git {
    /// `CCCI_GIT` or `git` on PATH.
    pub fn new() -> Git {
        Git {
            program: Program::from_env("CCCI_GIT", "git", super::QUICK),
        }
    }

    pub fn with_program(program: Program) -> Git {
        Git { program }
    }

    /// The same git with another default timeout per call.
    pub fn with_timeout(mut self, timeout: std::time::Duration) -> Git {
        self.program.timeout = timeout;
        self
    }

    fn in_dir(&self, dir: &Path) -> Call {
        Call::new(&self.program).arg("-C").arg(dir)
    }

    /// The full commit `rev` names in `dir`, or `None` if it names nothing.
    pub fn resolve(&self, dir: &Path, rev: &str) -> Result<Option<String>, ToolError> {
        match self
            .in_dir(dir)
            .args(["rev-parse", "--verify", "-q"])
            .arg(format!("{rev}^{{commit}}"))
            .run()
        {
            Ok(out) => Ok(Some(out.stdout.trim().to_owned())),
            Err(ToolError::Failed {
                status: Some(1), ..
            }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `(HEAD, the commit rev names)` in one process (a reconcile on every
    /// boot should cost little); `None` for the second when `rev` names nothing.
    pub fn head_and(&self, dir: &Path, rev: &str) -> Result<(String, Option<String>), ToolError> {
        let both = self
            .in_dir(dir)
            .args(["rev-parse", "HEAD"])
            .arg(format!("{rev}^{{commit}}"))
            .run();
        if let Ok(out) = both {
            let mut lines = out.stdout.lines().map(str::trim);
            if let (Some(head), Some(wanted)) = (lines.next(), lines.next()) {
                return Ok((head.to_owned(), Some(wanted.to_owned())));
            }
        }
        // Slow path tells "rev unknown" from other failures.
        let wanted = self.resolve(dir, rev)?;
        Ok((self.head(dir)?, wanted))
    }

    /// The checked-out commit.
    pub fn head(&self, dir: &Path) -> Result<String, ToolError> {
        Ok(self
            .in_dir(dir)
            .args(["rev-parse", "HEAD"])
            .run()?
            .stdout
            .trim()
            .to_owned())
    }

    /// `git checkout -q -f <rev>`: discard local changes, detach at `rev`.
    pub fn checkout_force(&self, dir: &Path, rev: &str) -> Result<(), ToolError> {
        self.in_dir(dir)
            .args([
                "-c",
                "advice.detachedHead=false",
                "checkout",
                "-q",
                "-f",
                rev,
            ])
            .run()
            .map(drop)
    }

    /// Whether the work tree has changes (abra appends `+U` to chaos versions then).
    pub fn is_dirty(&self, dir: &Path) -> Result<bool, ToolError> {
        Ok(!self
            .in_dir(dir)
            .args(["status", "--porcelain"])
            .run()?
            .stdout
            .trim()
            .is_empty())
    }

    /// `git clone -q <url> <dir>`, with an optional token sent as an
    /// `Authorization` header for this command only.
    pub fn clone(&self, url: &str, dir: &Path, token: Option<&str>) -> Result<(), ToolError> {
        let c = Call::new(&self.program).args(["clone", "-q", url]).arg(dir);
        run_authed(c.timeout(super::SLOW), token).map(drop)
    }

    /// `git clone -q --no-checkout <url> <dir>` within this git's timeout:
    /// the caller checks out the exact commit it wants afterwards.
    pub fn clone_no_checkout(
        &self,
        url: &str,
        dir: &Path,
        token: Option<&str>,
    ) -> Result<(), ToolError> {
        let c = Call::new(&self.program)
            .args(["clone", "-q", "--no-checkout", url])
            .arg(dir);
        run_authed(c, token).map(drop)
    }

    /// `git fetch -q <remote> <refspec>…` in `dir` (a PR head is
    /// `refs/pull/N/head:<local ref>`, a bare commit id works too).
    pub fn fetch(
        &self,
        dir: &Path,
        remote: &str,
        refspecs: &[&str],
        token: Option<&str>,
    ) -> Result<(), ToolError> {
        let c = self
            .in_dir(dir)
            .args(["fetch", "-q", remote])
            .args(refspecs);
        run_authed(c, token).map(drop)
    }

    /// `git fetch -q --tags <remote>` in `dir`: release tags of the recipe's
    /// own repository when the commit comes from a fork.
    pub fn fetch_tags(
        &self,
        dir: &Path,
        remote: &str,
        token: Option<&str>,
    ) -> Result<(), ToolError> {
        let c = self.in_dir(dir).args(["fetch", "-q", "--tags", remote]);
        run_authed(c, token).map(drop)
    }

    /// `git clone -q --depth 1 <url> <dir>`: enrolment reads only the tip;
    /// the release tags come from [`Git::remote_tags`] without their history.
    pub fn clone_shallow(&self, url: &str, dir: &Path) -> Result<(), ToolError> {
        let c = Call::new(&self.program)
            .args(["clone", "-q", "--depth", "1", "--", url])
            .arg(dir);
        run_authed(c.timeout(super::SLOW), None).map(drop)
    }

    /// The tags of `dir`'s `origin` (`git ls-remote --tags`), each with the
    /// commit it names: `(name, commit)`, an annotated tag peeled (its
    /// `name^{}` line) to its commit.
    pub fn remote_tags(&self, dir: &Path) -> Result<Vec<(String, String)>, ToolError> {
        let c = self.in_dir(dir).args(["ls-remote", "--tags", "origin"]);
        let out = run_authed(c, None)?;
        let mut tags: std::collections::BTreeMap<String, String> = Default::default();
        for line in out.stdout.lines() {
            let Some((object, r)) = line.split_once('\t') else {
                continue;
            };
            let Some(name) = r.strip_prefix("refs/tags/") else {
                continue;
            };
            match name.strip_suffix("^{}") {
                Some(tag) => {
                    tags.insert(tag.to_owned(), object.to_owned());
                }
                None => {
                    tags.entry(name.to_owned())
                        .or_insert_with(|| object.to_owned());
                }
            }
        }
        Ok(tags.into_iter().collect())
    }

    /// The repository's tags, each with the commit it names: `(name,
    /// commit)`. An annotated tag is peeled to its commit (`%(*objectname)`
    /// is empty for a lightweight tag, whose own object is the commit).
    pub fn tags(&self, dir: &Path) -> Result<Vec<(String, String)>, ToolError> {
        let out = self
            .in_dir(dir)
            .args([
                "for-each-ref",
                "--format=%(refname:strip=2) %(objectname) %(*objectname)",
                "refs/tags",
            ])
            .run()?
            .stdout;
        Ok(super::listed(&out)
            .into_iter()
            .filter_map(|line| {
                let mut f = line.split(' ');
                let (name, object) = (f.next()?, f.next()?);
                let commit = f.next().filter(|p| !p.is_empty()).unwrap_or(object);
                Some((name.to_owned(), commit.to_owned()))
            })
            .collect())
    }

    /// The newest tag reachable from HEAD (`git describe --tags --abbrev=0`).
    pub fn describe_tag(&self, dir: &Path) -> Result<String, ToolError> {
        Ok(self
            .in_dir(dir)
            .args(["describe", "--tags", "--abbrev=0", "HEAD"])
            .run()?
            .stdout
            .trim()
            .to_owned())
    }
}

/// Run a network git command: never prompt for credentials (a CI host has no
/// one to answer), and when a token is given pass it as an `http.extraHeader`
/// through the environment for this command only; git's stderr is scrubbed
/// of it in case a remote echoes the header back.
fn run_authed(mut c: Call, token: Option<&str>) -> Result<super::Output, ToolError> {
    c = c.env("GIT_TERMINAL_PROMPT", "0");
    if let Some(t) = token {
        c = c
            .env("GIT_CONFIG_COUNT", "1")
            .env("GIT_CONFIG_KEY_0", "http.extraHeader")
            .env("GIT_CONFIG_VALUE_0", format!("Authorization: token {t}"));
    }
    c.run().map_err(|e| match (e, token) {
        (
            ToolError::Failed {
                command,
                status,
                stderr,
                stdout,
            },
            Some(t),
        ) => ToolError::Failed {
            command,
            status,
            stderr: stderr.replace(t, "***"),
            stdout: stdout.replace(t, "***"),
        },
        (e, _) => e,
    })
}

impl Default for Git {
    fn default() -> Self {
        Git::new()
    }
}
