//! Drains the outbox to the platform. Records of one session (one uid) go
//! strictly in order — an entry before its photo, exit and bill — while
//! different sessions are in flight together, so a backlog drains as fast as
//! the platform ingests. Records without a uid (berth state, heartbeat) are
//! ordered per interface.
//!
//! A record counts as delivered on resultCode 200, which the platform also
//! answers for an identical re-upload; resultCode 400 (the platform refuses
//! the content) parks the record for an operator instead of blocking its
//! session. Other failures are retried with exponential backoff (1 s doubling
//! to 5 min): per record when the platform answered (set aside after 30
//! attempts, about two hours), and for the whole sender when it could not be
//! reached — then one probe at a time goes out until the platform answers, so
//! an hour-long outage costs a few requests, not one per queued record.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use onepark_domain::time::{Zone, parse_time};
use onepark_proto::interface::Uplink;
use onepark_serve::clock::Clock;
use serde_json::Value;
use tokio::sync::Notify;
use tokio::task::JoinSet;

use crate::store::{Finished, Outgoing, Store};
use crate::uplink::{Client, UplinkError};

/// Where a link's rows go: each link has its own sender over its own rows.
#[derive(Clone)]
pub enum Transport {
    /// The Qingdao platform (sealed HTTP uploads).
    Qdpark(Client),
    /// A parking cloud's open API (signed JSON; `crate::cloud`).
    Cloudpark(crate::cloudlink::Client),
    /// A cloud speaking Bolink's SDK wire (`crate::bolinklink`): the
    /// records' uid is the `order_id`, no-plate markers as configured.
    Bolink(crate::bolinklink::Handle, String),
}

impl Transport {
    /// The `outbox.link` it sends.
    pub fn link(&self) -> &'static str {
        match self {
            Transport::Qdpark(_) => "qdpark",
            Transport::Cloudpark(_) => crate::cloudlink::LINK.name,
            Transport::Bolink(..) => crate::bolinklink::LINK.name,
        }
    }
}

/// Records held in memory for dispatch (bodies without photo files).
const WINDOW: usize = 1024;

/// Counters for metrics and tests.
#[derive(Debug, Default)]
pub struct OutboxStats {
    pub delivered: AtomicU64,
    /// Delivered within the spec's 5 s of the event.
    pub timely: AtomicU64,
    pub refused: AtomicU64,
    pub failed_attempts: AtomicU64,
    /// Attempts the platform answered "retry later" (429/503 + Retry-After).
    pub held: AtomicU64,
    /// Event → acknowledged of the last delivery, milliseconds.
    pub last_latency_ms: AtomicU64,
    /// Event → acknowledged of every delivery.
    pub latency: Latency,
    /// Platform clock minus ours, seconds, from the last heartbeat reply.
    pub clock_skew_secs: AtomicI64,
}

/// Beyond this the lot's timestamps would mislead the platform (issue: warn at 30 s).
pub const MAX_SKEW_SECS: i64 = 30;

/// Bucket bounds of the timeliness histogram, seconds: the spec's 5 s, and
/// the long tail an outage leaves.
pub const LATENCY_BUCKETS: [f64; 12] = [0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0, 3600.0];

/// The timeliness histogram over [`LATENCY_BUCKETS`] (prometheus-client's).
#[derive(Debug, Clone)]
pub struct Latency(pub onepark_serve::metrics::Histogram);

impl Default for Latency {
    fn default() -> Self {
        Latency(onepark_serve::metrics::histogram(&LATENCY_BUCKETS))
    }
}

impl Latency {
    pub fn observe_ms(&self, ms: u64) {
        self.0.observe(ms as f64 / 1000.0);
    }
}

pub fn backoff(attempts: i64) -> Duration {
    Duration::from_secs(1u64 << attempts.clamp(0, 9) as u32).min(Duration::from_secs(300))
}

/// How one upload attempt ended.
enum Attempt {
    Delivered {
        latency_ms: u64,
    },
    Refused(String),
    /// The platform answered but did not take the record.
    Failed(String),
    /// The platform could not be reached (or answered with no protocol reply).
    Unreachable(String),
    /// The platform asked us to wait (HTTP 429/503 with Retry-After: a
    /// throttle, or our clock is off). Not the record's fault: it keeps its
    /// attempts and the whole sender waits.
    Held {
        secs: u64,
        why: String,
    },
}

