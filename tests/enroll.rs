//! `ccci-gen enroll` over real recipes: each fixture under
//! `tests/fixtures/recipes/` becomes a real git repository (with release tags
//! where its release notes or version label give them), its proposal is
//! snapshotted with its comments and notes, and loads with the registry
//! loader. Then the failures: no compose file, bad YAML, an unreadable label,
//! a missing overlay, an existing file without `--force`.

use std::path::{Path, PathBuf};
use std::process::Command;

use ccci::enroll::{EnrollError, EnrollOptions, enroll};
use ccci::tools::git::Git;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.org")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.org")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dst = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), &dst).unwrap();
        }
    }
}

/// A git repository of a fixture recipe: `older` tags on earlier commits, then
/// `head_tag` (if any) on the head commit.
fn repo(tmp: &Path, fixture: &str, older: &[&str], head_tag: Option<&str>) -> PathBuf {
    let dir = tmp.join(fixture);
    copy_dir(&root().join("tests/fixtures/recipes").join(fixture), &dir);
    git(&dir, &["init", "-q", "-b", "main"]);
    git(&dir, &["add", "-A"]);
    git(&dir, &["commit", "-q", "-m", "recipe"]);
    for t in older {
        git(&dir, &["tag", t]);
        git(
            &dir,
            &["commit", "-q", "--allow-empty", "-m", &format!("after {t}")],
        );
    }
    if let Some(t) = head_tag {
        git(&dir, &["tag", t]);
    }
    dir
}

/// A registry root holding this repository's `ccci.toml` and no recipe.
fn registry(tmp: &Path) -> PathBuf {
    let reg = tmp.join("registry");
    std::fs::create_dir_all(&reg).unwrap();
    std::fs::copy(root().join("ccci.toml"), reg.join("ccci.toml")).unwrap();
    reg
}

fn opts(source: &Path, reg: &Path) -> EnrollOptions {
    EnrollOptions {
        source: source.display().to_string(),
        name: None,
        force: false,
        registry: reg.to_owned(),
    }
}

/// Enrol a fixture; snapshot the file and the notes, with the temporary
/// path redacted; check that the registry loads it.
fn snapshot(fixture: &str, older: &[&str], head_tag: Option<&str>) -> String {
    let tmp = tempfile::tempdir().unwrap();
    let src = repo(tmp.path(), fixture, older, head_tag);
    let reg = registry(tmp.path());
    let done = enroll(&opts(&src, &reg), &Git::new()).unwrap();
    assert_eq!(done.path, reg.join(format!("recipes/{fixture}.toml")));
    assert_eq!(std::fs::read_to_string(&done.path).unwrap(), done.text);
    let loaded = ccci::registry::load(&reg).unwrap();
    assert!(loaded.recipes.keys().any(|n| n.as_str() == fixture));
    let shown = src.display().to_string();
    let notes: Vec<String> = done
        .proposal
        .undecided
        .iter()
        .map(|n| format!("note: {n}"))
        .collect();
    let all = format!("{}\n--- stderr ---\n{}\n", done.text, notes.join("\n"));
    let all = all.replace(&shown, "<recipe>");
    insta::assert_snapshot!(format!("enroll_{fixture}"), all);
    all
}

#[test]
fn bonfire_postgres_backups_hooks_and_an_upgrade_base() {
    let all = snapshot(
        "bonfire",
        &["1.0.0+1.0.5-social-amd64", "2.0.0+1.0.5-social-amd64"],
        None,
    );
    assert!(all.contains("kind = \"sql\"") && all.contains("database = \"bonfire_db\""));
    assert!(
        all.contains("starts from 2.0.0+1.0.5-social-amd64"),
        "the label says 2.0.1"
    );
    assert!(!all.contains("[skip]\nupgrade"));
}

#[test]
fn custom_php_mariadb_without_backups() {
    let all = snapshot("custom-php", &[], None);
    assert!(
        all.contains("engine = \"mariadb\"")
            && all.contains("password_file = \"/run/secrets/db_password\"")
    );
    assert!(all.contains("backup_restore = "));
}

