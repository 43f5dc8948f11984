//! Fixtures for `ccci reconcile` tests: recipes shaped like traefik, drone
//! and backup-bot-two (secrets, overlays, env samples) and configs as
//! ccci-gen would render them, in two worlds: [`MemInfra`], the in-memory
//! world the scenarios run in, and [`Infra`], real recipe repos with the fake
//! executables and the `ccci` binary, for the argv contract with abra/docker
//! and end-to-end smoke runs.

use std::path::{Path, PathBuf};
use std::process::Output;

use ccci::config::parse_config;
use ccci::reconcile::memory::{MemoryHost, MemoryWorld, Recipe};
use ccci::reconcile::{self, ReconcileError, Report, drone::Waits};
use ccci::tools::docker::{NetworkRow, SwarmState};
use serde_json::{Value, json};

use super::fake_tools::FakeHost;

pub const PROXY_DOMAIN: &str = "traefik.ci.example.org";
pub const PROXY_STACK: &str = "traefik_ci_example_org";
pub const DRONE_DOMAIN: &str = "drone.ci.example.org";
pub const DRONE_STACK: &str = "drone_ci_example_org";
pub const BACKUP_DOMAIN: &str = "backups.ci.example.org";
pub const BACKUP_STACK: &str = "backups_ci_example_org";

const TRAEFIK_COMPOSE: &str = r#"version: "3.8"
services:
  app:
    image: "traefik:v3.3.5"
    volumes:
      - "/var/run/docker.sock:/var/run/docker.sock"
      - "letsencrypt:/etc/letsencrypt"
    networks:
      - proxy
    deploy:
      labels:
        - "traefik.enable=true"
        - "traefik.http.routers.traefik.entrypoints=web-secure"
networks:
  proxy:
    external: true
volumes:
  letsencrypt:
"#;

const TRAEFIK_WILDCARD: &str = r#"version: "3.8"
services:
  app:
    secrets:
      - ssl_cert
      - ssl_key
secrets:
  ssl_cert:
    external: true
    name: ${STACK_NAME}_ssl_cert_${SECRET_WILDCARD_CERT_VERSION}
  ssl_key:
    external: true
    name: ${STACK_NAME}_ssl_key_${SECRET_WILDCARD_KEY_VERSION}
"#;

const TRAEFIK_SAMPLE: &str = "TYPE=traefik\nDOMAIN=traefik.example.com\nLETS_ENCRYPT_ENV=production\n# WILDCARDS_ENABLED=1\n#SECRET_WILDCARD_CERT_VERSION=v1\n#SECRET_WILDCARD_KEY_VERSION=v1\n#COMPOSE_FILE=\"compose.yml:compose.wildcard.yml\"\nLOG_LEVEL=WARN\n";

const DRONE_COMPOSE: &str = r#"version: "3.8"
services:
  app:
    image: drone/drone:2.25.0
    volumes:
      - data:/data
    networks:
      - proxy
    secrets:
      - rpc_secret
    deploy:
      labels:
        - "traefik.enable=true"
networks:
  proxy:
    external: true
volumes:
  data:
secrets:
  rpc_secret:
    external: true
    name: ${STACK_NAME}_rpc_secret_${SECRET_RPC_SECRET_VERSION}
"#;

const DRONE_GITEA: &str = r#"version: "3.8"
services:
  app:
    secrets:
      - client_secret
secrets:
  client_secret:
    external: true
    name: ${STACK_NAME}_client_secret_${SECRET_CLIENT_SECRET_VERSION}
"#;

const DRONE_SAMPLE: &str = "TYPE=drone\nDOMAIN=drone.example.com\nLETS_ENCRYPT_ENV=production\nSECRET_RPC_SECRET_VERSION=v1\n#COMPOSE_FILE=\"compose.yml:compose.gitea.yml\"\n#GITEA_DOMAIN=\n#GITEA_CLIENT_ID=\n#SECRET_CLIENT_SECRET_VERSION=v1";

const BACKUP_COMPOSE: &str = r#"version: "3.8"
services:
  app:
    image: git.coopcloud.tech/coop-cloud/backup-bot-two:2.3.0-beta
    volumes:
      - "/var/run/docker.sock:/var/run/docker.sock"
      - "backups:/backups"
    secrets:
      - restic_password
