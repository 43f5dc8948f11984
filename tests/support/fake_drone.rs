//! An in-process fake Drone 2.x server for tests: real HTTP on 127.0.0.1:0,
//! the real JSON shapes and status codes of Drone 2.25's handlers (see
//! docs/drone.md, "Custom builds and their parameters"), state kept in memory.
//!
//! Every request is recorded (method, path, query, body) so tests can assert
//! on exactly what a client did, e.g. "a second reconcile sent no mutating
//! request". Knobs inject failures ([`Failure`]), make the token a non-admin
//! (timeout patches silently ignored, like Drone), or report the server
//! unhealthy.
//!
//! The server runs on its own thread with its own runtime, so sync tests that
//! spawn `ccci` as a process and async tests can both use it. It stops when
//! the [`FakeDrone`] is dropped.
//!
//! ```ignore
//! let drone = FakeDrone::start();
//! drone.add_repo("coop-cloud/ccci", false);
//! // ... point the code under test at drone.url() with drone.token() ...
//! assert!(drone.mutating_requests().is_empty());
//! ```

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// The token the fake accepts unless [`FakeDrone::set_token`] changes it.
pub const FAKE_TOKEN: &str = "fake-drone-token-0123456789";

/// One request as the fake received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    /// Query pairs in the order sent, percent-decoded.
    pub query: Vec<(String, String)>,
    pub body: String,
}

impl Recorded {
    /// Anything but GET/HEAD changes Drone's state.
    pub fn is_mutating(&self) -> bool {
        !matches!(self.method.as_str(), "GET" | "HEAD")
    }
    pub fn query_value(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// A failure injected into the next `/api` request(s), in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Answer with this status and a Drone-style `{"message": ...}` body.
    Status(u16),
    /// Answer 401 as for a bad token.
    Unauthorized,
    /// A build creation answers `200 null` (nothing scheduled). Other
    /// requests are unaffected by this knob and it stays queued until a
    /// build creation consumes it.
    NullBuild,
}

#[derive(Default)]
struct Inner {
    token: String,
    admin: bool,
    healthy: bool,
    next_id: i64,
    repos: BTreeMap<String, Value>,
    /// Repos that answer 404 until `POST /api/user/repos` syncs them.
    unsynced: BTreeMap<String, Value>,
    crons: BTreeMap<String, Vec<Value>>,
    builds: BTreeMap<String, Vec<Value>>,
    requests: Vec<Recorded>,
    failures: VecDeque<Failure>,
    /// When requests take effect and are answered (fault injection, waits).
    pacing: super::serve::Pacing,
    /// (endpoint, secret) Drone's system webhook posts build events to.
    webhook: Option<(String, String)>,
    /// Answer status of each webhook delivery (0: no answer), in order.
    hook_answers: Arc<Mutex<Vec<u16>>>,
    /// Instants the build events were sent, by build number.
    hook_sent: BTreeMap<i64, std::time::Instant>,
}

/// The fake server. Cheap accessors lock the shared state briefly.
pub struct FakeDrone {
    server: super::serve::Served,
    state: Arc<Mutex<Inner>>,
}

const NOW: i64 = 1_748_772_000;

impl FakeDrone {
    /// Start on 127.0.0.1 with a free port; healthy, admin token, no repos.
    pub fn start() -> FakeDrone {
        let state = Arc::new(Mutex::new(Inner {
            token: FAKE_TOKEN.to_owned(),
            admin: true,
            healthy: true,
            next_id: 100,
            pacing: super::serve::Pacing::counted(),
            ..Inner::default()
        }));
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(state.clone());
        let server = super::serve::serve("fake drone", app);
        FakeDrone { server, state }
    }

    /// `http://127.0.0.1:<port>` (no trailing slash, no `/api`).
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

    pub fn token(&self) -> String {
        self.lock().token.clone()
    }

    pub fn set_token(&self, token: &str) {
        self.lock().token = token.to_owned();
    }

