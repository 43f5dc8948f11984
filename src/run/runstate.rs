//! What a live run leaves on disk for the janitor (`super::janitor`): one
//! lock file per app domain, held (`flock`) from before the app is created
//! until the process ends, and one state record per run (run id, pid, start,
//! deadline, its apps). A held lock means a live run; the kernel drops it
//! when the process dies, however it dies. Paths: `crate::names::files`.

use std::collections::BTreeSet;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use super::platform::{AppRef, OpError, Platform, ServiceState, TaskState, TeardownReport};
use crate::names::files::{app_lock_file, run_record_file};

/// A run as the janitor sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRecord {
    pub run_id: String,
    pub pid: u32,
    pub started_unix: u64,
    /// When the run must have ended, teardown included.
    pub deadline_unix: u64,
    /// The domains of the apps it created (or was about to).
    pub apps: BTreeSet<String>,
}

impl RunRecord {
    pub fn write(&self, state_dir: &Path) -> io::Result<()> {
        let path = run_record_file(state_dir, &self.run_id);
        if let Some(d) = path.parent() {
            fs::create_dir_all(d)?;
        }
        let tmp = path.with_extension("json.tmp");
        fs::write(
            &tmp,
            serde_json::to_vec_pretty(self).map_err(io::Error::other)?,
        )?;
        fs::rename(tmp, path)
    }

    /// Every record in the state directory (unreadable ones skipped).
    pub fn read_all(state_dir: &Path) -> Vec<RunRecord> {
        let Ok(entries) = fs::read_dir(state_dir.join("runs")) else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
            .filter_map(|e| fs::read(e.path()).ok())
            .filter_map(|b| serde_json::from_slice(&b).ok())
            .collect()
    }

    pub fn remove(state_dir: &Path, run_id: &str) {
        let _ = fs::remove_file(run_record_file(state_dir, run_id));
    }
}

/// A held lock on one app domain; released when dropped.
#[derive(Debug)]
pub struct AppLock {
    _file: File,
    pub path: PathBuf,
}

/// Take the lock of `domain` if nobody holds it (`Ok(None)` if somebody does).
pub fn try_lock(state_dir: &Path, domain: &str) -> io::Result<Option<AppLock>> {
    let path = app_lock_file(state_dir, domain);
    if let Some(d) = path.parent() {
        fs::create_dir_all(d)?;
    }
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)?;
    match file.try_lock() {
        Ok(()) => Ok(Some(AppLock { _file: file, path })),
        Err(fs::TryLockError::WouldBlock) => Ok(None),
        Err(fs::TryLockError::Error(e)) => Err(e),
    }
}

/// Whether a live process holds the lock of `domain` (a missing lock file
/// is not held).
pub fn is_held(state_dir: &Path, domain: &str) -> io::Result<bool> {
    let path = app_lock_file(state_dir, domain);
    let file = match OpenOptions::new().write(true).open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    match file.try_lock() {
        Ok(()) => Ok(false),
        Err(fs::TryLockError::WouldBlock) => Ok(true),
        Err(fs::TryLockError::Error(e)) => Err(e),
    }
}

/// The production platform with the run's bookkeeping: before an app is
/// created its domain is locked and added to the run's record; the locks
/// are held until this value is dropped (the end of the run).
pub struct Claiming<P> {
    inner: P,
    state_dir: PathBuf,
    record: Mutex<RunRecord>,
    locks: Mutex<Vec<AppLock>>,
}

impl<P: Platform> Claiming<P> {
    pub fn new(inner: P, state_dir: PathBuf, record: RunRecord) -> io::Result<Self> {
        record.write(&state_dir)?;
        Ok(Claiming {
            inner,
            state_dir,
            record: Mutex::new(record),
            locks: Mutex::default(),
        })
    }

    fn claim(&self, domain: &str) -> Result<(), OpError> {
        let infra = |e: io::Error| OpError::Infra(format!("locking {domain}: {e}"));
        let lock = try_lock(&self.state_dir, domain)
            .map_err(infra)?
            .ok_or_else(|| OpError::Infra(format!("{domain} is locked by another run")))?;
        self.locks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(lock);
        let mut r = self.record.lock().unwrap_or_else(|p| p.into_inner());
        r.apps.insert(domain.to_owned());
        r.write(&self.state_dir).map_err(infra)
    }
}

