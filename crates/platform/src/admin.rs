//! The admin/read API (`/api/admin/…`, JSON, bearer token): lots with their
//! status, record search, berth time series, reconciliation and quality
//! reports. Described by the OpenAPI document at `/api/admin/openapi.json`.

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{Duration, NaiveDate};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::app::AppState;
use crate::store::{DownlinkState, RecordQuery, StoreError};

/// A lot counts as online when it was heard from within this many minutes
/// (heartbeats come every 10 min, berth states every minute).
const ONLINE_MINUTES: i64 = 15;
/// An entry without exit this many days old is flagged in the quality report.
const OPEN_TOO_LONG_DAYS: i64 = 7;

pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/api/admin/lots", get(lots))
        .route("/api/admin/records", get(records))
        .route("/api/admin/lots/{parking_code}/berths", get(berths))
        .route("/api/admin/reports/reconciliation", get(reconciliation))
        .route("/api/admin/reports/quality", get(quality))
        .route("/api/admin/reports/online", get(online))
        .route("/api/admin/lists", get(crate::lists::list).post(crate::lists::change))
        .route("/api/admin/downlinks", get(downlinks))
        .route("/api/admin/mqtt/auth", post(crate::mqtt_auth::authenticate))
        .route("/api/admin/mqtt/acl", post(crate::mqtt_auth::authorize))
        .route_layer(middleware::from_fn_with_state(state, authorize))
        .route("/api/admin/openapi.json", get(openapi))
        .layer(middleware::map_response(json_errors))
}

/// Every admin error has one shape, `{"error": "…"}`, also the ones axum
/// answers by itself (a query or body that does not parse, a wrong content
/// type, a wrong method): integrators parse one thing.
async fn json_errors(response: Response) -> Response {
    let status = response.status();
    let json = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || json {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 64 * 1024).await.unwrap_or_default();
    let mut text = String::from_utf8_lossy(&text).trim().to_owned();
    if text.is_empty() {
        text = status.canonical_reason().unwrap_or("error").to_owned();
    }
    let mut reply = (status, Json(json!({ "error": text }))).into_response();
    for (name, value) in &parts.headers {
        if name != "content-type" && name != "content-length" {
            reply.headers_mut().insert(name, value.clone());
        }
    }
    reply
}

pub(crate) struct ApiError(StatusCode, String);

impl ApiError {
    pub(crate) fn server(message: String) -> ApiError {
        tracing::error!(error = %message, "admin request failed");
        ApiError(StatusCode::INTERNAL_SERVER_ERROR, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "admin query failed");
        ApiError(StatusCode::INTERNAL_SERVER_ERROR, "database error".into())
    }
}

pub(crate) fn bad(message: impl Into<String>) -> ApiError {
    ApiError(StatusCode::BAD_REQUEST, message.into())
}

async fn authorize(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let Some(token) = state.admin_token() else {
        return ApiError(StatusCode::FORBIDDEN, "admin API disabled: set admin_token in the config".into())
            .into_response();
    };
    let given = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    if !crate::broker::same_secret(given, token) {
        return ApiError(StatusCode::UNAUTHORIZED, "missing or wrong bearer token".into()).into_response();
    }
    next.run(request).await
}

