//! Async client for the slice of the Gitea API the bridge uses (see
//! docs/gitea.md, "Endpoints and shapes"): the org activity feed, repository and
//! PR comments, one PR, its timeline, org membership, comments, reactions and
//! commit statuses. Every failure is classified (retry / skip / fatal) so that
//! callers match on the class, never on strings.
//!
//! Redirects are never followed: the membership endpoint answers 303 when the
//! bot cannot see concealed members, and a client that follows it silently turns
//! "cannot tell" into "not a member" (docs/gitea.md, "Membership and the redirect").

use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, StatusCode, header};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::ErrorClass;

/// Why a Gitea call failed. Messages never contain the token (it travels in a
/// header only) so they are safe to log.
#[derive(Debug, thiserror::Error)]
pub enum GiteaError {
    #[error("gitea {endpoint}: cannot reach the server: {detail}")]
    Transport {
        endpoint: &'static str,
        detail: String,
    },
    #[error("gitea {endpoint}: answered {status}: {message}")]
    Status {
        endpoint: &'static str,
        status: u16,
        message: String,
    },
    #[error("gitea {endpoint}: unexpected answer: {detail}")]
    Decode {
        endpoint: &'static str,
        detail: String,
    },
}

impl GiteaError {
    pub fn class(&self) -> ErrorClass {
        match self {
            GiteaError::Transport { .. } => ErrorClass::Retryable,
            GiteaError::Decode { .. } => ErrorClass::Fatal,
            GiteaError::Status { status, .. } => classify_status(*status),
        }
    }

    pub fn endpoint(&self) -> &'static str {
        match self {
            GiteaError::Transport { endpoint, .. }
            | GiteaError::Status { endpoint, .. }
            | GiteaError::Decode { endpoint, .. } => endpoint,
        }
    }
}

/// The class of an HTTP status shared by both forges.
pub fn classify_status(status: u16) -> ErrorClass {
    match status {
        401 | 403 => ErrorClass::Fatal,
        404 | 400 | 409 | 410 | 422 | 423 => ErrorClass::Skip,
        // 3xx: the answer is indeterminate (membership redirect); 429 and 5xx are transient.
        300..=399 | 408 | 429 | 500..=599 => ErrorClass::Retryable,
        _ => ErrorClass::Fatal,
    }
}

/// Told about every request, for `/metrics` ("API requests and errors by endpoint").
pub trait ApiObserver: Send + Sync {
    fn request(&self, api: &'static str, endpoint: &'static str, ok: bool);
}

// The JSON shapes of the endpoints, apart from the client that fetches them.
mod assets;
mod model;
pub use assets::{Attachment, MAX_ASSET_BYTES};
pub use model::*;

/// Client for one Gitea instance with one token.
#[derive(Clone)]
pub struct GiteaClient {
    http: reqwest::Client,
    api: String,
    token: String,
    observer: Option<Arc<dyn ApiObserver>>,
}

impl std::fmt::Debug for GiteaClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token is deliberately left out.
        f.debug_struct("GiteaClient")
            .field("api", &self.api)
            .finish()
    }
}

