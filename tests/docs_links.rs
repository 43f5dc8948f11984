//! Citations stay inside the repository. Comments (and the docs) may cite only
//! what a maintainer can open: a page under `docs/` with one of its headings, or
//! another source file. This test fails when a file cites a document that is not
//! in the repository (the old domain, design and style notes, numbered `§`
//! sections, "the … issue"), when a citation `docs/<page>.md, "<heading>"` names
//! a page or heading that does not exist, or when a docs page names a source
//! file that does not exist. It only reads files: no processes, no network.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Trees and files whose text is checked, relative to the crate root.
const SCANNED: &[&str] = &[
    "src",
    "tests",
    "templates",
    "scripts",
    "benches",
    "docs",
    "README.md",
];

/// This file spells out the forbidden citations it looks for.
const THIS_FILE: &str = "tests/docs_links.rs";

/// Names of documents that live outside the repository.
const OUTSIDE_DOCS: &[&str] = &[
    "DOMAIN.md",
    "DESIGN.md",
    "STYLE.md",
    "gitea-drone.md",
    "shared/api/",
];

/// Words that may stand between "the" and "issue" when a comment means a Gitea
/// issue rather than a work item of this project.
const GITEA_ISSUE_WORDS: &[&str] = &["same", "gitea", "original", "open", "closed", "pr's"];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every text file under the scanned trees, relative to the root, sorted.
fn files() -> Vec<String> {
    fn walk(dir: &Path, rel: &str, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let rel = format!("{rel}/{name}");
            let path = e.path();
            if path.is_dir() {
                walk(&path, &rel, out);
            } else {
                out.push(rel);
            }
        }
    }
    let root = root();
    let mut out = Vec::new();
    for s in SCANNED {
        let p = root.join(s);
        if p.is_dir() {
            walk(&p, s, &mut out);
        } else if p.is_file() {
            out.push((*s).to_owned());
        }
    }
    out.retain(|f| f != THIS_FILE);
    out.sort();
    out
}

fn read(rel: &str) -> Option<String> {
    std::fs::read_to_string(root().join(rel)).ok()
}

/// A passage of a file: consecutive comment lines joined into one paragraph
/// (comment markers removed), a markdown paragraph joined likewise, any other
/// line on its own. `line` is where the passage starts (1-based).
#[derive(Debug)]
struct Passage {
    line: usize,
    text: String,
}

fn comment_body(line: &str) -> Option<&str> {
    let t = line.trim_start();
    for marker in ["//!", "///", "//", "{#", "#", "* ", "*"] {
        if let Some(rest) = t.strip_prefix(marker) {
            return Some(rest.trim());
        }
    }
    None
}

fn passages(rel: &str, text: &str) -> Vec<Passage> {
    let markdown = rel.ends_with(".md");
    let mut out: Vec<Passage> = Vec::new();
    let mut open = false;
    for (i, line) in text.lines().enumerate() {
        let body = if markdown {
            (!line.trim().is_empty()).then(|| line.trim())
        } else {
            comment_body(line)
        };
        match body {
            Some(b) if open => {
                let last = out.last_mut().expect("an open passage exists");
                last.text.push(' ');
                last.text.push_str(b);
            }
            Some(b) => {
                out.push(Passage {
                    line: i + 1,
                    text: b.to_owned(),
                });
                open = true;
            }
            None => {
                out.push(Passage {
                    line: i + 1,
                    text: line.to_owned(),
                });
                open = false;
            }
        }
    }
    out
}

/// Whether a passage cites an issue of this project ("issue 4", "the browser
/// issue", "their own issue") rather than speaking of a Gitea issue.
fn cites_an_issue(text: &str) -> bool {
    let words: Vec<String> = text
        .split_whitespace()
        .map(|w| {
            w.trim_matches(|c: char| "()[]\"`,.;:!?".contains(c))
                .to_lowercase()
        })
        .collect();
    words.iter().enumerate().any(|(i, w)| {
        let w = w.strip_suffix("'s").unwrap_or(w);
        if w != "issue" {
            return false;
        }
        let next = words.get(i + 1).map(String::as_str).unwrap_or("");
        let numbered = next
            .trim_start_matches('#')
            .starts_with(|c: char| c.is_ascii_digit());
        let before = |k: usize| i.checked_sub(k).map(|j| words[j].as_str());
        let named =
            before(2) == Some("the") && before(1).is_some_and(|b| !GITEA_ISSUE_WORDS.contains(&b));
        let own = before(1) == Some("own");
        numbered || named || own
    })
}

/// Headings of a docs page, as written (without the `#`s).
fn headings(page_text: &str) -> Vec<String> {
    page_text
        .lines()
        .filter(|l| l.starts_with('#'))
        .map(|l| l.trim_start_matches('#').trim().to_owned())
        .collect()
}

