//! The bridge's durable memory in the state directory: handled comment ids,
//! the feed and sweep cursors, comments being worked on (with the step they
//! reached) and builds being followed. Written atomically (temp file, fsync,
//! rename, fsync of the directory) so a kill at any instant leaves either the
//! old or the new ledger, never a torn one. The old bridge kept this in memory
//! and lost every comment posted while it was down.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::registry::values::{RecipeName, RepoSlug};

/// The ledger format version.
pub const LEDGER_SCHEMA: u32 = 1;

/// The file name inside the state directory.
pub const LEDGER_FILE: &str = "ledger.json";

/// The comment that asked for a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommentRef {
    pub id: u64,
    pub repo: RepoSlug,
    pub pr: u64,
    pub user: String,
    /// Server time the comment was created (unix seconds).
    pub created_at: i64,
}

/// The only parameters a Drone build ever gets, each validated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildParams {
    pub recipe: RecipeName,
    /// The PR head commit, 40 lowercase hex.
    pub git_ref: String,
    /// The repository holding the head (a fork for fork PRs).
    pub src: RepoSlug,
    pub pr: u64,
}

/// A Drone build of the CI repository.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildRef {
    pub number: u64,
    pub link: String,
}

/// How far a comment got. Each step before a non-idempotent call (creating a
/// build, posting a comment) is saved first, so a restart knows to look for
/// evidence of the call instead of repeating it blindly. These flags (with
/// [`Job::reacted`]) are the "may have happened" state the machine
/// (`machine/job`) sets before a call and reads when it wakes a job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum Stage {
    /// Accepted by the grammar; reaction, authorisation and PR checks pending.
    Received,
    /// Posting a short reply, then finishing with `outcome`.
    Replying {
        text: String,
        outcome: Outcome,
        /// The POST may have happened: look for the reply before posting again.
        posting: bool,
    },
    /// Creating the build. `sent`: a create call may have reached Drone, so
    /// look for the build it made before creating one.
    Triggering {
        params: BuildParams,
        intent_at: i64,
        #[serde(default)]
        sent: bool,
    },
    /// The bot's reaction was on the comment, but the ledger knew nothing of
    /// it (a lost state directory): an earlier life took the command and
    /// may not have finished it. Its build (by job identity) or its reply
    /// (by marker) is looked for once the calls it may have left in flight
    /// settled; with neither, the command is decided afresh.
    Recovering,
    /// The build exists: pending status and the "started" comment remain.
    Acking {
        params: BuildParams,
        build: BuildRef,
        posting: bool,
        intent_at: i64,
    },
}

/// What the comment asked for, beyond "run".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// The commit prefix the command names (lowercase hex, 7 to 40 digits):
    /// the run is bound to that commit, which must be the PR head.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha: Option<String>,
    /// Only the comment's current body was seen, and Gitea's data cannot
    /// tell whether it is the body as created (docs/gitea.md, "Edited
    /// comments"): the command is answered with a request for a new one.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unverified: bool,
    /// When the bridge first heard the command (local clock, unix
    /// milliseconds; 0 when unknown): the trigger latency is measured from it.
    #[serde(default)]
    pub received_ms: i64,
}

/// A comment being worked on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    pub comment: CommentRef,
    pub recipe: RecipeName,
    #[serde(default)]
    pub request: Request,
    pub stage: Stage,
    /// The bot's reaction is on the comment (the remote marker).
    pub reacted: bool,
    /// Failed attempts of the current step.
    pub attempts: u32,
    /// Do not retry before this instant (unix milliseconds).
    pub not_before_ms: i64,
    /// When the last non-idempotent call (create, post) was sent, unix
    /// milliseconds; 0 once its server is known to be done with it. Until
    /// the settle time after it has passed, a missing answer proves nothing:
    /// the server may still be acting on the call.
    #[serde(default)]
    pub sent_at_ms: i64,
}

/// A build being followed to its end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Follow {
    pub build: BuildRef,
    pub params: BuildParams,
    pub comment: CommentRef,
    /// The "started" comment that becomes the report.
    pub report_comment: u64,
    /// When a screenshot upload to the report was last sent (unix ms; 0:
    /// none in flight). An upload whose answer was lost may still be stored
    /// by Gitea: the comment's attachments are looked at again only once it
    /// has settled, so that the same file is never attached twice.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub upload_sent_at_ms: i64,
}

fn is_zero(v: &i64) -> bool {
    *v == 0
}

/// What became of a comment that asked for a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Triggered {
        build: u64,
    },
    /// The bot's reaction was already there and its reply too: handled by a
    /// life whose ledger was lost.
    AlreadyMarked,
    Refused,
    PrClosed,
    PushedAfter,
    /// Drone answered `200 null`: no pipeline matched.
    NoPipeline,
    /// Drone could not be reached after every retry.
    DroneFailed,
    /// The PR, comment or SHA disappeared.
    Gone,
    /// The command named a commit that is not the PR head.
    NotHead,
    /// A newer command on the same PR started its build first: this one
    /// was answered as superseded, without a build.
    Coalesced,
    /// Whether the body seen was the comment as created could not be told:
    /// a new command was asked for.
    Unverifiable,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Handled {
    /// Unix seconds.
    pub at: i64,
    pub outcome: Outcome,
}

