//! Every naming rule of the system, in one place: the generator, `ccci run`,
//! `ccci reconcile` and `ccci bridge` all call these functions, so a name
//! changes everywhere or nowhere. A literal name anywhere else is a bug.
//!
//! | Rule | Shape | Where |
//! |---|---|---|
//! | run app label | `<first 4 chars of recipe>-<6 hex>`, e.g. `keyc-3fa9c1` | [`run::RunLabel`] |
//! | run app domain | `<label>.<ci domain>` | [`run::run_app`] |
//! | janitor's reading of a run domain | inverse of the above | [`run::parse_run_domain`] |
//! | abra stack of an app | domain with `.` → `_` | [`stack::stack_name`] |
//! | prefix of the stack's objects | `<stack>_` | [`stack::stack_prefix`] |
//! | swarm service | `<stack>_<service>`, ≤ 63 chars | [`stack::service_name`] |
//! | versioned docker secret/config | `<stack>_<name>_<version>`, ≤ 64 chars | [`stack::object_name`], [`stack::secret_name`] |
//! | stack volume | `<stack>_<volume>` | [`stack::volume_name`] |
//! | secret version key in an env file | `SECRET_<NAME>_VERSION` (default `v1`) | [`stack::secret_version_key`], [`stack::DEFAULT_SECRET_VERSION`] |
//! | abra's local server | `default` | [`abra::SERVER`] |
//! | abra server dir, env file, recipe checkout | `$ABRA_DIR/servers/<server>/<domain>.env`, `$ABRA_DIR/recipes/<recipe>` | [`abra::server_dir`], [`abra::env_file`], [`abra::recipe_dir`], [`abra::SERVERS`] and neighbours |
//! | generated files | `modules-gen/`, `.drone.yml`, `secrets/secrets.example.yaml`, `docs/registry-keys.md` | [`files`] |
//! | service config files | `modules-gen/etc/{bridge,reconcile-<piece>}.json` | [`files::ServiceConfig`] |
//! | runner plan | `runners/<recipe>.json` | [`files::runner_plan_path`], [`files::runner_plan_file`] |
//! | run output directory | `<runs_dir>/<build number>` from Drone, else `<runs_dir>/<recipe>/<run id>` | [`files::build_output_dir`], [`files::build_output_dir_sh`], [`files::run_output_dir`] |
//! | run artifacts | `results.json`, `summary.md`, `junit.xml`, `lint.txt` | [`files::RESULTS_FILE`] and neighbours |
//! | systemd units | `swarm-init`, `ccci-reconcile-<piece>`, `ccci-bridge` | [`host::SWARM_UNIT`], [`host::reconcile_unit`], [`host::BRIDGE_UNIT`] |
//! | sops secrets | `/run/secrets/<name>` | [`host::secret`] |
//! | bridge credentials | files in `$CREDENTIALS_DIRECTORY` | [`host::credential`] |
//! | proxy overlay network | `proxy` | [`host::PROXY_NETWORK`] |
//! | CI branch | `main`, rendered into the Drone and bridge configs | [`host::CI_BRANCH`] |
//! | weekly sweep pipeline and cron | `sweep-<recipe>`, cron job named `<recipe>` | [`host::sweep_pipeline_name`] |
//! | commit status context | `ccci/<recipe>` | [`host::status_context`] |
//!
//! The runtime reads what the generator decided from its config where it can
//! (the bridge's CI branch comes from `bridge.json`); constants here are what
//! the generator renders.

pub mod abra;
pub mod files;
pub mod host;
pub mod run;
pub mod stack;
