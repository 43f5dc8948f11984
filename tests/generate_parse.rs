//! Rendered and hand-written files parse in their own language with the real
//! tools, and the machine-read outputs read back as their types.

mod gen_support;
use gen_support::*;

use ccci::config::{
    BackupbotConfigV1, BridgeConfigV1, DroneConfigV1, ProxyConfigV1, SwarmConfigV1, parse_config,
};
use ccci::plan::PlanV1;

fn nix_instantiate_parse(path: &std::path::Path) {
    let out = std::process::Command::new("nix-instantiate")
        .arg("--parse")
        .arg(path)
        .output()
        .expect("nix-instantiate (Debian's nix-bin) must be installed; scripts/test installs it");
    assert!(
        out.status.success(),
        "{}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn every_rendered_nix_file_parses_with_nix_instantiate() {
    for root in [repo_root(), fixture("every-key"), fixture("no-keys")] {
        let dir = tempfile::tempdir().unwrap();
        for o in render_dir(&root)
            .iter()
            .filter(|o| o.path.ends_with(".nix"))
        {
            let p = dir.path().join(o.path.replace('/', "_"));
            std::fs::write(&p, &o.text).unwrap();
            nix_instantiate_parse(&p);
        }
    }
}

#[test]
fn hand_written_nix_parses_with_rnix_and_nix_instantiate() {
    for rel in [
        "flake.nix",
        "hosts/cc-ci/configuration.nix",
        "hosts/cc-ci/hardware.nix",
    ] {
        let path = repo_root().join(rel);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(rnix::Root::parse(&text).errors().is_empty(), "{rel}");
        nix_instantiate_parse(&path);
    }
}

#[test]
fn the_host_imports_the_generated_modules_and_they_import_each_other() {
    let flake = std::fs::read_to_string(repo_root().join("flake.nix")).unwrap();
    assert!(flake.contains("./modules-gen"));
    assert!(flake.contains("./hosts/cc-ci/configuration.nix"));
    let outputs = render_dir(&repo_root());
    let default = outputs
        .iter()
        .find(|o| o.path == "modules-gen/default.nix")
        .unwrap();
    for o in outputs
        .iter()
        .filter(|o| o.path.starts_with("modules-gen/") && o.path.ends_with(".nix"))
    {
        let name = o.path.trim_start_matches("modules-gen/");
        if name != "default.nix" {
            assert!(
                default.text.contains(&format!("./{name}")),
                "default.nix must import {name}"
            );
        }
    }
}

#[test]
fn json_outputs_round_trip_through_their_types() {
    for root in [repo_root(), fixture("every-key"), fixture("no-keys")] {
        for o in render_dir(&root)
            .iter()
            .filter(|o| o.path.ends_with(".json"))
        {
            let again = if o.path.starts_with("runners/") {
                let plan = PlanV1::from_json(&o.path, &o.text).unwrap();
                serde_json::to_string_pretty(&plan).unwrap()
            } else if o.path.ends_with("bridge.json") {
                serde_json::to_string_pretty(
                    &parse_config::<BridgeConfigV1>(&o.path, &o.text).unwrap(),
                )
                .unwrap()
            } else if o.path.ends_with("reconcile-drone.json") {
                serde_json::to_string_pretty(
                    &parse_config::<DroneConfigV1>(&o.path, &o.text).unwrap(),
                )
                .unwrap()
            } else if o.path.ends_with("reconcile-proxy.json") {
                serde_json::to_string_pretty(
                    &parse_config::<ProxyConfigV1>(&o.path, &o.text).unwrap(),
                )
                .unwrap()
            } else if o.path.ends_with("reconcile-swarm.json") {
                serde_json::to_string_pretty(
                    &parse_config::<SwarmConfigV1>(&o.path, &o.text).unwrap(),
                )
                .unwrap()
            } else if o.path.ends_with("reconcile-backupbot.json") {
                serde_json::to_string_pretty(
                    &parse_config::<BackupbotConfigV1>(&o.path, &o.text).unwrap(),
                )
                .unwrap()
            } else {
                panic!("{}: no type to read it back with", o.path)
            };
            assert_eq!(format!("{again}\n"), o.text, "{}", o.path);
        }
    }
}

#[derive(serde::Deserialize)]
struct Pipeline {
    name: String,
    trigger: serde_yaml::Value,
    steps: Vec<Step>,
}

#[derive(serde::Deserialize)]
struct Step {
    name: String,
    commands: Vec<String>,
}

fn pipelines(root: &std::path::Path) -> Vec<Pipeline> {
    let outputs = render_dir(root);
    let yml = outputs.iter().find(|o| o.path == ".drone.yml").unwrap();
    serde_yaml::Deserializer::from_str(&yml.text)
        .map(|doc| serde::Deserialize::deserialize(doc).unwrap())
        .collect()
}

#[test]
fn drone_yml_has_self_test_recipe_ci_and_one_sweep_per_opted_in_recipe() {
    let p = pipelines(&repo_root());
    let names: Vec<&str> = p.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "self-test",
            "recipe-ci",
            "sweep-custom-html",
            "sweep-keycloak"
        ]
    );
    assert_eq!(
        p[0].steps[0].commands,
        ["ccci-gen --check"],
        "the staleness gate runs first"
    );
    assert_eq!(p[2].trigger["cron"][0].as_str(), Some("custom-html"));
    let run = &p[1]
        .steps
        .iter()
        .find(|s| s.name == "run")
        .unwrap()
        .commands[0];
    assert!(run.starts_with("ccci run --plan \"runners/$RECIPE.json\" --ref \"$REF\" --src \"$SRC\" --pr \"$PR\" --out /var/lib/ccci/runs/"), "{run}");
}

