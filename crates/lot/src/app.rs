//! The lot gateway service: the lane API for cameras and barrier
//! controllers, the outbox sender and the downlink subscriber.
//!
//! Every barrier decision flows request → lane check → lookups → decision
//! (`lane`) → store (session change + outbox row, one transaction) → reply.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::NaiveDateTime;
use onepark_domain::time::{format_time, parse_time};
use onepark_proto::dict::{CarType, ParkingType, PlateColor};
use onepark_proto::interface::Downlink;
use onepark_proto::msg::encode_flat;
use onepark_proto::msg::record::{CarIn, CarOut, Heartbeat, ParkingState};
use onepark_proto::wire::Time;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::Notify;

use crate::config::{Config, Direction, Lane};
use crate::downlink::Received;
use crate::lane::{self, Deny, Match};
use crate::outbox::{self, OutboxStats};
use crate::store::{Exit, ListEntry, MonthCard, Report, Session, Store, StoreError};
use crate::subscriber::{Apply, Refusal, Settings, Stats, Subscriber};
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
}

impl LotState {
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    pub fn outbox_stats(&self) -> &OutboxStats {
        &self.inner.outbox
    }

    pub fn downlink_stats(&self) -> Option<&Stats> {
        self.inner.downlink.as_deref()
    }

    fn now(&self) -> NaiveDateTime {
        self.inner.config.zone.local(chrono::Utc::now())
    }

    fn lane(&self, id: &str, direction: Direction) -> Result<&Lane, Deny> {
        let lane = self.inner.config.lanes.iter().find(|l| l.id == id).ok_or(Deny::UnknownLane)?;
        if lane.direction == direction { Ok(lane) } else { Err(Deny::WrongDirection) }
    }

    /// (total, open, free open) berths now.
    async fn berths(&self) -> Result<(i64, i64, i64), StoreError> {
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
    tokio::spawn(outbox::run(store.clone(), uplink.clone(), config.zone, wake.clone(), outbox.clone()));
    let downlink = match &p.mqtt_url {
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
            let subscriber = Subscriber::new(settings, uplink);
            let stats = subscriber.stats();
            let apply = Lists { store: store.clone() };
            tokio::spawn(async move {
                if let Err(e) = subscriber.run(apply).await {
                    tracing::error!(error = %e, "downlink subscriber stopped");
                }
            });
            Some(stats)
        }
        None => {
            tracing::warn!("no platform.mqtt_url: black/white lists from the platform are not received");
            None
        }
    };
    let inner = Inner { config, store, uplink: reconcile_client, wake, outbox, downlink };
    let state = LotState { inner: Arc::new(inner) };
    tokio::spawn(periodic(state.clone()));
    tokio::spawn(nightly(state.clone()));
    Ok(state)
}

