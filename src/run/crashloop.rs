//! Crash loops fail fast: while the run waits for an app to become healthy
//! it also looks at the swarm's tasks, and stops waiting when a service
//! keeps failing, instead of holding a runner slot for the whole deploy
//! timeout. The decision is [`judge`], a pure function of what the platform
//! showed; `super::steps::wait_healthy` performs the looking.
//!
//! Swarm restarts a failed task after its restart delay
//! (docs/docker.md, "Crash loops"), so a service whose task failed may
//! still come up — a database not ready yet is the common
//! case. A service is judged crash-looping when it failed and has still not
//! converged [`GRACE`] after its first failed task was seen; a rolled back or
//! paused update of a service that is not running stops the wait at once.

use std::time::{Duration, Instant};

use super::platform::{AppRef, Platform, ServiceState, TaskState};
use super::world::Clock;

/// How long a service with a failed task may take to converge anyway.
pub const GRACE: Duration = Duration::from_secs(20);

/// How often tasks are looked at while waiting (each look is a
/// `docker service ps` per service).
pub const LOOK_EVERY: Duration = Duration::from_secs(2);

/// Log lines of the failing service kept in the results.
pub const LOG_LINES: u32 = 20;

/// A failed or rejected task: what swarm shows for an exit, an OOM kill, a
/// missing image or secret.
pub fn is_failure(t: &TaskState) -> bool {
    matches!(t.state.as_str(), "failed" | "rejected")
}

/// Why the wait must stop: the service to blame and what it did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrashLoop {
    pub service: String,
    pub why: String,
    /// The distinct task errors of the service, newest first as listed.
    pub errors: Vec<String>,
}

/// Decide from the services, their tasks and how long ago the first failed
/// task was seen (`None`: none seen yet).
pub fn judge(
    services: &[ServiceState],
    tasks: &[TaskState],
    failing_for: Option<Duration>,
) -> Option<CrashLoop> {
    let errors_of = |svc: &str| {
        let mut v: Vec<String> = Vec::new();
        for t in tasks.iter().filter(|t| t.service == svc && is_failure(t)) {
            let e = if t.error.is_empty() {
                t.state.clone()
            } else {
                t.error.clone()
            };
            if !v.contains(&e) {
                v.push(e);
            }
        }
        v
    };
    for s in services {
        let state = s.update_state.as_deref().unwrap_or("");
        // A rollback that converged runs the previous spec: the upgrade
        // lane judges that itself, with its own reason.
        if (s.rolled_back() || state == "paused") && !s.converged() {
            return Some(CrashLoop {
                service: s.name.clone(),
                why: format!("its update was {}", state.replace('_', " ")),
                errors: errors_of(&s.name),
            });
        }
    }
    let failing_for = failing_for?;
    if failing_for < GRACE {
        return None;
    }
    let mut names: Vec<&str> = tasks
        .iter()
        .filter(|t| is_failure(t))
        .map(|t| t.service.as_str())
        .collect();
    names.dedup();
    names.into_iter().find_map(|name| {
        let converged = services
            .iter()
            .find(|s| s.name == name)
            .is_some_and(ServiceState::converged);
        if converged {
            return None;
        }
        let count = tasks
            .iter()
            .filter(|t| t.service == name && is_failure(t))
            .count();
        Some(CrashLoop {
            service: name.to_owned(),
            why: format!(
                "{count} failed task{}, not running {} s after the first",
                if count == 1 { "" } else { "s" },
                failing_for.as_secs()
            ),
            errors: errors_of(name),
        })
    })
}

/// The rung's reason: the service, the task errors and its last log lines.
pub fn reason(c: &CrashLoop, logs: &str) -> String {
    let mut s = format!("crash loop: {}: {}", c.service, c.why);
    if !c.errors.is_empty() {
        s.push_str(&format!("; task errors: {}", c.errors.join("; ")));
    }
    let lines: Vec<&str> = logs.lines().filter(|l| !l.trim().is_empty()).collect();
    if !lines.is_empty() {
        s.push_str("; last log lines:\n");
        s.push_str(&lines.join("\n"));
    }
    s
}

