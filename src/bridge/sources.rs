//! Trigger sources turned into [`SeenComment`]s for the one decision core: the
//! org activity feed (fast, one request per org per cycle), the per-repo
//! comment sweep (slow, catches what the feed hides) and the webhook payload.

use serde::Deserialize;

use crate::bridge::core::{Body, SeenComment, Source};
use crate::forge::gitea::{Activity, Comment, FEED_CONTENT_LIMIT, parse_time, trailing_number};

/// Unix seconds of a Gitea timestamp; unparsable times count as "now" so the
/// age rule cannot silently drop a comment.
fn secs(s: &str, now: i64) -> i64 {
    parse_time(s).map_or(now, |t| t.unix_timestamp())
}

/// A feed row as a seen comment, if it is a comment action.
pub fn from_activity(a: &Activity, now: i64) -> Option<SeenComment> {
    let pr = match a.op_type.as_str() {
        "comment_pull" => true,
        "comment_issue" => false,
        _ => return None,
    };
    if a.comment_id == 0 {
        return None;
    }
    let (index, text) = a.content.split_once('|')?;
    let index: u64 = index.parse().ok()?;
    // Gitea cuts the body at 200 bytes (on a char boundary, so maybe a little
    // less) and, when a space is within the last 15 bytes, cuts back to it
    // and appends "…" (docs/gitea.md, "The activity feed truncates comments").
    let body = if text.len() + 4 >= FEED_CONTENT_LIMIT || text.ends_with('…') {
        Body::Truncated(text.to_owned())
    } else {
        Body::Full(text.to_owned())
    };
    Some(SeenComment {
        id: a.comment_id,
        repo: a.repo.as_ref()?.full_name.clone(),
        pr: pr.then_some(index),
        user: a.act_user.as_ref().map(|u| u.login.clone())?,
        body,
        created_at: secs(&a.created, now),
        // The feed records creations only: its text is the body as created.
        edited: false,
        proven: true,
        source: Source::Feed,
    })
}

/// A comment fetched from the API as a seen comment.
pub fn from_comment(repo: &str, c: &Comment, source: Source, now: i64) -> SeenComment {
    let created = secs(&c.created_at, now);
    let updated = secs(&c.updated_at, created);
    SeenComment {
        id: c.id,
        repo: repo.to_owned(),
        pr: c.pr_number(),
        user: c.login().to_owned(),
        body: Body::Full(c.body.clone()),
        created_at: created,
        edited: updated > created,
        // The current body: an edit within the second of the creation
        // leaves both timestamps equal (docs/gitea.md, "Edited comments").
        proven: false,
        source,
    }
}

/// A comment fetched in full because its feed row was cut short. The row
/// holds the start of the body as created (docs/gitea.md, "Edited
/// comments"):
/// - a body that no longer starts with it was edited, even within the
///   second, and does not fire;
/// - a command on a line the row holds whole was in the body as created,
///   and is judged from the row's text whatever happened since;
/// - otherwise a body edited after its creation second does not fire, and
///   one whose timestamps are equal is judged as the body as created: its
///   start is proven, and Gitea keeps nothing that could tell more.
pub fn refetched(seen: &SeenComment, c: &Comment, trigger: &str, now: i64) -> SeenComment {
    let mut full = from_comment(&seen.repo, c, seen.source, now);
    let (Source::Feed, Body::Truncated(start)) = (&seen.source, &seen.body) else {
        return full;
    };
    let start = start
        .strip_suffix('…')
        .unwrap_or(start)
        .replace("\r\n", "\n");
    if !c.body.replace("\r\n", "\n").starts_with(&start) {
        full.edited = true;
        return full;
    }
    // The row's last line may be cut: only the lines before it are whole.
    let whole = start.rfind('\n').map_or("", |i| &start[..i]);
    if crate::bridge::grammar::asks_for_run(whole, trigger) {
        full.body = Body::Full(whole.to_owned());
        full.edited = false;
    }
    full.proven = !full.edited;
    full
}

/// One page of the org feed against the cursor: the rows newer than it, and
/// whether the next page must be read too. Without a cursor (first start)
/// one page is the look-back; the sweep covers anything older.
pub fn feed_page(batch: Vec<Activity>, cursor: Option<i64>, limit: u32) -> (Vec<Activity>, bool) {
    let n = batch.len();
    let fresh: Vec<_> = batch
        .into_iter()
        .filter(|a| cursor.is_none_or(|c| a.id > c))
        .collect();
    let reached_cursor = fresh.len() < n;
    let more = cursor.is_some() && !reached_cursor && n >= limit as usize;
    (fresh, more)
}

