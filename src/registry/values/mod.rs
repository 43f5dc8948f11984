//! Validated value types of the registry.
//!
//! Every string that can reach a Nix file, a shell command or YAML is one of these
//! types, so a value that could break out of its quoting is rejected when the
//! registry is loaded, with a message saying what was expected. The escaping
//! filters in `generate::escape` are the second line of defence, not the first.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Why a value was rejected: the sentence after "expected".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid(pub String);

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Every message reads "expected …" so that it can follow a key name.
fn invalid<T>(what: impl Into<String>) -> Result<T, Invalid> {
    Err(Invalid(format!("expected {}", what.into())))
}

macro_rules! string_newtype {
    ($(#[$doc:meta])* $name:ident, $check:path) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = Invalid;
            fn from_str(s: &str) -> Result<Self, Invalid> {
                $check(s)?;
                Ok(Self(s.to_owned()))
            }
        }

        impl TryFrom<String> for $name {
            type Error = Invalid;
            fn try_from(s: String) -> Result<Self, Invalid> {
                $check(&s)?;
                Ok(Self(s))
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

/// Longest recipe name: the run domain keeps only four characters of it, but the
/// name also becomes a file name, a systemd-free Drone cron name and a YAML key.
pub const RECIPE_NAME_MAX: usize = 48;

fn check_recipe_name(s: &str) -> Result<(), Invalid> {
    let ok_chars = s
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if s.is_empty()
        || s.len() > RECIPE_NAME_MAX
        || !ok_chars
        || !s.as_bytes()[0].is_ascii_lowercase()
        || s.ends_with('-')
        || s.contains("--")
    {
        return invalid(format!(
            "a recipe name: lowercase letters, digits and single hyphens, starting with a letter, at most {RECIPE_NAME_MAX} characters"
        ));
    }
    Ok(())
}

string_newtype!(
    /// The name of an enrolled recipe, e.g. `custom-html` (also its file name).
    RecipeName,
    check_recipe_name
);

fn check_label(label: &str) -> bool {
    !label.is_empty()
        && label.len() <= 63
        && label
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !label.starts_with('-')
        && !label.ends_with('-')
}

fn check_domain(s: &str) -> Result<(), Invalid> {
    let labels: Vec<&str> = s.split('.').collect();
    if s.len() > 253 || labels.len() < 2 || !labels.iter().all(|l| check_label(l)) {
        return invalid(
            "a lowercase DNS name of at least two labels (letters, digits, hyphens), e.g. ci.example.org",
        );
    }
    Ok(())
}

string_newtype!(
    /// A fully qualified, lowercase DNS name.
    Domain,
    check_domain
);

fn check_host_name(s: &str) -> Result<(), Invalid> {
    if !check_label(s) {
        return invalid("a host name: one DNS label of lowercase letters, digits and hyphens");
    }
    Ok(())
}

string_newtype!(
    /// The NixOS host name (one DNS label), e.g. `cc-ci`.
    HostName,
    check_host_name
);

fn is_slug_part(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 100
        && s != "."
        && s != ".."
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

fn check_repo_slug(s: &str) -> Result<(), Invalid> {
    match s.split_once('/') {
        Some((owner, name)) if is_slug_part(owner) && is_slug_part(name) => Ok(()),
        _ => invalid("a repository as owner/name (letters, digits, '-', '_', '.')"),
    }
}

string_newtype!(
    /// A forge repository, `owner/name`.
    RepoSlug,
    check_repo_slug
);

impl RepoSlug {
    pub fn owner(&self) -> &str {
        self.0.split_once('/').map_or("", |(o, _)| o)
    }
    pub fn name(&self) -> &str {
        self.0.split_once('/').map_or("", |(_, n)| n)
    }
}

fn check_user_name(s: &str) -> Result<(), Invalid> {
    if !is_slug_part(s) || s.len() > 40 {
        return invalid("a forge user or organisation name (letters, digits, '-', '_', '.')");
    }
    Ok(())
}

string_newtype!(
    /// A Gitea user or organisation login.
    UserName,
    check_user_name
);

/// Characters allowed in a URL or path besides ASCII alphanumerics. Deliberately
/// excludes quotes, `$`, backslash, backtick, spaces and braces: none of them is
/// needed for the URLs a CI host deals with, and each one is a quoting hazard.
const URL_PUNCT: &[u8] = b"-._~:/?#[]@!&()*+,;=%";

fn check_url(s: &str) -> Result<(), Invalid> {
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"));
    let expected = "an http(s) URL with a host name, e.g. https://git.example.org (no spaces, quotes, '$' or backslashes)";
    let Some(rest) = rest else {
        return invalid(expected);
    };
    let authority = rest.split('/').next().unwrap_or("");
    let host = authority.split(':').next().unwrap_or("");
    let port_ok = match authority.split_once(':') {
        None => true,
        Some((_, port)) => port.parse::<u16>().is_ok(),
    };
    let host_ok = check_domain(host).is_ok()
        || host == "localhost"
        || host.parse::<std::net::Ipv4Addr>().is_ok();
    let chars_ok = s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || URL_PUNCT.contains(&b));
    if !host_ok || !port_ok || !chars_ok || s.len() > 2048 {
        return invalid(expected);
    }
    Ok(())
}

string_newtype!(
    /// An `http://` or `https://` URL.
    HttpUrl,
    check_url
);

impl HttpUrl {
    /// The URL without a trailing slash, for joining paths onto it.
    pub fn trimmed(&self) -> &str {
        self.0.trim_end_matches('/')
    }

    /// The host name (or address), without scheme, port or path.
    pub fn host(&self) -> &str {
        let rest = self.0.split_once("://").map_or(self.0.as_str(), |(_, r)| r);
        let authority = rest.split('/').next().unwrap_or(rest);
        authority.split(':').next().unwrap_or(authority)
    }
}

fn check_abs_path(s: &str) -> Result<(), Invalid> {
    let ok = s.starts_with('/')
        && s.len() <= 1024
        && s.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'/' | b'.' | b'-' | b'_' | b'+' | b'@')
        })
        && !s.split('/').any(|c| c == "..");
    if !ok {
        return invalid(
            "an absolute path of letters, digits and '/._-+@' without '..', e.g. /var/lib/ccci",
        );
    }
    Ok(())
}

string_newtype!(
    /// An absolute file system path on the host or inside a container.
    AbsPath,
    check_abs_path
);

fn check_url_path(s: &str) -> Result<(), Invalid> {
    let ok = s.starts_with('/')
        && s.len() <= 1024
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || URL_PUNCT.contains(&b));
    if !ok {
        return invalid(
            "a URL path starting with '/', without spaces, quotes or '$', e.g. /realms/master",
        );
    }
    Ok(())
}

