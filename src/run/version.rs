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

/// A tag of the recipe's repository and the commit it names (an annotated
/// tag peeled to its commit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagRef {
    pub name: String,
    /// 40 hex.
    pub commit: String,
}

/// The release the upgrade lane starts from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Base {
    /// The tag as written (`v1.0.2`, `1.2.0+1.29.0`).
    pub tag: String,
    /// The commit the tag names, 40 hex.
    pub commit: String,
}

/// The base release of the upgrade lane, or why there is none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BaseChoice {
    Base(Base),
    /// An intentional skip of the upgrade rung, with its reason; the reason
    /// starts with [`NO_OLDER_RELEASE`] when no tag qualifies.
    None(String),
}

/// How a skip for want of a base begins (the short form the badge shows).
pub const NO_OLDER_RELEASE: &str = "no older release";

/// Whether release `v` is strictly older than the head's version `head`.
///
/// Co-op Cloud versions are semantic versions whose `+upstream` part is
/// build metadata: it never makes a release newer or older than another
/// with the same recipe part (docs/abra.md, "Release versions and the
/// upgrade base"). So `v1.0.3` is the same release as `1.0.3+1.0.3`, not
/// an older one.
pub fn older_release(v: &CoopVersion, head: &CoopVersion) -> bool {
    v.recipe < head.recipe
}