/// The looking, for one wait: when it last looked and when it first saw a
/// failed task. A thin layer over [`judge`].
#[derive(Debug, Default)]
pub struct Watch {
    last_look: Option<Instant>,
    first_failure: Option<Instant>,
}

impl Watch {
    /// Look at the tasks if [`LOOK_EVERY`] passed; `Some(reason)` when the
    /// wait must stop. A platform that cannot list tasks never stops it.
    pub fn look(
        &mut self,
        platform: &dyn Platform,
        clock: &dyn Clock,
        app: &AppRef,
    ) -> Option<String> {
        let now = clock.now();
        if self
            .last_look
            .is_some_and(|t| now.saturating_duration_since(t) < LOOK_EVERY)
        {
            return None;
        }
        self.last_look = Some(now);
        let tasks = platform.tasks(app).ok()?;
        if self.first_failure.is_none() && tasks.iter().any(is_failure) {
            self.first_failure = Some(now);
        }
        let services = platform.services(app).ok()?;
        let failing_for = self.first_failure.map(|t| now.saturating_duration_since(t));
        let c = judge(&services, &tasks, failing_for)?;
        let logs = platform
            .logs(app, &c.service, LOG_LINES)
            .unwrap_or_else(|e| format!("(no logs: {e})"));
        Some(reason(&c, &logs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svc(name: &str, running: u32, update: Option<&str>) -> ServiceState {
        ServiceState {
            name: name.into(),
            running,
            desired: 1,
            update_state: update.map(Into::into),
            ..ServiceState::default()
        }
    }

    fn task(service: &str, state: &str, error: &str) -> TaskState {
        TaskState {
            service: service.into(),
            state: state.into(),
            error: error.into(),
        }
    }

    #[test]
    fn a_failure_gets_its_grace_then_stops_the_wait() {
        let s = [svc("a_app", 0, None), svc("a_db", 1, None)];
        let t = [
            task("a_app", "failed", "task: non-zero exit (1)"),
            task("a_app", "failed", "task: non-zero exit (1)"),
            task("a_db", "running", ""),
        ];
        assert_eq!(judge(&s, &t, None), None);
        assert_eq!(judge(&s, &t, Some(Duration::from_secs(19))), None);
        let c = judge(&s, &t, Some(GRACE)).unwrap();
        assert_eq!(c.service, "a_app");
        assert_eq!(c.errors, ["task: non-zero exit (1)"]);
        assert!(c.why.starts_with("2 failed tasks"), "{}", c.why);
    }

    #[test]
    fn a_service_that_came_up_after_failing_is_not_a_crash_loop() {
        let s = [svc("a_app", 1, None)];
        let t = [task("a_app", "failed", "x"), task("a_app", "running", "")];
        assert_eq!(judge(&s, &t, Some(Duration::from_secs(60))), None);
    }

    #[test]
    fn a_rejection_counts_and_a_rollback_or_pause_stops_at_once() {
        let s = [svc("a_app", 0, None)];
        let t = [task("a_app", "rejected", "No such image: x")];
        let c = judge(&s, &t, Some(GRACE)).unwrap();
        assert_eq!(c.errors, ["No such image: x"]);
        for state in ["rollback_completed", "paused"] {
            let s = [svc("a_app", 0, Some(state))];
            let c = judge(&s, &[], None).unwrap();
            assert!(c.why.contains(&state.replace('_', " ")), "{}", c.why);
            // Converged on the previous spec: the upgrade lane's to judge.
            assert_eq!(judge(&[svc("a_app", 1, Some(state))], &[], None), None);
        }
    }

    #[test]
    fn the_reason_carries_errors_and_log_lines() {
        let c = CrashLoop {
            service: "a_app".into(),
            why: "3 failed tasks".into(),
            errors: vec!["task: non-zero exit (1)".into()],
        };
        let r = reason(&c, "starting\n\nError: no config\n");
        assert_eq!(
            r,
            "crash loop: a_app: 3 failed tasks; task errors: task: non-zero exit (1); last log lines:\nstarting\nError: no config"
        );
    }
}
