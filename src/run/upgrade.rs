//! The upgrade lane: a new app at the base release, a data marker, then the
//! PR head deployed over it with chaos and proven (docs/abra.md,
//! "Chaos deploys and the chaos-version label"): the
//! deployed chaos-version label is the head commit, no service rolled back,
//! the app is healthy, the marker survived. Its rung: upgrade.

use std::time::Duration;

use super::fetch;
use super::marker::{self, MarkerValue};
use super::platform::{AppRef, OpError, ServiceState};
use super::rungs::RungOutcome;
use super::steps::{self, Checks, RunCtx, short};
use crate::registry::Rung;
use crate::results::{Lane, Status};

const SCOPE: &str = "upgrade";
const L: Lane = Lane::Upgrade;
const R: Rung = Rung::Upgrade;

/// The chaos-version label abra puts on the services of a chaos deploy.
pub fn chaos_label_key(stack: &str) -> String {
    format!("coop-cloud.{stack}.chaos-version")
}

/// Whether a chaos-version label names `head`: abra writes a short commit id,
/// with `+U` appended when the tree had uncommitted changes.
pub fn chaos_version_matches(label: &str, head: &str) -> bool {
    let id = label.trim().trim_end_matches("+U");
    id.len() >= 7
        && id.bytes().all(|b| b.is_ascii_hexdigit())
        && head
            .to_ascii_lowercase()
            .starts_with(&id.to_ascii_lowercase())
}

/// Judge the services after the chaos deploy: the label and rollbacks.
pub fn judge_services(
    services: &[ServiceState],
    stack: &str,
    head: &str,
) -> Result<String, String> {
    if let Some(s) = services.iter().find(|s| s.rolled_back()) {
        return Err(format!(
            "{} rolled back ({}): the head was not kept",
            s.name,
            s.update_state.as_deref().unwrap_or("")
        ));
    }
    let key = chaos_label_key(stack);
    let labelled: Vec<_> = services
        .iter()
        .filter_map(|s| s.labels.get(&key).map(|v| (s, v)))
        .collect();
    if labelled.is_empty() {
        return Err(format!(
            "no service carries {key}: the head was not deployed with chaos"
        ));
    }
    for (s, v) in &labelled {
        if !chaos_version_matches(v, head) {
            return Err(format!(
                "{} runs chaos-version {v}, expected the head {}",
                s.name,
                &head[..head.len().min(12)]
            ));
        }
    }
    Ok(format!(
        "{key} = {} on {} service(s), no rollback",
        labelled[0].1,
        labelled.len()
    ))
}

