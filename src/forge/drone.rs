//! An async client for the Drone 2.x API (`/api/...`), covering what ccci needs:
//! repository activation and settings, cron jobs, and custom builds.
//!
//! Shapes and status codes follow Drone 2.25's handlers (see
//! docs/drone.md, "Custom builds and their parameters"). The token is a [`DroneToken`] whose
//! `Debug`/`Display` never show the value, so it cannot leak through logs or
//! error messages.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::ErrorClass;

/// A Drone API token. Read it from a file and hand it over; it is sent only in
/// the `Authorization` header and is redacted everywhere else.
#[derive(Clone, PartialEq, Eq)]
pub struct DroneToken(String);

impl DroneToken {
    /// Wrap a token value; surrounding whitespace (a trailing newline from a
    /// secret file) is dropped.
    pub fn new(value: impl Into<String>) -> Self {
        DroneToken(value.into().trim().to_owned())
    }

    fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for DroneToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DroneToken(<redacted>)")
    }
}

/// Why a Drone call failed, classified by [`DroneError::class`].
#[derive(Debug, thiserror::Error)]
pub enum DroneError {
    /// The request never got an HTTP answer (connection refused, timeout, TLS).
    #[error("{method} {path}: Drone unreachable: {reason}")]
    Transport {
        method: String,
        path: String,
        reason: String,
        timeout: bool,
    },
    /// Drone answered with a status we do not treat as success.
    #[error("{method} {path}: Drone answered {status}: {message}")]
    Status {
        method: String,
        path: String,
        status: u16,
        /// Drone's `{"message": ...}` or the start of the body.
        message: String,
    },
    /// A 2xx answer whose body is not the JSON we expect.
    #[error("{method} {path}: cannot decode Drone's answer: {reason}")]
    Decode {
        method: String,
        path: String,
        reason: String,
    },
    /// The client could not be built or the base URL is unusable.
    #[error("Drone client: {0}")]
    Setup(String),
}

impl DroneError {
    /// Retry, skip or give up.
    pub fn class(&self) -> ErrorClass {
        match self {
            DroneError::Transport { .. } => ErrorClass::Retryable,
            DroneError::Status { status, .. } => match *status {
                401 | 403 => ErrorClass::Fatal,
                404 | 409 | 400 | 402 | 422 => ErrorClass::Skip,
                429 => ErrorClass::Retryable,
                s if s >= 500 => ErrorClass::Retryable,
                _ => ErrorClass::Fatal,
            },
            DroneError::Decode { .. } | DroneError::Setup(_) => ErrorClass::Fatal,
        }
    }

    /// The HTTP status, when Drone answered at all.
    pub fn status(&self) -> Option<u16> {
        match self {
            DroneError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }
}

/// A repository as Drone reports it (`core.Repository`). Fields ccci does not
/// use are kept out; unknown ones are ignored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Repo {
    pub id: i64,
    #[serde(default)]
    pub namespace: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub slug: String,
    #[serde(default)]
    pub default_branch: String,
    #[serde(default)]
    pub active: bool,
    #[serde(default)]
    pub config_path: String,
    #[serde(default)]
    pub trusted: bool,
    #[serde(default)]
    pub protected: bool,
    /// Build timeout in minutes.
    #[serde(default)]
    pub timeout: i64,
}

/// The settings `PATCH /api/repos/{o}/{n}` accepts; `None` leaves a field alone.
/// `timeout` and `trusted` are silently ignored by Drone unless the token
/// belongs to a system admin: compare the returned [`Repo`] (docs/drone.md,
/// "Build timeout needs an admin").
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RepoPatch {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config_path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trusted: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protected: Option<bool>,
}

/// A cron job (`core.Cron`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cron {
    #[serde(default)]
    pub id: i64,
    #[serde(default)]
    pub repo_id: i64,
    pub name: String,
    pub expr: String,
    #[serde(default)]
    pub next: i64,
    #[serde(default)]
    pub prev: i64,
    #[serde(default)]
    pub event: String,
    #[serde(default)]
    pub branch: String,
    #[serde(default)]
    pub target: String,
    #[serde(default)]
    pub disabled: bool,
}

