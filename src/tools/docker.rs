//! `docker` as ccci needs it: swarm state, the proxy network, a stack's
//! services / tasks / volumes / secrets / configs, and `exec` for data markers.
//! Listings use `--format '{{json .}}'` or `'{{.Name}}'` and are parsed here.

use serde::Deserialize;
use serde_json::Value;

use super::{Call, Output, Program, ToolError};

/// `docker info` `Swarm.LocalNodeState`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SwarmState {
    Active,
    Inactive,
    /// pending, locked, error: reported as docker says it.
    Other(String),
}

/// One row of `docker network ls`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct NetworkRow {
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "Driver", default)]
    pub driver: String,
    #[serde(rename = "Scope", default)]
    pub scope: String,
}

/// One row of `docker service ls`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ServiceRow {
    #[serde(rename = "ID", default)]
    pub id: String,
    #[serde(rename = "Name")]
    pub name: String,
    /// `running/desired`, e.g. `1/1`.
    #[serde(rename = "Replicas", default)]
    pub replicas: String,
    #[serde(rename = "Image", default)]
    pub image: String,
}

impl ServiceRow {
    /// `(running, desired)` from `Replicas`, when it has that shape.
    pub fn replica_counts(&self) -> Option<(u32, u32)> {
        let (r, d) = self.replicas.split_once('/')?;
        let d = d.split_whitespace().next()?;
        Some((r.trim().parse().ok()?, d.parse().ok()?))
    }
}

/// One row of `docker service ps`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TaskRow {
    #[serde(rename = "Name", default)]
    pub name: String,
    #[serde(rename = "DesiredState", default)]
    pub desired_state: String,
    #[serde(rename = "CurrentState", default)]
    pub current_state: String,
    #[serde(rename = "Error", default)]
    pub error: String,
}

/// The parts of `docker service inspect` ccci reads.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceInfo {
    pub name: String,
    pub labels: std::collections::BTreeMap<String, String>,
    /// `UpdateStatus.State`, e.g. `completed`, `rollback_completed`
    /// (docs/docker.md, "Rollbacks").
    pub update_state: Option<String>,
    /// The whole JSON, for anything else.
    pub raw: Value,
}

/// A docker CLI.
#[derive(Debug, Clone)]
pub struct Docker {
    program: Program,
}

const STACK_LABEL: &str = "com.docker.stack.namespace";

impl Docker {
    /// `CCCI_DOCKER` or `docker` on PATH.
    pub fn new() -> Docker {
        Docker {
            program: Program::from_env("CCCI_DOCKER", "docker", super::QUICK),
        }
    }

    pub fn with_program(program: Program) -> Docker {
        Docker { program }
    }

    fn call<const N: usize>(&self, args: [&str; N]) -> Call {
        Call::new(&self.program).args(args)
    }

    pub fn swarm_state(&self) -> Result<SwarmState, ToolError> {
        let out = self
            .call(["info", "--format", "{{.Swarm.LocalNodeState}}"])
            .run()?;
        Ok(match out.stdout.trim() {
            "active" => SwarmState::Active,
            "inactive" => SwarmState::Inactive,
            other => SwarmState::Other(other.to_owned()),
        })
    }

    pub fn swarm_init(&self, advertise_addr: &str) -> Result<(), ToolError> {
        self.call(["swarm", "init", "--advertise-addr", advertise_addr])
            .run()
            .map(drop)
    }

    pub fn networks(&self) -> Result<Vec<NetworkRow>, ToolError> {
        self.json_rows(self.call(["network", "ls", "--format", "{{json .}}"]))
    }

    /// `docker network create --driver overlay --attachable <name>`.
    pub fn create_attachable_overlay(&self, name: &str) -> Result<(), ToolError> {
        self.call([
            "network",
            "create",
            "--driver",
            "overlay",
            "--attachable",
            name,
        ])
        .run()
        .map(drop)
    }

    /// Services of a stack (by its namespace label), or all with `None`.
    pub fn services(&self, stack: Option<&str>) -> Result<Vec<ServiceRow>, ToolError> {
        let mut c = self.call(["service", "ls"]);
        if let Some(s) = stack {
            c = c.args(["--filter", &format!("label={STACK_LABEL}={s}")]);
        }
        self.json_rows(c.args(["--format", "{{json .}}"]))
    }