#[test]
fn drone_yml_never_uses_drone_substitution_syntax() {
    // Drone substitutes `${…}` (with build parameters) into the YAML before the
    // shell sees it: a parameter could then inject text into the pipeline.
    for root in [repo_root(), fixture("every-key"), fixture("no-keys")] {
        let outputs = render_dir(&root);
        let yml = outputs.iter().find(|o| o.path == ".drone.yml").unwrap();
        assert!(!yml.text.contains("${"), "{}", yml.text);
    }
}

/// Run the rendered validation step as Drone's exec runner would: the
/// parameters as environment variables, the commands in sequence under `sh -e`.
fn validate_params(recipe: &str, git_ref: &str, src: &str, pr: &str) -> bool {
    let p = pipelines(&repo_root());
    let step = p[1]
        .steps
        .iter()
        .find(|s| s.name == "validate parameters")
        .unwrap();
    let script = format!("set -e\n{}\n", step.commands.join("\n"));
    std::process::Command::new("sh")
        .arg("-c")
        .arg(script)
        .env("RECIPE", recipe)
        .env("REF", git_ref)
        .env("SRC", src)
        .env("PR", pr)
        .output()
        .unwrap()
        .status
        .success()
}

#[test]
fn recipe_ci_validates_every_parameter_before_running() {
    let sha = "0123456789abcdef0123456789abcdef01234567";
    assert!(validate_params(
        "keycloak",
        sha,
        "coop-cloud/keycloak",
        "12"
    ));
    assert!(validate_params(
        "custom-html",
        sha,
        "fork-owner/custom-html.git",
        "1"
    ));
    assert!(
        !validate_params("not-enrolled", sha, "coop-cloud/keycloak", "12"),
        "unknown recipe"
    );
    assert!(
        !validate_params("keycloak|x", sha, "coop-cloud/keycloak", "12"),
        "pattern trick"
    );
    assert!(
        !validate_params("*", sha, "coop-cloud/keycloak", "12"),
        "glob"
    );
    assert!(
        !validate_params("keycloak", "main", "coop-cloud/keycloak", "12"),
        "ref not a sha"
    );
    assert!(
        !validate_params("keycloak", &sha.to_uppercase(), "coop-cloud/keycloak", "12"),
        "uppercase hex"
    );
    assert!(
        !validate_params(
            "keycloak",
            &format!("{sha}\nrm -rf /"),
            "coop-cloud/keycloak",
            "12"
        ),
        "newline"
    );
    assert!(
        !validate_params("keycloak", sha, "coop-cloud/keycloak;id", "12"),
        "src injection"
    );
    assert!(
        !validate_params("keycloak", sha, "keycloak", "12"),
        "src without owner"
    );
    assert!(
        !validate_params("keycloak", sha, "coop-cloud/keycloak", "12a"),
        "pr not digits"
    );
    assert!(
        !validate_params("keycloak", sha, "coop-cloud/keycloak", ""),
        "pr empty"
    );
}
