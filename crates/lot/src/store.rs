//! The lot's embedded SQLite: sessions, the outbox, lists. A change and the
//! outbox rows that report it commit together, so nothing is ever decided at
//! the barrier without also being on its way to the platform.

use std::str::FromStr;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqliteConnection, SqlitePool};
use std::sync::Arc;
use tokio::sync::{Mutex, OwnedMutexGuard};

/// Migrations, in order, embedded in the binary; applied ones are never
/// edited (sqlx's migrator refuses a changed checksum).
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "lot", include_str!("../migrations/0001_lot.sql")),
    (2, "month cards", include_str!("../migrations/0002_month_cards.sql")),
    (3, "photos staff", include_str!("../migrations/0003_photos_staff.sql")),
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
    #[error("database migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// What `MigrationSource::resolve` returns (sqlx's `BoxFuture`).
type Resolved = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<Vec<sqlx::migrate::Migration>, sqlx::error::BoxDynError>> + Send>,
>;

/// The embedded migrations as sqlx's migrator takes them (the `migrate!`
/// macro would do the same through sqlx's proc-macro crates). The
/// platform's store has the same few lines for its own files.
#[derive(Debug)]
struct Embedded(&'static [(i64, &'static str, &'static str)]);

impl sqlx::migrate::MigrationSource<'static> for Embedded {
    fn resolve(self) -> Resolved {
        use sqlx::migrate::{Migration, MigrationType};
        use std::borrow::Cow;
        let migrations = self
            .0
            .iter()
            .map(|&(version, description, sql)| {
                Migration::new(version, Cow::Borrowed(description), MigrationType::Simple, Cow::Borrowed(sql), false)
            })
            .collect();
        Box::pin(async move { Ok(migrations) })
    }
}

#[derive(Clone)]
pub struct Store {
    pool: SqlitePool,
    /// One writer at a time, queued here: SQLite would otherwise make a
    /// second writer sleep in its busy handler (tens of milliseconds at the
    /// barrier while the sender records deliveries).
    writer: Arc<Mutex<()>>,
}

/// A write transaction holding the writer lock; commit, or drop to roll back.
struct Write {
    tx: sqlx::Transaction<'static, sqlx::Sqlite>,
    _turn: OwnedMutexGuard<()>,
}

impl Write {
    async fn commit(self) -> Result<(), StoreError> {
        Ok(self.tx.commit().await?)
    }
}

/// A connection for one autocommitted statement, holding the writer lock.
struct Single {
    conn: sqlx::pool::PoolConnection<sqlx::Sqlite>,
    _turn: OwnedMutexGuard<()>,
}

impl std::ops::Deref for Single {
    type Target = SqliteConnection;
    fn deref(&self) -> &SqliteConnection {
        &self.conn
    }
}

impl std::ops::DerefMut for Single {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        &mut self.conn
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

/// An open or closed parking session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    pub uid: String,
    pub plate_no: String,
    pub plate_color: i64,
    pub car_type: i64,
    pub parking_type: i64,
    pub entry_lane: String,
    pub entry_time: String,
    /// The month card it entered on (monthly sessions).
    pub card_id: Option<String>,
}

/// One record waiting for (or done with) the platform.
#[derive(Clone, Debug)]
pub struct Outgoing {
    pub id: i64,
    pub uid: Option<String>,
    pub interface: String,
    pub body: String,
    pub created_ms: i64,
    pub attempts: i64,
    pub next_attempt_ms: i64,
}

impl Outgoing {
    /// Records with one key are delivered in order: a session's records by
    /// uid, the others (berth state, heartbeat) per interface.
    pub fn ordering_key(&self) -> &str {
        self.uid.as_deref().unwrap_or(&self.interface)
    }
}

/// How an upload ended, as the outbox records it.
#[derive(Clone, Debug)]
pub enum Finished {
    Delivered { at_ms: i64 },
    Refused(String),
    Retry { next_attempt_ms: i64, error: String },
}

/// A row to add to the outbox in the same transaction as a change.
pub struct Report {
    pub uid: Option<String>,
    pub interface: &'static str,
    pub body: String,
    pub created_ms: i64,
}

