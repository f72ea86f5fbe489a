//! Platform → lot delivery over MQTT (spec §2.2): every message is sealed
//! once, stored, and published (QoS 1) until the lot's confirm call arrives
//! or its retry period ends. The confirm, not the broker's PUBACK, is the
//! acknowledgement: a lot that was offline, or a publish lost with a broker
//! restart, is covered by the next attempt.

use std::sync::Arc;
use std::time::Duration;

use onepark_domain::record::Protocol;
use onepark_domain::time::format_time;
use onepark_proto::interface::Downlink as Interface;
use onepark_proto::mqtt::BrokerUrl;
use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, Packet, QoS};

pub use crate::city::announce::Wake;
use crate::state::AppState;
use crate::store::{Claim, StoreError};

/// The platform nodes' shared subscription group on an external broker.
pub const SHARE: &str = "$share/onepark/";

/// Longest wait between two attempts of one message.
const MAX_BACKOFF_SECS: i64 = 600;
/// Messages handled per pass of the publisher.
const BATCH: i64 = 500;

/// When to try again after attempt number `attempts` (1-based): first at the
/// confirm deadline, then doubling, capped.
pub(crate) fn backoff(interface: &str, attempts: i64) -> chrono::Duration {
    let first = Interface::from_name(interface).map_or(5, |i| i.confirm_deadline_secs() as i64);
    let factor = 1i64 << (attempts - 1).clamp(0, 16);
    chrono::Duration::seconds((first * factor).min(MAX_BACKOFF_SECS))
}

/// An MQTT client for `mqtt://[user:password@]host[:port]` (no TLS built in).
pub fn client(url: &str, client_id: &str) -> Result<(AsyncClient, EventLoop), String> {
    let url = BrokerUrl::parse(url)?;
    let mut options = MqttOptions::new(client_id, url.host, url.port);
    options.set_keep_alive(Duration::from_secs(30));
    options.set_max_packet_size(1 << 20, 1 << 20);
    if let Some((user, password)) = url.login {
        options.set_credentials(user, password);
    }
    Ok(AsyncClient::new(options, 1024))
}

