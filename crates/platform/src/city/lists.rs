//! Black/white lists (spec §5.7): the admin changes an entry for one lot,
//! several, or every lot of an accessID; each lot's change is stored with the
//! `specialCar` downlink that carries it and delivered until confirmed.

use axum::Json;
use axum::extract::{Extension, Query, State};
use axum::http::StatusCode;
use onepark_domain::plate::Plate;
use onepark_domain::time::{format_time, parse_time};
use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{Object, ObjectBuilder, Type};
use utoipa::{IntoParams, ToSchema};

use crate::access::{Need, Who};
use crate::city::announce::{AnnounceError, Announcement, ListOperation};
use crate::city::audit;
use crate::config::LotAccess;
use crate::error::{ApiError, Body, bad, conflict, not_found};
use crate::state::AppState;
use crate::store::Store;
use crate::store::{DownlinkState, ListEntry};

/// One change of a black/white list entry, for one lot, several, or every
/// lot of an accessID. `endTime` must not be before `startTime` (400).
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct Change {
    /// The lots' accessID (404 when unknown).
    access_id: String,
    /// Absent or empty: every parkingCode of the accessID (404 for one of another accessID).
    #[serde(default)]
    parking_codes: Vec<String>,
    /// The plate (normalised: `鲁b-12345` is accepted as `鲁B12345`).
    #[schema(schema_with = plate_schema)]
    plate_no: String,
    #[schema(inline)]
    list: ListName,
    /// update and delete need an existing entry (404 otherwise).
    #[schema(inline)]
    operate: Operate,
    /// 1 small, 2 large, 3 other; default: the previous version's, else 1.
    #[schema(minimum = 1, maximum = 3)]
    #[serde(default)]
    car_type: Option<i64>,
    /// yyyy-MM-dd HH:mm:ss; required to add, else the previous version's.
    #[schema(schema_with = time_schema)]
    start_time: Option<String>,
    /// yyyy-MM-dd HH:mm:ss, not before startTime; required to add, else the previous version's.
    #[schema(schema_with = time_schema)]
    end_time: Option<String>,
    #[schema(max_length = 50)]
    remark: Option<String>,
}

#[derive(Deserialize, ToSchema, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum ListName {
    Black,
    White,
}

/// The city's list codes.
pub const BLACK: i64 = 0;
pub const WHITE: i64 = 1;

impl ListName {
    fn code(self) -> i64 {
        match self {
            ListName::Black => BLACK,
            ListName::White => WHITE,
        }
    }
}

#[derive(Deserialize, ToSchema, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum Operate {
    Add,
    Update,
    Delete,
}

impl Operate {
    fn operation(self) -> ListOperation {
        match self {
            Operate::Add => ListOperation::Add,
            Operate::Update => ListOperation::Update,
            Operate::Delete => ListOperation::Delete,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Operate::Add => "add",
            Operate::Update => "update",
            Operate::Delete => "delete",
        }
    }
}

fn plate_schema() -> Object {
    ObjectBuilder::new().schema_type(Type::String).pattern(Some(onepark_domain::plate::PATTERN)).build()
}

fn time_schema() -> Object {
    ObjectBuilder::new().schema_type(Type::String).pattern(Some(onepark_domain::time::TIME_PATTERN)).build()
}

#[derive(Serialize, ToSchema)]
pub(crate) struct ChangeReply {
    /// One downlink per lot, delivered until confirmed.
    sent: Vec<Sent>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct Sent {
    parking_code: String,
    request_id: i64,
}

/// One change, delivered to each chosen lot as a `specialCar` downlink.
#[utoipa::path(post, path = "/api/admin/lists", tag = "lists", request_body = Change,
    responses((status = 200, body = ChangeReply),
              (status = 404, description = "unknown accessId, a parkingCode of another accessID, or no entry to update or delete", body = crate::error::ErrorBody),
              (status = 409, description = "an update's one new time does not fit the entry's other, stored time", body = crate::error::ErrorBody)))]
