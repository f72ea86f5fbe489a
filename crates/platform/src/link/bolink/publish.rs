//! Delivers the city's messages to Bolink lots (`announce`): each due one
//! goes to its lot's mailbox (the charging system managing its lane) if
//! one is logged in, and again after its interval until the lot answers or
//! it expires. Looks every 250 ms (the city's wake-up is the Qingdao
//! publisher's): a driver's fee query reaches the lot within a quarter
//! second.

use std::time::Duration;

use onepark_domain::record::Protocol;
use onepark_domain::time::format_time;

use super::announce::interval;
use crate::state::AppState;

const BATCH: i64 = 200;

pub async fn run(state: AppState) {
    let mut pruned = std::time::Instant::now();
    loop {
        if let Err(e) = publish_due(&state).await {
            tracing::error!(error = %e, "Bolink publisher");
        }
        // No-plate scans older than a day are read by no rule (10 s, 30 s): forgotten hourly.
        if pruned.elapsed() >= Duration::from_secs(3600) {
            pruned = std::time::Instant::now();
            let day_ago = state.clock().millis() - 86_400_000;
            match state.store().prune_scans(day_ago).await {
                Ok(n) if n > 0 => tracing::info!(scans = n, "old no-plate scans forgotten"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "old no-plate scans not pruned"),
            }
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// One pass: every due message of a lot logged in on this node sent; the
/// number sent. A lot's charging system holds one connection, to one node:
/// that node delivers its messages, and one logging in again (here or on
/// another node) gets all of them due at once (`due_again`).
pub async fn publish_due(state: &AppState) -> Result<usize, crate::store::StoreError> {
    let now = state.now();
    let here = state.bolink().lots();
    if here.is_empty() {
        return Ok(0);
    }
    let due = state.store().due_downlinks_of(Protocol::Bolink, &format_time(now), BATCH, &here).await?;
    let mut sent = 0;
    for d in due {
        // Again after the message's interval unless answered.
        let every = onepark_bolink::downlink::find(&d.interface)
            .map_or_else(|| interval(&d.interface), |c| chrono::Duration::seconds(c.retry_secs));
        // Claimed first: a lot logged in twice (an old connection not yet timed out elsewhere) hears each attempt once.
        if !state.store().claim_attempt(d.request_id, d.attempts, &format_time(now), &format_time(now + every)).await? {
            continue;
        }
        sent += usize::from(state.bolink().send(&d.access_id, &d.topic, d.payload.clone()));
    }
    Ok(sent)
}