impl Store {
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // A lot's record must survive a power cut once the barrier opened.
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(std::time::Duration::from_secs(5));
        let pool = SqlitePoolOptions::new().max_connections(4).connect_with(options).await?;
        let store = Store { pool, writer: Arc::new(Mutex::new(())) };
        store.migrate().await?;
        Ok(store)
    }

    /// Begins a write transaction, after any other writer of this process.
    async fn write(&self) -> Result<Write, StoreError> {
        let turn = self.writer.clone().lock_owned().await;
        Ok(Write { tx: self.pool.begin().await?, _turn: turn })
    }

    /// A connection for a single write statement, after any other writer.
    async fn single(&self) -> Result<Single, StoreError> {
        let turn = self.writer.clone().lock_owned().await;
        Ok(Single { conn: self.pool.acquire().await?, _turn: turn })
    }

    /// sqlx's migrator over the embedded files (`_sqlx_migrations`), as on
    /// the platform. A database made by onepark 0.1 (`PRAGMA user_version`)
    /// is adopted first: its versions get `_sqlx_migrations` rows with the
    /// checksums of the very files it ran, in one transaction.
    async fn migrate(&self) -> Result<(), StoreError> {
        use sqlx::migrate::Migrate;
        let migrator = sqlx::migrate::Migrator::new(Embedded(MIGRATIONS)).await?;
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

    /// Starts a session and queues its entry record (and photo).
    pub async fn enter(
        &self,
        s: &Session,
        reports: Vec<Report>,
        photo: Option<&StoredPhoto>,
    ) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        sqlx::query(
            "INSERT INTO sessions (uid, plate_no, plate_color, car_type, parking_type, entry_lane, entry_time, card_id, \
             state) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'open')",
        )
        .bind(&s.uid)
        .bind(&s.plate_no)
        .bind(s.plate_color)
        .bind(s.car_type)
        .bind(s.parking_type)
        .bind(&s.entry_lane)
        .bind(&s.entry_time)
        .bind(&s.card_id)
        .execute(&mut *tx)
        .await?;
        if let Some(photo) = photo {
            put_photo(&mut tx, photo).await?;
        }
        for report in reports {
            queue(&mut tx, report).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Closes a session and queues its exit record (and photo).
    pub async fn leave(
        &self,
        exit: &Exit,
        reports: Vec<Report>,
        photo: Option<&StoredPhoto>,
    ) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        let done = sqlx::query(
            "UPDATE sessions SET exit_lane = ?, exit_time = ?, charge_fee = ?, should_pay = ?, paid = ?, fuzzy_exit = ?, \
             closed_note = ?, state = 'closed' WHERE uid = ? AND state = 'open'",
        )
        .bind(&exit.lane)
        .bind(&exit.time)
        .bind(exit.charge_fee)
        .bind(exit.should_pay)
        .bind(exit.paid)
        .bind(exit.fuzzy)
        .bind(&exit.note)
        .bind(&exit.uid)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotOpen(exit.uid.clone()));
        }
        if let Some(photo) = photo {
            put_photo(&mut tx, photo).await?;
        }
        if let Some(bill) = &exit.bill {
            sqlx::query("INSERT INTO bills (bill_id, uid, actual_pay, deal_time) VALUES (?, ?, ?, ?)")
                .bind(&bill.bill_id)
                .bind(&exit.uid)
                .bind(bill.actual_pay)
                .bind(&bill.deal_time)
                .execute(&mut *tx)
                .await?;
        }
        for report in reports {
            queue(&mut tx, report).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Open sessions of any of `plates` (an exit read and its OCR-confusable
    /// variants, see `lane::candidates`), newest first.
    pub async fn open_sessions(&self, plates: &[String]) -> Result<Vec<Session>, StoreError> {
        if plates.is_empty() {
            return Ok(Vec::new());
        }
        let marks = vec!["?"; plates.len()].join(", ");
        let sql = format!(
            "SELECT uid, plate_no, plate_color, car_type, parking_type, entry_lane, entry_time, card_id FROM sessions \
             WHERE state = 'open' AND plate_no IN ({marks}) ORDER BY entry_time DESC"
        );
        let mut query = sqlx::query(&sql);
        for plate in plates {
            query = query.bind(plate);
        }
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter().map(session).collect()
    }

    /// The session `uid` if it is open.
    pub async fn open_session(&self, uid: &str) -> Result<Option<Session>, StoreError> {
        let row = sqlx::query(
            "SELECT uid, plate_no, plate_color, car_type, parking_type, entry_lane, entry_time, card_id FROM sessions \
             WHERE uid = ? AND state = 'open'",
        )
        .bind(uid)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(session).transpose()
    }

    /// Staff corrected an open session's plate: the session and the
    /// uploadModifyCarInData row change together.
    pub async fn correct_plate(&self, s: &Session, report: Report) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        let done = sqlx::query(
            "UPDATE sessions SET plate_no = ?, plate_color = ?, car_type = ? WHERE uid = ? AND state = 'open'",
        )
        .bind(&s.plate_no)
        .bind(s.plate_color)
        .bind(s.car_type)
        .bind(&s.uid)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotOpen(s.uid.clone()));
        }
        queue(&mut tx, report).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Sessions for staff and audits, newest entry first.
    pub async fn sessions(&self, q: &SessionQuery) -> Result<Vec<SessionRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT uid, plate_no, plate_color, car_type, parking_type, entry_lane, entry_time, exit_lane, exit_time, \
             charge_fee, should_pay, paid, fuzzy_exit, state, card_id, closed_note FROM sessions \
             WHERE (? = '' OR state = ?) AND (? = '' OR plate_no = ?) AND (? = '' OR substr(entry_time, 1, 10) = ?) \
             AND (? = 0 OR plate_no IN ('无车牌', '未识别')) ORDER BY entry_time DESC, uid LIMIT ?",
        )
        .bind(&q.state)
        .bind(&q.state)
        .bind(&q.plate_no)
        .bind(&q.plate_no)
        .bind(&q.date)
        .bind(&q.date)
        .bind(q.unresolved)
        .bind(q.limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(SessionRow {
                    uid: r.try_get(0)?,
                    plate_no: r.try_get(1)?,
                    plate_color: r.try_get(2)?,
                    car_type: r.try_get(3)?,
                    parking_type: r.try_get(4)?,
                    entry_lane: r.try_get(5)?,
                    entry_time: r.try_get(6)?,
                    exit_lane: r.try_get(7)?,
                    exit_time: r.try_get(8)?,
                    charge_fee: r.try_get(9)?,
                    should_pay: r.try_get(10)?,
                    paid: r.try_get(11)?,
                    fuzzy_exit: r.try_get(12)?,
                    state: r.try_get(13)?,
                    card_id: r.try_get(14)?,
                    note: r.try_get(15)?,
                })
            })
            .collect()
    }

    /// Logs a barrier opened by staff.
    pub async fn manual_open(
        &self,
        lane: &str,
        time: &str,
        reason: &str,
        operator: Option<&str>,
        plate: Option<&str>,
    ) -> Result<i64, StoreError> {
        let done =
            sqlx::query("INSERT INTO manual_openings (lane, time, reason, operator, plate_no) VALUES (?, ?, ?, ?, ?)")
                .bind(lane)
                .bind(time)
                .bind(reason)
                .bind(operator)
                .bind(plate)
                .execute(&mut *self.single().await?)
                .await?;
        Ok(done.last_insert_rowid())
    }

    /// Queues `report` unless `key` already holds `fingerprint` (what was
    /// last reported); true when queued.
    pub async fn report_if_changed(&self, key: &str, fingerprint: &str, report: Report) -> Result<bool, StoreError> {
        let mut tx = self.write().await?;
        let last: Option<String> =
            sqlx::query_scalar("SELECT value FROM meta WHERE key = ?").bind(key).fetch_optional(&mut *tx).await?;
        if last.as_deref() == Some(fingerprint) {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(key)
        .bind(fingerprint)
        .execute(&mut *tx)
        .await?;
        queue(&mut tx, report).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Temporary cars in the lot now (they occupy open berths).
    pub async fn temporary_inside(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM sessions WHERE state = 'open' AND parking_type = 1")
            .fetch_one(&self.pool)
            .await?)
    }

    /// Queues a record that belongs to no session change (berth state, heartbeat).
    pub async fn report(&self, report: Report) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        queue(&mut tx, report).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Pending records (not delivered, not refused) after `after_id`, in id order.
    pub async fn pending_after(&self, after_id: i64, limit: usize) -> Result<Vec<Outgoing>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, uid, interface, body, created_ms, attempts, next_attempt_ms FROM outbox \
             WHERE delivered_ms IS NULL AND dead = 0 AND id > ? ORDER BY id LIMIT ?",
        )
        .bind(after_id)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Outgoing {
                    id: r.try_get(0)?,
                    uid: r.try_get(1)?,
                    interface: r.try_get(2)?,
                    body: r.try_get(3)?,
                    created_ms: r.try_get(4)?,
                    attempts: r.try_get(5)?,
                    next_attempt_ms: r.try_get(6)?,
                })
            })
            .collect()
    }

    /// Records upload outcomes `(id, attempts so far, outcome)` in one transaction.
    pub async fn finish(&self, outcomes: &[(i64, i64, Finished)]) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        for (id, attempts, outcome) in outcomes {
            let query = match outcome {
                Finished::Delivered { at_ms } => {
                    sqlx::query("UPDATE outbox SET delivered_ms = ?, attempts = ? WHERE id = ?").bind(at_ms)
                }
                Finished::Refused(error) => {
                    sqlx::query("UPDATE outbox SET dead = 1, last_error = ?, attempts = ? WHERE id = ?").bind(error)
                }
                Finished::Retry { next_attempt_ms, error } => {
                    sqlx::query("UPDATE outbox SET next_attempt_ms = ?, last_error = ?, attempts = ? WHERE id = ?")
                        .bind(next_attempt_ms)
                        .bind(error)
                }
            };
            query.bind(attempts).bind(id).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Records set aside (refused by the platform, or failing for hours), newest first.
    pub async fn refused_records(&self, limit: i64) -> Result<Vec<RefusedRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, uid, interface, body, attempts, last_error FROM outbox \
             WHERE dead = 1 AND delivered_ms IS NULL ORDER BY id DESC LIMIT ?",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(RefusedRecord {
                    id: r.try_get(0)?,
                    uid: r.try_get(1)?,
                    interface: r.try_get(2)?,
                    body: r.try_get(3)?,
                    attempts: r.try_get(4)?,
                    error: r.try_get(5)?,
                })
            })
            .collect()
    }

    /// Puts a copy of a set-aside record back in line (after the cause was
    /// fixed) and marks the original as retried (`dead = 2`); false when `id`
    /// is not set aside. A copy, not the row: the sender reads new rows only.
    pub async fn retry_refused(&self, id: i64, now_ms: i64) -> Result<bool, StoreError> {
        let mut tx = self.write().await?;
        let done = sqlx::query(
            "INSERT INTO outbox (uid, interface, body, created_ms, next_attempt_ms) \
             SELECT uid, interface, body, ?, ? FROM outbox WHERE id = ? AND dead = 1 AND delivered_ms IS NULL",
        )
        .bind(now_ms)
        .bind(now_ms)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        sqlx::query("UPDATE outbox SET dead = 2 WHERE id = ?").bind(id).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Records waiting for the platform, and records it refused.
    pub async fn backlog(&self) -> Result<(i64, i64), StoreError> {
        let row = sqlx::query(
            "SELECT COALESCE(SUM(CASE WHEN dead = 0 THEN 1 ELSE 0 END), 0), \
             COALESCE(SUM(CASE WHEN dead = 1 THEN 1 ELSE 0 END), 0) \
             FROM outbox WHERE delivered_ms IS NULL",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok((row.try_get(0)?, row.try_get(1)?))
    }

    /// uids of the sessions that entered (or, `exits`, left) on `date` (yyyy-MM-dd).
    pub async fn day_uids(&self, date: &str, exits: bool) -> Result<Vec<String>, StoreError> {
        let sql = if exits {
            "SELECT uid FROM sessions WHERE state = 'closed' AND substr(exit_time, 1, 10) = ? ORDER BY uid"
        } else {
            "SELECT uid FROM sessions WHERE substr(entry_time, 1, 10) = ? ORDER BY uid"
        };
        Ok(sqlx::query_scalar(sql).bind(date).fetch_all(&self.pool).await?)
    }

    /// Queues the last copy of a session's record again (backfill after
    /// reconciliation); false when there is none to send.
    pub async fn requeue(&self, uid: &str, interface: &str, now_ms: i64) -> Result<bool, StoreError> {
        self.requeue_where(uid, interface, None, now_ms).await
    }

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

    /// (uid, bill id, actual pay) of the bills dealt on `date` (yyyy-MM-dd), for reconciliation.
    pub async fn day_bills(&self, date: &str) -> Result<Vec<(String, String, i64)>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT uid, bill_id, actual_pay FROM bills WHERE substr(deal_time, 1, 10) = ? ORDER BY bill_id",
        )
        .bind(date)
        .fetch_all(&self.pool)
        .await?)
    }

    /// As [`Store::requeue`] for one of several records of a kind a session
    /// has: the one whose body has `key` = `id` (a photo's photoID, a bill's billID).
    pub async fn requeue_item(
        &self,
        uid: &str,
        interface: &str,
        key: &str,
        id: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        self.requeue_where(uid, interface, Some((key, id)), now_ms).await
    }

    /// Nothing is queued while a copy is still waiting to be sent (the
    /// platform lacks it because it has not arrived yet), nor when the last
    /// copy was refused as invalid (it would be refused again).
    async fn requeue_where(
        &self,
        uid: &str,
        interface: &str,
        item: Option<(&str, &str)>,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let (key, id) = item.unzip();
        let done = sqlx::query(
            "INSERT INTO outbox (uid, interface, body, created_ms, next_attempt_ms) \
             SELECT last.uid, last.interface, last.body, ?1, ?1 FROM ( \
                 SELECT uid, interface, body, dead, last_error FROM outbox WHERE uid = ?2 AND interface = ?3 \
                 AND (?4 IS NULL OR json_extract(body, '$.' || ?4) = ?5) ORDER BY id DESC LIMIT 1) last \
             WHERE NOT (last.dead = 1 AND last.last_error LIKE '400:%') \
             AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.uid = last.uid AND p.interface = last.interface \
                 AND p.body = last.body AND p.delivered_ms IS NULL AND p.dead = 0)",
        )
        .bind(now_ms)
        .bind(uid)
        .bind(interface)
        .bind(key)
        .bind(id)
        .execute(&mut *self.single().await?)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Drops the JPEGs of delivered photos taken before `before` (local time):
    /// the metadata stays for counting, the bytes would fill the lot's disk.
    pub async fn prune_photos(&self, before: &str) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE photos SET jpeg = NULL WHERE jpeg IS NOT NULL AND time < ? AND NOT EXISTS (\
             SELECT 1 FROM outbox o WHERE o.uid = photos.uid AND o.interface = 'uploadPhoto' \
             AND o.delivered_ms IS NULL AND o.dead = 0)",
        )
        .bind(before)
        .execute(&mut *self.single().await?)
        .await?;
        Ok(done.rows_affected())
    }

    /// Creates or replaces a card; a plate on another card is refused (a
    /// plate moving silently would leave that card without it).
    pub async fn put_card(&self, card: &MonthCard) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        for plate in &card.plates {
            let holder: Option<String> =
                sqlx::query_scalar("SELECT card_id FROM month_card_plates WHERE plate_no = ? AND card_id <> ?")
                    .bind(plate)
                    .bind(&card.id)
                    .fetch_optional(&mut *tx)
                    .await?;
            if let Some(card) = holder {
                return Err(StoreError::PlateOnCard { plate: plate.clone(), card });
            }
        }
        sqlx::query(
            "INSERT INTO month_cards (id, owner, start_time, end_time, lanes, odd_even) VALUES (?, ?, ?, ?, ?, ?) \
             ON CONFLICT (id) DO UPDATE SET owner = excluded.owner, start_time = excluded.start_time, \
             end_time = excluded.end_time, lanes = excluded.lanes, odd_even = excluded.odd_even",
        )
        .bind(&card.id)
        .bind(&card.owner)
        .bind(&card.start_time)
        .bind(&card.end_time)
        .bind(card.lanes.join(","))
        .bind(card.odd_even)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM month_card_plates WHERE card_id = ?").bind(&card.id).execute(&mut *tx).await?;
        for plate in &card.plates {
            sqlx::query(
                "INSERT INTO month_card_plates (plate_no, card_id) VALUES (?, ?) \
                 ON CONFLICT (plate_no) DO UPDATE SET card_id = excluded.card_id",
            )
            .bind(plate)
            .bind(&card.id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn delete_card(&self, id: &str) -> Result<bool, StoreError> {
        let mut tx = self.write().await?;
        sqlx::query("DELETE FROM month_card_plates WHERE card_id = ?").bind(id).execute(&mut *tx).await?;
        let done = sqlx::query("DELETE FROM month_cards WHERE id = ?").bind(id).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(done.rows_affected() > 0)
    }

    pub async fn cards(&self) -> Result<Vec<MonthCard>, StoreError> {
        let ids: Vec<String> =
            sqlx::query_scalar("SELECT id FROM month_cards ORDER BY id").fetch_all(&self.pool).await?;
        let mut cards = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(card) = self.card(&id).await? {
                cards.push(card);
            }
        }
        Ok(cards)
    }

    pub async fn card(&self, id: &str) -> Result<Option<MonthCard>, StoreError> {
        let Some(row) =
            sqlx::query("SELECT id, owner, start_time, end_time, lanes, odd_even FROM month_cards WHERE id = ?")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?
        else {
            return Ok(None);
        };
        let plates = sqlx::query_scalar("SELECT plate_no FROM month_card_plates WHERE card_id = ? ORDER BY plate_no")
            .bind(id)
            .fetch_all(&self.pool)
            .await?;
        let lanes: String = row.try_get(4)?;
        Ok(Some(MonthCard {
            id: row.try_get(0)?,
            owner: row.try_get(1)?,
            plates,
            start_time: row.try_get(2)?,
            end_time: row.try_get(3)?,
            lanes: lanes.split(',').filter(|l| !l.is_empty()).map(str::to_owned).collect(),
            odd_even: row.try_get(5)?,
        }))
    }

    /// The card `plate` belongs to, and whether another of its plates is inside.
    pub async fn card_of(&self, plate: &str) -> Result<Option<(MonthCard, bool)>, StoreError> {
        let Some(id): Option<String> = sqlx::query_scalar("SELECT card_id FROM month_card_plates WHERE plate_no = ?")
            .bind(plate)
            .fetch_optional(&self.pool)
            .await?
        else {
            return Ok(None);
        };
        let Some(card) = self.card(&id).await? else {
            return Ok(None);
        };
        let inside: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM sessions WHERE state = 'open' AND card_id = ? AND plate_no <> ? LIMIT 1")
                .bind(&id)
                .bind(plate)
                .fetch_optional(&self.pool)
                .await?;
        Ok(Some((card, inside.is_some())))
    }

    /// Applies a list entry from the platform (add/update, or delete) and
    /// remembers the message's place in the ordering rule, in one transaction.
    pub async fn set_list(&self, entry: &ListEntry, delete: bool, mark: &OrderMark) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        if delete {
            sqlx::query("DELETE FROM list_entries WHERE plate_no = ? AND list_kind = ?")
                .bind(&entry.plate_no)
                .bind(entry.list_kind)
                .execute(&mut *tx)
                .await?;
        } else {
            sqlx::query(
                "INSERT INTO list_entries (plate_no, list_kind, start_time, end_time, remark, request_id) \
                 VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (plate_no, list_kind) DO UPDATE SET \
                 start_time = excluded.start_time, end_time = excluded.end_time, remark = excluded.remark, \
                 request_id = excluded.request_id",
            )
            .bind(&entry.plate_no)
            .bind(entry.list_kind)
            .bind(&entry.start_time)
            .bind(&entry.end_time)
            .bind(&entry.remark)
            .bind(entry.request_id)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query(
            "INSERT INTO downlink_order (interface, parking_code, subject, at, request_id) VALUES (?, ?, ?, ?, ?) \
             ON CONFLICT (interface, parking_code, subject) DO UPDATE SET at = excluded.at, \
             request_id = excluded.request_id WHERE (excluded.at, excluded.request_id) > (at, request_id)",
        )
        .bind(&mark.interface)
        .bind(&mark.parking_code)
        .bind(&mark.subject)
        .bind(&mark.at)
        .bind(mark.request_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await
    }

    /// The ordering rule's memory, for the subscriber at start-up.
    pub async fn order_marks(&self) -> Result<Vec<OrderMark>, StoreError> {
        let rows = sqlx::query("SELECT interface, parking_code, subject, at, request_id FROM downlink_order")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(OrderMark {
                    interface: r.try_get(0)?,
                    parking_code: r.try_get(1)?,
                    subject: r.try_get(2)?,
                    at: r.try_get(3)?,
                    request_id: r.try_get(4)?,
                })
            })
            .collect()
    }

    /// Whether `plate` is (black, white) listed at `now`: one query, both lists.
    pub async fn lists(&self, plate: &str, now: &str) -> Result<(bool, bool), StoreError> {
        let kinds: Vec<i64> = sqlx::query_scalar(
            "SELECT list_kind FROM list_entries WHERE plate_no = ? AND start_time <= ? AND end_time >= ?",
        )
        .bind(plate)
        .bind(now)
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        Ok((kinds.contains(&0), kinds.contains(&1)))
    }
}

