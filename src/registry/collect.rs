//! Reading one registry file and collecting *every* problem in it.
//!
//! serde stops at the first bad value. To go on, the file is parsed once into a
//! spanned document; after each failure the offending key is dropped from the
//! document and the rest is deserialized again, until it goes through. The
//! spans stay those of the original text, so every problem keeps its line and
//! column. Files are a few dozen lines, so the retries cost microseconds.
//!
//! A table missing a required key (or whose required key was dropped) is
//! dropped in turn; serde checks for missing keys only after visiting a
//! table's other keys, so the rest of the file is still checked.

use std::ops::Range;

use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::{DeTable, DeValue, Deserializer};

use super::error::Diagnostic;
use super::explain::{self, Explained};
use super::keys::KeyFile;
use super::load::Source;
use super::spans::{self, KeyPath, Step};

/// More than this many problems in one file is noise: stop there.
const MAX_PROBLEMS: usize = 50;

/// A string no key accepts, put in place of a value to make serde list the
/// strings an enumeration accepts.
const PROBE: &str = "\u{1}ccci-probe";

/// Deserialize `src` as a `T`, returning the value (with every bad key dropped)
/// and every problem found. The value is `None` when the file could not be
/// read at all (a syntax error, a required key missing at the top) or when
/// list entries had to be dropped (see `shifted` below).
pub fn deserialize_all<T: DeserializeOwned>(
    src: &Source,
    file: KeyFile,
) -> (Option<T>, Vec<Diagnostic>) {
    let (root, errors) = DeTable::parse_recoverable(&src.text);
    if !errors.is_empty() {
        return (None, syntax_problems(src, root.get_ref(), &errors));
    }
    // The common case, a good file, costs one parse and one pass, as a plain
    // `toml::from_str` would; the copies below are made only for a bad one.
    if let Ok(v) = T::deserialize(Deserializer::from(root)) {
        return (Some(v), Vec::new());
    }
    let (root, _) = DeTable::parse_recoverable(&src.text);
    let original = root.get_ref().clone();
    let mut reader = Reader {
        src,
        file,
        span: root.span(),
        original,
        doc: root.into_inner(),
        removed: Vec::new(),
        misspelt: Vec::new(),
    };
    let mut problems = Vec::new();
    // Once a list entry is dropped, later entries sit at other indices than
    // in the file: the value is then not handed on, so that no later check
    // names the wrong entry.
    let mut shifted = false;
    loop {
        let err = match reader.try_deserialize::<T>() {
            Ok(v) => return ((!shifted).then_some(v), problems),
            Err(err) => err,
        };
        let step = reader.explain::<T>(&err);
        if let Some(d) = step.diagnostic {
            problems.push(d);
        }
        let mut drop = reader.widen(step.drop.clone());
        // Only entries after a dropped one move.
        if let Some((Step::Index(i), list)) = drop.split_last() {
            shifted |= spans::value_at(&reader.doc, list)
                .and_then(|v| v.get_ref().as_array().map(|a| i + 1 < a.len()))
                .unwrap_or(false);
        }
        // Every round removes something from a finite document, so this ends;
        // if the path is not there to remove, its parents are.
        let mut dropped = false;
        while !drop.is_empty() && !dropped {
            dropped = spans::remove(&mut reader.doc, &drop);
            if !dropped {
                drop.pop();
            }
        }
        if !dropped || problems.len() >= MAX_PROBLEMS {
            return (None, problems);
        }
        reader.removed.push(step.drop);
        reader.removed.push(drop);
        reader.misspelt.extend(step.misspelt);
    }
}

struct Reader<'s> {
    src: &'s Source,
    file: KeyFile,
    span: Range<usize>,
    /// The file as written: paths shown to the user index into it, even after
    /// elements were dropped from `doc`.
    original: DeTable<'s>,
    doc: DeTable<'s>,
    /// Keys dropped so far: a "missing" key among them is not a new problem.
    removed: Vec<KeyPath>,
    /// Keys an unknown key was probably meant to be (`writ` for `write`):
    /// that they are missing is the same problem, already reported.
    misspelt: Vec<KeyPath>,
}