/// The body of `POST .../cron`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewCron {
    pub name: String,
    pub expr: String,
    pub branch: String,
}

/// The body of `PATCH .../cron/{name}`. Drone's handler accepts only these
/// three fields: an expression cannot be changed in place (delete + create;
/// docs/drone.md, "Cron jobs").
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CronPatch {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disabled: Option<bool>,
}

/// A build (`core.Build`), with stages (and their steps) when fetched singly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Build {
    pub id: i64,
    pub number: i64,
    pub status: String,
    #[serde(default)]
    pub event: String,
    #[serde(default)]
    pub trigger: String,
    #[serde(default)]
    pub error: String,
    #[serde(default)]
    pub link: String,
    #[serde(default, rename = "ref")]
    pub git_ref: String,
    #[serde(default)]
    pub before: String,
    #[serde(default)]
    pub after: String,
    #[serde(default)]
    pub source: String,
    #[serde(default)]
    pub target: String,
    #[serde(default)]
    pub params: BTreeMap<String, String>,
    #[serde(default)]
    pub started: i64,
    #[serde(default)]
    pub finished: i64,
    #[serde(default)]
    pub created: i64,
    #[serde(default)]
    pub stages: Vec<Stage>,
}

impl Build {
    /// Whether Drone will not change this build's status any more.
    pub fn is_finished(&self) -> bool {
        is_terminal(&self.status)
    }
}

/// A pipeline of a build (`core.Stage`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stage {
    #[serde(default)]
    pub id: i64,
    pub number: i64,
    pub name: String,
    pub status: String,
    #[serde(default)]
    pub exit_code: i64,
    #[serde(default)]
    pub started: i64,
    #[serde(default)]
    pub stopped: i64,
    #[serde(default)]
    pub steps: Vec<Step>,
}

/// One step of a stage (`core.Step`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    #[serde(default)]
    pub id: i64,
    pub number: i64,
    pub name: String,
    pub status: String,
    #[serde(default)]
    pub exit_code: i64,
}

/// Drone's terminal statuses (core/status.go).
pub fn is_terminal(status: &str) -> bool {
    matches!(
        status,
        "skipped" | "declined" | "success" | "failure" | "killed" | "error"
    )
}

/// What `POST .../builds` did. `200 null` means Drone accepted the request but
/// scheduled nothing (no pipeline's trigger matched, repo inactive, ...): that
/// is not a success, and callers must handle it on purpose (docs/drone.md,
/// "200 null").
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildCreated {
    Created(Box<Build>),
    NotScheduled,
}

/// An async Drone API client. Cheap to clone.
#[derive(Clone)]
pub struct DroneClient {
    base: String,
    token: DroneToken,
    http: reqwest::Client,
}

impl fmt::Debug for DroneClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DroneClient")
            .field("base", &self.base)
            .field("token", &self.token)
            .finish()
    }
}

/// Per-request timeout unless the caller chooses another one.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

impl DroneClient {
    /// A client for the Drone server at `server_url` (e.g. `https://drone.example.org`,
    /// without `/api`).
    pub fn new(server_url: &str, token: DroneToken) -> Result<Self, DroneError> {
        Self::with_timeout(server_url, token, DEFAULT_TIMEOUT)
    }

