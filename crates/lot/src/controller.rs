//! Barrier controllers over HTTP: the device that drives a lane's barrier
//! listens on `GET /api/lanes/{lane}/commands` (Server-Sent Events, one
//! `command` event per order) and acknowledges each on
//! `POST /api/lanes/{lane}/commands/{id}/ack`; the orders themselves are
//! `crate::orders`'. docs/lot.md has a sample controller.

use std::convert::Infallible;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use tokio::sync::broadcast;

use crate::http_error::{HttpError, Reply};
use crate::orders::Ack;
use crate::state::LotState;

/// A lane's orders as Server-Sent Events (`event: command`, `data:` an order of `crate::orders`).
#[utoipa::path(get, path = "/api/lanes/{lane}/commands", tag = "lane",
    params(("lane" = String, Path, description = "lane id")),
    responses((status = 200, description = "text/event-stream of `command` events"),
        (status = 404, description = "unknown_lane")))]
pub(crate) async fn commands(State(state): State<LotState>, Path(lane): Path<String>) -> Response {
    if !state.config().lanes.iter().any(|l| l.id == lane) {
        return (StatusCode::NOT_FOUND, Json(serde_json::json!({ "error": format!("未知车道 {lane}") })))
            .into_response();
    }
    let receiver = state.controllers().subscribe(&lane);
    tracing::info!(lane, "barrier controller connected");
    let stream = futures_util::stream::unfold(receiver, |mut receiver| async move {
        loop {
            match receiver.recv().await {
                Ok(command) => {
                    let event = Event::default().event("command").json_data(&command).unwrap_or_default();
                    return Some((Ok::<Event, Infallible>(event), receiver));
                }
                // A slow controller missed orders: their senders time out, nothing replays.
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))).into_response()
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub(crate) struct Acknowledged {
    ok: bool,
}

/// Acknowledges an order: `{"ok": true}`, or `{"ok": false, "msg": "why"}` when the barrier did not move.
#[utoipa::path(post, path = "/api/lanes/{lane}/commands/{id}/ack", tag = "lane", request_body = Ack,
    params(("lane" = String, Path, description = "lane id"), ("id" = u64, Path, description = "the order's id")),
    responses((status = 200, description = "acknowledged", body = Acknowledged),
        (status = 400, description = "not an acknowledgement: `error` names the field", body = crate::http_error::ErrorBody),
        (status = 404, description = "no such order waits (answered, or timed out)", body = crate::http_error::ErrorBody)))]
pub(crate) async fn ack(
    State(state): State<LotState>,
    Path((lane, id)): Path<(String, u64)>,
    bytes: axum::body::Bytes,
) -> Reply<Acknowledged> {
    let ack: Ack = serde_json::from_slice(&bytes).map_err(|e| HttpError::bad("body", e))?;
    if ack.msg.chars().count() > 200 {
        return Err(HttpError::bad("msg", "at most 200 characters"));
    }
    if state.controllers().ack(&lane, id, ack) {
        Ok(Json(Acknowledged { ok: true }))
    } else {
        Err(HttpError::new(StatusCode::NOT_FOUND, format!("车道 {lane} 没有等待确认的指令 {id}（已确认或已超时）")))
    }
}
