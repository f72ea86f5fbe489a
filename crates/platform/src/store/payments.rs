//! Money (`signups`, `fee_quotes`, `payments`, `arrears`): drivers' sign-ups,
//! fee queries and the lots' answers, charges through the payment channel
//! (one per lot bill, idempotent by the merchant order id) and the unpaid
//! bills of every plate across the city. Written through the downlinks'
//! group-commit shard, since a payment and the downlink announcing it
//! (payResult) commit together.

use onepark_sql::Flag;
use serde::Serialize;
use sqlx::Connection;

use super::downlinks::{DOWNLINKS, insert_downlink};
use super::{Downlink, Store, StoreError};

onepark_sql::column_enum! {
    /// What a charge is for.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
    #[serde(rename_all = "snake_case")]
    pub enum Purpose in "payments.purpose" as text {
        /// No-stop deduction at the exit (applyPayment, car in the lot).
        Exit = "exit",
        /// A driver paying in the lot before leaving (fee → uploadFee → pay → payResult).
        Prepay = "prepay",
        /// The car left first (applyPayment after it left, §5.5).
        AfterLeave = "after_leave",
        /// A driver paying a plate's arrears (the bills of several lots).
        Arrears = "arrears",
        /// A driver renewing a month card (a Bolink lot's: 3.11 priced, 3.10 delivered).
        Renewal = "renewal",
    }
}

onepark_sql::column_enum! {
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
    #[serde(rename_all = "snake_case")]
    pub enum PayState in "payments.state" as text {
        /// Sent to the channel; its answer or notification is awaited.
        Pending = "pending",
        Paid = "paid",
        Declined = "declined",
        Refunded = "refunded",
    }
}

impl PayState {
    pub fn from_channel(state: onepark_pay::State) -> PayState {
        match state {
            onepark_pay::State::Pending => PayState::Pending,
            onepark_pay::State::Paid => PayState::Paid,
            onepark_pay::State::Declined => PayState::Declined,
            onepark_pay::State::Refunded => PayState::Refunded,
        }
    }
}

/// A driver's sign-up for a plate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Signup {
    pub plate_no: String,
    pub plate_color: i64,
    /// No-stop deduction at the exit.
    #[sqlx(try_from = "Flag")]
    pub no_stop: bool,
    /// Pay after leaving (departurePay = 1).
    #[sqlx(try_from = "Flag")]
    pub after_leave: bool,
    /// fen
    pub money_limit: i64,
    pub channel: String,
    pub contract_id: String,
    pub updated_at: String,
}

/// A fee query and the lot's answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FeeQuote {
    pub request_id: i64,
    pub parking_code: String,
    pub plate_no: String,
    pub asked_at: String,
    pub answered_at: Option<String>,
    #[sqlx(try_from = "Flag<Option<bool>>")]
    pub success: Option<bool>,
    pub uid: Option<String>,
    pub bill_id: Option<String>,
    pub plate_color: Option<i64>,
    pub arrive_time: Option<String>,
    pub end_time: Option<String>,
    pub bill_time: Option<String>,
    pub should_pay: Option<i64>,
    pub pay_status: Option<i64>,
}

/// One charge through the channel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Payment {
    pub parking_code: String,
    pub bill_id: String,
    pub order_id: String,
    pub attempt: i64,
    pub purpose: Purpose,
    pub uid: String,
    pub plate_no: String,
    pub plate_color: i64,
    pub arrive_time: String,
    pub end_time: String,
    pub bill_time: String,
    pub should_pay: i64,
    pub discount: i64,
    pub actual_pay: Option<i64>,
    pub state: PayState,
    pub channel: String,
    pub txn_id: Option<String>,
    pub paid_type: Option<i64>,
    pub pay_type: i64,
    pub deal_time: Option<String>,
    pub reason: Option<String>,
    pub refunded: i64,
    pub refund_reason: Option<String>,
    pub notifications: i64,
    pub created_at: String,
    pub updated_at: String,
}

/// An unpaid bill of a plate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Arrear {
    pub parking_code: String,
    pub bill_id: String,
    pub plate_no: String,
    pub plate_color: i64,
    pub uid: String,
    pub arrive_time: String,
    pub end_time: String,
    pub bill_time: String,
    pub should_pay: i64,
    /// after_leave | abnormal
    pub source: String,
    /// open | paid | written_off
    pub state: String,
    pub settled_by: Option<String>,
    pub settled_at: Option<String>,
    pub created_at: String,
    /// The transaction number it was settled with, as its lot was told (payResult's orderCode).
    pub settled_txn: Option<String>,
}

impl Arrear {
    /// A charge's bill as owed by its plate (open).
    pub fn of(p: &Payment, source: &str, now: &str) -> Arrear {
        Arrear {
            parking_code: p.parking_code.clone(),
            bill_id: p.bill_id.clone(),
            plate_no: p.plate_no.clone(),
            plate_color: p.plate_color,
            uid: p.uid.clone(),
            arrive_time: p.arrive_time.clone(),
            end_time: p.end_time.clone(),
            bill_time: p.bill_time.clone(),
            should_pay: p.should_pay,
            source: source.into(),
            state: "open".into(),
            settled_by: None,
            settled_at: None,
            created_at: now.to_owned(),
            settled_txn: None,
        }
    }
}

/// What the channel said about a charge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub state: PayState,
    pub actual_pay: Option<i64>,
    pub discount: i64,
    pub txn_id: Option<String>,
    pub deal_time: Option<String>,
    pub paid_type: Option<i64>,
    pub reason: Option<String>,
    pub refunded: i64,
}

const PAYMENT_COLUMNS: &str = "parking_code, bill_id, order_id, attempt, purpose, uid, plate_no, plate_color, \
     arrive_time, end_time, bill_time, should_pay, discount, actual_pay, state, channel, txn_id, paid_type, pay_type, \
     deal_time, reason, refunded, refund_reason, notifications, created_at, updated_at";

const ARREAR_COLUMNS: &str = "parking_code, bill_id, plate_no, plate_color, uid, arrive_time, end_time, bill_time, \
     should_pay, source, state, settled_by, settled_at, created_at, settled_txn";

const QUOTE_COLUMNS: &str = "request_id, parking_code, plate_no, asked_at, answered_at, success, uid, bill_id, \
     plate_color, arrive_time, end_time, bill_time, should_pay, pay_status";

/// The payment columns of a table aliased `alias` in a join.
fn payment_columns_of(alias: &str) -> String {
    PAYMENT_COLUMNS.split(", ").map(|c| format!("{alias}.{}", c.trim())).collect::<Vec<_>>().join(", ")
}

