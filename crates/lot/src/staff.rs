//! What the lot's staff do through the API: find sessions, correct a plate
//! (`无车牌`/`未识别` sessions or a misread; reported with
//! uploadModifyCarInData), close a stale session (reported as its exit), keep
//! month cards, and look at or re-send records the sender set aside. Errors
//! are 4xx with the field named.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use onepark_domain::plate::{Plate, PlateError};
use onepark_domain::time::{format_time, parse_time};
use onepark_proto::dict::{CarType, ModifyOperation, PaidType, ParkingType, PlateColor};
use onepark_proto::msg::encode_flat;
use onepark_proto::msg::record::CarInModify;
use onepark_proto::wire::Time;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::barrier::exit_record;
use crate::config::Direction;
use crate::http_error::{ErrorBody, HttpError, Reply};
use crate::schema;
use crate::state::LotState;
use crate::store::{
    Exit, MonthCard, RefusedRecord, Report, Session, SessionQuery, SessionRow, SessionState, Store, StoreError,
};

fn not_open(uid: &str) -> HttpError {
    HttpError::new(StatusCode::NOT_FOUND, format!("uid: no open session `{uid}`"))
}

/// A staff text field: at most `max` characters, no control characters.
fn short_text(field: &str, text: Option<&str>, max: usize) -> Result<(), HttpError> {
    match text {
        Some(t) if t.chars().count() > max || t.chars().any(char::is_control) => {
            Err(HttpError::bad(field, format!("at most {max} characters, no control characters")))
        }
        _ => Ok(()),
    }
}

/// A plate staff typed: a real one (not `无车牌`/`未识别`), in canonical form.
fn real_plate_text(field: &str, text: &str, placeholder: &str) -> Result<String, HttpError> {
    match Plate::parse(text) {
        Ok(p) if !p.kind().is_placeholder() => Ok(p.as_str().to_owned()),
        Ok(_) => Err(HttpError::bad(field, placeholder)),
        Err(e) => Err(plate_refused(field, &e)),
    }
}

/// A plate as the lane records it ([`onepark_domain::plate::reading`]): a
/// search or a path names plates the way cameras read them.
fn plate_text(field: &str, text: &str) -> Result<String, HttpError> {
    onepark_domain::plate::reading(text).map_err(|e| plate_refused(field, &e))
}

/// Chinese first (the booth shows it), then the parser's English.
fn plate_refused(field: &str, e: &PlateError) -> HttpError {
    HttpError::bad(field, format!("{} ({e})", e.zh()))
}

/// A staff body ([`onepark_serve::json`]): an object, fields named in errors (400).
fn parse<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, HttpError> {
    onepark_serve::json::decode(bytes).map_err(|e| HttpError::new(StatusCode::BAD_REQUEST, e.to_string()))
}

#[derive(Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub(crate) struct SessionParams {
    #[param(inline)]
    state: Option<SessionState>,
    /// The plate (normalised like a camera's read).
    #[param(schema_with = schema::read_plate)]
    plate_no: Option<String>,
    /// Entered that day.
    #[param(inline)]
    date: Option<Day>,
    /// Only `无车牌` / `未识别` sessions.
    #[serde(default)]
    unresolved: bool,
    /// At most this many (default 100; below 1 reads as 1, above 100000 as 100000).
    limit: Option<i64>,
}

/// yyyy-MM-dd, kept as given (the handler names it in its error).
#[derive(Deserialize)]
#[serde(transparent)]
pub(crate) struct Day(String);

impl utoipa::PartialSchema for Day {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some(format!("^({})?$", onepark_domain::time::DATE_PATTERN.trim_matches(['^', '$']))))
            .description(Some("yyyy-MM-dd; empty: any day"))
            .into()
    }
}

impl ToSchema for Day {}

#[derive(Serialize, ToSchema)]
pub(crate) struct Items<T: ToSchema> {
    items: Vec<T>,
}

/// Sessions, newest first.
#[utoipa::path(get, path = "/api/sessions", tag = "staff", params(SessionParams),
    responses((status = 200, body = Items<SessionRow>)))]
