//! An in-process fake Gitea (~1.24) for bridge tests: real HTTP on
//! 127.0.0.1:0 under `/api/v1`, the JSON shapes of docs/gitea.md,
//! "Endpoints and shapes", state in memory, every request recorded so tests can count them.
//!
//! What it models, because the bridge depends on it:
//! - the org activity feed: newest first, a `comment_pull` row per new PR
//!   comment with `content = "<index>|<body cut at 200 bytes>"`, rows of users
//!   who keep their activity private left out (as for a non-admin caller);
//! - repo comments `since` (updated >= since, oldest first, `X-Total-Count`,
//!   paged with `page`/`limit`, limit clamped to 50), comments of one PR;
//! - org membership: 204 / 404, or a 303 to `public_members` for chosen users
//!   (what Gitea answers when the bot cannot see concealed members);
//! - reactions (201 new, 200 existing), comment create/edit, commit statuses,
//!   PRs with head SHA and head repository, timelines with `pull_push` rows;
//! - injected failures for the next matching requests.
//!
//! The server runs on its own thread and runtime and stops when dropped.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

pub const GITEA_TOKEN: &str = "fake-gitea-token-abcdef";

/// One request as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GiteaRequest {
    pub method: String,
    /// Path below `/api/v1`.
    pub path: String,
    pub query: Vec<(String, String)>,
    pub body: String,
}

/// A comment as the fake stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeComment {
    pub id: u64,
    pub repo: String,
    pub index: u64,
    pub is_pr: bool,
    pub user: String,
    pub body: String,
    pub created: i64,
    pub updated: i64,
}

/// A file attached to a comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeAsset {
    pub id: u64,
    pub name: String,
    pub bytes: Vec<u8>,
    pub uuid: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeStatus {
    pub repo: String,
    pub sha: String,
    pub state: String,
    pub context: String,
    pub description: String,
    pub target_url: String,
}

#[derive(Debug, Clone)]
struct Pr {
    state: String,
    head_sha: String,
    head_repo: Option<String>,
    /// (id, type, created secs)
    timeline: Vec<(i64, String, i64)>,
}

#[derive(Debug, Clone)]
struct Action {
    id: i64,
    op_type: String,
    user: String,
    repo: String,
    comment_id: u64,
    content: String,
    created: i64,
}

struct Failure {
    status: u16,
    path_contains: String,
}

#[derive(Default)]
struct Inner {
    org: String,
    bot: String,
    members: BTreeSet<String>,
    membership_status: BTreeMap<String, u16>,
    hidden_activity: BTreeSet<String>,
    next_id: u64,
    next_action: i64,
    repos: BTreeMap<String, i64>,
    prs: BTreeMap<(String, u64), Pr>,
    comments: Vec<FakeComment>,
    reactions: BTreeMap<u64, Vec<(String, String)>>,
    statuses: Vec<FakeStatus>,
    /// Comment id → its attachments.
    assets: BTreeMap<u64, Vec<FakeAsset>>,
    /// Uploads larger than this are refused with 413 (Gitea's size limit).
    max_asset_bytes: usize,
    actions: Vec<Action>,
    requests: Vec<GiteaRequest>,
    failures: VecDeque<Failure>,
    /// When requests take effect and are answered (fault injection, waits).
    pacing: super::serve::Pacing,
}

pub struct FakeGitea {
    server: super::serve::Served,
    state: Arc<Mutex<Inner>>,
}

pub fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn rfc3339(secs: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(secs)
        .expect("valid time")
        .format(&time::format_description::well_known::Rfc3339)
        .expect("formats")
}