pub(crate) async fn change(
    State(state): State<AppState>,
    Extension(who): Extension<Who>,
    Body(c): Body<Change>,
) -> Result<Json<ChangeReply>, ApiError> {
    apply(&state, &who, c).await.map(Json)
}

impl Change {
    /// An addition (with its times) or a removal, as the dashboard's forms make them.
    pub(crate) fn new(access_id: &str, parking_codes: Vec<String>, plate_no: &str, black: bool, add: bool) -> Change {
        Change {
            access_id: access_id.to_owned(),
            parking_codes,
            plate_no: plate_no.to_owned(),
            list: if black { ListName::Black } else { ListName::White },
            operate: if add { Operate::Add } else { Operate::Delete },
            car_type: None,
            start_time: None,
            end_time: None,
            remark: None,
        }
    }

    pub(crate) fn during(mut self, start_time: String, end_time: String, remark: Option<String>) -> Change {
        (self.start_time, self.end_time, self.remark) = (Some(start_time), Some(end_time), remark);
        self
    }
}

impl ChangeReply {
    /// The lots the change was sent to.
    pub(crate) fn lots(&self) -> usize {
        self.sent.len()
    }
}

/// Validates a change and sends it to each of its lots (the admin API's
/// `POST /api/admin/lists`, the dashboard's list form, the cloud API's
/// blacklist services): only lots `who` may change, each lot's change in
/// the audit trail.
pub(crate) async fn apply(state: &AppState, who: &Who, c: Change) -> Result<ChangeReply, ApiError> {
    let kind = c.list;
    let operate = c.operate.operation();
    let plate = Plate::parse(&c.plate_no).map_err(|e| bad(format!("plateNo: {e}")))?.to_string();
    let lot =
        state.lot(&c.access_id).await?.ok_or_else(|| not_found(format!("accessId: unknown `{}`", c.access_id)))?;
    let codes = if c.parking_codes.is_empty() { lot.parking_codes.clone() } else { c.parking_codes.clone() };
    if let Some(foreign) = codes.iter().find(|code| !lot.parking_codes.contains(code)) {
        return Err(not_found(format!("parkingCodes: `{foreign}` does not belong to accessId {}", lot.access_id)));
    }
    // All or nothing: a caller allowed some of the lots changes none.
    if let Some(denied) = codes.iter().find_map(|code| who.check(Need::Change, code).err()) {
        return Err(ApiError(StatusCode::FORBIDDEN, format!("parkingCodes: {}", denied.en)));
    }
    let mut sent = Vec::new();
    let now = onepark_domain::time::format_time(state.now());
    for code in codes {
        let previous = state.store().list_entry(&code, &plate, kind.code()).await?;
        let entry = entry(&c, &code, &plate, kind, operate, previous.as_ref())?;
        let change = audit::Change::new("list", &code, &plate)
            .old(previous.as_ref().filter(|p| !p.deleted).map(audited))
            .new_value((operate != ListOperation::Delete).then(|| audited(&entry)))
            .reason(c.remark.as_deref().unwrap_or(""));
        let pending = audit::begin(state.store(), who, &now, change).await?;
        let result = send(state, &lot, entry, operate).await;
        pending.finish(state.store(), &result).await;
        let request_id = result.map_err(|e| match e {
            AnnounceError::Store(e) => ApiError::from(e),
            other => ApiError::server(other.to_string()),
        })?;
        sent.push(Sent { parking_code: code, request_id });
    }
    Ok(ChangeReply { sent })
}

