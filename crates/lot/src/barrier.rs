//! The lane API for cameras and barrier controllers: entry, exit and a
//! barrier opened by staff. Every decision flows read → lane check →
//! lookups → decision (`lane`) → store (session change, outbox rows and
//! photo in one transaction) → reply. A photo never decides the barrier: a
//! bad one is reported in the reply and left out.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{Datelike, NaiveDateTime};
use onepark_domain::plate::{self, PlateError};
use onepark_domain::time::{format_time, parse_time};
use onepark_proto::dict::{BillWay, CarType, PaidType, ParkingType, PayScene, PhotoType, PlateColor};
use onepark_proto::msg::encode_flat;
use onepark_proto::msg::record::{CarIn, CarOut, PayRecord, Photo};
use onepark_proto::wire::Time;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa::openapi::schema::{ObjectBuilder, Type};

use crate::config::{Direction, Lane};
use crate::feed::LaneEvent;
use crate::lane::{self, Deny, ExitFacts, ExitPlan, ExitStep, Leave, Match, PayPath};
use crate::payments;
use crate::schema;
use crate::state::LotState;
use crate::store::{Bill, BillKind, BillState, Exit, OnlineBill, Report, Session, StoreError, StoredPhoto};

/// uploadPhoto's `file` may hold 500,000 Base64 characters (D-33): 375,000 bytes.
const MAX_PHOTO_BYTES: usize = 375_000;

/// A camera's read at a lane. Unknown fields are ignored: cameras add their
/// own (confidence, vendor ids), and the barrier must not stay closed for that.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Read {
    /// As read; empty or absent means unrecognised (`未识别`); normalised (`鲁b-12345` → `鲁B12345`).
    /// A control or invisible character (NUL, ESC, zero-width space, U+202E …) is refused (400).
    #[schema(schema_with = schema::read_plate)]
    plate_no: Option<String>,
    /// 车牌颜色 (spec §7); default 1 blue.
    #[serde(default = "blue")]
    #[schema(schema_with = plate_colors)]
    plate_color: i64,
    /// 车辆类型 (spec §7); default 1 small.
    #[serde(default = "small")]
    #[schema(schema_with = car_types)]
    car_type: i64,
    /// Event time, yyyy-MM-dd HH:mm:ss; default (absent, null or empty) now. More than
    /// 10 minutes ahead of the lot's clock, or before 2000, is refused.
    time: Option<String>,
    /// Exit: what was paid at the booth or kiosk, fen (reported as a bill).
    #[schema(minimum = 0, maximum = 1_000_000_000)]
    paid: Option<i64>,
    /// Exit: how it was paid (付费方式, spec §7; default 1 cash).
    #[serde(default = "cash")]
    #[schema(schema_with = paid_types)]
    paid_type: i64,
    /// Exit: where it was paid (付费场景; default 103 at the exit).
    #[serde(default = "at_gate")]
    #[schema(schema_with = pay_scenes)]
    pay_scene: i64,
    /// Exit: when the payment channel confirmed it (default the exit time; unreadable: the exit time).
    deal_time: Option<String>,
    /// The lane camera's JPEG, Base64 (a bad one is left out, never decides the barrier).
    photo: Option<String>,
    /// Exit: the session, when the plate cannot find it (no plate, a ticket's QR code);
    /// at most 64 visible ASCII characters (blank: none).
    #[schema(schema_with = uid_schema)]
    uid: Option<String>,
}

fn codes(codes: &[i64], description: &str) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .enum_values(Some(codes.iter().copied()))
        .description(Some(description))
}

fn plate_colors() -> ObjectBuilder {
    codes(PlateColor::CODES, "车牌颜色 (spec §7); default 1 blue")
}

fn car_types() -> ObjectBuilder {
    codes(CarType::CODES, "车辆类型 (spec §7); default 1 small")
}

fn paid_types() -> ObjectBuilder {
    codes(PaidType::CODES, "付费方式 (spec §7); default 1 cash")
}

fn pay_scenes() -> ObjectBuilder {
    codes(PayScene::CODES, "付费场景 (spec §7); default 103 at the exit")
}

fn uid_schema() -> ObjectBuilder {
    // Surrounding blanks are trimmed; blank means none.
    schema::nullable_string()
        .pattern(Some(r"^\s*([!-~]{1,64})?\s*$"))
        .description(Some("the session's uid, at most 64 visible ASCII characters"))
}

