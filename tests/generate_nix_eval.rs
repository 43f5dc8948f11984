//! The generated modules, evaluated by the real Nix evaluator with stub
//! arguments, say what the registry says: the units, their ordering, the
//! capacity, the credentials, the pinned abra. (Parsing alone cannot catch a
//! wrong attribute path or a misplaced interpolation.)

mod gen_support;
use gen_support::*;

use serde_json::Value;

fn evaluate(registry: &std::path::Path) -> (ccci::registry::Registry, Value) {
    let dir = tempfile::tempdir().unwrap();
    for o in render_dir(registry) {
        let p = dir.path().join(&o.path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, o.text).unwrap();
    }
    // On a real host this is the sops-encrypted file the operator commits.
    std::fs::write(
        dir.path().join("secrets/secrets.yaml"),
        "placeholder: CHANGE-ME\n",
    )
    .unwrap();
    let harness = repo_root().join("tests/fixtures/eval-modules.nix");
    let out = std::process::Command::new("nix-instantiate")
        .args(["--eval", "--strict", "--json", "--readonly-mode"])
        .arg(&harness)
        .arg("--arg")
        .arg("dir")
        .arg(dir.path())
        .output()
        .expect("nix-instantiate (Debian's nix-bin) must be installed");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        ccci::registry::load(registry).unwrap(),
        serde_json::from_slice(&out.stdout).unwrap(),
    )
}

fn strs(v: &Value) -> Vec<&str> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect()
}

#[test]
fn reconcile_oneshots_converge_on_every_boot_in_order() {
    let (_, v) = evaluate(&repo_root());
    for (module, unit, app, after) in [
        (
            "proxy",
            "ccci-reconcile-proxy",
            "proxy",
            vec![
                "docker.service",
                "swarm-init.service",
                "network-online.target",
            ],
        ),
        (
            "drone",
            "ccci-reconcile-drone",
            "drone",
            vec![
                "docker.service",
                "swarm-init.service",
                "ccci-reconcile-proxy.service",
                "network-online.target",
            ],
        ),
        (
            "backupbot",
            "ccci-reconcile-backupbot",
            "backupbot",
            vec![
                "docker.service",
                "swarm-init.service",
                "network-online.target",
            ],
        ),
    ] {
        let u = &v[module]["units"]
            .get(unit)
            .or_else(|| v[module].get(unit))
            .unwrap_or_else(|| panic!("{module}: {unit}"));
        assert_eq!(u["serviceConfig"]["Type"], "oneshot");
        assert_eq!(u["serviceConfig"]["RemainAfterExit"], true);
        assert_eq!(strs(&u["after"]), after, "{unit}");
        assert!(
            strs(&u["requires"]).contains(&"docker.service")
                && strs(&u["requires"]).contains(&"swarm-init.service")
        );
        assert_eq!(strs(&u["wants"]), ["network-online.target"]);
        assert_eq!(strs(&u["wantedBy"]), ["multi-user.target"]);
        let exec = u["serviceConfig"]["ExecStart"].as_str().unwrap();
        let prefix = format!("/nix/store/ccci/bin/ccci reconcile {app} --config /nix/store/");
        assert!(
            exec.starts_with(&prefix) && exec.ends_with(&format!("-reconcile-{app}.json")),
            "{exec}"
        );
    }
    let swarm = &v["swarm"]["units"]["swarm-init"];
    assert!(
        swarm["serviceConfig"]["ExecStart"]
            .as_str()
            .unwrap()
            .contains("ccci reconcile swarm --config")
    );
}

#[test]
fn docker_swarm_prunes_daily_and_opens_the_web_ports() {
    let (_, v) = evaluate(&repo_root());
    assert_eq!(v["swarm"]["docker"]["enable"], true);
    assert_eq!(v["swarm"]["docker"]["autoPrune"]["dates"], "daily");
    assert_eq!(
        strs(&v["swarm"]["docker"]["autoPrune"]["flags"]),
        ["--all", "--filter", "until=24h"]
    );
    assert_eq!(
        v["swarm"]["firewall"]["allowedTCPPorts"],
        serde_json::json!([80, 443])
    );
}

