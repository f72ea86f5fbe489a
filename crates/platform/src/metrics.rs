//! Prometheus metrics, rendered in the text exposition format at `/metrics`.
//!
//! Hand-rolled on purpose: a handful of counters and one histogram do not
//! justify a metrics framework in the dependency tree.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::Ordering;

use crate::store::CommitStats;
use std::time::{Duration, Instant};

/// Latency bucket bounds in seconds.
const BUCKETS: [f64; 10] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0];
/// Confirm bounds: the spec allows 5 s (20 s for specialCar); retries reach minutes.
const CONFIRM_BUCKETS: [f64; 10] = [0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 60.0, 300.0];

#[derive(Default)]
struct Histogram {
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, &'static str), u64>>,
    latency: Mutex<BTreeMap<String, Histogram>>,
    undecryptable: Mutex<BTreeMap<String, u64>>,
    /// (interface, first attempt?) → publishes
    published: Mutex<BTreeMap<(String, bool), u64>>,
    expired: std::sync::atomic::AtomicU64,
    confirm_latency: Mutex<BTreeMap<String, Histogram>>,
}

impl Metrics {
    /// One finished uplink request. `interface` must be a known name (bounded labels).
    pub fn observe(&self, interface: &str, outcome: &'static str, elapsed: Duration) {
        if let Ok(mut requests) = self.requests.lock() {
            *requests.entry((interface.to_owned(), outcome)).or_default() += 1;
        }
        observe(&self.latency, BUCKETS, interface, elapsed.as_secs_f64());
    }

    /// A downlink handed to the broker (`first`: its first attempt).
    pub fn downlink_published(&self, interface: &str, first: bool) {
        if let Ok(mut map) = self.published.lock() {
            *map.entry((interface.to_owned(), first)).or_default() += 1;
        }
    }

    pub fn downlinks_expired(&self, n: u64) {
        self.expired.fetch_add(n, Ordering::Relaxed);
    }

    /// Time from queuing a downlink to its confirm.
    pub fn confirmed(&self, interface: &str, latency_ms: i64) {
        observe(&self.confirm_latency, CONFIRM_BUCKETS, interface, latency_ms as f64 / 1000.0);
    }

    /// A request whose signature verified but whose cipher did not decrypt
    /// to valid JSON: only a holder of the lot's key can send it.
    pub fn undecryptable(&self, access_id: &str) {
        if let Ok(mut map) = self.undecryptable.lock() {
            *map.entry(access_id.to_owned()).or_default() += 1;
        }
    }

    pub fn render(&self, commits: &CommitStats) -> String {
        let mut out = String::new();
        out.push_str("# HELP onepark_uplink_requests_total Uplink requests by interface and outcome.\n");
        out.push_str("# TYPE onepark_uplink_requests_total counter\n");
        if let Ok(requests) = self.requests.lock() {
            for ((interface, outcome), n) in requests.iter() {
                let _ = writeln!(
                    out,
                    "onepark_uplink_requests_total{{interface=\"{interface}\",outcome=\"{outcome}\"}} {n}"
                );
            }
        }
        out.push_str("# HELP onepark_uplink_latency_seconds Uplink request latency by interface.\n");
        out.push_str("# TYPE onepark_uplink_latency_seconds histogram\n");
        render_histograms(&mut out, "onepark_uplink_latency_seconds", &self.latency, BUCKETS);
        out.push_str(
            "# HELP onepark_uplink_undecryptable_total Signed requests whose cipher did not decrypt to JSON.\n",
        );
        out.push_str("# TYPE onepark_uplink_undecryptable_total counter\n");
        if let Ok(map) = self.undecryptable.lock() {
            for (access_id, n) in map.iter() {
                let _ = writeln!(out, "onepark_uplink_undecryptable_total{{access_id=\"{access_id}\"}} {n}");
            }
        }
        out.push_str(
            "# HELP onepark_downlink_published_total Downlinks handed to the broker (retry=\"true\": a repeat).\n",
        );
        out.push_str("# TYPE onepark_downlink_published_total counter\n");
        if let Ok(map) = self.published.lock() {
            for ((interface, first), n) in map.iter() {
                let retry = !first;
                let _ = writeln!(
                    out,
                    "onepark_downlink_published_total{{interface=\"{interface}\",retry=\"{retry}\"}} {n}"
                );
            }
        }
        out.push_str("# HELP onepark_downlink_expired_total Downlinks given up without a confirm.\n");
        out.push_str("# TYPE onepark_downlink_expired_total counter\n");
        let _ = writeln!(out, "onepark_downlink_expired_total {}", self.expired.load(Ordering::Relaxed));
        out.push_str("# HELP onepark_downlink_confirm_seconds Time from queuing a downlink to the lot's confirm.\n");
        out.push_str("# TYPE onepark_downlink_confirm_seconds histogram\n");
        render_histograms(&mut out, "onepark_downlink_confirm_seconds", &self.confirm_latency, CONFIRM_BUCKETS);
        let (batches, jobs) = (commits.batches.load(Ordering::Relaxed), commits.jobs.load(Ordering::Relaxed));
        out.push_str("# HELP onepark_store_commits_total Committed group-commit transactions (one fsync each).\n");
        out.push_str("# TYPE onepark_store_commits_total counter\n");
        let _ = writeln!(out, "onepark_store_commits_total {batches}");
        out.push_str("# HELP onepark_store_committed_writes_total Writes committed in those transactions.\n");
        out.push_str("# TYPE onepark_store_committed_writes_total counter\n");
        let _ = writeln!(out, "onepark_store_committed_writes_total {jobs}");
        out
    }
}

