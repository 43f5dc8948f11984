//! Thin typed wrappers over the external programs ccci drives: `abra`,
//! `docker`, `git` (and util-linux `script` for a pseudo-terminal).
//!
//! Every call goes through [`Call`]: a timeout, captured output, the program
//! path configurable (env var or PATH), and on failure a [`ToolError`] that
//! carries the command line with secrets redacted, the exit status and the
//! captured stderr. Secret values are passed as [`Arg::Secret`] only when no
//! file or stdin route exists; they print as `***`.

pub mod abra;
pub mod docker;
pub mod git;
pub mod lint;
pub mod pty;

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// An external program: where it is, how long a call may take by default,
/// and environment variables every call gets (e.g. `DOCKER_HOST`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Program {
    pub path: PathBuf,
    pub timeout: Duration,
    pub env: Vec<(OsString, OsString)>,
}

impl Program {
    /// `$var` when set and non-empty, else `default_name` looked up on PATH.
    pub fn from_env(var: &str, default_name: &str, timeout: Duration) -> Program {
        let path = std::env::var_os(var)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(default_name));
        Program {
            path,
            timeout,
            env: Vec::new(),
        }
    }

    pub fn new(path: impl Into<PathBuf>, timeout: Duration) -> Program {
        Program {
            path: path.into(),
            timeout,
            env: Vec::new(),
        }
    }

    /// Add an environment variable to every call of this program.
    pub fn with_env(mut self, k: impl Into<OsString>, v: impl Into<OsString>) -> Program {
        self.env.push((k.into(), v.into()));
        self
    }
}

/// One argument; a secret one is shown as `***` in errors and logs.
#[derive(Clone, PartialEq, Eq)]
pub enum Arg {
    Plain(OsString),
    Secret(OsString),
}

impl fmt::Debug for Arg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Arg::Plain(s) => write!(f, "{s:?}"),
            Arg::Secret(_) => f.write_str("***"),
        }
    }
}

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    #[error("{command}: cannot start: {source}")]
    Spawn {
        command: String,
        source: std::io::Error,
    },
    #[error("{command}: timed out after {}s", after.as_secs_f64())]
    Timeout {
        command: String,
        after: Duration,
        stderr: String,
    },
    #[error("{command}: {}: {}", exit_text(*status), stderr.trim())]
    Failed {
        command: String,
        /// The exit code, or `None` when killed by a signal.
        status: Option<i32>,
        stderr: String,
        stdout: String,
    },
    #[error("{command}: unexpected output: {reason}")]
    Output { command: String, reason: String },
}

fn exit_text(status: Option<i32>) -> String {
    match status {
        Some(c) => format!("exit status {c}"),
        None => "killed by a signal".to_owned(),
    }
}

impl ToolError {
    /// The redacted command line.
    pub fn command(&self) -> &str {
        match self {
            ToolError::Spawn { command, .. }
            | ToolError::Timeout { command, .. }
            | ToolError::Failed { command, .. }
            | ToolError::Output { command, .. } => command,
        }
    }

    /// Captured stderr (empty when the program never ran).
    pub fn stderr(&self) -> &str {
        match self {
            ToolError::Timeout { stderr, .. } | ToolError::Failed { stderr, .. } => stderr,
            _ => "",
        }
    }
}

/// What a successful call printed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Output {
    pub stdout: String,
    pub stderr: String,
}

/// A call being built; `run()` executes it.
#[derive(Debug, Clone)]
pub struct Call {
    program: Program,
    args: Vec<Arg>,
    env: Vec<(OsString, OsString)>,
    dir: Option<PathBuf>,
    timeout: Duration,
    tty: Option<Program>,
    discard_stdout: bool,
    secret_stdout: bool,
}

impl Call {
    pub fn new(program: &Program) -> Call {
        Call {
            timeout: program.timeout,
            program: program.clone(),
            args: Vec::new(),
            env: program.env.clone(),
            dir: None,
            tty: None,
            discard_stdout: false,
            secret_stdout: false,
        }
    }

    pub fn arg(mut self, a: impl Into<OsString>) -> Call {
        self.args.push(Arg::Plain(a.into()));
        self
    }