/// The lane's answer: open or not, why, and what the lane shows. HTTP 200
/// for every decision; 400 (`bad_request`, `error` names the field), 404
/// (`unknown_lane`) and 500 (`error`, storage failed: open by hand) say
/// the request could not be decided.
#[derive(Serialize, ToSchema, Default)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Decision {
    open: bool,
    /// Why not: blacklisted, full, already_inside, card_expired, card_not_for_lane, card_odd_even,
    /// monthly_only, locked, no_session, unpaid, arrears, unknown_lane, wrong_direction, bad_request, error.
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    /// For the lane's display (Chinese).
    msg: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    uid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    plate_no: Option<String>,
    /// Entry: `无车牌`/`未识别`; staff must resolve the plate.
    #[serde(skip_serializing_if = "Option::is_none")]
    unresolved: Option<bool>,
    /// Exit: the tariff's fee, fen.
    #[serde(skip_serializing_if = "Option::is_none")]
    fee: Option<i64>,
    /// Exit refused as unpaid: still owed, fen.
    #[serde(skip_serializing_if = "Option::is_none")]
    due: Option<i64>,
    /// Exit: how it was paid when not at the booth: no_stop (deducted by the platform),
    /// after_leave (settled after the car left), booth (collected after an online attempt).
    #[serde(skip_serializing_if = "Option::is_none")]
    paid_by: Option<String>,
    /// Exit matched by one OCR-confusable character.
    #[serde(skip_serializing_if = "Option::is_none")]
    fuzzy: Option<bool>,
    /// Exit: uid, plate or fuzzy.
    #[serde(skip_serializing_if = "Option::is_none")]
    matched_by: Option<String>,
    /// Opened by hand: the audit entry.
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<i64>,
    /// bad_request: the field and the problem.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    /// error: what failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
    /// Why the photo was left out.
    #[serde(skip_serializing_if = "Option::is_none")]
    photo: Option<String>,
}

/// Boxed: a decision has many optional fields, and refusals travel as `Err`.
pub(crate) type LaneReply = (StatusCode, Json<Box<Decision>>);

/// The answers of a lane event, for the API document.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)] // only documents the answers
enum LaneAnswers {
    #[response(status = 200, description = "decided")]
    Decided(Decision),
    #[response(status = 400, description = "bad_request: the error names the field")]
    BadRequest(Decision),
    #[response(status = 404, description = "unknown_lane")]
    UnknownLane(Decision),
    #[response(status = 500, description = "storage failed: open by hand")]
    Failed(Decision),
}

fn decided(decision: Decision) -> LaneReply {
    (StatusCode::OK, Json(Box::new(decision)))
}

impl Read {
    /// The plate as recorded: [`lane_event`] replaced the read with its
    /// [`plate::reading`] before anything else looked at it.
    fn plate(&self) -> String {
        self.plate_no.clone().unwrap_or_else(|| plate::UNRECOGNISED.to_owned())
    }

    fn paid(&self) -> i64 {
        self.paid.unwrap_or(0)
    }

    /// The session named by the read, when it names one.
    fn uid(&self) -> Option<&str> {
        self.uid.as_deref().map(str::trim).filter(|u| !u.is_empty())
    }

    /// Fields a reply must refuse, each named (anything absent falls back
    /// to a default): a camera that sends nonsense must hear it at once,
    /// not after the platform refused the record hours later.
    fn check(&self) -> Result<(), LaneReply> {
        let code = |field: &str, value: i64, codes: &[i64]| {
            if codes.contains(&value) {
                Ok(())
            } else {
                Err(bad_request(field, format!("{value} 不在数据字典范围内（{codes:?}）")))
            }
        };
        code("carType", self.car_type, CarType::CODES)?;
        code("plateColor", self.plate_color, PlateColor::CODES)?;
        code("paidType", self.paid_type, PaidType::CODES)?;
        code("payScene", self.pay_scene, PayScene::CODES)?;
        if let Some(uid) = self.uid()
            && (uid.chars().count() > 64 || !uid.bytes().all(|b| b.is_ascii_graphic()))
        {
            return Err(bad_request("uid", "流水号最多 64 个可见 ASCII 字符"));
        }
        match self.paid() {
            0..=1_000_000_000 => Ok(()),
            _ => Err(bad_request("paid", "must be between 0 and 1000000000 fen")),
        }
    }
}

fn blue() -> i64 {
    PlateColor::Blue.code()
}

fn small() -> i64 {
    1
}

fn cash() -> i64 {
    PaidType::Cash.code()
}

fn at_gate() -> i64 {
    PayScene::AtGate.code()
}

/// Parses a JSON body; a malformed one gets a reply naming the problem
/// (axum's extractor would answer plain text).
fn body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, LaneReply> {
    onepark_serve::json::decode(bytes).map_err(|e| {
        let error = e.to_string();
        let decision = Decision {
            reason: Some("bad_request".into()),
            msg: format!("请求不是有效的 JSON 对象：{error}"),
            error: Some(error),
            ..Decision::default()
        };
        (StatusCode::BAD_REQUEST, Json(Box::new(decision)))
    })
}

/// The barrier stays closed; an unknown lane is not a decision but a
/// misconfigured caller (404).
fn closed(deny: Deny) -> Decision {
    Decision { reason: Some(deny.code().into()), msg: deny.zh(), ..Decision::default() }
}

fn refused(deny: Deny) -> LaneReply {
    let status = if deny == Deny::UnknownLane { StatusCode::NOT_FOUND } else { StatusCode::OK };
    (status, Json(Box::new(closed(deny))))
}

fn failed(e: impl std::fmt::Display) -> LaneReply {
    tracing::error!(error = %e, "lane request failed");
    let decision = Decision {
        reason: Some("error".into()),
        msg: "系统错误，请人工处理".into(),
        detail: Some(e.to_string()),
        ..Decision::default()
    };
    (StatusCode::INTERNAL_SERVER_ERROR, Json(Box::new(decision)))
}

