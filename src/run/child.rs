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
    mut child: std::process::Child,
    timeout: Duration,
    cap: usize,
) -> Result<std::process::Output, WaitError> {
    let out = child.stdout.take();
    let err = child.stderr.take();
    let t_out = std::thread::spawn(move || drain(out, cap));
    let t_err = std::thread::spawn(move || drain(err, cap));
    let start = Instant::now();
    let status = loop {
        match child.try_wait().map_err(WaitError::Io)? {
            Some(s) => break s,
            None if start.elapsed() >= timeout => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(WaitError::Timeout);
            }
            None => std::thread::sleep(Duration::from_millis(20)),
        }
    };
    Ok(std::process::Output {
        status,
        stdout: t_out.join().unwrap_or_default(),
        stderr: t_err.join().unwrap_or_default(),
    })
}
