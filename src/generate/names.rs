//! Names the generator decides once and every output uses: files, units,
//! secrets, credentials. Changing one here changes it everywhere consistently.

use crate::registry::values::RecipeName;

/// Directory of the generated NixOS modules, relative to the repository root.
pub const MODULES_DIR: &str = "modules-gen";
/// Directory of the service configs, relative to the repository root.
pub const ETC_DIR: &str = "modules-gen/etc";
/// Directory of the runner plans, relative to the repository root.
pub const RUNNERS_DIR: &str = "runners";
pub const DRONE_YML: &str = ".drone.yml";
pub const SECRETS_EXAMPLE: &str = "secrets/secrets.example.yaml";
pub const KEYS_DOC: &str = "docs/registry-keys.md";

/// abra's name for the local server.
pub const ABRA_SERVER: &str = "default";
/// The attachable overlay network of the proxy.
pub const PROXY_NETWORK: &str = "proxy";
/// The branch of the CI repository builds are created on.
pub const CI_BRANCH: &str = "main";
/// Drone's cron expression for a weekly sweep.
pub const WEEKLY: &str = "@weekly";

/// The systemd unit that brings up the swarm; the reconcile oneshots order after it.
pub const SWARM_UNIT: &str = "swarm-init";

/// sops secrets (files under /run/secrets) the host needs.
pub mod secret {
    pub const DRONE_RPC: &str = "drone_rpc_secret";
    pub const DRONE_CLIENT: &str = "drone_client_secret";
    pub const DRONE_API_TOKEN: &str = "drone_api_token";
    pub const GITEA_BOT_TOKEN: &str = "gitea_bot_token";
    pub const WEBHOOK: &str = "bridge_webhook_secret";
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
}

pub fn runner_plan_path(recipe: &RecipeName) -> String {
    format!("{RUNNERS_DIR}/{recipe}.json")
}

/// The Drone pipeline testing a recipe's default branch weekly.
pub fn sweep_pipeline_name(recipe: &RecipeName) -> String {
    format!("sweep-{recipe}")
}