/// Run the upgrade lane on an app whose checkout is at `base`. Teardown is
/// the caller's.
pub fn run(
    ctx: &RunCtx<'_>,
    app: &AppRef,
    label: &str,
    checkout: &fetch::Checkout,
    base: &str,
    checks: &Checks<'_>,
) -> RungOutcome {
    let start = ctx.now();
    let secs = || ctx.secs_since(start);

    ctx.progress
        .line(SCOPE, &format!("deploying the base release {base}"));
    let t = ctx.now();
    if let Err(e) = steps::create_and_deploy(ctx, app, label, SCOPE) {
        checks.record(R, L, "deploy base", Status::Fail, &e.to_string(), t);
        return RungOutcome::unverified(
            format!("the base release {base} did not deploy: {e}"),
            secs(),
        );
    }
    let probe = match ctx.world.web().client(&ctx.probe, &app.domain) {
        Ok(p) => p,
        Err(e) => return RungOutcome::unverified(e.to_string(), secs()),
    };
    let probe = probe.as_ref();
    let t = ctx.now();
    if let Err(e) = checks.verdict(
        R,
        L,
        "base healthy",
        t,
        steps::wait_healthy(ctx, app, probe),
    ) {
        // Not the PR's fault, and not a pass: the upgrade could not be tried.
        return RungOutcome::unverified(
            format!("the base release {base} is not healthy: {e}"),
            secs(),
        );
    }

    let value = MarkerValue::new(&ctx.run_id, "upgrade");
    if let Some(m) = &ctx.plan.marker {
        ctx.progress.line(SCOPE, "seeding the marker");
        let t = ctx.now();
        if let Err(e) = checks.verdict(
            R,
            L,
            "seed marker",
            t,
            steps::write_marker(ctx, app, probe, m, &value).map(|()| value.as_str().to_owned()),
        ) {
            return RungOutcome::unverified(format!("on the base release: {e}"), secs());
        }
    }

    ctx.progress
        .line(SCOPE, "checking out the head and deploying it with chaos");
    let t = ctx.now();
    let timeout = Duration::from_secs(ctx.plan.timeouts.http_secs.max(60));
    if let Err(e) = ctx
        .world
        .git()
        .checkout(&checkout.recipe_dir, &ctx.head, timeout)
    {
        return RungOutcome::unverified(format!("checkout of the head: {e}"), secs());
    }
    if let Err(e) = steps::generate_missing_secrets(ctx, app, &checkout.recipe_dir, SCOPE) {
        checks.record(
            R,
            L,
            "secrets the head adds",
            Status::Fail,
            &e.to_string(),
            t,
        );
        let why = format!("cannot generate the secrets the head adds: {e}");
        // A compose file abra cannot use is the PR's; a swarm that does not
        // answer is not.
        return match e {
            OpError::Infra(_) => RungOutcome::unverified(why, secs()),
            _ => RungOutcome::fail(why, secs()),
        };
    }
    if let Err(e) = ctx.platform().deploy(app, true) {
        checks.record(
            R,
            L,
            "chaos deploy of the head",
            Status::Fail,
            &e.to_string(),
            t,
        );
        return RungOutcome::fail(format!("chaos deploy of the head failed: {e}"), secs());
    }
    checks.record(R, L, "chaos deploy of the head", Status::Pass, "", t);

    let t = ctx.now();
    if let Err(e) = checks.verdict(
        R,
        L,
        "healthy after upgrade",
        t,
        steps::wait_healthy(ctx, app, probe),
    ) {
        return RungOutcome::fail(format!("after the upgrade: {e}"), secs());
    }
    // Looked at after healthy: a start-first rollback completes while the old
    // task keeps answering, so only the service state tells.
    let t = ctx.now();
    let judged = ctx
        .platform()
        .services(app)
        .map_err(|e| format!("cannot list services: {e}"))
        .and_then(|s| judge_services(&s, &app.stack, &ctx.head));
    if let Err(e) = checks.verdict(R, L, "head deployed, no rollback", t, judged) {
        return RungOutcome::fail(e, secs());
    }

    match &ctx.plan.marker {
        Some(m) => {
            let t = ctx.now();
            let kept = steps::read_marker(ctx, app, probe, m)
                .map_err(|e| format!("the upgrade lost the marker: {e}"))
                .and_then(|got| {
                    if marker::holds(&got, &value) {
                        Ok(format!("{} survived", value.as_str()))
                    } else {
                        Err(format!(
                            "the upgrade lost the marker: read {:?}, expected {}",
                            short(&got),
                            value.as_str()
                        ))
                    }
                });
            if let Err(e) = checks.verdict(R, L, "marker intact", t, kept) {
                return RungOutcome::fail(e, secs());
            }
        }
        None => checks.record(
            R,
            L,
            "marker intact",
            Status::Skip,
            "no data marker declared",
            ctx.now(),
        ),
    }
    RungOutcome::pass(secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "3fa9c1d2e4b5a6978877665544332211ffeeddcc";

    fn svc(labels: &[(&str, &str)], state: Option<&str>) -> ServiceState {
        ServiceState {
            name: "st_app".into(),
            running: 1,
            desired: 1,
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            update_state: state.map(str::to_owned),
        }
    }

    #[test]
    fn short_and_full_ids_of_the_head_match() {
        assert!(chaos_version_matches("3fa9c1d2", HEAD));
        assert!(chaos_version_matches(HEAD, HEAD));
        assert!(chaos_version_matches("3fa9c1d2+U", HEAD));
    }

    #[test]
    fn other_commits_and_versions_do_not_match() {
        assert!(!chaos_version_matches("deadbeef", HEAD));
        assert!(!chaos_version_matches("1.0.0+1.0", HEAD));
        assert!(!chaos_version_matches("3fa9", HEAD));
        assert!(!chaos_version_matches("", HEAD));
    }

    #[test]
    fn a_rollback_fails_even_with_the_right_label() {
        let s = svc(
            &[("coop-cloud.st.chaos-version", "3fa9c1d2")],
            Some("rollback_completed"),
        );
        assert!(
            judge_services(&[s], "st", HEAD)
                .unwrap_err()
                .contains("rolled back")
        );
    }

    #[test]
    fn a_missing_label_fails() {
        let s = svc(&[], Some("completed"));
        assert!(
            judge_services(&[s], "st", HEAD)
                .unwrap_err()
                .contains("no service carries")
        );
    }

    #[test]
    fn the_right_label_without_rollback_passes() {
        let s = svc(
            &[("coop-cloud.st.chaos-version", "3fa9c1d2+U")],
            Some("completed"),
        );
        assert!(judge_services(&[s], "st", HEAD).is_ok());
    }
}
