//! The parking cloud's MQ channel as stored: commands (downlinks of that
//! protocol, with who issued them), each lot's answer (`cloud_answers`), what
//! lots report besides records (`lot_events`) and their online state
//! (`cloud_lot_state`).

use serde::Serialize;
use sqlx::Connection;

use super::downlinks::{DOWNLINKS, insert_downlink};
use super::{Downlink, DownlinkState, Store, StoreError};

/// A lot's answer to a command.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CommandAnswer {
    pub park_code: String,
    /// 1 done, 0 refused (the lot's `code`).
    pub code: i64,
    pub msg: String,
    /// The answer's `dataItems`, as JSON text.
    pub data_items: String,
    pub answered_at: String,
    /// From the command's creation to this answer's storing.
    pub latency_ms: i64,
}

/// What storing an answer found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answered {
    /// The first answer of this lot: latency in milliseconds from the command's creation.
    New { latency_ms: i64 },
    /// This lot answered before (a retry crossed its answer): nothing changed.
    Again,
    /// No such command for this lot.
    Unknown,
}

/// The alarms and events page's filters; empty strings mean "any".
#[derive(Clone, Debug, Default)]
pub struct EventSearch {
    pub lots: Option<Vec<String>>,
    pub park_code: String,
    pub kind: String,
    pub plate_part: String,
    pub from: String,
    pub to: String,
    pub before: Option<(String, String)>,
    pub limit: i64,
    pub offset: i64,
}

/// A report that is not a record: an alarm, a manual lift, a notice, a bill.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LotEvent {
    pub park_code: String,
    pub uuid: String,
    pub service_id: String,
    /// alarm | lift | notice | bill | info
    pub kind: String,
    pub plate_no: Option<String>,
    pub channel: Option<String>,
    pub summary: String,
    /// The report's dataItems as received (JSON).
    pub content: String,
    pub event_time: String,
    pub received_at: String,
}

/// The kinds of lot events: the cloud's MQ reports (alarm … info) and what
/// Bolink charging systems report besides records (staff … internal).
pub const EVENT_KINDS: [&str; 22] = [
    "alarm",
    "lift",
    "notice",
    "bill",
    "info",
    "staff",
    "shift",
    "handover",
    "log",
    "plan",
    "price",
    "lane",
    "cartype",
    "confirm",
    "storedvalue",
    "coupon",
    "invoice",
    "internal",
    "renewal",
    "black",
    "forward",
    "correction",
];

/// A lot's latest online report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CloudLotState {
    pub park_code: String,
    pub seen_at: String,
    pub mac: Option<String>,
    pub state: Option<String>,
}

impl Store {
    /// Queues a command issued by `issued_by`.
    pub async fn queue_command(&self, d: &Downlink, issued_by: &str) -> Result<(), StoreError> {
        let data = (d.clone(), issued_by.to_owned());
        self.group
            .write(DOWNLINKS, data, |conn, (d, by), _| {
                Box::pin(async move {
                    let mut tx = conn.begin().await?;
                    insert_downlink(&mut tx, d).await?;
                    sqlx::query("UPDATE downlinks SET issued_by = $2 WHERE request_id = $1")
                        .bind(d.request_id)
                        .bind(by.as_str())
                        .execute(&mut *tx)
                        .await?;
                    tx.commit().await?;
                    Ok(())
                })
            })
            .await
    }

