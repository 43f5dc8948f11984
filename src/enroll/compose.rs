//! The compose files a recipe's sample selects, read into typed services:
//! image, environment, labels, named volumes and healthcheck, each value with
//! the file and line it came from, `${VAR}` interpolated from the sample.
//! Later files in the chain override earlier ones, as `docker stack deploy`
//! merges them.

use std::collections::BTreeMap;

use serde_yaml::Value;

use super::{At, EnrollError};
use crate::run::policy::lines::{Seg, locate};
use crate::run::policy::rules::substitute;

/// One label, interpolated, with where it is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    pub key: String,
    pub value: String,
    pub at: At,
}

/// A named volume mounted into a service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub volume: String,
    pub target: String,
    pub at: At,
}

/// A service after every selected file is merged.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Service {
    pub name: String,
    /// Interpolated image reference, with where it is set.
    pub image: Option<(String, At)>,
    /// Interpolated environment; a bare `KEY` takes the sample's value.
    pub env: BTreeMap<String, (String, At)>,
    /// `deploy.labels` then `labels`, in order; a later file's label with
    /// the same key replaces the earlier one.
    pub labels: Vec<Label>,
    pub mounts: Vec<Mount>,
    /// The healthcheck command's words, interpolated.
    pub healthcheck: Option<(Vec<String>, At)>,
}

impl Service {
    pub fn label(&self, key: &str) -> Option<&Label> {
        self.labels.iter().find(|l| l.key == key)
    }

    /// The image's repository without registry host and tag, lowercase
    /// (`ghcr.io/baosystems/postgis:17` → `baosystems/postgis`).
    pub fn image_repo(&self) -> Option<String> {
        let (image, _) = self.image.as_ref()?;
        let no_digest = image.split('@').next().unwrap_or(image);
        let mut parts: Vec<&str> = no_digest.split('/').collect();
        if parts.len() > 1 && (parts[0].contains('.') || parts[0].contains(':')) {
            parts.remove(0);
        }
        let last = parts.pop()?;
        let last = last.split(':').next().unwrap_or(last);
        parts.push(last);
        Some(parts.join("/").to_ascii_lowercase())
    }
}

/// The merged services of the selected files, by name, and the files' texts.
#[derive(Debug, Clone, Default)]
pub struct Compose {
    pub files: Vec<(String, String)>,
    pub services: BTreeMap<String, Service>,
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Null => Some(String::new()),
        _ => None,
    }
}

struct Reader<'a> {
    file: &'a str,
    text: &'a str,
    vars: &'a BTreeMap<String, String>,
}

