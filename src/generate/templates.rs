//! The template environment: every template compiled into the binary,
//! undefined variables are errors, no auto-escaping (each language has its own
//! filter from `escape`), and one place that registers those filters.

use minijinja::{AutoEscape, Environment, Error, ErrorKind, UndefinedBehavior};
use serde::Serialize;

use super::escape;

/// Every template, by name. A test renders the environment's view of each.
pub const TEMPLATES: &[(&str, &str)] = &[
    (
        "nixos/unit.nix.j2",
        include_str!("../../templates/nixos/unit.nix.j2"),
    ),
    (
        "nixos/default.nix.j2",
        include_str!("../../templates/nixos/default.nix.j2"),
    ),
    (
        "nixos/swarm.nix.j2",
        include_str!("../../templates/nixos/swarm.nix.j2"),
    ),
    (
        "nixos/abra.nix.j2",
        include_str!("../../templates/nixos/abra.nix.j2"),
    ),
    (
        "nixos/app.nix.j2",
        include_str!("../../templates/nixos/app.nix.j2"),
    ),
    (
        "nixos/drone-runner.nix.j2",
        include_str!("../../templates/nixos/drone-runner.nix.j2"),
    ),
    (
        "nixos/bridge.nix.j2",
        include_str!("../../templates/nixos/bridge.nix.j2"),
    ),
    (
        "nixos/harness.nix.j2",
        include_str!("../../templates/nixos/harness.nix.j2"),
    ),
    (
        "nixos/secrets.nix.j2",
        include_str!("../../templates/nixos/secrets.nix.j2"),
    ),
    (
        "nixos/dashboard.nix.j2",
        include_str!("../../templates/nixos/dashboard.nix.j2"),
    ),
    ("drone.yml.j2", include_str!("../../templates/drone.yml.j2")),
    (
        "secrets.example.yaml.j2",
        include_str!("../../templates/secrets.example.yaml.j2"),
    ),
    (
        "registry-keys.md.j2",
        include_str!("../../templates/registry-keys.md.j2"),
    ),
    (
        "dashboard/base.html.j2",
        include_str!("../../templates/dashboard/base.html.j2"),
    ),
    (
        "dashboard/index.html.j2",
        include_str!("../../templates/dashboard/index.html.j2"),
    ),
    (
        "dashboard/recipe.html.j2",
        include_str!("../../templates/dashboard/recipe.html.j2"),
    ),
    (
        "dashboard/run.html.j2",
        include_str!("../../templates/dashboard/run.html.j2"),
    ),
    (
        "enroll/recipe.toml.j2",
        include_str!("../../templates/enroll/recipe.toml.j2"),
    ),
];

/// A TOML value: strings through [`escape::toml_string`], booleans and
/// numbers as written, sequences as inline arrays.
fn toml_value(v: &minijinja::Value) -> Result<String, Error> {
    use minijinja::value::ValueKind;
    match v.kind() {
        ValueKind::String => {
            escape::toml_string(v.as_str().unwrap_or_default()).map_err(filter_error)
        }
        // minijinja shows booleans as Python does (`True`); TOML wants `true`.
        ValueKind::Bool => Ok(v.is_true().to_string()),
        ValueKind::Number => Ok(v.to_string()),
        ValueKind::Seq => {
            let items: Result<Vec<String>, Error> = v.try_iter()?.map(|i| toml_value(&i)).collect();
            Ok(format!("[{}]", items?.join(", ")))
        }
        other => Err(Error::new(
            ErrorKind::InvalidOperation,
            format!("toml: cannot write a {other} value"),
        )),
    }
}

fn filter_error(e: escape::Unrepresentable) -> Error {
    Error::new(ErrorKind::InvalidOperation, e.to_string())
}

pub fn environment() -> Result<Environment<'static>, Error> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    // HTML pages (the dashboard) escape every value; the other languages
    // escape through their own filter.
    env.set_auto_escape_callback(|name| {
        if name.ends_with(".html.j2") {
            AutoEscape::Html
        } else {
            AutoEscape::None
        }
    });
    env.set_formatter(|out, state, value| {
        // HTML escaping of what HTML needs (`&<>"'`), leaving `/` readable in URLs.
        if matches!(state.auto_escape(), AutoEscape::Html)
            && !value.is_safe()
            && let Some(s) = value.as_str()
        {
            return out.write_str(&escape::html(s)).map_err(Error::from);
        }
        minijinja::escape_formatter(out, state, value)
    });
    env.add_filter("nix", |s: String| {
        escape::nix_string(&s).map_err(filter_error)
    });
    env.add_filter("nix_content", |s: String| {
        escape::nix_string_content(&s).map_err(filter_error)
    });
    env.add_filter("nixpath", |s: String| {
        escape::nix_path(&s).map_err(filter_error)
    });
    env.add_filter("nixattr", |s: String| {
        escape::nix_attr(&s).map_err(filter_error)
    });
    env.add_filter("sh", |s: String| escape::sh_quote(&s).map_err(filter_error));
    env.add_filter("yaml", |s: String| {
        escape::yaml_string(&s).map_err(filter_error)
    });
    env.add_filter("comment", |s: String| escape::comment(&s));
    env.add_filter("toml", |v: minijinja::Value| toml_value(&v));
    env.add_filter("tomlkey", |s: String| {
        escape::toml_key(&s).map_err(filter_error)
    });
    for (name, source) in TEMPLATES {
        env.add_template(name, source)?;
    }
    Ok(env)
}

/// Render one template; the output always ends with exactly one newline.
pub fn render<S: Serialize>(env: &Environment<'_>, name: &str, ctx: &S) -> Result<String, Error> {
    let text = env
        .get_template(name)?
        .render(minijinja::value::Serde(ctx))?;
    let mut text = text.trim_end().to_owned();
    text.push('\n');
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_values_are_toml() {
        let env = environment().unwrap();
        let ctx = serde_json::json!({ "b": false, "n": [200, 302], "s": ["a\"b", "c"] });
        let got = env
            .render_str(
                "{{ b|toml }} {{ n|toml }} {{ s|toml }} {{ 'a.b'|tomlkey }}",
                minijinja::value::Serde(ctx),
            )
            .unwrap();
        assert_eq!(got, r#"false [200, 302] ["a\"b", "c"] "a.b""#);
    }

    #[test]
    fn every_template_compiles() {
        let env = environment().unwrap();
        for (name, _) in TEMPLATES {
            assert!(env.get_template(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn templates_directory_has_no_unregistered_template() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
        let mut found = Vec::new();
        let mut stack = vec![dir.clone()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    found.push(p.strip_prefix(&dir).unwrap().to_string_lossy().into_owned());
                }
            }
        }
        found.sort();
        let mut registered: Vec<String> = TEMPLATES.iter().map(|(n, _)| (*n).to_owned()).collect();
        registered.sort();
        assert_eq!(found, registered);
    }

    #[test]
    fn undefined_variables_are_errors() {
        let env = environment().unwrap();
        let err = render(&env, "nixos/default.nix.j2", &serde_json::json!({})).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::UndefinedError);
    }
}
