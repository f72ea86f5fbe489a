//! The lot's embedded SQLite: sessions, the outbox, lists. A change and the
//! outbox rows that report it commit together, so nothing is ever decided at
//! the barrier without also being on its way to the platform.

use std::str::FromStr;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};

const MIGRATIONS: [&str; 2] =
    [include_str!("../migrations/0001_lot.sql"), include_str!("../migrations/0002_month_cards.sql")];

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("session {0} is not open")]
    NotOpen(String),
    #[error("no free uid in this second on this lane")]
    UidExhausted,
}

#[derive(Clone)]
pub struct Store {
    pool: SqlitePool,
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
    pub interface: String,
    pub body: String,
    pub created_ms: i64,
    pub attempts: i64,
    pub next_attempt_ms: i64,
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
        let store = Store { pool };
        store.migrate().await?;
        Ok(store)
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        let version: i64 = sqlx::query_scalar("PRAGMA user_version").fetch_one(&self.pool).await?;
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(usize::try_from(version).unwrap_or(0)) {
            let mut tx = self.pool.begin().await?;
            sqlx::raw_sql(sql).execute(&mut *tx).await?;
            sqlx::raw_sql(&format!("PRAGMA user_version = {}", i + 1)).execute(&mut *tx).await?;
            tx.commit().await?;
        }
        Ok(())
    }

    /// Starts a session and queues its entry record.
    pub async fn enter(&self, s: &Session, report: Report) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
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
        queue(&mut tx, report).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Closes a session and queues its exit record.
    pub async fn leave(&self, exit: &Exit, report: Report) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "UPDATE sessions SET exit_lane = ?, exit_time = ?, charge_fee = ?, should_pay = ?, paid = ?, fuzzy_exit = ?, \
             state = 'closed' WHERE uid = ? AND state = 'open'",
        )
        .bind(&exit.lane)
        .bind(&exit.time)
        .bind(exit.charge_fee)
        .bind(exit.should_pay)
        .bind(exit.paid)
        .bind(exit.fuzzy)
        .bind(&exit.uid)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotOpen(exit.uid.clone()));
        }
        queue(&mut tx, report).await?;
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

    pub async fn session(&self, uid: &str) -> Result<Option<Session>, StoreError> {
        let row = sqlx::query(
            "SELECT uid, plate_no, plate_color, car_type, parking_type, entry_lane, entry_time, card_id FROM sessions \
             WHERE uid = ?",
        )
        .bind(uid)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(session).transpose()
    }

    /// Temporary cars in the lot now (they occupy open berths).
    pub async fn temporary_inside(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM sessions WHERE state = 'open' AND parking_type = 1")
            .fetch_one(&self.pool)
            .await?)
    }

    /// Queues a record that belongs to no session change (berth state, heartbeat).
    pub async fn report(&self, report: Report) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        queue(&mut tx, report).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The oldest record not yet delivered nor refused: the outbox is sent
    /// strictly in order, so an entry always precedes its exit.
    pub async fn head(&self) -> Result<Option<Outgoing>, StoreError> {
        let row = sqlx::query(
            "SELECT id, interface, body, created_ms, attempts, next_attempt_ms FROM outbox \
             WHERE delivered_ms IS NULL AND dead = 0 ORDER BY id LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(Outgoing {
                id: r.try_get(0)?,
                interface: r.try_get(1)?,
                body: r.try_get(2)?,
                created_ms: r.try_get(3)?,
                attempts: r.try_get(4)?,
                next_attempt_ms: r.try_get(5)?,
            })
        })
        .transpose()
    }

    pub async fn delivered(&self, id: i64, now_ms: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE outbox SET delivered_ms = ?, attempts = attempts + 1 WHERE id = ?")
            .bind(now_ms)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn retry(&self, id: i64, next_attempt_ms: i64, error: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE outbox SET attempts = attempts + 1, next_attempt_ms = ?, last_error = ? WHERE id = ?")
            .bind(next_attempt_ms)
            .bind(error)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The platform refused the record as invalid: kept for an operator, not retried.
    pub async fn refused(&self, id: i64, error: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE outbox SET attempts = attempts + 1, dead = 1, last_error = ? WHERE id = ?")
            .bind(error)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Records waiting for the platform, and records it refused.
    pub async fn backlog(&self) -> Result<(i64, i64), StoreError> {
        let row = sqlx::query(
            "SELECT COALESCE(SUM(CASE WHEN dead = 0 THEN 1 ELSE 0 END), 0), COALESCE(SUM(dead), 0) \
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

    /// Queues the last sent copy of a session's record again (backfill after
    /// reconciliation); false when there is none.
    pub async fn requeue(&self, uid: &str, interface: &str, now_ms: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO outbox (uid, interface, body, created_ms, next_attempt_ms) \
             SELECT uid, interface, body, ?, ? FROM outbox WHERE uid = ? AND interface = ? ORDER BY id DESC LIMIT 1",
        )
        .bind(now_ms)
        .bind(now_ms)
        .bind(uid)
        .bind(interface)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Creates or replaces a card (its plates move to it).
    pub async fn put_card(&self, card: &MonthCard) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
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
        let mut tx = self.pool.begin().await?;
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

    /// Applies a list entry from the platform (add/update, or delete).
    pub async fn set_list(&self, entry: &ListEntry, delete: bool) -> Result<(), StoreError> {
        if delete {
            sqlx::query("DELETE FROM list_entries WHERE plate_no = ? AND list_kind = ?")
                .bind(&entry.plate_no)
                .bind(entry.list_kind)
                .execute(&self.pool)
                .await?;
            return Ok(());
        }
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
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Whether `plate` is on the list `kind` (0 black, 1 white) at `now`.
    pub async fn listed(&self, plate: &str, kind: i64, now: &str) -> Result<bool, StoreError> {
        let row = sqlx::query(
            "SELECT 1 FROM list_entries WHERE plate_no = ? AND list_kind = ? AND start_time <= ? AND end_time >= ?",
        )
        .bind(plate)
        .bind(kind)
        .bind(now)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.is_some())
    }
}

/// A month card with its plates.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MonthCard {
    pub id: String,
    pub owner: String,
    pub plates: Vec<String>,
    pub start_time: String,
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

async fn queue(tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>, r: Report) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO outbox (uid, interface, body, created_ms, next_attempt_ms) VALUES (?, ?, ?, ?, ?)")
        .bind(r.uid)
        .bind(r.interface)
        .bind(r.body)
        .bind(r.created_ms)
        .bind(r.created_ms)
        .execute(&mut **tx)
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