/// One change for every lot of the city: every accessID, every protocol
/// that carries list entries (a Bolink lot has no message for a white-list
/// entry). An update or a deletion reaches the lots that have the entry.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct CityChange {
    /// The plate (normalised: `鲁b-12345` is accepted as `鲁B12345`).
    #[schema(schema_with = plate_schema)]
    plate_no: String,
    #[schema(inline)]
    list: ListName,
    #[schema(inline)]
    operate: Operate,
    /// 1 small, 2 large, 3 other; default: each lot's previous version's, else 1.
    #[schema(minimum = 1, maximum = 3)]
    #[serde(default)]
    car_type: Option<i64>,
    /// yyyy-MM-dd HH:mm:ss; required to add.
    #[schema(schema_with = time_schema)]
    start_time: Option<String>,
    /// yyyy-MM-dd HH:mm:ss, not before startTime; required to add.
    #[schema(schema_with = time_schema)]
    end_time: Option<String>,
    #[schema(max_length = 50)]
    remark: Option<String>,
}

/// What a city-wide change did.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CityReply {
    /// Lots (parking codes) the change was stored and queued for, in one transaction.
    lots: usize,
    /// The requestIds of its messages run from here…
    first_request_id: Option<i64>,
    /// …to here (`GET /api/admin/lists?plateNo=` shows each lot's delivery).
    last_request_id: Option<i64>,
    /// Lots whose protocol has no message for it, or (update, delete) that have no such entry.
    skipped: Vec<Skipped>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct Skipped {
    access_id: String,
    parking_code: String,
    reason: String,
}

/// One change for every lot of the city, as one durable batch: each lot's
/// message sealed (on the CPU pool), then all of them stored with their
/// entries in one transaction, then published. Administrators only.
#[utoipa::path(post, path = "/api/admin/lists/city", tag = "lists", request_body = CityChange,
    responses((status = 200, body = CityReply),
              (status = 400, description = "a bad plate or time", body = crate::error::ErrorBody),
              (status = 409, description = "an add's one given time does not fit a lot's stored entry (nothing changed)", body = crate::error::ErrorBody)))]
pub(crate) async fn change_city(
    State(state): State<AppState>,
    Extension(who): Extension<Who>,
    Body(c): Body<CityChange>,
) -> Result<Json<CityReply>, ApiError> {
    apply_city(&state, &who, c).await.map(Json)
}

pub(crate) async fn apply_city(state: &AppState, who: &Who, c: CityChange) -> Result<CityReply, ApiError> {
    let kind = c.list;
    let operate = c.operate.operation();
    let plate = Plate::parse(&c.plate_no).map_err(|e| bad(format!("plateNo: {e}")))?.to_string();
    // As one lot's change would read it (the same checks, each lot's previous version).
    let template = Change {
        access_id: String::new(),
        parking_codes: Vec::new(),
        plate_no: plate.clone(),
        list: c.list,
        operate: c.operate,
        car_type: c.car_type,
        start_time: c.start_time.clone(),
        end_time: c.end_time.clone(),
        remark: c.remark.clone(),
    };
    let previous: std::collections::HashMap<String, ListEntry> = state
        .store()
        .list_entries_of(&plate, kind.code())
        .await?
        .into_iter()
        .map(|e| (e.parking_code.clone(), e))
        .collect();
    let mut skipped = Vec::new();
    let mut work = Vec::new();
    for lot in crate::city::lots::every_lot(state).await? {
        for code in &lot.parking_codes {
            match entry(&template, code, &plate, kind, operate, previous.get(code)) {
                Ok(mut e) => {
                    e.access_id.clone_from(&lot.access_id);
                    work.push((lot.clone(), e));
                }
                // An add's times that do not fit a lot's stored entry stop the whole change (all or
                // nothing), naming the lot; bad times are the request's fault at every lot alike.
                Err(ApiError(status, message)) if operate == ListOperation::Add => {
                    return Err(ApiError(status, format!("parkingCode {code}: {message}")));
                }
                Err(e) => {
                    skipped.push(Skipped { access_id: lot.access_id.clone(), parking_code: code.clone(), reason: e.1 })
                }
            }
        }
    }
    let now = format_time(state.now());
    let change = audit::Change::new("list", "*", &plate)
        .new_value(serde_json::json!({ "list": kind_en(kind), "operate": c.operate.name(), "lots": work.len() }))
        .reason(c.remark.as_deref().unwrap_or(""));
    let pending = audit::begin(state.store(), who, &now, change).await?;
    let result = seal_and_store(state, work, operate).await;
    pending.finish(state.store(), &result).await;
    let (ids, not_carried) = result.map_err(|e| match e {
        AnnounceError::Store(e) => ApiError::from(e),
        other => ApiError::server(other.to_string()),
    })?;
    skipped.extend(not_carried);
    state.wake().now();
    Ok(CityReply {
        lots: ids.len(),
        // The sealing threads draw ids side by side: the range, not the ends of the list.
        first_request_id: ids.iter().min().copied(),
        last_request_id: ids.iter().max().copied(),
        skipped,
    })
}

