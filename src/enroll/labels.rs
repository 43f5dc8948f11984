//! What a recipe's labels say: which service Traefik routes the app domain
//! to (and under which path), and what backup-bot-two backs up
//! (docs/enroll.md, "Labels enroll reads").

use std::collections::BTreeMap;

use super::compose::{Label, Service};
use super::{At, EnrollError};

/// The matchers of a Traefik router rule that enrolment needs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rule {
    pub hosts: Vec<String>,
    /// `PathPrefix(...)` and `Path(...)` arguments.
    pub paths: Vec<String>,
}

/// Parse a rule such as ``Host(`a`, `b`) && PathPrefix(`/x`)``: each matcher is
/// a name and a parenthesised list of back-quoted or double-quoted strings.
pub fn parse_rule(rule: &str) -> Result<Rule, String> {
    let mut out = Rule::default();
    let mut rest = rule;
    while let Some(open) = rest.find('(') {
        let name = rest[..open]
            .rsplit(|c: char| !c.is_ascii_alphanumeric())
            .next()
            .unwrap_or("");
        let mut args = Vec::new();
        let mut s = &rest[open + 1..];
        loop {
            s = s.trim_start_matches([' ', ',']);
            if let Some(after) = s.strip_prefix(')') {
                s = after;
                break;
            }
            let Some(q) = s.chars().next().filter(|c| matches!(c, '`' | '"')) else {
                if name.is_empty() || s.starts_with(['!', '(']) || s.is_empty() {
                    // A grouping parenthesis: its contents are matchers.
                    break;
                }
                return Err(format!("{name}(…) expects back-quoted arguments"));
            };
            let Some(end) = s[1..].find(q) else {
                return Err(format!("{name}(…) has an unclosed {q}"));
            };
            args.push(s[1..1 + end].to_owned());
            s = &s[end + 2..];
        }
        match name {
            "Host" => out.hosts.extend(args),
            "PathPrefix" | "Path" => out.paths.extend(args),
            _ => {}
        }
        rest = s;
    }
    Ok(out)
}

/// A router serving the app's domain over HTTP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub service: String,
    pub router: String,
    pub rule: Rule,
    pub at: At,
}

/// Whether a service is exposed through Traefik (`traefik.enable` true).
pub fn traefik_enabled(s: &Service) -> bool {
    s.label("traefik.enable").is_some_and(|l| l.value == "true")
}

/// The HTTP routers of every Traefik-enabled service, rules parsed. A rule
/// that does not parse is an error naming its line.
pub fn routes(services: &BTreeMap<String, Service>) -> Result<Vec<Route>, EnrollError> {
    let mut out = Vec::new();
    for s in services.values().filter(|s| traefik_enabled(s)) {
        for l in &s.labels {
            let Some(router) = l
                .key
                .strip_prefix("traefik.http.routers.")
                .and_then(|r| r.strip_suffix(".rule"))
            else {
                continue;
            };
            let rule = parse_rule(&l.value).map_err(|why| EnrollError::Label {
                at: l.at.clone(),
                label: l.key.clone(),
                expected: format!("a Traefik rule: {why}"),
            })?;
            out.push(Route {
                service: s.name.clone(),
                router: router.to_owned(),
                rule,
                at: l.at.clone(),
            });
        }
    }
    Ok(out)
}

/// The route of the app's own domain: a router whose hosts include it,
/// preferring one without a path matcher, then the shortest path.
pub fn main_route<'a>(routes: &'a [Route], domain: &str) -> Option<&'a Route> {
    routes
        .iter()
        .filter(|r| r.rule.hosts.iter().any(|h| h == domain))
        .min_by_key(|r| {
            (
                !r.rule.paths.is_empty(),
                r.rule.paths.iter().map(String::len).min().unwrap_or(0),
            )
        })
}

/// What backup-bot-two reads from one service's labels.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BackupLabels {
    /// `backupbot.backup`, the switch.
    pub enabled: Option<(bool, At)>,
    /// `backupbot.backup.volumes.<volume>`: a volume switched off.
    pub volume_off: BTreeMap<String, At>,
    /// `backupbot.backup.volumes.<volume>.path`: only these paths of it.
    pub volume_paths: BTreeMap<String, (Vec<String>, At)>,
    /// The older `backupbot.backup.path` spelling (paths in the container),
    /// which current backup-bot-two ignores.
    pub old_paths: Option<(Vec<String>, At)>,
    /// Hooks (`backupbot.backup.pre-hook`, `backupbot.restore.post-hook`, …).
    pub hooks: Vec<Label>,
}

