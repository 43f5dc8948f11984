//! The typed tool wrappers against the fake `abra`/`docker`: the flags they
//! build in, and the traps of docs/abra.md the fakes reproduce when those
//! flags are missing.

mod support;

use std::time::Duration;

use ccci::tools::abra::NewApp;
use ccci::tools::docker::SwarmState;
use ccci::tools::{Call, Program, ToolError};
use serde_json::json;
use support::fake_tools::{FakeHost, git};

const DOMAIN: &str = "html-3fa9c1.ci.example.org";
const STACK: &str = "html-3fa9c1_ci_example_org";

const COMPOSE: &str = r#"version: "3.8"
services:
  app:
    image: nginx:1.25
    volumes:
      - "content:/usr/share/nginx/html"
    networks:
      - proxy
    secrets:
      - api_key
    deploy:
      update_config:
        failure_action: rollback
      labels:
        - "traefik.enable=true"
        - "coop-cloud.${STACK_NAME}.timeout=300"
volumes:
  content:
networks:
  proxy:
    external: true
secrets:
  api_key:
    external: true
    name: ${STACK_NAME}_api_key_${SECRET_API_KEY_VERSION}
"#;

const SAMPLE: &str = "TYPE=custom-html\nDOMAIN=custom-html.example.com\n## Domain aliases\n#EXTRA_DOMAINS=\nLETS_ENCRYPT_ENV=production\nSECRET_API_KEY_VERSION=v1\n";

/// A host with a swarm, the proxy network, the local server and a fetched
/// two-release recipe.
fn host() -> FakeHost {
    let h = FakeHost::new();
    let files: &[(&str, &str)] = &[("compose.yml", COMPOSE), (".env.sample", SAMPLE)];
    let files2: &[(&str, &str)] = &[
        ("compose.yml", COMPOSE),
        (".env.sample", SAMPLE),
        ("CHANGELOG", "2\n"),
    ];
    h.upstream_recipe(
        "custom-html",
        &[("1.0.0+1.25", files), ("1.1.0+1.27", files2)],
    );
    h.fetch_recipe("custom-html");
    // swarm_state_and_network_creation_go_through_docker and
    // server_add_makes_the_local_server test the calls this stands for.
    h.seed_swarm();
    h
}

fn new_app(h: &FakeHost) {
    h.abra()
        .app_new("custom-html", "default", DOMAIN, &NewApp::default())
        .unwrap();
}

fn argv_of(h: &FakeHost, prefix: &[&str]) -> Vec<Vec<String>> {
    h.calls()
        .into_iter()
        .filter(|c| {
            c.prog == "abra"
                && c.argv
                    .iter()
                    .map(String::as_str)
                    .take(prefix.len())
                    .eq(prefix.iter().copied())
        })
        .map(|c| c.argv)
        .collect()
}

#[test]
fn swarm_state_and_network_creation_go_through_docker() {
    let h = FakeHost::new();
    let d = h.docker();
    assert_eq!(d.swarm_state().unwrap(), SwarmState::Inactive);
    d.swarm_init("127.0.0.1").unwrap();
    assert_eq!(d.swarm_state().unwrap(), SwarmState::Active);
    d.create_attachable_overlay("proxy").unwrap();
    let nets = d.networks().unwrap();
    let proxy = nets.iter().find(|n| n.name == "proxy").unwrap();
    assert_eq!(proxy.driver, "overlay");
    assert_eq!(h.host()["networks"]["proxy"]["attachable"], true);
}

#[test]
fn app_new_and_deploy_pass_chaos_offline_and_never_reset_the_recipe() {
    let h = host();
    let recipe = h.abra_dir.join("recipes/custom-html");
    git(&recipe, &["checkout", "-q", "1.0.0+1.25"]);
    std::fs::write(recipe.join("pr-file.txt"), "from the PR").unwrap();
    new_app(&h);
    h.docker().swarm_state().unwrap();
    h.abra().secret_generate(DOMAIN, "api_key", "v1").unwrap();
    h.abra().app_deploy(DOMAIN, false).unwrap();
    for argv in argv_of(&h, &["app"]) {
        if argv[1] == "new" || argv[1] == "deploy" || argv[1] == "secret" {
            assert!(
                argv.contains(&"-C".into()) && argv.contains(&"-o".into()),
                "{argv:?}"
            );
        }
    }
    assert_eq!(h.host()["resets"], json!([]));
    assert!(
        recipe.join("pr-file.txt").exists(),
        "the PR's file vanished"
    );
    let deploy = &argv_of(&h, &["app", "deploy"])[0];
    assert!(
        deploy.contains(&"-c".into()),
        "deploy must skip abra's converge checks"
    );
}

