//! Waiting for a child process with a deadline, its output drained on threads
//! so a chatty child cannot block on a full pipe. Used for git during the fetch
//! and for a recipe's own tests.

use std::time::{Duration, Instant};

/// Why a wait ended without an exit status.
#[derive(Debug)]
pub enum WaitError {
    Timeout,
    Io(std::io::Error),
}

/// Wait for a child, killing it at the deadline. Output is drained on threads
/// so a chatty child cannot block on a full pipe.
pub fn wait_with_deadline(
    child: std::process::Child,
    timeout: Duration,
) -> Result<std::process::Output, WaitError> {
    wait_capped(child, timeout, usize::MAX)
}

/// Read a stream to its end, keeping at most `cap` bytes: a child that
/// floods its output is neither blocked nor kept whole in memory.
fn drain(r: Option<impl std::io::Read>, cap: usize) -> Vec<u8> {
    let mut kept = Vec::new();
    let Some(mut r) = r else { return kept };
    let mut buf = [0u8; 8192];
    loop {
        match r.read(&mut buf) {
            Ok(0) | Err(_) => return kept,
            Ok(n) => {
                let room = cap.saturating_sub(kept.len());
                kept.extend_from_slice(&buf[..n.min(room)]);
            }
        }
    }
}

/// [`wait_with_deadline`], keeping at most `cap` bytes of each stream.
pub fn wait_capped(
    child: std::process::Child,
    timeout: Duration,
    cap: usize,
) -> Result<std::process::Output, WaitError> {
    wait_inner(child, timeout, cap, false)
}

/// [`wait_capped`] for a child started as the leader of its own process
/// group (`CommandExt::process_group(0)`): at the deadline, and once the
/// child has exited, the whole group is killed, so a background process it
/// left cannot outlive it or hold its output pipes open.
pub fn wait_capped_group(
    child: std::process::Child,
    timeout: Duration,
    cap: usize,
) -> Result<std::process::Output, WaitError> {
    wait_inner(child, timeout, cap, true)
}

fn kill_group(child: &std::process::Child) {
    let Ok(pgid) = libc::pid_t::try_from(child.id()) else {
        return;
    };
    // SAFETY: kill(2) with a negative pid signals the process group the
    // child leads; it touches no memory of ours.
    unsafe {
        libc::kill(-pgid, libc::SIGKILL);
    }
}

/// How long the output of an exited child is still read: a descendant that
/// left the process group can hold the pipes open indefinitely.
const DRAIN_GRACE: Duration = Duration::from_secs(2);

fn wait_inner(
    mut child: std::process::Child,
    timeout: Duration,
    cap: usize,
    group: bool,
) -> Result<std::process::Output, WaitError> {
    let out = child.stdout.take();
    let err = child.stderr.take();
    let (tx_out, rx_out) = std::sync::mpsc::channel();
    let (tx_err, rx_err) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx_out.send(drain(out, cap)));
    std::thread::spawn(move || tx_err.send(drain(err, cap)));
    let start = Instant::now();
    let status = loop {
        match child.try_wait().map_err(WaitError::Io)? {
            Some(s) => break s,
            None if start.elapsed() >= timeout => {
                if group {
                    kill_group(&child);
                }
                let _ = child.kill();
                let _ = child.wait();
                return Err(WaitError::Timeout);
            }
            None => std::thread::sleep(Duration::from_millis(20)),
        }
    };
    if group {
        // The group's leader is reaped but its id stays reserved while the
        // group has members, so this cannot reach another process group.
        kill_group(&child);
    }
    let deadline = Instant::now() + DRAIN_GRACE;
    let take = |rx: std::sync::mpsc::Receiver<Vec<u8>>| {
        if group {
            rx.recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .unwrap_or_default()
        } else {
            rx.recv().unwrap_or_default()
        }
    };
    Ok(std::process::Output {
        status,
        stdout: take(rx_out),
        stderr: take(rx_err),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::CommandExt;

    fn alive(mark: &str) -> bool {
        std::fs::read_dir("/proc").unwrap().flatten().any(|e| {
            std::fs::read(e.path().join("cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(mark))
        })
    }

    #[test]
    fn at_the_deadline_the_group_goes_including_a_child_ignoring_sigterm() {
        let mark = format!("sleep {}", 60_000 + std::process::id() % 9_999);
        let child = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("sh -c 'trap \"\" TERM; {mark}' & {mark}"))
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .process_group(0)
            .spawn()
            .unwrap();
        let start = Instant::now();
        let end = wait_capped_group(child, Duration::from_millis(300), 1024);
        assert!(matches!(end, Err(WaitError::Timeout)));
        // The group shares the pipes: the wait did not hang on them.
        assert!(start.elapsed() < Duration::from_secs(5));
        let until = Instant::now() + Duration::from_secs(5);
        while alive(&mark) && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(!alive(&mark), "a process of the group survived");
    }
}