pub(crate) async fn sessions(
    State(state): State<LotState>,
    Query(p): Query<SessionParams>,
) -> Reply<Items<SessionRow>> {
    let date = p.date.map(|d| d.0).unwrap_or_default();
    if !date.is_empty() && onepark_domain::time::parse_date(&date).is_err() {
        return Err(HttpError::bad("date", "expected yyyy-MM-dd"));
    }
    let plate_no = p.plate_no.as_deref().map(|t| plate_text("plateNo", t)).transpose()?;
    let query = SessionQuery {
        state: p.state,
        plate_no: plate_no.unwrap_or_default(),
        date,
        unresolved: p.unresolved,
        limit: p.limit.unwrap_or(100).clamp(1, 100_000),
        ..SessionQuery::default()
    };
    match state.store().sessions(&query).await {
        Ok(items) => Ok(Json(Items { items })),
        Err(e) => Err(HttpError::internal(e)),
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct Correction {
    /// The real plate (not `无车牌`/`未识别`).
    #[schema(schema_with = schema::real_plate)]
    plate_no: String,
    /// 车牌颜色 (spec §7); default the session's.
    #[schema(schema_with = schema::optional_plate_colors)]
    plate_color: Option<i64>,
    /// 车辆类型 (spec §7); default the session's.
    #[schema(schema_with = schema::optional_car_types)]
    car_type: Option<i64>,
    #[schema(schema_with = schema::operator_schema)]
    operator: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Corrected {
    uid: String,
    plate_no: String,
    /// uploadModifyCarInData
    reported: String,
}

/// Corrects an open session's plate and reports it (uploadModifyCarInData, operateType 0).
#[utoipa::path(post, path = "/api/sessions/{uid}/plate", tag = "staff", request_body = Correction,
    params(("uid" = String, Path, description = "the open session")),
    responses((status = 200, body = Corrected), (status = 404, description = "no open session", body = ErrorBody),
        (status = 409, description = "that plate is already inside", body = ErrorBody)))]
pub(crate) async fn correct_plate(
    State(state): State<LotState>,
    Path(uid): Path<String>,
    staff: Option<axum::Extension<crate::auth::Staff>>,
    bytes: Bytes,
) -> Reply<Corrected> {
    let mut c: Correction = parse(&bytes)?;
    // These go to the platform, which refuses codes outside its dictionary.
    for (field, value, codes) in
        [("plateColor", c.plate_color, PlateColor::CODES), ("carType", c.car_type, CarType::CODES)]
    {
        if let Some(value) = value.filter(|v| !codes.contains(v)) {
            return Err(HttpError::bad(field, format!("{value} is not one of {codes:?}")));
        }
    }
    // It goes to the platform as operatorCode, which refuses control characters.
    short_text("operator", c.operator.as_deref(), schema::MAX_OPERATOR)?;
    // A signed-in person is who did it, whatever the (valid) body says.
    if staff.is_some() {
        c.operator = Some(crate::shift::actor(staff.as_ref(), None));
    }
    // Staff type the plate: it must be a real one (a camera's read is taken as is).
    let plate = real_plate_text("plateNo", &c.plate_no, "a correction names the real plate")?;
    let store = state.store();
    let mut session = match store.open_session(&uid).await {
        Ok(Some(s)) => s,
        Ok(None) => return Err(not_open(&uid)),
        Err(e) => return Err(HttpError::internal(e)),
    };
    let inside = store.open_sessions(std::slice::from_ref(&plate)).await.map_err(HttpError::internal)?;
    if let Some(other) = inside.iter().find(|s| s.uid != uid) {
        let message = format!("plateNo: `{plate}` is already inside as session {}", other.uid);
        return Err(HttpError::new(StatusCode::CONFLICT, message));
    }
    session.plate_no = plate;
    session.plate_color = c.plate_color.unwrap_or(session.plate_color);
    session.car_type = c.car_type.unwrap_or(session.car_type);
    let who = crate::shift::actor(staff.as_ref(), c.operator.as_deref());
    let report = modify_record(&state, &session, c.operator).await.map_err(HttpError::internal)?;
    match store.correct_plate(&session, report).await {
        Ok(()) => {
            state.wake_outbox();
            tracing::info!(uid, plate = session.plate_no, "plate corrected by staff");
            let entry = crate::shift::did(&who, "correct", "", &session.plate_no, &uid);
            crate::shift::record(
                &state,
                crate::store::LedgerEntry { note: format!("→ {}", session.plate_no), ..entry },
            )
            .await;
            Ok(Json(Corrected { uid, plate_no: session.plate_no, reported: "uploadModifyCarInData".into() }))
        }
        Err(StoreError::NotOpen(_)) => Err(not_open(&uid)),
        Err(e) => Err(HttpError::internal(e)),
    }
}

pub(crate) async fn modify_record(
    state: &LotState,
    s: &Session,
    operator: Option<String>,
) -> Result<Report, StoreError> {
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
        created_ms: state.now_ms(),
    })
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct Close {
    /// Why: required, at most 200 characters, no control characters.
    #[schema(schema_with = schema::reason_schema)]
    reason: String,
    #[schema(schema_with = schema::operator_schema)]
    operator: Option<String>,
    /// When the car left, if known (default now; not before the entry).
    time: Option<String>,
    /// The exit lane (default the first exit lane).
    lane: Option<String>,
    /// What is still owed, fen (default 0: a stale session is waived; at most the tariff's fee).
    #[schema(minimum = 0)]
    fee: Option<i64>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Closed {
    uid: String,
    /// The exit time recorded.
    closed: String,
    charge_fee: i64,
    should_pay: i64,
}

/// Closes a session whose car left unseen (or never was there); the exit
/// record goes to the platform like any other.
#[utoipa::path(post, path = "/api/sessions/{uid}/close", tag = "staff", request_body = Close,
    params(("uid" = String, Path, description = "the open session")),
    responses((status = 200, body = Closed), (status = 404, description = "no open session", body = ErrorBody)))]
