//! Prometheus metrics, rendered in the text exposition format at `/metrics`.
//!
//! Hand-rolled on purpose: a handful of counters and one histogram do not
//! justify a metrics framework in the dependency tree.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::Ordering;

use crate::store::CommitStats;
use std::time::Duration;

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
    /// Requests held off (retryable), by reason.
    held: Mutex<BTreeMap<&'static str, u64>>,
    /// Requests refused before anyone was authenticated, by step.
    unauthenticated: Mutex<BTreeMap<&'static str, u64>>,
    /// Data-quality findings on stored records, by kind.
    findings: Mutex<BTreeMap<&'static str, u64>>,
    /// Exact replays answered without decrypting.
    replays: std::sync::atomic::AtomicU64,
    pub http: std::sync::Arc<onepark_serve::Stats>,
}

fn bump(map: &Mutex<BTreeMap<&'static str, u64>>, key: &'static str) {
    if let Ok(mut map) = map.lock() {
        *map.entry(key).or_default() += 1;
    }
}

fn render_counter(out: &mut String, name: &str, help: &str, label: &str, map: &Mutex<BTreeMap<&'static str, u64>>) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
    if let Ok(map) = map.lock() {
        for (key, n) in map.iter() {
            let _ = writeln!(out, "{name}{{{label}=\"{key}\"}} {n}");
        }
    }
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

    /// A request answered "retry later" (`reason`: probe, photo_rate, upload_time).
    pub fn held(&self, reason: &'static str) {
        bump(&self.held, reason);
    }

    /// A request refused before authentication (`step`: interface, form, access_id, signature).
    pub fn unauthenticated(&self, step: &'static str) {
        bump(&self.unauthenticated, step);
    }

    /// A stored record carried a finding (`kind`: far_past).
    pub fn finding(&self, kind: &'static str) {
        bump(&self.findings, kind);
    }

    pub fn replay(&self) {
        self.replays.fetch_add(1, Ordering::Relaxed);
    }

    pub fn render(&self, commits: &CommitStats) -> String {
        let mut out = String::new();
        render_counter(
            &mut out,
            "onepark_uplink_held_total",
            "Requests answered 429 (retry later), by reason.",
            "reason",
            &self.held,
        );
        render_counter(
            &mut out,
            "onepark_uplink_unauthenticated_total",
            "Requests refused before authentication, by step.",
            "step",
            &self.unauthenticated,
        );
        render_counter(
            &mut out,
            "onepark_uplink_findings_total",
            "Stored records with a data-quality finding, by kind.",
            "kind",
            &self.findings,
        );
        out.push_str("# HELP onepark_uplink_replays_total Exact replays answered without decrypting.\n");
        out.push_str("# TYPE onepark_uplink_replays_total counter\n");
        let _ = writeln!(out, "onepark_uplink_replays_total {}", self.replays.load(Ordering::Relaxed));
        self.http.render(&mut out, "onepark_http");
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
        out.push_str("# HELP onepark_store_retried_batches_total Batches rolled back by a conflict and run again.\n");
        out.push_str("# TYPE onepark_store_retried_batches_total counter\n");
        let _ = writeln!(out, "onepark_store_retried_batches_total {}", commits.retries.load(Ordering::Relaxed));
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
}