#[test]
fn gaseous_released_at_its_head_has_nothing_to_upgrade_from() {
    let all = snapshot("gaseous", &[], Some("0.1.0+4.3.1"));
    assert!(all.contains(
        "upgrade = \"no older release: no release tag is older than the head's version 0.1.0+4.3.1"
    ));
    assert!(
        !all.contains("\n[marker]\n"),
        "no database name, no backups: no marker"
    );
}

#[test]
fn llamenos_without_tags_is_a_note_and_a_skip() {
    let all = snapshot("llamenos", &[], None);
    assert!(all.contains("note: the repository has no tags"));
    assert!(all.contains("upgrade = \"no older release: the recipe has no release tag"));
    assert!(
        all.contains("older spelling"),
        "backupbot.backup.path is named"
    );
}

#[test]
fn traefik_breaks_the_compose_policy_and_says_so() {
    let all = snapshot("traefik", &[], None);
    assert!(all.contains("# docker_socket = "));
    assert!(all.contains("note: compose policy refuses published_port"));
}

fn write_recipe(tmp: &Path, name: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = tmp.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    for (f, t) in files {
        std::fs::write(dir.join(f), t).unwrap();
    }
    dir
}

fn fails(dir: &Path) -> String {
    let tmp = tempfile::tempdir().unwrap();
    let reg = registry(tmp.path());
    let e = enroll(&opts(dir, &reg), &Git::new()).unwrap_err();
    assert!(!reg.join("recipes").exists(), "nothing written on {e}");
    e.to_string()
}

#[test]
fn clear_errors_name_file_and_line() {
    let tmp = tempfile::tempdir().unwrap();
    let none = write_recipe(tmp.path(), "empty", &[("README.md", "hi\n")]);
    let e = fails(&none);
    assert!(e.contains("no compose file") && e.contains("empty"), "{e}");

    let bad = write_recipe(
        tmp.path(),
        "bad",
        &[(
            "compose.yml",
            "services:\n  app:\n    image: x\n   labels: [\n",
        )],
    );
    let e = fails(&bad);
    assert!(e.starts_with("compose.yml:4: not YAML"), "{e}");

    let label = "services:\n  app:\n    image: x\n    deploy:\n      labels:\n        - \"traefik.enable=true\"\n        - \"backupbot.backup=${BACKUPS}\"\n";
    let l = write_recipe(
        tmp.path(),
        "label",
        &[
            ("compose.yml", label),
            (".env.sample", "BACKUPS=sometimes\n"),
        ],
    );
    let e = fails(&l);
    assert!(
        e.starts_with(
            "compose.yml:7: label \"backupbot.backup=sometimes\": expected true or false"
        ),
        "{e}"
    );

    let rule = "services:\n  app:\n    image: x\n    deploy:\n      labels:\n        traefik.enable: \"true\"\n        traefik.http.routers.x.rule: \"Host(`${DOMAIN})\"\n";
    let r = write_recipe(tmp.path(), "rule", &[("compose.yml", rule)]);
    let e = fails(&r);
    assert!(
        e.starts_with("compose.yml:7: label") && e.contains("unclosed"),
        "{e}"
    );

    let chain = write_recipe(
        tmp.path(),
        "chain",
        &[
            ("compose.yml", "services:\n  app:\n    image: x\n"),
            (
                ".env.sample",
                "DOMAIN=a.example.com\nCOMPOSE_FILE=compose.yml:compose.db.yml\n",
            ),
        ],
    );
    let e = fails(&chain);
    assert!(
        e.starts_with(".env.sample:2: COMPOSE_FILE names compose.db.yml"),
        "{e}"
    );

    let e = fails(Path::new("file:///nonexistent/recipe.git"));
    assert!(
        e.starts_with("cannot clone file:///nonexistent/recipe.git:"),
        "{e}"
    );

    let e = fails(&tmp.path().join("no-such-recipe"));
    assert!(e.contains("neither a directory nor a git URL"), "{e}");
}

