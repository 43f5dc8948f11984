//! The app decisions, case by case. `apply` plays a plan onto what the next
//! look would see, so sequences (first run, then nothing changed) read as
//! the host lives them.

use serde_json::json;

use super::*;

const SAMPLE: &str = "RECIPE=traefik\nDOMAIN=t.example.org\nLETS_ENCRYPT_ENV=production\n#SECRET_WILDCARD_CERT_VERSION=v1\n";

fn app(env: serde_json::Value) -> AbraApp {
    serde_json::from_value(json!({
        "server": "default",
        "abra_dir": "/var/lib/abra",
        "recipe": "traefik",
        "version": "4.1.0+v3.3.5",
        "domain": "t.example.org",
        "env": env,
    }))
    .unwrap()
}

fn proxy() -> AbraApp {
    app(json!({ "LETS_ENCRYPT_ENV": "", "SECRET_WILDCARD_CERT_VERSION": "v1" }))
}

fn file_secrets() -> Vec<FileSecret> {
    serde_json::from_value(json!([
        { "name": "ssl_cert", "version_key": "SECRET_WILDCARD_CERT_VERSION", "file": "/certs/cert.pem" },
        { "name": "ssl_key", "version_key": null, "file": "/certs/key.pem" },
    ]))
    .unwrap()
}

fn digests<'a>(secrets: &'a [FileSecret], cert: &str) -> Vec<FileDigest<'a>> {
    secrets
        .iter()
        .map(|s| FileDigest {
            secret: s,
            sha256: if s.name.as_str() == "ssl_cert" {
                digest(cert.as_bytes())
            } else {
                digest(b"key")
            },
        })
        .collect()
}

fn fresh() -> AppSeen {
    AppSeen {
        env: EnvFile::parse(SAMPLE),
        state: AppState::default(),
        secrets: BTreeSet::new(),
        deployed: false,
    }
}