/// Pending records in id order, and which of them are on the wire.
#[derive(Default)]
struct Queue {
    rows: VecDeque<Outgoing>,
    last_id: i64,
    /// The last refill filled the window: more rows may wait in the store.
    more: bool,
    in_flight: HashSet<i64>,
}

impl Queue {
    /// Rows that may go now: the first pending row of each ordering key,
    /// due, not already in flight.
    fn ready(&self, now: i64, room: usize) -> Vec<Outgoing> {
        let mut seen = HashSet::new();
        let mut ready = Vec::new();
        for row in &self.rows {
            if ready.len() >= room {
                break;
            }
            let first = seen.insert(row.ordering_key());
            if first && !self.in_flight.contains(&row.id) && row.next_attempt_ms <= now {
                ready.push(row.clone());
            }
        }
        ready
    }

    /// When the earliest waiting head row falls due.
    fn next_due(&self) -> Option<i64> {
        let mut seen = HashSet::new();
        self.rows
            .iter()
            .filter(|r| seen.insert(r.ordering_key()) && !self.in_flight.contains(&r.id))
            .map(|r| r.next_attempt_ms)
            .min()
    }
}

/// The sender's decisions, without I/O: which rows go now, what the end of
/// an attempt means, when to look again. Time is passed in (`now`,
/// milliseconds since the Unix epoch), so a test moves it; [`run`] is the
/// driver that reads the store, the clock and the network.
struct Sender {
    queue: Queue,
    concurrency: usize,
    /// Consecutive rounds in which the platform was unreachable.
    outage: i64,
    /// No new attempt before this: an outage's backoff, or the platform's Retry-After.
    paused_until: i64,
}

impl Sender {
    fn new(concurrency: usize) -> Sender {
        Sender { queue: Queue::default(), concurrency, outage: 0, paused_until: 0 }
    }

    /// While the platform is unreachable only one probe is on the wire.
    fn limit(&self) -> usize {
        if self.outage > 0 { 1 } else { self.concurrency.max(1) }
    }

    /// The rows to send now, marked in flight.
    fn poll_transmit(&mut self, now: i64) -> Vec<Outgoing> {
        if now < self.paused_until {
            return Vec::new();
        }
        let rows = self.queue.ready(now, self.limit().saturating_sub(self.queue.in_flight.len()));
        self.queue.in_flight.extend(rows.iter().map(|r| r.id));
        rows
    }

    /// When to look again if nothing else happens. With no room on the wire
    /// a completion wakes the driver, not a timer.
    fn poll_timeout(&self, now: i64) -> i64 {
        if now < self.paused_until {
            return self.paused_until;
        }
        match self.queue.next_due() {
            Some(due) if self.queue.in_flight.len() < self.limit() => due,
            _ => now + 5000,
        }
    }

    /// One attempt ended: the row's new attempt count and outcome, to record.
    fn handle_attempt(
        &mut self,
        now: i64,
        row: &Outgoing,
        result: Attempt,
        stats: &OutboxStats,
    ) -> (i64, i64, Finished) {
        self.queue.in_flight.remove(&row.id);
        if let Attempt::Held { secs, why } = &result {
            let until = now + 1000 * (*secs).clamp(1, 3600) as i64;
            if until > self.paused_until {
                tracing::warn!(retry_in_secs = secs, reason = %why, "the platform asks to wait; holding the outbox");
                self.paused_until = until;
            }
        }
        let held = matches!(result, Attempt::Held { .. });
        let outcome = settle(row, result, stats, &mut self.outage, now);
        (row.id, row.attempts + i64::from(!held), outcome)
    }

    /// An upload task died (panicked, cancelled): its session is free for a retry.
    fn handle_lost(&mut self, id: i64) {
        self.queue.in_flight.remove(&id);
    }

    /// The completions that came together are settled; if one of them could
    /// not reach the platform, the whole sender holds off.
    fn handle_round(&mut self, now: i64, unreachable: bool) {
        if unreachable && now >= self.paused_until {
            tracing::warn!(retry_in = ?backoff(self.outage), "platform unreachable; holding the outbox");
            self.paused_until = now + backoff(self.outage).as_millis() as i64;
            self.outage += 1;
        }
    }

