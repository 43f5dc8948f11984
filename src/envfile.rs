//! THE editor for abra `.env` files, shared by `ccci reconcile` and the runtime.
//!
//! abra keeps an app's configuration in `~/.abra/servers/<server>/<domain>.env`,
//! a dotenv file that humans also edit. Editing it must never lose or damage
//! what is there: an append onto a file without a final
//! newline that glued `RESTIC_REPOSITORY=…` onto a comment and silently
//! disabled backups (docs/abra.md, "The missing final newline"). So this
//! editor works on lines and their own line endings:
//!
//! - every line the edit is not about stays byte-identical (content and ending);
//! - setting an existing key replaces its assignment in place (and drops later
//!   duplicates, so the key is never defined twice);
//! - setting a key that only appears commented out (`#KEY=…`) uncomments that
//!   line in place, where the recipe's `.env.sample` documented it;
//! - otherwise the assignment is appended, after adding the missing final
//!   newline if needed; CRLF files get CRLF lines;
//! - values are quoted when they need it (spaces, `#`, quotes, `$`, newlines),
//!   in a form the dotenv reader abra uses reads back verbatim.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

/// Why an edit or a file operation failed.
#[derive(Debug, thiserror::Error)]
pub enum EnvFileError {
    #[error(
        "{key:?} is not a valid env key (letters, digits, '_', '.', not starting with a digit)"
    )]
    InvalidKey { key: String },
    #[error("the value for {key} contains a NUL byte")]
    InvalidValue { key: String },
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: not UTF-8 text")]
    NotText { path: String },
}

/// One line: its text without the line ending, and the ending itself
/// (`"\n"`, `"\r\n"`, or `""` for a last line without one).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Line {
    text: String,
    eol: &'static str,
}

/// What a line means to the reader.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Meaning {
    Assign {
        key: String,
        value: String,
    },
    /// `#KEY=…` / `# export KEY=…`: a documented but disabled setting.
    Commented {
        key: String,
    },
    Other,
}

/// A parsed env file that can be edited and written back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvFile {
    lines: Vec<Line>,
}

impl EnvFile {
    /// Parse any text. Never fails: lines that are not assignments are kept as
    /// they are and mean nothing.
    pub fn parse(text: &str) -> EnvFile {
        let mut lines = Vec::new();
        let mut rest = text;
        while !rest.is_empty() {
            match rest.find('\n') {
                Some(i) => {
                    let (raw, tail) = rest.split_at(i + 1);
                    let (body, eol) = match raw.strip_suffix("\r\n") {
                        Some(b) => (b, "\r\n"),
                        None => (&raw[..raw.len() - 1], "\n"),
                    };
                    lines.push(Line {
                        text: body.to_owned(),
                        eol,
                    });
                    rest = tail;
                }
                None => {
                    lines.push(Line {
                        text: rest.to_owned(),
                        eol: "",
                    });
                    rest = "";
                }
            }
        }
        EnvFile { lines }
    }

    /// The file's text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for l in &self.lines {
            out.push_str(&l.text);
            out.push_str(l.eol);
        }
        out
    }

    /// The value a dotenv reader sees for `key` (the last assignment wins).
    pub fn get(&self, key: &str) -> Option<String> {
        self.lines
            .iter()
            .rev()
            .find_map(|l| match meaning(&l.text) {
                Meaning::Assign { key: k, value } if k == key => Some(value),
                _ => None,
            })
    }

    /// Every key and the value a reader sees for it.
    pub fn to_map(&self) -> BTreeMap<String, String> {
        let mut map = BTreeMap::new();
        for l in &self.lines {
            if let Meaning::Assign { key, value } = meaning(&l.text) {
                map.insert(key, value);
            }
        }
        map
    }

    /// Make `key` read as `value`. Returns whether the text changed.
    pub fn set(&mut self, key: &str, value: &str) -> Result<bool, EnvFileError> {
        check_key(key)?;
        if value.contains('\0') {
            return Err(EnvFileError::InvalidValue {
                key: key.to_owned(),
            });
        }
        let assigned: Vec<usize> = self.positions(key, |m| matches!(m, Meaning::Assign { .. }));
        let new_text = format!("{key}={}", quote(value));
        if let Some((&first, later)) = assigned.split_first() {
            let keep_first = matches!(
                meaning(&self.lines[first].text),
                Meaning::Assign { value: v, .. } if v == value
            );
            let mut changed = false;
            if !keep_first {
                self.lines[first].text = new_text;
                changed = true;
            }
            // Later duplicates would override the first: remove them.
            for &i in later.iter().rev() {
                self.remove_line(i);
                changed = true;
            }
            return Ok(changed);
        }
        let commented = self.positions(key, |m| matches!(m, Meaning::Commented { .. }));
        if let Some(&i) = commented.first() {
            self.lines[i].text = new_text;
            return Ok(true);
        }
        let eol = self.dominant_eol();
        if let Some(last) = self.lines.last_mut().filter(|l| l.eol.is_empty()) {
            last.eol = eol;
        }
        self.lines.push(Line {
            text: new_text,
            eol,
        });
        Ok(true)
    }

    /// Remove every assignment of `key` (comments mentioning it stay). Returns
    /// whether the text changed.
    pub fn unset(&mut self, key: &str) -> Result<bool, EnvFileError> {
        check_key(key)?;
        let assigned = self.positions(key, |m| matches!(m, Meaning::Assign { .. }));
        for &i in assigned.iter().rev() {
            self.remove_line(i);
        }
        Ok(!assigned.is_empty())
    }

    /// Apply several `set`s; returns whether anything changed.
    pub fn set_all<'a, I>(&mut self, pairs: I) -> Result<bool, EnvFileError>
    where
        I: IntoIterator<Item = (&'a str, &'a str)>,
    {
        let mut changed = false;
        for (k, v) in pairs {
            changed |= self.set(k, v)?;
        }
        Ok(changed)
    }

    fn positions(&self, key: &str, want: impl Fn(&Meaning) -> bool) -> Vec<usize> {
        self.lines
            .iter()
            .enumerate()
            .filter_map(|(i, l)| {
                let m = meaning(&l.text);
                let k = match &m {
                    Meaning::Assign { key, .. } | Meaning::Commented { key } => key.as_str(),
                    Meaning::Other => return None,
                };
                (k == key && want(&m)).then_some(i)
            })
            .collect()
    }

    /// Lines around the removed one keep their own endings (byte-identical).
    fn remove_line(&mut self, i: usize) {
        self.lines.remove(i);
    }

    fn dominant_eol(&self) -> &'static str {
        let crlf = self.lines.iter().filter(|l| l.eol == "\r\n").count();
        let lf = self.lines.iter().filter(|l| l.eol == "\n").count();
        if crlf > lf { "\r\n" } else { "\n" }
    }
}