/// Everything the bridge remembers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ledger {
    pub schema: u32,
    /// The newest activity id already read from the org feed.
    pub feed_cursor: Option<i64>,
    /// Server time (unix seconds) the last complete sweep started at, from
    /// ledgers that kept one cursor for every repository: the start of any
    /// repository without its own cursor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sweep_since: Option<i64>,
    /// Per repository: server time (unix seconds) its last complete sweep
    /// started at. One repository failing does not hold back the others.
    #[serde(default)]
    pub sweep_cursors: BTreeMap<RepoSlug, i64>,
    /// Comments judged without a job (unix seconds of creation): judged
    /// from their text as created (a full feed row, a webhook delivery) or
    /// known edited. A later sight of only their current body (the sweep,
    /// after an edit within the second) must not judge them again; a sight
    /// of the text as created still may.
    #[serde(default)]
    pub settled: BTreeMap<u64, i64>,
    pub handled: BTreeMap<u64, Handled>,
    pub jobs: BTreeMap<u64, Job>,
    /// Build number → build being followed.
    pub following: BTreeMap<u64, Follow>,
    /// `repo#pr@user` keys that already got the refusal reply.
    pub refusals_replied: BTreeSet<String>,
    /// When each refusal reply went out (unix seconds), so that the set is
    /// pruned like the handled comments.
    #[serde(default)]
    pub refusals_at: BTreeMap<String, i64>,
}

impl Default for Ledger {
    fn default() -> Self {
        Self {
            schema: LEDGER_SCHEMA,
            feed_cursor: None,
            sweep_since: None,
            sweep_cursors: BTreeMap::new(),
            settled: BTreeMap::new(),
            handled: BTreeMap::new(),
            jobs: BTreeMap::new(),
            following: BTreeMap::new(),
            refusals_replied: BTreeSet::new(),
            refusals_at: BTreeMap::new(),
        }
    }
}

impl Ledger {
    /// Whether a comment is done or being worked on.
    pub fn knows(&self, comment: u64) -> bool {
        self.handled.contains_key(&comment) || self.jobs.contains_key(&comment)
    }

    /// A comment was judged for good without a job (see [`Ledger::settled`]).
    pub fn settle(&mut self, comment: u64, created_at: i64) {
        self.settled.insert(comment, created_at);
    }

    /// Forget handled comments older than `keep_after` (unix seconds): the
    /// grammar ignores comments that old anyway, and the reaction still marks them.
    pub fn prune(&mut self, keep_after: i64) {
        self.handled.retain(|_, h| h.at >= keep_after);
        self.settled.retain(|_, at| *at >= keep_after);
        // A refusal from a ledger that kept no times is dated now: it goes
        // a window later.
        for key in &self.refusals_replied {
            self.refusals_at.entry(key.clone()).or_insert(keep_after);
        }
        self.refusals_at.retain(|_, at| *at >= keep_after);
        let at = &self.refusals_at;
        self.refusals_replied.retain(|k| at.contains_key(k));
    }

    /// The refusal reply for `key` went out at `at` (unix seconds).
    pub fn remember_refusal(&mut self, key: String, at: i64) {
        self.refusals_at.insert(key.clone(), at);
        self.refusals_replied.insert(key);
    }

    /// Whether a command on the PR newer than `comment` has (or is making)
    /// its build.
    pub fn newer_command_building(&self, repo: &RepoSlug, pr: u64, comment: u64) -> bool {
        let newer = |c: &CommentRef| &c.repo == repo && c.pr == pr && c.id > comment;
        self.following.values().any(|f| newer(&f.comment))
            || self.jobs.values().any(|j| {
                newer(&j.comment)
                    && matches!(j.stage, Stage::Triggering { .. } | Stage::Acking { .. })
            })
    }

    /// The build currently followed for a PR, if any.
    pub fn following_pr(&self, repo: &RepoSlug, pr: u64) -> Option<&Follow> {
        self.following
            .values()
            .find(|f| &f.comment.repo == repo && f.comment.pr == pr)
    }
}

/// Why the ledger could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("{path}: {action}: {source}")]
    Io {
        path: String,
        action: &'static str,
        source: std::io::Error,
    },
    #[error(
        "{path}: not a valid ledger (move it aside to start afresh; reactions still guard against re-runs): {source}"
    )]
    Parse {
        path: String,
        source: serde_json::Error,
    },
    #[error("{path}: ledger schema {found}, this ccci reads schema {LEDGER_SCHEMA}")]
    Schema { path: String, found: u32 },
}

