//! `ccci run`'s lanes end to end over the in-memory world (see
//! tests/support/mem_world): a green recipe passes every rung, and every
//! known-bad recipe goes red at the right rung with the right reason. Each
//! run takes milliseconds; the argv contract with abra and docker is proven
//! over the fake executables (tests/tools_fakes.rs, tests/run_cli.rs).

#[path = "support/mem_fixture.rs"]
mod mem_fixture;
#[path = "support/mem_world/mod.rs"]
mod mem_world;
#[path = "support/recipe_fixture.rs"]
mod recipe_fixture;

use std::collections::BTreeSet;
use std::sync::Mutex;

use ccci::registry::{LaneMode, Rung};
use ccci::results::{Lane, ResultsV1, Status};
use ccci::run::progress::Progress;
use mem_fixture::{Scenario, compose, pr_head, release};
use mem_world::Call;

fn rung(r: &ResultsV1, rung: Rung) -> (Status, String) {
    let x = &r.rungs[&rung];
    (x.status, x.reason.clone())
}

fn app_news(sc: &Scenario) -> Vec<(std::path::PathBuf, String)> {
    sc.world
        .calls()
        .into_iter()
        .filter_map(|c| match c {
            Call::AppNew { abra_dir, domain } => Some((abra_dir, domain)),
            _ => None,
        })
        .collect()
}

fn count(sc: &Scenario, pred: impl Fn(&Call) -> bool) -> usize {
    sc.world.calls().iter().filter(|c| pred(c)).count()
}

fn stack_pattern() -> Vec<String> {
    vec!["cust-*".into()]
}

#[test]
fn green_recipe_passes_every_rung() {
    let sc = Scenario::green();
    let (r, lint) = sc.run(LaneMode::Concurrent);
    for rg in Rung::ALL {
        assert_eq!(rung(&r, rg).0, Status::Pass, "{rg:?}: {:?}", rung(&r, rg).1);
    }
    assert_eq!(r.level, Some(Rung::Lint));
    assert!(r.green);
    assert!(r.teardown.is_empty(), "{:?}", r.teardown);
    assert_eq!(r.lanes[&Lane::Fresh].status, Status::Pass);
    assert_eq!(r.lanes[&Lane::Upgrade].status, Status::Pass);
    assert!(lint.contains("R016"));
    // The recipe's own test ran with the app handed to it.
    assert_eq!(count(&sc, |c| matches!(c, Call::Child { .. })), 1);
    sc.assert_nothing_left();
    // The work directory belongs to the binary, which created it
    // (src/run/outdir.rs); tests/run_cli.rs checks that it is removed.
}

#[test]
fn each_lane_has_its_own_abra_dir() {
    // Concurrent lanes never share a checkout: the upgrade lane checks out
    // the base while the fresh lane deploys the head.
    let sc = Scenario::green();
    let (r, _) = sc.run(LaneMode::Concurrent);
    assert!(r.green);
    let dirs: BTreeSet<_> = app_news(&sc).into_iter().map(|(d, _)| d).collect();
    assert_eq!(dirs.len(), 2, "{dirs:?}");
    let lint_dirs: Vec<_> = sc
        .world
        .calls()
        .into_iter()
        .filter_map(|c| match c {
            Call::Lint { abra_dir } => Some(abra_dir),
            _ => None,
        })
        .collect();
    assert_eq!(lint_dirs.len(), 1);
    assert!(
        !dirs.contains(&lint_dirs[0]),
        "lint shares a lane's checkout"
    );
}

#[test]
fn every_app_is_torn_down_exactly_once() {
    let sc = Scenario::green();
    let (r, _) = sc.run(LaneMode::Concurrent);
    let mut news: Vec<String> = app_news(&sc).into_iter().map(|(_, d)| d).collect();
    let mut teardowns: Vec<String> = sc
        .world
        .calls()
        .into_iter()
        .filter_map(|c| match c {
            Call::Teardown { domain } => Some(domain),
            _ => None,
        })
        .collect();
    assert_eq!(news.len(), 2);
    news.sort();
    teardowns.sort();
    assert_eq!(news, teardowns);
    assert_eq!(
        r.lanes[&Lane::Fresh].domain.len(),
        "cust-000000.ci.example.org".len()
    );
}