    pub fn service_inspect(&self, service: &str) -> Result<ServiceInfo, ToolError> {
        let c = self.call(["service", "inspect", service, "--format", "{{json .}}"]);
        let shown = c.shown();
        let out = c.run()?;
        let raw: Value =
            serde_json::from_str(out.stdout.trim()).map_err(|e| ToolError::Output {
                command: shown,
                reason: e.to_string(),
            })?;
        let labels = raw["Spec"]["Labels"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                    .collect()
            })
            .unwrap_or_default();
        Ok(ServiceInfo {
            name: raw["Spec"]["Name"].as_str().unwrap_or(service).to_owned(),
            update_state: raw["UpdateStatus"]["State"].as_str().map(str::to_owned),
            labels,
            raw,
        })
    }

    /// Tasks of a service, including failed ones (`--no-trunc` keeps errors whole).
    pub fn service_ps(&self, service: &str) -> Result<Vec<TaskRow>, ToolError> {
        self.json_rows(self.call([
            "service",
            "ps",
            service,
            "--no-trunc",
            "--format",
            "{{json .}}",
        ]))
    }

    /// The last `lines` lines a service's tasks printed, without task ids
    /// (docs/docker.md, "Crash loops").
    pub fn service_logs(&self, service: &str, lines: u32) -> Result<String, ToolError> {
        let tail = lines.to_string();
        let out = self
            .call([
                "service",
                "logs",
                "--raw",
                "--no-task-ids",
                "--tail",
                &tail,
                service,
            ])
            .run()?;
        // Containers log to either stream; docker passes each through.
        Ok(format!("{}{}", out.stdout, out.stderr))
    }

    pub fn stack_rm(&self, stack: &str) -> Result<(), ToolError> {
        self.call(["stack", "rm", stack]).run().map(drop)
    }

    /// Volume names of a stack (namespace label), or all.
    pub fn volumes(&self, stack: Option<&str>) -> Result<Vec<String>, ToolError> {
        self.names("volume", stack.map(|s| format!("label={STACK_LABEL}={s}")))
    }

    pub fn volume_rm(&self, name: &str) -> Result<(), ToolError> {
        self.call(["volume", "rm", name]).run().map(drop)
    }

    /// Secret names starting with `prefix` (e.g. `<stack>_`): abra-inserted
    /// secrets carry no stack label, so they are found by name (docs/docker.md,
    /// "Finding a stack's objects").
    pub fn secrets(&self, prefix: &str) -> Result<Vec<String>, ToolError> {
        Ok(self
            .names(
                "secret",
                (!prefix.is_empty()).then(|| format!("name={prefix}")),
            )?
            .into_iter()
            .filter(|n| n.starts_with(prefix))
            .collect())
    }

    pub fn secret_rm(&self, name: &str) -> Result<(), ToolError> {
        self.call(["secret", "rm", name]).run().map(drop)
    }

    /// Config names starting with `prefix`.
    pub fn configs(&self, prefix: &str) -> Result<Vec<String>, ToolError> {
        Ok(self
            .names(
                "config",
                (!prefix.is_empty()).then(|| format!("name={prefix}")),
            )?
            .into_iter()
            .filter(|n| n.starts_with(prefix))
            .collect())
    }

    pub fn config_rm(&self, name: &str) -> Result<(), ToolError> {
        self.call(["config", "rm", name]).run().map(drop)
    }

    /// A running container of a swarm service.
    pub fn container_of(&self, service: &str) -> Result<Option<String>, ToolError> {
        let out = self
            .call([
                "ps",
                "--filter",
                &format!("label=com.docker.swarm.service.name={service}"),
                "--format",
                "{{.ID}}",
            ])
            .run()?;
        Ok(out.stdout.lines().next().map(|l| l.trim().to_owned()))
    }

    /// Every container of a stack, in any state (`ps -a`): the swarm keeps a
    /// removed service's exited task containers for a while, and each one
    /// still holds its volumes (docs/docker.md, "Volumes held by stopping tasks").
    pub fn stack_containers(&self, stack: &str) -> Result<Vec<String>, ToolError> {
        let out = self
            .call([
                "ps",
                "-a",
                "--filter",
                &format!("label={STACK_LABEL}={stack}"),
                "--format",
                "{{.Names}}",
            ])
            .run()?;
        Ok(super::listed(&out.stdout))
    }

    /// Network names of a stack (its namespace label): the `<stack>_default`
    /// network `docker stack deploy` creates for services that name none.
    pub fn stack_networks(&self, stack: &str) -> Result<Vec<String>, ToolError> {
        self.names("network", Some(format!("label={STACK_LABEL}={stack}")))
    }

    /// `docker rm -f <containers…>`: kills and removes them at once.
    pub fn containers_rm_force(&self, names: &[String]) -> Result<(), ToolError> {
        self.call(["rm", "-f"]).args(names).run().map(drop)
    }

    /// `docker exec <container> <argv…>`.
    pub fn exec(&self, container: &str, argv: &[&str]) -> Result<Output, ToolError> {
        self.call(["exec", container]).args(argv).run()
    }

    fn names(&self, kind: &str, filter: Option<String>) -> Result<Vec<String>, ToolError> {
        let mut c = self.call([kind, "ls"]);
        if let Some(f) = filter {
            c = c.args(["--filter", &f]);
        }
        let out = c.args(["--format", "{{.Name}}"]).run()?;
        Ok(super::listed(&out.stdout))
    }

    fn json_rows<T: serde::de::DeserializeOwned>(&self, c: Call) -> Result<Vec<T>, ToolError> {
        let shown = c.shown();
        let out = c.run()?;
        out.stdout
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                serde_json::from_str(l).map_err(|e| ToolError::Output {
                    command: shown.clone(),
                    reason: format!("{e} in {l:?}"),
                })
            })
            .collect()
    }
}

impl Default for Docker {
    fn default() -> Self {
        Docker::new()
    }
}
