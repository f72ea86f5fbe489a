//! Reconciliation: the lots' daily checks (`check_records`, uploadCheckRecord
//! and the answer given) and what the platform counts and lists of a day to
//! compare with them (downloadUID reads the uid pages).

use chrono::NaiveDate;
pub use onepark_domain::record::DayCounts;
use onepark_domain::record::{DayCheck, Kind};

use super::{Store, StoreError, day_range};

/// A lot's check of one day, as kept.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct CheckRow {
    pub received_at: String,
    /// The lot's counts, `arrive,leave,photo,payNum,payTotal` ([`DayCounts`]'s text).
    pub lot_counts: String,
    pub account_mark: i64,
    pub photo_mark: i64,
}

/// A lot's day whose last check did not balance.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct UnbalancedCheck {
    pub parking_code: String,
    pub check_date: String,
    pub account_mark: i64,
    pub photo_mark: i64,
    /// When the lot last checked it.
    pub received_at: String,
}

/// The bills of a day: how many, and their total in fen.
#[derive(sqlx::FromRow)]
struct Paid {
    bills: i64,
    total: i64,
}

impl Store {
    /// The platform's own counts for one lot and day, as uploadCheckRecord
    /// defines them: entries by arrival, exits by exit, photos by photo
    /// time, bills and their total by deal time.
    pub async fn day_counts(&self, parking_code: &str, date: NaiveDate) -> Result<DayCounts, StoreError> {
        let (from, to) = day_range(date);
        let count = |sql| {
            sqlx::query_scalar::<_, i64>(sql)
                .bind(parking_code)
                .bind(from.as_str())
                .bind(to.as_str())
                .fetch_one(&self.pool)
        };
        let arrive = count(
            "SELECT COUNT(*) FROM entries WHERE parking_code = $1 AND deleted = 0 \
             AND arrive_time >= $2 AND arrive_time < $3",
        )
        .await?;
        let leave =
            count("SELECT COUNT(*) FROM exits WHERE parking_code = $1 AND end_time >= $2 AND end_time < $3").await?;
        let photo =
            count("SELECT COUNT(*) FROM photos WHERE parking_code = $1 AND photo_time >= $2 AND photo_time < $3")
                .await?;
        let paid: Paid = sqlx::query_as(
            "SELECT COUNT(*) AS bills, CAST(COALESCE(SUM(actual_pay), 0) AS BIGINT) AS total FROM bills \
             WHERE parking_code = $1 AND deal_time >= $2 AND deal_time < $3",
        )
        .bind(parking_code)
        .bind(&from)
        .bind(&to)
        .fetch_one(&self.pool)
        .await?;
        Ok(DayCounts { arrive, leave, photo, pay_num: paid.bills, pay_total: paid.total })
    }

    /// Keeps a daily check and the answer given (the later of two checks in
    /// the same second wins).
    pub async fn record_check(
        &self,
        m: &DayCheck,
        ours: &DayCounts,
        marks: (i64, i64),
        now: &str,
    ) -> Result<(), StoreError> {
        let theirs = m.counts;
        sqlx::query(
            "INSERT INTO check_records (parking_code, check_date, received_at, lot_counts, platform_counts, \
             account_mark, photo_mark) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (parking_code, check_date, received_at) DO UPDATE SET lot_counts = $4, \
             platform_counts = $5, account_mark = $6, photo_mark = $7",
        )
        .bind(&m.parking_code)
        .bind(m.date.to_string())
        .bind(now)
        .bind(theirs.to_string())
        .bind(ours.to_string())
        .bind(marks.0)
        .bind(marks.1)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Lot-days since `since` whose latest uploadCheckRecord did not
    /// balance (a lot keeps checking until it does), oldest first; at most 500.
    pub async fn unbalanced_checks(&self, since: NaiveDate) -> Result<Vec<UnbalancedCheck>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT c.parking_code, c.check_date, c.account_mark, c.photo_mark, c.received_at FROM check_records c \
             WHERE c.check_date >= $1 AND (c.account_mark <> 0 OR c.photo_mark <> 0) \
             AND c.received_at = (SELECT MAX(d.received_at) FROM check_records d \
             WHERE d.parking_code = c.parking_code AND d.check_date = c.check_date) \
             ORDER BY c.check_date, c.parking_code LIMIT 500",
        )
        .bind(since.to_string())
        .fetch_all(&self.pool)
        .await?)
    }

    /// The lot's latest uploadCheckRecord for a day.
    pub async fn latest_check(&self, parking_code: &str, date: NaiveDate) -> Result<Option<CheckRow>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT received_at, lot_counts, account_mark, photo_mark FROM check_records \
             WHERE parking_code = $1 AND check_date = $2 ORDER BY received_at DESC LIMIT 1",
        )
        .bind(parking_code)
        .bind(date.to_string())
        .fetch_optional(&self.pool)
        .await?)
    }

    /// A page of (uid, the lot's record id) of what the platform holds for
    /// one lot, day and record kind (downloadUID), in (uid, id) order after
    /// `after`: keyset paging, so a large day streams in constant memory.
    pub async fn uids_page(
        &self,
        parking_code: &str,
        date: NaiveDate,
        kind: Kind,
        after: Option<&(String, String)>,
        limit: i64,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let (table, id, time, extra) = match kind {
            Kind::Entry => ("entries", "arrival_id", "arrive_time", " AND deleted = 0"),
            Kind::Exit => ("exits", "exit_id", "end_time", ""),
            Kind::Bill => ("bills", "bill_id", "deal_time", ""),
            Kind::Photo => ("photos", "photo_id", "photo_time", ""),
        };
        let sql = format!(
            "SELECT uid, {id} FROM {table} WHERE parking_code = $1 AND {time} >= $2 AND {time} < $3{extra} \
             AND (uid > $4 OR (uid = $4 AND {id} > $5)) ORDER BY uid, {id} LIMIT $6"
        );
        let (from, to) = day_range(date);
        let (uid, record) = after.cloned().unwrap_or_default();
        Ok(sqlx::query_as(&sql)
            .bind(parking_code)
            .bind(from)
            .bind(to)
            .bind(uid)
            .bind(record)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?)
    }
}
