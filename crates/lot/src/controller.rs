//! Barrier controllers: the device that drives a lane's barrier listens on
//! `GET /api/lanes/{lane}/commands` (Server-Sent Events, one `command` event
//! per order) and acknowledges each on `POST /api/lanes/{lane}/commands/{id}/ack`.
//! A remote order (the cloud's 3.10b / 3.13) waits for that acknowledgement,
//! so the cloud's answer says whether the barrier really moved. Orders live
//! only while someone waits for them: a controller that connects later never
//! replays a stale raise. docs/lot.md has a sample controller.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, oneshot};
use utoipa::ToSchema;

use crate::state::LotState;

/// One order to a lane's barrier.
#[derive(Clone, Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LaneCommand {
    /// Acknowledge with this id.
    pub id: u64,
    pub lane: String,
    /// `raise` or `lower`.
    pub command: String,
    pub operator: String,
    pub reason: String,
    /// yyyy-MM-dd HH:mm:ss
    pub at: String,
}

/// A controller's acknowledgement.
#[derive(Clone, Debug, Deserialize, ToSchema)]
pub struct Ack {
    /// The barrier moved.
    pub ok: bool,
    /// What went wrong, when it did not.
    #[serde(default)]
    pub msg: String,
}

/// Why an order was not carried out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failed {
    NoController,
    Timeout,
    Refused(String),
}

impl Failed {
    pub fn zh(&self, lane: &str) -> String {
        match self {
            Failed::NoController => format!("通道 {lane} 没有在线的道闸控制器"),
            Failed::Timeout => format!("通道 {lane} 的道闸控制器 {} 秒内未确认", ACK_WAIT.as_secs()),
            Failed::Refused(msg) => format!("通道 {lane} 的道闸控制器未执行：{msg}"),
        }
    }
}

/// How long an order waits for its controller.
pub const ACK_WAIT: Duration = Duration::from_secs(10);

#[derive(Default)]
pub struct Controllers {
    lanes: Mutex<HashMap<String, broadcast::Sender<LaneCommand>>>,
    waiting: Mutex<HashMap<u64, (String, oneshot::Sender<Ack>)>>,
    next: AtomicU64,
}

impl Controllers {
    fn channel(&self, lane: &str) -> broadcast::Sender<LaneCommand> {
        let mut lanes = self.lanes.lock().unwrap_or_else(|p| p.into_inner());
        lanes.entry(lane.to_owned()).or_insert_with(|| broadcast::channel(16).0).clone()
    }

    /// Listens for a lane's orders (what the command stream does; tests too).
    pub fn subscribe(&self, lane: &str) -> broadcast::Receiver<LaneCommand> {
        self.channel(lane).subscribe()
    }

    /// Controllers listening on a lane now.
    pub fn online(&self, lane: &str) -> usize {
        let lanes = self.lanes.lock().unwrap_or_else(|p| p.into_inner());
        lanes.get(lane).map_or(0, broadcast::Sender::receiver_count)
    }

    /// Sends an order and waits for the first acknowledgement.
    pub async fn order(&self, mut command: LaneCommand) -> Result<(), Failed> {
        let sender = self.channel(&command.lane);
        if sender.receiver_count() == 0 {
            return Err(Failed::NoController);
        }
        command.id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let (tx, rx) = oneshot::channel();
        self.waiting.lock().unwrap_or_else(|p| p.into_inner()).insert(command.id, (command.lane.clone(), tx));
        let id = command.id;
        let outcome = match sender.send(command) {
            Err(_) => Err(Failed::NoController),
            Ok(_) => match tokio::time::timeout(ACK_WAIT, rx).await {
                Ok(Ok(ack)) if ack.ok => Ok(()),
                Ok(Ok(ack)) => Err(Failed::Refused(ack.msg)),
                Ok(Err(_)) | Err(_) => Err(Failed::Timeout),
            },
        };
        self.waiting.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
        outcome
    }

    /// A controller's acknowledgement of order `id` on `lane`; false when nothing waits for it.
    pub fn ack(&self, lane: &str, id: u64, ack: Ack) -> bool {
        let mut waiting = self.waiting.lock().unwrap_or_else(|p| p.into_inner());
        match waiting.remove(&id) {
            Some((l, tx)) if l == lane => tx.send(ack).is_ok(),
            Some(other) => {
                waiting.insert(id, other);
                false
            }
            None => false,
        }
    }
}

/// A lane's orders as Server-Sent Events (`event: command`, `data:` a [`LaneCommand`]).
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

/// Acknowledges an order.
#[utoipa::path(post, path = "/api/lanes/{lane}/commands/{id}/ack", tag = "lane", request_body = Ack,
    params(("lane" = String, Path, description = "lane id"), ("id" = u64, Path, description = "the order's id")),
    responses((status = 200, description = "acknowledged"),
        (status = 404, description = "no such order waits (answered, or timed out)")))]
pub(crate) async fn ack(
    State(state): State<LotState>,
    Path((lane, id)): Path<(String, u64)>,
    Json(ack): Json<Ack>,
) -> Response {
    if state.controllers().ack(&lane, id, ack) {
        (StatusCode::OK, Json(serde_json::json!({ "ok": true }))).into_response()
    } else {
        let msg = format!("车道 {lane} 没有等待确认的指令 {id}（已确认或已超时）");
        (StatusCode::NOT_FOUND, Json(serde_json::json!({ "error": msg }))).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(lane: &str) -> LaneCommand {
        LaneCommand {
            id: 0,
            lane: lane.into(),
            command: "raise".into(),
            operator: "云坐席".into(),
            reason: "test".into(),
            at: String::new(),
        }
    }

    #[tokio::test]
    async fn an_order_waits_for_its_lanes_controller() {
        let c = std::sync::Arc::new(Controllers::default());
        assert_eq!(c.order(order("2")).await, Err(Failed::NoController));
        let mut rx = c.channel("2").subscribe();
        let waiting = tokio::spawn({
            let c = c.clone();
            async move { c.order(order("2")).await }
        });
        let got = rx.recv().await.expect("an order");
        assert!(!c.ack("1", got.id, Ack { ok: true, msg: String::new() }), "another lane's ack");
        assert!(c.ack("2", got.id, Ack { ok: false, msg: "jammed".into() }));
        assert_eq!(waiting.await.expect("joined"), Err(Failed::Refused("jammed".into())));
        assert!(!c.ack("2", got.id, Ack { ok: true, msg: String::new() }), "answered once");
    }
}
