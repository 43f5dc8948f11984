//! The rules, over one parsed compose file (docs/security.md, "Compose
//! policy"). Each finding names its rule, the service (or top-level volume,
//! network, config or secret) and the path of the offending node, which
//! `super::lines` turns into a line number.

use std::collections::BTreeMap;

use serde_yaml::Value;

use super::Rule;
use super::lines::Seg;

/// One rule broken at one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub rule: Rule,
    /// `app`, or `volume content`, `network host`, `secret x`, `config y`.
    pub subject: String,
    pub path: Vec<Seg>,
    pub detail: String,
}

fn key(s: &str) -> Seg {
    Seg::Key(s.to_owned())
}

/// `$VAR` and `${…}` replaced from `vars` as docker's substitution does
/// (docs/docker.md, "Variable substitution"): `${VAR:-d}`, `${VAR-d}`,
/// `${VAR:?e}`, `${VAR?e}`, tried in that order, each splitting at the first
/// occurrence of its operator. A form read differently here than by docker
/// would let a value past the policy that the engine then deploys.
pub fn substitute(text: &str, vars: &BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(stripped) = after.strip_prefix('$') {
            out.push('$');
            rest = stripped;
        } else if let Some(body) = after.strip_prefix('{') {
            let Some(end) = body.find('}') else {
                out.push_str(&rest[i..]);
                return out;
            };
            out.push_str(&braced(&body[..end], vars));
            rest = &body[end + 1..];
        } else {
            let n = after
                .bytes()
                .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
                .count();
            if n == 0 {
                out.push('$');
            } else {
                out.push_str(vars.get(&after[..n]).map_or("", String::as_str));
            }
            rest = &after[n..];
        }
    }
    out.push_str(rest);
    out
}

/// The value of one `${inner}`. An unset variable under `?` is an error for
/// docker (nothing deploys); its value, empty, is what a deploy could see.
fn braced(inner: &str, vars: &BTreeMap<String, String>) -> String {
    let get = |name: &str| vars.get(name).map(String::as_str);
    if let Some((name, default)) = inner.split_once(":-") {
        return get(name)
            .filter(|v| !v.is_empty())
            .unwrap_or(default)
            .to_owned();
    }
    if let Some((name, default)) = inner.split_once('-') {
        return get(name).unwrap_or(default).to_owned();
    }
    let name = inner
        .split_once(":?")
        .or_else(|| inner.split_once('?'))
        .map_or(inner, |(name, _)| name);
    get(name).unwrap_or_default().to_owned()
}