    /// The outcomes could not be recorded (a full disk): the rows are still
    /// pending in the store, so they stay in the queue and go again in a
    /// second — answered as identical re-uploads — until an outcome is kept.
    /// (Dropped from the queue, they would wait in the store for a restart:
    /// refills only read rows after the last one loaded.)
    fn handle_unrecorded(&mut self, now: i64, finished: &[(i64, i64, Finished)]) {
        let ids: HashSet<i64> = finished.iter().map(|(id, _, _)| *id).collect();
        for row in self.queue.rows.iter_mut().filter(|r| ids.contains(&r.id)) {
            row.next_attempt_ms = row.next_attempt_ms.max(now + UNRECORDED_RETRY_MS);
        }
    }

    /// The outcomes are recorded: finished rows leave the queue, retried
    /// ones wait for their next attempt.
    fn handle_recorded(&mut self, finished: Vec<(i64, i64, Finished)>) {
        let outcomes: HashMap<i64, (i64, Finished)> = finished.into_iter().map(|(id, a, f)| (id, (a, f))).collect();
        self.queue.rows.retain_mut(|row| match outcomes.get(&row.id) {
            Some((_, Finished::Delivered { .. } | Finished::Refused(_))) => false,
            Some((attempts, Finished::Retry { next_attempt_ms, .. })) => {
                row.attempts = *attempts;
                row.next_attempt_ms = *next_attempt_ms;
                true
            }
            None => true,
        });
    }
}

/// The sender: runs until the task is dropped; `wake` is notified whenever a
/// record is queued. At most `concurrency` uploads are in flight.
pub async fn run(
    store: Store,
    transport: Transport,
    zone: Zone,
    clock: Clock,
    wake: Arc<Notify>,
    stats: Arc<OutboxStats>,
    concurrency: usize,
) {
    let mut sender = Sender::new(concurrency);
    let mut flights: JoinSet<(Outgoing, Attempt)> = JoinSet::new();
    let mut tasks: HashMap<tokio::task::Id, i64> = HashMap::new();
    let mut refill = true;
    loop {
        let queue = &mut sender.queue;
        // A full window has nothing to load: the rows wait in the store for room.
        if queue.rows.len() < WINDOW && (refill || (queue.more && queue.rows.len() < WINDOW / 2)) {
            match store.pending_after(transport.link(), queue.last_id, WINDOW - queue.rows.len()).await {
                Ok(rows) => {
                    queue.more = rows.len() == WINDOW - queue.rows.len();
                    if let Some(last) = rows.last() {
                        queue.last_id = last.id;
                    }
                    queue.rows.extend(rows);
                    refill = false;
                }
                Err(e) => tracing::error!(error = %e, "outbox read failed; retrying"),
            }
        }
        let now = clock.millis();
        for row in sender.poll_transmit(now) {
            let (store, transport, stats, clock) = (store.clone(), transport.clone(), stats.clone(), clock.clone());
            let row_id = row.id;
            let task = flights.spawn(async move {
                let attempt = match &transport {
                    Transport::Qdpark(uplink) => attempt(&store, uplink, zone, &clock, &stats, &row).await,
                    Transport::Cloudpark(client) => cloud_attempt(&store, client, &clock, &row).await,
                    Transport::Bolink(handle, marker) => {
                        bolink_attempt(&store, handle, marker, zone, &clock, &row).await
                    }
                };
                (row, attempt)
            });
            tasks.insert(task.id(), row_id);
        }
        // A manual clock does not move while this sleeps: the sleep only
        // bounds how long until the sender looks at the clock again.
        let sleep = Duration::from_millis(u64::try_from(sender.poll_timeout(now) - now).unwrap_or(0).clamp(1, 5000));
        tokio::select! {
            Some(done) = flights.join_next_with_id(), if !flights.is_empty() => {
                let mut finished = Vec::new();
                let mut unreachable = false;
                for done in std::iter::once(done).chain(std::iter::from_fn(|| flights.try_join_next_with_id())) {
                    let (row, result) = match done {
                        Ok((task, (row, result))) => {
                            tasks.remove(&task);
                            (row, result)
                        }
                        // A task that panicked or was cancelled frees its session for a retry.
                        Err(e) => {
                            if let Some(id) = tasks.remove(&e.id()) {
                                sender.handle_lost(id);
                                tracing::error!(id, error = %e, "an upload task failed; the record will be retried");
                            }
                            continue;
                        }
                    };
                    unreachable |= matches!(result, Attempt::Unreachable(_));
                    finished.push(sender.handle_attempt(clock.millis(), &row, result, &stats));
                }
                sender.handle_round(clock.millis(), unreachable);
                match store.finish(&finished).await {
                    Ok(()) => sender.handle_recorded(finished),
                    Err(e) => {
                        tracing::error!(error = %e, "cannot record upload outcomes; the records go again");
                        sender.handle_unrecorded(clock.millis(), &finished);
                    }
                }
            }
            _ = wake.notified() => refill = true,
            _ = tokio::time::sleep(sleep) => {
                // Rows can also come from a restart's leftovers or a failed refill.
                if sender.queue.rows.is_empty() {
                    refill = true;
                }
            }
        }
    }
}

