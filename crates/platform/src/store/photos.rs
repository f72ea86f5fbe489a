//! Photo metadata (`photos`); the JPEG files themselves are content-addressed
//! on disk (`crate::photo`), written and fsynced before their row commits.

use onepark_domain::record::{LotRef, Photo};
use onepark_domain::time::format_time;

use super::{Put, Store, StoreError, insert_once};

/// A photo's identity for idempotency: the record and its file's digest.
pub fn photo_content(m: &Photo, sha256: &str) -> String {
    format!("{}|{sha256}", m.content)
}

impl Store {
    /// Stores a photo's metadata; the file is already on disk under `sha256`.
    pub async fn put_photo(
        &self,
        lot: &LotRef,
        m: &Photo,
        sha256: &str,
        size: i64,
        now: &str,
    ) -> Result<Put, StoreError> {
        let data = (m.clone(), lot.access_id.clone(), sha256.to_owned(), now.to_owned());
        self.group
            .write(&m.parking_code, data, move |conn, (m, access_id, sha256, now), _| {
                let content = photo_content(m, sha256);
                let insert = sqlx::query(
                    "INSERT INTO photos (parking_code, photo_id, uid, access_id, photo_type, photo_time, name, sha256, \
                     size, upload_time, received_at, content) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT DO NOTHING",
                )
                .bind(&m.parking_code)
                .bind(&m.photo_id)
                .bind(&m.uid)
                .bind(access_id)
                .bind(m.kind)
                .bind(format_time(m.time))
                .bind(&m.name)
                .bind(sha256)
                .bind(size)
                .bind(format_time(m.upload_time))
                .bind(now)
                .bind(content.clone());
                Box::pin(async move {
                    insert_once(conn, insert, ("photos", "photo_id"), &m.parking_code, &m.photo_id, &content).await
                })
            })
            .await
    }

    /// The photos of some stays of a lot, taken at or after `since` (the
    /// earliest of their arrivals, so the time index bounds the search):
    /// (uid, photo_id), by time. One statement for all the stays.
    pub async fn photos_of(
        &self,
        parking_code: &str,
        since: &str,
        uids: &[String],
    ) -> Result<Vec<(String, String)>, StoreError> {
        if uids.is_empty() {
            return Ok(Vec::new());
        }
        let list: Vec<String> = (0..uids.len()).map(|i| format!("${}", i + 3)).collect();
        let sql = format!(
            "SELECT uid, photo_id FROM photos WHERE parking_code = $1 AND photo_time >= $2 AND uid IN ({}) \
             ORDER BY photo_time",
            list.join(", ")
        );
        let mut query = sqlx::query_as(&sql).bind(parking_code).bind(since);
        for uid in uids {
            query = query.bind(uid);
        }
        Ok(query.fetch_all(&self.pool).await?)
    }

    /// A photo's file digest.
    pub async fn photo_sha(&self, parking_code: &str, photo_id: &str) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar("SELECT sha256 FROM photos WHERE parking_code = $1 AND photo_id = $2")
            .bind(parking_code)
            .bind(photo_id)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// The stored identity ([`photo_content`]) of a photo, if any.
    pub async fn photo_stored(&self, parking_code: &str, photo_id: &str) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar("SELECT content FROM photos WHERE parking_code = $1 AND photo_id = $2")
            .bind(parking_code)
            .bind(photo_id)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Whether any photo row refers to this file.
    pub async fn photo_file_used(&self, sha256: &str) -> Result<bool, StoreError> {
        let row: Option<i64> = sqlx::query_scalar("SELECT 1 FROM photos WHERE sha256 = $1 LIMIT 1")
            .bind(sha256)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }
}
