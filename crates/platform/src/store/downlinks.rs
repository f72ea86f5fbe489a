//! Messages to lots (`downlinks`: queued → published → confirmed | refused | expired),
//! each for one link (`protocol`) with its kind (`interface`) and the bytes it
//! publishes (`payload`); published and retried by that link, confirmed by the lots.

use onepark_domain::record::Protocol;
use onepark_sql::Flag;
use serde::Serialize;
use sqlx::{AnyConnection, Connection};

use super::{Store, StoreError};

onepark_sql::column_enum! {
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
    #[serde(rename_all = "lowercase")]
    pub enum DownlinkState in "downlinks.state" as text {
        Queued = "queued",
        Published = "published",
        Confirmed = "confirmed",
        /// The lot confirmed with `success: false`: delivered, not applied (its reason kept).
        Refused = "refused",
        Expired = "expired",
    }
}

/// One message to a lot, as stored.
#[derive(Clone, Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Downlink {
    pub request_id: i64,
    /// The link that delivers it (`onepark_domain::record::Protocol`'s name).
    #[serde(skip)]
    pub protocol: String,
    pub access_id: String,
    pub parking_code: String,
    pub interface: String,
    pub topic: String,
    #[serde(skip)]
    pub payload: String,
    pub subject: String,
    pub created_at: String,
    #[serde(skip)]
    pub created_ms: i64,
    pub deadline_at: String,
    pub expires_at: String,
    pub state: DownlinkState,
    pub attempts: i64,
    pub next_attempt_at: String,
    pub last_published_at: Option<String>,
    pub confirmed_at: Option<String>,
    #[sqlx(try_from = "Flag<Option<bool>>")]
    pub confirm_success: Option<bool>,
    pub confirm_ms: Option<i64>,
    /// Why the lot refused it (`msg` of a confirm with `success: false`).
    pub confirm_reason: Option<String>,
}

/// A new message: who it goes to and what it carries (a link's announcer fills it in).
pub struct NewDownlink {
    pub request_id: i64,
    pub protocol: Protocol,
    pub access_id: String,
    pub parking_code: String,
    pub interface: String,
    pub topic: String,
    pub payload: String,
    pub subject: String,
}

impl NewDownlink {
    /// Queued at `now` (due at once), confirmed by `deadline`, retried until `expires`.
    pub fn queued(
        self,
        now: chrono::NaiveDateTime,
        created_ms: i64,
        deadline: chrono::NaiveDateTime,
        expires: chrono::NaiveDateTime,
    ) -> Downlink {
        use onepark_domain::time::format_time;
        Downlink {
            request_id: self.request_id,
            protocol: self.protocol.as_str().to_owned(),
            access_id: self.access_id,
            parking_code: self.parking_code,
            interface: self.interface,
            topic: self.topic,
            payload: self.payload,
            subject: self.subject,
            created_at: format_time(now),
            created_ms,
            deadline_at: format_time(deadline),
            expires_at: format_time(expires),
            state: DownlinkState::Queued,
            attempts: 0,
            next_attempt_at: format_time(now),
            last_published_at: None,
            confirmed_at: None,
            confirm_success: None,
            confirm_ms: None,
            confirm_reason: None,
        }
    }
}

/// What a confirm call found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Confirmed {
    /// First confirm: latency in milliseconds.
    Now { latency_ms: i64 },
    /// Confirmed before; nothing changed.
    Already,
    /// No such requestId for this accessID (or it expired long ago).
    Unknown,
}

/// The group-commit shard of every downlink write: they touch rows of many
/// lots at once (expiry), so they share one writer instead of one per lot.
pub(super) const DOWNLINKS: &str = "downlinks";

/// One attempt of a message a publisher means to send: its id, the attempts
/// it saw made, and when the next is due if this one is not confirmed.
#[derive(Clone, Debug)]
pub struct Claim {
    pub request_id: i64,
    pub seen: i64,
    pub next_attempt_at: String,
}

const DOWNLINK_COLUMNS: &str = "request_id, protocol, access_id, parking_code, interface, topic, payload, subject, created_at, \
     created_ms, deadline_at, expires_at, state, attempts, next_attempt_at, last_published_at, confirmed_at, \
     confirm_success, confirm_ms, confirm_reason";

