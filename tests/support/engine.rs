//! The third world for `ccci run`: the real Docker engine of the test host,
//! with the abra double of tests/fixtures/engine (abra's operations performed
//! for real through the docker CLI) and a real HTTPS gateway that routes by
//! the Traefik `Host` rule of the running services.
//!
//! How a request reaches a task: an overlay task's address is not routable
//! from the host, so each test process runs one gateway container (busybox,
//! `sleep`) attached to the attachable overlay network `proxy` that every app
//! joins, like Traefik. The in-process HTTPS gateway (TLS, SNI, test CA)
//! finds the running service whose labels carry `Host(`<domain>`)` and
//! forwards the request with `docker exec <gateway> wget http://<service>/…`,
//! which the swarm's DNS resolves on `proxy`. A service with no running task
//! has no router, as in Traefik: the answer is Traefik's fallback 404.
//!
//! Shared set-up across concurrent test processes (nextest runs each test in
//! its own process) is counted under a lock file: the first user initialises
//! the swarm (advertise 127.0.0.1) and creates `proxy` when absent, the last
//! one out removes what the tests created, so the host is left as found.
//! Every object a test creates is named with [`PREFIX`].
#![allow(dead_code)]

use std::fs::OpenOptions;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use super::https_app::{Backend, HttpsGateway};

/// Every engine object the tests create starts with this (recipes are named
/// `cct<x>-…`, so run apps are `cct<x>-<nonce>.<ci domain>`).
pub const PREFIX: &str = "cct";
pub const CI: &str = "ci.example.org";
pub const DOCROOT: &str = "/usr/share/nginx/html";
const IMAGE: &str = "cct-busybox:1";
const SHARED: &str = "/tmp/ccci-engine-tests";

pub fn docker(args: &[&str]) -> Output {
    Command::new("docker")
        .args(args)
        .output()
        .expect("docker runs")
}

