//! `abra` as the CI drives it (docs/abra.md), one method per command with
//! the flags built in: `-C -o` (chaos + offline) on every command that accepts
//! them, so abra never checks the recipe out to a tag or fetches; `-n` (no
//! input) everywhere; `-m` for `secret generate` with its stdout discarded;
//! `-c` on deploy (the CI waits for convergence itself); a pseudo-terminal for
//! `backup create`, `restore` and `recipe lint`. Each call gets `ABRA_DIR`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{Call, Output, Program, ToolError, pty};

/// One app of `abra app ls -S -m`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct AppListing {
    #[serde(default)]
    pub server: String,
    #[serde(default)]
    pub recipe: String,
    #[serde(default, rename = "appName")]
    pub app_name: String,
    #[serde(default)]
    pub domain: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub chaos: String,
    #[serde(default, rename = "chaosVersion")]
    pub chaos_version: String,
}

/// `abra recipe lint` output: its exit code signals only fatal errors, so the
/// rule table is parsed to know what passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LintReport {
    pub output: String,
    pub rules: Vec<super::lint::LintRule>,
}

/// Options of `abra app new`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewApp<'a> {
    /// A recipe version (tag) to pin; none = the current checkout (chaos).
    pub version: Option<&'a str>,
    /// `-S`: let abra generate every secret (values never captured).
    pub generate_secrets: bool,
}

/// An abra bound to one `ABRA_DIR`.
#[derive(Debug, Clone)]
pub struct Abra {
    program: Program,
    script: Program,
    abra_dir: PathBuf,
}

impl Abra {
    /// `CCCI_ABRA` (or `abra` on PATH), `CCCI_SCRIPT` (or `script`).
    pub fn new(abra_dir: impl Into<PathBuf>) -> Abra {
        Abra {
            program: Program::from_env("CCCI_ABRA", "abra", super::SLOW),
            script: pty::script_program(),
            abra_dir: abra_dir.into(),
        }
    }

    pub fn with_programs(program: Program, script: Program, abra_dir: impl Into<PathBuf>) -> Abra {
        Abra {
            program,
            script,
            abra_dir: abra_dir.into(),
        }
    }

    pub fn abra_dir(&self) -> &Path {
        &self.abra_dir
    }

    fn call<const N: usize>(&self, args: [&str; N]) -> Call {
        Call::new(&self.program)
            .env("ABRA_DIR", &self.abra_dir)
            .args(args)
    }

    /// `abra server add --local -n`: the local server, named `default`.
    pub fn server_add_local(&self) -> Result<(), ToolError> {
        self.call(["server", "add", "--local", "-n"])
            .timeout(super::QUICK)
            .run()
            .map(drop)
    }

    /// `abra recipe fetch <recipe> -n` (needs the network; infra apps only).
    pub fn recipe_fetch(&self, recipe: &str) -> Result<(), ToolError> {
        self.call(["recipe", "fetch", recipe, "-n"]).run().map(drop)
    }

    /// `abra app new <recipe> [version] -s <server> -D <domain> [-S] -n -C -o`.
    pub fn app_new(
        &self,
        recipe: &str,
        server: &str,
        domain: &str,
        opts: &NewApp<'_>,
    ) -> Result<(), ToolError> {
        let mut c = self.call(["app", "new", recipe]);
        if let Some(v) = opts.version {
            c = c.arg(v);
        }
        c = c.args(["-s", server, "-D", domain]);
        if opts.generate_secrets {
            // -S prints the generated values: never keep them.
            c = c.arg("-S").discard_stdout();
        }
        c.args(["-n", "-C", "-o"]).run().map(drop)
    }

    /// `abra app deploy <domain> -C -o -n -c [-f]`: deploy the checkout as it
    /// is (chaos), without abra's converge checks. `force` redeploys an app
    /// that is already deployed.
    pub fn app_deploy(&self, domain: &str, force: bool) -> Result<Output, ToolError> {
        let mut c = self.call(["app", "deploy", domain, "-C", "-o", "-n", "-c"]);
        if force {
            c = c.arg("-f");
        }
        c.run()
    }

    /// `abra app upgrade <domain> [version] -f -D -n` (upgrade has no chaos).
    pub fn app_upgrade(&self, domain: &str, version: Option<&str>) -> Result<Output, ToolError> {
        let mut c = self.call(["app", "upgrade", domain]);
        if let Some(v) = version {
            c = c.arg(v);
        }
        c.args(["-f", "-D", "-n"]).run()
    }

    /// `abra app undeploy <domain> -n` (no chaos flag exists here).
    pub fn app_undeploy(&self, domain: &str) -> Result<(), ToolError> {
        self.call(["app", "undeploy", domain, "-n"]).run().map(drop)
    }

    /// `abra app secret generate <domain> <name> <version> -m -C -o -n`; the
    /// generated value goes nowhere (stdout discarded).
    pub fn secret_generate(
        &self,
        domain: &str,
        name: &str,
        version: &str,
    ) -> Result<(), ToolError> {
        self.call([
            "app", "secret", "generate", domain, name, version, "-m", "-C", "-o", "-n",
        ])
        .discard_stdout()
        .timeout(super::QUICK)
        .run()
        .map(drop)
    }

