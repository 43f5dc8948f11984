//! Drone's system webhook as the fake Drone sends it: the JSON body of a
//! build event and its HTTP signature, written from the signing scheme Drone
//! uses (docs/drone.md, "System webhooks") and independent of the bridge's
//! verifier: a `Digest: SHA-256=<base64>` header and a `Date` in HTTP form,
//! both signed with HMAC-SHA256 of the lines `date: …` and `digest: …`, the
//! result in a `Signature` header.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The secret the fake signs with unless a test chooses another.
pub const DRONE_HOOK_SECRET: &str = "drone-hook-secret-0123456789";

/// `Mon, 02 Jan 2006 15:04:05 GMT` for `unix` seconds.
pub fn http_date(unix: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(unix).expect("a time");
    let f = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    t.format(f).expect("formats")
}

pub fn now_unix() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// The headers Drone sends with `body`, signed with `secret`, dated `date`.
pub fn signed_headers(secret: &str, body: &[u8], date: &str) -> Vec<(String, String)> {
    let digest = format!("SHA-256={}", STANDARD.encode(Sha256::digest(body)));
    let signing = format!("date: {date}\ndigest: {digest}");
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(signing.as_bytes());
    let signature = STANDARD.encode(mac.finalize().into_bytes());
    vec![
        ("X-Drone-Event".into(), "build".into()),
        ("Content-Type".into(), "application/json".into()),
        ("Digest".into(), digest),
        ("Date".into(), date.to_owned()),
        (
            "Signature".into(),
            format!(
                r#"keyId="hmac-key",algorithm="hmac-sha256",signature="{signature}",headers="date digest""#
            ),
        ),
    ]
}

/// A `build:updated` event's body, as Drone's sender wraps it.
pub fn build_updated(repo: &Value, build: &Value) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "event": "build",
        "action": "updated",
        "repo": repo,
        "build": build,
        "system": { "proto": "https", "host": "drone.example.org", "link": "https://drone.example.org" }
    }))
    .expect("json")
}

/// POST a signed delivery and return the answer's status (0: no answer).
/// Blocking: call it from a thread of its own.
pub fn deliver(endpoint: &str, secret: &str, body: Vec<u8>) -> u16 {
    let headers = signed_headers(secret, &body, &http_date(now_unix()));
    post(endpoint, &headers, body)
}

/// POST `body` with exactly these headers; the answer's status (0: none).
pub fn post(endpoint: &str, headers: &[(String, String)], body: Vec<u8>) -> u16 {
    let client = reqwest::blocking::Client::new();
    let mut req = client.post(endpoint).body(body);
    for (k, v) in headers {
        req = req.header(k, v);
    }
    req.send().map_or(0, |r| r.status().as_u16())
}
