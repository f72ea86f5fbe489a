//! Parking sessions (`sessions`: open at the entry, closed at the exit or by
//! staff), what was paid at the lot (`bills`) and barriers opened by staff
//! (`manual_openings`). Each change commits with the outbox rows reporting it.

use super::outbox::queue;
use super::photos::put_photo;
use super::{Report, Store, StoreError, StoredPhoto, Write};

onepark_sql::column_enum! {
    /// Whether a car is still inside.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
    #[serde(rename_all = "lowercase")]
    pub enum SessionState in "sessions.state" as text {
        Open = "open",
        Closed = "closed",
    }
}

/// An open or closed parking session: what its entry decided.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
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
    /// Bills the platform settles (pay-after-leave, a no-stop deduction) or
    /// that this exit closed (an earlier attempt's, now collected or void),
    /// stored with the exit so the car never leaves without them.
    pub online: Vec<super::OnlineBill>,
}

#[derive(Clone, Debug)]
pub struct Bill {
    pub bill_id: String,
    pub actual_pay: i64,
    pub deal_time: String,
}

/// Filters for [`Store::sessions`]; `None` and empty strings match everything.
#[derive(Clone, Debug, Default)]
pub struct SessionQuery {
    pub state: Option<SessionState>,
    pub plate_no: String,
    /// yyyy-MM-dd of the entry
    pub date: String,
    /// Only `无车牌` / `未识别` sessions (for staff to resolve).
    pub unresolved: bool,
    /// Plates holding this part (`55298`, `B55298`): letters, digits and Chinese only.
    pub plate_part: String,
    pub limit: i64,
    pub offset: i64,
}

/// A session as staff and audits see it: its entry, and its exit once closed.
#[derive(Clone, Debug, serde::Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionRow {
    #[serde(flatten)]
    #[sqlx(flatten)]
    pub session: Session,
    pub exit_lane: Option<String>,
    pub exit_time: Option<String>,
    pub charge_fee: Option<i64>,
    pub should_pay: Option<i64>,
    pub paid: Option<i64>,
    pub fuzzy_exit: bool,
    pub state: SessionState,
    /// Why staff closed it, and who.
    #[sqlx(rename = "closed_note")]
    pub note: Option<String>,
}

impl Store {
    /// Starts a session and queues its entry record (and photo).
    pub async fn enter(
        &self,
        s: &Session,
        reports: Vec<Report>,
        photo: Option<&StoredPhoto>,
    ) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        insert_session(&mut tx, s).await?;
        commit_reported(tx, photo, reports).await
    }

    /// Starts a session a parking cloud put into the lot (its `record_no`),
    /// remembering which, and queues its entry record.
    pub async fn enter_remote(&self, s: &Session, reports: Vec<Report>, record_no: &str) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        insert_session(&mut tx, s).await?;
        super::cloud::remember(&mut tx, record_no, &s.uid).await?;
        commit_reported(tx, None, reports).await
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
        for online in &exit.online {
            super::payments::insert_bill(&mut tx, online).await?;
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
        commit_reported(tx, photo, reports).await
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
        let mut query = sqlx::query_as(&sql);
        for plate in plates {
            query = query.bind(plate);
        }
        Ok(query.fetch_all(&self.pool).await?)
    }

    /// The session `uid` if it is open.
    pub async fn open_session(&self, uid: &str) -> Result<Option<Session>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT uid, plate_no, plate_color, car_type, parking_type, entry_lane, entry_time, card_id FROM sessions \
             WHERE uid = ? AND state = 'open'",
        )
        .bind(uid)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Whether a session `uid` exists in any state (a stay that already left).
    pub async fn known_session(&self, uid: &str) -> Result<bool, StoreError> {
        let n: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM sessions WHERE uid = ?").bind(uid).fetch_one(&self.pool).await?;
        Ok(n > 0)
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
        commit_reported(tx, None, vec![report]).await
    }

    /// Sessions for staff and audits, newest entry first.
    pub async fn sessions(&self, q: &SessionQuery) -> Result<Vec<SessionRow>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT uid, plate_no, plate_color, car_type, parking_type, entry_lane, entry_time, exit_lane, exit_time, \
             charge_fee, should_pay, paid, fuzzy_exit, state, card_id, closed_note FROM sessions \
             WHERE (?1 IS NULL OR state = ?1) AND (?2 = '' OR plate_no = ?2) AND (?3 = '' OR substr(entry_time, 1, 10) = ?3) \
             AND (?4 = 0 OR plate_no IN ('无车牌', '未识别')) AND (?6 = '' OR instr(plate_no, ?6) > 0) \
             ORDER BY entry_time DESC, uid LIMIT ?5 OFFSET ?7",
        )
        .bind(q.state)
        .bind(&q.plate_no)
        .bind(&q.date)
        .bind(q.unresolved)
        .bind(q.limit)
        .bind(&q.plate_part)
        .bind(q.offset)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Logs a barrier opened by staff.
    pub async fn manual_open(
        &self,
        lane: &str,
        time: &str,
        reason: &str,
        operator: Option<&str>,
        plate: Option<&str>,
        report: Option<&super::remote::QueuedReport>,
    ) -> Result<i64, StoreError> {
        let mut tx = self.write().await?;
        let done =
            sqlx::query("INSERT INTO manual_openings (lane, time, reason, operator, plate_no) VALUES (?, ?, ?, ?, ?)")
                .bind(lane)
                .bind(time)
                .bind(reason)
                .bind(operator)
                .bind(plate)
                .execute(&mut *tx)
                .await?;
        // The cloud's manual-lift report (2.11) commits with the opening it reports.
        if let Some(report) = report {
            super::remote::insert_report(&mut tx, report, time).await?;
        }
        tx.commit().await?;
        Ok(done.last_insert_rowid())
    }

    /// The lane a closed session left by.
    pub async fn exit_lane(&self, uid: &str) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar("SELECT exit_lane FROM sessions WHERE uid = ?")
            .bind(uid)
            .fetch_optional(&self.pool)
            .await?
            .flatten())
    }

    /// Temporary cars in the lot now (they occupy open berths).
    pub async fn temporary_inside(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM sessions WHERE state = 'open' AND parking_type = 1")
            .fetch_one(&self.pool)
            .await?)
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

    /// (uid, bill id, actual pay) of the bills dealt on `date` (yyyy-MM-dd), for reconciliation.
    pub async fn day_bills(&self, date: &str) -> Result<Vec<(String, String, i64)>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT uid, bill_id, actual_pay FROM bills WHERE substr(deal_time, 1, 10) = ? ORDER BY bill_id",
        )
        .bind(date)
        .fetch_all(&self.pool)
        .await?)
    }
}

async fn insert_session(tx: &mut Write, s: &Session) -> Result<(), StoreError> {
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
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Adds a change's photo and outbox rows to its transaction and commits: the
/// change and what reports it become durable together, or not at all.
async fn commit_reported(mut tx: Write, photo: Option<&StoredPhoto>, reports: Vec<Report>) -> Result<(), StoreError> {
    if let Some(photo) = photo {
        put_photo(&mut tx, photo).await?;
    }
    for report in reports {
        queue(&mut tx, report).await?;
    }
    tx.commit().await
}