    pub fn with_timeout(
        server_url: &str,
        token: DroneToken,
        timeout: Duration,
    ) -> Result<Self, DroneError> {
        let base = server_url.trim_end_matches('/').to_owned();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(DroneError::Setup(format!("{base:?} is not an http(s) URL")));
        }
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| DroneError::Setup(e.to_string()))?;
        Ok(DroneClient { base, token, http })
    }

    /// `GET /healthz`: whether the server answers at all (no auth needed).
    pub async fn healthy(&self) -> bool {
        let url = format!("{}/healthz", self.base);
        matches!(self.http.get(url).send().await, Ok(r) if r.status().is_success())
    }

    /// `GET /api/repos/{owner}/{name}`.
    pub async fn repo(&self, owner: &str, name: &str) -> Result<Repo, DroneError> {
        self.json(Method::GET, &repo_path(owner, name), &[], None::<&()>)
            .await
    }

    /// `POST /api/repos/{owner}/{name}`: activate (enable) the repository.
    pub async fn activate_repo(&self, owner: &str, name: &str) -> Result<Repo, DroneError> {
        self.json(Method::POST, &repo_path(owner, name), &[], None::<&()>)
            .await
    }

    /// `POST /api/user/repos`: make Drone re-read the caller's repositories from
    /// the forge (a repository created since the last sync is 404 until then).
    pub async fn sync_user_repos(&self) -> Result<(), DroneError> {
        self.send(Method::POST, "/api/user/repos", &[], None::<&()>)
            .await
            .map(|_| ())
    }

    /// `PATCH /api/repos/{owner}/{name}`.
    pub async fn patch_repo(
        &self,
        owner: &str,
        name: &str,
        patch: &RepoPatch,
    ) -> Result<Repo, DroneError> {
        self.json(Method::PATCH, &repo_path(owner, name), &[], Some(patch))
            .await
    }

    /// `GET /api/repos/{owner}/{name}/cron`.
    pub async fn crons(&self, owner: &str, name: &str) -> Result<Vec<Cron>, DroneError> {
        let path = format!("{}/cron", repo_path(owner, name));
        self.json(Method::GET, &path, &[], None::<&()>).await
    }

    /// `POST /api/repos/{owner}/{name}/cron`.
    pub async fn create_cron(
        &self,
        owner: &str,
        name: &str,
        cron: &NewCron,
    ) -> Result<Cron, DroneError> {
        let path = format!("{}/cron", repo_path(owner, name));
        self.json(Method::POST, &path, &[], Some(cron)).await
    }

    /// `PATCH /api/repos/{owner}/{name}/cron/{cron}`.
    pub async fn update_cron(
        &self,
        owner: &str,
        name: &str,
        cron: &str,
        patch: &CronPatch,
    ) -> Result<Cron, DroneError> {
        let path = format!("{}/cron/{}", repo_path(owner, name), seg(cron));
        self.json(Method::PATCH, &path, &[], Some(patch)).await
    }

    /// `DELETE /api/repos/{owner}/{name}/cron/{cron}` (Drone answers 204).
    pub async fn delete_cron(&self, owner: &str, name: &str, cron: &str) -> Result<(), DroneError> {
        let path = format!("{}/cron/{}", repo_path(owner, name), seg(cron));
        self.send(Method::DELETE, &path, &[], None::<&()>)
            .await
            .map(|_| ())
    }

    /// `POST /api/repos/{owner}/{name}/builds?branch=…&KEY=VALUE…`: a `custom`
    /// build whose params reach the pipeline as environment variables. Callers
    /// must whitelist the keys (a param can override e.g. `PATH` on the runner).
    pub async fn create_build(
        &self,
        owner: &str,
        name: &str,
        branch: &str,
        params: &BTreeMap<String, String>,
    ) -> Result<BuildCreated, DroneError> {
        let path = format!("{}/builds", repo_path(owner, name));
        let mut query: Vec<(&str, &str)> = vec![("branch", branch)];
        query.extend(params.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let body = self.send(Method::POST, &path, &query, None::<&()>).await?;
        let value: Option<Build> = decode("POST", &path, &body)?;
        Ok(match value {
            Some(build) => BuildCreated::Created(Box::new(build)),
            None => BuildCreated::NotScheduled,
        })
    }

    /// `GET /api/repos/{owner}/{name}/builds?page=…&per_page=…`: newest first,
    /// without stages. Drone sends no total count: a short page is the last.
    pub async fn builds(
        &self,
        owner: &str,
        name: &str,
        page: u32,
        per_page: u32,
    ) -> Result<Vec<Build>, DroneError> {
        let path = format!("{}/builds", repo_path(owner, name));
        let page = page.to_string();
        let per_page = per_page.to_string();
        self.json(
            Method::GET,
            &path,
            &[("page", page.as_str()), ("per_page", per_page.as_str())],
            None::<&()>,
        )
        .await
    }

    /// `GET /api/repos/{owner}/{name}/builds/{number}`, with stages and steps.
    pub async fn build(&self, owner: &str, name: &str, number: i64) -> Result<Build, DroneError> {
        let path = format!("{}/builds/{number}", repo_path(owner, name));
        self.json(Method::GET, &path, &[], None::<&()>).await
    }

    /// `DELETE /api/repos/{owner}/{name}/builds/{number}`: cancel (idempotent
    /// on a finished build).
    pub async fn cancel_build(
        &self,
        owner: &str,
        name: &str,
        number: i64,
    ) -> Result<Build, DroneError> {
        let path = format!("{}/builds/{number}", repo_path(owner, name));
        self.json(Method::DELETE, &path, &[], None::<&()>).await
    }

    async fn json<T: DeserializeOwned, B: Serialize>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&B>,
    ) -> Result<T, DroneError> {
        let shown = method.to_string();
        let bytes = self.send(method, path, query, body).await?;
        match decode::<Option<T>>(&shown, path, &bytes)? {
            Some(v) => Ok(v),
            None => Err(DroneError::Decode {
                method: shown,
                path: path.to_owned(),
                reason: "unexpected null".into(),
            }),
        }
    }

    async fn send<B: Serialize>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&B>,
    ) -> Result<Vec<u8>, DroneError> {
        let shown = method.to_string();
        let url = format!("{}{}", self.base, path);
        let mut req = self
            .http
            .request(method, url)
            .bearer_auth(self.token.expose())
            .header(reqwest::header::ACCEPT, "application/json");
        if !query.is_empty() {
            req = req.query(query);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let transport = |e: reqwest::Error| DroneError::Transport {
            method: shown.clone(),
            path: path.to_owned(),
            timeout: e.is_timeout(),
            // without_url: the URL would be harmless, but keep errors short.
            reason: e.without_url().to_string(),
        };
        let resp = req.send().await.map_err(transport)?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(transport)?;
        if status.is_success() {
            return Ok(bytes.to_vec());
        }
        Err(DroneError::Status {
            method: shown.clone(),
            path: path.to_owned(),
            status: status.as_u16(),
            message: error_message(status, &bytes),
        })
    }
}

