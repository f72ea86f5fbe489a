//! The gateway's own endpoints: status (berths, outbox, downlink), the
//! Prometheus metrics, reconciling a day now and checking a day's
//! pay-after-leave bills now (tag `gateway` in the API document).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::http_error::{ErrorBody, HttpError, Reply};
use crate::state::LotState;
use crate::subscriber::Stats;

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StatusReply {
    berths: Berths,
    /// The platform's (Qingdao) link.
    outbox: OutboxStatus,
    /// The parking cloud's link, when `[cloudpark]` is configured.
    cloudpark: Option<OutboxStatus>,
    /// The Bolink cloud's link, when `[bolink]` is configured.
    bolink: Option<OutboxStatus>,
    /// Absent when no downlink subscriber runs.
    downlink: Option<DownlinkStatus>,
    /// Days whose daily check has not balanced yet, oldest first: tried
    /// again with backoff until they do (empty: every day balanced).
    unbalanced_days: Vec<crate::store::PendingDay>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct Berths {
    total: i64,
    open: i64,
    free: i64,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OutboxStatus {
    /// Waiting to be sent (-1: storage unreadable).
    pending: i64,
    /// Set aside for an operator (-1: storage unreadable).
    refused: i64,
    delivered: u64,
    /// Delivered within 5 s of the event.
    timely: u64,
    last_latency_ms: u64,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct DownlinkStatus {
    applied: u64,
    confirmed: u64,
    rejected: u64,
    /// Connected to the broker at least once.
    connected: bool,
}

/// Berths, outbox backlog and deliveries, downlink counters (open to anyone).
#[utoipa::path(get, path = "/api/status", tag = "gateway", responses((status = 200, body = StatusReply)))]
pub(crate) async fn status(State(state): State<LotState>) -> Json<StatusReply> {
    let get = Stats::get;
    let link = |name: &'static str, stats: &crate::outbox::OutboxStats| {
        let store = state.store().clone();
        let (delivered, timely, last_latency_ms) =
            (get(&stats.delivered), get(&stats.timely), get(&stats.last_latency_ms));
        async move {
            let (pending, refused) = store.backlog(name).await.unwrap_or((-1, -1));
            OutboxStatus { pending, refused, delivered, timely, last_latency_ms }
        }
    };
    let outbox = link("qdpark", state.outbox_stats()).await;
    let cloudpark = match state.cloud_outbox_stats() {
        Some(stats) => Some(link(crate::cloudlink::LINK.name, stats).await),
        None => None,
    };
    let bolink = match state.bolink_outbox_stats() {
        Some(stats) => Some(link(crate::bolinklink::LINK.name, stats).await),
        None => None,
    };
    let (total, open, free) = state.berths().await.unwrap_or((0, 0, 0));
    Json(StatusReply {
        berths: Berths { total, open, free },
        outbox,
        cloudpark,
        bolink,
        downlink: state.downlink_stats().map(|s| DownlinkStatus {
            applied: get(&s.applied),
            confirmed: get(&s.confirmed),
            rejected: get(&s.rejected),
            connected: get(&s.connects) > 0,
        }),
        unbalanced_days: state.store().unbalanced_days().await.unwrap_or_default(),
    })
}

#[derive(Deserialize, ToSchema)]
pub(crate) struct ReconcileRequest {
    /// yyyy-MM-dd; default (absent or empty) yesterday
    #[schema(value_type = Option<crate::staff::Day>)]
    date: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct Reconciled {
    /// The last pass found the counts and the money agreed (every link's).
    balanced: bool,
    /// The Qingdao platform's passes (none without `[platform]`).
    passes: Vec<crate::reconcile::Outcome>,
    /// The Bolink cloud's check (`[bolink]`: 2.23, designed).
    #[serde(skip_serializing_if = "Option::is_none")]
    bolink: Option<crate::bolink::DayChecked>,
}

/// Reconciles a day now (uploadCheckRecord, then backfill of what the
/// platform lacks, at most 3 passes); the body may be empty.
#[utoipa::path(post, path = "/api/reconcile", tag = "gateway", request_body(content = Option<ReconcileRequest>, description = "optional: an empty body reconciles yesterday"),
    responses((status = 200, body = Reconciled),
        (status = 409, description = "the gateway has no [platform] to reconcile with", body = ErrorBody),
        (status = 502, description = "the platform could not be asked, or refused", body = ErrorBody)))]
pub(crate) async fn reconcile_now(State(state): State<LotState>, bytes: axum::body::Bytes) -> Reply<Reconciled> {
    let date = requested_day(&state, &bytes)?;
    let bolink = match state.bolink() {
        Some(handle) => Some(
            crate::bolink::check_day(&state, handle, date)
                .await
                .map_err(|e| HttpError::new(StatusCode::BAD_GATEWAY, format!("Bolink: {e}")))?,
        ),
        None => None,
    };
    if state.uplink().is_none()
        && let Some(b) = bolink
    {
        return Ok(Json(Reconciled { balanced: b.balanced(), passes: Vec::new(), bolink: Some(b) }));
    }
    match crate::reconcile::try_day(&state, date).await {
        Ok(passes) => Ok(Json(Reconciled {
            balanced: passes.last().is_some_and(|p| p.balanced()) && bolink.as_ref().is_none_or(|b| b.balanced()),
            passes,
            bolink,
        })),
        // Our storage failed: ours (500); the platform failed or refused: a gateway error (502).
        Err(e @ crate::reconcile::ReconcileError::Store(_)) => {
            Err(HttpError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
        }
        Err(e @ crate::reconcile::ReconcileError::NoPlatform) => {
            Err(HttpError::new(StatusCode::CONFLICT, e.to_string()))
        }
        Err(e) => Err(HttpError::new(StatusCode::BAD_GATEWAY, e.to_string())),
    }
}

/// The day a request names (`{"date"}`; an empty body, or no date: yesterday).
fn requested_day(state: &LotState, bytes: &[u8]) -> Result<chrono::NaiveDate, HttpError> {
    let bad = |m: String| HttpError::new(StatusCode::BAD_REQUEST, m);
    let r: ReconcileRequest = if bytes.trim_ascii().is_empty() || bytes.trim_ascii() == b"null" {
        ReconcileRequest { date: None }
    } else {
        onepark_serve::json::decode(bytes).map_err(|e| bad(e.to_string()))?
    };
    match r.date.as_deref().filter(|d| !d.is_empty()).map(onepark_domain::time::parse_date) {
        None => Ok(crate::reconcile::yesterday(state.now())),
        Some(Ok(d)) => Ok(d),
        Some(Err(e)) => Err(bad(format!("date: {e}"))),
    }
}

#[derive(Serialize, ToSchema)]
pub(crate) struct DayChecked {
    date: String,
    /// Every difference between the lot's pay-after-leave bills and the platform's (empty: they agree).
    differences: Vec<String>,
}

/// Checks a day's pay-after-leave bills against the platform's now
/// (checkDailyBill; the gateway does it itself after 00:10 for yesterday).
#[utoipa::path(post, path = "/api/payments/check-day", tag = "gateway", request_body(content = Option<ReconcileRequest>, description = "optional: an empty body checks yesterday"),
    responses((status = 200, body = DayChecked),
        (status = 409, description = "the gateway has no [platform] to reconcile with", body = ErrorBody),
        (status = 502, description = "the platform could not be asked, or refused", body = ErrorBody)))]
