//! The outbox (`outbox`): every record for the platform, queued in the same
//! transaction as the change it reports and sent in order by the sender (the top-level `outbox` module);
//! `meta` remembers what was last reported where only a change is news.

use super::{Store, StoreError, Write};

onepark_sql::column_enum! {
    /// Where an undelivered record stands (`outbox.dead`; delivered ones
    /// have `delivered_ms`).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Standing in "outbox.dead" as integer {
        /// Waiting to be sent (again).
        InLine = 0,
        /// Set aside: refused by the platform, or failing for hours; kept for an operator.
        SetAside = 1,
        /// Was set aside; staff since put a copy back in line.
        Resent = 2,
    }
}

/// One record waiting for (or done with) the platform.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Outgoing {
    pub id: i64,
    pub uid: Option<String>,
    pub interface: String,
    pub body: String,
    pub created_ms: i64,
    pub attempts: i64,
    pub next_attempt_ms: i64,
}

impl Outgoing {
    /// Records with one key are delivered in order: a session's records by
    /// uid, the others (berth state, heartbeat) per interface.
    pub fn ordering_key(&self) -> &str {
        self.uid.as_deref().unwrap_or(&self.interface)
    }
}

/// How an upload ended, as the outbox records it.
#[derive(Clone, Debug)]
pub enum Finished {
    Delivered { at_ms: i64 },
    Refused(String),
    Retry { next_attempt_ms: i64, error: String },
}

/// A row to add to the outbox in the same transaction as a change.
pub struct Report {
    pub uid: Option<String>,
    pub interface: &'static str,
    pub body: String,
    pub created_ms: i64,
}

/// A record the sender set aside, for an operator.
#[derive(Clone, Debug, serde::Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RefusedRecord {
    pub id: i64,
    pub uid: Option<String>,
    pub interface: String,
    /// The `data` object as sent (JSON text).
    pub body: String,
    pub attempts: i64,
    #[sqlx(rename = "last_error")]
    pub error: Option<String>,
}

