//! A no-plate entry by scanning a lane's code (seed 3.3): the driver's
//! identity (a cookie's id, or the payment app's user id) becomes a
//! pseudo-plate (`onepark_bolink::no_plate::car_number_of`), sent to the
//! lot as `nolicence_in_park`; the lot opens and answers. The vendor's
//! rules: a second scan of the same user within 10 s is not sent (it waits
//! for the first one's answer); within 30 s of an entry a scan shows that
//! entry at once (looked up among the lot's entries when the answer was
//! lost). Every scan is stored with its answer.

use onepark_bolink::no_plate::{Request, car_number_of};
use onepark_domain::time::format_time;

use super::mailbox::ScanAnswer;
use super::{RESCAN_QUIET_MS, RESCAN_SUCCESS_MS, SCAN_WAIT};
use crate::config::LotLink;
use crate::state::AppState;
use crate::store::{Scan, StoreError};

/// What the driver is shown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// In: the plate the lot made the order with.
    Entered { plate: String },
    /// The lot refused (its errmsg).
    Refused(String),
    /// Sent; no final answer yet (the page looks again).
    Pending,
    /// No charging system of the lot is online.
    Offline,
    /// No Bolink lot of that id.
    UnknownLot,
}

/// The pseudo-plate of a user.
pub fn car_number(user_id: &str) -> String {
    let digest = openssl::sha::sha256(user_id.as_bytes());
    car_number_of(&digest)
}

/// A scan at `park_id`'s lane `channel_id` by `user_id`.
pub async fn enter(
    state: &AppState,
    park_id: &str,
    channel_id: &str,
    user_id: &str,
    pay_user_id: Option<&str>,
) -> Result<Outcome, StoreError> {
    let Some(lot) = state.lot(park_id).await?.filter(|l| matches!(l.link, LotLink::Bolink { .. })) else {
        return Ok(Outcome::UnknownLot);
    };
    let Some(code) = lot.parking_codes.first().cloned() else { return Ok(Outcome::UnknownLot) };
    let car_number = car_number(user_id);
    let lock = state.bolink().deciding(park_id, user_id);
    let decided = lock.lock().await;
    let now_ms = state.clock().millis();
    if let Some(last) = state.store().last_scan(park_id, user_id).await? {
        let age = now_ms - last.asked_ms;
        match last.state {
            Some(1) if age < RESCAN_SUCCESS_MS => {
                return entered(state, &code, &last, last.plate.as_deref().unwrap_or(&last.car_number)).await;
            }
            // The lot has not answered yet: this scan is the same request (R2), or a lost answer (R3).
            None | Some(2) if age < RESCAN_SUCCESS_MS => {
                if let Some(outcome) = lookup(state, &code, &last).await? {
                    return Ok(outcome);
                }
                if age < RESCAN_QUIET_MS {
                    drop(decided);
                    return wait(state, park_id, &code, &last).await;
                }
            }
            _ => {}
        }
    }
    if !state.bolink().online(park_id) {
        return Ok(Outcome::Offline);
    }
    let now = state.now();
    let scan = Scan {
        id: crate::secret::random_hex(12).unwrap_or_default(),
        access_id: park_id.to_owned(),
        channel_id: channel_id.to_owned(),
        user_id: user_id.to_owned(),
        car_number: car_number.clone(),
        asked_at: format_time(now),
        asked_ms: now_ms,
        state: None,
        errmsg: None,
        plate: None,
        answered_at: None,
    };
    state.store().put_scan(&scan).await?;
    drop(decided);
    let request = Request {
        park_id: park_id.to_owned(),
        car_number,
        channel_id: channel_id.to_owned(),
        timetemp: state.clock().now().timestamp(),
        pay_user_id: pay_user_id.map(str::to_owned),
    };
    let answer = state.bolink().expect(park_id, &request.car_number);
    if !state.bolink().send(park_id, channel_id, request.to_json()) {
        state.store().answer_scan(&scan.id, 0, Some("车场网络异常"), &format_time(state.now())).await?;
        return Ok(Outcome::Offline);
    }
    state.metrics().bolink("nolicence_in_park_sent", true);
    settle(state, &code, &scan, tokio::time::timeout(SCAN_WAIT, answer).await.ok().and_then(Result::ok)).await
}

/// A scan's answer (or none in time): stored, and what the driver sees.
async fn settle(state: &AppState, code: &str, scan: &Scan, answer: Option<ScanAnswer>) -> Result<Outcome, StoreError> {
    let Some(answer) = answer else {
        // The lot may have let the car in and lost its answer: its entry says so.
        return Ok(lookup(state, code, scan).await?.unwrap_or(Outcome::Pending));
    };
    // The answer is stored already (by the lot's message, `services`).
    Ok(match answer.state {
        1 => return entered(state, code, scan, &answer.car_number).await,
        2 => Outcome::Pending,
        _ => Outcome::Refused(answer.errmsg.unwrap_or_else(|| "车场拒绝入场".into())),
    })
}

