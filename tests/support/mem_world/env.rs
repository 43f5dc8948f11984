//! An app's env file as abra reads it: a dotenv reader that goes line by
//! line and expands `$VAR` and `${VAR}` in unquoted and double-quoted values
//! with the values read so far (so `COMPOSE_FILE="$COMPOSE_FILE:compose.x.yml"`
//! extends the chain), single-quoted values verbatim. Written for the model
//! on its own, not with the run's code, so the two can disagree.

use std::collections::BTreeMap;

/// Every variable the file defines, the last assignment of each winning.
pub fn evaluate(text: &str) -> BTreeMap<String, String> {
    let mut vars = BTreeMap::new();
    for line in text.lines() {
        let line = line.trim_start();
        if line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((key, raw)) = line.split_once('=') else {
            continue;
        };
        let key = key.trim();
        if key.is_empty()
            || !key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
        {
            continue;
        }
        let value = value_of(raw.trim_start(), &vars);
        vars.insert(key.to_owned(), value);
    }
    vars
}

fn value_of(raw: &str, vars: &BTreeMap<String, String>) -> String {
    if let Some(body) = raw.strip_prefix('\'') {
        return body.split('\'').next().unwrap_or("").to_owned();
    }
    if let Some(body) = raw.strip_prefix('"') {
        let mut out = String::new();
        let mut chars = body.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '"' => break,
                '\\' => match chars.next() {
                    Some('n') => out.push('\n'),
                    Some(other) => out.push(other),
                    None => {}
                },
                '$' => out.push_str(&variable(&mut chars, vars)),
                c => out.push(c),
            }
        }
        return out;
    }
    let end = raw
        .char_indices()
        .find(|(i, c)| *c == '#' && (*i == 0 || raw[..*i].ends_with(char::is_whitespace)))
        .map_or(raw.len(), |(i, _)| i);
    let mut out = String::new();
    let mut chars = raw[..end].trim().chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' {
            out.push_str(&variable(&mut chars, vars));
        } else {
            out.push(c);
        }
    }
    out
}

/// The value of the variable after a `$`: `{NAME}` or `NAME`.
fn variable(
    chars: &mut std::iter::Peekable<std::str::Chars<'_>>,
    vars: &BTreeMap<String, String>,
) -> String {
    let mut name = String::new();
    if chars.peek() == Some(&'{') {
        chars.next();
        for c in chars.by_ref() {
            if c == '}' {
                break;
            }
            name.push(c);
        }
    } else {
        while let Some(&c) = chars.peek() {
            if c.is_ascii_alphanumeric() || c == '_' {
                name.push(c);
                chars.next();
            } else {
                break;
            }
        }
        if name.is_empty() {
            return "$".into();
        }
    }
    vars.get(&name).cloned().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chains_extend_line_by_line_and_comments_do_not_count() {
        let v = evaluate(
            "COMPOSE_FILE=\"compose.yml\"\n#COMPOSE_FILE=\"$COMPOSE_FILE:compose.smtp.yml\"\nCOMPOSE_FILE=\"$COMPOSE_FILE:compose.postgres.yml\"\nX=${COMPOSE_FILE}:y # note\n",
        );
        assert_eq!(v["COMPOSE_FILE"], "compose.yml:compose.postgres.yml");
        assert_eq!(v["X"], "compose.yml:compose.postgres.yml:y");
    }

    #[test]
    fn single_quotes_are_verbatim() {
        let v = evaluate("A=1\nB='$A `x`'\nC=\"\\$A\"\n");
        assert_eq!(v["B"], "$A `x`");
        assert_eq!(v["C"], "$A");
    }
}
