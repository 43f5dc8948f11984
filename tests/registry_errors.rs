//! Bad registries: every problem names the file, the line and column where
//! known, the key, and what was expected; ccci-gen exits 2 and writes nothing.

mod gen_support;
use gen_support::*;

use std::path::Path;

/// Put `text` at `rel` in a copy of the shipped registry, run ccci-gen, and
/// return its stderr after checking the exit code and that nothing was written.
fn rejected(rel: &str, text: &str) -> String {
    let dir = copy_registry(&repo_root());
    let path = dir.path().join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, text).unwrap();
    let before = tree(dir.path());
    let run = ccci_gen(dir.path(), &[]);
    assert_eq!(
        run.code, 2,
        "stdout: {}\nstderr: {}",
        run.stdout, run.stderr
    );
    assert_eq!(tree(dir.path()), before, "nothing may be written");
    assert!(run.stderr.contains("nothing was written"), "{}", run.stderr);
    run.stderr
}

fn host_with(replace: &str, with: &str) -> String {
    let text = std::fs::read_to_string(repo_root().join("ccci.toml")).unwrap();
    assert!(text.contains(replace), "{replace}");
    text.replacen(replace, with, 1)
}

#[test]
fn missing_host_file() {
    let dir = copy_registry(&repo_root());
    std::fs::remove_file(dir.path().join("ccci.toml")).unwrap();
    let run = ccci_gen(dir.path(), &[]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("ccci.toml: file not found"),
        "{}",
        run.stderr
    );
    assert!(!dir.path().join("modules-gen").exists());
}

#[test]
fn toml_syntax_error_names_line_and_column() {
    let err = rejected(
        "recipes/custom-html.toml",
        "category = \"static\"\nhealth = [\n",
    );
    assert!(err.contains("recipes/custom-html.toml:2:"), "{err}");
}

#[test]
fn unknown_key_suggests_the_right_one() {
    let err = rejected("recipes/keycloak.toml", "deploy_timout = \"10m\"\n");
    assert!(
        err.contains("recipes/keycloak.toml:1:1: key `deploy_timout`: unknown key"),
        "{err}"
    );
    assert!(err.contains("did you mean `deploy_timeout`?"), "{err}");
}

#[test]
fn unknown_nested_key_names_its_table() {
    let err = rejected(
        "recipes/keycloak.toml",
        "[health]\npath = \"/\"\nstatus = [200]\n",
    );
    assert!(
        err.contains("recipes/keycloak.toml:3:1: key `health.status`: unknown key"),
        "{err}"
    );
    assert!(err.contains("did you mean `statuses`?"), "{err}");
}

#[test]
fn unknown_host_key() {
    let err = rejected(
        "ccci.toml",
        &host_with("[run]\n", "[run]\njanitor_maxage = \"1h\"\n"),
    );
    assert!(err.contains("ccci.toml:"), "{err}");
    assert!(
        err.contains("key `run.janitor_maxage`: unknown key"),
        "{err}"
    );
    assert!(err.contains("did you mean `janitor_max_age`?"), "{err}");
}

#[test]
fn wrong_type_says_what_was_expected() {
    let err = rejected("recipes/keycloak.toml", "weekly_sweep = \"yes\"\n");
    assert!(
        err.contains("recipes/keycloak.toml:1:16: key `weekly_sweep`"),
        "{err}"
    );
    assert!(err.contains("expected a boolean"), "{err}");
}

#[test]
fn invalid_value_says_what_was_expected() {
    let err = rejected(
        "recipes/keycloak.toml",
        "[health]\npath = \"realms/master\"\n",
    );
    assert!(
        err.contains(
            "recipes/keycloak.toml:2:8: key `health.path`: expected a URL path starting with '/'"
        ),
        "{err}"
    );
    let err = rejected(
        "recipes/keycloak.toml",
        "deploy_timeout = \"ten minutes\"\n",
    );
    assert!(
        err.contains("key `deploy_timeout`: expected a duration"),
        "{err}"
    );
    let err = rejected("recipes/keycloak.toml", "[health]\nstatuses = [200, 700]\n");
    assert!(
        err.contains(
            "key `health.statuses`: expected a non-empty list of distinct HTTP status codes"
        ),
        "{err}"
    );
}

#[test]
fn invalid_domain() {
    let err = rejected(
        "ccci.toml",
        &host_with(
            "ci_domain = \"ci.example.org\"",
            "ci_domain = \"CI.Example.org\"",
        ),
    );
    assert!(
        err.contains("ccci.toml:9:13: key `host.ci_domain`: expected a lowercase DNS name"),
        "{err}"
    );
}

#[test]
fn invalid_recipe_name_from_the_file_name() {
    let err = rejected("recipes/Bad_Name.toml", "");
    assert!(
        err.contains(
            "recipes/Bad_Name.toml: the file name gives the recipe name: expected a recipe name"
        ),
        "{err}"
    );
}

#[test]
fn duplicate_recipe_repository() {
    let err = rejected("recipes/keycloak2.toml", "repo = \"coop-cloud/keycloak\"\n");
    assert!(err.contains("recipes/keycloak2.toml:1:8: key `repo`: duplicate recipe: repository coop-cloud/keycloak is already enrolled by recipes/keycloak.toml"), "{err}");
}

