//! The production sources of an interruption, each feeding the run's one
//! [`Cancel`] token (`super::interrupt`): SIGTERM, SIGINT and SIGHUP (a
//! runner restart, `nixos-rebuild switch`, a reboot, Ctrl-C, a closed
//! terminal), and the death of the parent process.
//!
//! Signals only set the token: the process never dies of them, so a second
//! signal while the apps are being torn down changes nothing but a log line.
//!
//! The parent is watched by polling `getppid()` rather than with
//! `PR_SET_PDEATHSIG`: the death signal fires when the parent *thread* that
//! forked us ends (a multi-threaded supervisor spawning from a worker thread
//! would cancel healthy runs), it would take a signal number away from the
//! ones above (and its reason from the report), and it needs `unsafe` FFI.
//! A poll every 250 ms costs nothing and also catches a parent that died
//! between our start and the watch being set up. A Drone exec runner that
//! cancels a build kills only the step's shell; we are then re-parented (to
//! PID 1 or a subreaper), which the poll sees as a changed parent id.

use std::time::Duration;

use super::interrupt::Cancel;
use super::progress::Progress;

/// The reason recorded when the parent is gone.
pub const PARENT_GONE: &str = "cancelled: the build's shell is gone";

/// How often the parent id is looked at.
const PARENT_POLL: Duration = Duration::from_millis(250);

/// Turn SIGTERM, SIGINT and SIGHUP into cancellations of `cancel`, from now
/// until the process exits.
pub fn watch_signals(cancel: Cancel, progress: Progress) -> std::io::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    // Registered here, before returning, so no signal between this call and
    // the watcher thread's start falls to the default action (death).
    let (mut term, mut int, mut hup) = rt.block_on(async {
        Ok::<_, std::io::Error>((
            signal(SignalKind::terminate())?,
            signal(SignalKind::interrupt())?,
            signal(SignalKind::hangup())?,
        ))
    })?;
    std::thread::Builder::new()
        .name("ccci-signals".into())
        .spawn(move || {
            rt.block_on(async move {
                loop {
                    let name = tokio::select! {
                        _ = term.recv() => "SIGTERM",
                        _ = int.recv() => "SIGINT",
                        _ = hup.recv() => "SIGHUP",
                    };
                    announce(&cancel, &progress, &format!("interrupted by {name}"));
                }
            });
        })?;
    Ok(())
}

/// Cancel the run when the parent process goes away.
pub fn watch_parent(cancel: Cancel, progress: Progress) -> std::io::Result<()> {
    let parent = std::os::unix::process::parent_id();
    if parent == 1 {
        // Started by init itself: there is no shell whose death could mean
        // a cancelled build.
        return Ok(());
    }
    std::thread::Builder::new()
        .name("ccci-parent".into())
        .spawn(move || {
            loop {
                if std::os::unix::process::parent_id() != parent {
                    announce(&cancel, &progress, PARENT_GONE);
                    return;
                }
                std::thread::sleep(PARENT_POLL);
            }
        })?;
    Ok(())
}

fn announce(cancel: &Cancel, progress: &Progress, why: &str) {
    match cancel.reason() {
        None => {
            cancel.cancel(why);
            progress.line(
                "run",
                &format!("{why}: stopping, then tearing every app down"),
            );
        }
        Some(first) => progress.line(
            "run",
            &format!("{why} while stopping ({first}): the teardown goes on"),
        ),
    }
}
