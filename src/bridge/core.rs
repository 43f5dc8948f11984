//! The decision core: pure functions from (what was seen, what the ledger
//! holds, facts gathered so far) to what should happen next. No I/O here; the
//! state machine (`machine/`) asks for the facts the core needs and carries
//! out what it decides, so every rule of the bridge is tested without a network.

use std::collections::BTreeMap;

use crate::bridge::ledger::{BuildParams, CommentRef, Job, Ledger, Outcome};
use crate::bridge::report;
use crate::registry::values::{RecipeName, RepoSlug};

pub use crate::bridge::screen::{Body, Ignored, Screen, SeenComment, Source, screen};

/// The settings the rules depend on.
#[derive(Debug, Clone)]
pub struct Rules {
    pub org: String,
    pub bot_user: String,
    pub trigger: String,
    pub repos: BTreeMap<RepoSlug, RecipeName>,
    /// Empty: every org member may trigger.
    pub allowlist: Vec<String>,
    /// Comments older than this (seconds) never fire: a fresh state directory
    /// must not replay history.
    pub max_comment_age_secs: i64,
    /// Attempts at creating a build before reporting Drone as unreachable.
    pub max_trigger_attempts: u32,
    /// A comment whose body as created was never seen (only the sweep saw
    /// it) is judged only once it is this old (seconds): until then the
    /// feed or the webhook may still show it as created.
    pub unproven_grace_secs: i64,
}

/// Org membership as far as the bridge could tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Authz {
    Member,
    NotMember,
}

/// The PR as resolved when handling the comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrFacts {
    Open {
        head_sha: String,
        /// `owner/name` of the head repository (the fork), if it still exists.
        head_repo: Option<String>,
    },
    Closed,
}

/// Facts gathered for a job in `Received`; `None` = not asked yet.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    pub bot_reacted: Option<bool>,
    pub authz: Option<Authz>,
    pub pr: Option<PrFacts>,
    /// A push reached the PR after the comment (server timestamps).
    pub pushed_after: Option<bool>,
}

/// What the core needs to know next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ask {
    Reactions,
    Membership,
    Pull,
    /// Pushes on the PR after the comment.
    Timeline,
}

/// Something for the executor to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// The bot's reaction on the comment: acknowledges it and marks it taken
    /// on remotely, so a lost ledger makes it recovered, never fired afresh.
    React,
    /// Cancel a build still running on the same PR, mark its status and report.
    Supersede { build: u64 },
    /// Post a short reply on the PR, then finish the job.
    Reply { text: String, outcome: Outcome },
    /// Create the Drone build with exactly these parameters.
    Trigger(BuildParams),
    /// Done: record the outcome.
    Finish(Outcome),
    /// The bot's reaction is on the comment but the ledger has no record of
    /// it: look for what an earlier life did before deciding again.
    Recover,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Need(Ask),
    Act(Vec<Effect>),
}

/// The refusal reply goes out once per user and PR.
pub fn refusal_key(c: &CommentRef) -> String {
    format!("{}#{}@{}", c.repo, c.pr, c.user.to_ascii_lowercase())
}

