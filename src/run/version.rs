//! Co-op Cloud release versions (`X.Y.Z+upstream`) and the choice of the
//! upgrade lane's base release.
//!
//! A recipe tag is the recipe's own semantic version, then `+`, then the
//! upstream app's version (`1.2.0+1.29.0`, `3.0.1+v2.4-rc1`). Releases are
//! ordered by the recipe part first: the recipe version is what the maintainer
//! bumps, the upstream part only breaks ties.

use std::cmp::Ordering;
use std::fmt;

/// A parsed release version. Ordering: recipe part numerically, then the
/// upstream part piece by piece (numbers numerically, words lexically, a number
/// above a word, a longer version above its prefix).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoopVersion {
    pub recipe: [u64; 3],
    pub upstream: Option<String>,
    original: String,
}

impl CoopVersion {
    /// Parse a tag such as `1.2.0+1.29.0` (also `v1.2.0`, or no upstream part).
    /// Anything else is not a release tag: `None`.
    pub fn parse(tag: &str) -> Option<Self> {
        let (recipe_part, upstream) = match tag.split_once('+') {
            Some((r, u)) if !u.is_empty() => (r, Some(u.to_owned())),
            Some(_) => return None,
            None => (tag, None),
        };
        let recipe_part = recipe_part.strip_prefix('v').unwrap_or(recipe_part);
        let mut nums = recipe_part.split('.');
        let mut recipe = [0u64; 3];
        for slot in &mut recipe {
            let piece = nums.next()?;
            if piece.is_empty() || !piece.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            *slot = piece.parse().ok()?;
        }
        if nums.next().is_some() {
            return None;
        }
        Some(CoopVersion {
            recipe,
            upstream,
            original: tag.to_owned(),
        })
    }

    /// The tag as written.
    pub fn as_str(&self) -> &str {
        &self.original
    }
}

impl fmt::Display for CoopVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.original)
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Piece<'a> {
    Num(u64),
    Word(&'a str),
}

fn pieces(s: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_alphanumeric() {
            i += 1;
            continue;
        }
        let digit = bytes[i].is_ascii_digit();
        let start = i;
        while i < bytes.len()
            && bytes[i].is_ascii_alphanumeric()
            && bytes[i].is_ascii_digit() == digit
        {
            i += 1;
        }
        let text = &s[start..i];
        out.push(if digit {
            // A number too long for u64 is compared as its saturated value.
            Piece::Num(text.parse().unwrap_or(u64::MAX))
        } else {
            Piece::Word(text)
        });
    }
    out
}

fn cmp_upstream(a: &str, b: &str) -> Ordering {
    let (pa, pb) = (pieces(a), pieces(b));
    for (x, y) in pa.iter().zip(pb.iter()) {
        let o = match (x, y) {
            (Piece::Num(m), Piece::Num(n)) => m.cmp(n),
            (Piece::Word(m), Piece::Word(n)) => m.cmp(n),
            (Piece::Num(_), Piece::Word(_)) => Ordering::Greater,
            (Piece::Word(_), Piece::Num(_)) => Ordering::Less,
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    pa.len().cmp(&pb.len())
}

impl Ord for CoopVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        self.recipe.cmp(&other.recipe).then_with(|| {
            match (&self.upstream, &other.upstream) {
                (Some(a), Some(b)) => cmp_upstream(a, b),
                (None, None) => Ordering::Equal,
                (None, Some(_)) => Ordering::Less,
                (Some(_), None) => Ordering::Greater,
            }
            // Equal by value but spelt differently (`v1.0.0` vs `1.0.0`): keep a
            // total order consistent with Eq.
            .then_with(|| self.original.cmp(&other.original))
        })
    }
}

impl PartialOrd for CoopVersion {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// The base release of the upgrade lane, or why there is none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BaseChoice {
    Base(String),
    /// An intentional skip of the upgrade rung, with its reason.
    None(String),
}

/// The newest release tag strictly older than `head` (by recipe part first).
/// `pinned` (the registry's `upgrade_base`) wins when it is a tag of the repo.
pub fn choose_base(
    tags: &[String],
    head: Option<&CoopVersion>,
    pinned: Option<&str>,
) -> BaseChoice {
    if let Some(pin) = pinned {
        return if tags.iter().any(|t| t == pin) {
            BaseChoice::Base(pin.to_owned())
        } else {
            BaseChoice::None(format!(
                "the pinned upgrade base {pin} is not a tag of the recipe"
            ))
        };
    }
    let mut releases: Vec<CoopVersion> =
        tags.iter().filter_map(|t| CoopVersion::parse(t)).collect();
    releases.sort();
    let older = releases
        .iter()
        .rev()
        .find(|v| head.is_none_or(|h| cmp_value(v, h) == Ordering::Less));
    match (older, head) {
        (Some(v), _) => BaseChoice::Base(v.as_str().to_owned()),
        (None, Some(h)) => BaseChoice::None(format!(
            "no release older than the head's version {h}: nothing to upgrade from"
        )),
        (None, None) => {
            BaseChoice::None("the recipe has no release tags: nothing to upgrade from".into())
        }
    }
}

/// Compare by value only (ignoring spelling such as a leading `v`).
fn cmp_value(a: &CoopVersion, b: &CoopVersion) -> Ordering {
    a.recipe
        .cmp(&b.recipe)
        .then_with(|| match (&a.upstream, &b.upstream) {
            (Some(x), Some(y)) => cmp_upstream(x, y),
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Less,
            (Some(_), None) => Ordering::Greater,
        })
}