/// One failure understood: what to tell the user (nothing when the failure
/// only follows from a key dropped earlier) and which key to drop to go on.
struct Found {
    diagnostic: Option<Diagnostic>,
    drop: KeyPath,
    misspelt: Option<KeyPath>,
}

fn with_key(mut path: KeyPath, key: &str) -> KeyPath {
    path.push(Step::Key(key.to_owned()));
    path
}

impl<'s> Reader<'s> {
    fn deserialize_doc<T: DeserializeOwned>(
        doc: &DeTable<'s>,
        span: &Range<usize>,
    ) -> Result<T, toml::de::Error> {
        T::deserialize(Deserializer::from(Spanned::new(span.clone(), doc.clone())))
    }

    fn try_deserialize<T: DeserializeOwned>(&self) -> Result<T, toml::de::Error> {
        Self::deserialize_doc(&self.doc, &self.span)
    }

    fn diag(&self, path: &[Step], span: Option<Range<usize>>, e: Explained) -> Diagnostic {
        let mut d = Diagnostic::new(&self.src.path, e.message).at(&self.src.text, span);
        if !path.is_empty() {
            d = d.key(spans::dotted(&self.as_written(path)));
        }
        d.help = e.help;
        d
    }

    /// What to drop so that reading can go on: a key, or the list entry whose
    /// only key it is (an empty `{}` step would only fail again).
    fn widen(&self, mut path: KeyPath) -> KeyPath {
        while path.len() >= 2 && matches!(path.last(), Some(Step::Key(_))) {
            let parent = &path[..path.len() - 1];
            let only_key = spans::table_at(&self.doc, parent).is_some_and(|t| t.len() == 1);
            // A one-key table that is not a documented table is an enum
            // written as `{ name = value }` (a browser step, `lanes = { a = 1 }`).
            let enum_form = matches!(parent.last(), Some(Step::Index(_)))
                || explain::expected_shape(self.file, &spans::pattern(parent)).is_none();
            if !(only_key && enum_form) {
                break;
            }
            path.pop();
        }
        path
    }

    /// `path` (into the current document) as it indexes the file as written.
    fn as_written(&self, path: &[Step]) -> KeyPath {
        let Some(known) = (0..=path.len())
            .rev()
            .find(|&n| n > 0 && spans::value_at(&self.doc, &path[..n]).is_some())
        else {
            return path.to_vec();
        };
        let Some(value) = spans::value_at(&self.doc, &path[..known]) else {
            return path.to_vec();
        };
        let mapped = spans::path_at(&self.original, value.span().start)
            .filter(|p| p.len() == known)
            .unwrap_or_else(|| path[..known].to_vec());
        let mut out = mapped;
        out.extend_from_slice(&path[known..]);
        out
    }

    /// The path serde's error is about. A span covering the whole document
    /// is the root; a missing key's span is its table's.
    fn path_of(&self, err: &toml::de::Error) -> KeyPath {
        let Some(span) = err.span() else {
            return Vec::new();
        };
        if span == self.span {
            return Vec::new();
        }
        let mut path = spans::path_at(&self.doc, span.start).unwrap_or_default();
        if explain::missing_field(err.message()).is_some() {
            while !path.is_empty() && spans::table_at(&self.doc, &path).is_none() {
                path.pop();
            }
        }
        path
    }