#[test]
fn runner_takes_capacity_secret_and_home_from_the_registry() {
    for root in [repo_root(), fixture("every-key")] {
        let (reg, v) = evaluate(&root);
        let u = &v["runner"]["units"]["drone-runner-exec"];
        let env = &u["environment"];
        assert_eq!(
            env["DRONE_RUNNER_CAPACITY"],
            reg.host.drone.runner_capacity.to_string()
        );
        assert_eq!(env["DRONE_RPC_HOST"], reg.host.drone.domain.as_str());
        assert_eq!(env["HOME"], "/root");
        assert_eq!(
            u["serviceConfig"]["EnvironmentFile"],
            "/run/secrets/rendered/drone-runner.env"
        );
        assert_eq!(
            v["runner"]["envTemplate"],
            "DRONE_RPC_SECRET=<drone_rpc_secret>\n"
        );
        assert_eq!(strs(&u["path"]), ["ccci-harness"]);
        assert_eq!(v["runner"]["unfreeAllowsRunner"], true);
        assert_eq!(v["runner"]["unfreeAllowsOther"], false);
    }
}

#[test]
fn bridge_is_hardened_and_gets_tokens_as_credentials() {
    let (_, v) = evaluate(&fixture("every-key"));
    let s = &v["bridge"]["ccci-bridge"]["serviceConfig"];
    assert!(
        s["ExecStart"]
            .as_str()
            .unwrap()
            .starts_with("/nix/store/ccci/bin/ccci bridge --config /nix/store/")
    );
    assert_eq!(s["DynamicUser"], true);
    assert_eq!(s["StateDirectory"], "ccci-bridge");
    assert_eq!(s["Restart"], "on-failure");
    assert_eq!(s["NoNewPrivileges"], true);
    assert_eq!(s["ProtectSystem"], "strict");
    assert_eq!(
        strs(&s["LoadCredential"]),
        [
            "gitea-token:/run/secrets/gitea_bot_token",
            "drone-token:/run/secrets/drone_api_token",
            "webhook-secret:/run/secrets/bridge_webhook_secret",
            "drone-hook-secret:/run/secrets/drone_webhook_secret"
        ]
    );
    let (_, v) = evaluate(&repo_root());
    assert_eq!(
        strs(&v["bridge"]["ccci-bridge"]["serviceConfig"]["LoadCredential"]).len(),
        2,
        "no webhook, no webhook secret"
    );
}

#[test]
fn abra_is_the_pinned_release() {
    let (reg, v) = evaluate(&fixture("every-key"));
    let abra = &v["abra"];
    assert_eq!(abra["version"], reg.host.abra.version.as_str());
    assert_eq!(abra["src"]["url"], reg.host.abra.url.as_str());
    assert_eq!(abra["src"]["sha256"], reg.host.abra.sha256.as_str());
    assert_eq!(strs(&abra["nativeBuildInputs"]), ["autoPatchelfHook"]);
}

#[test]
fn harness_and_secrets_cover_what_the_host_needs() {
    let (reg, v) = evaluate(&fixture("every-key"));
    let paths = strs(&v["harness"]["paths"]);
    for tool in [
        "/nix/store/ccci",
        "abra",
        "git",
        "chromium",
        "chromedriver",
        "util-linux",
    ] {
        assert!(paths.contains(&tool), "{tool} in {paths:?}");
    }
    let declared: Vec<&String> = v["secrets"]["secrets"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    let mut needed: Vec<String> = ccci::generate::context::secrets(&reg)
        .into_iter()
        .map(|s| s.name)
        .collect();
    needed.sort();
    assert_eq!(
        declared,
        needed.iter().collect::<Vec<_>>(),
        "Nix sorts attribute names"
    );
    assert_eq!(
        strs(&v["secrets"]["age"]["sshKeyPaths"]),
        ["/etc/ssh/ssh_host_ed25519_key"]
    );
    let imports = strs(&v["imports"]);
    assert_eq!(imports.len(), 10);
}