fn bad_request(field: &str, e: impl std::fmt::Display) -> LaneReply {
    let decision = Decision {
        reason: Some("bad_request".into()),
        msg: format!("{field}：{e}"),
        error: Some(format!("{field}: {e}")),
        ..Decision::default()
    };
    (StatusCode::BAD_REQUEST, Json(Box::new(decision)))
}

/// The plate as the platform wants it (Q6, [`plate::reading`]): normalised,
/// `未识别` when empty; a read the parser does not know is kept as read — the
/// barrier still decides; a control or invisible character is a 400 naming
/// `field`, before the barrier decides anything.
pub(crate) fn plate_text(field: &str, read: &str) -> Result<String, LaneReply> {
    plate::reading(read).map_err(|e| plate_refused(field, &e))
}

/// A plate the parser refused: Chinese first on the lane's display, the field named.
pub(crate) fn plate_refused(field: &str, e: &PlateError) -> LaneReply {
    let decision = Decision {
        reason: Some("bad_request".into()),
        msg: format!("{field}：{}", e.zh()),
        error: Some(format!("{field}: {e}")),
        ..Decision::default()
    };
    (StatusCode::BAD_REQUEST, Json(Box::new(decision)))
}

/// `无车牌` / `未识别`: the session exists but staff must resolve who it is.
fn placeholder(plate: &str) -> bool {
    plate == plate::NO_PLATE || plate == plate::UNRECOGNISED
}

/// A lane event's time: now when absent. Ahead of the lot's clock by more
/// than [`MAX_AHEAD_SECS`] or before 2000 is refused (the platform would
/// refuse the record, and a far-future stamp would outlive every true one).
fn event_time(state: &LotState, time: Option<&str>) -> Result<NaiveDateTime, LaneReply> {
    let now = state.now();
    let Some(t) = time.map(str::trim).filter(|t| !t.is_empty()) else { return Ok(now) };
    let at = parse_time(t).map_err(|e| bad_request("time", e))?;
    if (at - now).num_seconds() > MAX_AHEAD_SECS {
        return Err(bad_request("time", format!("{t} 晚于车场时间 {} 超过 {MAX_AHEAD_SECS} 秒", format_time(now))));
    }
    if at.year() < 2000 {
        return Err(bad_request("time", format!("{t} 早于 2000 年")));
    }
    Ok(at)
}

/// How far ahead of the lot's clock a camera's event time may be.
const MAX_AHEAD_SECS: i64 = 600;

/// A staff text field: required or not, at most `max` characters, no control characters.
pub(crate) fn staff_text(field: &str, text: Option<&str>, max: usize, required: bool) -> Result<(), LaneReply> {
    let text = text.map(str::trim).unwrap_or_default();
    if required && text.is_empty() {
        return Err(bad_request(field, "必须填写"));
    }
    if text.chars().count() > max {
        return Err(bad_request(field, format!("最多 {max} 个字符")));
    }
    if text.chars().any(char::is_control) {
        return Err(bad_request(field, "不能包含控制字符"));
    }
    Ok(())
}

/// The read's photo, if any, to store with the change (its uploadPhoto
/// joins `reports`), or why it was left out.
fn photo(
    state: &LotState,
    read: &Read,
    uid: &str,
    kind: PhotoType,
    at: NaiveDateTime,
    reports: &mut Vec<Report>,
) -> (Option<StoredPhoto>, Option<String>) {
    match stored_photo(state, read, uid, kind, at) {
        Ok(Some((stored, report))) => {
            reports.push(report);
            (Some(stored), None)
        }
        Ok(None) => (None, None),
        Err(note) => (None, Some(note)),
    }
}

fn stored_photo(
    state: &LotState,
    read: &Read,
    uid: &str,
    kind: PhotoType,
    at: NaiveDateTime,
) -> Result<Option<(StoredPhoto, Report)>, String> {
    let Some(file) = read.photo.as_deref().filter(|f| !f.trim().is_empty()) else { return Ok(None) };
    let jpeg = onepark_proto::msg::record::decode_photo_file(file).map_err(|e| e.zh())?;
    if jpeg.len() > MAX_PHOTO_BYTES {
        return Err(format!("照片 {} 字节，超过上传上限 {MAX_PHOTO_BYTES} 字节", jpeg.len()));
    }
    let photo_id = format!("{uid}-{}", kind.code());
    let name = format!("{photo_id}.jpg");
    let record = Photo {
        uid: uid.to_owned(),
        parking_code: state.config().parking_code.clone(),
        photo_id: photo_id.clone(),
        time: Time(at),
        photo_type: kind,
        name: name.clone(),
        upload_time: Time(state.now()),
    };
    let report = Report {
        uid: Some(uid.to_owned()),
        interface: "uploadPhoto",
        body: encode_flat(&record),
        created_ms: state.now_ms(),
    };
    let stored =
        StoredPhoto { photo_id, uid: uid.to_owned(), photo_type: kind.code(), time: format_time(at), name, jpeg };
    Ok(Some((stored, report)))
}

fn with_photo_note(decision: Decision, note: Option<String>) -> LaneReply {
    decided(Decision { photo: note.map(|note| format!("未上传：{note}")), ..decision })
}