#[test]
fn fake_resets_the_recipe_when_chaos_flags_are_missing() {
    let h = host();
    let recipe = h.abra_dir.join("recipes/custom-html");
    git(&recipe, &["checkout", "-q", "1.0.0+1.25"]);
    std::fs::write(recipe.join("pr-file.txt"), "from the PR").unwrap();
    let out = h.run(
        "abra",
        &[
            "app",
            "new",
            "custom-html",
            "-s",
            "default",
            "-D",
            DOMAIN,
            "-n",
        ],
    );
    assert!(out.status.success());
    assert!(!recipe.join("pr-file.txt").exists());
    assert_eq!(git(&recipe, &["describe", "--tags"]), "1.1.0+1.27");
    assert_eq!(h.host()["resets"].as_array().unwrap().len(), 1);
}

#[test]
fn deploy_of_a_deployed_app_needs_force() {
    let h = host();
    new_app(&h);
    h.abra().secret_generate(DOMAIN, "api_key", "v1").unwrap();
    h.abra().app_deploy(DOMAIN, false).unwrap();
    let err = h.abra().app_deploy(DOMAIN, false).unwrap_err();
    assert!(err.to_string().contains("already deployed"), "{err}");
    h.abra().app_deploy(DOMAIN, true).unwrap();
    assert_eq!(h.host()["deployed"][STACK]["count"], 2);
}

#[test]
fn deploy_fails_when_a_secret_is_missing() {
    let h = host();
    new_app(&h);
    let err = h.abra().app_deploy(DOMAIN, false).unwrap_err();
    assert!(err.stderr().contains("secret not found"), "{err}");
}

#[test]
fn deploy_without_no_converge_flag_fails_while_a_service_is_starting() {
    let h = host();
    new_app(&h);
    h.abra().secret_generate(DOMAIN, "api_key", "v1").unwrap();
    h.set_control(json!({ "starting": [STACK] }));
    let raw = h.run("abra", &["app", "deploy", DOMAIN, "-C", "-o", "-n"]);
    assert!(!raw.status.success());
    assert!(String::from_utf8_lossy(&raw.stderr).contains("still starting"));
    h.abra().app_deploy(DOMAIN, false).unwrap();
}

#[test]
fn chaos_deploy_labels_the_service_with_the_head_commit() {
    let h = host();
    let recipe = h.abra_dir.join("recipes/custom-html");
    new_app(&h);
    h.abra().secret_generate(DOMAIN, "api_key", "v1").unwrap();
    h.abra().app_deploy(DOMAIN, false).unwrap();
    let info = h.docker().service_inspect(&format!("{STACK}_app")).unwrap();
    let head = git(&recipe, &["rev-parse", "--short=8", "HEAD"]);
    assert_eq!(
        info.labels[&format!("coop-cloud.{STACK}.chaos-version")],
        head
    );
    assert_eq!(info.labels[&format!("coop-cloud.{STACK}.timeout")], "300");
    assert_eq!(info.update_state.as_deref(), Some("completed"));
}

#[test]
fn upgrade_rejects_chaos_flag_and_can_roll_back() {
    let h = host();
    let recipe = h.abra_dir.join("recipes/custom-html");
    git(&recipe, &["checkout", "-q", "1.0.0+1.25"]);
    new_app(&h);
    h.abra().secret_generate(DOMAIN, "api_key", "v1").unwrap();
    h.abra().app_deploy(DOMAIN, false).unwrap();
    let raw = h.run("abra", &["app", "upgrade", DOMAIN, "-C", "-n"]);
    assert!(String::from_utf8_lossy(&raw.stderr).contains("flag provided but not defined: -C"));
    h.set_control(json!({ "rollback": [STACK] }));
    h.abra().app_upgrade(DOMAIN, None).unwrap();
    let info = h.docker().service_inspect(&format!("{STACK}_app")).unwrap();
    assert_eq!(info.update_state.as_deref(), Some("rollback_completed"));
}

