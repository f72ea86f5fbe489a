//! The downlink subscriber: logs in to the broker with a signed password,
//! subscribes to the lot's topics (both D-10 spellings), opens each message,
//! applies it by the ordering rule and confirms it over HTTP within 5 s.
//!
//! The session is persistent (clean session off), so messages published
//! while the lot is away are delivered when it returns; after a broker
//! restart the platform's re-publishing covers what the broker lost.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use onepark_proto::interface::{AccessId, Downlink};
use onepark_proto::mqtt::{BrokerUrl, login_password};
use onepark_serve::clock::Clock;
use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, Packet, QoS, SubscribeFilter, SubscribeReasonCode};
use serde_json::{Map, Value, json};

use crate::downlink::{Order, Received, Verdict, receive};
use crate::uplink::Client;

/// Where and as whom to subscribe.
#[derive(Clone, Debug)]
pub struct Settings {
    /// `mqtt://host:port`
    pub broker_url: String,
    /// `accessID`, or `accessID_N` for node N (D-11); also the client id.
    pub username: String,
    /// The lot's parking codes; empty subscribes to all (`#`, platform-level docking).
    pub parking_codes: Vec<String>,
    /// A fixed password for brokers that cannot check signed logins (a
    /// Mosquitto password file); by default a fresh signed one per connect.
    pub password: Option<String>,
}

/// Why a message was not applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// A passing local failure (e.g. the database is busy): not confirmed, so
    /// the platform re-publishes it.
    Retry(String),
    /// The message cannot be applied here: confirmed with `success: false`.
    Reject(String),
}

/// Applies messages the ordering rule admits (a lot's lists, bills, …).
/// `Ok(Some(params))` answers with those `params` instead of the message's
/// own (uploadFee carries the bill the lot computed for a `fee` query).
pub trait Apply: Send + 'static {
    fn apply(&mut self, message: &Received) -> impl Future<Output = Applied> + Send;
}

/// What [`Apply::apply`] answers.
pub type Applied = Result<Option<Map<String, Value>>, Refusal>;

/// Counters, for metrics and tests.
#[derive(Debug, Default)]
pub struct Stats {
    pub received: AtomicU64,
    pub applied: AtomicU64,
    pub stale: AtomicU64,
    pub duplicate: AtomicU64,
    /// Dropped: bad signature, undecryptable, foreign topic, not JSON.
    pub rejected: AtomicU64,
    pub confirmed: AtomicU64,
    pub confirm_failed: AtomicU64,
    pub connects: AtomicU64,
    /// SUBACKs with every filter granted.
    pub subscribed: AtomicU64,
}

impl Stats {
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

pub struct Subscriber {
    settings: Settings,
    uplink: Client,
    order: Order,
    stats: Arc<Stats>,
    /// Bounds concurrent confirm calls (a reconnect may deliver a backlog at once).
    confirms: Arc<tokio::sync::Semaphore>,
    /// Signs the broker login's timestamp (the broker accepts ±300 s).
    clock: Clock,
}

#[derive(Debug, thiserror::Error)]
pub enum SubscriberError {
    #[error("broker_url: {0}")]
    Url(String),
}

impl Subscriber {
    pub fn new(settings: Settings, uplink: Client) -> Subscriber {
        Subscriber {
            settings,
            uplink,
            order: Order::default(),
            stats: Arc::default(),
            confirms: Arc::new(tokio::sync::Semaphore::new(16)),
            clock: Clock::system(),
        }
    }

    /// Reads the time from `clock` (the gateway's) instead of the system's.
    pub fn with_clock(mut self, clock: Clock) -> Subscriber {
        self.clock = clock;
        self
    }

    /// Starts from remembered ordering state (the lot's store) instead of none.
    pub fn with_order(mut self, order: Order) -> Subscriber {
        self.order = order;
        self
    }

    pub fn stats(&self) -> Arc<Stats> {
        self.stats.clone()
    }

