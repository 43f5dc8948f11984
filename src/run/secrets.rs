//! Which of a recipe's secrets are missing on the swarm. An upgrade deploys
//! the PR head over an app created from the base release; when the head
//! declares a secret the base did not have, that secret must be generated
//! before the chaos deploy or abra fails it. Existence is asked of docker
//! (docs/abra.md, "Whether a secret exists"): abra's listing shows declared
//! names even when none exists.

use std::path::Path;

use crate::envfile::EnvFile;

/// One secret the recipe declares, with the version its docker name carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declared {
    pub name: String,
    pub version: String,
}

/// The secrets the compose files in use (`COMPOSE_FILE`, default
/// `compose.yml`) declare at top level, each with its version from the app's
/// env file (`SECRET_<NAME>_VERSION`), else the recipe's `.env.sample`, else
/// `v1` (abra's default).
pub fn declared(recipe_dir: &Path, env: &EnvFile) -> Result<Vec<Declared>, String> {
    let sample = std::fs::read_to_string(recipe_dir.join(".env.sample"))
        .map(|t| EnvFile::parse(&t))
        .unwrap_or_else(|_| EnvFile::parse(""));
    let files = env
        .get("COMPOSE_FILE")
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| "compose.yml".to_owned());
    let mut out: Vec<Declared> = Vec::new();
    for file in files.split(':').filter(|f| !f.is_empty()) {
        let path = recipe_dir.join(file);
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        for name in top_level_secrets(&text).map_err(|e| format!("{file}: {e}"))? {
            if out.iter().any(|d| d.name == name) {
                continue;
            }
            let key = format!("SECRET_{}_VERSION", name.to_ascii_uppercase());
            let version = env
                .get(&key)
                .or_else(|| sample.get(&key))
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| "v1".to_owned());
            out.push(Declared { name, version });
        }
    }
    Ok(out)
}

/// The names under a compose file's top-level `secrets:`.
fn top_level_secrets(text: &str) -> Result<Vec<String>, String> {
    let doc: serde_yaml::Value = serde_yaml::from_str(text).map_err(|e| e.to_string())?;
    Ok(doc
        .get("secrets")
        .and_then(|s| s.as_mapping())
        .map(|m| {
            m.keys()
                .filter_map(|k| k.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default())
}

/// The declared secrets whose docker secret `<stack>_<name>_<version>` is not
/// among `existing`.
pub fn missing(declared: &[Declared], stack: &str, existing: &[String]) -> Vec<Declared> {
    declared
        .iter()
        .filter(|d| {
            let full = crate::tools::abra::stack_object_name(stack, &d.name, &d.version);
            !existing.contains(&full)
        })
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const COMPOSE: &str = "services:\n  app:\n    image: x\n    secrets:\n      - db_password\nsecrets:\n  db_password:\n    external: true\n    name: ${STACK_NAME}_db_password_${SECRET_DB_PASSWORD_VERSION}\n  api_key:\n    external: true\n";

    fn recipe(files: &[(&str, &str)]) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        for (n, t) in files {
            std::fs::write(d.path().join(n), t).unwrap();
        }
        d
    }

    #[test]
    fn versions_come_from_the_env_then_the_sample_then_v1() {
        let d = recipe(&[
            ("compose.yml", COMPOSE),
            (".env.sample", "SECRET_API_KEY_VERSION=v3\n"),
        ]);
        let env = EnvFile::parse("SECRET_DB_PASSWORD_VERSION=v2\n");
        let got = declared(d.path(), &env).unwrap();
        assert_eq!(
            got,
            vec![
                Declared {
                    name: "db_password".into(),
                    version: "v2".into()
                },
                Declared {
                    name: "api_key".into(),
                    version: "v3".into()
                },
            ]
        );
        let bare = recipe(&[("compose.yml", COMPOSE)]);
        let got = declared(bare.path(), &EnvFile::parse("")).unwrap();
        assert!(got.iter().all(|d| d.version == "v1"), "{got:?}");
    }

    #[test]
    fn only_the_compose_files_in_use_count() {
        let d = recipe(&[
            ("compose.yml", "services:\n  app:\n    image: x\n"),
            (
                "compose.smtp.yml",
                "secrets:\n  smtp_password:\n    external: true\n",
            ),
        ]);
        assert!(declared(d.path(), &EnvFile::parse("")).unwrap().is_empty());
        let env = EnvFile::parse("COMPOSE_FILE=\"compose.yml:compose.smtp.yml\"\n");
        let got = declared(d.path(), &env).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].name, "smtp_password");
    }

    #[test]
    fn a_compose_file_that_is_not_yaml_is_an_error() {
        let d = recipe(&[("compose.yml", "secrets: [\n")]);
        assert!(declared(d.path(), &EnvFile::parse("")).is_err());
    }

    #[test]
    fn missing_is_decided_by_the_full_docker_name() {
        let decl = vec![
            Declared {
                name: "db_password".into(),
                version: "v1".into(),
            },
            Declared {
                name: "api_key".into(),
                version: "v2".into(),
            },
        ];
        // api_key exists only at an older version: v2 is still missing.
        let existing = vec!["st_db_password_v1".to_owned(), "st_api_key_v1".to_owned()];
        let got = missing(&decl, "st", &existing);
        assert_eq!(got, vec![decl[1].clone()]);
    }
}