fn decode<T: DeserializeOwned>(method: &str, path: &str, body: &[u8]) -> Result<T, DroneError> {
    // An empty 2xx body reads as JSON null (Drone writes `null` itself for a
    // build that was not scheduled; a proxy may drop it).
    let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"null"
    } else {
        body
    };
    serde_json::from_slice(body).map_err(|e| DroneError::Decode {
        method: method.to_owned(),
        path: path.to_owned(),
        reason: e.to_string(),
    })
}

fn error_message(status: StatusCode, body: &[u8]) -> String {
    #[derive(Deserialize)]
    struct Message {
        message: String,
    }
    if let Ok(m) = serde_json::from_slice::<Message>(body) {
        return m.message;
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        status.canonical_reason().unwrap_or("").to_owned()
    } else {
        text.chars().take(200).collect()
    }
}

fn repo_path(owner: &str, name: &str) -> String {
    format!("/api/repos/{}/{}", seg(owner), seg(name))
}

/// Percent-encode one path segment (owner, name, cron name).
fn seg(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_debug_is_redacted() {
        let t = DroneToken::new("s3cr3t-token-value\n");
        assert_eq!(format!("{t:?}"), "DroneToken(<redacted>)");
        let c = DroneClient::new("http://127.0.0.1:1", t).unwrap();
        assert!(!format!("{c:?}").contains("s3cr3t"));
    }

    #[test]
    fn statuses_are_classified_like_ofborg() {
        let st = |s| DroneError::Status {
            method: "GET".into(),
            path: "/".into(),
            status: s,
            message: String::new(),
        };
        assert_eq!(st(503).class(), ErrorClass::Retryable);
        assert_eq!(st(500).class(), ErrorClass::Retryable);
        assert_eq!(st(404).class(), ErrorClass::Skip);
        assert_eq!(st(401).class(), ErrorClass::Fatal);
        assert_eq!(st(403).class(), ErrorClass::Fatal);
    }

    #[test]
    fn path_segments_are_encoded() {
        assert_eq!(repo_path("a b", "c/d"), "/api/repos/a%20b/c%2Fd");
    }
}