/// Berth state every 60 s, heartbeat every 10 min (spec §5.1.4, §5.2.3),
/// both through the outbox.
async fn periodic(state: LotState) {
    let mut minute = tokio::time::interval(Duration::from_secs(60));
    let mut ticks: u64 = 0;
    loop {
        minute.tick().await;
        let now = state.now();
        let code = state.inner.config.parking_code.clone();
        let mut reports = Vec::new();
        match state.berths().await {
            Ok((total, open, free)) => {
                let record = ParkingState {
                    parking_code: code.clone(),
                    total_berth_num: total,
                    open_berth_num: open,
                    free_berth_num: free,
                    upload_time: Time(now),
                };
                reports.push(("uploadParkingState", encode_flat(&record)));
            }
            Err(e) => tracing::error!(error = %e, "cannot count berths"),
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

pub fn router(state: LotState) -> Router {
    Router::new()
        .route("/api/lanes/{lane}/entry", post(entry))
        .route("/api/lanes/{lane}/exit", post(exit))
        .route("/api/status", get(status))
        .route("/api/reconcile", post(reconcile_now))
        .route("/api/month-cards", get(list_cards).post(put_card))
        .route("/api/month-cards/{id}", axum::routing::delete(delete_card))
        .route("/metrics", get(metrics))
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
    axum::serve(listener, router(state))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(|source| LotError::Listen { addr: listen, source })
}

/// A camera's read at a lane.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Read {
    plate_no: String,
    #[serde(default = "blue")]
    plate_color: i64,
    #[serde(default = "small")]
    car_type: i64,
    /// Event time (`yyyy-MM-dd HH:mm:ss`); default now.
    time: Option<String>,
    /// Exit: what was paid at the booth or kiosk, fen.
    #[serde(default)]
    paid: i64,
}

fn blue() -> i64 {
    PlateColor::Blue.code()
}

fn small() -> i64 {
    1
}

fn closed(deny: Deny, extra: Value) -> Json<Value> {
    let mut body = json!({ "open": false, "reason": deny.code(), "msg": deny.zh() });
    if let (Some(body), Value::Object(extra)) = (body.as_object_mut(), extra) {
        body.extend(extra);
    }
    Json(body)
}

fn failed(e: impl std::fmt::Display) -> Json<Value> {
    tracing::error!(error = %e, "lane request failed");
    Json(json!({ "open": false, "reason": "error", "msg": "系统错误，请人工处理", "detail": e.to_string() }))
}

fn event_time(state: &LotState, read: &Read) -> Result<NaiveDateTime, Json<Value>> {
    match &read.time {
        None => Ok(state.now()),
        Some(t) => parse_time(t)
            .map_err(|e| Json(json!({ "open": false, "reason": "bad_request", "msg": format!("time: {e}") }))),
    }
}

async fn entry(State(state): State<LotState>, Path(lane): Path<String>, Json(read): Json<Read>) -> Json<Value> {
    let lane = match state.lane(&lane, Direction::Entry) {
        Ok(l) => l.clone(),
        Err(deny) => return closed(deny, json!({})),
    };
    let at = match event_time(&state, &read) {
        Ok(t) => t,
        Err(reply) => return reply,
    };
    match enter(&state, &lane, &read, at).await {
        Ok(Ok(uid)) => Json(json!({ "open": true, "uid": uid, "msg": "欢迎光临" })),
        Ok(Err(deny)) => closed(deny, json!({})),
        Err(e) => failed(e),
    }
}

async fn enter(
    state: &LotState,
    lane: &Lane,
    read: &Read,
    at: NaiveDateTime,
) -> Result<Result<String, Deny>, StoreError> {
    let store = state.store();
    let now = format_time(at);
    let black = store.listed(&read.plate_no, 0, &now).await?;
    let white = store.listed(&read.plate_no, 1, &now).await?;
    if let Some(inside) = store.open_sessions(std::slice::from_ref(&read.plate_no)).await?.into_iter().next() {
        return Ok(Err(Deny::AlreadyInside { uid: inside.uid }));
    }
    let card = match store.card_of(&read.plate_no).await? {
        // The black list wins over a card (checked first by lane::entry).
        Some((card, other_inside)) if !black => {
            match lane::month_card(&card, &read.plate_no, &lane.id, &now, other_inside) {
                Ok(lane::CardUse::Monthly) => Some(card.id),
                Ok(lane::CardUse::Temporary) => None,
                Err(deny) => return Ok(Err(deny)),
            }
        }
        _ => None,
    };
    let (total, open, free) = state.berths().await?;
    if let Err(deny) = lane::entry(black, white, card.is_none(), free) {
        return Ok(Err(deny));
    }
    let parking_type = if card.is_some() { ParkingType::Monthly } else { ParkingType::Temporary };
    // Milliseconds from the clock keep two cars in one second apart (uid rule D-18).
    let config = &state.inner.config;
    let millis = i64::from(chrono::Utc::now().timestamp_subsec_millis());
    // The uid carries milliseconds (D-18); two cars read in the same second and
    // millisecond on one lane would collide, so step to the next free one.
    for step in 0..50 {
        let stamped = at + chrono::Duration::milliseconds((millis + step) % 1000);
        let uid = onepark_proto::uid::build(&config.parking_code, &lane.id, stamped)
            .unwrap_or_else(|_| format!("{}{}{}", config.parking_code, lane.id, stamped.format("%Y%m%d%H%M%S%3f")));
        let session = Session {
            uid: uid.clone(),
            plate_no: read.plate_no.clone(),
            plate_color: read.plate_color,
            car_type: read.car_type,
            parking_type: parking_type.code(),
            entry_lane: lane.id.clone(),
            entry_time: now.clone(),
            card_id: card.clone(),
        };
        let record = CarIn {
            uid: uid.clone(),
            arrival_id: uid.clone(),
            plate_no: read.plate_no.clone(),
            car_type: CarType::from_code(read.car_type),
            parking_code: config.parking_code.clone(),
            gate_no: None,
            entry_num: lane.id.clone(),
            operator_code: None,
            total_berth_num: total,
            open_berth_num: open,
            free_berth_num: if parking_type == ParkingType::Temporary { (free - 1).max(0) } else { free },
            arrive_time: Time(at),
            parking_type,
            plate_color: PlateColor::from_code(read.plate_color),
            upload_time: Time(state.now()),
        };
        let report = Report {
            uid: Some(uid.clone()),
            interface: "uploadCarInData",
            body: encode_flat(&record),
            created_ms: outbox::now_ms(),
        };
        match store.enter(&session, report).await {
            Ok(()) => {
                state.inner.wake.notify_one();
                return Ok(Ok(uid));
            }
            Err(StoreError::Db(sqlx::Error::Database(e))) if e.is_unique_violation() => continue,
            Err(e) => return Err(e),
        }
    }
    Err(StoreError::UidExhausted)
}

async fn exit(State(state): State<LotState>, Path(lane): Path<String>, Json(read): Json<Read>) -> Json<Value> {
    let lane = match state.lane(&lane, Direction::Exit) {
        Ok(l) => l.clone(),
        Err(deny) => return closed(deny, json!({})),
    };
    let at = match event_time(&state, &read) {
        Ok(t) => t,
        Err(reply) => return reply,
    };
    match leave(&state, &lane, &read, at).await {
        Ok(reply) => reply,
        Err(e) => failed(e),
    }
}

async fn leave(state: &LotState, lane: &Lane, read: &Read, at: NaiveDateTime) -> Result<Json<Value>, StoreError> {
    let store = state.store();
    let candidates = store.open_sessions(&lane::candidates(&read.plate_no)).await?;
    let mut matched: Vec<(Session, Match)> =
        candidates.into_iter().filter_map(|s| lane::plate_match(&s.plate_no, &read.plate_no).map(|m| (s, m))).collect();
    // An exact match wins; a fuzzy one only when it is the only candidate.
    matched.sort_by_key(|(_, m)| *m != Match::Exact);
    let (session, how) = match matched.as_slice() {
        [(s, Match::Exact), ..] | [(s, Match::Fuzzy)] => (s.clone(), matched[0].1),
        _ => return Ok(closed(Deny::NoSession, json!({}))),
    };
    let entered = parse_time(&session.entry_time).unwrap_or(at);
    let now = format_time(at);
    let white = store.listed(&session.plate_no, 1, &now).await?;
    let tariff = &state.inner.config.tariff;
    let fee = match &session.card_id {
        _ if white => 0,
        // A monthly stay is free while the card is valid; time past its end is charged.
        Some(card_id) => match store.card(card_id).await? {
            Some(card) => {
                let end = parse_time(&card.end_time).unwrap_or(at);
                if at <= end { 0 } else { tariff.fee(session.car_type, end.max(entered), at).get() }
            }
            None => tariff.fee(session.car_type, entered, at).get(),
        },
        None => tariff.fee(session.car_type, entered, at).get(),
    };
    if let Err(deny) = lane::exit(fee, read.paid, white) {
        return Ok(closed(deny, json!({ "uid": session.uid, "fee": fee, "due": fee - read.paid })));
    }
    let (total, open, free) = state.berths().await?;
    let config = &state.inner.config;
    let record = CarOut {
        uid: session.uid.clone(),
        exit_id: format!("{}X", session.uid),
        plate_no: session.plate_no.clone(),
        car_type: CarType::from_code(session.car_type),
        parking_code: config.parking_code.clone(),
        gate_no: None,
        operator_code: None,
        total_berth_num: total,
        open_berth_num: open,
        free_berth_num: if session.card_id.is_none() { (free + 1).min(open) } else { free },
        arrive_time: Time(entered),
        parking_type: ParkingType::from_code(session.parking_type),
        end_time: Time(at),
        entry_num: session.entry_lane.clone(),
        out_num: lane.id.clone(),
        plate_color: PlateColor::from_code(session.plate_color),
        upload_time: Time(state.now()),
        charge_fee: fee,
        should_pay: fee,
    };
    let exit = Exit {
        uid: session.uid.clone(),
        lane: lane.id.clone(),
        time: now,
        charge_fee: fee,
        should_pay: fee,
        paid: read.paid.min(fee),
        fuzzy: how == Match::Fuzzy,
    };
    let report = Report {
        uid: Some(session.uid.clone()),
        interface: "uploadCarOutData",
        body: encode_flat(&record),
        created_ms: outbox::now_ms(),
    };
    store.leave(&exit, report).await?;
    state.inner.wake.notify_one();
    Ok(Json(json!({ "open": true, "uid": session.uid, "fee": fee, "fuzzy": how == Match::Fuzzy, "msg": "一路顺风" })))
}

async fn status(State(state): State<LotState>) -> Json<Value> {
    let stats = state.outbox_stats();
    let get = Stats::get;
    let (pending, refused) = state.store().backlog().await.unwrap_or((-1, -1));
    let (total, open, free) = state.berths().await.unwrap_or((0, 0, 0));
    Json(json!({
        "berths": { "total": total, "open": open, "free": free },
        "outbox": { "pending": pending, "refused": refused, "delivered": get(&stats.delivered),
            "timely": get(&stats.timely), "lastLatencyMs": get(&stats.last_latency_ms) },
        "downlink": state.downlink_stats().map(|s| json!({ "applied": get(&s.applied), "confirmed": get(&s.confirmed),
            "rejected": get(&s.rejected), "connected": get(&s.connects) > 0 })),
    }))
}

/// Reconciles `date` until balanced: check, backfill what the platform
/// lacks, wait for the outbox to drain, check again (at most 3 passes).
pub async fn reconcile(state: &LotState, date: chrono::NaiveDate) -> Result<Vec<crate::reconcile::Outcome>, String> {
    let mut passes = Vec::new();
    for _ in 0..3 {
        let outcome = crate::reconcile::check_day(
            state.store(),
            &state.inner.uplink,
            &state.inner.config.parking_code,
            date,
            state.now(),
        )
        .await
        .map_err(|e| e.to_string())?;
        let done = outcome.balanced() || outcome.requeued == 0;
        passes.push(outcome);
        if done {
            break;
        }
        state.inner.wake.notify_one();
        let deadline = std::time::Instant::now() + Duration::from_secs(120);
        while state.store().backlog().await.map_err(|e| e.to_string())?.0 > 0 && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    Ok(passes)
}

async fn list_cards(State(state): State<LotState>) -> Json<Value> {
    match state.store().cards().await {
        Ok(cards) => Json(json!({ "items": cards })),
        Err(e) => Json(json!({ "error": e.to_string() })),
    }
}

/// Creates or replaces a card; errors name the field.
async fn put_card(State(state): State<LotState>, Json(card): Json<MonthCard>) -> (axum::http::StatusCode, Json<Value>) {
    let bad = |m: String| (axum::http::StatusCode::BAD_REQUEST, Json(json!({ "error": m })));
    if card.id.trim().is_empty() {
        return bad("id: must not be empty".into());
    }
    if card.plates.is_empty() || card.plates.iter().any(|p| p.trim().is_empty()) {
        return bad("plates: list at least one plate".into());
    }
    for (field, value) in [("startTime", &card.start_time), ("endTime", &card.end_time)] {
        if let Err(e) = parse_time(value) {
            return bad(format!("{field}: {e}"));
        }
    }
    if card.end_time < card.start_time {
        return bad("endTime: before startTime".into());
    }
    if let Some(lane) = card.lanes.iter().find(|l| !state.inner.config.lanes.iter().any(|c| &c.id == *l)) {
        return bad(format!("lanes: no lane `{lane}` in this lot"));
    }
    match state.store().put_card(&card).await {
        Ok(()) => (axum::http::StatusCode::OK, Json(json!({ "saved": card.id }))),
        Err(e) => (axum::http::StatusCode::INTERNAL_SERVER_ERROR, Json(json!({ "error": e.to_string() }))),
    }
}

async fn delete_card(State(state): State<LotState>, Path(id): Path<String>) -> (axum::http::StatusCode, Json<Value>) {
    match state.store().delete_card(&id).await {
        Ok(true) => (axum::http::StatusCode::OK, Json(json!({ "deleted": id }))),
        Ok(false) => (axum::http::StatusCode::NOT_FOUND, Json(json!({ "error": format!("no month card `{id}`") }))),
        Err(e) => (axum::http::StatusCode::INTERNAL_SERVER_ERROR, Json(json!({ "error": e.to_string() }))),
    }
}

#[derive(Deserialize)]
struct ReconcileRequest {
    /// yyyy-MM-dd; default yesterday
    date: Option<String>,
}

async fn reconcile_now(State(state): State<LotState>, Json(r): Json<ReconcileRequest>) -> Json<Value> {
    let date = match r.date.as_deref().map(onepark_domain::time::parse_date) {
        None => crate::reconcile::yesterday(state.now()),
        Some(Ok(d)) => d,
        Some(Err(e)) => return Json(json!({ "error": format!("date: {e}") })),
    };
    match reconcile(&state, date).await {
        Ok(passes) => Json(json!({ "balanced": passes.last().is_some_and(|p| p.balanced()), "passes": passes })),
        Err(e) => Json(json!({ "error": e })),
    }
}

/// After midnight (00:10 local), reconciles the previous day.
async fn nightly(state: LotState) {
    loop {
        let now = state.now();
        let next = (now.date() + chrono::Duration::days(1)).and_hms_opt(0, 10, 0).unwrap_or(now);
        let wait = (next - now).to_std().unwrap_or(Duration::from_secs(3600));
        tokio::time::sleep(wait).await;
        let date = crate::reconcile::yesterday(state.now());
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

/// Prometheus text: outbox delivery, timeliness, backlog, clock skew, downlink.
async fn metrics(State(state): State<LotState>) -> ([(&'static str, &'static str); 1], String) {
    use std::fmt::Write;
    let get = Stats::get;
    let o = state.outbox_stats();
    let (pending, refused) = state.store().backlog().await.unwrap_or((-1, -1));
    let mut out = String::new();
    let mut metric = |name: &str, kind: &str, help: &str, value: i64| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}");
    };
    let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    metric("onepark_lot_outbox_delivered_total", "counter", "Records the platform acknowledged.", n(get(&o.delivered)));
    metric(
        "onepark_lot_outbox_timely_total",
        "counter",
        "Records acknowledged within 5 s of the event.",
        n(get(&o.timely)),
    );
    metric(
        "onepark_lot_outbox_refused_total",
        "counter",
        "Records the platform refused (kept, not retried).",
        n(get(&o.refused)),
    );
    metric(
        "onepark_lot_outbox_failed_attempts_total",
        "counter",
        "Upload attempts that failed and will be retried.",
        n(get(&o.failed_attempts)),
    );
    metric("onepark_lot_outbox_pending", "gauge", "Records waiting for the platform.", pending);
    metric("onepark_lot_outbox_refused_pending", "gauge", "Refused records waiting for an operator.", refused);
    metric(
        "onepark_lot_outbox_last_latency_ms",
        "gauge",
        "Event to acknowledgement of the last record.",
        n(get(&o.last_latency_ms)),
    );
    metric(
        "onepark_lot_clock_skew_seconds",
        "gauge",
        "Platform clock minus lot clock at the last heartbeat.",
        o.clock_skew_secs.load(std::sync::atomic::Ordering::Relaxed),
    );
    if let Some(d) = state.downlink_stats() {
        metric("onepark_lot_downlink_applied_total", "counter", "Downlink messages applied.", n(get(&d.applied)));
        metric(
            "onepark_lot_downlink_rejected_total",
            "counter",
            "Downlink messages dropped (signature, decryption, topic).",
            n(get(&d.rejected)),
        );
        metric(
            "onepark_lot_downlink_confirmed_total",
            "counter",
            "Downlink messages confirmed to the platform.",
            n(get(&d.confirmed)),
        );
    }
    ([("content-type", "text/plain; version=0.0.4")], out)
}

/// Applies specialCar (black/white list) downlinks; the other interfaces
/// are answered `success: false` until their issue lands.
struct Lists {
    store: Store,
}

impl Apply for Lists {
    async fn apply(&mut self, m: &Received) -> Result<(), Refusal> {
        if m.topic.interface != Downlink::SpecialCar {
            return Err(Refusal::Reject(format!("{} is not handled by this lot yet", m.topic.interface)));
        }
        let text = |k: &str| m.params.get(k).and_then(Value::as_str).map(str::to_owned);
        let number = |k: &str| m.params.get(k).and_then(|v| v.as_i64().or_else(|| v.as_str()?.parse().ok()));
        let plate_no = text("plateNo").ok_or_else(|| Refusal::Reject("plateNo missing".into()))?;
        let entry = ListEntry {
            plate_no,
            list_kind: number("operateType").ok_or_else(|| Refusal::Reject("operateType missing".into()))?,
            start_time: text("startTime").unwrap_or_else(|| "0000-01-01 00:00:00".into()),
            end_time: text("endTime").unwrap_or_else(|| "9999-12-31 23:59:59".into()),
            remark: text("remark"),
            request_id: m.request_id,
        };
        let delete = number("operate") == Some(1);
        self.store.set_list(&entry, delete).await.map_err(|e| Refusal::Retry(e.to_string()))
    }
}
