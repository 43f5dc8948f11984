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
    assert!(err.contains("expected true or false"), "{err}");
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
            "key `health.statuses[1]`: expected a non-empty list of distinct HTTP status codes"
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
            "recipes/custom-html.toml:1:15: key `depends_on[0]`: `nope` is not an enrolled recipe"
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

// ---- what a new user meets: snapshots of whole reports ---------------------

/// Write every `(path, text)` into a copy of the shipped registry (an empty
/// text with a trailing `/` makes a directory), run ccci-gen and return its
/// stderr, after checking the exit code and that nothing was written.
fn rejected_all(files: &[(&str, &str)]) -> String {
    let dir = copy_registry(&repo_root());
    for (rel, text) in files {
        let path = dir.path().join(rel);
        if rel.ends_with('/') {
            std::fs::create_dir_all(&path).unwrap();
            continue;
        }
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
    }
    let before = tree(dir.path());
    let run = ccci_gen(dir.path(), &[]);
    assert_eq!(
        run.code, 2,
        "stdout: {}\nstderr: {}",
        run.stdout, run.stderr
    );
    assert_eq!(tree(dir.path()), before, "nothing may be written");
    run.stderr
}

#[test]
fn a_typo_inside_any_nested_table_points_at_its_own_line() {
    let err = rejected_all(&[(
        "recipes/keycloak.toml",
        "[health]\npath = \"/\"\nstatus = [200]\n\n[marker]\nkind = \"exec\"\nwrit = \"echo {value} > /x\"\nread = \"cat /x\"\n\n[skip]\nupgrad = \"no older release\"\n\n[[check]]\nname = \"api\"\npat = \"/api\"\n\n[[browser]]\nname = \"login\"\nscreenshots = true\n",
    )]);
    insta::assert_snapshot!(err);
    // Each at the key's own line and column, never at the table header.
    for at in [
        "keycloak.toml:3:1: key `health.status`",
        "keycloak.toml:7:1: key `marker.writ`",
        "keycloak.toml:11:1: key `skip.upgrad`",
        "keycloak.toml:15:1: key `check[0].pat`",
        "keycloak.toml:19:1: key `browser[0].screenshots`",
    ] {
        assert!(err.contains(at), "{at}\n{err}");
    }
    // A misspelt required key is one problem, not also a missing one.
    assert!(!err.contains("marker.write`: required"), "{err}");
}

#[test]
fn a_bad_value_inside_the_marker_names_the_key_and_its_line() {
    let err = rejected_all(&[(
        "recipes/keycloak.toml",
        "[marker]\nkind = \"exec-file\"\nservice = \"app\"\npath = \"relative/x\"\n",
    )]);
    assert!(
        err.contains("recipes/keycloak.toml:4:8: key `marker.path`: expected an absolute path"),
        "{err}"
    );
}

#[test]
fn tables_written_the_wrong_way_are_explained_in_plain_words() {
    let err = rejected_all(&[
        (
            "recipes/bluesky-pds.toml",
            "[[marker]]\nkind = \"exec-file\"\npath = \"/x\"\n",
        ),
        ("recipes/cryptpad.toml", "health = \"/x\"\n"),
        (
            "recipes/custom-html.toml",
            "[check]\nname = \"api\"\npath = \"/api\"\n",
        ),
        (
            "recipes/keycloak.toml",
            "backup = true\nlanes = 3\nweekly_sweep = \"yes\"\n",
        ),
    ]);
    insta::assert_snapshot!(err);
    assert!(err.contains("write `[marker]`, not `[[marker]]`"), "{err}");
    assert!(
        err.contains("`health` must be a table like `[health]`"),
        "{err}"
    );
    assert!(
        err.contains("`check` is a list of tables: write `[[check]]`"),
        "{err}"
    );
    assert!(
        err.contains("expected one of: \"auto\", \"always\", \"never\""),
        "{err}"
    );
    assert!(
        err.contains("expected one of: \"concurrent\", \"sequential\""),
        "{err}"
    );
}

