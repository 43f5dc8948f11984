//! Counters behind `/metrics` (Prometheus text format 0.0.4): comments seen by
//! source, triggers, refusals, API requests and errors by endpoint, and the
//! trigger latency from hearing a command to its build's creation. Hand-rolled: a
//! dozen series do not justify a metrics framework.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use crate::forge::gitea::ApiObserver;

/// Upper bounds (milliseconds) of the trigger latency histogram.
const LATENCY_BUCKETS: [u64; 13] = [
    50, 100, 250, 500, 1000, 1500, 2000, 3000, 5000, 10_000, 30_000, 60_000, 300_000,
];

#[derive(Default)]
struct Histogram {
    counts: [u64; LATENCY_BUCKETS.len()],
    sum: u64,
    count: u64,
}

/// (api, endpoint).
type ApiKey = (&'static str, &'static str);

#[derive(Default)]
pub struct Metrics {
    comments_seen: Mutex<BTreeMap<&'static str, u64>>,
    triggers: AtomicU64,
    refusals: AtomicU64,
    /// (api, endpoint) → (requests, errors).
    api: Mutex<BTreeMap<ApiKey, (u64, u64)>>,
    latency: Mutex<Histogram>,
    /// Unix milliseconds of the last successful feed poll (0: none yet).
    last_poll_ok_ms: AtomicI64,
    /// API → (how its last call went, since when, unix ms).
    health: Mutex<BTreeMap<&'static str, (ApiHealth, i64)>>,
    /// API → answers refusing the credentials.
    auth_refusals: Mutex<BTreeMap<&'static str, u64>>,
    /// (hook, outcome) → deliveries to the listener's hooks.
    hook_deliveries: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
}

