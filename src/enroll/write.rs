//! `ccci-gen enroll` end to end: open the recipe, read it, propose, check the
//! text with the registry's own loader (with the host and every other
//! enrolled recipe), then write it atomically. An existing file is replaced
//! only with `force`.

use std::path::{Path, PathBuf};

use super::compose::{self, Compose};
use super::propose::{Inputs, Proposal, propose};
use super::sample::{self, SAMPLE_FILE, Sample};
use super::source::{self, Checkout};
use super::{At, EnrollError, document};
use crate::registry::values::RecipeName;
use crate::registry::{self, HOST_FILE, RECIPES_DIR, Source};
use crate::tools::git::Git;

/// The command line of `ccci-gen enroll`.
#[derive(Debug, Clone)]
pub struct EnrollOptions {
    /// A git URL or a local path.
    pub source: String,
    pub name: Option<String>,
    pub force: bool,
    /// The registry root (holding `ccci.toml` and `recipes/`).
    pub registry: PathBuf,
}

/// What was written.
#[derive(Debug)]
pub struct Enrolled {
    pub path: PathBuf,
    pub text: String,
    pub proposal: Proposal,
}

/// The sample domain used when a recipe has no `DOMAIN` line: labels still
/// need a host to match against.
const FALLBACK_DOMAIN: &str = "app.example.com";

/// Read the recipe in `dir`: its sample and the compose files the sample selects.
pub fn read_recipe(dir: &Path) -> Result<(Sample, Compose, String), EnrollError> {
    let text = match std::fs::read_to_string(dir.join(SAMPLE_FILE)) {
        Ok(t) => Some(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            return Err(EnrollError::Read {
                path: SAMPLE_FILE.into(),
                why: e.to_string(),
            });
        }
    };
    let sample = sample::parse(text.as_deref());
    if !dir.join("compose.yml").is_file() {
        return Err(EnrollError::NoCompose {
            dir: dir.display().to_string(),
        });
    }
    let mut vars = sample.vars.clone();
    let domain = vars
        .get("DOMAIN")
        .filter(|d| !d.is_empty())
        .cloned()
        .unwrap_or_else(|| FALLBACK_DOMAIN.to_owned());
    vars.insert("DOMAIN".into(), domain.clone());
    vars.insert(
        "STACK_NAME".into(),
        crate::names::stack::stack_name(&domain),
    );
    let mut files = Vec::new();
    for f in &sample.chain {
        let text = crate::run::policy::select::read_in(dir, f).map_err(|why| {
            EnrollError::MissingComposeFile {
                at: sample
                    .chain_at
                    .clone()
                    .unwrap_or_else(|| At::new(SAMPLE_FILE, 1)),
                file: f.clone(),
                why,
            }
        })?;
        files.push((f.clone(), text));
    }
    let compose = compose::read(files, &vars)?;
    Ok((sample, compose, domain))
}

/// The recipe's name: `--name`, else the sample's `TYPE`, else the source's
/// last path segment.
fn name_of(
    opts: &EnrollOptions,
    sample: &Sample,
    checkout: &Checkout,
) -> Result<RecipeName, EnrollError> {
    let name = opts
        .name
        .clone()
        .or_else(|| {
            ["TYPE", "RECIPE"]
                .iter()
                .find_map(|k| sample.get(k).map(|a| a.value.clone()))
                .filter(|v| !v.is_empty())
        })
        .unwrap_or_else(|| source::base_name(&checkout.origin));
    name.parse()
        .map_err(|e: crate::registry::values::Invalid| EnrollError::Name {
            name,
            why: e.to_string(),
        })
}

fn read_registry(root: &Path, except: &Path) -> Result<(Source, Vec<Source>), EnrollError> {
    let fail = |why: String| EnrollError::Registry {
        root: root.display().to_string(),
        why,
    };
    let host = Source {
        path: HOST_FILE.into(),
        text: std::fs::read_to_string(root.join(HOST_FILE)).map_err(|e| {
            fail(format!(
                "{HOST_FILE}: {e} (--registry names the directory holding {HOST_FILE})"
            ))
        })?,
    };
    let mut recipes = Vec::new();
    if let Ok(entries) = std::fs::read_dir(root.join(RECIPES_DIR)) {
        let mut names: Vec<_> = entries
            .filter_map(Result::ok)
            .map(|e| e.file_name())
            .filter(|n| Path::new(n).extension().is_some_and(|e| e == "toml"))
            .collect();
        names.sort();
        for n in names {
            let rel = Path::new(RECIPES_DIR).join(&n);
            if rel == except {
                continue;
            }
            let text = std::fs::read_to_string(root.join(&rel))
                .map_err(|e| fail(format!("{}: {e}", rel.display())))?;
            recipes.push(Source { path: rel, text });
        }
    }
    Ok((host, recipes))
}

/// Propose, validate and write `recipes/<name>.toml`.
pub fn enroll(opts: &EnrollOptions, git: &Git) -> Result<Enrolled, EnrollError> {
    let checkout = source::open(&opts.source, git)?;
    let (sample, compose, domain) = read_recipe(&checkout.dir)?;
    let name = name_of(opts, &sample, &checkout)?;
    let rel = Path::new(RECIPES_DIR).join(format!("{name}.toml"));
    let path = opts.registry.join(&rel);
    if path.exists() && !opts.force {
        return Err(EnrollError::Exists { path });
    }
    let (host_src, mut others) = read_registry(&opts.registry, &rel)?;
    // The host as loaded on its own, for its defaults (org, deploy timeout).
    let host = registry::load_from_sources(&host_src, &[])
        .map_err(|e| EnrollError::Registry {
            root: opts.registry.display().to_string(),
            why: e.to_string(),
        })?
        .host;
    let proposal = propose(Inputs {
        name,
        source: &opts.source,
        checkout: &checkout,
        sample: &sample,
        compose: &compose,
        host: &host,
        domain: &domain,
    })?;
    let text = document::render(&proposal).map_err(|e| EnrollError::Invalid {
        path: rel.display().to_string(),
        why: e.to_string(),
    })?;
    others.push(Source {
        path: rel.clone(),
        text: text.clone(),
    });
    registry::load_from_sources(&host_src, &others).map_err(|e| EnrollError::Invalid {
        path: rel.display().to_string(),
        why: e.to_string(),
    })?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| EnrollError::Write {
            path: dir.display().to_string(),
            why: e.to_string(),
        })?;
    }
    crate::envfile::write_atomically(&path, text.as_bytes()).map_err(|e| EnrollError::Write {
        path: path.display().to_string(),
        why: e.to_string(),
    })?;
    Ok(Enrolled {
        path,
        text,
        proposal,
    })
}