/// Decide what to do with an accepted comment, given the facts gathered so far.
pub fn decide(job: &Job, facts: &Facts, rules: &Rules, ledger: &Ledger) -> Decision {
    let c = &job.comment;
    match facts.bot_reacted {
        None => return Decision::Need(Ask::Reactions),
        // Handled by an earlier life the ledger does not remember: finish
        // what it may have left half-done, never start over blindly.
        Some(true) if !job.reacted => return Decision::Act(vec![Effect::Recover]),
        Some(_) => {}
    }
    let allowed = rules.allowlist.is_empty()
        || rules
            .allowlist
            .iter()
            .any(|u| u.eq_ignore_ascii_case(&c.user));
    let refuse = |why: &str| {
        let mut effects = vec![Effect::React];
        if ledger.refusals_replied.contains(&refusal_key(c)) {
            effects.push(Effect::Finish(Outcome::Refused));
        } else {
            effects.push(Effect::Reply {
                text: report::refusal(&c.user, why, &rules.trigger),
                outcome: Outcome::Refused,
            });
        }
        Decision::Act(effects)
    };
    let reply = |text: String, outcome: Outcome| {
        Decision::Act(vec![Effect::React, Effect::Reply { text, outcome }])
    };
    if !allowed {
        return refuse("is not on this CI's allowlist");
    }
    match facts.authz {
        None => return Decision::Need(Ask::Membership),
        Some(Authz::NotMember) => {
            return refuse(&format!(
                "is not a member of the {} organisation",
                rules.org
            ));
        }
        Some(Authz::Member) => {}
    }
    if job.request.unverified {
        return reply(report::unverifiable(&rules.trigger), Outcome::Unverifiable);
    }
    let (head_sha, head_repo) = match &facts.pr {
        None => return Decision::Need(Ask::Pull),
        Some(PrFacts::Closed) => {
            return Decision::Act(vec![Effect::React, Effect::Finish(Outcome::PrClosed)]);
        }
        Some(PrFacts::Open {
            head_sha,
            head_repo,
        }) => (head_sha, head_repo),
    };
    let Some(params) = build_params(&job.recipe, head_sha, head_repo.as_deref(), c) else {
        // A head SHA or repository Gitea should never send: treat the PR as gone.
        return Decision::Act(vec![Effect::React, Effect::Finish(Outcome::Gone)]);
    };
    match &job.request.sha {
        // The comment names its commit: the head is that commit, or not;
        // what was pushed when does not matter.
        Some(named) if !params.git_ref.starts_with(named.as_str()) => {
            let text = report::not_head(&rules.trigger, named, &params.git_ref);
            return reply(text, Outcome::NotHead);
        }
        Some(_) => {}
        None => match facts.pushed_after {
            None => return Decision::Need(Ask::Timeline),
            Some(true) => return reply(report::pushed_after(&rules.trigger), Outcome::PushedAfter),
            Some(false) => {}
        },
    }
    // Jobs are worked newest first: a newer command on this PR that got
    // this far has its build, so this one adds none (two commands in one
    // cycle make one build, not a build cancelled at once).
    if ledger.newer_command_building(&c.repo, c.pr, c.id) {
        return reply(report::coalesced(&rules.trigger), Outcome::Coalesced);
    }
    let mut effects = vec![Effect::React];
    if let Some(old) = ledger.following_pr(&c.repo, c.pr)
        && old.comment.id < c.id
    {
        effects.push(Effect::Supersede {
            build: old.build.number,
        });
    }
    effects.push(Effect::Trigger(params));
    Decision::Act(effects)
}

/// The whitelisted, validated build parameters; `None` if a value is malformed.
pub fn build_params(
    recipe: &RecipeName,
    head_sha: &str,
    head_repo: Option<&str>,
    c: &CommentRef,
) -> Option<BuildParams> {
    if !crate::registry::values::is_commit_id(head_sha) {
        return None;
    }
    // A deleted fork leaves no head repository: the commit is still reachable in
    // the base repository as refs/pull/N/head.
    let src = match head_repo {
        Some(r) => r.parse::<RepoSlug>().ok()?,
        None => c.repo.clone(),
    };
    Some(BuildParams {
        recipe: recipe.clone(),
        git_ref: head_sha.to_owned(),
        src,
        pr: c.pr,
    })
}

/// The query parameters of the Drone trigger, in a fixed order. Nothing else
/// is ever sent: Drone turns every key into an environment variable.
pub fn drone_params(p: &BuildParams) -> Vec<(&'static str, String)> {
    vec![
        ("RECIPE", p.recipe.to_string()),
        ("REF", p.git_ref.clone()),
        ("SRC", p.src.to_string()),
        ("PR", p.pr.to_string()),
    ]
}

/// What came of a create-build call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TriggerResult {
    Created,
    /// `200 null`: no pipeline matched.
    NoPipeline,
    /// Transient failure (Drone down); `attempts` counts this one.
    Failed {
        attempts: u32,
    },
}

/// After a create-build call: go on acknowledging, retry, or report.
pub fn after_trigger(result: &TriggerResult, rules: &Rules) -> Option<Effect> {
    match result {
        TriggerResult::Created => None,
        TriggerResult::NoPipeline => Some(Effect::Reply {
            text: report::no_pipeline(&rules.trigger),
            outcome: Outcome::NoPipeline,
        }),
        TriggerResult::Failed { attempts } if *attempts >= rules.max_trigger_attempts => {
            Some(Effect::Reply {
                text: report::drone_unreachable(&rules.trigger, *attempts),
                outcome: Outcome::DroneFailed,
            })
        }
        TriggerResult::Failed { .. } => None,
    }
}

