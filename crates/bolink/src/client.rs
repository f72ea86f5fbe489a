//! The charging system's side of a connection (the lot gateway drives it),
//! the mirror of [`crate::session`]: it logs in first (the `data` signed with
//! the lot's key), keeps the token, sends each record signed with it, learns
//! from the replies which records the cloud stored (`state` 1, matched by
//! `service_name` and `order_id`) or refused, and sends the heartbeat byte
//! when the line has been quiet. `now` is passed in (milliseconds).

use std::collections::VecDeque;

use serde_json::{Value, json};

use crate::envelope::Envelope;
use crate::frame::{Frame, Framer, HEARTBEAT};

/// Who the lot is to the cloud.
#[derive(Clone, Debug)]
pub struct Identity {
    pub park_id: String,
    pub local_id: Option<String>,
    pub key: String,
}

/// What the lot's application learns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    LoggedIn,
    /// The login was refused (the connection is over): the cloud's errmsg.
    LoginRefused(String),
    /// A record the cloud stored.
    Stored {
        service_name: String,
        order_id: String,
    },
    /// A record the cloud refused: its errmsg (`数据已处理过` means stored before).
    Refused {
        service_name: String,
        order_id: String,
        errmsg: String,
    },
    /// `request_over_times`: slow down and send it again.
    Throttled {
        service_name: String,
    },
    /// The answer to a query (`query_month_card_page`…) or to the lot's own
    /// answer of a downlink: the whole reply.
    Reply(serde_json::Map<String, Value>),
    /// A message of the cloud's own (a downlink), as received.
    Downlink(Value),
}

#[derive(Debug)]
pub struct Client {
    identity: Identity,
    framer: Framer,
    token: Option<String>,
    transmit: VecDeque<Vec<u8>>,
    outcomes: VecDeque<Outcome>,
    last_sent: i64,
    heartbeat_ms: i64,
}

impl Client {
    /// A client that logs in at once (its login is the first thing to transmit).
    pub fn new(identity: Identity, now: i64, heartbeat_ms: i64) -> Client {
        let mut data = json!({ "park_id": identity.park_id });
        if let Some(l) = &identity.local_id {
            data["local_id"] = Value::from(l.as_str());
        }
        let login = Envelope::build("login", None, &data, &identity.key);
        let mut c = Client {
            identity,
            // The cloud's answers can be long (a day's order ids in 2.23): read up to 4 MiB.
            framer: Framer::new(4 * 1024 * 1024),
            token: None,
            transmit: VecDeque::new(),
            outcomes: VecDeque::new(),
            last_sent: now,
            heartbeat_ms: heartbeat_ms.max(1_000),
        };
        c.line(login, now);
        c
    }

    fn line(&mut self, text: String, now: i64) {
        let mut bytes = text.into_bytes();
        bytes.push(b'\n');
        self.transmit.push_back(bytes);
        self.last_sent = now;
    }

    pub fn logged_in(&self) -> bool {
        self.token.is_some()
    }

    /// Sends a record (`in_park`, `out_park`, `upload_order`…); false before the login is answered.
    pub fn send(&mut self, service_name: &str, data: &Value, now: i64) -> bool {
        let Some(token) = self.token.clone() else { return false };
        self.line(Envelope::build(service_name, Some(&token), data, &self.identity.key), now);
        true
    }

    pub fn handle_input(&mut self, bytes: &[u8]) {
        for frame in self.framer.push(bytes) {
            let Frame::Line(line) = frame else { continue };
            let Ok(Value::Object(reply)) = serde_json::from_slice::<Value>(&line) else { continue };
            let text = |name: &str| reply.get(name).and_then(Value::as_str).unwrap_or_default().to_owned();
            let service_name = text("service_name");
            let state = reply.get("state").and_then(|s| s.as_i64().or_else(|| s.as_str()?.parse().ok()));
            let record = crate::message::deduplicated(&service_name);
            let outcome = match (service_name.as_str(), state) {
                (_, Some(s)) if s != 1 && text("errmsg") == "request_over_times" => Outcome::Throttled { service_name },
                (_, Some(_)) if !record && service_name != "login" => Outcome::Reply(reply.clone()),
                ("login", Some(1)) => {
                    self.token = Some(text("token"));
                    Outcome::LoggedIn
                }
                ("login", _) => Outcome::LoginRefused(text("errmsg")),
                (_, Some(1)) => Outcome::Stored { service_name, order_id: text("order_id") },
                (_, Some(_)) if text("errmsg") == "request_over_times" => Outcome::Throttled { service_name },
                (_, Some(_)) => Outcome::Refused { service_name, order_id: text("order_id"), errmsg: text("errmsg") },
                (_, None) => Outcome::Downlink(Value::Object(reply.clone())),
            };
            self.outcomes.push_back(outcome);
        }
    }

    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.transmit.pop_front()
    }

    /// The connection is new (a reconnect): log in again, forgetting the
    /// token and whatever was not yet sent.
    pub fn reset(&mut self, now: i64) {
        let identity = self.identity.clone();
        *self = Client::new(identity, now, self.heartbeat_ms);
    }

    pub fn poll_outcome(&mut self) -> Option<Outcome> {
        self.outcomes.pop_front()
    }

    /// When the heartbeat is due.
    pub fn poll_timeout(&self) -> i64 {
        self.last_sent + self.heartbeat_ms
    }

    pub fn handle_timeout(&mut self, now: i64) {
        if now >= self.poll_timeout() {
            self.transmit.push_back(vec![HEARTBEAT]);
            self.last_sent = now;
        }
    }
}