fn docker_ok(args: &[&str]) -> String {
    let out = docker(args);
    assert!(
        out.status.success(),
        "docker {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The abra double that acts on the engine.
pub fn abra_double() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/engine/abra")
}

/// Whether a docker engine answers here.
pub fn available() -> bool {
    Command::new("docker")
        .args(["info", "--format", "{{.ServerVersion}}"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// `{"pids": [...], "swarm": bool, "proxy": bool}` under the lock.
fn with_shared<T>(f: impl FnOnce(&mut serde_json::Value) -> T) -> T {
    std::fs::create_dir_all(SHARED).unwrap();
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(Path::new(SHARED).join("users.json"))
        .unwrap();
    file.lock().unwrap();
    let mut text = String::new();
    file.read_to_string(&mut text).unwrap();
    let mut v: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|_| serde_json::json!({"pids": []}));
    // A test process that died without releasing no longer counts.
    let live: Vec<serde_json::Value> = v["pids"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|p| Path::new(&format!("/proc/{}", p.as_u64().unwrap_or(0))).exists())
        .collect();
    v["pids"] = live.into();
    let out = f(&mut v);
    file.set_len(0).unwrap();
    file.rewind().unwrap();
    file.write_all(v.to_string().as_bytes()).unwrap();
    out
}

/// The engine for one test process: swarm, `proxy`, the image, a gateway
/// container. Dropping it releases the shared set-up.
pub struct Engine {
    pub gateway_container: String,
    pub gateway: HttpsGateway,
}

impl Engine {
    pub fn acquire() -> Engine {
        with_shared(|v| {
            let users = v["pids"].as_array().map_or(0, Vec::len);
            if users == 0 {
                let state = docker_ok(&["info", "--format", "{{.Swarm.LocalNodeState}}"]);
                if state.trim() == "inactive" {
                    // An overlay network of a swarm left earlier can linger
                    // in the daemon and shadow the new one by name.
                    if v["proxy"] == true {
                        let _ = docker(&["network", "rm", "proxy"]);
                        v["proxy"] = false.into();
                    }
                    // Swarm init also creates the bridge `docker_gwbridge`.
                    v["gwbridge"] = (!docker(&["network", "inspect", "docker_gwbridge"])
                        .status
                        .success())
                    .into();
                    docker_ok(&["swarm", "init", "--advertise-addr", "127.0.0.1"]);
                    v["swarm"] = true.into();
                }
                if !docker(&["network", "inspect", "proxy"]).status.success() {
                    docker_ok(&[
                        "network",
                        "create",
                        "--driver",
                        "overlay",
                        "--attachable",
                        "proxy",
                    ]);
                    v["proxy"] = true.into();
                }
            }
            if !docker(&["image", "inspect", IMAGE]).status.success() {
                build_image();
            }
            v["pids"]
                .as_array_mut()
                .unwrap()
                .push(std::process::id().into());
        });
        let gateway_container = format!("{PREFIX}-gateway-{}", std::process::id());
        let _ = docker(&["rm", "-f", &gateway_container]);
        let started = docker(&[
            "run",
            "-d",
            "--name",
            &gateway_container,
            "--network",
            "proxy",
            IMAGE,
            "sleep",
            "3600",
        ]);
        if !started.status.success() {
            // `run` may have created the container before failing to start it.
            let _ = docker(&["rm", "-f", &gateway_container]);
            panic!(
                "cannot start the gateway container: {}",
                String::from_utf8_lossy(&started.stderr)
            );
        }
        let gateway =
            HttpsGateway::start_with_backend(CI, Some(backend(gateway_container.clone())));
        Engine {
            gateway_container,
            gateway,
        }
    }

    pub fn image(&self) -> &'static str {
        IMAGE
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        let _ = docker(&["rm", "-f", &self.gateway_container]);
        with_shared(|v| {
            let me = std::process::id();
            if let Some(p) = v["pids"].as_array_mut() {
                p.retain(|x| x.as_u64() != Some(u64::from(me)));
            }
            if v["pids"].as_array().is_some_and(Vec::is_empty) {
                if v["proxy"] == true {
                    for _ in 0..20 {
                        if docker(&["network", "rm", "proxy"]).status.success() {
                            // Otherwise the next first user removes it.
                            v["proxy"] = false.into();
                            break;
                        }
                        std::thread::sleep(std::time::Duration::from_millis(500));
                    }
                }
                if v["swarm"] == true {
                    let _ = docker(&["swarm", "leave", "--force"]);
                    v["swarm"] = false.into();
                    if v["gwbridge"] == true {
                        let _ = docker(&["network", "rm", "docker_gwbridge"]);
                        v["gwbridge"] = false.into();
                    }
                }
            }
        });
    }
}

/// `FROM scratch` with Debian's busybox-static: no registry needed.
fn build_image() {
    let busybox = ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("busybox-static is installed (scripts/test installs it)");
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(busybox, dir.path().join("busybox")).unwrap();
    std::fs::write(
        dir.path().join("Dockerfile"),
        "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\n",
    )
    .unwrap();
    docker_ok(&["build", "-q", "-t", IMAGE, dir.path().to_str().unwrap()]);
}

/// Traefik's view of the engine: the running service whose labels carry the
/// domain's Host rule, reached from inside `proxy`.
fn backend(gateway: String) -> Backend {
    Arc::new(move |host: &str, path: &str| {
        let start = now_ns();
        let answer = forward(&gateway, host, path);
        if let Some(log) = GATEWAY_LOG.lock().unwrap().as_ref()
            && let Ok(mut f) = OpenOptions::new().append(true).create(true).open(log)
        {
            let _ = writeln!(f, "{start} {} gateway GET {host}{path}", now_ns());
        }
        answer
    })
}

/// Where the gateway logs each request it forwards (a [`CallLog`]'s file):
/// the time Traefik and the task take to answer is the engine's side.
pub static GATEWAY_LOG: std::sync::Mutex<Option<PathBuf>> = std::sync::Mutex::new(None);

fn now_ns() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

fn forward(gateway: &str, host: &str, path: &str) -> Option<(u16, String)> {
    {
        let rows = docker(&["service", "ls", "--format", "{{.Name}} {{.Replicas}}"]);
        let rows = String::from_utf8_lossy(&rows.stdout);
        let rule = format!("Host(`{host}`)");
        let service = rows.lines().find_map(|l| {
            let (name, replicas) = l.split_once(' ')?;
            let running: u32 = replicas.split('/').next()?.parse().ok()?;
            if !name.starts_with(PREFIX) || running == 0 {
                return None;
            }
            // Another test's stack may go between the listing and this.
            let labels = docker(&[
                "service",
                "inspect",
                name,
                "--format",
                "{{json .Spec.Labels}}",
            ]);
            String::from_utf8_lossy(&labels.stdout)
                .contains(&rule)
                .then(|| name.to_owned())
        })?;
        // busybox's static wget crashes resolving names (glibc NSS), and the
        // service's virtual IP is not routed here (no IPVS); `tasks.<service>`
        // names the task addresses, which is what Traefik uses by default.
        let script = "printf 'GET %s HTTP/1.0\\r\\nHost: %s\\r\\n\\r\\n' \"$1\" \"$2\" | nc -w 5 \"tasks.$3\" 80";
        let out = docker(&[
            "exec", gateway, "sh", "-c", script, "sh", path, host, &service,
        ]);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let status = text
            .lines()
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|s| s.parse().ok());
        match (status, text.split_once("\r\n\r\n")) {
            (Some(status), Some((_, body))) => Some((status, body.to_owned())),
            _ => Some((
                502,
                format!("Bad Gateway: {}", String::from_utf8_lossy(&out.stderr)),
            )),
        }
    }
}

/// Names of every engine object whose name starts with `prefix`: services,
/// containers (any state), volumes, secrets, configs, networks.
pub fn objects_named(prefix: &str) -> Vec<String> {
    let mut left = Vec::new();
    for (kind, args) in [
        ("service", &["service", "ls", "--format", "{{.Name}}"][..]),
        ("container", &["ps", "-a", "--format", "{{.Names}}"]),
        ("volume", &["volume", "ls", "--format", "{{.Name}}"]),
        ("secret", &["secret", "ls", "--format", "{{.Name}}"]),
        ("config", &["config", "ls", "--format", "{{.Name}}"]),
        ("network", &["network", "ls", "--format", "{{.Name}}"]),
    ] {
        for name in docker_ok(args).lines() {
            // Swarm task containers are named `<service>.<slot>.<task id>`.
            if name.starts_with(prefix) {
                left.push(format!("{kind} {name}"));
            }
        }
    }
    left
}

/// Remove whatever a failed scenario left (after its assertions ran).
pub fn remove_all(prefix: &str) {
    for line in objects_named(prefix) {
        let (kind, name) = line.split_once(' ').unwrap();
        let _ = match kind {
            "container" => docker(&["rm", "-f", name]),
            "service" => docker(&["service", "rm", name]),
            k => docker(&[k, "rm", name]),
        };
    }
}

/// One recipe commit: files and an optional release tag.
pub struct Commit {
    pub files: Vec<(String, String)>,
    pub tag: Option<String>,
}

pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.org")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.org")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A recipe as a bare repository under `root/git/coop-cloud/<recipe>.git`:
/// main stops at the last release, the PR head only on `refs/pull/1/head`.
/// Returns the PR head's commit.
pub fn recipe_repo(root: &Path, recipe: &str, commits: &[Commit]) -> String {
    let work = root.join("work-repo");
    std::fs::create_dir_all(&work).unwrap();
    git(&work, &["init", "-q", "-b", "main"]);
    let mut head = String::new();
    for (i, c) in commits.iter().enumerate() {
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
    let bare = root.join(format!("git/coop-cloud/{recipe}.git"));
    std::fs::create_dir_all(bare.parent().unwrap()).unwrap();
    git(root, &["init", "-q", "--bare", bare.to_str().unwrap()]);
    let b = bare.to_str().unwrap();
    git(
        &work,
        &["push", "-q", b, "HEAD~1:refs/heads/main", "--tags"],
    );
    git(&work, &["push", "-q", b, "HEAD:refs/pull/1/head"]);
    head
}

/// What the app's container runs.
pub enum AppCmd {
    /// busybox httpd serving the `content` volume, `index.html` saying `page`.
    Serve { page: &'static str },
    /// Exits 1 at once, over and over.
    Crash,
    /// Like `Serve`, but ignores SIGTERM (a shell as PID 1 without a trap):
    /// its task stops only when the grace period ends and it is killed.
    SlowStop { page: &'static str },
}

/// A recipe compose file, written like real recipes: deploy labels with
/// `${STACK_NAME}` / `${DOMAIN}` interpolation, backupbot label, rollback on
/// a failed update. `unhealthy` adds a healthcheck that never passes.
pub fn compose(version: &str, cmd: &AppCmd, unhealthy: bool) -> String {
    let command = match cmd {
        AppCmd::Serve { page } => format!(
            "echo '<html><body>{page}</body></html>' > {DOCROOT}/index.html; httpd -f -p 80 -h {DOCROOT} & trap 'exit 0' TERM; wait"
        ),
        AppCmd::Crash => "echo 'cannot start: no database' >&2; exit 1".to_owned(),
        AppCmd::SlowStop { page } => format!(
            "echo '<html><body>{page}</body></html>' > {DOCROOT}/index.html; httpd -f -p 80 -h {DOCROOT} & wait"
        ),
    };
    let grace = match cmd {
        AppCmd::SlowStop { .. } => "    stop_grace_period: 4s\n",
        _ => "",
    };
    let health = if unhealthy {
        "    healthcheck:\n      test: [\"CMD\", \"false\"]\n      interval: 1s\n      timeout: 1s\n      retries: 1\n"
    } else {
        ""
    };
    format!(
        r#"version: "3.8"
services:
  app:
    image: {IMAGE}
    command:
      - sh
      - -c
      - "{command}"
    volumes:
      - content:{DOCROOT}
    networks:
      - proxy
{health}{grace}    deploy:
      update_config:
        failure_action: rollback
        order: start-first
        monitor: 5s
      restart_policy:
        delay: 1s
      labels:
        - "traefik.enable=true"
        - "traefik.http.routers.${{STACK_NAME}}.rule=Host(`${{DOMAIN}}`)"
        - "traefik.http.routers.${{STACK_NAME}}.entrypoints=web-secure"
        - "coop-cloud.${{STACK_NAME}}.version={version}"
        - "coop-cloud.${{STACK_NAME}}.timeout=5"
        - "backupbot.backup=true"
volumes:
  content:
networks:
  proxy:
    external: true
"#
    )
}

pub const ENV_SAMPLE: &str = "TYPE=custom-html\nDOMAIN=custom-html.example.com\n## Domain aliases\n#EXTRA_DOMAINS=', `www.custom-html.example.com`'\nLETS_ENCRYPT_ENV=production\nCOMPOSE_FILE=\"compose.yml\"\n";

pub fn release(version: &str, cmd: AppCmd) -> Commit {
    Commit {
        files: vec![
            ("compose.yml".into(), compose(version, &cmd, false)),
            (".env.sample".into(), ENV_SAMPLE.into()),
        ],
        tag: Some(version.into()),
    }
}

pub const SMOKE_TEST: &str = "#!/bin/sh\ntest -n \"$CCCI_BASE_URL\" && test -n \"$CCCI_APP_DOMAIN\" && test -n \"$CCCI_STACK\" || { echo 'missing CCCI_* environment' >&2; exit 1; }\n";

pub fn pr_head(compose_text: String) -> Commit {
    Commit {
        files: vec![
            ("compose.yml".into(), compose_text),
            ("tests/smoke.sh".into(), SMOKE_TEST.into()),
        ],
        tag: None,
    }
}

/// One `ccci run` against the engine.
pub struct Run {
    pub dir: tempfile::TempDir,
    pub recipe: String,
    pub head: String,
    pub plan: PathBuf,
    pub out: PathBuf,
}

impl Run {
    pub fn new(recipe: &str, commits: &[Commit]) -> Run {
        Run::new_with(recipe, commits, |_| {})
    }

    /// [`Run::new`] with the plan changed by `edit` before it is written.
    pub fn new_with(recipe: &str, commits: &[Commit], edit: fn(&mut serde_json::Value)) -> Run {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let head = recipe_repo(root, recipe, commits);
        // What the host's reconcile leaves: `abra server add --local`.
        std::fs::create_dir_all(root.join("abra/servers/default")).unwrap();
        let mut plan: serde_json::Value =
            serde_json::from_str(include_str!("../fixtures/plans/minimal.json")).unwrap();
        plan["recipe"] = recipe.into();
        plan["repo"] = format!("coop-cloud/{recipe}").into();
        plan["abra_dir"] = root.join("abra").to_str().unwrap().into();
        // One runs directory for every engine test, as on the host: the run
        // locks live under it, so a janitor scenario (`--max-age 0s`) sees
        // the other scenarios' live runs as live, not as orphans to reap.
        let runs = std::env::temp_dir().join("ccci-engine-host-runs");
        std::fs::create_dir_all(&runs).unwrap();
        plan["runs_dir"] = runs.to_str().unwrap().into();
        plan["token_file"] = root.join("no-token").to_str().unwrap().into();
        plan["timeouts"]["deploy_secs"] = 30.into();
        plan["timeouts"]["http_secs"] = 10.into();
        plan["checks"] = serde_json::json!([
            {"name": "home page", "path": "/", "statuses": [200], "body_contains": "custom-html", "json_key": null}
        ]);
        edit(&mut plan);
        let plan_path = root.join(format!("{recipe}.json"));
        std::fs::write(&plan_path, serde_json::to_string_pretty(&plan).unwrap()).unwrap();
        Run {
            out: root.join("out"),
            plan: plan_path,
            recipe: recipe.to_owned(),
            head,
            dir,
        }
    }

    /// `ccci run` with the abra double and the real docker.
    pub fn command(&self, engine: &Engine) -> Command {
        let ca = self.dir.path().join("ca.pem");
        std::fs::write(&ca, &engine.gateway.ca_pem).unwrap();
        let double = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/engine/abra");
        let mut c = Command::new(env!("CARGO_BIN_EXE_ccci"));
        c.args(["run", "--plan"])
            .arg(&self.plan)
            .args(["--ref", &self.head, "--src"])
            .arg(format!("coop-cloud/{}", self.recipe))
            .args(["--pr", "1", "--out"])
            .arg(&self.out)
            .env("CCCI_ABRA", double)
            .env_remove("CCCI_DOCKER")
            .env("CCCI_ENGINE_IMAGE", IMAGE)
            .env("CCCI_HTTPS_ADDR", engine.gateway.addr.to_string())
            .env("CCCI_CA_FILE", &ca)
            .env(
                "CCCI_GIT_URL",
                format!("file://{}", self.dir.path().join("git").display()),
            );
        c
    }

    pub fn results(&self) -> ccci::results::ResultsV1 {
        ccci::results::ResultsV1::read(&self.out.join("results.json")).unwrap()
    }
}

/// Wrappers for abra and docker that log each call's start, end (ns since
/// the epoch) and argv to one file, then pass its exit code on: what ccci
/// asked of the engine, and how long the engine took to answer.
pub struct CallLog {
    pub abra: PathBuf,
    pub docker: PathBuf,
    pub log: PathBuf,
}

/// One logged call.
#[derive(Debug, Clone)]
pub struct LoggedCall {
    pub start_ns: u128,
    pub end_ns: u128,
    pub prog: String,
    pub argv: String,
}

impl CallLog {
    pub fn new(dir: &Path) -> CallLog {
        use std::os::unix::fs::PermissionsExt;
        let log = dir.join("calls.log");
        let abra_double = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/engine/abra");
        let docker = String::from_utf8_lossy(
            &Command::new("sh")
                .args(["-c", "command -v docker"])
                .output()
                .unwrap()
                .stdout,
        )
        .trim()
        .to_owned();
        let shim = |name: &str, real: &str| {
            let p = dir.join(format!("{name}-logged"));
            std::fs::write(
                &p,
                format!(
                    "#!/bin/sh\ns=$(date +%s%N)\n'{real}' \"$@\"\nrc=$?\nprintf '%s %s {name} %s\\n' \"$s\" \"$(date +%s%N)\" \"$*\" >> '{log}'\nexit $rc\n",
                    log = log.display()
                ),
            )
            .unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
            p
        };
        CallLog {
            abra: shim("abra", abra_double.to_str().unwrap()),
            docker: shim("docker", &docker),
            log,
        }
    }

    pub fn calls(&self) -> Vec<LoggedCall> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| {
                let mut it = l.splitn(4, ' ');
                Some(LoggedCall {
                    start_ns: it.next()?.parse().ok()?,
                    end_ns: it.next()?.parse().ok()?,
                    prog: it.next()?.to_owned(),
                    argv: it.next().unwrap_or_default().to_owned(),
                })
            })
            .collect()
    }

    /// The longest stretches with no call under way, longest first: (start
    /// ns, seconds, the call that ended just before).
    pub fn gaps(&self, from_ns: u128, n: usize) -> Vec<(f64, f64, String)> {
        let mut calls = self.calls();
        calls.sort_by_key(|c| c.start_ns);
        let mut out = Vec::new();
        let mut covered = from_ns;
        let mut before = "start".to_owned();
        for c in &calls {
            if c.start_ns > covered {
                out.push((
                    (covered - from_ns) as f64 / 1e9,
                    (c.start_ns - covered) as f64 / 1e9,
                    format!("after {before} / before {} {}", c.prog, c.argv),
                ));
            }
            if c.end_ns > covered {
                covered = c.end_ns;
                before = format!("{} {}", c.prog, c.argv);
            }
        }
        out.sort_by(|a, b| b.1.total_cmp(&a.1));
        out.truncate(n);
        out
    }

    /// Seconds during which at least one call was under way.
    pub fn busy_secs(&self) -> f64 {
        let mut spans: Vec<(u128, u128)> = self
            .calls()
            .iter()
            .map(|c| (c.start_ns, c.end_ns))
            .collect();
        spans.sort_unstable();
        let mut total = 0u128;
        let mut cur: Option<(u128, u128)> = None;
        for (s, e) in spans {
            cur = match cur {
                Some((cs, ce)) if s <= ce => Some((cs, ce.max(e))),
                Some((cs, ce)) => {
                    total += ce - cs;
                    Some((s, e))
                }
                None => Some((s, e)),
            };
        }
        if let Some((cs, ce)) = cur {
            total += ce - cs;
        }
        total as f64 / 1e9
    }
}

/// The abra calls and docker calls that change something (not a listing,
/// inspection, log or exec).
pub fn mutating(calls: &[LoggedCall]) -> Vec<String> {
    calls
        .iter()
        .filter(|c| {
            let a = c.argv.as_str();
            let looks = [
                "app ls",
                "recipe lint",
                "service ls",
                "service inspect",
                "service ps",
                "service logs",
                "stack ls",
                "volume ls",
                "secret ls",
                "config ls",
                "network ls",
                "network inspect",
                "ps ",
                "info",
                "inspect",
                "exec ",
                "version",
            ];
            !looks.iter().any(|l| a.starts_with(l))
        })
        .map(|c| format!("{} {}", c.prog, c.argv))
        .collect()
}

/// Runs `ccci run` for `recipe` (named `cct<x>-…`: its apps and every
/// object of them start with the recipe's first four characters) and checks
/// that nothing of it remains on the engine afterwards.
pub fn run(recipe: &str, commits: &[Commit]) -> (Run, std::process::Output, f64) {
    runs(recipe, &[commits]).pop().unwrap()
}

/// [`run`] with the plan changed by `edit` first.
pub fn run_with(
    recipe: &str,
    commits: &[Commit],
    edit: fn(&mut serde_json::Value),
) -> (Run, std::process::Output, f64) {
    runs_with(recipe, &[commits], edit).pop().unwrap()
}

/// `ccci run` once per commit list, all at once, for one recipe; then the
/// engine is asked for anything of the recipe's apps left.
pub fn runs(recipe: &str, each: &[&[Commit]]) -> Vec<(Run, std::process::Output, f64)> {
    runs_with(recipe, each, |_| {})
}

/// [`runs`] with each plan changed by `edit` first.
pub fn runs_with(
    recipe: &str,
    each: &[&[Commit]],
    edit: fn(&mut serde_json::Value),
) -> Vec<(Run, std::process::Output, f64)> {
    let prefix = &recipe[..4];
    let engine = Engine::acquire();
    let done: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = each
            .iter()
            .map(|commits| {
                let engine = &engine;
                s.spawn(move || {
                    let r = Run::new_with(recipe, commits, edit);
                    let start = std::time::Instant::now();
                    let out = r.command(engine).output().unwrap();
                    (r, out, start.elapsed().as_secs_f64())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let left = objects_named(prefix);
    let detail: Vec<String> = left
        .iter()
        .filter_map(|l| l.strip_prefix("volume "))
        .map(|v| {
            let o = docker(&[
                "volume",
                "inspect",
                v,
                "--format",
                "{{json .Labels}} {{.CreatedAt}}",
            ]);
            format!("{v}: {}", String::from_utf8_lossy(&o.stdout).trim())
        })
        .collect();
    let results: Vec<String> = done
        .iter()
        .map(|(r, out, _)| {
            format!(
                "stderr: {}\nresults: {}",
                String::from_utf8_lossy(&out.stderr),
                std::fs::read_to_string(r.out.join("results.json")).unwrap_or_default()
            )
        })
        .collect();
    remove_all(prefix);
    drop(engine);
    assert!(
        left.is_empty(),
        "left on the engine after the run: {left:?} {detail:?}\n{}",
        results.join("\n")
    );
    for (_, _, secs) in &done {
        eprintln!("{recipe}: ccci run took {secs:.1} s");
    }
    done
}
