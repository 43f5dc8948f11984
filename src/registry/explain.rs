//! Plain words for what serde and the TOML parser report.
//!
//! serde's messages name Rust types ("expected struct HealthSection", "expected
//! variant identifier"), which mean nothing to someone editing a recipe file.
//! Every message that reaches the user is built here from the key reference
//! (`keys::keys()`: what each key holds) and the value actually written, so no
//! Rust type name gets through.

use toml::de::DeValue;

use super::error::did_you_mean;
use super::keys::{KeyFile, keys};

/// The message of a missing required key.
pub const MISSING_KEY: &str = "required key is missing";

/// A message and an optional fix, phrased to follow ``key `x`: ``.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explained {
    pub message: String,
    pub help: Option<String>,
}

impl Explained {
    fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            help: None,
        }
    }

    fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

/// The names between backquotes in a serde message tail (`` `a`, `b` or `c` ``).
fn quoted_names(tail: &str) -> Vec<&str> {
    tail.split('`').skip(1).step_by(2).collect()
}

/// `unknown field `x`, expected …` → (`x`, the allowed keys).
pub fn unknown_field(raw: &str) -> Option<(&str, Vec<&str>)> {
    let rest = raw.strip_prefix("unknown field `")?;
    let (name, tail) = rest.split_once('`')?;
    Some((name, quoted_names(tail)))
}

/// `missing field `x`` → `x`.
pub fn missing_field(raw: &str) -> Option<&str> {
    let rest = raw.strip_prefix("missing field `")?;
    rest.split('`').next()
}

/// `unknown variant `x`, expected …` → (`x`, the allowed values).
pub fn unknown_variant(raw: &str) -> Option<(&str, Vec<&str>)> {
    let rest = raw.strip_prefix("unknown variant `")?;
    let (name, tail) = rest.split_once('`')?;
    Some((name, quoted_names(tail)))
}

/// Whether serde complained about the *type* of a value (as opposed to one of
/// our value types rejecting its text, which already reads "expected …").
pub fn is_type_error(raw: &str) -> bool {
    raw.starts_with("invalid type:")
        || raw.starts_with("invalid value:")
        || raw.starts_with("invalid length")
        || raw.starts_with("wanted ")
        || raw.contains("variant")
        || raw.contains("struct ")
        || raw.contains("enum ")
}

pub fn unknown_key(name: &str, allowed: &[&str]) -> Explained {
    let e = Explained::new("unknown key");
    match did_you_mean(name, allowed.iter().copied()) {
        Some(best) => e.help(format!("did you mean `{best}`?")),
        None if allowed.is_empty() => e.help("no keys are allowed here"),
        None => e.help(format!("allowed keys here: {}", allowed.join(", "))),
    }
}

pub fn missing_key(file: KeyFile, pattern: &str) -> Explained {
    let e = Explained::new(MISSING_KEY);
    match doc_of(file, pattern) {
        Some(ty) => e.help(format!("add it: {}", with_article(ty))),
        None => e,
    }
}

pub fn unknown_value(name: &str, allowed: &[&str]) -> Explained {
    let e = Explained::new(format!(
        "unknown value `{name}`, expected one of: {}",
        allowed.join(", ")
    ));
    match did_you_mean(name, allowed.iter().copied()) {
        Some(best) => e.help(format!("did you mean `{best}`?")),
        None => e,
    }
}

/// A value of the wrong type. `choices` are the strings the key accepts when it
/// is an enumeration (found by asking serde, so always current).
pub fn wrong_type(
    file: KeyFile,
    pattern: &str,
    raw: &str,
    found: &DeValue<'_>,
    choices: Option<&[String]>,
) -> Explained {
    let found_text = describe(found);
    if let Some(choices) = choices {
        let list = choices
            .iter()
            .map(|c| format!("\"{c}\""))
            .collect::<Vec<_>>()
            .join(", ");
        return Explained::new(format!("expected one of: {list}; found {found_text}")).help(
            format!(
                "write it as a quoted string, e.g. {pattern_key} = \"{}\"",
                choices.first().map(String::as_str).unwrap_or_default(),
                pattern_key = last_key(pattern)
            ),
        );
    }
    if let Some(ty) = doc_of(file, pattern) {
        return Explained::new(format!("expected {}; found {found_text}", with_article(ty)));
    }
    Explained::new(scrub(raw, &found_text))
}