/// Read `path`, set every pair, write it back atomically (same directory,
/// same permissions) only when the text changed. Returns whether it changed.
pub fn edit_file(path: &Path, pairs: &BTreeMap<String, String>) -> Result<bool, EnvFileError> {
    let shown = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| EnvFileError::Io {
        path: shown.clone(),
        source,
    })?;
    let text = String::from_utf8(bytes).map_err(|_| EnvFileError::NotText {
        path: shown.clone(),
    })?;
    let mut env = EnvFile::parse(&text);
    let changed = env.set_all(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))?;
    if changed {
        write_atomically(path, env.render().as_bytes())?;
    }
    Ok(changed)
}

/// Read an env file into the mapping a dotenv reader sees.
pub fn read_file(path: &Path) -> Result<EnvFile, EnvFileError> {
    let shown = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| EnvFileError::Io {
        path: shown.clone(),
        source,
    })?;
    let text = String::from_utf8(bytes).map_err(|_| EnvFileError::NotText { path: shown })?;
    Ok(EnvFile::parse(&text))
}

/// Replace `path` with `content` via a temporary file and a rename, so a crash
/// never leaves half a file; the original permissions are kept.
pub fn write_atomically(path: &Path, content: &[u8]) -> Result<(), EnvFileError> {
    let io = |source| EnvFileError::Io {
        path: path.display().to_string(),
        source,
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.ccci-tmp-{}", std::process::id()));
    let perms = std::fs::metadata(path).ok().map(|m| m.permissions());
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(content)?;
        f.sync_all()?;
        if let Some(p) = perms {
            std::fs::set_permissions(&tmp, p)?;
        }
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(io)
}

fn check_key(key: &str) -> Result<(), EnvFileError> {
    if is_key(key) {
        Ok(())
    } else {
        Err(EnvFileError::InvalidKey {
            key: key.to_owned(),
        })
    }
}

fn is_key(key: &str) -> bool {
    let mut chars = key.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
}

/// Split `KEY=rest` (with an optional `export ` prefix) if the key is valid.
fn split_assignment(text: &str) -> Option<(&str, &str)> {
    let t = text.trim_start();
    let t = t.strip_prefix("export ").map_or(t, str::trim_start);
    let (key, rest) = t.split_once('=')?;
    let key = key.trim_end();
    is_key(key).then_some((key, rest))
}

fn meaning(text: &str) -> Meaning {
    let trimmed = text.trim_start();
    if let Some(comment) = trimmed.strip_prefix('#') {
        return match split_assignment(comment) {
            Some((key, _)) => Meaning::Commented {
                key: key.to_owned(),
            },
            None => Meaning::Other,
        };
    }
    match split_assignment(text) {
        Some((key, rest)) => Meaning::Assign {
            key: key.to_owned(),
            value: parse_value(rest),
        },
        None => Meaning::Other,
    }
}

/// The value of `KEY=<raw>` as a dotenv reader sees it.
fn parse_value(raw: &str) -> String {
    let raw = raw.trim_start();
    if let Some(body) = raw.strip_prefix('\'') {
        return match body.find('\'') {
            Some(end) => body[..end].to_owned(),
            None => body.trim_end().to_owned(),
        };
    }
    if let Some(body) = raw.strip_prefix('"') {
        let mut out = String::new();
        let mut chars = body.chars();
        while let Some(c) = chars.next() {
            match c {
                '"' => return out,
                '\\' => match chars.next() {
                    Some('n') => out.push('\n'),
                    Some('r') => out.push('\r'),
                    Some('t') => out.push('\t'),
                    Some(other) => out.push(other),
                    None => out.push('\\'),
                },
                c => out.push(c),
            }
        }
        return out;
    }
    // Unquoted: an inline comment starts at a '#' after whitespace.
    let mut end = raw.len();
    let bytes = raw.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'#' && (i == 0 || bytes[i - 1].is_ascii_whitespace()) {
            end = i;
            break;
        }
    }
    raw[..end].trim().to_owned()
}