fn text_of(v: &Value, vars: &BTreeMap<String, String>) -> Option<String> {
    match v {
        Value::String(s) => Some(substitute(s, vars)),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A boolean compose field is on unless it reads false (an unresolvable
/// string counts as on: the gate does not guess in the recipe's favour).
fn is_on(v: &Value, vars: &BTreeMap<String, String>) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::Null => false,
        Value::String(raw) if raw.trim().is_empty() => false,
        other => text_of(other, vars).is_none_or(|t| {
            !matches!(t.trim().to_ascii_lowercase().as_str(), "false" | "no" | "0")
        }),
    }
}

fn is_named_volume(source: &str) -> bool {
    let mut b = source.bytes();
    b.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && b.all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

fn is_socket(s: &str) -> bool {
    s.contains("docker.sock") || s.contains("containerd.sock") || s.contains("podman.sock")
}

/// Every finding in one compose document.
pub fn check(doc: &Value, vars: &BTreeMap<String, String>) -> Vec<Finding> {
    let mut out = Vec::new();
    if let Some(services) = doc.get("services").and_then(Value::as_mapping) {
        for (name, svc) in services {
            let Some(name) = name.as_str() else { continue };
            service(name, svc, vars, &mut out);
        }
    }
    top_level(doc, vars, &mut out);
    out
}

fn service(name: &str, svc: &Value, vars: &BTreeMap<String, String>, out: &mut Vec<Finding>) {
    let base = vec![key("services"), key(name)];
    let at = |extra: &[Seg]| {
        let mut p = base.clone();
        p.extend_from_slice(extra);
        p
    };
    let mut push = |rule: Rule, path: Vec<Seg>, detail: String| {
        out.push(Finding {
            rule,
            subject: name.to_owned(),
            path,
            detail,
        });
    };
    if let Some(vols) = svc.get("volumes").and_then(Value::as_sequence) {
        for (i, v) in vols.iter().enumerate() {
            let p = at(&[key("volumes"), Seg::Index(i)]);
            if let Some((rule, detail)) = mount(v, vars) {
                push(rule, p, detail);
            }
        }
    }
    if svc.get("privileged").is_some_and(|v| is_on(v, vars)) {
        push(
            Rule::Privileged,
            at(&[key("privileged")]),
            "privileged: true".into(),
        );
    }
    for (field, rule) in [
        ("cap_add", Rule::CapAdd),
        ("devices", Rule::Devices),
        ("sysctls", Rule::Sysctls),
    ] {
        let listed: Vec<String> = match svc.get(field) {
            Some(Value::Sequence(s)) => s.iter().filter_map(|v| text_of(v, vars)).collect(),
            Some(Value::Mapping(m)) => m
                .iter()
                .map(|(k, v)| {
                    format!(
                        "{}={}",
                        k.as_str().unwrap_or("?"),
                        text_of(v, vars).unwrap_or_default()
                    )
                })
                .collect(),
            Some(Value::Null) | None => continue,
            Some(other) => vec![text_of(other, vars).unwrap_or_else(|| "…".into())],
        };
        if !listed.is_empty() {
            push(
                rule,
                at(&[key(field)]),
                format!("{field}: {}", listed.join(", ")),
            );
        }
    }
    for field in ["network_mode", "pid", "ipc", "userns_mode", "uts", "cgroup"] {
        let text = svc.get(field).and_then(|v| text_of(v, vars));
        if text.is_some_and(|t| t.trim() == "host") {
            push(
                Rule::HostNamespace,
                at(&[key(field)]),
                format!("{field}: host"),
            );
        }
    }
    if let Some(opts) = svc.get("security_opt").and_then(Value::as_sequence) {
        for (i, o) in opts.iter().enumerate() {
            let t = text_of(o, vars).unwrap_or_default();
            let l = t.to_ascii_lowercase();
            if l.contains("unconfined")
                || l.contains("label=disable")
                || l.contains("label:disable")
            {
                push(
                    Rule::SecurityOpt,
                    at(&[key("security_opt"), Seg::Index(i)]),
                    format!("security_opt: {t}"),
                );
            }
        }
    }
    if let Some(ports) = svc.get("ports").and_then(Value::as_sequence) {
        for (i, p) in ports.iter().enumerate() {
            let detail = match p {
                Value::Mapping(_) => {
                    let mode = p.get("mode").and_then(|v| text_of(v, vars));
                    let published = p.get("published").and_then(|v| text_of(v, vars));
                    let target = p.get("target").and_then(|v| text_of(v, vars));
                    format!(
                        "ports: {} → {} (mode {})",
                        published.unwrap_or_else(|| "an ephemeral host port".into()),
                        target.unwrap_or_else(|| "?".into()),
                        mode.unwrap_or_else(|| "ingress".into())
                    )
                }
                other => format!("ports: {}", text_of(other, vars).unwrap_or_default()),
            };
            push(
                Rule::PublishedPort,
                at(&[key("ports"), Seg::Index(i)]),
                detail,
            );
        }
    }
}

/// What is wrong with one service volume entry, if anything.
fn mount(v: &Value, vars: &BTreeMap<String, String>) -> Option<(Rule, String)> {
    let (kind, source) = match v {
        Value::Mapping(_) => {
            let kind = v
                .get("type")
                .and_then(|t| text_of(t, vars))
                .unwrap_or_else(|| "volume".into());
            let source = v
                .get("source")
                .and_then(|s| text_of(s, vars))
                .unwrap_or_default();
            (kind, source)
        }
        other => {
            let t = text_of(other, vars)?;
            // `target` alone is an anonymous volume.
            let (source, _) = t.split_once(':')?;
            let kind = if is_named_volume(source) {
                "volume"
            } else {
                "bind"
            };
            (kind.to_owned(), source.to_owned())
        }
    };
    if is_socket(&source) {
        return Some((Rule::DockerSocket, format!("mounts {source}")));
    }
    match kind.as_str() {
        "volume" if source.is_empty() || is_named_volume(&source) => None,
        "tmpfs" => None,
        "volume" => Some((
            Rule::HostBindMount,
            format!("volume source {source:?} is not a volume name"),
        )),
        other => Some((
            Rule::HostBindMount,
            format!("{other} mount of the host path {source}"),
        )),
    }
}

fn top_level(doc: &Value, vars: &BTreeMap<String, String>, out: &mut Vec<Finding>) {
    // A named volume whose local driver binds a host directory is a bind mount.
    if let Some(vols) = doc.get("volumes").and_then(Value::as_mapping) {
        for (name, v) in vols {
            let Some(name) = name.as_str() else { continue };
            let opts = v.get("driver_opts");
            let o = opts.and_then(|o| o.get("o")).and_then(|x| text_of(x, vars));
            let device = opts
                .and_then(|o| o.get("device"))
                .and_then(|x| text_of(x, vars));
            let binds = o.is_some_and(|o| {
                o.split(',')
                    .any(|x| x.trim() == "bind" || x.trim() == "rbind")
            });
            if let (true, Some(device)) = (binds, device) {
                out.push(Finding {
                    rule: Rule::HostBindMount,
                    subject: format!("volume {name}"),
                    path: vec![key("volumes"), key(name), key("driver_opts")],
                    detail: format!("a volume bound to the host path {device}"),
                });
            }
        }
    }
    // Swarm's `host` network puts a service on the host's network stack.
    if let Some(nets) = doc.get("networks").and_then(Value::as_mapping) {
        for (name, n) in nets {
            let Some(name) = name.as_str() else { continue };
            let real = n
                .get("name")
                .and_then(|x| text_of(x, vars))
                .unwrap_or_else(|| name.to_owned());
            let external = n.get("external").is_some_and(|e| is_on(e, vars));
            if external && real == "host" {
                out.push(Finding {
                    rule: Rule::HostNamespace,
                    subject: format!("network {name}"),
                    path: vec![key("networks"), key(name)],
                    detail: "the external network host".into(),
                });
            }
        }
    }
    // Configs and secrets are read from the host at deploy time: only files
    // of the recipe itself may be.
    for section in ["configs", "secrets"] {
        let Some(m) = doc.get(section).and_then(Value::as_mapping) else {
            continue;
        };
        for (name, c) in m {
            let Some(name) = name.as_str() else { continue };
            let Some(file) = c.get("file").and_then(|x| text_of(x, vars)) else {
                continue;
            };
            let escapes = file.starts_with('/')
                || file.starts_with('~')
                || file.split('/').any(|p| p == "..");
            if escapes {
                out.push(Finding {
                    rule: Rule::HostFile,
                    subject: format!("{} {name}", section.trim_end_matches('s')),
                    path: vec![key(section), key(name), key("file")],
                    detail: format!("reads the host file {file}"),
                });
            }
        }
    }
}