/// The shape a key must have, from the key reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Table,
    ListOfTables,
}

pub fn expected_shape(file: KeyFile, pattern: &str) -> Option<Shape> {
    let of_file = || keys().filter(|k| k.file == file);
    let list_prefix = format!("{pattern}[].");
    let table_prefix = format!("{pattern}.");
    if of_file().any(|k| k.key.starts_with(&list_prefix)) {
        Some(Shape::ListOfTables)
    } else if of_file().any(|k| {
        k.key.starts_with(&table_prefix) || (k.key == pattern && k.ty.starts_with("table"))
    }) {
        Some(Shape::Table)
    } else {
        None
    }
}

/// The message when a key holds the wrong shape, if it does.
pub fn shape_mismatch(file: KeyFile, pattern: &str, found: &DeValue<'_>) -> Option<Explained> {
    let key = last_key(pattern);
    match (expected_shape(file, pattern)?, found) {
        (Shape::Table, DeValue::Table(_)) | (Shape::ListOfTables, DeValue::Array(_)) => None,
        (Shape::Table, DeValue::Array(items))
            if !items.is_empty() && items.iter().all(|i| i.get_ref().is_table()) =>
        {
            Some(
                Explained::new(format!(
                    "`{key}` is one table: write `[{pattern}]`, not `[[{pattern}]]`"
                ))
                .help(table_help(file, pattern)),
            )
        }
        (Shape::Table, other) => Some(
            Explained::new(format!(
                "`{key}` must be a table like `[{pattern}]`; found {}",
                describe(other)
            ))
            .help(table_help(file, pattern)),
        ),
        (Shape::ListOfTables, other) => Some(
            Explained::new(format!(
                "`{key}` is a list of tables: write `[[{pattern}]]`; found {}",
                describe(other)
            ))
            .help(format!(
                "start each entry with `[[{pattern}]]` on its own line (double brackets), then its keys: {}",
                child_keys(file, &format!("{pattern}[].")).join(", ")
            )),
        ),
    }
}

fn table_help(file: KeyFile, pattern: &str) -> String {
    let children = child_keys(file, &format!("{pattern}."));
    match (children.first(), doc_of(file, pattern)) {
        (Some(first), _) => format!(
            "write `[{pattern}]` on its own line, then its keys, e.g. `{first} = …` (keys: {})",
            children.join(", ")
        ),
        (None, Some(ty)) => format!("write `[{pattern}]` on its own line, then a {ty}"),
        (None, None) => format!("write `[{pattern}]` on its own line, then its keys"),
    }
}

/// The documented keys directly under `prefix`, in reference order.
fn child_keys(file: KeyFile, prefix: &str) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for k in keys().filter(|k| k.file == file) {
        if let Some(rest) = k.key.strip_prefix(prefix) {
            let end = rest.find(['.', '[']).unwrap_or(rest.len());
            let child = &rest[..end];
            if !out.contains(&child) {
                out.push(child);
            }
        }
    }
    out
}

/// The documented type of a key (`check[].path` → `URL path`).
fn doc_of(file: KeyFile, pattern: &str) -> Option<&'static str> {
    keys()
        .find(|k| k.file == file && k.key == pattern)
        .map(|k| k.ty)
}

fn last_key(pattern: &str) -> &str {
    let last = pattern.rsplit('.').next().unwrap_or(pattern);
    last.trim_end_matches("[]")
}

