//! The `ccci bridge` binary as systemd runs it: config file, credentials from
//! `$CREDENTIALS_DIRECTORY`, state in `$STATE_DIRECTORY`; it triggers a build
//! for a member's comment and stops cleanly on SIGTERM, and it refuses to
//! start without its credentials, saying which one is missing.

mod support;

use std::process::{Command, Stdio};
use std::time::Duration;

use support::bridge_world::{REPO, World};

fn write_config(w: &World, dir: &std::path::Path) -> std::path::PathBuf {
    let config = dir.join("bridge.json");
    std::fs::write(
        &config,
        serde_json::to_vec_pretty(&w.config()).expect("json"),
    )
    .expect("config");
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_triggers_a_build_and_stops_on_sigterm() {
    let w = World::new();
    let dir = tempfile::tempdir().expect("dir");
    let creds = dir.path().join("creds");
    std::fs::create_dir(&creds).expect("creds");
    std::fs::write(
        creds.join("gitea_token"),
        format!("{}\n", support::fake_gitea::GITEA_TOKEN),
    )
    .expect("token");
    std::fs::write(creds.join("drone_token"), w.drone.token()).expect("token");
    let config = write_config(&w, dir.path());
    let child = Command::new(env!("CARGO_BIN_EXE_ccci"))
        .args(["bridge", "--config"])
        .arg(&config)
        .env("CREDENTIALS_DIRECTORY", &creds)
        .env("STATE_DIRECTORY", w.state.path())
        .env("CCCI_BRIDGE_POLL_MS", "50")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    w.gitea.comment(REPO, 1, "alice", "!testme");
    assert!(
        w.wait_for(Duration::from_secs(20), || w.builds().len() == 1)
            .await
    );
    // The pending status follows the create call's answer: the bridge has
    // read it (and logged the build) by then, not only Drone made it.
    assert!(
        w.wait_for(Duration::from_secs(20), || w
            .gitea
            .statuses(REPO, support::bridge_world::SHA)
            .len()
            == 1)
            .await
    );
    assert!(w.state.path().join("ledger.json").exists());
    // The shell's builtin kill: no procps needed.
    let status = Command::new("sh")
        .args(["-c", &format!("kill -TERM {}", child.id())])
        .status()
        .expect("kill");
    assert!(status.success());
    let out = child.wait_with_output().expect("exits");
    assert!(out.status.success(), "{out:?}");
    let log =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("build created"), "{log}");
    assert!(
        !log.contains(support::fake_gitea::GITEA_TOKEN) && !log.contains(&w.drone.token()),
        "tokens never logged"
    );
}

#[test]
fn the_binary_refuses_to_start_without_a_credential() {
    let w = World::new();
    let dir = tempfile::tempdir().expect("dir");
    let creds = dir.path().join("creds");
    std::fs::create_dir(&creds).expect("creds");
    std::fs::write(creds.join("gitea_token"), "x").expect("token");
    let config = write_config(&w, dir.path());
    let out = Command::new(env!("CARGO_BIN_EXE_ccci"))
        .args(["bridge", "--config"])
        .arg(&config)
        .arg("--state-dir")
        .arg(w.state.path())
        .env("CREDENTIALS_DIRECTORY", &creds)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("credential drone_token"), "{err}");
}