impl GiteaClient {
    /// `base_url` is Gitea's root URL (`https://git.example.org`).
    pub fn new(
        base_url: &str,
        token: &str,
        timeout: Duration,
        observer: Option<Arc<dyn ApiObserver>>,
    ) -> Result<Self, GiteaError> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .user_agent("ccci-bridge")
            .build()
            .map_err(|e| GiteaError::Transport {
                endpoint: "client",
                detail: e.to_string(),
            })?;
        Ok(Self {
            http,
            api: format!("{}/api/v1", base_url.trim_end_matches('/')),
            token: token.to_owned(),
            observer,
        })
    }

    fn observe(&self, endpoint: &'static str, ok: bool) {
        if let Some(o) = &self.observer {
            o.request("gitea", endpoint, ok);
        }
    }

    async fn send(
        &self,
        endpoint: &'static str,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&serde_json::Value>,
    ) -> Result<reqwest::Response, GiteaError> {
        let mut req = self.request(method, path);
        if !query.is_empty() {
            req = req.query(query);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        self.finish(endpoint, req).await
    }

    /// A request to the API with the token and `Accept: application/json`.
    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{}", self.api, path))
            .header(header::AUTHORIZATION, format!("token {}", self.token))
            .header(header::ACCEPT, "application/json")
    }

    /// Send a request; an error status becomes a [`GiteaError`].
    async fn finish(
        &self,
        endpoint: &'static str,
        req: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, GiteaError> {
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) => {
                self.observe(endpoint, false);
                return Err(GiteaError::Transport {
                    endpoint,
                    detail: e.without_url().to_string(),
                });
            }
        };
        let status = resp.status();
        if status.is_success() {
            self.observe(endpoint, true);
            return Ok(resp);
        }
        self.observe(endpoint, false);
        let message = if status.is_redirection() {
            format!(
                "redirect to {}",
                resp.headers()
                    .get(header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("?")
            )
        } else {
            error_message(resp.text().await.unwrap_or_default())
        };
        Err(GiteaError::Status {
            endpoint,
            status: status.as_u16(),
            message,
        })
    }

    async fn json<T: DeserializeOwned>(
        endpoint: &'static str,
        resp: reqwest::Response,
    ) -> Result<T, GiteaError> {
        let bytes = resp.bytes().await.map_err(|e| GiteaError::Transport {
            endpoint,
            detail: e.without_url().to_string(),
        })?;
        serde_json::from_slice(&bytes).map_err(|e| GiteaError::Decode {
            endpoint,
            detail: e.to_string(),
        })
    }

    /// `GET /orgs/{org}/activities/feeds`, newest first.
    pub async fn org_feed(
        &self,
        org: &str,
        page: u32,
        limit: u32,
    ) -> Result<Vec<Activity>, GiteaError> {
        let ep = "org_feed";
        let resp = self
            .send(
                ep,
                Method::GET,
                &format!("/orgs/{org}/activities/feeds"),
                &[("page", page.to_string()), ("limit", limit.to_string())],
                None,
            )
            .await?;
        Self::json(ep, resp).await
    }

    /// `GET /repos/{o}/{r}/issues/comments?since=…`, oldest first.
    pub async fn repo_comments_since(
        &self,
        repo: &str,
        since: OffsetDateTime,
        page: u32,
    ) -> Result<CommentPage, GiteaError> {
        let ep = "repo_comments";
        let resp = self
            .send(
                ep,
                Method::GET,
                &format!("/repos/{repo}/issues/comments"),
                &[
                    ("since", rfc3339(since)),
                    ("page", page.to_string()),
                    ("limit", PAGE_LIMIT.to_string()),
                ],
                None,
            )
            .await?;
        let total = header_str(&resp, "x-total-count").and_then(|v| v.parse().ok());
        let server_time = header_str(&resp, "date").and_then(|d| parse_http_date(&d));
        let comments = Self::json(ep, resp).await?;
        Ok(CommentPage {
            comments,
            total,
            server_time,
        })
    }

    /// `GET /repos/{o}/{r}/issues/{index}/comments?since=…` (all of them, no paging).
    pub async fn pr_comments_since(
        &self,
        repo: &str,
        index: u64,
        since: OffsetDateTime,
    ) -> Result<Vec<Comment>, GiteaError> {
        let ep = "pr_comments";
        let resp = self
            .send(
                ep,
                Method::GET,
                &format!("/repos/{repo}/issues/{index}/comments"),
                &[("since", rfc3339(since))],
                None,
            )
            .await?;
        Self::json(ep, resp).await
    }

    /// `GET /repos/{o}/{r}/issues/comments/{id}`.
    pub async fn comment(&self, repo: &str, id: u64) -> Result<Comment, GiteaError> {
        let ep = "comment";
        let resp = self
            .send(
                ep,
                Method::GET,
                &format!("/repos/{repo}/issues/comments/{id}"),
                &[],
                None,
            )
            .await?;
        Self::json(ep, resp).await
    }

    /// `GET /repos/{o}/{r}/pulls/{index}`.
    pub async fn pull(&self, repo: &str, index: u64) -> Result<PullRequest, GiteaError> {
        let ep = "pull";
        let resp = self
            .send(
                ep,
                Method::GET,
                &format!("/repos/{repo}/pulls/{index}"),
                &[],
                None,
            )
            .await?;
        Self::json(ep, resp).await
    }

    /// `GET /repos/{o}/{r}/issues/{index}/timeline?since=…`: every page.
    pub async fn timeline_since(
        &self,
        repo: &str,
        index: u64,
        since: OffsetDateTime,
    ) -> Result<Vec<TimelineEvent>, GiteaError> {
        let ep = "timeline";
        let mut all = Vec::new();
        for page in 1..=20u32 {
            let resp = self
                .send(
                    ep,
                    Method::GET,
                    &format!("/repos/{repo}/issues/{index}/timeline"),
                    &[
                        ("since", rfc3339(since)),
                        ("page", page.to_string()),
                        ("limit", PAGE_LIMIT.to_string()),
                    ],
                    None,
                )
                .await?;
            let events: Vec<TimelineEvent> = Self::json(ep, resp).await?;
            let short = events.len() < PAGE_LIMIT as usize;
            all.extend(events);
            if short {
                break;
            }
        }
        Ok(all)
    }

    /// `GET /orgs/{org}/members/{user}` without following redirects: 204 member,
    /// 404 not; anything else (a 303 above all) is an error of class Retry.
    pub async fn membership(&self, org: &str, user: &str) -> Result<Membership, GiteaError> {
        let ep = "org_member";
        match self
            .send(
                ep,
                Method::GET,
                &format!("/orgs/{org}/members/{user}"),
                &[],
                None,
            )
            .await
        {
            Ok(resp) if resp.status() == StatusCode::NO_CONTENT => Ok(Membership::Member),
            Ok(resp) => Err(GiteaError::Status {
                endpoint: ep,
                status: resp.status().as_u16(),
                message: "membership answer is neither 204 nor 404".to_owned(),
            }),
            Err(GiteaError::Status { status: 404, .. }) => Ok(Membership::NotMember),
            Err(GiteaError::Status {
                status, message, ..
            }) if (300..400).contains(&status) => Err(GiteaError::Status {
                endpoint: ep,
                status,
                message: format!(
                    "{message}: the bot cannot see concealed members (make it an org member)"
                ),
            }),
            Err(e) => Err(e),
        }
    }

    /// `POST /repos/{o}/{r}/issues/{index}/comments`.
    pub async fn create_comment(
        &self,
        repo: &str,
        index: u64,
        body: &str,
    ) -> Result<Comment, GiteaError> {
        let ep = "create_comment";
        let resp = self
            .send(
                ep,
                Method::POST,
                &format!("/repos/{repo}/issues/{index}/comments"),
                &[],
                Some(&serde_json::json!({ "body": body })),
            )
            .await?;
        Self::json(ep, resp).await
    }

    /// `PATCH /repos/{o}/{r}/issues/comments/{id}`.
    pub async fn edit_comment(&self, repo: &str, id: u64, body: &str) -> Result<(), GiteaError> {
        let ep = "edit_comment";
        self.send(
            ep,
            Method::PATCH,
            &format!("/repos/{repo}/issues/comments/{id}"),
            &[],
            Some(&serde_json::json!({ "body": body })),
        )
        .await?;
        Ok(())
    }

    /// `POST /repos/{o}/{r}/statuses/{sha}` (statuses are append-only; the newest
    /// per context wins, so repeating one is harmless).
    pub async fn set_status(
        &self,
        repo: &str,
        sha: &str,
        status: &NewStatus,
    ) -> Result<(), GiteaError> {
        let ep = "status";
        let body = serde_json::to_value(status).map_err(|e| GiteaError::Decode {
            endpoint: ep,
            detail: e.to_string(),
        })?;
        self.send(
            ep,
            Method::POST,
            &format!("/repos/{repo}/statuses/{sha}"),
            &[],
            Some(&body),
        )
        .await?;
        Ok(())
    }

    /// `GET /repos/{o}/{r}/issues/comments/{id}/reactions`.
    pub async fn reactions(&self, repo: &str, comment: u64) -> Result<Vec<Reaction>, GiteaError> {
        let ep = "reactions";
        let resp = self
            .send(
                ep,
                Method::GET,
                &format!("/repos/{repo}/issues/comments/{comment}/reactions"),
                &[],
                None,
            )
            .await?;
        // Gitea answers an empty body (not `[]`) when there is none in some versions.
        let bytes = resp.bytes().await.map_err(|e| GiteaError::Transport {
            endpoint: ep,
            detail: e.without_url().to_string(),
        })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Vec::new());
        }
        serde_json::from_slice::<Option<Vec<Reaction>>>(&bytes)
            .map(Option::unwrap_or_default)
            .map_err(|e| GiteaError::Decode {
                endpoint: ep,
                detail: e.to_string(),
            })
    }

    /// `POST /repos/{o}/{r}/issues/comments/{id}/reactions` (201 created, 200 existed).
    pub async fn react(&self, repo: &str, comment: u64, content: &str) -> Result<(), GiteaError> {
        let ep = "react";
        self.send(
            ep,
            Method::POST,
            &format!("/repos/{repo}/issues/comments/{comment}/reactions"),
            &[],
            Some(&serde_json::json!({ "content": content })),
        )
        .await?;
        Ok(())
    }
}

