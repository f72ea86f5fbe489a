//! Durable storage: one schema, two backends (SQLite embedded by default,
//! PostgreSQL for scale) through sqlx's `Any` driver. All SQL lives here.
//!
//! Every uplink write is one (nested) transaction run by the group-commit
//! writer ([`group`]); callers answer 200 only after its batch commits.

use chrono::NaiveDate;
use onepark_proto::dict::RecordKind;
use onepark_proto::msg::record::{
    CarIn, CarInModify, CarOut, CheckRecord, ParkingInfo, ParkingState, PayRecord, Photo,
};
use serde::Serialize;
use sqlx::any::{AnyArguments, AnyPoolOptions, install_default_drivers};
use sqlx::query::Query;
use sqlx::{Any, AnyConnection, AnyPool, Connection, Row, Transaction};

mod downlinks;
mod embedded;
mod group;
mod shared;
pub use downlinks::{Confirmed, Downlink, DownlinkState, ListEntry};
pub use group::CommitStats;
use shared::Shared;

/// Migrations, in order, embedded in the binary; applied ones are never
/// edited (sqlx's migrator refuses a changed checksum).
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "records", include_str!("../migrations/0001_records.sql")),
    (2, "photos bills checks", include_str!("../migrations/0002_photos_bills_checks.sql")),
    (3, "online slots", include_str!("../migrations/0003_online_slots.sql")),
    (4, "downlinks", include_str!("../migrations/0004_downlinks.sql")),
    (5, "photo files", include_str!("../migrations/0005_photo_files.sql")),
];

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("record {key} of lot {parking_code} already exists with different content")]
    Conflict { parking_code: String, key: String },
    #[error("no entry {uid} of lot {parking_code} to modify")]
    NoEntry { parking_code: String, uid: String },
    #[error("database: commit failed: {0}")]
    Commit(std::sync::Arc<sqlx::Error>),
    #[error("database: the write was not attempted (database unavailable; see the log)")]
    NotWritten,
    #[error("database migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// What a write did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Put {
    Inserted,
    /// An identical record was already stored; nothing changed.
    Duplicate,
}

#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    /// SQLite has one writer. A read-then-write transaction that loses the
    /// race fails at once with SQLITE_BUSY (no busy wait for a stale WAL
    /// snapshot), so on SQLite write transactions take turns here.
    writer: Option<std::sync::Arc<tokio::sync::Mutex<()>>>,
    group: group::GroupCommit,
}

/// Canonical content of a record for idempotency: the message without
/// `uploadTime`, which a retrying lot may refresh.
pub fn content<T: Serialize>(message: &T) -> String {
    let mut value = serde_json::to_value(message).unwrap_or_default();
    if let Some(object) = value.as_object_mut() {
        object.remove("uploadTime");
    }
    value.to_string()
}

