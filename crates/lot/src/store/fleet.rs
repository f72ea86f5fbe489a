//! The cloud's vehicles and what hangs on them (seed §3.3–§3.8, §3.20,
//! §3.21): cloud vehicles beside their month cards (`cloud_cars`), space
//! groups, top-up packages, the vehicle log, merchant coupons and the
//! payments the cloud announced (`cloud_orders`, each applied once).

use super::cards::write_card;
use super::{MonthCard, Store, StoreError};

#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct CloudCar {
    pub id: i64,
    pub uuid: String,
    pub card_id: String,
    pub car_type_code: i64,
    pub group_uuid: Option<String>,
    pub tel: Option<String>,
    pub space_no: Option<String>,
    /// Fen.
    pub monthly_fee: i64,
    /// Fen.
    pub balance: i64,
    /// 0 normal, 1 frozen.
    pub state: i64,
    pub remark: Option<String>,
    pub created_at: String,
}

#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct CarGroup {
    pub id: i64,
    pub uuid: String,
    pub name: String,
    pub num: i64,
    pub region: Option<String>,
    pub tel: Option<String>,
    pub remark: Option<String>,
    pub begin_time: Option<String>,
    pub end_time: Option<String>,
    pub is_free: i64,
    pub unit_fee: i64,
    pub balance: i64,
    pub created_at: String,
}

#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct ChargePlan {
    pub id: i64,
    pub uuid: String,
    pub name: String,
    pub car_type_code: i64,
    pub months: i64,
    /// Fen.
    pub amount: i64,
    pub remark: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct CarLog {
    pub id: i64,
    pub time: String,
    pub action: String,
    pub uuid: String,
    pub plate_no: String,
    pub operator: Option<String>,
    pub detail: String,
}

#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct Coupon {
    pub ticket_no: String,
    pub plate_no: String,
    /// 1 amount (fen), 2 minutes, 3 percent off, 4/5 free.
    pub ticket_type: i64,
    pub value: i64,
    pub shop_name: Option<String>,
    pub valid_from: Option<String>,
    pub valid_to: Option<String>,
    pub received_at: String,
    pub used_by: Option<String>,
}

/// A vehicle change to log with it.
pub struct LogLine<'a> {
    pub time: &'a str,
    pub action: &'a str,
    pub operator: Option<&'a str>,
    pub detail: String,
}

