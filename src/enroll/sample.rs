//! A recipe's `.env.sample`: what abra copies into a new app's env. Its
//! uncommented lines are the app's configuration as the CI deploys it; the
//! commented ones document optional overlays and settings.

use std::collections::BTreeMap;

use super::At;
use crate::envfile::EnvFile;
use crate::names::stack::secret_of_version_key;
use crate::run::policy::{rules::substitute, select};

/// The sample's file name at a recipe's root.
pub const SAMPLE_FILE: &str = ".env.sample";

/// One assignment of the sample.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    pub key: String,
    /// The value as written (quotes removed, not interpolated).
    pub raw: String,
    /// The value with earlier lines' variables interpolated.
    pub value: String,
    pub at: At,
}

/// A secret the sample versions (`SECRET_<NAME>_VERSION=v1 # length=64`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleSecret {
    /// As the compose files name it (`db_password`).
    pub name: String,
    pub version: String,
    /// abra's modifiers from the line's comment (`length`, `charset`, `generate`).
    pub modifiers: BTreeMap<String, String>,
    pub at: At,
}

impl SampleSecret {
    /// abra generates a secret unless its modifier says `generate=false`; such
    /// a secret needs a real value from the host.
    pub fn needs_value(&self) -> bool {
        self.modifiers.get("generate").is_some_and(|v| v == "false")
    }
}

/// An optional `COMPOSE_FILE` chain the sample documents in a comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionalChain {
    pub files: Vec<String>,
    pub at: At,
}

/// What the sample says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sample {
    /// Whether the recipe has a sample at all.
    pub present: bool,
    /// The compose files the uncommented lines select, in order.
    pub chain: Vec<String>,
    /// The last uncommented `COMPOSE_FILE` line, when there is one.
    pub chain_at: Option<At>,
    /// Every variable of the final env, interpolated.
    pub vars: BTreeMap<String, String>,
    pub assignments: Vec<Assignment>,
    pub secrets: Vec<SampleSecret>,
    /// Commented `COMPOSE_FILE` lines: overlays an operator may switch on.
    pub optional: Vec<OptionalChain>,
}

impl Sample {
    pub fn get(&self, key: &str) -> Option<&Assignment> {
        self.assignments.iter().rev().find(|a| a.key == key)
    }
}

/// The `# k=v k2=v2` modifiers after an assignment, as abra reads them.
fn modifiers(line: &str) -> BTreeMap<String, String> {
    let Some((_, comment)) = line.split_once(" #").or_else(|| line.split_once("\t#")) else {
        return BTreeMap::new();
    };
    comment
        .split_whitespace()
        .filter_map(|w| w.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// The one assignment a line holds, if any: `(key, value)`.
fn assignment(line: &str) -> Option<(String, String)> {
    EnvFile::parse(line).to_map().into_iter().next()
}

/// Read a sample's text (`None`: the recipe has none, which reads as empty).
pub fn parse(text: Option<&str>) -> Sample {
    let Some(text) = text else {
        return Sample {
            chain: vec!["compose.yml".to_owned()],
            ..Sample::default()
        };
    };
    let (chain, vars) = select::selected(text, &[], &[]);
    let mut sample = Sample {
        present: true,
        chain,
        vars,
        ..Sample::default()
    };
    let mut so_far: BTreeMap<String, String> = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let at = At::new(SAMPLE_FILE, i + 1);
        let trimmed = line.trim_start();
        if let Some(commented) = trimmed.strip_prefix('#') {
            // `#COMPOSE_FILE="$COMPOSE_FILE:compose.s3.yml"` or `#   COMPOSE_FILE="…"`.
            if let Some((key, raw)) = assignment(commented.trim_start())
                && key == "COMPOSE_FILE"
            {
                let chain = substitute(&raw, &so_far);
                let files: Vec<String> = chain
                    .split(':')
                    .map(str::trim)
                    .filter(|f| !f.is_empty())
                    .map(str::to_owned)
                    .collect();
                sample.optional.push(OptionalChain { files, at });
            }
            continue;
        }
        let Some((key, raw)) = assignment(line) else {
            continue;
        };
        let value = substitute(&raw, &so_far);
        so_far.insert(key.clone(), value.clone());
        if key == "COMPOSE_FILE" {
            sample.chain_at = Some(at.clone());
        }
        if let Some(name) = secret_of_version_key(&key) {
            sample.secrets.retain(|s| s.name != name);
            sample.secrets.push(SampleSecret {
                name,
                version: value.clone(),
                modifiers: modifiers(line),
                at: at.clone(),
            });
        }
        sample.assignments.push(Assignment {
            key,
            raw,
            value,
            at,
        });
    }
    sample
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "TYPE=x\nDOMAIN=x.example.com\nCOMPOSE_FILE=\"compose.yml\"\nCOMPOSE_FILE=\"$COMPOSE_FILE:compose.postgres.yml\"\n#COMPOSE_FILE=\"$COMPOSE_FILE:compose.s3.yml\"\nSECRET_DB_PASSWORD_VERSION=v1       # length=32 charset=alnum\nSECRET_API_KEY_VERSION=v2 # generate=false\nEMPTY=\n";

    #[test]
    fn chains_secrets_and_modifiers_are_read_with_their_lines() {
        let s = parse(Some(TEXT));
        assert_eq!(s.chain, ["compose.yml", "compose.postgres.yml"]);
        assert_eq!(s.chain_at, Some(At::new(SAMPLE_FILE, 4)));
        assert_eq!(
            s.optional,
            [OptionalChain {
                files: vec![
                    "compose.yml".into(),
                    "compose.postgres.yml".into(),
                    "compose.s3.yml".into()
                ],
                at: At::new(SAMPLE_FILE, 5)
            }]
        );
        let db = &s.secrets[0];
        assert_eq!(
            (db.name.as_str(), db.version.as_str()),
            ("db_password", "v1")
        );
        assert_eq!(db.modifiers["length"], "32");
        assert_eq!(db.modifiers["charset"], "alnum");
        assert!(!db.needs_value());
        assert!(s.secrets[1].needs_value());
        assert_eq!(s.get("EMPTY").unwrap().value, "");
        assert_eq!(s.get("DOMAIN").unwrap().at.line, 2);
    }

    #[test]
    fn no_sample_selects_compose_yml() {
        let s = parse(None);
        assert!(!s.present);
        assert_eq!(s.chain, ["compose.yml"]);
    }
}
