//! Drone's system webhook: the Drone server posts its build events to the
//! bridge, so a finished build is reported at once instead of at the next
//! follow tick (polling stays the fallback). Here: checking a delivery's
//! HTTP signature and reading the build it is about. What Drone sends and how
//! it signs it is in docs/drone.md, "System webhooks".
//!
//! A delivery is believed only when its signature covers both the `Date`
//! and the `Digest` headers (Drone always signs exactly these), the digest is
//! the body's, the HMAC matches in constant time, and the date is within
//! [`MAX_SKEW_SECS`] of the bridge's clock. Even then it is only a hint: the
//! bridge asks Drone for the build's status before reporting, so a replayed
//! delivery costs one status request and changes nothing.

use axum::http::HeaderMap;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, KeyInit, Mac};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use time::PrimitiveDateTime;
use time::macros::format_description;

/// How far a delivery's `Date` may be from the bridge's clock (seconds),
/// either way: clock skew between the hosts, and Drone's send queue.
pub const MAX_SKEW_SECS: i64 = 300;

/// The only algorithm Drone signs with.
const ALGORITHM: &str = "hmac-sha256";

/// Why a delivery was not believed. Each is answered 401 and counted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("no Signature header")]
    Missing,
    #[error("malformed signature: {0}")]
    Malformed(String),
    #[error("algorithm {0:?} is not hmac-sha256")]
    Algorithm(String),
    #[error("the signature does not cover the {0} header")]
    Unsigned(&'static str),
    #[error("signed header {0} is missing")]
    MissingHeader(String),
    #[error("the Digest header is not the body's SHA-256")]
    Digest,
    #[error("the signature does not match")]
    Signature,
    #[error("the Date header is not an HTTP date")]
    Date,
    #[error("the Date header is {0} s away from the bridge's clock")]
    Stale(i64),
}

impl Rejection {
    /// The metric label of this rejection.
    pub fn reason(&self) -> &'static str {
        match self {
            Rejection::Missing => "missing",
            Rejection::Malformed(_) | Rejection::Algorithm(_) => "malformed",
            Rejection::Unsigned(_) | Rejection::MissingHeader(_) => "unsigned",
            Rejection::Digest => "digest",
            Rejection::Signature => "signature",
            Rejection::Date | Rejection::Stale(_) => "stale",
        }
    }
}

/// The parameters of a `Signature` header (draft-cavage HTTP signatures).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Params {
    algorithm: Option<String>,
    headers: Option<String>,
    signature: Option<String>,
}

/// `keyId="…",algorithm="…",signature="…",headers="…"`, in any order;
/// parameters this reader does not use (`keyId`, `created`, …) are skipped.
fn parse_params(value: &str) -> Result<Params, Rejection> {
    let malformed = |why: &str| Rejection::Malformed(why.to_owned());
    let mut p = Params::default();
    let mut rest = value.trim();
    while !rest.is_empty() {
        let (key, after) = rest
            .split_once('=')
            .ok_or_else(|| malformed("a parameter without a value"))?;
        let after = after
            .strip_prefix('"')
            .ok_or_else(|| malformed("an unquoted value"))?;
        let (val, after) = after
            .split_once('"')
            .ok_or_else(|| malformed("an unterminated value"))?;
        let slot = match key.trim() {
            "algorithm" => Some(&mut p.algorithm),
            "headers" => Some(&mut p.headers),
            "signature" => Some(&mut p.signature),
            _ => None,
        };
        if let Some(slot) = slot {
            if slot.is_some() {
                return Err(malformed("a parameter given twice"));
            }
            *slot = Some(val.to_owned());
        }
        rest = after.trim_start();
        if let Some(r) = rest.strip_prefix(',') {
            rest = r.trim_start();
        } else if !rest.is_empty() {
            return Err(malformed("parameters not separated by commas"));
        }
    }
    Ok(p)
}

/// The signature parameters: Drone puts them in a `Signature` header; an
/// `Authorization: Signature …` header (the same scheme's other form) is
/// read too.
fn signature_value(headers: &HeaderMap) -> Result<&str, Rejection> {
    if let Some(v) = headers.get("signature") {
        return v.to_str().map_err(|_| Rejection::Missing);
    }
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Signature "))
        .ok_or(Rejection::Missing)
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Result<&'a str, Rejection> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| Rejection::MissingHeader(name.to_owned()))
}

/// The string the HMAC covers: one `name: value` line per signed header, in
/// the order the signature lists them, joined by newlines.
fn signing_string(
    names: &[&str],
    method: &str,
    target: &str,
    headers: &HeaderMap,
) -> Result<String, Rejection> {
    let mut lines = Vec::with_capacity(names.len());
    for name in names {
        if *name == "(request-target)" {
            lines.push(format!(
                "(request-target): {} {target}",
                method.to_ascii_lowercase()
            ));
        } else {
            lines.push(format!("{name}: {}", header(headers, name)?));
        }
    }
    Ok(lines.join("\n"))
}