impl FakeGitea {
    /// Start with an org and the bot user (a member of it).
    pub fn start(org: &str, bot: &str) -> FakeGitea {
        let state = Arc::new(Mutex::new(Inner {
            org: org.to_owned(),
            bot: bot.to_owned(),
            next_id: 1000,
            next_action: 50_000,
            pacing: super::serve::Pacing::counted(),
            ..Inner::default()
        }));
        state
            .lock()
            .expect("fresh lock")
            .members
            .insert(bot.to_owned());
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(state.clone());
        let server = super::serve::serve("fake gitea", app);
        FakeGitea { server, state }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.server.addr)
    }

    /// Changes once per request handled (its effect applied), so a test can
    /// wait for the next request instead of sleeping.
    pub fn served(&self) -> tokio::sync::watch::Receiver<u64> {
        match &self.lock().pacing.served {
            Some(tx) => tx.subscribe(),
            None => tokio::sync::watch::channel(0).1,
        }
    }

    pub fn add_member(&self, user: &str) {
        self.lock().members.insert(user.to_owned());
    }

    /// Membership of `user` answers this status (e.g. 303) instead of 204/404.
    pub fn set_membership_status(&self, user: &str, status: Option<u16>) {
        let mut s = self.lock();
        match status {
            Some(st) => s.membership_status.insert(user.to_owned(), st),
            None => s.membership_status.remove(user),
        };
    }

    /// The user keeps activity private: the feed omits their rows.
    pub fn hide_activity(&self, user: &str) {
        self.lock().hidden_activity.insert(user.to_owned());
    }

    pub fn add_repo(&self, slug: &str) {
        let mut s = self.lock();
        let id = s.repos.len() as i64 + 1;
        s.repos.insert(slug.to_owned(), id);
    }

    /// An open PR whose head is `sha` in `head_repo` (a fork, or the repo itself).
    pub fn add_pr(&self, repo: &str, number: u64, sha: &str, head_repo: Option<&str>) {
        self.lock().prs.insert(
            (repo.to_owned(), number),
            Pr {
                state: "open".into(),
                head_sha: sha.to_owned(),
                head_repo: head_repo.map(str::to_owned),
                timeline: Vec::new(),
            },
        );
    }

    pub fn close_pr(&self, repo: &str, number: u64) {
        if let Some(pr) = self.lock().prs.get_mut(&(repo.to_owned(), number)) {
            pr.state = "closed".into();
        }
    }

    /// A push to the PR at server time `at`: new head, a `pull_push` timeline row.
    pub fn push_at(&self, repo: &str, number: u64, sha: &str, at: i64) {
        let mut s = self.lock();
        s.next_id += 1;
        let id = s.next_id as i64;
        if let Some(pr) = s.prs.get_mut(&(repo.to_owned(), number)) {
            pr.head_sha = sha.to_owned();
            pr.timeline.push((id, "pull_push".into(), at));
        }
    }

    pub fn head_sha(&self, repo: &str, number: u64) -> String {
        self.lock().prs[&(repo.to_owned(), number)].head_sha.clone()
    }

    /// A user comments on a PR now; returns the comment id.
    pub fn comment(&self, repo: &str, index: u64, user: &str, body: &str) -> u64 {
        let now = now_secs();
        add_comment(&mut self.lock(), repo, index, true, user, body, now)
    }

    /// A comment created at a chosen server time.
    pub fn comment_at(&self, repo: &str, index: u64, user: &str, body: &str, at: i64) -> u64 {
        add_comment(&mut self.lock(), repo, index, true, user, body, at)
    }

    /// A comment on an issue (not a PR).
    pub fn issue_comment(&self, repo: &str, index: u64, user: &str, body: &str) -> u64 {
        let now = now_secs();
        add_comment(&mut self.lock(), repo, index, false, user, body, now)
    }

    /// The author edits a comment (no feed row, `updated_at` moves).
    pub fn edit(&self, id: u64, body: &str, at: i64) {
        let mut s = self.lock();
        if let Some(c) = s.comments.iter_mut().find(|c| c.id == id) {
            c.body = body.to_owned();
            c.updated = at;
        }
    }

    /// A reaction by someone (e.g. the bot, placed by an earlier life).
    pub fn add_reaction(&self, comment: u64, user: &str, content: &str) {
        self.lock()
            .reactions
            .entry(comment)
            .or_default()
            .push((user.to_owned(), content.to_owned()));
    }

    pub fn reactions(&self, comment: u64) -> Vec<(String, String)> {
        self.lock()
            .reactions
            .get(&comment)
            .cloned()
            .unwrap_or_default()
    }

    /// Comments on one PR by `user`, oldest first.
    pub fn comments_by(&self, repo: &str, index: u64, user: &str) -> Vec<FakeComment> {
        self.lock()
            .comments
            .iter()
            .filter(|c| c.repo == repo && c.index == index && c.user == user)
            .cloned()
            .collect()
    }

    pub fn comment_body(&self, id: u64) -> Option<String> {
        self.lock()
            .comments
            .iter()
            .find(|c| c.id == id)
            .map(|c| c.body.clone())
    }

    /// The files attached to a comment, oldest first.
    pub fn assets(&self, comment: u64) -> Vec<FakeAsset> {
        self.lock()
            .assets
            .get(&comment)
            .cloned()
            .unwrap_or_default()
    }

    /// Refuse uploads larger than `bytes` with 413.
    pub fn set_max_asset_bytes(&self, bytes: usize) {
        self.lock().max_asset_bytes = bytes;
    }

    pub fn statuses(&self, repo: &str, sha: &str) -> Vec<FakeStatus> {
        self.lock()
            .statuses
            .iter()
            .filter(|s| s.repo == repo && s.sha == sha)
            .cloned()
            .collect()
    }

    pub fn all_statuses(&self) -> Vec<FakeStatus> {
        self.lock().statuses.clone()
    }

    pub fn requests(&self) -> Vec<GiteaRequest> {
        self.lock().requests.clone()
    }

    pub fn request_count(&self) -> usize {
        self.lock().requests.len()
    }

    /// Requests whose path contains `needle`.
    pub fn count(&self, method: &str, needle: &str) -> usize {
        self.lock()
            .requests
            .iter()
            .filter(|r| r.method == method && r.path.contains(needle))
            .count()
    }

    pub fn clear_requests(&self) {
        self.lock().requests.clear();
    }

    /// Every answer is delayed by this much.
    pub fn set_latency_ms(&self, ms: u64) {
        self.lock().pacing.latency_ms = ms;
    }

    /// The next `count` writes to a path containing `path_contains` take
    /// `ms` to take effect, as on a busy server. The work goes on when the
    /// client gives up or dies (nothing in the API cancels a request once
    /// received): a client with a shorter timeout sees an error while the
    /// build or comment still appears later
    /// (docs/drone.md, "A lost answer is not a failed call").
    pub fn slow_next_writes(&self, path_contains: &str, count: u32, ms: u64) {
        self.lock().pacing.slow_writes = Some((path_contains.to_owned(), count, ms));
    }

    /// Slow writes still being processed (their effect is yet to come).
    pub fn slow_in_flight(&self) -> u32 {
        self.lock().pacing.slow_in_flight
    }

    /// The next request whose path contains `path_contains` answers `status`.
    pub fn fail_next(&self, path_contains: &str, status: u16) {
        self.lock().failures.push_back(Failure {
            status,
            path_contains: path_contains.to_owned(),
        });
    }
}

