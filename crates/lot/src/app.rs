//! The lot gateway service: starts the outbox sender, the downlink
//! subscriber and the periodic reports, and serves the HTTP API (lanes in
//! `barrier`, staff actions in `staff`, status and metrics here).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::{Json, Router};
use chrono::NaiveDateTime;
use onepark_proto::interface::Downlink;
use onepark_proto::msg::encode_flat;
use onepark_proto::msg::record::{Heartbeat, ParkingState};
use onepark_proto::wire::Time;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::Notify;
use utoipa::{OpenApi, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::config::{Config, Direction, Lane};
use crate::downlink::{Order, Received};
use crate::lane::Deny;
use crate::outbox::{self, OutboxStats};
use crate::store::{ListEntry, Report, Store, StoreError};
use crate::subscriber::{Refusal, Settings, Stats, Subscriber};
use crate::uplink::{Client, Identity};

#[derive(Clone)]
pub struct LotState {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    store: Store,
    uplink: Client,
    wake: Arc<Notify>,
    outbox: Arc<OutboxStats>,
    downlink: Option<Arc<Stats>>,
    sessions: crate::auth::Sessions,
    http: Arc<onepark_serve::Stats>,
    feed: crate::booth::Feed,
}

impl LotState {
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    pub fn sessions(&self) -> &crate::auth::Sessions {
        &self.inner.sessions
    }

    /// The latest lane events, for the booth page.
    pub fn feed(&self) -> &crate::booth::Feed {
        &self.inner.feed
    }

    pub fn outbox_stats(&self) -> &OutboxStats {
        &self.inner.outbox
    }

    pub fn downlink_stats(&self) -> Option<&Stats> {
        self.inner.downlink.as_deref()
    }

    pub(crate) fn uplink(&self) -> &Client {
        &self.inner.uplink
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    pub(crate) fn now(&self) -> NaiveDateTime {
        self.inner.config.zone.local(chrono::Utc::now())
    }

    /// A record was queued: let the sender look.
    pub(crate) fn wake_outbox(&self) {
        self.inner.wake.notify_one();
    }

    pub(crate) fn lane(&self, id: &str, direction: Direction) -> Result<&Lane, Deny> {
        let lane = self.inner.config.lanes.iter().find(|l| l.id == id).ok_or(Deny::UnknownLane)?;
        if lane.direction == direction { Ok(lane) } else { Err(Deny::WrongDirection) }
    }

    /// (total, open, free open) berths now.
    pub(crate) async fn berths(&self) -> Result<(i64, i64, i64), StoreError> {
        let b = &self.inner.config.berths;
        let temporary = self.inner.store.temporary_inside().await?;
        Ok((b.total, b.open, (b.open - temporary).max(0)))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LotError {
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    #[error("platform client: {0}")]
    Uplink(#[from] crate::uplink::UplinkError),
    #[error("cannot listen on {addr}: {source}")]
    Listen { addr: String, source: std::io::Error },
}

/// Opens the store and starts the outbox sender and (with `mqtt_url`) the
/// downlink subscriber.
pub async fn start(config: Config) -> Result<LotState, LotError> {
    let store = Store::open(&config.database).await?;
    let p = &config.platform;
    let identity = Identity {
        access_id: p.access_id.clone(),
        key: p.private_key.clone(),
        platform_public: p.platform_public_key.clone(),
        profile: p.profile,
    };
    let uplink = Client::new(&p.url, identity, Duration::from_secs(10))?;
    let reconcile_client = uplink.clone();
    let wake = Arc::new(Notify::new());
    let outbox = Arc::new(OutboxStats::default());
    report_parking_info(&store, &config).await?;
    let concurrency = p.concurrency;
    tokio::spawn(outbox::run(store.clone(), uplink.clone(), config.zone, wake.clone(), outbox.clone(), concurrency));
    let subscriber = match &p.mqtt_url {
        Some(url) => {
            let username = match p.node {
                Some(n) => format!("{}_{n}", p.access_id),
                None => p.access_id.clone(),
            };
            let settings = Settings {
                broker_url: url.clone(),
                username,
                parking_codes: vec![config.parking_code.clone()],
                password: p.mqtt_password.clone(),
            };
            Some(Subscriber::new(settings, uplink).with_order(remembered_order(&store).await?))
        }
        None => {
            tracing::warn!(
                "no platform.mqtt_url: lists, fee queries and payment results from the platform are not received"
            );
            None
        }
    };
    let downlink = subscriber.as_ref().map(Subscriber::stats);
    let (sessions, http) = (Default::default(), Default::default());
    let feed = Default::default();
    let inner = Inner { config, store, uplink: reconcile_client, wake, outbox, downlink, sessions, http, feed };
    let state = LotState { inner: Arc::new(inner) };
    if let Some(subscriber) = subscriber {
        let apply = crate::payments::Downlinks { state: state.clone() };
        tokio::spawn(async move {
            if let Err(e) = subscriber.run(apply).await {
                tracing::error!(error = %e, "downlink subscriber stopped");
            }
        });
    }
    tokio::spawn(crate::payments::run(state.clone()));
    tokio::spawn(periodic(state.clone()));
    tokio::spawn(nightly(state.clone()));
    Ok(state)
}

/// Berth state every 60 s (the first a minute after start), heartbeat every
/// 10 min from the start (spec §5.1.4, §5.2.3), both through the outbox.
async fn periodic(state: LotState) {
    let mut minute = tokio::time::interval(Duration::from_secs(60));
    let mut ticks: u64 = 0;
    loop {
        minute.tick().await;
        let now = state.now();
        let code = state.inner.config.parking_code.clone();
        let mut reports = Vec::new();
        // The first berth state waits a full minute: right after a start the
        // sessions are often still catching up (lanes queued during the
        // restart, a replayed past), and the platform keeps the state with
        // the newest time, so a transient one would stand until the next.
        let berths = if ticks == 0 { None } else { Some(state.berths().await) };
        match berths {
            None => {}
            Some(Ok((total, open, free))) => {
                let record = ParkingState {
                    parking_code: code.clone(),
                    total_berth_num: total,
                    open_berth_num: open,
                    free_berth_num: free,
                    upload_time: Time(now),
                };
                reports.push(("uploadParkingState", encode_flat(&record)));
            }
            Some(Err(e)) => tracing::error!(error = %e, "cannot count berths"),
        }
        if ticks % 10 == 0 {
            reports.push(("uploadHeartbeat", encode_flat(&Heartbeat { parking_code: code, upload_time: Time(now) })));
        }
        ticks += 1;
        for (interface, body) in reports {
            let report = Report { uid: None, interface, body, created_ms: outbox::now_ms() };
            if let Err(e) = state.store().report(report).await {
                tracing::error!(error = %e, interface, "cannot queue a periodic record");
            }
        }
        state.inner.wake.notify_one();
    }
}

/// uploadParkingInfo at first start and whenever the configured
/// information changes (compared with what was last queued).
async fn report_parking_info(store: &Store, config: &Config) -> Result<(), StoreError> {
    let Some(info) = &config.info else {
        tracing::warn!("no [info] in the config: the platform gets no uploadParkingInfo");
        return Ok(());
    };
    let fingerprint = encode_flat(info);
    let mut info = info.clone();
    info.upload_time = Time(config.zone.local(chrono::Utc::now()));
    let report =
        Report { uid: None, interface: "uploadParkingInfo", body: encode_flat(&info), created_ms: outbox::now_ms() };
    if store.report_if_changed("parking_info", &fingerprint, report).await? {
        tracing::info!("lot information changed: uploadParkingInfo queued");
    }
    Ok(())
}

/// The lot API's document, generated from the handlers (each registered
/// through `routes!`, so none goes undocumented) and their types; served at
/// `/api/openapi.json`.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "onepark lot gateway API",
        description = "Lanes (cameras, barrier controllers) and staff (booth, integrators). Times are \
                       yyyy-MM-dd HH:mm:ss in the lot's zone; money is integer fen. Without [auth] only this \
                       machine may call it; with it, devices send their token and staff log in (docs/lot.md)."
    ),
    components(schemas(crate::staff::ErrorBody)),
    tags((name = "lane", description = "cameras and barrier controllers"), (name = "staff", description = "the booth and integrators"),
         (name = "gateway", description = "status, reconciliation, login, metrics"))
)]
struct LotDoc;

pub fn router(state: LotState) -> Router {
    use crate::{barrier, staff};
    let (router, mut document) = OpenApiRouter::with_openapi(LotDoc::openapi())
        .routes(routes!(barrier::entry))
        .routes(routes!(barrier::exit))
        .routes(routes!(barrier::open_by_hand))
        .routes(routes!(staff::sessions))
        .routes(routes!(staff::correct_plate))
        .routes(routes!(staff::close))
        .routes(routes!(staff::refused))
        .routes(routes!(staff::retry))
        .routes(routes!(status))
        .routes(routes!(reconcile_now))
        .routes(routes!(check_day))
        .routes(routes!(staff::list_cards, staff::put_card))
        .routes(routes!(staff::delete_card))
        .routes(routes!(staff::arrears_collected))
        .routes(routes!(metrics))
        .routes(routes!(crate::auth::login))
        .split_for_parts();
    crate::auth::document(&mut document);
    router
        .route("/api/openapi.json", onepark_serve::json::document(document.to_pretty_json().unwrap_or_default()))
        .merge(crate::booth::router())
        .layer(axum::middleware::from_fn_with_state(state.clone(), crate::auth::gate))
        .layer(axum::middleware::map_response(onepark_serve::json::errors))
        .with_state(state)
}

/// Runs the gateway until Ctrl-C.
pub async fn serve(config: Config) -> Result<(), LotError> {
    let listen = config.listen.clone();
    let state = start(config).await?;
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .map_err(|source| LotError::Listen { addr: listen.clone(), source })?;
    tracing::info!(%listen, "lot gateway serving");
    if state.config().auth.is_none() {
        tracing::warn!("no [auth] configured: the lane and staff API answer this machine only");
    }
    let stats = state.inner.http.clone();
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    onepark_serve::serve(listener, router(state), onepark_serve::Limits::default(), stats, shutdown).await;
    Ok(())
}

/// Starts the gateway in the background (the demo's lots, load
/// generators): its tasks, and its HTTP API on `config.listen`, which may
/// be port 0. Returns the address it listens on.
pub async fn spawn(config: Config) -> Result<(LotState, std::net::SocketAddr), LotError> {
    let listen = config.listen.clone();
    let state = start(config).await?;
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .map_err(|source| LotError::Listen { addr: listen.clone(), source })?;
    let addr = listener.local_addr().map_err(|source| LotError::Listen { addr: listen, source })?;
    let (app, stats) = (router(state.clone()), state.inner.http.clone());
    tokio::spawn(onepark_serve::serve(listener, app, onepark_serve::Limits::default(), stats, std::future::pending()));
    Ok((state, addr))
}

#[derive(Serialize, ToSchema)]
struct StatusReply {
    berths: Berths,
    outbox: OutboxStatus,
    /// Absent when no downlink subscriber runs.
    downlink: Option<DownlinkStatus>,
}

#[derive(Serialize, ToSchema)]
struct Berths {
    total: i64,
    open: i64,
    free: i64,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct OutboxStatus {
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
struct DownlinkStatus {
    applied: u64,
    confirmed: u64,
    rejected: u64,
    /// Connected to the broker at least once.
    connected: bool,
}

/// Berths, outbox backlog and deliveries, downlink counters (open to anyone).
#[utoipa::path(get, path = "/api/status", tag = "gateway", responses((status = 200, body = StatusReply)))]
async fn status(State(state): State<LotState>) -> Json<StatusReply> {
    let stats = state.outbox_stats();
    let get = Stats::get;
    let (pending, refused) = state.store().backlog().await.unwrap_or((-1, -1));
    let (total, open, free) = state.berths().await.unwrap_or((0, 0, 0));
    Json(StatusReply {
        berths: Berths { total, open, free },
        outbox: OutboxStatus {
            pending,
            refused,
            delivered: get(&stats.delivered),
            timely: get(&stats.timely),
            last_latency_ms: get(&stats.last_latency_ms),
        },
        downlink: state.downlink_stats().map(|s| DownlinkStatus {
            applied: get(&s.applied),
            confirmed: get(&s.confirmed),
            rejected: get(&s.rejected),
            connected: get(&s.connects) > 0,
        }),
    })
}

/// Reconciles `date` until balanced: check, backfill what the platform
/// lacks, wait for the outbox to drain, check again (at most 3 passes).
pub async fn reconcile(
    state: &LotState,
    date: chrono::NaiveDate,
) -> Result<Vec<crate::reconcile::Outcome>, crate::reconcile::ReconcileError> {
    let mut passes = Vec::new();
    for _ in 0..3 {
        let outcome = crate::reconcile::check_day(
            state.store(),
            &state.inner.uplink,
            &state.inner.config.parking_code,
            date,
            state.now(),
        )
        .await?;
        let done = outcome.balanced() || outcome.requeued == 0;
        passes.push(outcome);
        if done {
            break;
        }
        state.inner.wake.notify_one();
        let deadline = std::time::Instant::now() + Duration::from_secs(120);
        while state.store().backlog().await?.0 > 0 && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    Ok(passes)
}

#[derive(Deserialize, ToSchema)]
struct ReconcileRequest {
    /// yyyy-MM-dd; default (absent or empty) yesterday
    #[schema(value_type = Option<crate::staff::Day>)]
    date: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct Reconciled {
    /// The last pass found the counts and the money agreed.
    balanced: bool,
    passes: Vec<crate::reconcile::Outcome>,
}

/// Reconciles a day now (uploadCheckRecord, then backfill of what the
/// platform lacks, at most 3 passes); the body may be empty.
#[utoipa::path(post, path = "/api/reconcile", tag = "gateway", request_body(content = Option<ReconcileRequest>, description = "optional: an empty body reconciles yesterday"),
    responses((status = 200, body = Reconciled),
        (status = 502, description = "the platform could not be asked, or refused", body = crate::staff::ErrorBody)))]
async fn reconcile_now(State(state): State<LotState>, bytes: axum::body::Bytes) -> crate::staff::Reply<Reconciled> {
    use crate::staff::error;
    let date = requested_day(&state, &bytes)?;
    match reconcile(&state, date).await {
        Ok(passes) => Ok(Json(Reconciled { balanced: passes.last().is_some_and(|p| p.balanced()), passes })),
        // Our storage failed: ours (500); the platform failed or refused: a gateway error (502).
        Err(e @ crate::reconcile::ReconcileError::Store(_)) => {
            Err(error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
        }
        Err(e) => Err(error(StatusCode::BAD_GATEWAY, e.to_string())),
    }
}

/// The day a request names (`{"date"}`; an empty body, or no date: yesterday).
fn requested_day(
    state: &LotState,
    bytes: &[u8],
) -> Result<chrono::NaiveDate, (StatusCode, Json<crate::staff::ErrorBody>)> {
    let bad = |m: String| crate::staff::error(StatusCode::BAD_REQUEST, m);
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
struct DayChecked {
    date: String,
    /// Every difference between the lot's pay-after-leave bills and the platform's (empty: they agree).
    differences: Vec<String>,
}

/// Checks a day's pay-after-leave bills against the platform's now
/// (checkDailyBill; the gateway does it itself after 00:10 for yesterday).
#[utoipa::path(post, path = "/api/payments/check-day", tag = "gateway", request_body(content = Option<ReconcileRequest>, description = "optional: an empty body checks yesterday"),
    responses((status = 200, body = DayChecked),
        (status = 502, description = "the platform could not be asked, or refused", body = crate::staff::ErrorBody)))]
async fn check_day(State(state): State<LotState>, bytes: axum::body::Bytes) -> crate::staff::Reply<DayChecked> {
    use crate::staff::error;
    let date = requested_day(&state, &bytes)?;
    match crate::payments::check_day(&state, date).await {
        Ok(differences) => Ok(Json(DayChecked { date: date.to_string(), differences })),
        Err(e) => Err(error(StatusCode::BAD_GATEWAY, e)),
    }
}

/// After midnight (00:10 local), reconciles the previous day.
async fn nightly(state: LotState) {
    loop {
        let now = state.now();
        // Today's 00:10 if it is still ahead (a gateway started at 00:05), else tomorrow's.
        let today = now.date().and_hms_opt(0, 10, 0).unwrap_or(now);
        let next = if now < today { today } else { today + chrono::Duration::days(1) };
        let wait = (next - now).to_std().unwrap_or(Duration::from_secs(3600));
        tokio::time::sleep(wait).await;
        let date = crate::reconcile::yesterday(state.now());
        prune_photos(&state).await;
        // The platform may be down at 00:10: try again every 10 minutes for 3 hours.
        for _ in 0..18 {
            match reconcile(&state, date).await {
                Ok(passes) if passes.last().is_some_and(|p| p.balanced()) => break,
                Ok(passes) => tracing::error!(?passes, "daily reconciliation did not balance"),
                Err(e) => tracing::error!(error = %e, "daily reconciliation failed"),
            }
            tokio::time::sleep(Duration::from_secs(600)).await;
        }
    }
}

/// Photos stay a week after delivery (for disputes and backfill), then only their metadata.
async fn prune_photos(state: &LotState) {
    let before = onepark_domain::time::format_time(state.now() - chrono::Duration::days(7));
    match state.store().prune_photos(&before).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(photos = n, "pruned delivered photos older than a week"),
        Err(e) => tracing::error!(error = %e, "cannot prune photos"),
    }
}

/// Prometheus text: outbox delivery, timeliness, backlog, clock skew, downlink (open to anyone).
#[utoipa::path(get, path = "/metrics", tag = "gateway",
    responses((status = 200, description = "Prometheus text exposition", content_type = "text/plain", body = String)))]
async fn metrics(State(state): State<LotState>) -> ([(&'static str, &'static str); 1], String) {
    use onepark_serve::metrics::{Registry, Sample, Snapshot};
    let o = state.outbox_stats();
    let (pending, refused) = state.store().backlog().await.unwrap_or((-1, -1));
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
    registry.sub_registry_with_prefix("onepark_lot_http").register_collector(Box::new(state.inner.http.snapshot()));
    ([("content-type", onepark_serve::metrics::CONTENT_TYPE)], onepark_serve::metrics::render(&registry))
}

/// The downlink ordering state the store remembers (lists applied before a restart).
async fn remembered_order(store: &Store) -> Result<Order, StoreError> {
    let mut order = Order::default();
    for mark in store.order_marks().await? {
        let (Some(interface), Ok(at)) =
            (Downlink::from_name(&mark.interface), onepark_domain::time::parse_time(&mark.at))
        else {
            continue;
        };
        order.restore((interface, mark.parking_code, mark.subject), at, mark.request_id);
    }
    Ok(order)
}

/// Applies a specialCar (black/white list) downlink.
pub(crate) async fn apply_list(store: &Store, m: &Received) -> Result<(), Refusal> {
    {
        let text = |k: &str| m.params.get(k).and_then(Value::as_str).map(str::to_owned);
        let number = |k: &str| m.params.get(k).and_then(|v| v.as_i64().or_else(|| v.as_str()?.parse().ok()));
        let plate_no = text("plateNo").ok_or_else(|| Refusal::Reject("plateNo missing".into()))?;
        // Stored as the lane records plates, so the lane's lookup finds it.
        let plate_no = crate::payments::plate_text(&plate_no)?;
        let entry = ListEntry {
            plate_no,
            list_kind: number("operateType").ok_or_else(|| Refusal::Reject("operateType missing".into()))?,
            start_time: text("startTime").unwrap_or_else(|| "0000-01-01 00:00:00".into()),
            end_time: text("endTime").unwrap_or_else(|| "9999-12-31 23:59:59".into()),
            remark: text("remark"),
            request_id: m.request_id,
        };
        let delete = number("operate") == Some(1);
        let mark = crate::payments::order_mark(m);
        store.set_list(&entry, delete, &mark).await.map_err(|e| Refusal::Retry(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::downlink::Verdict;
    use onepark_proto::interface::Topic;

    fn special_car(request_id: i64, at: &str) -> Received {
        let Value::Object(params) =
            serde_json::json!({ "plateNo": "鲁B12345", "plateColor": 1, "operateType": 0, "operate": 0 })
        else {
            unreachable!()
        };
        Received {
            topic: Topic::parse("qdpark/v1/specialCar/234/1001").expect("topic"),
            request_id,
            timestamp: onepark_domain::time::parse_time(at).expect("time"),
            params,
        }
    }

    #[tokio::test]
    async fn the_ordering_rule_survives_a_restart() {
        let file = std::env::temp_dir().join(format!("onepark-order-{}.db", std::process::id()));
        let _ = std::fs::remove_file(&file);
        let store = Store::open(&format!("sqlite://{}", file.display())).await.expect("store");
        apply_list(&store, &special_car(7, "2026-11-23 10:00:00")).await.expect("newer applied");
        // An older message applied out of order (the subscriber would call it stale) must not move the mark back.
        apply_list(&store, &special_car(9, "2026-11-23 09:00:00")).await.expect("stored");
        // "Restart": a fresh subscriber state from the store.
        let order = remembered_order(&store).await.expect("order");
        assert_eq!(order.check(&special_car(8, "2026-11-23 09:30:00")), Verdict::Stale);
        assert_eq!(order.check(&special_car(7, "2026-11-23 10:00:00")), Verdict::Apply, "the same message again");
        assert_eq!(order.check(&special_car(10, "2026-11-23 10:00:01")), Verdict::Apply);
        let _ = std::fs::remove_file(&file);
    }
}