async fn lots(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let now = state.now();
    let cutoff = onepark_domain::time::format_time(now - Duration::minutes(ONLINE_MINUTES));
    let lots: Vec<Value> = state
        .store()
        .lot_statuses()
        .await?
        .into_iter()
        .map(|s| {
            let online = s.last_seen >= cutoff;
            let mut v = serde_json::to_value(s).unwrap_or_default();
            v["online"] = Value::Bool(online);
            v
        })
        .collect();
    Ok(Json(json!({ "lots": lots })))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DownlinkParams {
    parking_code: Option<String>,
    state: Option<String>,
    limit: Option<i64>,
}

/// Downlinks, newest first, with their delivery state and confirm latency.
async fn downlinks(State(state): State<AppState>, Query(p): Query<DownlinkParams>) -> Result<Json<Value>, ApiError> {
    let wanted = match p.state.as_deref() {
        None | Some("") => None,
        Some(s) => Some(
            DownlinkState::parse(s)
                .ok_or_else(|| bad(format!("state: `{s}` is not queued, published, confirmed or expired")))?,
        ),
    };
    let limit = p.limit.unwrap_or(100).clamp(1, 1000);
    let items = state.store().downlinks(p.parking_code.as_deref(), wanted, limit).await?;
    // Overdue: not confirmed by its deadline (20 s specialCar, 5 s others) and still retried.
    let now = onepark_domain::time::format_time(state.now());
    let items: Vec<Value> = items
        .into_iter()
        .map(|d| {
            let overdue = matches!(d.state, DownlinkState::Queued | DownlinkState::Published) && d.deadline_at < now;
            let mut item = json!(d);
            item["overdue"] = Value::Bool(overdue);
            item
        })
        .collect();
    Ok(Json(json!({ "items": items })))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RecordParams {
    parking_code: Option<String>,
    plate_no: Option<String>,
    from: Option<String>,
    to: Option<String>,
    page: Option<i64>,
    page_size: Option<i64>,
}

async fn records(State(state): State<AppState>, Query(p): Query<RecordParams>) -> Result<Json<Value>, ApiError> {
    let page = p.page.unwrap_or(1).max(1);
    let size = p.page_size.unwrap_or(50).clamp(1, 500);
    // A page past the last representable offset is a mistake, not page 1.
    let offset = (page - 1).checked_mul(size).ok_or_else(|| bad(format!("page: {page} is out of range")))?;
    let query = RecordQuery {
        parking_code: p.parking_code.unwrap_or_default(),
        plate_no: p.plate_no.unwrap_or_default(),
        from: time_param(p.from, "from", "0000-01-01 00:00:00")?,
        to: time_param(p.to, "to", "9999-12-31 23:59:59")?,
        limit: size,
        offset,
    };
    let items = state.store().search(&query).await?;
    Ok(Json(json!({ "page": page, "pageSize": size, "items": items })))
}

fn time_param(value: Option<String>, name: &str, default: &str) -> Result<String, ApiError> {
    match value {
        None => Ok(default.to_owned()),
        Some(v) => onepark_domain::time::parse_time(&v)
            .map(onepark_domain::time::format_time)
            .or_else(|_| onepark_domain::time::parse_date(&v).map(|d| format!("{d} 00:00:00")))
            .map_err(|_| bad(format!("{name}: expected yyyy-MM-dd or yyyy-MM-dd HH:mm:ss"))),
    }
}

#[derive(Deserialize)]
struct RangeParams {
    from: Option<String>,
    to: Option<String>,
}

async fn berths(
    State(state): State<AppState>,
    Path(parking_code): Path<String>,
    Query(p): Query<RangeParams>,
) -> Result<Json<Value>, ApiError> {
    let from = time_param(p.from, "from", "0000-01-01 00:00:00")?;
    let to = time_param(p.to, "to", "9999-12-31 23:59:59")?;
    let points = state.store().berth_series(&parking_code, &from, &to).await?;
    Ok(Json(json!({ "parkingCode": parking_code, "points": points })))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DayParams {
    parking_code: String,
    date: String,
}

fn day(p: &DayParams) -> Result<NaiveDate, ApiError> {
    onepark_domain::time::parse_date(&p.date).map_err(|_| bad("date: expected yyyy-MM-dd"))
}

async fn reconciliation(State(state): State<AppState>, Query(p): Query<DayParams>) -> Result<Json<Value>, ApiError> {
    let date = day(&p)?;
    let ours = state.store().day_counts(&p.parking_code, date).await?;
    let check = state.store().latest_check(&p.parking_code, date).await?;
    Ok(Json(json!({
        "parkingCode": p.parking_code,
        "date": p.date,
        "platform": {
            "arriveNum": ours.arrive, "leaveNum": ours.leave, "photoNum": ours.photo,
            "payNum": ours.pay_num, "payTotal": ours.pay_total,
        },
        "lastCheck": check.map(|(at, lot, account, photo)| json!({
            "receivedAt": at, "lotCounts": lot, "accountMark": account, "photoMark": photo,
        })),
    })))
}

async fn quality(State(state): State<AppState>, Query(p): Query<DayParams>) -> Result<Json<Value>, ApiError> {
    let date = day(&p)?;
    let cutoff = onepark_domain::time::format_time(state.now() - Duration::days(OPEN_TOO_LONG_DAYS));
    let q = state.store().quality(&p.parking_code, date, &cutoff).await?;
    Ok(Json(json!({ "parkingCode": p.parking_code, "date": p.date, "quality": q })))
}

/// The daily online rate: 10-minute slots heard ÷ slots of the day (so far,
/// for today). The spec demands ≥ 99 %.
async fn online(State(state): State<AppState>, Query(p): Query<DayParams>) -> Result<Json<Value>, ApiError> {
    let date = day(&p)?;
    let heard = state.store().online_slots(&p.parking_code, date).await?;
    let now = state.now();
    let expected = if date == now.date() {
        i64::from(chrono::Timelike::hour(&now)) * 6 + i64::from(chrono::Timelike::minute(&now)) / 10 + 1
    } else {
        144
    };
    let rate = if date > now.date() { 0.0 } else { heard as f64 / expected as f64 };
    Ok(Json(json!({
        "parkingCode": p.parking_code, "date": p.date,
        "slotsHeard": heard, "slotsExpected": expected, "rate": rate, "meetsSpec": rate >= 0.99,
    })))
}

async fn openapi() -> impl IntoResponse {
    ([("content-type", "application/json")], OPENAPI)
}

const OPENAPI: &str = include_str!("admin_openapi.json");
