//! The reference table of a recipe's keys (`recipes/<name>.toml`): one row per
//! key, the defaults named by the constants `resolve` applies (see
//! `super::defaults`).

use super::defaults as d;
use super::{KeyDoc, KeyFile};

/// Every key of `recipes/<name>.toml`.
pub const RECIPE_KEYS: &[KeyDoc] = &[
    k!(
        Recipe,
        "repo",
        "owner/name",
        "<gitea.org>/<recipe name>",
        "The recipe's repository; PRs there can be tested."
    ),
    k!(
        Recipe,
        "git_url",
        "git URL (https://, http://, file:// or an absolute path)",
        "<gitea.url>/<repo>.git",
        "Where the run and the weekly sweep clone the recipe from. A recipe that is not on the host's Gitea is not watched for the trigger comment (run it from the weekly sweep or by hand)."
    ),
    k!(
        Recipe,
        "web",
        "bool",
        "true",
        "false: the recipe serves no web domain (worker/cron stack); install is proven by convergence, data by an exec/exec-file/sql marker. Cannot be combined with health, check, browser or an http-file marker."
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
        "Env computed from the run domain: any one-line text with the placeholders {label}, {domain}, {ci_domain}, e.g. a sibling domain (cryptpad's SANDBOX_DOMAIN = \"{label}-sandbox.{ci_domain}\") or part of a Traefik rule (ROUTER_RULE = \"Host(`{domain}`)\"). Every host name it gives under the CI domain must be one label under it (the wildcard certificate covers nothing deeper)."
    ),
    k!(
        Recipe,
        "compose_files",
        "list of compose file names",
        "[]",
        "Optional compose files (relative, *.yml or *.yaml) appended to the COMPOSE_FILE chain the recipe's .env.sample selects; the compose policy checks the same chain."
    ),
    k!(
        Recipe,
        "secret_values",
        "table of secret name = host secret key",
        "{}",
        "Secrets that need a real value (an API key): inserted before deploy from the host's sops secret of that key (/run/secrets/<key>, listed in secrets/secrets.example.yaml) instead of generated."
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