pub(crate) async fn close(State(state): State<LotState>, Path(uid): Path<String>, bytes: Bytes) -> Reply<Closed> {
    let c: Close = parse(&bytes)?;
    if c.reason.trim().is_empty() {
        return Err(HttpError::bad("reason", "say why the session is closed"));
    }
    short_text("reason", Some(&c.reason), schema::MAX_REASON)?;
    short_text("operator", c.operator.as_deref(), schema::MAX_OPERATOR)?;
    let config = state.config();
    let exits: Vec<&str> =
        config.lanes.iter().filter(|l| l.direction == Direction::Exit).map(|l| l.id.as_str()).collect();
    let lane = match c.lane {
        Some(lane) if exits.contains(&lane.as_str()) => lane,
        Some(lane) => return Err(HttpError::bad("lane", format!("`{lane}` is not an exit lane of this lot"))),
        None => match exits.first() {
            Some(lane) => (*lane).to_owned(),
            None => return Err(HttpError::bad("lane", "this lot has no exit lane")),
        },
    };
    let session = match state.store().open_session(&uid).await {
        Ok(Some(s)) => s,
        Ok(None) => return Err(not_open(&uid)),
        Err(e) => return Err(HttpError::internal(e)),
    };
    let at = match c.time.as_deref().map(parse_time) {
        None => state.now(),
        Some(Ok(t)) => t,
        Some(Err(e)) => return Err(HttpError::bad("time", e)),
    };
    if format_time(at) < session.entry_time {
        return Err(HttpError::bad("time", format!("before the entry at {}", session.entry_time)));
    }
    let charge =
        crate::fee::of_stay(state.store(), &state.config().tariff, &session, at).await.map_err(HttpError::internal)?.0;
    let owed = c.fee.unwrap_or(0);
    if owed < 0 || owed > charge {
        return Err(HttpError::bad("fee", format!("must be between 0 and the tariff's {charge}")));
    }
    let note = format!("{} ({})", c.reason.trim(), c.operator.as_deref().unwrap_or("staff"));
    let time = format_time(at);
    let result = close_session(&state, &session, lane, at, (charge, owed), note).await;
    match result {
        Ok(()) => {
            state.wake_outbox();
            tracing::info!(uid, reason = c.reason, "session closed by staff");
            Ok(Json(Closed { uid, closed: time, charge_fee: charge, should_pay: owed }))
        }
        Err(StoreError::NotOpen(_)) => Err(not_open(&uid)),
        Err(e) => Err(HttpError::internal(e)),
    }
}

/// Closes an open session whose car left unseen: its exit record with the
/// stay's `charge` and what is `owed`, `note` saying why and who; what an exit
/// attempt asked the platform for is void. Staff's close and a parking
/// cloud's delInCar both end a stay this way.
pub(crate) async fn close_session(
    state: &LotState,
    session: &Session,
    lane: String,
    at: chrono::NaiveDateTime,
    (charge, owed): (i64, i64),
    note: String,
) -> Result<(), StoreError> {
    let uid = &session.uid;
    // Left open it would be reported unpaid.
    let now = format_time(state.now());
    let online = state.store().online_bills_of(uid).await?;
    let online = online
        .into_iter()
        .filter(|b| b.state == crate::store::BillState::Open && b.kind == crate::store::BillKind::Exit)
        .map(|b| crate::store::OnlineBill { state: crate::store::BillState::Void, updated_at: now.clone(), ..b })
        .collect();
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
        online,
    };
    let report = exit_record(state, session, &exit).await?;
    state.store().leave(&exit, vec![report], None).await
}

