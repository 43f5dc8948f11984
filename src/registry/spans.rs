//! Positions of keys in a TOML source, for messages that name the key and the
//! line. serde reports *where* a value failed; this module says *which key* that
//! was, and finds a key's position for checks made after deserializing.

use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// The dotted key whose value (or key) contains `offset`, e.g. `health.path` or
/// `check[1].path`.
pub fn key_at(source: &str, offset: usize) -> Option<String> {
    let root = DeTable::parse(source).ok()?;
    let mut path = find_in_table(root.get_ref(), offset)?;
    path.reverse();
    Some(join(&path))
}

fn join(path: &[String]) -> String {
    let mut out = String::new();
    for part in path {
        if !part.starts_with('[') && !out.is_empty() {
            out.push('.');
        }
        out.push_str(part);
    }
    out
}

// Standard tables (`[health]`) have spans that do not cover their contents, so the
// search descends into every table and array and matches on leaves and keys.
// Paths are built leaf-first and reversed once by the caller.
fn find_in_table(table: &DeTable<'_>, offset: usize) -> Option<Vec<String>> {
    for (key, value) in table.iter() {
        let name = key.get_ref().to_string();
        if key.span().contains(&offset) {
            return Some(vec![name]);
        }
        if let Some(mut path) = find_in_value(value, offset) {
            path.push(name);
            return Some(path);
        }
    }
    None
}

fn find_in_value(value: &Spanned<DeValue<'_>>, offset: usize) -> Option<Vec<String>> {
    match value.get_ref() {
        DeValue::Table(t) => {
            find_in_table(t, offset).or_else(|| contains(value, offset).then(Vec::new))
        }
        DeValue::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                if let Some(mut path) = find_in_value(item, offset) {
                    path.push(format!("[{i}]"));
                    return Some(path);
                }
            }
            contains(value, offset).then(Vec::new)
        }
        _ => contains(value, offset).then(Vec::new),
    }
}

fn contains(value: &Spanned<DeValue<'_>>, offset: usize) -> bool {
    let span = value.span();
    span.contains(&offset) || (span.is_empty() && span.start == offset)
}

/// The span of the value at `path` (table keys; array indices as numbers).
pub fn span_of(source: &str, path: &[&str]) -> Option<Range<usize>> {
    let root = DeTable::parse(source).ok()?;
    let mut current: &Spanned<DeValue<'_>> = root.get_ref().get(*path.first()?)?;
    for part in &path[1..] {
        current = match (current.get_ref(), part.parse::<usize>()) {
            (DeValue::Array(items), Ok(i)) => items.get(i)?,
            (DeValue::Table(t), _) => t.get(*part)?,
            _ => return None,
        };
    }
    Some(current.span())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: &str = "repo = \"a/b\"\n[health]\npath = \"x\"\n[[check]]\nname = \"one\"\n[[check]]\nname = \"two\"\npath = \"/p\"\n";

    #[test]
    fn finds_the_key_of_an_offset() {
        let at = |needle: &str| key_at(SRC, SRC.find(needle).unwrap());
        assert_eq!(at("\"a/b\"").as_deref(), Some("repo"));
        assert_eq!(at("\"x\"").as_deref(), Some("health.path"));
        assert_eq!(at("\"two\"").as_deref(), Some("check[1].name"));
        assert_eq!(at("\"/p\"").as_deref(), Some("check[1].path"));
    }

    #[test]
    fn finds_the_span_of_a_key() {
        let span = span_of(SRC, &["health", "path"]).unwrap();
        assert_eq!(&SRC[span], "\"x\"");
        let span = span_of(SRC, &["check", "1", "path"]).unwrap();
        assert_eq!(&SRC[span], "\"/p\"");
        assert!(span_of(SRC, &["nope"]).is_none());
    }
}
