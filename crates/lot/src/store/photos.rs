//! Lane photos (`photos`): the JPEG waits here until uploadPhoto delivers
//! it, then is pruned; the metadata stays for reconciliation.

use sqlx::SqliteConnection;

use super::{Standing, Store, StoreError};

/// A lane photo to keep until uploadPhoto delivers it.
#[derive(Clone, Debug)]
pub struct StoredPhoto {
    pub photo_id: String,
    pub uid: String,
    pub photo_type: i64,
    pub time: String,
    pub name: String,
    pub jpeg: Vec<u8>,
}

impl Store {
    /// uploadPhoto's `file`: the stored JPEG as Base64; None once pruned or unknown.
    pub async fn photo_file(&self, photo_id: &str) -> Result<Option<String>, StoreError> {
        use base64::Engine;
        let jpeg: Option<Option<Vec<u8>>> = sqlx::query_scalar("SELECT jpeg FROM photos WHERE photo_id = ?")
            .bind(photo_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(jpeg.flatten().map(|bytes| base64::engine::general_purpose::STANDARD.encode(bytes)))
    }

    /// (uid, photo id) of the photos taken on `date` (yyyy-MM-dd), for reconciliation.
    pub async fn day_photos(&self, date: &str) -> Result<Vec<(String, String)>, StoreError> {
        Ok(sqlx::query_as("SELECT uid, photo_id FROM photos WHERE substr(time, 1, 10) = ? ORDER BY photo_id")
            .bind(date)
            .fetch_all(&self.pool)
            .await?)
    }

    /// Drops the JPEGs of delivered photos taken before `before` (local time):
    /// the metadata stays for counting, the bytes would fill the lot's disk.
    pub async fn prune_photos(&self, before: &str) -> Result<u64, StoreError> {
        let mut tx = self.write().await?;
        let done = sqlx::query(
            "UPDATE photos SET jpeg = NULL WHERE jpeg IS NOT NULL AND time < ? AND NOT EXISTS (\
             SELECT 1 FROM outbox o WHERE o.uid = photos.uid AND o.interface = 'uploadPhoto' \
             AND o.delivered_ms IS NULL AND o.dead = ?)",
        )
        .bind(before)
        .bind(Standing::InLine)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }
}

pub(super) async fn put_photo(tx: &mut SqliteConnection, p: &StoredPhoto) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO photos (photo_id, uid, photo_type, time, name, jpeg) VALUES (?, ?, ?, ?, ?, ?)")
        .bind(&p.photo_id)
        .bind(&p.uid)
        .bind(p.photo_type)
        .bind(&p.time)
        .bind(&p.name)
        .bind(&p.jpeg)
        .execute(&mut *tx)
        .await?;
    Ok(())
}
