//! The booth's ledger (`booth_ledger`): what each staff member did at the
//! booth, read back as the shift report.

use super::{Store, StoreError};

/// One thing done at the booth.
#[derive(Clone, Debug, Default, sqlx::FromRow)]
pub struct LedgerEntry {
    pub id: i64,
    pub at: String,
    pub staff: String,
    /// fee | arrears | open | match
    pub kind: String,
    pub lane: String,
    pub plate_no: String,
    pub uid: String,
    pub paid_type: Option<i64>,
    pub fen: i64,
    pub note: String,
}

impl Store {
    pub async fn put_ledger(&self, e: &LedgerEntry) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        sqlx::query(
            "INSERT INTO booth_ledger (at, staff, kind, lane, plate_no, uid, paid_type, fen, note) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&e.at)
        .bind(&e.staff)
        .bind(&e.kind)
        .bind(&e.lane)
        .bind(&e.plate_no)
        .bind(&e.uid)
        .bind(e.paid_type)
        .bind(e.fen)
        .bind(&e.note)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The ledger between `from` and `to` (half-open), oldest first.
    pub async fn ledger(&self, from: &str, to: &str) -> Result<Vec<LedgerEntry>, StoreError> {
        Ok(sqlx::query_as("SELECT * FROM booth_ledger WHERE at >= ? AND at < ? ORDER BY at, id")
            .bind(from)
            .bind(to)
            .fetch_all(&self.pool)
            .await?)
    }

    /// Photos of these sessions: (uid, photo id, 1 entry / 2 exit), oldest first.
    pub async fn session_photos(&self, uids: &[String]) -> Result<Vec<(String, String, i64)>, StoreError> {
        if uids.is_empty() {
            return Ok(Vec::new());
        }
        let marks = vec!["?"; uids.len()].join(", ");
        let sql = format!(
            "SELECT uid, photo_id, photo_type FROM photos WHERE uid IN ({marks}) AND jpeg IS NOT NULL ORDER BY time"
        );
        let mut query = sqlx::query_as(&sql);
        for uid in uids {
            query = query.bind(uid);
        }
        Ok(query.fetch_all(&self.pool).await?)
    }
}
