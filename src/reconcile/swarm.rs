//! The swarm and its `proxy` network: `docker swarm init --advertise-addr`
//! when the node is not in a swarm, the attachable overlay network when absent.

use super::decide::swarm::{self as decide, SwarmAction, SwarmSeen};
use super::world::{ToolsWorld, World};
use super::{ReconcileError, Report, Tools};
use crate::config::SwarmConfigV1;

pub fn reconcile(cfg: &SwarmConfigV1, tools: &Tools) -> Result<Report, ReconcileError> {
    reconcile_in(cfg, &ToolsWorld::new(tools.clone()))
}

/// [`reconcile`] in any world.
pub fn reconcile_in(cfg: &SwarmConfigV1, world: &dyn World) -> Result<Report, ReconcileError> {
    let seen = SwarmSeen {
        state: world.swarm_state()?,
        networks: world.networks()?,
    };
    let mut report = Report::default();
    for action in decide::plan(cfg, &seen)? {
        match action {
            SwarmAction::Init { advertise_addr } => {
                world.swarm_init(&advertise_addr)?;
                report.did(format!(
                    "swarm: initialised (advertise address {advertise_addr})"
                ));
            }
            SwarmAction::CreateNetwork { name } => {
                world.create_attachable_overlay(&name)?;
                report.did(format!("swarm: created attachable overlay network {name}"));
            }
        }
    }
    Ok(report)
}
