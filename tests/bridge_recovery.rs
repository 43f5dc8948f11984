//! Recovery from the two crash windows that could duplicate a remote effect,
//! set up deterministically: a ledger left by a life that was killed right
//! after its create-build call reached Drone, and one killed right after its
//! "started" comment reached Gitea. The next life must adopt what exists.

mod support;

use std::collections::BTreeMap;

use ccci::bridge::ledger::{BuildParams, BuildRef, CommentRef, Job, Ledger, LedgerStore, Stage};
use ccci::bridge::report;
use ccci::forge::drone::{DroneClient, DroneToken};
use support::bridge_world::{BOT, CI_REPO, FORK, RECIPE, REPO, SHA, World};
use support::fake_gitea::now_secs;

const T: std::time::Duration = std::time::Duration::from_secs(10);

fn params() -> BuildParams {
    BuildParams {
        recipe: RECIPE.parse().expect("recipe"),
        git_ref: SHA.to_owned(),
        src: FORK.parse().expect("slug"),
        pr: 1,
    }
}

fn job(id: u64, stage: Stage) -> Job {
    Job {
        comment: CommentRef {
            id,
            repo: REPO.parse().expect("slug"),
            pr: 1,
            user: "alice".into(),
            created_at: now_secs(),
        },
        recipe: RECIPE.parse().expect("recipe"),
        request: Default::default(),
        stage,
        reacted: true,
        attempts: 0,
        not_before_ms: 0,
        sent_at_ms: 0,
    }
}

/// A build with this test's parameters, as the previous life created it.
async fn create_build(w: &World) {
    let query: BTreeMap<String, String> = ccci::bridge::core::drone_params(&params())
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    let drone = DroneClient::new(&w.drone.url(), DroneToken::new(w.drone.token())).expect("client");
    let (o, n) = CI_REPO.split_once('/').expect("slug");
    drone
        .create_build(o, n, "main", &query)
        .await
        .expect("created");
}

fn leave_ledger(w: &World, job: Job) {
    let mut l = Ledger::default();
    l.jobs.insert(job.comment.id, job);
    LedgerStore::new(w.state.path()).save(&l).expect("ledger");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_build_created_just_before_a_crash_is_adopted_not_duplicated() {
    let w = World::new();
    let id = w.gitea.comment(REPO, 1, "alice", "!testme");
    w.gitea.add_reaction(id, BOT, report::REACTION);
    // The previous life's create call reached Drone; its answer was lost.
    create_build(&w).await;
    leave_ledger(
        &w,
        job(
            id,
            Stage::Triggering {
                params: params(),
                intent_at: now_secs(),
                sent: true,
            },
        ),
    );
    let b = w.start().await;
    assert!(
        w.wait_for(T, || !w.gitea.comments_by(REPO, 1, BOT).is_empty())
            .await
    );
    b.quiet().await;
    assert_eq!(w.builds().len(), 1, "adopted, not created again");
    let started = &w.gitea.comments_by(REPO, 1, BOT)[0].body;
    assert!(started.contains(&report::build_marker(1)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_started_comment_posted_just_before_a_crash_is_found_not_posted_again() {
    let w = World::new();
    let id = w.gitea.comment(REPO, 1, "alice", "!testme");
    w.gitea.add_reaction(id, BOT, report::REACTION);
    create_build(&w).await;
    let build = BuildRef {
        number: 1,
        link: format!("{}/{CI_REPO}/1", w.drone.url()),
    };
    let report_id = w
        .gitea
        .comment(REPO, 1, BOT, &report::started(&params(), &build));
    leave_ledger(
        &w,
        job(
            id,
            Stage::Acking {
                params: params(),
                build: build.clone(),
                posting: true,
                intent_at: now_secs(),
            },
        ),
    );
    let b = w.start().await;
    assert!(
        w.wait_for(T, || w.gitea.statuses(REPO, SHA).len() == 1)
            .await,
        "pending status set"
    );
    b.quiet().await;
    assert_eq!(
        w.gitea.comments_by(REPO, 1, BOT).len(),
        1,
        "not posted twice"
    );
    assert_eq!(w.builds().len(), 1, "no build created by the recovery");
    drop(b);
    // The followed build's report goes to the comment that was found.
    let ledger = LedgerStore::new(w.state.path()).load().expect("ledger");
    assert_eq!(ledger.following[&1].report_comment, report_id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_whose_mark_cannot_be_saved_is_not_sent_until_it_can() {
    let w = World::new();
    let id = w.gitea.comment(REPO, 1, "alice", "!testme");
    w.gitea.add_reaction(id, BOT, report::REACTION);
    leave_ledger(
        &w,
        job(
            id,
            Stage::Triggering {
                params: params(),
                intent_at: now_secs(),
                sent: false,
            },
        ),
    );
    // A directory where the ledger's temp file goes: every save fails (even
    // for root, unlike a read-only directory).
    let blocker = w.state.path().join("ledger.json.tmp");
    std::fs::create_dir(&blocker).expect("blocker");
    let b = w.start().await;
    b.until(|p| p.job_rounds >= 3).await;
    b.quiet().await;
    assert!(
        w.drone.mutating_requests().is_empty(),
        "no create without its mark on disk"
    );
    std::fs::remove_dir(&blocker).expect("unblocked");
    assert!(
        w.wait_for(T, || !w.gitea.comments_by(REPO, 1, BOT).is_empty())
            .await
    );
    b.quiet().await;
    assert_eq!(w.builds().len(), 1, "created once, once it could be marked");
    let ledger = LedgerStore::new(w.state.path()).load().expect("ledger");
    assert!(ledger.following.contains_key(&1));
}