/// Seals each lot's message on the CPU pool (a signature each), then stores
/// every entry with its message in one transaction. The requestIds, and the
/// lots whose protocol carries no such message.
async fn seal_and_store(
    state: &AppState,
    work: Vec<(std::sync::Arc<LotAccess>, ListEntry)>,
    operation: ListOperation,
) -> Result<(Vec<i64>, Vec<Skipped>), AnnounceError> {
    let pool = state.cpu();
    let threads = pool.threads().max(1);
    let per = work.len().div_ceil(threads).max(1);
    let mut chunks = Vec::new();
    let mut work = work.into_iter().peekable();
    while work.peek().is_some() {
        let chunk: Vec<_> = work.by_ref().take(per).collect();
        let state = state.clone();
        chunks.push(pool.run(move || {
            chunk
                .into_iter()
                .map(|(lot, mut entry)| {
                    let announcement = Announcement::List { entry: entry.clone(), operation };
                    match state.announce(&lot, &entry.parking_code, &announcement) {
                        Ok(d) => {
                            entry.operate_time = d.created_at.clone();
                            entry.request_id = d.request_id;
                            Ok((entry, d))
                        }
                        Err(e) => Err((lot.access_id.clone(), entry.parking_code.clone(), e)),
                    }
                })
                .collect::<Vec<_>>()
        }));
    }
    let mut stored = Vec::new();
    let mut skipped = Vec::new();
    for chunk in futures_util::future::join_all(chunks).await {
        for sealed in chunk.map_err(|_| AnnounceError::Seal("the sealing threads stopped".to_string()))? {
            match sealed {
                Ok(pair) => stored.push(pair),
                Err((access_id, parking_code, e @ AnnounceError::NotCarried { .. })) => {
                    skipped.push(Skipped { access_id, parking_code, reason: e.to_string() })
                }
                Err((_, _, other)) => return Err(other),
            }
        }
    }
    let ids = stored.iter().map(|(e, _)| e.request_id).collect();
    state.store().put_list_changes(stored).await?;
    Ok((ids, skipped))
}

/// What the audit trail keeps of an entry.
fn audited(e: &ListEntry) -> serde_json::Value {
    serde_json::json!({
        "list": if e.list_kind == BLACK { "black" } else { "white" },
        "startTime": e.start_time,
        "endTime": e.end_time,
        "carType": e.car_type,
        "remark": e.remark,
    })
}

/// Stores a list change for one lot with the message carrying it, and wakes
/// the publisher. Returns the message's requestId.
async fn send(
    state: &AppState,
    lot: &LotAccess,
    mut entry: ListEntry,
    operation: ListOperation,
) -> Result<i64, AnnounceError> {
    let code = entry.parking_code.clone();
    let downlink = state.announce(lot, &code, &Announcement::List { entry: entry.clone(), operation })?;
    entry.operate_time = downlink.created_at.clone();
    entry.request_id = downlink.request_id;
    state.store().put_list_change(&entry, &downlink).await?;
    state.wake().now();
    Ok(entry.request_id)
}

