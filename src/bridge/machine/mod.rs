//! The bridge's state machine: every stage of a comment job (received,
//! replying, triggering, acknowledging) and of a followed build (following,
//! superseded, reported) as one pure function
//!
//! ```text
//! step(work, event, ctx) -> (work, effects)
//! ```
//!
//! Events are the outcomes of effects (an API answer, a classified error) or a
//! wake-up; effects say what to do (call an API, save the ledger, record an
//! outcome). Time comes in as data ([`Ctx::now_ms`]); nothing here reads a
//! clock, a file or the network, so every rule, and every crash window, is
//! unit-tested (`tests.rs`). The executor (`exec/`) only performs effects and
//! feeds their outcomes back.
//!
//! Exactly once: a call that is not idempotent (creating a build, posting a
//! comment, the reaction that marks a comment handled) is always immediately
//! preceded, in the same step, by a [`Effect::Save`] of the job carrying its
//! "may have happened" flag (`sent`, `posting`, `reacted`); if that save
//! fails the executor does not make the call ([`Event::NotSaved`]). A job woken with such a flag set first asks for
//! evidence of the call (a Drone build with the same parameters, its own
//! comment by hidden marker) and repeats the call only if there is none.

mod follow;
mod job;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use crate::bridge::core::{Ask, Facts, Rules};
use crate::bridge::ledger::{BuildParams, Follow, Handled, Job, Ledger, Outcome};
use crate::bridge::report::FinalReport;
use crate::forge::ErrorClass;
use crate::forge::gitea::{Membership, NewStatus, StatusState};
use crate::registry::values::{RecipeName, RepoSlug};
use crate::results::ResultsV1;

pub use follow::FollowWork;
pub use job::JobWork;

/// What a step may look at besides the work itself: settings, the ledger as
/// it stands (read only), and the time.
#[derive(Debug, Clone, Copy)]
pub struct Ctx<'a> {
    pub rules: &'a Rules,
    pub ledger: &'a Ledger,
    /// Wall-clock time, unix milliseconds.
    pub now_ms: i64,
    pub drone_url: &'a str,
    pub ci_repo: &'a RepoSlug,
    pub retry: Retry,
}

impl Ctx<'_> {
    pub fn now_secs(&self) -> i64 {
        self.now_ms.div_euclid(1000)
    }
}

/// Retry delays, milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// First delay after a transient error; doubles per attempt up to `cap_ms`.
    pub base_ms: u64,
    pub cap_ms: u64,
    /// After a configuration or authorisation error: the cap of a backoff
    /// that starts at `base_ms` (a token fixed or a short 401 over is noticed
    /// within this).
    pub fatal_ms: u64,
    /// How long after sending a non-idempotent call its server may still be
    /// acting on it (the client timeout, and then some). Evidence of the call
    /// is only conclusive after this.
    pub settle_ms: u64,
}

/// A unit of work the machine moves: a comment job or a followed build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Work {
    Job(JobWork),
    Follow(FollowWork),
}

/// What happened.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// Time to work on it: a timer tick, a restart, a new comment.
    Wake,
    /// The answer to the call the work is waiting for.
    Answer(Answer),
    /// The call failed.
    Failed(Failure),
    /// The save before the call failed, so the call was not made: without
    /// its "may have happened" mark on disk it must not be.
    NotSaved(String),
}

/// A failed call, classified at the forge boundary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub class: ErrorClass,
    pub message: String,
    /// No HTTP answer came (timeout, broken connection): the server may have
    /// received the call and may still be acting on it. An answered error
    /// means the server is done with the call.
    pub lost: bool,
    /// The server refused the credentials (401, 403).
    pub auth: bool,
}

impl Failure {
    pub fn new(class: ErrorClass, message: impl Into<String>) -> Self {
        Self {
            class,
            message: message.into(),
            lost: false,
            auth: false,
        }
    }