    fn explain<T: DeserializeOwned>(&self, err: &toml::de::Error) -> Found {
        let raw = err.message().trim();
        let path = self.path_of(err);

        if let Some(field) = explain::missing_field(raw) {
            let missing = with_key(path.clone(), field);
            let consequence = self.removed.contains(&missing) || self.misspelt.contains(&missing);
            let diagnostic = (!consequence).then(|| {
                self.diag(
                    &missing,
                    err.span(),
                    explain::missing_key(self.file, &spans::pattern(&missing)),
                )
            });
            // The table cannot be read without it: drop the table (or the
            // entry of a list of tables) and go on.
            return Found {
                diagnostic,
                drop: path,
                misspelt: None,
            };
        }

        // A key holding the wrong shape (`health = "/x"`, `[[marker]]`,
        // `[check]`) is reported as such, whatever serde said inside it.
        for end in 1..=path.len() {
            let prefix = &path[..end];
            if matches!(prefix.last(), Some(Step::Index(_))) {
                continue;
            }
            let Some(value) = spans::value_at(&self.doc, prefix) else {
                continue;
            };
            if let Some(e) =
                explain::shape_mismatch(self.file, &spans::pattern(prefix), value.get_ref())
            {
                return Found {
                    diagnostic: Some(self.diag(prefix, spans::key_span(&self.doc, prefix), e)),
                    drop: prefix.to_vec(),
                    misspelt: None,
                };
            }
        }

        // Errors inside an internally tagged table (the marker) come with the
        // table's span: find the key inside it that is at fault.
        let path = match spans::value_at(&self.doc, &path).map(|v| v.get_ref()) {
            // An unknown key is found by its name, below.
            _ if explain::unknown_field(raw).is_some() => path,
            Some(DeValue::Table(_)) => self.culprit::<T>(&path, err).unwrap_or(path),
            Some(DeValue::Array(items)) => self
                .culprit_entry::<T>(&path, items.len(), err)
                .unwrap_or(path),
            _ if path.is_empty() => self.culprit::<T>(&path, err).unwrap_or(path),
            _ => path,
        };

        if let Some((name, allowed)) = explain::unknown_field(raw) {
            let key = if path.last() == Some(&Step::Key(name.to_owned())) {
                path.clone()
            } else {
                with_key(path.clone(), name)
            };
            let span = spans::key_span(&self.doc, &key).or(err.span());
            let meant = super::error::did_you_mean(name, allowed.iter().copied())
                .map(|best| with_key(key[..key.len() - 1].to_vec(), best));
            return Found {
                diagnostic: Some(self.diag(&key, span, explain::unknown_key(name, &allowed))),
                drop: key,
                misspelt: meant,
            };
        }

        let value = spans::value_at(&self.doc, &path);
        let span = match explain::unknown_variant(raw) {
            // A table key that must be one of a list (`[skip] upgrad = …`).
            Some((name, _)) if path.last() == Some(&Step::Key(name.to_owned())) => {
                spans::key_span(&self.doc, &path)
            }
            _ => value.map(|v| v.span()),
        }
        .or(err.span());
        let e = if let Some((name, allowed)) = explain::unknown_variant(raw) {
            explain::unknown_value(name, &allowed)
        } else if explain::is_type_error(raw) {
            let choices = self.choices::<T>(&path);
            match value {
                Some(v) => explain::wrong_type(
                    self.file,
                    &spans::pattern(&path),
                    raw,
                    v.get_ref(),
                    choices.as_deref(),
                ),
                None => explain::wrong_type(
                    self.file,
                    &spans::pattern(&path),
                    raw,
                    &DeValue::Table(DeTable::new()),
                    choices.as_deref(),
                ),
            }
        } else {
            Explained {
                message: raw.to_owned(),
                help: None,
            }
        };
        Found {
            diagnostic: Some(self.diag(&path, span, e)),
            drop: path,
            misspelt: None,
        }
    }

