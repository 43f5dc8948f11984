//! The fake `abra` and `docker` executables (tests/fixtures/bin) wired to a
//! throw-away state directory, plus helpers to build recipe git repos and to
//! read back what the fakes recorded. See tests/fixtures/bin/fakelib.py for
//! the simulated host and its control surface.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use ccci::tools::Program;
use ccci::tools::abra::Abra;
use ccci::tools::docker::Docker;
use serde_json::Value;

/// One recorded invocation of a fake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolCall {
    pub prog: String,
    pub argv: Vec<String>,
    pub abra_dir: Option<String>,
    pub tty: bool,
}

impl ToolCall {
    /// `prog argv…` on one line, for assertions and failure messages.
    pub fn line(&self) -> String {
        format!("{} {}", self.prog, self.argv.join(" "))
    }

    /// Whether the call can change the simulated host. Read-only calls are
    /// listings and inspections.
    pub fn is_mutating(&self) -> bool {
        let a: Vec<&str> = self.argv.iter().map(String::as_str).collect();
        let read_only = match self.prog.as_str() {
            "docker" => matches!(
                a.as_slice(),
                ["info", ..]
                    | ["network", "ls" | "inspect", ..]
                    | ["service", "ls" | "inspect" | "ps", ..]
                    | ["volume" | "secret" | "config", "ls", ..]
                    | ["ps", ..]
            ),
            "abra" => matches!(a.as_slice(), ["app", "ls", ..]),
            _ => false,
        };
        !read_only
    }
}

/// A simulated host for one test.
pub struct FakeHost {
    _dir: tempfile::TempDir,
    pub root: PathBuf,
    pub state: PathBuf,
    pub abra_dir: PathBuf,
}

pub fn bin_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bin")
}

impl FakeHost {
    pub fn new() -> FakeHost {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().to_path_buf();
        let state = root.join("state");
        let abra_dir = root.join("abra");
        std::fs::create_dir_all(&state).expect("state dir");
        std::fs::create_dir_all(&abra_dir).expect("abra dir");
        FakeHost {
            _dir: dir,
            root,
            state,
            abra_dir,
        }
    }

    pub fn abra_program(&self) -> Program {
        Program::new(bin_dir().join("abra"), Duration::from_secs(30))
            .with_env("CCCI_FAKE_STATE", &self.state)
    }

    pub fn docker_program(&self) -> Program {
        Program::new(bin_dir().join("docker"), Duration::from_secs(30))
            .with_env("CCCI_FAKE_STATE", &self.state)
    }

    pub fn abra(&self) -> Abra {
        Abra::with_programs(
            self.abra_program(),
            ccci::tools::pty::script_program(),
            &self.abra_dir,
        )
    }

    pub fn docker(&self) -> Docker {
        Docker::with_program(self.docker_program())
    }

    /// A `Command` for a program with the fakes configured through env vars.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new(program);
        c.env("CCCI_ABRA", bin_dir().join("abra"))
            .env("CCCI_DOCKER", bin_dir().join("docker"))
            .env("CCCI_FAKE_STATE", &self.state)
            .env("ABRA_DIR", &self.abra_dir);
        c
    }

    /// Every call recorded so far, in order.
    pub fn calls(&self) -> Vec<ToolCall> {
        let text = std::fs::read_to_string(self.state.join("calls.jsonl")).unwrap_or_default();
        text.lines()
            .map(|l| {
                let v: Value = serde_json::from_str(l).expect("calls.jsonl line");
                ToolCall {
                    prog: v["prog"].as_str().unwrap_or_default().to_owned(),
                    argv: v["argv"]
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .filter_map(|x| x.as_str().map(str::to_owned))
                                .collect()
                        })
                        .unwrap_or_default(),
                    abra_dir: v["abra_dir"].as_str().map(str::to_owned),
                    tty: v["tty"].as_bool().unwrap_or(false),
                }
            })
            .collect()
    }

    pub fn mutating_calls(&self) -> Vec<ToolCall> {
        self.calls()
            .into_iter()
            .filter(ToolCall::is_mutating)
            .collect()
    }

    pub fn clear_calls(&self) {
        let _ = std::fs::remove_file(self.state.join("calls.jsonl"));
    }

    /// The simulated host (swarm, services, volumes, secrets, resets, …).
    pub fn host(&self) -> Value {
        std::fs::read_to_string(self.state.join("state.json"))
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or(Value::Null)
    }

    /// What `docker swarm init`, `docker network create --driver overlay
    /// --attachable proxy` and `abra server add --local` leave behind,
    /// written directly: three interpreter start-ups saved for tests that do
    /// not test those calls.
    pub fn seed_swarm(&self) {
        let net = |driver: &str, scope: &str, attachable: bool| serde_json::json!({"driver": driver, "scope": scope, "attachable": attachable, "stack": null});
        let state = serde_json::json!({
            "swarm": {"state": "active", "advertise_addr": "127.0.0.1"},
            "networks": {
                "bridge": net("bridge", "local", false),
                "host": net("host", "local", false),
                "ingress": net("overlay", "swarm", false),
                "proxy": net("overlay", "swarm", true),
            },
        });
        std::fs::write(self.state.join("state.json"), state.to_string()).expect("state");
        std::fs::create_dir_all(self.abra_dir.join("servers/default")).expect("server dir");
    }

    /// Replace control.json (see fakelib.py for the keys).
    pub fn set_control(&self, control: Value) {
        std::fs::write(self.state.join("control.json"), control.to_string()).expect("control");
    }

    /// Run a fake directly, e.g. `host.run("docker", &["swarm", "init", …])`.
    pub fn run(&self, prog: &str, args: &[&str]) -> std::process::Output {
        self.command(bin_dir().join(prog))
            .args(args)
            .output()
            .expect("run fake")
    }

    /// A recipe as a git repo at `$STATE/upstream/<name>` (what `abra recipe
    /// fetch` clones) with one commit per `(tag, files)` release, tagged.
    pub fn upstream_recipe(&self, name: &str, releases: &[(&str, &[(&str, &str)])]) -> PathBuf {
        let repo = self.state.join("upstream").join(name);
        std::fs::create_dir_all(&repo).expect("recipe dir");
        git(&repo, &["init", "-q", "-b", "main"]);
        for (tag, files) in releases {
            for (path, content) in *files {
                let p = repo.join(path);
                if let Some(parent) = p.parent() {
                    std::fs::create_dir_all(parent).expect("dir");
                }
                std::fs::write(&p, content).expect("write recipe file");
            }
            git(&repo, &["add", "-A"]);
            git(&repo, &["commit", "-q", "-m", &format!("release {tag}")]);
            git(&repo, &["tag", tag]);
        }
        repo
    }

    /// Clone an upstream recipe into `$ABRA_DIR/recipes/<name>` (as `abra
    /// recipe fetch` would).
    pub fn fetch_recipe(&self, name: &str) -> PathBuf {
        let dst = self.abra_dir.join("recipes").join(name);
        std::fs::create_dir_all(dst.parent().expect("parent")).expect("recipes dir");
        let src = self.state.join("upstream").join(name);
        let out = Command::new("git")
            .args(["clone", "-q"])
            .arg(&src)
            .arg(&dst)
            .output()
            .expect("git clone");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        dst
    }
}

impl Default for FakeHost {
    fn default() -> Self {
        FakeHost::new()
    }
}

pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "ccci test")
        .env("GIT_AUTHOR_EMAIL", "ci@example.org")
        .env("GIT_COMMITTER_NAME", "ccci test")
        .env("GIT_COMMITTER_EMAIL", "ci@example.org")
        .output()
        .expect("git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}
