//! The compose policy: what a recipe under test may ask of the host, checked
//! on the compose files its env selects before anything is deployed
//! (docs/security.md, "Compose policy"). Pure: the caller reads the files.
//!
//! - `select`: which files the env selects (`COMPOSE_FILE` chains);
//! - `rules`: the rules over one parsed file;
//! - `lines`: where a finding is (file:line).

pub mod gate;
pub mod lines;
pub mod rules;
pub mod select;

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// One rule of the policy; the name is the registry's exception key
/// (`compose_allow` in `recipes/<name>.toml`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// A service mount whose source is a host path (absolute or relative),
    /// or a named volume the local driver binds to a host directory.
    HostBindMount,
    /// A mount of the Docker (or containerd, podman) socket.
    DockerSocket,
    /// A config or secret read from a host file outside the recipe.
    HostFile,
    Privileged,
    CapAdd,
    Devices,
    /// `network_mode`/`pid`/`ipc`/`userns_mode`/`uts`/`cgroup: host`, or the
    /// external `host` network.
    HostNamespace,
    /// `security_opt` that lifts confinement (`seccomp:unconfined`,
    /// `apparmor:unconfined`, `label:disable`, …).
    SecurityOpt,
    /// Any `ports:` entry: ingress or `mode: host`, a port on the host.
    PublishedPort,
    Sysctls,
}

impl Rule {
    pub const ALL: [Rule; 10] = [
        Rule::HostBindMount,
        Rule::DockerSocket,
        Rule::HostFile,
        Rule::Privileged,
        Rule::CapAdd,
        Rule::Devices,
        Rule::HostNamespace,
        Rule::SecurityOpt,
        Rule::PublishedPort,
        Rule::Sysctls,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Rule::HostBindMount => "host_bind_mount",
            Rule::DockerSocket => "docker_socket",
            Rule::HostFile => "host_file",
            Rule::Privileged => "privileged",
            Rule::CapAdd => "cap_add",
            Rule::Devices => "devices",
            Rule::HostNamespace => "host_namespace",
            Rule::SecurityOpt => "security_opt",
            Rule::PublishedPort => "published_port",
            Rule::Sysctls => "sysctls",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One rule broken at one place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub rule: Rule,
    pub subject: String,
    pub file: String,
    pub line: usize,
    pub detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let subject = if self.subject.contains(' ') {
            self.subject.clone()
        } else {
            format!("service {}", self.subject)
        };
        write!(
            f,
            "{} — {subject} ({}:{}): {}",
            self.rule, self.file, self.line, self.detail
        )
    }
}

/// What the policy decided about a compose set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verdict {
    /// The files checked, in order.
    pub files: Vec<String>,
    /// Violations without an exception: the recipe is refused.
    pub refused: Vec<Violation>,
    /// Violations the registry excepts, with its reason.
    pub excepted: Vec<(Violation, String)>,
}

impl Verdict {
    pub fn is_refused(&self) -> bool {
        !self.refused.is_empty()
    }

    /// The install rung's reason for a refusal.
    pub fn refusal(&self) -> String {
        let list: Vec<String> = self.refused.iter().map(ToString::to_string).collect();
        format!("compose policy refused: {}", list.join("; "))
    }

    /// The exceptions used, for the report.
    pub fn exceptions(&self) -> Vec<String> {
        self.excepted
            .iter()
            .map(|(v, why)| format!("{v} — allowed: {why}"))
            .collect()
    }
}

/// A compose file the policy could not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("compose policy: {file}: {problem}")]
pub struct PolicyError {
    pub file: String,
    pub problem: String,
}

/// Check compose files (name, text) with `vars` for `${VAR}` substitution;
/// `allow` names the excepted rules with their reasons.
pub fn check(
    files: &[(String, String)],
    vars: &BTreeMap<String, String>,
    allow: &BTreeMap<Rule, String>,
) -> Result<Verdict, PolicyError> {
    let mut verdict = Verdict::default();
    for (name, text) in files {
        verdict.files.push(name.clone());
        let docs: Vec<serde_yaml::Value> = serde_yaml::Deserializer::from_str(text)
            .map(serde_yaml::Value::deserialize)
            .collect::<Result<_, _>>()
            .map_err(|e| PolicyError {
                file: name.clone(),
                problem: format!("not YAML: {e}"),
            })?;
        for doc in &docs {
            for f in rules::check(doc, vars) {
                let v = Violation {
                    rule: f.rule,
                    subject: f.subject,
                    file: name.clone(),
                    line: lines::locate(text, &f.path),
                    detail: f.detail,
                };
                match allow.get(&v.rule) {
                    Some(why) => verdict.excepted.push((v, why.clone())),
                    None => verdict.refused.push(v),
                }
            }
        }
    }
    Ok(verdict)
}

/// Check the compose files a recipe checkout's env selects, the env being
/// the checkout's `.env.sample` with the plan's edits applied (what `abra
/// app new` and the run's env edits make of it).
pub fn check_checkout(
    recipe_dir: &std::path::Path,
    plan: &crate::plan::PlanV1,
) -> Result<Verdict, PolicyError> {
    let sample = std::fs::read_to_string(recipe_dir.join(".env.sample")).unwrap_or_default();
    let edits = super::steps::env_edits(plan, "policy");
    let (names, vars) = select::selected(&sample, &edits, &plan.compose_files);
    let mut files = Vec::new();
    for name in names {
        let text = select::read_in(recipe_dir, &name).map_err(|problem| PolicyError {
            file: name.clone(),
            problem,
        })?;
        files.push((name, text));
    }
    check(&files, &vars, &plan.compose_allow)
}

#[cfg(test)]
mod tests;
