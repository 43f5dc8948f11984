//! Hostile values in every string key of the registry: each is either rejected
//! at load with a message naming the file and key, or rendered so that every
//! output still parses and the plan reads back exactly the original string.

mod gen_support;
use gen_support::*;

fn hostile() -> Vec<String> {
    let text =
        std::fs::read_to_string(repo_root().join("tests/fixtures/hostile-strings.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn toml_string(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

/// A recipe key: the TOML to put in `recipes/probe.toml` given the value's
/// TOML literal, and where the value lands in the runner plan when accepted.
struct RecipeKey {
    key: &'static str,
    toml: fn(&str) -> String,
    plan_pointer: Option<&'static str>,
}

const RECIPE_KEYS: &[RecipeKey] = &[
    RecipeKey {
        key: "repo",
        toml: |v| format!("repo = {v}\n"),
        plan_pointer: Some("/repo"),
    },
    RecipeKey {
        key: "category",
        toml: |v| format!("category = {v}\n"),
        plan_pointer: Some("/category"),
    },
    RecipeKey {
        key: "upgrade_base",
        toml: |v| format!("upgrade_base = {v}\n"),
        plan_pointer: Some("/upgrade_base"),
    },
    RecipeKey {
        key: "depends_on",
        toml: |v| format!("depends_on = [{v}]\n"),
        plan_pointer: None,
    },
    RecipeKey {
        key: "health.path",
        toml: |v| format!("[health]\npath = {v}\n"),
        plan_pointer: Some("/health/path"),
    },
    RecipeKey {
        key: "env.FOO",
        toml: |v| format!("[env]\nFOO = {v}\n"),
        plan_pointer: Some("/env/FOO"),
    },
    RecipeKey {
        key: "env_from_domain.FOO",
        toml: |v| format!("[env_from_domain]\nFOO = {v}\n"),
        plan_pointer: Some("/env_from_domain/FOO"),
    },
    RecipeKey {
        key: "git_url",
        toml: |v| format!("git_url = {v}\n"),
        plan_pointer: Some("/git_url"),
    },
    RecipeKey {
        key: "compose_files[0]",
        toml: |v| format!("compose_files = [{v}]\n"),
        plan_pointer: Some("/compose_files/0"),
    },
    RecipeKey {
        key: "secret_values.api_key",
        toml: |v| format!("[secret_values]\napi_key = {v}\n"),
        plan_pointer: Some("/secret_values/api_key/key"),
    },
    RecipeKey {
        key: "skip.upgrade",
        toml: |v| format!("[skip]\nupgrade = {v}\n"),
        plan_pointer: Some("/skip/upgrade"),
    },
    RecipeKey {
        key: "marker.write",
        toml: |v| format!("[marker]\nkind = \"exec\"\nwrite = {v}\nread = \"cat /m\"\n"),
        plan_pointer: Some("/marker/write"),
    },
    RecipeKey {
        key: "marker.read",
        toml: |v| format!("[marker]\nkind = \"exec\"\nwrite = \"echo {{value}}\"\nread = {v}\n"),
        plan_pointer: Some("/marker/read"),
    },
    RecipeKey {
        key: "marker.path",
        toml: |v| format!("[marker]\nkind = \"exec-file\"\npath = {v}\n"),
        plan_pointer: Some("/marker/path"),
    },
    RecipeKey {
        key: "marker.service",
        toml: |v| format!("[marker]\nkind = \"exec-file\"\npath = \"/m\"\nservice = {v}\n"),
        plan_pointer: Some("/marker/service"),
    },
    RecipeKey {
        key: "marker.database",
        toml: |v| {
            format!(
                "[marker]\nkind = \"sql\"\nengine = \"postgres\"\nuser = \"u\"\ndatabase = {v}\n"
            )
        },
        plan_pointer: Some("/marker/database"),
    },
    RecipeKey {
        key: "check[0].name",
        toml: |v| format!("[[check]]\nname = {v}\npath = \"/\"\n"),
        plan_pointer: Some("/checks/0/name"),
    },
    RecipeKey {
        key: "check[0].path",
        toml: |v| format!("[[check]]\nname = \"n\"\npath = {v}\n"),
        plan_pointer: Some("/checks/0/path"),
    },
    RecipeKey {
        key: "check[0].body_contains",
        toml: |v| format!("[[check]]\nname = \"n\"\npath = \"/\"\nbody_contains = {v}\n"),
        plan_pointer: Some("/checks/0/body_contains"),
    },
    RecipeKey {
        key: "check[0].json_key",
        toml: |v| format!("[[check]]\nname = \"n\"\npath = \"/\"\njson_key = {v}\n"),
        plan_pointer: Some("/checks/0/json_key"),
    },
    RecipeKey {
        key: "browser[0].name",
        toml: |v| format!("[[browser]]\nname = {v}\n"),
        plan_pointer: Some("/browser/0/name"),
    },
    RecipeKey {
        key: "browser[0].expect_text",
        toml: |v| format!("[[browser]]\nname = \"n\"\nexpect_text = {v}\n"),
        plan_pointer: Some("/browser/0/expect_text"),
    },
    RecipeKey {
        key: "browser[0].selector",
        toml: |v| format!("[[browser]]\nname = \"n\"\nselector = {v}\n"),
        plan_pointer: Some("/browser/0/selector"),
    },
];

/// Keys whose hostile values must all be accepted and carried exactly.
const FREE_TEXT: &[&str] = &[
    "env.FOO",
    "skip.upgrade",
    "check[0].body_contains",
    "check[0].json_key",
    "browser[0].expect_text",
    "browser[0].selector",
];

fn outcome(dir: &std::path::Path) -> Result<Vec<ccci::generate::outputs::Output>, String> {
    let reg = ccci::registry::load(dir).map_err(|e| e.to_string())?;
    ccci::generate::outputs::render_all(&reg).map_err(|e| format!("RENDER FAILED: {e}"))
}

#[test]
fn every_recipe_string_key_rejects_or_carries_hostile_values() {
    let base = copy_registry(&fixture("no-keys"));
    for k in RECIPE_KEYS {
        for value in hostile() {
            std::fs::write(
                base.path().join("recipes/probe.toml"),
                (k.toml)(&toml_string(&value)),
            )
            .unwrap();
            match outcome(base.path()) {
                Err(msg) => {
                    assert!(
                        !msg.contains("RENDER FAILED"),
                        "{}: {value:?}: {msg}",
                        k.key
                    );
                    let blank = value.trim().is_empty();
                    assert!(
                        !FREE_TEXT.contains(&k.key) || blank,
                        "{} must carry {value:?}, got: {msg}",
                        k.key
                    );
                    let key_shown = k.key.replace("[0]", "").replace(".FOO", "");
                    assert!(msg.contains("recipes/probe.toml"), "{}: {msg}", k.key);
                    assert!(
                        msg.contains(&format!("key `{}", key_shown.split('.').next().unwrap())),
                        "{}: {value:?}: {msg}",
                        k.key
                    );
                }
                Ok(outputs) => {
                    let plan = outputs
                        .iter()
                        .find(|o| o.path == "runners/probe.json")
                        .unwrap();
                    let json: serde_json::Value = serde_json::from_str(&plan.text).unwrap();
                    if let Some(ptr) = k.plan_pointer {
                        assert_eq!(
                            json.pointer(ptr).and_then(|v| v.as_str()),
                            Some(value.as_str()),
                            "{}",
                            k.key
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn every_host_string_key_rejects_or_renders_hostile_values() {
    let host = std::fs::read_to_string(fixture("every-key").join("ccci.toml")).unwrap();
    // Each `key = "value"` line of the every-key host, replaced in turn.
    let lines: Vec<(usize, String)> = host
        .lines()
        .enumerate()
        .filter(|(_, l)| l.contains(" = \"") || l.starts_with("allowlist"))
        .map(|(i, l)| (i, l.split(" = ").next().unwrap().to_owned()))
        .collect();
    assert!(lines.len() >= 25, "every string key of the host: {lines:?}");
    let dir = copy_registry(&fixture("every-key"));
    for (line_no, key) in &lines {
        for value in hostile() {
            let literal = if key == "allowlist" {
                format!("[{}]", toml_string(&value))
            } else {
                toml_string(&value)
            };
            let text: String = host
                .lines()
                .enumerate()
                .map(|(i, l)| {
                    if i == *line_no {
                        format!("{key} = {literal}\n")
                    } else {
                        format!("{l}\n")
                    }
                })
                .collect();
            std::fs::write(dir.path().join("ccci.toml"), text).unwrap();
            // Accepted values are safe by validation, and render_all has parsed
            // every output; a rejected one must say where.
            if let Err(msg) = outcome(dir.path()) {
                assert!(!msg.contains("RENDER FAILED"), "{key}: {value:?}: {msg}");
                assert!(msg.contains("ccci.toml:"), "{key}: {msg}");
                assert!(
                    // A list's bad entry is named with its index: `allowlist[0]`.
                    msg.contains(&format!(".{key}`"))
                        || msg.contains(&format!("`{key}`"))
                        || msg.contains(&format!(".{key}[")),
                    "{key}: {value:?}: {msg}"
                );
            }
        }
    }
}

#[test]
fn a_hostile_env_value_reaches_the_plan_byte_for_byte() {
    let dir = copy_registry(&fixture("no-keys"));
    let nasty = "a\"b'c${d}$(e)`f`\\g\nh # i";
    std::fs::write(
        dir.path().join("recipes/probe.toml"),
        format!("[env]\nFOO = {}\n", toml_string(nasty)),
    )
    .unwrap();
    let outputs = outcome(dir.path()).unwrap();
    let plan = outputs
        .iter()
        .find(|o| o.path == "runners/probe.json")
        .unwrap();
    let plan = ccci::plan::PlanV1::from_json(&plan.path, &plan.text).unwrap();
    assert_eq!(plan.env.values().next().map(String::as_str), Some(nasty));
}
