//! Durable storage: one schema, two backends (SQLite embedded by default,
//! PostgreSQL for scale) through sqlx's `Any` driver. All SQL lives in this
//! module's files, one per aggregate, each with its own row types (mapped by
//! column name, `FromRow`):
//!
//! | file | tables |
//! |---|---|
//! | `records` | `entries`, `entry_changes`, `exits` |
//! | `photos` | `photos` (the files themselves: `crate::photo`) |
//! | `bills` | `bills` |
//! | `checks` | `check_records` (and the day counts and uid pages reconciliation reads) |
//! | `lots` | `lot_access`, `parking_info`, `lot_status`, `berth_states`, `berth_slots`, `online_slots` |
//! | `downlinks` | `downlinks` |
//! | `lists` | `list_entries` |
//! | `payments` | `signups`, `fee_quotes`, `payments`, `arrears` |
//! | `cloud` | `cloud_principals`, `remote_stays`, `fixed_cars` (the parking cloud's API) |
//! | `scans` | `bolink_scans` (no-plate entries by scanning a lane's code) |
//! | `commands` | `cloud_answers`, `lot_events`, `cloud_lot_state` (the cloud's MQ channel; its commands are `downlinks`) |
//! | `revenue` | `bills`, `payments` (read: takings per period, lot and channel) |
//! | `nodes` | `nodes`, `leases`, `request_claims` (what several nodes on one database share) |
//! | `accounts` | `accounts`, `console_sessions`, `api_tokens`, `audit` |
//! | `city` | `berth_slots` and `lot_status`' counts of today (read: a day's figures of every lot at once; written with the records, in `shared`) |
//!
//! Every uplink write is one (nested) transaction run by the group-commit
//! writer ([`group`]); callers answer 200 only after its batch commits.
//! What many records of a batch say about their lot (status, berth series,
//! online slots) is gathered in [`shared`] and written once per batch.

use sqlx::any::{AnyArguments, AnyPoolOptions, install_default_drivers};
use sqlx::query::Query;
use sqlx::{Any, AnyConnection, AnyPool, Connection};

mod accounts;
mod adopt;
mod bills;
mod checks;
mod city;
mod cloud;
mod commands;
mod downlinks;
mod group;
mod lists;
mod lots;
mod nodes;
mod payments;
mod photos;
mod records;
mod renewals;
mod revenue;
mod scans;
mod shared;
pub use accounts::{Account, ApiToken, AuditEntry, AuditQuery, ConsoleSession, Role};
pub use checks::{CheckRow, DayCounts, UnbalancedCheck};
pub use city::{LotDay, LotPlace, PerLot, Slot};
pub use cloud::{FixedCar, Principal, PrincipalKind, RemoteStay};
pub use commands::{Answered, CloudLotState, CommandAnswer, EVENT_KINDS, EventSearch, LotEvent};
pub use downlinks::{Claim, Confirmed, Downlink, DownlinkState, NewDownlink};
pub use group::CommitStats;
pub use lists::ListEntry;
pub use lots::{BerthPoint, LotStatus, StoredLot};
pub use nodes::Node;
pub use payments::{
    Arrear, ArrearPut, Began, Debt, FeeQuote, MoneyDay, Notice, Outcome, PayState, Payment, PaymentSearch, Purpose,
    Signup, order_id,
};
pub use records::{EntryPut, Quality, RecordQuery, RecordRow, Stay, StayQuery, StaySort, StayState, Table};
pub use renewals::{LotEpay, Renewal};
pub use revenue::{Owing, OwingQuery, Takings, TakingsQuery};
pub use scans::Scan;
use shared::Shared;

