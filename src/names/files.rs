//! File names: what ccci-gen writes into the repository and what `ccci run`
//! leaves in a run's output directory.

use std::path::{Path, PathBuf};

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

/// A generated NixOS module, `modules-gen/<name>.nix`.
pub fn module_path(name: &str) -> String {
    format!("{MODULES_DIR}/{name}.nix")
}

/// The runner plan of a recipe, `runners/<recipe>.json`.
pub fn runner_plan_path(recipe: &RecipeName) -> String {
    runner_plan_file(recipe.as_str())
}

/// [`runner_plan_path`] for a recipe known only as text, such as the shell
/// variable `$RECIPE` in a pipeline step.
pub fn runner_plan_file(recipe: &str) -> String {
    format!("{RUNNERS_DIR}/{recipe}.json")
}

/// The service configs under `modules-gen/etc/`, one per consumer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ServiceConfig {
    Bridge,
    /// `ccci reconcile swarm`, and so on for the other pieces.
    Swarm,
    Proxy,
    Drone,
    Backupbot,
}

impl ServiceConfig {
    pub const ALL: [ServiceConfig; 5] = [
        ServiceConfig::Bridge,
        ServiceConfig::Swarm,
        ServiceConfig::Proxy,
        ServiceConfig::Drone,
        ServiceConfig::Backupbot,
    ];

    /// The reconcile piece this config drives (`ccci reconcile <piece>`);
    /// none for the bridge.
    pub fn piece(self) -> Option<&'static str> {
        match self {
            ServiceConfig::Bridge => None,
            ServiceConfig::Swarm => Some("swarm"),
            ServiceConfig::Proxy => Some("proxy"),
            ServiceConfig::Drone => Some("drone"),
            ServiceConfig::Backupbot => Some("backupbot"),
        }
    }

    /// The reconcile config of a piece, by its name.
    pub fn of_piece(piece: &str) -> Option<ServiceConfig> {
        Self::ALL.into_iter().find(|c| c.piece() == Some(piece))
    }

    /// `bridge.json`, `reconcile-<piece>.json`.
    pub fn file_name(self) -> String {
        match self.piece() {
            None => "bridge.json".to_owned(),
            Some(piece) => format!("reconcile-{piece}.json"),
        }
    }

    /// The config a file name names, if any.
    pub fn from_file_name(name: &str) -> Option<ServiceConfig> {
        Self::ALL.into_iter().find(|c| c.file_name() == name)
    }

    /// Relative to the repository root: `modules-gen/etc/<file>`.
    pub fn repo_path(self) -> String {
        format!("{ETC_DIR}/{}", self.file_name())
    }

    /// As the modules in `modules-gen/` refer to it: `./etc/<file>`.
    pub fn module_relative_path(self) -> String {
        format!("./etc/{}", self.file_name())
    }
}

/// Where a Drone build leaves its run's artifacts, `<runs_dir>/<build number>`:
/// the pipelines pass it to `ccci run --out` ([`build_output_dir_sh`]) and the
/// bridge reads the results back from it.
pub fn build_output_dir(runs_dir: &Path, build: u64) -> PathBuf {
    runs_dir.join(build.to_string())
}

/// [`build_output_dir`] as a pipeline step writes it: `runs_dir_sh` already
/// shell-quoted, the build number Drone's `$DRONE_BUILD_NUMBER`.
pub fn build_output_dir_sh(runs_dir_sh: &str) -> String {
    format!("{runs_dir_sh}/\"$DRONE_BUILD_NUMBER\"")
}

/// Where runs keep their app locks (`locks/<domain>.lock`) and state
/// records (`runs/<run id>.json`) for the janitor: `<runs_dir>/.ccci-state`.
pub fn run_state_dir(runs_dir: &Path) -> PathBuf {
    runs_dir.join(".ccci-state")
}

/// The lock file of one run app domain.
pub fn app_lock_file(state_dir: &Path, domain: &str) -> PathBuf {
    state_dir.join("locks").join(format!("{domain}.lock"))
}

/// The state record of one run.
pub fn run_record_file(state_dir: &Path, run_id: &str) -> PathBuf {
    state_dir.join("runs").join(format!("{run_id}.json"))
}