/// What every lane event starts with: the read, its lane (the right way
/// round) and its time; or the reply refusing it.
fn lane_event(
    state: &LotState,
    lane: &str,
    direction: Direction,
    bytes: &[u8],
) -> Result<(Read, Lane, NaiveDateTime), LaneReply> {
    let mut read: Read = body(bytes)?;
    read.check()?;
    read.plate_no = Some(plate_text("plateNo", read.plate_no.as_deref().unwrap_or_default())?);
    let lane = state.lane(lane, direction).map_err(refused)?.clone();
    let at = event_time(state, read.time.as_deref())?;
    Ok((read, lane, at))
}

/// A car at an entry lane: open or not (a session, its entry record and photo
/// are stored before the answer).
#[utoipa::path(post, path = "/api/lanes/{lane}/entry", tag = "lane", request_body = Read,
    params(("lane" = String, Path, description = "the lane's id")), responses(LaneAnswers))]
pub(crate) async fn entry(State(state): State<LotState>, Path(lane): Path<String>, bytes: Bytes) -> LaneReply {
    let (read, lane, at) = match lane_event(&state, &lane, Direction::Entry, &bytes) {
        Ok(event) => event,
        Err(reply) => return reply,
    };
    let reply = decide_entry(&state, &lane, &read, at).await;
    remember(&state, &lane, &read, at, &reply, PhotoType::Entry);
    reply
}

async fn decide_entry(state: &LotState, lane: &Lane, read: &Read, at: NaiveDateTime) -> LaneReply {
    match enter(state, lane, read, at).await {
        Ok(Ok((uid, plate, note))) => {
            let unresolved = placeholder(&plate);
            let msg = if unresolved {
                "欢迎光临（无牌车，出场时请出示入场凭证）"
            } else {
                "欢迎光临"
            };
            let decision = Decision {
                open: true,
                uid: Some(uid),
                plate_no: Some(plate),
                unresolved: Some(unresolved),
                msg: msg.into(),
                ..Decision::default()
            };
            with_photo_note(decision, note)
        }
        Ok(Err(deny)) => refused(deny),
        Err(e) => failed(e),
    }
}

/// Ok(Ok((uid, plate, photo left out because))) when the barrier opens.
async fn enter(
    state: &LotState,
    lane: &Lane,
    read: &Read,
    at: NaiveDateTime,
) -> Result<Result<(String, String, Option<String>), Deny>, StoreError> {
    let store = state.store();
    let plate = read.plate();
    let now = format_time(at);
    // A car without a readable plate can be on no list and no card; several may be inside.
    let known = !placeholder(&plate);
    let (black, white) = if known { store.lists(&plate, &now).await? } else { (false, false) };
    if known && let Some(inside) = store.open_sessions(std::slice::from_ref(&plate)).await?.into_iter().next() {
        return Ok(Err(Deny::AlreadyInside { uid: inside.uid }));
    }
    let card = if known { store.card_of(&plate).await? } else { None };
    let card = match card {
        // The black list wins over a card (checked first by lane::entry).
        Some((card, other_inside)) if !black => {
            match lane::month_card(&card, &plate, &lane.id, &now, other_inside) {
                Ok(lane::CardUse::Monthly) if lane.monthly => Some(card.id),
                // A lane for temporary cars only: the card holder parks as one.
                Ok(lane::CardUse::Monthly) => None,
                Ok(lane::CardUse::Temporary) => None,
                Err(deny) => return Ok(Err(deny)),
            }
        }
        _ => None,
    };
    // A visitor booked through the cloud (3.14) comes in within its window,
    // also at a lane for card holders and into a full lot: the berth is theirs.
    let visitor = if known && card.is_none() && !black { store.visitor_at(&plate, &now).await? } else { None };
    let visitor = visitor.filter(|v| v.channel.as_ref().is_none_or(|c| *c == lane.id));
    if card.is_none() && !lane.temporary && !black && visitor.is_none() {
        return Ok(Err(Deny::MonthlyOnly));
    }
    let (total, open, free) = state.berths().await?;
    if let Err(deny) = lane::entry(black, white || visitor.is_some(), card.is_none(), free) {
        if deny == Deny::Blacklisted {
            let (channel, at) = (lane.id.clone(), at);
            let alarm = onepark_cloudpark::command::Report::BlacklistAlarm {
                plate_number: plate.clone(),
                channel: channel.clone(),
                channel_name: channel,
                at,
            };
            crate::cloudreport::report(state, alarm).await;
        }
        return Ok(Err(deny));
    }
    let parking_type = if card.is_some() { ParkingType::Monthly } else { ParkingType::Temporary };
    let config = state.config();
    // The uid carries milliseconds (D-18); two cars read in the same second and
    // millisecond on one lane would collide, so step to the next free one.
    let millis = i64::from(state.clock().now().timestamp_subsec_millis());
    for step in 0..50 {
        let stamped = at + chrono::Duration::milliseconds((millis + step) % 1000);
        let uid = onepark_proto::uid::build(&config.parking_code, &lane.id, stamped)
            .unwrap_or_else(|_| format!("{}{}{}", config.parking_code, lane.id, stamped.format("%Y%m%d%H%M%S%3f")));
        let session = Session {
            uid: uid.clone(),
            plate_no: plate.clone(),
            plate_color: read.plate_color,
            car_type: read.car_type,
            parking_type: parking_type.code(),
            entry_lane: lane.id.clone(),
            entry_time: now.clone(),
            card_id: card.clone(),
        };
        let mut reports = vec![entry_report(state, &session, (total, open, free), at)];
        let (stored, note) = photo(state, read, &uid, PhotoType::Entry, at, &mut reports);
        match store.enter(&session, reports, stored.as_ref()).await {
            Ok(()) => {
                state.wake_outbox();
                if let Some(v) = &visitor {
                    store.use_visitor(&v.pass_code).await?;
                    tracing::info!(
                        plate,
                        pass_code = v.pass_code,
                        free = v.free(),
                        "a visitor entered on a reservation"
                    );
                }
                return Ok(Ok((uid, plate, note)));
            }
            // Another lane let the same plate in a moment ago (the index on open plates).
            Err(StoreError::Db(sqlx::Error::Database(e))) if e.message().contains("sessions.plate_no") => {
                let inside = store.open_sessions(std::slice::from_ref(&plate)).await?;
                return Ok(Err(Deny::AlreadyInside { uid: inside.first().map(|s| s.uid.clone()).unwrap_or_default() }));
            }
            Err(StoreError::Db(sqlx::Error::Database(e))) if e.is_unique_violation() => continue,
            Err(e) => return Err(e),
        }
    }
    Err(StoreError::UidExhausted)
}

