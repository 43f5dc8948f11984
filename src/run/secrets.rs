//! Which of a recipe's secrets are missing on the swarm. An upgrade deploys
//! the PR head over an app created from the base release; when the head
//! declares a secret the base did not have, that secret must be generated
//! before the chaos deploy or abra fails it. Existence is asked of docker
//! (docs/abra.md, "Whether a secret exists"): abra's listing shows declared
//! names even when none exists.

use std::path::Path;

use crate::envfile::EnvFile;
use crate::plan::HostSecret;

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
    // The env file may still hold the sample's chain: evaluate it as abra
    // does, with the one selection rule.
    let (files, _) = super::policy::select::selected(&env.render(), &[], &[]);
    let mut out: Vec<Declared> = Vec::new();
    for file in &files {
        let path = recipe_dir.join(file);
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        for name in top_level_secrets(&text).map_err(|e| format!("{file}: {e}"))? {
            if out.iter().any(|d| d.name == name) {
                continue;
            }
            let key = crate::names::stack::secret_version_key(&name);
            let version = env
                .get(&key)
                .or_else(|| sample.get(&key))
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| crate::names::stack::DEFAULT_SECRET_VERSION.to_owned());
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

/// Read a secret's value from the host's secrets (the file sops-nix made), for
/// the masker and to refuse a missing or empty one before anything is
/// deployed. abra is given the file itself, so the value inserted is exactly
/// its content (docs/abra.md, "Secret values from the host"). The error names
/// the key and the file, never a value.
pub fn host_value(secret: &HostSecret) -> Result<String, String> {
    let missing = |why: String| {
        format!(
            "the host secret `{}` ({}) {why}: add it to secrets/secrets.yaml",
            secret.key, secret.file
        )
    };
    match std::fs::read_to_string(secret.file.as_str()) {
        Ok(v) if v.trim().is_empty() => Err(missing("is empty".into())),
        Ok(v) => Ok(v),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(missing("is missing".into())),
        Err(e) => Err(missing(format!("cannot be read ({})", e.kind()))),
    }
}

/// The declared secrets whose docker secret `<stack>_<name>_<version>` is not
/// among `existing`.
pub fn missing(declared: &[Declared], stack: &str, existing: &[String]) -> Vec<Declared> {
    declared
        .iter()
        .filter(|d| {
            let full = crate::names::stack::versioned_name(stack, &d.name, &d.version);
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
    fn a_chain_left_in_the_env_file_is_evaluated() {
        let d = recipe(&[
            ("compose.yml", "services:\n  app:\n    image: x\n"),
            (
                "compose.smtp.yml",
                "secrets:\n  smtp_password:\n    external: true\n",
            ),
        ]);
        let env = EnvFile::parse(
            "COMPOSE_FILE=\"compose.yml\"\nCOMPOSE_FILE=\"$COMPOSE_FILE:compose.smtp.yml\"\n",
        );
        let got = declared(d.path(), &env).unwrap();
        assert_eq!(got.len(), 1, "{got:?}");
    }

    #[test]
    fn host_values_are_read_whole_and_missing_or_empty_ones_name_the_key() {
        let d = tempfile::tempdir().unwrap();
        let file = d.path().join("probe_api_key");
        let secret = |f: &std::path::Path| HostSecret {
            key: "probe_api_key".parse().unwrap(),
            file: f.to_str().unwrap().parse().unwrap(),
        };
        let e = host_value(&secret(&file)).unwrap_err();
        assert!(
            e.contains("`probe_api_key`") && e.contains("is missing"),
            "{e}"
        );
        std::fs::write(&file, "\n").unwrap();
        assert!(host_value(&secret(&file)).unwrap_err().contains("is empty"));
        std::fs::write(&file, "s3cr3t-value-123\n").unwrap();
        assert_eq!(host_value(&secret(&file)).unwrap(), "s3cr3t-value-123\n");
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
