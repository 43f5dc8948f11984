//! The decisions of a proposal, one function each: health, marker, backups,
//! upgrade, deploy timeout. Each returns its choice with the reasons (file
//! and line) and, for what it could not decide, a note.

use std::collections::BTreeMap;

use super::compose::{Compose, Service};
use super::images::{self, SlowKind};
use super::labels::{self, BackedUp, Route};
use super::{At, EnrollError};
use crate::registry::values::{Duration, StatusList, UrlPath};
use crate::registry::{Marker, SqlEngine};
use crate::run::version::{BaseChoice, TagRef, choose_base, compose_version_label};

/// A value chosen, and why (each line one reason, citing file:line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice<T> {
    pub value: T,
    pub why: Vec<String>,
}

impl<T> Choice<T> {
    pub fn new(value: T, why: impl Into<String>) -> Choice<T> {
        Choice {
            value,
            why: vec![why.into()],
        }
    }
}

/// The health check's path and statuses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthChoice {
    pub path: UrlPath,
    pub statuses: StatusList,
}

/// The path of an `http://…` URL in a healthcheck's words.
fn healthcheck_path(words: &[String]) -> Option<String> {
    let text = words.join(" ");
    let at = text.find("http://").or_else(|| text.find("https://"))?;
    let url = text[at..].split([' ', '"', '\'']).next()?;
    let after_scheme = &url[url.find("://")? + 3..];
    Some(match after_scheme.find('/') {
        Some(i) => after_scheme[i..].to_owned(),
        None => "/".to_owned(),
    })
}

fn default_statuses() -> StatusList {
    StatusList::try_from(crate::registry::keys::defaults::HEALTH_STATUSES.to_vec())
        .expect("the default statuses are valid")
}

/// Health from the main route and the routed service's healthcheck.
pub fn health(
    route: &Route,
    services: &BTreeMap<String, Service>,
    notes: &mut Vec<String>,
) -> Choice<HealthChoice> {
    let routed = services.get(&route.service);
    let prefix = route.rule.paths.iter().min_by_key(|p| p.len());
    let own = routed.and_then(|s| {
        let (words, at) = s.healthcheck.as_ref()?;
        Some((healthcheck_path(words)?, at.clone()))
    });
    for s in services.values().filter(|s| s.name != route.service) {
        if let Some((words, at)) = &s.healthcheck
            && let Some(p) = healthcheck_path(words).filter(|p| p != "/")
        {
            notes.push(format!(
                "service {} checks {p} ({at}) but Traefik routes to {}: if {} passes {p} through, [health] path could be {p}",
                s.name, route.service, route.service
            ));
        }
    }
    let route_why = format!(
        "Traefik routes the app's domain to service {} (router {}, {})",
        route.service, route.router, route.at
    );
    if let Some((p, at)) = own.as_ref().filter(|(p, _)| p != "/")
        && let Ok(path) = p.parse::<UrlPath>()
    {
        return Choice {
            value: HealthChoice {
                path,
                statuses: StatusList::try_from(vec![200]).expect("200 is a status"),
            },
            why: vec![
                route_why,
                format!(
                    "its own healthcheck asks for {p} ({at}), an endpoint that answers 200 when healthy"
                ),
            ],
        };
    }
    let mut why = vec![route_why];
    let path = match prefix {
        Some(p) => {
            why.push(format!(
                "the rule routes only PathPrefix {p} ({})",
                route.at
            ));
            p.as_str()
        }
        None => {
            why.push("the rule routes the whole domain: probe the landing page".to_owned());
            "/"
        }
    };
    if let Some((_, at)) = &own {
        why.push(format!("its healthcheck asks for / too ({at})"));
    }
    why.push(
        "a landing page may redirect (to a login or a locale): 301 and 302 count as up".to_owned(),
    );
    let path = path.parse::<UrlPath>().unwrap_or_else(|_| {
        notes.push(format!(
            "the router's path {path:?} ({}) is not a plain URL path; [health] path is /",
            route.at
        ));
        "/".parse().expect("/ is a path")
    });
    Choice {
        value: HealthChoice {
            path,
            statuses: default_statuses(),
        },
        why,
    }
}