/// Drives the MQTT connection (rumqttc reconnects on the next poll): at
/// each connect it subscribes to the cloud lots' report topics, and hands
/// what they publish to [`crate::link::cloudpark::channel`], publishing its
/// acknowledgement. Reports are handled concurrently, at most 256 at once;
/// the rest wait in memory, never in the broker. On an external broker the
/// subscription is shared (`$share/onepark/…`): of several platform nodes,
/// one hears each report.
pub async fn drive(mut events: EventLoop, client: Arc<AsyncClient>, state: AppState, shared: bool) {
    let filter = state.cloud_topics().report_filter();
    let filter = if shared { format!("{SHARE}{filter}") } else { filter };
    let slots = Arc::new(tokio::sync::Semaphore::new(256));
    let mut connected_before = false;
    loop {
        match events.poll().await {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                if let Err(e) = client.try_subscribe(filter.as_str(), QoS::AtLeastOnce) {
                    tracing::error!(error = %e, "cannot subscribe to the cloud lots' reports");
                }
                if connected_before {
                    tokio::spawn(republish(state.clone()));
                }
                connected_before = true;
            }
            Ok(Event::Incoming(Packet::Publish(p))) => {
                // Never wait here: a loop that stops polling stops acknowledging,
                // and the broker drops what overflows this session's queue (a
                // broadcast's 10,000 answers arrive at once). The work waits instead.
                let (state, client, slots) = (state.clone(), client.clone(), slots.clone());
                tokio::spawn(async move {
                    let Ok(permit) = slots.acquire_owned().await else { return };
                    if let Some((topic, payload)) =
                        crate::link::cloudpark::channel::receive(&state, &p.topic, &p.payload).await
                        && let Err(e) = client.publish(topic, QoS::AtLeastOnce, false, payload).await
                    {
                        tracing::error!(error = %e, "MQTT client closed");
                    }
                    drop(permit);
                });
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "MQTT connection lost; reconnecting in 1 s");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// Back on the broker after losing it: a broker that restarted lost the
/// sessions and queues it held for lots, so every published, unconfirmed
/// message goes out again once the lots are back (they reconnect within
/// seconds; a lot reconnecting later is covered by the next backoff).
async fn republish(state: AppState) {
    let at = format_time(state.now() + chrono::Duration::seconds(REPUBLISH_AFTER_SECS));
    match state.store().republish_at(&at).await {
        Ok(n) => tracing::info!(messages = n, at, "broker connection back: unconfirmed downlinks published again"),
        Err(e) => tracing::warn!(error = %e, "unconfirmed downlinks not made due after a reconnect"),
    }
}

/// Seconds after the platform's reconnect that unconfirmed messages go out
/// again: time for the lots to reconnect and subscribe first.
const REPUBLISH_AFTER_SECS: i64 = 5;

/// The publisher: publishes due messages, expires old ones, sleeps until the
/// next is due or a new one is queued.
pub async fn publish_loop(state: AppState, client: Arc<AsyncClient>) {
    loop {
        let pause = match publish_due(&state, &client).await {
            Ok(true) => Duration::ZERO,
            Ok(false) => Duration::from_secs(1),
            Err(e) => {
                tracing::error!(error = %e, "downlink publisher failed; retrying in 5 s");
                Duration::from_secs(5)
            }
        };
        if !pause.is_zero() {
            let _ = tokio::time::timeout(pause, state.wake().notified()).await;
        }
    }
}

/// One pass; true when more may be due right away.
pub async fn publish_due(state: &AppState, client: &AsyncClient) -> Result<bool, StoreError> {
    let now = state.now();
    let now_text = format_time(now);
    let expired = state.store().expire_downlinks(&now_text).await?;
    if expired > 0 {
        tracing::warn!(expired, "downlinks expired without a confirm");
        state.metrics().downlinks_expired(expired);
    }
    // Each link's messages: Qingdao's sealed notices, the cloud's commands.
    let mut due = state.store().due_downlinks(Protocol::Qdpark, &now_text, BATCH).await?;
    due.extend(state.store().due_downlinks(Protocol::Cloudpark, &now_text, BATCH).await?);
    // Each attempt is claimed before it goes out, so that of several nodes
    // looking at the queue one publishes it; the whole pass in one write.
    let claims = due
        .iter()
        .map(|d| Claim {
            request_id: d.request_id,
            seen: d.attempts,
            next_attempt_at: if d.protocol == Protocol::Cloudpark.as_str() {
                crate::link::cloudpark::channel::next_attempt(d, d.attempts + 1, now)
            } else {
                format_time(now + backoff(&d.interface, d.attempts + 1))
            },
        })
        .collect();
    let claimed = state.store().claim_attempts(claims, &now_text).await?;
    for (d, claimed) in due.iter().zip(claimed) {
        // Another node claimed this attempt and publishes it.
        if !claimed {
            continue;
        }
        // A publish the client cannot take is lost with this attempt: the next comes after its backoff.
        if let Err(e) = client.publish(d.topic.as_str(), QoS::AtLeastOnce, false, d.payload.as_bytes()).await {
            tracing::error!(error = %e, request_id = d.request_id, "MQTT client closed");
            return Ok(false);
        }
        state.metrics().downlink_published(&d.interface, d.attempts == 0);
        tracing::debug!(request_id = d.request_id, topic = %d.topic, attempt = d.attempts + 1, "downlink published");
    }
    // A full pass: more may be due (attempts other nodes took included).
    Ok(due.len() as i64 >= BATCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_starts_at_the_deadline_and_is_capped() {
        assert_eq!(backoff("specialCar", 1).num_seconds(), 20);
        assert_eq!(backoff("specialCar", 2).num_seconds(), 40);
        assert_eq!(backoff("fee", 1).num_seconds(), 5);
        assert_eq!(backoff("specialCar", 40).num_seconds(), MAX_BACKOFF_SECS);
    }

    #[test]
    fn broker_urls() {
        assert!(client("mqtt://127.0.0.1:1883", "t").is_ok());
        assert!(client("mqtts://x:8883", "t").err().unwrap_or_default().contains("TLS"));
        assert!(client("mqtt://x:notaport", "t").err().unwrap_or_default().contains("port"));
    }
}
