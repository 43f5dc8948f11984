//! Run apps: `<first 4 chars of recipe>-<6 hex>.<ci domain>`.
//!
//! Short, so that the names Docker derives from them (`<stack>_<config>_<version>`,
//! see [`super::stack`]) stay within its 64-character limit, and recognisable, so
//! that the janitor can find leftovers by pattern. The janitor must use
//! [`parse_run_domain`] on names [`run_app`] produced; a pattern that matches
//! nothing real once went unnoticed.

use std::fmt;

use crate::registry::values::{Domain, RecipeName};

/// Characters of the recipe name kept in the run label.
pub const LABEL_PREFIX_LEN: usize = 4;
/// Hex digits of randomness in the run label.
pub const LABEL_NONCE_LEN: usize = 6;

/// The part of a run domain before the CI domain, e.g. `keyc-3fa9c1`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RunLabel(String);

impl RunLabel {
    /// The label for `recipe` with the given 24 bits of randomness.
    pub fn new(recipe: &RecipeName, nonce: u32) -> Self {
        let prefix: String = recipe.as_str().chars().take(LABEL_PREFIX_LEN).collect();
        // A recipe name like `abc-def` would give `abc--…`; the trailing hyphen
        // adds nothing and a double hyphen looks like an IDNA prefix.
        let prefix = prefix.trim_end_matches('-');
        RunLabel(format!("{prefix}-{:06x}", nonce & 0x00ff_ffff))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RunLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A run app: its label, domain and stack name, all derived together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppNames {
    pub label: RunLabel,
    /// `<label>.<ci domain>`.
    pub domain: String,
    /// abra's stack name of the domain ([`super::stack::stack_name`]).
    pub stack: String,
}

/// The one function that names a run app.
pub fn run_app(recipe: &RecipeName, nonce: u32, ci_domain: &Domain) -> AppNames {
    let label = RunLabel::new(recipe, nonce);
    let domain = format!("{label}.{ci_domain}");
    let stack = super::stack::stack_name(&domain);
    AppNames {
        label,
        domain,
        stack,
    }
}

/// If `domain` is a run app under `ci_domain` (as [`run_app`] makes them),
/// its label. Used by the janitor to recognise leftovers.
pub fn parse_run_domain(domain: &str, ci_domain: &Domain) -> Option<RunLabel> {
    let label = domain.strip_suffix(ci_domain.as_str())?.strip_suffix('.')?;
    let (prefix, nonce) = label.rsplit_once('-')?;
    let prefix_ok = !prefix.is_empty()
        && prefix.len() <= LABEL_PREFIX_LEN
        && prefix.as_bytes()[0].is_ascii_lowercase()
        && prefix
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    let nonce_ok = nonce.len() == LABEL_NONCE_LEN
        && nonce
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    (prefix_ok && nonce_ok).then(|| RunLabel(label.to_owned()))
}

/// 24 bits of randomness for a run label. std's `RandomState` is seeded from
/// the OS per process; mixing in time and a counter keeps two calls in one
/// process (the two lanes) distinct.
pub fn fresh_nonce() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    h.write_u128(nanos);
    h.write_u32(std::process::id());
    (h.finish() & 0x00ff_ffff) as u32
}

/// The run app a Docker object belongs to (a service, volume, secret,
/// config or network named `<stack>_…`), as its domain: how the janitor
/// finds an app whose env file is gone.
pub fn parse_run_object(name: &str, ci_domain: &Domain) -> Option<String> {
    let (label, _) = name.split_once('_')?;
    let domain = format!("{label}.{ci_domain}");
    parse_run_domain(&domain, ci_domain)?;
    let prefix = super::stack::stack_prefix(&super::stack::stack_name(&domain));
    name.starts_with(&prefix).then_some(domain)
}

#[cfg(test)]
mod tests {
    #[test]
    fn objects_of_a_run_stack_name_their_app() {
        let ci: Domain = "ci.example.org".parse().unwrap();
        for n in [
            "keyc-3fa9c1_ci_example_org_app",
            "keyc-3fa9c1_ci_example_org_db_password_v1",
            "keyc-3fa9c1_ci_example_org_default",
        ] {
            assert_eq!(
                parse_run_object(n, &ci).as_deref(),
                Some("keyc-3fa9c1.ci.example.org"),
                "{n}"
            );
        }
        for n in [
            "traefik_ci_example_org_app",
            "keyc-3fa9c1_other_org_app",
            "keyc-3fa9c1",
            "proxy",
        ] {
            assert_eq!(parse_run_object(n, &ci), None, "{n}");
        }
    }

    use super::*;

    fn recipe(s: &str) -> RecipeName {
        s.parse().unwrap()
    }
    fn ci() -> Domain {
        "ci.example.org".parse().unwrap()
    }

    #[test]
    fn run_domain_is_four_chars_six_hex_and_the_ci_domain() {
        let app = run_app(&recipe("keycloak"), 0x3fa9c1, &ci());
        assert_eq!(app.domain, "keyc-3fa9c1.ci.example.org");
        assert_eq!(app.stack, "keyc-3fa9c1_ci_example_org");
    }

    #[test]
    fn short_recipe_names_are_kept_whole() {
        assert_eq!(
            run_app(&recipe("foo"), 1, &ci()).domain,
            "foo-000001.ci.example.org"
        );
    }

    #[test]
    fn a_hyphen_at_the_cut_is_dropped() {
        assert_eq!(
            RunLabel::new(&recipe("abc-def"), 0xabcdef).as_str(),
            "abc-abcdef"
        );
    }

    #[test]
    fn nonce_is_masked_to_six_hex_digits() {
        assert_eq!(
            RunLabel::new(&recipe("drone"), u32::MAX).as_str(),
            "dron-ffffff"
        );
    }

    #[test]
    fn run_domain_is_a_valid_domain() {
        for name in ["custom-html", "a", "matrix-synapse", "ab-c"] {
            let app = run_app(&recipe(name), fresh_nonce(), &ci());
            assert!(app.domain.parse::<Domain>().is_ok(), "{}", app.domain);
        }
    }

    #[test]
    fn janitor_pattern_recognises_every_produced_name() {
        for name in ["custom-html", "a", "ab-c", "keycloak", "x1"] {
            for _ in 0..50 {
                let app = run_app(&recipe(name), fresh_nonce(), &ci());
                assert_eq!(
                    parse_run_domain(&app.domain, &ci()),
                    Some(app.label.clone())
                );
            }
        }
    }

    #[test]
    fn janitor_pattern_ignores_other_apps() {
        for d in [
            "traefik.ci.example.org",
            "drone.ci.example.org",
            "keyc-3fa9c1.other.org",
            "keyc-3fa9cz.ci.example.org",
            "keyc-3fa9c.ci.example.org",
            "toolong-3fa9c1.ci.example.org",
            "a.keyc-3fa9c1.ci.example.org",
        ] {
            assert_eq!(parse_run_domain(d, &ci()), None, "{d}");
        }
    }

    #[test]
    fn two_fresh_nonces_differ() {
        assert_ne!(fresh_nonce(), fresh_nonce());
    }

    #[test]
    fn a_long_recipe_name_does_not_lengthen_the_stack() {
        let short = run_app(&recipe("abcd"), 1, &ci());
        let long = run_app(&recipe(&"a".repeat(48)), 1, &ci());
        assert_eq!(short.stack.len(), long.stack.len());
    }
}
