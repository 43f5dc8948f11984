//! Canonical `results.json` examples: every field set, every status used.
//! The contract snapshot shows their JSON; the report snapshots render them.
#![allow(dead_code)]

use std::collections::BTreeMap;

use ccci::registry::Rung;
use ccci::results::{
    CheckResult, DataSurvival, Floor, Lane, LaneResult, RESULTS_SCHEMA, ResultsV1, RungResult,
    Status, UpgradeBase,
};

fn rung(status: Status, reason: &str, secs: f64) -> RungResult {
    RungResult {
        status,
        reason: reason.to_owned(),
        duration_secs: secs,
    }
}

fn check(rung: Rung, lane: Lane, name: &str, status: Status, detail: &str) -> CheckResult {
    CheckResult {
        rung,
        lane,
        name: name.to_owned(),
        status,
        detail: detail.to_owned(),
        duration_secs: 1.5,
        screenshot: None,
    }
}

/// A green run: upgrade skipped with a reason, lint failing (lint never makes
/// a run red), a passing check.
pub fn green() -> ResultsV1 {
    ResultsV1 {
        schema: RESULTS_SCHEMA,
        recipe: "custom-html".parse().expect("recipe"),
        git_ref: "9fc1ad6ebf12462f3f9773003e26b4c6f54a772e".to_owned(),
        src: "bob/custom-html".parse().expect("slug"),
        pr: Some(42),
        run_id: "custom-html-3fa9c1".to_owned(),
        started_at: "2026-11-30T02:30:00Z".to_owned(),
        duration_secs: 184.4,
        level: Some(Rung::Functional),
        green: true,
        rungs: BTreeMap::from([
            (Rung::Install, rung(Status::Pass, "", 42.2)),
            (
                Rung::Upgrade,
                rung(
                    Status::Skip,
                    "no older release: no release tag is older than the head's version 1.0.0+1.25 | first version",
                    0.0,
                ),
            ),
            (Rung::BackupRestore, rung(Status::Pass, "", 61.0)),
            (Rung::Functional, rung(Status::Pass, "", 12.6)),
            (Rung::Lint, rung(Status::Fail, "R014: no healthcheck", 3.0)),
        ]),
        lanes: BTreeMap::from([(
            Lane::Fresh,
            LaneResult {
                status: Status::Pass,
                domain: "cust-3fa9c1.ci.example.org".to_owned(),
                reason: String::new(),
                duration_secs: 150.0,
                screenshot: Some("screenshot.png".to_owned()),
            },
        )]),
        checks: vec![
            check(Rung::Functional, Lane::Fresh, "GET /", Status::Pass, "200"),
            check(
                Rung::Lint,
                Lane::Fresh,
                "R014",
                Status::Fail,
                "no healthcheck",
            ),
        ],
        teardown: vec![],
        floor: Some(Floor::Http {
            path: "/".to_owned(),
            statuses: vec![200, 301, 302],
        }),
        upgrade_base: None,
        data_survival: Some(DataSurvival {
            proven: true,
            detail: "the data marker survived: backup_restore".to_owned(),
        }),
    }
}

/// A red run: the upgrade lost data, backup could not be decided, a check
/// failed, and teardown left something behind.
pub fn red() -> ResultsV1 {
    let mut r = green();
    r.pr = None;
    r.level = Some(Rung::Install);
    r.green = false;
    r.rungs.insert(
        Rung::Upgrade,
        rung(
            Status::Fail,
            "the marker written before the upgrade is gone\nafter it",
            95.0,
        ),
    );
    r.rungs.insert(
        Rung::BackupRestore,
        rung(Status::Unverified, "backup create timed out", 600.0),
    );
    r.lanes.insert(
        Lane::Upgrade,
        LaneResult {
            status: Status::Fail,
            domain: "cust-0c11e5.ci.example.org".to_owned(),
            reason: "data lost".to_owned(),
            duration_secs: 170.0,
            screenshot: None,
        },
    );
    r.checks.push(check(
        Rung::Upgrade,
        Lane::Upgrade,
        "marker survives",
        Status::Fail,
        "expected ccci-3fa9c1, read nothing",
    ));
    r.checks.push(check(
        Rung::BackupRestore,
        Lane::Fresh,
        "backup create",
        Status::Unverified,
        "timed out after 600s",
    ));
    r.teardown = vec!["volume cust-0c11e5_ci_example_org_content".to_owned()];
    r.floor = Some(Floor::Http {
        path: "/_matrix/client/versions".to_owned(),
        statuses: vec![200, 401],
    });
    r.upgrade_base = Some(UpgradeBase {
        version: "v1.0.2".to_owned(),
        commit: "0c11e5a7d3b2c1f0e9d8c7b6a5f4e3d2c1b0a998".to_owned(),
    });
    r.data_survival = Some(DataSurvival {
        proven: false,
        detail: "no rung that checks the data marker passed".to_owned(),
    });
    r
}
