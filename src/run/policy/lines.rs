//! Where a node of a compose file is: its 1-based line, found by a light
//! indentation scan of the text along the node's path (`services` → `app` →
//! `volumes` → item 2).
//!
//! serde_yaml 0.9 keeps no positions. A second YAML parser with markers would
//! double the crate's YAML handling for one number per message; compose files
//! are block-style YAML in practice, and this scan is exact for block style
//! and falls back to the deepest node it did find (the key's line) for flow
//! style (`ports: ["80:80"]`), anchors and merge keys. The verdict itself
//! always comes from the parsed document, never from this scan.

/// One step of a path into a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    Key(String),
    Index(usize),
}

#[derive(Debug, Clone)]
struct Line<'a> {
    no: usize,
    indent: usize,
    body: &'a str,
}

fn content_lines(text: &str) -> Vec<Line<'_>> {
    text.lines()
        .enumerate()
        .filter_map(|(i, raw)| {
            let body = raw.trim_start_matches(' ');
            let indent = raw.len() - body.len();
            let t = body.trim_end();
            if t.is_empty() || t.starts_with('#') || t == "---" || t == "..." {
                None
            } else {
                Some(Line {
                    no: i + 1,
                    indent,
                    body: t,
                })
            }
        })
        .collect()
}

fn key_of(body: &str) -> Option<&str> {
    let (k, _) = body.split_once(':')?;
    let k = k.trim();
    let k = k
        .strip_prefix('"')
        .and_then(|k| k.strip_suffix('"'))
        .or_else(|| k.strip_prefix('\'').and_then(|k| k.strip_suffix('\'')))
        .unwrap_or(k);
    Some(k)
}

fn item_rest(body: &str) -> Option<&str> {
    if body == "-" {
        Some("")
    } else {
        body.strip_prefix("- ")
    }
}

/// The 1-based line of the node at `path` in `text`, or of its deepest
/// ancestor the scan could place (1 when nothing matched).
pub fn locate(text: &str, path: &[Seg]) -> usize {
    let mut lines = content_lines(text);
    let mut best = 1;
    for seg in path {
        let Some(first) = lines.first() else { break };
        let level = lines.iter().map(|l| l.indent).min().unwrap_or(first.indent);
        let found = match seg {
            Seg::Key(k) => lines
                .iter()
                .position(|l| l.indent == level && key_of(l.body) == Some(k.as_str())),
            Seg::Index(n) => lines
                .iter()
                .enumerate()
                .filter(|(_, l)| l.indent == level && item_rest(l.body).is_some())
                .nth(*n)
                .map(|(i, _)| i),
        };
        let Some(i) = found else { break };
        best = lines[i].no;
        let head = lines[i].clone();
        // The node's children: the lines after it, deeper than it; a list
        // under a key may sit at the key's own indentation.
        let mut children: Vec<Line<'_>> = Vec::new();
        if let Seg::Index(_) = seg {
            let rest = item_rest(head.body).unwrap_or("");
            if !rest.is_empty() {
                children.push(Line {
                    no: head.no,
                    indent: head.indent + 2,
                    body: rest,
                });
            }
        }
        for l in &lines[i + 1..] {
            let deeper = l.indent > head.indent;
            let list_at_key = matches!(seg, Seg::Key(_))
                && l.indent == head.indent
                && item_rest(l.body).is_some();
            if deeper || list_at_key {
                children.push(l.clone());
            } else {
                break;
            }
        }
        lines = children;
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(s: &str) -> Seg {
        Seg::Key(s.into())
    }

    const TEXT: &str = "\
---
version: \"3.8\"
services:
  app:
    image: nginx
    # a comment
    volumes:
      - content:/usr/share/nginx/html
      - /:/host
      - type: bind
        source: /run/secrets
        target: /s
    ports: [\"80:80\"]
  db:
    privileged: true
    cap_add:
    - SYS_ADMIN
volumes:
  content:
";

    #[test]
    fn block_style_nodes_are_placed_exactly() {
        assert_eq!(locate(TEXT, &[k("services"), k("app")]), 4);
        assert_eq!(
            locate(
                TEXT,
                &[k("services"), k("app"), k("volumes"), Seg::Index(1)]
            ),
            9
        );
        assert_eq!(
            locate(
                TEXT,
                &[
                    k("services"),
                    k("app"),
                    k("volumes"),
                    Seg::Index(2),
                    k("source")
                ]
            ),
            11
        );
        assert_eq!(locate(TEXT, &[k("services"), k("db"), k("privileged")]), 15);
        assert_eq!(
            locate(TEXT, &[k("services"), k("db"), k("cap_add"), Seg::Index(0)]),
            17
        );
        assert_eq!(locate(TEXT, &[k("volumes"), k("content")]), 19);
    }

    #[test]
    fn flow_style_falls_back_to_the_key() {
        assert_eq!(
            locate(TEXT, &[k("services"), k("app"), k("ports"), Seg::Index(0)]),
            13
        );
        // A key of another service is not found under this one.
        assert_eq!(locate(TEXT, &[k("services"), k("app"), k("privileged")]), 4);
    }
}