/// A documented type as it reads after "expected".
fn with_article(ty: &str) -> String {
    if ty == "bool" {
        return "true or false".to_owned();
    }
    if ty.contains(" | ") {
        return format!("one of: {}", ty.replace(" | ", ", "));
    }
    if let Some((lo, hi)) = ty
        .strip_prefix("integer ")
        .and_then(|r| r.split_once("..="))
    {
        return format!("a whole number from {lo} to {hi}");
    }
    let article = match ty.chars().next() {
        // "URL" and "IPv4" are read letter by letter.
        Some('U') => "a",
        Some('I') => "an",
        Some(c) if "aeiou".contains(c.to_ascii_lowercase()) => "an",
        _ => "a",
    };
    format!("{article} {ty}")
}

/// What was written, in words: `the string "yes"`, `a table`.
pub fn describe(value: &DeValue<'_>) -> String {
    match value {
        DeValue::String(s) => {
            let mut shown: String = s.chars().take(40).collect();
            if shown.len() < s.len() {
                shown.push('…');
            }
            format!("the string {shown:?}")
        }
        DeValue::Integer(i) => format!("the number {}", i.as_str()),
        DeValue::Float(f) => format!("the number {}", f.as_str()),
        DeValue::Boolean(b) => format!("{b}"),
        DeValue::Datetime(d) => format!("the date {d}"),
        DeValue::Array(_) => "a list".to_owned(),
        DeValue::Table(_) => "a table".to_owned(),
    }
}

/// Last resort for a key the reference does not describe (inside a browser
/// step, say): keep serde's sense, drop its Rust vocabulary.
fn scrub(raw: &str, found: &str) -> String {
    if raw.starts_with("wanted exactly 1 element") {
        return format!(
            "expected a table with exactly one key, like `{{ click = \"#submit\" }}`; found {found}"
        );
    }
    let expected = raw
        .split_once("expected ")
        .map(|(_, e)| e)
        .unwrap_or("a different kind of value");
    let words = [
        ("internally tagged enum", "a table"),
        ("variant identifier", "one of the allowed names"),
        ("unit variant", "one of the allowed names"),
        (
            "newtype variant",
            "a one-key table, like `{ click = \"#submit\" }`",
        ),
        ("struct variant", "a table"),
        ("tuple variant", "a list"),
        ("a sequence", "a list"),
        ("a map", "a table"),
        ("a boolean", "true or false"),
    ];
    let mut out = expected.to_owned();
    for (from, to) in words {
        out = out.replace(from, to);
    }
    // Whatever still names a Rust item ("struct Foo", "enum Bar", "u32").
    let plain: Vec<String> = out
        .split(' ')
        .filter(|w| !w.is_empty())
        .scan(false, |skip, w| {
            let was = *skip;
            *skip = matches!(w, "struct" | "enum");
            Some((was, w))
        })
        .filter_map(|(after_item, w)| match w {
            "struct" => Some("a table".to_owned()),
            "enum" => Some("one of the allowed values".to_owned()),
            _ if after_item || w.contains("::") || is_camel(w) => None,
            "u8" | "u16" | "u32" | "u64" | "usize" | "i8" | "i16" | "i32" | "i64" => {
                Some("a whole number".to_owned())
            }
            _ => Some(w.to_owned()),
        })
        .collect();
    format!("expected {}; found {found}", plain.join(" "))
}

/// `HealthSection`, `BrowserStep`: a Rust type name.
fn is_camel(word: &str) -> bool {
    let word = word.trim_matches(|c: char| !c.is_ascii_alphanumeric());
    word.starts_with(|c: char| c.is_ascii_uppercase())
        && word.chars().any(|c| c.is_ascii_lowercase())
        && word.chars().skip(1).any(|c| c.is_ascii_uppercase())
}