/// Every month card.
#[utoipa::path(get, path = "/api/month-cards", tag = "staff", responses((status = 200, body = Items<MonthCard>)))]
pub(crate) async fn list_cards(State(store): State<Store>) -> Reply<Items<MonthCard>> {
    store.cards().await.map(|items| Json(Items { items })).map_err(HttpError::internal)
}

#[derive(Serialize, ToSchema)]
pub(crate) struct Saved {
    saved: String,
}

/// Creates or replaces a card; errors name the field. `lanes` must be lanes of this lot (400).
#[utoipa::path(post, path = "/api/month-cards", tag = "staff", request_body = MonthCard,
    responses((status = 200, body = Saved), (status = 409, description = "a plate is on another card", body = ErrorBody)))]
pub(crate) async fn put_card(State(state): State<LotState>, bytes: Bytes) -> Reply<Saved> {
    let mut card: MonthCard = parse(&bytes)?;
    if card.id.is_empty() || card.id.len() > 64 || !card.id.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(HttpError::bad("id", "1 to 64 visible ASCII characters"));
    }
    short_text("owner", Some(&card.owner), 50)?;
    if card.plates.is_empty() {
        return Err(HttpError::bad("plates", "list at least one plate"));
    }
    // Staff type these: real plates only, kept in canonical form.
    let mut plates = Vec::new();
    for (i, text) in card.plates.iter().enumerate() {
        let plate = real_plate_text(&format!("plates[{i}]"), text, "a month card names real plates")?;
        if !plates.contains(&plate) {
            plates.push(plate);
        }
    }
    card.plates = plates;
    for (field, value) in [("startTime", &card.start_time), ("endTime", &card.end_time)] {
        if let Err(e) = parse_time(value) {
            return Err(HttpError::bad(field, e));
        }
    }
    if card.end_time < card.start_time {
        return Err(HttpError::bad("endTime", "before startTime"));
    }
    if let Some(lane) = card.lanes.iter().find(|l| !state.config().lanes.iter().any(|c| &c.id == *l)) {
        return Err(HttpError::bad("lanes", format!("no lane `{lane}` in this lot")));
    }
    match state.store().put_card(&card).await {
        Ok(()) => Ok(Json(Saved { saved: card.id })),
        Err(e @ StoreError::PlateOnCard { .. }) => Err(HttpError::new(StatusCode::CONFLICT, e.to_string())),
        Err(e) => Err(HttpError::internal(e)),
    }
}

#[derive(Serialize, ToSchema)]
pub(crate) struct Deleted {
    deleted: String,
}

/// Deletes a card.
#[utoipa::path(delete, path = "/api/month-cards/{id}", tag = "staff", params(("id" = String, Path, description = "the card")),
    responses((status = 200, body = Deleted), (status = 404, description = "no such card", body = ErrorBody)))]
pub(crate) async fn delete_card(State(store): State<Store>, Path(id): Path<String>) -> Reply<Deleted> {
    match store.delete_card(&id).await {
        Ok(true) => Ok(Json(Deleted { deleted: id })),
        Ok(false) => Err(HttpError::new(StatusCode::NOT_FOUND, format!("no month card `{id}`"))),
        Err(e) => Err(HttpError::internal(e)),
    }
}

/// Records set aside: refused by the platform (resultCode 400) or failing for hours (at most 500).
#[utoipa::path(get, path = "/api/outbox/refused", tag = "staff", responses((status = 200, body = Items<RefusedRecord>)))]
pub(crate) async fn refused(State(store): State<Store>) -> Reply<Items<RefusedRecord>> {
    store.refused_records(500).await.map(|items| Json(Items { items })).map_err(HttpError::internal)
}

#[derive(Serialize, ToSchema)]
pub(crate) struct Queued {
    queued: i64,
}

/// Sends a set-aside record again (after the platform or the data was fixed).
#[utoipa::path(post, path = "/api/outbox/{id}/retry", tag = "staff", params(("id" = i64, Path, description = "the record")),
    responses((status = 200, body = Queued), (status = 404, description = "no such set-aside record", body = ErrorBody)))]
