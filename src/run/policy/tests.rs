use std::collections::BTreeMap;

use super::*;

fn one(text: &str) -> Verdict {
    check(
        &[("compose.yml".into(), text.into())],
        &BTreeMap::new(),
        &BTreeMap::new(),
    )
    .unwrap()
}

fn refused(text: &str) -> Vec<(Rule, String, usize)> {
    one(text)
        .refused
        .into_iter()
        .map(|v| (v.rule, v.subject, v.line))
        .collect()
}

const HEAD: &str = "version: \"3.8\"\nservices:\n  app:\n    image: nginx\n";

/// Each hostile service setting appended to `HEAD` (which ends at line 4),
/// the rule it breaks and the line the finding must name.
const HOSTILE: &[(&str, Rule, usize)] = &[
    ("    volumes:\n      - /:/host\n", Rule::HostBindMount, 6),
    (
        "    volumes:\n      - ./data:/data\n",
        Rule::HostBindMount,
        6,
    ),
    ("    volumes:\n      - ~/x:/x\n", Rule::HostBindMount, 6),
    (
        "    volumes:\n      - type: bind\n        source: /run/secrets\n        target: /s\n",
        Rule::HostBindMount,
        6,
    ),
    (
        "    volumes:\n      - /var/run/docker.sock:/var/run/docker.sock\n",
        Rule::DockerSocket,
        6,
    ),
    ("    privileged: true\n", Rule::Privileged, 5),
    ("    privileged: \"${PRIV}\"\n", Rule::Privileged, 5),
    ("    cap_add:\n      - SYS_ADMIN\n", Rule::CapAdd, 5),
    (
        "    devices:\n      - /dev/sda:/dev/sda\n",
        Rule::Devices,
        5,
    ),
    ("    network_mode: host\n", Rule::HostNamespace, 5),
    ("    pid: host\n", Rule::HostNamespace, 5),
    ("    ipc: host\n", Rule::HostNamespace, 5),
    ("    userns_mode: host\n", Rule::HostNamespace, 5),
    (
        "    security_opt:\n      - seccomp:unconfined\n",
        Rule::SecurityOpt,
        6,
    ),
    (
        "    security_opt:\n      - apparmor=unconfined\n",
        Rule::SecurityOpt,
        6,
    ),
    ("    ports:\n      - \"8080:80\"\n", Rule::PublishedPort, 6),
    (
        "    ports:\n      - target: 80\n        published: 80\n        mode: host\n",
        Rule::PublishedPort,
        6,
    ),
    (
        "    sysctls:\n      net.ipv4.ip_forward: 1\n",
        Rule::Sysctls,
        5,
    ),
];

#[test]
fn every_hostile_service_setting_is_refused_with_its_rule_service_and_line() {
    for (extra, rule, line) in HOSTILE {
        let got = refused(&format!("{HEAD}{extra}"));
        assert_eq!(got, vec![(*rule, "app".to_owned(), *line)], "{extra:?}");
    }
}

#[test]
fn the_reason_names_rule_service_file_and_line() {
    let v = one(&format!("{HEAD}    volumes:\n      - /:/host\n"));
    assert_eq!(
        v.refusal(),
        "compose policy refused: host_bind_mount — service app (compose.yml:6): bind mount of the host path /"
    );
}

#[test]
fn top_level_host_access_is_refused() {
    let text = "services:\n  app:\n    image: x\nvolumes:\n  data:\n    driver_opts:\n      type: none\n      o: bind\n      device: /etc\nnetworks:\n  hostnet:\n    external: true\n    name: host\nsecrets:\n  s:\n    file: /etc/shadow\nconfigs:\n  ok:\n    file: ./nginx.conf\n  bad:\n    file: ../../etc/passwd\n";
    let got = refused(text);
    assert_eq!(
        got,
        vec![
            (Rule::HostBindMount, "volume data".to_owned(), 6),
            (Rule::HostNamespace, "network hostnet".to_owned(), 11),
            (Rule::HostFile, "config bad".to_owned(), 21),
            (Rule::HostFile, "secret s".to_owned(), 16),
        ]
    );
}

