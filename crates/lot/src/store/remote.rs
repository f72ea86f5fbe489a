//! What the parking cloud's MQ channel keeps on the lot: the commands
//! received and their answers (`cloud_commands`), the reports waiting for
//! the cloud's acknowledgement (`cloud_reports`), plate locks, visitor
//! reservations, the cloud's blacklist entries (in `list_entries`) and its
//! settings.

use super::{Store, StoreError};

/// A report queued for the cloud: its uuid, serviceId and the envelope's JSON.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct QueuedReport {
    pub uuid: String,
    pub service_id: String,
    pub payload: String,
}

/// What the lot knows of a command's uuid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Seen {
    /// First time: now claimed.
    New,
    /// Answered before: the answer sent.
    Answered(String),
    /// Claimed and never answered (the gateway stopped in between).
    Interrupted,
}

#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct PlateLock {
    pub id: i64,
    pub plate_no: String,
    pub locker: String,
    pub lock_time: String,
    pub remark: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct Visitor {
    pub pass_code: String,
    pub plate_no: String,
    pub arrive_time: String,
    pub leave_time: String,
    pub business_type: i64,
    pub booked: i64,
    pub car_sub_type: i64,
    pub times_limit: i64,
    pub used: i64,
    pub channel: Option<String>,
    pub remark: Option<String>,
}

impl Visitor {
    /// Whether the visitor parks free (a free car type, 11–17).
    pub fn free(&self) -> bool {
        (11..=17).contains(&self.car_sub_type)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct BlackEntry {
    pub plate_no: String,
    pub start_time: String,
    pub end_time: String,
    pub remark: Option<String>,
    pub cloud_uuid: Option<String>,
}

impl Store {
    /// Claims a command's uuid, or says what became of it before.
    pub async fn claim_command(
        &self,
        uuid: &str,
        service_id: &str,
        action: Option<&str>,
        now: &str,
    ) -> Result<Seen, StoreError> {
        let mut tx = self.write().await?;
        let found: Option<Option<String>> = sqlx::query_scalar("SELECT answer FROM cloud_commands WHERE uuid = ?")
            .bind(uuid)
            .fetch_optional(&mut *tx)
            .await?;
        let seen = match found {
            Some(Some(answer)) => Seen::Answered(answer),
            Some(None) => Seen::Interrupted,
            None => {
                sqlx::query("INSERT INTO cloud_commands (uuid, service_id, action, received_at) VALUES (?, ?, ?, ?)")
                    .bind(uuid)
                    .bind(service_id)
                    .bind(action)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                Seen::New
            }
        };
        tx.commit().await?;
        Ok(seen)
    }

    pub async fn answer_command(&self, uuid: &str, answer: &str) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        sqlx::query("UPDATE cloud_commands SET answer = ? WHERE uuid = ?")
            .bind(answer)
            .bind(uuid)
            .execute(&mut *tx)
            .await?;
        tx.commit().await
    }

    pub async fn queue_report(&self, report: &QueuedReport, now: &str) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        insert_report(&mut tx, report, now).await?;
        tx.commit().await
    }