/// Migrations, in order, embedded in the binary; applied ones are never
/// edited (sqlx's migrator refuses a changed checksum).
const MIGRATIONS: onepark_sql::Migrations = &[
    (1, "records", include_str!("../migrations/0001_records.sql")),
    (2, "photos bills checks", include_str!("../migrations/0002_photos_bills_checks.sql")),
    (3, "online slots", include_str!("../migrations/0003_online_slots.sql")),
    (4, "downlinks", include_str!("../migrations/0004_downlinks.sql")),
    (5, "photo files", include_str!("../migrations/0005_photo_files.sql")),
    (6, "city day", include_str!("../migrations/0006_city_day.sql")),
    (7, "payments", include_str!("../migrations/0007_payments.sql")),
    (8, "debt claims", include_str!("../migrations/0008_debt_claims.sql")),
    (9, "protocols", include_str!("../migrations/0009_protocols.sql")),
    (10, "cloudpark", include_str!("../migrations/0010_cloudpark.sql")),
    (11, "cloud channel", include_str!("../migrations/0011_cloud_channel.sql")),
    (12, "bolink", include_str!("../migrations/0012_bolink.sql")),
    (13, "bolink money", include_str!("../migrations/0013_bolink_money.sql")),
    (14, "accounts", include_str!("../migrations/0014_accounts.sql")),
    (15, "nodes", include_str!("../migrations/0015_nodes.sql")),
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
        let pool = AnyPoolOptions::new()
            .max_connections(if sqlite { 4 } else { 16 })
            .after_release(onepark_sql::released_clean)
            // The group writer's savepoints need a statement journal: on
            // SQLite's default temp store that is a file made, written and
            // unlinked every commit (10 system calls, measured with strace).
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if sqlite {
                        sqlx::query("PRAGMA temp_store = MEMORY").execute(conn).await?;
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await?;
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
        let migrator = sqlx::migrate::Migrator::new(onepark_sql::Embedded(MIGRATIONS)).await?;
        let mut conn = self.pool.acquire().await?;
        adopt::adopt_schema_migrations(&mut conn, &migrator, self.writer.is_some()).await?;
        migrator.run(&mut *conn).await?;
        Ok(())
    }

    async fn writer(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        match &self.writer {
            Some(lock) => Some(lock.lock().await),
            None => None,
        }
    }

    /// A consistent copy of a SQLite database at `path` while it is in use
    /// (`VACUUM INTO`: one read transaction; writers go on meanwhile).
    pub async fn backup_sqlite(&self, path: &std::path::Path) -> Result<(), StoreError> {
        let path = path.to_str().ok_or(StoreError::NotWritten)?;
        sqlx::query("VACUUM INTO $1").bind(path).execute(&self.pool).await?;
        Ok(())
    }

    pub fn commit_stats(&self) -> &CommitStats {
        self.group.stats()
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }
}

/// The local day `date` as a half-open range of stored times.
fn day_range(date: chrono::NaiveDate) -> (String, String) {
    let next = date.succ_opt().unwrap_or(date);
    (format!("{date} 00:00:00"), format!("{next} 00:00:00"))
}

/// Rows per multi-row statement, largest first; a batch is cut into these
/// (a batch of 14 is 8 + 4 + 2: at most one statement per bit of its size,
/// and at most nine statement texts per kind, so each stays prepared).
pub(crate) const ROWS: [usize; 9] = [256, 128, 64, 32, 16, 8, 4, 2, 1];

/// `len` rows cut into chunks of the sizes in [`ROWS`], largest first.
pub(crate) fn row_chunks(len: usize) -> impl Iterator<Item = std::ops::Range<usize>> {
    let mut done = 0;
    std::iter::from_fn(move || {
        let n = ROWS.iter().copied().find(|n| *n <= len - done)?;
        done += n;
        Some(done - n..done)
    })
}

