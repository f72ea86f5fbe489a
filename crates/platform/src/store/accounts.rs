//! People, their console sessions, integrations' API tokens (`accounts`,
//! `console_sessions`, `api_tokens`) and the audit trail (`audit`).
//! Passwords arrive here hashed; tokens and session ids as their SHA-256.

use serde::Serialize;

use super::{Store, StoreError};

onepark_sql::column_enum! {
    /// What a person or an integration may do (docs/operations.md, "Accounts").
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
    #[serde(rename_all = "lowercase")]
    pub enum Role in "accounts.role" as text {
        /// The city administrator: every lot, every change.
        Admin = "admin",
        /// A lot operator: only the lots assigned.
        Operator = "operator",
        /// Reads everything, changes nothing.
        Auditor = "auditor",
        /// One lot's booth staff: reads that lot, may open its barriers.
        Booth = "booth",
    }
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Admin, Role::Operator, Role::Auditor, Role::Booth];

    /// Whether the role is limited to the lots assigned to it.
    pub fn scoped(self) -> bool {
        matches!(self, Role::Operator | Role::Booth)
    }

    pub fn label(self) -> (&'static str, &'static str) {
        match self {
            Role::Admin => ("城市管理员", "City administrator"),
            Role::Operator => ("车场运营", "Lot operator"),
            Role::Auditor => ("审计", "Auditor"),
            Role::Booth => ("岗亭收费员", "Booth staff"),
        }
    }
}

/// A person who logs in (without the password hash).
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Account {
    pub name: String,
    pub role: Role,
    /// The lots of an operator or a booth account; empty for the others.
    pub lots: Vec<String>,
    pub created_at: String,
    pub changed_at: String,
}

#[derive(sqlx::FromRow)]
struct AccountRow {
    name: String,
    role: Role,
    lots: String,
    password: String,
    created_at: String,
    changed_at: String,
}

impl AccountRow {
    fn split(self) -> (Account, String) {
        let lots = serde_json::from_str(&self.lots).unwrap_or_default();
        (
            Account {
                name: self.name,
                role: self.role,
                lots,
                created_at: self.created_at,
                changed_at: self.changed_at,
            },
            self.password,
        )
    }
}

fn lots_text(lots: &[String]) -> String {
    serde_json::to_string(lots).unwrap_or_else(|_| "[]".into())
}

/// An integration's token (without its hash).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiToken {
    pub name: String,
    pub role: Role,
    pub lots: Vec<String>,
    pub created_at: String,
}

#[derive(sqlx::FromRow)]
struct TokenRow {
    name: String,
    role: Role,
    lots: String,
    created_at: String,
}

impl From<TokenRow> for ApiToken {
    fn from(r: TokenRow) -> Self {
        ApiToken {
            name: r.name,
            role: r.role,
            lots: serde_json::from_str(&r.lots).unwrap_or_default(),
            created_at: r.created_at,
        }
    }
}

/// A live console session: whose, and the form token of its pages.
#[derive(Clone, Debug)]
pub struct ConsoleSession {
    pub account: Account,
    pub csrf: String,
}

#[derive(sqlx::FromRow)]
struct SessionRow {
    csrf: String,
    #[sqlx(flatten)]
    account: AccountRow,
}

/// One change in the audit trail.
#[derive(Clone, Debug, Default, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    pub id: String,
    /// When the change was asked (yyyy-MM-dd HH:mm:ss).
    pub at: String,
    /// An account name, `token:<name>` (an integration), `admin_token`, `cli` or `driver`.
    pub actor: String,
    pub role: String,
    /// The address it came from (`-` from the command line).
    pub client: String,
    /// list, refund, write_off, barrier, command, account, token, lot, integrator, signup, …
    pub kind: String,
    /// The lot it concerns, if one.
    pub parking_code: String,
    /// What was changed: a plate, an order id, an account name.
    pub subject: String,
    /// JSON of what it was, if anything.
    pub old_value: Option<String>,
    /// JSON of what it became (or was asked to become).
    pub new_value: Option<String>,
    pub reason: String,
    /// attempted (cut short: no outcome was recorded), done or failed.
    pub outcome: String,
    /// Why it failed, or the change's own answer.
    pub detail: String,
}