/// GitHub's anchor for a heading.
fn slug(heading: &str) -> String {
    heading
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// In a docs page, `"H" in [p.md](p.md)` and `[p.md](p.md)` become the
/// citation form `docs/p.md, "H"` / `docs/p.md`, so one checker serves both.
fn normalise_markdown(text: &str) -> String {
    let mut s = text.to_owned();
    // `[label](page.md…)` → `docs/page.md…` for links to sibling pages.
    let mut out = String::new();
    let mut rest = s.as_str();
    while let Some(start) = rest.find('[') {
        let (head, tail) = rest.split_at(start);
        out.push_str(head);
        let link = tail.find("](").and_then(|mid| {
            let target_start = mid + 2;
            let end = tail[target_start..].find(')')? + target_start;
            let target = &tail[target_start..end];
            let plain = !target.contains('/') && !target.contains(':');
            (plain && target.contains(".md")).then(|| (format!("docs/{target}"), end + 1))
        });
        match link {
            Some((cite, len)) => {
                out.push_str(&cite);
                rest = &tail[len..];
            }
            None => {
                out.push('[');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    s = out;
    // `"H" in docs/p.md` → `docs/p.md, "H"`.
    let mut out = String::new();
    let mut rest = s.as_str();
    while let Some(pos) = rest.find("\" in docs/") {
        let (head, tail) = rest.split_at(pos);
        let Some(open) = head.rfind('"') else {
            out.push_str(&rest[..pos + 1]);
            rest = &rest[pos + 1..];
            continue;
        };
        let heading = &head[open + 1..];
        let after = &tail["\" in ".len()..];
        let page_len = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || "/_-.".contains(c)))
            .unwrap_or(after.len());
        let page = after[..page_len].trim_end_matches('.');
        out.push_str(&head[..open]);
        out.push_str(&format!("{page}, \"{heading}\""));
        rest = &after[page.len()..];
    }
    out.push_str(rest);
    out
}

/// Every `docs/<page>.md` citation in a passage, with the heading or anchor it
/// names, if any.
fn citations(text: &str) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(pos) = rest.find("docs/") {
        let after = &rest[pos + "docs/".len()..];
        let name_len = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
            .unwrap_or(after.len());
        let name = &after[..name_len];
        let tail = &after[name_len..];
        rest = tail;
        let Some(tail) = tail.strip_prefix(".md") else {
            continue;
        };
        if name.is_empty() {
            continue;
        }
        let page = format!("docs/{name}.md");
        let heading = if let Some(anchor) = tail.strip_prefix('#') {
            let len = anchor
                .find(|c: char| !(c.is_alphanumeric() || c == '-' || c == '_'))
                .unwrap_or(anchor.len());
            Some(format!("#{}", &anchor[..len]))
        } else {
            tail.trim_start_matches(',')
                .trim_start()
                .strip_prefix('"')
                .and_then(|q| q.find('"').map(|end| q[..end].to_owned()))
        };
        out.push((page, heading));
    }
    out
}

/// Source paths a docs page names (`src/…`, `tests/…`, `templates/…`).
fn named_sources(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for prefix in ["src/", "tests/", "templates/", "benches/", "scripts/"] {
        let mut rest = text;
        while let Some(pos) = rest.find(prefix) {
            let preceded_ok = pos == 0
                || !rest[..pos]
                    .chars()
                    .next_back()
                    .is_some_and(|c| c.is_ascii_alphanumeric() || c == '/' || c == '_');
            let tail = &rest[pos..];
            let len = tail
                .find(|c: char| !(c.is_ascii_alphanumeric() || "/_-.".contains(c)))
                .unwrap_or(tail.len());
            let path = tail[..len].trim_end_matches('.');
            if preceded_ok && path.len() > prefix.len() {
                out.push(path.to_owned());
            }
            rest = &tail[len.max(1)..];
        }
    }
    out
}

#[test]
fn citations_stay_inside_the_repository() {
    let mut pages: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut problems = Vec::new();
    for rel in files() {
        let Some(text) = read(&rel) else {
            continue; // not UTF-8: binary fixtures
        };
        let is_doc = rel.starts_with("docs/") || rel == "README.md";
        for p in passages(&rel, &text) {
            let at = format!("{rel}:{}", p.line);
            for name in OUTSIDE_DOCS {
                if p.text.contains(name) {
                    problems.push(format!(
                        "{at}: cites {name}, which is not in the repository"
                    ));
                }
            }
            if p.text.contains('§') {
                problems.push(format!(
                    "{at}: cites a numbered section (§) of some document"
                ));
            }
            if cites_an_issue(&p.text) {
                problems.push(format!(
                    "{at}: reads as a citation of a work item (\"the … issue\", \"issue N\"): cite a docs/ page or a source file, or say \"problem\" if a problem is meant: {}",
                    p.text.trim()
                ));
            }
            let text = if is_doc {
                normalise_markdown(&p.text)
            } else {
                p.text.clone()
            };
            for (page, heading) in citations(&text) {
                let known = pages
                    .entry(page.clone())
                    .or_insert_with(|| read(&page).map(|t| headings(&t)).unwrap_or_default());
                if !root().join(&page).is_file() {
                    problems.push(format!("{at}: cites {page}, which does not exist"));
                    continue;
                }
                let found = match &heading {
                    None => true,
                    Some(anchor) if anchor.starts_with('#') => {
                        known.iter().any(|k| format!("#{}", slug(k)) == *anchor)
                    }
                    Some(h) => known.contains(h),
                };
                if !found {
                    let h = heading.unwrap_or_default();
                    problems.push(format!("{at}: {page} has no heading \"{h}\""));
                }
            }
            if rel.starts_with("docs/") {
                for path in named_sources(&p.text) {
                    if !root().join(&path).exists() {
                        problems.push(format!("{at}: names {path}, which does not exist"));
                    }
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{} citation problem(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn every_docs_page_is_listed_in_the_index() {
    let index = read("docs/README.md").expect("docs/README.md exists");
    let readme = read("README.md").expect("README.md exists");
    assert!(
        readme.contains("docs/README.md"),
        "README.md links the docs index"
    );
    let dir = root().join("docs");
    let mut missing = Vec::new();
    for e in std::fs::read_dir(&dir).expect("docs/ exists").flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.ends_with(".md") && name != "README.md" && !index.contains(&format!("({name})")) {
            missing.push(name);
        }
    }
    assert!(missing.is_empty(), "not in docs/README.md: {missing:?}");
}

// The checker's own rules, on examples built at run time so that this file
// does not trip the scan if it is ever included.

#[test]
fn issue_citations_are_recognised() {
    assert!(cites_an_issue("the runtime comes with the browser issue"));
    assert!(cites_an_issue(
        "Browser checks plug in here (their own issue)"
    ));
    assert!(cites_an_issue(&format!(
        "Benchmarks of {} 4's budgets",
        "issue"
    )));
    assert!(cites_an_issue("see issue #12"));
}

#[test]
fn gitea_issues_are_not_citations() {
    assert!(!cites_an_issue(
        "a plain conversation comment on an issue or PR"
    ));
    assert!(!cites_an_issue("`None` for issue (not PR) comments"));
    assert!(!cites_an_issue("\"issue not found\""));
    assert!(!cites_an_issue("X-Gitea-Event: issue_comment"));
    assert!(!cites_an_issue(
        "GET /repos/{o}/{r}/issues/{index}/comments"
    ));
    assert!(!cites_an_issue("a comment on the same issue"));
}

#[test]
fn citations_are_parsed_with_their_heading() {
    let text =
        "see (docs/abra.md, \"Pseudo-terminal\") and docs/docker.md#rollbacks, docs/gitea.md";
    assert_eq!(
        citations(text),
        vec![
            (
                "docs/abra.md".to_owned(),
                Some("Pseudo-terminal".to_owned())
            ),
            ("docs/docker.md".to_owned(), Some("#rollbacks".to_owned())),
            ("docs/gitea.md".to_owned(), None),
        ]
    );
}

#[test]
fn wrapped_comment_citations_are_joined() {
    let src = "//! chaos and proven (docs/abra.md,\n//! \"Chaos deploys and the chaos-version label\"): the\nfn x() {}\n";
    let ps = passages("src/x.rs", src);
    assert_eq!(
        citations(&ps[0].text),
        vec![(
            "docs/abra.md".to_owned(),
            Some("Chaos deploys and the chaos-version label".to_owned())
        )]
    );
    assert_eq!(ps[1].line, 3);
}

#[test]
fn markdown_links_become_citations() {
    let text = normalise_markdown(
        "see \"Tokens for git\" in [gitea.md](gitea.md), and [README](../README.md)",
    );
    assert_eq!(
        citations(&text),
        vec![(
            "docs/gitea.md".to_owned(),
            Some("Tokens for git".to_owned())
        )]
    );
    let text = normalise_markdown("[abra.md](abra.md), \"Chaos and offline\"");
    assert_eq!(
        citations(&text),
        vec![(
            "docs/abra.md".to_owned(),
            Some("Chaos and offline".to_owned())
        )]
    );
}

#[test]
fn slugs_follow_github() {
    assert_eq!(slug("Teardown, verified"), "teardown-verified");
    assert_eq!(slug("One ABRA_DIR per lane"), "one-abra_dir-per-lane");
}