impl Store {
    /// One link's messages due for (re)publishing at `now`, oldest first.
    pub async fn due_downlinks(&self, protocol: Protocol, now: &str, limit: i64) -> Result<Vec<Downlink>, StoreError> {
        let sql = format!(
            "SELECT {DOWNLINK_COLUMNS} FROM downlinks WHERE state IN ('queued', 'published') \
             AND next_attempt_at <= $1 AND protocol = $3 ORDER BY next_attempt_at, request_id LIMIT $2"
        );
        Ok(sqlx::query_as(&sql).bind(now).bind(limit).bind(protocol.as_str()).fetch_all(&self.pool).await?)
    }

    /// As [`Store::due_downlinks`], for the accessIDs in `lots` only (the
    /// lots whose connection this node holds), oldest first.
    pub async fn due_downlinks_of(
        &self,
        protocol: Protocol,
        now: &str,
        limit: i64,
        lots: &[String],
    ) -> Result<Vec<Downlink>, StoreError> {
        let mut due = Vec::new();
        // Cut as the multi-row writes are, so each statement text stays prepared.
        for range in super::row_chunks(lots.len()) {
            let chunk = &lots[range];
            let list = (0..chunk.len()).map(|i| format!("${}", i + 4)).collect::<Vec<_>>().join(", ");
            let sql = format!(
                "SELECT {DOWNLINK_COLUMNS} FROM downlinks WHERE state IN ('queued', 'published') \
                 AND next_attempt_at <= $1 AND protocol = $3 AND access_id IN ({list}) \
                 ORDER BY next_attempt_at, request_id LIMIT $2"
            );
            let mut query = sqlx::query_as(&sql).bind(now).bind(limit).bind(protocol.as_str());
            for lot in chunk {
                query = query.bind(lot);
            }
            due.extend(query.fetch_all(&self.pool).await?);
        }
        due.sort_by(|a: &Downlink, b: &Downlink| {
            (&a.next_attempt_at, a.request_id).cmp(&(&b.next_attempt_at, b.request_id))
        });
        due.truncate(usize::try_from(limit).unwrap_or(0));
        Ok(due)
    }

