//! The first rule for a seen comment, whatever its source: is it a new
//! request for a run? Pure, like the rest of the core; an accepted comment
//! becomes a job in `Received`.

use crate::bridge::core::Rules;
use crate::bridge::grammar;
use crate::bridge::ledger::{CommentRef, Job, Ledger, Request, Stage};

/// Which source saw a comment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Source {
    Feed,
    Sweep,
    Webhook,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Feed => "feed",
            Source::Sweep => "sweep",
            Source::Webhook => "webhook",
        }
    }
}

/// A comment's text as the source gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    Full(String),
    /// A prefix only (the feed keeps 200 bytes): fetch the comment to decide.
    Truncated(String),
}

/// A comment as any source reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenComment {
    pub id: u64,
    pub repo: String,
    /// `None` for issue (not PR) comments.
    pub pr: Option<u64>,
    pub user: String,
    pub body: Body,
    /// Server time, unix seconds.
    pub created_at: i64,
    /// The body was edited after creation (only newly created comments fire).
    pub edited: bool,
    /// The text is known to be the comment as it was created (a feed row, a
    /// webhook `created` delivery, or a body whose feed row proved its
    /// start); otherwise only its current body was seen, and an edit within
    /// the second of its creation cannot be ruled out (docs/gitea.md,
    /// "Edited comments").
    pub proven: bool,
    pub source: Source,
}

/// Why a comment does not fire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ignored {
    AlreadyKnown,
    NotAPullRequest,
    NotEnrolled,
    BotsOwn,
    Edited,
    TooOld,
    NoCommand,
    /// Only the current body was seen, and the comment is so recent that the
    /// feed or the webhook may still show it as created: judged at a later
    /// sweep, which re-reads it.
    TooRecent,
}

/// The first verdict on a seen comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Screen {
    Ignore(Ignored),
    /// The text was cut short and might hold the command: fetch the comment.
    FetchFull,
    Accept(Box<Job>),
}