/// How long rows whose outcome could not be recorded wait before going again.
const UNRECORDED_RETRY_MS: i64 = 1000;

/// After this many failed attempts a record the platform keeps answering with
/// an error (≈ 2 hours at the 5-minute ceiling) is set aside like a refusal,
/// so one record cannot hold its session back for ever; reconciliation
/// re-sends it if the platform still lacks it.
const MAX_FAILED_ATTEMPTS: i64 = 30;

/// The bookkeeping for one finished attempt; a reply from the platform (any
/// reply) ends an outage.
fn settle(row: &Outgoing, result: Attempt, stats: &OutboxStats, outage: &mut i64, now: i64) -> Finished {
    match result {
        Attempt::Delivered { latency_ms } => {
            stats.delivered.fetch_add(1, Ordering::Relaxed);
            stats.last_latency_ms.store(latency_ms, Ordering::Relaxed);
            stats.latency.observe_ms(latency_ms);
            if latency_ms <= 5000 {
                stats.timely.fetch_add(1, Ordering::Relaxed);
            }
            *outage = 0;
            Finished::Delivered { at_ms: now }
        }
        Attempt::Refused(error) => {
            stats.refused.fetch_add(1, Ordering::Relaxed);
            tracing::error!(id = row.id, interface = row.interface, %error, "the platform refused a record");
            *outage = 0;
            Finished::Refused(error)
        }
        Attempt::Failed(error) if row.attempts + 1 >= MAX_FAILED_ATTEMPTS => {
            stats.refused.fetch_add(1, Ordering::Relaxed);
            tracing::error!(id = row.id, interface = row.interface, %error, "record failed {MAX_FAILED_ATTEMPTS} times; set aside");
            *outage = 0;
            Finished::Refused(format!("failed {MAX_FAILED_ATTEMPTS} times, last: {error}"))
        }
        Attempt::Failed(error) => {
            stats.failed_attempts.fetch_add(1, Ordering::Relaxed);
            let wait = backoff(row.attempts);
            tracing::warn!(id = row.id, interface = row.interface, %error, retry_in = ?wait, "upload failed");
            *outage = 0;
            Finished::Retry { next_attempt_ms: now + wait.as_millis() as i64, error }
        }
        Attempt::Held { why, .. } => {
            stats.held.fetch_add(1, Ordering::Relaxed);
            *outage = 0;
            // Same attempt count: waiting on the platform is not failing.
            Finished::Retry { next_attempt_ms: now, error: why }
        }
        Attempt::Unreachable(error) => {
            stats.failed_attempts.fetch_add(1, Ordering::Relaxed);
            // The sender as a whole waits (see `run`); the row also steps back a
            // little so the next probe is another record, in case this one is
            // the problem (a photo too slow for the link).
            let wait = backoff(row.attempts).min(Duration::from_secs(30));
            Finished::Retry { next_attempt_ms: now + wait.as_millis() as i64, error }
        }
    }
}