/// Every volume the labels back up, and notes on labels backup-bot-two ignores.
pub fn backups(compose: &Compose, notes: &mut Vec<String>) -> Result<Vec<BackedUp>, EnrollError> {
    let mut out = Vec::new();
    for s in compose.services.values() {
        let b = labels::backup_labels(s)?;
        if let Some((paths, at)) = &b.old_paths {
            notes.push(format!(
                "service {}: backupbot.backup.path={} ({at}) is the older spelling, which current backup-bot-two ignores; it backs up the service's volumes instead",
                s.name,
                paths.join(",")
            ));
        }
        out.extend(labels::backed_up(s, &b));
    }
    Ok(out)
}

/// Words a marker's database or user must be.
fn word(v: &str) -> Option<crate::registry::values::Word> {
    v.parse().ok()
}

fn env<'a>(s: &'a Service, keys: &[&str]) -> Option<(&'a str, &'a At, String)> {
    keys.iter().find_map(|k| {
        s.env
            .get(*k)
            .filter(|(v, _)| !v.is_empty())
            .map(|(v, at)| (v.as_str(), at, (*k).to_owned()))
    })
}

/// A SQL marker in a postgres or mariadb service, if its env names a
/// database and user the marker can use.
fn sql_marker(s: &Service, engine: SqlEngine, notes: &mut Vec<String>) -> Option<Choice<Marker>> {
    let (image, image_at) = s.image.as_ref()?;
    let service = s.name.parse().ok()?;
    let mut why = vec![format!(
        "service {} runs {image} ({image_at}): a row in a ccci_marker table proves the database's data survives",
        s.name
    )];
    match engine {
        SqlEngine::Postgres => {
            let user = env(s, &["POSTGRES_USER"]);
            let db = env(s, &["POSTGRES_DB"]);
            let user_name = user.as_ref().map_or("postgres", |u| u.0);
            let db_name = db.as_ref().map_or(user_name, |d| d.0);
            match user {
                Some((v, at, k)) => why.push(format!("user {v} from {k} ({at})")),
                None => {
                    why.push("user postgres: POSTGRES_USER is not set, the image's default".into())
                }
            }
            match db {
                Some((v, at, k)) => why.push(format!("database {v} from {k} ({at})")),
                None => why.push(format!(
                    "database {db_name}: POSTGRES_DB is not set, the image defaults it to the user"
                )),
            }
            let (Some(database), Some(user)) = (word(db_name), word(user_name)) else {
                notes.push(format!("service {}: database {db_name:?} or user {user_name:?} is not a plain word; no sql marker", s.name));
                return None;
            };
            Some(Choice {
                value: Marker::Sql {
                    engine,
                    service,
                    database,
                    user,
                    password_file: None,
                },
                why,
            })
        }
        SqlEngine::Mariadb => {
            let Some((db, db_at, db_key)) = env(s, &["MARIADB_DATABASE", "MYSQL_DATABASE"]) else {
                notes.push(format!(
                    "service {} runs mariadb without MARIADB_DATABASE or MYSQL_DATABASE: no database to put the marker table in",
                    s.name
                ));
                return None;
            };
            why.push(format!("database {db} from {db_key} ({db_at})"));
            let (user, password_file) = match (
                env(s, &["MARIADB_USER", "MYSQL_USER"]),
                env(s, &["MARIADB_PASSWORD_FILE", "MYSQL_PASSWORD_FILE"]),
            ) {
                (Some((u, at, k)), Some((p, pat, pk))) => {
                    why.push(format!(
                        "user {u} from {k} ({at}), its password file {p} from {pk} ({pat})"
                    ));
                    (u, p)
                }
                _ => match env(
                    s,
                    &["MARIADB_ROOT_PASSWORD_FILE", "MYSQL_ROOT_PASSWORD_FILE"],
                ) {
                    Some((p, at, k)) => {
                        why.push(format!("user root, its password file {p} from {k} ({at})"));
                        ("root", p)
                    }
                    None => {
                        notes.push(format!(
                            "service {}: no user with a password file (MARIADB_USER + MARIADB_PASSWORD_FILE): the marker cannot log in",
                            s.name
                        ));
                        return None;
                    }
                },
            };
            let (Some(database), Some(user), Ok(password_file)) =
                (word(db), word(user), password_file.parse())
            else {
                notes.push(format!("service {}: database, user or password file is not usable as written; no sql marker", s.name));
                return None;
            };
            Some(Choice {
                value: Marker::Sql {
                    engine,
                    service,
                    database,
                    user,
                    password_file: Some(password_file),
                },
                why,
            })
        }
    }
}