/// The entry record (uploadCarInData) of a session starting at `at` with
/// the lot's berths `(total, open, free)` before it.
pub(crate) fn entry_report(
    state: &LotState,
    session: &Session,
    (total, open, free): (i64, i64, i64),
    at: NaiveDateTime,
) -> Report {
    let parking_type = ParkingType::from_code(session.parking_type);
    let record = CarIn {
        uid: session.uid.clone(),
        arrival_id: session.uid.clone(),
        plate_no: session.plate_no.clone(),
        car_type: CarType::from_code(session.car_type),
        parking_code: state.config().parking_code.clone(),
        gate_no: None,
        entry_num: session.entry_lane.clone(),
        operator_code: None,
        total_berth_num: total,
        open_berth_num: open,
        free_berth_num: if parking_type == ParkingType::Temporary { (free - 1).max(0) } else { free },
        arrive_time: Time(at),
        parking_type,
        plate_color: PlateColor::from_code(session.plate_color),
        upload_time: Time(state.now()),
    };
    Report {
        uid: Some(session.uid.clone()),
        interface: "uploadCarInData",
        body: encode_flat(&record),
        created_ms: state.now_ms(),
    }
}

/// A car at an exit lane: its session found (plate, one OCR-confusable
/// character, or uid), its fee, open when paid.
#[utoipa::path(post, path = "/api/lanes/{lane}/exit", tag = "lane", request_body = Read,
    params(("lane" = String, Path, description = "the lane's id")), responses(LaneAnswers))]
pub(crate) async fn exit(
    State(state): State<LotState>,
    Path(lane): Path<String>,
    staff: Option<axum::Extension<crate::auth::Staff>>,
    bytes: Bytes,
) -> LaneReply {
    let (read, lane, at) = match lane_event(&state, &lane, Direction::Exit, &bytes) {
        Ok(event) => event,
        Err(reply) => return reply,
    };
    let reply = match leave(&state, &lane, &read, at).await {
        Ok(reply) => reply,
        Err(e) => failed(e),
    };
    remember(&state, &lane, &read, at, &reply, PhotoType::Exit);
    // Money a person took at the exit goes to their shift (a kiosk's is no one's).
    let d = &reply.1.0;
    if let (Some(_), Some(paid)) = (&staff, read.paid.filter(|p| *p > 0))
        && d.open
    {
        let who = crate::shift::actor(staff.as_ref(), None);
        let entry = crate::shift::did(
            &who,
            "fee",
            &lane.id,
            d.plate_no.as_deref().unwrap_or(""),
            d.uid.as_deref().unwrap_or(""),
        );
        crate::shift::record(&state, crate::store::LedgerEntry { paid_type: Some(read.paid_type), fen: paid, ..entry })
            .await;
    }
    reply
}

/// The booth's feed hears of every decided lane event.
fn remember(state: &LotState, lane: &Lane, read: &Read, at: NaiveDateTime, reply: &LaneReply, kind: PhotoType) {
    let d = &reply.1.0;
    let with_photo = read.photo.as_deref().is_some_and(|f| !f.trim().is_empty()) && d.photo.is_none();
    let photo_id = d.uid.as_ref().filter(|_| with_photo && (d.open || kind == PhotoType::Entry));
    // A car held at an exit: its photo waits for the booth to let it out.
    if kind == PhotoType::Exit && !d.open && with_photo {
        state.feed().hold_photo(&lane.id, &format_time(at), read.photo.as_deref().unwrap_or_default());
    }
    state.feed().push(LaneEvent {
        at: format_time(at),
        lane: lane.id.clone(),
        direction: lane.direction,
        plate_no: d.plate_no.clone().unwrap_or_else(|| read.plate()),
        open: d.open,
        reason: d.reason.clone(),
        msg: d.msg.clone(),
        uid: d.uid.clone(),
        fee: d.fee,
        due: d.due,
        photo_id: photo_id.map(|uid| format!("{uid}-{}", kind.code())),
    });
}