impl Store {
    /// Connects (creating a SQLite file on first start) and migrates.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        install_default_drivers();
        let sqlite = url.starts_with("sqlite:");
        let url = if sqlite && !url.contains("mode=") {
            format!("{url}{}mode=rwc", if url.contains('?') { '&' } else { '?' })
        } else {
            url.to_owned()
        };
        let pool = AnyPoolOptions::new().max_connections(if sqlite { 4 } else { 16 }).connect(&url).await?;
        if sqlite {
            sqlx::query("PRAGMA journal_mode=WAL").execute(&pool).await?;
        }
        let writer = sqlite.then(|| std::sync::Arc::new(tokio::sync::Mutex::new(())));
        let group = group::GroupCommit::start(pool.clone(), writer.clone(), if sqlite { 1 } else { 4 });
        let store = Store { pool, writer, group };
        store.migrate().await?;
        Ok(store)
    }

    /// sqlx's migrator over the embedded files (`_sqlx_migrations`; on
    /// PostgreSQL under an advisory lock, so two platforms starting at once
    /// do not both migrate). A database made by onepark 0.1's own runner
    /// (`schema_migrations`) is adopted first.
    async fn migrate(&self) -> Result<(), StoreError> {
        let _writer = self.writer().await;
        let migrator = sqlx::migrate::Migrator::new(embedded::Embedded(MIGRATIONS)).await?;
        let mut conn = self.pool.acquire().await?;
        embedded::adopt_schema_migrations(&mut conn, &migrator, self.writer.is_some()).await?;
        migrator.run(&mut *conn).await?;
        Ok(())
    }

    async fn writer(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        match &self.writer {
            Some(lock) => Some(lock.lock().await),
            None => None,
        }
    }

    pub fn commit_stats(&self) -> &CommitStats {
        self.group.stats()
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Stores an entry; an identical re-upload is a [`Put::Duplicate`].
    pub async fn put_entry(&self, access_id: &str, m: &CarIn, plate_valid: bool, now: &str) -> Result<Put, StoreError> {
        let data = (m.clone(), access_id.to_owned(), now.to_owned());
        self.group
            .write(&m.parking_code, data, move |conn, (m, access_id, now), shared| {
                Box::pin(put_entry(conn, access_id, m, plate_valid, now, shared))
            })
            .await
    }

    /// Applies a modification (operateType 0) or deletion (1) and keeps it as history.
    pub async fn modify_entry(&self, m: &CarInModify, now: &str) -> Result<Put, StoreError> {
        let data = (m.clone(), now.to_owned());
        self.group.write(&m.parking_code, data, |conn, (m, now), _| Box::pin(modify_entry(conn, m, now))).await
    }

    /// Stores an exit; an exit without a known entry is stored and flagged.
    pub async fn put_exit(&self, access_id: &str, m: &CarOut, plate_valid: bool, now: &str) -> Result<Put, StoreError> {
        let data = (m.clone(), access_id.to_owned(), now.to_owned());
        self.group
            .write(&m.parking_code, data, move |conn, (m, access_id, now), shared| {
                Box::pin(put_exit(conn, access_id, m, plate_valid, now, shared))
            })
            .await
    }

    /// Records a berth state: time series plus latest state.
    pub async fn put_state(&self, access_id: &str, m: &ParkingState, now: &str) -> Result<(), StoreError> {
        let data = (m.clone(), access_id.to_owned(), now.to_owned());
        self.group
            .write(&m.parking_code, data, |_, (m, access_id, now), shared| {
                put_state(access_id, m, now, shared);
                Box::pin(async { Ok(()) })
            })
            .await
    }

    /// Marks a lot as alive.
    pub async fn heartbeat(&self, access_id: &str, parking_code: &str, now: &str) -> Result<(), StoreError> {
        let data = (access_id.to_owned(), parking_code.to_owned(), now.to_owned());
        self.group
            .write(parking_code, data, |_, (access_id, parking_code, now), shared| {
                shared.heartbeat(parking_code, access_id, now);
                Box::pin(async { Ok(()) })
            })
            .await
    }

    /// Stores a photo's metadata; the file is already on disk under `sha256`.
    pub async fn put_photo(
        &self,
        access_id: &str,
        m: &Photo,
        sha256: &str,
        size: i64,
        now: &str,
    ) -> Result<Put, StoreError> {
        let data = (m.clone(), access_id.to_owned(), sha256.to_owned(), now.to_owned());
        self.group
            .write(&m.parking_code, data, move |conn, (m, access_id, sha256, now), _| {
                Box::pin(put_photo(conn, access_id, m, sha256, size, now))
            })
            .await
    }

    /// The stored identity ([`photo_content`]) of a photo, if any.
    pub async fn photo_stored(&self, parking_code: &str, photo_id: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT content FROM photos WHERE parking_code = $1 AND photo_id = $2")
            .bind(parking_code)
            .bind(photo_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get(0)).transpose()?)
    }

    /// Whether any photo row refers to this file.
    pub async fn photo_file_used(&self, sha256: &str) -> Result<bool, StoreError> {
        let row = sqlx::query("SELECT 1 FROM photos WHERE sha256 = $1 LIMIT 1").bind(sha256).fetch_optional(&self.pool);
        Ok(row.await?.is_some())
    }

    /// Stores a bill, keyed by (parkingCode, billID).
    pub async fn put_bill(&self, access_id: &str, m: &PayRecord, now: &str) -> Result<Put, StoreError> {
        let data = (m.clone(), access_id.to_owned(), now.to_owned());
        self.group
            .write(&m.parking_code, data, |conn, (m, access_id, now), _| Box::pin(put_bill(conn, access_id, m, now)))
            .await
    }
    /// Keeps the latest basic information of a lot.
    pub async fn put_parking_info(&self, access_id: &str, m: &ParkingInfo, now: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO parking_info (parking_code, access_id, received_at, content) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (parking_code) DO UPDATE SET access_id = $2, received_at = $3, content = $4",
        )
        .bind(&m.parking_code)
        .bind(access_id)
        .bind(now)
        .bind(content(m))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The platform's own counts for one lot and day, as uploadCheckRecord
    /// defines them: entries by arrival, exits by exit, photos by photo
    /// time, bills and their total by deal time.
    pub async fn day_counts(&self, parking_code: &str, date: NaiveDate) -> Result<DayCounts, StoreError> {
        let (from, to) = day_range(date);
        let mut counts = [0i64; 5];
        let queries = [
            "SELECT COUNT(*), 0 FROM entries WHERE parking_code = $1 AND deleted = 0 \
             AND arrive_time >= $2 AND arrive_time < $3",
            "SELECT COUNT(*), 0 FROM exits WHERE parking_code = $1 AND end_time >= $2 AND end_time < $3",
            "SELECT COUNT(*), 0 FROM photos WHERE parking_code = $1 AND photo_time >= $2 AND photo_time < $3",
            "SELECT COUNT(*), CAST(COALESCE(SUM(actual_pay), 0) AS BIGINT) FROM bills WHERE parking_code = $1 \
             AND deal_time >= $2 AND deal_time < $3",
        ];
        for (i, sql) in queries.into_iter().enumerate() {
            let row = sqlx::query(sql).bind(parking_code).bind(&from).bind(&to).fetch_one(&self.pool).await?;
            counts[i] = row.try_get::<i64, _>(0)?;
            if i == 3 {
                counts[4] = row.try_get::<i64, _>(1)?;
            }
        }
        let [arrive, leave, photo, pay_num, pay_total] = counts;
        Ok(DayCounts { arrive, leave, photo, pay_num, pay_total })
    }

    /// Keeps a daily check and the answer given (the later of two checks in
    /// the same second wins).
    pub async fn record_check(
        &self,
        m: &CheckRecord,
        ours: &DayCounts,
        marks: (i64, i64),
        now: &str,
    ) -> Result<(), StoreError> {
        let theirs = DayCounts::from(m);
        sqlx::query(
            "INSERT INTO check_records (parking_code, check_date, received_at, lot_counts, platform_counts, \
             account_mark, photo_mark) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (parking_code, check_date, received_at) DO UPDATE SET lot_counts = $4, \
             platform_counts = $5, account_mark = $6, photo_mark = $7",
        )
        .bind(&m.parking_code)
        .bind(m.check_date.to_string())
        .bind(now)
        .bind(theirs.to_string())
        .bind(ours.to_string())
        .bind(marks.0)
        .bind(marks.1)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A page of (uid, the lot's record id) of what the platform holds for
    /// one lot, day and record kind (downloadUID), in (uid, id) order after
    /// `after`: keyset paging, so a large day streams in constant memory.
    pub async fn uids_page(
        &self,
        parking_code: &str,
        date: NaiveDate,
        kind: RecordKind,
        after: Option<&(String, String)>,
        limit: i64,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let (table, id, time, extra) = match kind {
            RecordKind::Entry => ("entries", "arrival_id", "arrive_time", " AND deleted = 0"),
            RecordKind::Exit => ("exits", "exit_id", "end_time", ""),
            RecordKind::Bill => ("bills", "bill_id", "deal_time", ""),
            RecordKind::Photo => ("photos", "photo_id", "photo_time", ""),
            RecordKind::Other(_) => return Ok(Vec::new()),
        };
        let sql = format!(
            "SELECT uid, {id} FROM {table} WHERE parking_code = $1 AND {time} >= $2 AND {time} < $3{extra} \
             AND (uid > $4 OR (uid = $4 AND {id} > $5)) ORDER BY uid, {id} LIMIT $6"
        );
        let (from, to) = day_range(date);
        let (uid, record) = after.cloned().unwrap_or_default();
        let rows = sqlx::query(&sql)
            .bind(parking_code)
            .bind(from)
            .bind(to)
            .bind(uid)
            .bind(record)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
    }

    /// Registers (or replaces) a lot at run time.
    pub async fn add_lot(&self, lot: &StoredLot, now: &str) -> Result<(), StoreError> {
        let codes = serde_json::to_string(&lot.parking_codes).unwrap_or_default();
        sqlx::query(
            "INSERT INTO lot_access (access_id, public_key, profile, parking_codes, added_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (access_id) DO UPDATE SET public_key = $2, profile = $3, parking_codes = $4, added_at = $5",
        )
        .bind(&lot.access_id)
        .bind(&lot.public_key)
        .bind(&lot.profile)
        .bind(codes)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Removes a run-time lot; false when there was none.
    pub async fn remove_lot(&self, access_id: &str) -> Result<bool, StoreError> {
        let n = sqlx::query("DELETE FROM lot_access WHERE access_id = $1").bind(access_id).execute(&self.pool).await?;
        Ok(n.rows_affected() > 0)
    }

    pub async fn lots(&self) -> Result<Vec<StoredLot>, StoreError> {
        let rows =
            sqlx::query("SELECT access_id, public_key, profile, parking_codes FROM lot_access ORDER BY access_id")
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(stored_lot).collect()
    }

    pub async fn lot(&self, access_id: &str) -> Result<Option<StoredLot>, StoreError> {
        let row =
            sqlx::query("SELECT access_id, public_key, profile, parking_codes FROM lot_access WHERE access_id = $1")
                .bind(access_id)
                .fetch_optional(&self.pool)
                .await?;
        row.as_ref().map(stored_lot).transpose()
    }

    /// Latest state of every lot that has reported.
    pub async fn lot_statuses(&self) -> Result<Vec<LotStatus>, StoreError> {
        let rows = sqlx::query(
            "SELECT parking_code, access_id, last_seen, last_heartbeat, total, open_berths, free_berths, state_at \
             FROM lot_status ORDER BY parking_code",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(LotStatus {
                    parking_code: r.try_get(0)?,
                    access_id: r.try_get(1)?,
                    last_seen: r.try_get(2)?,
                    last_heartbeat: r.try_get(3)?,
                    total_berths: r.try_get(4)?,
                    open_berths: r.try_get(5)?,
                    free_berths: r.try_get(6)?,
                    state_at: r.try_get(7)?,
                })
            })
            .collect()
    }

    /// Parking records (entries with their exit, if any), newest first.
    pub async fn search(&self, q: &RecordQuery) -> Result<Vec<RecordRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT e.parking_code, e.uid, e.plate_no, e.plate_color, e.arrive_time, x.end_time, x.should_pay, \
             e.deleted, e.plate_valid FROM entries e LEFT JOIN exits x ON x.parking_code = e.parking_code AND x.uid = e.uid \
             WHERE ($1 = '' OR e.parking_code = $1) AND ($2 = '' OR e.plate_no = $2) \
             AND e.arrive_time >= $3 AND e.arrive_time < $4 \
             ORDER BY e.arrive_time DESC, e.uid LIMIT $5 OFFSET $6",
        )
        .bind(&q.parking_code)
        .bind(&q.plate_no)
        .bind(&q.from)
        .bind(&q.to)
        .bind(q.limit)
        .bind(q.offset)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(RecordRow {
                    parking_code: r.try_get(0)?,
                    uid: r.try_get(1)?,
                    plate_no: r.try_get(2)?,
                    plate_color: r.try_get(3)?,
                    arrive_time: r.try_get(4)?,
                    end_time: r.try_get(5)?,
                    should_pay: r.try_get(6)?,
                    deleted: r.try_get::<i64, _>(7)? != 0,
                    plate_valid: r.try_get::<i64, _>(8)? != 0,
                })
            })
            .collect()
    }

    /// A lot's berth counts between two local times.
    pub async fn berth_series(&self, parking_code: &str, from: &str, to: &str) -> Result<Vec<BerthPoint>, StoreError> {
        let rows = sqlx::query(
            "SELECT at, total, open_berths, free_berths FROM berth_states WHERE parking_code = $1 \
             AND at >= $2 AND at < $3 ORDER BY at",
        )
        .bind(parking_code)
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(BerthPoint { at: r.try_get(0)?, total: r.try_get(1)?, open: r.try_get(2)?, free: r.try_get(3)? })
            })
            .collect()
    }

    /// The lot's latest uploadCheckRecord for a day: (received_at, lot counts, marks).
    pub async fn latest_check(
        &self,
        parking_code: &str,
        date: NaiveDate,
    ) -> Result<Option<(String, String, i64, i64)>, StoreError> {
        let row = sqlx::query(
            "SELECT received_at, lot_counts, account_mark, photo_mark FROM check_records \
             WHERE parking_code = $1 AND check_date = $2 ORDER BY received_at DESC LIMIT 1",
        )
        .bind(parking_code)
        .bind(date.to_string())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?))).transpose()
    }

    /// Data quality of one lot and day. Late = received more than 5 s after
    /// the event it reports (entry time, exit time).
    pub async fn quality(&self, parking_code: &str, date: NaiveDate, open_before: &str) -> Result<Quality, StoreError> {
        let (from, to) = day_range(date);
        let mut q = Quality::default();
        for (sql, exits) in [
            (
                "SELECT arrive_time, received_at, plate_valid, 0 FROM entries WHERE parking_code = $1 \
                 AND arrive_time >= $2 AND arrive_time < $3",
                false,
            ),
            (
                "SELECT end_time, received_at, plate_valid, without_entry FROM exits WHERE parking_code = $1 \
                 AND end_time >= $2 AND end_time < $3",
                true,
            ),
        ] {
            let rows = sqlx::query(sql).bind(parking_code).bind(&from).bind(&to).fetch_all(&self.pool).await?;
            for r in &rows {
                let (event, received): (String, String) = (r.try_get(0)?, r.try_get(1)?);
                let late =
                    match (event.parse::<onepark_proto::wire::Time>(), received.parse::<onepark_proto::wire::Time>()) {
                        (Ok(e), Ok(rcv)) => (rcv.0 - e.0).num_seconds() > 5,
                        _ => false,
                    };
                q.records += 1;
                q.late += i64::from(late);
                q.invalid_plates += i64::from(r.try_get::<i64, _>(2)? == 0);
                if exits {
                    q.exits_without_entry += r.try_get::<i64, _>(3)?;
                }
            }
        }
        q.entries_open_too_long = sqlx::query(
            "SELECT COUNT(*) FROM entries e WHERE e.parking_code = $1 AND e.deleted = 0 AND e.arrive_time < $2 \
             AND NOT EXISTS (SELECT 1 FROM exits x WHERE x.parking_code = e.parking_code AND x.uid = e.uid)",
        )
        .bind(parking_code)
        .bind(open_before)
        .fetch_one(&self.pool)
        .await?
        .try_get(0)?;
        Ok(q)
    }

    /// How many 10-minute slots of a day the lot was heard in.
    pub async fn online_slots(&self, parking_code: &str, date: NaiveDate) -> Result<i64, StoreError> {
        let (from, to) = day_range(date);
        Ok(sqlx::query("SELECT COUNT(*) FROM online_slots WHERE parking_code = $1 AND slot >= $2 AND slot < $3")
            .bind(parking_code)
            .bind(&from[..16])
            .bind(&to[..16])
            .fetch_one(&self.pool)
            .await?
            .try_get(0)?)
    }

    /// Counts a lot's rows in one table (reports and tests).
    pub async fn count(&self, table: Table, parking_code: &str) -> Result<i64, StoreError> {
        let sql = match table {
            Table::Entries => "SELECT COUNT(*) FROM entries WHERE parking_code = $1 AND deleted = 0",
            Table::Exits => "SELECT COUNT(*) FROM exits WHERE parking_code = $1",
            Table::ExitsWithoutEntry => "SELECT COUNT(*) FROM exits WHERE parking_code = $1 AND without_entry = 1",
            Table::BerthStates => "SELECT COUNT(*) FROM berth_states WHERE parking_code = $1",
        };
        Ok(sqlx::query(sql).bind(parking_code).fetch_one(&self.pool).await?.try_get(0)?)
    }
}

