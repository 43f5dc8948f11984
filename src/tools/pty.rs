//! Running a command under a pseudo-terminal: abra's `backup create`,
//! `restore` and `recipe lint` fail with "the input device is not a TTY"
//! otherwise (docs/abra.md, "Pseudo-terminal"). util-linux `script -qec CMD /dev/null`
//! gives the child a terminal and exits with the child's status.

use std::path::Path;

use super::{Arg, Program};

/// The `script` program (`CCCI_SCRIPT` or `script` on PATH).
pub fn script_program() -> Program {
    Program::from_env("CCCI_SCRIPT", "script", super::SLOW)
}

/// `script -qec '<program> <args…>' /dev/null` as a duct expression.
pub fn under_script(script: &Program, program: &Path, args: &[Arg]) -> duct::Expression {
    let mut line = shell_quote(&program.to_string_lossy());
    for a in args {
        let (Arg::Plain(s) | Arg::Secret(s)) = a;
        line.push(' ');
        line.push_str(&shell_quote(&s.to_string_lossy()));
    }
    duct::cmd(
        script.path.as_os_str().to_owned(),
        [
            "-q".into(),
            "-e".into(),
            "-c".into(),
            line,
            "/dev/null".to_owned(),
        ],
    )
}

/// Quote for a POSIX shell; plain words stay bare for readable logs.
pub fn shell_quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-./:=@%+,".contains(&b));
    if plain {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_survives_quotes_and_spaces() {
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote("-C"), "-C");
        assert_eq!(shell_quote(""), "''");
    }
}