/// How the exit found its session.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Found {
    Plate(Match),
    Uid,
}

async fn find_session(state: &LotState, read: &Read) -> Result<Option<(Session, Found)>, StoreError> {
    let store = state.store();
    // A ticket's uid wins. One of a stay that already left finds nothing: a
    // second click at the booth must not close another car's stay by its
    // plate. Only an unknown (mistyped) uid falls back to the plate.
    if let Some(uid) = read.uid() {
        if let Some(session) = store.open_session(uid).await? {
            return Ok(Some((session, Found::Uid)));
        }
        if store.known_session(uid).await? {
            return Ok(None);
        }
    }
    let plate = read.plate();
    if placeholder(&plate) {
        return Ok(None);
    }
    let candidates = store.open_sessions(&lane::candidates(&plate)).await?;
    let mut matched: Vec<(Session, Match)> =
        candidates.into_iter().filter_map(|s| lane::plate_match(&s.plate_no, &plate).map(|m| (s, m))).collect();
    // An exact match wins; a fuzzy one only when it is the only candidate.
    matched.sort_by_key(|(_, m)| *m != Match::Exact);
    Ok(match matched.as_slice() {
        [(s, m @ Match::Exact), ..] | [(s, m @ Match::Fuzzy)] => Some((s.clone(), Found::Plate(*m))),
        _ => None,
    })
}

/// The exit record for `exit` of `session`.
pub(crate) async fn exit_record(state: &LotState, session: &Session, exit: &Exit) -> Result<Report, StoreError> {
    let (total, open, free) = state.berths().await?;
    let at = parse_time(&exit.time).unwrap_or_else(|_| state.now());
    let record = CarOut {
        uid: session.uid.clone(),
        exit_id: format!("{}X", session.uid),
        plate_no: session.plate_no.clone(),
        car_type: CarType::from_code(session.car_type),
        parking_code: state.config().parking_code.clone(),
        gate_no: None,
        operator_code: None,
        total_berth_num: total,
        open_berth_num: open,
        free_berth_num: if session.card_id.is_none() { (free + 1).min(open) } else { free },
        arrive_time: Time(parse_time(&session.entry_time).unwrap_or(at)),
        parking_type: ParkingType::from_code(session.parking_type),
        end_time: Time(at),
        entry_num: session.entry_lane.clone(),
        out_num: exit.lane.clone(),
        plate_color: PlateColor::from_code(session.plate_color),
        upload_time: Time(state.now()),
        charge_fee: exit.charge_fee,
        should_pay: exit.should_pay,
    };
    Ok(Report {
        uid: Some(session.uid.clone()),
        interface: "uploadCarOutData",
        body: encode_flat(&record),
        created_ms: state.now_ms(),
    })
}

/// An exit: the facts gathered (session, fee, lists, arrears, the bill an
/// earlier attempt opened, prepayments), decided by [`lane::exit_plan`] —
/// asking the platform in between when it says so — and the plan applied.
async fn leave(state: &LotState, lane: &Lane, read: &Read, at: NaiveDateTime) -> Result<LaneReply, StoreError> {
    let Some((session, found)) = find_session(state, read).await? else {
        return Ok(refused(Deny::NoSession));
    };
    // A locked plate stays until its owner unlocks it, whatever is paid.
    if let Some(lock) = state.store().lock_of(&session.plate_no).await? {
        tracing::warn!(plate = session.plate_no, locker = lock.locker, lane = lane.id, "a locked plate at the exit");
        return Ok(decided(Decision { uid: Some(session.uid), ..closed(Deny::Locked) }));
    }
    let (fee, whitelisted, coupons) =
        crate::fee::with_coupons(state.store(), &state.config().tariff, &session, at).await?;
    let arrears = payments::arrears_hold(state, &session)
        .await?
        .map(|notice| lane::Arrears { count: notice.over_due_count, amount: notice.un_pay });
    let bill_id = payments::exit_bill_id(&session.uid);
    let earlier = state.store().online_bill(&bill_id).await?.filter(|b| b.state == BillState::Open);
    let facts = ExitFacts {
        at,
        fee,
        whitelisted,
        arrears,
        asked_before: earlier.as_ref().map(|b| b.should_pay),
        prepaid: payments::prepaid(state, &session.uid).await?,
        paid: read.paid(),
    };
    let plan = match lane::exit_plan(&facts) {
        ExitStep::Decided(plan) => plan,
        ExitStep::AskPlatform { due } => {
            let answer = payments::at_exit(state, &session, due, &lane.id, at).await?;
            lane::exit_answered(&facts, due, answer)
        }
    };
    match plan {
        ExitPlan::Hold { deny, why, remember_bill } => {
            let now = format_time(at);
            if let Some(due) = remember_bill {
                let mut bill = OnlineBill::open(BillKind::Exit, bill_id, &session, &now, due);
                bill.path = Some(PayPath::Booth.code().into());
                state.store().put_online_bill(&bill).await?;
            }
            let due = match deny {
                Deny::Arrears { amount, .. } => Some(amount),
                Deny::Unpaid { due } => Some(due),
                _ => None,
            };
            let closed = closed(deny);
            let msg = match why {
                Some(why) => format!("{why}；{}", closed.msg),
                None => closed.msg.clone(),
            };
            Ok(decided(Decision { uid: Some(session.uid), fee: Some(fee), due, msg, ..closed }))
        }
        ExitPlan::Open(plan) => {
            let (uid, plate) = (session.uid.clone(), session.plate_no.clone());
            let reply = open_exit(state, lane, read, &facts, (session, found), earlier, plan).await?;
            if reply.1.open && !coupons.is_empty() {
                // The stay left with them: used up (a crash before this leaves them for the plate's next stay).
                state.store().redeem_coupons(&coupons, &uid).await?;
                tracing::info!(plate, coupons = ?coupons, "coupons used");
            }
            Ok(reply)
        }
    }
}

