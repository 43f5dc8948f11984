//! A recipe's own tests run contained (docs/security.md, "Recipe tests"):
//! as an unprivileged user, with a cleared environment holding only the
//! documented `CCCI_*` variables (plus `HOME`, `TMPDIR` and a fixed `PATH`),
//! in a private temporary directory that is their working directory, home
//! and temp dir, with a time budget and a cap on the output kept.

use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::world::{ChildEnd, ChildRun};

/// The variables a recipe test gets from the run, and nothing else of its
/// environment.
pub const CCCI_VARS: [&str; 4] = [
    "CCCI_BASE_URL",
    "CCCI_APP_DOMAIN",
    "CCCI_STACK",
    "CCCI_CONNECT_ADDR",
];

/// The `PATH` a recipe test runs with.
pub const TEST_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// `nobody` / `nogroup` on Debian and NixOS alike.
pub const NOBODY: u32 = 65_534;

/// Output kept per stream; the rest is read and dropped.
pub const OUTPUT_CAP: usize = 1024 * 1024;

/// The identity to run as: `nobody` when the run has root to give up, else
/// the run's own (an unprivileged runner has nothing more to drop).
pub fn identity() -> Option<(u32, u32)> {
    let me = std::fs::metadata("/proc/self").map(|m| m.uid()).ok()?;
    (me == 0).then_some((NOBODY, NOBODY))
}

/// The environment a test gets: the `CCCI_*` entries of `given` (anything
/// else is dropped), `HOME` and `TMPDIR` in its private dir, a fixed `PATH`.
pub fn environment(given: &[(String, String)], private: &Path) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = given
        .iter()
        .filter(|(k, _)| CCCI_VARS.contains(&k.as_str()))
        .cloned()
        .collect();
    let p = private.display().to_string();
    env.push(("HOME".into(), p.clone()));
    env.push(("TMPDIR".into(), p));
    env.push(("PATH".into(), TEST_PATH.into()));
    env
}

fn copy_tree(from: &Path, to: &Path, owner: Option<(u32, u32)>) -> std::io::Result<()> {
    std::fs::DirBuilder::new().mode(0o700).create(to)?;
    if let Some((u, g)) = owner {
        std::os::unix::fs::chown(to, Some(u), Some(g))?;
    }
    for e in std::fs::read_dir(from)? {
        let e = e?;
        let meta = std::fs::symlink_metadata(e.path())?;
        let dest = to.join(e.file_name());
        if meta.is_dir() {
            copy_tree(&e.path(), &dest, owner)?;
        } else if meta.is_file() {
            // Links are left behind: they could point at anything of the host.
            std::fs::copy(e.path(), &dest)?;
            std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(meta.mode() & 0o755))?;
            if let Some((u, g)) = owner {
                std::os::unix::fs::chown(&dest, Some(u), Some(g))?;
            }
        }
    }
    Ok(())
}

fn private_dir() -> PathBuf {
    std::env::temp_dir().join(format!(
        "ccci-test-{}-{:06x}",
        std::process::id(),
        crate::names::run::fresh_nonce()
    ))
}

