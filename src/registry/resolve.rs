//! From the files as written to the [`Registry`]: defaults applied, cross-key and
//! cross-file rules checked (dependencies, duplicate repositories, deadlines).

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;

use super::domain_template::check_domain_template;
use super::error::Diagnostic;
use super::keys::defaults as d;
use super::load::Source;
use super::model::{BackupMode, HostFile, LaneMode, Marker, RecipeFile, Rung};
use super::recipe_inputs::resolve_inputs;
use super::spans::span_of;
use super::values::{Domain, Duration, RecipeName, RepoSlug, StatusList};
use super::{
    Abra, Bridge, BrowserCheck, Dashboard, Drone, Gitea, Health, Host, HttpCheck, Infra, Recipe,
    Registry, RunDefaults,
};

/// Parse a default constant. The constants are tested to parse, so this cannot fail.
fn default<T: FromStr>(text: &str) -> T
where
    T::Err: std::fmt::Debug,
{
    text.parse().expect("defaults are valid (tested)")
}

fn statuses(list: &[u16]) -> StatusList {
    StatusList::try_from(list.to_vec()).expect("default status lists are valid (tested)")
}

pub(super) fn diag(src: &Source, key: &[&str], message: impl Into<String>) -> Diagnostic {
    // Numbers are list indices, shown as the loader shows them: `check[1].name`.
    let mut shown = String::new();
    for part in key {
        match part.parse::<usize>() {
            Ok(i) => shown.push_str(&format!("[{i}]")),
            Err(_) if shown.is_empty() => shown.push_str(part),
            Err(_) => shown.push_str(&format!(".{part}")),
        }
    }
    Diagnostic::new(&src.path, message)
        .key(shown)
        .at(&src.text, span_of(&src.text, key))
}

pub fn resolve(
    host_src: &Source,
    file: HostFile,
    recipes: Vec<(RecipeName, &Source, RecipeFile)>,
    enrolled: &BTreeSet<RecipeName>,
) -> Result<Registry, Vec<Diagnostic>> {
    let mut problems = Vec::new();
    let host = resolve_host(host_src, file, &mut problems);

    let mut out = BTreeMap::new();
    let mut repos: BTreeMap<String, &Source> = BTreeMap::new();
    for (name, src, file) in recipes {
        let recipe = resolve_recipe(&host, name.clone(), src, file, enrolled, &mut problems);
        let repo_key = recipe.repo.as_str().to_ascii_lowercase();
        if let Some(first) = repos.get(&repo_key) {
            problems.push(
                diag(
                    src,
                    &["repo"],
                    format!(
                        "duplicate recipe: repository {} is already enrolled by {}",
                        recipe.repo,
                        first.path.display()
                    ),
                )
                .help("one repository maps to one recipe; remove one of the two files"),
            );
        } else {
            repos.insert(repo_key, src);
        }
        out.insert(name, recipe);
    }
    check_dependency_cycles(&out, &mut problems);
    if problems.is_empty() {
        Ok(Registry { host, recipes: out })
    } else {
        Err(problems)
    }
}

