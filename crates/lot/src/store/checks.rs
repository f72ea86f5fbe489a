//! The daily reconciliation's days (`day_checks`): pending until the
//! platform's check of the day balances, tried again with backoff, never
//! given up (`jobs::nightly`); shown in `/api/status` and `/metrics`.

use super::{Store, StoreError};

/// A day the platform's check has not balanced yet.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PendingDay {
    /// yyyy-MM-dd
    pub check_date: String,
    /// Tries so far.
    pub attempts: i64,
    /// The next try (local yyyy-MM-dd HH:mm:ss).
    pub next_try: String,
    /// The last pass's marks, or why it failed (empty before the first try).
    pub last_outcome: String,
}

impl Store {
    /// Puts a day in line (due at `now`) unless it is there already.
    pub async fn day_to_check(&self, date: &str, now: &str) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        sqlx::query(
            "INSERT INTO day_checks (check_date, state, next_try, updated_at) VALUES (?1, 'pending', ?2, ?2) \
             ON CONFLICT (check_date) DO NOTHING",
        )
        .bind(date)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// What one try of a day found: balanced ends it; otherwise it is
    /// pending again from `next_try`, one attempt more.
    pub async fn day_checked(
        &self,
        date: &str,
        balanced: bool,
        outcome: &str,
        next_try: &str,
        now: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        sqlx::query(
            "INSERT INTO day_checks (check_date, state, attempts, next_try, last_outcome, updated_at) \
             VALUES (?1, ?2, 1, ?3, ?4, ?5) \
             ON CONFLICT (check_date) DO UPDATE SET state = ?2, attempts = day_checks.attempts + 1, \
             next_try = ?3, last_outcome = ?4, updated_at = ?5",
        )
        .bind(date)
        .bind(if balanced { "balanced" } else { "pending" })
        .bind(next_try)
        .bind(outcome)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Days not balanced yet, oldest first.
    pub async fn unbalanced_days(&self) -> Result<Vec<PendingDay>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT check_date, attempts, next_try, last_outcome FROM day_checks \
             WHERE state = 'pending' ORDER BY check_date",
        )
        .fetch_all(&self.pool)
        .await?)
    }
}
