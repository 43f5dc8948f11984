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
        let rule = format!("Host(`{}`)", self.domain);
        let routed = s.services.values().find(|v| {
            v.stack == stack
                && v.running_now(s.elapsed) > 0
                && v.labels.values().any(|l| l.contains(&rule))
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