/// What the next look sees after `plan` ran.
fn apply(app: &AbraApp, mut seen: AppSeen, plan: &AppPlan) -> AppSeen {
    for a in &plan.actions {
        match a {
            AppAction::SetEnv(pairs) => {
                seen.env
                    .set_all(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                    .unwrap();
            }
            AppAction::InsertSecret { name, version, .. }
            | AppAction::GenerateSecret { name, version } => {
                seen.secrets
                    .insert(abra::secret_name(app.domain.as_str(), name, version));
            }
            AppAction::Deploy { .. } => seen.deployed = true,
            AppAction::SaveState(st) => seen.state = st.clone(),
        }
    }
    seen
}

fn plan_for(app: &AbraApp, cert: &str, seen: &AppSeen) -> AppPlan {
    let secrets = file_secrets();
    let files = digests(&secrets, cert);
    let wanted = WantedSecrets {
        files: &files,
        generated: &[],
    };
    converge("proxy", app, wanted, seen).unwrap()
}

/// The host after a first, successful reconcile.
fn settled(app: &AbraApp) -> AppSeen {
    let first = plan_for(app, "cert-1", &fresh());
    apply(app, fresh(), &first)
}

fn insert(name: &str, version: &str, file: &str) -> AppAction {
    AppAction::InsertSecret {
        name: name.to_owned(),
        version: version.to_owned(),
        file: file.to_owned(),
    }
}

fn deploys(plan: &AppPlan) -> Vec<bool> {
    plan.actions
        .iter()
        .filter_map(|a| match a {
            AppAction::Deploy { redeploy } => Some(*redeploy),
            _ => None,
        })
        .collect()
}

fn inserts(plan: &AppPlan) -> Vec<(String, String)> {
    plan.actions
        .iter()
        .filter_map(|a| match a {
            AppAction::InsertSecret { name, version, .. } => Some((name.clone(), version.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn a_first_reconcile_sets_the_env_inserts_the_secrets_and_deploys() {
    let app = proxy();
    let plan = plan_for(&app, "cert-1", &fresh());
    assert!(plan.notes.is_empty(), "{:?}", plan.notes);
    let kinds: Vec<&AppAction> = plan.actions.iter().collect();
    assert!(
        matches!(kinds[0], AppAction::SetEnv(p) if p["LETS_ENCRYPT_ENV"].is_empty()
        && p["SECRET_WILDCARD_CERT_VERSION"] == "v1" && p["SECRET_SSL_KEY_VERSION"] == "v1")
    );
    assert_eq!(kinds[1], &insert("ssl_cert", "v1", "/certs/cert.pem"));
    assert_eq!(kinds[2], &insert("ssl_key", "v1", "/certs/key.pem"));
    let AppAction::SaveState(before_deploy) = kinds[3] else {
        panic!("{kinds:?}")
    };
    assert_eq!(before_deploy.secrets["ssl_cert"].version, "v1");
    assert_eq!(before_deploy.deployed, None);
    assert_eq!(kinds[4], &AppAction::Deploy { redeploy: false });
    let AppAction::SaveState(st) = kinds[5] else {
        panic!("{kinds:?}")
    };
    assert_eq!(st.secrets["ssl_cert"].version, "v1");
    assert_eq!(st.secrets["ssl_cert"].sha256, digest(b"cert-1"));
    assert!(st.deployed.is_some());
    assert_eq!(plan.actions.len(), 6);
}

#[test]
fn a_failed_deploy_retried_keeps_the_inserted_secret_versions() {
    let app = proxy();
    let first = plan_for(&app, "cert-1", &fresh());
    // Everything up to the deploy happened; the deploy failed.
    let upto = first
        .actions
        .iter()
        .position(|a| matches!(a, AppAction::Deploy { .. }))
        .unwrap();
    let failed = AppPlan {
        notes: vec![],
        actions: first.actions[..upto].to_vec(),
    };
    let seen = apply(&app, fresh(), &failed);
    let retry = plan_for(&app, "cert-1", &seen);
    assert!(retry.notes.is_empty(), "{:?}", retry.notes);
    assert!(inserts(&retry).is_empty(), "{retry:?}");
    assert_eq!(deploys(&retry), [false]);
}

#[test]
fn nothing_changed_means_no_action_at_all() {
    let app = proxy();
    let plan = plan_for(&app, "cert-1", &settled(&app));
    assert_eq!(plan, AppPlan::default());
    assert!(!plan.mutates_host());
}

#[test]
fn a_changed_env_value_is_exactly_one_redeploy() {
    let app = proxy();
    let seen = settled(&app);
    let mut changed = app.clone();
    changed.env.insert("LOG_LEVEL".into(), "DEBUG".into());
    let plan = plan_for(&changed, "cert-1", &seen);
    assert!(matches!(&plan.actions[0], AppAction::SetEnv(p) if p["LOG_LEVEL"] == "DEBUG"));
    assert_eq!(deploys(&plan), [true]);
    assert!(inserts(&plan).is_empty());
    let after = apply(&changed, seen, &plan);
    assert_eq!(plan_for(&changed, "cert-1", &after), AppPlan::default());
}

#[test]
fn a_changed_recipe_version_is_exactly_one_redeploy() {
    let app = proxy();
    let seen = settled(&app);
    let mut older = app.clone();
    older.version = serde_json::from_value(json!("4.0.0+v3.3.4")).unwrap();
    let plan = plan_for(&older, "cert-1", &seen);
    assert_eq!(deploys(&plan), [true]);
    assert!(
        !plan
            .actions
            .iter()
            .any(|a| matches!(a, AppAction::SetEnv(_)))
    );
}

#[test]
fn a_rotated_certificate_gets_the_next_version_and_a_redeploy() {
    let app = proxy();
    let seen = settled(&app);
    let plan = plan_for(&app, "cert-2", &seen);
    assert_eq!(
        plan.notes,
        ["proxy: /certs/cert.pem changed, secret ssl_cert → v2"]
    );
    assert!(
        matches!(&plan.actions[0], AppAction::SetEnv(p) if p["SECRET_WILDCARD_CERT_VERSION"] == "v2" && p["SECRET_SSL_KEY_VERSION"] == "v1")
    );
    assert_eq!(inserts(&plan), [("ssl_cert".to_owned(), "v2".to_owned())]);
    assert_eq!(deploys(&plan), [true]);
    let after = apply(&app, seen, &plan);
    assert_eq!(after.state.secrets["ssl_cert"].version, "v2");
    assert_eq!(
        plan_for(&app, "cert-2", &after),
        AppPlan::default(),
        "rotation settles"
    );
}

#[test]
fn a_lost_state_file_reinserts_every_file_secret_as_a_new_version_once() {
    let app = proxy();
    let mut seen = settled(&app);
    seen.state = AppState::default();
    let plan = plan_for(&app, "cert-1", &seen);
    assert_eq!(
        inserts(&plan),
        [
            ("ssl_cert".to_owned(), "v2".to_owned()),
            ("ssl_key".to_owned(), "v2".to_owned())
        ]
    );
    assert_eq!(plan.notes.len(), 2);
    assert!(
        plan.notes[0].contains("has no recorded digest"),
        "{:?}",
        plan.notes
    );
    assert_eq!(deploys(&plan), [true]);
    let after = apply(&app, seen, &plan);
    assert_eq!(plan_for(&app, "cert-1", &after), AppPlan::default());
}

#[test]
fn a_vanished_stack_is_deployed_again_without_force() {
    let app = proxy();
    let mut seen = settled(&app);
    seen.deployed = false;
    let plan = plan_for(&app, "cert-1", &seen);
    assert_eq!(plan.actions, [AppAction::Deploy { redeploy: false }]);
}

#[test]
fn a_secret_removed_from_docker_is_inserted_again_at_its_recorded_version() {
    let app = proxy();
    let mut seen = settled(&app);
    seen.secrets.remove("t_example_org_ssl_key_v1");
    let plan = plan_for(&app, "cert-1", &seen);
    assert_eq!(plan.actions, [insert("ssl_key", "v1", "/certs/key.pem")]);
}

#[test]
fn without_a_record_the_env_files_version_is_used() {
    let app = proxy();
    let mut seen = fresh();
    seen.env.set("SECRET_SSL_KEY_VERSION", "v3").unwrap();
    let plan = plan_for(&app, "cert-1", &seen);
    assert!(inserts(&plan).contains(&("ssl_key".to_owned(), "v3".to_owned())));
}

#[test]
fn an_env_key_abra_cannot_read_is_an_error() {
    let app = app(json!({ "NOT A KEY": "1" }));
    let secrets = file_secrets();
    let files = digests(&secrets, "cert-1");
    let wanted = WantedSecrets {
        files: &files,
        generated: &[],
    };
    assert!(converge("proxy", &app, wanted, &fresh()).is_err());
}

fn backupbot_plan(env_version: Option<&str>, have: &[&str]) -> AppPlan {
    let app = app(json!({ "RESTIC_REPOSITORY": "/backups/restic" }));
    let mut seen = fresh();
    if let Some(v) = env_version {
        seen.env.set("SECRET_RESTIC_PASSWORD_VERSION", v).unwrap();
    }
    seen.secrets = have.iter().map(|s| (*s).to_owned()).collect();
    let generated = [GeneratedSecret {
        name: "restic_password".to_owned(),
    }];
    let wanted = WantedSecrets {
        files: &[],
        generated: &generated,
    };
    converge("backupbot", &app, wanted, &seen).unwrap()
}

#[test]
fn a_generated_secret_is_generated_only_when_docker_lacks_it() {
    let generate = |plan: &AppPlan| -> Vec<AppAction> {
        plan.actions
            .iter()
            .filter(|a| matches!(a, AppAction::GenerateSecret { .. }))
            .cloned()
            .collect()
    };
    let gen_at = |v: &str| AppAction::GenerateSecret {
        name: "restic_password".to_owned(),
        version: v.to_owned(),
    };
    assert_eq!(generate(&backupbot_plan(None, &[])), [gen_at("v1")]);
    assert_eq!(generate(&backupbot_plan(Some("v3"), &[])), [gen_at("v3")]);
    assert!(generate(&backupbot_plan(None, &["t_example_org_restic_password_v1"])).is_empty());
}

#[test]
fn a_plan_that_only_saves_state_does_not_touch_the_host() {
    let plan = AppPlan {
        notes: vec![],
        actions: vec![AppAction::SaveState(AppState::default())],
    };
    assert!(!plan.mutates_host());
}

#[test]
fn the_fingerprint_covers_recipe_version_and_env() {
    let env = EnvFile::parse("A=1\n");
    let base = fingerprint("traefik", "1.0.0", &env);
    assert_ne!(base, fingerprint("traefik", "1.0.1", &env));
    assert_ne!(base, fingerprint("drone", "1.0.0", &env));
    assert_ne!(
        base,
        fingerprint("traefik", "1.0.0", &EnvFile::parse("A=2\n"))
    );
    assert_eq!(
        base,
        fingerprint("traefik", "1.0.0", &EnvFile::parse("A=1\n"))
    );
}

// --- setup ------------------------------------------------------------------

fn setup(server: bool, recipe: RecipeSeen, created: bool) -> SetupSeen {
    SetupSeen {
        server,
        recipe,
        app: created,
    }
}

fn at(head: &str, wanted: Option<&str>) -> RecipeSeen {
    RecipeSeen::Fetched {
        head: head.to_owned(),
        wanted: wanted.map(str::to_owned),
    }
}

#[test]
fn setup_goes_server_recipe_checkout_app_in_that_order() {
    let app = proxy();
    let step = |seen: SetupSeen| setup_step(&app, &seen, &[]).unwrap();
    assert_eq!(
        step(setup(false, RecipeSeen::Missing, false)),
        Some(SetupAction::AddServer)
    );
    assert_eq!(
        step(setup(true, RecipeSeen::Missing, false)),
        Some(SetupAction::FetchRecipe)
    );
    assert_eq!(
        step(setup(true, at("a", Some("b")), false)),
        Some(SetupAction::CheckOutVersion)
    );
    assert_eq!(
        step(setup(true, at("b", Some("b")), false)),
        Some(SetupAction::CreateApp)
    );
    assert_eq!(step(setup(true, at("b", Some("b")), true)), None);
    // A moved checkout is put back even when the app exists.
    assert_eq!(
        step(setup(true, at("a", Some("b")), true)),
        Some(SetupAction::CheckOutVersion)
    );
}

#[test]
fn an_unknown_recipe_version_is_an_error_naming_it() {
    let err = setup_step(&proxy(), &setup(true, at("a", None), true), &[]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "recipe traefik has no version 4.1.0+v3.3.5 in /var/lib/abra/recipes/traefik (abra recipe fetch traefik to update it)"
    );
}

#[test]
fn a_setup_action_that_did_not_take_effect_is_an_error_not_a_loop() {
    let app = proxy();
    let cases = [
        (
            setup(false, RecipeSeen::Missing, false),
            SetupAction::AddServer,
            "servers/default: the config's server name must be abra's local server name",
        ),
        (
            setup(true, RecipeSeen::Missing, false),
            SetupAction::FetchRecipe,
            "did not create /var/lib/abra/recipes/traefik",
        ),
        (
            setup(true, at("a", Some("b")), false),
            SetupAction::CheckOutVersion,
            "did not move its HEAD",
        ),
        (
            setup(true, at("b", Some("b")), false),
            SetupAction::CreateApp,
            "did not create /var/lib/abra/servers/default/t.example.org.env",
        ),
    ];
    for (seen, done, msg) in cases {
        let err = setup_step(&app, &seen, &[done]).unwrap_err().to_string();
        assert!(err.contains(msg), "{done:?}: {err}");
    }
}
