//! Bills (`bills`): what a driver paid for a session, keyed by (parkingCode, billID).

use onepark_domain::record::{Bill, LotRef};
use onepark_domain::time::format_time;

use super::{Put, Store, StoreError, insert_once};

impl Store {
    /// Stores a bill, keyed by (parkingCode, billID).
    pub async fn put_bill(&self, lot: &LotRef, m: &Bill, now: &str) -> Result<Put, StoreError> {
        let data = (m.clone(), lot.access_id.clone(), now.to_owned());
        self.group
            .write(&m.parking_code, data, |conn, (m, access_id, now), _| {
                let content = m.content.clone();
                let insert = sqlx::query(
                    "INSERT INTO bills (parking_code, bill_id, uid, access_id, plate_no, charge_fee, should_pay, \
                     actual_pay, bill_time, deal_time, paid_type, pay_type, bill_way, upload_time, received_at, content) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) ON CONFLICT DO NOTHING",
                )
                .bind(&m.parking_code)
                .bind(&m.bill_id)
                .bind(&m.uid)
                .bind(access_id)
                .bind(&m.plate_no)
                .bind(m.charge_fee)
                .bind(m.should_pay)
                .bind(m.actual_pay)
                .bind(format_time(m.bill_time))
                .bind(format_time(m.deal_time))
                .bind(m.paid_type)
                .bind(m.pay_type)
                .bind(m.bill_way)
                .bind(format_time(m.upload_time))
                .bind(now)
                .bind(content.clone());
                Box::pin(async move {
                    insert_once(conn, insert, ("bills", "bill_id"), &m.parking_code, &m.bill_id, &content).await
                })
            })
            .await
    }
}