    /// A non-admin token: Drone silently ignores `timeout`/`trusted` patches.
    pub fn set_admin(&self, admin: bool) {
        self.lock().admin = admin;
    }

    /// `/healthz` answers 503 while unhealthy.
    pub fn set_healthy(&self, healthy: bool) {
        self.lock().healthy = healthy;
    }

    /// Add a repository Drone knows (after a sync), active or not.
    pub fn add_repo(&self, slug: &str, active: bool) {
        let mut s = self.lock();
        let repo = s.new_repo(slug, active);
        s.repos.insert(slug.to_owned(), repo);
    }

    /// Add a repository that exists on the forge but is 404 until the client
    /// calls `POST /api/user/repos`.
    pub fn add_unsynced_repo(&self, slug: &str) {
        let mut s = self.lock();
        let repo = s.new_repo(slug, false);
        s.unsynced.insert(slug.to_owned(), repo);
    }

    /// The repository JSON as Drone would return it.
    pub fn repo(&self, slug: &str) -> Option<Value> {
        self.lock().repos.get(slug).cloned()
    }

    /// Pre-existing cron job (as if created earlier).
    pub fn add_cron(&self, slug: &str, name: &str, expr: &str, branch: &str) {
        let mut s = self.lock();
        let cron = s.new_cron(slug, name, expr, branch);
        s.crons.entry(slug.to_owned()).or_default().push(cron);
    }

    /// Current cron jobs of a repo, in creation order.
    pub fn crons(&self, slug: &str) -> Vec<Value> {
        self.lock().crons.get(slug).cloned().unwrap_or_default()
    }

    /// Builds of a repo, oldest first.
    pub fn builds(&self, slug: &str) -> Vec<Value> {
        self.lock().builds.get(slug).cloned().unwrap_or_default()
    }

    /// Send Drone's system webhook (`build:updated` when a build finishes)
    /// to `endpoint`, signed with `secret`, as `DRONE_WEBHOOK_ENDPOINT` and
    /// `DRONE_WEBHOOK_SECRET` make the real server do.
    pub fn set_webhook(&self, endpoint: &str, secret: &str) {
        self.lock().webhook = Some((endpoint.to_owned(), secret.to_owned()));
    }

    /// The answers to the webhook deliveries so far (0: none came).
    pub fn hook_answers(&self) -> Vec<u16> {
        let answers = self.lock().hook_answers.clone();
        answers.lock().unwrap_or_else(|p| p.into_inner()).to_vec()
    }

    /// When the build event of this build was sent.
    pub fn hook_sent_at(&self, number: i64) -> Option<std::time::Instant> {
        self.lock().hook_sent.get(&number).copied()
    }

    /// Move a build (and its stage/steps) to `status`, e.g. "running",
    /// "success". A build that finishes sends its `build:updated` event when
    /// a webhook is set, after the change, from a thread of its own (Drone
    /// sends it from the build's teardown, not from an API request).
    pub fn set_build_status(&self, slug: &str, number: i64, status: &str) {
        let mut s = self.lock();
        let finished = matches!(
            status,
            "success" | "failure" | "killed" | "error" | "skipped" | "declined"
        );
        let hook = s.webhook.clone().filter(|_| finished);
        if let Some(b) = s
            .builds
            .get_mut(slug)
            .and_then(|bs| bs.iter_mut().find(|b| b["number"] == number))
        {
            b["status"] = json!(status);
            if let Some(stages) = b["stages"].as_array_mut() {
                for st in stages {
                    st["status"] = json!(status);
                    if let Some(steps) = st["steps"].as_array_mut() {
                        for step in steps {
                            step["status"] = json!(status);
                        }
                    }
                }
            }
        }
        let Some((endpoint, secret)) = hook else {
            return;
        };
        let repo = s.repos.get(slug).cloned().unwrap_or(Value::Null);
        let Some(mut build) = s
            .builds
            .get(slug)
            .and_then(|bs| bs.iter().find(|b| b["number"] == number))
            .cloned()
        else {
            return;
        };
        if let Some(o) = build.as_object_mut() {
            o.remove("stages");
        }
        let body = super::drone_webhook::build_updated(&repo, &build);
        s.hook_sent.insert(number, std::time::Instant::now());
        let answers = s.hook_answers.clone();
        drop(s);
        std::thread::spawn(move || {
            let status = super::drone_webhook::deliver(&endpoint, &secret, body);
            answers
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(status);
        });
    }