#[test]
fn a_key_or_table_written_twice_is_named_with_both_lines() {
    let err = rejected_all(&[
        (
            "recipes/cryptpad.toml",
            "lint = true\ncategory = \"x\"\nlint = false\n",
        ),
        (
            "recipes/keycloak.toml",
            "[health]\npath = \"/\"\n\n[[check]]\nname = \"a\"\npath = \"/a\"\n\n[health]\nstatuses = [200]\n",
        ),
    ]);
    insta::assert_snapshot!(err);
    assert!(
        err.contains(
            "recipes/cryptpad.toml:3:1: key `lint`: written twice: on line 1 and again on line 3"
        ),
        "{err}"
    );
    assert!(
        err.contains("key `health`: table `[health]` written twice: on line 1 and again on line 8"),
        "{err}"
    );
}

#[test]
fn files_in_recipes_that_are_not_recipe_files_are_errors() {
    let err = rejected_all(&[
        ("recipes/foo.yml", "repo: x\n"),
        ("recipes/foo.TOML", ""),
        ("recipes/Foo Bar.toml", ""),
        ("recipes/notes/", ""),
        ("recipes/.gitkeep", ""),
    ]);
    insta::assert_snapshot!(err);
    assert!(err.contains("(4 problems)"), "{err}");
    assert!(!err.contains(".gitkeep"), "hidden files are ignored: {err}");
}

#[test]
fn every_problem_of_every_file_is_reported() {
    let host = host_with("webhook = false", "webhook = \"no\"")
        .replacen("runner_capacity = 2", "runner_capacity = -1", 1)
        .replacen("lanes = \"concurrent\"", "lanes = \"parallel\"", 1);
    let err = rejected_all(&[
        ("ccci.toml", &host),
        (
            "recipes/cryptpad.toml",
            "lanez = \"sequential\"\nlint = 3\n[health]\npath = \"no-slash\"\nstatuses = [200, 700]\n[skip]\ninstall = \"never\"\n",
        ),
        (
            "recipes/keycloak.toml",
            "depends_on = [\"Bad\", \"keycloak\", \"Worse\"]\n[[check]]\nname = \"a\"\npath = \"/a\"\nstatuses = \"200\"\n[[check]]\npath = \"/b\"\n[[check]]\nname = 3\npath = \"b\"\n",
        ),
    ]);
    insta::assert_snapshot!(err);
    // The rules between keys still run on what could be read.
    assert!(
        err.contains("key `skip.install`: install cannot be skipped"),
        "{err}"
    );
}

/// A corpus of bad files, one problem (or a few) each.
const BAD_RECIPES: &[&str] = &[
    "[[marker]]\nkind = \"exec\"\n",
    "marker = \"exec\"\n",
    "marker = [1, 2]\n",
    "[marker]\nkind = 3\n",
    "[marker]\nkind = \"sql\"\nengine = \"mysql\"\ndatabase = \"d\"\nuser = \"u\"\n",
    "[marker]\nkind = \"sql\"\nengine = true\n",
    "[marker]\npath = \"/x\"\n",
    "[marker]\nkind = \"exec\"\nwrite = 1\nread = []\n",
    "health = \"/x\"\n",
    "health = [\"/x\"]\n",
    "[health]\npath = 3\nstatuses = 200\n",
    "[health]\nstatuses = [\"200\"]\n",
    "[check]\nname = \"a\"\n",
    "check = \"a\"\n",
    "check = [1]\n",
    "[[check]]\nname = []\npath = {}\n",
    "[[browser]]\nname = \"x\"\nsteps = \"click\"\n",
    "[[browser]]\nname = \"x\"\nsteps = [\"click\"]\n",
    "[[browser]]\nname = \"x\"\nsteps = [{ click = 3 }]\n",
    "[[browser]]\nname = \"x\"\nsteps = [{ fill = \"#a\" }]\n",
    "[[browser]]\nname = \"x\"\nsteps = [{ fill = { css = 1, value = \"v\" } }]\n",
    "[[browser]]\nname = \"x\"\nsteps = [{ goto = \"/a\", click = \"#b\" }]\n",
    "[[browser]]\nname = \"x\"\nsteps = [{}]\n",
    "backup = true\n",
    "backup = [\"auto\"]\n",
    "lanes = { a = 1 }\n",
    "lint = \"no\"\n",
    "deploy_timeout = 10\n",
    "depends_on = \"keycloak\"\n",
    "depends_on = [1]\n",
    "env = [\"A=1\"]\n",
    "[env]\nA = 1\n",
    "[env]\n\"not a key\" = \"x\"\n",
    "skip = [\"upgrade\"]\n",
    "[skip]\nupgrade = 1\n",
    "[skip]\nupgrad = \"x\"\n",
    "[compose_allow]\nprivileged = true\n",
    "[compose_allow]\nroot = \"x\"\n",
    "upgrade_base = 1.2\n",
    "repo = 2024-01-01\n",
    "a = 1\nb = 2\na = 3\n",
    "x = [\n",
];