volumes:
  backups:
secrets:
  restic_password:
    external: true
    name: ${STACK_NAME}_restic_password_${SECRET_RESTIC_PASSWORD_VERSION}
"#;

/// Ends in a comment without a final newline: a naive append glued
/// `RESTIC_REPOSITORY=…` onto exactly such a line
/// (docs/abra.md, "The missing final newline").
pub const BACKUP_SAMPLE_LAST_LINE: &str = "# restic keeps snapshots in RESTIC_REPOSITORY";
const BACKUP_SAMPLE: &str = "TYPE=backup-bot-two\nDOMAIN=backup-bot-two.example.com\nSECRET_RESTIC_PASSWORD_VERSION=v1\n# restic keeps snapshots in RESTIC_REPOSITORY";

/// A host with the three infra recipes upstream (two releases each) and the
/// certificate, secret and token files the configs point at.
pub struct Infra {
    pub host: FakeHost,
    pub certs: PathBuf,
    pub secrets: PathBuf,
}

impl Infra {
    pub fn new() -> Infra {
        let i = Infra::bare();
        let host = &i.host;
        let t: &[(&str, &str)] = &[
            ("compose.yml", TRAEFIK_COMPOSE),
            ("compose.wildcard.yml", TRAEFIK_WILDCARD),
            (".env.sample", TRAEFIK_SAMPLE),
        ];
        let t2: &[(&str, &str)] = &[("release/4.1.0+v3.3.5", "notes\n")];
        host.upstream_recipe("traefik", &[("4.0.0+v3.3.4", t), ("4.1.0+v3.3.5", t2)]);
        let d: &[(&str, &str)] = &[
            ("compose.yml", DRONE_COMPOSE),
            ("compose.gitea.yml", DRONE_GITEA),
            (".env.sample", DRONE_SAMPLE),
        ];
        let d2: &[(&str, &str)] = &[("release/1.5.0+2.25.0", "notes\n")];
        host.upstream_recipe("drone", &[("1.4.0+2.24.0", d), ("1.5.0+2.25.0", d2)]);
        let b: &[(&str, &str)] = &[
            ("compose.yml", BACKUP_COMPOSE),
            (".env.sample", BACKUP_SAMPLE),
        ];
        host.upstream_recipe("backup-bot-two", &[("2.3.0+2.3.0-beta", b)]);
        i
    }

    /// The certificate, secret and token files without any recipe upstream:
    /// enough for the swarm, and for failing before any tool runs.
    pub fn bare() -> Infra {
        let host = FakeHost::new();
        let certs = host.root.join("ci-certs/live");
        std::fs::create_dir_all(&certs).unwrap();
        std::fs::write(certs.join("fullchain.pem"), PEM_CERT).unwrap();
        std::fs::write(certs.join("privkey.pem"), PEM_KEY).unwrap();
        let secrets = host.root.join("run-secrets");
        std::fs::create_dir_all(&secrets).unwrap();
        std::fs::write(secrets.join("drone_rpc_secret"), "rpc-0123456789abcdef\n").unwrap();
        std::fs::write(
            secrets.join("drone_client_secret"),
            "gto_client_secret_value\n",
        )
        .unwrap();
        Infra {
            host,
            certs,
            secrets,
        }
    }

    /// A swarm with the proxy network already there (what `reconcile swarm`
    /// leaves behind), so app tests start from the state systemd orders them after.
    pub fn with_swarm() -> Infra {
        let i = Infra::new();
        let d = i.host.docker();
        d.swarm_init("127.0.0.1").unwrap();
        d.create_attachable_overlay("proxy").unwrap();
        i.host.clear_calls();
        i
    }

    fn layout(&self) -> Layout {
        Layout {
            abra_dir: self.host.abra_dir.clone(),
            certs: self.certs.clone(),
            secrets: self.secrets.clone(),
        }
    }

    pub fn swarm_config(&self) -> Value {
        self.layout().swarm_config()
    }

