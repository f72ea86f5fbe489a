//! What the platform settles for the lot (`online_bills`: fee quotes, no-stop
//! deductions, pay-after-leave bills) and what it tells the lot about plates
//! (`signings` from departurePayInfo, `arrears_notices` from overDueResult),
//! each written with the downlink's place in the ordering rule and the
//! records that report it.

use super::lists::{OrderMark, mark_order};
use super::outbox::queue;
use super::{Report, Store, StoreError};

onepark_sql::column_enum! {
    /// What an online bill is for.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
    #[serde(rename_all = "snake_case")]
    pub enum BillKind in "online_bills.kind" as text {
        /// A fee quote for a driver paying before the exit (uploadFee).
        Prepay = "prepay",
        /// A no-stop deduction at the exit (applyPayment, car in the lot).
        Exit = "exit",
        /// The car left first (applyPayment after it left).
        AfterLeave = "after_leave",
    }
}

onepark_sql::column_enum! {
    #[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
    #[serde(rename_all = "snake_case")]
    pub enum BillState in "online_bills.state" as text {
        /// Not settled yet.
        Open = "open",
        Paid = "paid",
        /// Collected at the booth instead.
        Offline = "offline",
        /// Superseded (a newer quote) or nothing to collect.
        Void = "void",
        /// Paid, then all of it given back by the cloud (the stay owes it again).
        Refunded = "refunded",
    }
}

