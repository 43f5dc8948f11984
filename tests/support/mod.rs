//! Shared helpers for integration tests: fakes of the services ccci talks to.
//! Each test binary includes this with `mod support;` and uses what it needs.
#![allow(dead_code)]

pub mod bridge_world;
pub mod drone_webhook;
pub mod fake_drone;
pub mod fake_gitea;
pub mod fake_tools;
pub mod infra;
pub mod multipart;
pub mod serve;
