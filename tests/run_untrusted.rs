//! Untrusted recipe code over the in-memory world (docs/security.md): hostile
//! compose files are refused before anything is deployed, a registry
//! exception lets one through and the summary says why, and secret values
//! planted in a recipe test's output, in abra's errors and in the host's
//! secrets directory never reach a progress line or an artifact.

#[path = "support/mem_fixture.rs"]
mod mem_fixture;
#[path = "support/mem_world/mod.rs"]
mod mem_world;
#[path = "support/recipe_fixture.rs"]
mod recipe_fixture;

use std::sync::{Arc, Mutex};

use ccci::registry::{LaneMode, Rung};
use ccci::results::{ResultsV1, Status};
use ccci::run::policy::Rule;
use ccci::run::progress::Progress;
use ccci::run::world::{ChildEnd, ChildRun};
use mem_fixture::{Commit, ENV_SAMPLE, SMOKE_TEST, Scenario, compose, pr_head, release};
use mem_world::Call;

#[derive(Clone, Default)]
struct Lines(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Lines {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Lines {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

fn rung(r: &ResultsV1, rung: Rung) -> (Status, String) {
    let o = &r.rungs[&rung];
    (o.status, o.reason.clone())
}

/// The head's compose file with `extra` inserted right after the app's
/// `image:` line (line 4), so the setting starts at line 5.
fn hostile(extra: &str) -> String {
    compose("1.2.0+1.27", "content", "DOMAIN").replacen(
        "    image: nginx:1.25\n",
        &format!("    image: nginx:1.25\n{extra}"),
        1,
    )
}

/// The head's compose file with one more mount after the app's named
/// volume (line 6), so the hostile mount is at line 7.
fn hostile_mount(item: &str) -> String {
    let named = format!("      - content:{}\n", recipe_fixture::HTML);
    compose("1.2.0+1.27", "content", "DOMAIN").replacen(
        &named,
        &format!("{named}      - {item}\n"),
        1,
    )
}

fn releases() -> Vec<Commit> {
    vec![release("1.0.0+1.25"), release("1.1.0+1.27")]
}

/// Calls that touch abra, docker or a process: none may happen for a
/// refused recipe (fetching and checking out the recipe are git's).
fn platform_calls(sc: &Scenario) -> Vec<Call> {
    sc.world
        .calls()
        .into_iter()
        .filter(|c| !matches!(c, Call::Fetch { .. } | Call::Checkout { .. }))
        .collect()
}

fn assert_refused(sc: &Scenario, r: &ResultsV1, rule: Rule, at: &str) {
    let (status, reason) = rung(r, Rung::Install);
    assert_eq!(status, Status::Fail, "{reason}");
    assert!(
        reason.contains(&format!("{rule} — service app ({at})")),
        "{rule}: {reason}"
    );
    assert!(!r.green);
    for other in [
        Rung::Upgrade,
        Rung::BackupRestore,
        Rung::Functional,
        Rung::Lint,
    ] {
        assert_eq!(rung(r, other).0, Status::Unverified, "{other:?}");
    }
    assert_eq!(
        platform_calls(sc),
        vec![],
        "{rule}: nothing may be deployed"
    );
    assert!(sc.world.state().apps.is_empty());
}

#[test]
fn every_hostile_compose_setting_is_refused_before_anything_is_deployed() {
    let mounts: &[(&str, Rule)] = &[
        ("/:/host", Rule::HostBindMount),
        ("/run/secrets:/s:ro", Rule::HostBindMount),
        ("../..:/up", Rule::HostBindMount),
        (
            "/var/run/docker.sock:/var/run/docker.sock",
            Rule::DockerSocket,
        ),
    ];
    for (item, rule) in mounts {
        let sc = Scenario::new(releases(), pr_head(hostile_mount(item)));
        let (r, _) = sc.run(LaneMode::Concurrent);
        assert_refused(&sc, &r, *rule, "compose.yml:7");
    }
    let cases: &[(&str, Rule, &str)] = &[
        ("    privileged: true\n", Rule::Privileged, "compose.yml:5"),
        ("    cap_add: [SYS_ADMIN]\n", Rule::CapAdd, "compose.yml:5"),
        (
            "    devices:\n      - /dev/kmsg\n",
            Rule::Devices,
            "compose.yml:5",
        ),
        (
            "    network_mode: host\n",
            Rule::HostNamespace,
            "compose.yml:5",
        ),
        ("    pid: host\n", Rule::HostNamespace, "compose.yml:5"),
        ("    ipc: host\n", Rule::HostNamespace, "compose.yml:5"),
        (
            "    userns_mode: host\n",
            Rule::HostNamespace,
            "compose.yml:5",
        ),
        (
            "    security_opt:\n      - apparmor:unconfined\n",
            Rule::SecurityOpt,
            "compose.yml:6",
        ),
        (
            "    ports:\n      - target: 22\n        published: 2222\n        mode: host\n",
            Rule::PublishedPort,
            "compose.yml:6",
        ),
        (
            "    sysctls:\n      kernel.shmmax: 1\n",
            Rule::Sysctls,
            "compose.yml:5",
        ),
    ];
    for (extra, rule, at) in cases {
        let sc = Scenario::new(releases(), pr_head(hostile(extra)));
        let (r, _) = sc.run(LaneMode::Concurrent);
        assert_refused(&sc, &r, *rule, at);
    }
}

#[test]
fn a_bind_mount_in_the_second_file_compose_file_selects_is_refused() {
    let head = Commit {
        files: vec![
            (
                "compose.yml".into(),
                compose("1.2.0+1.27", "content", "DOMAIN"),
            ),
            (
                "compose.extra.yml".into(),
                "version: \"3.8\"\nservices:\n  app:\n    volumes:\n      - /etc:/host-etc\n"
                    .into(),
            ),
            (
                ".env.sample".into(),
                format!(
                    "{ENV_SAMPLE}\nCOMPOSE_FILE=\"compose.yml\"\nCOMPOSE_FILE=\"$COMPOSE_FILE:compose.extra.yml\"\n"
                ),
            ),
            ("tests/smoke.sh".into(), SMOKE_TEST.into()),
        ],
        tag: None,
    };
    let sc = Scenario::new(releases(), head);
    let (r, _) = sc.run(LaneMode::Concurrent);
    assert_refused(&sc, &r, Rule::HostBindMount, "compose.extra.yml:5");
}

#[test]
fn a_registry_exception_lets_the_recipe_run_and_the_summary_says_why() {
    let mut sc = Scenario::new(
        releases(),
        pr_head(hostile("    ports:\n      - \"8080:80\"\n")),
    );
    sc.plan.compose_allow.insert(
        Rule::PublishedPort,
        "the admin console listens on its own port".into(),
    );
    let (r, _) = sc.run(LaneMode::Concurrent);
    assert_eq!(
        rung(&r, Rung::Install).0,
        Status::Pass,
        "{:?}",
        rung(&r, Rung::Install)
    );
    assert!(r.green, "{r:?}");
    let summary = ccci::report::summary_md(&r);
    assert!(summary.contains("Compose policy exceptions"), "{summary}");
    assert!(
        summary.contains(
            "published_port — service app (compose.yml:6): ports: 8080:80 — allowed: the admin console listens on its own port"
        ),
        "{summary}"
    );
    sc.assert_nothing_left();
}

const PLANTED: &str = "planted-gitea-token-4f1e9c";

#[test]
fn planted_secrets_are_masked_in_progress_and_every_artifact_and_fail_the_run() {
    // The head declares a secret: abra generates a value for each run app.
    let head = format!(
        "{}secrets:\n  api_key:\n    external: true\n    name: ${{STACK_NAME}}_api_key_${{SECRET_API_KEY_VERSION}}\n",
        compose("1.2.0+1.27", "content", "DOMAIN")
    );
    let mut sc = Scenario::new(releases(), pr_head(head));
    // The host's secrets directory, as the plan's token file names it.
    let secrets = tempfile::tempdir().unwrap();
    let token = secrets.path().join("gitea_bot_token");
    std::fs::write(&token, format!("{PLANTED}\n")).unwrap();
    std::fs::write(secrets.path().join("other"), "another-host-secret-77\n").unwrap();
    sc.plan.token_file = token.to_str().unwrap().parse().unwrap();
    sc.plan.recipe_tests = true;
    // A recipe test dumps its environment and the token it got hold of.
    sc.world.knobs.tests.insert(
        "smoke.sh".into(),
        Box::new(|c: &ChildRun<'_>| {
            let dump: Vec<String> = c.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
            ChildEnd::Exited {
                success: false,
                status: "exit status: 1".into(),
                stderr: format!(
                    "{}\nGITEA_TOKEN={PLANTED} another-host-secret-77\n",
                    dump.join(" ")
                ),
            }
        }),
    );
    // abra fails with a secret in its message.
    sc.world.knobs.fail.insert(
        "backup_create".into(),
        format!("backup failed: restic password {PLANTED} rejected"),
    );
    let masker = ccci::run::leak::masker_for(&sc.plan);
    let lines = Lines::default();
    let progress = Progress::to(Box::new(lines.clone())).with_masker(masker.clone());
    let (mut r, mut lint) = sc.run_with(LaneMode::Concurrent, progress.clone());
    assert!(
        r.rungs[&Rung::Functional].reason.contains(PLANTED)
            || r.rungs[&Rung::BackupRestore].reason.contains(PLANTED),
        "the scenario must plant the value in the results: {r:?}"
    );

    // Every value generated for the run apps reached the masker.
    let generated: Vec<String> = sc
        .world
        .state()
        .generated
        .iter()
        .map(|(_, v)| v.clone())
        .collect();
    assert!(!generated.is_empty());
    for v in &generated {
        assert_eq!(masker.mask(v), "***");
    }

    let out = tempfile::tempdir().unwrap();
    let clean =
        ccci::run::leak::write_sealed(out.path(), &mut r, &mut lint, &masker, &progress).unwrap();
    assert!(!clean, "a leak fails the run");
    assert!(!r.green);
    let mut shown = vec![("progress".to_owned(), lines.text())];
    for f in std::fs::read_dir(out.path()).unwrap() {
        let p = f.unwrap().path();
        shown.push((
            p.display().to_string(),
            std::fs::read_to_string(&p).unwrap(),
        ));
    }
    assert_eq!(shown.len(), 5, "progress and four artifacts");
    for (what, text) in &shown {
        for secret in [PLANTED, "another-host-secret-77"]
            .iter()
            .copied()
            .chain(generated.iter().map(String::as_str))
        {
            assert!(!text.contains(secret), "{what} shows a secret value");
        }
    }
    let results = &shown
        .iter()
        .find(|(w, _)| w.ends_with("results.json"))
        .unwrap()
        .1;
    assert!(results.contains("GITEA_TOKEN=***"), "{results}");
    assert!(
        results.contains("restic password *** rejected"),
        "{results}"
    );
    assert!(results.contains("\"leak scan\""), "{results}");
    let summary = &shown
        .iter()
        .find(|(w, _)| w.ends_with("summary.md"))
        .unwrap()
        .1;
    assert!(summary.contains("leak scan"), "{summary}");
}

/// Masking overhead per MB of output, for the record:
/// `cargo nextest run --test run_untrusted --run-ignored only --no-capture`.
#[test]
#[ignore]
fn bench_masking_overhead_per_mb() {
    let m = ccci::run::mask::Masker::new();
    for i in 0..30 {
        m.add(&format!("secret-value-number-{i:04}-abcdef"));
    }
    let line = "[   12.3s] fresh: deploying 0123456789abcdef0123456789abcdef01234567 to cust-0a1b2c.ci.example.org — waiting\n";
    let mut text = String::new();
    while text.len() < 1 << 20 {
        text.push_str(line);
    }
    text.push_str("secret-value-number-0007-abcdef\n");
    let rounds = 20;
    let start = std::time::Instant::now();
    let mut n = 0;
    for _ in 0..rounds {
        n += m.redact(&text).len();
    }
    let per_mb = start.elapsed() / rounds;
    let start = std::time::Instant::now();
    for _ in 0..rounds {
        n += text.lines().map(|l| m.redact(l).len()).sum::<usize>();
    }
    let per_mb_lines = start.elapsed() / rounds;
    eprintln!(
        "masking 1 MiB with 30 values + token shapes: {per_mb:?} as one text, {per_mb_lines:?} line by line ({n})"
    );
}