/// What booking a cloud's refund came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RefundBooked {
    /// Booked now (`whole`: nothing of the payment is left).
    Booked {
        whole: bool,
    },
    /// This refund was booked before.
    Already,
    /// The refund number was booked for another bill.
    OtherBill(String),
    NoBill,
    NotPaid(BillState),
    TooMuch {
        left: i64,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OnlineBill {
    pub bill_id: String,
    pub uid: String,
    pub kind: BillKind,
    pub plate_no: String,
    pub plate_color: i64,
    pub arrive_time: String,
    pub end_time: String,
    pub bill_time: String,
    pub should_pay: i64,
    pub state: BillState,
    /// What decided the exit: no_stop, no_stop_query, booth, after_leave.
    pub path: Option<String>,
    pub actual_pay: Option<i64>,
    pub discount: Option<i64>,
    pub deal_time: Option<String>,
    pub order_code: Option<String>,
    pub paid_type: Option<i64>,
    pub pay_type: Option<i64>,
    pub settled_by: Option<i64>,
    pub abnormal_at: Option<String>,
    pub checked_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl OnlineBill {
    /// A new, open bill.
    pub fn open(kind: BillKind, bill_id: String, session: &super::Session, end_time: &str, should_pay: i64) -> Self {
        OnlineBill {
            bill_id,
            uid: session.uid.clone(),
            kind,
            plate_no: session.plate_no.clone(),
            plate_color: session.plate_color,
            arrive_time: session.entry_time.clone(),
            end_time: end_time.to_owned(),
            bill_time: end_time.to_owned(),
            should_pay,
            state: BillState::Open,
            path: None,
            actual_pay: None,
            discount: None,
            deal_time: None,
            order_code: None,
            paid_type: None,
            pay_type: None,
            settled_by: None,
            abnormal_at: None,
            checked_at: None,
            created_at: end_time.to_owned(),
            updated_at: end_time.to_owned(),
        }
    }
}

/// How a bill was paid (payResult, applyPayment's or getPayResult's answer).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settlement {
    pub actual_pay: i64,
    pub discount: i64,
    pub deal_time: String,
    pub order_code: String,
    pub paid_type: i64,
    pub pay_type: i64,
    pub path: Option<String>,
    /// The payResult that settled it.
    pub request_id: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Signing {
    pub plate_no: String,
    pub plate_color: i64,
    pub no_sense: i64,
    pub money_limit: i64,
    pub departure_pay: i64,
    pub request_id: i64,
    pub received_at: String,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ArrearsNotice {
    pub plate_no: String,
    pub over_due_count: Option<i64>,
    pub un_pay: i64,
    pub prevent: i64,
    pub request_id: i64,
    pub received_at: String,
}

const BILL_COLUMNS: &str = "bill_id, uid, kind, plate_no, plate_color, arrive_time, end_time, bill_time, should_pay, \
     state, path, actual_pay, discount, deal_time, order_code, paid_type, pay_type, settled_by, abnormal_at, checked_at, \
     created_at, updated_at";

impl Store {
    /// Stores a new bill (an open quote of the same id is replaced: the driver asked again).
    pub async fn put_online_bill(&self, b: &OnlineBill) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        insert_bill(&mut tx, b).await?;
        tx.commit().await
    }

    pub async fn online_bill(&self, bill_id: &str) -> Result<Option<OnlineBill>, StoreError> {
        let sql = format!("SELECT {BILL_COLUMNS} FROM online_bills WHERE bill_id = ?");
        Ok(sqlx::query_as(&sql).bind(bill_id).fetch_optional(&self.pool).await?)
    }

    /// A session's bills, oldest first.
    pub async fn online_bills_of(&self, uid: &str) -> Result<Vec<OnlineBill>, StoreError> {
        let sql = format!("SELECT {BILL_COLUMNS} FROM online_bills WHERE uid = ? ORDER BY created_at, bill_id");
        Ok(sqlx::query_as(&sql).bind(uid).fetch_all(&self.pool).await?)
    }

    /// Open bills of `kind` created before `before`, oldest first.
    pub async fn open_online_bills(&self, kind: BillKind, before: &str) -> Result<Vec<OnlineBill>, StoreError> {
        let sql = format!(
            "SELECT {BILL_COLUMNS} FROM online_bills WHERE state = 'open' AND kind = ? AND created_at <= ? \
             ORDER BY created_at LIMIT 500"
        );
        Ok(sqlx::query_as(&sql).bind(kind).bind(before).fetch_all(&self.pool).await?)
    }

    /// Pay-after-leave bills of a day (bill_time), for checkDailyBill.
    pub async fn after_leave_bills(&self, date: &str) -> Result<Vec<OnlineBill>, StoreError> {
        let sql = format!(
            "SELECT {BILL_COLUMNS} FROM online_bills WHERE kind = 'after_leave' AND substr(bill_time, 1, 10) = ? \
             ORDER BY bill_id"
        );
        Ok(sqlx::query_as(&sql).bind(date).fetch_all(&self.pool).await?)
    }

    /// Marks a bill paid and queues what reports it (uploadPayRecord), in
    /// one transaction; false when it was settled already (nothing queued).
    pub async fn settle_online_bill(
        &self,
        bill_id: &str,
        s: &Settlement,
        now: &str,
        mark: Option<&OrderMark>,
        reports: Vec<Report>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.write().await?;
        let done = sqlx::query(
            "UPDATE online_bills SET state = 'paid', actual_pay = ?, discount = ?, deal_time = ?, order_code = ?, \
             paid_type = ?, pay_type = ?, path = COALESCE(?, path), settled_by = ?, updated_at = ? \
             WHERE bill_id = ? AND state IN ('open', 'offline')",
        )
        .bind(s.actual_pay)
        .bind(s.discount)
        .bind(&s.deal_time)
        .bind(&s.order_code)
        .bind(s.paid_type)
        .bind(s.pay_type)
        .bind(&s.path)
        .bind(s.request_id)
        .bind(now)
        .bind(bill_id)
        .execute(&mut *tx)
        .await?;
        if let Some(mark) = mark {
            mark_order(&mut tx, mark).await?;
        }
        let settled = done.rows_affected() == 1;
        if settled {
            for report in reports {
                queue(&mut tx, report).await?;
            }
        }
        tx.commit().await?;
        Ok(settled)
    }

    /// Books the cloud's refund `refund_no` of a paid bill once: its
    /// actual_pay lowered by `fen` (all of it: the bill is `refunded`, the
    /// stay owes it again), in one transaction with the refund's row.
    pub async fn refund_online_bill(
        &self,
        refund_no: &str,
        bill_id: &str,
        fen: i64,
        reason: Option<&str>,
        now: &str,
    ) -> Result<RefundBooked, StoreError> {
        let mut tx = self.write().await?;
        let seen: Option<String> = sqlx::query_scalar("SELECT bill_id FROM online_refunds WHERE refund_no = ?")
            .bind(refund_no)
            .fetch_optional(&mut *tx)
            .await?;
        if let Some(seen) = seen {
            return Ok(if seen == bill_id { RefundBooked::Already } else { RefundBooked::OtherBill(seen) });
        }
        let paid: Option<(BillState, Option<i64>)> =
            sqlx::query_as("SELECT state, actual_pay FROM online_bills WHERE bill_id = ?")
                .bind(bill_id)
                .fetch_optional(&mut *tx)
                .await?;
        let left = match paid {
            Some((BillState::Paid, actual)) => actual.unwrap_or(0),
            Some((state, _)) => return Ok(RefundBooked::NotPaid(state)),
            None => return Ok(RefundBooked::NoBill),
        };
        if fen <= 0 || fen > left {
            return Ok(RefundBooked::TooMuch { left });
        }
        let state = if fen == left { BillState::Refunded } else { BillState::Paid };
        sqlx::query("UPDATE online_bills SET actual_pay = actual_pay - ?, state = ?, updated_at = ? WHERE bill_id = ?")
            .bind(fen)
            .bind(state)
            .bind(now)
            .bind(bill_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO online_refunds (refund_no, bill_id, fen, reason, booked_at) VALUES (?, ?, ?, ?, ?)")
            .bind(refund_no)
            .bind(bill_id)
            .bind(fen)
            .bind(reason)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(RefundBooked::Booked { whole: state == BillState::Refunded })
    }

    /// What a cloud settled on `day` (deal time): prepayments (`path`) and
    /// password-free exits (`exit_path`), paid or refunded since.
    pub async fn cloud_paid_bills(
        &self,
        date: chrono::NaiveDate,
        path: &str,
        exit_path: &str,
    ) -> Result<Vec<OnlineBill>, StoreError> {
        use onepark_domain::time::format_date;
        let sql = format!(
            "SELECT {BILL_COLUMNS} FROM online_bills WHERE ((path = ? AND kind = 'prepay') OR (path = ? AND kind = 'exit')) \
             AND state IN ('paid', 'refunded') AND deal_time >= ? AND deal_time < ? ORDER BY deal_time, bill_id"
        );
        Ok(sqlx::query_as(&sql)
            .bind(path)
            .bind(exit_path)
            .bind(format!("{} 00:00:00", format_date(date)))
            .bind(format!("{} 00:00:00", format_date(date + chrono::Duration::days(1))))
            .fetch_all(&self.pool)
            .await?)
    }

    /// Fen the cloud gave back of a bill.
    pub async fn refunded_of(&self, bill_id: &str) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("SELECT COALESCE(SUM(fen), 0) FROM online_refunds WHERE bill_id = ?")
            .bind(bill_id)
            .fetch_one(&self.pool)
            .await?)
    }

    /// Moves an open bill to `state` (offline, void) noting the path that decided.
    pub async fn close_online_bill(
        &self,
        bill_id: &str,
        state: BillState,
        path: Option<&str>,
        now: &str,
    ) -> Result<bool, StoreError> {
        let mut tx = self.write().await?;
        let done = sqlx::query(
            "UPDATE online_bills SET state = ?, path = COALESCE(?, path), updated_at = ? WHERE bill_id = ? AND state = 'open'",
        )
        .bind(state)
        .bind(path)
        .bind(now)
        .bind(bill_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    /// Records a getPayResult follow-up, or (with reports) an uploadAbnormalBill.
    pub async fn note_online_bill(&self, bill_id: &str, now: &str, abnormal: Option<Report>) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        let column = if abnormal.is_some() { "abnormal_at" } else { "checked_at" };
        sqlx::query(&format!("UPDATE online_bills SET {column} = ? WHERE bill_id = ?"))
            .bind(now)
            .bind(bill_id)
            .execute(&mut *tx)
            .await?;
        if let Some(report) = abnormal {
            queue(&mut tx, report).await?;
        }
        tx.commit().await
    }

    /// The newest signing of a plate, with the downlink's place in the ordering rule.
    pub async fn put_signing(&self, s: &Signing, mark: Option<&OrderMark>) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        sqlx::query(
            "INSERT INTO signings (plate_no, plate_color, no_sense, money_limit, departure_pay, request_id, received_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (plate_no) DO UPDATE SET plate_color = excluded.plate_color, \
             no_sense = excluded.no_sense, money_limit = excluded.money_limit, departure_pay = excluded.departure_pay, \
             request_id = excluded.request_id, received_at = excluded.received_at",
        )
        .bind(&s.plate_no)
        .bind(s.plate_color)
        .bind(s.no_sense)
        .bind(s.money_limit)
        .bind(s.departure_pay)
        .bind(s.request_id)
        .bind(&s.received_at)
        .execute(&mut *tx)
        .await?;
        if let Some(mark) = mark {
            mark_order(&mut tx, mark).await?;
        }
        tx.commit().await
    }

    pub async fn signing(&self, plate_no: &str) -> Result<Option<Signing>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT plate_no, plate_color, no_sense, money_limit, departure_pay, request_id, received_at FROM signings \
             WHERE plate_no = ?",
        )
        .bind(plate_no)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// The newest arrears of a plate; none owed removes the notice.
    pub async fn put_arrears(&self, a: &ArrearsNotice, mark: Option<&OrderMark>) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        if a.un_pay <= 0 {
            sqlx::query("DELETE FROM arrears_notices WHERE plate_no = ?").bind(&a.plate_no).execute(&mut *tx).await?;
        } else {
            sqlx::query(
                "INSERT INTO arrears_notices (plate_no, over_due_count, un_pay, prevent, request_id, received_at) \
                 VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (plate_no) DO UPDATE SET over_due_count = excluded.over_due_count, \
                 un_pay = excluded.un_pay, prevent = excluded.prevent, request_id = excluded.request_id, \
                 received_at = excluded.received_at",
            )
            .bind(&a.plate_no)
            .bind(a.over_due_count)
            .bind(a.un_pay)
            .bind(a.prevent)
            .bind(a.request_id)
            .bind(&a.received_at)
            .execute(&mut *tx)
            .await?;
        }
        if let Some(mark) = mark {
            mark_order(&mut tx, mark).await?;
        }
        tx.commit().await
    }

    pub async fn arrears(&self, plate_no: &str) -> Result<Option<ArrearsNotice>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT plate_no, over_due_count, un_pay, prevent, request_id, received_at FROM arrears_notices \
             WHERE plate_no = ?",
        )
        .bind(plate_no)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Arrears collected at the booth: the notice goes and cancelOverDueBill is queued, together.
    pub async fn collect_arrears(&self, plate_no: &str, report: Report) -> Result<bool, StoreError> {
        let mut tx = self.write().await?;
        let done =
            sqlx::query("DELETE FROM arrears_notices WHERE plate_no = ?").bind(plate_no).execute(&mut *tx).await?;
        // A second collection of the same arrears (a double click) finds the
        // notice gone: nothing is reported twice.
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        queue(&mut tx, report).await?;
        tx.commit().await?;
        Ok(true)
    }
}