impl Reader<'_> {
    fn at(&self, path: &[Seg]) -> At {
        At::new(self.file, locate(self.text, path))
    }

    fn sub(&self, s: &str) -> String {
        substitute(s, self.vars)
    }

    fn labels(
        &self,
        svc: &str,
        list: &Value,
        base: &[&str],
        out: &mut Vec<Label>,
    ) -> Result<(), EnrollError> {
        let mut path: Vec<Seg> = vec![Seg::Key("services".into()), Seg::Key(svc.into())];
        path.extend(base.iter().map(|k| Seg::Key((*k).into())));
        let mut push = |key: String, value: String, at: At| {
            out.retain(|l| l.key != key);
            out.push(Label { key, value, at });
        };
        match list {
            Value::Sequence(items) => {
                for (i, item) in items.iter().enumerate() {
                    let mut p = path.clone();
                    p.push(Seg::Index(i));
                    let at = self.at(&p);
                    let Some(text) = item.as_str() else {
                        return Err(EnrollError::Label {
                            at,
                            label: serde_yaml::to_string(item)
                                .unwrap_or_default()
                                .trim()
                                .to_owned(),
                            expected: "expected a \"key=value\" string".into(),
                        });
                    };
                    let (k, v) = text.split_once('=').unwrap_or((text, ""));
                    push(self.sub(k.trim()), self.sub(v.trim()), at);
                }
            }
            Value::Mapping(m) => {
                for (k, v) in m {
                    let (Some(k), Some(v)) = (k.as_str(), scalar(v)) else {
                        return Err(EnrollError::Label {
                            at: self.at(&path),
                            label: format!("{k:?}"),
                            expected: "expected a string key with a scalar value".into(),
                        });
                    };
                    let mut p = path.clone();
                    p.push(Seg::Key(k.to_owned()));
                    push(self.sub(k), self.sub(&v), self.at(&p));
                }
            }
            Value::Null => {}
            _ => {
                return Err(EnrollError::Label {
                    at: self.at(&path),
                    label: base.join("."),
                    expected: "expected a list of \"key=value\" or a mapping".into(),
                });
            }
        }
        Ok(())
    }

    fn service(&self, name: &str, v: &Value, into: &mut Service) -> Result<(), EnrollError> {
        let svc = |k: &str| {
            vec![
                Seg::Key("services".into()),
                Seg::Key(name.into()),
                Seg::Key(k.into()),
            ]
        };
        if let Some(image) = v.get("image").and_then(Value::as_str) {
            into.image = Some((self.sub(image), self.at(&svc("image"))));
        }
        match v.get("environment") {
            Some(Value::Sequence(items)) => {
                for (i, item) in items.iter().enumerate() {
                    let Some(text) = item.as_str() else { continue };
                    let mut p = svc("environment");
                    p.push(Seg::Index(i));
                    let value = match text.split_once('=') {
                        Some((_, v)) => self.sub(v),
                        None => self.vars.get(text.trim()).cloned().unwrap_or_default(),
                    };
                    let key = text.split('=').next().unwrap_or(text).trim().to_owned();
                    into.env.insert(key, (value, self.at(&p)));
                }
            }
            Some(Value::Mapping(m)) => {
                for (k, val) in m {
                    let (Some(k), Some(val)) = (k.as_str(), scalar(val)) else {
                        continue;
                    };
                    let mut p = svc("environment");
                    p.push(Seg::Key(k.to_owned()));
                    into.env.insert(k.to_owned(), (self.sub(&val), self.at(&p)));
                }
            }
            _ => {}
        }
        if let Some(labels) = v.get("deploy").and_then(|d| d.get("labels")) {
            self.labels(name, labels, &["deploy", "labels"], &mut into.labels)?;
        }
        if let Some(labels) = v.get("labels") {
            self.labels(name, labels, &["labels"], &mut into.labels)?;
        }
        if let Some(Value::Sequence(items)) = v.get("volumes") {
            for (i, item) in items.iter().enumerate() {
                let mut p = svc("volumes");
                p.push(Seg::Index(i));
                let (source, target) = match item {
                    Value::String(s) => {
                        let s = self.sub(s);
                        let mut parts = s.splitn(3, ':');
                        match (parts.next(), parts.next()) {
                            (Some(src), Some(dst)) => (src.to_owned(), dst.to_owned()),
                            _ => continue,
                        }
                    }
                    Value::Mapping(_) => {
                        let kind = item.get("type").and_then(Value::as_str).unwrap_or("volume");
                        let (Some(src), Some(dst)) = (
                            item.get("source").and_then(Value::as_str),
                            item.get("target").and_then(Value::as_str),
                        ) else {
                            continue;
                        };
                        if kind != "volume" {
                            continue;
                        }
                        (self.sub(src), self.sub(dst))
                    }
                    _ => continue,
                };
                // A named volume, not a host path.
                if source.is_empty()
                    || source.contains('/')
                    || source.starts_with('.')
                    || source.starts_with('~')
                {
                    continue;
                }
                let target = target.trim_end_matches('/');
                let target = if target.is_empty() { "/" } else { target };
                into.mounts.retain(|m| m.target != target);
                into.mounts.push(Mount {
                    volume: source,
                    target: target.to_owned(),
                    at: self.at(&p),
                });
            }
        }
        if let Some(test) = v.get("healthcheck").and_then(|h| h.get("test")) {
            let words: Vec<String> = match test {
                Value::Sequence(items) => items
                    .iter()
                    .filter_map(Value::as_str)
                    .map(|s| self.sub(s))
                    .collect(),
                Value::String(s) => vec!["CMD-SHELL".to_owned(), self.sub(s)],
                _ => Vec::new(),
            };
            let mut p = svc("healthcheck");
            p.push(Seg::Key("test".into()));
            into.healthcheck = (!words.is_empty()).then(|| (words, self.at(&p)));
        }
        Ok(())
    }
}

