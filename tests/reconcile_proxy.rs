//! `ccci reconcile proxy`: Traefik from the traefik recipe, wildcard mode,
//! certificate and key as abra secrets from their files.

mod support;

use support::infra::*;

#[test]
fn first_reconcile_from_nothing_performs_the_expected_calls() {
    let i = Infra::with_swarm();
    let out = ok(&i.reconcile("proxy", &i.proxy_config()));
    let cert = path_str(&i.certs.join("fullchain.pem"));
    let key = path_str(&i.certs.join("privkey.pem"));
    assert_eq!(
        i.mutations(),
        [
            "abra server add --local -n".to_owned(),
            "abra recipe fetch traefik -n".to_owned(),
            format!("abra app new traefik -s default -D {PROXY_DOMAIN} -n -C -o"),
            format!("abra app secret insert {PROXY_DOMAIN} ssl_cert v1 {cert} -f -C -o -n"),
            format!("abra app secret insert {PROXY_DOMAIN} ssl_key v1 {key} -f -C -o -n"),
            format!("abra app deploy {PROXY_DOMAIN} -C -o -n -c"),
        ]
    );
    assert!(out.contains("deployed traefik 4.1.0+v3.3.5"), "{out}");
    let host = i.host.host();
    assert_eq!(host["deployed"][PROXY_STACK]["version"], "4.1.0+v3.3.5");
    assert_eq!(
        host["resets"],
        serde_json::json!([]),
        "abra must never reset the recipe"
    );
    let env = i.env_text(PROXY_DOMAIN);
    for line in [
        "WILDCARDS_ENABLED=1",
        "SECRET_WILDCARD_CERT_VERSION=v1",
        "COMPOSE_FILE=compose.yml:compose.wildcard.yml",
        "LETS_ENCRYPT_ENV=",
    ] {
        assert!(env.lines().any(|l| l == line), "{line} missing in\n{env}");
    }
    assert!(!env.contains("LETS_ENCRYPT_ENV=production"));
}

#[test]
fn the_certificate_is_inserted_from_the_file_not_from_argv() {
    let i = Infra::with_swarm();
    ok(&i.reconcile("proxy", &i.proxy_config()));
    let host = i.host.host();
    let secret = &host["secrets"][format!("{PROXY_STACK}_ssl_cert_v1")];
    assert_eq!(secret["from_file"], true);
    for c in i.host.calls() {
        assert!(
            !c.line().contains("BEGIN"),
            "PEM content on a command line: {}",
            c.line()
        );
    }
}

#[test]
fn second_reconcile_with_nothing_changed_performs_no_mutating_call() {
    let i = Infra::with_swarm();
    ok(&i.reconcile("proxy", &i.proxy_config()));
    i.host.clear_calls();
    let out = ok(&i.reconcile("proxy", &i.proxy_config()));
    assert_eq!(i.mutations(), Vec::<String>::new());
    assert_eq!(out.trim(), "proxy: up to date");
}

#[test]
fn a_changed_env_value_triggers_exactly_one_redeploy() {
    let i = Infra::with_swarm();
    ok(&i.reconcile("proxy", &i.proxy_config()));
    let mut cfg = i.proxy_config();
    cfg["app"]["env"]["LOG_LEVEL"] = "DEBUG".into();
    i.host.clear_calls();
    ok(&i.reconcile("proxy", &cfg));
    assert_eq!(
        i.mutations(),
        [format!("abra app deploy {PROXY_DOMAIN} -C -o -n -c -f")]
    );
    assert!(
        i.env_text(PROXY_DOMAIN)
            .lines()
            .any(|l| l == "LOG_LEVEL=DEBUG")
    );
    i.host.clear_calls();
    ok(&i.reconcile("proxy", &cfg));
    assert_eq!(i.mutations(), Vec::<String>::new());
}

#[test]
fn a_changed_version_triggers_exactly_one_redeploy_of_that_version() {
    let i = Infra::with_swarm();
    let mut cfg = i.proxy_config();
    cfg["app"]["version"] = "4.0.0+v3.3.4".into();
    ok(&i.reconcile("proxy", &cfg));
    assert_eq!(
        i.host.host()["deployed"][PROXY_STACK]["version"],
        "4.0.0+v3.3.4"
    );
    i.host.clear_calls();
    ok(&i.reconcile("proxy", &i.proxy_config()));
    assert_eq!(
        i.deploys(),
        [format!("abra app deploy {PROXY_DOMAIN} -C -o -n -c -f")]
    );
    assert_eq!(
        i.host.host()["deployed"][PROXY_STACK]["version"],
        "4.1.0+v3.3.5"
    );
}