#[test]
fn a_static_site_gets_an_http_file_marker_and_a_worker_gets_web_false() {
    let tmp = tempfile::tempdir().unwrap();
    let reg = registry(tmp.path());
    let site = "services:\n  app:\n    image: nginx:1.27\n    volumes:\n      - content:/usr/share/nginx/html\n    deploy:\n      labels:\n        - \"traefik.enable=true\"\n        - \"traefik.http.routers.${STACK_NAME}.rule=Host(`${DOMAIN}`) && PathPrefix(`/site`)\"\n        - \"backupbot.backup=true\"\nvolumes:\n  content:\n";
    let dir = write_recipe(
        tmp.path(),
        "site",
        &[
            ("compose.yml", site),
            (".env.sample", "TYPE=static-site\nDOMAIN=s.example.com\n"),
        ],
    );
    let done = enroll(&opts(&dir, &reg), &Git::new()).unwrap();
    assert_eq!(
        done.path.file_name().unwrap(),
        "static-site.toml",
        "the sample's TYPE names it"
    );
    let t = &done.text;
    assert!(t.contains("kind = \"http-file\"\nservice = \"app\"\npath = \"/usr/share/nginx/html/ccci-marker.txt\"\nurl_path = \"/site/ccci-marker.txt\""), "{t}");
    assert!(t.contains("[health]\npath = \"/site\""), "{t}");

    let worker = "services:\n  app:\n    image: busybox\n    volumes:\n      - data:/data\n    deploy:\n      labels:\n        backupbot.backup: \"true\"\nvolumes:\n  data:\n";
    let dir = write_recipe(tmp.path(), "worker", &[("compose.yml", worker)]);
    let done = enroll(&opts(&dir, &reg), &Git::new()).unwrap();
    let t = &done.text;
    assert!(
        t.contains("\nweb = false\n") && !t.contains("[health]"),
        "{t}"
    );
    assert!(
        t.contains("kind = \"exec-file\"\nservice = \"app\"\npath = \"/data/ccci-marker\""),
        "{t}"
    );
    assert!(
        done.proposal
            .undecided
            .iter()
            .any(|n| n.contains("not a git repository"))
    );
    ccci::registry::load(&reg).unwrap();
}

#[test]
fn an_existing_file_is_replaced_only_with_force() {
    let tmp = tempfile::tempdir().unwrap();
    let src = repo(tmp.path(), "custom-php", &[], None);
    let reg = registry(tmp.path());
    std::fs::create_dir_all(reg.join("recipes")).unwrap();
    let file = reg.join("recipes/custom-php.toml");
    std::fs::write(&file, "# mine\n").unwrap();
    let e = enroll(&opts(&src, &reg), &Git::new()).unwrap_err();
    assert!(matches!(e, EnrollError::Exists { .. }), "{e}");
    assert!(e.to_string().contains("--force"));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "# mine\n");
    let mut o = opts(&src, &reg);
    o.force = true;
    let done = enroll(&o, &Git::new()).unwrap();
    assert_eq!(std::fs::read_to_string(&file).unwrap(), done.text);
    // --name picks another file; the other recipe is validated alongside it,
    // and both point at the same default repository name only by name.
    o.force = false;
    o.name = Some("lemp".into());
    enroll(&o, &Git::new()).unwrap();
    assert_eq!(ccci::registry::load(&reg).unwrap().recipes.len(), 2);
}

#[test]
fn a_git_url_is_cloned_shallow_with_its_remote_tags() {
    let tmp = tempfile::tempdir().unwrap();
    let src = repo(
        tmp.path(),
        "bonfire",
        &["1.0.0+1.0.5-social-amd64", "2.0.0+1.0.5-social-amd64"],
        None,
    );
    let reg = registry(tmp.path());
    let url = format!("file://{}", src.display());
    let mut o = opts(&src, &reg);
    o.source = url.clone();
    let done = enroll(&o, &Git::new()).unwrap();
    assert!(
        done.text.contains(&format!("git_url = \"{url}\"")),
        "{}",
        done.text
    );
    assert!(
        done.text.contains("starts from 2.0.0+1.0.5-social-amd64"),
        "{}",
        done.text
    );
    let r = ccci::registry::load(&reg).unwrap();
    assert_eq!(r.recipes.values().next().unwrap().git_url.as_str(), url);
    // An annotated tag on the head commit is the head, not a base: the
    // remote's peeled line names its commit.
    git(
        &src,
        &[
            "tag",
            "-f",
            "-a",
            "-m",
            "rel",
            "2.0.0+1.0.5-social-amd64",
            "HEAD",
        ],
    );
    o.force = true;
    let done = enroll(&o, &Git::new()).unwrap();
    assert!(
        done.text.contains("starts from 1.0.0+1.0.5-social-amd64"),
        "{}",
        done.text
    );
}

