//! The `ccci run` scenarios' world in memory: the custom-html recipe's
//! repository (releases on `main` with tags, the PR commit only on
//! `refs/pull/1/head`), the plan, and a [`MemWorld`] with the recipe's smoke
//! test modelled. A whole run costs milliseconds.
#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Duration;

use ccci::plan::PlanV1;
use ccci::registry::LaneMode;
use ccci::results::ResultsV1;
use ccci::run::lanes::{self, RunInputs};
use ccci::run::probe::ProbeConfig;
use ccci::run::progress::Progress;
use ccci::run::world::{ChildEnd, ChildRun, World};

use super::mem_world::{FakePage, Knobs, MemWorld, Repo, Site, TestBehaviour};
pub use super::recipe_fixture::*;

pub const GIT_BASE: &str = "mem://git";

/// What tests/smoke.sh (`SMOKE_TEST`) checks: the run handed it the app.
pub fn smoke_test() -> TestBehaviour {
    Box::new(|c: &ChildRun<'_>| {
        let get = |k: &str| {
            c.env
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        let fail = |msg: String| ChildEnd::Exited {
            success: false,
            status: "exit status: 1".into(),
            stderr: format!("{msg}\n"),
        };
        if get("CCCI_BASE_URL").is_empty()
            || get("CCCI_APP_DOMAIN").is_empty()
            || get("CCCI_STACK").is_empty()
        {
            return fail("missing CCCI_* environment".into());
        }
        let url = get("CCCI_BASE_URL");
        if !(url.starts_with("https://") && url.ends_with(&format!(".{CI}"))) {
            return fail(format!("bad base url {url}"));
        }
        ChildEnd::Exited {
            success: true,
            status: "exit status: 0".into(),
            stderr: String::new(),
        }
    })
}

pub struct Scenario {
    pub world: MemWorld,
    pub plan: PlanV1,
    pub head: String,
    dir: tempfile::TempDir,
}

impl Scenario {
    /// The recipe's repository with `releases` and the PR commit `pr`.
    pub fn new(releases: Vec<Commit>, pr: Commit) -> Scenario {
        Scenario::build(releases, pr, plan_json, &format!("{GIT_BASE}/{REPO}.git"))
    }

    /// The same with the plan `plan` makes (given the scenario's directory)
    /// and the repository at `repo_url`.
    pub fn build(
        releases: Vec<Commit>,
        pr: Commit,
        plan: impl FnOnce(&std::path::Path) -> serde_json::Value,
        repo_url: &str,
    ) -> Scenario {
        let mut repo = Repo::default();
        let mut parent: Option<String> = None;
        let mut last_release = None;
        for c in releases.iter().chain(std::iter::once(&pr)) {
            let id = repo.commit(parent.as_deref(), &c.files);
            if let Some(t) = &c.tag {
                repo.tags.insert(t.clone(), id.clone());
                last_release = Some(id.clone());
            }
            parent = Some(id);
        }
        let head = parent.unwrap_or_default();
        if let Some(main) = last_release {
            repo.refs.insert("refs/heads/main".into(), main);
        }
        repo.refs.insert("refs/pull/1/head".into(), head.clone());

        let mut knobs = Knobs::default();
        knobs.tests.insert("smoke.sh".into(), smoke_test());
        let world = MemWorld::new(
            knobs,
            Site {
                docroot: HTML.into(),
                home: "<html><body>custom-html</body></html>".into(),
                home_status: 200,
                routes: Default::default(),
                pages: [(
                    "/".to_owned(),
                    FakePage {
                        title: "custom-html".into(),
                        text: "custom-html".into(),
                        ..FakePage::default()
                    },
                )]
                .into(),
            },
        );
        world.add_repo(repo_url, repo);
        let dir = tempfile::tempdir().unwrap();
        let plan_text = serde_json::to_string(&plan(dir.path())).unwrap();
        let plan = PlanV1::from_json("custom-html.json", &plan_text).unwrap();
        Scenario {
            world,
            plan,
            head,
            dir,
        }
    }

    /// Two releases and a PR head at a newer version: everything passes.
    pub fn green() -> Scenario {
        Scenario::new(
            vec![release("1.0.0+1.25"), release("1.1.0+1.27")],
            pr_head(compose("1.2.0+1.27", "content", "DOMAIN")),
        )
    }

    /// The scenario's own directory (plans put host files there).
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    pub fn work_dir(&self) -> PathBuf {
        self.dir.path().join("work")
    }

    /// The run's output directory (screenshots).
    pub fn out_dir(&self) -> PathBuf {
        self.dir.path().join("out")
    }

    pub fn run(&self, mode: LaneMode) -> (ResultsV1, String) {
        let progress = if std::env::var_os("CCCI_TEST_PROGRESS").is_some() {
            Progress::stdout()
        } else {
            Progress::silent()
        };
        self.run_with(mode, progress)
    }

    pub fn run_with(&self, mode: LaneMode, progress: Progress) -> (ResultsV1, String) {
        let probe = ProbeConfig {
            connect: "127.0.0.1:443".parse().unwrap(),
            extra_ca_pem: None,
            request_timeout: Duration::from_secs(5),
        };
        self.run_in(&self.world, probe, mode, progress)
    }

    /// A run that `cancel` can stop (a signal, the parent's death).
    pub fn run_cancellable(
        &self,
        mode: LaneMode,
        progress: Progress,
        cancel: ccci::run::interrupt::Cancel,
    ) -> (ResultsV1, String) {
        let probe = ProbeConfig {
            connect: "127.0.0.1:443".parse().unwrap(),
            extra_ca_pem: None,
            request_timeout: Duration::from_secs(5),
        };
        self.run_full(&self.world, probe, mode, progress, cancel)
    }

    /// A run in another world (one that wraps this scenario's), reaching
    /// apps where `probe` says.
    pub fn run_in(
        &self,
        world: &dyn World,
        probe: ProbeConfig,
        mode: LaneMode,
        progress: Progress,
    ) -> (ResultsV1, String) {
        self.run_full(world, probe, mode, progress, Default::default())
    }

    fn run_full(
        &self,
        world: &dyn World,
        probe: ProbeConfig,
        mode: LaneMode,
        progress: Progress,
        cancel: ccci::run::interrupt::Cancel,
    ) -> (ResultsV1, String) {
        let inputs = RunInputs {
            plan: &self.plan,
            world,
            probe,
            progress,
            git_ref: self.head.clone(),
            src: REPO.parse().unwrap(),
            pr: Some(1),
            work_dir: self.work_dir(),
            out_dir: self.out_dir(),
            lanes: mode,
            poll: Duration::from_millis(50),
            backup_attempts: 3,
            run_id: "abc123def456".into(),
            git_base: GIT_BASE.into(),
            cancel,
        };
        let out = lanes::execute(&inputs);
        (out.results, out.lint_text)
    }

    /// Nothing of any app is left on the host.
    pub fn assert_nothing_left(&self) {
        let s = self.world.state();
        assert!(
            s.services.is_empty(),
            "services left: {:?}",
            s.services.keys()
        );
        assert!(s.volumes.is_empty(), "volumes left: {:?}", s.volumes.keys());
        assert!(s.secrets.is_empty(), "secrets left: {:?}", s.secrets.keys());
        assert!(
            s.deployed.is_empty(),
            "deployed left: {:?}",
            s.deployed.keys()
        );
        assert!(s.apps.is_empty(), "env files left: {:?}", s.apps.keys());
    }
}
