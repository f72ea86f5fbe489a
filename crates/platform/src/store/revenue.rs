//! The revenue report's figures: what lots report they took (`bills`, by
//! payment method, the booth's cash and cards included) and what the
//! platform itself took online (`payments`, net of refunds), per day or
//! month and per lot.

use super::{Store, StoreError};

/// One line of the report: a period, a lot, a source and a channel.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct Takings {
    /// yyyy-MM-dd or yyyy-MM.
    pub period: String,
    pub parking_code: String,
    /// `lot` (the lot's bills) or `online` (the platform's payments).
    pub source: String,
    /// The lot's method (`paidType` code, as text) or the platform's channel name.
    pub channel: String,
    pub count: i64,
    /// Fen; online takings net of refunds.
    pub fen: i64,
}

/// The report's filters; empty strings mean "any".
#[derive(Clone, Debug, Default)]
pub struct TakingsQuery {
    /// yyyy-MM-dd HH:mm:ss, half-open.
    pub from: String,
    pub to: String,
    /// By month instead of by day.
    pub monthly: bool,
    pub parking_code: String,
    pub lots: Option<Vec<String>>,
}

impl Store {
    pub async fn takings(&self, q: &TakingsQuery) -> Result<Vec<Takings>, StoreError> {
        let width = if q.monthly { 7 } else { 10 };
        let scope = match &q.lots {
            Some(lots) => format!(" AND parking_code IN ({})", super::accounts::placeholders(4, lots.len())),
            None => String::new(),
        };
        let sql = format!(
            "SELECT substr(deal_time, 1, {width}) AS period, parking_code, 'lot' AS source, \
             CAST(paid_type AS TEXT) AS channel, COUNT(*) AS count, COALESCE(SUM(actual_pay), 0) AS fen FROM bills \
             WHERE deal_time >= $1 AND deal_time < $2 AND ($3 = '' OR parking_code = $3){scope} \
             GROUP BY substr(deal_time, 1, {width}), parking_code, paid_type \
             UNION ALL \
             SELECT substr(deal_time, 1, {width}) AS period, parking_code, 'online' AS source, channel, COUNT(*) AS count, \
             COALESCE(SUM(actual_pay - refunded), 0) AS fen FROM payments \
             WHERE state IN ('paid', 'refunded') AND deal_time >= $1 AND deal_time < $2 \
             AND ($3 = '' OR parking_code = $3){scope} \
             GROUP BY substr(deal_time, 1, {width}), parking_code, channel \
             ORDER BY period, parking_code, source, channel"
        );
        let mut query = sqlx::query_as(&sql).bind(&q.from).bind(&q.to).bind(&q.parking_code);
        for lot in q.lots.iter().flatten() {
            query = query.bind(lot);
        }
        Ok(query.fetch_all(&self.pool).await?)
    }
}

/// A plate that owes: its open bills across the city.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Owing {
    pub plate_no: String,
    pub bills: i64,
    pub fen: i64,
    /// The oldest open bill's time.
    pub since: String,
    /// Lots owed, how many.
    pub lots: i64,
}

impl Store {
    /// Plates with open arrears (at these lots, if limited), the most owed first.
    pub async fn owing(&self, q: &OwingQuery<'_>) -> Result<Vec<Owing>, StoreError> {
        let scope = match q.lots {
            Some(lots) => format!(" AND parking_code IN ({})", super::accounts::placeholders(6, lots.len())),
            None => String::new(),
        };
        let sql = format!(
            "SELECT plate_no, COUNT(*) AS bills, COALESCE(SUM(should_pay), 0) AS fen, MIN(bill_time) AS since, \
             COUNT(DISTINCT parking_code) AS lots FROM arrears WHERE state = 'open' AND plate_no LIKE $1 \
             AND ($4 = '' OR bill_time >= $4) AND ($5 = '' OR bill_time < $5){scope} \
             GROUP BY plate_no ORDER BY fen DESC, plate_no LIMIT $2 OFFSET $3"
        );
        let pattern = format!("%{}%", q.plate_part.replace(['%', '_', '\\'], ""));
        let mut query = sqlx::query_as(&sql).bind(pattern).bind(q.limit).bind(q.offset.max(0)).bind(q.from).bind(q.to);
        for lot in q.lots.unwrap_or_default() {
            query = query.bind(lot);
        }
        Ok(query.fetch_all(&self.pool).await?)
    }
}

/// The arrears page's filters; empty strings mean "any".
#[derive(Clone, Copy, Debug, Default)]
pub struct OwingQuery<'a> {
    pub lots: Option<&'a [String]>,
    pub plate_part: &'a str,
    /// Bills billed at or after / before (yyyy-MM-dd HH:mm:ss).
    pub from: &'a str,
    pub to: &'a str,
    pub limit: i64,
    pub offset: i64,
}