/// The upgrade base: the newest release tag strictly older than the head's
/// version (newest by recipe part, then upstream), never the head commit
/// itself nor a tag on it. `pinned` (the registry's `upgrade_base`) wins
/// when it is a tag of the repo that does not name the head commit.
pub fn choose_base(
    tags: &[TagRef],
    head_commit: &str,
    head: Option<&CoopVersion>,
    pinned: Option<&str>,
) -> BaseChoice {
    let on_head = |t: &TagRef| t.commit.eq_ignore_ascii_case(head_commit);
    if let Some(pin) = pinned {
        return match tags.iter().find(|t| t.name == pin) {
            None => BaseChoice::None(format!(
                "the pinned upgrade base {pin} is not a tag of the recipe"
            )),
            Some(t) if on_head(t) => BaseChoice::None(format!(
                "{NO_OLDER_RELEASE}: the pinned upgrade base {pin} is the commit under test"
            )),
            Some(t) => BaseChoice::Base(Base {
                tag: t.name.clone(),
                commit: t.commit.to_ascii_lowercase(),
            }),
        };
    }
    let mut releases: Vec<(CoopVersion, &TagRef)> = tags
        .iter()
        .filter(|t| !on_head(t))
        .filter_map(|t| CoopVersion::parse(&t.name).map(|v| (v, t)))
        .collect();
    releases.sort_by(|a, b| a.0.cmp(&b.0));
    let older = releases
        .iter()
        .rev()
        .find(|(v, _)| head.is_none_or(|h| older_release(v, h)));
    match (older, head) {
        (Some((_, t)), _) => BaseChoice::Base(Base {
            tag: t.name.clone(),
            commit: t.commit.to_ascii_lowercase(),
        }),
        (None, Some(h)) => BaseChoice::None(format!(
            "{NO_OLDER_RELEASE}: no release tag is older than the head's version {h}"
        )),
        (None, None) => BaseChoice::None(format!(
            "{NO_OLDER_RELEASE}: the recipe has no release tag besides the head"
        )),
    }
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
    /// Tags on distinct commits `c0…`, in order; `HEAD_C` is the head commit.
    fn tags(list: &[&str]) -> Vec<TagRef> {
        list.iter()
            .enumerate()
            .map(|(i, s)| TagRef {
                name: s.to_string(),
                commit: format!("{i:040x}"),
            })
            .collect()
    }
    const HEAD_C: &str = "ffffffffffffffffffffffffffffffffffffffff";

    fn base(c: BaseChoice) -> String {
        match c {
            BaseChoice::Base(b) => b.tag,
            BaseChoice::None(r) => panic!("expected a base, got a skip: {r}"),
        }
    }

    #[test]
    fn base_is_newest_tag_strictly_older_than_head() {
        let t = tags(&["1.0.0+1.0", "1.1.0+1.1", "2.0.0+2.0", "not-a-release"]);
        assert_eq!(
            base(choose_base(&t, HEAD_C, Some(&v("2.0.0+2.0")), None)),
            "1.1.0+1.1"
        );
        assert_eq!(
            base(choose_base(&t, HEAD_C, Some(&v("2.1.0+2.0")), None)),
            "2.0.0+2.0"
        );
    }

    #[test]
    fn the_base_records_the_commit_its_tag_names() {
        let t = tags(&["1.0.0+1.0", "1.1.0+1.1"]);
        let BaseChoice::Base(b) = choose_base(&t, HEAD_C, Some(&v("2.0.0+2.0")), None) else {
            panic!("expected a base")
        };
        assert_eq!(b.commit, format!("{:040x}", 1));
    }

    #[test]
    fn base_ignores_tags_newer_than_head() {
        let t = tags(&["1.0.0+1.0", "3.0.0+3.0"]);
        assert_eq!(
            base(choose_base(&t, HEAD_C, Some(&v("2.0.0+2.0")), None)),
            "1.0.0+1.0"
        );
    }

    #[test]
    fn base_orders_by_recipe_part_not_tag_text() {
        let t = tags(&["1.9.0+9.0", "1.10.0+1.0"]);
        assert_eq!(
            base(choose_base(&t, HEAD_C, Some(&v("2.0.0+1.0")), None)),
            "1.10.0+1.0"
        );
    }

    #[test]
    fn v_tags_and_a_head_on_the_newest_tag_choose_the_one_before() {
        // The head is labelled 1.0.3+1.0.3 and sits on the tag v1.0.3: that
        // tag is the same release, never the base.
        let mut t = tags(&["v1.0.0", "v1.0.1", "v1.0.2", "v1.0.3"]);
        t[3].commit = HEAD_C.to_owned();
        assert_eq!(
            base(choose_base(&t, HEAD_C, Some(&v("1.0.3+1.0.3")), None)),
            "v1.0.2"
        );
        // Found from the reachable tag alone (no label), the same answer.
        assert_eq!(
            base(choose_base(&t, HEAD_C, Some(&v("v1.0.3")), None)),
            "v1.0.2"
        );
        // Without a known head version, still never the head's own tag.
        assert_eq!(base(choose_base(&t, HEAD_C, None, None)), "v1.0.2");
    }

    #[test]
    fn a_tag_of_the_same_recipe_version_is_not_older() {
        // Upstream is build metadata: 1.0.3+1.0.2 is not an older release
        // than 1.0.3+1.0.3, even on another commit.
        let t = tags(&["1.0.2+1.0.2", "1.0.3+1.0.2", "v1.0.3"]);
        assert_eq!(
            base(choose_base(&t, HEAD_C, Some(&v("1.0.3+1.0.3")), None)),
            "1.0.2+1.0.2"
        );
    }

    #[test]
    fn a_newer_tag_on_the_head_commit_is_never_the_base() {
        // A head without a version label whose only tags sit on it.
        let mut t = tags(&["1.0.0+1"]);
        t[0].commit = HEAD_C.to_owned();
        let BaseChoice::None(reason) = choose_base(&t, HEAD_C, None, None) else {
            panic!("expected a skip")
        };
        assert!(reason.starts_with(NO_OLDER_RELEASE), "{reason}");
    }

    #[test]
    fn no_older_release_is_a_skip_with_reason() {
        let t = tags(&["1.0.0+1.0"]);
        let BaseChoice::None(reason) = choose_base(&t, HEAD_C, Some(&v("1.0.0+1.0")), None) else {
            panic!("expected a skip")
        };
        assert!(reason.starts_with(NO_OLDER_RELEASE), "{reason}");
        assert!(reason.contains("1.0.0+1.0"), "{reason}");
        assert!(matches!(
            choose_base(&[], HEAD_C, None, None),
            BaseChoice::None(_)
        ));
    }

    #[test]
    fn pinned_base_wins() {
        let t = tags(&["1.0.0+1.0", "1.1.0+1.1", "2.0.0+2.0"]);
        assert_eq!(
            base(choose_base(
                &t,
                HEAD_C,
                Some(&v("2.0.0+2.0")),
                Some("1.0.0+1.0")
            )),
            "1.0.0+1.0"
        );
    }

    #[test]
    fn pinned_base_that_is_no_tag_or_the_head_is_a_skip() {
        let mut t = tags(&["1.0.0+1.0"]);
        assert!(matches!(
            choose_base(&t, HEAD_C, None, Some("0.9.0+1")),
            BaseChoice::None(_)
        ));
        t[0].commit = HEAD_C.to_uppercase();
        let BaseChoice::None(reason) = choose_base(&t, HEAD_C, None, Some("1.0.0+1.0")) else {
            panic!("expected a skip")
        };
        assert!(reason.contains("commit under test"), "{reason}");
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
