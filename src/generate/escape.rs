//! The one escaping function per output language. Every value a template puts
//! into Nix, shell, YAML or TOML goes through one of these (as the `nix`,
//! `sh`, `yaml`, `toml` and `tomlkey` filters), so quoting is decided here and tested here, not in templates.

/// A value that no quoting can carry (NUL cannot appear in Nix strings, in
/// argv, or in YAML).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{language} cannot represent a NUL character (in {value:?})")]
pub struct Unrepresentable {
    pub language: &'static str,
    pub value: String,
}

fn reject_nul(language: &'static str, s: &str) -> Result<(), Unrepresentable> {
    if s.contains('\0') {
        return Err(Unrepresentable {
            language,
            value: s.to_owned(),
        });
    }
    Ok(())
}

/// A Nix double-quoted string literal that evaluates to exactly `s`.
pub fn nix_string(s: &str) -> Result<String, Unrepresentable> {
    Ok(format!("\"{}\"", nix_string_content(s)?))
}

/// The inside of a Nix double-quoted string: for text placed between quotes
/// next to interpolations such as `${pkgs.ccci}`.
pub fn nix_string_content(s: &str) -> Result<String, Unrepresentable> {
    reject_nul("Nix", s)?;
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            // Escaping every `$` (not only `${`) keeps `$${` and friends literal too.
            '$' => out.push_str("\\$"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    Ok(out)
}

/// A relative Nix path literal (`./etc/bridge.json`). Nix has no escapes for
/// paths, so only plain characters are accepted.
pub fn nix_path(s: &str) -> Result<String, Unrepresentable> {
    let plain = s.starts_with("./")
        && !s.contains("..")
        && !s.ends_with('/')
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'/' | b'-' | b'_' | b'+'));
    if !plain {
        return Err(Unrepresentable {
            language: "a Nix path",
            value: s.to_owned(),
        });
    }
    Ok(s.to_owned())
}

/// A Nix attribute name: bare when it is an identifier (`util-linux`), quoted
/// otherwise, so `pkgs.<attr>` and `systemd.services.<attr>` are always valid.
pub fn nix_attr(s: &str) -> Result<String, Unrepresentable> {
    let ident = s
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'\''))
        && !matches!(
            s,
            "if" | "then" | "else" | "assert" | "with" | "let" | "in" | "rec" | "inherit" | "or"
        );
    if ident {
        Ok(s.to_owned())
    } else {
        nix_string(s)
    }
}

/// Text for a `#` comment (Nix, YAML and shell share the syntax): line breaks
/// become spaces, so the text can never start a line of code.
pub fn comment(s: &str) -> String {
    s.chars()
        .map(|c| {
            if matches!(c, '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}' | '\0') {
                ' '
            } else {
                c
            }
        })
        .collect()
}

/// A POSIX shell word that expands to exactly `s` (single quotes; a quote
/// inside becomes `'\''`).
pub fn sh_quote(s: &str) -> Result<String, Unrepresentable> {
    reject_nul("a shell word", s)?;
    let plain = !s.is_empty()
        && s.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'-' | b'_' | b'.' | b'/' | b':' | b'=' | b'@' | b'+' | b','
                )
        });
    if plain {
        return Ok(s.to_owned());
    }
    Ok(format!("'{}'", s.replace('\'', "'\\''")))
}

/// A YAML double-quoted scalar that parses to exactly `s`. Characters YAML does
/// not allow raw (controls, C1, line and paragraph separators, BOM) are escaped.
pub fn yaml_string(s: &str) -> Result<String, Unrepresentable> {
    reject_nul("YAML", s)?;
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{7f}' || ('\u{80}'..='\u{9f}').contains(&c) => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            '\u{2028}' | '\u{2029}' | '\u{feff}' => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    Ok(out)
}

/// A TOML basic string that parses to exactly `s`: quotes, backslashes and
/// every control character escaped (TOML allows none of them raw).
pub fn toml_string(s: &str) -> Result<String, Unrepresentable> {
    reject_nul("TOML", s)?;
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    Ok(out)
}

/// A TOML key: bare when it is only letters, digits, `-` and `_`, else quoted.
pub fn toml_key(s: &str) -> Result<String, Unrepresentable> {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        Ok(s.to_owned())
    } else {
        toml_string(s)
    }
}