    /// A call whose answer never came.
    pub fn lost(class: ErrorClass, message: impl Into<String>) -> Self {
        Self {
            lost: true,
            ..Self::new(class, message)
        }
    }
}

/// A comment as evidence: who wrote it, what it says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenPost {
    pub id: u64,
    pub login: String,
    pub body: String,
}

/// A successful call's answer, as plain data.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// (login, content) of every reaction on the comment.
    Reactions(Vec<(String, String)>),
    Membership(Membership),
    Pull {
        state: String,
        merged: bool,
        head_sha: String,
        head_repo: Option<String>,
    },
    /// (id, kind, server time in unix seconds if it parsed) of each timeline
    /// event; the id is 0 when Gitea gave none.
    Timeline(Vec<(u64, String, Option<i64>)>),
    /// Comments on the PR since the asked time.
    Comments(Vec<SeenPost>),
    /// (number, params) of the CI repository's recent builds.
    Builds(Vec<(u64, BTreeMap<String, String>)>),
    /// A build was created (`None`: Drone answered `200 null`).
    Created(Option<u64>),
    /// A comment was posted with this id.
    Posted(u64),
    /// A build's status.
    Build {
        status: String,
        finished: bool,
    },
    /// A finished build's results (or why there are none).
    Results {
        results: Result<Box<ResultsV1>, String>,
    },
    /// (name, download URL) of each attachment of a comment.
    Assets(Vec<(String, String)>),
    /// A file was attached; a browser fetches it here.
    Uploaded {
        url: String,
    },
    /// The call succeeded and has nothing to say.
    Done,
}

/// A call to make; its outcome is the next event of the work that asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    Reactions {
        repo: RepoSlug,
        comment: u64,
    },
    Membership {
        org: String,
        user: String,
    },
    Pull {
        repo: RepoSlug,
        pr: u64,
    },
    /// Timeline events since `since` (unix seconds).
    Timeline {
        repo: RepoSlug,
        pr: u64,
        since: i64,
    },
    /// Comments on the PR since `since` (unix seconds).
    Comments {
        repo: RepoSlug,
        pr: u64,
        since: i64,
    },
    React {
        repo: RepoSlug,
        comment: u64,
        content: &'static str,
    },
    Post {
        repo: RepoSlug,
        pr: u64,
        body: String,
    },
    Edit {
        repo: RepoSlug,
        comment: u64,
        body: String,
    },
    SetStatus {
        repo: RepoSlug,
        sha: String,
        status: NewStatus,
    },
    /// One page ([`EVIDENCE_PAGE`] builds, newest first) of the CI
    /// repository's builds.
    RecentBuilds {
        page: u32,
    },
    /// Create a build of the CI repository with exactly this query.
    CreateBuild {
        query: BTreeMap<String, String>,
    },
    CancelBuild {
        number: u64,
    },
    Build {
        number: u64,
    },
    /// Read the run's artifacts of a build.
    ReadResults {
        number: u64,
    },
    /// The attachments of a comment.
    CommentAssets {
        repo: RepoSlug,
        comment: u64,
    },
    /// Attach a screenshot of a build's run (a file of its output
    /// directory, named by the naming rules) to a comment, under its name.
    UploadAsset {
        repo: RepoSlug,
        comment: u64,
        build: u64,
        file: String,
    },
}

/// Something to do. A step returns them in order; a [`Effect::Call`] is
/// always last, and every ledger change is followed by a [`Effect::Save`].
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Write the ledger (with the work as it now stands) to disk.
    Save,
    /// The comment is handled: drop its job, remember the outcome.
    Finish { comment: u64, handled: Handled },
    /// Start following a build.
    Follow(Follow),
    /// Stop following a build.
    Unfollow(u64),
    /// The refusal reply for this `repo#pr@user` key went out.
    RememberRefusal(String),
    /// Something worth a log line or a metric.
    Tell(Note),
    /// Make a call and feed its outcome back.
    Call(Call),
}

