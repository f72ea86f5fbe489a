//! Downlink messages (queued → published → confirmed | expired) and the
//! black/white list entries they carry.

use serde::Serialize;
use sqlx::{AnyConnection, Connection, Row};

use super::{Store, StoreError};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DownlinkState {
    Queued,
    Published,
    Confirmed,
    Expired,
}

impl DownlinkState {
    pub fn as_str(self) -> &'static str {
        match self {
            DownlinkState::Queued => "queued",
            DownlinkState::Published => "published",
            DownlinkState::Confirmed => "confirmed",
            DownlinkState::Expired => "expired",
        }
    }

    pub fn parse(text: &str) -> Option<DownlinkState> {
        [DownlinkState::Queued, DownlinkState::Published, DownlinkState::Confirmed, DownlinkState::Expired]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

/// One message to a lot, as stored.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Downlink {
    pub request_id: i64,
    pub access_id: String,
    pub parking_code: String,
    pub interface: String,
    pub topic: String,
    #[serde(skip)]
    pub payload: String,
    pub subject: String,
    pub created_at: String,
    #[serde(skip)]
    pub created_ms: i64,
    pub deadline_at: String,
    pub expires_at: String,
    pub state: DownlinkState,
    pub attempts: i64,
    pub next_attempt_at: String,
    pub last_published_at: Option<String>,
    pub confirmed_at: Option<String>,
    pub confirm_success: Option<bool>,
    pub confirm_ms: Option<i64>,
}

/// A black/white list entry of one lot (the latest version).
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListEntry {
    pub parking_code: String,
    pub plate_no: String,
    /// 0 black, 1 white
    pub list_kind: i64,
    pub access_id: String,
    pub car_type: i64,
    pub start_time: String,
    pub end_time: String,
    pub remark: Option<String>,
    pub operate_time: String,
    pub deleted: bool,
    pub request_id: i64,
}

/// What a confirm call found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Confirmed {
    /// First confirm: latency in milliseconds.
    Now { latency_ms: i64 },
    /// Confirmed before; nothing changed.
    Already,
    /// No such requestId for this accessID (or it expired long ago).
    Unknown,
}

/// The group-commit shard of every downlink write: they touch rows of many
/// lots at once (expiry), so they share one writer instead of one per lot.
const DOWNLINKS: &str = "downlinks";

const DOWNLINK_COLUMNS: &str = "request_id, access_id, parking_code, interface, topic, payload, subject, created_at, \
     created_ms, deadline_at, expires_at, state, attempts, next_attempt_at, last_published_at, confirmed_at, \
     confirm_success, confirm_ms";

impl Store {
    /// Stores a list entry's new version and the downlink that carries it,
    /// in one commit: an entry is never changed without its message.
    pub async fn put_list_change(&self, entry: &ListEntry, downlink: &Downlink) -> Result<(), StoreError> {
        let data = (entry.clone(), downlink.clone());
        self.group
            .write(DOWNLINKS, data, |conn, (entry, downlink), _| {
                Box::pin(async move {
                    let mut tx = conn.begin().await?;
                    upsert_entry(&mut tx, entry).await?;
                    insert_downlink(&mut tx, downlink).await?;
                    tx.commit().await?;
                    Ok(())
                })
            })
            .await
    }

    /// Messages due for (re)publishing at `now`, oldest first.
    pub async fn due_downlinks(&self, now: &str, limit: i64) -> Result<Vec<Downlink>, StoreError> {
        let sql = format!(
            "SELECT {DOWNLINK_COLUMNS} FROM downlinks WHERE state IN ('queued', 'published') \
             AND next_attempt_at <= $1 ORDER BY next_attempt_at, request_id LIMIT $2"
        );
        let rows = sqlx::query(&sql).bind(now).bind(limit).fetch_all(&self.pool).await?;
        rows.iter().map(downlink).collect()
    }