/// Decide whether a seen comment is a new request for a run.
pub fn screen(seen: &SeenComment, rules: &Rules, ledger: &Ledger, now_secs: i64) -> Screen {
    if ledger.knows(seen.id) || (!seen.proven && ledger.settled.contains_key(&seen.id)) {
        return Screen::Ignore(Ignored::AlreadyKnown);
    }
    let Some(pr) = seen.pr else {
        return Screen::Ignore(Ignored::NotAPullRequest);
    };
    let Some((repo, recipe)) = rules
        .repos
        .iter()
        .find(|(slug, _)| slug.as_str().eq_ignore_ascii_case(&seen.repo))
    else {
        return Screen::Ignore(Ignored::NotEnrolled);
    };
    if seen.user.eq_ignore_ascii_case(&rules.bot_user) {
        return Screen::Ignore(Ignored::BotsOwn);
    }
    if seen.edited {
        return Screen::Ignore(Ignored::Edited);
    }
    if now_secs - seen.created_at > rules.max_comment_age_secs {
        return Screen::Ignore(Ignored::TooOld);
    }
    let command = match &seen.body {
        // The command may be on any line past the cut: read the whole body.
        Body::Truncated(_) => return Screen::FetchFull,
        Body::Full(text) => match grammar::command(text, &rules.trigger) {
            None => return Screen::Ignore(Ignored::NoCommand),
            Some(c) => c,
        },
    };
    if !seen.proven && now_secs - seen.created_at < rules.unproven_grace_secs {
        return Screen::Ignore(Ignored::TooRecent);
    }
    Screen::Accept(Box::new(Job {
        comment: CommentRef {
            id: seen.id,
            repo: repo.clone(),
            pr,
            user: seen.user.clone(),
            created_at: seen.created_at,
        },
        recipe: recipe.clone(),
        request: Request {
            sha: command.sha,
            unverified: !seen.proven,
            received_ms: 0,
        },
        stage: Stage::Received,
        reacted: false,
        attempts: 0,
        not_before_ms: 0,
        sent_at_ms: 0,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bridge::fixtures::{rules, seen};
    use crate::bridge::ledger::{Handled, Outcome};

    #[test]
    fn the_bots_own_comment_is_ignored() {
        let mut s = seen("!testme");
        s.user = "CCCI-bot".into();
        assert_eq!(
            screen(&s, &rules(), &Ledger::default(), 1001),
            Screen::Ignore(Ignored::BotsOwn)
        );
    }

    #[test]
    fn an_issue_comment_is_ignored() {
        let mut s = seen("!testme");
        s.pr = None;
        assert_eq!(
            screen(&s, &rules(), &Ledger::default(), 1001),
            Screen::Ignore(Ignored::NotAPullRequest)
        );
    }

    #[test]
    fn an_unenrolled_repo_is_ignored() {
        let mut s = seen("!testme");
        s.repo = "acme/other".into();
        assert_eq!(
            screen(&s, &rules(), &Ledger::default(), 1001),
            Screen::Ignore(Ignored::NotEnrolled)
        );
    }

    #[test]
    fn an_edited_comment_is_ignored() {
        let mut s = seen("!testme");
        s.edited = true;
        assert_eq!(
            screen(&s, &rules(), &Ledger::default(), 1001),
            Screen::Ignore(Ignored::Edited)
        );
    }

    #[test]
    fn a_comment_older_than_the_window_is_ignored() {
        assert_eq!(
            screen(
                &seen("!testme"),
                &rules(),
                &Ledger::default(),
                1000 + 86_401
            ),
            Screen::Ignore(Ignored::TooOld)
        );
    }

    #[test]
    fn a_handled_comment_is_not_screened_again() {
        let mut l = Ledger::default();
        l.handled.insert(
            4711,
            Handled {
                at: 1,
                outcome: Outcome::Refused,
            },
        );
        assert_eq!(
            screen(&seen("!testme"), &rules(), &l, 1001),
            Screen::Ignore(Ignored::AlreadyKnown)
        );
    }

    #[test]
    fn a_command_naming_a_commit_carries_it_into_the_job() {
        let Screen::Accept(j) =
            screen(&seen("!testme ABCDEF0"), &rules(), &Ledger::default(), 1001)
        else {
            panic!("accepted")
        };
        assert_eq!(j.request.sha.as_deref(), Some("abcdef0"));
        assert!(!j.request.unverified);
    }

    #[test]
    fn a_current_body_alone_is_accepted_as_unverified_once_past_the_grace() {
        let mut s = seen("!testme");
        s.proven = false;
        s.source = Source::Sweep;
        let r = rules();
        assert_eq!(
            screen(&s, &r, &Ledger::default(), 1000 + r.unproven_grace_secs - 1),
            Screen::Ignore(Ignored::TooRecent)
        );
        let Screen::Accept(j) = screen(&s, &r, &Ledger::default(), 1000 + r.unproven_grace_secs)
        else {
            panic!("accepted")
        };
        assert!(j.request.unverified);
    }

    #[test]
    fn a_settled_comment_is_judged_again_only_from_its_text_as_created() {
        let mut l = Ledger::default();
        l.settle(4711, 1000);
        let mut current = seen("!testme");
        current.proven = false;
        assert_eq!(
            screen(&current, &rules(), &l, 2000),
            Screen::Ignore(Ignored::AlreadyKnown)
        );
        assert!(matches!(
            screen(&seen("!testme"), &rules(), &l, 1001),
            Screen::Accept(_)
        ));
    }

    #[test]
    fn a_truncated_body_not_mentioning_the_word_is_fetched_too() {
        let mut s = seen("");
        s.body = Body::Truncated("a long review, line after line …".into());
        assert_eq!(
            screen(&s, &rules(), &Ledger::default(), 1001),
            Screen::FetchFull
        );
    }

    #[test]
    fn a_truncated_body_mentioning_the_word_is_fetched() {
        let mut s = seen("");
        s.body = Body::Truncated("long text … !testme".into());
        assert_eq!(
            screen(&s, &rules(), &Ledger::default(), 1001),
            Screen::FetchFull
        );
    }
}