string_newtype!(
    /// The path part of a URL, e.g. `/_matrix/client/versions`.
    UrlPath,
    check_url_path
);

fn check_sha256(s: &str) -> Result<(), Invalid> {
    if s.len() != 64
        || !s
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return invalid("a sha256 digest: 64 lowercase hexadecimal characters");
    }
    Ok(())
}

string_newtype!(
    /// A hex sha256 digest.
    Sha256,
    check_sha256
);

fn check_version(s: &str) -> Result<(), Invalid> {
    let ok = !s.is_empty()
        && s.len() <= 128
        && s.as_bytes()[0].is_ascii_alphanumeric()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'+' | b'-' | b'_'));
    if !ok {
        return invalid("a version such as 1.2.0+3.4.5 (letters, digits, '.', '+', '-', '_')");
    }
    Ok(())
}

string_newtype!(
    /// A release version (abra's, or a Co-op Cloud recipe's `X.Y.Z+upstream`).
    Version,
    check_version
);

fn check_env_key(s: &str) -> Result<(), Invalid> {
    let ok = !s.is_empty()
        && s.len() <= 128
        && (s.as_bytes()[0].is_ascii_uppercase() || s.as_bytes()[0] == b'_')
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
    if !ok {
        return invalid("an environment variable name: uppercase letters, digits and '_'");
    }
    Ok(())
}

string_newtype!(
    /// The name of a variable in an app's `.env` file.
    EnvKey,
    check_env_key
);

fn check_service_name(s: &str) -> Result<(), Invalid> {
    let ok = !s.is_empty()
        && s.len() <= 63
        && s.as_bytes()[0].is_ascii_alphanumeric()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if !ok {
        return invalid("a compose service name: lowercase letters, digits, '-' and '_'");
    }
    Ok(())
}

