//! Shared helpers for integration tests: fakes of the services ccci talks to.
//! Each test binary includes this with `mod support;` and uses what it needs.
#![allow(dead_code)]

pub mod fake_drone;
pub mod fake_tools;
pub mod infra;