/// One upload to a parking cloud: the row as that API's report, the stay
/// named by the cloud's own recordNo when the cloud put the car in.
async fn cloud_attempt(store: &Store, client: &crate::cloudlink::Client, clock: &Clock, row: &Outgoing) -> Attempt {
    use onepark_cloudpark::Code;
    let Ok(body) = serde_json::from_str::<Value>(&row.body) else {
        return Attempt::Refused("stored body is not JSON".into());
    };
    let uid = row.uid.clone().unwrap_or_default();
    let record_no = match store.cloud_record_of(&uid).await {
        Ok(found) => found.unwrap_or(uid),
        Err(e) => return Attempt::Failed(format!("reading the cloud record of {uid}: {e}")),
    };
    let (service, biz) = match crate::cloudlink::report(&row.interface, &body, &record_no) {
        Ok(report) => report,
        Err(e) => return Attempt::Refused(e),
    };
    match client.call(service, &biz, clock.now().timestamp()).await {
        Ok(answer) if answer.is_ok() => {
            Attempt::Delivered { latency_ms: u64::try_from(clock.millis() - row.created_ms).unwrap_or(0) }
        }
        // The record is at fault: set aside for an operator.
        Ok(answer)
            if matches!(Code::from_number(answer.code), Some(Code::BadRequest | Code::Rejected | Code::TooLarge)) =>
        {
            Attempt::Refused(format!("{}: {}", answer.code, answer.msg))
        }
        // The link's set-up (pid, secret, codes), our clock, a replay of the same second, or the cloud itself:
        // not the record's fault, so it waits and goes again, signed anew.
        Ok(answer) => Attempt::Failed(format!("{} {}: {}", service.name(), answer.code, answer.msg)),
        Err(e @ crate::cloudlink::CloudError::Unreachable { .. }) => Attempt::Unreachable(e.to_string()),
        Err(e) => Attempt::Failed(e.to_string()),
    }
}

async fn bolink_attempt(
    store: &Store,
    handle: &crate::bolinklink::Handle,
    marker: &str,
    zone: Zone,
    clock: &Clock,
    row: &Outgoing,
) -> Attempt {
    use crate::bolinklink::{Answer, BolinkError};
    let Ok(body) = serde_json::from_str::<Value>(&row.body) else {
        return Attempt::Refused("stored body is not JSON".into());
    };
    let uid = row.uid.clone().unwrap_or_default();
    let prepaid = if row.interface == "uploadCarOutData" {
        let end = body.get("endTime").and_then(Value::as_str).unwrap_or_default();
        match store.online_bills_of(&uid).await {
            Ok(bills) => crate::bolinklink::Prepaid {
                online: bills
                    .iter()
                    .filter(|b| {
                        b.state == crate::store::BillState::Paid && b.kind != crate::store::BillKind::AfterLeave
                    })
                    .filter(|b| b.deal_time.as_deref().is_some_and(|t| t <= end))
                    .filter_map(|b| b.actual_pay)
                    .sum(),
                after_leave: bills
                    .iter()
                    .filter(|b| b.kind == crate::store::BillKind::AfterLeave)
                    .map(|b| b.should_pay)
                    .sum(),
            },
            Err(e) => return Attempt::Failed(format!("reading the bills of {uid}: {e}")),
        }
    } else {
        Default::default()
    };
    let (service, mut data) = match crate::bolinklink::report(&row.interface, &body, &uid, zone, marker, prepaid) {
        Ok(report) => report,
        Err(e) => return Attempt::Refused(e),
    };
    if row.interface == "uploadPhoto" {
        let id = body.get("photoID").and_then(Value::as_str).unwrap_or_default();
        match store.photo_file(id).await {
            Ok(Some(file)) => data["content"] = Value::String(file),
            Ok(None) => return Attempt::Refused(format!("photo {id} is no longer stored")),
            Err(e) => return Attempt::Failed(format!("reading photo {id}: {e}")),
        }
    }
    match handle.call(service, data).await {
        Ok(Answer::Stored) => {
            Attempt::Delivered { latency_ms: u64::try_from(clock.millis() - row.created_ms).unwrap_or(0) }
        }
        // An exact resend the cloud had stored (its answer was lost).
        Ok(Answer::Refused(e)) if e.contains("已处理过") => {
            Attempt::Delivered { latency_ms: u64::try_from(clock.millis() - row.created_ms).unwrap_or(0) }
        }
        // The cloud's own trouble: the record goes again.
        Ok(Answer::Refused(e)) if e.contains("服务器错误") || e.contains("token") || e.contains("签名") => {
            Attempt::Failed(format!("{service}: {e}"))
        }
        // As the Qingdao platform's 400: the record is at fault, so backfill will not send it again.
        Ok(Answer::Refused(e)) => Attempt::Refused(format!("400: {service}: {e}")),
        Ok(Answer::Throttled) => Attempt::Held { secs: 10, why: "request_over_times".into() },
        // A service answered with its whole reply (upload_carpic): `state` says.
        Ok(Answer::Reply(r)) => {
            let errmsg = r.get("errmsg").and_then(Value::as_str).unwrap_or_default().to_owned();
            match r.get("state").and_then(Value::as_i64) {
                Some(1) => {
                    Attempt::Delivered { latency_ms: u64::try_from(clock.millis() - row.created_ms).unwrap_or(0) }
                }
                _ if errmsg.contains("服务器错误") => Attempt::Failed(format!("{service}: {errmsg}")),
                _ => Attempt::Refused(format!("400: {service}: {errmsg}")),
            }
        }
        Err(e @ (BolinkError::Offline(_) | BolinkError::Timeout)) => Attempt::Unreachable(e.to_string()),
        Err(e) => Attempt::Failed(e.to_string()),
    }
}