/// What the executor logs or counts.
#[derive(Debug, Clone, PartialEq)]
pub enum Note {
    Handled {
        comment: u64,
        outcome: Outcome,
    },
    Refused,
    BuildCreated {
        comment: u64,
        build: u64,
        adopted: bool,
        /// From when the command was heard (local clock) to now.
        latency_ms: u64,
    },
    NoPipeline {
        comment: u64,
    },
    DroneGaveUp {
        comment: u64,
        attempts: u32,
        message: String,
    },
    Skipped {
        comment: u64,
        message: String,
    },
    Retrying {
        comment: u64,
        class: ErrorClass,
        attempts: u32,
        delay_ms: u64,
        message: String,
    },
    /// A call whose answer was lost may still be acted on: the job sleeps
    /// this long before looking for its evidence.
    Settling {
        comment: u64,
        wait_ms: u64,
    },
    Superseded {
        build: u64,
    },
    ReportCommentGone {
        build: u64,
        message: String,
    },
    NoResults {
        build: u64,
        message: String,
    },
    Reported {
        build: u64,
        status: String,
        report: FinalReport,
    },
    FollowFailed {
        build: u64,
        message: String,
    },
    /// A screenshot (`*`: all of them) is not shown on the report.
    ScreenshotLeftOut {
        build: u64,
        file: String,
        message: String,
    },
}

/// One step: the work after the event, and what to do.
pub fn step(work: Work, event: Event, ctx: &Ctx<'_>) -> (Work, Vec<Effect>) {
    match work {
        Work::Job(j) => {
            let (j, effects) = job::step(j, event, ctx);
            (Work::Job(j), effects)
        }
        Work::Follow(f) => {
            let (f, effects) = follow::step(f, event, ctx);
            (Work::Follow(f), effects)
        }
    }
}

/// Every comment job the ledger holds, newest comment first (the order
/// they are worked in; one not yet due does nothing when woken). Newest
/// first, so that of two commands on one PR taken in together the newer
/// makes the build and the older, finding it, makes none.
pub fn jobs(ledger: &Ledger) -> Vec<Work> {
    ledger
        .jobs
        .values()
        .rev()
        .map(|j| Work::Job(JobWork::new(j.clone())))
        .collect()
}

/// Every followed build, oldest first.
pub fn follows(ledger: &Ledger) -> Vec<Work> {
    ledger
        .following
        .values()
        .map(|f| Work::Follow(FollowWork::new(f.clone())))
        .collect()
}

/// The facts the core asks for, as calls.
fn ask_call(ask: Ask, job: &Job, rules: &Rules) -> Call {
    let c = &job.comment;
    match ask {
        Ask::Reactions => Call::Reactions {
            repo: c.repo.clone(),
            comment: c.id,
        },
        Ask::Membership => Call::Membership {
            org: rules.org.clone(),
            user: c.user.clone(),
        },
        Ask::Pull => Call::Pull {
            repo: c.repo.clone(),
            pr: c.pr,
        },
        Ask::Timeline => Call::Timeline {
            repo: c.repo.clone(),
            pr: c.pr,
            since: c.created_at,
        },
    }
}

/// A commit status call in the recipe's context (descriptions are cut to
/// what Gitea keeps).
fn status_call(
    repo: &RepoSlug,
    params: &BuildParams,
    state: StatusState,
    description: &str,
    target_url: &str,
) -> Call {
    Call::SetStatus {
        repo: repo.clone(),
        sha: params.git_ref.clone(),
        status: NewStatus {
            state,
            target_url: target_url.to_owned(),
            description: description.chars().take(140).collect(),
            context: crate::names::host::status_context(&params.recipe),
        },
    }
}

