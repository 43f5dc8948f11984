//! The janitor's view of the in-memory host: env files are the model's
//! apps, the engine's objects its services, volumes and secrets, and the
//! teardown the model's own. Ages come from [`MemWorld::app_ages`], a knob
//! (the model does not date its env files otherwise).

use ccci::run::janitor::JanitorHost;
use ccci::run::platform::{AppRef, TeardownReport};
use ccci::run::world::{Clock, Platform};

use super::MemWorld;

impl JanitorHost for MemWorld {
    fn env_files(&self) -> Result<Vec<(String, Option<u64>)>, String> {
        let ages = self.app_ages.lock().unwrap_or_else(|p| p.into_inner());
        Ok(self
            .state()
            .apps
            .keys()
            .map(|d| (d.clone(), ages.get(d).copied()))
            .collect())
    }
    fn engine_objects(&self) -> Result<Vec<String>, String> {
        let s = self.state();
        Ok(s.services
            .keys()
            .chain(s.volumes.keys())
            .chain(s.secrets.keys())
            .cloned()
            .collect())
    }
    fn teardown(&self, app: &AppRef) -> TeardownReport {
        Platform::teardown(self, app)
    }
    fn now_unix(&self) -> u64 {
        self.unix_secs()
    }
}
