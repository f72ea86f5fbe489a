//! Photo metadata (`photos`); the JPEG files themselves are content-addressed
//! on disk (`crate::photo`), written and fsynced before their row commits.

use onepark_domain::record::{LotRef, Photo};
use onepark_domain::time::format_time;

use sqlx::AnyConnection;

use super::{Put, Store, StoreError, already_stored, multi_row_insert, row_chunks};

/// A photo's identity for idempotency: the record and its file's digest.
fn photo_content(m: &Photo, sha256: &str) -> String {
    format!("{}|{sha256}", m.content)
}

/// A photo's row waiting in a batch.
struct PhotoRow {
    photo: Photo,
    access_id: String,
    sha256: String,
    size: i64,
    now: String,
    content: String,
}

/// Photos of one batch in multi-row inserts (as entries: a few statement
/// texts); a photo whose key exists is a duplicate with the same content,
/// else a conflict.
async fn put_photos(conn: &mut AnyConnection, rows: &[&PhotoRow]) -> Result<Vec<Result<Put, StoreError>>, StoreError> {
    const COLUMNS: usize = 12;
    let mut inserted = std::collections::HashSet::new();
    for chunk in row_chunks(rows.len()) {
        let sql = multi_row_insert(
            conn,
            "INSERT INTO photos (parking_code, photo_id, uid, access_id, photo_type, photo_time, name, sha256, \
             size, upload_time, received_at, content) VALUES ",
            COLUMNS,
            chunk.len(),
            " ON CONFLICT DO NOTHING RETURNING parking_code, photo_id",
        );
        let mut insert = sqlx::query_as::<_, (String, String)>(&sql);
        for r in &rows[chunk] {
            let m = &r.photo;
            insert = insert
                .bind(&m.parking_code)
                .bind(&m.photo_id)
                .bind(&m.uid)
                .bind(&r.access_id)
                .bind(m.kind)
                .bind(format_time(m.time))
                .bind(&m.name)
                .bind(&r.sha256)
                .bind(r.size)
                .bind(format_time(m.upload_time))
                .bind(&r.now)
                .bind(&r.content);
        }
        inserted.extend(insert.fetch_all(&mut *conn).await?);
    }
    let mut results = Vec::with_capacity(rows.len());
    for r in rows {
        let m = &r.photo;
        // The first of two rows with one key in a batch is the one inserted.
        results.push(if inserted.remove(&(m.parking_code.clone(), m.photo_id.clone())) {
            Ok(Put::Inserted)
        } else {
            already_stored(conn, ("photos", "photo_id"), &m.parking_code, &m.photo_id, &r.content).await
        });
    }
    Ok(results)
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
        let data = PhotoRow {
            content: photo_content(m, sha256),
            photo: m.clone(),
            access_id: lot.access_id.clone(),
            sha256: sha256.to_owned(),
            size,
            now: now.to_owned(),
        };
        self.group.write_bulk(&m.parking_code, data, |conn, rows, _| Box::pin(put_photos(conn, rows))).await
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

    /// Whether any photo row refers to this file.
    pub async fn photo_file_used(&self, sha256: &str) -> Result<bool, StoreError> {
        let row: Option<i64> = sqlx::query_scalar("SELECT 1 FROM photos WHERE sha256 = $1 LIMIT 1")
            .bind(sha256)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }
}
