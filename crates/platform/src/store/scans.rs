//! No-plate entries by scanning a lane's code (`bolink_scans`): each scan
//! sent to a lot and the lot's answer, so a quick rescan is answered from
//! the earlier one; and the entry a scan's pseudo-plate made.

use super::{Store, StoreError};

/// One scan as stored.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct Scan {
    pub id: String,
    pub access_id: String,
    pub channel_id: String,
    pub user_id: String,
    pub car_number: String,
    pub asked_at: String,
    pub asked_ms: i64,
    /// 1 entered, 0 refused, 2 pending; `None` before the lot answered.
    pub state: Option<i64>,
    pub errmsg: Option<String>,
    /// The plate the lot made its order with (its marker included).
    pub plate: Option<String>,
    pub answered_at: Option<String>,
}

const COLUMNS: &str =
    "id, access_id, channel_id, user_id, car_number, asked_at, asked_ms, state, errmsg, plate, answered_at";

impl Store {
    /// Forgets scans asked before `before_ms` (a day's are what the rules read); how many.
    pub async fn prune_scans(&self, before_ms: i64) -> Result<u64, StoreError> {
        let done =
            sqlx::query("DELETE FROM bolink_scans WHERE asked_ms < $1").bind(before_ms).execute(&self.pool).await?;
        Ok(done.rows_affected())
    }

    pub async fn put_scan(&self, s: &Scan) -> Result<(), StoreError> {
        sqlx::query(&format!(
            "INSERT INTO bolink_scans ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        ))
        .bind(&s.id)
        .bind(&s.access_id)
        .bind(&s.channel_id)
        .bind(&s.user_id)
        .bind(&s.car_number)
        .bind(&s.asked_at)
        .bind(s.asked_ms)
        .bind(s.state)
        .bind(&s.errmsg)
        .bind(&s.plate)
        .bind(&s.answered_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The lot's answer to a scan.
    pub async fn answer_scan(&self, id: &str, state: i64, errmsg: Option<&str>, at: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE bolink_scans SET state = $2, errmsg = $3, answered_at = $4 WHERE id = $1")
            .bind(id)
            .bind(state)
            .bind(errmsg)
            .bind(at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The entrance lanes a lot's entries name (at most 50).
    pub async fn entry_lanes(&self, parking_code: &str) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT DISTINCT entry_num FROM entries WHERE parking_code = $1 AND entry_num <> '' ORDER BY entry_num LIMIT 50",
        )
        .bind(parking_code)
        .fetch_all(&self.pool)
        .await?)
    }

    /// A lot answered about `plate` (a pseudo-plate, maybe with the lot's
    /// marker before it): the scans of it still waiting take the answer.
    pub async fn answer_scans_of(
        &self,
        access_id: &str,
        plate: &str,
        state: i64,
        errmsg: Option<&str>,
        at: &str,
    ) -> Result<u64, StoreError> {
        let n = sqlx::query(
            "UPDATE bolink_scans SET state = $3, errmsg = $4, answered_at = $5, plate = $2 WHERE access_id = $1 \
             AND $2 LIKE '%' || car_number AND (state IS NULL OR state = 2)",
        )
        .bind(access_id)
        .bind(plate)
        .bind(state)
        .bind(errmsg)
        .bind(at)
        .execute(&self.pool)
        .await?;
        Ok(n.rows_affected())
    }

    /// A user's latest scan at a lot.
    pub async fn last_scan(&self, access_id: &str, user_id: &str) -> Result<Option<Scan>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM bolink_scans WHERE access_id = $1 AND user_id = $2 ORDER BY asked_ms DESC LIMIT 1"
        );
        Ok(sqlx::query_as(&sql).bind(access_id).bind(user_id).fetch_optional(&self.pool).await?)
    }

    /// A user's latest scan at a lot that the lot let in.
    pub async fn last_entered_scan(&self, access_id: &str, user_id: &str) -> Result<Option<Scan>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM bolink_scans WHERE access_id = $1 AND user_id = $2 AND state = 1 \
             ORDER BY asked_ms DESC LIMIT 1"
        );
        Ok(sqlx::query_as(&sql).bind(access_id).bind(user_id).fetch_optional(&self.pool).await?)
    }

    pub async fn scan(&self, id: &str) -> Result<Option<Scan>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM bolink_scans WHERE id = $1");
        Ok(sqlx::query_as(&sql).bind(id).fetch_optional(&self.pool).await?)
    }

    /// The latest entry at `parking_code` whose plate is `car_number` with
    /// any marker before it, arrived at or after `since` (and, `open_only`,
    /// not left yet): (uid, plate).
    pub async fn entry_by_pseudo_plate(
        &self,
        parking_code: &str,
        car_number: &str,
        since: &str,
        open_only: bool,
    ) -> Result<Option<(String, String)>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT e.uid, e.plate_no FROM entries e WHERE e.parking_code = $1 AND e.plate_no LIKE $2 \
             AND e.arrive_time >= $3 AND e.deleted = 0 AND ($4 = 0 OR NOT EXISTS (SELECT 1 FROM exits x \
             WHERE x.parking_code = e.parking_code AND x.uid = e.uid)) ORDER BY e.arrive_time DESC LIMIT 1",
        )
        .bind(parking_code)
        .bind(format!("%{car_number}"))
        .bind(since)
        .bind(i64::from(open_only))
        .fetch_optional(&self.pool)
        .await?)
    }
}
