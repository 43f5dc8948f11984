//! HTTPS probes of a run app: the floor (the recipe's health path with its
//! statuses) and the plan's HTTP checks.
//!
//! The probe connects to the app's real name with the TCP connection pinned to
//! the gateway (`resolve` override): connecting to an IP would drop SNI and
//! Traefik would answer for the wrong router. Certificates are verified; a
//! page served with Traefik's self-signed default certificate, or Traefik's
//! fallback 404, is never healthy, even for a recipe that declares 404 a
//! healthy status (docs/traefik.md, "Fallback answers are never healthy").

use std::net::SocketAddr;
use std::time::Duration;

use super::world::AppHttp;
use crate::registry::{Health, HttpCheck};

/// Where and how to reach run apps.
#[derive(Debug, Clone)]
pub struct ProbeConfig {
    /// The gateway address every run domain is routed to (Traefik's :443).
    pub connect: SocketAddr,
    /// An extra trusted root in PEM (a private CA for the wildcard certificate).
    pub extra_ca_pem: Option<Vec<u8>>,
    /// Per-request timeout.
    pub request_timeout: Duration,
}

/// A probe that could not be set up (a bad CA file): an infrastructure error.
#[derive(Debug, thiserror::Error)]
pub enum ProbeSetupError {
    #[error("the extra CA certificate is not valid PEM: {0}")]
    Ca(String),
    #[error("cannot build the HTTPS client: {0}")]
    Client(String),
}

/// Traefik's answer when no router matches the host.
pub const TRAEFIK_FALLBACK_BODY: &str = "404 page not found";
/// The subject of the certificate Traefik serves when no certificate matches.
pub const TRAEFIK_DEFAULT_CERT_CN: &str = "TRAEFIK DEFAULT CERT";
/// The headers Traefik's fallback 404 carries (Go's `http.NotFound`), plus
/// those any transport adds. A header outside this list is the app's.
pub const FALLBACK_HEADERS: [&str; 7] = [
    "content-type",
    "content-length",
    "x-content-type-options",
    "date",
    "connection",
    "keep-alive",
    "transfer-encoding",
];

/// One HTTP answer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Answer {
    pub status: u16,
    pub body: String,
    /// Response headers, names in lower case, in the order received.
    pub headers: Vec<(String, String)>,
}

impl Answer {
    /// An answer without headers beyond the bare minimum.
    pub fn new(status: u16, body: impl Into<String>) -> Answer {
        Answer {
            status,
            body: body.into(),
            headers: Vec::new(),
        }
    }

    /// The same answer with one more header (name put in lower case).
    pub fn with_header(mut self, name: &str, value: &str) -> Answer {
        self.headers
            .push((name.to_ascii_lowercase(), value.to_owned()));
        self
    }

    /// The first value of a header, by its lower-case name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Why a request produced no usable answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeFailure {
    /// The server presented Traefik's default certificate: no router has this domain.
    TraefikDefaultCert,
    /// The certificate did not verify for another reason.
    Certificate(String),
    /// Connection refused, timeout, reset…
    Transport(String),
}

impl std::fmt::Display for ProbeFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProbeFailure::TraefikDefaultCert => {
                write!(
                    f,
                    "served Traefik's default certificate (no router for this domain)"
                )
            }
            ProbeFailure::Certificate(e) => write!(f, "certificate not trusted: {e}"),
            ProbeFailure::Transport(e) => write!(f, "no answer: {e}"),
        }
    }
}

/// An HTTPS client bound to one app domain.
pub struct AppProbe {
    domain: String,
    client: reqwest::blocking::Client,
    /// Built only when a request fails certificate checks, to tell Traefik's
    /// default certificate apart from other trust problems.
    diagnostic: reqwest::blocking::Client,
}

