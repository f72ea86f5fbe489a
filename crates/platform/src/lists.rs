//! Black/white lists (spec §5.7): the admin changes an entry for one lot,
//! several, or every lot of an accessID; each lot's change is stored with the
//! `specialCar` downlink that carries it and delivered until confirmed.

use axum::Json;
use axum::extract::{Query, State};
use onepark_domain::plate::Plate;
use onepark_domain::time::{format_time, parse_time};
use onepark_proto::dict::{CarType, ListKind, ListOperation};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::admin::{ApiError, bad};
use crate::app::AppState;
use crate::downlink::{DownlinkError, send_list_change};
use crate::store::ListEntry;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct Change {
    access_id: String,
    /// Absent or empty: every parkingCode of the accessID.
    #[serde(default)]
    parking_codes: Vec<String>,
    plate_no: String,
    /// "black" or "white"
    list: String,
    /// "add", "update" or "delete"
    operate: String,
    car_type: Option<i64>,
    start_time: Option<String>,
    end_time: Option<String>,
    remark: Option<String>,
}

/// `POST /api/admin/lists`: one change, delivered to each chosen lot.
pub(crate) async fn change(State(state): State<AppState>, Json(c): Json<Change>) -> Result<Json<Value>, ApiError> {
    let kind = match c.list.as_str() {
        "black" => ListKind::Black,
        "white" => ListKind::White,
        other => return Err(bad(format!("list: `{other}` is neither black nor white"))),
    };
    let operate = match c.operate.as_str() {
        "add" => ListOperation::Add,
        "update" => ListOperation::Update,
        "delete" => ListOperation::Delete,
        other => return Err(bad(format!("operate: `{other}` is not add, update or delete"))),
    };
    let plate = Plate::parse(&c.plate_no).map_err(|e| bad(format!("plateNo: {e}")))?.to_string();
    let lot = state.lot(&c.access_id).await.ok_or_else(|| bad(format!("accessId: unknown `{}`", c.access_id)))?;
    let codes = if c.parking_codes.is_empty() { lot.parking_codes.clone() } else { c.parking_codes.clone() };
    if let Some(foreign) = codes.iter().find(|code| !lot.parking_codes.contains(code)) {
        return Err(bad(format!("parkingCodes: `{foreign}` does not belong to accessId {}", lot.access_id)));
    }
    let mut sent = Vec::new();
    for code in codes {
        let previous = state.store().list_entry(&code, &plate, kind.code()).await?;
        let entry = entry(&c, &code, &plate, kind, operate, previous.as_ref())?;
        let request_id = send_list_change(&state, &lot, entry, operate).await.map_err(|e| match e {
            DownlinkError::Store(e) => ApiError::from(e),
            other => ApiError::server(other.to_string()),
        })?;
        sent.push(json!({ "parkingCode": code, "requestId": request_id }));
    }
    Ok(Json(json!({ "sent": sent })))
}

/// The entry's new version: fields given now, else the previous version's.
fn entry(
    c: &Change,
    code: &str,
    plate: &str,
    kind: ListKind,
    operate: ListOperation,
    previous: Option<&ListEntry>,
) -> Result<ListEntry, ApiError> {
    if operate != ListOperation::Add && previous.is_none_or(|p| p.deleted) {
        return Err(bad(format!("lot {code} has no {} entry for {plate} to {}", kind_en(kind), c.operate)));
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
        return Err(bad("endTime: earlier than startTime"));
    }
    let car_type = c.car_type.or(previous.map(|p| p.car_type)).unwrap_or(1);
    if matches!(CarType::from_code(car_type), CarType::Other(_)) {
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

fn kind_en(kind: ListKind) -> &'static str {
    if kind == ListKind::Black { "blacklist" } else { "whitelist" }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListParams {
    parking_code: Option<String>,
    plate_no: Option<String>,
}

/// `GET /api/admin/lists`: entries with the delivery state of their latest change.
pub(crate) async fn list(State(state): State<AppState>, Query(p): Query<ListParams>) -> Result<Json<Value>, ApiError> {
    let entries = state.store().list_entries(p.parking_code.as_deref(), p.plate_no.as_deref()).await?;
    let items: Vec<Value> = entries
        .into_iter()
        .map(|(entry, delivery)| {
            let mut v = serde_json::to_value(entry).unwrap_or_default();
            v["delivery"] = serde_json::to_value(delivery).unwrap_or_default();
            v
        })
        .collect();
    Ok(Json(json!({ "items": items })))
}
