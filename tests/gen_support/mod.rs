//! Helpers shared by the generator's integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use ccci::generate::outputs::{Output, render_all};

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixture(name: &str) -> PathBuf {
    repo_root().join("tests/fixtures/registries").join(name)
}

pub fn render_dir(root: &Path) -> Vec<Output> {
    let reg = ccci::registry::load(root).unwrap_or_else(|e| panic!("{e}"));
    render_all(&reg).unwrap_or_else(|e| panic!("{e}"))
}

/// Every output in one text, `=== path ===` before each (one snapshot per registry).
pub fn joined(outputs: &[Output]) -> String {
    outputs
        .iter()
        .map(|o| format!("=== {} ===\n{}", o.path, o.text))
        .collect()
}

/// Copy a registry (ccci.toml + recipes/) into a fresh temporary directory.
pub fn copy_registry(from: &Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(from.join("ccci.toml"), dir.path().join("ccci.toml")).unwrap();
    std::fs::create_dir(dir.path().join("recipes")).unwrap();
    for e in std::fs::read_dir(from.join("recipes")).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, dir.path().join("recipes").join(p.file_name().unwrap())).unwrap();
    }
    dir
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn ccci_gen(root: &Path, args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_ccci-gen"))
        .arg("--root")
        .arg(root)
        .args(args)
        .output()
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Every file under `root` with its bytes, for "nothing was written" checks.
pub fn tree(root: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push((
                    p.strip_prefix(root).unwrap().to_path_buf(),
                    std::fs::read(&p).unwrap(),
                ));
            }
        }
    }
    out.sort();
    out
}
