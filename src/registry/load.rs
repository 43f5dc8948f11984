//! Reading the registry from disk: file discovery and TOML parsing. Every
//! problem becomes a [`Diagnostic`] naming the file; none of them panics.

use std::path::{Path, PathBuf};

use super::Registry;
use super::error::{Diagnostic, LoadError, MISSING_KEY, from_toml};
use super::model::{HostFile, RecipeFile};
use super::resolve::resolve;
use super::spans::key_at;
use super::values::RecipeName;

/// The host file, relative to the registry root.
pub const HOST_FILE: &str = "ccci.toml";
/// The directory of recipe files, relative to the registry root.
pub const RECIPES_DIR: &str = "recipes";

/// One registry file's name (as shown in messages) and text.
#[derive(Debug, Clone)]
pub struct Source {
    pub path: PathBuf,
    pub text: String,
}

/// Load the registry rooted at `root` (the repository root).
pub fn load(root: &Path) -> Result<Registry, LoadError> {
    let mut diagnostics = Vec::new();
    let host = read(root, Path::new(HOST_FILE), &mut diagnostics);
    let mut recipes = Vec::new();
    let dir = root.join(RECIPES_DIR);
    match std::fs::read_dir(&dir) {
        Ok(entries) => {
            let mut names: Vec<PathBuf> = entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "toml"))
                .filter_map(|p| p.file_name().map(PathBuf::from))
                .collect();
            names.sort();
            for name in names {
                let rel = Path::new(RECIPES_DIR).join(name);
                if let Some(src) = read(root, &rel, &mut diagnostics) {
                    recipes.push(src);
                }
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => diagnostics.push(Diagnostic::new(
            Path::new(RECIPES_DIR),
            format!("cannot read the directory: {e}"),
        )),
    }
    match host {
        Some(host) if diagnostics.is_empty() => load_from_sources(&host, &recipes),
        _ => Err(LoadError { diagnostics }),
    }
}

fn read(root: &Path, rel: &Path, diagnostics: &mut Vec<Diagnostic>) -> Option<Source> {
    match std::fs::read_to_string(root.join(rel)) {
        Ok(text) => Some(Source {
            path: rel.to_owned(),
            text,
        }),
        Err(e) => {
            let why = match e.kind() {
                std::io::ErrorKind::NotFound => "file not found".to_owned(),
                std::io::ErrorKind::InvalidData => "file is not UTF-8 text".to_owned(),
                _ => format!("cannot read the file: {e}"),
            };
            diagnostics.push(Diagnostic::new(rel, why));
            None
        }
    }
}

/// Load from sources already in memory (tests, benchmarks).
pub fn load_from_sources(host: &Source, recipes: &[Source]) -> Result<Registry, LoadError> {
    let mut diagnostics = Vec::new();
    let host_file: Option<HostFile> = parse(host, &mut diagnostics);
    let mut parsed = Vec::new();
    for src in recipes {
        let stem = src
            .path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        let name = match stem.parse::<RecipeName>() {
            Ok(name) => Some(name),
            Err(why) => {
                diagnostics.push(
                    Diagnostic::new(
                        &src.path,
                        format!("the file name gives the recipe name: {why}"),
                    )
                    .help("rename the file, e.g. recipes/custom-html.toml"),
                );
                None
            }
        };
        let file: Option<RecipeFile> = parse(src, &mut diagnostics);
        if let (Some(name), Some(file)) = (name, file) {
            parsed.push((name, src, file));
        }
    }
    let Some(host_file) = host_file else {
        return Err(LoadError { diagnostics });
    };
    match resolve(host, host_file, parsed) {
        Ok(registry) if diagnostics.is_empty() => Ok(registry),
        Ok(_) => Err(LoadError { diagnostics }),
        Err(mut more) => {
            diagnostics.append(&mut more);
            Err(LoadError { diagnostics })
        }
    }
}

fn parse<T: serde::de::DeserializeOwned>(
    src: &Source,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<T> {
    match toml::from_str::<T>(&src.text) {
        Ok(v) => Some(v),
        Err(err) => {
            let mut d = from_toml(&src.path, &src.text, &err);
            // serde knows the failing value's span but not its key: find it, and
            // for an unknown key keep the full dotted path.
            if let Some(at) = err.span().and_then(|s| key_at(&src.text, s.start)) {
                d.key = Some(match (&d.key, d.message.as_str()) {
                    // A missing key's span is its table: name both.
                    (Some(field), MISSING_KEY) => format!("{at}.{field}"),
                    _ => at,
                });
            }
            diagnostics.push(d);
            None
        }
    }
}
