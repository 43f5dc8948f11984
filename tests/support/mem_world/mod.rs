//! The in-memory [`World`]: a Rust model of the host `ccci run` acts on, so
//! every lane scenario runs in milliseconds.
//!
//! It keeps what the fake abra/docker executables (tests/fixtures/bin) keep —
//! apps and their env files, services with replicas, labels and update state,
//! volumes with files, secrets with versions and values, backups, deployed
//! stacks — plus the recipe's git repository (commits, tags, the PR ref), the
//! gateway's answers (routers, Traefik's fallback 404 and default
//! certificate), the recipe's own tests, and a virtual clock: a sleep only
//! moves the clock, so a wait costs nothing and a convergence delay is a point
//! in virtual time.
//!
//! Why under `tests/support/` and not in the library: it is a test double
//! with knobs for faults; the shipped binary has no use for it, and every
//! scenario that needs it goes through the library's public `lanes::execute`
//! anyway. The argv contract with abra and docker is not modelled here: that
//! is what the fake executables are for (tests/tools_fakes.rs and the one
//! end-to-end smoke run in tests/run_cli.rs).
//!
//! Recipe checkouts are real directories (the lanes read compose files and
//! `tests/` from them): [`MemWorld`]'s git writes a commit's files there.
#![allow(dead_code)]

mod browser;
mod compose;
mod container;
mod env;
mod git;
mod janitor;
mod swarm;
mod web;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use ccci::run::world::{Browser, ChildEnd, ChildRun, Clock, Git, Platform, Processes, Web, World};

#[allow(unused_imports)]
pub use browser::{FakePage, Submit};
pub use git::Repo;
#[allow(unused_imports)]
pub use swarm::{Backup, Deployed, EXPECTS_SECRET, MemApp, Secret, Service, Volume};
#[allow(unused_imports)]
pub use web::{app_answer, traefik_fallback};

/// One operation the run asked of the world, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    AppNew {
        abra_dir: PathBuf,
        domain: String,
    },
    SetEnv {
        domain: String,
        edits: Vec<(String, String)>,
    },
    SecretGenerateAll {
        domain: String,
    },
    SecretGenerateOne {
        domain: String,
        name: String,
        version: String,
    },
    SecretInsert {
        domain: String,
        name: String,
        version: String,
        file: PathBuf,
    },
    Deploy {
        domain: String,
        redeploy: bool,
        /// The env the app was deployed with.
        env: BTreeMap<String, String>,
    },
    Exec {
        domain: String,
        service: String,
        script: String,
    },
    BackupCreate {
        domain: String,
    },
    Restore {
        domain: String,
    },
    Lint {
        abra_dir: PathBuf,
    },
    Teardown {
        domain: String,
    },
    Fetch {
        git_ref: String,
        src_url: String,
        upstream_url: String,
        /// Whether the bot token went with the clone.
        with_token: bool,
    },
    Checkout {
        recipe_dir: PathBuf,
        rev: String,
    },
    Child {
        program: PathBuf,
        env: Vec<(String, String)>,
    },
}