fn boolean(l: &Label) -> Result<bool, EnrollError> {
    match l.value.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(EnrollError::Label {
            at: l.at.clone(),
            label: format!("{}={}", l.key, l.value),
            expected: "expected true or false once interpolated".into(),
        }),
    }
}

fn paths(v: &str) -> Vec<String> {
    v.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Read a service's backupbot labels.
pub fn backup_labels(s: &Service) -> Result<BackupLabels, EnrollError> {
    let mut b = BackupLabels::default();
    for l in &s.labels {
        if l.key == "backupbot.backup" {
            b.enabled = Some((boolean(l)?, l.at.clone()));
        } else if l.key == "backupbot.backup.path" {
            b.old_paths = Some((paths(&l.value), l.at.clone()));
        } else if let Some(rest) = l.key.strip_prefix("backupbot.backup.volumes.") {
            if let Some(vol) = rest.strip_suffix(".path") {
                b.volume_paths
                    .insert(vol.to_owned(), (paths(&l.value), l.at.clone()));
            } else if !boolean(l)? {
                b.volume_off.insert(rest.to_owned(), l.at.clone());
            }
        } else if l.key.ends_with("-hook")
            && (l.key.starts_with("backupbot.backup.") || l.key.starts_with("backupbot.restore."))
        {
            b.hooks.push(l.clone());
        }
    }
    Ok(b)
}

/// A volume backup-bot-two backs up, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackedUp {
    pub service: String,
    pub volume: String,
    /// Where the service mounts it.
    pub target: String,
    /// Only these paths inside the volume; empty: all of it.
    pub paths: Vec<String>,
    /// The switch label that turns it on.
    pub at: At,
}

/// The volumes a service's labels back up: every named volume of a service
/// whose switch is on, except those switched off.
pub fn backed_up(s: &Service, b: &BackupLabels) -> Vec<BackedUp> {
    let Some((true, at)) = &b.enabled else {
        return Vec::new();
    };
    s.mounts
        .iter()
        .filter(|m| !b.volume_off.contains_key(&m.volume))
        .map(|m| BackedUp {
            service: s.name.clone(),
            volume: m.volume.clone(),
            target: m.target.clone(),
            paths: b
                .volume_paths
                .get(&m.volume)
                .map(|(p, _)| p.clone())
                .unwrap_or_default(),
            at: at.clone(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_give_hosts_and_paths() {
        let r =
            parse_rule("Host(`a.example.com`, `www.a.example.com`) && PathPrefix(`/app`)").unwrap();
        assert_eq!(r.hosts, ["a.example.com", "www.a.example.com"]);
        assert_eq!(r.paths, ["/app"]);
        let r = parse_rule("(Host(\"a\") || Host(`b`)) && !Path(`/x`)").unwrap();
        assert_eq!(r.hosts, ["a", "b"]);
        assert_eq!(r.paths, ["/x"]);
        assert!(parse_rule("Host(`a)").unwrap_err().contains("unclosed"));
        assert!(parse_rule("Host(a)").is_err());
    }

    #[test]
    fn the_main_route_is_the_domain_without_a_path() {
        let route = |router: &str, rule: &str| Route {
            service: "app".into(),
            router: router.into(),
            rule: parse_rule(rule).unwrap(),
            at: At::new("compose.yml", 1),
        };
        let rs = [
            route("api", "Host(`d`) && PathPrefix(`/api`)"),
            route("main", "Host(`d`)"),
            route("other", "Host(`e`)"),
        ];
        assert_eq!(main_route(&rs, "d").unwrap().router, "main");
        assert_eq!(main_route(&rs[..1], "d").unwrap().router, "api");
        assert!(main_route(&rs, "z").is_none());
    }

    #[test]
    fn a_switch_that_is_not_a_boolean_is_an_error() {
        let s = Service {
            labels: vec![Label {
                key: "backupbot.backup".into(),
                value: "yes please".into(),
                at: At::new("compose.yml", 7),
            }],
            ..Service::default()
        };
        let e = backup_labels(&s).unwrap_err().to_string();
        assert!(
            e.starts_with("compose.yml:7: label") && e.contains("true or false"),
            "{e}"
        );
    }
}