fn card_plates() -> utoipa::openapi::schema::ArrayBuilder {
    utoipa::openapi::schema::ArrayBuilder::new()
        .items(crate::staff::real_plate())
        .min_items(Some(1))
        .description(Some("at least one real plate (normalised), none on another card (409)"))
}

fn card_time() -> utoipa::openapi::schema::ObjectBuilder {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(onepark_domain::time::TIME_PATTERN))
        .description(Some("yyyy-MM-dd HH:mm:ss"))
}

/// A month card with its plates.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MonthCard {
    /// 1–64 visible ASCII characters; a card with this id is replaced.
    #[schema(pattern = "^[!-~]{1,64}$")]
    pub id: String,
    /// At most 50 characters, no control characters.
    #[schema(pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$", max_length = 50)]
    pub owner: String,
    /// At least one, none blank.
    #[schema(schema_with = card_plates)]
    pub plates: Vec<String>,
    /// yyyy-MM-dd HH:mm:ss
    #[schema(schema_with = card_time)]
    pub start_time: String,
    /// yyyy-MM-dd HH:mm:ss, not before startTime.
    #[schema(schema_with = card_time)]
    pub end_time: String,
    /// Lanes the card opens; empty = every lane.
    #[serde(default)]
    pub lanes: Vec<String>,
    #[serde(default)]
    pub odd_even: bool,
}