    /// Stores `park_code`'s answer to command `request_id` of protocol
    /// `protocol`. A command to one lot is then done (refused when `code` is
    /// not 1, its msg kept); a broadcast collects an answer per lot and stays
    /// as it is. Only a lot the command went to may answer it.
    #[allow(clippy::too_many_arguments)]
    pub async fn answer_command(
        &self,
        request_id: i64,
        park_code: &str,
        broadcast_code: &str,
        code: i64,
        msg: &str,
        data_items: &str,
        now: &str,
        now_ms: i64,
    ) -> Result<Answered, StoreError> {
        let data =
            (park_code.to_owned(), broadcast_code.to_owned(), msg.to_owned(), data_items.to_owned(), now.to_owned());
        self.group
            .write(DOWNLINKS, data, move |conn, (park_code, broadcast, msg, items, now), _| {
                Box::pin(async move {
                    let mut tx = conn.begin().await?;
                    let found: Option<(String, DownlinkState, i64)> = sqlx::query_as(
                        "SELECT parking_code, state, created_ms FROM downlinks WHERE request_id = $1 AND protocol = 'cloudpark'",
                    )
                    .bind(request_id)
                    .fetch_optional(&mut *tx)
                    .await?;
                    let Some((to, state, created_ms)) = found else { return Ok(Answered::Unknown) };
                    let is_broadcast = &to == broadcast;
                    if !is_broadcast && &to != park_code {
                        return Ok(Answered::Unknown);
                    }
                    let latency_ms = (now_ms - created_ms).max(0);
                    let inserted = sqlx::query(
                        "INSERT INTO cloud_answers (request_id, park_code, code, msg, data_items, answered_at, latency_ms) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (request_id, park_code) DO NOTHING",
                    )
                    .bind(request_id)
                    .bind(park_code.as_str())
                    .bind(code)
                    .bind(msg.chars().take(256).collect::<String>())
                    .bind(items.as_str())
                    .bind(now.as_str())
                    .bind(latency_ms)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    if inserted == 0 {
                        return Ok(Answered::Again);
                    }
                    if !is_broadcast && matches!(state, DownlinkState::Queued | DownlinkState::Published | DownlinkState::Expired) {
                        let state = if code == 1 { DownlinkState::Confirmed } else { DownlinkState::Refused };
                        sqlx::query(
                            "UPDATE downlinks SET state = $2, confirmed_at = $3, confirm_success = $4, confirm_ms = $5, \
                             confirm_reason = $6 WHERE request_id = $1",
                        )
                        .bind(request_id)
                        .bind(state)
                        .bind(now.as_str())
                        .bind(onepark_sql::Flag(code == 1))
                        .bind(latency_ms)
                        .bind((code != 1).then(|| msg.chars().take(256).collect::<String>()))
                        .execute(&mut *tx)
                        .await?;
                    }
                    tx.commit().await?;
                    Ok(Answered::New { latency_ms })
                })
            })
            .await
    }