#[test]
fn a_failing_lane_still_tears_its_app_down() {
    let mut sc = Scenario::green();
    sc.world
        .knobs
        .fail
        .insert("backup_create".into(), "backup-bot is down".into());
    let (r, _) = sc.run(LaneMode::Concurrent);
    let (st, why) = rung(&r, Rung::BackupRestore);
    assert_eq!(st, Status::Fail);
    assert!(
        why.contains("backup create failed: backup-bot is down"),
        "{why}"
    );
    assert_eq!(count(&sc, |c| matches!(c, Call::Teardown { .. })), 2);
    sc.assert_nothing_left();
}

#[test]
fn upgrade_that_loses_the_marker_fails_the_upgrade_rung_only() {
    // The PR renames the volume: a fresh install is fine, an upgrade loses the data.
    let sc = Scenario::new(
        vec![release("1.0.0+1.25"), release("1.1.0+1.27")],
        pr_head(compose("1.2.0+1.27", "html", "DOMAIN")),
    );
    let (r, _) = sc.run(LaneMode::Concurrent);
    let (st, why) = rung(&r, Rung::Upgrade);
    assert_eq!(st, Status::Fail);
    assert!(why.contains("the upgrade lost the marker"), "{why}");
    // The other lane's results are all there.
    assert_eq!(rung(&r, Rung::Install).0, Status::Pass);
    assert_eq!(rung(&r, Rung::BackupRestore).0, Status::Pass);
    assert!(!r.green);
    assert_eq!(r.level, Some(Rung::Install));
    sc.assert_nothing_left();
}

#[test]
fn upgrade_that_silently_rolls_back_fails() {
    let mut sc = Scenario::green();
    sc.world.knobs.rollback = stack_pattern();
    let (r, _) = sc.run(LaneMode::Concurrent);
    let (st, why) = rung(&r, Rung::Upgrade);
    assert_eq!(st, Status::Fail);
    assert!(why.contains("rolled back"), "{why}");
    assert_eq!(rung(&r, Rung::Install).0, Status::Pass);
    assert!(!r.green);
}

#[test]
fn a_red_run_reports_the_failed_rung_in_its_summary() {
    // Sequential lanes, an upgrade that rolls back: the artifacts say so.
    let mut sc = Scenario::green();
    sc.world.knobs.rollback = stack_pattern();
    let (r, lint) = sc.run(LaneMode::Sequential);
    assert!(!r.green);
    let out = tempfile::tempdir().unwrap();
    ccci::run::report::write_all(out.path(), &r, &lint).unwrap();
    let back = ResultsV1::read(&out.path().join("results.json")).unwrap();
    assert!(!back.green);
    let summary = std::fs::read_to_string(out.path().join("summary.md")).unwrap();
    assert!(summary.contains("| upgrade | ❌ fail |"), "{summary}");
}

#[test]
fn chaos_version_that_is_not_the_head_fails() {
    let mut sc = Scenario::green();
    sc.world.knobs.stale_chaos_version = stack_pattern();
    let (r, _) = sc.run(LaneMode::Concurrent);
    let (st, why) = rung(&r, Rung::Upgrade);
    assert_eq!(st, Status::Fail);
    assert!(
        why.contains("chaos-version") && why.contains("expected the head"),
        "{why}"
    );
}