impl AppProbe {
    pub fn new(config: &ProbeConfig, domain: &str) -> Result<Self, ProbeSetupError> {
        let build = |accept_invalid: bool| {
            let mut b = reqwest::blocking::Client::builder()
                .resolve(domain, config.connect)
                .redirect(reqwest::redirect::Policy::none())
                .timeout(config.request_timeout)
                .connect_timeout(config.request_timeout)
                .tls_info(true)
                .danger_accept_invalid_certs(accept_invalid);
            if let Some(pem) = &config.extra_ca_pem {
                let cert = reqwest::Certificate::from_pem(pem)
                    .map_err(|e| ProbeSetupError::Ca(e.to_string()))?;
                b = b.add_root_certificate(cert);
            }
            b.build()
                .map_err(|e| ProbeSetupError::Client(e.to_string()))
        };
        Ok(AppProbe {
            domain: domain.to_owned(),
            client: build(false)?,
            diagnostic: build(true)?,
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("https://{}{}", self.domain, path)
    }

    /// GET `path`; an answer of any status, or why there was none.
    pub fn get(&self, path: &str) -> Result<Answer, ProbeFailure> {
        match self.client.get(self.url(path)).send() {
            Ok(resp) => {
                let default_cert = served_default_cert(&resp);
                let status = resp.status().as_u16();
                let headers = resp
                    .headers()
                    .iter()
                    .map(|(n, v)| {
                        (
                            n.as_str().to_ascii_lowercase(),
                            String::from_utf8_lossy(v.as_bytes()).into_owned(),
                        )
                    })
                    .collect();
                let body = resp.text().unwrap_or_default();
                if default_cert {
                    return Err(ProbeFailure::TraefikDefaultCert);
                }
                Ok(Answer {
                    status,
                    body,
                    headers,
                })
            }
            Err(e) => Err(self.classify(path, &e)),
        }
    }

    fn classify(&self, path: &str, e: &reqwest::Error) -> ProbeFailure {
        let text = error_chain(e);
        let tls =
            text.contains("certificate") || text.contains("UnknownIssuer") || text.contains("tls");
        if !tls {
            return ProbeFailure::Transport(text);
        }
        match self.diagnostic.get(self.url(path)).send() {
            Ok(resp) if served_default_cert(&resp) => ProbeFailure::TraefikDefaultCert,
            _ => ProbeFailure::Certificate(text),
        }
    }
}

fn served_default_cert(resp: &reqwest::blocking::Response) -> bool {
    resp.extensions()
        .get::<reqwest::tls::TlsInfo>()
        .and_then(|i| i.peer_certificate())
        .is_some_and(|der| contains(der, TRAEFIK_DEFAULT_CERT_CN.as_bytes()))
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        out.push_str(": ");
        out.push_str(&s.to_string());
        cur = s.source();
    }
    out
}

/// Whether an answer is Traefik's fallback 404 rather than the app's.
///
/// Traefik answers a request no router matches with Go's plain 404: status
/// 404, the body `404 page not found`, `text/plain` and no other header than
/// [`FALLBACK_HEADERS`]. An answer is the app's own when any of that
/// differs: another body, another content type, or a header of its own (a
/// `server`, a cookie, a cache header…). An app that answers exactly like
/// the fallback cannot be told apart and is never healthy: such a recipe
/// declares a health path that answers otherwise.
pub fn is_traefik_fallback(answer: &Answer) -> bool {
    answer.status == 404
        && answer.body.trim() == TRAEFIK_FALLBACK_BODY
        && answer
            .header("content-type")
            .is_none_or(|t| t.trim_start().starts_with("text/plain"))
        && answer
            .headers
            .iter()
            .all(|(n, _)| FALLBACK_HEADERS.contains(&n.as_str()))
}

/// The verdict on one check: `Ok(detail)` or `Err(reason)`.
pub type Verdict = Result<String, String>;

/// The floor of a web recipe: its health path (`/` unless the registry
/// says otherwise) answers one of its statuses, and the answer is the
/// app's, not Traefik's fallback 404 nor its default certificate.
pub fn floor(probe: &dyn AppHttp, health: &Health) -> Verdict {
    floor_at(probe, health.path.as_str(), health.statuses.as_slice())
}

/// [`floor`] on a path and statuses given apart.
pub fn floor_at(probe: &dyn AppHttp, path: &str, statuses: &[u16]) -> Verdict {
    status_check(probe, path, statuses).map(|(d, _)| d)
}

fn status_check(
    probe: &dyn AppHttp,
    path: &str,
    statuses: &[u16],
) -> Result<(String, Answer), String> {
    let answer = probe.get(path).map_err(|f| format!("GET {path}: {f}"))?;
    if is_traefik_fallback(&answer) {
        return Err(format!(
            "GET {path}: Traefik's fallback 404 (no router matched the app)"
        ));
    }
    if !statuses.contains(&answer.status) {
        return Err(format!(
            "GET {path}: status {}, expected one of {}",
            answer.status,
            statuses
                .iter()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    Ok((format!("GET {path} → {}", answer.status), answer))
}

/// One of the plan's HTTP checks.
pub fn http_check(probe: &dyn AppHttp, check: &HttpCheck) -> Verdict {
    let path = check.path.as_str();
    let (mut detail, answer) = status_check(probe, path, check.statuses.as_slice())?;
    if let Some(needle) = &check.body_contains {
        if !answer.body.contains(needle.as_str()) {
            return Err(format!("GET {path}: body does not contain {needle:?}"));
        }
        detail.push_str(&format!(", body contains {needle:?}"));
    }
    if let Some(key) = &check.json_key {
        let json: serde_json::Value = serde_json::from_str(&answer.body)
            .map_err(|e| format!("GET {path}: body is not JSON ({e})"))?;
        if json_lookup(&json, key).is_none() {
            return Err(format!("GET {path}: JSON has no key {key:?}"));
        }
        detail.push_str(&format!(", JSON key {key:?} present"));
    }
    Ok(detail)
}

/// Look up a dotted key path (`a.b.c`) in a JSON object.
pub fn json_lookup<'a>(value: &'a serde_json::Value, key: &str) -> Option<&'a serde_json::Value> {
    key.split('.')
        .try_fold(value, |v, part| v.as_object()?.get(part))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Traefik's fallback exactly as it comes over the wire.
    fn fallback() -> Answer {
        Answer::new(404, "404 page not found\n")
            .with_header("Content-Type", "text/plain; charset=utf-8")
            .with_header("X-Content-Type-Options", "nosniff")
            .with_header("Date", "Tue, 01 Dec 2026 00:00:00 GMT")
            .with_header("Content-Length", "19")
    }

    #[test]
    fn fallback_404_is_recognised_by_status_body_and_bare_headers() {
        assert!(is_traefik_fallback(&fallback()));
        assert!(is_traefik_fallback(&Answer::new(404, "404 page not found")));
        assert!(!is_traefik_fallback(&Answer::new(404, "<h1>Not here</h1>")));
        assert!(!is_traefik_fallback(&Answer::new(
            200,
            "404 page not found"
        )));
    }

    #[test]
    fn the_same_text_with_a_header_of_the_app_is_the_apps_404() {
        assert!(!is_traefik_fallback(
            &fallback().with_header("Server", "nginx")
        ));
        assert!(!is_traefik_fallback(
            &fallback().with_header("Set-Cookie", "session=1")
        ));
        let mut html = fallback();
        html.headers[0].1 = "text/html".into();
        assert!(!is_traefik_fallback(&html));
    }

    #[test]
    fn json_lookup_follows_dotted_keys() {
        let v: serde_json::Value =
            serde_json::from_str(r#"{"a":{"b":[1]},"versions":["v1"]}"#).unwrap();
        assert!(json_lookup(&v, "versions").is_some());
        assert!(json_lookup(&v, "a.b").is_some());
        assert!(json_lookup(&v, "a.c").is_none());
        assert!(json_lookup(&v, "versions.x").is_none());
    }
}