/// Retry delay after `attempts` failures: exponential from `base_ms`, capped.
pub fn backoff_ms(attempts: u32, base_ms: u64, cap_ms: u64) -> u64 {
    let shift = attempts.saturating_sub(1).min(20);
    base_ms.saturating_mul(1u64 << shift).min(cap_ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bridge::fixtures::{rules, seen};
    use crate::bridge::ledger::{BuildRef, Follow};

    const SHA: &str = "9fc1ad6ebf12462f3f9773003e26b4c6f54a772e";

    fn accepted() -> Job {
        match screen(&seen("!testme"), &rules(), &Ledger::default(), 1001) {
            Screen::Accept(j) => *j,
            other => panic!("not accepted: {other:?}"),
        }
    }

    fn all_facts() -> Facts {
        Facts {
            bot_reacted: Some(false),
            authz: Some(Authz::Member),
            pr: Some(PrFacts::Open {
                head_sha: SHA.into(),
                head_repo: Some("bob/widget".into()),
            }),
            pushed_after: Some(false),
        }
    }

    #[test]
    fn a_member_command_on_an_open_pr_triggers_with_exact_params() {
        let d = decide(&accepted(), &all_facts(), &rules(), &Ledger::default());
        let Decision::Act(effects) = d else {
            panic!("{d:?}")
        };
        assert_eq!(effects[0], Effect::React);
        let Effect::Trigger(p) = &effects[1] else {
            panic!("{effects:?}")
        };
        assert_eq!(
            drone_params(p),
            vec![
                ("RECIPE", "custom-html".to_owned()),
                ("REF", SHA.to_owned()),
                ("SRC", "bob/widget".to_owned()),
                ("PR", "42".to_owned()),
            ]
        );
    }

    #[test]
    fn facts_are_asked_for_in_order() {
        let j = accepted();
        let r = rules();
        let l = Ledger::default();
        let mut f = Facts::default();
        assert_eq!(decide(&j, &f, &r, &l), Decision::Need(Ask::Reactions));
        f.bot_reacted = Some(false);
        assert_eq!(decide(&j, &f, &r, &l), Decision::Need(Ask::Membership));
        f.authz = Some(Authz::Member);
        assert_eq!(decide(&j, &f, &r, &l), Decision::Need(Ask::Pull));
        f.pr = all_facts().pr;
        assert_eq!(decide(&j, &f, &r, &l), Decision::Need(Ask::Timeline));
    }

    #[test]
    fn a_comment_carrying_the_bots_reaction_is_recovered_not_decided_again() {
        let mut f = all_facts();
        f.bot_reacted = Some(true);
        assert_eq!(
            decide(&accepted(), &f, &rules(), &Ledger::default()),
            Decision::Act(vec![Effect::Recover])
        );
        // The job's own reaction (saved before it was placed) is no reason.
        let mut j = accepted();
        j.reacted = true;
        assert!(matches!(
            decide(&j, &f, &rules(), &Ledger::default()),
            Decision::Act(e) if e.iter().any(|x| matches!(x, Effect::Trigger(_)))
        ));
    }

    #[test]
    fn a_non_member_is_refused_with_one_reply() {
        let mut f = all_facts();
        f.authz = Some(Authz::NotMember);
        let Decision::Act(e) = decide(&accepted(), &f, &rules(), &Ledger::default()) else {
            panic!()
        };
        assert!(matches!(
            &e[1],
            Effect::Reply {
                outcome: Outcome::Refused,
                ..
            }
        ));
        let mut l = Ledger::default();
        l.refusals_replied.insert(refusal_key(&accepted().comment));
        assert_eq!(
            decide(&accepted(), &f, &rules(), &l),
            Decision::Act(vec![Effect::React, Effect::Finish(Outcome::Refused)])
        );
    }

    #[test]
    fn a_user_off_the_allowlist_is_refused_before_asking_membership() {
        let mut r = rules();
        r.allowlist = vec!["carol".into()];
        let f = Facts {
            bot_reacted: Some(false),
            ..Facts::default()
        };
        let Decision::Act(e) = decide(&accepted(), &f, &r, &Ledger::default()) else {
            panic!()
        };
        assert!(matches!(&e[1], Effect::Reply { .. }));
    }

    #[test]
    fn a_push_after_the_comment_asks_for_a_new_command() {
        let mut f = all_facts();
        f.pushed_after = Some(true);
        let Decision::Act(e) = decide(&accepted(), &f, &rules(), &Ledger::default()) else {
            panic!()
        };
        assert!(matches!(
            &e[1],
            Effect::Reply {
                outcome: Outcome::PushedAfter,
                ..
            }
        ));
        assert!(!e.iter().any(|x| matches!(x, Effect::Trigger(_))));
    }

    #[test]
    fn a_closed_pr_is_skipped() {
        let mut f = all_facts();
        f.pr = Some(PrFacts::Closed);
        assert_eq!(
            decide(&accepted(), &f, &rules(), &Ledger::default()),
            Decision::Act(vec![Effect::React, Effect::Finish(Outcome::PrClosed)])
        );
    }

    #[test]
    fn a_malformed_head_sha_never_reaches_drone() {
        let mut f = all_facts();
        f.pr = Some(PrFacts::Open {
            head_sha: "main; rm -rf /".into(),
            head_repo: None,
        });
        assert_eq!(
            decide(&accepted(), &f, &rules(), &Ledger::default()),
            Decision::Act(vec![Effect::React, Effect::Finish(Outcome::Gone)])
        );
    }

    #[test]
    fn a_second_command_supersedes_the_running_build() {
        let mut l = Ledger::default();
        let first = CommentRef {
            id: 1,
            ..accepted().comment
        };
        l.following.insert(
            57,
            Follow {
                build: BuildRef {
                    number: 57,
                    link: "x".into(),
                },
                params: build_params(&"custom-html".parse().expect("r"), SHA, None, &first)
                    .expect("params"),
                comment: first,
                report_comment: 9,
                upload_sent_at_ms: 0,
            },
        );
        let Decision::Act(e) = decide(&accepted(), &all_facts(), &rules(), &l) else {
            panic!()
        };
        assert_eq!(e[1], Effect::Supersede { build: 57 });
        assert!(matches!(e[2], Effect::Trigger(_)));
    }

    fn naming(sha: &str) -> Job {
        let mut j = accepted();
        j.request.sha = Some(sha.into());
        j
    }

    #[test]
    fn a_command_naming_the_head_binds_to_it_without_asking_for_pushes() {
        let mut f = all_facts();
        f.pushed_after = None;
        let Decision::Act(e) = decide(&naming("9fc1ad6eb"), &f, &rules(), &Ledger::default())
        else {
            panic!("acts at once")
        };
        assert!(matches!(&e[1], Effect::Trigger(p) if p.git_ref == SHA));
    }

    #[test]
    fn a_command_naming_another_commit_is_refused_naming_the_head() {
        let d = decide(
            &naming("abcdef0"),
            &all_facts(),
            &rules(),
            &Ledger::default(),
        );
        let Decision::Act(e) = d else { panic!("{d:?}") };
        let Effect::Reply { text, outcome } = &e[1] else {
            panic!("{e:?}")
        };
        assert_eq!(*outcome, Outcome::NotHead);
        assert!(text.contains(SHA), "{text}");
        assert!(text.contains("`abcdef0`"), "{text}");
        assert!(!e.iter().any(|x| matches!(x, Effect::Trigger(_))));
    }

    #[test]
    fn an_unverifiable_command_of_a_member_asks_for_a_new_one() {
        let mut j = accepted();
        j.request.unverified = true;
        let d = decide(&j, &all_facts(), &rules(), &Ledger::default());
        assert!(matches!(
            d,
            Decision::Act(e) if matches!(&e[..], [Effect::React, Effect::Reply { outcome: Outcome::Unverifiable, .. }])
        ));
        // A non-member is refused as such, not asked again.
        let mut f = all_facts();
        f.authz = Some(Authz::NotMember);
        assert!(matches!(
            decide(&j, &f, &rules(), &Ledger::default()),
            Decision::Act(e) if matches!(&e[1], Effect::Reply { outcome: Outcome::Refused, .. })
        ));
    }

    #[test]
    fn an_older_command_finding_a_newer_one_building_makes_no_build() {
        let mut l = Ledger::default();
        let newer = CommentRef {
            id: 9000,
            ..accepted().comment
        };
        let p = build_params(&"custom-html".parse().expect("r"), SHA, None, &newer).expect("p");
        l.jobs.insert(
            9000,
            Job {
                stage: crate::bridge::ledger::Stage::Triggering {
                    params: p,
                    intent_at: 1,
                    sent: true,
                },
                comment: newer,
                ..accepted()
            },
        );
        let d = decide(&accepted(), &all_facts(), &rules(), &l);
        assert!(matches!(
            d,
            Decision::Act(e) if matches!(&e[..], [Effect::React, Effect::Reply { outcome: Outcome::Coalesced, .. }])
        ));
        // A newer command still being checked does not count.
        l.jobs.get_mut(&9000).expect("job").stage = crate::bridge::ledger::Stage::Received;
        assert!(matches!(
            decide(&accepted(), &all_facts(), &rules(), &l),
            Decision::Act(e) if e.iter().any(|x| matches!(x, Effect::Trigger(_)))
        ));
    }

    #[test]
    fn drone_failures_are_retried_then_reported() {
        let r = rules();
        assert_eq!(
            after_trigger(&TriggerResult::Failed { attempts: 1 }, &r),
            None
        );
        assert!(matches!(
            after_trigger(&TriggerResult::Failed { attempts: 3 }, &r),
            Some(Effect::Reply {
                outcome: Outcome::DroneFailed,
                ..
            })
        ));
        assert!(matches!(
            after_trigger(&TriggerResult::NoPipeline, &r),
            Some(Effect::Reply {
                outcome: Outcome::NoPipeline,
                ..
            })
        ));
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        assert_eq!(backoff_ms(1, 100, 1000), 100);
        assert_eq!(backoff_ms(2, 100, 1000), 200);
        assert_eq!(backoff_ms(10, 100, 1000), 1000);
    }
}
