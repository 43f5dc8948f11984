//! The comment grammar: does a comment body ask for a run? Like Prow's trigger
//! plugin, a command counts only on a line of its own, outside fenced code
//! blocks and quoted lines, so quoting or documenting `!testme` never fires.
//!
//! A command is the trigger word alone, or the word and one commit prefix
//! (`!testme 9fc1ad6`): 7 to 40 hexadecimal digits, any case, which binds the
//! run to that commit. Any other argument makes the line no command.

/// The shortest commit prefix a command may name (git's own default
/// abbreviation).
pub const MIN_SHA_PREFIX: usize = 7;

/// A request for a run, as written in a comment.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Command {
    /// The commit prefix the comment names, lowercase; `None`: the PR head
    /// as the bridge finds it.
    pub sha: Option<String>,
}

/// True when `body` holds a command (see [`command`]).
pub fn asks_for_run(body: &str, word: &str) -> bool {
    command(body, word).is_some()
}

/// The first command in `body`: a line that, trimmed, is `word` or `word`
/// and a commit prefix, and that is neither inside a fenced code block
/// (``` or ~~~), nor a quote (`>`), nor an indented code line.
pub fn command(body: &str, word: &str) -> Option<Command> {
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
        if let Some(c) = command_line(line, word) {
            return Some(c);
        }
    }
    None
}

fn command_line(line: &str, word: &str) -> Option<Command> {
    let rest = line.strip_prefix(word)?;
    if rest.is_empty() {
        return Some(Command::default());
    }
    // The word must end where the argument's whitespace begins.
    if !rest.starts_with(char::is_whitespace) {
        return None;
    }
    let arg = rest.trim();
    let hex = arg.len() >= MIN_SHA_PREFIX
        && arg.len() <= 40
        && arg.bytes().all(|b| b.is_ascii_hexdigit());
    hex.then(|| Command {
        sha: Some(arg.to_ascii_lowercase()),
    })
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
    use super::{Command, asks_for_run, command};

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
        assert!(!asks_for_run("!testme 9fc1ad", W), "too short a prefix");
        assert!(!asks_for_run("!testme 9fc1ad6 9fc1ad6", W), "two arguments");
        assert!(!asks_for_run(&format!("!testme {}", "a".repeat(41)), W));
    }

    #[test]
    fn a_commit_prefix_binds_the_command_to_it_in_lowercase() {
        assert_eq!(command("!testme", W), Some(Command { sha: None }));
        assert_eq!(
            command("thanks\n  !testme 9FC1AD6eb \n", W),
            Some(Command {
                sha: Some("9fc1ad6eb".into())
            })
        );
        let full = "9fc1ad6ebf12462f3f9773003e26b4c6f54a772e";
        assert_eq!(
            command(&format!("!testme\t{full}"), W).and_then(|c| c.sha),
            Some(full.to_owned())
        );
    }

    #[test]
    fn the_first_command_line_wins() {
        assert_eq!(
            command("!testme abcdef0\n!testme", W).and_then(|c| c.sha),
            Some("abcdef0".into())
        );
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