/// Whether a `Digest` header (`SHA-256=<base64>`, possibly among other
/// algorithms, comma-separated) carries the body's SHA-256.
fn digest_matches(digest: &str, body: &[u8]) -> bool {
    let want = B64.encode(Sha256::digest(body));
    digest.split(',').any(|part| {
        part.trim()
            .split_once('=')
            .is_some_and(|(alg, v)| alg.eq_ignore_ascii_case("sha-256") && v == want)
    })
}

/// Unix seconds of an HTTP date (`Mon, 02 Jan 2006 15:04:05 GMT`).
pub fn parse_http_date(s: &str) -> Option<i64> {
    let f = format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    PrimitiveDateTime::parse(s.trim(), f)
        .ok()
        .map(|t| t.assume_utc().unix_timestamp())
}

/// Check a delivery: `method` and `target` (path and query) as received,
/// its headers and raw body, against `secret`, at `now` (unix seconds).
pub fn verify(
    secret: &[u8],
    method: &str,
    target: &str,
    headers: &HeaderMap,
    body: &[u8],
    now: i64,
) -> Result<(), Rejection> {
    let p = parse_params(signature_value(headers)?)?;
    let algorithm = p.algorithm.unwrap_or_default();
    if algorithm != ALGORITHM {
        return Err(Rejection::Algorithm(algorithm));
    }
    let signed = p.headers.unwrap_or_default().to_ascii_lowercase();
    let names: Vec<&str> = signed.split(' ').filter(|n| !n.is_empty()).collect();
    for required in ["date", "digest"] {
        if !names.contains(&required) {
            return Err(Rejection::Unsigned(required));
        }
    }
    let signature = B64
        .decode(p.signature.unwrap_or_default())
        .map_err(|_| Rejection::Malformed("the signature is not base64".into()))?;
    let text = signing_string(&names, method, target, headers)?;
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(secret).map_err(|_| Rejection::Signature)?;
    mac.update(text.as_bytes());
    mac.verify_slice(&signature)
        .map_err(|_| Rejection::Signature)?;
    // Only now are the signed headers Drone's own.
    if !digest_matches(header(headers, "digest")?, body) {
        return Err(Rejection::Digest);
    }
    let date = parse_http_date(header(headers, "date")?).ok_or(Rejection::Date)?;
    let skew = date - now;
    if skew.abs() > MAX_SKEW_SECS {
        return Err(Rejection::Stale(skew));
    }
    Ok(())
}

/// A build event of Drone's: which build, and its status then.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildEvent {
    /// The repository's slug, `owner/name`.
    pub repo: String,
    pub number: u64,
    pub status: String,
}

#[derive(Deserialize)]
struct Payload {
    event: String,
    #[serde(default)]
    repo: Option<RepoPart>,
    #[serde(default)]
    build: Option<BuildPart>,
}

#[derive(Deserialize)]
struct RepoPart {
    slug: String,
}

#[derive(Deserialize)]
struct BuildPart {
    number: i64,
    status: String,
}

