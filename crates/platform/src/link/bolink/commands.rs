//! Operators and integrators command a Bolink lot through the admin API
//! (`POST /api/admin/bolink/{parkingCode}/{serviceName}` with the message's
//! fields): the §三 messages of `onepark_bolink::downlink` (lock a car,
//! raise a barrier, sync a price, a lane, a member…). Each is a durable
//! downlink of this protocol, sent to the lot until it answers (its
//! `request_no` echoed) or the message's time runs out; the answer is
//! kept with it (`GET /api/admin/downlinks`).

use axum::Json;
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use onepark_bolink::downlink;
use onepark_domain::record::Protocol;
use onepark_domain::time::format_time;
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::access::Who;
use crate::city::announce::next_request_id;
use crate::config::LotLink;
use crate::error::{ApiError, Body, bad, not_found};
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

/// 3.9 `lock_car`'s fields.
#[derive(serde::Deserialize, ToSchema)]
pub struct LockCar {
    /// The stay (the lot's `order_id`: letters, digits, `_`, `-`).
    #[schema(pattern = "^[0-9A-Za-z_-]{1,48}$")]
    order_id: String,
    /// 1 lock, 0 unlock.
    #[schema(minimum = 0, maximum = 1)]
    is_locked: i64,
    /// The 4-digit password the attendant may release it with.
    #[schema(max_length = 8)]
    lock_key: Option<String>,
}

/// 3.18 `operate_liftrod`'s fields.
#[derive(serde::Deserialize, ToSchema)]
pub struct Liftrod {
    /// The lane (no spaces or control characters).
    #[schema(pattern = "^[^\\s\\x00-\\x1f\\x7f-\\x9f]{1,24}$")]
    channel_id: String,
    #[schema(max_length = 48)]
    channel_name: Option<String>,
    /// 0 raise, 1 lower.
    #[schema(minimum = 0, maximum = 1)]
    operate: i64,
}

/// The sync messages relayed as given (their fields are the vendor's; the lot's answer says what it lacked).
#[derive(Clone, Copy, serde::Serialize, serde::Deserialize, ToSchema)]
#[allow(non_camel_case_types)]
pub enum Relayed {
    price_sync,
    month_card_sync,
    month_member_sync,
    collector_sync,
    deliver_ticket,
    gate_sync,
    blackuser_sync,
    car_type_sync,
    month_pay_sync,
    confirm_order_inform,
    visitor_sync,
    prepay_card_sync,
    prepay_card_trade_sync,
    pass_through,
    change_payout_inform,
    platform_pay_inform,
    query_empty_plot,
    inner_car_sync,
    manual_settle,
    chase_order_result,
    e_ticket_sync,
    capture_sync,
    upload_park_log,
    update_park_soft,
    park_validity_sync,
    charge_pile_inform,
    check_vip,
    modify_empty_plot,
    query_vip_car,
    manual_in_park,
    correct_plate,
    fixed_charge,
}

impl Relayed {
    pub const ALL: [Relayed; 32] = [
        Relayed::price_sync,
        Relayed::month_card_sync,
        Relayed::month_member_sync,
        Relayed::collector_sync,
        Relayed::deliver_ticket,
        Relayed::gate_sync,
        Relayed::blackuser_sync,
        Relayed::car_type_sync,
        Relayed::month_pay_sync,
        Relayed::confirm_order_inform,
        Relayed::visitor_sync,
        Relayed::prepay_card_sync,
        Relayed::prepay_card_trade_sync,
        Relayed::pass_through,
        Relayed::change_payout_inform,
        Relayed::platform_pay_inform,
        Relayed::query_empty_plot,
        Relayed::inner_car_sync,
        Relayed::manual_settle,
        Relayed::chase_order_result,
        Relayed::e_ticket_sync,
        Relayed::capture_sync,
        Relayed::upload_park_log,
        Relayed::update_park_soft,
        Relayed::park_validity_sync,
        Relayed::charge_pile_inform,
        Relayed::check_vip,
        Relayed::modify_empty_plot,
        Relayed::query_vip_car,
        Relayed::manual_in_park,
        Relayed::correct_plate,
        Relayed::fixed_charge,
    ];

    fn name(self) -> String {
        serde_json::to_value(self).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
    }
}

/// 3.9: locks (1) or unlocks (0) a stay's car at a Bolink lot; the lot
/// refuses a locked car at the exit. Delivered until the lot answers.
#[utoipa::path(post, path = "/api/admin/bolink/{parkingCode}/lock_car", tag = "bolink",
    params(("parkingCode" = String, Path, description = "the Bolink lot's parking code")),
    request_body = LockCar,
    responses((status = 202, description = "stored; delivered until answered", body = Issued),
        (status = 404, description = "no Bolink lot with that parking code", body = crate::error::ErrorBody)))]