async fn attempt(
    store: &Store,
    uplink: &Client,
    zone: Zone,
    clock: &Clock,
    stats: &OutboxStats,
    row: &Outgoing,
) -> Attempt {
    let Some(interface) = Uplink::from_name(&row.interface) else {
        return Attempt::Refused(format!("unknown interface {}", row.interface));
    };
    let Ok(body) = serde_json::from_str::<Value>(&row.body) else {
        return Attempt::Refused("stored body is not JSON".into());
    };
    let file = if interface == Uplink::UploadPhoto {
        let id = body.get("photoID").and_then(Value::as_str).unwrap_or_default();
        match store.photo_file(id).await {
            Ok(Some(file)) => Some(file),
            Ok(None) => return Attempt::Refused(format!("photo {id} is no longer stored")),
            Err(e) => return Attempt::Failed(format!("reading photo {id}: {e}")),
        }
    } else {
        None
    };
    let mut body = body;
    // uploadTime is the time of *this* upload: a record kept through an
    // outage is re-stamped on every attempt, so the platform's freshness
    // window (replay protection) accepts it.
    if let Some(slot) = body.get_mut("uploadTime") {
        *slot = Value::String(onepark_domain::time::format_time(zone.local(clock.now())));
    }
    match uplink.send_with_file(interface, &body, file).await {
        Ok(reply) if reply.ok() => {
            if interface == Uplink::UploadHeartbeat {
                check_clock(&reply.body, zone.local(clock.now()), stats);
            }
            Attempt::Delivered { latency_ms: u64::try_from(clock.millis() - row.created_ms).unwrap_or(0) }
        }
        Ok(reply) if reply.result_code == "400" => Attempt::Refused(format!("400: {}", reply.msg)),
        Ok(reply) => Attempt::Failed(format!("{}: {}", reply.result_code, reply.msg)),
        Err(e @ UplinkError::Seal(_)) => Attempt::Refused(e.to_string()),
        // "Not now" (throttled, or our clock is off): the platform says when.
        Err(UplinkError::Status { status: 429 | 503, retry_after: Some(secs), body, .. }) => {
            let reply = serde_json::from_str::<Value>(&body).unwrap_or_default();
            check_clock(&reply, zone.local(clock.now()), stats);
            let why = reply.get("msg").and_then(Value::as_str).map_or(body.clone(), str::to_owned);
            Attempt::Held { secs, why: format!("{}: {why}", row.interface) }
        }
        // Too large now, too large for ever.
        Err(e @ UplinkError::Status { status: 413, .. }) => Attempt::Refused(e.to_string()),
        // A 200 whose body is not a protocol reply: this request, not an outage.
        Err(e @ UplinkError::Reply { .. }) => Attempt::Failed(e.to_string()),
        // A 4xx names this request (too large, bad form), not an outage.
        Err(e @ UplinkError::Status { status: 400..=499, .. })
            if !matches!(&e, UplinkError::Status { status: 408 | 429, .. }) =>
        {
            Attempt::Failed(e.to_string())
        }
        Err(e) => Attempt::Unreachable(e.to_string()),
    }
}