    /// Which key of the table at `table` makes serde fail with `err`: the one
    /// whose removal changes the failure. `None` when no single key does.
    fn culprit<T: DeserializeOwned>(
        &self,
        table: &[Step],
        err: &toml::de::Error,
    ) -> Option<KeyPath> {
        if let Some((name, _)) = explain::unknown_field(err.message()) {
            let key = with_key(table.to_vec(), name);
            return spans::value_at(&self.doc, &key).is_some().then_some(key);
        }
        let table_value = spans::table_at(&self.doc, table)?;
        if let Some((value, _)) = explain::unknown_variant(err.message()) {
            let hit = table_value
                .iter()
                .find(|(_, v)| v.get_ref().as_str() == Some(value))
                .map(|(k, _)| with_key(table.to_vec(), k.get_ref()));
            if hit.is_some() {
                return hit;
            }
        }
        let keys: Vec<KeyPath> = table_value
            .iter()
            .map(|(k, _)| with_key(table.to_vec(), k.get_ref()))
            .collect();
        let changes: Vec<KeyPath> = keys
            .into_iter()
            .filter(|key| self.fails_differently::<T>(key, err))
            .collect();
        // Removing the tag (`kind`) changes any failure inside a tagged table;
        // prefer the key that is not a tag.
        changes
            .iter()
            .find(|key| self.choices::<T>(key).is_none())
            .or(changes.first())
            .cloned()
    }

    /// Whether serde fails differently once `path` is removed.
    fn fails_differently<T: DeserializeOwned>(&self, path: &[Step], err: &toml::de::Error) -> bool {
        let mut doc = self.doc.clone();
        spans::remove(&mut doc, path);
        match Self::deserialize_doc::<T>(&doc, &self.span) {
            Ok(_) => true,
            Err(e) => e.message() != err.message() || e.span() != err.span(),
        }
    }

    /// Which entry of the list at `list` makes serde fail with `err` (a bad
    /// value in a list is reported with the span of the whole list): the
    /// first that fails the same way when left alone in the list.
    fn culprit_entry<T: DeserializeOwned>(
        &self,
        list: &[Step],
        len: usize,
        err: &toml::de::Error,
    ) -> Option<KeyPath> {
        let entry = |i: usize| {
            let mut p = list.to_vec();
            p.push(Step::Index(i));
            p
        };
        // A list of the wrong type fails the same way when empty: the list
        // itself is the problem. (A list checked as a whole, like distinct
        // statuses, may also fail empty, but reads better at its entry.)
        if explain::is_type_error(err.message()) {
            let mut empty = self.doc.clone();
            for j in (0..len).rev() {
                spans::remove(&mut empty, &entry(j));
            }
            if Self::deserialize_doc::<T>(&empty, &self.span)
                .is_err_and(|e| e.message() == err.message())
            {
                return None;
            }
        }
        (0..len).map(entry).find(|alone| {
            let mut doc = self.doc.clone();
            for j in (0..len)
                .rev()
                .filter(|j| Some(&Step::Index(*j)) != alone.last())
            {
                spans::remove(&mut doc, &entry(j));
            }
            Self::deserialize_doc::<T>(&doc, &self.span)
                .is_err_and(|e| e.message() == err.message())
        })
    }

    /// The strings the key at `path` accepts, when it is an enumeration: serde
    /// lists them when given a string that is none of them.
    fn choices<T: DeserializeOwned>(&self, path: &[Step]) -> Option<Vec<String>> {
        let mut doc = self.doc.clone();
        if !spans::set_string(&mut doc, path, PROBE) {
            return None;
        }
        let err = Self::deserialize_doc::<T>(&doc, &self.span).err()?;
        let (name, allowed) = explain::unknown_variant(err.message())?;
        (name == PROBE).then(|| allowed.into_iter().map(str::to_owned).collect())
    }
}

