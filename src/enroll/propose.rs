//! The proposal for one recipe: every choice typed, with its reasons, and the
//! list of what could not be decided. Made from what was read; writes nothing.

use std::collections::BTreeMap;

use super::compose::Compose;
use super::decide::{self, Choice, HealthChoice};
use super::labels;
use super::sample::{SAMPLE_FILE, Sample};
use super::source::{Checkout, Origin, slug_of_url};
use super::{At, EnrollError};
use crate::registry::values::{Duration, GitUrl, RecipeName, RepoSlug};
use crate::registry::{BackupMode, Host, Marker, Rung};
use crate::run::policy::{self, Rule};

/// Keys of `.env.sample` the CI sets itself, never "required" of the operator.
const SET_BY_CI: &[&str] = &[
    "TYPE",
    "RECIPE",
    "DOMAIN",
    "LETS_ENCRYPT_ENV",
    "COMPOSE_FILE",
];

/// An env key the sample leaves without a usable value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequiredEnv {
    pub key: String,
    pub at: At,
}

/// A secret, as the proposal describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretInfo {
    pub name: String,
    pub version: String,
    pub modifiers: String,
    pub at: At,
    /// abra will not generate it: the host must provide the value.
    pub needs_value: bool,
}

/// Everything `ccci-gen enroll` proposes for `recipes/<name>.toml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proposal {
    pub name: RecipeName,
    /// The source as given (URL or path).
    pub source: String,
    /// The compose files read, in chain order, and where the chain is set.
    pub files: Vec<String>,
    pub chain_at: Option<At>,
    /// Overlays the sample documents but does not select.
    pub optional_files: Vec<(String, At, bool)>,
    pub repo: Option<Choice<RepoSlug>>,
    pub git_url: Option<Choice<GitUrl>>,
    /// `Some(false)` when Traefik routes nothing to the app.
    pub web: Option<Choice<bool>>,
    pub deploy_timeout: Result<Choice<Duration>, String>,
    pub health: Option<Choice<HealthChoice>>,
    pub backup: Option<Choice<BackupMode>>,
    pub marker: Option<Choice<Marker>>,
    pub upgrade_base: Option<Choice<String>>,
    pub skip: Vec<(Rung, String)>,
    pub required_env: Vec<RequiredEnv>,
    /// Sample values holding the sample's domain: `(key, template, at)`.
    pub env_from_domain: Vec<(String, String, At)>,
    pub secrets: Vec<SecretInfo>,
    /// Compose policy rules the recipe breaks, each with its violations.
    pub compose_allow: BTreeMap<Rule, Vec<String>>,
    /// What could not be decided, one line each.
    pub undecided: Vec<String>,
}

/// What the proposal is made from.
pub struct Inputs<'a> {
    pub name: RecipeName,
    pub source: &'a str,
    pub checkout: &'a Checkout,
    pub sample: &'a Sample,
    pub compose: &'a Compose,
    pub host: &'a Host,
    /// The sample's domain, as interpolated into the labels.
    pub domain: &'a str,
}

/// Where the CI clones a recipe enrolled from `url`: on the host's Gitea
/// its `repo` slug (when not the default), elsewhere its `git_url`.
fn repo_and_url(
    url: &str,
    host: &Host,
    name: &RecipeName,
    notes: &mut Vec<String>,
) -> (Option<Choice<RepoSlug>>, Option<Choice<GitUrl>>) {
    let gitea = host.gitea.url.trimmed();
    if url.starts_with(&format!("{gitea}/")) {
        let repo = slug_of_url(url)
            .filter(|s| s.as_str() != format!("{}/{name}", host.gitea.org))
            .map(|r| {
                Choice::new(
                    r,
                    format!("the repository on the host's Gitea it was cloned from, {url}"),
                )
            });
        return (repo, None);
    }
    match url.parse::<GitUrl>() {
        Ok(u) => (
            None,
            Some(Choice::new(
                u,
                format!(
                    "cloned from {url}, outside the host's Gitea ({gitea}): runs come from the weekly sweep or by hand, not from PR comments"
                ),
            )),
        ),
        Err(e) => {
            notes.push(format!(
                "{url} cannot be the recipe's git_url ({e}); set git_url to its https:// address"
            ));
            (None, None)
        }
    }
}

