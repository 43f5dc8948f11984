//! Defaults, and the reference of every registry key.
//!
//! The defaults below are the ones `resolve` applies; the table documents them by
//! naming the same constants, and a test compares the table with the keys serde
//! accepts, so the reference cannot drift from the code.

/// Default values applied by `resolve` (written as in the TOML).
pub mod defaults {
    pub const ADVERTISE_ADDR: &str = "127.0.0.1";
    pub const CERT_DIR: &str = "/var/lib/ci-certs/live";
    pub const RUNS_DIR: &str = "/var/lib/ccci/runs";
    pub const ABRA_DIR: &str = "/root/.abra";
    pub const RUNNER_CAPACITY: u32 = 2;
    pub const RUNNER_CAPACITY_MAX: u32 = 16;
    pub const BUILD_TIMEOUT: &str = "60m";
    /// The run's deadline leaves this much of the build timeout for teardown.
    pub const DEADLINE_MARGIN: &str = "5m";
    pub const DEPLOY_TIMEOUT: &str = "5m";
    pub const HTTP_TIMEOUT: &str = "10s";
    pub const JANITOR_MAX_AGE: &str = "2h";
    pub const POLL_INTERVAL: &str = "2s";
    pub const SWEEP_INTERVAL: &str = "10m";
    pub const TRIGGER: &str = "!testme";
    pub const LISTEN: &str = "127.0.0.1:8787";
    pub const BACKUP_REPOSITORY: &str = "/backups/restic";
    pub const DASHBOARD_SITE_DIR: &str = "/var/lib/ccci/dashboard";
    pub const DASHBOARD_RETENTION: &str = "90d";
    pub const DASHBOARD_NGINX: &str = "1.27.3-alpine";
    pub const HEALTH_PATH: &str = "/";
    pub const HEALTH_STATUSES: [u16; 3] = [200, 301, 302];
    pub const CHECK_STATUSES: [u16; 1] = [200];
    pub const CATEGORY: &str = "app";
    /// Where abra releases are published; `{version}` is replaced.
    pub const ABRA_URL: &str = "https://git.coopcloud.tech/toolshed/abra/releases/download/{version}/abra_{version}_linux_amd64";
}

/// Which file a key lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyFile {
    Host,
    Recipe,
}

/// One documented key.
#[derive(Debug, Clone, Copy)]
pub struct KeyDoc {
    pub file: KeyFile,
    /// Dotted path; `[[check]]` entries are written `check[].name`.
    pub key: &'static str,
    pub ty: &'static str,
    /// `None`: required. `Some(text)`: the default, as written or as a rule.
    pub default: Option<&'static str>,
    pub doc: &'static str,
}

macro_rules! k {
    ($file:ident, $key:expr, $ty:expr, required, $doc:expr) => {
        KeyDoc {
            file: KeyFile::$file,
            key: $key,
            ty: $ty,
            default: None,
            doc: $doc,
        }
    };
    ($file:ident, $key:expr, $ty:expr, $default:expr, $doc:expr) => {
        KeyDoc {
            file: KeyFile::$file,
            key: $key,
            ty: $ty,
            default: Some($default),
            doc: $doc,
        }
    };
}

// The tables are data, hundreds of lines of it: they live in their own files
// so that this one reads as the types and the rules that check the tables.
mod recipe_table;
mod table;
pub use recipe_table::RECIPE_KEYS;
pub use table::HOST_KEYS;

/// Every documented key: the host's, then a recipe's.
pub fn keys() -> impl Iterator<Item = &'static KeyDoc> {
    HOST_KEYS.iter().chain(RECIPE_KEYS)
}