/// The earlier scan's answer, waited for (a double scan is one request).
async fn wait(state: &AppState, park_id: &str, code: &str, last: &Scan) -> Result<Outcome, StoreError> {
    let rx = state.bolink().expect(park_id, &last.car_number);
    // It may have come between the read and the wait.
    if let Some(fresh) = state.store().scan(&last.id).await?
        && fresh.state.is_some()
    {
        return Ok(match fresh.state {
            Some(1) => entered(state, code, &fresh, fresh.plate.as_deref().unwrap_or(&fresh.car_number)).await?,
            Some(2) => Outcome::Pending,
            _ => Outcome::Refused(fresh.errmsg.unwrap_or_default()),
        });
    }
    let waited = SCAN_WAIT.saturating_sub(std::time::Duration::from_millis(
        u64::try_from(state.clock().millis() - last.asked_ms).unwrap_or(0),
    ));
    let answer = tokio::time::timeout(waited, rx).await.ok().and_then(Result::ok);
    match answer {
        // The first scan's request stores the answer; this one only shows it.
        Some(a) if a.state == 1 => entered(state, code, last, &a.car_number).await,
        Some(a) if a.state == 2 => Ok(Outcome::Pending),
        Some(a) => Ok(Outcome::Refused(a.errmsg.unwrap_or_default())),
        None => Ok(lookup(state, code, last).await?.unwrap_or(Outcome::Pending)),
    }
}

/// The entry a scan made, if the lot reported it: the vendor looks the order up.
async fn lookup(state: &AppState, code: &str, scan: &Scan) -> Result<Option<Outcome>, StoreError> {
    let since = onepark_domain::time::parse_time(&scan.asked_at)
        .map(|t| format_time(t - chrono::Duration::minutes(1)))
        .unwrap_or_default();
    let found = state.store().entry_by_pseudo_plate(code, &scan.car_number, &since, false).await?;
    Ok(found.map(|(_, plate)| Outcome::Entered { plate }))
}

/// An entry: the plate of the lot's order when it reported it, else the one it answered with.
async fn entered(state: &AppState, code: &str, scan: &Scan, answered: &str) -> Result<Outcome, StoreError> {
    Ok(lookup(state, code, scan).await?.unwrap_or(Outcome::Entered { plate: answered.to_owned() }))
}

/// What a user's latest scan at a lot came to, while it still counts (30 s):
/// an entry, a pending request, or nothing to show.
pub async fn status(state: &AppState, park_id: &str, user_id: &str) -> Result<Option<Outcome>, StoreError> {
    let Some(last) = state.store().last_scan(park_id, user_id).await? else { return Ok(None) };
    if state.clock().millis() - last.asked_ms >= RESCAN_SUCCESS_MS {
        return Ok(None);
    }
    let Some(code) = state.lot(park_id).await?.and_then(|l| l.parking_codes.first().cloned()) else {
        return Ok(None);
    };
    Ok(match last.state {
        Some(1) => Some(entered(state, &code, &last, last.plate.as_deref().unwrap_or(&last.car_number)).await?),
        Some(0) => None,
        _ => Some(lookup(state, &code, &last).await?.unwrap_or(Outcome::Pending)),
    })
}

/// The stay a user entered by scanning at a Bolink lot and has not left:
/// its plate. Found from the user's own successful scan (the plate the lot
/// answered with, or its entry within a minute of the scan), then that
/// plate's open stay at this lot: never by matching other cars' plates.
pub async fn open_stay(state: &AppState, park_id: &str, user_id: &str) -> Result<Option<String>, StoreError> {
    let Some(lot) = state.lot(park_id).await?.filter(|l| matches!(l.link, LotLink::Bolink { .. })) else {
        return Ok(None);
    };
    let Some(code) = lot.parking_codes.first().cloned() else { return Ok(None) };
    let Some(scan) = state.store().last_entered_scan(park_id, user_id).await? else { return Ok(None) };
    let plate = match scan.plate.clone() {
        Some(p) => Some(p),
        None => match lookup(state, &code, &scan).await? {
            Some(Outcome::Entered { plate }) => Some(plate),
            _ => None,
        },
    };
    let Some(plate) = plate else { return Ok(None) };
    let parked = state.store().parked(&plate).await?;
    Ok(parked.filter(|(c, _, _, _)| *c == code).map(|_| plate))
}