    /// `abra app secret generate <domain> <name> <version> -m -C -o -n`; the
    /// machine output (with the value) is returned, never put in an error.
    pub fn secret_generate_output(
        &self,
        domain: &str,
        name: &str,
        version: &str,
    ) -> Result<String, ToolError> {
        self.call([
            "app", "secret", "generate", domain, name, version, "-m", "-C", "-o", "-n",
        ])
        .secret_stdout()
        .timeout(super::QUICK)
        .run()
        .map(|o| o.stdout)
    }

    /// `abra app secret generate <domain> --all -m -C -o -n`; the machine
    /// output (with the values) is returned, never put in an error.
    pub fn secret_generate_all_output(&self, domain: &str) -> Result<String, ToolError> {
        self.call([
            "app", "secret", "generate", domain, "--all", "-m", "-C", "-o", "-n",
        ])
        .secret_stdout()
        .timeout(super::QUICK)
        .run()
        .map(|o| o.stdout)
    }

    /// `abra app secret generate <domain> --all -m -C -o -n`, stdout discarded.
    pub fn secret_generate_all(&self, domain: &str) -> Result<(), ToolError> {
        self.call([
            "app", "secret", "generate", domain, "--all", "-m", "-C", "-o", "-n",
        ])
        .discard_stdout()
        .timeout(super::QUICK)
        .run()
        .map(drop)
    }

    /// `abra app secret insert <domain> <name> <version> <file> -f -C -o -n`:
    /// the value is read from the file by abra, never on a command line.
    pub fn secret_insert_file(
        &self,
        domain: &str,
        name: &str,
        version: &str,
        file: &Path,
    ) -> Result<(), ToolError> {
        self.call(["app", "secret", "insert", domain, name, version])
            .arg(file)
            .args(["-f", "-C", "-o", "-n"])
            .timeout(super::QUICK)
            .run()
            .map(drop)
    }

    /// `abra app secret remove <domain> --all -n`.
    pub fn secret_remove_all(&self, domain: &str) -> Result<(), ToolError> {
        self.call(["app", "secret", "remove", domain, "--all", "-n"])
            .timeout(super::QUICK)
            .run()
            .map(drop)
    }

    /// `abra app volume remove <domain> -f -n` (no chaos flag exists here).
    pub fn volume_remove(&self, domain: &str) -> Result<(), ToolError> {
        self.call(["app", "volume", "remove", domain, "-f", "-n"])
            .timeout(super::QUICK)
            .run()
            .map(drop)
    }

    /// `abra app backup create <domain> -C -o -n` under a pseudo-terminal.
    pub fn backup_create(&self, domain: &str) -> Result<Output, ToolError> {
        self.call(["app", "backup", "create", domain, "-C", "-o", "-n"])
            .tty(&self.script)
            .run()
    }

    /// `abra app restore <domain> -C -o -n` under a pseudo-terminal.
    pub fn restore(&self, domain: &str) -> Result<Output, ToolError> {
        self.call(["app", "restore", domain, "-C", "-o", "-n"])
            .tty(&self.script)
            .run()
    }

    /// `abra app ls -S -m -C -o [-s server]`, flattened from abra's
    /// `{server: {"apps": [...]}}` nesting.
    pub fn app_ls(&self, server: Option<&str>) -> Result<Vec<AppListing>, ToolError> {
        let mut c = self.call(["app", "ls", "-S", "-m", "-C", "-o"]);
        if let Some(s) = server {
            c = c.args(["-s", s]);
        }
        let shown = c.shown();
        let out = c.timeout(super::QUICK).run()?;
        parse_app_ls(&out.stdout).map_err(|reason| ToolError::Output {
            command: shown,
            reason,
        })
    }

    /// `abra recipe lint <recipe> -C -o -n` under a pseudo-terminal.
    pub fn recipe_lint(&self, recipe: &str) -> Result<LintReport, ToolError> {
        let out = self
            .call(["recipe", "lint", recipe, "-C", "-o", "-n"])
            .tty(&self.script)
            .timeout(super::QUICK)
            .run()?;
        Ok(LintReport {
            rules: super::lint::parse_lint_table(&out.stdout),
            output: out.stdout,
        })
    }
}

/// Flatten `{server: {"apps": [...]}}`.
pub fn parse_app_ls(stdout: &str) -> Result<Vec<AppListing>, String> {
    #[derive(Deserialize)]
    struct Server {
        #[serde(default)]
        apps: Vec<AppListing>,
    }
    let text = stdout.trim();
    if text.is_empty() {
        return Ok(Vec::new());
    }
    let servers: BTreeMap<String, Server> =
        serde_json::from_str(text).map_err(|e| format!("not abra's app ls JSON: {e}"))?;
    Ok(servers
        .into_iter()
        .flat_map(|(name, s)| {
            s.apps.into_iter().map(move |mut a| {
                if a.server.is_empty() {
                    a.server = name.clone();
                }
                a
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_ls_nesting_is_flattened() {
        let json = r#"{"default":{"apps":[{"appName":"a.example.org","domain":"a.example.org","recipe":"traefik","status":"deployed","version":"1.0.0"}]}}"#;
        let apps = parse_app_ls(json).unwrap();
        assert_eq!(apps.len(), 1);
        assert_eq!(apps[0].server, "default");
        assert_eq!(apps[0].status, "deployed");
    }
}
