//! The keys that say what a recipe is made of and needs from the host: `web`,
//! `git_url`, `compose_files` and `secret_values`, with their defaults and the
//! rules between them and the rest of the recipe file.

use std::collections::{BTreeMap, BTreeSet};

use super::Host;
use super::error::Diagnostic;
use super::load::Source;
use super::model::{Marker, RecipeFile};
use super::resolve::diag;
use super::values::{ComposeFileName, GitUrl, HostSecretKey, RepoSlug, SecretName};
use crate::names::host::{gitea_clone_url, secret};

/// The resolved inputs of one recipe.
pub(super) struct Inputs {
    pub web: bool,
    pub git_url: GitUrl,
    pub on_gitea: bool,
    pub compose_files: Vec<ComposeFileName>,
    pub secret_values: BTreeMap<SecretName, HostSecretKey>,
}

/// The host's own secrets: a recipe must not be handed one of them, or a PR's
/// code could read the bot's tokens out of its app.
const HOST_SECRETS: [&str; 5] = [
    secret::DRONE_RPC,
    secret::DRONE_CLIENT,
    secret::DRONE_API_TOKEN,
    secret::GITEA_BOT_TOKEN,
    secret::WEBHOOK,
];

pub(super) fn resolve_inputs(
    host: &Host,
    repo: &RepoSlug,
    src: &Source,
    f: &RecipeFile,
    problems: &mut Vec<Diagnostic>,
) -> Inputs {
    let web = f.web.unwrap_or(true);
    if !web {
        check_no_web_checks(src, f, problems);
    }
    let default_url = gitea_clone_url(host.gitea.url.trimmed(), repo);
    let git_url = match &f.git_url {
        Some(url) => {
            let on_host_gitea = url
                .as_str()
                .starts_with(&format!("{}/", host.gitea.url.trimmed()));
            if on_host_gitea && url.as_str() != default_url {
                problems.push(
                    diag(
                        src,
                        &["git_url"],
                        format!(
                            "{url} is on the host's Gitea but is not this recipe's repository ({default_url})"
                        ),
                    )
                    .help("for a repository on the host's Gitea, set `repo = \"owner/name\"` instead"),
                );
            }
            url.clone()
        }
        None => default_url
            .parse()
            .unwrap_or_else(|_| "https://localhost/invalid.git".parse().expect("constant")),
    };
    let on_gitea = git_url.as_str() == default_url;
    let compose_files = f.compose_files.clone().unwrap_or_default();
    let mut seen = BTreeSet::new();
    for (i, file) in compose_files.iter().enumerate() {
        if !seen.insert(file) {
            problems.push(diag(
                src,
                &["compose_files", &i.to_string()],
                format!("{file} is listed twice"),
            ));
        }
    }
    let secret_values = f.secret_values.clone().unwrap_or_default();
    for (name, key) in &secret_values {
        if HOST_SECRETS.contains(&key.as_str()) {
            problems.push(
                diag(
                    src,
                    &["secret_values", name.as_str()],
                    format!(
                        "{key} is one of the host's own secrets and must not reach an app under test"
                    ),
                )
                .help("add a separate key for the recipe to secrets/secrets.yaml"),
            );
        }
    }
    Inputs {
        web,
        git_url,
        on_gitea,
        compose_files,
        secret_values,
    }
}

