//! The gateway in memory: like Traefik in front of the apps. A request is
//! routed when a running service of its stack carries a router rule naming
//! the domain with `Host(...)` and, when the rule has `PathPrefix(...)`,
//! the path starts with one of its prefixes; anything else gets Traefik's
//! fallback 404, exactly as Traefik sends it. The app answers fixed routes
//! first, then `/` with its home page, then files of the volume mounted at
//! the site's document root; every app answer carries a `server` header of
//! its own, as a real app's does.

use ccci::run::probe::{Answer, ProbeConfig, ProbeFailure, ProbeSetupError, TRAEFIK_FALLBACK_BODY};
use ccci::run::world::{AppHttp, Web};

use super::MemWorld;

/// Traefik's answer when no router matches: Go's plain 404.
pub fn traefik_fallback() -> Answer {
    Answer::new(404, format!("{TRAEFIK_FALLBACK_BODY}\n"))
        .with_header("content-type", "text/plain; charset=utf-8")
        .with_header("x-content-type-options", "nosniff")
        .with_header("content-length", "19")
}

/// An answer from the app itself.
pub fn app_answer(status: u16, body: &str) -> Answer {
    Answer::new(status, body).with_header("server", "mem-app")
}

/// The arguments of every `name(...)` matcher in a Traefik rule, with
/// backticks or quotes removed: `Host`, `PathPrefix`.
pub fn matcher_args(rule: &str, name: &str) -> Vec<String> {
    let open = format!("{name}(");
    let mut out = Vec::new();
    let mut rest = rule;
    while let Some(i) = rest.find(&open) {
        // `PathPrefix(` must not match inside `SomethingPathPrefix(`.
        let before = rest[..i].chars().next_back();
        let after = &rest[i + open.len()..];
        let Some(end) = after.find(')') else { break };
        if !before.is_some_and(|c| c.is_ascii_alphanumeric()) {
            for arg in after[..end].split(',') {
                let a = arg.trim().trim_matches(['`', '"', '\'']);
                if !a.is_empty() {
                    out.push(a.to_owned());
                }
            }
        }
        rest = &after[end..];
    }
    out
}

/// Whether a router rule sends `domain` + `path` to its service: a
/// `Host(...)` names the domain and, when the rule has `PathPrefix(...)`,
/// the path starts with one of its prefixes.
pub fn rule_matches(rule: &str, domain: &str, path: &str) -> bool {
    let prefixes = matcher_args(rule, "PathPrefix");
    routes(rule, domain)
        && (prefixes.is_empty() || prefixes.iter().any(|p| path.starts_with(p.as_str())))
}

/// Whether a label holds a router rule with `Host(…)` naming `domain`. The
/// arguments must be back-quoted names separated by commas, as Traefik
/// parses them: `Host(`a`, `b`)`; a rule Traefik could not parse
/// (`Host(`a`, b)`) routes nothing.
fn routes(label: &str, domain: &str) -> bool {
    let mut rest = label;
    let mut found = false;
    while let Some(i) = rest.find("Host(") {
        let args = &rest[i + "Host(".len()..];
        let Some(end) = args.find(')') else {
            return false;
        };
        let mut names = Vec::new();
        for arg in args[..end].split(',') {
            let arg = arg.trim();
            match arg.strip_prefix('`').and_then(|a| a.strip_suffix('`')) {
                Some(name) if !name.is_empty() && !name.contains('`') => names.push(name),
                _ => return false,
            }
        }
        found |= names.contains(&domain);
        rest = &args[end + 1..];
    }
    found
}

struct MemHttp<'a> {
    world: &'a MemWorld,
    domain: String,
}

impl AppHttp for MemHttp<'_> {
    fn get(&self, path: &str) -> Result<Answer, ProbeFailure> {
        let w = self.world;
        let stack = self.domain.replace('.', "_");
        if MemWorld::listed(&stack, &w.knobs.default_cert) {
            return Err(ProbeFailure::TraefikDefaultCert);
        }
        let mut s = w.state();
        s.requests.push((self.domain.clone(), path.to_owned()));
        let routed = s.services.values().find(|v| {
            v.stack == stack
                && v.running_now(s.elapsed) > 0
                && v.labels
                    .values()
                    .any(|l| rule_matches(l, &self.domain, path))
        });
        let Some(svc) = routed else {
            return Ok(traefik_fallback());
        };
        if let Some(a) = w.site.routes.get(path) {
            return Ok(a.clone());
        }
        if path == "/" {
            return Ok(app_answer(w.site.home_status, &w.site.home));
        }
        let file = svc
            .mounts
            .get(&w.site.docroot)
            .and_then(|vol| s.volumes.get(vol))
            .and_then(|v| v.files.get(path.trim_start_matches('/')));
        Ok(match file {
            Some(body) => app_answer(200, body),
            None => app_answer(404, "<html><body>nginx: 404 Not Found</body></html>"),
        })
    }
}

impl Web for MemWorld {
    fn client<'a>(
        &'a self,
        _config: &ProbeConfig,
        domain: &str,
    ) -> Result<Box<dyn AppHttp + 'a>, ProbeSetupError> {
        Ok(Box::new(MemHttp {
            world: self,
            domain: domain.to_owned(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_and_path_prefix_rules_route_like_traefik() {
        let r = "Host(`a.ci.example.org`) && PathPrefix(`/app`)";
        assert!(rule_matches(r, "a.ci.example.org", "/app/x"));
        assert!(!rule_matches(r, "a.ci.example.org", "/"));
        assert!(!rule_matches(r, "b.ci.example.org", "/app"));
        assert!(rule_matches("Host(`a.x`, `www.a.x`)", "www.a.x", "/"));
        assert!(!rule_matches("Host(``)", "a.x", "/"));
    }

    #[test]
    fn host_rules_list_back_quoted_names() {
        assert!(routes("Host(`a.ci`)", "a.ci"));
        assert!(routes("Host(`a.ci`, `www-a.ci`)", "www-a.ci"));
        assert!(routes("Host(`b.ci`) || Host(`a.ci`)", "a.ci"));
        assert!(!routes("Host(`a.ci`, www-a.ci)", "a.ci"));
        assert!(!routes("Host(`b.ci`)", "a.ci"));
        assert!(!routes("Host(``)", "a.ci"));
    }
}