fn add_comment(
    s: &mut Inner,
    repo: &str,
    index: u64,
    is_pr: bool,
    user: &str,
    body: &str,
    at: i64,
) -> u64 {
    s.next_id += 1;
    let id = s.next_id;
    s.comments.push(FakeComment {
        id,
        repo: repo.to_owned(),
        index,
        is_pr,
        user: user.to_owned(),
        body: body.to_owned(),
        created: at,
        updated: at,
    });
    // services/feed/notifier.go: content = "<index>|<body cut at 200 bytes>",
    // cut back to a space within the last 15 bytes, then "…".
    let mut cut = body.len().min(200);
    while !body.is_char_boundary(cut) {
        cut -= 1;
    }
    let mut text = body[..cut].to_owned();
    if cut < body.len()
        && let Some(space) = text.rfind(' ')
        && text.len() - space < 15
    {
        text.truncate(space);
        text.push('…');
    }
    s.next_action += 1;
    let action = Action {
        id: s.next_action,
        op_type: if is_pr {
            "comment_pull"
        } else {
            "comment_issue"
        }
        .into(),
        user: user.to_owned(),
        repo: repo.to_owned(),
        comment_id: id,
        content: format!("{index}|{text}"),
        created: at,
    };
    s.actions.push(action);
    id
}