/// TOML syntax problems. Every duplicate key is reported (each is certain);
/// of the other errors only the first, as the parser's recovery after it
/// can report follow-on noise.
fn syntax_problems(
    src: &Source,
    partial: &DeTable<'_>,
    errors: &[toml::de::Error],
) -> Vec<Diagnostic> {
    let mut out: Vec<Diagnostic> = Vec::new();
    let mut other_seen = false;
    let mut twice_tables: Vec<String> = Vec::new();
    for err in errors {
        let raw = err.message().trim();
        if raw.starts_with("duplicate key") {
            let d = duplicate(src, partial, err);
            let key = d.key.clone().unwrap_or_default();
            // The parser merges a table written twice, so the keys of its
            // second copy come back as duplicates too: one report is enough.
            if twice_tables
                .iter()
                .any(|t| key.starts_with(&format!("{t}.")))
            {
                continue;
            }
            if d.message.starts_with("table ") {
                twice_tables.push(key);
            }
            out.push(d);
        } else if !other_seen {
            other_seen = true;
            out.push(Diagnostic::new(&src.path, explain::syntax(raw)).at(&src.text, err.span()));
        }
    }
    out
}

/// A key or table written twice: name it and both lines.
fn duplicate(src: &Source, partial: &DeTable<'_>, err: &toml::de::Error) -> Diagnostic {
    let Some(span) = err.span() else {
        return Diagnostic::new(&src.path, "a key is written twice");
    };
    let line_of = |offset: usize| super::error::line_col(&src.text, offset).0;
    let here = line_of(span.start);
    let mut d = Diagnostic::new(&src.path, "").at(&src.text, Some(span.clone()));
    if let Some(header) = header_on_line(&src.text, here) {
        // A table header written twice: the first is the same header earlier.
        let first = src
            .text
            .lines()
            .take(here - 1)
            .position(|l| header_of(l) == Some(header));
        d.key = Some(header.trim_matches(['[', ']']).trim().to_owned());
        d.message = match first {
            Some(i) => format!(
                "table `{header}` written twice: on line {} and again on line {here}",
                i + 1
            ),
            None => format!("table `{header}` written twice (again on line {here})"),
        };
        d.help = Some(format!("merge the two into one `{header}` table"));
        return d;
    }
    let written = src.text.get(span.clone()).unwrap_or_default();
    let name = written.trim().trim_matches(|c| c == '"' || c == '\'');
    // The first definition is the nearest earlier key of that name.
    let mut found: Vec<(KeyPath, Range<usize>)> = Vec::new();
    collect_keys(partial, &mut Vec::new(), name, &mut found);
    let first = found
        .into_iter()
        .filter(|(_, s)| s.start < span.start)
        .max_by_key(|(_, s)| s.start);
    d.help = Some("keep one of the two".to_owned());
    match first {
        Some((path, first_span)) => {
            d.key = Some(spans::dotted(&path));
            d.message = format!(
                "written twice: on line {} and again on line {here}",
                line_of(first_span.start)
            );
        }
        None => {
            d.key = Some(name.to_owned());
            d.message = format!("written twice (again on line {here})");
        }
    }
    d
}

/// The table header (`[health]`) a line holds, without comment or spaces.
fn header_of(line: &str) -> Option<&str> {
    let line = line.trim_start();
    if !line.starts_with('[') {
        return None;
    }
    let end = line.rfind(']')?;
    Some(line[..=end].trim())
}

fn header_on_line(text: &str, line: usize) -> Option<&str> {
    text.lines().nth(line - 1).and_then(header_of)
}

fn collect_keys(
    table: &DeTable<'_>,
    at: &mut KeyPath,
    name: &str,
    found: &mut Vec<(KeyPath, Range<usize>)>,
) {
    for (key, value) in table.iter() {
        at.push(Step::Key(key.get_ref().to_string()));
        if key.get_ref() == name {
            found.push((at.clone(), key.span()));
        }
        collect_value(value.get_ref(), at, name, found);
        at.pop();
    }
}

fn collect_value(
    value: &DeValue<'_>,
    at: &mut KeyPath,
    name: &str,
    found: &mut Vec<(KeyPath, Range<usize>)>,
) {
    match value {
        DeValue::Table(t) => collect_keys(t, at, name, found),
        DeValue::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                at.push(Step::Index(i));
                collect_value(item.get_ref(), at, name, found);
                at.pop();
            }
        }
        _ => {}
    }
}