    /// Delay every `/api` answer, after the request took effect, so that a
    /// client killed while waiting leaves the effect without the answer.
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

    /// Queue a failure for the next `/api` request (see [`Failure`]).
    pub fn fail_next(&self, failure: Failure) {
        self.lock().failures.push_back(failure);
    }

    /// Every request received so far (including `/healthz`), in order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.lock().requests.clone()
    }

    /// Requests that change state (anything but GET/HEAD).
    pub fn mutating_requests(&self) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(Recorded::is_mutating)
            .collect()
    }

    pub fn clear_requests(&self) {
        self.lock().requests.clear();
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panicking handler must not hide the state from the test's asserts.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Inner {
    fn id(&mut self) -> i64 {
        self.next_id += 1;
        self.next_id
    }

    fn new_repo(&mut self, slug: &str, active: bool) -> Value {
        let (ns, name) = slug.split_once('/').unwrap_or(("", slug));
        let id = self.id();
        json!({
            "id": id, "uid": id.to_string(), "user_id": 1, "namespace": ns, "name": name,
            "slug": slug, "scm": "", "git_http_url": format!("https://git.example.org/{slug}.git"),
            "git_ssh_url": format!("git@git.example.org:{slug}.git"),
            "link": format!("https://git.example.org/{slug}"), "default_branch": "main",
            "private": false, "visibility": "public", "active": active,
            "config_path": if active { ".drone.yml" } else { "" },
            "trusted": false, "protected": false, "ignore_forks": false,
            "ignore_pull_requests": false, "auto_cancel_pull_requests": false,
            "auto_cancel_pushes": false, "auto_cancel_running": false,
            "timeout": if active { 60 } else { 0 }, "counter": 0, "synced": NOW,
            "created": NOW, "updated": NOW, "version": 1, "archived": false
        })
    }

    fn new_cron(&mut self, slug: &str, name: &str, expr: &str, branch: &str) -> Value {
        let id = self.id();
        let repo_id = self
            .repos
            .get(slug)
            .map_or(0, |r| r["id"].as_i64().unwrap_or(0));
        json!({
            "id": id, "repo_id": repo_id, "name": name, "expr": expr,
            "next": NOW + 3600, "prev": 0, "event": "push", "branch": branch,
            "target": "", "disabled": false, "created": NOW, "updated": NOW, "version": 1
        })
    }
}

fn message(status: StatusCode, msg: &str) -> Response {
    (status, axum::Json(json!({ "message": msg }))).into_response()
}

fn ok(v: Value) -> Response {
    (StatusCode::OK, axum::Json(v)).into_response()
}

fn parse_query(uri: &Uri) -> Vec<(String, String)> {
    let Some(q) = uri.query() else {
        return Vec::new();
    };
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (pct_decode(k), pct_decode(v))
        })
        .collect()
}

