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
    mut child: std::process::Child,
    timeout: Duration,
) -> Result<std::process::Output, WaitError> {
    use std::io::Read;
    let mut out = child.stdout.take();
    let mut err = child.stderr.take();
    let t_out = std::thread::spawn(move || {
        let mut v = Vec::new();
        if let Some(o) = out.as_mut() {
            let _ = o.read_to_end(&mut v);
        }
        v
    });
    let t_err = std::thread::spawn(move || {
        let mut v = Vec::new();
        if let Some(e) = err.as_mut() {
            let _ = e.read_to_end(&mut v);
        }
        v
    });
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
