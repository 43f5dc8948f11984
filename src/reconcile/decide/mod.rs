//! Reconcile's decisions, pure: from what the config wants and what a look
//! at the host saw, to the actions that converge it. Nothing here performs
//! I/O, so every case (nothing changed, a rotated certificate, a lost state
//! file, a vanished stack, a changed cron …) is a unit test.

pub mod app;
pub mod drone;
pub mod swarm;