/// Applies an exit that opens: the session closed with its exit record, the
/// bill (the lane's or the platform's deduction) and its online bills, in one
/// transaction; an after-leave bill charged afterwards.
async fn open_exit(
    state: &LotState,
    lane: &Lane,
    read: &Read,
    facts: &ExitFacts,
    (session, found): (Session, Found),
    earlier: Option<OnlineBill>,
    plan: Leave,
) -> Result<LaneReply, StoreError> {
    let (at, fee) = (facts.at, facts.fee);
    let Leave { due, path, earlier_bill } = plan;
    let now = format_time(at);
    let bill_id = payments::exit_bill_id(&session.uid);
    let fuzzy = found == Found::Plate(Match::Fuzzy);
    let mut online = Vec::new();
    // The car has paid: a malformed payment time must not keep it at the barrier.
    let deal_time = match read.deal_time.as_deref().map(parse_time) {
        Some(Ok(t)) => t,
        Some(Err(e)) => {
            tracing::warn!(uid = session.uid, error = %e, "dealTime unreadable; the bill uses the exit time");
            at
        }
        None => at,
    };
    let settled = match &path {
        Some(PayPath::NoStop(s)) => Some(s),
        _ => None,
    };
    let (paid, paid_type, pay_scene, bill_way, deal_time) = match settled {
        Some(s) => {
            (s.actual_pay, s.paid_type, s.pay_type, BillWay::CityPlatform, parse_time(&s.deal_time).unwrap_or(at))
        }
        None => (read.paid().clamp(0, fee), read.paid_type, read.pay_scene, BillWay::Elsewhere, deal_time),
    };
    match &path {
        Some(PayPath::NoStop(s)) => {
            let mut bill = OnlineBill::open(BillKind::Exit, bill_id.clone(), &session, &now, due);
            (bill.state, bill.path, bill.actual_pay, bill.discount) =
                (BillState::Paid, s.path.clone(), Some(s.actual_pay), Some(s.discount));
            (bill.deal_time, bill.order_code, bill.paid_type, bill.pay_type) =
                (Some(s.deal_time.clone()), Some(s.order_code.clone()), Some(s.paid_type), Some(s.pay_type));
            online.push(bill);
        }
        Some(p @ PayPath::AfterLeave) => {
            let mut bill = OnlineBill::open(BillKind::AfterLeave, format!("{}A", session.uid), &session, &now, due);
            bill.path = Some(p.code().into());
            online.push(bill);
        }
        Some(PayPath::Booth) | None => {}
    }
    if let (Some(mut bill), Some(settled_as)) = (earlier, earlier_bill) {
        (bill.state, bill.updated_at) = (settled_as, now.clone());
        online.push(bill);
    }
    let bill =
        (paid > 0).then(|| Bill { bill_id: bill_id.clone(), actual_pay: paid, deal_time: format_time(deal_time) });
    let after_leave = online.iter().find(|b| b.kind == BillKind::AfterLeave).map(|b| b.bill_id.clone());
    let exit = Exit {
        uid: session.uid.clone(),
        lane: lane.id.clone(),
        time: now.clone(),
        charge_fee: fee,
        should_pay: fee,
        paid: settled.map_or(paid, |s| s.actual_pay + s.discount),
        fuzzy,
        note: None,
        bill,
        online,
    };
    let mut reports = vec![exit_record(state, &session, &exit).await?];
    if let Some(bill) = &exit.bill {
        let record = PayRecord {
            bill_id: bill.bill_id.clone(),
            uid: session.uid.clone(),
            plate_no: session.plate_no.clone(),
            parking_code: state.config().parking_code.clone(),
            charge_fee: fee,
            should_pay: if settled.is_some() { due } else { fee },
            actual_pay: bill.actual_pay,
            bill_time: Time(at),
            deal_time: Time(deal_time),
            paid_type: PaidType::from_code(paid_type),
            pay_type: PayScene::from_code(pay_scene),
            upload_time: Time(state.now()),
            bill_way,
        };
        let body = encode_flat(&record);
        reports.push(Report {
            uid: Some(session.uid.clone()),
            interface: "uploadPayRecord",
            body,
            created_ms: state.now_ms(),
        });
    }
    let (stored, note) = photo(state, read, &session.uid, PhotoType::Exit, at, &mut reports);
    state.store().leave(&exit, reports, stored.as_ref()).await?;
    state.wake_outbox();
    if let Some(bill_id) = after_leave {
        payments::after_exit(state, bill_id);
    }
    let matched_by = match found {
        Found::Uid => "uid",
        Found::Plate(Match::Exact) => "plate",
        Found::Plate(Match::Fuzzy) => "fuzzy",
    };
    let msg = match &path {
        Some(PayPath::NoStop(_)) => format!("无感支付 {} 元，一路顺风", onepark_domain::money::yuan(paid)),
        Some(PayPath::AfterLeave) => "先离场后付费，一路顺风".to_owned(),
        Some(PayPath::Booth) | None => "一路顺风".to_owned(),
    };
    let decision = Decision {
        open: true,
        uid: Some(session.uid),
        plate_no: Some(session.plate_no),
        fee: Some(fee),
        fuzzy: Some(fuzzy),
        matched_by: Some(matched_by.into()),
        paid_by: path.as_ref().map(|p| p.code().to_owned()),
        msg,
        ..Decision::default()
    };
    Ok(with_photo_note(decision, note))
}

