//! `ccci reconcile swarm`: swarm initialised and the attachable `proxy`
//! overlay network present.

mod support;

use support::infra::*;

#[test]
fn first_reconcile_inits_the_swarm_and_creates_the_network() {
    let i = Infra::new();
    ok(&i.reconcile("swarm", &i.swarm_config()));
    assert_eq!(
        i.mutations(),
        [
            "docker swarm init --advertise-addr 127.0.0.1",
            "docker network create --driver overlay --attachable proxy",
        ]
    );
    let host = i.host.host();
    assert_eq!(host["swarm"]["state"], "active");
    assert_eq!(host["networks"]["proxy"]["attachable"], true);
}

#[test]
fn second_reconcile_performs_no_mutating_call() {
    let i = Infra::new();
    ok(&i.reconcile("swarm", &i.swarm_config()));
    i.host.clear_calls();
    let out = ok(&i.reconcile("swarm", &i.swarm_config()));
    assert_eq!(i.mutations(), Vec::<String>::new());
    assert_eq!(out.trim(), "swarm: up to date");
}

#[test]
fn an_active_swarm_without_the_network_only_gets_the_network() {
    let i = Infra::new();
    i.host.run(
        "docker",
        &["swarm", "init", "--advertise-addr", "127.0.0.1"],
    );
    i.host.clear_calls();
    ok(&i.reconcile("swarm", &i.swarm_config()));
    assert_eq!(
        i.mutations(),
        ["docker network create --driver overlay --attachable proxy"]
    );
}

#[test]
fn a_proxy_network_with_the_wrong_driver_is_an_error() {
    let i = Infra::new();
    i.host.run(
        "docker",
        &["swarm", "init", "--advertise-addr", "127.0.0.1"],
    );
    i.host.run(
        "docker",
        &["network", "create", "--driver", "bridge", "proxy"],
    );
    let out = i.reconcile("swarm", &i.swarm_config());
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not overlay"));
}

#[test]
fn a_bad_config_exits_2_naming_the_file() {
    let i = Infra::new();
    let mut cfg = i.swarm_config();
    cfg["schema"] = 7.into();
    let out = i.reconcile("swarm", &cfg);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("reconcile-swarm.json"));
}
