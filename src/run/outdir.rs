//! The run's directories on disk: the output directory (`--out`), checked
//! before anything is deployed, and the private work directory the run
//! creates inside it — the one thing a run ever deletes.
//!
//! Modes are set explicitly (directories 0755, files 0644) whatever the
//! caller's umask: the bridge reads the artifacts as another user.

use std::fs;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Mode of the output directory and every directory made for it.
pub const DIR_MODE: u32 = 0o755;
/// Mode of every artifact.
pub const FILE_MODE: u32 = 0o644;
/// Mode of the work directory: clones and env edits, nobody else's business.
pub const WORK_MODE: u32 = 0o700;

/// Why the output directory cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum OutDirError {
    #[error("--out {0}: exists and is not a directory")]
    NotADir(String),
    #[error("--out {0}: must be absent or empty, and holds {1}")]
    NotEmpty(String, String),
    #[error("--out {0}: cannot create or write it: {1}")]
    Io(String, std::io::Error),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> OutDirError + '_ {
    move |e| OutDirError::Io(path.display().to_string(), e)
}

/// Make sure `out` is a usable output directory: absent (then created, with
/// any missing parents, mode 0755) or an empty directory. Writability is
/// proven by creating the work directory in it ([`WorkDir::create`]).
pub fn prepare_out(out: &Path) -> Result<(), OutDirError> {
    match fs::metadata(out) {
        Ok(m) if !m.is_dir() => Err(OutDirError::NotADir(out.display().to_string())),
        Ok(_) => {
            let mut entries = fs::read_dir(out).map_err(io(out))?;
            match entries.next() {
                None => Ok(()),
                Some(e) => {
                    let name = e
                        .map(|e| e.file_name().to_string_lossy().into_owned())
                        .unwrap_or_else(|e| e.to_string());
                    Err(OutDirError::NotEmpty(out.display().to_string(), name))
                }
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => create_dirs(out).map_err(io(out)),
        Err(e) => Err(io(out)(e)),
    }
}

/// Create `dir` and its missing parents, each with [`DIR_MODE`] set
/// explicitly (the umask would otherwise decide).
fn create_dirs(dir: &Path) -> std::io::Result<()> {
    let missing: Vec<&Path> = dir.ancestors().take_while(|p| !p.exists()).collect();
    for d in missing.into_iter().rev() {
        match fs::DirBuilder::new().mode(DIR_MODE).create(d) {
            Ok(()) => fs::set_permissions(d, fs::Permissions::from_mode(DIR_MODE))?,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The run's private work directory: created by [`WorkDir::create`] (which
/// fails if anything is already there), removed by [`WorkDir::remove`] —
/// and nothing else is ever removed.
#[derive(Debug)]
pub struct WorkDir {
    path: PathBuf,
}

impl WorkDir {
    /// `<out>/work`, new, mode 0700.
    pub fn create(out: &Path) -> Result<WorkDir, OutDirError> {
        let path = out.join("work");
        fs::DirBuilder::new()
            .mode(WORK_MODE)
            .create(&path)
            .map_err(io(out))?;
        fs::set_permissions(&path, fs::Permissions::from_mode(WORK_MODE)).map_err(io(out))?;
        Ok(WorkDir { path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Delete the work directory, which this run created.
    pub fn remove(self) -> std::io::Result<()> {
        fs::remove_dir_all(&self.path)
    }
}

/// Give `out` and every file and directory in it the artifact modes.
pub fn set_modes(out: &Path) -> std::io::Result<()> {
    fs::set_permissions(out, fs::Permissions::from_mode(DIR_MODE))?;
    for e in fs::read_dir(out)? {
        let e = e?;
        let t = e.file_type()?;
        if t.is_dir() {
            set_modes(&e.path())?;
        } else if t.is_file() {
            fs::set_permissions(e.path(), fs::Permissions::from_mode(FILE_MODE))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_absent_out_is_created_with_its_parents_at_0755() {
        let t = tempfile::tempdir().unwrap();
        let out = t.path().join("a/b/out");
        prepare_out(&out).unwrap();
        for d in [t.path().join("a"), t.path().join("a/b"), out.clone()] {
            let mode = fs::metadata(&d).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o755, "{}", d.display());
        }
    }

    #[test]
    fn an_out_that_holds_anything_or_is_a_file_is_refused() {
        let t = tempfile::tempdir().unwrap();
        fs::write(t.path().join("keep"), "x").unwrap();
        let e = prepare_out(t.path()).unwrap_err().to_string();
        assert!(
            e.contains("must be absent or empty") && e.contains("keep"),
            "{e}"
        );
        let e = prepare_out(&t.path().join("keep")).unwrap_err().to_string();
        assert!(e.contains("not a directory"), "{e}");
    }

    #[test]
    fn the_work_dir_is_private_new_and_the_only_thing_removed() {
        let t = tempfile::tempdir().unwrap();
        let out = t.path().join("out");
        prepare_out(&out).unwrap();
        let w = WorkDir::create(&out).unwrap();
        assert_eq!(
            fs::metadata(w.path()).unwrap().permissions().mode() & 0o777,
            0o700
        );
        assert!(
            WorkDir::create(&out).is_err(),
            "a second one must not reuse it"
        );
        fs::write(out.join("results.json"), "{}").unwrap();
        w.remove().unwrap();
        assert!(!out.join("work").exists());
        assert!(out.join("results.json").exists());
    }

    #[test]
    fn artifacts_get_fixed_modes_whatever_they_had() {
        let t = tempfile::tempdir().unwrap();
        let f = t.path().join("results.json");
        fs::write(&f, "{}").unwrap();
        fs::set_permissions(&f, fs::Permissions::from_mode(0o600)).unwrap();
        fs::set_permissions(t.path(), fs::Permissions::from_mode(0o700)).unwrap();
        set_modes(t.path()).unwrap();
        assert_eq!(
            fs::metadata(&f).unwrap().permissions().mode() & 0o777,
            0o644
        );
        assert_eq!(
            fs::metadata(t.path()).unwrap().permissions().mode() & 0o777,
            0o755
        );
    }
}