/// The build a verified delivery is about; `None` for the other events
/// (`user`, `repo`) and a build event without its build.
pub fn build_event(body: &[u8]) -> Result<Option<BuildEvent>, serde_json::Error> {
    let p: Payload = serde_json::from_slice(body)?;
    if p.event != "build" {
        return Ok(None);
    }
    let (Some(repo), Some(build)) = (p.repo, p.build) else {
        return Ok(None);
    };
    Ok(u64::try_from(build.number).ok().map(|number| BuildEvent {
        repo: repo.slug,
        number,
        status: build.status,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    const SECRET: &[u8] = b"drone-hook-secret";
    const BODY: &[u8] = br#"{"event":"build","action":"updated","repo":{"slug":"acme/ci"},"build":{"number":7,"status":"success"}}"#;
    const DATE: &str = "Tue, 01 Dec 2026 00:40:00 GMT";
    /// `DATE` in unix seconds.
    const NOW: i64 = 1_796_085_600;

    /// Signed the way the signing library Drone uses does it, written out
    /// here step by step from the scheme (not with `verify`'s helpers).
    fn signed(body: &[u8], date: &str, list: &str) -> HeaderMap {
        let digest = format!("SHA-256={}", B64.encode(Sha256::digest(body)));
        let text = list
            .split(' ')
            .map(|h| match h {
                "date" => format!("date: {date}"),
                "digest" => format!("digest: {digest}"),
                other => panic!("{other}"),
            })
            .collect::<Vec<_>>()
            .join("\n");
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(SECRET).expect("key");
        mac.update(text.as_bytes());
        let sig = B64.encode(mac.finalize().into_bytes());
        let mut h = HeaderMap::new();
        h.insert("date", HeaderValue::from_str(date).expect("ascii"));
        h.insert("digest", HeaderValue::from_str(&digest).expect("ascii"));
        let value = format!(
            r#"keyId="hmac-key",algorithm="hmac-sha256",signature="{sig}",headers="{list}""#
        );
        h.insert("signature", HeaderValue::from_str(&value).expect("ascii"));
        h
    }

    fn check(h: &HeaderMap, body: &[u8], now: i64) -> Result<(), Rejection> {
        verify(SECRET, "POST", "/drone-hook", h, body, now)
    }

    #[test]
    fn the_http_date_drone_sends_parses() {
        assert_eq!(parse_http_date(DATE), Some(NOW));
        assert_eq!(parse_http_date("2026-12-01T00:40:00Z"), None);
    }

    #[test]
    fn a_delivery_signed_as_drone_signs_is_believed() {
        let h = signed(BODY, DATE, "date digest");
        assert_eq!(check(&h, BODY, NOW), Ok(()));
    }

    #[test]
    fn the_authorization_form_of_the_header_is_read_too() {
        let mut h = signed(BODY, DATE, "date digest");
        let v = h.remove("signature").expect("signed");
        let auth = format!("Signature {}", v.to_str().expect("ascii"));
        h.insert(
            "authorization",
            HeaderValue::from_str(&auth).expect("ascii"),
        );
        assert_eq!(check(&h, BODY, NOW), Ok(()));
    }

    #[test]
    fn another_body_under_the_same_signature_is_rejected() {
        let h = signed(BODY, DATE, "date digest");
        let forged = br#"{"event":"build","repo":{"slug":"acme/ci"},"build":{"number":8,"status":"success"}}"#;
        assert_eq!(check(&h, forged, NOW), Err(Rejection::Digest));
    }

    #[test]
    fn another_secret_or_a_changed_date_is_rejected() {
        let h = signed(BODY, DATE, "date digest");
        assert_eq!(
            verify(b"other", "POST", "/drone-hook", &h, BODY, NOW),
            Err(Rejection::Signature)
        );
        let mut h = h;
        h.insert(
            "date",
            HeaderValue::from_static("Tue, 01 Dec 2026 00:40:01 GMT"),
        );
        assert_eq!(check(&h, BODY, NOW), Err(Rejection::Signature));
    }

    #[test]
    fn a_signature_that_leaves_out_the_digest_or_date_is_rejected() {
        let h = signed(BODY, DATE, "date");
        assert_eq!(check(&h, BODY, NOW), Err(Rejection::Unsigned("digest")));
        let h = signed(BODY, DATE, "digest");
        assert_eq!(check(&h, BODY, NOW), Err(Rejection::Unsigned("date")));
    }

    #[test]
    fn a_stale_or_future_date_is_rejected() {
        let h = signed(BODY, DATE, "date digest");
        let at = NOW;
        assert_eq!(
            check(&h, BODY, at + MAX_SKEW_SECS + 1),
            Err(Rejection::Stale(-MAX_SKEW_SECS - 1))
        );
        assert_eq!(
            check(&h, BODY, at - MAX_SKEW_SECS - 1),
            Err(Rejection::Stale(MAX_SKEW_SECS + 1))
        );
        assert_eq!(check(&h, BODY, at + MAX_SKEW_SECS), Ok(()));
    }

    #[test]
    fn missing_or_malformed_signatures_are_rejected_without_a_panic() {
        let h = HeaderMap::new();
        assert_eq!(check(&h, BODY, NOW), Err(Rejection::Missing));
        for bad in [
            "garbage",
            r#"algorithm="hmac-sha256",signature="@@@",headers="date digest""#,
            r#"algorithm="hmac-sha256"signature="x""#,
            r#"algorithm="hmac-sha256",algorithm="hmac-sha256""#,
            r#"algorithm="hmac-sha1",signature="eA==",headers="date digest""#,
            r#"algorithm="hmac-sha256",signature="eA==,headers="date digest"#,
        ] {
            let mut h = signed(BODY, DATE, "date digest");
            h.insert("signature", HeaderValue::from_str(bad).expect("ascii"));
            let r = check(&h, BODY, NOW);
            assert!(r.is_err(), "{bad}: {r:?}");
        }
    }

    #[test]
    fn build_events_are_read_and_other_events_ignored() {
        assert_eq!(
            build_event(BODY).expect("json"),
            Some(BuildEvent {
                repo: "acme/ci".into(),
                number: 7,
                status: "success".into()
            })
        );
        let user = br#"{"event":"user","action":"created","user":{"login":"x"}}"#;
        assert_eq!(build_event(user).expect("json"), None);
        assert!(build_event(b"{").is_err());
    }
}