/// Filters of an audit search; empty strings mean "any".
#[derive(Clone, Debug, Default)]
pub struct AuditQuery {
    pub from: String,
    pub to: String,
    pub actor: String,
    pub kind: String,
    pub parking_code: String,
    /// Only these lots' entries, and the entries of no lot made by `own` (a scoped reader).
    pub lots: Option<Vec<String>>,
    pub own: String,
    /// Only entries older than this (at, id): the next page of an export.
    pub before: Option<(String, String)>,
    pub limit: i64,
    pub offset: i64,
}

impl Store {
    /// Adds an account; false if the name is taken.
    pub async fn add_account(&self, account: &Account, hash: &str) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "INSERT INTO accounts (name, role, lots, password, created_at, changed_at) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(&account.name)
        .bind(account.role)
        .bind(lots_text(&account.lots))
        .bind(hash)
        .bind(&account.created_at)
        .bind(&account.changed_at)
        .execute(&self.pool)
        .await?;
        Ok(n.rows_affected() == 1)
    }

    pub async fn accounts(&self) -> Result<Vec<Account>, StoreError> {
        let rows: Vec<AccountRow> =
            sqlx::query_as("SELECT * FROM accounts ORDER BY name").fetch_all(&self.pool).await?;
        Ok(rows.into_iter().map(|r| r.split().0).collect())
    }

    /// An account and its password hash.
    pub async fn account(&self, name: &str) -> Result<Option<(Account, String)>, StoreError> {
        let row: Option<AccountRow> =
            sqlx::query_as("SELECT * FROM accounts WHERE name = $1").bind(name).fetch_optional(&self.pool).await?;
        Ok(row.map(AccountRow::split))
    }

    /// Removes an account and ends its sessions; false if there was none.
    pub async fn remove_account(&self, name: &str) -> Result<bool, StoreError> {
        let _writer = self.writer().await;
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM console_sessions WHERE account = $1").bind(name).execute(&mut *tx).await?;
        let n = sqlx::query("DELETE FROM accounts WHERE name = $1").bind(name).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(n.rows_affected() == 1)
    }

    /// Sets a password and ends the account's sessions but `keep` (the one
    /// that changed it); false if there is no such account.
    pub async fn set_password(
        &self,
        name: &str,
        hash: &str,
        now: &str,
        keep: Option<&str>,
    ) -> Result<bool, StoreError> {
        let _writer = self.writer().await;
        let mut tx = self.pool.begin().await?;
        let n = sqlx::query("UPDATE accounts SET password = $2, changed_at = $3 WHERE name = $1")
            .bind(name)
            .bind(hash)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM console_sessions WHERE account = $1 AND id_hash <> $2")
            .bind(name)
            .bind(keep.unwrap_or_default())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(n.rows_affected() == 1)
    }

    /// Whether any account may administer the city (the console says how to make one if not).
    pub async fn has_admin(&self) -> Result<bool, StoreError> {
        let n: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM accounts WHERE role = 'admin'").fetch_one(&self.pool).await?;
        Ok(n > 0)
    }

    /// Opens a session (expired ones of everyone are dropped on the way).
    pub async fn open_session(
        &self,
        id_hash: &str,
        account: &str,
        csrf: &str,
        client: &str,
        now_s: i64,
        expires_s: i64,
    ) -> Result<(), StoreError> {
        let _writer = self.writer().await;
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM console_sessions WHERE expires_s <= $1").bind(now_s).execute(&mut *tx).await?;
        sqlx::query(
            "INSERT INTO console_sessions (id_hash, account, csrf, client, created_s, expires_s) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id_hash)
        .bind(account)
        .bind(csrf)
        .bind(client)
        .bind(now_s)
        .bind(expires_s)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The live session of this id hash, with its account as it is now.
    pub async fn session(&self, id_hash: &str, now_s: i64) -> Result<Option<ConsoleSession>, StoreError> {
        let row: Option<SessionRow> = sqlx::query_as(
            "SELECT s.csrf, a.* FROM console_sessions s JOIN accounts a ON a.name = s.account \
             WHERE s.id_hash = $1 AND s.expires_s > $2",
        )
        .bind(id_hash)
        .bind(now_s)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| ConsoleSession { csrf: r.csrf, account: r.account.split().0 }))
    }

    pub async fn close_session(&self, id_hash: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM console_sessions WHERE id_hash = $1").bind(id_hash).execute(&self.pool).await?;
        Ok(())
    }

    /// Adds an integration's token; false if the name is taken.
    pub async fn add_token(&self, token: &ApiToken, hash: &str) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "INSERT INTO api_tokens (name, role, lots, token_hash, created_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(&token.name)
        .bind(token.role)
        .bind(lots_text(&token.lots))
        .bind(hash)
        .bind(&token.created_at)
        .execute(&self.pool)
        .await?;
        Ok(n.rows_affected() == 1)
    }

    pub async fn tokens(&self) -> Result<Vec<ApiToken>, StoreError> {
        let rows: Vec<TokenRow> = sqlx::query_as("SELECT name, role, lots, created_at FROM api_tokens ORDER BY name")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(ApiToken::from).collect())
    }

    /// The integration whose token has this SHA-256.
    pub async fn token(&self, hash: &str) -> Result<Option<ApiToken>, StoreError> {
        let row: Option<TokenRow> =
            sqlx::query_as("SELECT name, role, lots, created_at FROM api_tokens WHERE token_hash = $1")
                .bind(hash)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(ApiToken::from))
    }

    pub async fn remove_token(&self, name: &str) -> Result<bool, StoreError> {
        let n = sqlx::query("DELETE FROM api_tokens WHERE name = $1").bind(name).execute(&self.pool).await?;
        Ok(n.rows_affected() == 1)
    }

    /// Writes an audit entry (before its change: outcome `attempted`).
    pub async fn put_audit(&self, e: &AuditEntry) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO audit (id, at, actor, role, client, kind, parking_code, subject, old_value, new_value, reason, outcome, detail) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(&e.id)
        .bind(&e.at)
        .bind(&e.actor)
        .bind(&e.role)
        .bind(&e.client)
        .bind(&e.kind)
        .bind(&e.parking_code)
        .bind(&e.subject)
        .bind(&e.old_value)
        .bind(&e.new_value)
        .bind(&e.reason)
        .bind(&e.outcome)
        .bind(&e.detail)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Records how an audited change ended.
    pub async fn finish_audit(
        &self,
        id: &str,
        outcome: &str,
        detail: &str,
        old_value: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE audit SET outcome = $2, detail = $3, old_value = COALESCE($4, old_value) WHERE id = $1")
            .bind(id)
            .bind(outcome)
            .bind(detail)
            .bind(old_value)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Audit entries, newest first.
    pub async fn audit(&self, q: &AuditQuery) -> Result<Vec<AuditEntry>, StoreError> {
        let mut sql = String::from(
            "SELECT * FROM audit WHERE ($1 = '' OR at >= $1) AND ($2 = '' OR at < $2) AND ($3 = '' OR actor = $3) \
             AND ($4 = '' OR kind = $4) AND ($5 = '' OR parking_code = $5)",
        );
        let lots = q.lots.as_deref();
        if let Some(lots) = lots {
            sql.push_str(" AND (parking_code IN (");
            // $8 onwards, one per lot; an empty list matches no lot.
            sql.push_str(&placeholders(8, lots.len()));
            sql.push_str(") OR (parking_code = '' AND actor = $7))");
        }
        let n = 8 + lots.map_or(0, <[String]>::len);
        if q.before.is_some() {
            sql.push_str(&format!(" AND (at < ${n} OR (at = ${n} AND id < ${}))", n + 1));
        }
        sql.push_str(" ORDER BY at DESC, id DESC LIMIT $6 OFFSET ");
        sql.push_str(&format!("{}", q.offset.max(0)));
        let mut query = sqlx::query_as(&sql)
            .bind(&q.from)
            .bind(&q.to)
            .bind(&q.actor)
            .bind(&q.kind)
            .bind(&q.parking_code)
            .bind(q.limit)
            .bind(&q.own);
        for lot in lots.unwrap_or_default() {
            query = query.bind(lot);
        }
        if let Some((at, id)) = &q.before {
            query = query.bind(at).bind(id);
        }
        Ok(query.fetch_all(&self.pool).await?)
    }
}

/// `$first, $first+1, …` for `n` values (`NULL` when there are none, so
/// `IN (NULL)` matches nothing).
pub(super) fn placeholders(first: usize, n: usize) -> String {
    if n == 0 {
        return "NULL".into();
    }
    (first..first + n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}