pub(crate) async fn lock_car(
    State(state): State<AppState>,
    Extension(who): Extension<Who>,
    Path(parking_code): Path<String>,
    Body(m): Body<LockCar>,
) -> Result<(StatusCode, Json<Issued>), ApiError> {
    let id_ok = (1..=48).contains(&m.order_id.len())
        && m.order_id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !id_ok || !(0..=1).contains(&m.is_locked) {
        return Err(bad("order_id: 1–48 letters, digits, _ or -; is_locked: 0 or 1"));
    }
    let mut data = Map::new();
    data.insert("order_id".into(), Value::from(m.order_id));
    data.insert("is_locked".into(), Value::from(m.is_locked));
    if let Some(k) = m.lock_key {
        data.insert("lock_key".into(), Value::from(k));
    }
    send(&state, &who, parking_code, "lock_car", data).await
}

/// 3.18: raises (0) or lowers (1) a lane's barrier at a Bolink lot; for now
/// (sent every 10 s for five minutes at most).
#[utoipa::path(post, path = "/api/admin/bolink/{parkingCode}/operate_liftrod", tag = "bolink",
    params(("parkingCode" = String, Path, description = "the Bolink lot's parking code")),
    request_body = Liftrod,
    responses((status = 202, description = "stored; delivered until answered", body = Issued),
        (status = 404, description = "no Bolink lot with that parking code", body = crate::error::ErrorBody)))]
pub(crate) async fn operate_liftrod(
    State(state): State<AppState>,
    Extension(who): Extension<Who>,
    Path(parking_code): Path<String>,
    Body(m): Body<Liftrod>,
) -> Result<(StatusCode, Json<Issued>), ApiError> {
    let lane_ok = (1..=24).contains(&m.channel_id.chars().count())
        && !m.channel_id.chars().any(|c| c.is_whitespace() || c.is_control());
    if !lane_ok || !(0..=1).contains(&m.operate) {
        return Err(bad("channel_id: 1–24 characters, no spaces; operate: 0 or 1"));
    }
    let mut data = Map::new();
    data.insert("channel_id".into(), Value::from(m.channel_id));
    data.insert("channel_name".into(), Value::from(m.channel_name.unwrap_or_default()));
    data.insert("operate".into(), Value::from(m.operate));
    send(&state, &who, parking_code, "operate_liftrod", data).await
}

/// Relays one of the cloud's other messages (3.5–3.8, 3.12–3.17, 3.19–3.22,
/// 3.24–3.33, 3.35, 3.36, 3.38–3.40, 3.42–3.44) to a Bolink lot with the fields given (the vendor's names; `park_id` and
/// `request_no` are added); delivered until the lot answers.
#[utoipa::path(post, path = "/api/admin/bolink/{parkingCode}/sync/{serviceName}", tag = "bolink",
    params(("parkingCode" = String, Path, description = "the Bolink lot's parking code"),
        ("serviceName" = inline(Relayed), Path, description = "the message")),
    request_body(content = Object, description = "the message's fields"),
    responses((status = 202, description = "stored; delivered until answered", body = Issued),
        (status = 400, description = "the body is not a JSON object", body = crate::error::ErrorBody),
        (status = 404, description = "no Bolink lot with that parking code", body = crate::error::ErrorBody)))]
pub(crate) async fn relay(
    State(state): State<AppState>,
    Extension(who): Extension<Who>,
    Path((parking_code, service)): Path<(String, Relayed)>,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<Issued>), ApiError> {
    let data: Map<String, Value> =
        serde_json::from_slice(&body).map_err(|e| bad(format!("body: a JSON object of the message's fields ({e})")))?;
    send(&state, &who, parking_code, &service.name(), data).await
}

/// Stores the command for delivery, audited (`barrier` for a barrier, else
/// `command`) with its fields.
async fn send(
    state: &AppState,
    who: &Who,
    parking_code: String,
    service: &str,
    data: Map<String, Value>,
) -> Result<(StatusCode, Json<Issued>), ApiError> {
    let command = downlink::find(service)
        .ok_or_else(|| bad(format!("serviceName: `{service}` is not a message onepark sends")))?;
    let lot = crate::city::payments::lot_of(state, &parking_code).await?;
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
    let kind = if command.service == "operate_liftrod" { "barrier" } else { "command" };
    // A car's lock code releases it: never written to the trail.
    let mut audited = data.clone();
    if audited.contains_key("lock_key") {
        audited.insert("lock_key".into(), Value::from("***"));
    }
    let change = crate::city::audit::Change::new(kind, &parking_code, &format!("{} {}", command.service, d.subject))
        .new_value(&audited);
    let pending = crate::city::audit::begin(state.store(), who, &format_time(now), change).await?;
    let result = state.store().put_downlinks(vec![d]).await;
    pending.finish(state.store(), &result).await;
    result?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_message_is_sent_by_one_route() {
        let mut names: Vec<String> = Relayed::ALL.iter().map(|r| r.name()).collect();
        names.extend(["lock_car".to_owned(), "operate_liftrod".to_owned()]);
        names.sort();
        let mut table: Vec<String> = downlink::COMMANDS.iter().map(|c| c.service.to_owned()).collect();
        table.sort();
        assert_eq!(names, table);
    }
}
