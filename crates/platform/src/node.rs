//! This platform process among the nodes sharing its database: it joins
//! (refused when it or a live node cannot share: SQLite, the embedded MQTT
//! broker), is seen every 5 s, leaves on shutdown; and the leases of the
//! jobs one node at a time runs. A leaf over the store.

use std::time::Duration;

use onepark_domain::time::format_time;

use crate::config::Config;
use crate::state::AppState;
use crate::store::{Node, StoreError};

/// How often a node says it is alive.
pub const BEAT: Duration = Duration::from_secs(5);
/// A node not seen for this long (three beats and some) is gone.
pub const ALIVE_MS: i64 = 20_000;
/// How long a job's lease lasts unless renewed (its holder renews every pass).
pub const LEASE_MS: i64 = 30_000;

#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    #[error(
        "another platform process uses the SQLite database {path} (it holds {path}.lock): one process per \
         SQLite file; several nodes need PostgreSQL and an external MQTT broker, see docs/deploy.md"
    )]
    SqliteInUse { path: String },
    #[error(
        "node {other} (seen {seen_s} s ago) already uses this database, and {why}: \
         several nodes need PostgreSQL and an external MQTT broker (mqtt_url), see docs/deploy.md; \
         a node stopped with kill -9 is forgotten {alive_s} s after its last beat"
    )]
    Shared { other: String, seen_s: i64, why: &'static str, alive_s: i64 },
}

/// What this node says of its broker: `embedded`, `external` or `none`.
pub fn broker(config: &Config) -> &'static str {
    match (&config.mqtt_url, &config.mqtt_listen) {
        (Some(_), _) => "external",
        (None, Some(_)) => "embedded",
        (None, None) => "none",
    }
}

/// Registers this node, refused when sharing the database is not safe:
/// SQLite (one process's file: an OS lock beside it says whether another
/// process has it, released even by kill -9), or the embedded broker on
/// either side (lots connected to one node's broker never hear what another
/// node publishes). Then keeps it seen until the process ends.
pub async fn join(state: &AppState, database: &str, broker: &'static str) -> Result<(), NodeError> {
    let store = state.store();
    let lock = lock_sqlite(database)?;
    let now = state.clock().millis();
    let me = Node {
        name: state.node().to_owned(),
        broker: broker.to_owned(),
        backend: store.backend().to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        started_at: format_time(state.now()),
        seen_ms: now,
    };
    // Registered first, read after: of two nodes starting at once, at least one sees the other.
    store.register_node(&me).await?;
    let others: Vec<Node> =
        store.nodes_alive(now - ALIVE_MS).await?.into_iter().filter(|n| n.name != me.name).collect();
    // On SQLite the lock decided (rows copied with a restored file name nodes long gone).
    let refusal = others.iter().filter(|_| lock.is_none()).find_map(|o| {
        let why = if me.broker == "embedded" {
            "this node would run the embedded MQTT broker"
        } else if o.broker == "embedded" {
            "that node runs the embedded MQTT broker"
        } else {
            return None;
        };
        Some(NodeError::Shared {
            other: o.name.clone(),
            seen_s: (now - o.seen_ms).max(0) / 1000,
            why,
            alive_s: ALIVE_MS / 1000,
        })
    });
    if let Some(refusal) = refusal {
        let _ = store.node_stopped(&me.name).await;
        return Err(refusal);
    }
    tracing::info!(node = me.name, others = others.len(), "platform node joined");
    tokio::spawn(beat(state.clone(), me, lock));
    Ok(())
}

/// A SQLite database's file lock (`<file>.lock`, taken without waiting);
/// `None` for PostgreSQL and in-memory databases.
fn lock_sqlite(database: &str) -> Result<Option<std::fs::File>, NodeError> {
    let Some(rest) = database.strip_prefix("sqlite://").or_else(|| database.strip_prefix("sqlite:")) else {
        return Ok(None);
    };
    let path = rest.split_once('?').map_or(rest, |(p, _)| p);
    if path.is_empty() || path.contains(":memory:") {
        return Ok(None);
    }
    let lock = format!("{path}.lock");
    let file = match std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&lock) {
        Ok(file) => file,
        Err(e) => {
            tracing::warn!(error = %e, lock, "cannot open the database's lock file; not checking for another process");
            return Ok(None);
        }
    };
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => Err(NodeError::SqliteInUse { path: path.to_owned() }),
        Err(std::fs::TryLockError::Error(e)) => {
            tracing::warn!(error = %e, lock, "cannot lock the database's lock file; not checking for another process");
            Ok(None)
        }
    }
}

/// Says every [`BEAT`] that this node is alive (registering it again if
/// its row went), and forgets the doors' old request claims now and then.
async fn beat(state: AppState, me: Node, lock: Option<std::fs::File>) {
    // Held as long as the process runs (this task does).
    let _lock = lock;
    let mut tick = tokio::time::interval(BEAT);
    let mut beats = 0u64;
    loop {
        tick.tick().await;
        beats += 1;
        let now = state.clock().millis();
        match state.store().node_seen(&me.name, now).await {
            Ok(true) => {}
            Ok(false) => {
                let again = Node { seen_ms: now, ..me.clone() };
                if let Err(e) = state.store().register_node(&again).await {
                    tracing::warn!(error = %e, "node not registered again");
                }
            }
            Err(e) => tracing::warn!(error = %e, "node heartbeat not stored"),
        }
        // The cloud API's window is ±5 min: a claim older than 20 min can match no acceptable request.
        if beats.is_multiple_of(12)
            && let Err(e) = state.store().forget_claims(now - 20 * 60 * 1000).await
        {
            tracing::warn!(error = %e, "old request claims not forgotten");
        }
    }
}

/// This node leaves (a clean shutdown): gone from the list, its leases free.
pub async fn leave(state: &AppState) {
    if let Err(e) = state.store().node_stopped(state.node()).await {
        tracing::warn!(error = %e, "node not removed from the list; it is forgotten after its last beat");
    }
}

/// Whether this node runs `job` now: takes or renews its lease. Another node
/// takes it over [`LEASE_MS`] after this one stops renewing.
pub async fn leased(state: &AppState, job: &str) -> bool {
    match state.store().lease(job, state.node(), state.clock().millis(), LEASE_MS).await {
        Ok(held) => held,
        Err(e) => {
            tracing::warn!(error = %e, job, "lease not taken (storage)");
            false
        }
    }
}