/// Run one recipe test contained; the private dir is removed afterwards.
pub fn run(c: &ChildRun<'_>) -> ChildEnd {
    // Only the tests directory is copied, so the program must be in it.
    if !c.program.is_file() || c.program.parent() != Some(c.dir) {
        return ChildEnd::Failed(format!(
            "cannot start: {} is not a file of {}",
            c.program.display(),
            c.dir.display()
        ));
    }
    let owner = identity();
    let private = private_dir();
    let tests = private.join("tests");
    let prepared = std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&private)
        .and_then(|()| match owner {
            Some((u, g)) => std::os::unix::fs::chown(&private, Some(u), Some(g)),
            None => Ok(()),
        })
        .and_then(|()| copy_tree(c.dir, &tests, owner));
    if let Err(e) = prepared {
        let _ = std::fs::remove_dir_all(&private);
        return ChildEnd::Failed(format!("cannot prepare the test's private directory: {e}"));
    }
    let name = c.program.file_name().unwrap_or_default();
    let hidden: Vec<PathBuf> = c
        .hidden
        .iter()
        // Covering a parent of the private dir would hide the test itself.
        .filter(|h| !private.starts_with(h))
        .cloned()
        .collect();
    let end = match (owner, super::sandbox::tools()) {
        (Some((uid, _)), Ok(tools)) => {
            let inside = Path::new(super::sandbox::INSIDE);
            let mut cmd = tools.command(&private, uid, &name.to_string_lossy(), &hidden);
            cmd.env_clear().envs(environment(&c.env, inside));
            spawn(c, cmd)
        }
        (owner, sandbox) => {
            if let (Some(_), Err(why)) = (owner, sandbox) {
                warn_unsandboxed(why);
            }
            let mut cmd = std::process::Command::new(tests.join(name));
            cmd.current_dir(&tests)
                .env_clear()
                .envs(environment(&c.env, &private));
            if let Some((u, g)) = owner {
                use std::os::unix::process::CommandExt;
                // std drops supplementary groups when it changes the uid as root.
                cmd.uid(u).gid(g);
            }
            spawn(c, cmd)
        }
    };
    let _ = std::fs::remove_dir_all(&private);
    end
}

/// A root runner that cannot build the sandbox still runs the tests as
/// `nobody`, and says so once on stderr, where the CI log shows it.
fn warn_unsandboxed(why: &str) {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        eprintln!(
            "WARNING: recipe tests run without namespaces (shared /tmp, secrets directory visible to nobody): {why}"
        );
    });
}