fn resolve_host(src: &Source, f: HostFile, problems: &mut Vec<Diagnostic>) -> Host {
    let ci = f.host.ci_domain.clone();
    let sub = |label: &str| -> Domain {
        format!("{label}.{ci}")
            .parse()
            .unwrap_or_else(|_| ci.clone())
    };
    let capacity = f.drone.runner_capacity.unwrap_or(d::RUNNER_CAPACITY);
    if !(1..=d::RUNNER_CAPACITY_MAX).contains(&capacity) {
        problems.push(diag(
            src,
            &["drone", "runner_capacity"],
            format!(
                "expected an integer from 1 to {}, got {capacity}",
                d::RUNNER_CAPACITY_MAX
            ),
        ));
    }
    let build_timeout = f
        .drone
        .build_timeout
        .unwrap_or_else(|| default(d::BUILD_TIMEOUT));
    let margin: Duration = default(d::DEADLINE_MARGIN);
    let deadline = f.run.deadline.unwrap_or_else(|| {
        Duration::from_secs(
            build_timeout
                .as_secs()
                .saturating_sub(margin.as_secs())
                .max(margin.as_secs()),
        )
    });
    if deadline >= build_timeout {
        let key: &[&str] = if f.run.deadline.is_some() {
            &["run", "deadline"]
        } else {
            &["drone", "build_timeout"]
        };
        problems.push(diag(src, key, format!(
            "the run deadline ({deadline}) must be shorter than the build timeout ({build_timeout}), or Drone kills the run before it tears down"
        )));
    }
    let poll = f
        .bridge
        .poll_interval
        .unwrap_or_else(|| default(d::POLL_INTERVAL));
    if poll.as_secs() == 0 {
        problems.push(diag(
            src,
            &["bridge", "poll_interval"],
            "expected at least 1s",
        ));
    }
    let abra_url = f.abra.url.unwrap_or_else(|| {
        d::ABRA_URL
            .replace("{version}", f.abra.version.as_str())
            .parse()
            .unwrap_or_else(|_| {
                // A version is URL-safe by construction; keep a valid value anyway.
                default("https://git.coopcloud.tech")
            })
    });
    Host {
        name: f.host.name,
        advertise_addr: f
            .host
            .advertise_addr
            .unwrap_or_else(|| default(d::ADVERTISE_ADDR)),
        cert_dir: f.host.cert_dir.unwrap_or_else(|| default(d::CERT_DIR)),
        runs_dir: f.host.runs_dir.unwrap_or_else(|| default(d::RUNS_DIR)),
        abra_dir: f.host.abra_dir.unwrap_or_else(|| default(d::ABRA_DIR)),
        drone: Drone {
            domain: f.drone.domain.unwrap_or_else(|| sub("drone")),
            ci_repo: f.drone.ci_repo.unwrap_or_else(|| {
                format!("{}/ccci", f.gitea.org)
                    .parse()
                    .unwrap_or_else(|_| default("ccci/ccci"))
            }),
            runner_capacity: capacity,
            build_timeout,
        },
        gitea: Gitea {
            url: f.gitea.url,
            org: f.gitea.org,
            bot_user: f.gitea.bot_user,
            oauth_client_id: f.gitea.oauth_client_id,
        },
        run: RunDefaults {
            deploy_timeout: f
                .run
                .deploy_timeout
                .unwrap_or_else(|| default(d::DEPLOY_TIMEOUT)),
            http_timeout: f
                .run
                .http_timeout
                .unwrap_or_else(|| default(d::HTTP_TIMEOUT)),
            deadline,
            janitor_max_age: f
                .run
                .janitor_max_age
                .unwrap_or_else(|| default(d::JANITOR_MAX_AGE)),
            lanes: f.run.lanes.unwrap_or(LaneMode::Concurrent),
        },
        bridge: Bridge {
            poll_interval: poll,
            sweep_interval: f
                .bridge
                .sweep_interval
                .unwrap_or_else(|| default(d::SWEEP_INTERVAL)),
            trigger: f.bridge.trigger.unwrap_or_else(|| default(d::TRIGGER)),
            allowlist: f.bridge.allowlist.unwrap_or_default(),
            listen: f.bridge.listen.unwrap_or_else(|| default(d::LISTEN)),
            webhook: f.bridge.webhook.unwrap_or(false),
            drone_hook_base_url: f.bridge.drone_hook_base_url,
        },
        abra: Abra {
            version: f.abra.version,
            url: abra_url,
            sha256: f.abra.sha256,
        },
        infra: Infra {
            traefik: f.infra.traefik,
            traefik_domain: f.infra.traefik_domain.unwrap_or_else(|| sub("traefik")),
            drone: f.infra.drone,
            backup_bot_two: f.infra.backup_bot_two,
            backupbot_domain: f.infra.backupbot_domain.unwrap_or_else(|| sub("backups")),
            backup_repository: f
                .infra
                .backup_repository
                .unwrap_or_else(|| default(d::BACKUP_REPOSITORY)),
        },
        dashboard: Dashboard {
            domain: f.dashboard.domain.unwrap_or_else(|| sub("dashboard")),
            site_dir: f
                .dashboard
                .site_dir
                .unwrap_or_else(|| default(d::DASHBOARD_SITE_DIR)),
            retention: f
                .dashboard
                .retention
                .unwrap_or_else(|| default(d::DASHBOARD_RETENTION)),
            nginx: f
                .dashboard
                .nginx
                .unwrap_or_else(|| default(d::DASHBOARD_NGINX)),
        },
        ci_domain: ci,
    }
}

