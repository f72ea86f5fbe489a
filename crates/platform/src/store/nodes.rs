//! What several platform nodes on one database share (`nodes`, `leases`,
//! `request_claims`): who is running, which node runs a one-at-a-time job,
//! and the requests a door serves once whichever node hears them.

use super::{Store, StoreError};

/// A node as it registered itself.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct Node {
    pub name: String,
    /// `embedded`, `external` or `none` (no broker configured).
    pub broker: String,
    /// `sqlite` or `postgres`.
    pub backend: String,
    pub version: String,
    pub started_at: String,
    pub seen_ms: i64,
}

/// The group-commit shard of these writes.
const NODES: &str = "nodes";

impl Store {
    /// `sqlite` or `postgres`: what a node says it runs on.
    pub fn backend(&self) -> &'static str {
        if self.writer.is_some() { "sqlite" } else { "postgres" }
    }

    /// Whether the database answers (a load balancer's health check).
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Registers (or, after a restart under the same name, replaces) a node.
    pub async fn register_node(&self, node: &Node) -> Result<(), StoreError> {
        self.group
            .write(NODES, node.clone(), |conn, n, _| {
                Box::pin(async move {
                    sqlx::query(
                        "INSERT INTO nodes (name, broker, backend, version, started_at, seen_ms) \
                         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (name) DO UPDATE SET broker = excluded.broker, \
                         backend = excluded.backend, version = excluded.version, started_at = excluded.started_at, \
                         seen_ms = excluded.seen_ms",
                    )
                    .bind(&n.name)
                    .bind(&n.broker)
                    .bind(&n.backend)
                    .bind(&n.version)
                    .bind(&n.started_at)
                    .bind(n.seen_ms)
                    .execute(&mut *conn)
                    .await?;
                    Ok(())
                })
            })
            .await
    }

    /// A node's heartbeat; false when its row is gone (removed as stopped).
    pub async fn node_seen(&self, name: &str, now_ms: i64) -> Result<bool, StoreError> {
        let name = name.to_owned();
        self.group
            .write(NODES, name, move |conn, name, _| {
                Box::pin(async move {
                    let done = sqlx::query("UPDATE nodes SET seen_ms = $2 WHERE name = $1")
                        .bind(name)
                        .bind(now_ms)
                        .execute(&mut *conn)
                        .await?;
                    Ok(done.rows_affected() == 1)
                })
            })
            .await
    }

    /// A node stopping: gone from the list at once, its leases free.
    pub async fn node_stopped(&self, name: &str) -> Result<(), StoreError> {
        let name = name.to_owned();
        self.group
            .write(NODES, name, |conn, name, _| {
                Box::pin(async move {
                    sqlx::query("DELETE FROM nodes WHERE name = $1").bind(&*name).execute(&mut *conn).await?;
                    sqlx::query("DELETE FROM leases WHERE holder = $1").bind(&*name).execute(&mut *conn).await?;
                    Ok(())
                })
            })
            .await
    }

    /// Nodes seen since `since_ms`, by name.
    pub async fn nodes_alive(&self, since_ms: i64) -> Result<Vec<Node>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT name, broker, backend, version, started_at, seen_ms FROM nodes WHERE seen_ms >= $1 ORDER BY name",
        )
        .bind(since_ms)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Takes or renews `job` for `holder` until `now_ms + ttl_ms`: true when
    /// it holds it now (it held it, or the last holder's time ran out).
    pub async fn lease(&self, job: &str, holder: &str, now_ms: i64, ttl_ms: i64) -> Result<bool, StoreError> {
        let data = (job.to_owned(), holder.to_owned());
        self.group
            .write(NODES, data, move |conn, (job, holder), _| {
                Box::pin(async move {
                    let done = sqlx::query(
                        "INSERT INTO leases (job, holder, until_ms) VALUES ($1, $2, $3) ON CONFLICT (job) DO UPDATE \
                         SET holder = excluded.holder, until_ms = excluded.until_ms \
                         WHERE leases.holder = excluded.holder OR leases.until_ms < $4",
                    )
                    .bind(&*job)
                    .bind(&*holder)
                    .bind(now_ms + ttl_ms)
                    .bind(now_ms)
                    .execute(&mut *conn)
                    .await?;
                    Ok(done.rows_affected() == 1)
                })
            })
            .await
    }

    /// Who holds `job` and until when, if anyone ever did.
    pub async fn lease_holder(&self, job: &str) -> Result<Option<(String, i64)>, StoreError> {
        Ok(sqlx::query_as("SELECT holder, until_ms FROM leases WHERE job = $1")
            .bind(job)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Claims `claim` at `door` for good (within the door's window): true
    /// the first time, on whichever node, false for every copy after.
    pub async fn claim_request(&self, door: &'static str, claim: &str, now_ms: i64) -> Result<bool, StoreError> {
        let claim = claim.to_owned();
        self.group
            .write(NODES, claim, move |conn, claim, _| {
                Box::pin(async move {
                    let done = sqlx::query(
                        "INSERT INTO request_claims (door, claim, at_ms) VALUES ($1, $2, $3) \
                         ON CONFLICT (door, claim) DO NOTHING",
                    )
                    .bind(door)
                    .bind(&*claim)
                    .bind(now_ms)
                    .execute(&mut *conn)
                    .await?;
                    Ok(done.rows_affected() == 1)
                })
            })
            .await
    }

    /// Forgets claims made before `before_ms` (past every window); how many.
    pub async fn forget_claims(&self, before_ms: i64) -> Result<u64, StoreError> {
        self.group
            .write(NODES, (), move |conn, _, _| {
                Box::pin(async move {
                    let done = sqlx::query("DELETE FROM request_claims WHERE at_ms < $1")
                        .bind(before_ms)
                        .execute(&mut *conn)
                        .await?;
                    Ok(done.rows_affected())
                })
            })
            .await
    }
}
