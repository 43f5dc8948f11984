//! Secret values out of every line and artifact: one [`Masker`] per run, fed
//! every secret value the run can know, applied at the output edges (progress
//! lines, artifacts), plus a scan for common token shapes
//! (docs/security.md, "Masking and the leak scan").
//!
//! The masker is shared (cloned into the progress sink and the platform) and
//! grows while the run goes: values generated for a run app are added the
//! moment the platform learns them.

use std::sync::{Arc, RwLock};

/// What a masked value is replaced with.
pub const MASK: &str = "***";

/// Values shorter than this are not masked: a two-letter "secret" would
/// shred every line, and a value that short is not a secret worth the name.
pub const MIN_SECRET_LEN: usize = 6;

/// A line of a multi-line secret is masked on its own from this length.
pub const MIN_LINE_LEN: usize = 16;

/// Every secret value of the run, longest first so a value that contains
/// another is masked whole.
#[derive(Clone, Default)]
pub struct Masker {
    values: Arc<RwLock<Vec<String>>>,
}

impl std::fmt::Debug for Masker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the values themselves.
        write!(f, "Masker({} values)", self.len())
    }
}

impl Masker {
    pub fn new() -> Self {
        Self::default()
    }

    /// Add one value (trimmed; each of its lines too, since a multi-line
    /// secret such as a PEM reaches a log line by line).
    pub fn add(&self, value: &str) {
        let mut candidates = vec![value.trim()];
        if value.contains('\n') {
            // Lines long enough to be key material (a PEM's are 64), not a
            // config file's short lines.
            candidates.extend(
                value
                    .lines()
                    .map(str::trim)
                    .filter(|l| l.len() >= MIN_LINE_LEN),
            );
        }
        let Ok(mut values) = self.values.write() else {
            return;
        };
        for c in candidates {
            if c.len() >= MIN_SECRET_LEN && !values.iter().any(|v| v == c) {
                values.push(c.to_owned());
            }
        }
        values.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
    }

    /// How many values are known.
    pub fn len(&self) -> usize {
        self.values.read().map_or(0, |v| v.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `text` with every known value replaced by [`MASK`].
    pub fn mask(&self, text: &str) -> String {
        let Ok(values) = self.values.read() else {
            return text.to_owned();
        };
        let mut out: Option<String> = None;
        for v in values.iter() {
            let cur = out.as_deref().unwrap_or(text);
            if cur.contains(v.as_str()) {
                out = Some(cur.replace(v.as_str(), MASK));
            }
        }
        out.unwrap_or_else(|| text.to_owned())
    }

    /// Whether `text` holds a known value.
    pub fn holds_value(&self, text: &str) -> bool {
        self.values
            .read()
            .is_ok_and(|v| v.iter().any(|s| text.contains(s.as_str())))
    }

    /// Everything wrong with `text`: known values (counted, never shown) and
    /// token shapes (named).
    pub fn findings(&self, text: &str) -> Vec<String> {
        let mut out = Vec::new();
        if self.holds_value(text) {
            out.push("a known secret value".to_owned());
        }
        for hit in token_shapes(text) {
            let name = hit.shape.to_owned();
            if !out.contains(&name) {
                out.push(name);
            }
        }
        out
    }

    /// `text` with known values and token shapes replaced by [`MASK`].
    pub fn redact(&self, text: &str) -> String {
        redact_shapes(&self.mask(text))
    }
}

/// Read the host's secret files into `masker`: every regular file directly
/// in `dir` (the directory the plan's token file lives in). Files that cannot
/// be read are skipped: the masker is best effort on top of never printing
/// secrets in the first place.
pub fn add_secret_dir(masker: &Masker, dir: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let Ok(meta) = e.metadata() else { continue };
        // A secret file is small; anything big is not a value to mask.
        if !(meta.is_file() && meta.len() <= 64 * 1024) {
            continue;
        }
        if let Ok(text) = std::fs::read_to_string(e.path()) {
            masker.add(&text);
        }
    }
}

/// The values in `abra app secret generate -m` output: a JSON array of
/// `{"name": …, "value": …}` (docs/abra.md, "Machine output and secret
/// values"). Anything else yields nothing.
pub fn generated_values(machine_output: &str) -> Vec<String> {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(machine_output.trim()) else {
        return Vec::new();
    };
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|o| o.get("value").and_then(|v| v.as_str()).map(str::to_owned))
        .collect()
}