/// Build numbers the ledger already accounts for (never adopted twice).
pub fn known_builds(ledger: &Ledger) -> Vec<u64> {
    use crate::bridge::ledger::Stage;
    let mut known: Vec<u64> = ledger.following.keys().copied().collect();
    known.extend(ledger.handled.values().filter_map(|h| match h.outcome {
        Outcome::Triggered { build } => Some(build),
        _ => None,
    }));
    known.extend(ledger.jobs.values().filter_map(|j| match &j.stage {
        Stage::Acking { build, .. } => Some(build.number),
        _ => None,
    }));
    known
}

/// Builds per page of the evidence search (Drone's largest page).
pub const EVIDENCE_PAGE: u32 = 100;
/// How far back the evidence search pages: builds other jobs, crons and
/// people made since the create was sent push it off the first page.
pub const EVIDENCE_PAGES: u32 = 10;

/// The build parameter that names the comment job a build was made for:
/// evidence of a create call whose answer was lost is found by it
/// (docs/drone.md, "A lost answer is not a failed call").
pub const JOB_PARAM: &str = "CCCI_JOB";

/// The query of the create-build call (and what an earlier one left on a
/// build): the validated parameters plus, for a job, its comment id.
pub fn build_query(p: &BuildParams, job: Option<u64>) -> BTreeMap<String, String> {
    let mut q: BTreeMap<String, String> = crate::bridge::core::drone_params(p)
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    if let Some(id) = job {
        q.insert(JOB_PARAM.to_owned(), id.to_string());
    }
    q
}

/// The validated parameters a build was made with (the inverse of
/// [`build_query`]), if they are a job's for `recipe`.
pub fn params_of(query: &BTreeMap<String, String>, recipe: &RecipeName) -> Option<BuildParams> {
    let p = BuildParams {
        recipe: query.get("RECIPE")?.parse().ok()?,
        git_ref: query.get("REF")?.clone(),
        src: query.get("SRC")?.parse().ok()?,
        pr: query.get("PR")?.parse().ok()?,
    };
    let valid = &p.recipe == recipe && crate::registry::values::is_commit_id(&p.git_ref);
    valid.then_some(p)
}

/// Whether a push timeline entry may have come after the comment
/// (docs/gitea.md, "Ordering a push and a comment"). Entries and comments
/// are rows of one table, so ids order them exactly, even within a second;
/// without an id, only a strictly earlier second proves "before", and a
/// push in the comment's own second counts as after: when in doubt, ask.
fn not_before(id: u64, at: Option<i64>, c: &crate::bridge::ledger::CommentRef) -> bool {
    if id != 0 {
        return id > c.id;
    }
    at.is_none_or(|t| t >= c.created_at)
}

/// Learn a fact from the answer to the core's question; false if the answer
/// does not fit the question.
fn learn(facts: &mut Facts, ask: Ask, answer: &Answer, job: &Job, rules: &Rules) -> bool {
    use crate::bridge::core::{Authz, PrFacts};
    use crate::bridge::report;
    match (ask, answer) {
        (Ask::Reactions, Answer::Reactions(rs)) => {
            facts.bot_reacted = Some(rs.iter().any(|(login, content)| {
                content == report::REACTION && login.eq_ignore_ascii_case(&rules.bot_user)
            }));
        }
        (Ask::Membership, Answer::Membership(m)) => {
            facts.authz = Some(match m {
                Membership::Member => Authz::Member,
                Membership::NotMember => Authz::NotMember,
            });
        }
        (
            Ask::Pull,
            Answer::Pull {
                state,
                merged,
                head_sha,
                head_repo,
            },
        ) => {
            facts.pr = Some(if state == "open" && !merged {
                PrFacts::Open {
                    head_sha: head_sha.clone(),
                    head_repo: head_repo.clone(),
                }
            } else {
                PrFacts::Closed
            });
        }
        (Ask::Timeline, Answer::Timeline(events)) => {
            facts.pushed_after = Some(events.iter().any(|(id, kind, at)| {
                kind == crate::forge::gitea::TIMELINE_PUSH && not_before(*id, *at, &job.comment)
            }));
        }
        _ => return false,
    }
    true
}