/// Counted tables, for reports and tests.
#[derive(Clone, Copy, Debug)]
pub enum Table {
    Entries,
    Exits,
    ExitsWithoutEntry,
    BerthStates,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LotStatus {
    pub parking_code: String,
    pub access_id: String,
    pub last_seen: String,
    pub last_heartbeat: Option<String>,
    pub total_berths: Option<i64>,
    pub open_berths: Option<i64>,
    pub free_berths: Option<i64>,
    pub state_at: Option<String>,
}

/// Filters of a record search; empty strings mean "any".
#[derive(Clone, Debug, Default)]
pub struct RecordQuery {
    pub parking_code: String,
    pub plate_no: String,
    pub from: String,
    pub to: String,
    pub limit: i64,
    pub offset: i64,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecordRow {
    pub parking_code: String,
    pub uid: String,
    pub plate_no: String,
    pub plate_color: i64,
    pub arrive_time: String,
    pub end_time: Option<String>,
    pub should_pay: Option<i64>,
    pub deleted: bool,
    pub plate_valid: bool,
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct BerthPoint {
    pub at: String,
    pub total: i64,
    pub open: i64,
    pub free: i64,
}

#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Quality {
    /// Entries and exits of the day.
    pub records: i64,
    /// Received more than 5 s after the event (spec §三(二)).
    pub late: i64,
    pub invalid_plates: i64,
    pub exits_without_entry: i64,
    /// Entries without exit that arrived before the configured cut-off.
    pub entries_open_too_long: i64,
}

/// A lot registered at run time, as stored (key text, profile name).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredLot {
    pub access_id: String,
    pub public_key: String,
    pub profile: String,
    pub parking_codes: Vec<String>,
}

fn stored_lot(row: &sqlx::any::AnyRow) -> Result<StoredLot, StoreError> {
    let codes: String = row.try_get(3)?;
    Ok(StoredLot {
        access_id: row.try_get(0)?,
        public_key: row.try_get(1)?,
        profile: row.try_get(2)?,
        parking_codes: serde_json::from_str(&codes).unwrap_or_default(),
    })
}

/// One day's record counts, on either side of uploadCheckRecord.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DayCounts {
    pub arrive: i64,
    pub leave: i64,
    pub photo: i64,
    pub pay_num: i64,
    pub pay_total: i64,
}