#[test]
fn backup_and_restore_need_a_terminal_and_get_one() {
    let h = host();
    new_app(&h);
    h.abra().secret_generate(DOMAIN, "api_key", "v1").unwrap();
    h.abra().app_deploy(DOMAIN, false).unwrap();
    let raw = h.run(
        "abra",
        &["app", "backup", "create", DOMAIN, "-C", "-o", "-n"],
    );
    assert!(String::from_utf8_lossy(&raw.stderr).contains("the input device is not a TTY"));

    let d = h.docker();
    let ctr = d.container_of(&format!("{STACK}_app")).unwrap().unwrap();
    d.exec(
        &ctr,
        &[
            "sh",
            "-c",
            "printf %s original > /usr/share/nginx/html/marker",
        ],
    )
    .unwrap();
    h.abra().backup_create(DOMAIN).unwrap();
    d.exec(
        &ctr,
        &[
            "sh",
            "-c",
            "printf %s mutated > /usr/share/nginx/html/marker",
        ],
    )
    .unwrap();
    h.abra().restore(DOMAIN).unwrap();
    let back = d
        .exec(&ctr, &["cat", "/usr/share/nginx/html/marker"])
        .unwrap();
    assert_eq!(back.stdout, "original");
    let tty_calls: Vec<bool> = h
        .calls()
        .into_iter()
        .filter(|c| {
            c.argv
                .get(1)
                .is_some_and(|a| a == "backup" || a == "restore")
        })
        .map(|c| c.tty)
        .collect();
    assert_eq!(tty_calls, [false, true, true]);
}

#[test]
fn restore_can_be_made_to_lose_data() {
    let h = host();
    new_app(&h);
    h.abra().secret_generate(DOMAIN, "api_key", "v1").unwrap();
    h.abra().app_deploy(DOMAIN, false).unwrap();
    let d = h.docker();
    let ctr = d.container_of(&format!("{STACK}_app")).unwrap().unwrap();
    d.exec(
        &ctr,
        &[
            "sh",
            "-c",
            "printf %s original > /usr/share/nginx/html/marker",
        ],
    )
    .unwrap();
    h.abra().backup_create(DOMAIN).unwrap();
    d.exec(
        &ctr,
        &[
            "sh",
            "-c",
            "printf %s mutated > /usr/share/nginx/html/marker",
        ],
    )
    .unwrap();
    h.set_control(json!({ "lose_volume_data": [STACK] }));
    h.abra().restore(DOMAIN).unwrap();
    let back = d
        .exec(&ctr, &["cat", "/usr/share/nginx/html/marker"])
        .unwrap();
    assert_eq!(back.stdout, "mutated");
}

