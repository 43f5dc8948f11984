//! The comment grammar: does a comment body ask for a run? Like Prow's trigger
//! plugin, a command counts only on a line of its own, outside fenced code
//! blocks and quoted lines, so quoting or documenting `!testme` never fires.

/// True when some line of `body`, trimmed, is exactly `word`, and that line is
/// neither inside a fenced code block (``` or ~~~), nor a quote (`>`), nor an
/// indented code line.
pub fn asks_for_run(body: &str, word: &str) -> bool {
    let mut fence: Option<(char, usize)> = None;
    for raw in body.lines() {
        let line = raw.trim();
        if let Some(f) = fence_marker(line) {
            match fence {
                None => fence = Some(f),
                // A fence closes with the same character, at least as long.
                Some((c, n)) if f.0 == c && f.1 >= n => fence = None,
                Some(_) => {}
            }
            continue;
        }
        if fence.is_some() || line.starts_with('>') || is_indented_code(raw) {
            continue;
        }
        if line == word {
            return true;
        }
    }
    false
}

fn fence_marker(line: &str) -> Option<(char, usize)> {
    let c = line.chars().next()?;
    if c != '`' && c != '~' {
        return None;
    }
    let n = line.chars().take_while(|&x| x == c).count();
    (n >= 3).then_some((c, n))
}

/// Markdown treats a line indented by four spaces or a tab as code.
fn is_indented_code(raw: &str) -> bool {
    raw.starts_with("    ") || raw.starts_with('\t')
}

#[cfg(test)]
mod tests {
    use super::asks_for_run;

    const W: &str = "!testme";

    #[test]
    fn the_bare_word_fires() {
        assert!(asks_for_run("!testme", W));
    }

    #[test]
    fn surrounding_whitespace_and_other_lines_are_fine() {
        assert!(asks_for_run("  !testme \r\n", W));
        assert!(asks_for_run("looks good\n\n!testme\nthanks", W));
    }

    #[test]
    fn a_longer_word_does_not_fire() {
        assert!(!asks_for_run("!testmexyz", W));
    }

    #[test]
    fn arguments_do_not_fire() {
        assert!(!asks_for_run("!testme foo", W));
    }

    #[test]
    fn the_word_inside_a_sentence_does_not_fire() {
        assert!(!asks_for_run("please !testme now", W));
    }

    #[test]
    fn a_quoted_line_does_not_fire() {
        assert!(!asks_for_run("> !testme\n\nwhy did this not run?", W));
        assert!(!asks_for_run(">!testme", W));
    }

    #[test]
    fn a_fenced_line_does_not_fire() {
        assert!(!asks_for_run("```\n!testme\n```", W));
        assert!(!asks_for_run("~~~~\n!testme\n~~~~", W));
        assert!(!asks_for_run("```text\n!testme\n```", W));
    }

    #[test]
    fn a_line_after_a_closed_fence_fires() {
        assert!(asks_for_run("```\ncode\n```\n!testme", W));
    }

    #[test]
    fn an_unclosed_fence_swallows_the_rest() {
        assert!(!asks_for_run("```\n!testme", W));
    }

    #[test]
    fn a_shorter_fence_does_not_close_a_longer_one() {
        assert!(!asks_for_run("````\n```\n!testme\n````", W));
    }

    #[test]
    fn indented_code_does_not_fire() {
        assert!(!asks_for_run("    !testme", W));
        assert!(!asks_for_run("\t!testme", W));
    }
}
