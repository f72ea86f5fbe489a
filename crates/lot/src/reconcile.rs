//! Daily reconciliation (spec §3 Q3, §5.2.1–5.2.2): report the day's counts
//! with uploadCheckRecord; for every kind the platform flags (entries, exits,
//! bills, photos), fetch the ids it holds with downloadUID, re-queue exactly the records it lacks (their
//! stored copy, so the platform sees identical content and can never store a
//! duplicate), and let the caller check again once the outbox has drained.

use std::collections::HashSet;
use std::time::Duration;

use chrono::NaiveDate;
use onepark_domain::time::{Zone, format_date, format_time};
use onepark_proto::dict::{AccountMark, RecordKind};
use onepark_proto::interface::Uplink;
use onepark_proto::msg::decode_object;
use onepark_proto::msg::record::{CheckRecord, DownloadUid, DownloadUidReply, UidEntry};
use onepark_proto::wire::{Date, Time};
use onepark_serve::clock::Clock;
use serde_json::Value;

use crate::state::LotState;
use crate::store::{Store, StoreError};
use crate::uplink::{Client, UplinkError};

#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Uplink(#[from] UplinkError),
    #[error("{step}: the platform answered {code} {msg}")]
    Refused { step: &'static str, code: String, msg: String },
    #[error("{step}: unreadable reply: {detail}")]
    Reply { step: &'static str, detail: String },
    #[error("no [platform]: the daily check is the Qingdao platform's")]
    NoPlatform,
}

/// What one pass found and did.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Outcome {
    pub date: String,
    pub arrive_num: usize,
    pub leave_num: usize,
    pub photo_num: usize,
    pub pay_num: usize,
    pub account_mark: i64,
    pub photo_mark: i64,
    /// Records queued again because the platform lacked them.
    pub requeued: usize,
}

impl Outcome {
    pub fn balanced(&self) -> bool {
        self.account_mark == 0 && self.photo_mark == 0
    }
}