/// The entry's new version: fields given now, else the previous version's.
fn entry(
    c: &Change,
    code: &str,
    plate: &str,
    kind: ListName,
    operate: ListOperation,
    previous: Option<&ListEntry>,
) -> Result<ListEntry, ApiError> {
    if operate != ListOperation::Add && previous.is_none_or(|p| p.deleted) {
        let verb = if operate == ListOperation::Update { "update" } else { "delete" };
        return Err(not_found(format!("lot {code} has no {} entry for {plate} to {verb}", kind_en(kind))));
    }
    let time = |given: &Option<String>, old: Option<&String>, name: &str| -> Result<String, ApiError> {
        match (given, old) {
            (Some(text), _) => parse_time(text).map(format_time).map_err(|e| bad(format!("{name}: {e}"))),
            (None, Some(old)) => Ok(old.clone()),
            (None, None) => Err(bad(format!("{name}: required to add an entry"))),
        }
    };
    let start_time = time(&c.start_time, previous.map(|p| &p.start_time), "startTime")?;
    let end_time = time(&c.end_time, previous.map(|p| &p.end_time), "endTime")?;
    if end_time < start_time {
        // Both given: the request contradicts itself. One given: it does not
        // fit the entry as stored (409, the stored time named).
        return Err(match (&c.start_time, &c.end_time) {
            (Some(_), Some(_)) | (None, None) => bad("endTime: earlier than startTime"),
            (None, Some(_)) => conflict(format!("endTime: earlier than the entry's startTime {start_time}")),
            (Some(_), None) => conflict(format!("startTime: later than the entry's endTime {end_time}")),
        });
    }
    let car_type = c.car_type.or(previous.map(|p| p.car_type)).unwrap_or(1);
    // The city's car types: 1 small, 2 medium, 3 large.
    if !(1..=3).contains(&car_type) {
        return Err(bad(format!("carType: {car_type} is not 1, 2 or 3")));
    }
    if c.remark.as_ref().is_some_and(|r| r.chars().count() > 50) {
        return Err(bad("remark: longer than 50 characters"));
    }
    Ok(ListEntry {
        parking_code: code.to_owned(),
        plate_no: plate.to_owned(),
        list_kind: kind.code(),
        access_id: previous.map_or_else(|| c.access_id.clone(), |p| p.access_id.clone()),
        car_type,
        start_time,
        end_time,
        remark: c.remark.clone().or_else(|| previous.and_then(|p| p.remark.clone())),
        operate_time: String::new(),
        deleted: operate == ListOperation::Delete,
        request_id: 0,
    })
}

fn kind_en(kind: ListName) -> &'static str {
    if kind == ListName::Black { "blacklist" } else { "whitelist" }
}

#[derive(Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub(crate) struct ListParams {
    /// Only this lot's.
    parking_code: Option<String>,
    /// Only this plate (as stored).
    plate_no: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct ListReply {
    items: Vec<ListItem>,
}

#[derive(Serialize, ToSchema)]
struct ListItem {
    #[serde(flatten)]
    entry: ListEntry,
    /// The delivery state of the entry's latest change.
    delivery: Option<DownlinkState>,
}

/// Entries (deleted ones included, as their latest version) with the delivery state of their latest change.
#[utoipa::path(get, path = "/api/admin/lists", tag = "lists", params(ListParams), responses((status = 200, body = ListReply)))]
pub(crate) async fn list(State(store): State<Store>, Query(p): Query<ListParams>) -> Result<Json<ListReply>, ApiError> {
    // A scoped caller named its lot (the admin API's policy checked it).
    let entries = store.list_entries(p.parking_code.as_deref(), p.plate_no.as_deref()).await?;
    let items = entries.into_iter().map(|(entry, delivery)| ListItem { entry, delivery }).collect();
    Ok(Json(ListReply { items }))
}