impl From<&CheckRecord> for DayCounts {
    fn from(m: &CheckRecord) -> Self {
        DayCounts {
            arrive: m.arrive_num,
            leave: m.leave_num,
            photo: m.photo_num,
            pay_num: m.pay_num,
            pay_total: m.pay_total,
        }
    }
}

impl std::fmt::Display for DayCounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{},{},{},{},{}", self.arrive, self.leave, self.photo, self.pay_num, self.pay_total)
    }
}

fn day_range(date: NaiveDate) -> (String, String) {
    let next = date.succ_opt().unwrap_or(date);
    (format!("{date} 00:00:00"), format!("{next} 00:00:00"))
}

// The writes behind the `Store` methods of the same names. Each runs inside a
// group-commit batch, where its `conn.begin()` is a savepoint.

async fn put_entry(
    conn: &mut AnyConnection,
    access_id: &str,
    m: &CarIn,
    plate_valid: bool,
    now: &str,
    shared: &mut Shared,
) -> Result<Put, StoreError> {
    let content = content(m);
    let mut tx = conn.begin().await?;
    let insert = sqlx::query(
        "INSERT INTO entries (parking_code, uid, access_id, arrival_id, plate_no, plate_color, car_type, \
         parking_type, entry_num, arrive_time, upload_time, received_at, plate_valid, content) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) ON CONFLICT DO NOTHING",
    )
    .bind(&m.parking_code)
    .bind(&m.uid)
    .bind(access_id)
    .bind(&m.arrival_id)
    .bind(&m.plate_no)
    .bind(m.plate_color.code())
    .bind(m.car_type.code())
    .bind(m.parking_type.code())
    .bind(&m.entry_num)
    .bind(m.arrive_time.to_string())
    .bind(m.upload_time.to_string())
    .bind(now)
    .bind(i64::from(plate_valid))
    .bind(&content);
    let put = insert_once(&mut tx, insert, ("entries", "uid"), &m.parking_code, &m.uid, &content).await?;
    let counts = [m.total_berth_num, m.open_berth_num, m.free_berth_num];
    commit_new(tx, put, (&m.parking_code, access_id, &m.arrive_time.to_string(), counts), now, shared).await
}

