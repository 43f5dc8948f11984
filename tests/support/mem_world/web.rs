//! The gateway in memory: like Traefik in front of nginx. A domain has a
//! router when a running service of its stack carries a `Host(...)` rule
//! naming it; without one the answer is Traefik's fallback 404. `/` is the
//! app's home page, other paths are files of the volume mounted at the
//! site's document root.

use ccci::run::probe::{Answer, ProbeConfig, ProbeFailure, ProbeSetupError, TRAEFIK_FALLBACK_BODY};
use ccci::run::world::{AppHttp, Web};

use super::MemWorld;

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
        let s = w.state();
        let routed = s.services.values().find(|v| {
            v.stack == stack
                && v.running_now(s.elapsed) > 0
                && v.labels.values().any(|l| routes(l, &self.domain))
        });
        let answer = |status, body: &str| Answer {
            status,
            body: body.to_owned(),
        };
        let Some(svc) = routed else {
            return Ok(answer(404, TRAEFIK_FALLBACK_BODY));
        };
        if path == "/" {
            return Ok(answer(200, &w.site.home));
        }
        let file = svc
            .mounts
            .get(&w.site.docroot)
            .and_then(|vol| s.volumes.get(vol))
            .and_then(|v| v.files.get(path.trim_start_matches('/')));
        Ok(match file {
            Some(body) => answer(200, body),
            None => answer(404, "<html><body>nginx: 404 Not Found</body></html>"),
        })
    }
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
    use super::routes;

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