/// Staff open a barrier by hand: the reason is mandatory and logged.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ManualOpen {
    /// Why (救护车, 设备故障 …): required, at most 200 characters, no control characters.
    #[schema(schema_with = schema::reason_schema)]
    reason: String,
    /// Who, at most 50 characters, no control characters.
    #[schema(schema_with = schema::operator_schema)]
    operator: Option<String>,
    /// The car, if known.
    #[schema(schema_with = schema::read_plate)]
    plate_no: Option<String>,
}

/// Opens a barrier by hand (staff only), with the reason in the audit trail.
#[utoipa::path(post, path = "/api/lanes/{lane}/open", tag = "lane", request_body = ManualOpen,
    params(("lane" = String, Path, description = "the lane's id")),
    responses((status = 200, description = "opened", body = Decision),
        (status = 400, description = "bad_request: the error names the field", body = Decision),
        (status = 404, description = "unknown_lane", body = Decision),
        (status = 500, description = "storage failed", body = Decision)))]
pub(crate) async fn open_by_hand(
    State(state): State<LotState>,
    Path(lane): Path<String>,
    staff: Option<axum::Extension<crate::auth::Staff>>,
    bytes: Bytes,
) -> LaneReply {
    let mut request: ManualOpen = match body(&bytes) {
        Ok(r) => r,
        Err(reply) => return reply,
    };
    if !state.config().lanes.iter().any(|l| l.id == lane) {
        return refused(Deny::UnknownLane);
    }
    if request.reason.trim().is_empty() {
        return bad_request("reason", "必须填写开闸原因");
    }
    for (field, text, max) in [
        ("reason", Some(request.reason.as_str()), schema::MAX_REASON),
        ("operator", request.operator.as_deref(), schema::MAX_OPERATOR),
    ] {
        if let Err(reply) = staff_text(field, text, max, false) {
            return reply;
        }
    }
    let plate = match request.plate_no.as_deref().map(|p| plate_text("plateNo", p)).transpose() {
        Ok(plate) => plate,
        Err(reply) => return reply,
    };
    // A signed-in person is who opened it, whatever the (valid) body says.
    if staff.is_some() {
        request.operator = Some(crate::shift::actor(staff.as_ref(), None));
    }
    let at = state.now();
    let now = format_time(at);
    let report = crate::cloudreport::manual_lift_report(
        &state,
        &lane,
        request.operator.as_deref().unwrap_or("岗亭"),
        request.reason.trim(),
        at,
    );
    match state
        .store()
        .manual_open(&lane, &now, request.reason.trim(), request.operator.as_deref(), plate.as_deref(), report.as_ref())
        .await
    {
        Ok(id) => {
            state.wake_cloud_reports();
            tracing::info!(lane, reason = request.reason, operator = ?request.operator, "barrier opened by hand");
            let who = crate::shift::actor(staff.as_ref(), request.operator.as_deref());
            let entry = crate::shift::did(&who, "open", &lane, plate.as_deref().unwrap_or(""), "");
            crate::shift::record(&state, crate::store::LedgerEntry { note: request.reason.trim().to_owned(), ..entry })
                .await;
            let direction = state.config().lanes.iter().find(|l| l.id == lane).map_or(Direction::Exit, |l| l.direction);
            state.feed().push(LaneEvent {
                at: now.clone(),
                lane: lane.clone(),
                direction,
                plate_no: plate.clone().unwrap_or_default(),
                open: true,
                reason: Some("manual".into()),
                msg: format!("手动开闸：{}", request.reason.trim()),
                uid: None,
                fee: None,
                due: None,
                photo_id: None,
            });
            decided(Decision { open: true, id: Some(id), msg: "已手动开闸".into(), ..Decision::default() })
        }
        Err(e) => failed(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plates_as_the_platform_wants_them() {
        let text = |read: &str| plate_text("plateNo", read).map_err(|(status, _)| status);
        assert_eq!(text(" 鲁b-12345 "), Ok("鲁B12345".into()));
        assert_eq!(text(""), Ok("未识别".into()));
        assert_eq!(text("无牌"), Ok("无车牌".into()));
        assert_eq!(text("ABC123"), Ok("ABC123".into()), "unknown shapes are kept as read");
        assert_eq!(text(&"X".repeat(51)), Ok("未识别".into()), "longer than plateNo may be");
        assert_eq!(text("鲁B1234\u{7}"), Err(StatusCode::BAD_REQUEST), "control characters are refused");
    }
}
