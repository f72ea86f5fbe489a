//! The city's day across all lots, each figure in one grouped query (the
//! dashboard's overview and `/api/admin/overview` read these, for a city
//! of a thousand lots as for eight).

use chrono::NaiveDate;

use super::{Store, StoreError, day_range};

/// A count per lot.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct PerLot {
    pub parking_code: String,
    pub n: i64,
}

/// A lot's day so far (`lot_status`' counts of today).
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct LotDay {
    pub parking_code: String,
    pub entries: i64,
    pub exits: i64,
    pub orphan_exits: i64,
}

/// The city's berths in one 10-minute slot of a day: each lot's first
/// state in the slot, summed.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Slot {
    /// `HH:m` (the slot's first minute digit: `08:3` is 08:30–08:39).
    pub slot: String,
    pub occupied: i64,
    pub capacity: i64,
    /// Lots heard in the slot that reported their berths in it.
    pub lots: i64,
    /// Lots heard in the slot.
    pub heard: i64,
}

impl Store {
    /// Each lot's entries (deleted ones not counted, as in reconciliation),
    /// exits and exits without entry of `date`, counted while written; the
    /// platform counts its own day only (the overview's today), so an
    /// earlier day finds none.
    pub async fn day_by_lot(&self, date: NaiveDate) -> Result<Vec<LotDay>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT parking_code, entries_today AS entries, exits_today AS exits, orphans_today AS orphan_exits \
             FROM lot_status WHERE counted_day = $1",
        )
        .bind(date.to_string())
        .fetch_all(&self.pool)
        .await?)
    }

    /// 10-minute slots of the day each lot was heard in.
    pub async fn online_slots_by_lot(&self, date: NaiveDate) -> Result<Vec<PerLot>, StoreError> {
        let (from, to) = day_range(date);
        Ok(sqlx::query_as(
            "SELECT parking_code, COUNT(*) AS n FROM online_slots WHERE slot >= $1 AND slot < $2 GROUP BY parking_code",
        )
        .bind(&from[..16])
        .bind(&to[..16])
        .fetch_all(&self.pool)
        .await?)
    }

    /// Downlinks past their confirm deadline and still retried, per lot.
    pub async fn overdue_by_lot(&self, now: &str) -> Result<Vec<PerLot>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT parking_code, COUNT(*) AS n FROM downlinks WHERE state IN ('queued', 'published') \
             AND deadline_at < $1 GROUP BY parking_code",
        )
        .bind(now)
        .fetch_all(&self.pool)
        .await?)
    }

    /// The city's occupancy through a day, slot by slot: each lot's first
    /// state in the slot, summed over the lots that reported in it.
    pub async fn occupancy(&self, date: NaiveDate) -> Result<Vec<Slot>, StoreError> {
        let (from, to) = day_range(date);
        Ok(sqlx::query_as(
            "SELECT substr(o.slot, 12, 4) AS slot, CAST(COALESCE(SUM(b.occupied), 0) AS BIGINT) AS occupied, \
             CAST(COALESCE(SUM(b.open_berths), 0) AS BIGINT) AS capacity, COUNT(b.parking_code) AS lots, \
             COUNT(*) AS heard FROM online_slots o LEFT JOIN berth_slots b \
             ON b.parking_code = o.parking_code AND b.slot = o.slot \
             WHERE o.slot >= $1 AND o.slot < $2 GROUP BY o.slot ORDER BY o.slot",
        )
        .bind(&from[..16])
        .bind(&to[..16])
        .fetch_all(&self.pool)
        .await?)
    }

    /// Every lot's latest description: name, address, map position.
    pub async fn parking_infos(&self) -> Result<Vec<LotPlace>, StoreError> {
        Ok(sqlx::query_as("SELECT parking_code, name, address, longitude, latitude FROM parking_info")
            .fetch_all(&self.pool)
            .await?)
    }

    /// A lot's name as its description gave it.
    /// The lot's tariff as it describes it to drivers, if it did.
    pub async fn lot_tariff(&self, parking_code: &str) -> Result<Option<String>, StoreError> {
        let tariff: Option<Option<String>> =
            sqlx::query_scalar("SELECT tariff FROM parking_info WHERE parking_code = $1")
                .bind(parking_code)
                .fetch_optional(&self.pool)
                .await?;
        Ok(tariff.flatten())
    }

    pub async fn lot_name(&self, parking_code: &str) -> Result<Option<String>, StoreError> {
        let name: Option<Option<String>> = sqlx::query_scalar("SELECT name FROM parking_info WHERE parking_code = $1")
            .bind(parking_code)
            .fetch_optional(&self.pool)
            .await?;
        Ok(name.flatten())
    }
}

/// Where a lot is, as the city's map shows it.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct LotPlace {
    pub parking_code: String,
    pub name: Option<String>,
    pub address: Option<String>,
    pub longitude: Option<String>,
    pub latitude: Option<String>,
}
