//! The first rule for a seen comment, whatever its source: is it a new
//! request for a run? Pure, like the rest of the core; an accepted comment
//! becomes a job in `Received`.

use crate::bridge::core::Rules;
use crate::bridge::grammar;
use crate::bridge::ledger::{CommentRef, Job, Ledger, Stage};

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
    if ledger.knows(seen.id) {
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
    match &seen.body {
        // The command may be on any line past the cut: read the whole body.
        Body::Truncated(_) => return Screen::FetchFull,
        Body::Full(text) if !grammar::asks_for_run(text, &rules.trigger) => {
            return Screen::Ignore(Ignored::NoCommand);
        }
        Body::Full(_) => {}
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
