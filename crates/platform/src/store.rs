//! Durable storage: one schema, two backends (SQLite embedded by default,
//! PostgreSQL for scale) through sqlx's `Any` driver. All SQL lives here.
//!
//! Every write is one transaction; callers answer 200 only after it commits.

use onepark_proto::msg::record::{CarIn, CarInModify, CarOut, ParkingState};
use serde::Serialize;
use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Row};

/// Migrations, in order; applied ones are never edited.
const MIGRATIONS: &[(i64, &str)] = &[(1, include_str!("../migrations/0001_records.sql"))];

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("record {uid} of lot {parking_code} already exists with different content")]
    Conflict { parking_code: String, uid: String },
    #[error("no entry {uid} of lot {parking_code} to modify")]
    NoEntry { parking_code: String, uid: String },
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
        let store = Store { pool };
        store.migrate().await?;
        Ok(store)
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        sqlx::query("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY)")
            .execute(&self.pool)
            .await?;
        for (version, sql) in MIGRATIONS {
            let mut tx = self.pool.begin().await?;
            let done = sqlx::query("SELECT version FROM schema_migrations WHERE version = $1")
                .bind(version)
                .fetch_optional(&mut *tx)
                .await?;
            if done.is_some() {
                continue;
            }
            for statement in strip_comments(sql).split(';').map(str::trim).filter(|s| !s.is_empty()) {
                sqlx::query(statement).execute(&mut *tx).await?;
            }
            sqlx::query("INSERT INTO schema_migrations (version) VALUES ($1)").bind(version).execute(&mut *tx).await?;
            tx.commit().await?;
        }
        Ok(())
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Stores an entry; an identical re-upload is a [`Put::Duplicate`].
    pub async fn put_entry(&self, access_id: &str, m: &CarIn, plate_valid: bool, now: &str) -> Result<Put, StoreError> {
        let content = content(m);
        let mut tx = self.pool.begin().await?;
        let inserted = sqlx::query(
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
        .bind(&content)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if !inserted {
            let stored: String = sqlx::query("SELECT content FROM entries WHERE parking_code = $1 AND uid = $2")
                .bind(&m.parking_code)
                .bind(&m.uid)
                .fetch_one(&mut *tx)
                .await?
                .try_get(0)?;
            return if stored == content {
                Ok(Put::Duplicate)
            } else {
                Err(StoreError::Conflict { parking_code: m.parking_code.clone(), uid: m.uid.clone() })
            };
        }
        berths(
            &mut tx,
            &m.parking_code,
            access_id,
            &m.upload_time.to_string(),
            now,
            [m.total_berth_num, m.open_berth_num, m.free_berth_num],
        )
        .await?;
        tx.commit().await?;
        Ok(Put::Inserted)
    }

    /// Applies a modification (operateType 0) or deletion (1) and keeps it as history.
    pub async fn modify_entry(&self, m: &CarInModify, now: &str) -> Result<Put, StoreError> {
        let content = content(m);
        let mut tx = self.pool.begin().await?;
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

    /// Stores an exit; an exit without a known entry is stored and flagged.
    pub async fn put_exit(&self, access_id: &str, m: &CarOut, plate_valid: bool, now: &str) -> Result<Put, StoreError> {
        let content = content(m);
        let mut tx = self.pool.begin().await?;
        let entry = sqlx::query("SELECT uid FROM entries WHERE parking_code = $1 AND uid = $2 AND deleted = 0")
            .bind(&m.parking_code)
            .bind(&m.uid)
            .fetch_optional(&mut *tx)
            .await?;
        let inserted = sqlx::query(
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
        .bind(&content)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if !inserted {
            let stored: String = sqlx::query("SELECT content FROM exits WHERE parking_code = $1 AND uid = $2")
                .bind(&m.parking_code)
                .bind(&m.uid)
                .fetch_one(&mut *tx)
                .await?
                .try_get(0)?;
            return if stored == content {
                Ok(Put::Duplicate)
            } else {
                Err(StoreError::Conflict { parking_code: m.parking_code.clone(), uid: m.uid.clone() })
            };
        }
        berths(
            &mut tx,
            &m.parking_code,
            access_id,
            &m.upload_time.to_string(),
            now,
            [m.total_berth_num, m.open_berth_num, m.free_berth_num],
        )
        .await?;
        tx.commit().await?;
        Ok(Put::Inserted)
    }

    /// Records a berth state: time series plus latest state.
    pub async fn put_state(&self, access_id: &str, m: &ParkingState, now: &str) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        berths(
            &mut tx,
            &m.parking_code,
            access_id,
            &m.upload_time.to_string(),
            now,
            [m.total_berth_num, m.open_berth_num, m.free_berth_num],
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Marks a lot as alive.
    pub async fn heartbeat(&self, access_id: &str, parking_code: &str, now: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO lot_status (parking_code, access_id, last_seen, last_heartbeat) VALUES ($1, $2, $3, $3) \
             ON CONFLICT (parking_code) DO UPDATE SET access_id = $2, last_seen = $3, last_heartbeat = $3",
        )
        .bind(parking_code)
        .bind(access_id)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
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

async fn berths(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    parking_code: &str,
    access_id: &str,
    at: &str,
    now: &str,
    [total, open, free]: [i64; 3],
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO berth_states (parking_code, at, total, open_berths, free_berths) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (parking_code, at) DO UPDATE SET total = $3, open_berths = $4, free_berths = $5",
    )
    .bind(parking_code)
    .bind(at)
    .bind(total)
    .bind(open)
    .bind(free)
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "INSERT INTO lot_status (parking_code, access_id, last_seen, total, open_berths, free_berths, state_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (parking_code) DO UPDATE SET access_id = $2, \
         last_seen = $3, total = $4, open_berths = $5, free_berths = $6, state_at = $7",
    )
    .bind(parking_code)
    .bind(access_id)
    .bind(now)
    .bind(total)
    .bind(open)
    .bind(free)
    .bind(at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Drops `--` comments so that `;` inside them does not split statements.
fn strip_comments(sql: &str) -> String {
    sql.lines().map(|line| line.split("--").next().unwrap_or_default()).collect::<Vec<_>>().join("\n")
}
