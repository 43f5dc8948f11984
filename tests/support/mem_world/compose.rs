//! What the model needs of a recipe's compose files: services with their
//! volume mounts and deploy labels, top-level volumes and secrets, after
//! `${VAR}` substitution from the app's env (unset variables become empty,
//! as docker's substitution does).

use std::collections::BTreeMap;

use serde_yaml::Value;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ComposeService {
    /// Container path → volume name (unprefixed).
    pub mounts: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
    /// `deploy.replicas`: `None` is docker's default of one; 0 is a
    /// service that is declared but not meant to run (a cron job's).
    pub replicas: Option<u32>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Compose {
    pub services: BTreeMap<String, ComposeService>,
    pub volumes: Vec<String>,
    pub secrets: Vec<String>,
}

/// Docker's variable substitution: `${NAME}`, `$NAME`, `${NAME:-default}`
/// (unset or empty), `${NAME-default}` (unset) and `$$` for a `$`; an unset
/// variable without a default becomes empty.
pub fn substitute(text: &str, vars: &BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(body) = after.strip_prefix('{') {
            let Some(j) = body.find('}') else {
                out.push_str(&rest[i..]);
                rest = "";
                break;
            };
            let inner = &body[..j];
            let value = if let Some((name, default)) = inner.split_once(":-") {
                vars.get(name)
                    .filter(|v| !v.is_empty())
                    .cloned()
                    .unwrap_or_else(|| default.to_owned())
            } else if let Some((name, default)) = inner.split_once('-') {
                vars.get(name)
                    .cloned()
                    .unwrap_or_else(|| default.to_owned())
            } else {
                vars.get(inner).cloned().unwrap_or_default()
            };
            out.push_str(&value);
            rest = &body[j + 1..];
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

fn keys(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_mapping)
        .map(|m| {
            m.keys()
                .filter_map(|k| k.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn labels(v: Option<&Value>) -> BTreeMap<String, String> {
    match v {
        Some(Value::Sequence(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .filter_map(|s| s.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
        Some(Value::Mapping(m)) => m
            .iter()
            .filter_map(|(k, v)| {
                let v = match v {
                    Value::String(s) => s.clone(),
                    Value::Bool(b) => b.to_string(),
                    Value::Number(n) => n.to_string(),
                    _ => return None,
                };
                Some((k.as_str()?.to_owned(), v))
            })
            .collect(),
        _ => BTreeMap::new(),
    }
}

fn mounts(v: Option<&Value>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for item in v.and_then(Value::as_sequence).into_iter().flatten() {
        match item {
            Value::String(s) => {
                let mut parts = s.split(':');
                if let (Some(src), Some(dst)) = (parts.next(), parts.next())
                    && !src.starts_with('/')
                    && !src.starts_with('.')
                {
                    out.insert(dst.to_owned(), src.to_owned());
                }
            }
            Value::Mapping(_) => {
                if item.get("type").and_then(Value::as_str) == Some("volume")
                    && let (Some(src), Some(dst)) = (
                        item.get("source").and_then(Value::as_str),
                        item.get("target").and_then(Value::as_str),
                    )
                {
                    out.insert(dst.to_owned(), src.to_owned());
                }
            }
            _ => {}
        }
    }
    out
}

/// Parse one compose file after substitution.
pub fn parse(text: &str, vars: &BTreeMap<String, String>) -> Result<Compose, String> {
    let doc: Value = serde_yaml::from_str(&substitute(text, vars)).map_err(|e| e.to_string())?;
    let mut c = Compose {
        volumes: keys(doc.get("volumes")),
        secrets: keys(doc.get("secrets")),
        ..Compose::default()
    };
    if let Some(services) = doc.get("services").and_then(Value::as_mapping) {
        for (name, svc) in services {
            let Some(name) = name.as_str() else { continue };
            c.services.insert(
                name.to_owned(),
                ComposeService {
                    mounts: mounts(svc.get("volumes")),
                    labels: labels(svc.get("deploy").and_then(|d| d.get("labels"))),
                    replicas: svc
                        .get("deploy")
                        .and_then(|d| d.get("replicas"))
                        .and_then(Value::as_u64)
                        .and_then(|n| u32::try_from(n).ok()),
                },
            );
        }
    }
    Ok(c)
}

/// Merge the compose files an app uses, in order.
pub fn merge(files: Vec<Compose>) -> Compose {
    let mut out = Compose::default();
    for c in files {
        for (name, svc) in c.services {
            let m = out.services.entry(name).or_default();
            m.mounts.extend(svc.mounts);
            m.labels.extend(svc.labels);
            if svc.replicas.is_some() {
                m.replicas = svc.replicas;
            }
        }
        for v in c.volumes {
            if !out.volumes.contains(&v) {
                out.volumes.push(v);
            }
        }
        for s in c.secrets {
            if !out.secrets.contains(&s) {
                out.secrets.push(s);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unset_variables_become_empty_and_set_ones_their_value() {
        let vars: BTreeMap<String, String> = [("STACK_NAME".to_owned(), "st".to_owned())].into();
        assert_eq!(
            substitute("Host(`${DOMAIN}`) on ${STACK_NAME}_x", &vars),
            "Host(``) on st_x"
        );
        assert_eq!(substitute("no ${ end", &vars), "no ${ end");
    }

    #[test]
    fn defaults_bare_names_and_escaped_dollars() {
        let vars: BTreeMap<String, String> = [
            ("SET".to_owned(), "v".to_owned()),
            ("EMPTY".to_owned(), String::new()),
        ]
        .into();
        assert_eq!(
            substitute("${SET:-d} ${EMPTY:-d} ${NONE:-d}", &vars),
            "v d d"
        );
        assert_eq!(substitute("${EMPTY-d} ${NONE-d}", &vars), " d");
        assert_eq!(substitute("$SET/$$SET/$", &vars), "v/$SET/$");
    }

    #[test]
    fn services_mounts_labels_and_top_level_names_are_read() {
        let text = "services:\n  app:\n    volumes:\n      - content:/srv\n      - /host:/h\n    deploy:\n      labels:\n        - \"a=1\"\n        - \"b=x=y\"\n  db:\n    deploy:\n      labels:\n        c: true\nvolumes:\n  content:\nsecrets:\n  api_key:\n    external: true\n";
        let c = parse(text, &BTreeMap::new()).unwrap();
        let app = &c.services["app"];
        assert_eq!(
            app.mounts,
            [("/srv".to_owned(), "content".to_owned())].into()
        );
        assert_eq!(app.labels["b"], "x=y");
        assert_eq!(c.services["db"].labels["c"], "true");
        assert_eq!(c.volumes, ["content"]);
        assert_eq!(c.secrets, ["api_key"]);
    }
}
