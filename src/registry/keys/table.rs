//! The reference table of every registry key: one row per key, the defaults
//! named by the constants `resolve` applies (see `super::defaults`).

use super::defaults as d;
use super::{KeyDoc, KeyFile};

/// Every key of `ccci.toml` and `recipes/<name>.toml`.
pub const KEYS: &[KeyDoc] = &[
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
        "How often the org activity feed is polled."
    ),
    k!(
        Host,
        "bridge.sweep_interval",
        "duration",
        d::SWEEP_INTERVAL,
        "How often every enrolled repository's comments are swept (catches private activity)."
    ),
    k!(
        Host,
        "bridge.trigger",
        "word",
        d::TRIGGER,
        "The comment that triggers a run, alone on its line."
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
    k!(
        Recipe,
        "repo",
        "owner/name",
        "<gitea.org>/<recipe name>",
        "The recipe's repository; PRs there can be tested."
    ),
    k!(
        Recipe,
        "category",
        "word",
        d::CATEGORY,
        "What kind of app this is (shown in reports)."
    ),
    k!(
        Recipe,
        "deploy_timeout",
        "duration",
        "run.deploy_timeout",
        "Time the app may take to become healthy (keycloak needs 10m)."
    ),
    k!(
        Recipe,
        "http_timeout",
        "duration",
        "run.http_timeout",
        "Timeout of one HTTP request to the app."
    ),
    k!(
        Recipe,
        "lanes",
        "\"concurrent\" | \"sequential\"",
        "run.lanes",
        "Whether the fresh and upgrade lanes run at the same time."
    ),
    k!(
        Recipe,
        "backup",
        "\"auto\" | \"always\" | \"never\"",
        "auto",
        "Whether backup → mutate → restore runs; auto: when the compose files carry backupbot.backup labels."
    ),
    k!(
        Recipe,
        "recipe_tests",
        "bool",
        "false",
        "Run the executables in the recipe's own `tests/` against the deployment (code from the PR runs on the host: opt in per recipe)."
    ),
    k!(
        Recipe,
        "lint",
        "bool",
        "true",
        "Run `abra recipe lint` and report it (never fails the build)."
    ),
    k!(
        Recipe,
        "weekly_sweep",
        "bool",
        "false",
        "Also test the default branch every week (a Drone cron job named after the recipe)."
    ),
    k!(
        Recipe,
        "upgrade_base",
        "version",
        "newest release older than the head",
        "Pin the release the upgrade lane starts from."
    ),
    k!(
        Recipe,
        "depends_on",
        "list of recipe names",
        "[]",
        "Enrolled recipes this one needs deployed first (e.g. an OIDC provider)."
    ),
    k!(
        Recipe,
        "health.path",
        "URL path",
        d::HEALTH_PATH,
        "Path probed over HTTPS to decide the app is healthy."
    ),
    k!(
        Recipe,
        "health.statuses",
        "list of HTTP statuses",
        "[200, 301, 302]",
        "Statuses of the health path that count as healthy."
    ),
    k!(
        Recipe,
        "env",
        "table of NAME = string",
        "{}",
        "Extra lines for the app's .env file. LETS_ENCRYPT_ENV is always forced empty."
    ),
    k!(
        Recipe,
        "env_from_domain",
        "table of NAME = template",
        "{}",
        "Env computed from the run domain; placeholders {label}, {domain}, {ci_domain}; the result must be a domain (cryptpad's SANDBOX_DOMAIN)."
    ),
    k!(
        Recipe,
        "marker",
        "table",
        "none",
        "How to write and read a data marker; without one, upgrade and backup cannot prove data survived."
    ),
    k!(
        Recipe,
        "marker.kind",
        "\"http-file\" | \"exec-file\" | \"sql\" | \"exec\"",
        required,
        "Which kind of marker."
    ),
    k!(
        Recipe,
        "marker.service",
        "service name",
        "app (db for sql)",
        "Compose service the marker is written in."
    ),
    k!(
        Recipe,
        "marker.path",
        "absolute path",
        required,
        "http-file, exec-file: file inside the container."
    ),
    k!(
        Recipe,
        "marker.url_path",
        "URL path",
        required,
        "http-file: where the app serves that file."
    ),
    k!(
        Recipe,
        "marker.engine",
        "\"postgres\" | \"mariadb\"",
        required,
        "sql: the database engine."
    ),
    k!(
        Recipe,
        "marker.database",
        "word",
        required,
        "sql: the database holding the ccci_marker table."
    ),
    k!(
        Recipe,
        "marker.user",
        "word",
        required,
        "sql: the database user."
    ),
    k!(
        Recipe,
        "marker.password_file",
        "absolute path",
        "none",
        "sql: file in the container with the user's password (given to psql or mariadb in its environment)."
    ),
    k!(
        Recipe,
        "marker.write",
        "string",
        required,
        "exec: shell command writing `{value}`."
    ),
    k!(
        Recipe,
        "marker.read",
        "string",
        required,
        "exec: shell command printing the value."
    ),
    k!(
        Recipe,
        "compose_allow",
        "table of rule = reason",
        "{}",
        "Compose policy rules this recipe is excepted from (host_bind_mount, docker_socket, host_file, privileged, cap_add, devices, host_namespace, security_opt, published_port, sysctls), each with the reason the report shows; see docs/security.md."
    ),
    k!(
        Recipe,
        "skip",
        "table of rung = reason",
        "{}",
        "Rungs that do not apply (upgrade, backup_restore, functional, lint), each with the reason reported."
    ),
    k!(
        Recipe,
        "check[].name",
        "string",
        required,
        "Name of an HTTP check added to the generic floor."
    ),
    k!(
        Recipe,
        "check[].path",
        "URL path",
        required,
        "Path requested over HTTPS."
    ),
    k!(
        Recipe,
        "check[].statuses",
        "list of HTTP statuses",
        "[200]",
        "Accepted statuses."
    ),
    k!(
        Recipe,
        "check[].body_contains",
        "string",
        "none",
        "Text the body must contain."
    ),
    k!(
        Recipe,
        "check[].json_key",
        "string",
        "none",
        "Top-level key the JSON body must have."
    ),
    k!(
        Recipe,
        "browser[].name",
        "string",
        required,
        "Name of a browser check."
    ),
    k!(
        Recipe,
        "browser[].path",
        "URL path",
        d::HEALTH_PATH,
        "Page to open."
    ),
    k!(
        Recipe,
        "browser[].expect_text",
        "string",
        "none",
        "Text the rendered page must show."
    ),
    k!(
        Recipe,
        "browser[].selector",
        "string",
        "none",
        "CSS selector that must match once the page has loaded."
    ),
    k!(
        Recipe,
        "browser[].screenshot",
        "bool",
        "false",
        "Keep a screenshot of the page in the run's artifacts."
    ),
    k!(
        Recipe,
        "browser[].steps",
        "list of steps",
        "none",
        "Flow run after the page loaded: one-key tables `goto`, `fill`, `fill_secret`, `click`, `wait_for`, `wait_for_text`, `expect_text`, `expect_title`, `expect_url` (docs/browser.md)."
    ),
];