    /// Reports not yet acknowledged, oldest first.
    pub async fn pending_reports(&self, limit: i64) -> Result<Vec<QueuedReport>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT uuid, service_id, payload FROM cloud_reports WHERE acked_at IS NULL ORDER BY created_at, uuid LIMIT ?",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn report_sent(&self, uuid: &str) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        sqlx::query("UPDATE cloud_reports SET attempts = attempts + 1 WHERE uuid = ?")
            .bind(uuid)
            .execute(&mut *tx)
            .await?;
        tx.commit().await
    }

    /// The cloud acknowledged a report; false when no such report waits.
    pub async fn ack_report(&self, uuid: &str, now: &str) -> Result<bool, StoreError> {
        let mut tx = self.write().await?;
        let n = sqlx::query("UPDATE cloud_reports SET acked_at = ? WHERE uuid = ? AND acked_at IS NULL")
            .bind(now)
            .bind(uuid)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(n == 1)
    }

    pub async fn reports_waiting(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM cloud_reports WHERE acked_at IS NULL")
            .fetch_one(&self.pool)
            .await?)
    }

    /// Locks a plate, or changes its lock (found by id, else by plate); its id.
    pub async fn put_lock(&self, lock: &PlateLock) -> Result<i64, StoreError> {
        let mut tx = self.write().await?;
        let id: i64 = if lock.id > 0 {
            let n =
                sqlx::query("UPDATE plate_locks SET plate_no = ?, locker = ?, lock_time = ?, remark = ? WHERE id = ?")
                    .bind(&lock.plate_no)
                    .bind(&lock.locker)
                    .bind(&lock.lock_time)
                    .bind(&lock.remark)
                    .bind(lock.id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
            if n == 0 {
                return Err(StoreError::NotFound(format!("锁定记录 ID {}", lock.id)));
            }
            lock.id
        } else {
            sqlx::query_scalar(
                "INSERT INTO plate_locks (plate_no, locker, lock_time, remark) VALUES (?, ?, ?, ?) \
                 ON CONFLICT (plate_no) DO UPDATE SET locker = excluded.locker, lock_time = excluded.lock_time, \
                 remark = excluded.remark RETURNING id",
            )
            .bind(&lock.plate_no)
            .bind(&lock.locker)
            .bind(&lock.lock_time)
            .bind(&lock.remark)
            .fetch_one(&mut *tx)
            .await?
        };
        tx.commit().await?;
        Ok(id)
    }

    /// Unlocks by id (when > 0) or plate; whether a lock was removed.
    pub async fn delete_lock(&self, id: i64, plate: &str) -> Result<bool, StoreError> {
        let mut tx = self.write().await?;
        let n = sqlx::query("DELETE FROM plate_locks WHERE id = ? OR (? = 0 AND plate_no = ?)")
            .bind(id)
            .bind(id)
            .bind(plate)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(n > 0)
    }

    pub async fn lock_of(&self, plate: &str) -> Result<Option<PlateLock>, StoreError> {
        Ok(sqlx::query_as("SELECT id, plate_no, locker, lock_time, remark FROM plate_locks WHERE plate_no = ?")
            .bind(plate)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// A page of locks (matching a plate part when given) and how many match.
    pub async fn locks(
        &self,
        plate: Option<&str>,
        offset: i64,
        limit: i64,
    ) -> Result<(i64, Vec<PlateLock>), StoreError> {
        let like = format!("%{}%", plate.unwrap_or_default());
        let total = sqlx::query_scalar("SELECT COUNT(*) FROM plate_locks WHERE plate_no LIKE ?")
            .bind(&like)
            .fetch_one(&self.pool)
            .await?;
        let rows = sqlx::query_as(
            "SELECT id, plate_no, locker, lock_time, remark FROM plate_locks WHERE plate_no LIKE ? ORDER BY id LIMIT ? OFFSET ?",
        )
        .bind(&like)
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.pool)
        .await?;
        Ok((total, rows))
    }

    /// Stores a reservation (a new passCode, or its change or cancellation).
    pub async fn put_visitor(&self, v: &Visitor) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        sqlx::query(
            "INSERT INTO visitors (pass_code, plate_no, arrive_time, leave_time, business_type, booked, car_sub_type, \
             times_limit, channel, remark) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (pass_code) DO UPDATE SET \
             plate_no = excluded.plate_no, arrive_time = excluded.arrive_time, leave_time = excluded.leave_time, \
             business_type = excluded.business_type, booked = excluded.booked, car_sub_type = excluded.car_sub_type, \
             times_limit = excluded.times_limit, channel = excluded.channel, remark = excluded.remark",
        )
        .bind(&v.pass_code)
        .bind(&v.plate_no)
        .bind(&v.arrive_time)
        .bind(&v.leave_time)
        .bind(v.business_type)
        .bind(v.booked)
        .bind(v.car_sub_type)
        .bind(v.times_limit)
        .bind(&v.channel)
        .bind(&v.remark)
        .execute(&mut *tx)
        .await?;
        tx.commit().await
    }

    /// A booked reservation of `plate` whose window holds `at` and whose entries are not used up.
    pub async fn visitor_at(&self, plate: &str, at: &str) -> Result<Option<Visitor>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT * FROM visitors WHERE plate_no = ? AND booked = 1 AND arrive_time <= ? AND leave_time >= ? \
             AND (times_limit < 0 OR used < times_limit) ORDER BY arrive_time LIMIT 1",
        )
        .bind(plate)
        .bind(at)
        .bind(at)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// The free reservation a stay that began at `entered` came in on (its window then).
    pub async fn free_visit(&self, plate: &str, entered: &str) -> Result<Option<Visitor>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT * FROM visitors WHERE plate_no = ? AND booked = 1 AND arrive_time <= ? AND leave_time >= ? \
             AND car_sub_type BETWEEN 11 AND 17 AND used > 0 ORDER BY leave_time DESC LIMIT 1",
        )
        .bind(plate)
        .bind(entered)
        .bind(entered)
        .fetch_optional(&self.pool)
        .await?)
    }

    pub async fn use_visitor(&self, pass_code: &str) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        sqlx::query("UPDATE visitors SET used = used + 1 WHERE pass_code = ?")
            .bind(pass_code)
            .execute(&mut *tx)
            .await?;
        tx.commit().await
    }

    /// Adds or renews a cloud blacklist entry (a black `list_entries` row with its uuid).
    pub async fn put_cloud_black(
        &self,
        plate: &str,
        uuid: &str,
        start: &str,
        end: &str,
        remark: Option<&str>,
    ) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        sqlx::query(
            "INSERT INTO list_entries (plate_no, list_kind, start_time, end_time, remark, request_id, cloud_uuid) \
             VALUES (?, 0, ?, ?, ?, 0, ?) ON CONFLICT (plate_no, list_kind) DO UPDATE SET start_time = excluded.start_time, \
             end_time = excluded.end_time, remark = excluded.remark, cloud_uuid = excluded.cloud_uuid",
        )
        .bind(plate)
        .bind(start)
        .bind(end)
        .bind(remark)
        .bind(uuid)
        .execute(&mut *tx)
        .await?;
        tx.commit().await
    }

    /// Removes a blacklist entry by the cloud's uuid, else by plate; whether one was.
    pub async fn delete_cloud_black(&self, uuid: &str, plate: &str) -> Result<bool, StoreError> {
        let mut tx = self.write().await?;
        let n = sqlx::query(
            "DELETE FROM list_entries WHERE list_kind = 0 AND ((? <> '' AND cloud_uuid = ?) OR plate_no = ?)",
        )
        .bind(uuid)
        .bind(uuid)
        .bind(plate)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(n > 0)
    }

    /// A page of black-list entries (matching a plate part) and how many match.
    pub async fn black_entries(
        &self,
        plate: Option<&str>,
        offset: i64,
        limit: i64,
    ) -> Result<(i64, Vec<BlackEntry>), StoreError> {
        let like = format!("%{}%", plate.unwrap_or_default());
        let total = sqlx::query_scalar("SELECT COUNT(*) FROM list_entries WHERE list_kind = 0 AND plate_no LIKE ?")
            .bind(&like)
            .fetch_one(&self.pool)
            .await?;
        let rows = sqlx::query_as(
            "SELECT plate_no, start_time, end_time, remark, cloud_uuid FROM list_entries WHERE list_kind = 0 \
             AND plate_no LIKE ? ORDER BY plate_no LIMIT ? OFFSET ?",
        )
        .bind(&like)
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.pool)
        .await?;
        Ok((total, rows))
    }

    pub async fn set_cloud_setting(&self, name: &str, value: &str) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        sqlx::query("INSERT INTO cloud_settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value")
            .bind(name)
            .bind(value)
            .execute(&mut *tx)
            .await?;
        tx.commit().await
    }

    pub async fn cloud_setting(&self, name: &str) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar("SELECT value FROM cloud_settings WHERE name = ?")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?)
    }
}