/// Write `value` so that [`parse_value`] (and abra's dotenv reader) read it
/// back exactly: bare when it is plainly safe, single quotes when that is
/// enough, double quotes with escapes otherwise.
fn quote(value: &str) -> String {
    let plain = value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"_-./:,@%+=".contains(&b));
    if plain {
        return value.to_owned();
    }
    if !value.contains(['\'', '\n', '\r']) {
        return format!("'{value}'");
    }
    let mut out = String::from("\"");
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '$' => out.push_str("\\$"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(text: &str, k: &str, v: &str) -> String {
        let mut e = EnvFile::parse(text);
        e.set(k, v).unwrap();
        e.render()
    }

    #[test]
    fn appending_to_a_file_without_final_newline_does_not_glue_onto_the_comment() {
        let out = set(
            "# backups go to\n#RESTIC_REPOSITORY_X=/x",
            "RESTIC_REPOSITORY",
            "/backups/restic",
        );
        assert_eq!(
            out,
            "# backups go to\n#RESTIC_REPOSITORY_X=/x\nRESTIC_REPOSITORY=/backups/restic\n"
        );
        assert_eq!(
            EnvFile::parse(&out).get("RESTIC_REPOSITORY").as_deref(),
            Some("/backups/restic")
        );
    }

    #[test]
    fn existing_key_is_replaced_in_place_not_duplicated() {
        let out = set("A=1\nDOMAIN=old\nB=2\n", "DOMAIN", "new.example.org");
        assert_eq!(out, "A=1\nDOMAIN=new.example.org\nB=2\n");
    }

    #[test]
    fn later_duplicates_are_removed() {
        let out = set("K=1\nX=2\nK=3\n", "K", "4");
        assert_eq!(out, "K=4\nX=2\n");
    }

    #[test]
    fn commented_key_is_uncommented_in_place() {
        let out = set("A=1\n#WILDCARDS_ENABLED=1\nB=2\n", "WILDCARDS_ENABLED", "1");
        assert_eq!(out, "A=1\nWILDCARDS_ENABLED=1\nB=2\n");
    }

    #[test]
    fn values_with_spaces_or_hash_are_quoted_and_read_back() {
        for v in [
            "a b",
            "x #y",
            "it's",
            "say \"hi\"",
            "$HOME",
            "line\nbreak",
            "",
        ] {
            let out = set("", "K", v);
            assert_eq!(EnvFile::parse(&out).get("K").as_deref(), Some(v), "{out:?}");
        }
    }

    #[test]
    fn crlf_files_get_crlf_lines() {
        let out = set("A=1\r\nB=2", "C", "3");
        assert_eq!(out, "A=1\r\nB=2\r\nC=3\r\n");
    }

    #[test]
    fn unchanged_value_is_not_a_change() {
        let mut e = EnvFile::parse("K='a b' # note\n");
        assert!(!e.set("K", "a b").unwrap());
        assert_eq!(e.render(), "K='a b' # note\n");
    }

    #[test]
    fn unset_removes_assignments_only() {
        let mut e = EnvFile::parse("#K=doc\nK=1\nL=2");
        assert!(e.unset("K").unwrap());
        assert_eq!(e.render(), "#K=doc\nL=2");
        let mut e = EnvFile::parse("L=2\nK=1");
        e.unset("K").unwrap();
        assert_eq!(e.render(), "L=2\n");
    }

    #[test]
    fn invalid_keys_are_refused() {
        let mut e = EnvFile::parse("");
        assert!(e.set("1A", "x").is_err());
        assert!(e.set("A B", "x").is_err());
        assert!(e.set("", "x").is_err());
    }

    #[test]
    fn inline_comment_of_unquoted_value_is_not_part_of_it() {
        let e = EnvFile::parse("SECRET_X_VERSION=v1 # length=32\n");
        assert_eq!(e.get("SECRET_X_VERSION").as_deref(), Some("v1"));
    }
}