fn comment_json(host: &str, c: &FakeComment) -> Value {
    let kind = if c.is_pr { "pulls" } else { "issues" };
    let html = format!("{host}/{}/{kind}/{}", c.repo, c.index);
    json!({
        "id": c.id,
        "html_url": format!("{html}#issuecomment-{}", c.id),
        "pull_request_url": if c.is_pr { html.clone() } else { String::new() },
        "issue_url": if c.is_pr { String::new() } else { html.clone() },
        "user": { "id": 7, "login": c.user, "full_name": "", "email": "" },
        "original_author": "", "original_author_id": 0,
        "body": c.body, "assets": [],
        "created_at": rfc3339(c.created), "updated_at": rfc3339(c.updated),
    })
}

fn message(status: StatusCode, msg: &str) -> Response {
    (status, axum::Json(json!({ "message": msg, "url": "" }))).into_response()
}

fn with_total(v: Value, total: usize) -> Response {
    (
        StatusCode::OK,
        [
            ("x-total-count", total.to_string()),
            ("access-control-expose-headers", "X-Total-Count".to_owned()),
        ],
        axum::Json(v),
    )
        .into_response()
}

fn parse_query(uri: &Uri) -> Vec<(String, String)> {
    uri.query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (pct_decode(k), pct_decode(v))
        })
        .collect()
}