string_newtype!(
    /// A service of a recipe's compose file, e.g. `app` or `db`.
    ServiceName,
    check_service_name
);

fn check_word(s: &str) -> Result<(), Invalid> {
    let ok = !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'!' | b'/' | b'.'));
    if !ok {
        return invalid("a single word of letters, digits and '-_!/.' (no spaces)");
    }
    Ok(())
}

string_newtype!(
    /// A short single-word token: a category, the trigger word, a database name.
    Word,
    check_word
);

/// Whether `s` is a full commit id as git prints it: 40 lowercase hex digits
/// (the same rule the recipe-ci pipeline checks with grep).
pub fn is_commit_id(s: &str) -> bool {
    s.len() == 40
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

// Lengths of time and status lists: values with arithmetic or ordering, not
// just a checked string.
mod quantities;
pub use quantities::{Duration, StatusList};

// Where a recipe comes from and what it needs from the host.
mod inputs;
pub use inputs::{ComposeFileName, GitUrl, HostSecretKey, SecretName};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipe_names_follow_the_rule() {
        for ok in ["custom-html", "keycloak", "a", "matrix-synapse2"] {
            assert!(ok.parse::<RecipeName>().is_ok(), "{ok}");
        }
        for bad in [
            "", "Keycloak", "-x", "x-", "a--b", "1abc", "a b", "a\"b", "a${b}", "é",
        ] {
            assert!(bad.parse::<RecipeName>().is_err(), "{bad}");
        }
        assert!(
            "a".repeat(RECIPE_NAME_MAX + 1)
                .parse::<RecipeName>()
                .is_err()
        );
    }

    #[test]
    fn domains_are_lowercase_dns_names() {
        assert!("ci.example.org".parse::<Domain>().is_ok());
        for bad in [
            "example",
            "Ci.example.org",
            "a..b",
            "-a.b",
            "a.b-",
            "a b.c",
            "a.b\n",
            "*.b.c",
        ] {
            assert!(bad.parse::<Domain>().is_err(), "{bad}");
        }
    }

    #[test]
    fn slugs_need_owner_and_name() {
        let s: RepoSlug = "coop-cloud/keycloak".parse().unwrap();
        assert_eq!((s.owner(), s.name()), ("coop-cloud", "keycloak"));
        for bad in [
            "keycloak", "/x", "x/", "a/b/c", "../x", "a/..", "a/b c", "a/$(x)",
        ] {
            assert!(bad.parse::<RepoSlug>().is_err(), "{bad}");
        }
    }

    #[test]
    fn urls_reject_quoting_hazards() {
        for ok in [
            "https://git.coopcloud.tech",
            "http://localhost:3000/",
            "https://git.example.org/api/v1?x=1&y=2",
            "http://127.0.0.1:8080",
        ] {
            assert!(ok.parse::<HttpUrl>().is_ok(), "{ok}");
        }
        for bad in [
            "ftp://x.org",
            "https://",
            "https://x.org/${a}",
            "https://x.org/\"",
            "https://x.org/a b",
            "https://x.org:99999",
            "https://x.org/'",
            "https://x.org/\\",
        ] {
            assert!(bad.parse::<HttpUrl>().is_err(), "{bad}");
        }
    }

    #[test]
    fn paths_and_digests() {
        assert!("/var/lib/ci-certs/live".parse::<AbsPath>().is_ok());
        for bad in ["relative", "/a/../b", "/a b", "/a$b", "/a\"b", "/a\nb"] {
            assert!(bad.parse::<AbsPath>().is_err(), "{bad}");
        }
        assert!("0".repeat(64).parse::<Sha256>().is_ok());
        assert!("A".repeat(64).parse::<Sha256>().is_err());
        assert!("0".repeat(63).parse::<Sha256>().is_err());
        assert!("/realms/master".parse::<UrlPath>().is_ok());
        assert!("realms".parse::<UrlPath>().is_err());
        assert!("SANDBOX_DOMAIN".parse::<EnvKey>().is_ok());
        assert!("sandbox".parse::<EnvKey>().is_err());
        assert!("1.2.0+25.0.1".parse::<Version>().is_ok());
        assert!("1.2 ".parse::<Version>().is_err());
    }
}