/// One token shape found in a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShapeHit {
    pub shape: &'static str,
    /// Byte range of the token.
    pub start: usize,
    pub end: usize,
}

/// Prefixed tokens: (prefix, shape name, minimum body length). The body is
/// `[A-Za-z0-9_-]`.
const PREFIXED: &[(&str, &str, usize)] = &[
    ("ghp_", "GitHub token", 20),
    ("gho_", "GitHub token", 20),
    ("ghu_", "GitHub token", 20),
    ("ghs_", "GitHub token", 20),
    ("ghr_", "GitHub token", 20),
    ("github_pat_", "GitHub token", 20),
    ("glpat-", "GitLab token", 20),
    ("xoxb-", "Slack token", 10),
    ("xoxp-", "Slack token", 10),
    ("xoxa-", "Slack token", 10),
    ("AKIA", "AWS access key id", 16),
    ("sk_live_", "Stripe key", 16),
    ("Bearer ", "bearer credential", 20),
];

fn is_body(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

fn is_b64url(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'='
}

/// Every token shape in `text`, left to right, not overlapping.
pub fn token_shapes(text: &str) -> Vec<ShapeHit> {
    // Candidate starts come from substring search (std's, fast even in a
    // debug build); only those positions get the full check.
    let mut starts: Vec<usize> = ["-----BEGIN ", "eyJ"]
        .iter()
        .chain(PREFIXED.iter().map(|(p, _, _)| p))
        .flat_map(|p| text.match_indices(p).map(|(i, _)| i))
        .collect();
    starts.sort_unstable();
    starts.dedup();
    let mut hits: Vec<ShapeHit> = Vec::new();
    for i in starts {
        if hits.last().is_some_and(|h| i < h.end) {
            continue;
        }
        if let Some(h) = shape_at(text, i) {
            hits.push(h);
        }
    }
    hits
}

fn run_len(bytes: &[u8], from: usize, ok: fn(u8) -> bool) -> usize {
    bytes[from..].iter().take_while(|b| ok(**b)).count()
}

fn shape_at(text: &str, i: usize) -> Option<ShapeHit> {
    let bytes = text.as_bytes();
    let rest = &text[i..];
    // Tokens start at a word boundary.
    if i > 0 && is_body(bytes[i - 1]) {
        return None;
    }
    if rest.starts_with("-----BEGIN ") {
        let line_end = rest.find('\n').unwrap_or(rest.len());
        if rest[..line_end].contains("PRIVATE KEY-----") {
            let end = rest
                .find("PRIVATE KEY-----\n")
                .and_then(|first| {
                    let after = first + "PRIVATE KEY-----".len();
                    rest[after..]
                        .find("PRIVATE KEY-----")
                        .map(|e| after + e + "PRIVATE KEY-----".len())
                })
                .unwrap_or(line_end);
            return Some(ShapeHit {
                shape: "private key",
                start: i,
                end: i + end,
            });
        }
    }
    if rest.starts_with("eyJ") {
        // A JWT: three base64url parts, the first two JSON objects.
        let a = run_len(bytes, i, is_b64url);
        let dot1 = i + a;
        if a >= 10 && bytes.get(dot1) == Some(&b'.') && rest[a + 1..].starts_with("eyJ") {
            let b = run_len(bytes, dot1 + 1, is_b64url);
            let dot2 = dot1 + 1 + b;
            if b >= 10 && bytes.get(dot2) == Some(&b'.') {
                let c = run_len(bytes, dot2 + 1, is_b64url);
                if c >= 10 {
                    return Some(ShapeHit {
                        shape: "JSON web token",
                        start: i,
                        end: dot2 + 1 + c,
                    });
                }
            }
        }
    }
    for (prefix, shape, min) in PREFIXED {
        if rest.starts_with(prefix) {
            let body = run_len(bytes, i + prefix.len(), is_body);
            if body >= *min {
                return Some(ShapeHit {
                    shape,
                    start: i,
                    end: i + prefix.len() + body,
                });
            }
        }
    }
    None
}

/// `text` with every token shape replaced by [`MASK`] (a bearer credential
/// keeps its `Bearer ` word so the line stays readable).
pub fn redact_shapes(text: &str) -> String {
    let hits = token_shapes(text);
    if hits.is_empty() {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for h in hits {
        out.push_str(&text[at..h.start]);
        if text[h.start..].starts_with("Bearer ") {
            out.push_str("Bearer ");
        }
        out.push_str(MASK);
        at = h.end;
    }
    out.push_str(&text[at..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values_are_masked_longest_first() {
        let m = Masker::new();
        m.add("hunter2hunter2");
        m.add("hunter2hunter2-and-more\n");
        m.add("abc"); // too short to mask
        assert_eq!(
            m.mask("a hunter2hunter2-and-more b hunter2hunter2 abc"),
            "a *** b *** abc"
        );
        assert_eq!(format!("{m:?}"), "Masker(2 values)");
    }

    #[test]
    fn each_line_of_a_multi_line_secret_is_masked() {
        let m = Masker::new();
        m.add("first-line-secret\nsecond-line-secret\n");
        assert_eq!(m.mask("got second-line-secret"), "got ***");
    }

    #[test]
    fn token_shapes_are_found_and_redacted() {
        let gh = format!("ghp_{}", "a".repeat(36));
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
        let text = format!(
            "x {gh} y {jwt} z AKIAIOSFODNN7EXAMPLE Authorization: Bearer abcdefghijklmnopqrstuvwxyz"
        );
        let shapes: Vec<_> = token_shapes(&text).iter().map(|h| h.shape).collect();
        assert_eq!(
            shapes,
            [
                "GitHub token",
                "JSON web token",
                "AWS access key id",
                "bearer credential"
            ]
        );
        assert_eq!(
            redact_shapes(&text),
            "x *** y *** z *** Authorization: Bearer ***"
        );
    }

    #[test]
    fn a_private_key_block_is_one_hit() {
        let pem = "a\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk\n-----END OPENSSH PRIVATE KEY-----\nz";
        assert_eq!(redact_shapes(pem), "a\n***\nz");
    }

    #[test]
    fn commit_ids_and_ordinary_words_are_not_tokens() {
        let text =
            "ref 0123456789abcdef0123456789abcdef01234567 in ghp_short, BearerX, eyJ.x — ü · done";
        assert!(token_shapes(text).is_empty(), "{:?}", token_shapes(text));
        // A prefix inside a word is not a token start.
        assert!(token_shapes(&format!("xghp_{}", "a".repeat(30))).is_empty());
    }

    #[test]
    fn findings_never_show_the_value() {
        let m = Masker::new();
        m.add("s3cr3t-value");
        let f = m.findings(&format!("leak s3cr3t-value ghp_{}", "b".repeat(30)));
        assert_eq!(f, ["a known secret value", "GitHub token"]);
        assert!(!f.concat().contains("s3cr3t"));
    }

    #[test]
    fn abra_machine_output_yields_the_values() {
        let out =
            r#"[{"name":"db_password","value":"v4lue-one"},{"name":"k","value":"v4lue-two"}]"#;
        assert_eq!(generated_values(out), ["v4lue-one", "v4lue-two"]);
        assert!(generated_values("not json").is_empty());
    }

    #[test]
    fn the_secret_dir_is_read() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("gitea_bot_token"), "tok3n-from-file\n").unwrap();
        let m = Masker::new();
        add_secret_dir(&m, d.path());
        assert_eq!(m.mask("x tok3n-from-file"), "x ***");
    }
}
