//! `ccci reconcile proxy` against the real Docker engine: a proxy-like infra
//! app (a `COMPOSE_FILE` chain whose second file adds two file secrets) is
//! converged from nothing, then reconciled again with nothing changed, which
//! must perform no mutating call. The app is then removed in abra's order —
//! a secret in use cannot go first — and the engine is asked for anything
//! left. Excluded from the default `cargo nextest run` (.config/nextest.toml).

#[path = "support/engine.rs"]
mod engine;
#[path = "support/https_app.rs"]
mod https_app;

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use engine::{CallLog, DOCROOT, Engine, git, mutating};

const RECIPE: &str = "cctp-proxy";
const DOMAIN: &str = "cctp-proxy.ci.example.org";
const STACK: &str = "cctp-proxy_ci_example_org";
const VERSION: &str = "2.0.0+v3.3.5";

fn compose(version: &str) -> String {
    format!(
        r#"version: "3.8"
services:
  app:
    image: {image}
    command: ["sh", "-c", "echo proxy > {DOCROOT}/index.html; httpd -f -p 80 -h {DOCROOT} & trap 'exit 0' TERM; wait"]
    volumes:
      - "letsencrypt:{DOCROOT}"
    networks:
      - proxy
    deploy:
      labels:
        - "traefik.enable=true"
        - "traefik.http.routers.${{STACK_NAME}}.rule=Host(`${{DOMAIN}}`)"
        - "coop-cloud.${{STACK_NAME}}.version={version}"
networks:
  proxy:
    external: true
volumes:
  letsencrypt:
"#,
        image = "cct-busybox:1"
    )
}

/// The second file of the chain: the wildcard certificate as secrets.
const WILDCARD: &str = r#"version: "3.8"
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

const SAMPLE: &str = "TYPE=traefik\nDOMAIN=traefik.example.com\nLETS_ENCRYPT_ENV=production\n# WILDCARDS_ENABLED=1\n#SECRET_WILDCARD_CERT_VERSION=v1\n#SECRET_WILDCARD_KEY_VERSION=v1\n#COMPOSE_FILE=\"compose.yml:compose.wildcard.yml\"\n";

/// The recipe checked out under `abra/recipes/`, two releases tagged.
fn recipe(abra: &Path) {
    let dir = abra.join("recipes").join(RECIPE);
    std::fs::create_dir_all(&dir).unwrap();
    git(&dir, &["init", "-q", "-b", "main"]);
    for v in ["1.0.0+v3.3.4", VERSION] {
        std::fs::write(dir.join("compose.yml"), compose(v)).unwrap();
        std::fs::write(dir.join("compose.wildcard.yml"), WILDCARD).unwrap();
        std::fs::write(dir.join(".env.sample"), SAMPLE).unwrap();
        git(&dir, &["add", "-A"]);
        git(&dir, &["commit", "-q", "-m", v]);
        git(&dir, &["tag", v]);
    }
}

fn config(root: &Path) -> std::path::PathBuf {
    let certs = root.join("certs");
    std::fs::create_dir_all(&certs).unwrap();
    std::fs::write(certs.join("fullchain.pem"), "cert-v1\n").unwrap();
    std::fs::write(certs.join("privkey.pem"), "key-v1\n").unwrap();
    let cfg = serde_json::json!({
        "//": "generated", "schema": 1,
        "app": {
            "server": "default",
            "abra_dir": root.join("abra"),
            "recipe": RECIPE,
            "version": VERSION,
            "domain": DOMAIN,
            "env": {
                "WILDCARDS_ENABLED": "1",
                "SECRET_WILDCARD_CERT_VERSION": "v1",
                "SECRET_WILDCARD_KEY_VERSION": "v1",
                "COMPOSE_FILE": "compose.yml:compose.wildcard.yml",
                "LETS_ENCRYPT_ENV": "",
            },
        },
        "secrets": [
            { "name": "ssl_cert", "version_key": "SECRET_WILDCARD_CERT_VERSION",
              "file": certs.join("fullchain.pem") },
            { "name": "ssl_key", "version_key": "SECRET_WILDCARD_KEY_VERSION",
              "file": certs.join("privkey.pem") },
        ],
    });
    let path = root.join("proxy.json");
    std::fs::write(&path, serde_json::to_string_pretty(&cfg).unwrap()).unwrap();
    path
}

