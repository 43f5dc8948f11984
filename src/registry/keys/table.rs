//! The reference table of the host's keys (`ccci.toml`): one row per key, the
//! defaults named by the constants `resolve` applies (see `super::defaults`).

use super::defaults as d;
use super::{KeyDoc, KeyFile};

/// Every key of `ccci.toml`.
pub const HOST_KEYS: &[KeyDoc] = &[
    k!(
        Host,
        "host.name",
        "host name",
        required,
        "NixOS host name of the CI machine."
    ),
    k!(
        Host,
        "host.ci_domain",
        "domain",
        required,
        "Wildcard domain of the test apps: each run deploys to `<label>.<ci_domain>`; the wildcard certificate must cover `*.<ci_domain>`."
    ),
    k!(
        Host,
        "host.advertise_addr",
        "IPv4 address",
        d::ADVERTISE_ADDR,
        "Address given to `docker swarm init --advertise-addr`."
    ),
    k!(
        Host,
        "host.cert_dir",
        "absolute path",
        d::CERT_DIR,
        "Directory holding the wildcard `fullchain.pem` and `privkey.pem`."
    ),
    k!(
        Host,
        "host.runs_dir",
        "absolute path",
        d::RUNS_DIR,
        "Where each build writes its results (`<runs_dir>/<build number>/`); the bridge reads them there."
    ),
    k!(
        Host,
        "host.abra_dir",
        "absolute path",
        d::ABRA_DIR,
        "The shared abra directory; runs link its `servers/` into a fresh per-run `ABRA_DIR`."
    ),
    k!(
        Host,
        "gitea.url",
        "URL",
        required,
        "Base URL of the Gitea instance hosting the recipes."
    ),
    k!(
        Host,
        "gitea.org",
        "user name",
        required,
        "Organisation whose members may trigger runs."
    ),
    k!(
        Host,
        "gitea.bot_user",
        "user name",
        required,
        "The bot account the bridge posts as (its own comments never trigger)."
    ),
    k!(
        Host,
        "gitea.oauth_client_id",
        "word",
        required,
        "Client id of the Gitea OAuth application Drone logs in with (the secret is `drone_client_secret`)."
    ),
    k!(
        Host,
        "drone.domain",
        "domain",
        "drone.<ci_domain>",
        "Public domain of the Drone server."
    ),
    k!(
        Host,
        "drone.ci_repo",
        "owner/name",
        "<gitea.org>/ccci",
        "The repository holding this `.drone.yml`; the bridge triggers its builds."
    ),
    k!(
        Host,
        "drone.runner_capacity",
        "integer 1..=16",
        "2",
        "How many builds the exec runner runs at once."
    ),
    k!(
        Host,
        "drone.build_timeout",
        "duration",
        d::BUILD_TIMEOUT,
        "Per-build timeout set on the CI repository through the Drone API."
    ),
    k!(
        Host,
        "run.deploy_timeout",
        "duration",
        d::DEPLOY_TIMEOUT,
        "Default time an app may take to become healthy."
    ),
    k!(
        Host,
        "run.http_timeout",
        "duration",
        d::HTTP_TIMEOUT,
        "Default timeout of one HTTP request to an app."
    ),
    k!(
        Host,
        "run.deadline",
        "duration",
        "build_timeout - 5m",
        "Hard deadline of one run; must be shorter than the build timeout so teardown finishes first."
    ),
    k!(
        Host,
        "run.janitor_max_age",
        "duration",
        d::JANITOR_MAX_AGE,
        "Leftover apps of killed runs are reaped once older than this."
    ),
    k!(
        Host,
        "run.lanes",
        "\"concurrent\" | \"sequential\"",
        "concurrent",
        "Whether the fresh and upgrade lanes of a run deploy at the same time."
    ),
    k!(
        Host,
        "bridge.poll_interval",
        "duration",
        d::POLL_INTERVAL,
        "How often the org activity feed, and every followed build, is polled."
    ),
    k!(
        Host,
        "bridge.sweep_interval",
        "duration",
        d::SWEEP_INTERVAL,
        "How often every enrolled repository's comments are swept (hears what the feed hides)."
    ),
    k!(
        Host,
        "bridge.trigger",
        "word",
        d::TRIGGER,
        "The comment that triggers a run, alone on its line, optionally with a commit prefix."
    ),
    k!(
        Host,
        "bridge.allowlist",
        "list of user names",
        "[] (any org member)",
        "When set, only these org members may trigger."
    ),
    k!(
        Host,
        "bridge.listen",
        "socket address",
        d::LISTEN,
        "Address of the bridge's /healthz, /metrics and /hook listener."
    ),
    k!(
        Host,
        "bridge.webhook",
        "bool",
        "false",
        "Accept Gitea webhooks on /hook (HMAC secret `bridge_webhook_secret`)."
    ),
    k!(
        Host,
        "bridge.drone_hook_base_url",
        "URL",
        "none (followed builds are polled)",
        "The bridge's listener as the Drone server's container reaches it (e.g. http://172.18.0.1:8787, with bridge.listen bound there). When set, Drone posts its build events to <url>/drone-hook signed with the secret `drone_webhook_secret`, and a finished build is reported at once."
    ),
    k!(
        Host,
        "abra.version",
        "version",
        required,
        "The abra release installed on the host."
    ),
    k!(
        Host,
        "abra.url",
        "URL",
        "the release URL of abra.version",
        "Download URL of the abra binary."
    ),
    k!(
        Host,
        "abra.sha256",
        "sha256",
        required,
        "Digest of the abra binary (Nix checks it)."
    ),
    k!(
        Host,
        "infra.traefik",
        "version",
        required,
        "Version of the traefik recipe serving as the proxy."
    ),
    k!(
        Host,
        "infra.traefik_domain",
        "domain",
        "traefik.<ci_domain>",
        "Domain of the traefik app."
    ),
    k!(
        Host,
        "infra.drone",
        "version",
        required,
        "Version of the drone recipe."
    ),
    k!(
        Host,
        "infra.backup_bot_two",
        "version",
        required,
        "Version of the backup-bot-two recipe."
    ),
    k!(
        Host,
        "infra.backupbot_domain",
        "domain",
        "backups.<ci_domain>",
        "Domain (app name) of the backup bot."
    ),
    k!(
        Host,
        "infra.backup_repository",
        "absolute path",
        d::BACKUP_REPOSITORY,
        "restic repository inside the backup bot's volume."
    ),
    k!(
        Host,
        "dashboard.domain",
        "domain",
        "dashboard.<ci_domain>",
        "Domain the dashboard (latest run per recipe, history, badges) is served at, through Traefik."
    ),
    k!(
        Host,
        "dashboard.site_dir",
        "absolute path",
        d::DASHBOARD_SITE_DIR,
        "Where `ccci dashboard` writes the static site."
    ),
    k!(
        Host,
        "dashboard.retention",
        "duration",
        d::DASHBOARD_RETENTION,
        "Runs that started longer ago are deleted from `host.runs_dir` and from the dashboard."
    ),
    k!(
        Host,
        "dashboard.nginx",
        "version",
        d::DASHBOARD_NGINX,
        "Tag of the `nginx` image serving the dashboard read-only."
    ),
];
