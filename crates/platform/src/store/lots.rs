//! Lots: those registered at run time (`lot_access`), their basic
//! information (`parking_info`), their latest state (`lot_status`), their
//! berth time series (`berth_states`) and the 10-minute slots they were heard
//! in (`online_slots`). The last three are written once per group-commit
//! batch through [`super::shared`]; this file reads them.

use chrono::NaiveDate;
use onepark_domain::record::{BerthState, LotInfo, LotRef, Protocol};
use onepark_domain::time::format_time;
use serde::Serialize;
use sqlx::Any;
use sqlx::any::AnyArguments;
use sqlx::query::Query;

use super::{Store, StoreError, day_range};

/// The latest state of a lot that has reported.
#[derive(Clone, Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LotStatus {
    pub parking_code: String,
    pub access_id: String,
    pub last_seen: String,
    pub last_heartbeat: Option<String>,
    #[sqlx(rename = "total")]
    pub total_berths: Option<i64>,
    pub open_berths: Option<i64>,
    pub free_berths: Option<i64>,
    pub state_at: Option<String>,
    /// When the lot was first heard from (unknown for lots older than the column).
    pub first_seen: Option<String>,
}

/// One point of a lot's berth time series.
#[derive(Clone, Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct BerthPoint {
    pub at: String,
    pub total: i64,
    #[sqlx(rename = "open_berths")]
    pub open: i64,
    #[sqlx(rename = "free_berths")]
    pub free: i64,
}

/// A lot registered at run time, as stored: its protocol, and what that
/// protocol knows it by (Qingdao: key text and profile name; Bolink: the
/// key its SDK signs with, `secret`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredLot {
    pub protocol: Protocol,
    pub access_id: String,
    pub public_key: String,
    pub profile: String,
    pub parking_codes: Vec<String>,
    pub secret: Option<String>,
    /// Its berths, when its protocol does not report them (Bolink).
    pub berths: Option<i64>,
}

/// A `lot_access` row: the parking codes are a JSON array of strings.
#[derive(sqlx::FromRow)]
struct LotAccess {
    protocol: String,
    access_id: String,
    public_key: String,
    profile: String,
    parking_codes: String,
    secret: Option<String>,
    berths: Option<i64>,
}

impl TryFrom<LotAccess> for StoredLot {
    type Error = sqlx::Error;

    fn try_from(row: LotAccess) -> Result<StoredLot, sqlx::Error> {
        let parking_codes = serde_json::from_str(&row.parking_codes)
            .map_err(|e| sqlx::Error::ColumnDecode { index: "lot_access.parking_codes".into(), source: Box::new(e) })?;
        let protocol = Protocol::parse(&row.protocol).ok_or_else(|| sqlx::Error::ColumnDecode {
            index: "lot_access.protocol".into(),
            source: format!("unknown protocol `{}`", row.protocol).into(),
        })?;
        Ok(StoredLot {
            protocol,
            access_id: row.access_id,
            public_key: row.public_key,
            profile: row.profile,
            parking_codes,
            secret: row.secret,
            berths: row.berths,
        })
    }
}

impl Store {
    /// Records a berth state: time series plus latest state.
    pub async fn put_state(&self, lot: &LotRef, m: &BerthState, now: &str) -> Result<(), StoreError> {
        let data = (m.clone(), lot.access_id.clone(), now.to_owned());
        self.group
            .write(&m.parking_code, data, |_, (m, access_id, now), shared| {
                shared.berths(&m.parking_code, access_id, &format_time(m.at), now, m.berths.counts());
                Box::pin(async { Ok(()) })
            })
            .await
    }

    /// Marks a lot as alive.
    pub async fn heartbeat(&self, access_id: &str, parking_code: &str, now: &str) -> Result<(), StoreError> {
        let data = (access_id.to_owned(), parking_code.to_owned(), now.to_owned());
        self.group
            .write(parking_code, data, |_, (access_id, parking_code, now), shared| {
                shared.heartbeat(parking_code, access_id, now);
                Box::pin(async { Ok(()) })
            })
            .await
    }