/// The head's version: the `coop-cloud.${STACK_NAME}.version` label in its
/// compose file when present (a release PR bumps it), else the newest release
/// tag reachable from the head (`git describe`'s answer), else none.
pub fn head_version(
    compose_label: Option<&str>,
    reachable_tag: Option<&str>,
) -> Option<CoopVersion> {
    compose_label
        .and_then(CoopVersion::parse)
        .or_else(|| reachable_tag.and_then(CoopVersion::parse))
}

/// Find the version label in a compose file's text
/// (`coop-cloud.${STACK_NAME}.version=1.2.0+1.29.0`, in list or map form).
pub fn compose_version_label(compose: &str) -> Option<String> {
    const KEY: &str = "coop-cloud.${STACK_NAME}.version";
    for line in compose.lines() {
        let Some(at) = line.find(KEY) else { continue };
        let rest = line[at + KEY.len()..].trim_start_matches(['"', '\'']);
        let rest = rest.trim_start();
        let Some(value) = rest.strip_prefix('=').or_else(|| rest.strip_prefix(':')) else {
            continue;
        };
        let value = value.trim().trim_matches(['"', '\'']);
        if !value.is_empty() {
            return Some(value.to_owned());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> CoopVersion {
        CoopVersion::parse(s).unwrap()
    }
    fn tags(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn parses_recipe_and_upstream_parts() {
        let x = v("1.2.0+1.29.0");
        assert_eq!(x.recipe, [1, 2, 0]);
        assert_eq!(x.upstream.as_deref(), Some("1.29.0"));
    }

    #[test]
    fn rejects_non_release_tags() {
        for t in ["latest", "1.2", "1.2.0+", "1.2.0.1+x", "a.b.c", ""] {
            assert!(CoopVersion::parse(t).is_none(), "{t}");
        }
    }

    #[test]
    fn recipe_part_orders_before_upstream() {
        assert!(v("2.0.0+1.0.0") > v("1.9.9+9.9.9"));
        assert!(v("1.10.0+1.0") > v("1.9.0+2.0"));
    }

    #[test]
    fn upstream_breaks_ties_numerically() {
        assert!(v("1.0.0+1.29.0") > v("1.0.0+1.3.0"));
        assert!(v("1.0.0+2.4.1") > v("1.0.0+2.4"));
    }

    #[test]
    fn base_is_newest_tag_strictly_older_than_head() {
        let t = tags(&["1.0.0+1.0", "1.1.0+1.1", "2.0.0+2.0", "not-a-release"]);
        assert_eq!(
            choose_base(&t, Some(&v("2.0.0+2.0")), None),
            BaseChoice::Base("1.1.0+1.1".into())
        );
        assert_eq!(
            choose_base(&t, Some(&v("2.1.0+2.0")), None),
            BaseChoice::Base("2.0.0+2.0".into())
        );
    }

    #[test]
    fn base_ignores_tags_newer_than_head() {
        let t = tags(&["1.0.0+1.0", "3.0.0+3.0"]);
        assert_eq!(
            choose_base(&t, Some(&v("2.0.0+2.0")), None),
            BaseChoice::Base("1.0.0+1.0".into())
        );
    }

    #[test]
    fn base_orders_by_recipe_part_not_tag_text() {
        let t = tags(&["1.9.0+9.0", "1.10.0+1.0"]);
        assert_eq!(
            choose_base(&t, Some(&v("2.0.0+1.0")), None),
            BaseChoice::Base("1.10.0+1.0".into())
        );
    }

    #[test]
    fn no_older_release_is_a_skip_with_reason() {
        let t = tags(&["1.0.0+1.0"]);
        let BaseChoice::None(reason) = choose_base(&t, Some(&v("1.0.0+1.0")), None) else {
            panic!("expected a skip")
        };
        assert!(reason.contains("no release older"), "{reason}");
        assert!(matches!(choose_base(&[], None, None), BaseChoice::None(_)));
    }

    #[test]
    fn pinned_base_wins() {
        let t = tags(&["1.0.0+1.0", "1.1.0+1.1", "2.0.0+2.0"]);
        assert_eq!(
            choose_base(&t, Some(&v("2.0.0+2.0")), Some("1.0.0+1.0")),
            BaseChoice::Base("1.0.0+1.0".into())
        );
    }

    #[test]
    fn pinned_base_that_is_no_tag_is_a_skip() {
        let t = tags(&["1.0.0+1.0"]);
        assert!(matches!(
            choose_base(&t, None, Some("0.9.0+1")),
            BaseChoice::None(_)
        ));
    }

    #[test]
    fn head_version_prefers_the_compose_label() {
        assert_eq!(
            head_version(Some("2.0.0+2"), Some("1.0.0+1")),
            Some(v("2.0.0+2"))
        );
        assert_eq!(head_version(None, Some("1.0.0+1")), Some(v("1.0.0+1")));
        assert_eq!(head_version(Some("garbage"), None), None);
    }

    #[test]
    fn compose_label_is_found_in_list_and_map_form() {
        let list = "    labels:\n      - \"coop-cloud.${STACK_NAME}.version=1.2.0+1.29.0\"\n";
        assert_eq!(compose_version_label(list).as_deref(), Some("1.2.0+1.29.0"));
        let map = "      labels:\n        coop-cloud.${STACK_NAME}.version: 3.1.0+v2\n";
        assert_eq!(compose_version_label(map).as_deref(), Some("3.1.0+v2"));
        assert_eq!(compose_version_label("services: {}\n"), None);
    }
}
