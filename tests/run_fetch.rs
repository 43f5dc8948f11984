//! Recipe fetch with real git: the token for a private mirror travels as a
//! per-command header (seen by the server) and is stored nowhere; the exact
//! commit is checked out; the recipe's tests/ are snapshotted with their modes.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ccci::run::fetch::{self, FetchSpec};

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.org")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.org")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

const TOKEN: &str = "s3cr3t-token-value-123";

/// An HTTP server that records request headers and refuses everything.
fn recording_server() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let s2 = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                s2.lock().unwrap().push(line.trim().to_owned());
            }
            let mut stream = stream;
            let _ = stream.write_all(
                b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            );
        }
    });
    (url, seen)
}

fn spec(url: &str, git_ref: &str, token_file: Option<&Path>) -> FetchSpec {
    FetchSpec {
        recipe: "custom-html".into(),
        src_url: url.into(),
        upstream_url: url.into(),
        git_ref: git_ref.into(),
        pr: None,
        token_file: token_file.map(Path::to_path_buf),
        timeout: Duration::from_secs(20),
    }
}

#[test]
fn token_is_sent_as_a_header_and_never_shown() {
    let (url, seen) = recording_server();
    let d = tempfile::tempdir().unwrap();
    let token_file = d.path().join("token");
    std::fs::write(&token_file, format!("{TOKEN}\n")).unwrap();
    let abra = d.path().join("abra");
    std::fs::create_dir_all(abra.join("recipes")).unwrap();
    let err = fetch::fetch(
        &spec(
            &format!("{url}/o/r.git"),
            &"a".repeat(40),
            Some(&token_file),
        ),
        &abra,
    )
    .unwrap_err()
    .to_string();
    let headers = seen.lock().unwrap().clone();
    assert!(
        headers
            .iter()
            .any(|h| h.eq_ignore_ascii_case(&format!("authorization: token {TOKEN}"))),
        "{headers:?}"
    );
    assert!(!err.contains(TOKEN), "{err}");
}

#[test]
fn fetch_checks_out_the_exact_commit_and_stores_no_credentials() {
    let d = tempfile::tempdir().unwrap();
    let repo = d.path().join("src");
    std::fs::create_dir_all(repo.join("tests")).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    std::fs::write(repo.join("compose.yml"), "services: {}\n").unwrap();
    std::fs::write(repo.join("tests/check.sh"), "#!/bin/sh\nexit 0\n").unwrap();
    std::fs::set_permissions(
        repo.join("tests/check.sh"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "one"]);
    let first = git(&repo, &["rev-parse", "HEAD"]);
    std::fs::write(repo.join("compose.yml"), "services: {app: {}}\n").unwrap();
    git(&repo, &["commit", "-q", "-am", "two"]);

    let token_file = d.path().join("token");
    std::fs::write(&token_file, TOKEN).unwrap();
    let abra = d.path().join("abra");
    std::fs::create_dir_all(abra.join("recipes")).unwrap();
    let url = format!("file://{}", repo.display());
    let co = fetch::fetch(&spec(&url, &first, Some(&token_file)), &abra).unwrap();
    assert_eq!(git(&co.recipe_dir, &["rev-parse", "HEAD"]), first);
    let config = std::fs::read_to_string(co.recipe_dir.join(".git/config")).unwrap();
    assert!(
        !config.contains(TOKEN) && !config.contains("extraHeader"),
        "{config}"
    );

    let snap = d.path().join("snap");
    fetch::snapshot_tests(&co.recipe_dir, &snap)
        .unwrap()
        .unwrap();
    let mode = std::fs::metadata(snap.join("check.sh"))
        .unwrap()
        .permissions()
        .mode();
    assert_ne!(mode & 0o111, 0, "executable bit kept");
}

#[test]
fn a_leftover_clone_is_replaced_by_a_fresh_one() {
    let d = tempfile::tempdir().unwrap();
    let repo = d.path().join("src");
    std::fs::create_dir_all(&repo).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    std::fs::write(repo.join("compose.yml"), "x\n").unwrap();
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "one"]);
    git(&repo, &["tag", "1.0.0+1"]);
    let head = git(&repo, &["rev-parse", "HEAD"]);
    let abra = d.path().join("abra");
    let stale = abra.join("recipes/custom-html");
    std::fs::create_dir_all(&stale).unwrap();
    std::fs::write(stale.join("stale-file"), "old").unwrap();
    let co = fetch::fetch(
        &spec(&format!("file://{}", repo.display()), &head, None),
        &abra,
    )
    .unwrap();
    assert!(!co.recipe_dir.join("stale-file").exists());
    let tags = fetch::tags(&co.recipe_dir, Duration::from_secs(10)).unwrap();
    assert_eq!(
        tags.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(),
        ["1.0.0+1"]
    );
    assert_eq!(tags[0].commit, head);
}

#[test]
fn tags_name_their_commits_annotated_or_not() {
    // The upgrade base must never be the head commit: each tag's commit is
    // known, an annotated tag peeled to its commit, not its tag object.
    let d = tempfile::tempdir().unwrap();
    let repo = d.path().join("src");
    std::fs::create_dir_all(&repo).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    std::fs::write(repo.join("compose.yml"), "x\n").unwrap();
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "one"]);
    let first = git(&repo, &["rev-parse", "HEAD"]);
    git(&repo, &["tag", "v1.0.0"]);
    std::fs::write(repo.join("compose.yml"), "y\n").unwrap();
    git(&repo, &["commit", "-q", "-am", "two"]);
    let second = git(&repo, &["rev-parse", "HEAD"]);
    git(&repo, &["tag", "-a", "-m", "release", "v1.0.1"]);
    let mut tags = fetch::tags(&repo, Duration::from_secs(10)).unwrap();
    tags.sort_by(|a, b| a.name.cmp(&b.name));
    let got: Vec<(&str, &str)> = tags
        .iter()
        .map(|t| (t.name.as_str(), t.commit.as_str()))
        .collect();
    assert_eq!(
        got,
        [("v1.0.0", first.as_str()), ("v1.0.1", second.as_str())]
    );
}