/// `web = false`: the app has no domain to probe, so every key that probes it
/// over HTTPS contradicts it.
fn check_no_web_checks(src: &Source, f: &RecipeFile, problems: &mut Vec<Diagnostic>) {
    let why = "cannot be used with `web = false`: the recipe serves no web domain to probe";
    if f.health.is_some() {
        problems.push(diag(src, &["health"], why));
    }
    if f.check.as_ref().is_some_and(|c| !c.is_empty()) {
        problems.push(diag(src, &["check"], why));
    }
    if f.browser.as_ref().is_some_and(|b| !b.is_empty()) {
        problems.push(diag(src, &["browser"], why));
    }
    if matches!(f.marker, Some(Marker::HttpFile { .. })) {
        problems.push(
            diag(src, &["marker", "kind"], format!("http-file {why}"))
                .help("prove the data with an exec-file, sql or exec marker"),
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::registry::{Recipe, Source, load_from_sources};

    const HOST: &str = r#"
[host]
name = "cc-ci"
ci_domain = "ci.example.org"
[gitea]
url = "https://git.example.org/"
org = "coop-cloud"
bot_user = "ccci-bot"
oauth_client_id = "abc"
[abra]
version = "0.10.0-beta"
sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
[infra]
traefik = "3.0.0+v3.1.0"
drone = "1.0.0+2.20.0"
backup_bot_two = "2.0.0+2.0.0"
"#;

    fn load(recipe: &str) -> Result<Recipe, String> {
        let host = Source {
            path: "ccci.toml".into(),
            text: HOST.into(),
        };
        let src = Source {
            path: "recipes/probe.toml".into(),
            text: recipe.into(),
        };
        load_from_sources(&host, &[src])
            .map(|mut reg| reg.recipes.pop_first().expect("one recipe").1)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_are_a_web_app_on_the_gitea_with_nothing_extra() {
        let r = load("").unwrap();
        assert!(r.web);
        assert!(r.on_gitea);
        assert_eq!(
            r.git_url.as_str(),
            "https://git.example.org/coop-cloud/probe.git"
        );
        assert!(r.compose_files.is_empty());
        assert!(r.secret_values.is_empty());
    }

    #[test]
    fn a_git_url_elsewhere_is_not_on_the_gitea() {
        for url in [
            "/srv/recipes/probe",
            "file:///srv/recipes/probe",
            "https://github.com/x/probe.git",
        ] {
            let r = load(&format!("git_url = \"{url}\"\n")).unwrap();
            assert!(!r.on_gitea, "{url}");
            assert_eq!(r.git_url.as_str(), url);
        }
        let r = load("git_url = \"https://git.example.org/coop-cloud/probe.git\"\n").unwrap();
        assert!(r.on_gitea, "the default spelled out is still the Gitea");
    }

    #[test]
    fn another_repository_on_the_gitea_must_be_set_as_repo() {
        let e = load("git_url = \"https://git.example.org/someone/else.git\"\n").unwrap_err();
        assert!(e.contains("recipes/probe.toml:1:"), "{e}");
        assert!(e.contains("key `git_url`"), "{e}");
        assert!(e.contains("set `repo"), "{e}");
    }

    #[test]
    fn web_false_refuses_every_key_that_probes_the_domain() {
        for (text, key) in [
            ("[health]\npath = \"/x\"\n", "key `health`"),
            ("[[check]]\nname = \"a\"\npath = \"/\"\n", "key `check`"),
            ("[[browser]]\nname = \"a\"\n", "key `browser`"),
            (
                "[marker]\nkind = \"http-file\"\npath = \"/m\"\nurl_path = \"/m\"\n",
                "key `marker.kind`",
            ),
        ] {
            let e = load(&format!("web = false\n{text}")).unwrap_err();
            assert!(e.contains(key), "{text}: {e}");
            assert!(e.contains("web = false"), "{text}: {e}");
        }
        let ok = load("web = false\n[marker]\nkind = \"exec-file\"\npath = \"/data/m\"\n").unwrap();
        assert!(!ok.web);
    }

    #[test]
    fn compose_files_are_relative_yaml_files_listed_once() {
        let r =
            load("compose_files = [\"compose.smtp.yml\", \"extra/compose.s3.yaml\"]\n").unwrap();
        assert_eq!(r.compose_files.len(), 2);
        for bad in [
            "\"/etc/x.yml\"",
            "\"../x.yml\"",
            "\"a.yml:b.yml\"",
            "\"compose.json\"",
        ] {
            let e = load(&format!("compose_files = [{bad}]\n")).unwrap_err();
            assert!(e.contains("key `compose_files"), "{bad}: {e}");
        }
        let e = load("compose_files = [\"a.yml\", \"a.yml\"]\n").unwrap_err();
        assert!(e.contains("listed twice"), "{e}");
    }

    #[test]
    fn secret_values_name_host_keys_but_never_the_hosts_own() {
        let r = load("[secret_values]\napi_key = \"probe_api_key\"\n").unwrap();
        assert_eq!(
            r.secret_values.values().next().map(|k| k.as_str()),
            Some("probe_api_key")
        );
        let e = load("[secret_values]\napi_key = \"gitea_bot_token\"\n").unwrap_err();
        assert!(e.contains("key `secret_values.api_key`"), "{e}");
        assert!(e.contains("host's own secrets"), "{e}");
        let e = load("[secret_values]\napi_key = \"../etc/shadow\"\n").unwrap_err();
        assert!(e.contains("key `secret_values.api_key`"), "{e}");
    }

    #[test]
    fn env_from_domain_takes_router_rules_but_not_names_outside_the_wildcard() {
        let r = load(
            "[env_from_domain]\nROUTER_RULE = \"Host(`{domain}`)\"\nEXTRA_DOMAINS = \", `www-{label}.{ci_domain}`\"\n",
        )
        .unwrap();
        assert_eq!(r.env_from_domain.len(), 2);
        let e = load("[env_from_domain]\nEXTRA_DOMAINS = \", `www.{domain}`\"\n").unwrap_err();
        assert!(e.contains("key `env_from_domain.EXTRA_DOMAINS`"), "{e}");
        assert!(e.contains("wildcard"), "{e}");
    }
}