/// The marker: a database row, else a file in a backed-up volume served
/// over HTTP, else a file in a backed-up volume read with `docker exec`.
pub fn marker(
    compose: &Compose,
    backed: &[BackedUp],
    route: Option<&Route>,
    notes: &mut Vec<String>,
) -> Option<Choice<Marker>> {
    let mut dbs: Vec<(&Service, SqlEngine)> = compose
        .services
        .values()
        .filter_map(|s| Some((s, images::sql_engine(&s.image_repo()?)?)))
        .collect();
    // The conventional database service first.
    dbs.sort_by_key(|(s, _)| s.name != "db");
    for (s, engine) in dbs {
        if let Some(m) = sql_marker(s, engine, notes) {
            return Some(m);
        }
    }
    if let Some(route) = route {
        let prefix = route
            .rule
            .paths
            .iter()
            .min_by_key(|p| p.len())
            .map_or("", |p| p.trim_end_matches('/'));
        for b in backed
            .iter()
            .filter(|b| b.service == route.service && b.paths.is_empty())
        {
            if images::WEB_ROOTS.contains(&b.target.as_str())
                && let (Ok(service), Ok(path), Ok(url_path)) = (
                    b.service.parse(),
                    format!("{}/ccci-marker.txt", b.target).parse(),
                    format!("{prefix}/ccci-marker.txt").parse(),
                )
            {
                return Some(Choice {
                    value: Marker::HttpFile {
                        service,
                        path,
                        url_path,
                    },
                    why: vec![
                        format!(
                            "service {} serves volume {} from {}, a web root, and Traefik routes to it ({})",
                            b.service, b.volume, b.target, route.at
                        ),
                        format!("the volume is backed up (backupbot.backup, {})", b.at),
                    ],
                });
            }
        }
    }
    let mut candidates: Vec<&BackedUp> = backed.iter().filter(|b| b.paths.is_empty()).collect();
    candidates.sort_by_key(|b| {
        (
            Some(b.service.as_str()) != route.map(|r| r.service.as_str()),
            b.service != "app",
        )
    });
    for b in candidates {
        if let (Ok(service), Ok(path)) = (
            b.service.parse(),
            format!("{}/ccci-marker", b.target.trim_end_matches('/')).parse(),
        ) {
            return Some(Choice {
                value: Marker::ExecFile { service, path },
                why: vec![format!(
                    "volume {} of service {} is backed up (backupbot.backup, {}); a file in it, written and read with docker exec",
                    b.volume, b.service, b.at
                )],
            });
        }
    }
    for b in backed.iter().filter(|b| !b.paths.is_empty()) {
        notes.push(format!(
            "volume {} of service {} is backed up only in part ({}): a marker file there may not be restored",
            b.volume,
            b.service,
            b.paths.join(",")
        ));
    }
    notes.push("no data marker: no postgres or mariadb service with a usable database and no backed-up volume; declare [marker] by hand (kind exec can use the app's own API)".to_owned());
    None
}