/// The ledger file in a state directory.
#[derive(Debug, Clone)]
pub struct LedgerStore {
    dir: PathBuf,
    path: PathBuf,
}

impl LedgerStore {
    pub fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_owned(),
            path: dir.join(LEDGER_FILE),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn io(&self, action: &'static str) -> impl FnOnce(std::io::Error) -> LedgerError + '_ {
        move |source| LedgerError::Io {
            path: self.path.display().to_string(),
            action,
            source,
        }
    }

    /// Read the ledger; a missing file is an empty ledger (first start, or a
    /// lost state directory: the reactions then prevent re-runs).
    pub fn load(&self) -> Result<Ledger, LedgerError> {
        std::fs::create_dir_all(&self.dir).map_err(self.io("create the state directory"))?;
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Ledger::default()),
            Err(e) => return Err(self.io("read")(e)),
        };
        let ledger: Ledger = serde_json::from_str(&text).map_err(|source| LedgerError::Parse {
            path: self.path.display().to_string(),
            source,
        })?;
        if ledger.schema != LEDGER_SCHEMA {
            return Err(LedgerError::Schema {
                path: self.path.display().to_string(),
                found: ledger.schema,
            });
        }
        Ok(ledger)
    }

    /// Replace the ledger atomically: temp file, fsync, rename, fsync the directory.
    pub fn save(&self, ledger: &Ledger) -> Result<(), LedgerError> {
        let text = serde_json::to_vec(ledger).map_err(|source| LedgerError::Parse {
            path: self.path.display().to_string(),
            source,
        })?;
        let tmp = self.dir.join(format!("{LEDGER_FILE}.tmp"));
        {
            let mut f = std::fs::File::create(&tmp).map_err(self.io("create the temp file"))?;
            f.write_all(&text).map_err(self.io("write the temp file"))?;
            f.sync_all().map_err(self.io("fsync the temp file"))?;
        }
        std::fs::rename(&tmp, &self.path).map_err(self.io("rename the temp file"))?;
        // The rename is durable only once the directory entry is.
        std::fs::File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(self.io("fsync the state directory"))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn comment() -> CommentRef {
        CommentRef {
            id: 7,
            repo: "acme/widget".parse().expect("slug"),
            pr: 3,
            user: "alice".into(),
            created_at: 1,
        }
    }

    #[test]
    fn a_missing_ledger_is_empty() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = LedgerStore::new(&dir.path().join("state"));
        assert_eq!(store.load().expect("loads"), Ledger::default());
    }

    #[test]
    fn a_saved_ledger_reads_back_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = LedgerStore::new(dir.path());
        let mut l = Ledger {
            feed_cursor: Some(99),
            ..Ledger::default()
        };
        l.jobs.insert(
            7,
            Job {
                comment: comment(),
                recipe: "custom-html".parse().expect("recipe"),
                request: Request::default(),
                stage: Stage::Triggering {
                    params: BuildParams {
                        recipe: "custom-html".parse().expect("recipe"),
                        git_ref: "a".repeat(40),
                        src: "bob/widget".parse().expect("slug"),
                        pr: 3,
                    },
                    intent_at: 5,
                    sent: true,
                },
                reacted: true,
                attempts: 0,
                not_before_ms: 0,
                sent_at_ms: 0,
            },
        );
        store.save(&l).expect("saves");
        assert_eq!(store.load().expect("loads"), l);
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .expect("lists")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from(LEDGER_FILE)]);
    }

    #[test]
    fn a_corrupt_ledger_is_an_error_not_a_fresh_start() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join(LEDGER_FILE), "{not json").expect("writes");
        let err = LedgerStore::new(dir.path()).load().expect_err("rejects");
        assert!(matches!(err, LedgerError::Parse { .. }));
    }

    #[test]
    fn pruning_keeps_recent_handled_comments() {
        let mut l = Ledger::default();
        l.handled.insert(
            1,
            Handled {
                at: 10,
                outcome: Outcome::Refused,
            },
        );
        l.handled.insert(
            2,
            Handled {
                at: 100,
                outcome: Outcome::Refused,
            },
        );
        l.prune(50);
        assert!(!l.knows(1));
        assert!(l.knows(2));
    }

    #[test]
    fn refusal_records_are_pruned_by_age() {
        let mut l = Ledger::default();
        l.remember_refusal("a/b#1@x".into(), 10);
        l.remember_refusal("a/b#2@x".into(), 100);
        // From a ledger that kept no times.
        l.refusals_replied.insert("a/b#3@x".into());
        l.prune(50);
        assert!(!l.refusals_replied.contains("a/b#1@x"));
        assert!(l.refusals_replied.contains("a/b#2@x"));
        assert!(
            l.refusals_replied.contains("a/b#3@x"),
            "dated at this prune"
        );
        l.prune(60);
        assert!(!l.refusals_replied.contains("a/b#3@x"));
        assert!(l.refusals_replied.contains("a/b#2@x"));
    }
}
