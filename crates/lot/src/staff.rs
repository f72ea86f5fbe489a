//! What the lot's staff do through the API: find sessions, correct a plate
//! (`无车牌`/`未识别` sessions or a misread; reported with
//! uploadModifyCarInData), close a stale session (reported as its exit), keep
//! month cards, and look at or re-send records the sender set aside. Errors
//! are 4xx with the field named.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use onepark_domain::plate::Plate;
use onepark_domain::time::{format_time, parse_time};
use onepark_proto::dict::{CarType, ModifyOperation, ParkingType, PlateColor};
use onepark_proto::msg::encode_flat;
use onepark_proto::msg::record::CarInModify;
use onepark_proto::wire::Time;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::app::LotState;
use crate::barrier::{exit_record, fee};
use crate::config::Direction;
use crate::outbox::now_ms;
use crate::store::{Exit, MonthCard, Report, Session, SessionQuery, StoreError};

type Reply = (StatusCode, Json<Value>);

fn bad(field: &str, message: impl std::fmt::Display) -> Reply {
    (StatusCode::BAD_REQUEST, Json(json!({ "error": format!("{field}: {message}") })))
}

fn internal(e: StoreError) -> Reply {
    tracing::error!(error = %e, "staff request failed");
    (StatusCode::INTERNAL_SERVER_ERROR, Json(json!({ "error": e.to_string() })))
}

fn not_open(uid: &str) -> Reply {
    (StatusCode::NOT_FOUND, Json(json!({ "error": format!("uid: no open session `{uid}`") })))
}

