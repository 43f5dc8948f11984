//! The JSON contracts between ccci's parts, one canonical example per schema
//! version under insta: the runner plan and the service configs (written by
//! ccci-gen, read by `ccci run`, `ccci reconcile`, `ccci bridge`) and
//! `results.json` (written by `ccci run`, read by the bridge). A change to a
//! contract's shape is a visible diff here; a schema bump makes new snapshot
//! names, so the old example stays until it is deleted on purpose.
//!
//! The plan and configs come from the `every-key` fixture registry, where
//! every optional key is set; the marker kinds the fixture cannot all show
//! have their own example.

mod gen_support;
mod results_example;

use ccci::config::CONFIG_SCHEMA;
use ccci::names::files::{self, ServiceConfig};
use ccci::plan::{PLAN_SCHEMA, PlanV1};
use ccci::registry::{Marker, SqlEngine};
use ccci::results::{RESULTS, RESULTS_SCHEMA, ResultsV1};
use gen_support::{fixture, render_dir};

fn every_key_output(path: &str) -> String {
    render_dir(&fixture("every-key"))
        .into_iter()
        .find(|o| o.path == path)
        .unwrap_or_else(|| panic!("every-key renders no {path}"))
        .text
}

#[test]
fn runner_plan() {
    let text = every_key_output(&files::runner_plan_file("full"));
    let plan = PlanV1::from_json("full.json", &text).expect("reads back");
    assert!(plan.marker.is_some() && plan.upgrade_base.is_some());
    insta::assert_snapshot!(format!("plan_v{PLAN_SCHEMA}"), text);
}

fn p<T: std::str::FromStr>(s: &str) -> T {
    s.parse()
        .unwrap_or_else(|_| panic!("{s:?} is a valid value"))
}

#[test]
fn runner_plan_marker_kinds() {
    let markers = [
        Marker::HttpFile {
            service: p("app"),
            path: p("/usr/share/nginx/html/ccci-marker.txt"),
            url_path: p("/ccci-marker.txt"),
        },
        Marker::ExecFile {
            service: p("app"),
            path: p("/data/ccci-marker"),
        },
        Marker::Sql {
            engine: SqlEngine::Postgres,
            service: p("db"),
            database: p("synapse"),
            user: p("synapse"),
            password_file: None,
        },
        Marker::Sql {
            engine: SqlEngine::Mariadb,
            service: p("db"),
            database: p("wordpress"),
            user: p("wordpress"),
            password_file: Some(p("/run/secrets/db_password")),
        },
        Marker::Exec {
            service: p("app"),
            write: "echo {value} > /data/m".to_owned(),
            read: "cat /data/m".to_owned(),
        },
    ];
    let text = serde_json::to_string_pretty(&markers).expect("json");
    let back: Vec<Marker> = serde_json::from_str(&text).expect("reads back");
    assert_eq!(back, markers);
    insta::assert_snapshot!(format!("plan_v{PLAN_SCHEMA}_marker_kinds"), text);
}

#[test]
fn service_configs() {
    for config in ServiceConfig::ALL {
        // Rendering validates that each reads back as its type.
        let text = every_key_output(&config.repo_path());
        let stem = config.file_name().trim_end_matches(".json").to_owned();
        insta::assert_snapshot!(format!("config_v{CONFIG_SCHEMA}_{stem}"), text);
    }
}

fn results_json(r: &ResultsV1) -> String {
    let text = ccci::run::report::results_json(r);
    let back: ResultsV1 = RESULTS.parse("results.json", &text).expect("reads back");
    assert_eq!(&back, r);
    text
}

#[test]
fn results_of_a_green_run() {
    let text = results_json(&results_example::green());
    insta::assert_snapshot!(format!("results_v{RESULTS_SCHEMA}_green"), text);
}

#[test]
fn results_of_a_red_run() {
    let text = results_json(&results_example::red());
    insta::assert_snapshot!(format!("results_v{RESULTS_SCHEMA}_red"), text);
}

#[test]
fn results_written_before_floor_base_and_data_survival_still_read() {
    // Those three fields were added within schema 1: a results.json without
    // them (an older run in the dashboard's history) reads as "not said".
    let mut v: serde_json::Value =
        serde_json::from_str(&results_json(&results_example::red())).unwrap();
    let obj = v.as_object_mut().unwrap();
    for k in ["floor", "upgrade_base", "data_survival"] {
        assert!(obj.remove(k).is_some(), "{k}");
    }
    let old: ResultsV1 = RESULTS.parse("old.json", &v.to_string()).unwrap();
    assert!(old.floor.is_none() && old.upgrade_base.is_none() && old.data_survival.is_none());
    assert!(!ccci::report::summary_md(&old).contains("data survival"));
}