async fn log(
    conn: &mut sqlx::SqliteConnection,
    car: &CloudCar,
    plate: &str,
    line: &LogLine<'_>,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO car_logs (time, action, uuid, plate_no, operator, detail) VALUES (?, ?, ?, ?, ?, ?)")
        .bind(line.time)
        .bind(line.action)
        .bind(&car.uuid)
        .bind(plate)
        .bind(line.operator)
        .bind(&line.detail)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

const CAR_COLUMNS: &str =
    "id, uuid, card_id, car_type_code, group_uuid, tel, space_no, monthly_fee, balance, state, remark, created_at";

impl Store {
    /// A cloud vehicle by uuid, else by id.
    pub async fn cloud_car(&self, uuid: &str, id: i64) -> Result<Option<CloudCar>, StoreError> {
        let sql = format!("SELECT {CAR_COLUMNS} FROM cloud_cars WHERE (? <> '' AND uuid = ?) OR (? > 0 AND id = ?)");
        Ok(sqlx::query_as(&sql).bind(uuid).bind(uuid).bind(id).bind(id).fetch_optional(&self.pool).await?)
    }

    /// Stores a vehicle and its card together, logged; the stored vehicle.
    pub async fn put_cloud_car(
        &self,
        car: &CloudCar,
        card: &MonthCard,
        line: &LogLine<'_>,
    ) -> Result<CloudCar, StoreError> {
        let mut tx = self.write().await?;
        write_card(&mut tx, card).await?;
        sqlx::query(
            "INSERT INTO cloud_cars (uuid, card_id, car_type_code, group_uuid, tel, space_no, monthly_fee, balance, state, \
             remark, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (uuid) DO UPDATE SET \
             car_type_code = excluded.car_type_code, group_uuid = excluded.group_uuid, tel = excluded.tel, \
             space_no = excluded.space_no, monthly_fee = excluded.monthly_fee, balance = excluded.balance, \
             state = excluded.state, remark = excluded.remark",
        )
        .bind(&car.uuid)
        .bind(&card.id)
        .bind(car.car_type_code)
        .bind(&car.group_uuid)
        .bind(&car.tel)
        .bind(&car.space_no)
        .bind(car.monthly_fee)
        .bind(car.balance)
        .bind(car.state)
        .bind(&car.remark)
        .bind(&car.created_at)
        .execute(&mut *tx)
        .await?;
        let sql = format!("SELECT {CAR_COLUMNS} FROM cloud_cars WHERE uuid = ?");
        let stored: CloudCar = sqlx::query_as(&sql).bind(&car.uuid).fetch_one(&mut *tx).await?;
        log(&mut tx, &stored, card.plates.first().map_or("", String::as_str), line).await?;
        tx.commit().await?;
        Ok(stored)
    }

    /// Removes vehicles (and their cards), logged; how many.
    pub async fn delete_cloud_cars(&self, cars: &[CloudCar], line: &LogLine<'_>) -> Result<usize, StoreError> {
        let mut tx = self.write().await?;
        for car in cars {
            let plate: Option<String> =
                sqlx::query_scalar("SELECT plate_no FROM month_card_plates WHERE card_id = ? LIMIT 1")
                    .bind(&car.card_id)
                    .fetch_optional(&mut *tx)
                    .await?;
            sqlx::query("DELETE FROM month_card_plates WHERE card_id = ?").bind(&car.card_id).execute(&mut *tx).await?;
            sqlx::query("DELETE FROM month_cards WHERE id = ?").bind(&car.card_id).execute(&mut *tx).await?;
            sqlx::query("DELETE FROM cloud_cars WHERE id = ?").bind(car.id).execute(&mut *tx).await?;
            log(&mut tx, car, plate.as_deref().unwrap_or(""), line).await?;
        }
        tx.commit().await?;
        Ok(cars.len())
    }

    pub async fn all_cloud_cars(&self) -> Result<Vec<CloudCar>, StoreError> {
        let sql = format!("SELECT {CAR_COLUMNS} FROM cloud_cars ORDER BY id");
        Ok(sqlx::query_as(&sql).fetch_all(&self.pool).await?)
    }

    /// A page of cloud vehicles (plate part, group) and how many match.
    pub async fn cloud_cars_page(
        &self,
        plate: Option<&str>,
        group: Option<&str>,
        offset: i64,
        limit: i64,
    ) -> Result<(i64, Vec<CloudCar>), StoreError> {
        let like = format!("%{}%", plate.unwrap_or_default());
        let group = group.unwrap_or_default();
        let filter = "FROM cloud_cars c WHERE EXISTS (SELECT 1 FROM month_card_plates p WHERE p.card_id = c.card_id \
                      AND p.plate_no LIKE ?) AND (? = '' OR c.group_uuid = ?)";
        let total = sqlx::query_scalar(&format!("SELECT COUNT(*) {filter}"))
            .bind(&like)
            .bind(group)
            .bind(group)
            .fetch_one(&self.pool)
            .await?;
        let sql = format!(
            "SELECT c.id, c.uuid, c.card_id, c.car_type_code, c.group_uuid, c.tel, c.space_no, \
             c.monthly_fee, c.balance, c.state, c.remark, c.created_at {filter} ORDER BY c.id LIMIT ? OFFSET ?"
        );
        let rows = sqlx::query_as(&sql)
            .bind(&like)
            .bind(group)
            .bind(group)
            .bind(limit)
            .bind(offset)
            .fetch_all(&self.pool)
            .await?;
        Ok((total, rows))
    }

    /// A page of the vehicle log (plate part) and how many match.
    pub async fn car_logs(
        &self,
        plate: Option<&str>,
        offset: i64,
        limit: i64,
    ) -> Result<(i64, Vec<CarLog>), StoreError> {
        let like = format!("%{}%", plate.unwrap_or_default());
        let total = sqlx::query_scalar("SELECT COUNT(*) FROM car_logs WHERE plate_no LIKE ?")
            .bind(&like)
            .fetch_one(&self.pool)
            .await?;
        let rows = sqlx::query_as(
            "SELECT id, time, action, uuid, plate_no, operator, detail FROM car_logs WHERE plate_no LIKE ? \
             ORDER BY id DESC LIMIT ? OFFSET ?",
        )
        .bind(&like)
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.pool)
        .await?;
        Ok((total, rows))
    }

    pub async fn put_group(&self, g: &CarGroup) -> Result<CarGroup, StoreError> {
        let mut tx = self.write().await?;
        sqlx::query(
            "INSERT INTO car_groups (uuid, name, num, region, tel, remark, begin_time, end_time, is_free, unit_fee, balance, \
             created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (uuid) DO UPDATE SET name = excluded.name, \
             num = excluded.num, region = excluded.region, tel = excluded.tel, remark = excluded.remark, \
             begin_time = excluded.begin_time, end_time = excluded.end_time, is_free = excluded.is_free, \
             unit_fee = excluded.unit_fee, balance = excluded.balance",
        )
        .bind(&g.uuid)
        .bind(&g.name)
        .bind(g.num)
        .bind(&g.region)
        .bind(&g.tel)
        .bind(&g.remark)
        .bind(&g.begin_time)
        .bind(&g.end_time)
        .bind(g.is_free)
        .bind(g.unit_fee)
        .bind(g.balance)
        .bind(&g.created_at)
        .execute(&mut *tx)
        .await?;
        let stored =
            sqlx::query_as("SELECT * FROM car_groups WHERE uuid = ?").bind(&g.uuid).fetch_one(&mut *tx).await?;
        tx.commit().await?;
        Ok(stored)
    }

    pub async fn group(&self, uuid: &str, id: i64) -> Result<Option<CarGroup>, StoreError> {
        Ok(sqlx::query_as("SELECT * FROM car_groups WHERE (? <> '' AND uuid = ?) OR (? > 0 AND id = ?)")
            .bind(uuid)
            .bind(uuid)
            .bind(id)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Removes a group; false when it has vehicles (they would lose their berths) or is unknown.
    pub async fn delete_group(&self, uuid: &str) -> Result<bool, StoreError> {
        let mut tx = self.write().await?;
        let used: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM cloud_cars WHERE group_uuid = ?")
            .bind(uuid)
            .fetch_one(&mut *tx)
            .await?;
        if used > 0 {
            return Ok(false);
        }
        let n =
            sqlx::query("DELETE FROM car_groups WHERE uuid = ?").bind(uuid).execute(&mut *tx).await?.rows_affected();
        tx.commit().await?;
        Ok(n > 0)
    }

    pub async fn groups(
        &self,
        name: Option<&str>,
        offset: i64,
        limit: i64,
    ) -> Result<(i64, Vec<CarGroup>), StoreError> {
        let like = format!("%{}%", name.unwrap_or_default());
        let total = sqlx::query_scalar("SELECT COUNT(*) FROM car_groups WHERE name LIKE ?")
            .bind(&like)
            .fetch_one(&self.pool)
            .await?;
        let rows = sqlx::query_as("SELECT * FROM car_groups WHERE name LIKE ? ORDER BY id LIMIT ? OFFSET ?")
            .bind(&like)
            .bind(limit)
            .bind(offset)
            .fetch_all(&self.pool)
            .await?;
        Ok((total, rows))
    }

    /// A group's cars in the lot now (its berths taken).
    pub async fn group_inside(&self, uuid: &str) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM sessions s JOIN cloud_cars c ON c.card_id = s.card_id WHERE s.state = 'open' AND c.group_uuid = ?",
        )
        .bind(uuid)
        .fetch_one(&self.pool)
        .await?)
    }

    pub async fn put_plan(&self, p: &ChargePlan) -> Result<ChargePlan, StoreError> {
        let mut tx = self.write().await?;
        sqlx::query(
            "INSERT INTO charge_plans (uuid, name, car_type_code, months, amount, remark) VALUES (?, ?, ?, ?, ?, ?) \
             ON CONFLICT (uuid) DO UPDATE SET name = excluded.name, car_type_code = excluded.car_type_code, \
             months = excluded.months, amount = excluded.amount, remark = excluded.remark",
        )
        .bind(&p.uuid)
        .bind(&p.name)
        .bind(p.car_type_code)
        .bind(p.months)
        .bind(p.amount)
        .bind(&p.remark)
        .execute(&mut *tx)
        .await?;
        let stored =
            sqlx::query_as("SELECT * FROM charge_plans WHERE uuid = ?").bind(&p.uuid).fetch_one(&mut *tx).await?;
        tx.commit().await?;
        Ok(stored)
    }

    pub async fn plan(&self, uuid: &str, id: i64) -> Result<Option<ChargePlan>, StoreError> {
        Ok(sqlx::query_as("SELECT * FROM charge_plans WHERE (? <> '' AND uuid = ?) OR (? > 0 AND id = ?)")
            .bind(uuid)
            .bind(uuid)
            .bind(id)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }

    pub async fn delete_plan(&self, uuid: &str, id: i64) -> Result<bool, StoreError> {
        let mut tx = self.write().await?;
        let n = sqlx::query("DELETE FROM charge_plans WHERE (? <> '' AND uuid = ?) OR (? > 0 AND id = ?)")
            .bind(uuid)
            .bind(uuid)
            .bind(id)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(n > 0)
    }

    pub async fn plans(&self, offset: i64, limit: i64) -> Result<(i64, Vec<ChargePlan>), StoreError> {
        let total = sqlx::query_scalar("SELECT COUNT(*) FROM charge_plans").fetch_one(&self.pool).await?;
        let rows = sqlx::query_as("SELECT * FROM charge_plans ORDER BY id LIMIT ? OFFSET ?")
            .bind(limit)
            .bind(offset)
            .fetch_all(&self.pool)
            .await?;
        Ok((total, rows))
    }

    /// Stores a coupon; false when its ticketNo was received before (nothing changes).
    pub async fn put_coupon(&self, c: &Coupon) -> Result<bool, StoreError> {
        let mut tx = self.write().await?;
        let n = sqlx::query(
            "INSERT INTO coupons (ticket_no, plate_no, ticket_type, value, shop_name, valid_from, valid_to, received_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (ticket_no) DO NOTHING",
        )
        .bind(&c.ticket_no)
        .bind(&c.plate_no)
        .bind(c.ticket_type)
        .bind(c.value)
        .bind(&c.shop_name)
        .bind(&c.valid_from)
        .bind(&c.valid_to)
        .bind(&c.received_at)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(n == 1)
    }

    /// The coupons a stay may use: the plate's, unused or already this stay's, valid at `at`.
    pub async fn coupons_for(&self, plate: &str, uid: &str, at: &str) -> Result<Vec<Coupon>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT * FROM coupons WHERE plate_no = ? AND (used_by IS NULL OR used_by = ?) \
             AND (valid_from IS NULL OR valid_from <= ?) AND (valid_to IS NULL OR valid_to >= ?) ORDER BY received_at, ticket_no",
        )
        .bind(plate)
        .bind(uid)
        .bind(at)
        .bind(at)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Binds the plate's usable coupons to the stay that left with them.
    pub async fn redeem_coupons(&self, tickets: &[String], uid: &str) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        for t in tickets {
            sqlx::query("UPDATE coupons SET used_by = ? WHERE ticket_no = ? AND used_by IS NULL")
                .bind(uid)
                .bind(t)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await
    }

    /// Claims a payment order number; false when it was applied before.
    pub async fn claim_order(
        &self,
        order_no: &str,
        kind: &str,
        plate: &str,
        amount: i64,
        applied_to: &str,
        now: &str,
    ) -> Result<bool, StoreError> {
        let mut tx = self.write().await?;
        let n = sqlx::query(
            "INSERT INTO cloud_orders (order_no, kind, plate_no, amount, applied_to, received_at) VALUES (?, ?, ?, ?, ?, ?) \
             ON CONFLICT (order_no) DO NOTHING",
        )
        .bind(order_no)
        .bind(kind)
        .bind(plate)
        .bind(amount)
        .bind(applied_to)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(n == 1)
    }

    /// A fixed-car order (3.8): extends the card and records the order, together; false when seen before.
    pub async fn apply_card_order(
        &self,
        card: &MonthCard,
        order_no: &str,
        plate: &str,
        amount: i64,
        now: &str,
    ) -> Result<bool, StoreError> {
        let mut tx = self.write().await?;
        let n = sqlx::query(
            "INSERT INTO cloud_orders (order_no, kind, plate_no, amount, applied_to, received_at) VALUES (?, 'monthly', ?, ?, ?, ?) \
             ON CONFLICT (order_no) DO NOTHING",
        )
        .bind(order_no)
        .bind(plate)
        .bind(amount)
        .bind(&card.id)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 0 {
            return Ok(false);
        }
        write_card(&mut tx, card).await?;
        tx.commit().await?;
        Ok(true)
    }
}