fn pct_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A cron expression Drone's parser would accept: 5 or 6 fields, or a
/// descriptor such as `@weekly` / `@every 1h`.
fn valid_cron_expr(expr: &str) -> bool {
    let e = expr.trim();
    if let Some(d) = e.strip_prefix('@') {
        return matches!(
            d,
            "yearly" | "annually" | "monthly" | "weekly" | "daily" | "midnight" | "hourly"
        ) || d.starts_with("every ");
    }
    let n = e.split_whitespace().count();
    (n == 5 || n == 6)
        && e.split_whitespace().all(|f| {
            f.chars()
                .all(|c| c.is_ascii_alphanumeric() || "*/,-?".contains(c))
        })
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
    let path = uri.path().to_owned();
    let query = parse_query(&uri);
    s.requests.push(Recorded {
        method: method.to_string(),
        path: path.clone(),
        query: query.clone(),
        body: String::from_utf8_lossy(&body).into_owned(),
    });

    if path == "/healthz" {
        return if s.healthy {
            StatusCode::OK.into_response()
        } else {
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        };
    }
    if !path.starts_with("/api/") {
        return message(StatusCode::NOT_FOUND, "Not Found");
    }

    let is_build_create =
        method == Method::POST && path.ends_with("/builds") && path.split('/').count() == 6;
    match s.failures.front().cloned() {
        Some(Failure::Status(code)) => {
            s.failures.pop_front();
            let code = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return message(code, "injected failure");
        }
        Some(Failure::Unauthorized) => {
            s.failures.pop_front();
            return message(StatusCode::UNAUTHORIZED, "Unauthorized");
        }
        Some(Failure::NullBuild) if is_build_create => {
            s.failures.pop_front();
            return (
                StatusCode::OK,
                [("content-type", "application/json")],
                "null\n",
            )
                .into_response();
        }
        _ => {}
    }

    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let presented = auth.strip_prefix("Bearer ").unwrap_or(auth);
    let by_query = query
        .iter()
        .find(|(k, _)| k == "access_token")
        .map(|(_, v)| v.as_str());
    if presented != s.token && by_query != Some(s.token.as_str()) {
        return message(StatusCode::UNAUTHORIZED, "Unauthorized");
    }

    let parts: Vec<&str> = path.trim_start_matches("/api/").split('/').collect();
    match (method.as_str(), parts.as_slice()) {
        ("POST", ["user", "repos"]) => {
            let synced: Vec<(String, Value)> =
                std::mem::take(&mut s.unsynced).into_iter().collect();
            for (k, v) in synced {
                s.repos.insert(k, v);
            }
            ok(Value::Array(s.repos.values().cloned().collect()))
        }
        (m, ["repos", owner, name, rest @ ..]) => {
            let slug = format!("{}/{}", pct_decode(owner), pct_decode(name));
            repo_route(&mut s, m, &slug, rest, &query, &body)
        }
        _ => message(StatusCode::NOT_FOUND, "Not Found"),
    }
}