    /// A command, who issued it, and its answers so far.
    pub async fn command(&self, request_id: i64) -> Result<Option<(Downlink, String, Vec<CommandAnswer>)>, StoreError> {
        let Some(d) = self.downlink(request_id).await? else { return Ok(None) };
        let by: Option<String> = sqlx::query_scalar("SELECT issued_by FROM downlinks WHERE request_id = $1")
            .bind(request_id)
            .fetch_one(&self.pool)
            .await?;
        let answers = sqlx::query_as(
            "SELECT park_code, code, msg, data_items, answered_at, latency_ms FROM cloud_answers WHERE request_id = $1 \
             ORDER BY answered_at, park_code",
        )
        .bind(request_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(Some((d, by.unwrap_or_default(), answers)))
    }

    /// Stores a report; false when this lot's uuid was stored before.
    pub async fn put_lot_event(&self, e: &LotEvent) -> Result<bool, StoreError> {
        let e = e.clone();
        self.group
            .write(&format!("events:{}", e.park_code), e, |conn, e, _| {
                Box::pin(async move {
                    let n = sqlx::query(
                        "INSERT INTO lot_events (park_code, uuid, service_id, kind, plate_no, channel, summary, content, \
                         event_time, received_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
                         ON CONFLICT (park_code, uuid) DO NOTHING",
                    )
                    .bind(&e.park_code)
                    .bind(&e.uuid)
                    .bind(&e.service_id)
                    .bind(&e.kind)
                    .bind(&e.plate_no)
                    .bind(&e.channel)
                    .bind(&e.summary)
                    .bind(&e.content)
                    .bind(&e.event_time)
                    .bind(&e.received_at)
                    .execute(&mut *conn)
                    .await?
                    .rows_affected();
                    Ok(n == 1)
                })
            })
            .await
    }

    /// Reports, newest first: of one lot and/or one kind.
    pub async fn lot_events(
        &self,
        park_code: Option<&str>,
        kind: Option<&str>,
        limit: i64,
    ) -> Result<Vec<LotEvent>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT park_code, uuid, service_id, kind, plate_no, channel, summary, content, event_time, received_at \
             FROM lot_events WHERE ($1 = '' OR park_code = $1) AND ($2 = '' OR kind = $2) \
             ORDER BY received_at DESC, uuid LIMIT $3",
        )
        .bind(park_code.unwrap_or_default())
        .bind(kind.unwrap_or_default())
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    /// The alarms and events page's search: by lot (or a reader's lots),
    /// kind, a part of the plate, and the event's time (half-open); newest
    /// first; `before` (event_time, uuid) pages an export by key.
    pub async fn find_events(&self, q: &EventSearch) -> Result<Vec<LotEvent>, StoreError> {
        let mut sql = String::from(
            "SELECT park_code, uuid, service_id, kind, plate_no, channel, summary, content, event_time, received_at \
             FROM lot_events WHERE ($1 = '' OR park_code = $1) AND ($2 = '' OR kind = $2) \
             AND ($3 = '' OR event_time >= $3) AND ($4 = '' OR event_time < $4) AND ($5 = '%' OR plate_no LIKE $5)",
        );
        let mut n = 7;
        if let Some(lots) = &q.lots {
            sql.push_str(&format!(" AND park_code IN ({})", super::accounts::placeholders(n, lots.len())));
            n += lots.len();
        }
        if q.before.is_some() {
            sql.push_str(&format!(" AND (event_time < ${n} OR (event_time = ${n} AND uuid < ${}))", n + 1));
        }
        sql.push_str(&format!(" ORDER BY event_time DESC, uuid DESC LIMIT $6 OFFSET {}", q.offset.max(0)));
        // No plate asked: every event, those without a plate too.
        let part = q.plate_part.replace(['%', '_', '\\'], "");
        let pattern = if part.is_empty() { "%".to_owned() } else { format!("%{part}%") };
        let mut query =
            sqlx::query_as(&sql).bind(&q.park_code).bind(&q.kind).bind(&q.from).bind(&q.to).bind(pattern).bind(q.limit);
        for lot in q.lots.iter().flatten() {
            query = query.bind(lot);
        }
        if let Some((at, uuid)) = &q.before {
            query = query.bind(at).bind(uuid);
        }
        Ok(query.fetch_all(&self.pool).await?)
    }

    /// Notes a lot's online report (2.1) or running state (2.12, `state`).
    pub async fn touch_cloud_lot(
        &self,
        park_code: &str,
        now: &str,
        mac: Option<&str>,
        state: Option<&str>,
    ) -> Result<(), StoreError> {
        let data = (park_code.to_owned(), now.to_owned(), mac.map(str::to_owned), state.map(str::to_owned));
        self.group
            .write(&format!("events:{park_code}"), data, |conn, (code, now, mac, state), _| {
                Box::pin(async move {
                    sqlx::query(
                        "INSERT INTO cloud_lot_state (park_code, seen_at, mac, state) VALUES ($1, $2, $3, $4) \
                         ON CONFLICT (park_code) DO UPDATE SET seen_at = $2, \
                         mac = COALESCE($3, cloud_lot_state.mac), state = COALESCE($4, cloud_lot_state.state)",
                    )
                    .bind(code.as_str())
                    .bind(now.as_str())
                    .bind(mac.as_deref())
                    .bind(state.as_deref())
                    .execute(&mut *conn)
                    .await?;
                    Ok(())
                })
            })
            .await
    }

    pub async fn cloud_lot_states(&self) -> Result<Vec<CloudLotState>, StoreError> {
        Ok(sqlx::query_as("SELECT park_code, seen_at, mac, state FROM cloud_lot_state ORDER BY park_code")
            .fetch_all(&self.pool)
            .await?)
    }
}