#[test]
fn an_ordinary_traefik_routed_recipe_passes() {
    // The shape of a typical Co-op Cloud recipe: named volumes, secrets,
    // configs from the recipe, Traefik labels, the proxy network.
    let text = "version: \"3.8\"\nservices:\n  app:\n    image: nginx:1.27\n    volumes:\n      - content:/usr/share/nginx/html\n      - type: volume\n        source: data\n        target: /data\n      - type: tmpfs\n        target: /tmp\n      - /anonymous\n    secrets:\n      - db_password\n    configs:\n      - source: nginx_conf\n        target: /etc/nginx/nginx.conf\n    networks:\n      - proxy\n    security_opt:\n      - no-new-privileges:true\n    deploy:\n      labels:\n        - \"traefik.enable=true\"\n        - \"traefik.http.routers.${STACK_NAME}.rule=Host(`${DOMAIN}`)\"\nvolumes:\n  content:\n  data:\nnetworks:\n  proxy:\n    external: true\nsecrets:\n  db_password:\n    external: true\n    name: ${STACK_NAME}_db_password_${SECRET_DB_PASSWORD_VERSION}\nconfigs:\n  nginx_conf:\n    name: ${STACK_NAME}_nginx_conf_${NGINX_CONF_VERSION}\n    file: nginx.conf.tmpl\n    template_driver: golang\n";
    assert_eq!(
        one(text),
        Verdict {
            files: vec!["compose.yml".into()],
            ..Verdict::default()
        }
    );
}

#[test]
fn a_variable_can_turn_a_volume_into_a_bind_mount() {
    let text = format!("{HEAD}    volumes:\n      - ${{DATA}}:/data\n");
    let vars: BTreeMap<String, String> = [("DATA".to_owned(), "/srv".to_owned())].into();
    let v = check(&[("compose.yml".into(), text)], &vars, &BTreeMap::new()).unwrap();
    assert_eq!(v.refused.len(), 1);
    assert_eq!(v.refused[0].rule, Rule::HostBindMount);
}

#[test]
fn every_substitution_form_docker_reads_is_read_the_same() {
    let vars: BTreeMap<String, String> = [
        ("SET".to_owned(), "/srv".to_owned()),
        ("EMPTY".to_owned(), String::new()),
    ]
    .into();
    for (text, want) in [
        ("${SET:?say so}", "/srv"),
        ("${SET?say so}", "/srv"),
        ("${UNSET:-/d}", "/d"),
        ("${EMPTY:-/d}", "/d"),
        ("${EMPTY-/d}", ""),
        ("${UNSET-/d}", "/d"),
        ("${SET-/d}", "/srv"),
        // Docker tries `-` before `?`: the name is "X:?a", unset, default "b".
        ("${SET:?a-b}", "b"),
        ("$SET/x$$", "/srv/x$"),
    ] {
        assert_eq!(rules::substitute(text, &vars), want, "{text}");
    }
    // So a bind mount hidden behind a required-variable form is still seen.
    for form in ["${SET:?required}", "${SET?required}"] {
        let text = format!("{HEAD}    volumes:\n      - {form}:/data\n");
        let v = check(&[("compose.yml".into(), text)], &vars, &BTreeMap::new()).unwrap();
        assert_eq!(v.refused.len(), 1, "{form}");
        assert_eq!(v.refused[0].rule, Rule::HostBindMount, "{form}");
    }
}

#[test]
fn an_exception_allows_its_rule_only_and_says_why() {
    let text = format!(
        "{HEAD}    volumes:\n      - /var/run/docker.sock:/var/run/docker.sock\n    privileged: true\n"
    );
    let allow: BTreeMap<Rule, String> =
        [(Rule::DockerSocket, "reads container labels".to_owned())].into();
    let v = check(&[("compose.yml".into(), text)], &BTreeMap::new(), &allow).unwrap();
    assert_eq!(v.refused.len(), 1);
    assert_eq!(v.refused[0].rule, Rule::Privileged);
    assert_eq!(
        v.exceptions(),
        [
            "docker_socket — service app (compose.yml:6): mounts /var/run/docker.sock — allowed: reads container labels"
        ]
    );
}