pub(crate) async fn check_day(State(state): State<LotState>, bytes: axum::body::Bytes) -> Reply<DayChecked> {
    let date = requested_day(&state, &bytes)?;
    match crate::payments::check_day(&state, date).await {
        Ok(differences) => Ok(Json(DayChecked { date: date.to_string(), differences })),
        Err(e) => Err(HttpError::new(StatusCode::BAD_GATEWAY, e)),
    }
}

/// Prometheus text: outbox delivery, timeliness, backlog, clock skew, downlink (open to anyone).
#[utoipa::path(get, path = "/metrics", tag = "gateway",
    responses((status = 200, description = "Prometheus text exposition", content_type = "text/plain", body = String)))]
pub(crate) async fn metrics(State(state): State<LotState>) -> ([(&'static str, &'static str); 1], String) {
    use onepark_serve::metrics::{Registry, Sample, Snapshot};
    let o = state.outbox_stats();
    let (pending, refused) = state.store().backlog("qdpark").await.unwrap_or((-1, -1));
    let unbalanced = state.store().unbalanced_days().await.map_or(-1, |d| d.len() as i64);
    let count = |v: &std::sync::atomic::AtomicU64| Sample::Counter(Stats::get(v));
    let gauge = |v: u64| Sample::Gauge(i64::try_from(v).unwrap_or(i64::MAX));
    let mut values = vec![
        ("onepark_lot_outbox_delivered", "Records the platform acknowledged.", count(&o.delivered)),
        ("onepark_lot_outbox_timely", "Records acknowledged within 5 s of the event.", count(&o.timely)),
        ("onepark_lot_outbox_refused", "Records the platform refused (kept, not retried).", count(&o.refused)),
        (
            "onepark_lot_outbox_failed_attempts",
            "Upload attempts that failed and will be retried.",
            count(&o.failed_attempts),
        ),
        (
            "onepark_lot_outbox_held",
            "Attempts the platform answered 429/503 with Retry-After (kept, sent again later).",
            count(&o.held),
        ),
        ("onepark_lot_outbox_pending", "Records waiting for the platform.", Sample::Gauge(pending)),
        ("onepark_lot_outbox_refused_pending", "Refused records waiting for an operator.", Sample::Gauge(refused)),
        (
            "onepark_lot_unbalanced_days",
            "Days whose daily check with the platform has not balanced yet (retried with backoff; -1: storage unreadable).",
            Sample::Gauge(unbalanced),
        ),
        (
            "onepark_lot_outbox_last_latency_ms",
            "Event to acknowledgement of the last record.",
            gauge(Stats::get(&o.last_latency_ms)),
        ),
        (
            "onepark_lot_clock_skew_seconds",
            "Platform clock minus lot clock at the last heartbeat.",
            Sample::Gauge(o.clock_skew_secs.load(std::sync::atomic::Ordering::Relaxed)),
        ),
    ];
    let controllers: usize = state.config().lanes.iter().map(|l| state.controllers().online(&l.id)).sum();
    values.push((
        "onepark_lot_controllers_online",
        "Barrier controllers listening for commands, over all lanes.",
        gauge(controllers as u64),
    ));
    if let Some(o) = state.bolink_outbox_stats() {
        values.extend([
            ("onepark_lot_bolink_delivered", "Records the Bolink cloud acknowledged.", count(&o.delivered)),
            ("onepark_lot_bolink_refused", "Records the Bolink cloud refused (kept, not retried).", count(&o.refused)),
            (
                "onepark_lot_bolink_failed_attempts",
                "Bolink uploads that failed and will be retried.",
                count(&o.failed_attempts),
            ),
        ]);
    }
    if let Some(d) = state.downlink_stats() {
        values.extend([
            ("onepark_lot_downlink_applied", "Downlink messages applied.", count(&d.applied)),
            (
                "onepark_lot_downlink_rejected",
                "Downlink messages dropped (signature, decryption, topic).",
                count(&d.rejected),
            ),
            ("onepark_lot_downlink_confirmed", "Downlink messages confirmed to the platform.", count(&d.confirmed)),
        ]);
    }
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Snapshot(values)));
    registry.register(
        "onepark_lot_outbox_latency_seconds",
        "Event to acknowledgement by the platform (the spec asks for 5 s).",
        o.latency.0.clone(),
    );
    registry.sub_registry_with_prefix("onepark_lot_http").register_collector(Box::new(state.http_stats().snapshot()));
    ([("content-type", onepark_serve::metrics::CONTENT_TYPE)], onepark_serve::metrics::render(&registry))
}
