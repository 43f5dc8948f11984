//! `ccci reconcile swarm`: swarm initialised and the attachable `proxy`
//! overlay network present. Scenarios run in the in-memory world; the argv
//! contract with docker and the binary's exit codes run through the fakes.

mod support;

use support::infra::*;

#[test]
fn first_reconcile_inits_the_swarm_and_creates_the_network() {
    let i = MemInfra::new();
    done(i.reconcile("swarm", &i.swarm_config()));
    assert_eq!(
        i.mutations(),
        [
            "docker swarm init --advertise-addr 127.0.0.1",
            "docker network create --driver overlay --attachable proxy",
        ]
    );
    let host = i.host();
    assert_eq!(host.swarm, ccci::tools::docker::SwarmState::Active);
    assert_eq!(host.networks["proxy"].driver, "overlay");
}

#[test]
fn second_reconcile_performs_no_mutating_call() {
    let i = MemInfra::new();
    done(i.reconcile("swarm", &i.swarm_config()));
    i.clear_calls();
    let report = done(i.reconcile("swarm", &i.swarm_config()));
    assert_eq!(i.mutations(), Vec::<String>::new());
    assert!(report.is_noop(), "{report:?}");
}

#[test]
fn an_active_swarm_without_the_network_only_gets_the_network() {
    let i = MemInfra::new();
    i.host().swarm = ccci::tools::docker::SwarmState::Active;
    done(i.reconcile("swarm", &i.swarm_config()));
    assert_eq!(
        i.mutations(),
        ["docker network create --driver overlay --attachable proxy"]
    );
}

#[test]
fn a_proxy_network_with_the_wrong_driver_is_an_error() {
    let i = MemInfra::new();
    {
        let mut h = i.host();
        h.swarm = ccci::tools::docker::SwarmState::Active;
        h.networks.insert(
            "proxy".into(),
            ccci::tools::docker::NetworkRow {
                name: "proxy".into(),
                driver: "bridge".into(),
                scope: "local".into(),
            },
        );
    }
    let err = i.reconcile("swarm", &i.swarm_config()).unwrap_err();
    assert!(err.to_string().contains("not overlay"), "{err}");
    assert_eq!(i.mutations(), Vec::<String>::new());
}

/// Through `ccci` and the fake docker: the argv docker accepts, what the
/// binary prints and exits with.
mod through_the_fakes {
    use super::support::infra::*;

    #[test]
    fn first_reconcile_inits_the_swarm_and_creates_the_network() {
        let i = Infra::bare();
        let out = ok(&i.reconcile("swarm", &i.swarm_config()));
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
        assert!(out.contains("swarm: initialised"), "{out}");
    }

    #[test]
    fn second_reconcile_performs_no_mutating_call() {
        let i = Infra::bare();
        ok(&i.reconcile("swarm", &i.swarm_config()));
        i.host.clear_calls();
        let out = ok(&i.reconcile("swarm", &i.swarm_config()));
        assert_eq!(i.mutations(), Vec::<String>::new());
        assert_eq!(out.trim(), "swarm: up to date");
    }

    #[test]
    fn a_bad_config_exits_2_naming_the_file() {
        let i = Infra::bare();
        let mut cfg = i.swarm_config();
        cfg["schema"] = 7.into();
        let out = i.reconcile("swarm", &cfg);
        assert_eq!(out.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&out.stderr).contains("reconcile-swarm.json"));
    }
}
