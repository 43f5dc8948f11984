//! The namespaces a recipe test runs in when the runner is root
//! (docs/security.md, "Recipe tests"): util-linux `unshare` gives it a mount
//! namespace and a PID namespace, a short fixed shell script mounts its view,
//! and `setpriv` drops to the unprivileged user before the test starts.
//!
//! - Its private directory is bind-mounted on `/tmp`; `/var/tmp` and
//!   `/dev/shm` are fresh, empty tmpfs that vanish with the namespace; the
//!   host's secrets directory is covered by an empty read-only tmpfs. So the
//!   only place it can write is its own directory, which the run removes.
//! - The namespace's PID 1 is the root shell that started the test: when the
//!   test ends, it exits, and the kernel kills every process left in the
//!   namespace, including one that started a new session to escape its
//!   process group; `--kill-child` ends the namespace when `unshare` itself
//!   is killed at the budget.
//! - The network stays the host's: the test must reach the app through the
//!   gateway at `CCCI_CONNECT_ADDR`, which listens on the host.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Where the private directory appears inside the namespace.
pub const INSIDE: &str = "/tmp";

/// Mounts the test's view, then runs the test and stays PID 1 of the
/// namespace while it runs. The private directory is bound first, so it
/// stays reachable wherever the runner's temp dir is (under `/var/tmp`, say,
/// which is covered next). It does not `exec` the test: dropping to another
/// user clears the parent-death signal `--kill-child` set, and a test that
/// is PID 1 could leave the process group; this shell keeps both, so killing
/// `unshare` always ends the namespace. Every value comes in as a
/// positional argument, so none is ever parsed as shell: `$1` the private
/// directory, `$2` the uid/gid to run as, `$3` mount, `$4` setpriv, `$5` the
/// program inside the namespace, the rest the directories to hide.
const SETUP: &str = r#"set -e
private=$1 id=$2 mount=$3 setpriv=$4 program=$5
shift 5
"$mount" --bind "$private" /tmp
for d in /var/tmp /dev/shm; do
  if [ -d "$d" ]; then "$mount" -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$d"; fi
done
for d in "$@"; do
  if [ -d "$d" ]; then "$mount" -t tmpfs -o ro,mode=0,size=4k tmpfs "$d"; fi
done
cd /tmp/tests
set +e
"$setpriv" --reuid="$id" --regid="$id" --clear-groups --no-new-privs -- "$program"
exit $?
"#;

/// The programs the sandbox needs, found on the runner's `PATH`.
#[derive(Debug, Clone)]
pub struct Tools {
    unshare: PathBuf,
    mount: PathBuf,
    setpriv: PathBuf,
}

fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// Why the sandbox cannot be used here, or its tools. Looked at once per
/// process: the answer does not change while a run lasts.
pub fn tools() -> Result<&'static Tools, &'static str> {
    static TOOLS: OnceLock<Result<Tools, String>> = OnceLock::new();
    TOOLS
        .get_or_init(|| {
            let find = |n: &str| on_path(n).ok_or_else(|| format!("{n} is not on PATH"));
            let tools = Tools {
                unshare: find("unshare")?,
                mount: find("mount")?,
                setpriv: find("setpriv")?,
            };
            // A container without CAP_SYS_ADMIN has the programs but may not
            // create namespaces: try once.
            let probe = Command::new(&tools.unshare)
                .args(["--mount", "--pid", "--fork", "--kill-child", "--", "true"])
                .stdin(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .output()
                .map_err(|e| format!("cannot run unshare: {e}"))?;
            if !probe.status.success() {
                return Err(format!(
                    "unshare cannot create namespaces here: {}",
                    String::from_utf8_lossy(&probe.stderr).trim()
                ));
            }
            Ok(tools)
        })
        .as_ref()
        .map_err(String::as_str)
}

impl Tools {
    /// The command that runs `program` (a file directly under
    /// `private/tests`) in the sandbox as `id`, with `hidden` covered.
    pub fn command(&self, private: &Path, id: u32, program: &str, hidden: &[PathBuf]) -> Command {
        let mut c = Command::new(&self.unshare);
        c.args([
            "--mount",
            "--pid",
            "--fork",
            "--kill-child",
            "--mount-proc",
            "--propagation",
            "private",
            "--",
            "/bin/sh",
            "-c",
            SETUP,
            "ccci-sandbox",
        ])
        .arg(private)
        .arg(id.to_string())
        .arg(&self.mount)
        .arg(&self.setpriv)
        .arg(format!("{INSIDE}/tests/{program}"))
        .args(hidden);
        c
    }
}