fn resolve_recipe(
    host: &Host,
    name: RecipeName,
    src: &Source,
    f: RecipeFile,
    enrolled: &BTreeSet<RecipeName>,
    problems: &mut Vec<Diagnostic>,
) -> Recipe {
    let repo: RepoSlug = f.repo.clone().unwrap_or_else(|| {
        format!("{}/{}", host.gitea.org, name)
            .parse()
            .unwrap_or_else(|_| default("coop-cloud/recipe"))
    });
    let inputs = resolve_inputs(host, &repo, src, &f, problems);
    let env = f.env.unwrap_or_default();
    for key in env.keys() {
        if key.as_str() == "LETS_ENCRYPT_ENV" {
            problems.push(diag(src, &["env", key.as_str()], "cannot be set: every deploy forces LETS_ENCRYPT_ENV empty so Traefik never asks ACME for a test app"));
        }
    }
    let env_from_domain = f.env_from_domain.unwrap_or_default();
    for (key, template) in &env_from_domain {
        if let Err(why) = check_domain_template(template, &host.ci_domain) {
            problems.push(diag(src, &["env_from_domain", key.as_str()], why));
        }
        if env.contains_key(key) {
            problems.push(diag(
                src,
                &["env_from_domain", key.as_str()],
                "is also set in [env]; keep one",
            ));
        }
    }
    let skip = f.skip.unwrap_or_default();
    for (rung, reason) in &skip {
        if *rung == Rung::Install {
            problems.push(diag(
                src,
                &["skip", "install"],
                "install cannot be skipped: it is the floor every other rung stands on",
            ));
        } else if reason.trim().is_empty() {
            problems.push(diag(
                src,
                &["skip", rung.as_str()],
                "expected a reason: the report shows why this rung does not apply",
            ));
        }
    }
    let compose_allow = f.compose_allow.unwrap_or_default();
    for (rule, reason) in &compose_allow {
        if reason.trim().is_empty() {
            problems.push(diag(
                src,
                &["compose_allow", rule.as_str()],
                "expected a reason: the report shows why this recipe may do what the compose policy refuses",
            ));
        }
    }
    if f.upgrade_base.is_some() && skip.contains_key(&Rung::Upgrade) {
        problems.push(diag(
            src,
            &["upgrade_base"],
            "is set while [skip] upgrade says the upgrade rung does not apply; keep one",
        ));
    }
    if let Some(Marker::Exec { write, read, .. }) = &f.marker {
        if !write.contains("{value}") {
            problems.push(diag(
                src,
                &["marker", "write"],
                "expected a command containing {value}",
            ));
        }
        if read.trim().is_empty() {
            problems.push(diag(
                src,
                &["marker", "read"],
                "expected a command printing the value",
            ));
        }
    }
    let depends_on = f.depends_on.unwrap_or_default();
    for (i, dep) in depends_on.iter().enumerate() {
        let at = i.to_string();
        if *dep == name {
            problems.push(diag(
                src,
                &["depends_on", &at],
                "a recipe cannot depend on itself",
            ));
        } else if !enrolled.contains(dep) {
            problems.push(diag(
                src,
                &["depends_on", &at],
                format!("`{dep}` is not an enrolled recipe (no recipes/{dep}.toml)"),
            ));
        }
    }
    let checks: Vec<HttpCheck> = f
        .check
        .unwrap_or_default()
        .into_iter()
        .map(|c| HttpCheck {
            name: c.name,
            path: c.path,
            statuses: c.statuses.unwrap_or_else(|| statuses(&d::CHECK_STATUSES)),
            body_contains: c.body_contains,
            json_key: c.json_key,
        })
        .collect();
    check_unique_names(
        src,
        "check",
        checks.iter().map(|c| c.name.as_str()),
        problems,
    );
    let browser: Vec<BrowserCheck> = f
        .browser
        .unwrap_or_default()
        .into_iter()
        .map(|b| BrowserCheck {
            name: b.name,
            path: b.path.unwrap_or_else(|| default(d::HEALTH_PATH)),
            expect_text: b.expect_text,
            selector: b.selector,
            screenshot: b.screenshot.unwrap_or(false),
            steps: b.steps.unwrap_or_default(),
        })
        .collect();
    check_unique_names(
        src,
        "browser",
        browser.iter().map(|c| c.name.as_str()),
        problems,
    );
    let health = f.health.unwrap_or_default();
    Recipe {
        repo,
        git_url: inputs.git_url,
        on_gitea: inputs.on_gitea,
        web: inputs.web,
        compose_files: inputs.compose_files,
        secret_values: inputs.secret_values,
        name,
        category: f.category.unwrap_or_else(|| default(d::CATEGORY)),
        deploy_timeout: f.deploy_timeout.unwrap_or(host.run.deploy_timeout),
        http_timeout: f.http_timeout.unwrap_or(host.run.http_timeout),
        lanes: f.lanes.unwrap_or(host.run.lanes),
        backup: f.backup.unwrap_or(BackupMode::Auto),
        recipe_tests: f.recipe_tests.unwrap_or(false),
        lint: f.lint.unwrap_or(true),
        weekly_sweep: f.weekly_sweep.unwrap_or(false),
        upgrade_base: f.upgrade_base,
        depends_on,
        health: Health {
            path: health.path.unwrap_or_else(|| default(d::HEALTH_PATH)),
            statuses: health
                .statuses
                .unwrap_or_else(|| statuses(&d::HEALTH_STATUSES)),
        },
        env,
        env_from_domain,
        marker: f.marker,
        skip,
        compose_allow,
        checks,
        browser,
    }
}