/// Text made safe for HTML content and quoted attribute values.
pub fn html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn html_escapes_markup_and_quotes_but_not_slashes() {
        assert_eq!(
            html("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(html("../runs/1"), "../runs/1");
    }

    /// Strings that have broken generators before: quotes of every language,
    /// interpolation openers, command substitution, comments, newlines,
    /// non-ASCII. Shared with the integration tests.
    pub fn hostile() -> Vec<String> {
        serde_json::from_str(include_str!("../../tests/fixtures/hostile-strings.json"))
            .expect("the fixture is a JSON list of strings")
    }

    #[test]
    fn nix_attrs_are_bare_only_when_safe() {
        assert_eq!(nix_attr("util-linux").unwrap(), "util-linux");
        assert_eq!(nix_attr("in").unwrap(), "\"in\"");
        assert_eq!(nix_attr("a.b").unwrap(), "\"a.b\"");
        assert_eq!(nix_attr("1x").unwrap(), "\"1x\"");
        for s in &hostile() {
            let e = format!("{{ {} = 1; }}", nix_attr(s).unwrap());
            assert!(rnix::Root::parse(&e).errors().is_empty(), "{e}");
        }
    }

    #[test]
    fn nix_paths_are_plain_or_rejected() {
        assert_eq!(nix_path("./etc/bridge.json").unwrap(), "./etc/bridge.json");
        for bad in ["etc/x", "./a b", "./${x}", "./../x", "./x/", "./\"x"] {
            assert!(nix_path(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn toml_strings_and_keys_read_back_verbatim() {
        assert_eq!(toml_key("db_password").unwrap(), "db_password");
        assert_eq!(toml_key("a.b").unwrap(), "\"a.b\"");
        assert!(toml_string("a\0b").is_err());
        for s in hostile().iter().filter(|s| !s.contains('\0')) {
            let doc = format!("{} = {}\n", toml_key(s).unwrap(), toml_string(s).unwrap());
            let v: toml::Table = toml::from_str(&doc).unwrap_or_else(|e| panic!("{doc}: {e}"));
            assert_eq!(
                v.get(s.as_str()).and_then(|v| v.as_str()),
                Some(s.as_str()),
                "{doc}"
            );
        }
    }

    #[test]
    fn comments_stay_on_one_line() {
        for s in &hostile() {
            let c = comment(s);
            assert_eq!(c.lines().count().max(1), 1, "{c:?}");
            let nix = format!("# {c}\n{{ }}");
            assert!(rnix::Root::parse(&nix).errors().is_empty(), "{nix:?}");
        }
    }

    #[test]
    fn nul_is_rejected_everywhere() {
        assert!(nix_string("a\0b").is_err());
        assert!(sh_quote("a\0b").is_err());
        assert!(yaml_string("a\0b").is_err());
    }

    #[test]
    fn yaml_round_trips_every_hostile_string() {
        for s in &hostile() {
            let doc = format!("value: {}\n", yaml_string(s).unwrap());
            let parsed: std::collections::BTreeMap<String, String> =
                serde_yaml::from_str(&doc).unwrap_or_else(|e| panic!("{doc:?}: {e}"));
            assert_eq!(parsed["value"], *s, "{doc:?}");
        }
    }

    #[test]
    fn shell_round_trips_every_hostile_string() {
        for s in hostile().iter().filter(|s| !s.is_empty()) {
            let script = format!("printf '%s' {}", sh_quote(s).unwrap());
            let out = std::process::Command::new("sh")
                .arg("-c")
                .arg(&script)
                .output()
                .unwrap();
            assert!(out.status.success(), "{script:?}");
            assert_eq!(String::from_utf8(out.stdout).unwrap(), *s, "{script:?}");
        }
        assert_eq!(sh_quote("").unwrap(), "''");
        assert_eq!(sh_quote("custom-html").unwrap(), "custom-html");
    }

    #[test]
    fn nix_literals_parse_with_rnix() {
        for s in &hostile() {
            let lit = nix_string(s).unwrap();
            let parsed = rnix::Root::parse(&format!("{{ x = {lit}; }}"));
            assert!(parsed.errors().is_empty(), "{lit}: {:?}", parsed.errors());
        }
    }

    /// The real Nix evaluator reads every literal back to the original string.
    #[test]
    fn nix_round_trips_every_hostile_string_through_nix_instantiate() {
        let hostile = hostile();
        let exprs: Vec<String> = hostile.iter().map(|s| nix_string(s).unwrap()).collect();
        let expr = format!("[ {} ]", exprs.join(" "));
        let out = std::process::Command::new("nix-instantiate")
            .args(["--eval", "--strict", "--json", "-E", &expr])
            .output()
            .expect(
                "nix-instantiate (Debian's nix-bin) must be installed; the test script installs it",
            );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let back: Vec<String> = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(back, hostile);
    }
}
