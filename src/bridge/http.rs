//! The bridge's listener: `POST /hook` (the optional webhook fast path, HMAC
//! verified in constant time), `POST /drone-hook` (Drone's signed build
//! events, `drone_hook`), `GET /healthz` and `GET /metrics`. A verified
//! delivery is only parsed and handed over a channel: a comment to the
//! decision core, which decides whether it fires; a finished build's number
//! to the executor, which asks Drone before it reports.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use tokio::sync::mpsc;

use crate::bridge::core::SeenComment;
use crate::bridge::drone_hook;
use crate::bridge::metrics::{ApiHealth, Metrics};
use crate::bridge::sources;

/// Whether `signature_hex` (the `X-Gitea-Signature` header: lowercase hex, no
/// `sha256=` prefix) is the HMAC-SHA256 of `body` under `secret`. The
/// comparison runs in constant time (`Mac::verify_slice`).
pub fn signature_valid(secret: &[u8], body: &[u8], signature_hex: &str) -> bool {
    let Ok(sig) = hex::decode(signature_hex.trim()) else {
        return false;
    };
    let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(secret) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&sig).is_ok()
}

/// What the handlers share.
#[derive(Clone)]
pub struct Listener {
    pub metrics: Arc<Metrics>,
    /// `None`: the webhook is disabled and `/hook` answers 404.
    pub webhook_secret: Option<Arc<Vec<u8>>>,
    pub comments: mpsc::Sender<SeenComment>,
    /// `None`: the Drone hook is disabled and `/drone-hook` answers 404.
    pub drone_hook_secret: Option<Arc<Vec<u8>>>,
    /// Numbers of the CI repository's builds Drone says have finished.
    pub finished_builds: mpsc::Sender<u64>,
    /// The CI repository (`owner/name`): events of other repositories are
    /// not the bridge's.
    pub ci_repo: String,
    /// `/healthz` fails when no feed poll succeeded for this long (ms).
    pub stale_after_ms: i64,
    pub started_ms: i64,
}

pub fn router(state: Listener) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/hook", post(hook))
        .route(crate::names::host::DRONE_HOOK_PATH, post(drone_hook))
        .with_state(state)
}

pub fn now_ms() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp_nanos() as i64 / 1_000_000
}

async fn healthz(State(s): State<Listener>) -> Response {
    let now = now_ms();
    let last = s.metrics.last_poll_ok_ms();
    let since = if last == 0 { s.started_ms } else { last };
    let mut problems = Vec::new();
    if now - since > s.stale_after_ms {
        problems.push(format!(
            "stale: no successful feed poll for {} s",
            (now - since) / 1000
        ));
    }
    // A refused token is news at once; an unreachable API only once it
    // has lasted (a restart of Drone or Gitea is routine).
    for (api, health, from) in s.metrics.failing_apis() {
        match health {
            ApiHealth::AuthRefused => problems.push(format!(
                "{api}: credentials refused for {} s",
                (now - from) / 1000
            )),
            ApiHealth::Unreachable if now - from > s.stale_after_ms => {
                problems.push(format!("{api}: unreachable for {} s", (now - from) / 1000))
            }
            _ => {}
        }
    }
    if problems.is_empty() {
        (StatusCode::OK, "ok\n").into_response()
    } else {
        let mut text = problems.join("\n");
        text.push('\n');
        (StatusCode::SERVICE_UNAVAILABLE, text).into_response()
    }
}

async fn metrics(State(s): State<Listener>) -> Response {
    (
        [("content-type", "text/plain; version=0.0.4")],
        s.metrics.render(),
    )
        .into_response()
}

async fn hook(State(s): State<Listener>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(secret) = &s.webhook_secret else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let sig = headers
        .get("x-gitea-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !signature_valid(secret, &body, sig) {
        s.metrics.hook_delivery("gitea", "signature");
        tracing::warn!("webhook delivery with a bad signature rejected");
        return (StatusCode::UNAUTHORIZED, "bad signature\n").into_response();
    }
    let event = headers
        .get("x-gitea-event")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if event != "issue_comment" {
        return (StatusCode::ACCEPTED, "ignored event\n").into_response();
    }
    let now = now_ms() / 1000;
    match sources::from_webhook(&body, now) {
        Ok(Some(seen)) => {
            if s.comments.send(seen).await.is_err() {
                return (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response();
            }
            (StatusCode::ACCEPTED, "queued\n").into_response()
        }
        Ok(None) => (StatusCode::ACCEPTED, "ignored action\n").into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "webhook payload rejected");
            (StatusCode::BAD_REQUEST, "bad payload\n").into_response()
        }
    }
}

/// Drone's build events: verified, then the number of a finished build of
/// the CI repository goes to the executor. What Drone says is a hint only;
/// the executor asks Drone for the build before reporting it.
async fn drone_hook(
    State(s): State<Listener>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(secret) = &s.drone_hook_secret else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let target = uri.path_and_query().map_or(uri.path(), |p| p.as_str());
    let now = now_ms().div_euclid(1000);
    if let Err(why) = drone_hook::verify(secret, method.as_str(), target, &headers, &body, now) {
        s.metrics.hook_delivery("drone", why.reason());
        tracing::warn!(reason = %why, "Drone webhook delivery rejected");
        return (StatusCode::UNAUTHORIZED, "bad signature\n").into_response();
    }
    let event = match drone_hook::build_event(&body) {
        Ok(e) => e,
        Err(e) => {
            s.metrics.hook_delivery("drone", "bad_payload");
            tracing::warn!(error = %e, "Drone webhook payload rejected");
            return (StatusCode::BAD_REQUEST, "bad payload\n").into_response();
        }
    };
    match event {
        Some(ev)
            if ev.repo.eq_ignore_ascii_case(&s.ci_repo)
                && crate::forge::drone::is_terminal(&ev.status) =>
        {
            s.metrics.hook_delivery("drone", "accepted");
            if s.finished_builds.send(ev.number).await.is_err() {
                return (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response();
            }
            (StatusCode::ACCEPTED, "queued\n").into_response()
        }
        _ => {
            s.metrics.hook_delivery("drone", "ignored");
            (StatusCode::ACCEPTED, "ignored\n").into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::signature_valid;

    // Computed with: printf '{"a":1}' | openssl dgst -sha256 -hmac s3cret
    const SIG: &str = "5910e62016ef5034272c926c27071992a465c2335cecf41851bda071577f4f6d";

    #[test]
    fn the_openssl_signature_of_the_body_is_accepted() {
        assert!(signature_valid(b"s3cret", b"{\"a\":1}", SIG));
    }

    #[test]
    fn a_signature_over_other_bytes_is_rejected() {
        assert!(!signature_valid(b"s3cret", b"{\"a\":2}", SIG));
    }

    #[test]
    fn a_non_hex_signature_is_rejected() {
        assert!(!signature_valid(b"s3cret", b"x", "sha256=zz"));
    }

    #[test]
    fn a_matching_signature_is_accepted() {
        use hmac::{Hmac, KeyInit, Mac};
        let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(b"s3cret").expect("key");
        mac.update(b"{\"a\":1}");
        let hex = hex::encode(mac.finalize().into_bytes());
        assert!(signature_valid(b"s3cret", b"{\"a\":1}", &hex));
        assert!(!signature_valid(b"other", b"{\"a\":1}", &hex));
    }
}
