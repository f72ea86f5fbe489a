//! The parking cloud's API: its principals (`cloud_principals`), the cars put
//! into lots from the cloud until the lots pull them (`remote_stays`) and the
//! lots' fixed cars (`fixed_cars`). Both queues follow one rule: a row is due
//! while `synced_version < version`; a pull serves due rows in `seq` order
//! and notes the version it served; a report marks that version synced.

use serde::{Deserialize, Serialize};
use sqlx::{AnyConnection, Connection};

use super::{Store, StoreError};

/// Who an integrator or a lot of this protocol is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PrincipalKind {
    /// Acts on the lots it is given (fixed cars, in-park cars, queries).
    Integrator,
    /// A lot speaking this protocol: pulls and reports for its own codes.
    Lot,
}

impl PrincipalKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PrincipalKind::Integrator => "integrator",
            PrincipalKind::Lot => "lot",
        }
    }

    pub fn parse(text: &str) -> Option<PrincipalKind> {
        match text {
            "integrator" => Some(PrincipalKind::Integrator),
            "lot" => Some(PrincipalKind::Lot),
            _ => None,
        }
    }
}

/// A pid with its secret and the parkCodes it may act on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    pub pid: String,
    pub secret: String,
    pub kind: PrincipalKind,
    pub name: String,
    pub park_codes: Vec<String>,
    pub created_at: String,
}

impl Principal {
    pub fn may_act_on(&self, park_code: &str) -> bool {
        self.park_codes.iter().any(|c| c == park_code)
    }
}

#[derive(sqlx::FromRow)]
struct PrincipalRow {
    pid: String,
    secret: String,
    kind: String,
    name: String,
    park_codes: String,
    created_at: String,
}

impl TryFrom<PrincipalRow> for Principal {
    type Error = sqlx::Error;
    fn try_from(r: PrincipalRow) -> Result<Principal, sqlx::Error> {
        let decode = |index: &str, source: Box<dyn std::error::Error + Send + Sync>| sqlx::Error::ColumnDecode {
            index: index.into(),
            source,
        };
        let kind = PrincipalKind::parse(&r.kind)
            .ok_or_else(|| decode("cloud_principals.kind", format!("unknown kind `{}`", r.kind).into()))?;
        let park_codes =
            serde_json::from_str(&r.park_codes).map_err(|e| decode("cloud_principals.park_codes", Box::new(e)))?;
        Ok(Principal { pid: r.pid, secret: r.secret, kind, name: r.name, park_codes, created_at: r.created_at })
    }
}

/// A car put into a lot from the cloud, as the lot will pull it.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct RemoteStay {
    pub park_code: String,
    pub record_no: String,
    pub plate_no: String,
    pub car_type: i64,
    pub car_sub_type: i64,
    pub entrance: Option<String>,
    pub enter_time: String,
    pub in_channel: Option<String>,
    pub op_id: Option<String>,
    pub op_name: Option<String>,
    pub enter_pic: Option<String>,
    /// 1 in the lot, 0 closed by delInCar.
    pub in_park: i64,
    pub remark: Option<String>,
    pub by_pid: String,
    pub version: i64,
    pub changed_at: String,
}

/// A lot's fixed car (money in fen).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FixedCar {
    pub park_code: String,
    pub uuid: String,
    pub plate_no: String,
    pub owner: Option<String>,
    pub car_type: i64,
    pub space_no: Option<String>,
    pub tel: Option<String>,
    pub monthly_fee: Option<i64>,
    pub balance: Option<i64>,
    pub start_time: String,
    pub end_time: String,
    pub group_uuid: Option<String>,
    pub remark: Option<String>,
    pub remark1: Option<String>,
    pub remark2: Option<String>,
    /// 0 valid, 1 suspended.
    pub state: i64,
    /// 1 once deleted (kept: the deletion is delivered too).
    pub deleted: i64,
    pub by_pid: String,
    pub version: i64,
    /// The newest version the lot reported applied.
    pub synced_version: i64,
    pub changed_at: String,
}

const STAY_COLUMNS: &str = "park_code, record_no, plate_no, car_type, car_sub_type, entrance, enter_time, in_channel, \
     op_id, op_name, enter_pic, in_park, remark, by_pid, version, changed_at";
