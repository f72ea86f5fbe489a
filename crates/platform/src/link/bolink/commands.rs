//! Operators and integrators command a Bolink lot through the admin API
//! (`POST /api/admin/bolink/{parkingCode}/{serviceName}` with the message's
//! fields): the §三 messages of `onepark_bolink::downlink` (lock a car,
//! raise a barrier, sync a price, a lane, a member…). Each is a durable
//! downlink of this protocol, sent to the lot until it answers (its
//! `request_no` echoed) or the message's time runs out; the answer is
//! kept with it (`GET /api/admin/downlinks`).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use onepark_bolink::downlink;
use onepark_domain::record::Protocol;
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::city::announce::next_request_id;
use crate::config::LotLink;
use crate::error::{ApiError, bad, not_found};
use crate::state::AppState;
use crate::store::NewDownlink;

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Issued {
    /// Its id in the downlinks list (and the message's `request_no`).
    request_id: i64,
    service_name: String,
    parking_code: String,
    /// Sent every this many seconds until the lot answers.
    retry_seconds: i64,
    /// yyyy-MM-dd HH:mm:ss: given up then.
    expires_at: String,
}

/// Sends a Bolink lot one of the cloud's messages (3.5–3.19, 3.33): stored,
/// then delivered until the lot answers; its state in `/api/admin/downlinks`.
#[utoipa::path(post, path = "/api/admin/bolink/{parkingCode}/{serviceName}", tag = "bolink",
    params(("parkingCode" = String, Path, description = "the Bolink lot's parking code"),
        ("serviceName" = String, Path, description = "lock_car, operate_liftrod, price_sync, month_card_sync, month_member_sync, collector_sync, deliver_ticket, gate_sync, blackuser_sync, car_type_sync, month_pay_sync, confirm_order_inform, visitor_sync, update_park_soft")),
    request_body(content = Object, description = "the message's fields (vendor's names; park_id and request_no are added)"),
    responses((status = 202, description = "stored; delivered until answered", body = Issued),
        (status = 400, description = "an unknown message or a missing field", body = crate::error::ErrorBody),
        (status = 404, description = "no Bolink lot with that parking code", body = crate::error::ErrorBody)))]
pub(crate) async fn issue(
    State(state): State<AppState>,
    Path((parking_code, service)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<Issued>), ApiError> {
    let command = downlink::find(&service)
        .ok_or_else(|| bad(format!("serviceName: `{service}` is not a message onepark sends")))?;
    let data: Map<String, Value> =
        serde_json::from_slice(&body).map_err(|e| bad(format!("body: a JSON object of the message's fields ({e})")))?;
    downlink::check(command, &data).map_err(|why| bad(format!("body: {why}")))?;
    let lot = match state.store().access_of(&parking_code).await? {
        Some(access_id) => state.lot(&access_id).await?,
        None => None,
    };
    let Some(lot) = lot.filter(|l| matches!(l.link, LotLink::Bolink { .. })) else {
        return Err(not_found(format!("parkingCode: no Bolink lot reports under {parking_code}")));
    };
    let now = state.now();
    let request_id = next_request_id(state.clock().now().timestamp_micros());
    let lane = data.get("channel_id").and_then(Value::as_str).unwrap_or_default().to_owned();
    let subject = ["car_number", "order_id", "channel_id", "card_id"]
        .iter()
        .find_map(|k| data.get(*k).and_then(Value::as_str))
        .unwrap_or_default()
        .to_owned();
    let expires = now + chrono::Duration::seconds(command.expire_secs);
    let d = NewDownlink {
        request_id,
        protocol: Protocol::Bolink,
        access_id: lot.access_id.clone(),
        parking_code: parking_code.clone(),
        interface: command.service.to_owned(),
        topic: lane,
        payload: downlink::message(command, &lot.access_id, &request_id.to_string(), &data),
        subject,
    }
    .queued(now, state.clock().millis(), now + chrono::Duration::seconds(command.retry_secs), expires);
    state.store().put_downlinks(vec![d]).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(Issued {
            request_id,
            service_name: command.service.to_owned(),
            parking_code,
            retry_seconds: command.retry_secs,
            expires_at: onepark_domain::time::format_time(expires),
        }),
    ))
}