    /// The earliest time a message will be due (None: nothing pending).
    pub async fn next_due(&self) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar("SELECT MIN(next_attempt_at) FROM downlinks WHERE state IN ('queued', 'published')")
            .fetch_one(&self.pool)
            .await?)
    }

    /// Claims attempt number `seen + 1` of a message for this node: counts it
    /// and sets when to try again. False when another node claimed that
    /// attempt first (or the message was confirmed or expired meanwhile):
    /// then this node must not publish it. Each attempt goes out once,
    /// whichever nodes look at the queue.
    pub async fn claim_attempt(
        &self,
        request_id: i64,
        seen: i64,
        now: &str,
        next_attempt_at: &str,
    ) -> Result<bool, StoreError> {
        let claim = Claim { request_id, seen, next_attempt_at: next_attempt_at.to_owned() };
        Ok(self.claim_attempts(vec![claim], now).await?.first().copied().unwrap_or(false))
    }

    /// [`Store::claim_attempt`] for a publisher's whole pass, in one write
    /// of a few statements (one UPDATE per chunk of [`super::ROWS`]); whether
    /// each claim was won, in order. A statement each had been 10,000 round
    /// trips to the database for a city-wide broadcast.
    pub async fn claim_attempts(&self, claims: Vec<Claim>, now: &str) -> Result<Vec<bool>, StoreError> {
        if claims.is_empty() {
            return Ok(Vec::new());
        }
        let data = (claims, now.to_owned());
        self.group
            .write(DOWNLINKS, data, |conn, (claims, now), _| {
                Box::pin(async move {
                    // Rows of (request_id, attempts seen, next attempt, now);
                    // VALUES names its columns column1… on both databases.
                    const HEAD: &str = "UPDATE downlinks SET attempts = downlinks.attempts + 1, \
                         last_published_at = c.column4, next_attempt_at = c.column3, \
                         state = CASE WHEN downlinks.state = 'queued' THEN 'published' ELSE downlinks.state END \
                         FROM (VALUES ";
                    const TAIL: &str = ") AS c WHERE downlinks.request_id = c.column1 \
                         AND downlinks.attempts = c.column2 AND downlinks.state IN ('queued', 'published') \
                         RETURNING downlinks.request_id";
                    // All chunks or none: a pass that fails claims nothing.
                    let mut tx = conn.begin().await?;
                    let mut won = std::collections::HashSet::new();
                    for range in super::row_chunks(claims.len()) {
                        let sql = super::multi_row_insert(&tx, HEAD, 4, range.len(), TAIL);
                        let mut query = sqlx::query_scalar::<_, i64>(&sql);
                        for c in &claims[range] {
                            query = query.bind(c.request_id).bind(c.seen).bind(&c.next_attempt_at).bind(now.as_str());
                        }
                        won.extend(query.fetch_all(&mut *tx).await?);
                    }
                    tx.commit().await?;
                    Ok(claims.iter().map(|c| won.contains(&c.request_id)).collect())
                })
            })
            .await
    }

    /// Makes an accessID's already-published, unconfirmed messages due now:
    /// called when the lot (re)subscribes, so it need not wait for the
    /// backoff (after a broker restart its session is gone). Returns how many.
    pub async fn resend_now(&self, access_id: &str, now: &str) -> Result<u64, StoreError> {
        self.make_due(access_id, now, "state = 'published' AND next_attempt_at > $2").await
    }

    /// Makes every published, unconfirmed MQTT message (Qingdao's, the cloud's) due
    /// at `at`: the broker restarted, and what it held for lots is gone. How many.
    pub async fn republish_at(&self, at: &str) -> Result<u64, StoreError> {
        self.group
            .write(DOWNLINKS, at.to_owned(), |conn, at, _| {
                Box::pin(async move {
                    let done = sqlx::query(
                        "UPDATE downlinks SET next_attempt_at = $1 WHERE state = 'published' AND next_attempt_at > $1 \
                         AND protocol IN ('qdpark', 'cloudpark')",
                    )
                    .bind(at)
                    .execute(&mut *conn)
                    .await?;
                    Ok(done.rows_affected())
                })
            })
            .await
    }

    /// Whether a message about `subject` (a refund's id…) was ever stored for this lot.
    pub async fn told_about(&self, access_id: &str, subject: &str) -> Result<bool, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM downlinks WHERE access_id = $1 AND subject = $2")
            .bind(access_id)
            .bind(subject)
            .fetch_one(&self.pool)
            .await?;
        Ok(n > 0)
    }

    /// Whether any message about a subject starting `prefix` was stored for this lot.
    pub async fn told_about_any(&self, access_id: &str, prefix: &str) -> Result<bool, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM downlinks WHERE access_id = $1 AND subject LIKE $2")
            .bind(access_id)
            .bind(format!("{prefix}%"))
            .fetch_one(&self.pool)
            .await?;
        Ok(n > 0)
    }

    /// Makes every unconfirmed message of an accessID due now, so they go
    /// out in the order they were made (`due_downlinks` orders by time,
    /// then request id): a lot back after an outage hears them in order.
    pub async fn due_again(&self, access_id: &str, now: &str) -> Result<u64, StoreError> {
        self.make_due(access_id, now, "state IN ('queued', 'published')").await
    }

    /// Sets `next_attempt_at` to `now` for an accessID's messages matching `which` (SQL, a constant).
    async fn make_due(&self, access_id: &str, now: &str, which: &'static str) -> Result<u64, StoreError> {
        let data = (access_id.to_owned(), now.to_owned());
        self.group
            .write(DOWNLINKS, data, move |conn, (access_id, now), _| {
                Box::pin(async move {
                    let sql = format!("UPDATE downlinks SET next_attempt_at = $2 WHERE access_id = $1 AND {which}");
                    let done = sqlx::query(&sql).bind(access_id).bind(now).execute(&mut *conn).await?;
                    Ok(done.rows_affected())
                })
            })
            .await
    }

    /// Gives up on messages past their retry period; returns how many.
    pub async fn expire_downlinks(&self, now: &str) -> Result<u64, StoreError> {
        self.group
            .write(DOWNLINKS, now.to_owned(), |conn, now, _| {
                Box::pin(async move {
                    let done = sqlx::query(
                        "UPDATE downlinks SET state = 'expired' WHERE state IN ('queued', 'published') \
                         AND expires_at <= $1",
                    )
                    .bind(now)
                    .execute(&mut *conn)
                    .await?;
                    Ok(done.rows_affected())
                })
            })
            .await
    }

    /// A lot's confirm call for `request_id`: confirmed, or refused with the
    /// lot's reason when `success` is false (not re-published: the lot has
    /// said it cannot apply it). Only the accessID the message was sent to
    /// may confirm it; a repeat changes nothing.
    pub async fn confirm_downlink(
        &self,
        request_id: i64,
        access_id: &str,
        success: bool,
        reason: Option<&str>,
        now: &str,
        now_ms: i64,
    ) -> Result<Confirmed, StoreError> {
        let data = (access_id.to_owned(), now.to_owned(), reason.map(str::to_owned));
        self.group
            .write(DOWNLINKS, data, move |conn, (access_id, now, reason), _| {
                Box::pin(async move {
                    // One statement in the usual case (the first confirm):
                    // a confirm storm after a city-wide change is 10,000 of
                    // them, and each round trip to the database costs more
                    // than the work (a savepoint, a read and a write had
                    // been four).
                    let state = if success { DownlinkState::Confirmed } else { DownlinkState::Refused };
                    let latency_ms: Option<i64> = sqlx::query_scalar(
                        "UPDATE downlinks SET state = $5, confirmed_at = $3, confirm_success = $4, \
                         confirm_ms = CASE WHEN $6 > created_ms THEN $6 - created_ms ELSE 0 END, confirm_reason = $7 \
                         WHERE request_id = $1 AND access_id = $2 AND state NOT IN ('confirmed', 'refused') \
                         RETURNING confirm_ms",
                    )
                    .bind(request_id)
                    .bind(access_id.as_str())
                    .bind(now.as_str())
                    .bind(Flag(success))
                    .bind(state)
                    .bind(now_ms)
                    .bind(if success {
                        None
                    } else {
                        reason.as_deref().map(|r| r.chars().take(256).collect::<String>())
                    })
                    .fetch_optional(&mut *conn)
                    .await?;
                    if let Some(latency_ms) = latency_ms {
                        return Ok(Confirmed::Now { latency_ms });
                    }
                    // A repeat (confirmed or refused before), or not this lot's message.
                    let known: Option<i64> =
                        sqlx::query_scalar("SELECT request_id FROM downlinks WHERE request_id = $1 AND access_id = $2")
                            .bind(request_id)
                            .bind(access_id.as_str())
                            .fetch_optional(&mut *conn)
                            .await?;
                    Ok(if known.is_some() { Confirmed::Already } else { Confirmed::Unknown })
                })
            })
            .await
    }

    /// Downlinks for the admin API, newest first.
    pub async fn downlinks(
        &self,
        parking_code: Option<&str>,
        state: Option<DownlinkState>,
        limit: i64,
    ) -> Result<Vec<Downlink>, StoreError> {
        // One statement per filter: `($1 = '' OR parking_code = $1)` cannot
        // use an index, so a lot's latest message cost a walk over every
        // message stored (the downlink bench reading back 10,000 lots took
        // minutes). With the code given, `downlinks_lot` finds its rows.
        let filter = match (parking_code.is_some(), state.is_some()) {
            (true, true) => "WHERE parking_code = $1 AND state = $2",
            (true, false) => "WHERE parking_code = $1 AND $2 = ''",
            (false, true) => "WHERE $1 = '' AND state = $2",
            (false, false) => "WHERE $1 = '' AND $2 = ''",
        };
        let sql = format!("SELECT {DOWNLINK_COLUMNS} FROM downlinks {filter} ORDER BY request_id DESC LIMIT $3");
        Ok(sqlx::query_as(&sql)
            .bind(parking_code.unwrap_or_default())
            .bind(state.map(DownlinkState::as_str).unwrap_or_default())
            .bind(limit)
            .fetch_all(&self.pool)
            .await?)
    }

    pub async fn downlink(&self, request_id: i64) -> Result<Option<Downlink>, StoreError> {
        let sql = format!("SELECT {DOWNLINK_COLUMNS} FROM downlinks WHERE request_id = $1");
        Ok(sqlx::query_as(&sql).bind(request_id).fetch_optional(&self.pool).await?)
    }
}

/// Many downlinks in a few multi-row statements (chunks of [`super::ROWS`]).
pub(super) async fn insert_downlinks(conn: &mut AnyConnection, all: &[&Downlink]) -> Result<(), StoreError> {
    const HEAD: &str = "INSERT INTO downlinks (request_id, access_id, parking_code, interface, topic, payload, subject, \
         created_at, created_ms, deadline_at, expires_at, state, attempts, next_attempt_at, protocol) VALUES ";
    super::execute_rows(conn, HEAD, 15, "", all, |query, d| {
        query
            .bind(d.request_id)
            .bind(&d.access_id)
            .bind(&d.parking_code)
            .bind(&d.interface)
            .bind(&d.topic)
            .bind(&d.payload)
            .bind(&d.subject)
            .bind(&d.created_at)
            .bind(d.created_ms)
            .bind(&d.deadline_at)
            .bind(&d.expires_at)
            .bind(d.state)
            .bind(0i64)
            .bind(&d.next_attempt_at)
            .bind(&d.protocol)
    })
    .await?;
    Ok(())
}

pub(super) async fn insert_downlink(conn: &mut AnyConnection, d: &Downlink) -> Result<(), StoreError> {
    insert_downlinks(conn, &[d]).await
}