#[test]
fn compose_file_chains_are_followed_line_by_line() {
    let sample = "TYPE=x\nCOMPOSE_FILE=\"compose.yml\"\n#COMPOSE_FILE=\"$COMPOSE_FILE:compose.smtp.yml\"\nCOMPOSE_FILE=\"$COMPOSE_FILE:compose.mariadb.yml\"\nCOMPOSE_FILE=\"${COMPOSE_FILE}:compose.extra.yml\"\n";
    let (files, _) = select::selected(sample, &[], &[]);
    assert_eq!(
        files,
        ["compose.yml", "compose.mariadb.yml", "compose.extra.yml"]
    );
    let (files, _) = select::selected("", &[], &[]);
    assert_eq!(files, ["compose.yml"]);
    // The plan's edit replaces the sample's value.
    let (files, _) = select::selected(
        "COMPOSE_FILE=compose.yml\n",
        &[("COMPOSE_FILE".into(), "compose.yml:compose.b.yml".into())],
        &[],
    );
    assert_eq!(files, ["compose.yml", "compose.b.yml"]);
}

#[test]
fn registry_compose_files_extend_the_chain_once_each() {
    let extra: Vec<crate::registry::values::ComposeFileName> =
        ["compose.smtp.yml", "compose.postgres.yml"]
            .iter()
            .map(|f| f.parse().unwrap())
            .collect();
    let sample = "COMPOSE_FILE=\"compose.yml\"\nCOMPOSE_FILE=\"$COMPOSE_FILE:compose.postgres.yml\"\n#COMPOSE_FILE=\"$COMPOSE_FILE:compose.smtp.yml\"\n";
    let (files, vars) = select::selected(sample, &[], &extra);
    assert_eq!(
        files,
        ["compose.yml", "compose.postgres.yml", "compose.smtp.yml"]
    );
    assert_eq!(
        vars["COMPOSE_FILE"],
        "compose.yml:compose.postgres.yml:compose.smtp.yml"
    );
}

#[test]
fn the_second_file_of_a_chain_is_checked_too() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("compose.yml"), HEAD).unwrap();
    std::fs::write(
        d.path().join("compose.evil.yml"),
        "services:\n  app:\n    volumes:\n      - /:/host\n",
    )
    .unwrap();
    std::fs::write(
        d.path().join(".env.sample"),
        "COMPOSE_FILE=compose.yml\nCOMPOSE_FILE=\"$COMPOSE_FILE:compose.evil.yml\"\n",
    )
    .unwrap();
    let plan =
        crate::plan::PlanV1::from_json("plan", include_str!("../../../runners/custom-html.json"))
            .unwrap();
    let v = check_checkout(d.path(), &plan).unwrap();
    assert_eq!(v.files, ["compose.yml", "compose.evil.yml"]);
    assert_eq!(v.refused.len(), 1);
    assert_eq!(v.refused[0].file, "compose.evil.yml");
    assert_eq!(v.refused[0].line, 4);
}

#[test]
fn a_compose_file_outside_the_recipe_or_a_link_is_an_error() {
    let d = tempfile::tempdir().unwrap();
    assert!(select::read_in(d.path(), "../x.yml").is_err());
    assert!(select::read_in(d.path(), "/etc/passwd").is_err());
    std::os::unix::fs::symlink("/etc/hostname", d.path().join("compose.yml")).unwrap();
    assert!(select::read_in(d.path(), "compose.yml").is_err());
}

#[test]
fn a_file_that_is_not_yaml_is_an_error_naming_it() {
    let e = check(
        &[("compose.x.yml".into(), "services: [\n".into())],
        &BTreeMap::new(),
        &BTreeMap::new(),
    )
    .unwrap_err();
    assert_eq!(e.file, "compose.x.yml");
}

/// Policy time for a 10-file compose set (each file 20 services): printed for
/// the record, bounded loosely so a slow CI machine does not flake.
#[test]
fn ten_files_are_checked_quickly() {
    let mut files = Vec::new();
    for f in 0..10 {
        let mut text = String::from("version: \"3.8\"\nservices:\n");
        for s in 0..20 {
            text.push_str(&format!(
                "  s{s}:\n    image: nginx\n    volumes:\n      - data{s}:/data\n    environment:\n      - A=b\n    deploy:\n      labels:\n        - \"traefik.enable=true\"\n"
            ));
        }
        text.push_str("    ports:\n      - \"80:80\"\n");
        files.push((format!("compose.{f}.yml"), text));
    }
    let start = std::time::Instant::now();
    let v = check(&files, &BTreeMap::new(), &BTreeMap::new()).unwrap();
    let took = start.elapsed();
    eprintln!("policy check of 10 files × 20 services: {took:?}");
    assert_eq!(v.refused.len(), 10);
    assert!(took < std::time::Duration::from_secs(2), "{took:?}");
}