pub fn propose(i: Inputs<'_>) -> Result<Proposal, EnrollError> {
    let mut notes = Vec::new();
    let routes = labels::routes(&i.compose.services)?;
    let route = labels::main_route(&routes, i.domain);
    if route.is_none() && !routes.is_empty() {
        notes.push(format!(
            "Traefik routers exist ({}) but none serves the sample's DOMAIN {}; [health] is left to the defaults",
            routes.iter().map(|r| r.at.to_string()).collect::<Vec<_>>().join(", "),
            i.domain
        ));
    }
    let web = routes.is_empty().then(|| {
        Choice::new(
            false,
            "no service carries Traefik router labels: the app has no web domain to probe",
        )
    });
    let health = route.map(|r| decide::health(r, &i.compose.services, &mut notes));
    let backed = decide::backups(i.compose, &mut notes)?;
    let marker = decide::marker(i.compose, &backed, route, &mut notes);
    let mut skip = Vec::new();
    let backup = if backed.is_empty() {
        skip.push((
            Rung::BackupRestore,
            "the recipe carries no backupbot.backup labels: backup-bot-two backs nothing up"
                .to_owned(),
        ));
        None
    } else {
        let mut why: Vec<String> = backed
            .iter()
            .map(|b| {
                let what = if b.paths.is_empty() {
                    String::new()
                } else {
                    format!(", only {}", b.paths.join(","))
                };
                format!(
                    "backs up volume {} of service {}{what} (backupbot.backup, {})",
                    b.volume, b.service, b.at
                )
            })
            .collect();
        for s in i.compose.services.values() {
            for h in labels::backup_labels(s)?.hooks {
                why.push(format!("hook {}: {} ({})", h.key, h.value, h.at));
            }
        }
        Some(Choice {
            value: BackupMode::Auto,
            why,
        })
    };
    let tags = i.checkout.tags.as_deref();
    let upgrade_base = match decide::upgrade(
        tags,
        i.checkout.head.as_deref().unwrap_or_default(),
        i.checkout.describe.as_deref(),
        i.compose,
        &mut notes,
    ) {
        Ok(base) => Some(base),
        Err(reason) => {
            skip.push((Rung::Upgrade, reason));
            None
        }
    };
    skip.sort();
    let deploy_timeout = decide::deploy_timeout(i.compose, i.host.run.deploy_timeout);

    let mut required_env = Vec::new();
    let mut env_from_domain = Vec::new();
    for a in &i.sample.assignments {
        if SET_BY_CI.contains(&a.key.as_str())
            || crate::names::stack::secret_of_version_key(&a.key).is_some()
        {
            continue;
        }
        if a.value.trim().is_empty() {
            notes.push(format!(
                "{} ({}) has no value in the sample: set it in [env]",
                a.key, a.at
            ));
            required_env.push(RequiredEnv {
                key: a.key.clone(),
                at: a.at.clone(),
            });
        } else if !i.domain.is_empty() && a.value.contains(i.domain) {
            let template = a.value.replace(i.domain, "{domain}");
            match crate::registry::check_domain_template(&template, &i.host.ci_domain) {
                Ok(()) => env_from_domain.push((a.key.clone(), template, a.at.clone())),
                // e.g. EXTRA_DOMAINS=www.<domain>: a name the wildcard
                // certificate cannot cover, so no run can serve it.
                Err(why) => {
                    notes.push(format!(
                        "{} ({}) follows the app's domain but cannot for a run ({why}): set it in [env], most likely empty",
                        a.key, a.at
                    ));
                    required_env.push(RequiredEnv {
                        key: a.key.clone(),
                        at: a.at.clone(),
                    });
                }
            }
        }
    }
    let secrets: Vec<SecretInfo> = i
        .sample
        .secrets
        .iter()
        .map(|s| SecretInfo {
            name: s.name.clone(),
            version: s.version.clone(),
            modifiers: s
                .modifiers
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" "),
            at: s.at.clone(),
            needs_value: s.needs_value(),
        })
        .collect();
    for s in secrets.iter().filter(|s| s.needs_value) {
        notes.push(format!(
            "secret {} ({}) is not generated by abra (generate=false): map it to a host secret in [secret_values]",
            s.name, s.at
        ));
    }
    let mut compose_allow: BTreeMap<Rule, Vec<String>> = BTreeMap::new();
    let policy_vars = i.sample.vars.clone();
    match policy::check(&i.compose.files, &policy_vars, &BTreeMap::new()) {
        Ok(verdict) => {
            for v in verdict.refused {
                notes.push(format!("compose policy refuses {v}: the run refuses the recipe unless [compose_allow] {} gives a reason", v.rule));
                compose_allow.entry(v.rule).or_default().push(v.to_string());
            }
        }
        Err(e) => notes.push(e.to_string()),
    }
    let (repo, git_url) = match &i.checkout.origin {
        Origin::Url(url) => repo_and_url(url, i.host, &i.name, &mut notes),
        Origin::Repo(_) | Origin::Dir(_) => {
            notes.push(format!(
                "enrolled from a local path: repo defaults to {}/{}; set repo (or git_url, for a recipe outside the host's Gitea) to where the recipe lives",
                i.host.gitea.org, i.name
            ));
            (None, None)
        }
    };
    let optional_files = i
        .sample
        .optional
        .iter()
        .flat_map(|c| c.files.iter().map(move |f| (f, &c.at)))
        .filter(|(f, _)| !i.sample.chain.contains(f))
        .fold(Vec::<(String, At, bool)>::new(), |mut acc, (f, at)| {
            if !acc.iter().any(|(g, _, _)| g == f) {
                acc.push((f.clone(), at.clone(), i.checkout.dir.join(f).is_file()));
            }
            acc
        });
    if !i.sample.present {
        notes.push(format!(
            "the recipe has no {SAMPLE_FILE}: compose.yml alone is read and no variable has a value"
        ));
    }
    Ok(Proposal {
        name: i.name,
        source: i.source.to_owned(),
        files: i.compose.files.iter().map(|(n, _)| n.clone()).collect(),
        chain_at: i.sample.chain_at.clone(),
        optional_files,
        repo,
        git_url,
        web,
        deploy_timeout,
        health,
        backup,
        marker,
        upgrade_base,
        skip,
        required_env,
        env_from_domain,
        secrets,
        compose_allow,
        undecided: notes,
    })
}
