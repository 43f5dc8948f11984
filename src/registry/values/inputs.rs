//! Value types of a recipe's inputs: where its git repository is, which extra
//! compose files it deploys, and which of its secrets take a value from the
//! host. Each one ends up in a shell command, an env file or a Nix file, so each
//! is checked as strictly as the other registry values.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::{Invalid, check_abs_path, check_url, invalid};

fn check_git_url(s: &str) -> Result<(), Invalid> {
    let expected = "a git URL: https://…, http://…, file:///absolute/path or an absolute path";
    if s.starts_with("https://") || s.starts_with("http://") {
        return check_url(s).map_err(|_| Invalid(format!("expected {expected}")));
    }
    let path = s.strip_prefix("file://").unwrap_or(s);
    if check_abs_path(path).is_err() {
        return invalid(expected);
    }
    Ok(())
}

string_newtype!(
    /// Where a recipe's git repository is cloned from: an http(s) URL, or a
    /// local repository (`file://` or an absolute path) on the host.
    GitUrl,
    check_git_url
);

impl GitUrl {
    /// Whether the repository is on the host's own disk rather than a server.
    pub fn is_local(&self) -> bool {
        self.as_str().starts_with('/') || self.as_str().starts_with("file://")
    }
}

fn check_compose_file(s: &str) -> Result<(), Invalid> {
    // `:` separates the files of COMPOSE_FILE and `$` would be expanded by the
    // chain's own interpolation: neither may appear in a file name.
    let ok = !s.is_empty()
        && s.len() <= 255
        && !s.starts_with('/')
        && (s.ends_with(".yml") || s.ends_with(".yaml"))
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'/'))
        && s.split('/').all(|c| !c.is_empty() && c != "." && c != "..");
    if !ok {
        return invalid(
            "a compose file name relative to the recipe, ending in .yml or .yaml, of letters, digits and '._-/', without '..' or a leading '/', e.g. compose.smtp.yml",
        );
    }
    Ok(())
}

string_newtype!(
    /// A compose file of a recipe, relative to its checkout (`compose.smtp.yml`).
    ComposeFileName,
    check_compose_file
);

fn check_secret_name(s: &str) -> Result<(), Invalid> {
    let ok = !s.is_empty()
        && s.len() <= 48
        && s.as_bytes()[0].is_ascii_lowercase()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if !ok {
        return invalid(
            "a recipe secret name as its compose file declares it: lowercase letters, digits, '_' and '-', starting with a letter, at most 48 characters",
        );
    }
    Ok(())
}

string_newtype!(
    /// The name of a secret a recipe's compose file declares (`api_key`).
    SecretName,
    check_secret_name
);

fn check_host_secret_key(s: &str) -> Result<(), Invalid> {
    let ok = !s.is_empty()
        && s.len() <= 64
        && s.as_bytes()[0].is_ascii_lowercase()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !ok {
        return invalid(
            "a host secret key: lowercase letters, digits and '_', starting with a letter, at most 64 characters",
        );
    }
    Ok(())
}

string_newtype!(
    /// A key of the host's sops secrets file (a file under `/run/secrets/`).
    HostSecretKey,
    check_host_secret_key
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn git_urls_are_http_or_local_paths() {
        for ok in [
            "https://github.com/example/recipe.git",
            "http://localhost:3000/x/y.git",
            "file:///srv/recipes/foo",
            "/srv/recipes/foo.git",
        ] {
            assert!(ok.parse::<GitUrl>().is_ok(), "{ok}");
        }
        for bad in [
            "",
            "git@github.com:x/y.git",
            "ssh://x.org/y",
            "relative/path",
            "file://relative",
            "file:///a/../b",
            "https://x.org/$(id)",
            "/a b",
            "-uhttps://x.org",
        ] {
            assert!(bad.parse::<GitUrl>().is_err(), "{bad}");
        }
        assert!("/srv/x".parse::<GitUrl>().unwrap().is_local());
        assert!("file:///srv/x".parse::<GitUrl>().unwrap().is_local());
        assert!(!"https://x.org/y".parse::<GitUrl>().unwrap().is_local());
    }

    #[test]
    fn compose_files_stay_inside_the_recipe() {
        for ok in ["compose.smtp.yml", "compose.s3.yaml", "extra/compose.x.yml"] {
            assert!(ok.parse::<ComposeFileName>().is_ok(), "{ok}");
        }
        for bad in [
            "",
            "/etc/compose.yml",
            "../compose.yml",
            "a/../compose.yml",
            "./compose.yml",
            "compose.yml:evil.yml",
            "compose.$X.yml",
            "compose.toml",
            "compose yml.yml",
            "a//b.yml",
        ] {
            assert!(bad.parse::<ComposeFileName>().is_err(), "{bad}");
        }
    }

    #[test]
    fn secret_names_and_host_keys() {
        assert!("api_key".parse::<SecretName>().is_ok());
        assert!("smtp-password".parse::<SecretName>().is_ok());
        for bad in ["", "API_KEY", "1key", "a key", "a.b", "a$b"] {
            assert!(bad.parse::<SecretName>().is_err(), "{bad}");
        }
        assert!("mailu_api_key".parse::<HostSecretKey>().is_ok());
        for bad in ["", "Key", "a-b", "a/b", "../x", "_x"] {
            assert!(bad.parse::<HostSecretKey>().is_err(), "{bad}");
        }
    }
}