/// Compares the heartbeat reply's `serverTime` with our clock (`now`, the lot's local time).
fn check_clock(reply: &Value, now: chrono::NaiveDateTime, stats: &OutboxStats) {
    let Some(server) = reply.get("serverTime").and_then(Value::as_str).and_then(|t| parse_time(t).ok()) else {
        return;
    };
    let skew = (server - now).num_seconds();
    stats.clock_skew_secs.store(skew, Ordering::Relaxed);
    if skew.abs() > MAX_SKEW_SECS {
        tracing::warn!(skew_secs = skew, "the lot's clock differs from the platform's by more than 30 s");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_five_minutes() {
        let secs: Vec<u64> = [0, 1, 2, 8, 9, 40].iter().map(|a| backoff(*a).as_secs()).collect();
        assert_eq!(secs, [1, 2, 4, 256, 300, 300]);
    }

    fn row(id: i64, uid: Option<&str>, interface: &str, due: i64) -> Outgoing {
        Outgoing {
            id,
            uid: uid.map(str::to_owned),
            interface: interface.into(),
            body: "{}".into(),
            created_ms: 0,
            attempts: 0,
            next_attempt_ms: due,
        }
    }

    #[test]
    fn one_record_per_session_in_flight_others_in_parallel() {
        let mut q = Queue::default();
        q.rows.extend([
            row(1, Some("A"), "uploadCarInData", 0),
            row(2, Some("B"), "uploadCarInData", 0),
            row(3, Some("A"), "uploadCarOutData", 0),
            row(4, None, "uploadParkingState", 0),
            row(5, None, "uploadParkingState", 0),
            row(6, None, "uploadHeartbeat", 0),
        ]);
        let ids = |v: Vec<Outgoing>| v.iter().map(|r| r.id).collect::<Vec<_>>();
        assert_eq!(ids(q.ready(10, 16)), [1, 2, 4, 6]);
        assert_eq!(ids(q.ready(10, 2)), [1, 2]);
        q.in_flight.extend([1, 2, 4, 6]);
        // A's exit waits for its entry, the second state for the first.
        assert!(q.ready(10, 16).is_empty());
        q.rows.retain(|r| r.id != 1);
        q.in_flight.remove(&1);
        assert_eq!(ids(q.ready(10, 16)), [3]);
    }

    #[test]
    fn an_outcome_that_could_not_be_recorded_is_sent_again() {
        let stats = OutboxStats::default();
        let mut sender = Sender::new(4);
        sender.queue.rows.extend([row(1, Some("A"), "uploadCarInData", 0), row(2, Some("B"), "uploadCarInData", 0)]);
        let sent = sender.poll_transmit(10);
        assert_eq!(sent.len(), 2);
        let finished: Vec<_> =
            sent.iter().map(|r| sender.handle_attempt(20, r, Attempt::Delivered { latency_ms: 1 }, &stats)).collect();
        // The store could not keep the outcomes: nothing leaves the queue.
        sender.handle_unrecorded(20, &finished);
        assert!(sender.poll_transmit(30).is_empty(), "not at once: the disk needs a moment");
        let again: Vec<i64> = sender.poll_transmit(20 + UNRECORDED_RETRY_MS).iter().map(|r| r.id).collect();
        assert_eq!(again, [1, 2], "both go again");
        let rows: Vec<Outgoing> = sender.queue.rows.iter().filter(|r| again.contains(&r.id)).cloned().collect();
        let finished: Vec<_> =
            rows.iter().map(|r| sender.handle_attempt(2000, r, Attempt::Delivered { latency_ms: 1 }, &stats)).collect();
        sender.handle_recorded(finished);
        assert!(sender.queue.rows.is_empty(), "recorded this time");
    }

    #[test]
    fn a_waiting_record_holds_back_its_session_only() {
        let mut q = Queue::default();
        q.rows.extend([row(1, Some("A"), "uploadCarInData", 500), row(2, Some("A"), "uploadPhoto", 0)]);
        q.rows.push_back(row(3, Some("B"), "uploadCarInData", 0));
        let ready: Vec<i64> = q.ready(100, 16).iter().map(|r| r.id).collect();
        assert_eq!(ready, [3]);
        assert_eq!(q.next_due(), Some(0));
        q.in_flight.insert(3);
        assert_eq!(q.next_due(), Some(500));
    }

    #[test]
    fn a_record_failing_for_hours_is_set_aside_and_any_reply_ends_an_outage() {
        let stats = OutboxStats::default();
        let now = start().millis();
        let mut outage = 3;
        let mut failing = row(1, Some("A"), "uploadPhoto", 0);
        failing.attempts = 5;
        let retry = settle(&failing, Attempt::Failed("500: busy".into()), &stats, &mut outage, now);
        assert!(matches!(retry, Finished::Retry { .. }) && outage == 0);
        failing.attempts = MAX_FAILED_ATTEMPTS - 1;
        let aside = settle(&failing, Attempt::Failed("500: busy".into()), &stats, &mut outage, now);
        assert!(matches!(aside, Finished::Refused(e) if e.contains("500: busy")));
        outage = 2;
        let Finished::Retry { next_attempt_ms, .. } =
            settle(&failing, Attempt::Unreachable("refused".into()), &stats, &mut outage, now)
        else {
            panic!("an unreachable platform is retried");
        };
        assert_eq!(outage, 2, "the sender's pause is `run`'s business");
        assert!(next_attempt_ms - now <= 30_000, "steps back at most 30 s");
    }

    /// A manual clock at a fixed instant.
    fn start() -> Clock {
        Clock::manual(chrono::DateTime::from_timestamp(1_790_000_000, 0).expect("time"))
    }

    fn ids(rows: &[Outgoing]) -> Vec<(i64, i64)> {
        rows.iter().map(|r| (r.id, r.attempts)).collect()
    }

    #[test]
    fn a_failed_send_waits_for_its_backoff_on_the_clock() {
        let (clock, stats) = (start(), OutboxStats::default());
        let t0 = clock.millis();
        let mut sender = Sender::new(4);
        sender.queue.rows.push_back(row(1, Some("A"), "uploadCarInData", t0));
        let sent = sender.poll_transmit(clock.millis());
        assert_eq!(ids(&sent), [(1, 0)]);
        // The platform answers, but not with 200: retried after backoff(0) = 1 s.
        let failed = sender.handle_attempt(clock.millis(), &sent[0], Attempt::Failed("500: busy".into()), &stats);
        sender.handle_round(clock.millis(), false);
        sender.handle_recorded(vec![failed]);
        assert!(sender.poll_transmit(clock.millis()).is_empty(), "not at once");
        clock.advance(chrono::Duration::milliseconds(999));
        assert!(sender.poll_transmit(clock.millis()).is_empty(), "not before its backoff elapsed");
        assert_eq!(sender.poll_timeout(clock.millis()), t0 + 1000, "the driver looks again when it falls due");
        clock.advance(chrono::Duration::milliseconds(1));
        let again = sender.poll_transmit(clock.millis());
        assert_eq!(ids(&again), [(1, 1)], "retried once its backoff elapsed");
        // A second failure doubles the wait.
        let failed = sender.handle_attempt(clock.millis(), &again[0], Attempt::Failed("500: busy".into()), &stats);
        sender.handle_recorded(vec![failed]);
        clock.advance(chrono::Duration::milliseconds(1999));
        assert!(sender.poll_transmit(clock.millis()).is_empty());
        clock.advance(chrono::Duration::milliseconds(1));
        assert_eq!(ids(&sender.poll_transmit(clock.millis())), [(1, 2)]);
    }

    #[test]
    fn an_unreachable_platform_holds_the_whole_sender_then_one_probe_goes() {
        let (clock, stats) = (start(), OutboxStats::default());
        let t0 = clock.millis();
        let mut sender = Sender::new(4);
        sender.queue.rows.extend([row(1, Some("A"), "uploadCarInData", t0), row(2, Some("B"), "uploadCarInData", t0)]);
        let sent = sender.poll_transmit(t0);
        assert_eq!(sent.len(), 2);
        let finished: Vec<_> = sent
            .iter()
            .map(|r| sender.handle_attempt(t0, r, Attempt::Unreachable("connection refused".into()), &stats))
            .collect();
        sender.handle_round(t0, true);
        sender.handle_recorded(finished);
        clock.advance(chrono::Duration::milliseconds(999));
        assert!(sender.poll_transmit(clock.millis()).is_empty(), "the sender holds off");
        clock.advance(chrono::Duration::milliseconds(1));
        assert_eq!(sender.poll_transmit(clock.millis()).len(), 1, "one probe at a time while the platform is away");
    }

    #[test]
    fn latency_buckets_are_cumulative() {
        let h = Latency::default();
        h.observe_ms(80);
        h.observe_ms(4000);
        h.observe_ms(7_200_000);
        let mut registry = onepark_serve::metrics::Registry::default();
        registry.register("x", "help", h.0.clone());
        let out = onepark_serve::metrics::render(&registry);
        assert!(out.contains("x_bucket{le=\"0.1\"} 1\n"), "{out}");
        assert!(out.contains("x_bucket{le=\"5\"} 2\n"), "{out}");
        assert!(out.contains("x_bucket{le=\"3600\"} 2\n"), "{out}");
        assert!(out.contains("x_bucket{le=\"+Inf\"} 3\n"), "{out}");
        assert!(out.contains("x_count 3\n"), "{out}");
    }
}