/// Read the files `(name, text)` in chain order.
pub fn read(
    files: Vec<(String, String)>,
    vars: &BTreeMap<String, String>,
) -> Result<Compose, EnrollError> {
    let mut services: BTreeMap<String, Service> = BTreeMap::new();
    for (name, text) in &files {
        let mut doc: Value = serde_yaml::from_str(text).map_err(|e| EnrollError::Yaml {
            at: At::new(name, e.location().map_or(1, |l| l.line())),
            why: e.to_string(),
        })?;
        // `<<: *anchor` (bonfire shares its postgres env this way).
        doc.apply_merge().map_err(|e| EnrollError::Yaml {
            at: At::new(name, e.location().map_or(1, |l| l.line())),
            why: e.to_string(),
        })?;
        let reader = Reader {
            file: name,
            text,
            vars,
        };
        let Some(Value::Mapping(svcs)) = doc.get("services") else {
            continue;
        };
        for (k, v) in svcs {
            let Some(svc) = k.as_str() else { continue };
            let entry = services.entry(svc.to_owned()).or_insert_with(|| Service {
                name: svc.to_owned(),
                ..Service::default()
            });
            reader.service(svc, v, entry)?;
        }
    }
    Ok(Compose { files, services })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> BTreeMap<String, String> {
        [
            ("DOMAIN", "x.example.com"),
            ("STACK_NAME", "x_example_com"),
            ("TAG", "17"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .into()
    }

    #[test]
    fn overlays_merge_and_every_value_has_its_line() {
        let base = "services:\n  app:\n    image: nginx:1.27\n    environment:\n      - A=1\n      - DOMAIN\n    deploy:\n      labels:\n        - \"traefik.http.routers.${STACK_NAME}.rule=Host(`${DOMAIN}`)\"\n    volumes:\n      - content:/usr/share/nginx/html/\n      - ./local:/x\n";
        let overlay = "x-env: &env\n  POSTGRES_DB: d\nservices:\n  app:\n    environment:\n      A: 2\n  db:\n    image: postgres:${TAG}\n    environment:\n      <<: *env\n    deploy:\n      labels:\n        backupbot.backup: \"true\"\n";
        let c = read(
            vec![
                ("compose.yml".into(), base.into()),
                ("compose.db.yml".into(), overlay.into()),
            ],
            &vars(),
        )
        .unwrap();
        let app = &c.services["app"];
        assert_eq!(app.image_repo().as_deref(), Some("nginx"));
        assert_eq!(app.env["A"], ("2".into(), At::new("compose.db.yml", 6)));
        assert_eq!(app.env["DOMAIN"].0, "x.example.com");
        let rule = app
            .label("traefik.http.routers.x_example_com.rule")
            .unwrap();
        assert_eq!(
            (rule.value.as_str(), rule.at.line),
            ("Host(`x.example.com`)", 9)
        );
        assert_eq!(app.mounts.len(), 1, "host paths are not volumes");
        assert_eq!(app.mounts[0].target, "/usr/share/nginx/html");
        let db = &c.services["db"];
        assert_eq!(db.env["POSTGRES_DB"].0, "d", "merge keys are applied");
        assert_eq!(db.image.as_ref().unwrap().0, "postgres:17");
        assert_eq!(
            db.label("backupbot.backup").unwrap().at,
            At::new("compose.db.yml", 13)
        );
    }

    #[test]
    fn registries_and_tags_leave_the_image_repository() {
        let s = |i: &str| Service {
            image: Some((i.into(), At::new("c", 1))),
            ..Service::default()
        };
        assert_eq!(
            s("ghcr.io/baosystems/postgis:17-3.5").image_repo().unwrap(),
            "baosystems/postgis"
        );
        assert_eq!(
            s("localhost:5000/keycloak").image_repo().unwrap(),
            "keycloak"
        );
        assert_eq!(s("mariadb").image_repo().unwrap(), "mariadb");
    }

    #[test]
    fn bad_yaml_and_bad_labels_name_their_place() {
        let e = read(
            vec![("compose.yml".into(), "services:\n  app: [\n".into())],
            &vars(),
        )
        .unwrap_err();
        assert!(e.to_string().starts_with("compose.yml:"), "{e}");
        let e = read(
            vec![(
                "compose.yml".into(),
                "services:\n  app:\n    deploy:\n      labels:\n        - {a: b}\n".into(),
            )],
            &vars(),
        )
        .unwrap_err();
        assert!(e.to_string().starts_with("compose.yml:5: label"), "{e}");
    }
}