async fn modify_entry(conn: &mut AnyConnection, m: &CarInModify, now: &str) -> Result<Put, StoreError> {
    let content = content(m);
    let mut tx = conn.begin().await?;
    let last = sqlx::query(
        "SELECT content, change_no FROM entry_changes WHERE parking_code = $1 AND uid = $2 \
         ORDER BY change_no DESC LIMIT 1",
    )
    .bind(&m.parking_code)
    .bind(&m.uid)
    .fetch_optional(&mut *tx)
    .await?;
    let change_no = match last {
        Some(row) if row.try_get::<String, _>(0)? == content => return Ok(Put::Duplicate),
        Some(row) => row.try_get::<i64, _>(1)? + 1,
        None => 1,
    };
    let deleted = i64::from(m.operate_type == onepark_proto::dict::ModifyOperation::Delete);
    let updated = sqlx::query(
        "UPDATE entries SET arrival_id = $3, plate_no = $4, plate_color = $5, car_type = $6, parking_type = $7, \
         entry_num = $8, arrive_time = $9, upload_time = $10, deleted = $11 WHERE parking_code = $1 AND uid = $2",
    )
    .bind(&m.parking_code)
    .bind(&m.uid)
    .bind(&m.arrival_id)
    .bind(&m.plate_no)
    .bind(m.plate_color.code())
    .bind(m.car_type.code())
    .bind(m.parking_type.code())
    .bind(&m.entry_num)
    .bind(m.arrive_time.to_string())
    .bind(m.upload_time.to_string())
    .bind(deleted)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if updated == 0 {
        return Err(StoreError::NoEntry { parking_code: m.parking_code.clone(), uid: m.uid.clone() });
    }
    sqlx::query(
        "INSERT INTO entry_changes (parking_code, uid, change_no, operate_type, received_at, content) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&m.parking_code)
    .bind(&m.uid)
    .bind(change_no)
    .bind(m.operate_type.code())
    .bind(now)
    .bind(&content)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Put::Inserted)
}

