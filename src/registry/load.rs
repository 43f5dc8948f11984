//! Reading the registry from disk: file discovery and TOML parsing. Every
//! problem becomes a [`Diagnostic`] naming the file; none of them panics.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::Registry;
use super::collect::deserialize_all;
use super::error::{Diagnostic, LoadError};
use super::keys::KeyFile;
use super::model::{HostFile, RecipeFile};
use super::resolve::resolve;
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
            let mut names = Vec::new();
            for entry in entries {
                match entry {
                    Ok(e) => names.push(e.file_name()),
                    Err(e) => diagnostics.push(Diagnostic::new(
                        Path::new(RECIPES_DIR),
                        format!("cannot read the directory: {e}"),
                    )),
                }
            }
            names.sort();
            for name in names {
                let rel = Path::new(RECIPES_DIR).join(&name);
                match classify(&name, dir.join(&name).is_dir()) {
                    Entry::Ignored => {}
                    Entry::Recipe => {
                        if let Some(src) = read(root, &rel, &mut diagnostics) {
                            recipes.push(src);
                        }
                    }
                    Entry::Refused { why, help } => {
                        diagnostics.push(Diagnostic::new(&rel, why).help(help));
                    }
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
        // The files' own problems are reported with the directory's.
        Some(host) => match load_from_sources(&host, &recipes) {
            Ok(registry) if diagnostics.is_empty() => Ok(registry),
            Ok(_) => Err(sorted(diagnostics)),
            Err(mut more) => {
                diagnostics.append(&mut more.diagnostics);
                Err(sorted(diagnostics))
            }
        },
        None => {
            for src in &recipes {
                let (_, mut more) = deserialize_all::<RecipeFile>(src, KeyFile::Recipe);
                diagnostics.append(&mut more);
            }
            Err(sorted(diagnostics))
        }
    }
}

/// What an entry of `recipes/` is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    Recipe,
    /// Hidden entries (`.gitkeep`, editor swap files) are not the user's
    /// registry: they are skipped, as git and editors expect.
    Ignored,
    Refused {
        why: String,
        help: String,
    },
}

fn classify(name: &std::ffi::OsStr, is_dir: bool) -> Entry {
    let Some(name) = name.to_str() else {
        return Entry::Refused {
            why: "the file name is not UTF-8 text".to_owned(),
            help: "recipe files are named recipes/<name>.toml".to_owned(),
        };
    };
    if name.starts_with('.') {
        return Entry::Ignored;
    }
    if is_dir {
        return Entry::Refused {
            why: "is a directory, but recipes/ holds only recipe files".to_owned(),
            help: "move it out of recipes/; each recipe is one file recipes/<name>.toml".to_owned(),
        };
    }
    match name.rsplit_once('.') {
        Some((_, "toml")) => Entry::Recipe,
        Some((stem, ext)) if ext.eq_ignore_ascii_case("toml") => Entry::Refused {
            why: format!("the extension `.{ext}` must be written `.toml`, in lowercase"),
            help: format!("rename it to recipes/{stem}.toml"),
        },
        _ => {
            let stem = name.rsplit_once('.').map_or(name, |(s, _)| s);
            Entry::Refused {
                why: "is not a recipe file: recipes/ holds only files named <name>.toml".to_owned(),
                help: format!(
                    "if it is a recipe, rename it to recipes/{}.toml (TOML, named after the recipe); otherwise move it out of recipes/",
                    suggest_name(stem).unwrap_or_else(|| "<name>".to_owned())
                ),
            }
        }
    }
}

/// A valid recipe name close to `stem` (`Foo Bar` → `foo-bar`), if there is one.
fn suggest_name(stem: &str) -> Option<String> {
    let mut out = String::new();
    for c in stem.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let out = out.trim_matches('-').to_owned();
    out.parse::<RecipeName>().ok().map(|n| n.to_string())
}

fn sorted(mut diagnostics: Vec<Diagnostic>) -> LoadError {
    // Files in the order they were named (host first, then recipes by name),
    // problems within a file in the order of their lines.
    diagnostics.sort_by(|a, b| {
        let rank = |d: &Diagnostic| d.file != Path::new(HOST_FILE);
        (rank(a), &a.file, a.position).cmp(&(rank(b), &b.file, b.position))
    });
    LoadError { diagnostics }
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
    let (host_file, mut diagnostics) = deserialize_all::<HostFile>(host, KeyFile::Host);
    let mut parsed = Vec::new();
    // Every well-named file is enrolled, even one with problems, so that a
    // recipe depending on it is not also told it does not exist.
    let mut enrolled = BTreeSet::new();
    for src in recipes {
        let stem = src
            .path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        let name = match stem.parse::<RecipeName>() {
            Ok(name) => Some(name),
            Err(why) => {
                let help = match suggest_name(stem) {
                    Some(s) => format!("rename it to recipes/{s}.toml"),
                    None => "rename the file, e.g. recipes/custom-html.toml".to_owned(),
                };
                diagnostics.push(
                    Diagnostic::new(
                        &src.path,
                        format!("the file name gives the recipe name: {why}"),
                    )
                    .help(help),
                );
                None
            }
        };
        let (file, mut more) = deserialize_all::<RecipeFile>(src, KeyFile::Recipe);
        diagnostics.append(&mut more);
        if let Some(name) = &name {
            enrolled.insert(name.clone());
        }
        if let (Some(name), Some(file)) = (name, file) {
            parsed.push((name, src, file));
        }
    }
    let Some(host_file) = host_file else {
        return Err(sorted(diagnostics));
    };
    // Files with problems were read as far as possible: the rules between
    // keys and files still run on what was read, so one run reports all.
    match resolve(host, host_file, parsed, &enrolled) {
        Ok(registry) if diagnostics.is_empty() => Ok(registry),
        Ok(_) => Err(sorted(diagnostics)),
        Err(mut more) => {
            diagnostics.append(&mut more);
            Err(sorted(diagnostics))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    #[test]
    fn only_lowercase_toml_files_are_recipes() {
        assert_eq!(classify(OsStr::new("keycloak.toml"), false), Entry::Recipe);
        assert_eq!(classify(OsStr::new(".gitkeep"), false), Entry::Ignored);
        assert_eq!(
            classify(OsStr::new(".keycloak.toml.swp"), false),
            Entry::Ignored
        );
        let Entry::Refused { why, help } = classify(OsStr::new("foo.TOML"), false) else {
            panic!()
        };
        assert!(why.contains("`.TOML`"), "{why}");
        assert_eq!(help, "rename it to recipes/foo.toml");
        let Entry::Refused { why, help } = classify(OsStr::new("Foo Bar.yml"), false) else {
            panic!()
        };
        assert!(why.contains("<name>.toml"), "{why}");
        assert!(help.contains("recipes/foo-bar.toml"), "{help}");
        assert!(matches!(
            classify(OsStr::new("keycloak.toml"), true),
            Entry::Refused { .. }
        ));
        assert!(matches!(
            classify(OsStr::new("README"), false),
            Entry::Refused { .. }
        ));
    }

    #[test]
    fn suggested_names_are_valid_recipe_names() {
        assert_eq!(suggest_name("Foo Bar").as_deref(), Some("foo-bar"));
        assert_eq!(suggest_name("Bad_Name").as_deref(), Some("bad-name"));
        assert_eq!(suggest_name("9lives"), None);
        assert_eq!(suggest_name("---"), None);
    }
}