/// The merchant order id of a lot bill: deterministic (the same bill asks
/// about the same order after any restart), ≤ 32 characters, the attempt last.
pub fn order_id(parking_code: &str, bill_id: &str, attempt: i64) -> String {
    let digest = openssl::sha::sha256(format!("{parking_code}\n{bill_id}").as_bytes());
    let hex: String = digest.iter().take(12).map(|b| format!("{b:02x}")).collect();
    format!("OP{hex}{attempt}")
}

/// A debt a charge pays (see migration 0008): at most one charge at a time
/// holds a claim on it, whatever path, tab or retry asks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Debt {
    /// A lot's bill (applyPayment, a quote's bill, an arrears bill).
    Bill { parking_code: String, bill_id: String },
    /// A stay's fee (prepayments): `asked_at` is when the quote being paid
    /// was asked. A paid prepayment of the stay holds it until the lot has
    /// confirmed its payResult before that time, i.e. the quote counted it.
    Stay { parking_code: String, uid: String, asked_at: String },
}

impl Debt {
    pub fn bill(parking_code: &str, bill_id: &str) -> Debt {
        Debt::Bill { parking_code: parking_code.to_owned(), bill_id: bill_id.to_owned() }
    }

    fn key(&self) -> String {
        match self {
            Debt::Bill { parking_code, bill_id } => format!("bill\n{parking_code}\n{bill_id}"),
            Debt::Stay { parking_code, uid, .. } => format!("stay\n{parking_code}\n{uid}"),
        }
    }
}

/// A downlink stored with a payment's change: a payResult for one of the
/// bills an arrears charge pays is stored only if that bill was settled by
/// this change (a booth may have written it off meanwhile); one without a
/// bill (a prepayment's payResult) always.
#[derive(Clone, Debug)]
pub struct Notice {
    pub bill: Option<(String, String)>,
    pub downlink: Downlink,
}

/// How an arrears row went into the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArrearPut {
    Inserted,
    /// Known already, or its bill was paid.
    Known,
    /// The plate's open arrears would exceed the bound: nothing stored (what is owed now).
    OverBound(i64),
}

/// How storing a charge went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Began {
    /// A new row (or a new attempt of a declined one), its debts claimed: charge it.
    Charge(Payment),
    /// A charge already declined, stored as such (nothing to ask the channel).
    Recorded(Payment),
    /// The bill has a charge already: this is it.
    Existing(Payment),
    /// The bill was first applied for with another plate or amount: this one.
    Mismatch(Payment),
    /// A debt it pays is claimed by another charge (pending or paid): that one.
    Claimed(Payment),
}

impl Store {
    pub async fn put_signup(&self, s: &Signup) -> Result<(), StoreError> {
        let s = s.clone();
        self.group
            .write(DOWNLINKS, s, |conn, s, _| {
                Box::pin(async move {
                    sqlx::query(
                        "INSERT INTO signups (plate_no, plate_color, no_stop, after_leave, money_limit, channel, \
                         contract_id, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (plate_no) DO \
                         UPDATE SET plate_color = excluded.plate_color, no_stop = excluded.no_stop, \
                         after_leave = excluded.after_leave, money_limit = excluded.money_limit, \
                         channel = excluded.channel, contract_id = excluded.contract_id, updated_at = excluded.updated_at",
                    )
                    .bind(&s.plate_no)
                    .bind(s.plate_color)
                    .bind(Flag(s.no_stop))
                    .bind(Flag(s.after_leave))
                    .bind(s.money_limit)
                    .bind(&s.channel)
                    .bind(&s.contract_id)
                    .bind(&s.updated_at)
                    .execute(&mut *conn)
                    .await?;
                    Ok(())
                })
            })
            .await
    }