fn check_unique_names<'a>(
    src: &Source,
    table: &str,
    names: impl Iterator<Item = &'a str>,
    problems: &mut Vec<Diagnostic>,
) {
    let mut seen = BTreeSet::new();
    for (i, name) in names.enumerate() {
        let at = i.to_string();
        if name.trim().is_empty() {
            problems.push(diag(
                src,
                &[table, &at, "name"],
                "expected a non-empty name",
            ));
        } else if !seen.insert(name) {
            problems.push(diag(
                src,
                &[table, &at, "name"],
                format!("duplicate {table} name `{name}`"),
            ));
        }
    }
}

fn check_dependency_cycles(recipes: &BTreeMap<RecipeName, Recipe>, problems: &mut Vec<Diagnostic>) {
    // Depth-first search with colours; one report per cycle found.
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Visiting,
        Done,
    }
    fn visit<'a>(
        name: &'a RecipeName,
        recipes: &'a BTreeMap<RecipeName, Recipe>,
        marks: &mut BTreeMap<&'a RecipeName, Mark>,
        stack: &mut Vec<&'a RecipeName>,
        cycles: &mut Vec<Vec<String>>,
    ) {
        match marks.get(name) {
            Some(Mark::Done) => return,
            Some(Mark::Visiting) => {
                let start = stack.iter().position(|n| *n == name).unwrap_or(0);
                let mut cycle: Vec<String> = stack[start..].iter().map(|n| n.to_string()).collect();
                cycle.push(name.to_string());
                cycles.push(cycle);
                return;
            }
            None => {}
        }
        marks.insert(name, Mark::Visiting);
        stack.push(name);
        if let Some(r) = recipes.get(name) {
            for dep in &r.depends_on {
                visit(dep, recipes, marks, stack, cycles);
            }
        }
        stack.pop();
        marks.insert(name, Mark::Done);
    }
    let mut marks = BTreeMap::new();
    let mut cycles = Vec::new();
    for name in recipes.keys() {
        visit(name, recipes, &mut marks, &mut Vec::new(), &mut cycles);
    }
    for cycle in cycles {
        let first = &cycle[0];
        problems.push(
            Diagnostic::new(
                std::path::Path::new(&format!("recipes/{first}.toml")),
                format!("dependency cycle: {}", cycle.join(" → ")),
            )
            .key("depends_on"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::keys::defaults;

    #[test]
    fn default_constants_parse() {
        let _: Duration = default(defaults::BUILD_TIMEOUT);
        let _: Duration = default(defaults::DEADLINE_MARGIN);
        let _: Duration = default(defaults::DEPLOY_TIMEOUT);
        let _: Duration = default(defaults::HTTP_TIMEOUT);
        let _: Duration = default(defaults::JANITOR_MAX_AGE);
        let _: Duration = default(defaults::POLL_INTERVAL);
        let _: Duration = default(defaults::SWEEP_INTERVAL);
        let _: super::super::values::Word = default(defaults::TRIGGER);
        let _: super::super::values::Word = default(defaults::CATEGORY);
        let _: std::net::SocketAddr = default(defaults::LISTEN);
        let _: std::net::Ipv4Addr = default(defaults::ADVERTISE_ADDR);
        let _: super::super::values::AbsPath = default(defaults::CERT_DIR);
        let _: super::super::values::AbsPath = default(defaults::RUNS_DIR);
        let _: super::super::values::AbsPath = default(defaults::ABRA_DIR);
        let _: super::super::values::AbsPath = default(defaults::BACKUP_REPOSITORY);
        let _: super::super::values::UrlPath = default(defaults::HEALTH_PATH);
        let _ = statuses(&defaults::HEALTH_STATUSES);
        let _ = statuses(&defaults::CHECK_STATUSES);
        let url = defaults::ABRA_URL.replace("{version}", "0.10.0-beta");
        assert!(url.parse::<super::super::values::HttpUrl>().is_ok());
        let _: super::super::values::HttpUrl = default("https://git.coopcloud.tech");
    }
}
