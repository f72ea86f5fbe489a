//! Drains the outbox to the platform: strictly in order (an entry always
//! before its photo, exit and bill), one record at a time, retrying with
//! exponential backoff (1 s doubling to 5 min) through outages and restarts.
//! A record counts as delivered on resultCode 200, which the platform also
//! answers for an identical re-upload; a resultCode 400 (the platform refuses
//! the content) is kept aside for an operator instead of blocking the queue.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use onepark_domain::time::{Zone, parse_time};
use onepark_proto::interface::Uplink;
use serde_json::Value;
use tokio::sync::Notify;

use crate::store::{Outgoing, Store};
use crate::uplink::Client;

/// Counters for metrics and tests.
#[derive(Debug, Default)]
pub struct OutboxStats {
    pub delivered: AtomicU64,
    /// Delivered within the spec's 5 s of the event.
    pub timely: AtomicU64,
    pub refused: AtomicU64,
    pub failed_attempts: AtomicU64,
    /// Event → acknowledged of the last delivery, milliseconds.
    pub last_latency_ms: AtomicU64,
    /// Platform clock minus ours, seconds, from the last heartbeat reply.
    pub clock_skew_secs: AtomicI64,
}

/// Beyond this the lot's timestamps would mislead the platform (issue: warn at 30 s).
pub const MAX_SKEW_SECS: i64 = 30;

pub fn backoff(attempts: i64) -> Duration {
    Duration::from_secs(1u64 << attempts.clamp(0, 9) as u32).min(Duration::from_secs(300))
}

pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Runs until the task is dropped; `wake` is notified when a record is queued.
pub async fn run(store: Store, uplink: Client, zone: Zone, wake: Arc<Notify>, stats: Arc<OutboxStats>) {
    loop {
        let pause = match store.head().await {
            Ok(None) => Duration::from_secs(5),
            Ok(Some(row)) if row.next_attempt_ms > now_ms() => {
                Duration::from_millis((row.next_attempt_ms - now_ms()).max(1) as u64)
            }
            Ok(Some(row)) => match send(&store, &uplink, zone, &stats, row).await {
                Ok(()) => Duration::ZERO,
                Err(e) => {
                    tracing::error!(error = %e, "outbox bookkeeping failed; retrying in 1 s");
                    Duration::from_secs(1)
                }
            },
            Err(e) => {
                tracing::error!(error = %e, "outbox read failed; retrying in 1 s");
                Duration::from_secs(1)
            }
        };
        if !pause.is_zero() {
            let _ = tokio::time::timeout(pause, wake.notified()).await;
        }
    }
}

async fn send(
    store: &Store,
    uplink: &Client,
    zone: Zone,
    stats: &OutboxStats,
    row: Outgoing,
) -> Result<(), crate::store::StoreError> {
    let Some(interface) = Uplink::from_name(&row.interface) else {
        return store.refused(row.id, &format!("unknown interface {}", row.interface)).await;
    };
    let Ok(body) = serde_json::from_str::<Value>(&row.body) else {
        return store.refused(row.id, "stored body is not JSON").await;
    };
    match uplink.send(interface, &body).await {
        Ok(reply) if reply.ok() => {
            let now = now_ms();
            let latency = u64::try_from(now - row.created_ms).unwrap_or(0);
            stats.delivered.fetch_add(1, Ordering::Relaxed);
            stats.last_latency_ms.store(latency, Ordering::Relaxed);
            if latency <= 5000 {
                stats.timely.fetch_add(1, Ordering::Relaxed);
            }
            if interface == Uplink::UploadHeartbeat {
                check_clock(&reply.body, zone, stats);
            }
            store.delivered(row.id, now).await
        }
        Ok(reply) if reply.result_code == "400" => {
            stats.refused.fetch_add(1, Ordering::Relaxed);
            tracing::error!(id = row.id, interface = row.interface, msg = reply.msg, "the platform refused a record");
            store.refused(row.id, &format!("{}: {}", reply.result_code, reply.msg)).await
        }
        outcome => {
            stats.failed_attempts.fetch_add(1, Ordering::Relaxed);
            let error = match outcome {
                Ok(reply) => format!("{}: {}", reply.result_code, reply.msg),
                Err(e) => e.to_string(),
            };
            let wait = backoff(row.attempts);
            tracing::warn!(id = row.id, interface = row.interface, %error, retry_in = ?wait, "upload failed");
            store.retry(row.id, now_ms() + wait.as_millis() as i64, &error).await
        }
    }
}

/// Compares the heartbeat reply's `serverTime` with our clock.
fn check_clock(reply: &Value, zone: Zone, stats: &OutboxStats) {
    let Some(server) = reply.get("serverTime").and_then(Value::as_str).and_then(|t| parse_time(t).ok()) else {
        return;
    };
    let skew = (server - zone.local(chrono::Utc::now())).num_seconds();
    stats.clock_skew_secs.store(skew, Ordering::Relaxed);
    if skew.abs() > MAX_SKEW_SECS {
        tracing::warn!(skew_secs = skew, "the lot's clock differs from the platform's by more than 30 s");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_five_minutes() {
        let secs: Vec<u64> = [0, 1, 2, 8, 9, 40].iter().map(|a| backoff(*a).as_secs()).collect();
        assert_eq!(secs, [1, 2, 4, 256, 300, 300]);
    }
}