fn parse<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, Reply> {
    serde_json::from_slice(bytes).map_err(|e| bad("body", e))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SessionParams {
    state: Option<String>,
    plate_no: Option<String>,
    date: Option<String>,
    #[serde(default)]
    unresolved: bool,
    limit: Option<i64>,
}

pub(crate) async fn sessions(State(state): State<LotState>, Query(p): Query<SessionParams>) -> Reply {
    let session_state = p.state.unwrap_or_default();
    if !matches!(session_state.as_str(), "" | "open" | "closed") {
        return bad("state", "expected open or closed");
    }
    let date = p.date.unwrap_or_default();
    if !date.is_empty() && onepark_domain::time::parse_date(&date).is_err() {
        return bad("date", "expected yyyy-MM-dd");
    }
    let query = SessionQuery {
        state: session_state,
        plate_no: p.plate_no.as_deref().map(crate::barrier::plate_text).unwrap_or_default(),
        date,
        unresolved: p.unresolved,
        limit: p.limit.unwrap_or(100).clamp(1, 100_000),
    };
    match state.store().sessions(&query).await {
        Ok(items) => (StatusCode::OK, Json(json!({ "items": items }))),
        Err(e) => internal(e),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Correction {
    plate_no: String,
    plate_color: Option<i64>,
    car_type: Option<i64>,
    operator: Option<String>,
}

/// Corrects an open session's plate and reports it (operateType 0).
pub(crate) async fn correct_plate(State(state): State<LotState>, Path(uid): Path<String>, bytes: Bytes) -> Reply {
    let c: Correction = match parse(&bytes) {
        Ok(c) => c,
        Err(reply) => return reply,
    };
    // Staff type the plate: it must be a real one (a camera's read is taken as is).
    let plate = match Plate::parse(&c.plate_no) {
        Ok(p) if !p.kind().is_placeholder() => p.as_str().to_owned(),
        Ok(_) => return bad("plateNo", "a correction names the real plate"),
        Err(e) => return bad("plateNo", e),
    };
    let store = state.store();
    let mut session = match store.open_session(&uid).await {
        Ok(Some(s)) => s,
        Ok(None) => return not_open(&uid),
        Err(e) => return internal(e),
    };
    match store.open_sessions(std::slice::from_ref(&plate)).await {
        Ok(inside) => {
            if let Some(other) = inside.iter().find(|s| s.uid != uid) {
                let message = format!("`{plate}` is already inside as session {}", other.uid);
                return (StatusCode::CONFLICT, Json(json!({ "error": format!("plateNo: {message}") })));
            }
        }
        Err(e) => return internal(e),
    }
    session.plate_no = plate;
    session.plate_color = c.plate_color.unwrap_or(session.plate_color);
    session.car_type = c.car_type.unwrap_or(session.car_type);
    let report = match modify_record(&state, &session, c.operator).await {
        Ok(r) => r,
        Err(e) => return internal(e),
    };
    match store.correct_plate(&session, report).await {
        Ok(()) => {
            state.wake_outbox();
            tracing::info!(uid, plate = session.plate_no, "plate corrected by staff");
            (
                StatusCode::OK,
                Json(json!({ "uid": uid, "plateNo": session.plate_no, "reported": "uploadModifyCarInData" })),
            )
        }
        Err(StoreError::NotOpen(_)) => not_open(&uid),
        Err(e) => internal(e),
    }
}

async fn modify_record(state: &LotState, s: &Session, operator: Option<String>) -> Result<Report, StoreError> {
    let (total, open, free) = state.berths().await?;
    let at = parse_time(&s.entry_time).unwrap_or_else(|_| state.now());
    let record = CarInModify {
        uid: s.uid.clone(),
        arrival_id: s.uid.clone(),
        plate_no: s.plate_no.clone(),
        operate_type: ModifyOperation::Modify,
        car_type: CarType::from_code(s.car_type),
        parking_code: state.config().parking_code.clone(),
        gate_no: None,
        entry_num: s.entry_lane.clone(),
        operator_code: operator,
        total_berth_num: total,
        open_berth_num: open,
        free_berth_num: free,
        arrive_time: Time(at),
        parking_type: ParkingType::from_code(s.parking_type),
        plate_color: PlateColor::from_code(s.plate_color),
        upload_time: Time(state.now()),
    };
    Ok(Report {
        uid: Some(s.uid.clone()),
        interface: "uploadModifyCarInData",
        body: encode_flat(&record),
        created_ms: now_ms(),
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Close {
    reason: String,
    operator: Option<String>,
    /// When the car left, if known (default now).
    time: Option<String>,
    /// The exit lane (default the first exit lane).
    lane: Option<String>,
    /// What is still owed, fen (default 0: a stale session is waived).
    fee: Option<i64>,
}

/// Closes a session whose car left unseen (or never was there); the exit
/// record goes to the platform like any other.
pub(crate) async fn close(State(state): State<LotState>, Path(uid): Path<String>, bytes: Bytes) -> Reply {
    let c: Close = match parse(&bytes) {
        Ok(c) => c,
        Err(reply) => return reply,
    };
    if c.reason.trim().is_empty() {
        return bad("reason", "say why the session is closed");
    }
    let too_long = |text: &str, max| text.chars().count() > max || text.chars().any(char::is_control);
    if too_long(&c.reason, crate::barrier::MAX_REASON) {
        return bad("reason", format!("at most {} characters, no control characters", crate::barrier::MAX_REASON));
    }
    if c.operator.as_deref().is_some_and(|o| too_long(o, crate::barrier::MAX_OPERATOR)) {
        return bad("operator", format!("at most {} characters, no control characters", crate::barrier::MAX_OPERATOR));
    }
    let config = state.config();
    let exits: Vec<&str> =
        config.lanes.iter().filter(|l| l.direction == Direction::Exit).map(|l| l.id.as_str()).collect();
    let lane = match c.lane {
        Some(lane) if exits.contains(&lane.as_str()) => lane,
        Some(lane) => return bad("lane", format!("`{lane}` is not an exit lane of this lot")),
        None => match exits.first() {
            Some(lane) => (*lane).to_owned(),
            None => return bad("lane", "this lot has no exit lane"),
        },
    };
    let session = match state.store().open_session(&uid).await {
        Ok(Some(s)) => s,
        Ok(None) => return not_open(&uid),
        Err(e) => return internal(e),
    };
    let at = match c.time.as_deref().map(parse_time) {
        None => state.now(),
        Some(Ok(t)) => t,
        Some(Err(e)) => return bad("time", e),
    };
    if format_time(at) < session.entry_time {
        return bad("time", format!("before the entry at {}", session.entry_time));
    }
    let charge = match fee(&state, &session, at).await {
        Ok((f, _)) => f,
        Err(e) => return internal(e),
    };
    let owed = c.fee.unwrap_or(0);
    if owed < 0 || owed > charge {
        return bad("fee", format!("must be between 0 and the tariff's {charge}"));
    }
    let note = format!("{} ({})", c.reason.trim(), c.operator.as_deref().unwrap_or("staff"));
    let exit = Exit {
        uid: uid.clone(),
        lane,
        time: format_time(at),
        charge_fee: charge,
        should_pay: owed,
        paid: 0,
        fuzzy: false,
        note: Some(note),
        bill: None,
    };
    let result = match exit_record(&state, &session, &exit).await {
        Ok(report) => state.store().leave(&exit, vec![report], None).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => {
            state.wake_outbox();
            tracing::info!(uid, reason = c.reason, "session closed by staff");
            (StatusCode::OK, Json(json!({ "uid": uid, "closed": exit.time, "chargeFee": charge, "shouldPay": owed })))
        }
        Err(StoreError::NotOpen(_)) => not_open(&uid),
        Err(e) => internal(e),
    }
}

pub(crate) async fn list_cards(State(state): State<LotState>) -> Reply {
    match state.store().cards().await {
        Ok(cards) => (StatusCode::OK, Json(json!({ "items": cards }))),
        Err(e) => internal(e),
    }
}

/// Creates or replaces a card; errors name the field.
pub(crate) async fn put_card(State(state): State<LotState>, bytes: Bytes) -> Reply {
    let card: MonthCard = match parse(&bytes) {
        Ok(c) => c,
        Err(reply) => return reply,
    };
    if card.id.trim().is_empty() {
        return bad("id", "must not be empty");
    }
    if card.plates.is_empty() || card.plates.iter().any(|p| p.trim().is_empty()) {
        return bad("plates", "list at least one plate");
    }
    for (field, value) in [("startTime", &card.start_time), ("endTime", &card.end_time)] {
        if let Err(e) = parse_time(value) {
            return bad(field, e);
        }
    }
    if card.end_time < card.start_time {
        return bad("endTime", "before startTime");
    }
    if let Some(lane) = card.lanes.iter().find(|l| !state.config().lanes.iter().any(|c| &c.id == *l)) {
        return bad("lanes", format!("no lane `{lane}` in this lot"));
    }
    match state.store().put_card(&card).await {
        Ok(()) => (StatusCode::OK, Json(json!({ "saved": card.id }))),
        Err(e) => internal(e),
    }
}

pub(crate) async fn delete_card(State(state): State<LotState>, Path(id): Path<String>) -> Reply {
    match state.store().delete_card(&id).await {
        Ok(true) => (StatusCode::OK, Json(json!({ "deleted": id }))),
        Ok(false) => (StatusCode::NOT_FOUND, Json(json!({ "error": format!("no month card `{id}`") }))),
        Err(e) => internal(e),
    }
}

/// Records set aside: refused by the platform (resultCode 400) or failing for hours.
pub(crate) async fn refused(State(state): State<LotState>) -> Reply {
    match state.store().refused_records(500).await {
        Ok(items) => (StatusCode::OK, Json(json!({ "items": items }))),
        Err(e) => internal(e),
    }
}

/// Sends a set-aside record again (after the platform or the data was fixed).
pub(crate) async fn retry(State(state): State<LotState>, Path(id): Path<i64>) -> Reply {
    match state.store().retry_refused(id, now_ms()).await {
        Ok(true) => {
            state.wake_outbox();
            tracing::info!(id, "set-aside record queued again by staff");
            (StatusCode::OK, Json(json!({ "queued": id })))
        }
        Ok(false) => (StatusCode::NOT_FOUND, Json(json!({ "error": format!("id: no set-aside record {id}") }))),
        Err(e) => internal(e),
    }
}