/// A TOML syntax message on one line.
pub fn syntax(raw: &str) -> String {
    raw.trim()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn val(src: &str) -> DeValue<'_> {
        DeValue::parse(src).unwrap().into_inner()
    }

    #[test]
    fn shapes_come_from_the_key_reference() {
        assert_eq!(
            expected_shape(KeyFile::Recipe, "health"),
            Some(Shape::Table)
        );
        assert_eq!(
            expected_shape(KeyFile::Recipe, "marker"),
            Some(Shape::Table)
        );
        assert_eq!(expected_shape(KeyFile::Recipe, "skip"), Some(Shape::Table));
        assert_eq!(
            expected_shape(KeyFile::Recipe, "check"),
            Some(Shape::ListOfTables)
        );
        assert_eq!(expected_shape(KeyFile::Recipe, "lint"), None);
        assert_eq!(expected_shape(KeyFile::Host, "gitea"), Some(Shape::Table));
    }

    #[test]
    fn a_table_written_as_a_string_or_a_list_says_how_to_write_it() {
        let e = shape_mismatch(KeyFile::Recipe, "health", &val("\"/x\"")).unwrap();
        assert_eq!(
            e.message,
            "`health` must be a table like `[health]`; found the string \"/x\""
        );
        assert!(e.help.unwrap().contains("`path = …`"));
        let e = shape_mismatch(KeyFile::Recipe, "marker", &val("[{kind = \"exec\"}]")).unwrap();
        assert!(e.message.contains("not `[[marker]]`"), "{}", e.message);
        let e = shape_mismatch(KeyFile::Recipe, "check", &val("{name = \"x\"}")).unwrap();
        assert!(e.message.contains("write `[[check]]`"), "{}", e.message);
        assert!(shape_mismatch(KeyFile::Recipe, "health", &val("{path = \"/\"}")).is_none());
    }

    #[test]
    fn wrong_types_read_as_the_reference_documents_them() {
        let e = wrong_type(
            KeyFile::Recipe,
            "weekly_sweep",
            "invalid type: string \"yes\", expected a boolean",
            &val("\"yes\""),
            None,
        );
        assert_eq!(
            e.message,
            "expected true or false; found the string \"yes\""
        );
        let choices = ["auto".to_owned(), "always".to_owned(), "never".to_owned()];
        let e = wrong_type(
            KeyFile::Recipe,
            "backup",
            "wanted string or table",
            &val("true"),
            Some(&choices),
        );
        assert_eq!(
            e.message,
            "expected one of: \"auto\", \"always\", \"never\"; found true"
        );
        let e = wrong_type(
            KeyFile::Host,
            "drone.runner_capacity",
            "invalid value: integer `-1`, expected u32",
            &val("-1"),
            None,
        );
        assert_eq!(
            e.message,
            "expected a whole number from 1 to 16; found the number -1"
        );
    }

    #[test]
    fn rust_names_are_scrubbed_where_the_reference_is_silent() {
        let s = scrub(
            "invalid type: integer `3`, expected struct Fill",
            "the number 3",
        );
        assert_eq!(s, "expected a table; found the number 3");
        let s = scrub("invalid type: map, expected variant identifier", "a table");
        assert_eq!(s, "expected one of the allowed names; found a table");
        let s = scrub(
            "invalid type: string \"#a\", expected struct variant BrowserStep::Fill",
            "the string \"#a\"",
        );
        assert_eq!(s, "expected a table; found the string \"#a\"");
        let s = scrub("invalid type: map, expected u16", "a table");
        assert_eq!(s, "expected a whole number; found a table");
    }

    #[test]
    fn serde_messages_are_taken_apart() {
        assert_eq!(
            unknown_field("unknown field `statu`, expected `path` or `statuses`"),
            Some(("statu", vec!["path", "statuses"]))
        );
        assert_eq!(missing_field("missing field `name`"), Some("name"));
        assert_eq!(
            unknown_variant("unknown variant `x`, expected one of `a`, `b`"),
            Some(("x", vec!["a", "b"]))
        );
        assert_eq!(
            syntax("invalid table\n  expected `]`\n"),
            "invalid table; expected `]`"
        );
    }
}
