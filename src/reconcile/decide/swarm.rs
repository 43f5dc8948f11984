//! Decisions for the swarm and its `proxy` network.

use crate::config::SwarmConfigV1;
use crate::reconcile::ReconcileError;
use crate::tools::docker::{NetworkRow, SwarmState};

/// What a look at docker saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwarmSeen {
    pub state: SwarmState,
    pub networks: Vec<NetworkRow>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SwarmAction {
    /// `docker swarm init --advertise-addr`.
    Init { advertise_addr: String },
    /// The attachable overlay network every app's Traefik labels point at.
    CreateNetwork { name: String },
}

/// Init the swarm when the node is in none, create the network when absent;
/// a swarm or network docker cannot be trusted with is left to a human.
pub fn plan(cfg: &SwarmConfigV1, seen: &SwarmSeen) -> Result<Vec<SwarmAction>, ReconcileError> {
    let mut actions = Vec::new();
    match &seen.state {
        SwarmState::Active => {}
        SwarmState::Inactive => actions.push(SwarmAction::Init {
            advertise_addr: cfg.advertise_addr.to_string(),
        }),
        SwarmState::Other(state) => {
            return Err(ReconcileError::Precondition(format!(
                "swarm: docker reports the node's swarm state as {state:?}; fix it by hand (docker swarm leave / unlock)"
            )));
        }
    }
    let network = cfg.network.as_str();
    match seen.networks.iter().find(|n| n.name == network) {
        None => actions.push(SwarmAction::CreateNetwork {
            name: network.to_owned(),
        }),
        Some(n) if n.driver != "overlay" => {
            return Err(ReconcileError::Precondition(format!(
                "swarm: network {network} exists with driver {}, not overlay; remove it so it can be recreated",
                n.driver
            )));
        }
        Some(_) => {}
    }
    Ok(actions)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_config;

    fn cfg() -> SwarmConfigV1 {
        parse_config(
            "swarm",
            r#"{"//": "generated", "schema": 1, "advertise_addr": "10.0.0.5", "network": "proxy"}"#,
        )
        .unwrap()
    }

    fn net(name: &str, driver: &str) -> NetworkRow {
        NetworkRow {
            name: name.to_owned(),
            driver: driver.to_owned(),
            scope: "swarm".to_owned(),
        }
    }

    fn seen(state: SwarmState, networks: &[NetworkRow]) -> SwarmSeen {
        SwarmSeen {
            state,
            networks: networks.to_vec(),
        }
    }

    #[test]
    fn a_fresh_node_gets_a_swarm_then_the_network() {
        let plan = plan(
            &cfg(),
            &seen(SwarmState::Inactive, &[net("bridge", "bridge")]),
        )
        .unwrap();
        assert_eq!(
            plan,
            [
                SwarmAction::Init {
                    advertise_addr: "10.0.0.5".to_owned()
                },
                SwarmAction::CreateNetwork {
                    name: "proxy".to_owned()
                },
            ]
        );
    }

    #[test]
    fn an_active_swarm_without_the_network_only_gets_the_network() {
        let plan = plan(&cfg(), &seen(SwarmState::Active, &[])).unwrap();
        assert_eq!(
            plan,
            [SwarmAction::CreateNetwork {
                name: "proxy".to_owned()
            }]
        );
    }

    #[test]
    fn nothing_to_do_when_both_are_there() {
        let plan = plan(
            &cfg(),
            &seen(SwarmState::Active, &[net("proxy", "overlay")]),
        )
        .unwrap();
        assert!(plan.is_empty());
    }

    #[test]
    fn a_network_with_another_driver_is_left_to_a_human() {
        let err = plan(&cfg(), &seen(SwarmState::Active, &[net("proxy", "bridge")])).unwrap_err();
        assert!(
            err.to_string().contains("driver bridge, not overlay"),
            "{err}"
        );
    }

    #[test]
    fn a_locked_or_pending_swarm_is_left_to_a_human() {
        let err = plan(
            &cfg(),
            &seen(
                SwarmState::Other("locked".to_owned()),
                &[net("proxy", "overlay")],
            ),
        )
        .unwrap_err();
        assert!(err.to_string().contains("\"locked\""), "{err}");
    }
}