#[test]
fn missing_required_key() {
    let err = rejected("ccci.toml", &host_with("bot_user = \"ccci-bot\"\n", ""));
    assert!(
        err.contains("ccci.toml:11:1: key `gitea.bot_user`: required key is missing"),
        "{err}"
    );
}

#[test]
fn unknown_dependency_and_cycles() {
    let err = rejected("recipes/custom-html.toml", "depends_on = [\"nope\"]\n");
    assert!(
        err.contains(
            "recipes/custom-html.toml:1:15: key `depends_on.0`: `nope` is not an enrolled recipe"
        ),
        "{err}"
    );
    let dir = copy_registry(&repo_root());
    std::fs::write(
        dir.path().join("recipes/cryptpad.toml"),
        "depends_on = [\"keycloak\"]\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("recipes/keycloak.toml"),
        "depends_on = [\"cryptpad\"]\n",
    )
    .unwrap();
    let run = ccci_gen(dir.path(), &[]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("dependency cycle: cryptpad → keycloak → cryptpad"),
        "{}",
        run.stderr
    );
}

#[test]
fn rules_between_keys() {
    let err = rejected("recipes/custom-html.toml", "[skip]\ninstall = \"no\"\n");
    assert!(
        err.contains("key `skip.install`: install cannot be skipped"),
        "{err}"
    );
    let err = rejected(
        "recipes/custom-html.toml",
        "[env]\nLETS_ENCRYPT_ENV = \"production\"\n",
    );
    assert!(
        err.contains("key `env.LETS_ENCRYPT_ENV`: cannot be set"),
        "{err}"
    );
    let err = rejected(
        "recipes/cryptpad.toml",
        "[env_from_domain]\nSANDBOX_DOMAIN = \"sandbox.{domain}\"\n",
    );
    assert!(
        err.contains("which the wildcard certificate *.ci.example.org does not cover"),
        "{err}"
    );
    let err = rejected(
        "ccci.toml",
        &host_with(
            "deploy_timeout = \"5m\"",
            "deploy_timeout = \"5m\"\ndeadline = \"2h\"",
        ),
    );
    assert!(
        err.contains(
            "key `run.deadline`: the run deadline (2h) must be shorter than the build timeout (1h)"
        ),
        "{err}"
    );
    let err = rejected(
        "recipes/keycloak.toml",
        "[marker]\nkind = \"exec\"\nwrite = \"echo hi\"\nread = \"cat x\"\n",
    );
    assert!(
        err.contains("key `marker.write`: expected a command containing {value}"),
        "{err}"
    );
}

#[test]
fn unknown_marker_kind_suggests_one() {
    let err = rejected(
        "recipes/keycloak.toml",
        "[marker]\nkind = \"http_file\"\npath = \"/x\"\n",
    );
    assert!(err.contains("key `marker"), "{err}");
    assert!(err.contains("did you mean `http-file`?"), "{err}");
}

#[test]
fn a_misspelt_or_incomplete_browser_step_names_the_file_and_the_step() {
    let err = rejected(
        "recipes/keycloak.toml",
        "[[browser]]\nname = \"login\"\nsteps = [{ clik = \"#kc-login\" }]\n",
    );
    assert!(err.contains("recipes/keycloak.toml"), "{err}");
    assert!(err.contains("clik") && err.contains("expect_url"), "{err}");
    let err = rejected(
        "recipes/keycloak.toml",
        "[[browser]]\nname = \"login\"\nsteps = [{ fill_secret = { css = \"#password\", secret = \"admin_password\" } }]\n",
    );
    assert!(
        err.contains("recipes/keycloak.toml") && err.contains("service"),
        "{err}"
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let dir = copy_registry(&repo_root());
    std::fs::write(dir.path().join("recipes/cryptpad.toml"), "lanez = \"x\"\n").unwrap();
    std::fs::write(dir.path().join("recipes/keycloak.toml"), "lint = 3\n").unwrap();
    let run = ccci_gen(dir.path(), &[]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("(2 problems)"), "{}", run.stderr);
    assert!(
        run.stderr.contains("recipes/cryptpad.toml")
            && run.stderr.contains("recipes/keycloak.toml")
    );
}

#[test]
fn no_input_panics() {
    // Truncations of a real recipe file at every byte: an error or a registry, never a panic.
    let text = std::fs::read_to_string(repo_root().join("recipes/keycloak.toml")).unwrap();
    let host_src = std::fs::read_to_string(repo_root().join("ccci.toml")).unwrap();
    for end in (0..text.len()).filter(|i| text.is_char_boundary(*i)) {
        let recipe = ccci::registry::Source {
            path: Path::new("recipes/keycloak.toml").into(),
            text: text[..end].to_owned(),
        };
        let host = ccci::registry::Source {
            path: Path::new("ccci.toml").into(),
            text: host_src.clone(),
        };
        let _ = ccci::registry::load_from_sources(&host, &[recipe]);
    }
}
