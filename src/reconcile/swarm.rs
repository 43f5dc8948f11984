//! The swarm and its `proxy` network: `docker swarm init --advertise-addr`
//! when the node is not in a swarm, the attachable overlay network when absent.

use super::{ReconcileError, Report, Tools};
use crate::config::SwarmConfigV1;
use crate::tools::docker::SwarmState;

pub fn reconcile(cfg: &SwarmConfigV1, tools: &Tools) -> Result<Report, ReconcileError> {
    let mut report = Report::default();
    let docker = &tools.docker;
    match docker.swarm_state()? {
        SwarmState::Active => {}
        SwarmState::Inactive => {
            let addr = cfg.advertise_addr.to_string();
            docker.swarm_init(&addr)?;
            report.did(format!("swarm: initialised (advertise address {addr})"));
        }
        SwarmState::Other(state) => {
            return Err(ReconcileError::Precondition(format!(
                "swarm: docker reports the node's swarm state as {state:?}; fix it by hand (docker swarm leave / unlock)"
            )));
        }
    }
    let network = cfg.network.as_str();
    let networks = docker.networks()?;
    match networks.iter().find(|n| n.name == network) {
        None => {
            docker.create_attachable_overlay(network)?;
            report.did(format!(
                "swarm: created attachable overlay network {network}"
            ));
        }
        Some(n) if n.driver != "overlay" => {
            return Err(ReconcileError::Precondition(format!(
                "swarm: network {network} exists with driver {}, not overlay; remove it so it can be recreated",
                n.driver
            )));
        }
        Some(_) => {}
    }
    Ok(report)
}
