//! Prometheus metrics, rendered at `/metrics` (Prometheus text format
//! 0.0.4) through `onepark_serve::metrics`, the implementation both sides
//! share (prometheus-client). Label values are bounded: interfaces are known
//! names, accessIDs are registered lots, reasons and steps are constants.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use onepark_serve::metrics::{Counter, EncodeLabelSet, Family, Histogram, Registry, Sample, Snapshot, histogram};

use crate::store::CommitStats;

/// Latency bucket bounds in seconds.
const BUCKETS: [f64; 10] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0];
/// Confirm bounds: the spec allows 5 s (20 s for specialCar); retries reach minutes.
const CONFIRM_BUCKETS: [f64; 10] = [0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 60.0, 300.0];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Request {
    interface: String,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Interface {
    interface: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PaymentLabel {
    purpose: String,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Lot {
    access_id: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Publish {
    interface: String,
    /// A repeat of an unconfirmed downlink.
    retry: bool,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Reason {
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Step {
    step: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Cloud {
    /// A known serviceName, or `unknown`.
    service: &'static str,
    /// The answer's code (200, 400, 402, …).
    code: i64,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Service {
    service: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BolinkMessage {
    /// A known service_name or event, else `other`.
    service: &'static str,
    ok: bool,
}

/// The Bolink services and events counted by name (label values stay bounded).
const BOLINK_NAMES: [&str; 13] = [
    "login",
    "in_park",
    "inpark",
    "out_park",
    "outpark",
    "upload_order",
    "upload_carpic",
    "query_month_card_page",
    "nolicence_in_park",
    "nolicence_in_park_sent",
    "connection_refused",
    "heartbeat",
    "other",
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MqReport {
    /// A known serviceId, `unknown` or `unparsed`.
    service: String,
    stored: bool,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Kind {
    kind: &'static str,
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

pub struct Metrics {
    requests: Family<Request, Counter>,
    latency: Histograms<Interface>,
    undecryptable: Family<Lot, Counter>,
    published: Family<Publish, Counter>,
    expired: AtomicU64,
    confirm_latency: Histograms<Interface>,
    /// Downlinks the lot confirmed with `success: false`.
    refused: Family<Interface, Counter>,
    /// Charges through the payment channel, by purpose and outcome.
    payments: Family<PaymentLabel, Counter>,
    /// Requests held off (retryable), by reason.
    held: Family<Reason, Counter>,
    /// Requests refused before anyone was authenticated, by step.
    unauthenticated: Family<Step, Counter>,
    /// Data-quality findings on stored records, by kind.
    findings: Family<Kind, Counter>,
    /// Exact replays answered without decrypting.
    replays: AtomicU64,
    /// The cloud API's answers, by service and code.
    cloud: Family<Cloud, Counter>,
    cloud_latency: Histograms<Service>,
    /// Reports lots published on the cloud's MQ channel.
    cloud_mq: Family<MqReport, Counter>,
    bolink: Family<BolinkMessage, Counter>,
    pub http: Arc<onepark_serve::Stats>,
    /// The embedded broker's door (connections before and after CONNECT).
    pub mqtt: Arc<DoorStats>,
}

impl Default for Metrics {
    fn default() -> Self {
        let metrics = Metrics {
            requests: Family::default(),
            latency: Family::new_with_constructor(|| histogram(&BUCKETS)),
            undecryptable: Family::default(),
            published: Family::default(),
            expired: AtomicU64::new(0),
            confirm_latency: Family::new_with_constructor(|| histogram(&CONFIRM_BUCKETS)),
            refused: Family::default(),
            payments: Family::default(),
            held: Family::default(),
            unauthenticated: Family::default(),
            findings: Family::default(),
            replays: AtomicU64::new(0),
            cloud: Family::default(),
            cloud_latency: Family::new_with_constructor(|| histogram(&BUCKETS)),
            cloud_mq: Family::default(),
            bolink: Family::default(),
            http: Arc::default(),
            mqtt: Arc::default(),
        };
        // Every interface's request series exists from the start, at zero: a
        // rate over a series that appears mid-way misses its first increments
        // (an alert on the first refusals would never fire).
        for interface in onepark_proto::interface::Uplink::ALL {
            for outcome in ["ok", "rejected", "held", "server_error"] {
                let _zero =
                    metrics.requests.get_or_create(&Request { interface: interface.name().to_owned(), outcome });
            }
        }
        for service in onepark_cloudpark::Service::ALL {
            let _zero = metrics.cloud.get_or_create(&Cloud { service: service.name(), code: 200 });
        }
        metrics
    }
}

impl Metrics {
    /// One finished uplink request. `interface` must be a known name (bounded labels).
    pub fn observe(&self, interface: &str, outcome: &'static str, elapsed: Duration) {
        self.requests.get_or_create(&Request { interface: interface.to_owned(), outcome }).inc();
        self.latency.get_or_create(&Interface { interface: interface.to_owned() }).observe(elapsed.as_secs_f64());
    }

    /// A downlink handed to the broker (`first`: its first attempt).
    pub fn downlink_published(&self, interface: &str, first: bool) {
        self.published.get_or_create(&Publish { interface: interface.to_owned(), retry: !first }).inc();
    }

    pub fn downlinks_expired(&self, n: u64) {
        self.expired.fetch_add(n, Ordering::Relaxed);
    }

    /// Time from queuing a downlink to its confirm.
    pub fn confirmed(&self, interface: &str, latency_ms: i64) {
        let interface = Interface { interface: interface.to_owned() };
        self.confirm_latency.get_or_create(&interface).observe(latency_ms as f64 / 1000.0);
    }

    /// A downlink the lot confirmed with `success: false`.
    pub fn refused(&self, interface: &str) {
        self.refused.get_or_create(&Interface { interface: interface.to_owned() }).inc();
    }

    /// A charge's outcome (`purpose`: exit, prepay, after_leave, arrears;
    /// `outcome`: paid, declined, pending, timeout, error, refunded, duplicate_notification).
    pub fn payment(&self, purpose: &str, outcome: &'static str) {
        self.payments.get_or_create(&PaymentLabel { purpose: purpose.to_owned(), outcome }).inc();
    }

    /// A request whose signature verified but whose cipher did not decrypt
    /// to valid JSON: only a holder of the lot's key can send it.
    pub fn undecryptable(&self, access_id: &str) {
        self.undecryptable.get_or_create(&Lot { access_id: access_id.to_owned() }).inc();
    }

    /// A request answered "retry later" (`reason`: probe, photo_rate, upload_time).
    pub fn held(&self, reason: &'static str) {
        self.held.get_or_create(&Reason { reason }).inc();
    }

    /// A request refused before authentication (`step`: interface, form, access_id, signature).
    pub fn unauthenticated(&self, step: &'static str) {
        self.unauthenticated.get_or_create(&Step { step }).inc();
    }

    /// A stored record carried a finding (`kind`: far_past).
    pub fn finding(&self, kind: &'static str) {
        self.findings.get_or_create(&Kind { kind }).inc();
    }

    /// One cloud-API answer (`service`: a known name, else `unknown`).
    pub fn cloud(&self, service: &'static str, code: i64, elapsed: Duration) {
        self.cloud.get_or_create(&Cloud { service, code }).inc();
        self.cloud_latency.get_or_create(&Service { service }).observe(elapsed.as_secs_f64());
    }

    /// A report on the cloud's MQ channel, stored (and acknowledged) or refused.
    pub fn cloud_mq(&self, service: &str, stored: bool) {
        self.cloud_mq.get_or_create(&MqReport { service: service.to_owned(), stored }).inc();
    }

    /// A Bolink message served (or a login, a scan sent, a connection refused).
    pub fn bolink(&self, service: &str, ok: bool) {
        let service = BOLINK_NAMES.iter().find(|n| **n == service).copied().unwrap_or("other");
        self.bolink.get_or_create(&BolinkMessage { service, ok }).inc();
    }

    /// A lot's answer to a cloud command: its latency, and whether it refused.
    pub fn cloud_answer(&self, service: &str, ok: bool, latency_ms: i64) {
        self.confirmed(service, latency_ms);
        if !ok {
            self.refused(service);
        }
    }

    pub fn replay(&self) {
        self.replays.fetch_add(1, Ordering::Relaxed);
    }

    /// `unbalanced_lot_days`: read from the store at scrape time (-1: unreadable).
    pub fn render(&self, commits: &CommitStats, unbalanced_lot_days: i64) -> String {
        let mut r = Registry::default();
        r.register("onepark_uplink_held", "Requests answered 429 (retry later), by reason.", self.held.clone());
        r.register(
            "onepark_uplink_unauthenticated",
            "Requests refused before authentication, by step.",
            self.unauthenticated.clone(),
        );
        r.register(
            "onepark_uplink_findings",
            "Stored records with a data-quality finding, by kind.",
            self.findings.clone(),
        );
        r.register("onepark_uplink_requests", "Uplink requests by interface and outcome.", self.requests.clone());
        r.register("onepark_cloudpark_requests", "Cloud-API answers by service and code.", self.cloud.clone());
        r.register(
            "onepark_cloudpark_latency_seconds",
            "Cloud-API request latency by service.",
            self.cloud_latency.clone(),
        );
        r.register(
            "onepark_cloudpark_mq_reports",
            "Reports on the cloud's MQ channel, by serviceId and whether they were stored.",
            self.cloud_mq.clone(),
        );
        r.register(
            "onepark_bolink_messages",
            "Bolink SDK messages by service_name and whether they were served.",
            self.bolink.clone(),
        );
        r.register("onepark_uplink_latency_seconds", "Uplink request latency by interface.", self.latency.clone());
        r.register(
            "onepark_uplink_undecryptable",
            "Signed requests whose cipher did not decrypt to JSON.",
            self.undecryptable.clone(),
        );
        r.register(
            "onepark_downlink_published",
            "Downlinks handed to the broker (retry=\"true\": a repeat).",
            self.published.clone(),
        );
        r.register(
            "onepark_downlink_confirm_seconds",
            "Time from queuing a downlink to the lot's confirm.",
            self.confirm_latency.clone(),
        );
        r.register(
            "onepark_downlink_refused",
            "Downlinks the lot confirmed with success:false (not applied).",
            self.refused.clone(),
        );
        r.register("onepark_payments", "Payment-channel charges by purpose and outcome.", self.payments.clone());
        let count = |n: &AtomicU64| Sample::Counter(n.load(Ordering::Relaxed));
        r.register_collector(Box::new(Snapshot(vec![
            ("onepark_uplink_replays", "Exact replays answered without decrypting.", count(&self.replays)),
            ("onepark_downlink_expired", "Downlinks given up without a confirm.", count(&self.expired)),
            ("onepark_store_commits", "Committed group-commit transactions (one fsync each).", count(&commits.batches)),
            ("onepark_store_committed_writes", "Writes committed in those transactions.", count(&commits.jobs)),
            (
                "onepark_store_writer_busy_microseconds",
                "Time the group-commit writers spent running batches (near 1e6 a second per writer: the writer is the bottleneck).",
                count(&commits.busy_micros),
            ),
            (
                "onepark_unbalanced_lot_days",
                "Lots' days of the last 30 whose latest daily check (uploadCheckRecord) did not balance.",
                Sample::Gauge(unbalanced_lot_days),
            ),
            (
                "onepark_store_retried_batches",
                "Batches rolled back by a conflict and run again.",
                count(&commits.retries),
            ),
        ])));
        r.sub_registry_with_prefix("onepark_http").register_collector(Box::new(self.http.snapshot()));
        r.sub_registry_with_prefix("onepark_mqtt").register_collector(Box::new(self.mqtt.snapshot()));
        onepark_serve::metrics::render(&r)
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
        let text = m.render(&CommitStats::default(), 0);
        assert!(
            text.contains("onepark_uplink_requests_total{interface=\"uploadCarInData\",outcome=\"ok\"} 1"),
            "{text}"
        );
        assert!(text.contains("onepark_uplink_latency_seconds_bucket{interface=\"uploadCarInData\",le=\"0.005\"} 1"));
        assert!(text.contains("onepark_uplink_latency_seconds_count{interface=\"uploadCarInData\"} 2"));
        assert!(text.contains("onepark_uplink_undecryptable_total{access_id=\"234\"} 1"));
    }
}

/// The embedded MQTT broker's door (`link::qdpark::broker`): its counters for `/metrics`.
#[derive(Debug, Default)]
pub struct DoorStats {
    pub(crate) open: AtomicU64,
    pub(crate) pending: AtomicU64,
    pub(crate) refused_connections: AtomicU64,
    pub(crate) refused_pending: AtomicU64,
    pub(crate) refused_pending_per_ip: AtomicU64,
}

impl DoorStats {
    /// The counts for `/metrics` (names under the caller's prefix).
    pub fn snapshot(&self) -> onepark_serve::metrics::Snapshot {
        use onepark_serve::metrics::Sample::{Counter, Gauge};
        let get = |n: &AtomicU64| n.load(Ordering::Relaxed);
        let gauge = |n: &AtomicU64| Gauge(i64::try_from(get(n)).unwrap_or(i64::MAX));
        onepark_serve::metrics::Snapshot(vec![
            ("open_connections", "Open MQTT connections (lots online, sessions kept, handshakes).", gauge(&self.open)),
            ("pending_connections", "MQTT connections that have not sent CONNECT yet.", gauge(&self.pending)),
            (
                "refused_connections",
                "MQTT connections closed at once: limits.mqtt_max_connections reached.",
                Counter(get(&self.refused_connections)),
            ),
            (
                "refused_pending",
                "MQTT connections closed at once: limits.mqtt_max_pending reached.",
                Counter(get(&self.refused_pending)),
            ),
            (
                "refused_pending_per_ip",
                "MQTT connections closed at once: limits.mqtt_max_pending_per_ip reached for the address.",
                Counter(get(&self.refused_pending_per_ip)),
            ),
        ])
    }
}