async fn put_exit(
    conn: &mut AnyConnection,
    access_id: &str,
    m: &CarOut,
    plate_valid: bool,
    now: &str,
    shared: &mut Shared,
) -> Result<Put, StoreError> {
    let content = content(m);
    let mut tx = conn.begin().await?;
    let entry = sqlx::query("SELECT uid FROM entries WHERE parking_code = $1 AND uid = $2 AND deleted = 0")
        .bind(&m.parking_code)
        .bind(&m.uid)
        .fetch_optional(&mut *tx)
        .await?;
    let insert = sqlx::query(
        "INSERT INTO exits (parking_code, uid, access_id, exit_id, plate_no, arrive_time, end_time, charge_fee, \
         should_pay, upload_time, received_at, plate_valid, without_entry, content) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) ON CONFLICT DO NOTHING",
    )
    .bind(&m.parking_code)
    .bind(&m.uid)
    .bind(access_id)
    .bind(&m.exit_id)
    .bind(&m.plate_no)
    .bind(m.arrive_time.to_string())
    .bind(m.end_time.to_string())
    .bind(m.charge_fee)
    .bind(m.should_pay)
    .bind(m.upload_time.to_string())
    .bind(now)
    .bind(i64::from(plate_valid))
    .bind(i64::from(entry.is_none()))
    .bind(&content);
    let put = insert_once(&mut tx, insert, ("exits", "uid"), &m.parking_code, &m.uid, &content).await?;
    let counts = [m.total_berth_num, m.open_berth_num, m.free_berth_num];
    commit_new(tx, put, (&m.parking_code, access_id, &m.end_time.to_string(), counts), now, shared).await
}