pub(super) async fn insert_report(
    tx: &mut sqlx::SqliteConnection,
    report: &QueuedReport,
    now: &str,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO cloud_reports (uuid, service_id, payload, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (uuid) DO NOTHING")
        .bind(&report.uuid)
        .bind(&report.service_id)
        .bind(&report.payload)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

impl Store {
    /// A session by uid, open or closed (3.12 asks about either).
    pub async fn session_row(&self, uid: &str) -> Result<Option<super::SessionRow>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT uid, plate_no, plate_color, car_type, parking_type, entry_lane, entry_time, exit_lane, exit_time, \
             charge_fee, should_pay, paid, fuzzy_exit, state, card_id, closed_note FROM sessions WHERE uid = ?",
        )
        .bind(uid)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// A page of open sessions (matching a plate part) and how many match.
    pub async fn open_page(
        &self,
        plate: Option<&str>,
        offset: i64,
        limit: i64,
    ) -> Result<(i64, Vec<super::Session>), StoreError> {
        let like = format!("%{}%", plate.unwrap_or_default());
        let total = sqlx::query_scalar("SELECT COUNT(*) FROM sessions WHERE state = 'open' AND plate_no LIKE ?")
            .bind(&like)
            .fetch_one(&self.pool)
            .await?;
        let rows = sqlx::query_as(
            "SELECT uid, plate_no, plate_color, car_type, parking_type, entry_lane, entry_time, card_id FROM sessions \
             WHERE state = 'open' AND plate_no LIKE ? ORDER BY entry_time DESC, uid LIMIT ? OFFSET ?",
        )
        .bind(&like)
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.pool)
        .await?;
        Ok((total, rows))
    }
}
