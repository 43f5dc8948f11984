//! Positions of keys in a TOML source, for messages that name the key and the
//! line. serde reports *where* a value failed; this module says *which key* that
//! was, finds a key's position for checks made after deserializing, and edits a
//! parsed document (drop a key, swap a value) so that loading can carry on past
//! a bad key and report the next one.

use std::borrow::Cow;
use std::ops::Range;

use toml::Spanned;
use toml::de::{DeArray, DeTable, DeValue};

/// One step of a path into a document: a table key or an array index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Key(String),
    Index(usize),
}

/// A path from the document root, e.g. `check[1].path`.
pub type KeyPath = Vec<Step>;

/// The path as users write it: `check[1].path`.
pub fn dotted(path: &[Step]) -> String {
    let mut out = String::new();
    for step in path {
        match step {
            Step::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Step::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// The path as the key reference writes it: `check[].path`.
pub fn pattern(path: &[Step]) -> String {
    let mut out = String::new();
    for step in path {
        match step {
            Step::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Step::Index(_) => out.push_str("[]"),
        }
    }
    out
}

/// The path without its trailing array indices: the key that holds the value.
pub fn owning_key(path: &[Step]) -> &[Step] {
    let end = path
        .iter()
        .rposition(|s| matches!(s, Step::Key(_)))
        .map_or(0, |i| i + 1);
    &path[..end]
}

/// The path of the innermost key or value containing `offset`.
pub fn path_at(root: &DeTable<'_>, offset: usize) -> Option<KeyPath> {
    let mut path = find_in_table(root, offset)?;
    path.reverse();
    Some(path)
}

// Standard tables (`[health]`) have spans that do not cover their contents, so the
// search descends into every table and array and matches on leaves and keys.
// Paths are built leaf-first and reversed once by the caller.
fn find_in_table(table: &DeTable<'_>, offset: usize) -> Option<KeyPath> {
    for (key, value) in table.iter() {
        let name = key.get_ref().to_string();
        if key.span().contains(&offset) {
            return Some(vec![Step::Key(name)]);
        }
        if let Some(mut path) = find_in_value(value, offset) {
            path.push(Step::Key(name));
            return Some(path);
        }
    }
    None
}

fn find_in_value(value: &Spanned<DeValue<'_>>, offset: usize) -> Option<KeyPath> {
    match value.get_ref() {
        DeValue::Table(t) => {
            find_in_table(t, offset).or_else(|| contains(value, offset).then(Vec::new))
        }
        DeValue::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                if let Some(mut path) = find_in_value(item, offset) {
                    path.push(Step::Index(i));
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

/// The value at `path`.
pub fn value_at<'a, 'i>(root: &'a DeTable<'i>, path: &[Step]) -> Option<&'a Spanned<DeValue<'i>>> {
    let (first, rest) = path.split_first()?;
    let Step::Key(k) = first else { return None };
    let mut current = root.get(k.as_str())?;
    for step in rest {
        current = match (current.get_ref(), step) {
            (DeValue::Table(t), Step::Key(k)) => t.get(k.as_str())?,
            (DeValue::Array(items), Step::Index(i)) => items.get(*i)?,
            _ => return None,
        };
    }
    Some(current)
}

/// The table at `path` (the root for an empty path).
pub fn table_at<'a, 'i>(root: &'a DeTable<'i>, path: &[Step]) -> Option<&'a DeTable<'i>> {
    if path.is_empty() {
        return Some(root);
    }
    match value_at(root, path)?.get_ref() {
        DeValue::Table(t) => Some(t),
        _ => None,
    }
}

/// The span of the key that ends `path` (for `check[1].name`, the `name`; for
/// `check[1]`, the `check`).
pub fn key_span(root: &DeTable<'_>, path: &[Step]) -> Option<Range<usize>> {
    let key = owning_key(path);
    let (last, parent) = key.split_last()?;
    let Step::Key(name) = last else { return None };
    let (k, _) = table_at(root, parent)?.get_key_value(name.as_str())?;
    Some(k.span())
}

fn table_at_mut<'a, 'i>(root: &'a mut DeTable<'i>, path: &[Step]) -> Option<&'a mut DeTable<'i>> {
    let mut current = root;
    let mut steps = path.iter().peekable();
    while let Some(Step::Key(k)) = steps.next() {
        let mut value = current.get_mut(k.as_str())?.get_mut();
        while let Some(Step::Index(i)) = steps.peek() {
            value = match value {
                DeValue::Array(items) => items.get_mut(*i)?.get_mut(),
                _ => return None,
            };
            steps.next();
        }
        current = match value {
            DeValue::Table(t) => t,
            _ => return None,
        };
    }
    // A path that ends on an index, or an index at the start, is not a table.
    steps.next().is_none().then_some(current)
}

/// Remove what `path` names: a key from its table, or an element from its
/// array (later elements move up one index; their spans do not change).
/// Returns whether something was removed.
pub fn remove(root: &mut DeTable<'_>, path: &[Step]) -> bool {
    match path.split_last() {
        Some((Step::Key(name), parent)) => {
            table_at_mut(root, parent).is_some_and(|t| t.remove(name.as_str()).is_some())
        }
        Some((Step::Index(i), parent)) => {
            let Some((Step::Key(name), table)) = parent.split_last() else {
                return false;
            };
            let Some(value) = table_at_mut(root, table).and_then(|t| t.get_mut(name.as_str()))
            else {
                return false;
            };
            let DeValue::Array(items) = value.get_mut() else {
                return false;
            };
            if *i >= items.len() {
                return false;
            }
            let mut kept = DeArray::new();
            for (j, item) in items.iter().enumerate() {
                if j != *i {
                    kept.push(item.clone());
                }
            }
            *items = kept;
            true
        }
        None => false,
    }
}

/// Replace the value of the key that ends `path` with a string, keeping its
/// span (used to ask serde which strings a key accepts).
pub fn set_string(root: &mut DeTable<'_>, path: &[Step], text: &str) -> bool {
    let Some((Step::Key(name), parent)) = path.split_last() else {
        return false;
    };
    let Some(table) = table_at_mut(root, parent) else {
        return false;
    };
    match table.get_mut(name.as_str()) {
        Some(v) => {
            *v = Spanned::new(v.span(), DeValue::String(Cow::Owned(text.to_owned())));
            true
        }
        None => false,
    }
}

/// The span of the value at `path` (table keys; array indices as numbers).
pub fn span_of(source: &str, path: &[&str]) -> Option<Range<usize>> {
    let root = DeTable::parse(source).ok()?;
    let steps: KeyPath = path
        .iter()
        .map(|p| match p.parse::<usize>() {
            Ok(i) => Step::Index(i),
            Err(_) => Step::Key((*p).to_owned()),
        })
        .collect();
    // A numeric table key (`[env] 1 = …`) is not an index: fall back to keys.
    value_at(root.get_ref(), &steps)
        .or_else(|| {
            let keys: KeyPath = path.iter().map(|p| Step::Key((*p).to_owned())).collect();
            value_at(root.get_ref(), &keys)
        })
        .map(|v| v.span())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_at(source: &str, offset: usize) -> Option<String> {
        let root = DeTable::parse(source).ok()?;
        path_at(root.get_ref(), offset).map(|p| dotted(&p))
    }

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

    fn path(s: &[&str]) -> KeyPath {
        s.iter()
            .map(|p| match p.parse::<usize>() {
                Ok(i) => Step::Index(i),
                Err(_) => Step::Key((*p).to_owned()),
            })
            .collect()
    }

    #[test]
    fn names_paths_as_written_and_as_documented() {
        let p = path(&["check", "1", "path"]);
        assert_eq!(dotted(&p), "check[1].path");
        assert_eq!(pattern(&p), "check[].path");
        assert_eq!(owning_key(&path(&["check", "1"])), &path(&["check"])[..]);
    }

    #[test]
    fn removes_and_replaces_keys_keeping_spans() {
        let mut root = DeTable::parse(SRC).unwrap().into_inner();
        let key = key_span(&root, &path(&["check", "1", "path"])).unwrap();
        assert_eq!(&SRC[key], "path");
        assert!(remove(&mut root, &path(&["check", "1", "path"])));
        assert!(value_at(&root, &path(&["check", "1", "path"])).is_none());
        assert!(value_at(&root, &path(&["check", "1", "name"])).is_some());
        assert!(set_string(&mut root, &path(&["health", "path"]), "probe"));
        let v = value_at(&root, &path(&["health", "path"])).unwrap();
        assert_eq!(v.get_ref().as_str(), Some("probe"));
        assert_eq!(&SRC[v.span()], "\"x\"");
        assert!(remove(&mut root, &path(&["check", "0"])));
        let moved = value_at(&root, &path(&["check", "0", "name"])).unwrap();
        assert_eq!(&SRC[moved.span()], "\"two\"");
        assert!(value_at(&root, &path(&["check", "1"])).is_none());
        assert!(remove(&mut root, &path(&["check"])));
        assert!(value_at(&root, &path(&["check"])).is_none());
        assert!(!remove(&mut root, &path(&["nope", "x"])));
    }
}