/// The upgrade rung's base, or the reason it does not apply.
pub fn upgrade(
    tags: Option<&[TagRef]>,
    head_commit: &str,
    describe: Option<&str>,
    compose: &Compose,
    notes: &mut Vec<String>,
) -> Result<Choice<String>, String> {
    let Some(tags) = tags else {
        notes.push(
            "not a git repository: no release tags, so the upgrade rung is skipped".to_owned(),
        );
        return Err("the recipe was enrolled from a directory without git history: no release to upgrade from".into());
    };
    let label = compose
        .files
        .iter()
        .find_map(|(name, text)| compose_version_label(text).map(|v| (v, name.clone())));
    let head = crate::run::version::head_version(label.as_ref().map(|(v, _)| v.as_str()), describe);
    if tags.is_empty() {
        notes.push(
            "the repository has no tags: the upgrade rung is skipped until a release is tagged"
                .to_owned(),
        );
    }
    match choose_base(tags, head_commit, head.as_ref(), None) {
        BaseChoice::Base(base) => {
            let base = base.tag;
            let why = match (&head, &label) {
                (Some(h), Some((_, file))) => format!(
                    "the newest release tag before the head's version {h} (the coop-cloud version label in {file})"
                ),
                (Some(h), None) => {
                    format!("the newest release tag before {h}, the newest tag reachable from HEAD")
                }
                (None, _) => "the newest release tag (the head's version is not known)".to_owned(),
            };
            Ok(Choice::new(base, why))
        }
        BaseChoice::None(reason) => Err(reason),
    }
}

/// `coop-cloud.<stack>.timeout` in seconds, the recipe's own deploy budget.
fn timeout_label(s: &Service) -> Option<(u64, At)> {
    s.labels.iter().find_map(|l| {
        let rest = l.key.strip_prefix("coop-cloud.")?;
        rest.ends_with(".timeout").then_some(())?;
        Some((l.value.trim().parse().ok()?, l.at.clone()))
    })
}

/// A deploy timeout above the host's default, when an image's kind or the
/// recipe's timeout label asks for one.
pub fn deploy_timeout(compose: &Compose, default: Duration) -> Result<Choice<Duration>, String> {
    let mut best: Option<Choice<Duration>> = None;
    let mut consider = |d: Duration, why: String| {
        if best.as_ref().is_none_or(|b| d > b.value) {
            best = Some(Choice::new(d, why));
        }
    };
    for s in compose.services.values() {
        if let (Some(repo), Some((image, at))) = (s.image_repo(), s.image.as_ref())
            && let Some((kind, name)) = images::kind_of(&repo)
        {
            consider(
                kind.deploy_timeout(),
                format!(
                    "service {} runs {image} ({at}): {} ({name} in the table of slow images)",
                    s.name,
                    SlowKind::describe(kind)
                ),
            );
        }
        if let Some((secs, at)) = timeout_label(s) {
            consider(
                Duration::from_secs(secs),
                format!("the recipe's own deploy budget, coop-cloud timeout label {secs}s ({at})"),
            );
        }
    }
    match best {
        Some(b) if b.value > default => Ok(b),
        Some(b) => Err(format!(
            "{} is within the host's default {default}",
            b.why.join("; ")
        )),
        None => Err(format!(
            "no slow image and no timeout label: the host's default {default}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn healthcheck_urls_give_paths() {
        let w = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            healthcheck_path(&w(&[
                "CMD",
                "curl",
                "-f",
                "http://localhost:3000/api/health"
            ]))
            .as_deref(),
            Some("/api/health")
        );
        assert_eq!(
            healthcheck_path(&w(&["CMD", "curl", "-f", "http://localhost:4000"])).as_deref(),
            Some("/")
        );
        assert_eq!(
            healthcheck_path(&w(&[
                "CMD-SHELL",
                "wget -qO- 'http://127.0.0.1/ok' || exit 1"
            ]))
            .as_deref(),
            Some("/ok")
        );
        assert_eq!(healthcheck_path(&w(&["CMD", "pg_isready"])), None);
    }
}