    pub fn proxy_config(&self) -> Value {
        self.layout().proxy_config()
    }

    pub fn drone_config(&self, drone_url: &str) -> Value {
        std::fs::write(
            self.secrets.join("drone_token"),
            format!("{}\n", super::fake_drone::FAKE_TOKEN),
        )
        .unwrap();
        self.layout().drone_config(drone_url)
    }

    pub fn backupbot_config(&self) -> Value {
        self.layout().backupbot_config()
    }

    /// Write `config` and run `ccci reconcile <piece> --config …`.
    pub fn reconcile(&self, piece: &str, config: &Value) -> Output {
        let path = self.host.root.join(format!("reconcile-{piece}.json"));
        std::fs::write(&path, serde_json::to_string_pretty(config).unwrap()).unwrap();
        self.host
            .command(env!("CARGO_BIN_EXE_ccci"))
            .args(["reconcile", piece, "--config"])
            .arg(&path)
            .output()
            .expect("run ccci")
    }

    pub fn env_file(&self, domain: &str) -> PathBuf {
        self.host
            .abra_dir
            .join("servers/default")
            .join(format!("{domain}.env"))
    }

    pub fn env_text(&self, domain: &str) -> String {
        std::fs::read_to_string(self.env_file(domain)).unwrap()
    }

    /// Lines of the mutating fake calls, `prog argv…`.
    pub fn mutations(&self) -> Vec<String> {
        self.host
            .mutating_calls()
            .iter()
            .map(|c| c.line())
            .collect()
    }

    pub fn deploys(&self) -> Vec<String> {
        self.mutations()
            .into_iter()
            .filter(|l| l.starts_with("abra app deploy"))
            .collect()
    }
}

impl Default for Infra {
    fn default() -> Self {
        Infra::new()
    }
}

/// Where a host keeps the abra dir and the files the configs point at.
pub struct Layout {
    pub abra_dir: PathBuf,
    pub certs: PathBuf,
    pub secrets: PathBuf,
}

impl Layout {
    fn app(&self, recipe: &str, version: &str, domain: &str, env: Value) -> Value {
        json!({
            "server": "default",
            "abra_dir": self.abra_dir,
            "recipe": recipe,
            "version": version,
            "domain": domain,
            "env": env,
        })
    }

    pub fn swarm_config(&self) -> Value {
        json!({ "//": "generated", "schema": 1, "advertise_addr": "127.0.0.1", "network": "proxy" })
    }

    pub fn proxy_config(&self) -> Value {
        json!({
            "//": "generated", "schema": 1,
            "app": self.app("traefik", "4.1.0+v3.3.5", PROXY_DOMAIN, json!({
                "WILDCARDS_ENABLED": "1",
                "SECRET_WILDCARD_CERT_VERSION": "v1",
                "SECRET_WILDCARD_KEY_VERSION": "v1",
                "COMPOSE_FILE": "compose.yml:compose.wildcard.yml",
                "LETS_ENCRYPT_ENV": "",
            })),
            "secrets": [
                { "name": "ssl_cert", "version_key": "SECRET_WILDCARD_CERT_VERSION",
                  "file": self.certs.join("fullchain.pem") },
                { "name": "ssl_key", "version_key": "SECRET_WILDCARD_KEY_VERSION",
                  "file": self.certs.join("privkey.pem") },
            ],
        })
    }

    pub fn drone_config(&self, drone_url: &str) -> Value {
        json!({
            "//": "generated", "schema": 1,
            "app": self.app("drone", "1.5.0+2.25.0", DRONE_DOMAIN, json!({
                "COMPOSE_FILE": "compose.yml:compose.gitea.yml",
                "GITEA_DOMAIN": "git.example.org",
                "GITEA_CLIENT_ID": "ccci-drone-example",
                "LETS_ENCRYPT_ENV": "",
            })),
            "secrets": [
                { "name": "rpc_secret", "version_key": null, "file": self.secrets.join("drone_rpc_secret") },
                { "name": "client_secret", "version_key": null, "file": self.secrets.join("drone_client_secret") },
            ],
            "api": {
                "url": drone_url,
                "token_file": self.secrets.join("drone_token"),
                "ci_repo": "coop-cloud/ccci",
                "build_timeout_minutes": 60,
                "crons": [
                    { "name": "custom-html", "expr": "0 3 * * 1", "branch": "main" },
                    { "name": "keycloak", "expr": "0 4 * * 1", "branch": "main" },
                ],
            },
        })
    }