fn pct_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 3 <= b.len()
            && let Some(v) = std::str::from_utf8(&b[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn q<'a>(query: &'a [(String, String)], key: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// `page`/`limit` as Gitea applies them: 1-based, default 30, clamp 50.
fn paging(query: &[(String, String)]) -> (usize, usize) {
    let page = q(query, "page")
        .and_then(|v| v.parse().ok())
        .filter(|p: &usize| *p >= 1)
        .unwrap_or(1);
    let limit = q(query, "limit")
        .and_then(|v| v.parse().ok())
        .filter(|l: &usize| *l >= 1)
        .unwrap_or(30)
        .min(50);
    (page, limit)
}

/// `since` in unix seconds; `None` when it does not parse (Gitea: 422).
fn since(query: &[(String, String)]) -> Option<i64> {
    match q(query, "since") {
        None => Some(i64::MIN),
        Some(v) => time::OffsetDateTime::parse(v, &time::format_description::well_known::Rfc3339)
            .map(|t| t.unix_timestamp())
            .ok(),
    }
}

async fn handle(
    State(state): State<Arc<Mutex<Inner>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    super::serve::paced(state, method, uri, headers, body, answer).await
}

fn answer(
    state: &Arc<Mutex<Inner>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
    let Some(path) = uri.path().strip_prefix("/api/v1") else {
        return message(StatusCode::NOT_FOUND, "not found");
    };
    let path = path.to_owned();
    let query = parse_query(&uri);
    s.requests.push(GiteaRequest {
        method: method.to_string(),
        path: path.clone(),
        query: query.clone(),
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    if let Some(i) = s
        .failures
        .iter()
        .position(|f| path.contains(&f.path_contains))
    {
        let f = s.failures.remove(i).expect("position is valid");
        let code = StatusCode::from_u16(f.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return message(code, "injected failure");
    }
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if auth != format!("token {GITEA_TOKEN}") {
        return message(StatusCode::UNAUTHORIZED, "token is required");
    }
    let host = format!(
        "http://{}",
        headers
            .get("host")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("gitea")
    );
    if let ["repos", owner, name, "issues", "comments", id, "assets"] = path
        .trim_start_matches('/')
        .split('/')
        .collect::<Vec<_>>()
        .as_slice()
    {
        let repo = format!("{owner}/{name}");
        let ctype = headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        return comment_assets(
            &mut s,
            method.as_str(),
            &repo,
            id,
            &query,
            ctype,
            &body,
            &host,
        );
    }
    let body_json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let parts: Vec<String> = path
        .trim_start_matches('/')
        .split('/')
        .map(pct_decode)
        .collect();
    let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
    match (method.as_str(), parts.as_slice()) {
        ("GET", ["orgs", org, "activities", "feeds"]) => {
            if *org != s.org {
                return message(StatusCode::NOT_FOUND, "org not found");
            }
            let (page, limit) = paging(&query);
            let visible: Vec<&Action> = s
                .actions
                .iter()
                .rev()
                .filter(|a| !s.hidden_activity.contains(&a.user))
                .collect();
            let rows: Vec<Value> = visible
                .iter()
                .skip((page - 1) * limit)
                .take(limit)
                .map(|a| {
                    json!({
                        "id": a.id, "user_id": 3, "op_type": a.op_type,
                        "act_user_id": 7, "act_user": { "id": 7, "login": a.user },
                        "repo_id": s.repos.get(&a.repo).copied().unwrap_or(0),
                        "repo": { "id": s.repos.get(&a.repo).copied().unwrap_or(0),
                                  "full_name": a.repo, "name": a.repo.split('/').nth(1),
                                  "owner": { "login": s.org }, "private": true },
                        "comment_id": a.comment_id, "comment": null, "ref_name": "",
                        "is_private": true, "content": a.content,
                        "created": rfc3339(a.created),
                    })
                })
                .collect();
            with_total(Value::Array(rows), visible.len())
        }
        ("GET", ["orgs", org, "members", user]) => {
            if *org != s.org {
                return message(StatusCode::NOT_FOUND, "org not found");
            }
            if let Some(st) = s.membership_status.get(*user) {
                let code = StatusCode::from_u16(*st).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                return (
                    code,
                    [(
                        "location",
                        format!("/api/v1/orgs/{org}/public_members/{user}"),
                    )],
                )
                    .into_response();
            }
            if s.members.contains(*user) {
                StatusCode::NO_CONTENT.into_response()
            } else {
                StatusCode::NOT_FOUND.into_response()
            }
        }
        // Concealed membership: a client that follows the 303 gets "not a member".
        ("GET", ["orgs", _, "public_members", _]) => StatusCode::NOT_FOUND.into_response(),
        (m, ["repos", owner, name, rest @ ..]) => {
            let repo = format!("{owner}/{name}");
            if !s.repos.contains_key(&repo) {
                return message(StatusCode::NOT_FOUND, "repo not found");
            }
            repo_route(&mut s, m, &repo, rest, &query, &body_json, &host)
        }
        _ => message(StatusCode::NOT_FOUND, "not found"),
    }
}

fn asset_json(host: &str, a: &FakeAsset) -> Value {
    json!({
        "id": a.id, "name": a.name, "size": a.bytes.len(), "download_count": 0,
        "created_at": rfc3339(now_secs()), "uuid": a.uuid, "type": "attachment",
        "browser_download_url": format!("{host}/attachments/{}", a.uuid),
    })
}

/// `GET|POST /repos/{o}/{r}/issues/comments/{id}/assets`: the list, or an
/// upload (multipart field `attachment`, `?name=` overriding the file
/// name) that only the comment's author may make, answered 201.
#[allow(clippy::too_many_arguments)]
fn comment_assets(
    s: &mut Inner,
    method: &str,
    repo: &str,
    id: &str,
    query: &[(String, String)],
    content_type: &str,
    body: &[u8],
    host: &str,
) -> Response {
    let Ok(id) = id.parse::<u64>() else {
        return message(StatusCode::NOT_FOUND, "not found");
    };
    let Some(c) = s.comments.iter().find(|c| c.id == id && c.repo == repo) else {
        return message(StatusCode::NOT_FOUND, "no matching issue comment found");
    };
    match method {
        "GET" => {
            let list: Vec<Value> = s
                .assets
                .get(&id)
                .map(|v| v.iter().map(|a| asset_json(host, a)).collect())
                .unwrap_or_default();
            axum::Json(Value::Array(list)).into_response()
        }
        "POST" => {
            if c.user != s.bot {
                return message(
                    StatusCode::FORBIDDEN,
                    "user should have permission to edit comment",
                );
            }
            let parts = match super::multipart::parse(content_type, body) {
                Ok(p) => p,
                Err(e) => return message(StatusCode::BAD_REQUEST, &e),
            };
            let Some(file) = parts.into_iter().find(|p| p.name == "attachment") else {
                return message(StatusCode::BAD_REQUEST, "no attachment");
            };
            if s.max_asset_bytes > 0 && file.bytes.len() > s.max_asset_bytes {
                return message(StatusCode::PAYLOAD_TOO_LARGE, "file too big");
            }
            let name = q(query, "name")
                .map(str::to_owned)
                .or(file.filename)
                .unwrap_or_default();
            s.next_id += 1;
            let a = FakeAsset {
                id: s.next_id,
                name,
                bytes: file.bytes,
                uuid: format!("{:032x}", s.next_id),
            };
            let json = asset_json(host, &a);
            s.assets.entry(id).or_default().push(a);
            (StatusCode::CREATED, axum::Json(json)).into_response()
        }
        _ => message(StatusCode::METHOD_NOT_ALLOWED, "method not allowed"),
    }
}

fn repo_route(
    s: &mut Inner,
    method: &str,
    repo: &str,
    rest: &[&str],
    query: &[(String, String)],
    body: &Value,
    host: &str,
) -> Response {
    match (method, rest) {
        ("GET", ["issues", "comments"]) => {
            let Some(since) = since(query) else {
                return message(StatusCode::UNPROCESSABLE_ENTITY, "invalid since");
            };
            let (page, limit) = paging(query);
            let mut matching: Vec<&FakeComment> = s
                .comments
                .iter()
                .filter(|c| c.repo == repo && c.updated >= since)
                .collect();
            matching.sort_by_key(|c| (c.created, c.id));
            let rows: Vec<Value> = matching
                .iter()
                .skip((page - 1) * limit)
                .take(limit)
                .map(|c| comment_json(host, c))
                .collect();
            with_total(Value::Array(rows), matching.len())
        }
        (m, ["issues", "comments", id]) => {
            let Ok(id) = id.parse::<u64>() else {
                return message(StatusCode::NOT_FOUND, "not found");
            };
            let Some(c) = s.comments.iter_mut().find(|c| c.id == id && c.repo == repo) else {
                return message(StatusCode::NOT_FOUND, "comment not found");
            };
            match m {
                "GET" => axum::Json(comment_json(host, c)).into_response(),
                "PATCH" => {
                    let Some(text) = body["body"].as_str() else {
                        return message(StatusCode::UNPROCESSABLE_ENTITY, "body required");
                    };
                    c.body = text.to_owned();
                    c.updated = now_secs();
                    axum::Json(comment_json(host, c)).into_response()
                }
                _ => message(StatusCode::METHOD_NOT_ALLOWED, "method not allowed"),
            }
        }
        (m, ["issues", "comments", id, "reactions"]) => {
            let Ok(id) = id.parse::<u64>() else {
                return message(StatusCode::NOT_FOUND, "not found");
            };
            if !s.comments.iter().any(|c| c.id == id && c.repo == repo) {
                return message(StatusCode::NOT_FOUND, "comment not found");
            }
            let bot = s.bot.clone();
            let list = s.reactions.entry(id).or_default();
            let as_json = |(u, c): &(String, String)| {
                json!({ "user": { "id": 3, "login": u }, "content": c,
                        "created_at": rfc3339(now_secs()) })
            };
            match m {
                "GET" => {
                    axum::Json(Value::Array(list.iter().map(as_json).collect())).into_response()
                }
                "POST" => {
                    let content = body["content"].as_str().unwrap_or("").to_owned();
                    let allowed = [
                        "+1", "-1", "laugh", "hooray", "confused", "heart", "rocket", "eyes",
                    ];
                    if !allowed.contains(&content.as_str()) {
                        return message(StatusCode::FORBIDDEN, "reaction not allowed");
                    }
                    let r = (bot, content);
                    if list.contains(&r) {
                        (StatusCode::OK, axum::Json(as_json(&r))).into_response()
                    } else {
                        list.push(r.clone());
                        (StatusCode::CREATED, axum::Json(as_json(&r))).into_response()
                    }
                }
                _ => message(StatusCode::METHOD_NOT_ALLOWED, "method not allowed"),
            }
        }
        (m, ["issues", index, "comments"]) => {
            let Ok(index) = index.parse::<u64>() else {
                return message(StatusCode::NOT_FOUND, "not found");
            };
            match m {
                "GET" => {
                    let Some(since) = since(query) else {
                        return message(StatusCode::UNPROCESSABLE_ENTITY, "invalid since");
                    };
                    let rows: Vec<&FakeComment> = s
                        .comments
                        .iter()
                        .filter(|c| c.repo == repo && c.index == index && c.updated >= since)
                        .collect();
                    let n = rows.len();
                    with_total(
                        Value::Array(rows.into_iter().map(|c| comment_json(host, c)).collect()),
                        n,
                    )
                }
                "POST" => {
                    let Some(text) = body["body"].as_str() else {
                        return message(StatusCode::UNPROCESSABLE_ENTITY, "body required");
                    };
                    let is_pr = s.prs.contains_key(&(repo.to_owned(), index));
                    let bot = s.bot.clone();
                    let id = add_comment(s, repo, index, is_pr, &bot, text, now_secs());
                    let c = s
                        .comments
                        .iter()
                        .find(|c| c.id == id)
                        .expect("just added")
                        .clone();
                    (StatusCode::CREATED, axum::Json(comment_json(host, &c))).into_response()
                }
                _ => message(StatusCode::METHOD_NOT_ALLOWED, "method not allowed"),
            }
        }
        ("GET", ["issues", index, "timeline"]) => {
            let Ok(index) = index.parse::<u64>() else {
                return message(StatusCode::NOT_FOUND, "not found");
            };
            let Some(since) = since(query) else {
                return message(StatusCode::UNPROCESSABLE_ENTITY, "invalid since");
            };
            let (page, limit) = paging(query);
            let Some(pr) = s.prs.get(&(repo.to_owned(), index)) else {
                return message(StatusCode::NOT_FOUND, "issue not found");
            };
            let rows: Vec<Value> = pr
                .timeline
                .iter()
                .filter(|(_, _, at)| *at >= since)
                .skip((page - 1) * limit)
                .take(limit)
                .map(|(id, kind, at)| {
                    json!({ "id": id, "type": kind, "body": "",
                            "user": { "id": 9, "login": "bob" },
                            "created_at": rfc3339(*at), "updated_at": rfc3339(*at) })
                })
                .collect();
            axum::Json(Value::Array(rows)).into_response()
        }
        ("GET", ["pulls", index]) => {
            let Ok(index) = index.parse::<u64>() else {
                return message(StatusCode::NOT_FOUND, "not found");
            };
            let Some(pr) = s.prs.get(&(repo.to_owned(), index)) else {
                return message(StatusCode::NOT_FOUND, "pull request not found");
            };
            let repo_json = |full: &str| json!({ "id": 57, "full_name": full });
            axum::Json(json!({
                "id": 300 + index, "number": index, "state": pr.state, "draft": false,
                "title": "a PR", "merged": false,
                "html_url": format!("{host}/{repo}/pulls/{index}"),
                "head": { "label": "topic", "ref": "topic", "sha": pr.head_sha,
                          "repo_id": 57,
                          "repo": pr.head_repo.as_deref().map(repo_json) },
                "base": { "label": "main", "ref": "main",
                          "sha": "e3320539a4c03ccfda992641646deb67d8bf98f3", "repo_id": 12,
                          "repo": repo_json(repo) },
                "updated_at": rfc3339(now_secs()),
            }))
            .into_response()
        }
        ("POST", ["statuses", sha]) => {
            let state = body["state"].as_str().unwrap_or("").to_owned();
            if !["pending", "success", "error", "failure", "warning"].contains(&state.as_str()) {
                return message(StatusCode::BAD_REQUEST, "invalid state");
            }
            let st = FakeStatus {
                repo: repo.to_owned(),
                sha: (*sha).to_owned(),
                state: state.clone(),
                context: body["context"].as_str().unwrap_or("").to_owned(),
                description: body["description"].as_str().unwrap_or("").to_owned(),
                target_url: body["target_url"].as_str().unwrap_or("").to_owned(),
            };
            s.statuses.push(st.clone());
            let id = s.statuses.len();
            (
                StatusCode::CREATED,
                axum::Json(json!({
                    "id": id, "status": state, "context": st.context,
                    "description": st.description, "target_url": st.target_url,
                    "creator": { "id": 3, "login": s.bot },
                    "created_at": rfc3339(now_secs()), "updated_at": rfc3339(now_secs()),
                })),
            )
                .into_response()
        }
        _ => message(StatusCode::NOT_FOUND, "not found"),
    }
}

impl super::serve::Paced for Inner {
    fn pacing(&mut self) -> &mut super::serve::Pacing {
        &mut self.pacing
    }
}