fn header_str(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// Gitea's `{"message": …}`, or the raw text cut short.
fn error_message(text: String) -> String {
    #[derive(Deserialize)]
    struct ApiError {
        message: String,
    }
    match serde_json::from_str::<ApiError>(&text) {
        Ok(e) => e.message,
        Err(_) => text.chars().take(200).collect(),
    }
}

/// RFC 3339 in UTC, as Gitea's `since` wants it.
pub fn rfc3339(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .replace_nanosecond(0)
        .unwrap_or(t)
        .format(&Rfc3339)
        .unwrap_or_default()
}

/// Parse a Gitea timestamp (RFC 3339 with any offset).
pub fn parse_time(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339).ok()
}

/// Parse an HTTP `Date` header (IMF-fixdate, e.g. `Sun, 06 Nov 1994 08:49:37 GMT`).
pub fn parse_http_date(s: &str) -> Option<OffsetDateTime> {
    let fmt = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    time::PrimitiveDateTime::parse(s, &fmt)
        .ok()
        .map(time::PrimitiveDateTime::assume_utc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pr_number_is_the_trailing_segment_of_the_pull_request_url() {
        assert_eq!(
            trailing_number("https://git.example.com/acme/widget/pulls/42"),
            Some(42)
        );
        assert_eq!(trailing_number(""), None);
        assert_eq!(trailing_number("https://x/acme/w/pulls/abc"), None);
    }

    #[test]
    fn statuses_are_classified_like_ofborg() {
        assert_eq!(classify_status(503), ErrorClass::Retryable);
        assert_eq!(classify_status(303), ErrorClass::Retryable);
        assert_eq!(classify_status(404), ErrorClass::Skip);
        assert_eq!(classify_status(401), ErrorClass::Fatal);
    }

    #[test]
    fn http_dates_parse_as_utc() {
        let t = parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").expect("parses");
        assert_eq!(t.unix_timestamp(), 784_111_777);
    }

    #[test]
    fn rfc3339_drops_fractions_and_uses_utc() {
        let t = parse_time("2025-06-01T12:00:07.5+02:00").expect("parses");
        assert_eq!(rfc3339(t), "2025-06-01T10:00:07Z");
    }
}
