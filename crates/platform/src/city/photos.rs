//! A photo into the city, whatever door it came through: the file is written
//! (content-addressed: an identical re-upload finds it and writes nothing)
//! and made durable (`photo::Durability`) before its row commits, and a file
//! written for a row that then did not commit (a replay with another file:
//! the row's insert finds the conflict) is removed again before the answer
//! (unless another upload of the same file is under way), so no replay
//! leaves an orphan behind.
//!
//! No read of the existing row first: it would refuse such a replay without
//! writing, but it cost every new photo a pooled read (three round trips in
//! sqlx, counting its pings): the peak hour 9–11 % of its records/s on
//! SQLite, 17–18 % on PostgreSQL (BENCHMARKS.md "Ingest at the RSA limit").
//! A replay is bounded by the lot's photo rate limit, as its own new photos
//! are.

use onepark_domain::record::{LotRef, Photo};

use crate::state::AppState;
use crate::store::{Put, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum PhotoError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The file could not be written (disk full, permissions): retryable.
    #[error("photo file: {0}")]
    Disk(String),
}

/// Stores `jpeg` under `record` for `lot`.
pub async fn put(state: &AppState, lot: &LotRef, record: &Photo, jpeg: Vec<u8>, now: &str) -> Result<Put, PhotoError> {
    let size = jpeg.len() as i64;
    let sha256 = crate::photo::digest(&jpeg);
    // From here to the commit this upload may need the file; a failed
    // upload's clean-up must not remove it from under another one.
    let in_flight = state.photos_in_flight();
    in_flight.start(&sha256);
    let dir = state.photo_dir().to_owned();
    let (write_dir, write_sha) = (dir.clone(), sha256.clone());
    let created = match tokio::task::spawn_blocking(move || crate::photo::save(&write_dir, &write_sha, &jpeg)).await {
        Ok(Ok(created)) => created,
        Ok(Err(e)) => {
            in_flight.end(&sha256);
            tracing::error!(error = %e, "photo write failed");
            return Err(PhotoError::Disk(e.to_string()));
        }
        Err(e) => {
            in_flight.end(&sha256);
            return Err(PhotoError::Disk(e.to_string()));
        }
    };
    // Durable (with the other uploads saved meanwhile) before its row commits.
    let durable = state.photos_durable();
    let put = match durable.durable(durable.saved()).await {
        Ok(()) => state.store().put_photo(lot, record, &sha256, size, now).await.map_err(PhotoError::from),
        Err(e) => {
            tracing::error!(error = %e, "photo files could not be made durable");
            Err(PhotoError::Disk(e.to_string()))
        }
    };
    if put.is_err() && created {
        // Nothing may refer to the file this request created: take it back.
        let ticket = in_flight.ticket(&sha256);
        match state.store().photo_file_used(&sha256).await {
            Ok(false) => in_flight.finish(ticket, || {
                if let Err(e) = crate::photo::remove(&dir, &sha256) {
                    tracing::error!(error = %e, sha256, "cannot remove an unreferenced photo file");
                }
            }),
            Ok(true) => in_flight.finish(ticket, || {}),
            Err(e) => {
                in_flight.finish(ticket, || {});
                tracing::error!(error = %e, sha256, "cannot check an unreferenced photo file");
            }
        }
    } else {
        in_flight.end(&sha256);
    }
    put
}