const CAR_COLUMNS: &str = "park_code, uuid, plate_no, owner, car_type, space_no, tel, monthly_fee, balance, start_time, \
     end_time, group_uuid, remark, remark1, remark2, state, deleted, by_pid, version, synced_version, changed_at";

/// One of the two queues lots pull: its table, key column and columns read.
#[derive(Clone, Copy)]
struct Queue {
    table: &'static str,
    key: &'static str,
    columns: &'static str,
}

impl Queue {
    const STAYS: Queue = Queue { table: "remote_stays", key: "record_no", columns: STAY_COLUMNS };
    const CARS: Queue = Queue { table: "fixed_cars", key: "uuid", columns: CAR_COLUMNS };
}

/// The next pull position of a table.
async fn next_seq(conn: &mut AnyConnection, table: &str) -> Result<i64, sqlx::Error> {
    let sql = format!("SELECT COALESCE(MAX(seq), 0) + 1 FROM {table}");
    sqlx::query_scalar(&sql).fetch_one(conn).await
}

impl Store {
    /// Registers or replaces a principal.
    pub async fn put_principal(&self, p: &Principal) -> Result<(), StoreError> {
        let codes = serde_json::to_string(&p.park_codes).unwrap_or_default();
        sqlx::query(
            "INSERT INTO cloud_principals (pid, secret, kind, name, park_codes, created_at) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (pid) DO UPDATE SET secret = $2, kind = $3, name = $4, park_codes = $5, created_at = $6",
        )
        .bind(&p.pid)
        .bind(&p.secret)
        .bind(p.kind.as_str())
        .bind(&p.name)
        .bind(codes)
        .bind(&p.created_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn remove_principal(&self, pid: &str) -> Result<bool, StoreError> {
        let n = sqlx::query("DELETE FROM cloud_principals WHERE pid = $1").bind(pid).execute(&self.pool).await?;
        Ok(n.rows_affected() > 0)
    }

    pub async fn principal(&self, pid: &str) -> Result<Option<Principal>, StoreError> {
        let row: Option<PrincipalRow> = sqlx::query_as("SELECT * FROM cloud_principals WHERE pid = $1")
            .bind(pid)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(Principal::try_from).transpose()?)
    }

    pub async fn principals(&self) -> Result<Vec<Principal>, StoreError> {
        let rows: Vec<PrincipalRow> =
            sqlx::query_as("SELECT * FROM cloud_principals ORDER BY pid").fetch_all(&self.pool).await?;
        Ok(rows.into_iter().map(Principal::try_from).collect::<Result<_, _>>()?)
    }

    /// The lot of this protocol that holds `park_code`, if one is registered.
    pub async fn cloud_lot_of(&self, park_code: &str) -> Result<Option<Principal>, StoreError> {
        // Only rows whose codes' text holds the code are parsed (a city has
        // thousands of lot pids); the exact check below decides.
        let quoted = serde_json::to_string(park_code).unwrap_or_default();
        let pattern = format!("%{}%", quoted.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
        let rows: Vec<PrincipalRow> =
            sqlx::query_as("SELECT * FROM cloud_principals WHERE kind = 'lot' AND park_codes LIKE $1 ESCAPE '\\'")
                .bind(pattern)
                .fetch_all(&self.pool)
                .await?;
        for row in rows {
            let lot = Principal::try_from(row)?;
            if lot.may_act_on(park_code) {
                return Ok(Some(lot));
            }
        }
        Ok(None)
    }

    /// Stores a car put into a lot (new, or a new version of the same
    /// recordNo) and returns its version.
    pub async fn put_remote_stay(&self, s: &RemoteStay) -> Result<i64, StoreError> {
        let _writer = self.writer().await;
        let mut conn = self.pool.acquire().await?;
        let mut tx = conn.begin().await?;
        let seq = next_seq(&mut tx, "remote_stays").await?;
        let version: i64 = sqlx::query_scalar(
            "INSERT INTO remote_stays (park_code, record_no, plate_no, car_type, car_sub_type, entrance, enter_time, \
             in_channel, op_id, op_name, enter_pic, in_park, remark, by_pid, version, seq, changed_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, 1, $15, $16) \
             ON CONFLICT (park_code, record_no) DO UPDATE SET plate_no = $3, car_type = $4, car_sub_type = $5, \
             entrance = $6, enter_time = $7, in_channel = $8, op_id = $9, op_name = $10, enter_pic = $11, \
             in_park = $12, remark = $13, by_pid = $14, version = remote_stays.version + 1, seq = $15, changed_at = $16 \
             RETURNING version",
        )
        .bind(&s.park_code)
        .bind(&s.record_no)
        .bind(&s.plate_no)
        .bind(s.car_type)
        .bind(s.car_sub_type)
        .bind(&s.entrance)
        .bind(&s.enter_time)
        .bind(&s.in_channel)
        .bind(&s.op_id)
        .bind(&s.op_name)
        .bind(&s.enter_pic)
        .bind(s.in_park)
        .bind(&s.remark)
        .bind(&s.by_pid)
        .bind(seq)
        .bind(&s.changed_at)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(version)
    }

    pub async fn remote_stay(&self, park_code: &str, record_no: &str) -> Result<Option<RemoteStay>, StoreError> {
        let sql = format!("SELECT {STAY_COLUMNS} FROM remote_stays WHERE park_code = $1 AND record_no = $2");
        Ok(sqlx::query_as(&sql).bind(park_code).bind(record_no).fetch_optional(&self.pool).await?)
    }

    /// A page of a lot's due remote stays (`offset`, `limit`) and how many
    /// are due; the served versions are noted as pulled.
    pub async fn pull_remote_stays(
        &self,
        park_code: &str,
        offset: i64,
        limit: i64,
    ) -> Result<(i64, Vec<RemoteStay>), StoreError> {
        self.pull(Queue::STAYS, park_code, offset, limit, |s: &RemoteStay| (s.record_no.clone(), s.version)).await
    }

    /// Marks what the lot pulled of these recordNos as synced; returns how
    /// many were. A recordNo never pulled (or unknown) is left as it is.
    pub async fn sync_remote_stays(&self, park_code: &str, record_nos: &[String]) -> Result<u64, StoreError> {
        let _writer = self.writer().await;
        let mut conn = self.pool.acquire().await?;
        let mut tx = conn.begin().await?;
        let mut n = 0;
        for record_no in record_nos {
            n += sqlx::query(
                "UPDATE remote_stays SET synced_version = pulled_version \
                 WHERE park_code = $1 AND record_no = $2 AND pulled_version > synced_version",
            )
            .bind(park_code)
            .bind(record_no)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        }
        tx.commit().await?;
        Ok(n)
    }

    /// Stores a fixed car's new version (an addition, an edit, or a
    /// deletion when `deleted` is 1) and returns it with its version.
    pub async fn put_fixed_car(&self, car: &FixedCar) -> Result<FixedCar, StoreError> {
        let _writer = self.writer().await;
        let mut conn = self.pool.acquire().await?;
        let mut tx = conn.begin().await?;
        let seq = next_seq(&mut tx, "fixed_cars").await?;
        let version: i64 = sqlx::query_scalar(
            "INSERT INTO fixed_cars (park_code, uuid, plate_no, owner, car_type, space_no, tel, monthly_fee, balance, \
             start_time, end_time, group_uuid, remark, remark1, remark2, state, deleted, by_pid, version, seq, changed_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, 1, $19, $20) \
             ON CONFLICT (park_code, uuid) DO UPDATE SET plate_no = $3, owner = $4, car_type = $5, space_no = $6, \
             tel = $7, monthly_fee = $8, balance = $9, start_time = $10, end_time = $11, group_uuid = $12, \
             remark = $13, remark1 = $14, remark2 = $15, state = $16, deleted = $17, by_pid = $18, \
             version = fixed_cars.version + 1, seq = $19, changed_at = $20 RETURNING version",
        )
        .bind(&car.park_code)
        .bind(&car.uuid)
        .bind(&car.plate_no)
        .bind(&car.owner)
        .bind(car.car_type)
        .bind(&car.space_no)
        .bind(&car.tel)
        .bind(car.monthly_fee)
        .bind(car.balance)
        .bind(&car.start_time)
        .bind(&car.end_time)
        .bind(&car.group_uuid)
        .bind(&car.remark)
        .bind(&car.remark1)
        .bind(&car.remark2)
        .bind(car.state)
        .bind(car.deleted)
        .bind(&car.by_pid)
        .bind(seq)
        .bind(&car.changed_at)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(FixedCar { version, ..car.clone() })
    }

    /// Moves a fixed car's end to `to` in one statement: from exactly
    /// `from` when given (undoing a renewal only if nothing moved it since),
    /// else only later (a renewal never shortens a card). Whether it moved.
    pub async fn move_fixed_car_end(
        &self,
        park_code: &str,
        uuid: &str,
        from: Option<&str>,
        to: &str,
        now: &str,
    ) -> Result<bool, StoreError> {
        let _writer = self.writer().await;
        let mut conn = self.pool.acquire().await?;
        let mut tx = conn.begin().await?;
        let seq = next_seq(&mut tx, "fixed_cars").await?;
        let done = sqlx::query(
            "UPDATE fixed_cars SET end_time = $4, version = version + 1, seq = $5, changed_at = $6 \
             WHERE park_code = $1 AND uuid = $2 AND deleted = 0 AND (($3 = '' AND end_time < $4) OR end_time = $3)",
        )
        .bind(park_code)
        .bind(uuid)
        .bind(from.unwrap_or_default())
        .bind(to)
        .bind(seq)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn fixed_car(&self, park_code: &str, uuid: &str) -> Result<Option<FixedCar>, StoreError> {
        let sql = format!("SELECT {CAR_COLUMNS} FROM fixed_cars WHERE park_code = $1 AND uuid = $2");
        Ok(sqlx::query_as(&sql).bind(park_code).bind(uuid).fetch_optional(&self.pool).await?)
    }

    /// The fixed cars (not deleted) of a plate in a lot.
    pub async fn fixed_cars_of_plate(&self, park_code: &str, plate_no: &str) -> Result<Vec<FixedCar>, StoreError> {
        let sql = format!(
            "SELECT {CAR_COLUMNS} FROM fixed_cars WHERE park_code = $1 AND plate_no = $2 AND deleted = 0 ORDER BY end_time DESC"
        );
        Ok(sqlx::query_as(&sql).bind(park_code).bind(plate_no).fetch_all(&self.pool).await?)
    }

    /// A lot's month cards as Bolink pages them (2.33): fixed cars not
    /// deleted and not stored-value (71–75), optionally one plate's or one
    /// card's, in a stable order; (how many match, this page).
    pub async fn month_cards(
        &self,
        park_code: &str,
        plate_no: Option<&str>,
        uuid: Option<&str>,
        offset: i64,
        limit: i64,
    ) -> Result<(i64, Vec<FixedCar>), StoreError> {
        let filter = "FROM fixed_cars WHERE park_code = $1 AND deleted = 0 AND (car_type < 71 OR car_type > 75) \
             AND ($2 = '' OR plate_no = $2) AND ($3 = '' OR uuid = $3)";
        let (plate, uuid) = (plate_no.unwrap_or(""), uuid.unwrap_or(""));
        let count: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) {filter}"))
            .bind(park_code)
            .bind(plate)
            .bind(uuid)
            .fetch_one(&self.pool)
            .await?;
        let sql = format!("SELECT {CAR_COLUMNS} {filter} ORDER BY uuid LIMIT $4 OFFSET $5");
        let page = sqlx::query_as(&sql)
            .bind(park_code)
            .bind(plate)
            .bind(uuid)
            .bind(limit)
            .bind(offset)
            .fetch_all(&self.pool)
            .await?;
        Ok((count, page))
    }

    /// A plate's fixed cars at every lot (not deleted), at most 20.
    pub async fn fixed_cars_of(&self, plate_no: &str) -> Result<Vec<FixedCar>, StoreError> {
        let sql = format!(
            "SELECT {CAR_COLUMNS} FROM fixed_cars WHERE plate_no = $1 AND deleted = 0 ORDER BY park_code, uuid LIMIT 20"
        );
        Ok(sqlx::query_as(&sql).bind(plate_no).fetch_all(&self.pool).await?)
    }

    /// Fixed cars, deleted ones included, of one lot or all.
    pub async fn fixed_cars(&self, park_code: Option<&str>, limit: i64) -> Result<Vec<FixedCar>, StoreError> {
        let sql = format!(
            "SELECT {CAR_COLUMNS} FROM fixed_cars WHERE ($1 IS NULL OR park_code = $1) ORDER BY changed_at DESC, uuid LIMIT $2"
        );
        Ok(sqlx::query_as(&sql).bind(park_code).bind(limit).fetch_all(&self.pool).await?)
    }

    /// A page of a lot's due fixed-car changes and how many are due; the
    /// served versions are noted as pulled.
    pub async fn pull_fixed_cars(
        &self,
        park_code: &str,
        offset: i64,
        limit: i64,
    ) -> Result<(i64, Vec<FixedCar>), StoreError> {
        self.pull(Queue::CARS, park_code, offset, limit, |c: &FixedCar| (c.uuid.clone(), c.version)).await
    }

    /// A page of one of the queues, in `seq` order, each served row's
    /// version noted as pulled, in one transaction.
    async fn pull<T>(
        &self,
        q: Queue,
        park_code: &str,
        offset: i64,
        limit: i64,
        key: impl Fn(&T) -> (String, i64),
    ) -> Result<(i64, Vec<T>), StoreError>
    where
        T: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> + Send + Unpin,
    {
        let _writer = self.writer().await;
        let mut conn = self.pool.acquire().await?;
        let mut tx = conn.begin().await?;
        let count = format!("SELECT COUNT(*) FROM {} WHERE park_code = $1 AND synced_version < version", q.table);
        let total: i64 = sqlx::query_scalar(&count).bind(park_code).fetch_one(&mut *tx).await?;
        let page = format!(
            "SELECT {} FROM {} WHERE park_code = $1 AND synced_version < version ORDER BY seq, {} LIMIT $2 OFFSET $3",
            q.columns, q.table, q.key
        );
        let rows: Vec<T> = sqlx::query_as(&page).bind(park_code).bind(limit).bind(offset).fetch_all(&mut *tx).await?;
        let mark = format!("UPDATE {} SET pulled_version = $3 WHERE park_code = $1 AND {} = $2", q.table, q.key);
        for row in &rows {
            let (id, version) = key(row);
            sqlx::query(&mark).bind(park_code).bind(id).bind(version).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok((total, rows))
    }

    /// Notes the plate a Qingdao lot's white list now holds for a fixed car
    /// (`None`: none), once the change that put it there is stored.
    pub async fn set_listed_plate(&self, park_code: &str, uuid: &str, plate: Option<&str>) -> Result<(), StoreError> {
        sqlx::query("UPDATE fixed_cars SET listed_plate = $3 WHERE park_code = $1 AND uuid = $2")
            .bind(park_code)
            .bind(uuid)
            .bind(plate)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The plate a Qingdao lot's white list holds for a fixed car.
    pub async fn listed_plate(&self, park_code: &str, uuid: &str) -> Result<Option<String>, StoreError> {
        let plate: Option<Option<String>> =
            sqlx::query_scalar("SELECT listed_plate FROM fixed_cars WHERE park_code = $1 AND uuid = $2")
                .bind(park_code)
                .bind(uuid)
                .fetch_optional(&self.pool)
                .await?;
        Ok(plate.flatten())
    }

    /// Marks fixed-car versions the lot applied; a version newer than the
    /// stored one, or an unknown uuid, marks nothing. Returns how many did.
    pub async fn sync_fixed_cars(&self, park_code: &str, versions: &[(String, i64)]) -> Result<u64, StoreError> {
        let _writer = self.writer().await;
        let mut conn = self.pool.acquire().await?;
        let mut tx = conn.begin().await?;
        let mut n = 0;
        for (uuid, version) in versions {
            n += sqlx::query(
                "UPDATE fixed_cars SET synced_version = $3 \
                 WHERE park_code = $1 AND uuid = $2 AND $3 <= version AND $3 > synced_version",
            )
            .bind(park_code)
            .bind(uuid)
            .bind(*version)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        }
        tx.commit().await?;
        Ok(n)
    }
}