/// Where a sweep starts (unix seconds): a little before the last complete
/// sweep (second precision, clock skew), or the comment age limit back.
pub fn sweep_start(last: Option<i64>, now: i64, overlap_secs: i64, max_age_secs: i64) -> i64 {
    match last {
        Some(s) => s - overlap_secs,
        None => now - max_age_secs,
    }
}

/// Whether a repository has comments past this sweep page.
pub fn sweep_more(page: u32, got: usize, total: Option<u64>, limit: u32) -> bool {
    let read = u64::from(page) * u64::from(limit);
    got >= limit as usize && total.is_none_or(|t| read < t)
}

#[derive(Deserialize)]
struct HookRepo {
    full_name: String,
}

#[derive(Deserialize)]
struct HookIssue {
    number: u64,
    #[serde(default)]
    pull_request: Option<serde_json::Value>,
}

/// `IssueCommentPayload` (docs/gitea.md, "Webhook"): the fields the bridge reads.
#[derive(Deserialize)]
struct IssueCommentPayload {
    action: String,
    issue: HookIssue,
    comment: Comment,
    repository: HookRepo,
    #[serde(default)]
    is_pull: bool,
}

/// Why a webhook body was not used.
#[derive(Debug, thiserror::Error)]
pub enum HookError {
    #[error("not an issue_comment payload: {0}")]
    Payload(String),
}

