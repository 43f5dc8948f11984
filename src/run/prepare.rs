//! Before the lanes: fetch the recipe at the head, snapshot its tests,
//! choose the upgrade base (docs/abra.md, "Release versions and the
//! upgrade base") and decide whether the backup rung applies.

use std::path::PathBuf;
use std::time::Duration;

use super::fetch::{self, Checkout, FetchSpec};
use super::lanes::RunInputs;
use super::version::{self, BaseChoice};
use crate::names::host::gitea_clone_url;
use crate::plan::PlanV1;
use crate::registry::BackupMode;
use crate::registry::values::RepoSlug;

/// Where the commit under test and the recipe's own repository (tags,
/// `refs/pull/N/head`) are cloned from, and whether the bot token goes with
/// them. A recipe on the host's Gitea is cloned from `git_base` (the plan's
/// Gitea unless overridden); one that lives elsewhere from the plan's
/// `git_url`, without the token: the bot's Gitea token is never sent to
/// another host.
fn clone_urls(plan: &PlanV1, git_base: &str, src: &RepoSlug) -> (String, String, bool) {
    match &plan.git_url {
        None => (
            gitea_clone_url(git_base, src),
            gitea_clone_url(git_base, &plan.repo),
            true,
        ),
        Some(url) => {
            let upstream = url.as_str().to_owned();
            let from = if *src == plan.repo {
                upstream.clone()
            } else {
                gitea_clone_url(git_base, src)
            };
            (from, upstream, false)
        }
    }
}

/// What the fetch left for the lanes.
pub(super) struct Prepared {
    /// The fresh lane's checkout of the head.
    pub fresh: Checkout,
    /// The recipe's `tests/`, snapshotted.
    pub tests: Option<PathBuf>,
    /// The upgrade lane's base release, or why there is none.
    pub base: BaseChoice,
    /// Whether the backup rung applies, or why not.
    pub backup: Result<(), String>,
}

/// Fetch the head, snapshot its tests, choose the upgrade base and decide
/// whether backups apply.
pub(super) fn prepare(inp: &RunInputs<'_>) -> Result<Prepared, String> {
    let plan = inp.plan;
    let timeout = Duration::from_secs(plan.timeouts.http_secs.max(120));
    let shared = PathBuf::from(plan.abra_dir.as_str());
    let git = inp.world.git();
    let abra = inp.work_dir.join("fresh");
    git.prepare_abra_dir(&abra, &shared)
        .map_err(|e| e.to_string())?;
    let (src_url, upstream_url, with_token) = clone_urls(plan, &inp.git_base, &inp.src);
    let spec = FetchSpec {
        recipe: plan.recipe.to_string(),
        src_url,
        upstream_url,
        git_ref: inp.git_ref.clone(),
        pr: inp.pr,
        token_file: with_token.then(|| PathBuf::from(plan.token_file.as_str())),
        timeout,
    };
    let fresh = git
        .fetch(&spec, &abra)
        .map_err(|e| format!("recipe fetch: {e}"))?;
    // Right after checkout: later abra calls can reset the checkout.
    let tests = if plan.recipe_tests {
        fetch::snapshot_tests(&fresh.recipe_dir, &inp.work_dir.join("recipe-tests"))
            .map_err(|e| e.to_string())?
    } else {
        None
    };
    let tags = git
        .tags(&fresh.recipe_dir, timeout)
        .map_err(|e| e.to_string())?;
    let label = std::fs::read_to_string(fresh.recipe_dir.join("compose.yml"))
        .ok()
        .and_then(|t| version::compose_version_label(&t));
    let reachable = git.reachable_tag(&fresh.recipe_dir, timeout);
    let head_version = version::head_version(label.as_deref(), reachable.as_deref());
    let base = version::choose_base(
        &tags,
        &inp.git_ref,
        head_version.as_ref(),
        plan.upgrade_base.as_ref().map(|v| v.as_str()),
    );
    let backup = match plan.backup {
        BackupMode::Never => Err("the plan says backup = never".to_owned()),
        BackupMode::Always => Ok(()),
        BackupMode::Auto if fetch::has_backup_labels(&fresh.recipe_dir) => Ok(()),
        BackupMode::Auto => {
            Err("not backup-capable: no backupbot.backup label in the compose files".to_owned())
        }
    };
    Ok(Prepared {
        fresh,
        tests,
        base,
        backup,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(git_url: Option<&str>) -> PlanV1 {
        let mut p = PlanV1::from_json("t", include_str!("../../tests/fixtures/plans/minimal.json"))
            .unwrap();
        p.git_url = git_url.map(|u| u.parse().unwrap());
        p
    }

    #[test]
    fn a_gitea_recipe_is_cloned_from_the_git_base_with_the_token() {
        let repo: RepoSlug = "coop-cloud/custom-html".parse().unwrap();
        let fork: RepoSlug = "someone/custom-html".parse().unwrap();
        assert_eq!(
            clone_urls(&plan(None), "https://mirror.example/", &fork),
            (
                "https://mirror.example/someone/custom-html.git".to_owned(),
                "https://mirror.example/coop-cloud/custom-html.git".to_owned(),
                true
            )
        );
        assert_eq!(
            clone_urls(&plan(None), "https://git.example.org", &repo).1,
            "https://git.example.org/coop-cloud/custom-html.git"
        );
    }

    #[test]
    fn a_recipe_elsewhere_is_cloned_from_its_git_url_without_the_token() {
        let repo: RepoSlug = "coop-cloud/custom-html".parse().unwrap();
        let p = plan(Some("https://code.example.net/x/custom-html.git"));
        assert_eq!(
            clone_urls(&p, "https://git.example.org", &repo),
            (
                "https://code.example.net/x/custom-html.git".to_owned(),
                "https://code.example.net/x/custom-html.git".to_owned(),
                false
            )
        );
    }
}
