//! Traefik (the Co-op Cloud `traefik` recipe) in wildcard mode without ACME:
//! the env comes from the config (WILDCARDS_ENABLED, COMPOSE_FILE,
//! LETS_ENCRYPT_ENV= …), the certificate and key are inserted as abra secrets
//! from their files; a changed file gets a new secret version and a redeploy.

use super::app::{self, AppSecrets};
use super::world::{ToolsWorld, World};
use super::{ReconcileError, Report, Tools};
use crate::config::ProxyConfigV1;

pub fn reconcile(cfg: &ProxyConfigV1, tools: &Tools) -> Result<Report, ReconcileError> {
    reconcile_in(cfg, &ToolsWorld::new(tools.clone()))
}

/// [`reconcile`] in any world.
pub fn reconcile_in(cfg: &ProxyConfigV1, world: &dyn World) -> Result<Report, ReconcileError> {
    let mut report = Report::default();
    let secrets = AppSecrets {
        files: &cfg.secrets,
        generated: &[],
    };
    app::converge("proxy", &cfg.app, &secrets, world, &mut report)?;
    Ok(report)
}