pub(crate) async fn retry(State(state): State<LotState>, Path(id): Path<i64>) -> Reply<Queued> {
    match state.store().retry_refused(id, state.now_ms()).await {
        Ok(true) => {
            state.wake_outbox();
            tracing::info!(id, "set-aside record queued again by staff");
            Ok(Json(Queued { queued: id }))
        }
        Ok(false) => Err(HttpError::new(StatusCode::NOT_FOUND, format!("id: no set-aside record {id}"))),
        Err(e) => Err(HttpError::internal(e)),
    }
}

/// Arrears collected at the booth (every bill the platform notified for the plate).
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct ArrearsCollected {
    /// What was taken, fen: the whole of the notified arrears (unPay).
    #[schema(minimum = 0, maximum = 1_000_000_000)]
    amount: i64,
    /// Who, at most 50 characters, no control characters (a signed-in person: their name).
    #[schema(schema_with = schema::operator_schema)]
    operator: Option<String>,
    /// How it was paid (付费方式, spec §7; default 1 cash), for the shift report.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 10)]
    paid_type: Option<i64>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ArrearsReply {
    plate_no: String,
    /// fen
    collected: i64,
    /// cancelOverDueBill: the platform writes the plate's arrears off.
    reported: String,
}

/// Records arrears collected at the booth: the hold is lifted and the
/// platform told (cancelOverDueBill, through the outbox).
#[utoipa::path(post, path = "/api/arrears/{plate}/collected", tag = "staff", request_body = ArrearsCollected,
    params(("plate" = String, Path, description = "the plate held for arrears", pattern = "^[\\u0020-\\u007e\\u00a0-\\u00ac\\u00ae-\\u02ff\\u4e00-\\u9fff]*$")),
    responses((status = 200, body = ArrearsReply),
        (status = 400, description = "the amount is not the notified arrears", body = ErrorBody),
        (status = 404, description = "no arrears notified for the plate", body = ErrorBody)))]
pub(crate) async fn arrears_collected(
    State(state): State<LotState>,
    Path(plate): Path<String>,
    staff: Option<axum::Extension<crate::auth::Staff>>,
    bytes: Bytes,
) -> Reply<ArrearsReply> {
    let c: ArrearsCollected = parse(&bytes)?;
    if c.paid_type.is_some_and(|t| !PaidType::CODES.contains(&t)) {
        return Err(HttpError::bad("paidType", format!("not one of {:?}", PaidType::CODES)));
    }
    short_text("operator", c.operator.as_deref(), schema::MAX_OPERATOR)?;
    let plate = plate_text("plate", &plate)?;
    let store = state.store();
    let Some(notice) = store.arrears(&plate).await.map_err(HttpError::internal)? else {
        return Err(HttpError::new(StatusCode::NOT_FOUND, format!("plate: no arrears notified for `{plate}`")));
    };
    if c.amount != notice.un_pay {
        return Err(HttpError::bad(
            "amount",
            format!("{} fen collected, the arrears are {} fen", c.amount, notice.un_pay),
        ));
    }
    let color = store
        .open_sessions(std::slice::from_ref(&plate))
        .await
        .map_err(HttpError::internal)?
        .first()
        .map(|s| s.plate_color);
    let record = onepark_proto::msg::payment::CancelOverDue {
        parking_code: state.config().parking_code.clone(),
        plate_no: plate.clone(),
        plate_color: color.map(PlateColor::from_code),
    };
    let report =
        Report { uid: None, interface: "cancelOverDueBill", body: encode_flat(&record), created_ms: state.now_ms() };
    if !store.collect_arrears(&plate, report).await.map_err(HttpError::internal)? {
        return Err(HttpError::new(
            StatusCode::NOT_FOUND,
            format!("plate: the arrears of `{plate}` were collected already"),
        ));
    }
    state.wake_outbox();
    tracing::info!(plate, fen = c.amount, operator = ?c.operator, "arrears collected at the booth");
    let who = crate::shift::actor(staff.as_ref(), c.operator.as_deref());
    let entry = crate::shift::did(&who, "arrears", "", &plate, "");
    let paid = crate::store::LedgerEntry { paid_type: Some(c.paid_type.unwrap_or(1)), fen: c.amount, ..entry };
    crate::shift::record(&state, paid).await;
    Ok(Json(ArrearsReply { plate_no: plate, collected: c.amount, reported: "cancelOverDueBill".into() }))
}