/// `head` + `($1, …, $columns), (…)` for `rows` rows + `tail` (`head` and
/// `tail` bind nothing). On SQLite the values are `?`, bound in order:
/// sqlx asks SQLite for each parameter's name, and SQLite finds a name by
/// walking the statement's list of named parameters, so binding n `$k`
/// costs n²/2 steps — a statement of 256 downlinks binds 3,840 values, and
/// that walk was 8 % of the platform's CPU in the 10,000-lot broadcast.
/// An anonymous `?` has no name to look up.
pub(crate) fn multi_row_insert(conn: &AnyConnection, head: &str, columns: usize, rows: usize, tail: &str) -> String {
    let in_order = conn.backend_name() == "SQLite";
    let mut sql = String::with_capacity(head.len() + tail.len() + rows * columns * 6);
    sql.push_str(head);
    for r in 0..rows {
        sql.push_str(if r == 0 { "(" } else { ", (" });
        for c in 0..columns {
            if c > 0 {
                sql.push_str(", ");
            }
            if in_order {
                sql.push('?');
            } else {
                sql.push('$');
                sql.push_str(&(r * columns + c + 1).to_string());
            }
        }
        sql.push(')');
    }
    sql.push_str(tail);
    sql
}

type AnyQuery<'q> = Query<'q, Any, AnyArguments<'q>>;

/// `rows` in multi-row statements `head (…), (…) tail` of the sizes in
/// [`row_chunks`]; `bind` binds one row's `columns` values.
pub(crate) async fn execute_rows<T>(
    conn: &mut AnyConnection,
    head: &str,
    columns: usize,
    tail: &str,
    rows: &[T],
    bind: impl for<'q> Fn(AnyQuery<'q>, &'q T) -> AnyQuery<'q>,
) -> Result<(), sqlx::Error> {
    for chunk in row_chunks(rows.len()) {
        let sql = multi_row_insert(conn, head, columns, chunk.len(), tail);
        let mut query = sqlx::query(&sql);
        for row in &rows[chunk] {
            query = bind(query, row);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Inserts a record unless its key exists: then an identical one is a
/// duplicate and a different one a conflict. Keys are never overwritten.
/// Runs in its own savepoint, so a failing insert leaves the rest of the
/// group-commit batch alone.
async fn insert_once<'q>(
    conn: &mut AnyConnection,
    insert: Query<'q, Any, AnyArguments<'q>>,
    (table, key_column): (&str, &str),
    parking_code: &str,
    key: &str,
    content: &str,
) -> Result<Put, StoreError> {
    let mut tx = conn.begin().await?;
    if insert.execute(&mut *tx).await?.rows_affected() == 1 {
        tx.commit().await?;
        return Ok(Put::Inserted);
    }
    already_stored(&mut tx, (table, key_column), parking_code, key, content).await
}

/// A record whose insert did nothing: the same content stored under its
/// key is a duplicate, other content a conflict (keys are never
/// overwritten); no row at all means the insert failed without saying so.
async fn already_stored(
    conn: &mut AnyConnection,
    (table, key_column): (&str, &str),
    parking_code: &str,
    key: &str,
    content: &str,
) -> Result<Put, StoreError> {
    let sql = format!("SELECT content FROM {table} WHERE parking_code = $1 AND {key_column} = $2");
    let stored: Option<String> = sqlx::query_scalar(&sql).bind(parking_code).bind(key).fetch_optional(conn).await?;
    match stored {
        Some(stored) if stored == content => Ok(Put::Duplicate),
        Some(_) => Err(StoreError::Conflict { parking_code: parking_code.to_owned(), key: key.to_owned() }),
        None => Err(StoreError::NotWritten),
    }
}

#[cfg(test)]
mod chunk_tests {
    #[test]
    fn rows_are_cut_into_the_fewest_prepared_sizes() {
        let sizes = |len| super::row_chunks(len).map(|r| r.len()).collect::<Vec<_>>();
        assert_eq!(sizes(0), Vec::<usize>::new());
        assert_eq!(sizes(14), vec![8, 4, 2]);
        assert_eq!(sizes(256), vec![256]);
        assert_eq!(sizes(300), vec![256, 32, 8, 4]);
        assert_eq!(super::row_chunks(300).last(), Some(296..300));
    }
}