/// What a recipe test does when the world "runs" it.
pub type TestBehaviour = Box<dyn Fn(&ChildRun<'_>) -> ChildEnd + Send + Sync>;

/// Faults and behaviours, one knob per scenario the fakes' control file
/// supports. Stack lists take patterns with `*` (app names are random).
/// Two controls have no knob because they are argv traps, not host
/// behaviour: `starting` (a deploy without `-c`) and `volume_busy` (the
/// production teardown's retries); tests/tools_fakes.rs covers both.
#[derive(Default)]
pub struct Knobs {
    /// Deploys of these stacks never converge (0 of N running).
    pub crash_loop: Vec<String>,
    /// A redeploy of these stacks rolls back to the previous spec.
    pub rollback: Vec<String>,
    /// A redeploy keeps the previous chaos-version label.
    pub stale_chaos_version: Vec<String>,
    /// Restore does not bring the backed-up files back.
    pub lose_volume_data: Vec<String>,
    /// Backups succeed but hold empty volumes.
    pub backup_lies: Vec<String>,
    /// The gateway presents Traefik's default certificate for these stacks.
    pub default_cert: Vec<String>,
    /// Rules `recipe lint` reports unsatisfied.
    pub lint_failed: Vec<String>,
    /// An operation (`app_new`, `deploy`, `backup_create`, …) that fails with
    /// this message; `infra:` first makes it an infrastructure error.
    pub fail: BTreeMap<String, String>,
    /// Services report 0 running for this long after a deploy.
    pub converge_delay: Duration,
    /// Recipe tests by file name; a test without one exits 0.
    pub tests: BTreeMap<String, TestBehaviour>,
    /// No browser driver on this host.
    pub no_browser: bool,
}

/// The gateway and the apps' web content.
#[derive(Debug, Clone)]
pub struct Site {
    /// The directory the app serves files from (a volume mount path).
    pub docroot: String,
    /// The body of `/`.
    pub home: String,
    /// The status of `/` (an app whose home page asks for a login: 401).
    pub home_status: u16,
    /// Fixed answers by path, before `/` and the document root.
    pub routes: BTreeMap<String, ccci::run::probe::Answer>,
    /// What a browser sees, by path.
    pub pages: BTreeMap<String, FakePage>,
}

/// Everything the model holds.
#[derive(Default)]
pub struct State {
    /// Virtual time since the world was made.
    pub elapsed: Duration,
    pub repos: BTreeMap<String, Repo>,
    /// Recipe checkouts: directory → its clone and HEAD.
    pub checkouts: BTreeMap<PathBuf, git::Clone_>,
    /// Apps by domain: their env files.
    pub apps: BTreeMap<String, MemApp>,
    pub services: BTreeMap<String, Service>,
    pub volumes: BTreeMap<String, Volume>,
    pub secrets: BTreeMap<String, Secret>,
    pub backups: BTreeMap<String, Vec<Backup>>,
    pub deployed: BTreeMap<String, Deployed>,
    pub calls: Vec<Call>,
    /// Every secret value ever generated (full name, value), kept after
    /// teardown so tests can prove no value reached an output.
    pub generated: Vec<(String, String)>,
    /// Full names of the generated secrets whose values went to the run's
    /// masker (`Platform::take_secret_values`).
    pub handed: Vec<String>,
    /// Browsers open now, and ever opened.
    pub browsers_open: i64,
    pub browsers_opened: u64,
    /// Every value typed into a page.
    pub typed: Vec<String>,
    /// Every HTTPS request through the gateway: (domain, path).
    pub requests: Vec<(String, String)>,
    /// Screenshots that come out blank before the page paints.
    pub blank_captures_left: u32,
    next_id: u64,
}

impl State {
    fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }
}

/// The in-memory world. Share it by reference between the lanes' threads.
pub struct MemWorld {
    state: Mutex<State>,
    pub knobs: Knobs,
    pub site: Site,
    epoch: Instant,
    /// Ages in seconds of env files, by domain, as the janitor sees them.
    pub app_ages: Mutex<BTreeMap<String, u64>>,
}

impl MemWorld {
    pub fn new(knobs: Knobs, site: Site) -> MemWorld {
        MemWorld {
            state: Mutex::default(),
            knobs,
            site,
            epoch: Instant::now(),
            app_ages: Mutex::default(),
        }
    }

    /// The model, locked.
    pub fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every call so far.
    pub fn calls(&self) -> Vec<Call> {
        self.state().calls.clone()
    }

    /// Add a repository at `url`.
    pub fn add_repo(&self, url: &str, repo: Repo) {
        self.state().repos.insert(url.to_owned(), repo);
    }

    /// Whether a stack is named by a knob's list.
    pub fn listed(stack: &str, patterns: &[String]) -> bool {
        patterns.iter().any(|p| glob(p, stack))
    }
}

/// `*` matches any run of characters; everything else matches itself.
pub fn glob(pattern: &str, s: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == s,
        Some((head, tail)) => {
            let Some(rest) = s.strip_prefix(head) else {
                return false;
            };
            (0..=rest.len()).any(|i| rest.is_char_boundary(i) && glob(tail, &rest[i..]))
        }
    }
}

impl World for MemWorld {
    fn platform(&self) -> &dyn Platform {
        self
    }
    fn git(&self) -> &dyn Git {
        self
    }
    fn web(&self) -> &dyn Web {
        self
    }
    fn browser(&self) -> &dyn Browser {
        self
    }
    fn processes(&self) -> &dyn Processes {
        self
    }
    fn clock(&self) -> &dyn Clock {
        self
    }
}

impl Clock for MemWorld {
    fn now(&self) -> Instant {
        self.epoch + self.state().elapsed
    }
    fn sleep(&self, d: Duration) {
        self.state().elapsed += d;
    }
    fn unix_secs(&self) -> u64 {
        1_800_000_000 + self.state().elapsed.as_secs()
    }
}

impl Processes for MemWorld {
    fn run(&self, child: &ChildRun<'_>) -> ChildEnd {
        self.state().calls.push(Call::Child {
            program: child.program.to_owned(),
            env: child.env.clone(),
        });
        let name = child
            .program
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        match self.knobs.tests.get(&name) {
            Some(behave) => behave(child),
            None => ChildEnd::Exited {
                success: true,
                status: "exit status: 0".into(),
                stderr: String::new(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::glob;

    #[test]
    fn glob_matches_stars() {
        assert!(glob("cust-*", "cust-0a1b2c_ci_example_org"));
        assert!(!glob("cust-*", "html-0a1b2c"));
        assert!(glob("*", ""));
        assert!(glob("a*c", "abbbc"));
    }
}