    pub fn backupbot_config(&self) -> Value {
        json!({
            "//": "generated", "schema": 1,
            "app": self.app("backup-bot-two", "2.3.0+2.3.0-beta", BACKUP_DOMAIN, json!({
                "RESTIC_REPOSITORY": "/backups/restic",
                "LETS_ENCRYPT_ENV": "",
            })),
            "restic_password_secret": "restic_password",
        })
    }
}

/// The same host as [`Infra`], in memory: the three recipes upstream (same
/// releases, samples, secrets and networks), the certificate, secret and
/// token files, and the configs pointing at them.
pub struct MemInfra {
    pub world: MemoryWorld,
    pub abra_dir: PathBuf,
    pub certs: PathBuf,
    pub secrets: PathBuf,
}

fn recipe(tags: &[&str], sample: &str, secrets: &[(&str, &str)], networks: &[&str]) -> Recipe {
    Recipe {
        tags: tags.iter().map(|t| (*t).to_owned()).collect(),
        env_sample: sample.to_owned(),
        secrets: secrets
            .iter()
            .map(|(n, k)| ((*n).to_owned(), (*k).to_owned()))
            .collect(),
        networks: networks.iter().map(|n| (*n).to_owned()).collect(),
    }
}

impl MemInfra {
    pub fn new() -> MemInfra {
        let root = PathBuf::from("/infra");
        let i = MemInfra {
            world: MemoryWorld::new(MemoryHost::default()),
            abra_dir: root.join("abra"),
            certs: root.join("ci-certs/live"),
            secrets: root.join("run-secrets"),
        };
        {
            let mut h = i.host();
            // The secret names and version keys of compose.wildcard.yml,
            // compose.yml + compose.gitea.yml, and backup-bot-two's compose.yml.
            h.upstream.insert(
                "traefik".into(),
                recipe(
                    &["4.0.0+v3.3.4", "4.1.0+v3.3.5"],
                    TRAEFIK_SAMPLE,
                    &[
                        ("ssl_cert", "SECRET_WILDCARD_CERT_VERSION"),
                        ("ssl_key", "SECRET_WILDCARD_KEY_VERSION"),
                    ],
                    &["proxy"],
                ),
            );
            h.upstream.insert(
                "drone".into(),
                recipe(
                    &["1.4.0+2.24.0", "1.5.0+2.25.0"],
                    DRONE_SAMPLE,
                    &[
                        ("rpc_secret", "SECRET_RPC_SECRET_VERSION"),
                        ("client_secret", "SECRET_CLIENT_SECRET_VERSION"),
                    ],
                    &["proxy"],
                ),
            );
            h.upstream.insert(
                "backup-bot-two".into(),
                recipe(
                    &["2.3.0+2.3.0-beta"],
                    BACKUP_SAMPLE,
                    &[("restic_password", "SECRET_RESTIC_PASSWORD_VERSION")],
                    &[],
                ),
            );
            h.write(i.certs.join("fullchain.pem"), PEM_CERT);
            h.write(i.certs.join("privkey.pem"), PEM_KEY);
            h.write(i.secrets.join("drone_rpc_secret"), "rpc-0123456789abcdef\n");
            h.write(
                i.secrets.join("drone_client_secret"),
                "gto_client_secret_value\n",
            );
        }
        i
    }

    /// A swarm with the proxy network already there, no call recorded.
    pub fn with_swarm() -> MemInfra {
        let i = MemInfra::new();
        {
            let mut h = i.host();
            h.swarm = SwarmState::Active;
            h.networks.insert(
                "proxy".into(),
                NetworkRow {
                    name: "proxy".into(),
                    driver: "overlay".into(),
                    scope: "swarm".into(),
                },
            );
        }
        i
    }