#[test]
fn the_cli_prints_notes_and_refuses_to_overwrite() {
    let tmp = tempfile::tempdir().unwrap();
    let src = repo(tmp.path(), "llamenos", &[], None);
    let reg = registry(tmp.path());
    let run = || {
        Command::new(env!("CARGO_BIN_EXE_ccci-gen"))
            .args(["enroll"])
            .arg(&src)
            .arg("--registry")
            .arg(&reg)
            .output()
            .unwrap()
    };
    let out = run();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("wrote "));
    assert!(stderr.lines().all(|l| l.starts_with("note: ")), "{stderr}");
    assert!(
        stderr.contains("note: the repository has no tags"),
        "{stderr}"
    );
    let again = run();
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists; pass --force"));
}

#[test]
fn required_env_domain_values_and_secrets_that_need_values() {
    let tmp = tempfile::tempdir().unwrap();
    let reg = registry(tmp.path());
    let compose = "services:\n  app:\n    image: ghcr.io/example/keycloak:26\n    deploy:\n      labels:\n        - \"traefik.enable=true\"\n        - \"traefik.http.routers.${STACK_NAME}.rule=Host(`${DOMAIN}`${EXTRA_DOMAINS})\"\n    healthcheck:\n      test: [\"CMD-SHELL\", \"curl -fsS http://localhost:8080/health/ready\"]\nsecrets:\n  api_key:\n    external: true\n";
    let sample = "TYPE=sso\nDOMAIN=sso.example.com\nEXTRA_DOMAINS=', `www.sso.example.com`'\nPUBLIC_URL=https://sso.example.com/auth\nSMTP_HOST=\nSECRET_API_KEY_VERSION=v1 # generate=false\n";
    let dir = write_recipe(
        tmp.path(),
        "sso",
        &[("compose.yml", compose), (".env.sample", sample)],
    );
    let done = enroll(&opts(&dir, &reg), &Git::new()).unwrap();
    let t = &done.text;
    assert!(t.contains("deploy_timeout = \"10m\""), "a JVM image: {t}");
    assert!(
        t.contains("[health]\npath = \"/health/ready\"\nstatuses = [200]"),
        "{t}"
    );
    assert!(t.contains("[env_from_domain]\n# PUBLIC_URL (.env.sample:4)\nPUBLIC_URL = \"https://{domain}/auth\""), "{t}");
    assert!(
        t.contains("# [env]\n# EXTRA_DOMAINS (.env.sample:3)\n# EXTRA_DOMAINS = \"\"\n# SMTP_HOST (.env.sample:5)\n# SMTP_HOST = \"\""),
        "{t}"
    );
    assert!(
        t.contains("# [secret_values]\n# api_key = \"sso_api_key\""),
        "{t}"
    );
    assert!(
        t.contains("api_key v1, generate=false (.env.sample:6), NEEDS A REAL VALUE"),
        "{t}"
    );
    let notes = done.proposal.undecided.join("\n");
    assert!(
        notes.contains("SMTP_HOST (.env.sample:5) has no value"),
        "{notes}"
    );
    assert!(
        notes.contains("secret api_key (.env.sample:6) is not generated by abra"),
        "{notes}"
    );
    assert!(
        notes.contains("EXTRA_DOMAINS (.env.sample:3) follows the app's domain but cannot"),
        "{notes}"
    );
    let r = ccci::registry::load(&reg).unwrap();
    let sso = r.recipes.values().next().unwrap();
    assert_eq!(
        sso.env_from_domain.values().next().unwrap(),
        "https://{domain}/auth"
    );
}
