//! Inside the model's containers and tools: the shell scripts a marker runs
//! in a service (`printf %s V > P`, `echo V > P`, `cat P` on the service's
//! volumes) and the rule table `abra recipe lint` prints.

use std::collections::BTreeMap;

use ccci::run::platform::OpError;

use super::State;
use super::swarm::{Service, Volume};

fn failed(msg: impl Into<String>) -> OpError {
    OpError::Failed(msg.into())
}

/// What `docker exec … sh -c <script>` does in a service whose files live
/// on its volumes: `printf %s V > P`, `echo V > P`, `cat P`.
pub fn exec_script(s: &mut State, svc: &Service, script: &str) -> Result<String, OpError> {
    let words: Vec<&str> = script.split_whitespace().collect();
    let locate = |path: &str| -> Result<(String, String), OpError> {
        svc.mounts
            .iter()
            .filter(|(m, _)| {
                path == m.as_str() || path.starts_with(&format!("{}/", m.trim_end_matches('/')))
            })
            .max_by_key(|(m, _)| m.len())
            .map(|(m, v)| {
                (
                    v.clone(),
                    path[m.len()..].trim_start_matches('/').to_owned(),
                )
            })
            .ok_or_else(|| failed(format!("{path} is not on a volume")))
    };
    match words.as_slice() {
        ["cat", path] if path.starts_with("/run/secrets/") => {
            let prefix = format!("{}_{}_", svc.stack, &path["/run/secrets/".len()..]);
            s.secrets
                .iter()
                .find(|(k, _)| k.starts_with(&prefix))
                .map(|(_, v)| v.value.clone())
                .ok_or_else(|| failed(format!("cat: {path}: No such file or directory")))
        }
        ["cat", path] => {
            let (vol, rel) = locate(path)?;
            s.volumes
                .get(&vol)
                .and_then(|v| v.files.get(&rel))
                .cloned()
                .ok_or_else(|| failed(format!("cat: {path}: No such file or directory")))
        }
        [.., ">", path] if script.starts_with("printf %s ") || script.starts_with("echo ") => {
            let echo = words[0] == "echo";
            let value = words[if echo { 1 } else { 2 }..words.len() - 2].join(" ");
            let (vol, rel) = locate(path)?;
            let v = s.volumes.entry(vol).or_insert_with(|| Volume {
                stack: svc.stack.clone(),
                files: BTreeMap::new(),
            });
            v.files
                .insert(rel, if echo { format!("{value}\n") } else { value });
            Ok(String::new())
        }
        _ => Err(failed(format!("unsupported shell command {script:?}"))),
    }
}

pub fn lint_table(failed: &[String]) -> String {
    let mut out = String::from(
        "┌──────┬───────────────────────────┬──────────┬───────────┐\n│ REF  │ RULE                      │ SEVERITY │ SATISFIED │\n",
    );
    for i in 1..=16 {
        let r = format!("R{i:03}");
        let mark = if failed.contains(&r) { "❌" } else { "✅" };
        out.push_str(&format!(
            "│ {r} │ rule {:<20} │ warn     │ {mark}        │\n",
            r.to_lowercase()
        ));
    }
    out.push_str("└──────┴───────────────────────────┴──────────┴───────────┘\n");
    out
}
