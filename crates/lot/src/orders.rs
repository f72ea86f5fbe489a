//! Orders to the lanes' barrier controllers and their acknowledgements (the
//! HTTP side is `crate::controller`). A remote order (the cloud's 3.10b /
//! 3.13) waits for the acknowledgement, so the cloud's answer says whether
//! the barrier really moved. Orders live only while someone waits for them:
//! a controller that connects later never replays a stale raise.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, oneshot};
use utoipa::ToSchema;

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

impl LaneCommand {
    /// An order for `lane` (`raise` or `lower`); its id is given when it is sent.
    pub fn new(
        lane: impl Into<String>,
        command: impl Into<String>,
        operator: impl Into<String>,
        reason: impl Into<String>,
        at: String,
    ) -> LaneCommand {
        LaneCommand {
            id: 0,
            lane: lane.into(),
            command: command.into(),
            operator: operator.into(),
            reason: reason.into(),
            at,
        }
    }
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