fn observe(map: &Mutex<BTreeMap<String, Histogram>>, bounds: [f64; 10], label: &str, seconds: f64) {
    if let Ok(mut map) = map.lock() {
        let h = map.entry(label.to_owned()).or_default();
        for (slot, bound) in h.buckets.iter_mut().zip(bounds) {
            if seconds <= bound {
                *slot += 1;
            }
        }
        h.count += 1;
        h.sum += seconds;
    }
}

fn render_histograms(out: &mut String, name: &str, map: &Mutex<BTreeMap<String, Histogram>>, bounds: [f64; 10]) {
    let Ok(map) = map.lock() else { return };
    for (interface, h) in map.iter() {
        for (n, bound) in h.buckets.iter().zip(bounds) {
            let _ = writeln!(out, "{name}_bucket{{interface=\"{interface}\",le=\"{bound}\"}} {n}");
        }
        let _ = writeln!(out, "{name}_bucket{{interface=\"{interface}\",le=\"+Inf\"}} {}", h.count);
        let _ = writeln!(out, "{name}_sum{{interface=\"{interface}\"}} {}", h.sum);
        let _ = writeln!(out, "{name}_count{{interface=\"{interface}\"}} {}", h.count);
    }
}

/// Limits signed-but-undecryptable requests per accessID: probing the
/// platform's private key needs many of them, honest lots send almost none.
pub struct ProbeLimiter {
    limit: u32,
    window: Duration,
    seen: Mutex<BTreeMap<String, (Instant, u32)>>,
}

impl ProbeLimiter {
    pub fn new(limit: u32, window: Duration) -> Self {
        ProbeLimiter { limit, window, seen: Mutex::new(BTreeMap::new()) }
    }

    /// Records one failure; true once the accessID is over its limit.
    pub fn record(&self, access_id: &str, now: Instant) -> bool {
        let Ok(mut seen) = self.seen.lock() else { return false };
        let entry = seen.entry(access_id.to_owned()).or_insert((now, 0));
        if now.duration_since(entry.0) > self.window {
            *entry = (now, 0);
        }
        entry.1 += 1;
        entry.1 > self.limit
    }

    /// True while the accessID is over its limit within the current window.
    pub fn blocked(&self, access_id: &str, now: Instant) -> bool {
        let Ok(seen) = self.seen.lock() else { return false };
        seen.get(access_id).is_some_and(|(start, n)| *n > self.limit && now.duration_since(*start) <= self.window)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_histograms() {
        let m = Metrics::default();
        m.observe("uploadCarInData", "ok", Duration::from_millis(3));
        m.observe("uploadCarInData", "rejected", Duration::from_millis(30));
        m.undecryptable("234");
        let text = m.render(&CommitStats::default());
        assert!(
            text.contains("onepark_uplink_requests_total{interface=\"uploadCarInData\",outcome=\"ok\"} 1"),
            "{text}"
        );
        assert!(text.contains("onepark_uplink_latency_seconds_bucket{interface=\"uploadCarInData\",le=\"0.005\"} 1"));
        assert!(text.contains("onepark_uplink_latency_seconds_count{interface=\"uploadCarInData\"} 2"));
        assert!(text.contains("onepark_uplink_undecryptable_total{access_id=\"234\"} 1"));
    }

    #[test]
    fn limiter_blocks_after_the_limit_within_the_window() {
        let l = ProbeLimiter::new(2, Duration::from_secs(60));
        let t = Instant::now();
        assert!(!l.record("234", t));
        assert!(!l.record("234", t));
        assert!(l.record("234", t));
        assert!(l.blocked("234", t));
        assert!(!l.blocked("999", t));
        assert!(!l.blocked("234", t + Duration::from_secs(61)));
        assert!(!l.record("234", t + Duration::from_secs(61)));
    }
}
