//! Cars a parking cloud put into the lot (`cloud_stays`): the cloud's
//! recordNo of each and the session that holds it.

use super::{Store, StoreError, Write};

/// Remembers that `uid` holds the cloud's `record_no` (a second record for
/// the same session, or the same record again, changes nothing).
pub(super) async fn remember(tx: &mut Write, record_no: &str, uid: &str) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO cloud_stays (record_no, uid) VALUES (?, ?) ON CONFLICT DO NOTHING")
        .bind(record_no)
        .bind(uid)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

impl Store {
    /// The session holding a cloud record.
    pub async fn cloud_uid(&self, record_no: &str) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar("SELECT uid FROM cloud_stays WHERE record_no = ?")
            .bind(record_no)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// The cloud's record a session holds, if a cloud put it in.
    pub async fn cloud_record_of(&self, uid: &str) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar("SELECT record_no FROM cloud_stays WHERE uid = ?")
            .bind(uid)
            .fetch_optional(&self.pool)
            .await?)
    }
}