fn put_state(access_id: &str, m: &ParkingState, now: &str, shared: &mut Shared) {
    let counts = [m.total_berth_num, m.open_berth_num, m.free_berth_num];
    shared.berths(&m.parking_code, access_id, &m.upload_time.to_string(), now, counts);
}

/// A photo's identity for idempotency: the message and its file's digest.
pub fn photo_content(m: &Photo, sha256: &str) -> String {
    format!("{}|{sha256}", content(m))
}

async fn put_photo(
    conn: &mut AnyConnection,
    access_id: &str,
    m: &Photo,
    sha256: &str,
    size: i64,
    now: &str,
) -> Result<Put, StoreError> {
    let content = photo_content(m, sha256);
    let mut tx = conn.begin().await?;
    let insert = sqlx::query(
        "INSERT INTO photos (parking_code, photo_id, uid, access_id, photo_type, photo_time, name, sha256, size, \
         upload_time, received_at, content) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
         ON CONFLICT DO NOTHING",
    )
    .bind(&m.parking_code)
    .bind(&m.photo_id)
    .bind(&m.uid)
    .bind(access_id)
    .bind(m.photo_type.code())
    .bind(m.time.to_string())
    .bind(&m.name)
    .bind(sha256)
    .bind(size)
    .bind(m.upload_time.to_string())
    .bind(now)
    .bind(&content);
    let put = insert_once(&mut tx, insert, ("photos", "photo_id"), &m.parking_code, &m.photo_id, &content).await?;
    tx.commit().await?;
    Ok(put)
}

