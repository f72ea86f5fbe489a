//! Black/white lists from the platform's specialCar downlink (`list_entries`)
//! and the downlink ordering rule's memory (`downlink_order`, §2.2.4), written
//! together so a restart cannot let an older message overwrite a newer one.

use super::{Store, StoreError};

/// An applied downlink's place in the ordering rule (see `downlink::Order`).
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct OrderMark {
    pub interface: String,
    pub parking_code: String,
    pub subject: String,
    /// yyyy-MM-dd HH:mm:ss
    pub at: String,
    pub request_id: i64,
}

#[derive(Clone, Debug)]
pub struct ListEntry {
    pub plate_no: String,
    pub list_kind: i64,
    pub start_time: String,
    pub end_time: String,
    pub remark: Option<String>,
    pub request_id: i64,
}

impl Store {
    /// Applies a list entry from the platform (add/update, or delete) and
    /// remembers the message's place in the ordering rule, in one transaction.
    pub async fn set_list(&self, entry: &ListEntry, delete: bool, mark: &OrderMark) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        if delete {
            sqlx::query("DELETE FROM list_entries WHERE plate_no = ? AND list_kind = ?")
                .bind(&entry.plate_no)
                .bind(entry.list_kind)
                .execute(&mut *tx)
                .await?;
        } else {
            sqlx::query(
                "INSERT INTO list_entries (plate_no, list_kind, start_time, end_time, remark, request_id) \
                 VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (plate_no, list_kind) DO UPDATE SET \
                 start_time = excluded.start_time, end_time = excluded.end_time, remark = excluded.remark, \
                 request_id = excluded.request_id",
            )
            .bind(&entry.plate_no)
            .bind(entry.list_kind)
            .bind(&entry.start_time)
            .bind(&entry.end_time)
            .bind(&entry.remark)
            .bind(entry.request_id)
            .execute(&mut *tx)
            .await?;
        }
        mark_order(&mut tx, mark).await?;
        tx.commit().await
    }

    /// The ordering rule's memory, for the subscriber at start-up.
    pub async fn order_marks(&self) -> Result<Vec<OrderMark>, StoreError> {
        Ok(sqlx::query_as("SELECT interface, parking_code, subject, at, request_id FROM downlink_order")
            .fetch_all(&self.pool)
            .await?)
    }

    /// Whether `plate` is (black, white) listed at `now`: one query, both lists.
    pub async fn lists(&self, plate: &str, now: &str) -> Result<(bool, bool), StoreError> {
        let kinds: Vec<i64> = sqlx::query_scalar(
            "SELECT list_kind FROM list_entries WHERE plate_no = ? AND start_time <= ? AND end_time >= ?",
        )
        .bind(plate)
        .bind(now)
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        Ok((kinds.contains(&0), kinds.contains(&1)))
    }
}

/// Remembers an applied downlink's place in the ordering rule, in the
/// transaction that applies it (an older message never moves it back).
pub(super) async fn mark_order(tx: &mut sqlx::SqliteConnection, mark: &OrderMark) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO downlink_order (interface, parking_code, subject, at, request_id) VALUES (?, ?, ?, ?, ?) \
             ON CONFLICT (interface, parking_code, subject) DO UPDATE SET at = excluded.at, \
             request_id = excluded.request_id WHERE (excluded.at, excluded.request_id) > (at, request_id)",
    )
    .bind(&mark.interface)
    .bind(&mark.parking_code)
    .bind(&mark.subject)
    .bind(&mark.at)
    .bind(mark.request_id)
    .execute(&mut *tx)
    .await?;
    Ok(())
}
