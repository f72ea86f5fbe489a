//! The lot's embedded SQLite. A change and the outbox rows that report it
//! commit together, so nothing is ever decided at the barrier without also
//! being on its way to the platform. One file per aggregate, each with its
//! own row types (mapped by column name, `FromRow`):
//!
//! | file | tables |
//! |---|---|
//! | `sessions` | `sessions`, `bills`, `manual_openings` |
//! | `outbox` | `outbox`, `meta` (what was last reported) |
//! | `photos` | `photos` (the JPEGs until delivered) |
//! | `cards` | `month_cards`, `month_card_plates` |
//! | `lists` | `list_entries`, `downlink_order` |
//! | `payments` | `online_bills`, `signings`, `arrears_notices` |
//! | `cloud` | `cloud_stays` (cars a parking cloud put into the lot) |
//! | `fleet` | `cloud_cars`, `car_groups`, `charge_plans`, `car_logs`, `coupons`, `cloud_orders` (the cloud's vehicles, coupons and payments) |
//! | `remote` | `cloud_commands`, `cloud_reports`, `plate_locks`, `visitors`, `cloud_settings` (the cloud's MQ channel; its blacklist in `list_entries`) |
//!
//! Writes take turns on one writer lock ([`Store::write`], [`Store::single`]).

use std::str::FromStr;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{SqliteConnection, SqlitePool};
use std::sync::Arc;
use tokio::sync::{Mutex, OwnedMutexGuard};

mod cards;
mod checks;
mod cloud;
mod fleet;
mod ledger;
mod lists;
mod outbox;
mod payments;
mod photos;
mod remote;
mod sessions;
pub use cards::MonthCard;
pub use checks::PendingDay;
pub use fleet::{CarGroup, CarLog, ChargePlan, CloudCar, Coupon, LogLine};
pub use ledger::LedgerEntry;
pub use lists::{ListEntry, OrderMark};
pub use outbox::{Finished, Outgoing, RefusedRecord, Report, Standing};
pub use payments::{ArrearsNotice, BillKind, BillState, OnlineBill, RefundBooked, Settlement, Signing};
pub use photos::StoredPhoto;
pub use remote::{BlackEntry, PlateLock, QueuedReport, Seen, Visitor};
pub use sessions::{Bill, Exit, Session, SessionQuery, SessionRow, SessionState};

/// Migrations, in order, embedded in the binary; applied ones are never
/// edited (sqlx's migrator refuses a changed checksum).
const MIGRATIONS: onepark_sql::Migrations = &[
    (1, "lot", include_str!("../migrations/0001_lot.sql")),
    (2, "month cards", include_str!("../migrations/0002_month_cards.sql")),
    (3, "photos staff", include_str!("../migrations/0003_photos_staff.sql")),
    (4, "payments", include_str!("../migrations/0004_payments.sql")),
    (5, "links", include_str!("../migrations/0005_links.sql")),
    (6, "cloud channel", include_str!("../migrations/0006_cloud_channel.sql")),
    (7, "cloud money", include_str!("../migrations/0007_cloud_money.sql")),
    (8, "booth ledger", include_str!("../migrations/0008_booth_ledger.sql")),
    (9, "day checks", include_str!("../migrations/0009_day_checks.sql")),
];

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("session {0} is not open")]
    NotOpen(String),
    #[error("no free uid in this second on this lane")]
    UidExhausted,
    #[error("plates: {plate} is on month card {card}")]
    PlateOnCard { plate: String, card: String },
    #[error("{0} not found")]
    NotFound(String),
    #[error("database migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

#[derive(Clone)]
pub struct Store {
    pool: SqlitePool,
    /// One writer at a time, queued here: SQLite would otherwise make a
    /// second writer sleep in its busy handler (tens of milliseconds at the
    /// barrier while the sender records deliveries).
    writer: Arc<Mutex<()>>,
    /// The links records are queued for.
    links: Arc<[Link]>,
}

/// A protocol the lot's records go out through, and which records it carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Link {
    /// `outbox.link`: `qdpark`, `cloudpark`.
    pub name: &'static str,
    /// The record kinds (the lot's interface names) it carries; `None`: all.
    pub carries: Option<&'static [&'static str]>,
}

impl Link {
    pub const QDPARK: Link = Link { name: "qdpark", carries: None };

    pub fn carries(&self, interface: &str) -> bool {
        self.carries.is_none_or(|kinds| kinds.contains(&interface))
    }
}

/// A write transaction holding the writer lock; commit, or drop to roll back.
struct Write {
    tx: sqlx::Transaction<'static, sqlx::Sqlite>,
    _turn: OwnedMutexGuard<()>,
    links: Arc<[Link]>,
}

impl Write {
    async fn commit(self) -> Result<(), StoreError> {
        Ok(self.tx.commit().await?)
    }
}

impl std::ops::Deref for Write {
    type Target = SqliteConnection;
    fn deref(&self) -> &SqliteConnection {
        &self.tx
    }
}

impl std::ops::DerefMut for Write {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        &mut self.tx
    }
}

impl Store {
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // A lot's record must survive a power cut once the barrier opened.
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(std::time::Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .after_release(onepark_sql::released_clean)
            .connect_with(options)
            .await?;
        let store = Store { pool, writer: Arc::new(Mutex::new(())), links: Arc::new([Link::QDPARK]) };
        store.migrate().await?;
        Ok(store)
    }

    /// The store queueing each record for these links (default: Qingdao's alone).
    pub fn speaking(self, links: Vec<Link>) -> Store {
        Store { links: links.into(), ..self }
    }

    pub fn links(&self) -> &[Link] {
        &self.links
    }

    /// Begins a write transaction, after any other writer of this process.
    async fn write(&self) -> Result<Write, StoreError> {
        let turn = self.writer.clone().lock_owned().await;
        Ok(Write { tx: self.pool.begin().await?, _turn: turn, links: self.links.clone() })
    }

    /// sqlx's migrator over the embedded files (`_sqlx_migrations`), as on
    /// the platform. A database made by onepark 0.1 (`PRAGMA user_version`)
    /// is adopted first: its versions get `_sqlx_migrations` rows with the
    /// checksums of the very files it ran, in one transaction.
    async fn migrate(&self) -> Result<(), StoreError> {
        use sqlx::migrate::Migrate;
        let migrator = sqlx::migrate::Migrator::new(onepark_sql::Embedded(MIGRATIONS)).await?;
        let _turn = self.writer.clone().lock_owned().await;
        let mut conn = self.pool.acquire().await?;
        let version: i64 = sqlx::query_scalar("PRAGMA user_version").fetch_one(&mut *conn).await?;
        let adopted: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'")
                .fetch_one(&mut *conn)
                .await?;
        if version > 0 && adopted == 0 {
            conn.ensure_migrations_table().await?;
            let mut tx = sqlx::Connection::begin(&mut *conn).await?;
            for migration in migrator.iter().filter(|m| m.version <= version) {
                sqlx::query(
                    "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
                     VALUES (?, ?, TRUE, ?, -1)",
                )
                .bind(migration.version)
                .bind(&*migration.description)
                .bind(&*migration.checksum)
                .execute(&mut *tx)
                .await?;
            }
            sqlx::query("PRAGMA user_version = 0").execute(&mut *tx).await?;
            tx.commit().await?;
            tracing::info!(version, "lot database of onepark 0.1 adopted by sqlx's migrator");
        }
        migrator.run(&mut *conn).await?;
        Ok(())
    }
}