#[test]
fn backup_that_succeeds_without_the_data_fails_after_bounded_redos() {
    let mut sc = Scenario::green();
    sc.world.knobs.backup_lies = stack_pattern();
    let (r, _) = sc.run(LaneMode::Concurrent);
    let (st, why) = rung(&r, Rung::BackupRestore);
    assert_eq!(st, Status::Fail);
    assert!(why.contains("the backup does not hold the marker"), "{why}");
    assert_eq!(count(&sc, |c| matches!(c, Call::BackupCreate { .. })), 3);
    assert_eq!(
        count(&sc, |c| matches!(c, Call::Restore { .. })),
        0,
        "restored from a bad backup"
    );
    assert_eq!(rung(&r, Rung::Install).0, Status::Pass);
    assert_eq!(rung(&r, Rung::Upgrade).0, Status::Pass);
}

#[test]
fn restore_that_does_not_bring_the_data_back_fails() {
    let mut sc = Scenario::green();
    sc.world.knobs.lose_volume_data = stack_pattern();
    let (r, _) = sc.run(LaneMode::Concurrent);
    let (st, why) = rung(&r, Rung::BackupRestore);
    assert_eq!(st, Status::Fail);
    assert!(why.contains("after restore the marker reads"), "{why}");
}

#[test]
fn traefik_fallback_404_fails_install() {
    // A Host rule naming an unset variable: no router ever matches the domain.
    let mut sc = Scenario::new(
        vec![release("1.0.0+1.25"), release("1.1.0+1.27")],
        pr_head(compose("1.2.0+1.27", "content", "DOMAIN_TYPO")),
    );
    sc.plan.timeouts.deploy_secs = 2;
    let (r, _) = sc.run(LaneMode::Concurrent);
    let (st, why) = rung(&r, Rung::Install);
    assert_eq!(st, Status::Fail);
    assert!(why.contains("Traefik's fallback 404"), "{why}");
    assert_eq!(rung(&r, Rung::BackupRestore).0, Status::Unverified);
    assert_eq!(rung(&r, Rung::Functional).0, Status::Unverified);
    assert_eq!(r.level, None);
    sc.assert_nothing_left();
}

#[test]
fn traefik_default_certificate_fails_install() {
    let mut sc = Scenario::green();
    sc.plan.timeouts.deploy_secs = 2;
    sc.world.knobs.default_cert = stack_pattern();
    let (r, _) = sc.run(LaneMode::Concurrent);
    let (st, why) = rung(&r, Rung::Install);
    assert_eq!(st, Status::Fail);
    assert!(why.contains("Traefik's default certificate"), "{why}");
    sc.assert_nothing_left();
}

#[test]
fn no_older_release_is_an_intentional_skip_not_a_failure() {
    let sc = Scenario::new(
        vec![release("1.0.0+1.25")],
        pr_head(compose("1.0.0+1.25", "content", "DOMAIN")),
    );
    let (r, _) = sc.run(LaneMode::Concurrent);
    let (st, why) = rung(&r, Rung::Upgrade);
    assert_eq!(st, Status::Skip);
    assert!(
        why.starts_with("no older release")
            && why.contains("older than the head's version 1.0.0+1.25"),
        "{why}"
    );
    assert!(r.green);
    assert_eq!(r.level, Some(Rung::Lint));
    assert_eq!(app_news(&sc).len(), 1, "no upgrade app is created");
}

#[test]
fn a_crash_looping_head_fails_install_within_the_deploy_budget() {
    let mut sc = Scenario::green();
    sc.plan.timeouts.deploy_secs = 2;
    sc.world.knobs.crash_loop = stack_pattern();
    let (r, _) = sc.run(LaneMode::Concurrent);
    let (st, why) = rung(&r, Rung::Install);
    assert_eq!(st, Status::Fail);
    assert!(why.contains("not converged"), "{why}");
    // The recipe's timeout label (5 s) is longer than the plan's 2 s: it wins.
    assert!(why.contains("not healthy within 5 s"), "{why}");
    sc.assert_nothing_left();
}

