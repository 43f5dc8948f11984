//! Writing the site: every file atomically (a temporary file renamed over the
//! old one, so a reader never sees half a page) and only when its content
//! changed; every write and removal is logged so callers and tests can see
//! what an update touched.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use super::DashboardError;

/// Writes and removals under the site directory, relative paths.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct WriteLog {
    pub written: Vec<String>,
    pub removed: Vec<String>,
    pub unchanged: usize,
}

pub struct Site {
    pub root: PathBuf,
    pub log: WriteLog,
}

fn io(path: &Path, source: std::io::Error) -> DashboardError {
    DashboardError::Io {
        path: path.display().to_string(),
        source,
    }
}

impl Site {
    pub fn new(root: &Path) -> Site {
        Site {
            root: root.to_owned(),
            log: WriteLog::default(),
        }
    }

    /// Write `rel` if its content differs from what is on disk.
    pub fn put(&mut self, rel: &str, content: &[u8]) -> Result<(), DashboardError> {
        let path = self.root.join(rel);
        if std::fs::read(&path).is_ok_and(|old| old == content) {
            self.log.unchanged += 1;
            return Ok(());
        }
        write_atomic(&path, content)?;
        self.log.written.push(rel.to_owned());
        Ok(())
    }

    /// Remove `rel` when it exists.
    pub fn remove(&mut self, rel: &str) -> Result<(), DashboardError> {
        let path = self.root.join(rel);
        match std::fs::remove_file(&path) {
            Ok(()) => {
                self.log.removed.push(rel.to_owned());
                Ok(())
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io(&path, e)),
        }
    }
}

/// Write through a temporary file in the same directory, then rename.
pub fn write_atomic(path: &Path, content: &[u8]) -> Result<(), DashboardError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp"));
    let mut f = std::fs::File::create(&tmp).map_err(|e| io(&tmp, e))?;
    f.write_all(content).map_err(|e| io(&tmp, e))?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(|e| io(path, e))
}

/// Every file under `dir` (relative to `root`), skipping temporary files.
pub fn files_under(root: &Path, dir: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.join(dir)];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(p);
            } else if let Ok(rel) = p.strip_prefix(root) {
                out.push(rel.to_string_lossy().into_owned());
            }
        }
    }
    out
}