    pub async fn signup(&self, plate_no: &str) -> Result<Option<Signup>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT plate_no, plate_color, no_stop, after_leave, money_limit, channel, contract_id, updated_at \
             FROM signups WHERE plate_no = $1",
        )
        .bind(plate_no)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Where a plate is parked now: its newest entry without an exit, as
    /// (parkingCode, accessID, uid, arriveTime).
    pub async fn parked(&self, plate_no: &str) -> Result<Option<(String, String, String, String)>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT e.parking_code, e.access_id, e.uid, e.arrive_time FROM entries e WHERE e.plate_no = $1 \
             AND e.deleted = 0 AND NOT EXISTS (SELECT 1 FROM exits x WHERE x.parking_code = e.parking_code \
             AND x.uid = e.uid) ORDER BY e.arrive_time DESC LIMIT 1",
        )
        .bind(plate_no)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// A `fee` downlink and its quote row, stored together.
    pub async fn ask_fee(&self, downlink: &Downlink, plate_no: &str) -> Result<(), StoreError> {
        let data = (downlink.clone(), plate_no.to_owned());
        self.group
            .write(DOWNLINKS, data, |conn, (downlink, plate_no), _| {
                Box::pin(async move {
                    let mut tx = conn.begin().await?;
                    insert_downlink(&mut tx, downlink).await?;
                    sqlx::query(
                        "INSERT INTO fee_quotes (request_id, parking_code, plate_no, asked_at) VALUES ($1, $2, $3, $4)",
                    )
                    .bind(downlink.request_id)
                    .bind(&downlink.parking_code)
                    .bind(plate_no)
                    .bind(&downlink.created_at)
                    .execute(&mut *tx)
                    .await?;
                    tx.commit().await?;
                    Ok(())
                })
            })
            .await
    }

    /// The lot's uploadFee: records its bill for the query (first answer wins).
    pub async fn answer_fee(&self, q: &FeeQuote) -> Result<bool, StoreError> {
        let q = q.clone();
        self.group
            .write(DOWNLINKS, q, |conn, q, _| {
                Box::pin(async move {
                    let done = sqlx::query(
                        "UPDATE fee_quotes SET answered_at = $2, success = $3, uid = $4, bill_id = $5, plate_color = $6, \
                         arrive_time = $7, end_time = $8, bill_time = $9, should_pay = $10, pay_status = $11 \
                         WHERE request_id = $1 AND answered_at IS NULL",
                    )
                    .bind(q.request_id)
                    .bind(&q.answered_at)
                    .bind(q.success.map(i64::from))
                    .bind(&q.uid)
                    .bind(&q.bill_id)
                    .bind(q.plate_color)
                    .bind(&q.arrive_time)
                    .bind(&q.end_time)
                    .bind(&q.bill_time)
                    .bind(q.should_pay)
                    .bind(q.pay_status)
                    .execute(&mut *conn)
                    .await?;
                    Ok(done.rows_affected() == 1)
                })
            })
            .await
    }

    pub async fn fee_quote(&self, request_id: i64) -> Result<Option<FeeQuote>, StoreError> {
        let sql = format!("SELECT {QUOTE_COLUMNS} FROM fee_quotes WHERE request_id = $1");
        Ok(sqlx::query_as(&sql).bind(request_id).fetch_optional(&self.pool).await?)
    }

    /// The charge of a lot bill, if any.
    pub async fn payment(&self, parking_code: &str, bill_id: &str) -> Result<Option<Payment>, StoreError> {
        let sql = format!("SELECT {PAYMENT_COLUMNS} FROM payments WHERE parking_code = $1 AND bill_id = $2");
        Ok(sqlx::query_as(&sql).bind(parking_code).bind(bill_id).fetch_optional(&self.pool).await?)
    }

    pub async fn payment_by_order(&self, order_id: &str) -> Result<Option<Payment>, StoreError> {
        let sql = format!("SELECT {PAYMENT_COLUMNS} FROM payments WHERE order_id = $1");
        Ok(sqlx::query_as(&sql).bind(order_id).fetch_optional(&self.pool).await?)
    }

    /// A plate's charges, newest first.
    pub async fn payments_of(&self, plate_no: &str, limit: i64) -> Result<Vec<Payment>, StoreError> {
        let sql = format!(
            "SELECT {PAYMENT_COLUMNS} FROM payments WHERE plate_no = $1 ORDER BY created_at DESC, order_id LIMIT $2"
        );
        Ok(sqlx::query_as(&sql).bind(plate_no).bind(limit).fetch_all(&self.pool).await?)
    }

    /// The charges of one stay (`uid`) at a lot, oldest first.
    pub async fn payments_of_stay(&self, parking_code: &str, uid: &str) -> Result<Vec<Payment>, StoreError> {
        let sql = format!(
            "SELECT {PAYMENT_COLUMNS} FROM payments WHERE parking_code = $1 AND uid = $2 ORDER BY created_at, order_id"
        );
        Ok(sqlx::query_as(&sql).bind(parking_code).bind(uid).fetch_all(&self.pool).await?)
    }

    /// Charges for the admin API, newest first.
    pub async fn payments(
        &self,
        parking_code: Option<&str>,
        state: Option<PayState>,
        limit: i64,
    ) -> Result<Vec<Payment>, StoreError> {
        let sql = format!(
            "SELECT {PAYMENT_COLUMNS} FROM payments WHERE ($1 = '' OR parking_code = $1) AND ($2 = '' OR state = $2) \
             ORDER BY created_at DESC, order_id LIMIT $3"
        );
        Ok(sqlx::query_as(&sql)
            .bind(parking_code.unwrap_or_default())
            .bind(state.map(PayState::as_str).unwrap_or_default())
            .bind(limit)
            .fetch_all(&self.pool)
            .await?)
    }

    /// The payments page's search: by lot (or a reader's lots), a part of
    /// the plate, purpose, state and creation time (half-open), newest first;
    /// `before` (created_at, order_id) pages an export by key.
    pub async fn find_payments(&self, q: &PaymentSearch) -> Result<Vec<Payment>, StoreError> {
        let mut sql = format!(
            "SELECT {PAYMENT_COLUMNS} FROM payments WHERE ($1 = '' OR parking_code = $1) AND ($2 = '' OR state = $2) \
             AND ($3 = '' OR purpose = $3) AND ($4 = '' OR created_at >= $4) AND ($5 = '' OR created_at < $5) \
             AND plate_no LIKE $6"
        );
        let mut n = 8;
        if let Some(lots) = &q.lots {
            sql.push_str(&format!(" AND parking_code IN ({})", super::accounts::placeholders(n, lots.len())));
            n += lots.len();
        }
        if q.before.is_some() {
            sql.push_str(&format!(" AND (created_at < ${n} OR (created_at = ${n} AND order_id < ${}))", n + 1));
        }
        sql.push_str(&format!(" ORDER BY created_at DESC, order_id DESC LIMIT $7 OFFSET {}", q.offset.max(0)));
        let part = q.plate_part.replace(['%', '_', '\\'], "");
        let mut query = sqlx::query_as(&sql)
            .bind(&q.parking_code)
            .bind(q.state.map(PayState::as_str).unwrap_or_default())
            .bind(q.purpose.map(Purpose::as_str).unwrap_or_default())
            .bind(&q.from)
            .bind(&q.to)
            .bind(format!("%{part}%"))
            .bind(q.limit);
        for lot in q.lots.iter().flatten() {
            query = query.bind(lot);
        }
        if let Some((at, order)) = &q.before {
            query = query.bind(at).bind(order);
        }
        Ok(query.fetch_all(&self.pool).await?)
    }

    /// Charges still pending that were last touched before `before`.
    pub async fn pending_payments(&self, before: &str) -> Result<Vec<Payment>, StoreError> {
        let sql = format!(
            "SELECT {PAYMENT_COLUMNS} FROM payments WHERE state = 'pending' AND updated_at <= $1 \
             ORDER BY updated_at LIMIT 200"
        );
        Ok(sqlx::query_as(&sql).bind(before).fetch_all(&self.pool).await?)
    }

    /// Charges whose money moved on `date` (dealt or created that day), for reconciliation.
    pub async fn day_payments(&self, date: chrono::NaiveDate) -> Result<Vec<Payment>, StoreError> {
        let (from, to) = super::day_range(date);
        let sql = format!(
            "SELECT {PAYMENT_COLUMNS} FROM payments WHERE (deal_time >= $1 AND deal_time < $2) \
             OR (deal_time IS NULL AND created_at >= $1 AND created_at < $2) ORDER BY order_id"
        );
        Ok(sqlx::query_as(&sql).bind(from).bind(to).fetch_all(&self.pool).await?)
    }

    /// One lot's charges for these purposes that took money on a day (deal time), refunded since or not.
    pub async fn lot_day_payments(
        &self,
        parking_code: &str,
        date: chrono::NaiveDate,
        purposes: [Purpose; 2],
    ) -> Result<Vec<Payment>, StoreError> {
        let (from, to) = super::day_range(date);
        let sql = format!(
            "SELECT {PAYMENT_COLUMNS} FROM payments WHERE parking_code = $1 AND purpose IN ($2, $3) \
             AND state IN ('paid', 'refunded') AND deal_time >= $4 AND deal_time < $5 ORDER BY order_id"
        );
        Ok(sqlx::query_as(&sql)
            .bind(parking_code)
            .bind(purposes[0])
            .bind(purposes[1])
            .bind(from)
            .bind(to)
            .fetch_all(&self.pool)
            .await?)
    }

    /// The lots' bills of a day paid through the city platform (billWay 1):
    /// (parkingCode, billID, actualPay, paidType), for reconciliation.
    /// Bolink lots' prepayments count as they say they booked them (2.30,
    /// `lot_epay`), with the channel's paid type `platform_paid_type`.
    pub async fn day_online_bills(
        &self,
        date: chrono::NaiveDate,
        platform_paid_type: i64,
    ) -> Result<Vec<(String, String, i64, i64)>, StoreError> {
        let (from, to) = super::day_range(date);
        Ok(sqlx::query_as(
            "SELECT parking_code, bill_id, actual_pay, paid_type FROM bills WHERE bill_way = 1 \
             AND deal_time >= $1 AND deal_time < $2 \
             UNION ALL SELECT parking_code, bill_id, money - refund, CAST($3 AS BIGINT) FROM lot_epay WHERE day = $4 \
             ORDER BY 1, 2",
        )
        .bind(from)
        .bind(to)
        .bind(platform_paid_type)
        .bind(date.to_string())
        .fetch_all(&self.pool)
        .await?)
    }

    /// A lot's pay-after-leave charges of a day (bill_time), for checkDailyBill.
    pub async fn after_leave_payments(
        &self,
        parking_code: &str,
        date: chrono::NaiveDate,
        plate_no: Option<&str>,
    ) -> Result<Vec<Payment>, StoreError> {
        let (from, to) = super::day_range(date);
        let sql = format!(
            "SELECT {PAYMENT_COLUMNS} FROM payments WHERE parking_code = $1 AND purpose = 'after_leave' \
             AND bill_time >= $2 AND bill_time < $3 AND ($4 = '' OR plate_no = $4) ORDER BY bill_id"
        );
        Ok(sqlx::query_as(&sql)
            .bind(parking_code)
            .bind(from)
            .bind(to)
            .bind(plate_no.unwrap_or_default())
            .fetch_all(&self.pool)
            .await?)
    }

    /// Stores a charge about to be made, durably, before the channel is
    /// asked, and claims the debts it pays in the same transaction. A bill
    /// charged before answers that charge — except a declined one, which is
    /// tried again as a new attempt (a new order id) with the same plate and
    /// amount; a debt another charge holds answers that charge. `p` in the
    /// state `declined` (the plate is not signed up) is only recorded: an
    /// after-leave bill becomes its plate's arrears in that transaction.
    pub async fn begin_payment(&self, p: &Payment, debts: &[(Debt, i64)]) -> Result<Began, StoreError> {
        let data = (p.clone(), debts.to_vec());
        self.group
            .write(DOWNLINKS, data, move |conn, (p, debts), _| {
                Box::pin(async move {
                    let mut tx = conn.begin().await?;
                    let sql =
                        format!("SELECT {PAYMENT_COLUMNS} FROM payments WHERE parking_code = $1 AND bill_id = $2");
                    let existing: Option<Payment> =
                        sqlx::query_as(&sql).bind(&p.parking_code).bind(&p.bill_id).fetch_optional(&mut *tx).await?;
                    // A bill's plate and amount are fixed by its first application.
                    if let Some(e) = &existing
                        && (e.plate_no != p.plate_no || e.should_pay != p.should_pay)
                    {
                        return Ok(Began::Mismatch(e.clone()));
                    }
                    let retry = match existing {
                        Some(e) if e.state == PayState::Declined && p.state == PayState::Pending => Some(e),
                        Some(e) => return Ok(Began::Existing(e)),
                        None => None,
                    };
                    if p.state == PayState::Declined {
                        insert_payment(&mut tx, p).await?;
                        if p.purpose == Purpose::AfterLeave {
                            insert_arrear(&mut tx, &Arrear::of(p, "after_leave", &p.created_at)).await?;
                        }
                        tx.commit().await?;
                        return Ok(Began::Recorded(p.clone()));
                    }
                    if let Some(holder) = claim_holder(&mut tx, p, debts).await? {
                        return Ok(Began::Claimed(holder));
                    }
                    let began = match retry {
                        Some(e) => {
                            let attempt = e.attempt + 1;
                            let order_id = order_id(&p.parking_code, &p.bill_id, attempt);
                            let next = Payment { order_id, attempt, ..e.clone() };
                            sqlx::query(
                                "UPDATE payments SET order_id = $3, attempt = $4, state = 'pending', reason = NULL, \
                                 updated_at = $5 WHERE parking_code = $1 AND bill_id = $2",
                            )
                            .bind(&p.parking_code)
                            .bind(&p.bill_id)
                            .bind(&next.order_id)
                            .bind(next.attempt)
                            .bind(&p.updated_at)
                            .execute(&mut *tx)
                            .await?;
                            Payment { state: PayState::Pending, reason: None, updated_at: p.updated_at.clone(), ..next }
                        }
                        None => {
                            insert_payment(&mut tx, p).await?;
                            p.clone()
                        }
                    };
                    for (debt, amount) in debts.iter() {
                        sqlx::query(
                            "INSERT INTO debt_claims (debt, parking_code, bill_id, amount, state, updated_at) \
                             VALUES ($1, $2, $3, $4, 'live', $5) ON CONFLICT (debt, parking_code, bill_id) \
                             DO UPDATE SET amount = excluded.amount, state = 'live', updated_at = excluded.updated_at",
                        )
                        .bind(debt.key())
                        .bind(&p.parking_code)
                        .bind(&p.bill_id)
                        .bind(*amount)
                        .bind(&p.updated_at)
                        .execute(&mut *tx)
                        .await?;
                    }
                    tx.commit().await?;
                    Ok(Began::Charge(began))
                })
            })
            .await
    }

    /// The charge holding a claim on a debt (pending or paid), if any.
    pub async fn debt_holder(&self, debt: &Debt) -> Result<Option<Payment>, StoreError> {
        let sql = format!(
            "SELECT {} FROM debt_claims c JOIN payments p ON p.parking_code = c.parking_code AND p.bill_id = c.bill_id \
             WHERE c.debt = $1 AND c.state <> 'released'",
            payment_columns_of("p")
        );
        Ok(sqlx::query_as(&sql).bind(debt.key()).fetch_optional(&self.pool).await?)
    }

    /// Records what the channel said about `order_id`, unless the row is
    /// already past it (paid stays paid; a notification repeating the state
    /// changes nothing). `notified`: it came as a notification. Returns the
    /// row after, and whether it changed. `downlinks` are stored with the change.
    pub async fn record_outcome(
        &self,
        order_id: &str,
        o: &Outcome,
        notified: bool,
        now: &str,
        downlinks: Vec<Notice>,
    ) -> Result<Option<(Payment, bool)>, StoreError> {
        let data = (order_id.to_owned(), o.clone(), now.to_owned(), downlinks);
        self.group
            .write(DOWNLINKS, data, move |conn, (order_id, o, now, downlinks), _| {
                Box::pin(async move {
                    let mut tx = conn.begin().await?;
                    let sql = format!("SELECT {PAYMENT_COLUMNS} FROM payments WHERE order_id = $1");
                    let Some(before) =
                        sqlx::query_as::<_, Payment>(&sql).bind(&*order_id).fetch_optional(&mut *tx).await?
                    else {
                        return Ok(None);
                    };
                    // Forward only: pending → paid | declined; paid → refunded.
                    let mut forward = match (before.state, o.state) {
                        (PayState::Pending, PayState::Paid | PayState::Declined | PayState::Refunded) => true,
                        (PayState::Paid, PayState::Refunded) => true,
                        (PayState::Refunded, PayState::Refunded) => o.refunded > before.refunded,
                        _ => false,
                    };
                    if notified {
                        sqlx::query("UPDATE payments SET notifications = notifications + 1 WHERE order_id = $1")
                            .bind(&*order_id)
                            .execute(&mut *tx)
                            .await?;
                    }
                    if forward {
                        // Compare and set: another node applying the same word
                        // (answer and notification at once) moves it only once.
                        let moved = sqlx::query(
                            "UPDATE payments SET state = $2, actual_pay = COALESCE($3, actual_pay), discount = $4, \
                             txn_id = COALESCE($5, txn_id), deal_time = COALESCE($6, deal_time), \
                             paid_type = COALESCE($7, paid_type), reason = $8, refunded = $9, updated_at = $10 \
                             WHERE order_id = $1 AND state = $11",
                        )
                        .bind(&*order_id)
                        .bind(o.state)
                        .bind(o.actual_pay)
                        .bind(o.discount)
                        .bind(&o.txn_id)
                        .bind(&o.deal_time)
                        .bind(o.paid_type)
                        .bind(&o.reason)
                        .bind(o.refunded.max(before.refunded))
                        .bind(&*now)
                        .bind(before.state)
                        .execute(&mut *tx)
                        .await?;
                        forward = moved.rows_affected() == 1;
                    }
                    if forward {
                        // An arrears charge paid settles the bills it claimed, of its
                        // plate only, in this commit.
                        let mut settled = Vec::new();
                        if o.state == PayState::Paid && before.purpose == Purpose::Arrears {
                            let txn = o.txn_id.as_deref().or(before.txn_id.as_deref()).unwrap_or(&before.order_id);
                            for (code, bill) in claimed_bills(&mut tx, &before.parking_code, &before.bill_id).await? {
                                let done = sqlx::query(
                                    "UPDATE arrears SET state = 'paid', settled_by = $3, settled_at = $4, \
                                     settled_txn = $5 WHERE parking_code = $1 AND bill_id = $2 AND plate_no = $6 \
                                     AND state = 'open'",
                                )
                                .bind(&code)
                                .bind(&bill)
                                .bind(&*order_id)
                                .bind(&*now)
                                .bind(txn)
                                .bind(&before.plate_no)
                                .execute(&mut *tx)
                                .await?;
                                if done.rows_affected() == 1 {
                                    settled.push((code, bill));
                                }
                            }
                        }
                        for n in downlinks.iter().filter(|n| n.bill.as_ref().is_none_or(|b| settled.contains(b))) {
                            insert_downlink(&mut tx, &n.downlink).await?;
                        }
                        // The charge's claims follow it: held once paid (the debt is
                        // settled by it), released when declined or refunded unpaid.
                        let notice = downlinks.iter().find(|n| n.bill.is_none()).map(|n| n.downlink.request_id);
                        let (claims, notice) = match (before.state, o.state) {
                            (_, PayState::Paid) => ("held", notice),
                            (_, PayState::Declined) | (PayState::Pending, PayState::Refunded) => ("released", None),
                            _ => ("", None),
                        };
                        if !claims.is_empty() {
                            sqlx::query(
                                "UPDATE debt_claims SET state = $3, notice = COALESCE($4, notice), updated_at = $5 \
                                 WHERE parking_code = $1 AND bill_id = $2 AND state = 'live'",
                            )
                            .bind(&before.parking_code)
                            .bind(&before.bill_id)
                            .bind(claims)
                            .bind(notice)
                            .bind(&*now)
                            .execute(&mut *tx)
                            .await?;
                        }
                        // A lot bill paid settles its arrears row (declined before, or
                        // reported abnormal) in the same commit.
                        if o.state == PayState::Paid && matches!(before.purpose, Purpose::Exit | Purpose::AfterLeave) {
                            sqlx::query(
                                "UPDATE arrears SET state = 'paid', settled_by = $3, settled_at = $4, \
                                 settled_txn = $5 WHERE parking_code = $1 AND bill_id = $2 AND state = 'open'",
                            )
                            .bind(&before.parking_code)
                            .bind(&before.bill_id)
                            .bind(&*order_id)
                            .bind(&*now)
                            .bind(o.txn_id.as_ref().or(before.txn_id.as_ref()))
                            .execute(&mut *tx)
                            .await?;
                        }
                        // A declined after-leave bill is owed by its plate from this commit on.
                        if o.state == PayState::Declined && before.purpose == Purpose::AfterLeave {
                            insert_arrear(&mut tx, &Arrear::of(&before, "after_leave", now)).await?;
                        }
                    }
                    let after: Payment = sqlx::query_as(&sql).bind(&*order_id).fetch_one(&mut *tx).await?;
                    tx.commit().await?;
                    Ok(Some((after, forward)))
                })
            })
            .await
    }

    /// Why a payment was refunded.
    pub async fn note_refund(&self, order_id: &str, reason: &str) -> Result<(), StoreError> {
        let data = (order_id.to_owned(), reason.to_owned());
        self.group
            .write(DOWNLINKS, data, |conn, (order_id, reason), _| {
                Box::pin(async move {
                    sqlx::query("UPDATE payments SET refund_reason = $2 WHERE order_id = $1")
                        .bind(&*order_id)
                        .bind(&*reason)
                        .execute(&mut *conn)
                        .await?;
                    Ok(())
                })
            })
            .await
    }

    /// How a lot reported a bill paid (uploadPayRecord): its paidType, if it did.
    pub async fn reported_paid_type(&self, parking_code: &str, bill_id: &str) -> Result<Option<i64>, StoreError> {
        Ok(sqlx::query_scalar("SELECT paid_type FROM bills WHERE parking_code = $1 AND bill_id = $2")
            .bind(parking_code)
            .bind(bill_id)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// An unpaid bill (a repeat of the same bill changes nothing), unless the
    /// bill was paid meanwhile or the plate's open arrears would then exceed
    /// `bound` fen (checked in the same transaction).
    pub async fn put_arrear(&self, a: &Arrear, bound: i64) -> Result<ArrearPut, StoreError> {
        let a = a.clone();
        self.group
            .write(DOWNLINKS, a, move |conn, a, _| {
                Box::pin(async move {
                    let mut tx = conn.begin().await?;
                    let paid: Option<String> = sqlx::query_scalar(
                        "SELECT state FROM payments WHERE parking_code = $1 AND bill_id = $2 AND state IN ('paid', 'refunded')",
                    )
                    .bind(&a.parking_code)
                    .bind(&a.bill_id)
                    .fetch_optional(&mut *tx)
                    .await?;
                    if paid.is_some() {
                        return Ok(ArrearPut::Known);
                    }
                    let owed: i64 = sqlx::query_scalar(
                        "SELECT CAST(COALESCE(SUM(should_pay), 0) AS BIGINT) FROM arrears WHERE plate_no = $1 AND state = 'open' \
                         AND NOT (parking_code = $2 AND bill_id = $3)",
                    )
                    .bind(&a.plate_no)
                    .bind(&a.parking_code)
                    .bind(&a.bill_id)
                    .fetch_one(&mut *tx)
                    .await?;
                    if owed + a.should_pay > bound {
                        return Ok(ArrearPut::OverBound(owed));
                    }
                    let done = insert_arrear(&mut tx, a).await?;
                    tx.commit().await?;
                    Ok(if done { ArrearPut::Inserted } else { ArrearPut::Known })
                })
            })
            .await
    }

    /// Paid prepayments their lot will never count: the payResult announcing
    /// it was refused or expired unconfirmed (each is refunded).
    pub async fn uncounted_prepayments(&self) -> Result<Vec<Payment>, StoreError> {
        let sql = format!(
            "SELECT {} FROM payments p WHERE p.state = 'paid' AND p.purpose = 'prepay' AND EXISTS \
             (SELECT 1 FROM debt_claims c JOIN downlinks d ON d.request_id = c.notice \
             WHERE c.parking_code = p.parking_code AND c.bill_id = p.bill_id AND d.state IN ('refused', 'expired')) \
             LIMIT 100",
            payment_columns_of("p")
        );
        Ok(sqlx::query_as(&sql).fetch_all(&self.pool).await?)
    }

    /// Paid renewals whose follow-up did not happen (a crash between the
    /// payment's commit and it): still `quoted` (the card to move), or
    /// `failed` at their lot and not yet given back. (The renewal's state, the payment.)
    pub async fn renewals_to_settle(&self) -> Result<Vec<(String, Payment)>, StoreError> {
        #[derive(sqlx::FromRow)]
        struct Row {
            renewal_state: String,
            #[sqlx(flatten)]
            payment: Payment,
        }
        let sql = format!(
            "SELECT r.state AS renewal_state, {} FROM card_renewals r JOIN payments p \
             ON p.parking_code = r.parking_code AND p.bill_id = 'M' || r.trade_no \
             WHERE r.state IN ('quoted', 'failed') AND p.purpose = 'renewal' AND p.state = 'paid' LIMIT 500",
            payment_columns_of("p")
        );
        let rows: Vec<Row> = sqlx::query_as(&sql).fetch_all(&self.pool).await?;
        Ok(rows.into_iter().map(|r| (r.renewal_state, r.payment)).collect())
    }

    /// Whether a charge's notice to its lot (a prepayment's payResult / 3.2) is settled (answered,
    /// or given up):
    /// `None` when it has none.
    pub async fn notice_answered(&self, parking_code: &str, bill_id: &str) -> Result<Option<bool>, StoreError> {
        let state: Option<Option<String>> = sqlx::query_scalar(
            "SELECT d.state FROM debt_claims c LEFT JOIN downlinks d ON d.request_id = c.notice \
             WHERE c.parking_code = $1 AND c.bill_id = $2 AND c.notice IS NOT NULL LIMIT 1",
        )
        .bind(parking_code)
        .bind(bill_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(state.map(|s| matches!(s.as_deref(), Some("confirmed" | "refused" | "expired"))))
    }

    /// The prepayment a payResult (its requestId) announced.
    pub async fn announced_by(&self, request_id: i64) -> Result<Option<Payment>, StoreError> {
        let sql = format!(
            "SELECT {} FROM payments p WHERE EXISTS (SELECT 1 FROM debt_claims c WHERE c.notice = $1 \
             AND c.parking_code = p.parking_code AND c.bill_id = p.bill_id)",
            payment_columns_of("p")
        );
        Ok(sqlx::query_as(&sql).bind(request_id).fetch_optional(&self.pool).await?)
    }

    /// A charge's debts may be paid again (it was refunded unused).
    pub async fn release_claims(&self, parking_code: &str, bill_id: &str, now: &str) -> Result<(), StoreError> {
        let data = (parking_code.to_owned(), bill_id.to_owned(), now.to_owned());
        self.group
            .write(DOWNLINKS, data, |conn, (code, bill, now), _| {
                Box::pin(async move {
                    sqlx::query(
                        "UPDATE debt_claims SET state = 'released', updated_at = $3 WHERE parking_code = $1 \
                         AND bill_id = $2",
                    )
                    .bind(&*code)
                    .bind(&*bill)
                    .bind(&*now)
                    .execute(&mut *conn)
                    .await?;
                    Ok(())
                })
            })
            .await
    }

    /// The bills an arrears charge claimed (parkingCode, billID).
    pub async fn claimed_bills(&self, parking_code: &str, bill_id: &str) -> Result<Vec<(String, String)>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        claimed_bills(&mut conn, parking_code, bill_id).await
    }

    /// A lot bill's arrears row once it was settled (paid on the driver page, or written off).
    pub async fn settled_arrear(&self, parking_code: &str, bill_id: &str) -> Result<Option<Arrear>, StoreError> {
        let sql = format!(
            "SELECT {ARREAR_COLUMNS} FROM arrears WHERE parking_code = $1 AND bill_id = $2 AND state IN ('paid', 'written_off')"
        );
        Ok(sqlx::query_as(&sql).bind(parking_code).bind(bill_id).fetch_optional(&self.pool).await?)
    }

    /// Paid charges whose bill the lot reported paid another way (a refund is owed).
    pub async fn doubly_paid(&self) -> Result<Vec<Payment>, StoreError> {
        let sql = format!(
            "SELECT {} FROM payments p WHERE p.state = 'paid' AND p.purpose IN ('exit', 'after_leave') AND EXISTS \
             (SELECT 1 FROM bills b WHERE b.parking_code = p.parking_code AND b.bill_id = p.bill_id \
             AND b.paid_type <> COALESCE(p.paid_type, -1)) LIMIT 100",
            payment_columns_of("p")
        );
        Ok(sqlx::query_as(&sql).fetch_all(&self.pool).await?)
    }

    /// A plate's open arrears, oldest first.
    /// One open arrear of a lot.
    pub async fn open_arrear(&self, parking_code: &str, bill_id: &str) -> Result<Option<Arrear>, StoreError> {
        Ok(sqlx::query_as(&format!(
            "SELECT {ARREAR_COLUMNS} FROM arrears WHERE parking_code = $1 AND bill_id = $2 AND state = 'open'"
        ))
        .bind(parking_code)
        .bind(bill_id)
        .fetch_optional(&self.pool)
        .await?)
    }

    pub async fn open_arrears(&self, plate_no: &str) -> Result<Vec<Arrear>, StoreError> {
        let sql = format!(
            "SELECT {ARREAR_COLUMNS} FROM arrears WHERE plate_no = $1 AND state = 'open' ORDER BY bill_time, bill_id"
        );
        Ok(sqlx::query_as(&sql).bind(plate_no).fetch_all(&self.pool).await?)
    }

    /// Arrears for the admin API (every state), newest first.
    pub async fn arrears(&self, plate_no: Option<&str>, limit: i64) -> Result<Vec<Arrear>, StoreError> {
        let sql = format!(
            "SELECT {ARREAR_COLUMNS} FROM arrears WHERE ($1 = '' OR plate_no = $1) ORDER BY created_at DESC LIMIT $2"
        );
        Ok(sqlx::query_as(&sql).bind(plate_no.unwrap_or_default()).bind(limit).fetch_all(&self.pool).await?)
    }

    /// Settles open arrears (`state`: paid or written_off, `by`: the order or
    /// the lot), storing the downlinks that tell their lots; returns the
    /// bills that were still open.
    pub async fn settle_arrears(
        &self,
        bills: &[(String, String)],
        (state, by, txn): (&str, &str, &str),
        now: &str,
        downlinks: Vec<Notice>,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let data = (bills.to_vec(), (state.to_owned(), by.to_owned(), txn.to_owned()), now.to_owned(), downlinks);
        self.group
            .write(DOWNLINKS, data, |conn, (bills, (state, by, txn), now, downlinks), _| {
                Box::pin(async move {
                    let mut tx = conn.begin().await?;
                    let mut settled = Vec::new();
                    for (code, bill) in bills.iter() {
                        let done = sqlx::query(
                            "UPDATE arrears SET state = $3, settled_by = $4, settled_at = $5, settled_txn = $6 \
                             WHERE parking_code = $1 AND bill_id = $2 AND state = 'open'",
                        )
                        .bind(code)
                        .bind(bill)
                        .bind(&*state)
                        .bind(&*by)
                        .bind(&*now)
                        .bind(&*txn)
                        .execute(&mut *tx)
                        .await?;
                        if done.rows_affected() == 1 {
                            settled.push((code.clone(), bill.clone()));
                        }
                    }
                    for n in downlinks.iter().filter(|n| n.bill.as_ref().is_none_or(|b| settled.contains(b))) {
                        insert_downlink(&mut tx, &n.downlink).await?;
                    }
                    tx.commit().await?;
                    Ok(settled)
                })
            })
            .await
    }

    /// Stores downlinks (payment notices to lots) and wakes nobody: the caller does.
    pub async fn put_downlinks(&self, downlinks: Vec<Downlink>) -> Result<(), StoreError> {
        self.group
            .write(DOWNLINKS, downlinks, |conn, downlinks, _| {
                Box::pin(async move {
                    let mut tx = conn.begin().await?;
                    for d in downlinks.iter() {
                        insert_downlink(&mut tx, d).await?;
                    }
                    tx.commit().await?;
                    Ok(())
                })
            })
            .await
    }

    /// How far the newest payResult for a plate at a lot, sealed at or after `since`, has come.
    pub async fn pay_result_delivery(
        &self,
        parking_code: &str,
        plate_no: &str,
        since: &str,
    ) -> Result<Option<super::DownlinkState>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT state FROM downlinks WHERE parking_code = $1 AND interface = 'payResult' AND subject = $2 \
             AND created_at >= $3 ORDER BY request_id DESC LIMIT 1",
        )
        .bind(parking_code)
        .bind(plate_no)
        .bind(since)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Today's takings by channel and purpose, unpaid bills and arrears per lot (the dashboard).
    pub async fn money_today(&self, date: chrono::NaiveDate) -> Result<MoneyDay, StoreError> {
        let (from, to) = super::day_range(date);
        let takings: Vec<(String, String, i64, i64)> = sqlx::query_as(
            "SELECT channel, purpose, COUNT(*), COALESCE(SUM(actual_pay - refunded), 0) FROM payments \
             WHERE state IN ('paid', 'refunded') AND deal_time >= $1 AND deal_time < $2 GROUP BY channel, purpose \
             ORDER BY channel, purpose",
        )
        .bind(&from)
        .bind(&to)
        .fetch_all(&self.pool)
        .await?;
        let arrears: Vec<(String, i64, i64)> = sqlx::query_as(
            "SELECT parking_code, COUNT(*), COALESCE(SUM(should_pay), 0) FROM arrears WHERE state = 'open' \
             GROUP BY parking_code ORDER BY parking_code",
        )
        .fetch_all(&self.pool)
        .await?;
        let pending: Vec<(String, i64, i64)> = sqlx::query_as(
            "SELECT parking_code, COUNT(*), COALESCE(SUM(should_pay), 0) FROM payments WHERE state = 'pending' \
             GROUP BY parking_code ORDER BY parking_code",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(MoneyDay { takings, arrears, pending })
    }
}

/// The payments page's filters; empty strings mean "any".
#[derive(Clone, Debug, Default)]
pub struct PaymentSearch {
    pub lots: Option<Vec<String>>,
    pub parking_code: String,
    pub plate_part: String,
    pub state: Option<PayState>,
    pub purpose: Option<Purpose>,
    pub from: String,
    pub to: String,
    pub before: Option<(String, String)>,
    pub limit: i64,
    pub offset: i64,
}

/// The dashboard's money figures.
#[derive(Clone, Debug, Default)]
pub struct MoneyDay {
    /// (channel, purpose, count, fen net of refunds)
    pub takings: Vec<(String, String, i64, i64)>,
    /// (parkingCode, open bills, fen)
    pub arrears: Vec<(String, i64, i64)>,
    /// (parkingCode, pending charges, fen)
    pub pending: Vec<(String, i64, i64)>,
}

impl MoneyDay {
    /// What concerns these lots only (the takings by channel are the
    /// city's: they go).
    pub fn only(self, lots: &std::collections::BTreeSet<String>) -> MoneyDay {
        MoneyDay {
            takings: Vec::new(),
            arrears: self.arrears.into_iter().filter(|a| lots.contains(&a.0)).collect(),
            pending: self.pending.into_iter().filter(|p| lots.contains(&p.0)).collect(),
        }
    }
}

async fn insert_payment(conn: &mut sqlx::AnyConnection, p: &Payment) -> Result<(), StoreError> {
    sqlx::query(&format!(
        "INSERT INTO payments ({PAYMENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, \
         $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26)"
    ))
    .bind(&p.parking_code)
    .bind(&p.bill_id)
    .bind(&p.order_id)
    .bind(p.attempt)
    .bind(p.purpose)
    .bind(&p.uid)
    .bind(&p.plate_no)
    .bind(p.plate_color)
    .bind(&p.arrive_time)
    .bind(&p.end_time)
    .bind(&p.bill_time)
    .bind(p.should_pay)
    .bind(p.discount)
    .bind(p.actual_pay)
    .bind(p.state)
    .bind(&p.channel)
    .bind(&p.txn_id)
    .bind(p.paid_type)
    .bind(p.pay_type)
    .bind(&p.deal_time)
    .bind(&p.reason)
    .bind(p.refunded)
    .bind(&p.refund_reason)
    .bind(p.notifications)
    .bind(&p.created_at)
    .bind(&p.updated_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// An arrears row, unless the bill is known (a repeat changes nothing); true when inserted.
async fn insert_arrear(conn: &mut sqlx::AnyConnection, a: &Arrear) -> Result<bool, StoreError> {
    let done = sqlx::query(&format!(
        "INSERT INTO arrears ({ARREAR_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, \
         $15) ON CONFLICT DO NOTHING"
    ))
    .bind(&a.parking_code)
    .bind(&a.bill_id)
    .bind(&a.plate_no)
    .bind(a.plate_color)
    .bind(&a.uid)
    .bind(&a.arrive_time)
    .bind(&a.end_time)
    .bind(&a.bill_time)
    .bind(a.should_pay)
    .bind(&a.source)
    .bind(&a.state)
    .bind(&a.settled_by)
    .bind(&a.settled_at)
    .bind(&a.created_at)
    .bind(&a.settled_txn)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The charge other than `p` holding a claim on one of `debts`, if any. A
/// stay's paid prepayment whose payResult the lot confirmed before the quote
/// now paid was asked no longer holds the stay (that quote counted it): its
/// claim is released here.
async fn claim_holder(
    conn: &mut sqlx::AnyConnection,
    p: &Payment,
    debts: &[(Debt, i64)],
) -> Result<Option<Payment>, StoreError> {
    for (debt, _) in debts {
        let held: Option<(String, String, String, Option<i64>)> = sqlx::query_as(
            "SELECT parking_code, bill_id, state, notice FROM debt_claims WHERE debt = $1 AND state <> 'released' \
             AND NOT (parking_code = $2 AND bill_id = $3)",
        )
        .bind(debt.key())
        .bind(&p.parking_code)
        .bind(&p.bill_id)
        .fetch_optional(&mut *conn)
        .await?;
        let Some((code, bill, state, notice)) = held else { continue };
        if let (Debt::Stay { asked_at, .. }, "held", Some(notice)) = (debt, state.as_str(), notice) {
            let confirmed: Option<String> = sqlx::query_scalar(
                "SELECT confirmed_at FROM downlinks WHERE request_id = $1 AND state = 'confirmed' AND confirmed_at < $2",
            )
            .bind(notice)
            .bind(asked_at)
            .fetch_optional(&mut *conn)
            .await?;
            if confirmed.is_some() {
                sqlx::query(
                    "UPDATE debt_claims SET state = 'released', updated_at = $4 WHERE debt = $1 AND parking_code = $2 \
                     AND bill_id = $3",
                )
                .bind(debt.key())
                .bind(&code)
                .bind(&bill)
                .bind(&p.updated_at)
                .execute(&mut *conn)
                .await?;
                continue;
            }
        }
        let sql = format!("SELECT {PAYMENT_COLUMNS} FROM payments WHERE parking_code = $1 AND bill_id = $2");
        return Ok(Some(sqlx::query_as(&sql).bind(&code).bind(&bill).fetch_one(&mut *conn).await?));
    }
    Ok(None)
}

/// The bills a charge claimed (its `bill` debts), as (parkingCode, billID).
/// Keys are split on the line break, which no parkingCode or billID holds
/// (control characters are refused on the wire).
async fn claimed_bills(
    conn: &mut sqlx::AnyConnection,
    parking_code: &str,
    bill_id: &str,
) -> Result<Vec<(String, String)>, StoreError> {
    let debts: Vec<String> =
        sqlx::query_scalar("SELECT debt FROM debt_claims WHERE parking_code = $1 AND bill_id = $2 ORDER BY debt")
            .bind(parking_code)
            .bind(bill_id)
            .fetch_all(&mut *conn)
            .await?;
    Ok(debts
        .iter()
        .filter_map(|d| d.strip_prefix("bill\n")?.split_once('\n'))
        .map(|(code, bill)| (code.to_owned(), bill.to_owned()))
        .collect())
}