/// The key reference as Markdown (the README's reference section and
/// `ccci-gen keys`).
pub fn reference_markdown() -> String {
    let mut out = String::new();
    for (file, title) in [
        (KeyFile::Host, "`ccci.toml` (the host)"),
        (
            KeyFile::Recipe,
            "`recipes/<name>.toml` (one enrolled recipe)",
        ),
    ] {
        out.push_str(&format!(
            "### {title}\n\n| key | type | default | meaning |\n|---|---|---|---|\n"
        ));
        for k in keys().filter(|k| k.file == file) {
            let default = k.default.unwrap_or("**required**");
            out.push_str(&format!(
                "| `{}` | {} | {} | {} |\n",
                k.key,
                k.ty.replace('|', "\\|"),
                default.replace('|', "\\|"),
                k.doc.replace('|', "\\|")
            ));
        }
        out.push('\n');
    }
    // One trailing newline, as every rendered file has.
    out.truncate(out.trim_end().len());
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// The keys serde accepts at one level, read from its "unknown field" message.
    fn accepted<T: serde::de::DeserializeOwned + std::fmt::Debug>(
        prefix: &str,
        toml_head: &str,
    ) -> BTreeSet<String> {
        let src = format!("{toml_head}\n__not_a_key = 1\n");
        let err = toml::from_str::<T>(&src).expect_err("an unknown key must be rejected");
        let msg = err.message().to_owned();
        let tail = msg.split_once("expected").map(|(_, t)| t).unwrap_or("");
        tail.split('`')
            .skip(1)
            .step_by(2)
            .map(|k| format!("{prefix}{k}"))
            .collect()
    }

    /// The documented keys directly under `prefix` (a table's own keys; a nested
    /// table or array of tables counts as one key of its parent).
    fn documented(file: KeyFile, prefix: &str) -> BTreeSet<String> {
        keys()
            .filter(|k| k.file == file)
            .filter_map(|k| k.key.strip_prefix(prefix))
            .map(|rest| {
                let end = rest.find(['.', '[']).unwrap_or(rest.len());
                format!("{prefix}{}", &rest[..end])
            })
            .collect()
    }

    #[test]
    fn each_table_holds_only_its_own_file() {
        assert!(HOST_KEYS.iter().all(|k| k.file == KeyFile::Host));
        assert!(RECIPE_KEYS.iter().all(|k| k.file == KeyFile::Recipe));
    }

    #[test]
    fn every_recipe_key_is_documented_and_nothing_else() {
        use crate::registry::model::*;
        assert_eq!(
            accepted::<RecipeFile>("", ""),
            documented(KeyFile::Recipe, "")
        );
        assert_eq!(
            accepted::<HealthSection>("health.", ""),
            documented(KeyFile::Recipe, "health.")
        );
        assert_eq!(
            accepted::<HttpCheckEntry>("check[].", ""),
            documented(KeyFile::Recipe, "check[].")
        );
        assert_eq!(
            accepted::<BrowserCheckEntry>("browser[].", ""),
            documented(KeyFile::Recipe, "browser[].")
        );
    }

    #[test]
    fn every_host_key_is_documented_and_nothing_else() {
        use crate::registry::model::*;
        let sections = [
            ("host.", accepted::<HostSection>("host.", "")),
            ("gitea.", accepted::<GiteaSection>("gitea.", "")),
            ("drone.", accepted::<DroneSection>("drone.", "")),
            ("run.", accepted::<RunSection>("run.", "")),
            ("bridge.", accepted::<BridgeSection>("bridge.", "")),
            ("abra.", accepted::<AbraSection>("abra.", "")),
            ("infra.", accepted::<InfraSection>("infra.", "")),
            ("dashboard.", accepted::<DashboardSection>("dashboard.", "")),
        ];
        let top: BTreeSet<String> = sections
            .iter()
            .map(|(p, _)| p.trim_end_matches('.').to_owned())
            .collect();
        assert_eq!(accepted::<HostFile>("", ""), top);
        for (prefix, keys) in sections {
            assert_eq!(keys, documented(KeyFile::Host, prefix), "{prefix}");
        }
    }

    #[test]
    fn every_marker_key_is_documented() {
        let documented = documented(KeyFile::Recipe, "marker.");
        for kind in ["http-file", "exec-file", "sql", "exec"] {
            let src = format!("kind = \"{kind}\"\n__not_a_key = 1\n");
            let err = toml::from_str::<crate::registry::Marker>(&src).unwrap_err();
            let msg = err.message().to_owned();
            let tail = msg.split_once("expected").map(|(_, t)| t).unwrap_or("");
            for k in tail.split('`').skip(1).step_by(2) {
                assert!(
                    documented.contains(&format!("marker.{k}")),
                    "marker.{k} ({kind})"
                );
            }
        }
    }
}