/// Reconciles `date` until balanced: check, backfill what the platform
/// lacks, wait for the outbox to drain, check again (at most 3 passes).
pub async fn until_balanced(state: &LotState, date: NaiveDate) -> Result<Vec<Outcome>, ReconcileError> {
    let mut passes = Vec::new();
    for _ in 0..3 {
        let (code, zone) = (&state.config().parking_code, state.config().zone);
        let uplink = state.uplink().ok_or(ReconcileError::NoPlatform)?;
        let outcome = check_day(state.store(), uplink, code, date, state.clock(), zone).await?;
        let done = outcome.balanced() || outcome.requeued == 0;
        passes.push(outcome);
        if done {
            break;
        }
        state.wake_outbox();
        // Waiting on the sender, not on the lot's clock: real time.
        let deadline = std::time::Instant::now() + Duration::from_secs(120);
        while state.store().backlog("qdpark").await?.0 > 0 && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    Ok(passes)
}

pub async fn check_day(
    store: &Store,
    uplink: &Client,
    parking_code: &str,
    date: NaiveDate,
    clock: &Clock,
    zone: Zone,
) -> Result<Outcome, ReconcileError> {
    let now = zone.local(clock.now());
    let day = format_date(date);
    let entries = store.day_uids(&day, false).await?;
    let exits = store.day_uids(&day, true).await?;
    let photos = store.day_photos(&day).await?;
    let bills = store.day_bills(&day).await?;
    let check = CheckRecord {
        parking_code: parking_code.to_owned(),
        check_date: Date(date),
        arrive_num: entries.len() as i64,
        leave_num: exits.len() as i64,
        photo_num: photos.len() as i64,
        pay_num: bills.len() as i64,
        pay_total: bills.iter().map(|b| b.2).sum(),
        upload_time: Time(now),
    };
    let reply = send(uplink, Uplink::UploadCheckRecord, &to_value(&check)?, "uploadCheckRecord").await?;
    let mark = |k: &str| reply.get(k).and_then(|v| v.as_i64().or_else(|| v.as_str()?.parse().ok())).unwrap_or(0);
    let (account_mark, photo_mark) = (mark("accountMark"), mark("photoMark"));
    let mut outcome = Outcome {
        date: day.clone(),
        arrive_num: entries.len(),
        leave_num: exits.len(),
        photo_num: photos.len(),
        pay_num: bills.len(),
        account_mark,
        photo_mark,
        requeued: 0,
    };
    for (bit, kind, ours, interface) in [
        (AccountMark::ENTRIES, RecordKind::Entry, &entries, "uploadCarInData"),
        (AccountMark::EXITS, RecordKind::Exit, &exits, "uploadCarOutData"),
    ] {
        if account_mark & bit == 0 {
            continue;
        }
        let theirs: HashSet<String> =
            platform_ids(uplink, parking_code, date, kind, now).await?.into_iter().map(|e| e.uid).collect();
        for uid in ours.iter().filter(|u| !theirs.contains(*u)) {
            if store.requeue(uid, interface, clock.millis()).await? {
                outcome.requeued += 1;
            } else {
                tracing::warn!(
                    uid,
                    interface,
                    "the platform lacks a record that is still queued, was refused, or was never queued"
                );
            }
        }
    }
    // Photos and bills are matched by their own ids (several may share a uid).
    let bills: Vec<(String, String)> = bills.into_iter().map(|(uid, id, _)| (uid, id)).collect();
    for (flagged, kind, ours, interface, key) in [
        (photo_mark != 0, RecordKind::Photo, &photos, "uploadPhoto", "photoID"),
        (account_mark & AccountMark::BILLS != 0, RecordKind::Bill, &bills, "uploadPayRecord", "billID"),
    ] {
        if !flagged {
            continue;
        }
        let theirs: HashSet<String> = platform_ids(uplink, parking_code, date, kind, now)
            .await?
            .iter()
            .filter_map(|e| e.record_id().map(str::to_owned))
            .collect();
        for (uid, id) in ours.iter().filter(|(_, id)| !theirs.contains(id)) {
            if store.requeue_item(uid, interface, key, id, clock.millis()).await? {
                outcome.requeued += 1;
            } else {
                tracing::warn!(
                    uid,
                    id,
                    interface,
                    "the platform lacks a record that is still queued, was refused, or was never queued"
                );
            }
        }
    }
    tracing::info!(?outcome, "daily reconciliation");
    Ok(outcome)
}

fn to_value<T: serde::Serialize>(message: &T) -> Result<Value, ReconcileError> {
    serde_json::to_value(message).map_err(|e| ReconcileError::Reply { step: "encode", detail: e.to_string() })
}

async fn send(uplink: &Client, interface: Uplink, body: &Value, step: &'static str) -> Result<Value, ReconcileError> {
    let reply = uplink.send(interface, body).await?;
    if !reply.ok() {
        return Err(ReconcileError::Refused { step, code: reply.result_code, msg: reply.msg });
    }
    Ok(reply.body)
}

/// What the platform holds of `kind` for the day: uids with record ids.
async fn platform_ids(
    uplink: &Client,
    parking_code: &str,
    date: NaiveDate,
    kind: RecordKind,
    now: chrono::NaiveDateTime,
) -> Result<Vec<UidEntry>, ReconcileError> {
    let request =
        DownloadUid { parking_code: parking_code.to_owned(), account_date: Date(date), kind, upload_time: Time(now) };
    let body = send(uplink, Uplink::DownloadUid, &to_value(&request)?, "downloadUID").await?;
    let Value::Object(object) = body else {
        return Err(ReconcileError::Reply { step: "downloadUID", detail: "not an object".into() });
    };
    let reply = decode_object::<DownloadUidReply>(object)
        .map_err(|e| ReconcileError::Reply { step: "downloadUID", detail: e.to_string() })?
        .message;
    Ok(reply.data.map(|d| d.result).unwrap_or_default())
}

/// The day to check at `now`: yesterday.
/// Reconciles `date` ([`until_balanced`]) and keeps what it came to in
/// `day_checks`: balanced ends the day's tries; anything else leaves it
/// pending, tried again after [`backoff`].
pub async fn try_day(state: &LotState, date: NaiveDate) -> Result<Vec<Outcome>, ReconcileError> {
    let result = until_balanced(state, date).await;
    // A lot without the Qingdao platform has no daily check to keep trying.
    if matches!(result, Err(ReconcileError::NoPlatform)) {
        return result;
    }
    let day = format_date(date);
    let attempts =
        state.store().unbalanced_days().await?.iter().find(|d| d.check_date == day).map_or(0, |d| d.attempts);
    let (balanced, outcome) = match &result {
        Ok(passes) => match passes.last() {
            Some(p) => (
                p.balanced(),
                format!("accountMark {} photoMark {}, {} re-sent", p.account_mark, p.photo_mark, p.requeued),
            ),
            None => (false, "no pass".to_owned()),
        },
        Err(e) => (false, e.to_string()),
    };
    let now = state.now();
    let next = now + backoff(attempts + 1);
    let recorded = state.store().day_checked(&day, balanced, &outcome, &format_time(next), &format_time(now)).await;
    if let Err(e) = recorded {
        tracing::error!(error = %e, date = day, "cannot keep the reconciliation's outcome");
    }
    result
}

/// The wait after the `attempts`-th try of a day that did not balance:
/// 10 minutes, doubling, at most 6 hours; never given up.
pub fn backoff(attempts: i64) -> chrono::Duration {
    let doublings = attempts.saturating_sub(1).clamp(0, 6) as u32;
    chrono::Duration::minutes(10 * 2_i64.pow(doublings)).min(chrono::Duration::hours(6))
}

pub fn yesterday(now: chrono::NaiveDateTime) -> NaiveDate {
    now.date().pred_opt().unwrap_or(now.date())
}

#[cfg(test)]
mod tests {
    use super::backoff;

    #[test]
    fn doubles_from_ten_minutes_up_to_six_hours_and_never_stops() {
        let minutes: Vec<i64> = (1..=9).map(|a| backoff(a).num_minutes()).collect();
        assert_eq!(minutes, vec![10, 20, 40, 80, 160, 320, 360, 360, 360]);
        assert_eq!(backoff(10_000).num_minutes(), 360);
        assert_eq!(backoff(0).num_minutes(), 10);
    }
}
