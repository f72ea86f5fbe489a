//! Month-card renewals bought on the driver pages (`card_renewals`: asked →
//! quoted | refused → paid → delivered | failed), and the e-payments a
//! Bolink lot says it booked on a day (`lot_epay`, 2.30), the lot's side of
//! the three-way check for its prepayments.

use sqlx::Connection;

use super::{Store, StoreError};

/// One renewal as stored (money in fen).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Renewal {
    pub trade_no: String,
    pub parking_code: String,
    pub card_id: String,
    pub plate_no: String,
    pub months: i64,
    pub start_time: String,
    pub end_time: String,
    pub price: Option<i64>,
    /// asked, quoted, refused, paid, delivered, failed.
    pub state: String,
    pub errmsg: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

const COLUMNS: &str = "trade_no, parking_code, card_id, plate_no, months, start_time, end_time, price, state, errmsg, \
     created_at, updated_at";

/// A payment a lot booked, as its 2.30 lists it (fen).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LotEpay {
    pub trade_no: String,
    pub bill_id: String,
    pub money: i64,
    pub refund: i64,
}

impl Store {
    pub async fn put_renewal(&self, r: &Renewal) -> Result<(), StoreError> {
        sqlx::query(&format!(
            "INSERT INTO card_renewals ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        ))
        .bind(&r.trade_no)
        .bind(&r.parking_code)
        .bind(&r.card_id)
        .bind(&r.plate_no)
        .bind(r.months)
        .bind(&r.start_time)
        .bind(&r.end_time)
        .bind(r.price)
        .bind(&r.state)
        .bind(&r.errmsg)
        .bind(&r.created_at)
        .bind(&r.updated_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn renewal(&self, trade_no: &str) -> Result<Option<Renewal>, StoreError> {
        Ok(sqlx::query_as(&format!("SELECT {COLUMNS} FROM card_renewals WHERE trade_no = $1"))
            .bind(trade_no)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Moves a renewal from one of `from` to `to` (with the lot's price or
    /// reason); false when it was not in one of those states.
    pub async fn move_renewal(
        &self,
        trade_no: &str,
        from: &[&str],
        to: &str,
        price: Option<i64>,
        errmsg: Option<&str>,
        now: &str,
    ) -> Result<bool, StoreError> {
        let list = from.iter().map(|s| format!("'{s}'")).collect::<Vec<_>>().join(", ");
        let done = sqlx::query(&format!(
            "UPDATE card_renewals SET state = $2, price = COALESCE($3, price), errmsg = COALESCE($4, errmsg), \
             updated_at = $5 WHERE trade_no = $1 AND state IN ({list})"
        ))
        .bind(trade_no)
        .bind(to)
        .bind(price)
        .bind(errmsg)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// A lot's booked e-payments of a day, replacing what it said before.
    pub async fn put_lot_epay(
        &self,
        parking_code: &str,
        day: &str,
        trades: &[LotEpay],
        now: &str,
    ) -> Result<(), StoreError> {
        let _writer = self.writer().await;
        let mut conn = self.pool.acquire().await?;
        let mut tx = conn.begin().await?;
        sqlx::query("DELETE FROM lot_epay WHERE parking_code = $1 AND day = $2")
            .bind(parking_code)
            .bind(day)
            .execute(&mut *tx)
            .await?;
        for t in trades {
            sqlx::query(
                "INSERT INTO lot_epay (parking_code, day, trade_no, bill_id, money, refund, received_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (parking_code, day, trade_no) DO NOTHING",
            )
            .bind(parking_code)
            .bind(day)
            .bind(&t.trade_no)
            .bind(&t.bill_id)
            .bind(t.money)
            .bind(t.refund)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