#[derive(Clone, Debug)]
pub struct Exit {
    pub uid: String,
    pub lane: String,
    pub time: String,
    pub charge_fee: i64,
    pub should_pay: i64,
    pub paid: i64,
    pub fuzzy: bool,
    /// Staff closed the session (not a lane): why and who.
    pub note: Option<String>,
    /// What the driver paid at the lot, reported with uploadPayRecord.
    pub bill: Option<Bill>,
}

#[derive(Clone, Debug)]
pub struct Bill {
    pub bill_id: String,
    pub actual_pay: i64,
    pub deal_time: String,
}

/// A record the sender set aside, for an operator.
#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RefusedRecord {
    pub id: i64,
    pub uid: Option<String>,
    pub interface: String,
    /// The `data` object as sent (JSON text).
    pub body: String,
    pub attempts: i64,
    pub error: Option<String>,
}

/// Filters for [`Store::sessions`]; empty strings match everything.
#[derive(Clone, Debug, Default)]
pub struct SessionQuery {
    pub state: String,
    pub plate_no: String,
    /// yyyy-MM-dd of the entry
    pub date: String,
    /// Only `无车牌` / `未识别` sessions (for staff to resolve).
    pub unresolved: bool,
    pub limit: i64,
}

#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionRow {
    pub uid: String,
    pub plate_no: String,
    pub plate_color: i64,
    pub car_type: i64,
    pub parking_type: i64,
    pub entry_lane: String,
    pub entry_time: String,
    pub exit_lane: Option<String>,
    pub exit_time: Option<String>,
    pub charge_fee: Option<i64>,
    pub should_pay: Option<i64>,
    pub paid: Option<i64>,
    pub fuzzy_exit: bool,
    pub state: String,
    pub card_id: Option<String>,
    pub note: Option<String>,
}

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