#[test]
fn a_slow_start_within_the_budget_is_healthy() {
    // Services report 0 running for 8 s of (virtual) time; the budget is 20 s.
    // Sequential: no other lane's waits move the shared clock meanwhile.
    let mut sc = Scenario::green();
    sc.world.knobs.converge_delay = std::time::Duration::from_secs(8);
    let (r, _) = sc.run(LaneMode::Sequential);
    assert!(r.green, "{:#?}", r.rungs);
    let healthy = r.checks.iter().find(|c| c.name == "healthy").unwrap();
    assert!(healthy.duration_secs >= 8.0, "{healthy:?}");
}

#[test]
fn sequential_lanes_give_the_same_results() {
    let sc = Scenario::green();
    let (r, _) = sc.run(LaneMode::Sequential);
    assert!(r.green, "{:#?}", r.rungs);
    assert_eq!(r.level, Some(Rung::Lint));
}

#[test]
fn lint_failures_are_reported_but_never_fail_the_run() {
    let mut sc = Scenario::green();
    sc.world.knobs.lint_failed = vec!["R010".into()];
    let (r, _) = sc.run(LaneMode::Concurrent);
    assert!(r.green);
    let r010 = r
        .checks
        .iter()
        .find(|c| c.name.starts_with("R010"))
        .unwrap();
    assert_eq!(r010.status, Status::Fail);
}

#[test]
fn a_ref_that_does_not_exist_is_unverified_everywhere() {
    let mut sc = Scenario::green();
    sc.head = "0".repeat(40);
    let (r, _) = sc.run(LaneMode::Concurrent);
    assert!(!r.green);
    for rg in Rung::ALL {
        assert_eq!(rung(&r, rg).0, Status::Unverified, "{rg:?}");
    }
    assert!(rung(&r, Rung::Install).1.contains("recipe fetch"));
    assert!(app_news(&sc).is_empty());
}

#[test]
fn the_checkout_is_the_exact_pr_commit() {
    let sc = Scenario::green();
    let (r, _) = sc.run(LaneMode::Concurrent);
    assert!(r.green);
    let short = &sc.head[..8];
    // The upgrade lane's chaos deploy carried the head's chaos-version; the
    // upgrade check compared it to the full head.
    let up = r
        .checks
        .iter()
        .find(|c| c.name == "head deployed, no rollback")
        .unwrap();
    assert!(up.detail.contains(short), "{}", up.detail);
}

#[test]
fn every_deploy_has_lets_encrypt_env_empty_and_the_env_file_intact() {
    let sc = Scenario::green();
    let (r, _) = sc.run(LaneMode::Concurrent);
    assert!(r.green);
    // The env each app was last deployed with.
    let mut last = std::collections::BTreeMap::new();
    for c in sc.world.calls() {
        if let Call::Deploy { domain, env, .. } = c {
            last.insert(domain, env);
        }
    }
    assert_eq!(last.len(), 2, "one env per lane");
    for env in last.values() {
        // The sample said production and had no final newline: the edit
        // replaced the key in place and glued nothing onto the last line.
        assert_eq!(env["LETS_ENCRYPT_ENV"], "", "{env:#?}");
        assert_eq!(env["RECIPE"], "custom-html", "{env:#?}");
        assert!(env["DOMAIN"].ends_with(".ci.example.org"), "{env:#?}");
    }
}