/// How an API's last call went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiHealth {
    /// It answered (possibly with an error status).
    Up,
    /// It answered 401 or 403: the token is wrong, revoked or being rotated.
    AuthRefused,
    /// No answer (refused connection, timeout).
    Unreachable,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic elsewhere while holding a counter lock leaves valid counters.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Metrics {
    pub fn comment_seen(&self, source: &'static str) {
        *lock(&self.comments_seen).entry(source).or_default() += 1;
    }

    /// A build was created `latency_ms` after the command was heard.
    pub fn trigger(&self, latency_ms: u64) {
        self.triggers.fetch_add(1, Ordering::Relaxed);
        let mut h = lock(&self.latency);
        for (i, le) in LATENCY_BUCKETS.iter().enumerate() {
            if latency_ms <= *le {
                h.counts[i] += 1;
            }
        }
        h.sum = h.sum.saturating_add(latency_ms);
        h.count += 1;
    }

    pub fn refusal(&self) {
        self.refusals.fetch_add(1, Ordering::Relaxed);
    }

    /// Record how an API's call went.
    pub fn api_outcome(&self, api: &'static str, health: ApiHealth, now_ms: i64) {
        if health == ApiHealth::AuthRefused {
            *lock(&self.auth_refusals).entry(api).or_default() += 1;
        }
        let mut h = lock(&self.health);
        match h.get(api) {
            Some((was, _)) if *was == health => {}
            _ => {
                h.insert(api, (health, now_ms));
            }
        }
    }

    /// The APIs whose last call failed, how, and since when (unix ms).
    pub fn failing_apis(&self) -> Vec<(&'static str, ApiHealth, i64)> {
        lock(&self.health)
            .iter()
            .filter(|(_, (h, _))| *h != ApiHealth::Up)
            .map(|(api, (h, since))| (*api, *h, *since))
            .collect()
    }

    /// A delivery to one of the listener's hooks (`gitea`, `drone`) and
    /// what became of it (`accepted`, `ignored`, or why it was rejected).
    pub fn hook_delivery(&self, hook: &'static str, outcome: &'static str) {
        *lock(&self.hook_deliveries)
            .entry((hook, outcome))
            .or_default() += 1;
    }

    pub fn poll_ok(&self, now_ms: i64) {
        self.last_poll_ok_ms.store(now_ms, Ordering::Relaxed);
    }

    pub fn last_poll_ok_ms(&self) -> i64 {
        self.last_poll_ok_ms.load(Ordering::Relaxed)
    }

    pub fn triggers(&self) -> u64 {
        self.triggers.load(Ordering::Relaxed)
    }

    /// Requests made to one API so far (all endpoints).
    pub fn api_requests(&self, api: &str) -> u64 {
        lock(&self.api)
            .iter()
            .filter(|((a, _), _)| *a == api)
            .map(|(_, (n, _))| n)
            .sum()
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP ccci_bridge_comments_seen_total Comments seen, by source.\n# TYPE ccci_bridge_comments_seen_total counter"
        );
        for (src, n) in lock(&self.comments_seen).iter() {
            let _ = writeln!(
                out,
                "ccci_bridge_comments_seen_total{{source=\"{src}\"}} {n}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP ccci_bridge_triggers_total Builds created.\n# TYPE ccci_bridge_triggers_total counter\nccci_bridge_triggers_total {}",
            self.triggers.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP ccci_bridge_refusals_total Commands refused (not a member, not allowlisted).\n# TYPE ccci_bridge_refusals_total counter\nccci_bridge_refusals_total {}",
            self.refusals.load(Ordering::Relaxed)
        );
        let api = lock(&self.api);
        let _ = writeln!(
            out,
            "# HELP ccci_bridge_api_requests_total Forge API requests, by endpoint.\n# TYPE ccci_bridge_api_requests_total counter"
        );
        for ((a, e), (n, _)) in api.iter() {
            let _ = writeln!(
                out,
                "ccci_bridge_api_requests_total{{api=\"{a}\",endpoint=\"{e}\"}} {n}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP ccci_bridge_api_errors_total Failed forge API requests, by endpoint.\n# TYPE ccci_bridge_api_errors_total counter"
        );
        for ((a, e), (_, n)) in api.iter() {
            let _ = writeln!(
                out,
                "ccci_bridge_api_errors_total{{api=\"{a}\",endpoint=\"{e}\"}} {n}"
            );
        }
        drop(api);
        let _ = writeln!(
            out,
            "# HELP ccci_bridge_api_up Whether the API's last call was answered with accepted credentials.\n# TYPE ccci_bridge_api_up gauge"
        );
        for (a, (h, _)) in lock(&self.health).iter() {
            let _ = writeln!(
                out,
                "ccci_bridge_api_up{{api=\"{a}\"}} {}",
                u8::from(*h == ApiHealth::Up)
            );
        }
        let _ = writeln!(
            out,
            "# HELP ccci_bridge_auth_refusals_total Answers refusing the bridge's token (401, 403).\n# TYPE ccci_bridge_auth_refusals_total counter"
        );
        for (a, n) in lock(&self.auth_refusals).iter() {
            let _ = writeln!(out, "ccci_bridge_auth_refusals_total{{api=\"{a}\"}} {n}");
        }
        let _ = writeln!(
            out,
            "# HELP ccci_bridge_hook_deliveries_total Webhook deliveries, by hook and outcome (rejected ones by reason).\n# TYPE ccci_bridge_hook_deliveries_total counter"
        );
        for ((hook, outcome), n) in lock(&self.hook_deliveries).iter() {
            let _ = writeln!(
                out,
                "ccci_bridge_hook_deliveries_total{{hook=\"{hook}\",outcome=\"{outcome}\"}} {n}"
            );
        }
        let h = lock(&self.latency);
        let _ = writeln!(
            out,
            "# HELP ccci_bridge_trigger_latency_milliseconds Command heard (local clock) to build created.\n# TYPE ccci_bridge_trigger_latency_milliseconds histogram"
        );
        for (i, le) in LATENCY_BUCKETS.iter().enumerate() {
            let _ = writeln!(
                out,
                "ccci_bridge_trigger_latency_milliseconds_bucket{{le=\"{le}\"}} {}",
                h.counts[i]
            );
        }
        let _ = writeln!(
            out,
            "ccci_bridge_trigger_latency_milliseconds_bucket{{le=\"+Inf\"}} {}\nccci_bridge_trigger_latency_milliseconds_sum {}\nccci_bridge_trigger_latency_milliseconds_count {}",
            h.count, h.sum, h.count
        );
        out
    }
}

impl ApiObserver for Metrics {
    fn request(&self, api: &'static str, endpoint: &'static str, ok: bool) {
        let mut m = lock(&self.api);
        let e = m.entry((api, endpoint)).or_default();
        e.0 += 1;
        if !ok {
            e.1 += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exposition_has_every_family_and_counts() {
        let m = Metrics::default();
        m.comment_seen("feed");
        m.trigger(1200);
        m.refusal();
        m.request("gitea", "org_feed", true);
        m.request("gitea", "org_feed", false);
        m.hook_delivery("drone", "signature");
        let text = m.render();
        assert!(
            text.contains(
                "ccci_bridge_hook_deliveries_total{hook=\"drone\",outcome=\"signature\"} 1"
            )
        );
        assert!(text.contains("ccci_bridge_comments_seen_total{source=\"feed\"} 1"));
        assert!(text.contains("ccci_bridge_triggers_total 1"));
        assert!(text.contains("ccci_bridge_refusals_total 1"));
        assert!(
            text.contains("ccci_bridge_api_requests_total{api=\"gitea\",endpoint=\"org_feed\"} 2")
        );
        assert!(
            text.contains("ccci_bridge_api_errors_total{api=\"gitea\",endpoint=\"org_feed\"} 1")
        );
        assert!(text.contains("ccci_bridge_trigger_latency_milliseconds_bucket{le=\"1000\"} 0"));
        assert!(text.contains("ccci_bridge_trigger_latency_milliseconds_bucket{le=\"1500\"} 1"));
        assert!(text.contains("ccci_bridge_trigger_latency_milliseconds_sum 1200"));
    }
}