/// An applied downlink's place in the ordering rule (see `downlink::Order`).
#[derive(Clone, Debug)]
pub struct OrderMark {
    pub interface: String,
    pub parking_code: String,
    pub subject: String,
    /// yyyy-MM-dd HH:mm:ss
    pub at: String,
    pub request_id: i64,
}

#[derive(Clone, Debug)]
pub struct ListEntry {
    pub plate_no: String,
    pub list_kind: i64,
    pub start_time: String,
    pub end_time: String,
    pub remark: Option<String>,
    pub request_id: i64,
}

async fn put_photo(tx: &mut SqliteConnection, p: &StoredPhoto) -> Result<(), StoreError> {
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

async fn queue(tx: &mut SqliteConnection, r: Report) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO outbox (uid, interface, body, created_ms, next_attempt_ms) VALUES (?, ?, ?, ?, ?)")
        .bind(r.uid)
        .bind(r.interface)
        .bind(r.body)
        .bind(r.created_ms)
        .bind(r.created_ms)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

fn session(r: &sqlx::sqlite::SqliteRow) -> Result<Session, StoreError> {
    Ok(Session {
        uid: r.try_get(0)?,
        plate_no: r.try_get(1)?,
        plate_color: r.try_get(2)?,
        car_type: r.try_get(3)?,
        parking_type: r.try_get(4)?,
        entry_lane: r.try_get(5)?,
        entry_time: r.try_get(6)?,
        card_id: r.try_get(7)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_backfill_never_doubles_a_queued_copy_nor_resends_a_refusal() {
        let file = std::env::temp_dir().join(format!("onepark-requeue-{}.db", std::process::id()));
        let _ = std::fs::remove_file(&file);
        let store = Store::open(&format!("sqlite://{}", file.display())).await.expect("store");
        let report =
            |body: &str| Report { uid: Some("u1".into()), interface: "uploadPhoto", body: body.into(), created_ms: 1 };
        store.report(report(r#"{"photoID":"u1-1"}"#)).await.expect("queued");
        store.report(report(r#"{"photoID":"u1-2"}"#)).await.expect("queued");
        let ids = |rows: Vec<Outgoing>| rows.iter().map(|r| r.id).collect::<Vec<_>>();
        assert_eq!(ids(store.pending_after(0, 10).await.expect("pending")), [1, 2]);
        // Still waiting to be sent: the platform lacks it because it has not arrived.
        assert!(!store.requeue_item("u1", "uploadPhoto", "photoID", "u1-1", 5).await.expect("requeue"));
        store.finish(&[(1, 1, Finished::Delivered { at_ms: 2 })]).await.expect("finish");
        assert!(store.requeue_item("u1", "uploadPhoto", "photoID", "u1-1", 5).await.expect("requeue"));
        assert!(!store.requeue_item("u1", "uploadPhoto", "photoID", "u1-1", 6).await.expect("requeue"), "once");
        // The other photo was refused as invalid: sending it again would be refused again.
        store.finish(&[(2, 1, Finished::Refused("400: bad photo".into()))]).await.expect("finish");
        assert!(!store.requeue_item("u1", "uploadPhoto", "photoID", "u1-2", 7).await.expect("requeue"));
        assert_eq!(ids(store.pending_after(0, 10).await.expect("pending")), [3]);
        // Staff fixed the cause and send it again: a new row in line, the old one no longer listed.
        assert_eq!(store.backlog().await.expect("backlog"), (1, 1));
        assert_eq!(store.refused_records(10).await.expect("refused").len(), 1);
        assert!(store.retry_refused(2, 8).await.expect("retry"));
        assert!(!store.retry_refused(2, 9).await.expect("retry"), "only once");
        assert_eq!(ids(store.pending_after(0, 10).await.expect("pending")), [3, 4]);
        assert_eq!(store.backlog().await.expect("backlog"), (2, 0));
        assert!(store.refused_records(10).await.expect("refused").is_empty());
        let _ = std::fs::remove_file(&file);
    }
}
