//! ccci: a CI host for Co-op Cloud recipes, generated from one registry.
//!
//! The library holds everything; the binaries (`ccci-gen`, `ccci`) are thin
//! command-line front ends.

pub mod bridge;
pub mod config;
pub mod contract;
pub mod dashboard;
pub mod enroll;
pub mod envfile;
pub mod forge;
pub mod generate;
pub mod header;
pub mod names;
pub mod plan;
pub mod reconcile;
pub mod registry;
pub mod report;
pub mod results;
pub mod run;
pub mod tools;