fn host_source() -> ccci::registry::Source {
    ccci::registry::Source {
        path: Path::new("ccci.toml").into(),
        text: std::fs::read_to_string(repo_root().join("ccci.toml")).unwrap(),
    }
}

fn messages_of(host: &ccci::registry::Source, recipe: &str) -> Vec<String> {
    let recipe = ccci::registry::Source {
        path: Path::new("recipes/keycloak.toml").into(),
        text: recipe.to_owned(),
    };
    let err = ccci::registry::load_from_sources(host, &[recipe])
        .expect_err(&format!("must be rejected: {:?}", host.text.len()));
    assert!(!err.diagnostics.is_empty());
    err.diagnostics
        .iter()
        .map(|d| format!("{}\n{}", d.message, d.help.clone().unwrap_or_default()))
        .collect()
}

/// Words that only a Rust programmer could read: type names in CamelCase and
/// serde's vocabulary.
fn rust_words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .filter(|w| {
            let camel = w.starts_with(|c: char| c.is_ascii_uppercase())
                && w.chars().skip(1).any(|c| c.is_ascii_lowercase())
                && w.chars().skip(1).any(|c| c.is_ascii_uppercase());
            let jargon = matches!(
                *w,
                "struct"
                    | "variant"
                    | "enum"
                    | "identifier"
                    | "sequence"
                    | "newtype"
                    | "u8"
                    | "u16"
                    | "u32"
                    | "u64"
                    | "usize"
                    | "i64"
                    | "Option"
                    | "Vec"
                    | "String"
            );
            camel || jargon
        })
        .map(str::to_owned)
        .collect()
}

#[test]
fn no_rust_type_name_reaches_the_user() {
    let host = host_source();
    for recipe in BAD_RECIPES {
        for msg in messages_of(&host, recipe) {
            let found = rust_words(&msg);
            assert!(found.is_empty(), "{found:?} in {msg:?}\nfor {recipe:?}");
        }
    }
    // The host file too: each section written the wrong way.
    for (from, to) in [
        ("[gitea]\n", "gitea = \"x\"\n[elsewhere]\n"),
        ("[run]\n", "[[run]]\n"),
        ("runner_capacity = 2", "runner_capacity = \"two\""),
        ("webhook = false", "webhook = \"no\""),
        ("lanes = \"concurrent\"", "lanes = true"),
    ] {
        let bad = ccci::registry::Source {
            path: host.path.clone(),
            text: host_with(from, to),
        };
        let err = ccci::registry::load_from_sources(&bad, &[]).expect_err(to);
        for d in &err.diagnostics {
            let text = format!("{d}");
            let found = rust_words(&text);
            assert!(found.is_empty(), "{found:?} in {text:?}");
        }
    }
}

#[test]
fn the_scan_for_rust_words_catches_them() {
    assert_eq!(
        rust_words("expected struct HealthSection"),
        ["struct", "HealthSection"]
    );
    assert_eq!(
        rust_words("expected variant identifier"),
        ["variant", "identifier"]
    );
    assert!(rust_words("key `env.LETS_ENCRYPT_ENV`: expected a URL path, e.g. /Realms").is_empty());
}