pub(super) async fn insert_bill(tx: &mut sqlx::SqliteConnection, b: &OnlineBill) -> Result<(), StoreError> {
    sqlx::query(&format!(
        "INSERT INTO online_bills ({BILL_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
         ON CONFLICT (bill_id) DO UPDATE SET end_time = excluded.end_time, bill_time = excluded.bill_time, \
         should_pay = excluded.should_pay, state = excluded.state, path = excluded.path, \
         actual_pay = excluded.actual_pay, discount = excluded.discount, deal_time = excluded.deal_time, \
         order_code = excluded.order_code, paid_type = excluded.paid_type, pay_type = excluded.pay_type, \
         updated_at = excluded.updated_at WHERE online_bills.state = 'open'"
    ))
    .bind(&b.bill_id)
    .bind(&b.uid)
    .bind(b.kind)
    .bind(&b.plate_no)
    .bind(b.plate_color)
    .bind(&b.arrive_time)
    .bind(&b.end_time)
    .bind(&b.bill_time)
    .bind(b.should_pay)
    .bind(b.state)
    .bind(&b.path)
    .bind(b.actual_pay)
    .bind(b.discount)
    .bind(&b.deal_time)
    .bind(&b.order_code)
    .bind(b.paid_type)
    .bind(b.pay_type)
    .bind(b.settled_by)
    .bind(&b.abnormal_at)
    .bind(&b.checked_at)
    .bind(&b.created_at)
    .bind(&b.updated_at)
    .execute(&mut *tx)
    .await?;
    Ok(())
}
