//! What the lot does with a downlink message, without I/O: open it, then
//! decide by the spec's ordering rule (§2.2.4) whether to apply it.
//!
//! Per (interface, parkingCode, business key) only a message whose envelope
//! timestamp is not older than the last one applied is applied; an older one
//! and an exact redelivery (same requestId) are confirmed without being
//! applied again. Within the same second (the timestamp's resolution, D-38)
//! the larger requestId wins: onepark's requestIds only increase, so an add
//! and a delete sent in one second cannot end reversed. The business key is `billID` for payResult and
//! `plateNo`+`plateColor` for the others.

use std::collections::{HashMap, HashSet, VecDeque};

use chrono::NaiveDateTime;
use onepark_proto::downlink::{DownlinkError, open};
use onepark_proto::interface::{Downlink, Topic};
use onepark_proto::{Keys, PrivateKey, Profile, PublicKey};
use serde_json::{Map, Value};

/// An opened, verified downlink message.
#[derive(Clone, Debug, PartialEq)]
pub struct Received {
    pub topic: Topic,
    pub request_id: i64,
    pub timestamp: NaiveDateTime,
    /// The decrypted business parameters (a flat object).
    pub params: Map<String, Value>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReceiveError {
    #[error("topic `{0}` is not qdpark/v1/{{interface}}/{{accessID}}/{{parkingCode}}")]
    Topic(String),
    #[error("payload is not UTF-8")]
    Utf8,
    #[error("{0}")]
    Open(#[from] DownlinkError),
    #[error("requestId {request_id}: the decrypted parameters are not a JSON object")]
    Params { request_id: i64 },
}

/// Verifies (platform key) and decrypts (own key) one MQTT message.
pub fn receive(
    profile: Profile,
    own: &PrivateKey,
    platform: &PublicKey,
    topic: &str,
    payload: &[u8],
) -> Result<Received, ReceiveError> {
    let parsed = Topic::parse(topic).ok_or_else(|| ReceiveError::Topic(topic.to_owned()))?;
    let json = std::str::from_utf8(payload).map_err(|_| ReceiveError::Utf8)?;
    let (envelope, opened) = open(profile, Keys { own: Some(own), peer: Some(platform) }, json)?;
    let params = match serde_json::from_str::<Value>(&opened.text) {
        Ok(Value::Object(map)) => map,
        _ => return Err(ReceiveError::Params { request_id: envelope.request_id }),
    };
    Ok(Received { topic: parsed, request_id: envelope.request_id, timestamp: envelope.timestamp.0, params })
}

/// What to do with a received message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Apply,
    /// Older than what was applied for the same key: confirm only.
    Stale,
    /// This requestId was applied already (a redelivery): confirm only.
    Duplicate,
}

/// Ordering and deduplication state; remembers the last `capacity` requestIds.
#[derive(Debug)]
pub struct Order {
    capacity: usize,
    seen: HashSet<i64>,
    seen_order: VecDeque<i64>,
    last: HashMap<OrderKey, (NaiveDateTime, i64)>,
}

impl Default for Order {
    fn default() -> Self {
        Order::new(100_000)
    }
}

impl Order {
    pub fn new(capacity: usize) -> Order {
        Order { capacity: capacity.max(1), seen: HashSet::new(), seen_order: VecDeque::new(), last: HashMap::new() }
    }

    pub fn check(&self, r: &Received) -> Verdict {
        if self.seen.contains(&r.request_id) {
            return Verdict::Duplicate;
        }
        match self.last.get(&r.order_key()) {
            Some(last) if (r.timestamp, r.request_id) < *last => Verdict::Stale,
            _ => Verdict::Apply,
        }
    }

    /// Seeds the memory with an applied (timestamp, requestId) for `key`,
    /// e.g. from the lot's store after a restart.
    pub fn restore(&mut self, key: OrderKey, at: NaiveDateTime, request_id: i64) {
        let last = self.last.entry(key).or_insert((at, request_id));
        *last = (*last).max((at, request_id));
    }

    /// Records that `r` was applied.
    pub fn applied(&mut self, r: &Received) {
        if self.seen.insert(r.request_id) {
            self.seen_order.push_back(r.request_id);
            if self.seen_order.len() > self.capacity
                && let Some(old) = self.seen_order.pop_front()
            {
                self.seen.remove(&old);
            }
        }
        let at = (r.timestamp, r.request_id);
        let last = self.last.entry(r.order_key()).or_insert(at);
        *last = (*last).max(at);
    }
}

/// What the ordering rule orders by: interface, parkingCode, and the plate
/// (plateNo|plateColor) or, for payResult, the billID.
pub type OrderKey = (Downlink, String, String);

impl Received {
    pub fn order_key(&self) -> OrderKey {
        let text = |k: &str| match self.params.get(k) {
            Some(Value::String(s)) => s.clone(),
            Some(v) => v.to_string(),
            None => String::new(),
        };
        let business = match self.topic.interface {
            Downlink::PayResult => text("billID"),
            _ => format!("{}|{}", text("plateNo"), text("plateColor")),
        };
        (self.topic.interface, self.topic.parking_code.clone(), business)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use onepark_domain::time::parse_time;
    use serde_json::json;

    fn received(request_id: i64, at: &str, plate: &str) -> Received {
        let Value::Object(params) = json!({ "plateNo": plate, "operate": 0 }) else { unreachable!() };
        Received {
            topic: Topic::parse("qdpark/v1/specialCar/234/1001").expect("topic"),
            request_id,
            timestamp: parse_time(at).expect("time"),
            params,
        }
    }

    #[test]
    fn newest_wins_per_plate_and_redeliveries_are_not_applied_twice() {
        let mut order = Order::default();
        let newer = received(2, "2026-11-23 10:00:05", "鲁B1");
        assert_eq!(order.check(&newer), Verdict::Apply);
        order.applied(&newer);
        assert_eq!(order.check(&newer), Verdict::Duplicate);
        // Sent earlier, arrived later: confirmed, not applied.
        assert_eq!(order.check(&received(1, "2026-11-23 10:00:04", "鲁B1")), Verdict::Stale);
        // Same second: the later requestId is applied, an earlier one is stale.
        assert_eq!(order.check(&received(3, "2026-11-23 10:00:05", "鲁B1")), Verdict::Apply);
        assert_eq!(order.check(&received(1, "2026-11-23 10:00:05", "鲁B1")), Verdict::Stale);
        // Another plate has its own order.
        assert_eq!(order.check(&received(4, "2026-11-23 09:00:00", "鲁B2")), Verdict::Apply);
    }

    #[test]
    fn remembers_a_bounded_number_of_request_ids() {
        let mut order = Order::new(2);
        for id in 1..=3 {
            order.applied(&received(id, "2026-11-23 10:00:00", "鲁B1"));
        }
        assert_eq!(order.seen.len(), 2);
        assert!(!order.seen.contains(&1));
    }
}