    /// Keeps the latest basic information of a lot.
    pub async fn put_parking_info(&self, lot: &LotRef, m: &LotInfo, now: &str) -> Result<(), StoreError> {
        let upsert = sqlx::query(
            "INSERT INTO parking_info (parking_code, name, address, longitude, latitude, access_id, received_at, \
             content, tariff) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (parking_code) DO UPDATE SET \
             name = $2, address = $3, longitude = $4, latitude = $5, access_id = $6, received_at = $7, content = $8, \
             tariff = $9",
        );
        lot_info_columns(upsert, m)
            .bind(&lot.access_id)
            .bind(now)
            .bind(&m.content)
            .bind(&m.tariff)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Descriptions stored before the city's columns existed (migration 9):
    /// (parking code, what the lot sent), for their link to fill in.
    pub async fn lot_infos_to_upgrade(&self) -> Result<Vec<(String, String)>, StoreError> {
        Ok(sqlx::query_as("SELECT parking_code, content FROM parking_info WHERE name IS NULL")
            .fetch_all(&self.pool)
            .await?)
    }

    /// Fills in the city's columns of a description stored before migration 9.
    pub async fn upgrade_lot_info(&self, m: &LotInfo) -> Result<(), StoreError> {
        let update = sqlx::query(
            "UPDATE parking_info SET name = $2, address = $3, longitude = $4, latitude = $5 \
             WHERE parking_code = $1 AND name IS NULL",
        );
        lot_info_columns(update, m).execute(&self.pool).await?;
        Ok(())
    }

    /// Registers (or replaces) a lot at run time.
    pub async fn add_lot(&self, lot: &StoredLot, now: &str) -> Result<(), StoreError> {
        let codes = serde_json::to_string(&lot.parking_codes).unwrap_or_default();
        sqlx::query(
            "INSERT INTO lot_access (access_id, public_key, profile, parking_codes, added_at, protocol, secret, berths) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (access_id) DO UPDATE SET public_key = $2, \
             profile = $3, parking_codes = $4, added_at = $5, protocol = $6, secret = $7, berths = $8",
        )
        .bind(&lot.access_id)
        .bind(&lot.public_key)
        .bind(&lot.profile)
        .bind(codes)
        .bind(now)
        .bind(lot.protocol.as_str())
        .bind(&lot.secret)
        .bind(lot.berths)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Removes a run-time lot; false when there was none.
    pub async fn remove_lot(&self, access_id: &str) -> Result<bool, StoreError> {
        let n = sqlx::query("DELETE FROM lot_access WHERE access_id = $1").bind(access_id).execute(&self.pool).await?;
        Ok(n.rows_affected() > 0)
    }

    pub async fn lots(&self) -> Result<Vec<StoredLot>, StoreError> {
        let rows: Vec<LotAccess> = sqlx::query_as(
            "SELECT protocol, access_id, public_key, profile, parking_codes, secret, berths FROM lot_access ORDER BY access_id",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(StoredLot::try_from).collect::<Result<_, _>>()?)
    }

    pub async fn lot(&self, access_id: &str) -> Result<Option<StoredLot>, StoreError> {
        let row: Option<LotAccess> = sqlx::query_as(
            "SELECT protocol, access_id, public_key, profile, parking_codes, secret, berths FROM lot_access WHERE access_id = $1",
        )
        .bind(access_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(StoredLot::try_from).transpose()?)
    }

    /// Latest state of every lot that has reported.
    /// The accessID a parking code reports under (from its records).
    pub async fn access_of(&self, parking_code: &str) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar("SELECT access_id FROM lot_status WHERE parking_code = $1")
            .bind(parking_code)
            .fetch_optional(&self.pool)
            .await?)
    }

    pub async fn lot_statuses(&self) -> Result<Vec<LotStatus>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT parking_code, access_id, last_seen, last_heartbeat, total, open_berths, free_berths, state_at, \
             first_seen FROM lot_status ORDER BY parking_code",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// A lot's berth counts between two local times.
    pub async fn berth_series(&self, parking_code: &str, from: &str, to: &str) -> Result<Vec<BerthPoint>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT at, total, open_berths, free_berths FROM berth_states WHERE parking_code = $1 \
             AND at >= $2 AND at < $3 ORDER BY at",
        )
        .bind(parking_code)
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?)
    }

    /// How many 10-minute slots of a day the lot was heard in.
    pub async fn online_slots(&self, parking_code: &str, date: NaiveDate) -> Result<i64, StoreError> {
        let (from, to) = day_range(date);
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM online_slots WHERE parking_code = $1 AND slot >= $2 AND slot < $3")
            .bind(parking_code)
            .bind(&from[..16])
            .bind(&to[..16])
            .fetch_one(&self.pool)
            .await?)
    }
}

/// Binds $1–$5 of a description's statement: its parking code and the city's columns.
fn lot_info_columns<'q>(query: Query<'q, Any, AnyArguments<'q>>, m: &'q LotInfo) -> Query<'q, Any, AnyArguments<'q>> {
    let (longitude, latitude) = m.position.clone().unzip();
    query.bind(&m.parking_code).bind(&m.name).bind(&m.address).bind(longitude).bind(latitude)
}