/// Where `ccci run` without `--out` leaves its artifacts,
/// `<runs_dir>/<recipe>/<run id>`.
/// The landing page's screenshot in a run's output directory.
pub const LANDING_SCREENSHOT: &str = "screenshot.png";

/// The screenshot taken where a browser check failed: `browser-<n>.png`, `n`
/// the check's place in the plan (check names are free text, unfit for files).
pub fn browser_failure_screenshot(index: usize) -> String {
    format!("browser-{}.png", index + 1)
}

/// Whether `name` is one of the screenshot names above: the only files of a
/// run's output directory the bridge reads for the PR, so that a name in
/// `results.json` can never point elsewhere.
pub fn is_screenshot_name(name: &str) -> bool {
    if name == LANDING_SCREENSHOT {
        return true;
    }
    name.strip_prefix("browser-")
        .and_then(|n| n.strip_suffix(".png"))
        .is_some_and(|n| {
            !n.is_empty()
                && n.len() <= 6
                && n.bytes().all(|b| b.is_ascii_digit())
                && !n.starts_with('0')
        })
}

pub fn run_output_dir(runs_dir: &Path, recipe: &str, run_id: &str) -> PathBuf {
    runs_dir.join(recipe).join(run_id)
}

/// The artifacts of a run in its output directory; the bridge reads
/// `results.json` back.
pub const RESULTS_FILE: &str = "results.json";
pub const SUMMARY_FILE: &str = "summary.md";
pub const JUNIT_FILE: &str = "junit.xml";
pub const LINT_FILE: &str = "lint.txt";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_files_are_bridge_and_reconcile_pieces() {
        let paths: Vec<String> = ServiceConfig::ALL.iter().map(|c| c.repo_path()).collect();
        assert_eq!(
            paths,
            [
                "modules-gen/etc/bridge.json",
                "modules-gen/etc/reconcile-swarm.json",
                "modules-gen/etc/reconcile-proxy.json",
                "modules-gen/etc/reconcile-drone.json",
                "modules-gen/etc/reconcile-backupbot.json",
            ]
        );
        assert_eq!(
            ServiceConfig::Proxy.module_relative_path(),
            "./etc/reconcile-proxy.json"
        );
    }

    #[test]
    fn a_config_file_name_reads_back() {
        for c in ServiceConfig::ALL {
            assert_eq!(ServiceConfig::from_file_name(&c.file_name()), Some(c));
            if let Some(p) = c.piece() {
                assert_eq!(ServiceConfig::of_piece(p), Some(c));
            }
        }
        assert_eq!(ServiceConfig::from_file_name("keycloak.json"), None);
        assert_eq!(ServiceConfig::of_piece("bridge"), None);
    }

    #[test]
    fn a_build_leaves_its_artifacts_under_its_number() {
        let runs = Path::new("/var/lib/ccci/runs");
        assert_eq!(
            build_output_dir(runs, 57),
            Path::new("/var/lib/ccci/runs/57")
        );
        assert_eq!(
            build_output_dir_sh("/var/lib/ccci/runs"),
            "/var/lib/ccci/runs/\"$DRONE_BUILD_NUMBER\""
        );
        assert_eq!(
            run_output_dir(runs, "keycloak", "3fa9c10c11e5"),
            Path::new("/var/lib/ccci/runs/keycloak/3fa9c10c11e5")
        );
    }

    #[test]
    fn the_runner_plan_of_a_recipe_and_of_a_shell_variable() {
        let r: RecipeName = "keycloak".parse().unwrap();
        assert_eq!(runner_plan_path(&r), "runners/keycloak.json");
        assert_eq!(runner_plan_file("$RECIPE"), "runners/$RECIPE.json");
    }

    #[test]
    fn only_the_names_screenshots_are_given_are_screenshot_names() {
        assert!(is_screenshot_name(LANDING_SCREENSHOT));
        for i in [0, 1, 41] {
            assert!(is_screenshot_name(&browser_failure_screenshot(i)));
        }
        for bad in [
            "../screenshot.png",
            "browser-.png",
            "browser-01.png",
            "browser-1.png/../x",
            "browser-1.PNG",
            "results.json",
            "/etc/shadow",
            "",
        ] {
            assert!(!is_screenshot_name(bad), "{bad}");
        }
    }
}
