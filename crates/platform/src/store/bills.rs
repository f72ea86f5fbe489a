//! Bills (`bills`): what a driver paid for a session, keyed by (parkingCode, billID).

use super::{Put, Store, StoreError, content, insert_once};
use onepark_proto::msg::record::PayRecord;

impl Store {
    /// Stores a bill, keyed by (parkingCode, billID).
    pub async fn put_bill(&self, access_id: &str, m: &PayRecord, now: &str) -> Result<Put, StoreError> {
        let data = (m.clone(), access_id.to_owned(), now.to_owned());
        self.group
            .write(&m.parking_code, data, |conn, (m, access_id, now), _| {
                let content = content(m);
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
                .bind(m.bill_time.to_string())
                .bind(m.deal_time.to_string())
                .bind(m.paid_type.code())
                .bind(m.pay_type.code())
                .bind(m.bill_way.code())
                .bind(m.upload_time.to_string())
                .bind(now)
                .bind(content.clone());
                Box::pin(async move {
                    insert_once(conn, insert, ("bills", "bill_id"), &m.parking_code, &m.bill_id, &content).await
                })
            })
            .await
    }
}
