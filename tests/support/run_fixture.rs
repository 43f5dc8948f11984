//! A complete world for `ccci run` tests: the fake abra/docker host, a real
//! HTTPS gateway that routes run domains to the fake host's services (like
//! Traefik and nginx, reading the fake's state), and real git repositories
//! with release tags and a `refs/pull/1/head` the PR commit is only reachable
//! through.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ccci::plan::PlanV1;
use ccci::run::abra_platform::AbraPlatform;
use ccci::run::probe::ProbeConfig;
use ccci::run::production::ProductionWorld;
use serde_json::Value;

use super::fake_tools::{FakeHost, git};
use super::https_app::HttpsGateway;
pub use super::recipe_fixture::*;

pub struct World {
    pub host: FakeHost,
    pub gateway: HttpsGateway,
    pub git_base: String,
    pub head: String,
    pub out: PathBuf,
    pub plan_path: PathBuf,
    pub plan: PlanV1,
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// The gateway's view of the fake host: a router exists when a running
/// service of the domain's stack carries a Host rule naming the domain; `/`
/// is the app's page, other paths come from the volume nginx serves.
fn backend(state: PathBuf) -> super::https_app::Backend {
    Arc::new(move |host: &str, path: &str| {
        let text = std::fs::read_to_string(state.join("state.json")).ok()?;
        let s: Value = serde_json::from_str(&text).ok()?;
        let stack = host.replace('.', "_");
        let rule = format!("Host(`{host}`)");
        let svc = s["services"].as_object()?.values().find(|v| {
            let running = v["running"].as_u64().unwrap_or(0) > 0
                && v["ready_at"].as_f64().is_none_or(|t| now() >= t);
            v["stack"] == stack.as_str()
                && running
                && v["labels"].as_object().is_some_and(|l| {
                    l.values()
                        .any(|x| x.as_str().is_some_and(|x| x.contains(&rule)))
                })
        })?;
        if path == "/" {
            return Some((200, "<html><body>custom-html</body></html>".into()));
        }
        let vol = svc["mounts"][HTML].as_str()?;
        let rel = path.trim_start_matches('/');
        match s["volumes"][vol]["files"][rel].as_str() {
            Some(body) => Some((200, body.to_owned())),
            None => Some((404, "<html><body>nginx: 404 Not Found</body></html>".into())),
        }
    })
}

impl World {
    /// A host with an active swarm, the proxy network, the local server, and
    /// the recipe's repository with `releases` and the PR commit.
    pub fn new(releases: Vec<Commit>, pr: Commit) -> World {
        let host = FakeHost::new();
        // What swarm init, the proxy network and server add leave behind
        // (tests/tools_fakes.rs tests those calls).
        host.seed_swarm();
        host.clear_calls();
        let gateway = HttpsGateway::start_with_backend(CI, Some(backend(host.state.clone())));

        let work = host.root.join("work-repo");
        std::fs::create_dir_all(&work).unwrap();
        git(&work, &["init", "-q", "-b", "main"]);
        let mut head = String::new();
        for (i, c) in releases.iter().chain(std::iter::once(&pr)).enumerate() {
            for (path, content) in &c.files {
                let p = work.join(path);
                std::fs::create_dir_all(p.parent().unwrap()).unwrap();
                std::fs::write(&p, content).unwrap();
                if path.starts_with("tests/") {
                    use std::os::unix::fs::PermissionsExt;
                    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
                }
            }
            git(&work, &["add", "-A"]);
            git(&work, &["commit", "-q", "-m", &format!("commit {i}")]);
            if let Some(t) = &c.tag {
                git(&work, &["tag", t]);
            }
            head = git(&work, &["rev-parse", "HEAD"]);
        }
        let git_root = host.root.join("git");
        let bare = git_root.join(format!("{REPO}.git"));
        std::fs::create_dir_all(bare.parent().unwrap()).unwrap();
        git(&git_root, &["init", "-q", "--bare", bare.to_str().unwrap()]);
        // main stops at the last release; the PR commit is only on refs/pull/1/head.
        git(
            &work,
            &[
                "push",
                "-q",
                bare.to_str().unwrap(),
                "HEAD~1:refs/heads/main",
                "--tags",
            ],
        );
        git(
            &work,
            &[
                "push",
                "-q",
                bare.to_str().unwrap(),
                "HEAD:refs/pull/1/head",
            ],
        );

        let out = host.root.join("out");
        let mut plan = plan_json(&host.root);
        plan["abra_dir"] = host.abra_dir.to_str().unwrap().into();
        let plan_path = host.root.join("custom-html.json");
        std::fs::write(&plan_path, serde_json::to_string_pretty(&plan).unwrap()).unwrap();
        let plan = PlanV1::read(&plan_path).unwrap();
        World {
            git_base: format!("file://{}", git_root.display()),
            host,
            gateway,
            head,
            out,
            plan_path,
            plan,
        }
    }

    pub fn platform(&self) -> AbraPlatform {
        AbraPlatform::new(
            self.host.abra_program(),
            ccci::tools::pty::script_program(),
            self.host.docker(),
            ccci::tools::Program::new("tar", Duration::from_secs(30)),
            Duration::from_secs(60),
        )
    }

    /// The production world over the fake host.
    pub fn production(&self) -> ProductionWorld {
        ProductionWorld::new(self.platform())
    }

    pub fn probe(&self) -> ProbeConfig {
        ProbeConfig {
            connect: self.gateway.addr,
            extra_ca_pem: Some(self.gateway.ca_pem.clone().into_bytes()),
            request_timeout: Duration::from_secs(5),
        }
    }

    pub fn ca_file(&self) -> PathBuf {
        let p = self.host.root.join("ca.pem");
        std::fs::write(&p, &self.gateway.ca_pem).unwrap();
        p
    }

    pub fn state(&self) -> Value {
        self.host.host()
    }

    pub fn root(&self) -> &Path {
        &self.host.root
    }
}