async fn put_bill(conn: &mut AnyConnection, access_id: &str, m: &PayRecord, now: &str) -> Result<Put, StoreError> {
    let content = content(m);
    let mut tx = conn.begin().await?;
    let insert = sqlx::query(
        "INSERT INTO bills (parking_code, bill_id, uid, access_id, plate_no, charge_fee, should_pay, actual_pay, \
         bill_time, deal_time, paid_type, pay_type, bill_way, upload_time, received_at, content) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) ON CONFLICT DO NOTHING",
    )
    .bind(&m.parking_code)
    .bind(&m.bill_id)
    .bind(&m.uid)
    .bind(access_id)
    .bind(&m.plate_no)
    .bind(m.charge_fee)
    .bind(m.should_pay)
    .bind(m.actual_pay)
    .bind(m.bill_time.to_string())
    .bind(m.deal_time.to_string())
    .bind(m.paid_type.code())
    .bind(m.pay_type.code())
    .bind(m.bill_way.code())
    .bind(m.upload_time.to_string())
    .bind(now)
    .bind(&content);
    let put = insert_once(&mut tx, insert, ("bills", "bill_id"), &m.parking_code, &m.bill_id, &content).await?;
    tx.commit().await?;
    Ok(put)
}

/// Inserts a record unless its key exists: then an identical one is a
/// duplicate and a different one a conflict. Keys are never overwritten.
async fn insert_once<'q>(
    tx: &mut Transaction<'_, Any>,
    insert: Query<'q, Any, AnyArguments<'q>>,
    (table, key_column): (&str, &str),
    parking_code: &str,
    key: &str,
    content: &str,
) -> Result<Put, StoreError> {
    if insert.execute(&mut **tx).await?.rows_affected() == 1 {
        return Ok(Put::Inserted);
    }
    let sql = format!("SELECT content FROM {table} WHERE parking_code = $1 AND {key_column} = $2");
    let stored: String = sqlx::query(&sql).bind(parking_code).bind(key).fetch_one(&mut **tx).await?.try_get(0)?;
    if stored == content {
        Ok(Put::Duplicate)
    } else {
        Err(StoreError::Conflict { parking_code: parking_code.to_owned(), key: key.to_owned() })
    }
}

/// Commits a newly inserted record; the berth counts it carries join the
/// batch's shared rows. A duplicate changes nothing (the transaction is dropped).
async fn commit_new(
    tx: Transaction<'_, Any>,
    put: Put,
    (parking_code, access_id, at, counts): (&str, &str, &str, [i64; 3]),
    now: &str,
    shared: &mut Shared,
) -> Result<Put, StoreError> {
    if put == Put::Duplicate {
        return Ok(put);
    }
    tx.commit().await?;
    shared.berths(parking_code, access_id, at, now, counts);
    Ok(Put::Inserted)
}