/// Progress lines kept in memory.
#[derive(Clone, Default)]
struct Lines(std::sync::Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Lines {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_pr_that_adds_a_secret_upgrades_green_without_showing_its_value() {
    // The head declares api_key, which the base releases never had: the app
    // the upgrade lane created from the base has no such secret.
    let head = format!(
        "{}secrets:\n  api_key:\n    external: true\n    name: ${{STACK_NAME}}_api_key_${{SECRET_API_KEY_VERSION}}\n",
        compose("1.2.0+1.27", "content", "DOMAIN")
    );
    let sc = Scenario::new(
        vec![release("1.0.0+1.25"), release("1.1.0+1.27")],
        pr_head(head),
    );
    let lines = Lines::default();
    let (r, lint) = sc.run_with(LaneMode::Concurrent, Progress::to(Box::new(lines.clone())));
    for rg in [Rung::Install, Rung::Upgrade] {
        assert_eq!(rung(&r, rg).0, Status::Pass, "{rg:?}: {}", rung(&r, rg).1);
    }
    // Exactly the new secret was generated by name, and only in the upgrade
    // lane (the fresh lane generates everything after app new).
    let by_name: Vec<_> = sc
        .world
        .calls()
        .into_iter()
        .filter_map(|c| match c {
            Call::SecretGenerateOne {
                domain,
                name,
                version,
            } => Some((domain, name, version)),
            _ => None,
        })
        .collect();
    assert_eq!(
        by_name,
        vec![(
            r.lanes[&Lane::Upgrade].domain.clone(),
            "api_key".to_owned(),
            "v1".to_owned()
        )]
    );

    let values: BTreeSet<String> = sc
        .world
        .state()
        .generated
        .iter()
        .filter(|(name, _)| name.contains("_api_key_"))
        .map(|(_, v)| v.clone())
        .collect();
    assert_eq!(values.len(), 2, "one api_key per lane: {values:?}");
    let out = tempfile::tempdir().unwrap();
    ccci::run::report::write_all(out.path(), &r, &lint).unwrap();
    let mut shown = vec![(
        "progress".to_owned(),
        String::from_utf8(lines.0.lock().unwrap().clone()).unwrap(),
    )];
    for f in std::fs::read_dir(out.path()).unwrap() {
        let p = f.unwrap().path();
        shown.push((
            p.display().to_string(),
            std::fs::read_to_string(&p).unwrap(),
        ));
    }
    assert!(shown[0].1.contains("api_key"), "{}", shown[0].1);
    for (what, text) in &shown {
        for v in &values {
            assert!(!text.contains(v.as_str()), "a generated value is in {what}");
        }
    }
    sc.assert_nothing_left();
}

#[test]
fn a_recipe_test_that_fails_fails_the_functional_rung() {
    let mut sc = Scenario::green();
    sc.world.knobs.tests.insert(
        "smoke.sh".into(),
        Box::new(|_| ccci::run::world::ChildEnd::Exited {
            success: false,
            status: "exit status: 3".into(),
            stderr: "no login form\n\n".into(),
        }),
    );
    let (r, _) = sc.run(LaneMode::Concurrent);
    let (st, why) = rung(&r, Rung::Functional);
    assert_eq!(st, Status::Fail);
    assert!(
        why.contains("tests/smoke.sh: exit status: 3: no login form"),
        "{why}"
    );
}

#[test]
fn a_recipe_that_exits_at_once_is_red_within_30_s_of_its_first_failed_task() {
    // The deploy timeout is 15 minutes; the crash loop must not hold the
    // runner that long. Sequential: only this lane moves the virtual clock.
    let mut sc = Scenario::green();
    sc.plan.timeouts.deploy_secs = 900;
    sc.world.knobs.crash_loop = stack_pattern();
    let (r, _) = sc.run(LaneMode::Sequential);
    let (st, why) = rung(&r, Rung::Install);
    assert_eq!(st, Status::Fail);
    assert!(why.contains("crash loop: cust-"), "{why}");
    assert!(
        why.contains("task errors: task: non-zero exit (1)"),
        "{why}"
    );
    assert!(
        why.contains("last log lines:\nstarting\nError: cannot read /etc/app/config.yml"),
        "{why}"
    );
    let healthy = r.checks.iter().find(|c| c.name == "healthy").unwrap();
    // The first failed task comes 1 s after the deploy.
    eprintln!(
        "first failed task → red rung: {:.1} s of virtual time (deploy timeout 900 s)",
        healthy.duration_secs - 1.0
    );
    assert!(
        healthy.duration_secs <= 1.0 + 30.0,
        "red {} s after the deploy",
        healthy.duration_secs
    );
    sc.assert_nothing_left();
}