fn spawn(c: &ChildRun<'_>, mut cmd: std::process::Command) -> ChildEnd {
    use std::os::unix::process::CommandExt;
    cmd.stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        // Its own process group, killed whole at the budget and at its end.
        .process_group(0);
    let child = match cmd.spawn() {
        Ok(child) => child,
        Err(e) => return ChildEnd::Failed(format!("cannot start: {e}")),
    };
    match super::child::wait_capped_group(child, c.budget, OUTPUT_CAP) {
        Ok(out) => ChildEnd::Exited {
            success: out.status.success(),
            status: out.status.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        },
        Err(super::child::WaitError::Timeout) => ChildEnd::TimedOut,
        Err(super::child::WaitError::Io(e)) => ChildEnd::Failed(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tests directory holding `t.sh` with `script`, run contained.
    fn run_script(script: &str, env: Vec<(String, String)>) -> (ChildEnd, tempfile::TempDir) {
        run_script_with(script, env, Vec::new(), std::time::Duration::from_secs(20))
    }

    fn run_script_with(
        script: &str,
        env: Vec<(String, String)>,
        hidden: Vec<PathBuf>,
        budget: std::time::Duration,
    ) -> (ChildEnd, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let tests = dir.path().join("tests");
        std::fs::create_dir(&tests).unwrap();
        // The snapshot of tests/ is readable, as the run leaves it.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let program = tests.join("t.sh");
        std::fs::write(&program, format!("#!/bin/sh\n{script}\n")).unwrap();
        std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
        let end = run(&ChildRun {
            program: &program,
            dir: &tests,
            env,
            budget,
            hidden,
        });
        (end, dir)
    }

    fn stderr_of(end: &ChildEnd) -> String {
        match end {
            ChildEnd::Exited { stderr, .. } => stderr.clone(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_environment_is_cleared_to_the_documented_variables() {
        // SAFETY of the assertion: a variable of the runner's own environment.
        let runner_var = std::env::vars().next().map(|(k, _)| k).unwrap_or_default();
        let (end, _d) = run_script(
            "env >&2",
            vec![
                ("CCCI_STACK".into(), "st".into()),
                ("CCCI_X".into(), "undocumented".into()),
                ("GITEA_TOKEN".into(), "never".into()),
            ],
        );
        let dump = stderr_of(&end);
        let mut keys: Vec<&str> = dump
            .lines()
            .filter_map(|l| l.split_once('=').map(|(k, _)| k))
            // The shell's own bookkeeping, not given by the run.
            .filter(|k| !matches!(*k, "PWD" | "OLDPWD" | "SHLVL" | "_"))
            .collect();
        keys.sort_unstable();
        assert_eq!(keys, ["CCCI_STACK", "HOME", "PATH", "TMPDIR"], "{dump}");
        assert!(!dump.contains("undocumented") && !dump.contains("never"));
        if !runner_var.is_empty() {
            assert!(!keys.contains(&runner_var.as_str()));
        }
    }

    #[test]
    fn home_tmpdir_and_cwd_are_one_private_directory_removed_afterwards() {
        let (end, _d) = run_script(
            "echo \"$HOME|$TMPDIR|$(pwd)\" >&2; touch \"$TMPDIR/x\" || exit 4",
            Vec::new(),
        );
        let line = stderr_of(&end);
        let parts: Vec<&str> = line.trim().split('|').collect();
        assert_eq!(parts[0], parts[1]);
        assert_eq!(parts[2], format!("{}/tests", parts[0]));
        assert!(
            matches!(end, ChildEnd::Exited { success: true, .. }),
            "{end:?}"
        );
        if sandboxed() {
            // Its directory is its /tmp; the host's copy is gone.
            assert_eq!(parts[0], super::super::sandbox::INSIDE);
            let left: Vec<_> = std::fs::read_dir(std::env::temp_dir())
                .unwrap()
                .flatten()
                .filter(|e| e.path().join("tests/t.sh").exists())
                .filter(|e| e.file_name().to_string_lossy().starts_with("ccci-test-"))
                .map(|e| e.path())
                .collect();
            assert!(left.is_empty() || left.iter().all(|p| !p.join("x").exists()));
        } else {
            assert!(!Path::new(parts[0]).exists(), "left behind: {}", parts[0]);
        }
    }

    /// Whether tests here run in the namespaces (root with util-linux).
    fn sandboxed() -> bool {
        let on = identity().is_some() && super::super::sandbox::tools().is_ok();
        if !on {
            eprintln!("SKIPPED: no sandbox here (not root, or unshare cannot run)");
        }
        on
    }

    /// No process whose command line holds `mark` is alive, within a few
    /// seconds (a killed process takes a moment to exit).
    fn no_process_with(mark: &str) -> bool {
        let alive = || {
            std::fs::read_dir("/proc")
                .unwrap()
                .flatten()
                .filter(|e| {
                    std::fs::read(e.path().join("cmdline"))
                        .is_ok_and(|c| String::from_utf8_lossy(&c).contains(mark))
                })
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
        };
        let until = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            let left = alive();
            if left.is_empty() {
                return true;
            }
            if std::time::Instant::now() > until {
                eprintln!("still alive: {left:?}");
                return false;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    #[test]
    fn at_the_budget_the_whole_process_group_is_killed() {
        // A grandchild that ignores SIGTERM, in the test's process group.
        let mark = format!("{}", 70_000 + std::process::id() % 9_999);
        let script = format!("sh -c 'trap \"\" TERM; sleep {mark}' & sleep {mark}");
        let start = std::time::Instant::now();
        let (end, _d) = run_script_with(
            &script,
            Vec::new(),
            Vec::new(),
            std::time::Duration::from_millis(500),
        );
        assert_eq!(end, ChildEnd::TimedOut);
        assert!(start.elapsed() < std::time::Duration::from_secs(10));
        assert!(
            no_process_with(&format!("sleep {mark}")),
            "a descendant survived"
        );
    }

    #[test]
    fn a_descendant_that_escaped_into_a_new_session_dies_with_the_test() {
        if !sandboxed() {
            return;
        }
        let mark = format!("{}", 80_000 + std::process::id() % 9_999);
        // setsid leaves the process group; it ignores SIGTERM and holds the
        // output pipes open.
        let script = format!("setsid sh -c 'trap \"\" TERM; sleep {mark}' & sleep {mark}");
        let (end, _d) = run_script_with(
            &script,
            Vec::new(),
            Vec::new(),
            std::time::Duration::from_millis(500),
        );
        assert_eq!(end, ChildEnd::TimedOut);
        assert!(
            no_process_with(&format!("sleep {mark}")),
            "an escaped descendant survived"
        );
        // One left running after a test that passed dies with it too.
        let script =
            format!("setsid sh -c 'trap \"\" TERM; sleep {mark}' >/dev/null 2>&1 & exit 0");
        let (end, _d) = run_script_with(
            &script,
            Vec::new(),
            Vec::new(),
            std::time::Duration::from_secs(20),
        );
        assert!(
            matches!(end, ChildEnd::Exited { success: true, .. }),
            "{end:?}"
        );
        assert!(
            no_process_with(&format!("sleep {mark}")),
            "a detached descendant survived"
        );
    }

    #[test]
    fn sandboxed_a_test_writes_only_its_own_tmp_and_cannot_see_the_secrets_dir() {
        if !sandboxed() {
            return;
        }
        // The host's secrets directory, readable by anyone here: only the
        // mount hides it. Outside /tmp so it is not merely shadowed.
        let secrets = tempfile::Builder::new()
            .prefix("ccci-secrets-")
            .tempdir_in("/run")
            .unwrap();
        std::fs::set_permissions(secrets.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let secret = secrets.path().join("gitea_bot_token");
        std::fs::write(&secret, "planted").unwrap();
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).unwrap();
        let tag = format!("ccci-escape-{}", std::process::id());
        let script = format!(
            "cat {s} && {{ echo READ >&2; exit 2; }}\n\
             ls -A {d} | grep . && {{ echo LISTED >&2; exit 2; }}\n\
             touch {d}/dropped && {{ echo WROTE-SECRETS >&2; exit 3; }}\n\
             touch /tmp/{tag} /var/tmp/{tag} /dev/shm/{tag} || exit 4\n\
             exit 0",
            s = secret.display(),
            d = secrets.path().display()
        );
        let (end, _d) = run_script_with(
            &script,
            Vec::new(),
            vec![secrets.path().to_path_buf()],
            std::time::Duration::from_secs(20),
        );
        assert!(
            matches!(end, ChildEnd::Exited { success: true, .. }),
            "{end:?}"
        );
        for d in ["/tmp", "/var/tmp", "/dev/shm"] {
            assert!(
                !Path::new(d).join(&tag).exists(),
                "the test wrote the host's {d}"
            );
        }
        assert!(!secrets.path().join("dropped").exists());
        assert_eq!(std::fs::read_to_string(&secret).unwrap(), "planted");
    }

    #[test]
    fn as_root_a_test_cannot_read_root_only_files_or_write_outside_its_dir() {
        if identity().is_none() {
            eprintln!("not root: the identity switch is not exercised here");
            return;
        }
        // A stand-in for the host's secrets directory: root-only.
        let secrets = tempfile::tempdir().unwrap();
        let secret = secrets.path().join("gitea_bot_token");
        std::fs::write(&secret, "planted").unwrap();
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::set_permissions(secrets.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let script = format!(
            "id -u >&2\n\
             cat {s} && {{ echo READ >&2; exit 2; }}\n\
             ls {d} >/dev/null || true\n\
             touch {d}/dropped && {{ echo WROTE >&2; exit 3; }}\n\
             touch /etc/ccci-dropped && {{ echo WROTE-ETC >&2; exit 3; }}\n\
             touch \"$OLDPWD/dropped\" 2>/dev/null && exit 3\n\
             exit 0",
            s = secret.display(),
            d = secrets.path().display()
        );
        let (end, tests_root) = run_script(&script, Vec::new());
        let err = stderr_of(&end);
        assert!(
            matches!(end, ChildEnd::Exited { success: true, .. }),
            "{end:?}"
        );
        assert!(err.starts_with("65534\n"), "{err}");
        assert!(!secrets.path().join("dropped").exists());
        // Nor into the run's own copy of tests/.
        assert!(!tests_root.path().join("tests/dropped").exists());
    }

    #[test]
    fn output_beyond_the_cap_is_dropped_and_the_test_still_ends() {
        let (end, _d) = run_script(
            "head -c 3000000 /dev/zero | tr '\\0' x >&2; exit 1",
            Vec::new(),
        );
        assert_eq!(stderr_of(&end).len(), OUTPUT_CAP);
    }
}
