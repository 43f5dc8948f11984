//! The Gitea API objects the bridge reads and writes, as serde types (see
//! docs/gitea.md, "Endpoints and shapes"), and the small pure rules that read
//! them.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// A Gitea user as it appears inside other objects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct User {
    #[serde(default)]
    pub id: i64,
    pub login: String,
}

/// `Comment`: a plain conversation comment on an issue or PR.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Comment {
    pub id: u64,
    #[serde(default)]
    pub body: String,
    #[serde(default)]
    pub user: Option<User>,
    pub created_at: String,
    pub updated_at: String,
    /// The PR's HTML URL for PR comments, `""` for issue comments.
    #[serde(default)]
    pub pull_request_url: String,
    #[serde(default)]
    pub issue_url: String,
    #[serde(default)]
    pub html_url: String,
}

impl Comment {
    /// The PR number, parsed from the trailing segment of `pull_request_url`
    /// (a comment has no number field). `None` for issue comments.
    pub fn pr_number(&self) -> Option<u64> {
        trailing_number(&self.pull_request_url)
    }

    pub fn login(&self) -> &str {
        self.user.as_ref().map_or("", |u| u.login.as_str())
    }
}

/// The number at the end of a `…/pulls/42` (or `…/issues/42`) URL.
pub fn trailing_number(url: &str) -> Option<u64> {
    let last = url.trim_end_matches('/').rsplit('/').next()?;
    if last.is_empty() {
        return None;
    }
    last.parse().ok()
}

/// The repository inside an activity or a PR branch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct RepoRef {
    #[serde(default)]
    pub id: i64,
    pub full_name: String,
}

/// `Activity`: one row of an activity feed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Activity {
    pub id: i64,
    pub op_type: String,
    #[serde(default)]
    pub act_user: Option<User>,
    #[serde(default)]
    pub repo: Option<RepoRef>,
    #[serde(default)]
    pub comment_id: u64,
    /// For comments: `"<index>|<body truncated to 200 bytes>"`.
    #[serde(default)]
    pub content: String,
    #[serde(default)]
    pub created: String,
}

/// The body prefix Gitea stores in a comment action (docs/gitea.md,
/// "The activity feed truncates comments").
pub const FEED_CONTENT_LIMIT: usize = 200;

/// `PRBranchInfo`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrBranch {
    #[serde(rename = "ref", default)]
    pub ref_name: String,
    pub sha: String,
    /// `null` when a fork was deleted.
    #[serde(default)]
    pub repo: Option<RepoRef>,
}

/// `PullRequest`, the fields the bridge reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullRequest {
    pub number: u64,
    pub state: String,
    #[serde(default)]
    pub merged: bool,
    pub head: PrBranch,
    pub base: PrBranch,
    #[serde(default)]
    pub html_url: String,
}

/// `Reaction`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reaction {
    #[serde(default)]
    pub user: Option<User>,
    pub content: String,
}

/// `TimelineComment` from `GET /repos/{o}/{r}/issues/{index}/timeline`: only the
/// fields needed to see a push (`type: "pull_push"`) and when the server saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineEvent {
    #[serde(default)]
    pub id: i64,
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub created_at: String,
}

/// The timeline type of "pushed N commits" entries: `CommentTypePullRequestPush`
/// rendered by `CommentType.String()` (go-gitea models/issues/comment.go,
/// `commentStrings`); its `created_at` is when the server saw the push.
/// Not in Gitea's API schema (docs/gitea.md, "Pushes after the comment").
pub const TIMELINE_PUSH: &str = "pull_push";

/// Commit status states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatusState {
    Pending,
    Success,
    Error,
    Failure,
    Warning,
}

/// `CreateStatusOption`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewStatus {
    pub state: StatusState,
    pub target_url: String,
    pub description: String,
    pub context: String,
}

/// The answer of `GET /orgs/{org}/members/{user}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Membership {
    Member,
    NotMember,
}

/// One page of a repository's comments and what the server said about it.
#[derive(Debug, Clone)]
pub struct CommentPage {
    pub comments: Vec<Comment>,
    /// `X-Total-Count`: matches ignoring pagination.
    pub total: Option<u64>,
    /// The server's `Date` header, for the next `since` cursor (no clock skew).
    pub server_time: Option<OffsetDateTime>,
}

/// Page size the bridge asks for (Gitea clamps to `MAX_RESPONSE_ITEMS`, default 50).
pub const PAGE_LIMIT: u32 = 50;