impl<P> Drop for Claiming<P> {
    fn drop(&mut self) {
        let r = self.record.lock().unwrap_or_else(|p| p.into_inner());
        RunRecord::remove(&self.state_dir, &r.run_id);
        // The lock files stay: removing one while a janitor has it open
        // would let two processes lock two different files for one domain.
    }
}

impl<P: Platform> Platform for Claiming<P> {
    fn app_new(&self, app: &AppRef) -> Result<(), OpError> {
        self.claim(&app.domain)?;
        self.inner.app_new(app)
    }
    fn set_env(&self, app: &AppRef, edits: &[(String, String)]) -> Result<(), OpError> {
        self.inner.set_env(app, edits)
    }
    fn env(&self, app: &AppRef) -> Result<crate::envfile::EnvFile, OpError> {
        self.inner.env(app)
    }
    fn secret_generate(&self, app: &AppRef) -> Result<(), OpError> {
        self.inner.secret_generate(app)
    }
    fn secret_generate_one(&self, app: &AppRef, name: &str, version: &str) -> Result<(), OpError> {
        self.inner.secret_generate_one(app, name, version)
    }
    fn secret_insert_file(
        &self,
        app: &AppRef,
        name: &str,
        version: &str,
        file: &Path,
    ) -> Result<(), OpError> {
        self.inner.secret_insert_file(app, name, version, file)
    }
    /// Forwarded: the values must reach the masker, interrupted or not.
    fn take_secret_values(&self, app: &AppRef) -> Vec<String> {
        self.inner.take_secret_values(app)
    }
    fn secrets(&self, app: &AppRef) -> Result<Vec<String>, OpError> {
        self.inner.secrets(app)
    }
    fn deploy(&self, app: &AppRef, redeploy: bool) -> Result<(), OpError> {
        self.inner.deploy(app, redeploy)
    }
    fn services(&self, app: &AppRef) -> Result<Vec<ServiceState>, OpError> {
        self.inner.services(app)
    }
    fn replicas(&self, app: &AppRef) -> Result<Vec<ServiceState>, OpError> {
        self.inner.replicas(app)
    }
    fn tasks(&self, app: &AppRef) -> Result<Vec<TaskState>, OpError> {
        self.inner.tasks(app)
    }
    fn logs(&self, app: &AppRef, service: &str, lines: u32) -> Result<String, OpError> {
        self.inner.logs(app, service, lines)
    }
    fn exec(&self, app: &AppRef, service: &str, script: &str) -> Result<String, OpError> {
        self.inner.exec(app, service, script)
    }
    fn backup_create(&self, app: &AppRef) -> Result<(), OpError> {
        self.inner.backup_create(app)
    }
    fn backup_holds(&self, app: &AppRef, needle: &str) -> Result<bool, OpError> {
        self.inner.backup_holds(app, needle)
    }
    fn restore(&self, app: &AppRef) -> Result<(), OpError> {
        self.inner.restore(app)
    }
    fn lint(&self, abra_dir: &Path, recipe: &str) -> Result<String, OpError> {
        self.inner.lint(abra_dir, recipe)
    }
    fn teardown(&self, app: &AppRef) -> TeardownReport {
        self.inner.teardown(app)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lock_is_exclusive_until_dropped() {
        let t = tempfile::tempdir().unwrap();
        assert!(!is_held(t.path(), "a.ci").unwrap());
        let l = try_lock(t.path(), "a.ci").unwrap().unwrap();
        assert!(is_held(t.path(), "a.ci").unwrap());
        assert!(try_lock(t.path(), "a.ci").unwrap().is_none());
        drop(l);
        assert!(!is_held(t.path(), "a.ci").unwrap());
    }

    #[test]
    fn records_round_trip() {
        let t = tempfile::tempdir().unwrap();
        let r = RunRecord {
            run_id: "abc".into(),
            pid: 7,
            started_unix: 1,
            deadline_unix: 2,
            apps: ["a.ci".to_owned()].into(),
        };
        r.write(t.path()).unwrap();
        assert_eq!(RunRecord::read_all(t.path()), [r]);
        RunRecord::remove(t.path(), "abc");
        assert!(RunRecord::read_all(t.path()).is_empty());
    }
}