/// A webhook `issue_comment` delivery as a seen comment: `created` carries
/// the body as created; `edited` says the comment was edited (then it never
/// fires, even when the edit fell within its creation second and the
/// timestamps cannot show it); `None` for other actions (deletions).
pub fn from_webhook(body: &[u8], now: i64) -> Result<Option<SeenComment>, HookError> {
    let p: IssueCommentPayload =
        serde_json::from_slice(body).map_err(|e| HookError::Payload(e.to_string()))?;
    let edited = match p.action.as_str() {
        "created" => false,
        "edited" => true,
        _ => return Ok(None),
    };
    let is_pr = p.is_pull
        || p.issue.pull_request.as_ref().is_some_and(|v| !v.is_null())
        || !p.comment.pull_request_url.is_empty();
    let mut seen = from_comment(&p.repository.full_name, &p.comment, Source::Webhook, now);
    seen.pr = is_pr.then_some(p.issue.number);
    // A delivery of a creation is a creation, whatever the timestamps say.
    seen.edited = edited;
    seen.proven = !edited;
    // Cross-check: a comment URL naming another PR would be a forged payload.
    if let Some(n) = trailing_number(&p.comment.pull_request_url)
        && Some(n) != seen.pr
    {
        return Err(HookError::Payload(
            "comment and issue numbers disagree".into(),
        ));
    }
    Ok(Some(seen))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forge::gitea::{RepoRef, User};

    fn activity(content: &str) -> Activity {
        Activity {
            id: 98231,
            op_type: "comment_pull".into(),
            act_user: Some(User {
                id: 7,
                login: "alice".into(),
            }),
            repo: Some(RepoRef {
                id: 12,
                full_name: "acme/widget".into(),
            }),
            comment_id: 4711,
            content: content.into(),
            created: "2025-06-01T10:00:07Z".into(),
        }
    }

    #[test]
    fn a_comment_pull_row_becomes_a_pr_comment() {
        let s = from_activity(&activity("42|!testme"), 0).expect("a comment");
        assert_eq!(s.pr, Some(42));
        assert_eq!(s.id, 4711);
        assert_eq!(s.body, Body::Full("!testme".into()));
        assert_eq!(s.created_at, 1_748_772_007);
    }

    #[test]
    fn a_long_feed_body_is_marked_truncated() {
        let long = format!("42|{}", "x".repeat(199));
        assert!(matches!(
            from_activity(&activity(&long), 0).expect("a comment").body,
            Body::Truncated(_)
        ));
    }

    #[test]
    fn a_row_gitea_cut_back_to_a_word_is_marked_truncated() {
        // Cut at 200 bytes, then back to the last space, plus "…".
        let row = format!("42|{} …", "word ".repeat(37));
        assert!(row.len() < 200);
        assert!(matches!(
            from_activity(&activity(&row), 0).expect("a comment").body,
            Body::Truncated(_)
        ));
    }

    fn full(body: &str) -> Comment {
        Comment {
            id: 4711,
            body: body.into(),
            user: Some(User {
                id: 7,
                login: "alice".into(),
            }),
            created_at: "2025-06-01T10:00:07Z".into(),
            updated_at: "2025-06-01T10:00:07Z".into(),
            pull_request_url: "https://git.example.org/acme/widget/pulls/42".into(),
            issue_url: String::new(),
            html_url: String::new(),
        }
    }

    #[test]
    fn a_refetched_feed_comment_whose_start_changed_was_edited_within_its_second() {
        let start = format!("{}…", "review ".repeat(27));
        let seen = from_activity(&activity(&format!("42|{start}")), 0).expect("a comment");
        let as_created = format!("{}and more\n!testme", "review ".repeat(28));
        let kept = refetched(&seen, &full(&as_created), "!testme", 0);
        assert!(!kept.edited && kept.proven);
        let rewritten = format!("!testme\n{}", "review ".repeat(40));
        assert!(refetched(&seen, &full(&rewritten), "!testme", 0).edited);
    }

    #[test]
    fn a_command_the_feed_row_holds_whole_is_judged_from_the_row() {
        let row = format!("!testme\n{}…", "review ".repeat(27));
        let seen = from_activity(&activity(&format!("42|{row}")), 0).expect("a comment");
        // Edited later (another second): the command was there as created.
        let mut later = full(&format!("!testme\n{}and more", "review ".repeat(28)));
        later.updated_at = "2025-06-01T10:05:00Z".into();
        let got = refetched(&seen, &later, "!testme", 0);
        assert!(got.proven && !got.edited);
        assert_eq!(got.body, Body::Full("!testme".into()));
    }

    #[test]
    fn a_long_comment_edited_in_a_later_second_does_not_fire() {
        let row = format!("{}…", "review ".repeat(27));
        let seen = from_activity(&activity(&format!("42|{row}")), 0).expect("a comment");
        let mut later = full(&format!("{}and more\n!testme", "review ".repeat(28)));
        later.updated_at = "2025-06-01T10:05:00Z".into();
        assert!(refetched(&seen, &later, "!testme", 0).edited);
    }

    #[test]
    fn a_swept_body_is_never_proven() {
        let s = from_comment("acme/widget", &full("!testme"), Source::Sweep, 0);
        assert!(!s.proven && !s.edited);
    }

    #[test]
    fn the_feed_is_read_back_to_the_cursor_only() {
        let page = |ids: &[i64]| -> Vec<Activity> {
            ids.iter()
                .map(|id| Activity {
                    id: *id,
                    ..activity("1|x")
                })
                .collect()
        };
        let (fresh, more) = feed_page(page(&[12, 11, 10]), Some(10), 3);
        assert_eq!(fresh.len(), 2);
        assert!(!more, "the cursor was reached");
        let (fresh, more) = feed_page(page(&[13, 12, 11]), Some(10), 3);
        assert_eq!(fresh.len(), 3);
        assert!(more, "a full page above the cursor");
        let (_, more) = feed_page(page(&[13, 12, 11]), None, 3);
        assert!(!more, "first start: one page");
    }

    #[test]
    fn a_sweep_overlaps_the_last_one_and_pages_by_total() {
        assert_eq!(sweep_start(Some(1000), 5000, 60, 86_400), 940);
        assert_eq!(sweep_start(None, 100_000, 60, 86_400), 13_600);
        assert!(sweep_more(1, 50, Some(120), 50));
        assert!(!sweep_more(3, 50, Some(120), 50));
        assert!(!sweep_more(1, 20, None, 50));
    }

    #[test]
    fn other_feed_rows_are_not_comments() {
        let mut a = activity("");
        a.op_type = "commit_repo".into();
        assert_eq!(from_activity(&a, 0), None);
    }

    #[test]
    fn a_created_delivery_is_the_text_as_created_and_a_deletion_nothing() {
        let mut body = serde_json::json!({
            "action": "created",
            "issue": {"number": 42, "pull_request": {}},
            "comment": {"id": 1, "body": "!testme", "user": {"login": "alice"},
                        "created_at": "2025-06-01T10:00:07Z", "updated_at": "2025-06-01T10:00:09Z"},
            "repository": {"full_name": "acme/widget"},
            "is_pull": true
        });
        let seen = from_webhook(body.to_string().as_bytes(), 0)
            .expect("parses")
            .expect("a comment");
        assert!(seen.proven && !seen.edited);
        body["action"] = "deleted".into();
        assert!(
            from_webhook(body.to_string().as_bytes(), 0)
                .expect("parses")
                .is_none()
        );
    }

    #[test]
    fn an_edited_delivery_is_an_edit_whatever_its_timestamps() {
        let body = serde_json::json!({
            "action": "edited",
            "issue": {"number": 42, "pull_request": {}},
            "comment": {"id": 1, "body": "!testme", "user": {"login": "alice"},
                        "created_at": "2025-06-01T10:00:07Z", "updated_at": "2025-06-01T10:00:07Z"},
            "repository": {"full_name": "acme/widget"},
            "is_pull": true
        });
        let seen = from_webhook(body.to_string().as_bytes(), 0)
            .expect("parses")
            .expect("an edit");
        assert!(seen.edited && !seen.proven);
    }
}