    pub fn args<I, S>(mut self, items: I) -> Call
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args
            .extend(items.into_iter().map(|a| Arg::Plain(a.into())));
        self
    }

    /// An argument that must never be shown (prefer a file or stdin).
    pub fn secret_arg(mut self, a: impl Into<OsString>) -> Call {
        self.args.push(Arg::Secret(a.into()));
        self
    }

    pub fn env(mut self, k: impl Into<OsString>, v: impl Into<OsString>) -> Call {
        self.env.push((k.into(), v.into()));
        self
    }

    pub fn dir(mut self, d: impl AsRef<Path>) -> Call {
        self.dir = Some(d.as_ref().to_path_buf());
        self
    }

    pub fn timeout(mut self, t: Duration) -> Call {
        self.timeout = t;
        self
    }

    /// Run under a pseudo-terminal made by `script` (util-linux): for abra
    /// commands that insist on a TTY.
    pub fn tty(mut self, script: &Program) -> Call {
        self.tty = Some(script.clone());
        self
    }

    /// Never keep stdout (it carries generated secret values).
    pub fn discard_stdout(mut self) -> Call {
        self.discard_stdout = true;
        self
    }

    /// Keep stdout for the caller only (it carries generated secret values
    /// the caller hands to the run's masker): never in an error.
    pub fn secret_stdout(mut self) -> Call {
        self.secret_stdout = true;
        self
    }

    /// The command line as it may be shown: secrets replaced by `***`.
    pub fn shown(&self) -> String {
        let mut out = self.program.path.display().to_string();
        for a in &self.args {
            out.push(' ');
            match a {
                Arg::Plain(s) => out.push_str(&pty::shell_quote(&s.to_string_lossy())),
                Arg::Secret(_) => out.push_str("***"),
            }
        }
        out
    }

    /// Execute; non-zero exit is an error.
    pub fn run(&self) -> Result<Output, ToolError> {
        let command = self.shown();
        let expr = match &self.tty {
            // An OsString (not a Path) so duct searches PATH for a bare name.
            None => duct::cmd(
                self.program.path.as_os_str().to_owned(),
                self.args.iter().map(|a| match a {
                    Arg::Plain(s) | Arg::Secret(s) => s.clone(),
                }),
            ),
            Some(script) => pty::under_script(script, &self.program.path, &self.args),
        };
        let mut expr = expr.stdin_null().stderr_capture().unchecked();
        expr = if self.discard_stdout {
            expr.stdout_null()
        } else {
            expr.stdout_capture()
        };
        for (k, v) in &self.env {
            expr = expr.env(k, v);
        }
        if let Some(d) = &self.dir {
            expr = expr.dir(d);
        }
        let handle = expr.start().map_err(|source| ToolError::Spawn {
            command: command.clone(),
            source,
        })?;
        let done = handle
            .wait_timeout(self.timeout)
            .map_err(|source| ToolError::Spawn {
                command: command.clone(),
                source,
            })?
            .is_some();
        if !done {
            let _ = handle.kill();
            return Err(ToolError::Timeout {
                command,
                after: self.timeout,
                stderr: String::new(),
            });
        }
        let out = handle.into_output().map_err(|source| ToolError::Spawn {
            command: command.clone(),
            source,
        })?;
        let mut stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        if self.tty.is_some() {
            // A terminal turns "\n" into "\r\n".
            stdout = stdout.replace("\r\n", "\n");
        }
        if !out.status.success() {
            return Err(ToolError::Failed {
                command,
                status: out.status.code(),
                stderr: if self.tty.is_some() && stderr.trim().is_empty() && !self.secret_stdout {
                    // Under `script`, the program's stderr arrives on stdout.
                    stdout.clone()
                } else {
                    stderr
                },
                stdout: if self.discard_stdout || self.secret_stdout {
                    String::new()
                } else {
                    stdout
                },
            });
        }
        Ok(Output { stdout, stderr })
    }
}

/// The non-empty, trimmed lines of a listing (`git tag`, `docker … ls`).
pub(crate) fn listed(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Default timeouts, chosen for a CI host: quick queries vs. deploys.
pub const QUICK: Duration = Duration::from_secs(60);
pub const SLOW: Duration = Duration::from_secs(1200);
