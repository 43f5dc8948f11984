//! `ccci reconcile proxy`: Traefik from the traefik recipe, wildcard mode,
//! certificate and key as abra secrets from their files. Scenarios run in
//! the in-memory world; the argv contract with abra (the flags each command
//! needs, the certificate passed as a file) and the binary run through the
//! fakes.

mod support;

use support::infra::*;

#[test]
fn first_reconcile_from_nothing_performs_the_expected_calls() {
    let i = MemInfra::with_swarm();
    let report = done(i.reconcile("proxy", &i.proxy_config()));
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
    assert!(
        lines(&report).contains("deployed traefik 4.1.0+v3.3.5"),
        "{report:?}"
    );
    assert_eq!(i.deployed(PROXY_STACK).version, "4.1.0+v3.3.5");
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
fn second_reconcile_with_nothing_changed_performs_no_mutating_call() {
    let i = MemInfra::with_swarm();
    done(i.reconcile("proxy", &i.proxy_config()));
    i.clear_calls();
    let report = done(i.reconcile("proxy", &i.proxy_config()));
    assert_eq!(i.mutations(), Vec::<String>::new());
    assert!(report.is_noop(), "{report:?}");
}

#[test]
fn a_changed_env_value_triggers_exactly_one_redeploy() {
    let i = MemInfra::with_swarm();
    done(i.reconcile("proxy", &i.proxy_config()));
    let mut cfg = i.proxy_config();
    cfg["app"]["env"]["LOG_LEVEL"] = "DEBUG".into();
    i.clear_calls();
    done(i.reconcile("proxy", &cfg));
    assert_eq!(
        i.mutations(),
        [format!("abra app deploy {PROXY_DOMAIN} -C -o -n -c -f")]
    );
    assert!(
        i.env_text(PROXY_DOMAIN)
            .lines()
            .any(|l| l == "LOG_LEVEL=DEBUG")
    );
    assert_eq!(i.deployed(PROXY_STACK).env["LOG_LEVEL"], "DEBUG");
    i.clear_calls();
    done(i.reconcile("proxy", &cfg));
    assert_eq!(i.mutations(), Vec::<String>::new());
}

#[test]
fn a_changed_version_triggers_exactly_one_redeploy_of_that_version() {
    let i = MemInfra::with_swarm();
    let mut cfg = i.proxy_config();
    cfg["app"]["version"] = "4.0.0+v3.3.4".into();
    done(i.reconcile("proxy", &cfg));
    assert_eq!(i.deployed(PROXY_STACK).version, "4.0.0+v3.3.4");
    i.clear_calls();
    done(i.reconcile("proxy", &i.proxy_config()));
    assert_eq!(
        i.deploys(),
        [format!("abra app deploy {PROXY_DOMAIN} -C -o -n -c -f")]
    );
    assert_eq!(i.deployed(PROXY_STACK).version, "4.1.0+v3.3.5");
}

#[test]
fn a_rotated_certificate_gets_a_new_secret_version_and_a_redeploy() {
    let i = MemInfra::with_swarm();
    done(i.reconcile("proxy", &i.proxy_config()));
    i.host()
        .write(i.certs.join("fullchain.pem"), PEM_CERT_ROTATED);
    i.clear_calls();
    let report = done(i.reconcile("proxy", &i.proxy_config()));
    let cert = path_str(&i.certs.join("fullchain.pem"));
    assert_eq!(
        i.mutations(),
        [
            format!("abra app secret insert {PROXY_DOMAIN} ssl_cert v2 {cert} -f -C -o -n"),
            format!("abra app deploy {PROXY_DOMAIN} -C -o -n -c -f"),
        ],
        "{report:?}"
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
    i.clear_calls();
    done(i.reconcile("proxy", &i.proxy_config()));
    assert_eq!(i.mutations(), Vec::<String>::new(), "rotation must settle");
}

#[test]
fn a_missing_certificate_file_fails_naming_the_path_and_touches_nothing() {
    let i = MemInfra::with_swarm();
    i.host().remove(&i.certs.join("privkey.pem"));
    let err = i.reconcile("proxy", &i.proxy_config()).unwrap_err();
    assert!(
        err.to_string()
            .contains(&path_str(&i.certs.join("privkey.pem"))),
        "{err}"
    );
    assert_eq!(
        i.calls(),
        Vec::<String>::new(),
        "nothing may run before the precondition holds"
    );
}

#[test]
fn a_redeploy_after_the_stack_vanished_happens_even_with_unchanged_config() {
    let i = MemInfra::with_swarm();
    done(i.reconcile("proxy", &i.proxy_config()));
    i.host().remove_stack(PROXY_STACK);
    i.clear_calls();
    done(i.reconcile("proxy", &i.proxy_config()));
    assert_eq!(
        i.deploys(),
        [format!("abra app deploy {PROXY_DOMAIN} -C -o -n -c")]
    );
}

#[test]
fn operator_comments_in_the_env_file_survive() {
    let i = MemInfra::with_swarm();
    done(i.reconcile("proxy", &i.proxy_config()));
    let env = i.env_text(PROXY_DOMAIN);
    assert!(env.contains("# WILDCARDS_ENABLED=1") || env.contains("WILDCARDS_ENABLED=1"));
    let with_note = format!("{env}# operator note: keep me\n");
    i.host().write(i.env_file(PROXY_DOMAIN), with_note);
    let mut cfg = i.proxy_config();
    cfg["app"]["env"]["LOG_LEVEL"] = "INFO".into();
    done(i.reconcile("proxy", &cfg));
    assert!(
        i.env_text(PROXY_DOMAIN)
            .contains("# operator note: keep me\n")
    );
    assert_eq!(i.env_text(PROXY_DOMAIN).matches("LOG_LEVEL=").count(), 1);
}

#[test]
fn an_unknown_recipe_version_fails_with_a_clear_message() {
    let i = MemInfra::with_swarm();
    let mut cfg = i.proxy_config();
    cfg["app"]["version"] = "9.9.9+v9.9.9".into();
    let err = i.reconcile("proxy", &cfg).unwrap_err().to_string();
    assert!(err.contains("has no version 9.9.9+v9.9.9"), "{err}");
    assert!(i.deploys().is_empty());
}

#[test]
fn a_lost_state_file_reinserts_secrets_as_new_versions_once() {
    let i = MemInfra::with_swarm();
    done(i.reconcile("proxy", &i.proxy_config()));
    i.host().remove(&i.abra_dir.join("ccci-reconcile"));
    i.clear_calls();
    done(i.reconcile("proxy", &i.proxy_config()));
    let inserts: Vec<String> = i
        .mutations()
        .into_iter()
        .filter(|l| l.contains("secret insert"))
        .collect();
    assert_eq!(inserts.len(), 2, "{inserts:?}");
    assert!(inserts.iter().all(|l| l.contains(" v2 ")), "{inserts:?}");
    assert_eq!(i.deploys().len(), 1);
    i.clear_calls();
    done(i.reconcile("proxy", &i.proxy_config()));
    assert_eq!(i.mutations(), Vec::<String>::new());
}

#[test]
fn a_deploy_that_keeps_failing_inserts_each_secret_once() {
    let i = MemInfra::with_swarm();
    i.host()
        .fail
        .insert("app deploy".into(), "FATA deploy failed".into());
    for _ in 0..3 {
        let err = i.reconcile("proxy", &i.proxy_config()).unwrap_err();
        assert!(err.to_string().contains("deploy failed"), "{err}");
    }
    i.host().fail.clear();
    done(i.reconcile("proxy", &i.proxy_config()));
    let inserts: Vec<String> = i
        .mutations()
        .into_iter()
        .filter(|l| l.contains("secret insert"))
        .collect();
    assert_eq!(inserts.len(), 2, "{inserts:?}");
    assert!(inserts.iter().all(|l| l.contains(" v1 ")), "{inserts:?}");
    assert_eq!(i.deploys().len(), 4);
    assert!(
        i.env_text(PROXY_DOMAIN)
            .lines()
            .any(|l| l == "SECRET_WILDCARD_CERT_VERSION=v1")
    );
}

/// Through `ccci`, the fake abra/docker and real recipe repos: the flags
/// abra needs (`-C -o` or it resets the recipe), the certificate passed as
/// a file (`the_certificate_is_inserted_from_the_file_not_from_argv` is part
/// of the first run), the binary's exit code.
mod through_the_fakes {
    use super::support::infra::*;

    #[test]
    fn first_reconcile_performs_the_expected_calls_and_inserts_the_certificate_from_its_file() {
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
        // The certificate reaches abra as a file, never on a command line.
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
    fn a_missing_certificate_file_fails_naming_the_path_and_touches_nothing() {
        let i = Infra::bare();
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
}