    /// The earliest time a message will be due (None: nothing pending).
    pub async fn next_due(&self) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT MIN(next_attempt_at) FROM downlinks WHERE state IN ('queued', 'published')")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get::<Option<String>, _>(0)?)
    }

    /// Records a publish (the broker accepted it) and when to try again.
    pub async fn mark_published(&self, request_id: i64, now: &str, next_attempt_at: &str) -> Result<(), StoreError> {
        let data = (now.to_owned(), next_attempt_at.to_owned());
        self.group
            .write(DOWNLINKS, data, move |conn, (now, next), _| {
                Box::pin(async move {
                    sqlx::query(
                        "UPDATE downlinks SET attempts = attempts + 1, last_published_at = $2, next_attempt_at = $3, \
                         state = CASE WHEN state = 'queued' THEN 'published' ELSE state END \
                         WHERE request_id = $1 AND state IN ('queued', 'published')",
                    )
                    .bind(request_id)
                    .bind(now)
                    .bind(next)
                    .execute(&mut *conn)
                    .await?;
                    Ok(())
                })
            })
            .await
    }

    /// Makes an accessID's already-published, unconfirmed messages due now:
    /// called when the lot (re)subscribes, so it need not wait for the
    /// backoff (after a broker restart its session is gone). Returns how many.
    pub async fn resend_now(&self, access_id: &str, now: &str) -> Result<u64, StoreError> {
        let data = (access_id.to_owned(), now.to_owned());
        self.group
            .write(DOWNLINKS, data, |conn, (access_id, now), _| {
                Box::pin(async move {
                    let done = sqlx::query(
                        "UPDATE downlinks SET next_attempt_at = $2 WHERE access_id = $1 AND state = 'published' \
                         AND next_attempt_at > $2",
                    )
                    .bind(access_id)
                    .bind(now)
                    .execute(&mut *conn)
                    .await?;
                    Ok(done.rows_affected())
                })
            })
            .await
    }

    /// Gives up on messages past their retry period; returns how many.
    pub async fn expire_downlinks(&self, now: &str) -> Result<u64, StoreError> {
        self.group
            .write(DOWNLINKS, now.to_owned(), |conn, now, _| {
                Box::pin(async move {
                    let done = sqlx::query(
                        "UPDATE downlinks SET state = 'expired' WHERE state IN ('queued', 'published') \
                         AND expires_at <= $1",
                    )
                    .bind(now)
                    .execute(&mut *conn)
                    .await?;
                    Ok(done.rows_affected())
                })
            })
            .await
    }

    /// A lot's confirm call for `request_id`. Only the accessID the message
    /// was sent to may confirm it; a repeat changes nothing.
    pub async fn confirm_downlink(
        &self,
        request_id: i64,
        access_id: &str,
        success: bool,
        now: &str,
        now_ms: i64,
    ) -> Result<Confirmed, StoreError> {
        let data = (access_id.to_owned(), now.to_owned());
        self.group
            .write(DOWNLINKS, data, move |conn, (access_id, now), _| {
                Box::pin(async move {
                    let mut tx = conn.begin().await?;
                    let row =
                        sqlx::query("SELECT state, created_ms FROM downlinks WHERE request_id = $1 AND access_id = $2")
                            .bind(request_id)
                            .bind(access_id)
                            .fetch_optional(&mut *tx)
                            .await?;
                    let Some(row) = row else { return Ok(Confirmed::Unknown) };
                    if row.try_get::<String, _>(0)? == "confirmed" {
                        return Ok(Confirmed::Already);
                    }
                    let latency_ms = (now_ms - row.try_get::<i64, _>(1)?).max(0);
                    sqlx::query(
                        "UPDATE downlinks SET state = 'confirmed', confirmed_at = $2, confirm_success = $3, \
                         confirm_ms = $4 WHERE request_id = $1",
                    )
                    .bind(request_id)
                    .bind(now)
                    .bind(i64::from(success))
                    .bind(latency_ms)
                    .execute(&mut *tx)
                    .await?;
                    tx.commit().await?;
                    Ok(Confirmed::Now { latency_ms })
                })
            })
            .await
    }

    /// Downlinks for the admin API, newest first.
    pub async fn downlinks(
        &self,
        parking_code: Option<&str>,
        state: Option<DownlinkState>,
        limit: i64,
    ) -> Result<Vec<Downlink>, StoreError> {
        let sql = format!(
            "SELECT {DOWNLINK_COLUMNS} FROM downlinks WHERE ($1 = '' OR parking_code = $1) \
             AND ($2 = '' OR state = $2) ORDER BY request_id DESC LIMIT $3"
        );
        let rows = sqlx::query(&sql)
            .bind(parking_code.unwrap_or_default())
            .bind(state.map(DownlinkState::as_str).unwrap_or_default())
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(downlink).collect()
    }

    pub async fn downlink(&self, request_id: i64) -> Result<Option<Downlink>, StoreError> {
        let sql = format!("SELECT {DOWNLINK_COLUMNS} FROM downlinks WHERE request_id = $1");
        let row = sqlx::query(&sql).bind(request_id).fetch_optional(&self.pool).await?;
        row.as_ref().map(downlink).transpose()
    }

    /// List entries (deleted ones included: their deletion is delivered too)
    /// with the delivery state of the message carrying each.
    pub async fn list_entries(
        &self,
        parking_code: Option<&str>,
        plate_no: Option<&str>,
    ) -> Result<Vec<(ListEntry, Option<DownlinkState>)>, StoreError> {
        let rows = sqlx::query(
            "SELECT e.parking_code, e.plate_no, e.list_kind, e.access_id, e.car_type, e.start_time, e.end_time, \
             e.remark, e.operate_time, e.deleted, e.request_id, d.state FROM list_entries e \
             LEFT JOIN downlinks d ON d.request_id = e.request_id \
             WHERE ($1 = '' OR e.parking_code = $1) AND ($2 = '' OR e.plate_no = $2) \
             ORDER BY e.parking_code, e.plate_no, e.list_kind LIMIT 10000",
        )
        .bind(parking_code.unwrap_or_default())
        .bind(plate_no.unwrap_or_default())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let entry = ListEntry {
                    parking_code: r.try_get(0)?,
                    plate_no: r.try_get(1)?,
                    list_kind: r.try_get(2)?,
                    access_id: r.try_get(3)?,
                    car_type: r.try_get(4)?,
                    start_time: r.try_get(5)?,
                    end_time: r.try_get(6)?,
                    remark: r.try_get(7)?,
                    operate_time: r.try_get(8)?,
                    deleted: r.try_get::<i64, _>(9)? != 0,
                    request_id: r.try_get(10)?,
                };
                let state = r.try_get::<Option<String>, _>(11)?.as_deref().and_then(DownlinkState::parse);
                Ok((entry, state))
            })
            .collect()
    }

    /// The current version of one list entry.
    pub async fn list_entry(
        &self,
        parking_code: &str,
        plate_no: &str,
        list_kind: i64,
    ) -> Result<Option<ListEntry>, StoreError> {
        let all = self.list_entries(Some(parking_code), Some(plate_no)).await?;
        Ok(all.into_iter().map(|(e, _)| e).find(|e| e.list_kind == list_kind))
    }
}