fn repo_route(
    s: &mut Inner,
    method: &str,
    slug: &str,
    rest: &[&str],
    query: &[(String, String)],
    body: &[u8],
) -> Response {
    if !s.repos.contains_key(slug) {
        return message(StatusCode::NOT_FOUND, "Not Found");
    }
    let body_json: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    match (method, rest) {
        ("GET", []) => ok(s.repos[slug].clone()),
        ("POST", []) => {
            let repo = s.repos.get_mut(slug).expect("checked above");
            repo["active"] = json!(true);
            if repo["config_path"] == "" {
                repo["config_path"] = json!(".drone.yml");
            }
            if repo["timeout"] == 0 {
                repo["timeout"] = json!(60);
            }
            ok(repo.clone())
        }
        ("PATCH", []) => {
            if !body_json.is_object() {
                return message(StatusCode::BAD_REQUEST, "invalid JSON");
            }
            let admin = s.admin;
            let repo = s.repos.get_mut(slug).expect("checked above");
            for key in [
                "visibility",
                "config_path",
                "protected",
                "ignore_forks",
                "ignore_pull_requests",
                "auto_cancel_pull_requests",
                "auto_cancel_pushes",
                "auto_cancel_running",
            ] {
                if let Some(v) = body_json.get(key) {
                    repo[key] = v.clone();
                }
            }
            // Drone applies these only for system admins, silently.
            if admin {
                for key in ["trusted", "timeout", "throttle", "counter"] {
                    if let Some(v) = body_json.get(key) {
                        repo[key] = v.clone();
                    }
                }
            }
            ok(repo.clone())
        }
        ("GET", ["cron"]) => ok(Value::Array(s.crons.get(slug).cloned().unwrap_or_default())),
        ("POST", ["cron"]) => {
            let name = body_json["name"].as_str().unwrap_or("").to_owned();
            let expr = body_json["expr"].as_str().unwrap_or("").to_owned();
            let branch = body_json["branch"].as_str().unwrap_or("").to_owned();
            if name.is_empty() {
                return message(StatusCode::BAD_REQUEST, "Invalid Cronjob Name");
            }
            if !valid_cron_expr(&expr) {
                return message(StatusCode::BAD_REQUEST, "Invalid Cronjob Expression");
            }
            if s.crons
                .get(slug)
                .is_some_and(|cs| cs.iter().any(|c| c["name"] == name.as_str()))
            {
                return message(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "UNIQUE constraint failed: cron.cron_repo_id, cron.cron_name",
                );
            }
            let branch = if branch.is_empty() {
                "main".to_owned()
            } else {
                branch
            };
            let cron = s.new_cron(slug, &name, &expr, &branch);
            s.crons
                .entry(slug.to_owned())
                .or_default()
                .push(cron.clone());
            ok(cron)
        }
        (m, ["cron", name]) => {
            let name = pct_decode(name);
            let crons = s.crons.entry(slug.to_owned()).or_default();
            let Some(i) = crons.iter().position(|c| c["name"] == name.as_str()) else {
                return message(StatusCode::NOT_FOUND, "Not Found");
            };
            match m {
                "GET" => ok(crons[i].clone()),
                "PATCH" => {
                    // Drone's cronUpdate has only these three fields.
                    for key in ["branch", "target", "disabled"] {
                        if let Some(v) = body_json.get(key).filter(|v| !v.is_null()) {
                            crons[i][key] = v.clone();
                        }
                    }
                    ok(crons[i].clone())
                }
                "DELETE" => {
                    crons.remove(i);
                    StatusCode::NO_CONTENT.into_response()
                }
                _ => message(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed"),
            }
        }
        ("GET", ["builds"]) => {
            // Newest first, no stages; `per_page` 1..=100 else 25 (list.go).
            let page = query_num(query, "page").filter(|p| *p >= 1).unwrap_or(1);
            let per_page = query_num(query, "per_page")
                .filter(|p| (1..=100).contains(p))
                .unwrap_or(25);
            let list: Vec<Value> = s
                .builds
                .get(slug)
                .map(|bs| {
                    bs.iter()
                        .rev()
                        .skip(((page - 1) * per_page) as usize)
                        .take(per_page as usize)
                        .map(|b| {
                            let mut b = b.clone();
                            if let Some(o) = b.as_object_mut() {
                                o.remove("stages");
                            }
                            b
                        })
                        .collect()
                })
                .unwrap_or_default();
            ok(Value::Array(list))
        }
        ("POST", ["builds"]) => create_build(s, slug, query),
        (m, ["builds", number]) => {
            let Ok(number) = number.parse::<i64>() else {
                return message(StatusCode::BAD_REQUEST, "invalid build number");
            };
            let builds = s.builds.entry(slug.to_owned()).or_default();
            let Some(b) = builds.iter_mut().find(|b| b["number"] == number) else {
                return message(StatusCode::NOT_FOUND, "Not Found");
            };
            match m {
                "GET" => ok(b.clone()),
                "DELETE" => {
                    if matches!(b["status"].as_str(), Some("pending" | "running")) {
                        b["status"] = json!("killed");
                        b["finished"] = json!(NOW + 60);
                        if let Some(stages) = b["stages"].as_array_mut() {
                            for st in stages {
                                let next = if st["status"] == "running" {
                                    "killed"
                                } else {
                                    "skipped"
                                };
                                st["status"] = json!(next);
                                if let Some(steps) = st["steps"].as_array_mut() {
                                    for step in steps {
                                        if step["status"] == "running" {
                                            step["status"] = json!("killed");
                                            step["exit_code"] = json!(130);
                                        } else if step["status"] == "pending" {
                                            step["status"] = json!("skipped");
                                        }
                                    }
                                }
                            }
                        }
                    }
                    ok(b.clone())
                }
                _ => message(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed"),
            }
        }
        _ => message(StatusCode::NOT_FOUND, "Not Found"),
    }
}

fn query_num(query: &[(String, String)], key: &str) -> Option<u64> {
    query
        .iter()
        .find(|(k, _)| k == key)
        .and_then(|(_, v)| v.parse().ok())
}

fn create_build(s: &mut Inner, slug: &str, query: &[(String, String)]) -> Response {
    if s.repos[slug]["active"] != true {
        // trigger.go returns nil, nil for an inactive repo: "200 null".
        return (
            StatusCode::OK,
            [("content-type", "application/json")],
            "null\n",
        )
            .into_response();
    }
    let branch = query
        .iter()
        .find(|(k, _)| k == "branch")
        .map_or("main".to_owned(), |(_, v)| v.clone());
    let commit = query.iter().find(|(k, _)| k == "commit").map_or(
        "9fc1ad6ebf12462f3f9773003e26b4c6f54a772e".to_owned(),
        |(_, v)| v.clone(),
    );
    let mut params = serde_json::Map::new();
    for (k, v) in query {
        if matches!(k.as_str(), "access_token" | "commit" | "branch") || v.is_empty() {
            continue;
        }
        params.entry(k.clone()).or_insert_with(|| json!(v));
    }
    let git_ref = if branch.starts_with("refs/") {
        branch.clone()
    } else {
        format!("refs/heads/{branch}")
    };
    let id = s.id();
    let stage_id = s.id();
    let repo = s.repos.get_mut(slug).expect("checked by caller");
    let number = repo["counter"].as_i64().unwrap_or(0) + 1;
    repo["counter"] = json!(number);
    let repo_id = repo["id"].clone();
    let steps = json!([
        { "id": stage_id * 10 + 1, "step_id": stage_id, "number": 1, "name": "clone",
          "status": "pending", "exit_code": 0, "version": 1 },
        { "id": stage_id * 10 + 2, "step_id": stage_id, "number": 2, "name": "run",
          "status": "pending", "exit_code": 0, "version": 1 }
    ]);
    let stage = json!({
        "id": stage_id, "repo_id": repo_id, "build_id": id, "number": 1,
        "name": "recipe-ci", "kind": "pipeline", "type": "exec", "status": "pending",
        "errignore": false, "exit_code": 0, "os": "linux", "arch": "amd64",
        "started": 0, "stopped": 0, "created": NOW, "updated": NOW, "version": 1,
        "on_success": true, "on_failure": false, "steps": steps
    });
    let mut build = json!({
        "id": id, "repo_id": repo_id, "trigger": "ci-bot", "number": number,
        "status": "pending", "event": "custom", "action": "",
        "link": format!("https://git.example.org/{slug}/commit/{commit}"),
        "timestamp": NOW, "message": "", "before": commit, "after": commit,
        "ref": git_ref, "source_repo": "", "source": branch, "target": branch
    });
    let more = json!({
        "author_login": "ci-bot", "author_name": "", "author_email": "", "author_avatar": "",
        "sender": "ci-bot", "params": params, "started": 0, "finished": 0,
        "created": NOW, "updated": NOW, "version": 1, "stages": [stage]
    });
    if let (Some(b), Some(m)) = (build.as_object_mut(), more.as_object()) {
        b.extend(m.clone());
    }
    s.builds
        .entry(slug.to_owned())
        .or_default()
        .push(build.clone());
    ok(build)
}

impl super::serve::Paced for Inner {
    fn pacing(&mut self) -> &mut super::serve::Pacing {
        &mut self.pacing
    }
}