#[test]
fn secret_generate_needs_machine_output_and_its_value_is_not_kept() {
    let h = host();
    new_app(&h);
    let raw = h.run(
        "abra",
        &[
            "app", "secret", "generate", DOMAIN, "api_key", "v1", "-C", "-o", "-n",
        ],
    );
    assert!(!raw.status.success());
    h.abra().secret_generate(DOMAIN, "api_key", "v1").unwrap();
    let generated = h.host()["secrets"][format!("{STACK}_api_key_v1")]["generated"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(generated.len(), 32);
    assert_eq!(
        h.docker().secrets(&format!("{STACK}_")).unwrap(),
        [format!("{STACK}_api_key_v1")]
    );
}

#[test]
fn app_ls_reads_abras_nested_json() {
    let h = host();
    new_app(&h);
    let apps = h.abra().app_ls(Some("default")).unwrap();
    assert_eq!(apps.len(), 1);
    assert_eq!(apps[0].server, "default");
    assert_eq!(apps[0].domain, DOMAIN);
    assert_eq!(apps[0].status, "undeployed");
}

#[test]
fn teardown_commands_use_their_own_syntax() {
    let h = host();
    new_app(&h);
    h.abra().secret_generate(DOMAIN, "api_key", "v1").unwrap();
    h.abra().app_deploy(DOMAIN, false).unwrap();
    let raw = h.run("abra", &["app", "undeploy", DOMAIN, "-C", "-n"]);
    assert!(!raw.status.success(), "undeploy has no chaos flag");
    let raw = h.run(
        "abra",
        &["app", "secret", "remove", DOMAIN, "--all-secrets", "-n"],
    );
    assert!(!raw.status.success(), "--all-secrets does not exist");
    let a = h.abra();
    let err = a.volume_remove(DOMAIN).unwrap_err();
    assert!(err.stderr().contains("in use"), "{err}");
    a.app_undeploy(DOMAIN).unwrap();
    a.volume_remove(DOMAIN).unwrap();
    a.secret_remove_all(DOMAIN).unwrap();
    let d = h.docker();
    assert!(d.services(Some(STACK)).unwrap().is_empty());
    assert!(d.volumes(Some(STACK)).unwrap().is_empty());
    assert!(d.secrets(&format!("{STACK}_")).unwrap().is_empty());
}

#[test]
fn crash_loop_shows_in_replicas_and_task_errors() {
    let h = host();
    new_app(&h);
    h.abra().secret_generate(DOMAIN, "api_key", "v1").unwrap();
    h.set_control(json!({ "crash_loop": [STACK] }));
    h.abra().app_deploy(DOMAIN, false).unwrap();
    let d = h.docker();
    let svc = &d.services(Some(STACK)).unwrap()[0];
    assert_eq!(svc.replica_counts(), Some((0, 1)));
    let tasks = d.service_ps(&svc.name).unwrap();
    assert!(tasks.iter().any(|t| t.error.contains("non-zero exit")));
}

#[test]
fn recipe_lint_runs_under_a_terminal_and_reports_rules() {
    let h = host();
    h.set_control(json!({ "lint_failed": ["R010"] }));
    let report = h.abra().recipe_lint("custom-html").unwrap();
    assert_eq!(report.rules.len(), 16);
    let r010 = report.rules.iter().find(|r| r.id == "R010").unwrap();
    assert!(!r010.satisfied);
    assert!(report.rules.iter().filter(|r| r.satisfied).count() == 15);
}

#[test]
fn server_add_makes_the_local_server() {
    let h = FakeHost::new();
    h.abra().server_add_local().unwrap();
    assert!(h.abra_dir.join("servers/default").is_dir());
    assert_eq!(
        argv_of(&h, &["server", "add"]),
        [["server", "add", "--local", "-n"]]
    );
}

#[test]
fn every_abra_call_gets_the_abra_dir() {
    let h = host();
    new_app(&h);
    let dir = h.abra_dir.display().to_string();
    for c in h.calls().into_iter().filter(|c| c.prog == "abra") {
        assert_eq!(c.abra_dir.as_deref(), Some(dir.as_str()), "{}", c.line());
    }
}

#[test]
fn failure_carries_redacted_command_status_and_stderr() {
    let sh = Program::new("/bin/sh", Duration::from_secs(10));
    let err = Call::new(&sh)
        .arg("-c")
        .arg("echo boom >&2; exit 3")
        .secret_arg("hunter2-secret-value")
        .run()
        .unwrap_err();
    let ToolError::Failed {
        command,
        status,
        stderr,
        ..
    } = &err
    else {
        panic!("{err:?}");
    };
    assert_eq!(*status, Some(3));
    assert_eq!(stderr.trim(), "boom");
    assert!(command.contains("***"));
    assert!(!format!("{err} {err:?}").contains("hunter2"));
}

#[test]
fn a_call_that_hangs_times_out() {
    let sleep = Program::new("sleep", Duration::from_millis(200));
    let started = std::time::Instant::now();
    let err = Call::new(&sleep).arg("5").run().unwrap_err();
    assert!(matches!(err, ToolError::Timeout { .. }), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[test]
fn simulated_deploy_duration_is_configurable() {
    let h = host();
    new_app(&h);
    h.abra().secret_generate(DOMAIN, "api_key", "v1").unwrap();
    let slow = h.abra_program().with_env("CCCI_FAKE_DEPLOY_MS", "700");
    let abra = ccci::tools::abra::Abra::with_programs(
        slow,
        ccci::tools::pty::script_program(),
        &h.abra_dir,
    );
    let started = std::time::Instant::now();
    abra.app_deploy(DOMAIN, false).unwrap();
    assert!(started.elapsed() >= Duration::from_millis(700));
}

#[test]
fn abra_inserted_secrets_carry_no_stack_label_so_they_are_found_by_name() {
    let h = host();
    new_app(&h);
    h.abra().secret_generate(DOMAIN, "api_key", "v1").unwrap();
    let by_label = h.run(
        "docker",
        &[
            "secret",
            "ls",
            "--filter",
            &format!("label=com.docker.stack.namespace={STACK}"),
            "--format",
            "{{.Name}}",
        ],
    );
    assert!(String::from_utf8_lossy(&by_label.stdout).trim().is_empty());
    assert_eq!(h.docker().secrets(&format!("{STACK}_")).unwrap().len(), 1);
}

fn abra_platform(h: &FakeHost) -> ccci::run::abra_platform::AbraPlatform {
    ccci::run::abra_platform::AbraPlatform::new(
        h.abra_program(),
        ccci::tools::pty::script_program(),
        h.docker(),
        Program::new("tar", Duration::from_secs(30)),
        Duration::from_secs(60),
    )
}

fn app_ref(h: &FakeHost) -> ccci::run::platform::AppRef {
    ccci::run::platform::AppRef {
        abra_dir: h.abra_dir.clone(),
        server: "default".into(),
        recipe: "custom-html".into(),
        domain: DOMAIN.into(),
        stack: STACK.into(),
    }
}

#[test]
fn platform_teardown_retries_a_volume_a_stopping_task_still_holds() {
    use ccci::run::platform::Platform;
    let h = host();
    new_app(&h);
    h.abra().secret_generate(DOMAIN, "api_key", "v1").unwrap();
    h.abra().app_deploy(DOMAIN, false).unwrap();
    // The first two removals fail "volume is in use", as while a task stops.
    h.set_control(json!({ "volume_busy": { format!("{STACK}_content"): 2 } }));
    let app = app_ref(&h);
    let report = abra_platform(&h).teardown(&app);
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert_eq!(argv_of(&h, &["app", "volume", "remove"]).len(), 3);
    let d = h.docker();
    assert!(d.services(Some(STACK)).unwrap().is_empty());
    assert!(d.volumes(Some(STACK)).unwrap().is_empty());
    assert!(d.secrets(&format!("{STACK}_")).unwrap().is_empty());
    assert!(!app.env_file().exists());
}

#[test]
fn platform_env_edit_replaces_in_place_after_a_sample_without_final_newline() {
    use ccci::run::platform::Platform;
    // abra copies the sample as it is: no final newline after
    // LETS_ENCRYPT_ENV=production. The run's edit must replace that line,
    // never glue a new assignment onto it.
    let h = FakeHost::new();
    let sample = "TYPE=custom-html\nDOMAIN=custom-html.example.com\nLETS_ENCRYPT_ENV=production";
    let files: &[(&str, &str)] = &[("compose.yml", COMPOSE), (".env.sample", sample)];
    h.upstream_recipe("custom-html", &[("1.0.0+1.25", files)]);
    h.fetch_recipe("custom-html");
    h.seed_swarm();
    let p = abra_platform(&h);
    let app = app_ref(&h);
    p.app_new(&app).unwrap();
    let edits = [
        ("LETS_ENCRYPT_ENV".to_owned(), String::new()),
        ("FOO".to_owned(), "bar".to_owned()),
    ];
    p.set_env(&app, &edits).unwrap();
    let text = std::fs::read_to_string(app.env_file()).unwrap();
    assert_eq!(
        text.lines().collect::<Vec<_>>(),
        [
            "RECIPE=custom-html",
            &format!("DOMAIN={DOMAIN}"),
            "LETS_ENCRYPT_ENV=",
            "FOO=bar"
        ],
        "{text:?}"
    );
    let env = p.env(&app).unwrap();
    assert_eq!(env.get("LETS_ENCRYPT_ENV").as_deref(), Some(""));
    assert_eq!(env.get("RECIPE").as_deref(), Some("custom-html"));
}

#[test]
fn platform_inserts_a_host_secret_from_its_file_never_from_argv() {
    use ccci::run::platform::Platform;
    let h = host();
    new_app(&h);
    let value = "host-api-key-7f3a9c21";
    let file = h.abra_dir.join("host_api_key");
    std::fs::write(&file, value).unwrap();
    let p = abra_platform(&h);
    p.secret_insert_file(&app_ref(&h), "api_key", "v1", &file)
        .unwrap();
    let calls = argv_of(&h, &["app", "secret", "insert"]);
    assert_eq!(calls.len(), 1);
    let argv = &calls[0];
    assert_eq!(
        argv[..6],
        ["app", "secret", "insert", DOMAIN, "api_key", "v1"]
    );
    assert_eq!(argv[6], file.to_str().unwrap());
    assert!(argv.iter().any(|a| a == "-f"), "{argv:?}");
    assert!(!argv.iter().any(|a| a.contains(value)), "{argv:?}");
    assert_eq!(
        h.docker().secrets(&format!("{STACK}_")).unwrap(),
        [format!("{STACK}_api_key_v1")]
    );
}