    /// Runs until the task is dropped; reconnects with backoff (1 s doubling to 60 s).
    pub async fn run(mut self, mut apply: impl Apply) -> Result<(), SubscriberError> {
        let (client, mut events) = self.connect_options()?;
        let mut backoff = Duration::from_secs(1);
        self.refresh_login(&mut events);
        loop {
            match events.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                    backoff = Duration::from_secs(1);
                    self.stats.connects.fetch_add(1, Ordering::Relaxed);
                    tracing::info!(user = %self.settings.username, session_present = ack.session_present, "downlink connected");
                    // Always (re)subscribe: a restarted broker has forgotten the session.
                    if let Err(e) = client.try_subscribe_many(self.filters()) {
                        tracing::error!(error = %e, "cannot queue the downlink subscription");
                    }
                }
                Ok(Event::Incoming(Packet::SubAck(ack))) => {
                    if ack.return_codes.iter().any(|c| matches!(c, SubscribeReasonCode::Failure)) {
                        tracing::error!(user = %self.settings.username, codes = ?ack.return_codes, "the broker refused a downlink subscription");
                    } else {
                        self.stats.subscribed.fetch_add(1, Ordering::Relaxed);
                    }
                }
                Ok(Event::Incoming(Packet::Publish(p))) => self.handle(&p.topic, &p.payload, &mut apply).await,
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, retry_in = ?backoff, "downlink connection lost");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(60));
                    self.refresh_login(&mut events);
                }
            }
        }
    }

    fn connect_options(&self) -> Result<(AsyncClient, EventLoop), SubscriberError> {
        let url = BrokerUrl::parse(&self.settings.broker_url).map_err(SubscriberError::Url)?;
        let mut options = MqttOptions::new(&self.settings.username, url.host, url.port);
        options.set_clean_session(false);
        options.set_keep_alive(Duration::from_secs(30));
        options.set_max_packet_size(1 << 20, 1 << 20);
        Ok(AsyncClient::new(options, 64))
    }

    /// A signed password is valid for minutes only: make one per connect.
    fn refresh_login(&self, events: &mut EventLoop) {
        let user = &self.settings.username;
        let password = match &self.settings.password {
            Some(p) => p.clone(),
            None => match login_password(&self.uplink.identity().key, user, self.clock.now().timestamp()) {
                Ok(p) => p,
                Err(e) => {
                    tracing::error!(error = %e, "cannot sign the MQTT login");
                    return;
                }
            },
        };
        events.mqtt_options.set_credentials(user, password);
    }

    /// Both D-10 spellings, for the login's own topics and, for a node, the
    /// base accessID's (where the platform publishes).
    fn filters(&self) -> Vec<SubscribeFilter> {
        let user = AccessId::parse(&self.settings.username);
        let owners: Vec<String> =
            if user.node.is_some() { vec![user.to_string(), user.base.clone()] } else { vec![user.base.clone()] };
        let tails: Vec<&str> = if self.settings.parking_codes.is_empty() {
            vec!["#"]
        } else {
            self.settings.parking_codes.iter().map(String::as_str).collect()
        };
        let mut filters = Vec::new();
        for owner in &owners {
            for tail in &tails {
                for lead in ["", "/"] {
                    filters.push(SubscribeFilter::new(format!("{lead}qdpark/v1/+/{owner}/{tail}"), QoS::AtLeastOnce));
                }
            }
        }
        filters
    }

    async fn handle(&mut self, topic: &str, payload: &[u8], apply: &mut impl Apply) {
        self.stats.received.fetch_add(1, Ordering::Relaxed);
        let id = self.uplink.identity();
        let message = match receive(id.profile, &id.key, &id.platform_public, topic, payload) {
            Ok(m) => m,
            Err(e) => {
                self.stats.rejected.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(topic, error = %e, "downlink message dropped");
                return;
            }
        };
        // A fee query is answered afresh every time (the fee grows with the stay).
        let verdict =
            if message.topic.interface == Downlink::Fee { Verdict::Apply } else { self.order.check(&message) };
        let mut message = message;
        let refusal = match verdict {
            Verdict::Apply => match apply.apply(&message).await {
                Ok(reply) => {
                    self.order.applied(&message);
                    self.stats.applied.fetch_add(1, Ordering::Relaxed);
                    if let Some(params) = reply {
                        message.params = params;
                    }
                    None
                }
                Err(Refusal::Reject(reason)) => {
                    tracing::error!(request_id = message.request_id, topic, %reason, "downlink rejected");
                    Some(reason)
                }
                Err(Refusal::Retry(reason)) => {
                    tracing::warn!(request_id = message.request_id, topic, %reason, "downlink not applied; awaiting re-publish");
                    return;
                }
            },
            Verdict::Stale => {
                self.stats.stale.fetch_add(1, Ordering::Relaxed);
                tracing::info!(request_id = message.request_id, topic, "older than the last applied: confirmed only");
                None
            }
            Verdict::Duplicate => {
                self.stats.duplicate.fetch_add(1, Ordering::Relaxed);
                None
            }
        };
        // Off the MQTT loop, so a slow platform does not hold up delivery.
        let permit = self.confirms.clone().acquire_owned().await;
        let (uplink, stats) = (self.uplink.clone(), self.stats.clone());
        tokio::spawn(async move {
            let _permit = permit;
            confirm(uplink, stats, message, refusal).await;
        });
    }
}

/// The spec wants the confirm within 5 s: a failed call is retried while
/// there is time left; after that the platform's re-publish brings it back.
/// A refusal says why in `msg` (an onepark extension a platform may ignore).
async fn confirm(uplink: Client, stats: Arc<Stats>, message: Received, refusal: Option<String>) {
    let interface = message.topic.interface.reply();
    let request_id = message.request_id;
    let mut body =
        json!({ "success": refusal.is_none(), "requestId": request_id, "params": Value::Object(message.params) });
    if let (Some(reason), Some(object)) = (refusal, body.as_object_mut()) {
        object.insert("msg".into(), Value::String(reason));
    }
    let started = std::time::Instant::now();
    loop {
        let error = match uplink.send(interface, &body).await {
            Ok(reply) if reply.ok() => {
                stats.confirmed.fetch_add(1, Ordering::Relaxed);
                return;
            }
            Ok(reply) => format!("{} {}", reply.result_code, reply.msg),
            Err(e) => e.to_string(),
        };
        if started.elapsed() > Duration::from_secs(3) {
            stats.confirm_failed.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(request_id, %interface, %error, "confirm failed; the platform will re-publish");
            return;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