async fn upsert_entry(conn: &mut AnyConnection, e: &ListEntry) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO list_entries (parking_code, plate_no, list_kind, access_id, car_type, start_time, end_time, \
         remark, operate_time, deleted, request_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
         ON CONFLICT (parking_code, plate_no, list_kind) DO UPDATE SET access_id = $4, car_type = $5, \
         start_time = $6, end_time = $7, remark = $8, operate_time = $9, deleted = $10, request_id = $11",
    )
    .bind(&e.parking_code)
    .bind(&e.plate_no)
    .bind(e.list_kind)
    .bind(&e.access_id)
    .bind(e.car_type)
    .bind(&e.start_time)
    .bind(&e.end_time)
    .bind(e.remark.clone())
    .bind(&e.operate_time)
    .bind(i64::from(e.deleted))
    .bind(e.request_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn insert_downlink(conn: &mut AnyConnection, d: &Downlink) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO downlinks (request_id, access_id, parking_code, interface, topic, payload, subject, created_at, \
         created_ms, deadline_at, expires_at, state, attempts, next_attempt_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 0, $13)",
    )
    .bind(d.request_id)
    .bind(&d.access_id)
    .bind(&d.parking_code)
    .bind(&d.interface)
    .bind(&d.topic)
    .bind(&d.payload)
    .bind(&d.subject)
    .bind(&d.created_at)
    .bind(d.created_ms)
    .bind(&d.deadline_at)
    .bind(&d.expires_at)
    .bind(d.state.as_str())
    .bind(&d.next_attempt_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

fn downlink(r: &sqlx::any::AnyRow) -> Result<Downlink, StoreError> {
    Ok(Downlink {
        request_id: r.try_get(0)?,
        access_id: r.try_get(1)?,
        parking_code: r.try_get(2)?,
        interface: r.try_get(3)?,
        topic: r.try_get(4)?,
        payload: r.try_get(5)?,
        subject: r.try_get(6)?,
        created_at: r.try_get(7)?,
        created_ms: r.try_get(8)?,
        deadline_at: r.try_get(9)?,
        expires_at: r.try_get(10)?,
        state: DownlinkState::parse(&r.try_get::<String, _>(11)?).unwrap_or(DownlinkState::Queued),
        attempts: r.try_get(12)?,
        next_attempt_at: r.try_get(13)?,
        last_published_at: r.try_get(14)?,
        confirmed_at: r.try_get(15)?,
        confirm_success: r.try_get::<Option<i64>, _>(16)?.map(|v| v != 0),
        confirm_ms: r.try_get(17)?,
    })
}