impl Store {
    /// Queues `report` unless `key` already holds `fingerprint` (what was
    /// last reported); true when queued.
    pub async fn report_if_changed(&self, key: &str, fingerprint: &str, report: Report) -> Result<bool, StoreError> {
        let mut tx = self.write().await?;
        let last: Option<String> =
            sqlx::query_scalar("SELECT value FROM meta WHERE key = ?").bind(key).fetch_optional(&mut *tx).await?;
        if last.as_deref() == Some(fingerprint) {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(key)
        .bind(fingerprint)
        .execute(&mut *tx)
        .await?;
        queue(&mut tx, report).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Queues a record that belongs to no session change (berth state, heartbeat).
    pub async fn report(&self, report: Report) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        queue(&mut tx, report).await?;
        tx.commit().await?;
        Ok(())
    }

    /// A link's pending records (not delivered, not refused) after `after_id`, in id order.
    pub async fn pending_after(&self, link: &str, after_id: i64, limit: usize) -> Result<Vec<Outgoing>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT id, uid, interface, body, created_ms, attempts, next_attempt_ms FROM outbox \
             WHERE link = ? AND delivered_ms IS NULL AND dead = ? AND id > ? ORDER BY id LIMIT ?",
        )
        .bind(link)
        .bind(Standing::InLine)
        .bind(after_id)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?)
    }

    /// Records upload outcomes `(id, attempts so far, outcome)` in one transaction.
    pub async fn finish(&self, outcomes: &[(i64, i64, Finished)]) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        for (id, attempts, outcome) in outcomes {
            let query = match outcome {
                Finished::Delivered { at_ms } => {
                    sqlx::query("UPDATE outbox SET delivered_ms = ?, attempts = ? WHERE id = ?").bind(at_ms)
                }
                Finished::Refused(error) => {
                    sqlx::query("UPDATE outbox SET dead = ?, last_error = ?, attempts = ? WHERE id = ?")
                        .bind(Standing::SetAside)
                        .bind(error)
                }
                Finished::Retry { next_attempt_ms, error } => {
                    sqlx::query("UPDATE outbox SET next_attempt_ms = ?, last_error = ?, attempts = ? WHERE id = ?")
                        .bind(next_attempt_ms)
                        .bind(error)
                }
            };
            query.bind(attempts).bind(id).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Records set aside (refused by the platform, or failing for hours), newest first.
    pub async fn refused_records(&self, limit: i64) -> Result<Vec<RefusedRecord>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT id, uid, interface, body, attempts, last_error FROM outbox \
             WHERE dead = ? AND delivered_ms IS NULL ORDER BY id DESC LIMIT ?",
        )
        .bind(Standing::SetAside)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Puts a copy of a set-aside record back in line (after the cause was
    /// fixed) and marks the original [`Standing::Resent`]; false when `id`
    /// is not set aside. A copy, not the row: the sender reads new rows only.
    pub async fn retry_refused(&self, id: i64, now_ms: i64) -> Result<bool, StoreError> {
        let mut tx = self.write().await?;
        let done = sqlx::query(
            "INSERT INTO outbox (uid, interface, body, created_ms, next_attempt_ms, link) \
             SELECT uid, interface, body, ?, ?, link FROM outbox WHERE id = ? AND dead = ? AND delivered_ms IS NULL",
        )
        .bind(now_ms)
        .bind(now_ms)
        .bind(id)
        .bind(Standing::SetAside)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        sqlx::query("UPDATE outbox SET dead = ? WHERE id = ?")
            .bind(Standing::Resent)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// A link's records waiting to be sent, and those its far end refused.
    pub async fn backlog(&self, link: &str) -> Result<(i64, i64), StoreError> {
        Ok(sqlx::query_as(
            "SELECT COALESCE(SUM(CASE WHEN dead = ?1 THEN 1 ELSE 0 END), 0), \
             COALESCE(SUM(CASE WHEN dead = ?2 THEN 1 ELSE 0 END), 0) \
             FROM outbox WHERE delivered_ms IS NULL AND link = ?3",
        )
        .bind(Standing::InLine)
        .bind(Standing::SetAside)
        .bind(link)
        .fetch_one(&self.pool)
        .await?)
    }

    /// Queues the last copy of a session's record again (backfill after
    /// reconciliation); false when there is none to send.
    pub async fn requeue(&self, uid: &str, interface: &str, now_ms: i64) -> Result<bool, StoreError> {
        self.requeue_where("qdpark", uid, interface, None, now_ms).await
    }

    /// As [`Store::requeue`] on another link's rows (`outbox.link`).
    pub async fn requeue_on(&self, link: &str, uid: &str, interface: &str, now_ms: i64) -> Result<bool, StoreError> {
        self.requeue_where(link, uid, interface, None, now_ms).await
    }

    /// As [`Store::requeue`] for one of several records of a kind a session
    /// has: the one whose body has `key` = `id` (a photo's photoID, a bill's billID).
    pub async fn requeue_item(
        &self,
        uid: &str,
        interface: &str,
        key: &str,
        id: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        self.requeue_where("qdpark", uid, interface, Some((key, id)), now_ms).await
    }

    /// Nothing is queued while a copy is still waiting to be sent (the
    /// platform lacks it because it has not arrived yet), nor when the last
    /// copy was refused as invalid (it would be refused again).
    async fn requeue_where(
        &self,
        link: &str,
        uid: &str,
        interface: &str,
        item: Option<(&str, &str)>,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let (key, id) = item.unzip();
        let mut tx = self.write().await?;
        let done = sqlx::query(
            "INSERT INTO outbox (uid, interface, body, created_ms, next_attempt_ms, link) \
             SELECT last.uid, last.interface, last.body, ?1, ?1, ?8 FROM ( \
                 SELECT uid, interface, body, dead, last_error FROM outbox WHERE link = ?8 AND uid = ?2 AND interface = ?3 \
                 AND (?4 IS NULL OR json_extract(body, '$.' || ?4) = ?5) ORDER BY id DESC LIMIT 1) last \
             WHERE NOT (last.dead = ?6 AND last.last_error LIKE '400:%') \
             AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.link = ?8 AND p.uid = last.uid AND p.interface = last.interface \
                 AND p.body = last.body AND p.delivered_ms IS NULL AND p.dead = ?7)",
        )
        .bind(now_ms)
        .bind(uid)
        .bind(interface)
        .bind(key)
        .bind(id)
        .bind(Standing::SetAside)
        .bind(Standing::InLine)
        .bind(link)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }
}

/// Queues a record once for each link that carries it.
pub(super) async fn queue(tx: &mut Write, r: Report) -> Result<(), StoreError> {
    let links = tx.links.clone();
    for link in links.iter().filter(|l| l.carries(r.interface)) {
        sqlx::query(
            "INSERT INTO outbox (uid, interface, body, created_ms, next_attempt_ms, link) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(&r.uid)
        .bind(r.interface)
        .bind(&r.body)
        .bind(r.created_ms)
        .bind(r.created_ms)
        .bind(link.name)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_backfill_never_doubles_a_queued_copy_nor_resends_a_refusal() {
        let dir = onepark_testkit::dirs::TempDir::new("requeue");
        let file = dir.join("lot.db");
        let store = Store::open(&format!("sqlite://{}", file.display())).await.expect("store");
        let report =
            |body: &str| Report { uid: Some("u1".into()), interface: "uploadPhoto", body: body.into(), created_ms: 1 };
        store.report(report(r#"{"photoID":"u1-1"}"#)).await.expect("queued");
        store.report(report(r#"{"photoID":"u1-2"}"#)).await.expect("queued");
        let ids = |rows: Vec<Outgoing>| rows.iter().map(|r| r.id).collect::<Vec<_>>();
        assert_eq!(ids(store.pending_after("qdpark", 0, 10).await.expect("pending")), [1, 2]);
        // Still waiting to be sent: the platform lacks it because it has not arrived.
        assert!(!store.requeue_item("u1", "uploadPhoto", "photoID", "u1-1", 5).await.expect("requeue"));
        store.finish(&[(1, 1, Finished::Delivered { at_ms: 2 })]).await.expect("finish");
        assert!(store.requeue_item("u1", "uploadPhoto", "photoID", "u1-1", 5).await.expect("requeue"));
        assert!(!store.requeue_item("u1", "uploadPhoto", "photoID", "u1-1", 6).await.expect("requeue"), "once");
        // The other photo was refused as invalid: sending it again would be refused again.
        store.finish(&[(2, 1, Finished::Refused("400: bad photo".into()))]).await.expect("finish");
        assert!(!store.requeue_item("u1", "uploadPhoto", "photoID", "u1-2", 7).await.expect("requeue"));
        assert_eq!(ids(store.pending_after("qdpark", 0, 10).await.expect("pending")), [3]);
        // Staff fixed the cause and send it again: a new row in line, the old one no longer listed.
        assert_eq!(store.backlog("qdpark").await.expect("backlog"), (1, 1));
        assert_eq!(store.refused_records(10).await.expect("refused").len(), 1);
        assert!(store.retry_refused(2, 8).await.expect("retry"));
        assert!(!store.retry_refused(2, 9).await.expect("retry"), "only once");
        assert_eq!(ids(store.pending_after("qdpark", 0, 10).await.expect("pending")), [3, 4]);
        assert_eq!(store.backlog("qdpark").await.expect("backlog"), (2, 0));
        assert!(store.refused_records(10).await.expect("refused").is_empty());
    }
}
