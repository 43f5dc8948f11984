//! Names on the CI host and its forges: systemd units, sops secrets, the
//! bridge's credentials, the proxy network, the CI branch, Drone's sweep
//! pipelines and the commit status context.

use crate::registry::values::{RecipeName, RepoSlug};

/// The systemd unit that brings up the swarm; the reconcile oneshots order after it.
pub const SWARM_UNIT: &str = "swarm-init";
/// The bridge's systemd unit, also its `StateDirectory`.
pub const BRIDGE_UNIT: &str = "ccci-bridge";
/// The bridge listener's path for Drone's build events; ccci-gen gives the
/// Drone server this path under the bridge's URL.
pub const DRONE_HOOK_PATH: &str = "/drone-hook";
/// The Drone exec runner's systemd unit.
pub const RUNNER_UNIT: &str = "drone-runner-exec";
/// The janitor's oneshot unit and its timer (same name), on the runner host.
pub const JANITOR_UNIT: &str = "ccci-janitor";
/// How often the janitor sweeps (a systemd `OnUnitActiveSec`).
pub const JANITOR_EVERY: &str = "15min";

/// The reconcile oneshot of a piece: `swarm` is [`SWARM_UNIT`] (other units
/// order after it by that name), every other piece `ccci-reconcile-<piece>`.
pub fn reconcile_unit(piece: &str) -> String {
    if piece == "swarm" {
        SWARM_UNIT.to_owned()
    } else {
        format!("ccci-reconcile-{piece}")
    }
}

/// A systemd unit name as `After=`/`Requires=` take it.
pub fn service(unit: &str) -> String {
    format!("{unit}.service")
}

/// The unit (and timer) that renders the dashboard site.
pub const DASHBOARD_UNIT: &str = "ccci-dashboard";
/// The unit that deploys the stack serving the dashboard.
pub const DASHBOARD_SERVE_UNIT: &str = "ccci-dashboard-serve";
/// The swarm stack serving the dashboard, also its Traefik router's name.
pub const DASHBOARD_STACK: &str = "ccci-dashboard";

/// The attachable overlay network of the proxy.
pub const PROXY_NETWORK: &str = "proxy";

/// The branch of the CI repository whose `.drone.yml` runs recipe CI: builds
/// are created and cron jobs run on it. The generator renders it into the
/// Drone and bridge configs; the runtime reads it from there.
pub const CI_BRANCH: &str = "main";

/// Drone's cron expression for a weekly sweep.
pub const WEEKLY: &str = "@weekly";

/// The Drone pipeline testing a recipe's default branch weekly; its cron job
/// is named after the recipe itself.
pub fn sweep_pipeline_name(recipe: &RecipeName) -> String {
    format!("sweep-{recipe}")
}

/// Where a repository on the host's Gitea is cloned from:
/// `<gitea url>/<owner>/<name>.git` (also the default of a recipe's `git_url`).
pub fn gitea_clone_url(gitea_url: &str, repo: &RepoSlug) -> String {
    format!("{}/{repo}.git", gitea_url.trim_end_matches('/'))
}

/// The commit status context of a recipe's CI result on a PR.
pub fn status_context(recipe: &RecipeName) -> String {
    format!("ccci/{recipe}")
}

/// sops secrets (files under /run/secrets) the host needs.
pub mod secret {
    pub const DRONE_RPC: &str = "drone_rpc_secret";
    pub const DRONE_CLIENT: &str = "drone_client_secret";
    pub const DRONE_API_TOKEN: &str = "drone_api_token";
    pub const GITEA_BOT_TOKEN: &str = "gitea_bot_token";
    pub const WEBHOOK: &str = "bridge_webhook_secret";
    pub const DRONE_WEBHOOK: &str = "drone_webhook_secret";
    /// Where sops-nix puts a secret (root, 0400).
    pub fn path(name: &str) -> String {
        format!("/run/secrets/{name}")
    }
}

/// systemd credential names of the bridge (files in `$CREDENTIALS_DIRECTORY`).
pub mod credential {
    pub const GITEA_TOKEN: &str = "gitea-token";
    pub const DRONE_TOKEN: &str = "drone-token";
    pub const WEBHOOK_SECRET: &str = "webhook-secret";
    pub const DRONE_HOOK_SECRET: &str = "drone-hook-secret";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_context_is_ccci_slash_recipe() {
        assert_eq!(
            status_context(&"keycloak".parse().expect("r")),
            "ccci/keycloak"
        );
    }

    #[test]
    fn the_swarm_piece_is_the_swarm_unit() {
        assert_eq!(reconcile_unit("swarm"), SWARM_UNIT);
        assert_eq!(reconcile_unit("proxy"), "ccci-reconcile-proxy");
        assert_eq!(service(SWARM_UNIT), "swarm-init.service");
    }

    #[test]
    fn gitea_clone_urls_end_in_dot_git() {
        let repo = "coop-cloud/keycloak".parse().expect("slug");
        assert_eq!(
            gitea_clone_url("https://git.example.org/", &repo),
            "https://git.example.org/coop-cloud/keycloak.git"
        );
    }

    #[test]
    fn sweep_pipelines_are_named_after_the_recipe() {
        assert_eq!(
            sweep_pipeline_name(&"keycloak".parse().expect("r")),
            "sweep-keycloak"
        );
    }
}