    pub fn host(&self) -> std::sync::MutexGuard<'_, MemoryHost> {
        self.world.host()
    }

    fn layout(&self) -> Layout {
        Layout {
            abra_dir: self.abra_dir.clone(),
            certs: self.certs.clone(),
            secrets: self.secrets.clone(),
        }
    }

    pub fn swarm_config(&self) -> Value {
        self.layout().swarm_config()
    }

    pub fn proxy_config(&self) -> Value {
        self.layout().proxy_config()
    }

    pub fn drone_config(&self, drone_url: &str) -> Value {
        let token = format!("{}\n", super::fake_drone::FAKE_TOKEN);
        self.host().write(self.secrets.join("drone_token"), token);
        self.layout().drone_config(drone_url)
    }

    pub fn backupbot_config(&self) -> Value {
        self.layout().backupbot_config()
    }

    /// `ccci reconcile <piece>` with `config`, in this world.
    pub fn reconcile(&self, piece: &str, config: &Value) -> Result<Report, ReconcileError> {
        let text = config.to_string();
        let w = &self.world;
        match piece {
            "swarm" => reconcile::swarm::reconcile_in(&parse_config(piece, &text).unwrap(), w),
            "proxy" => reconcile::proxy::reconcile_in(&parse_config(piece, &text).unwrap(), w),
            "drone" => self.reconcile_drone(config, Waits::default()),
            "backupbot" => {
                reconcile::backupbot::reconcile_in(&parse_config(piece, &text).unwrap(), w)
            }
            other => panic!("no piece {other}"),
        }
    }

    pub fn reconcile_drone(&self, config: &Value, waits: Waits) -> Result<Report, ReconcileError> {
        let cfg = parse_config("drone", &config.to_string()).unwrap();
        reconcile::drone::reconcile_in(&cfg, &self.world, waits)
    }

    pub fn env_file(&self, domain: &str) -> PathBuf {
        self.abra_dir
            .join("servers/default")
            .join(format!("{domain}.env"))
    }

    pub fn env_text(&self, domain: &str) -> String {
        self.host().text(&self.env_file(domain)).unwrap()
    }

    /// Command lines of the abra and docker calls that change the host.
    pub fn mutations(&self) -> Vec<String> {
        self.host()
            .mutations()
            .into_iter()
            .filter(|l| !l.starts_with("git "))
            .collect()
    }

    pub fn deploys(&self) -> Vec<String> {
        self.mutations()
            .into_iter()
            .filter(|l| l.starts_with("abra app deploy"))
            .collect()
    }

    /// Every tool call (abra, docker and git), read-only ones too.
    pub fn calls(&self) -> Vec<String> {
        self.host().calls.iter().map(|c| c.line.clone()).collect()
    }

    pub fn clear_calls(&self) {
        self.host().calls.clear();
    }

    /// What abra deployed for a stack (panics when nothing is deployed).
    pub fn deployed(&self, stack: &str) -> ccci::reconcile::memory::Deployed {
        self.host().stacks[stack].clone()
    }
}

impl Default for MemInfra {
    fn default() -> Self {
        MemInfra::new()
    }
}

/// The report of a reconcile that must succeed (`ccci` prints its lines, or
/// `<piece>: up to date` when it has none).
pub fn done(result: Result<Report, ReconcileError>) -> Report {
    match result {
        Ok(report) => report,
        Err(e) => panic!("reconcile failed: {e}"),
    }
}

/// The report's lines, as `ccci` prints them.
pub fn lines(report: &Report) -> String {
    report.actions.join("\n")
}

pub fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "ccci failed ({:?}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn path_str(p: &Path) -> String {
    p.display().to_string()
}

pub const PEM_CERT: &str =
    "-----BEGIN CERTIFICATE-----\nMIIBfake0certificate0one\n-----END CERTIFICATE-----\n";
pub const PEM_CERT_ROTATED: &str =
    "-----BEGIN CERTIFICATE-----\nMIIBfake0certificate0two\n-----END CERTIFICATE-----\n";
pub const PEM_KEY: &str =
    "-----BEGIN PRIVATE KEY-----\nMIIEfake0private0key\n-----END PRIVATE KEY-----\n";