fn reconcile(cfg: &Path, calls: &CallLog) -> (std::process::Output, f64) {
    let start = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_ccci"))
        .args(["reconcile", "proxy", "--config"])
        .arg(cfg)
        .env("CCCI_ABRA", &calls.abra)
        .env("CCCI_DOCKER", &calls.docker)
        .env("CCCI_ENGINE_IMAGE", "cct-busybox:1")
        .output()
        .unwrap();
    (out, start.elapsed().as_secs_f64())
}

fn abra(root: &Path, args: &[&str]) -> std::process::Output {
    let double = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/engine/abra");
    Command::new(double)
        .args(args)
        .env("ABRA_DIR", root.join("abra"))
        .env("CCCI_ENGINE_IMAGE", "cct-busybox:1")
        .output()
        .unwrap()
}

#[test]
fn engine_proxy_reconciled_twice_the_second_is_a_no_op() {
    let engine = Engine::acquire();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    recipe(&root.join("abra"));
    let cfg = config(root);

    std::fs::create_dir_all(root.join("first")).unwrap();
    let first_log = CallLog::new(&root.join("first"));
    let (first, first_secs) = reconcile(&cfg, &first_log);
    let text = |o: &std::process::Output| {
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    };
    let outcome = std::panic::catch_unwind(|| {
        assert_eq!(first.status.code(), Some(0), "{}", text(&first));
        // The chain's second file was deployed: the service holds both
        // certificate secrets, at the versions the config names.
        let secrets = engine::docker(&[
            "service",
            "inspect",
            &format!("{STACK}_app"),
            "--format",
            "{{range .Spec.TaskTemplate.ContainerSpec.Secrets}}{{.SecretName}} {{end}}",
        ]);
        let secrets = String::from_utf8_lossy(&secrets.stdout);
        for s in ["ssl_cert_v1", "ssl_key_v1"] {
            assert!(secrets.contains(&format!("{STACK}_{s}")), "{secrets}");
        }

        let second_dir = root.join("second");
        std::fs::create_dir_all(&second_dir).unwrap();
        let second_log = CallLog::new(&second_dir);
        let (second, second_secs) = reconcile(&cfg, &second_log);
        assert_eq!(second.status.code(), Some(0), "{}", text(&second));
        assert!(
            String::from_utf8_lossy(&second.stdout).contains("up to date"),
            "{}",
            text(&second)
        );
        let changed = mutating(&second_log.calls());
        assert!(
            changed.is_empty(),
            "the second reconcile changed: {changed:?}"
        );
        eprintln!(
            "reconcile proxy: first {first_secs:.2} s ({} calls), second {second_secs:.2} s ({} calls, none mutating)",
            first_log.calls().len(),
            second_log.calls().len()
        );

        // Removal in abra's order. A secret in use cannot be removed.
        let early = engine::docker(&["secret", "rm", &format!("{STACK}_ssl_cert_v1")]);
        assert!(!early.status.success());
        assert!(
            String::from_utf8_lossy(&early.stderr).contains("in use"),
            "{}",
            String::from_utf8_lossy(&early.stderr)
        );
        for args in [
            &["app", "undeploy", DOMAIN, "-n"][..],
            &["app", "secret", "remove", DOMAIN, "--all", "-n"],
        ] {
            let o = abra(root, args);
            assert!(o.status.success(), "abra {args:?}: {}", text(&o));
        }
    });
    // The volume goes once the stopping task has let go of it.
    let until = Instant::now() + std::time::Duration::from_secs(30);
    while !engine::objects_named("cctp")
        .iter()
        .all(|o| o.starts_with("volume "))
        && Instant::now() < until
    {
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let _ = abra(root, &["app", "volume", "remove", DOMAIN, "-f", "-n"]);
    let left = engine::objects_named("cctp");
    engine::remove_all("cctp");
    drop(engine);
    if let Err(e) = outcome {
        std::panic::resume_unwind(e);
    }
    assert!(left.is_empty(), "left on the engine: {left:?}");
}