#[test]
fn a_rotated_certificate_gets_a_new_secret_version_and_a_redeploy() {
    let i = Infra::with_swarm();
    ok(&i.reconcile("proxy", &i.proxy_config()));
    std::fs::write(i.certs.join("fullchain.pem"), PEM_CERT_ROTATED).unwrap();
    i.host.clear_calls();
    let out = ok(&i.reconcile("proxy", &i.proxy_config()));
    let cert = path_str(&i.certs.join("fullchain.pem"));
    assert_eq!(
        i.mutations(),
        [
            format!("abra app secret insert {PROXY_DOMAIN} ssl_cert v2 {cert} -f -C -o -n"),
            format!("abra app deploy {PROXY_DOMAIN} -C -o -n -c -f"),
        ],
        "{out}"
    );
    assert!(
        i.env_text(PROXY_DOMAIN)
            .lines()
            .any(|l| l == "SECRET_WILDCARD_CERT_VERSION=v2")
    );
    assert!(
        i.env_text(PROXY_DOMAIN)
            .lines()
            .any(|l| l == "SECRET_WILDCARD_KEY_VERSION=v1")
    );
    i.host.clear_calls();
    ok(&i.reconcile("proxy", &i.proxy_config()));
    assert_eq!(i.mutations(), Vec::<String>::new(), "rotation must settle");
}

#[test]
fn a_missing_certificate_file_fails_naming_the_path_and_touches_nothing() {
    let i = Infra::with_swarm();
    std::fs::remove_file(i.certs.join("privkey.pem")).unwrap();
    let out = i.reconcile("proxy", &i.proxy_config());
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&path_str(&i.certs.join("privkey.pem"))),
        "{stderr}"
    );
    assert_eq!(
        i.host.calls(),
        vec![],
        "nothing may run before the precondition holds"
    );
}

#[test]
fn a_redeploy_after_the_stack_vanished_happens_even_with_unchanged_config() {
    let i = Infra::with_swarm();
    ok(&i.reconcile("proxy", &i.proxy_config()));
    let rm = i.host.run("docker", &["stack", "rm", PROXY_STACK]);
    assert!(rm.status.success());
    i.host.clear_calls();
    ok(&i.reconcile("proxy", &i.proxy_config()));
    assert_eq!(
        i.deploys(),
        [format!("abra app deploy {PROXY_DOMAIN} -C -o -n -c")]
    );
}

#[test]
fn operator_comments_in_the_env_file_survive() {
    let i = Infra::with_swarm();
    ok(&i.reconcile("proxy", &i.proxy_config()));
    let env = i.env_text(PROXY_DOMAIN);
    assert!(env.contains("# WILDCARDS_ENABLED=1") || env.contains("WILDCARDS_ENABLED=1"));
    let with_note = format!("{env}# operator note: keep me\n");
    std::fs::write(i.env_file(PROXY_DOMAIN), &with_note).unwrap();
    let mut cfg = i.proxy_config();
    cfg["app"]["env"]["LOG_LEVEL"] = "INFO".into();
    ok(&i.reconcile("proxy", &cfg));
    assert!(
        i.env_text(PROXY_DOMAIN)
            .contains("# operator note: keep me\n")
    );
    assert_eq!(i.env_text(PROXY_DOMAIN).matches("LOG_LEVEL=").count(), 1);
}

#[test]
fn an_unknown_recipe_version_fails_with_a_clear_message() {
    let i = Infra::with_swarm();
    let mut cfg = i.proxy_config();
    cfg["app"]["version"] = "9.9.9+v9.9.9".into();
    let out = i.reconcile("proxy", &cfg);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("has no version 9.9.9+v9.9.9"), "{stderr}");
    assert!(i.deploys().is_empty());
}

#[test]
fn a_lost_state_file_reinserts_secrets_as_new_versions_once() {
    let i = Infra::with_swarm();
    ok(&i.reconcile("proxy", &i.proxy_config()));
    std::fs::remove_dir_all(i.host.abra_dir.join("ccci-reconcile")).unwrap();
    i.host.clear_calls();
    ok(&i.reconcile("proxy", &i.proxy_config()));
    let inserts: Vec<String> = i
        .mutations()
        .into_iter()
        .filter(|l| l.contains("secret insert"))
        .collect();
    assert_eq!(inserts.len(), 2, "{inserts:?}");
    assert!(inserts.iter().all(|l| l.contains(" v2 ")), "{inserts:?}");
    assert_eq!(i.deploys().len(), 1);
    i.host.clear_calls();
    ok(&i.reconcile("proxy", &i.proxy_config()));
    assert_eq!(i.mutations(), Vec::<String>::new());
}
