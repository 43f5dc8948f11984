//! Everything ccci-gen renders, in memory, validated before anything is written:
//! every `.nix` parses with rnix, the YAML parses, every JSON reads back as the
//! type `ccci` will read it with.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::config::{
    BackupbotConfigV1, BridgeConfigV1, DroneConfigV1, ProxyConfigV1, SwarmConfigV1,
};
use crate::names::files::{self, ServiceConfig};
use crate::plan::PlanV1;
use crate::registry::Registry;

use super::context;
use super::plans::{self, BuiltInvalid};
use super::templates;

/// One rendered file: its path relative to the repository root and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    pub path: String,
    pub text: String,
    /// The template (or serializer) that produced it, for error messages.
    pub source: &'static str,
}

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("template {template}: {source:#}")]
    Template {
        template: &'static str,
        source: minijinja::Error,
    },
    #[error("{0}")]
    Built(#[from] BuiltInvalid),
    #[error("{0}")]
    Escape(#[from] super::escape::Unrepresentable),
    #[error("{path} (from {template}) is not valid Nix: {errors}")]
    Nix {
        path: String,
        template: &'static str,
        errors: String,
    },
    #[error("{path} (from {template}) is not valid YAML: {error}")]
    Yaml {
        path: String,
        template: &'static str,
        error: String,
    },
    #[error("{path} does not read back as its type: {error}")]
    Json { path: String, error: String },
}

/// Render every output of a registry, sorted by path.
pub fn render_all(reg: &Registry) -> Result<Vec<Output>, RenderError> {
    let env = templates::environment().map_err(|source| RenderError::Template {
        template: "(environment)",
        source,
    })?;
    let mut out = Vec::new();
    let mut tpl =
        |path: String, template: &'static str, ctx: &dyn erased::Ctx| -> Result<(), RenderError> {
            let text = ctx
                .render(&env, template)
                .map_err(|source| RenderError::Template { template, source })?;
            out.push(Output {
                path,
                text,
                source: template,
            });
            Ok(())
        };
    let m = files::module_path;
    tpl(
        m("default"),
        "nixos/default.nix.j2",
        &context::default_module(),
    )?;
    tpl(m("swarm"), "nixos/swarm.nix.j2", &context::swarm_module())?;
    tpl(m("abra"), "nixos/abra.nix.j2", &context::abra_module(reg))?;
    tpl(m("proxy"), "nixos/app.nix.j2", &context::proxy_module(reg))?;
    tpl(m("drone"), "nixos/app.nix.j2", &context::drone_module())?;
    tpl(
        m("backupbot"),
        "nixos/app.nix.j2",
        &context::backupbot_module(),
    )?;
    tpl(
        m("drone-runner"),
        "nixos/drone-runner.nix.j2",
        &context::runner_module(reg),
    )?;
    tpl(
        m("bridge"),
        "nixos/bridge.nix.j2",
        &context::bridge_module(reg),
    )?;
    tpl(
        m("harness"),
        "nixos/harness.nix.j2",
        &context::harness_module(),
    )?;
    tpl(
        m("secrets"),
        "nixos/secrets.nix.j2",
        &context::secrets_module(reg),
    )?;
    tpl(
        m("dashboard"),
        "nixos/dashboard.nix.j2",
        &super::dashboard::dashboard_module(reg)?,
    )?;
    tpl(
        files::DRONE_YML.to_owned(),
        "drone.yml.j2",
        &context::drone_yml(reg)?,
    )?;
    tpl(
        files::SECRETS_EXAMPLE.to_owned(),
        "secrets.example.yaml.j2",
        &context::secrets_module(reg),
    )?;
    tpl(
        files::KEYS_DOC.to_owned(),
        "registry-keys.md.j2",
        &context::keys_doc(),
    )?;

    for config in ServiceConfig::ALL {
        let path = config.repo_path();
        out.push(match config {
            ServiceConfig::Bridge => json(path, &plans::bridge_config(reg)?),
            ServiceConfig::Swarm => json(path, &plans::swarm_config(&reg.host)?),
            ServiceConfig::Proxy => json(path, &plans::proxy_config(&reg.host)?),
            ServiceConfig::Drone => json(path, &plans::drone_config(reg)?),
            ServiceConfig::Backupbot => json(path, &plans::backupbot_config(&reg.host)?),
        });
    }
    for recipe in reg.recipes.values() {
        out.push(json(
            files::runner_plan_path(&recipe.name),
            &plans::runner_plan(&reg.host, recipe)?,
        ));
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    validate(&out)?;
    Ok(out)
}

/// Pretty JSON with a trailing newline; struct field order is the type's, maps
/// are BTreeMaps, so the text is deterministic.
fn json<T: Serialize>(path: String, value: &T) -> Output {
    // Serializing these plain data types cannot fail (no maps with non-string
    // keys, no foreign Serialize impls that error).
    let mut text =
        serde_json::to_string_pretty(value).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    text.push('\n');
    Output {
        path,
        text,
        source: "serde_json",
    }
}

/// Every output parses in its own language and JSON reads back as its type.
pub fn validate(outputs: &[Output]) -> Result<(), RenderError> {
    for o in outputs {
        if o.path.ends_with(".nix") {
            let parsed = rnix::Root::parse(&o.text);
            if !parsed.errors().is_empty() {
                let errors = parsed
                    .errors()
                    .iter()
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
                    .join("; ");
                return Err(RenderError::Nix {
                    path: o.path.clone(),
                    template: o.source,
                    errors,
                });
            }
        } else if o.path.ends_with(".yml") || o.path.ends_with(".yaml") {
            for doc in serde_yaml::Deserializer::from_str(&o.text) {
                <serde_yaml::Value as serde::Deserialize>::deserialize(doc).map_err(|e| {
                    RenderError::Yaml {
                        path: o.path.clone(),
                        template: o.source,
                        error: e.to_string(),
                    }
                })?;
            }
        } else if o.path.ends_with(".json") {
            read_back(o).map_err(|error| RenderError::Json {
                path: o.path.clone(),
                error,
            })?;
        }
    }
    Ok(())
}

fn read_back(o: &Output) -> Result<(), String> {
    let name = o.path.rsplit('/').next().unwrap_or_default();
    let check = |r: Result<(), crate::config::ConfigError>| r.map_err(|e| e.to_string());
    use crate::config::parse_config;
    match ServiceConfig::from_file_name(name) {
        Some(ServiceConfig::Bridge) => {
            check(parse_config::<BridgeConfigV1>(&o.path, &o.text).map(drop))
        }
        Some(ServiceConfig::Swarm) => {
            check(parse_config::<SwarmConfigV1>(&o.path, &o.text).map(drop))
        }
        Some(ServiceConfig::Proxy) => {
            check(parse_config::<ProxyConfigV1>(&o.path, &o.text).map(drop))
        }
        Some(ServiceConfig::Drone) => {
            check(parse_config::<DroneConfigV1>(&o.path, &o.text).map(drop))
        }
        Some(ServiceConfig::Backupbot) => {
            check(parse_config::<BackupbotConfigV1>(&o.path, &o.text).map(drop))
        }
        None => check(PlanV1::from_json(&o.path, &o.text).map(drop)),
    }
}

/// Outputs by path, for callers that compare.
pub fn by_path(outputs: &[Output]) -> BTreeMap<&str, &str> {
    outputs
        .iter()
        .map(|o| (o.path.as_str(), o.text.as_str()))
        .collect()
}

/// A context of any type, rendered by name: lets `render_all` keep one closure.
mod erased {
    use minijinja::Environment;
    use serde::Serialize;

    pub trait Ctx {
        fn render(&self, env: &Environment<'_>, template: &str)
        -> Result<String, minijinja::Error>;
    }

    impl<T: Serialize> Ctx for T {
        fn render(
            &self,
            env: &Environment<'_>,
            template: &str,
        ) -> Result<String, minijinja::Error> {
            super::templates::render(env, template, self)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn output(path: &str, text: &str) -> Output {
        Output {
            path: path.into(),
            text: text.into(),
            source: "nixos/broken.nix.j2",
        }
    }

    #[test]
    fn a_nix_parse_error_names_the_file_and_template() {
        let err = validate(&[output("modules-gen/x.nix", "{ a = ; }\n")])
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("modules-gen/x.nix (from nixos/broken.nix.j2) is not valid Nix"),
            "{err}"
        );
    }

    #[test]
    fn invalid_yaml_and_json_are_caught() {
        assert!(validate(&[output(".drone.yml", "a: [\n")]).is_err());
        assert!(validate(&[output("runners/x.json", "{\"schema\": 1}\n")]).is_err());
        assert!(validate(&[output("modules-gen/etc/bridge.json", "{\"schema\": 2}\n")]).is_err());
    }
}
