//! Month-card renewals bought by drivers: the card's lot prices the renewal
//! (a Bolink lot answers 3.11), the driver pays that price through the
//! payment channel, the city's fixed car then runs until the new end and
//! the lot hears of it with the payment's change (3.10, redelivered until it
//! answers); a lot that refuses it gives the driver the money back. The
//! renewal is its own debt (`M{trade_no}`): a second tap or tab finds the
//! first charge.

use std::time::Duration;

use chrono::{Months, NaiveDateTime};
use onepark_domain::time::{format_time, parse_time};

use crate::city::announce::{AnnounceError, Announcement, RenewalAsk};
use crate::city::payments::{self, Paying};
use crate::state::AppState;
use crate::store::{Debt, Downlink, FixedCar, Purpose, Renewal, StoreError};

/// The months a driver may buy at once.
pub const MONTHS: [i64; 4] = [1, 3, 6, 12];

/// The payment's bill id of a renewal.
pub fn bill_id(trade_no: &str) -> String {
    format!("M{trade_no}")
}

/// Whether a fixed car is a month card a driver may renew here.
pub fn renewable(car: &FixedCar) -> bool {
    car.deleted == 0 && car.state == 0 && !(71..=75).contains(&car.car_type)
}

/// When a renewal of `car` for `months` runs, from `now`: from the card's
/// end, or from now when it lapsed.
pub fn period(car: &FixedCar, months: i64, now: NaiveDateTime) -> Option<(NaiveDateTime, NaiveDateTime)> {
    let end = parse_time(&car.end_time).ok()?;
    let start = end.max(now);
    let months = u32::try_from(months).ok()?;
    Some((start, start.checked_add_months(Months::new(months))?))
}

/// Asks the card's lot what renewing it for `months` costs and waits up to
/// `wait` for the answer: the renewal's trade number, and whether it came.
/// `None`: no such renewable card of that plate.
pub async fn ask_price(
    state: &AppState,
    parking_code: &str,
    card_id: &str,
    months: i64,
    wait: Duration,
) -> Result<Option<(String, bool)>, AnnounceError> {
    let Some(car) = state.store().fixed_car(parking_code, card_id).await?.filter(renewable) else { return Ok(None) };
    let Some(lot) = payments::lot_of(state, parking_code).await? else { return Ok(None) };
    let now = state.now();
    let Some((start, end)) = period(&car, months, now) else { return Ok(None) };
    let ask = RenewalAsk { card_id: car.uuid.clone(), plate_no: car.plate_no.clone(), months, start_time: start };
    let downlink: Downlink = state.announce(&lot, parking_code, &Announcement::RenewalPrice(ask))?;
    let request_id = downlink.request_id;
    let now_text = format_time(now);
    let renewal = Renewal {
        trade_no: request_id.to_string(),
        parking_code: parking_code.to_owned(),
        card_id: car.uuid.clone(),
        plate_no: car.plate_no.clone(),
        months,
        start_time: format_time(start),
        end_time: format_time(end),
        price: None,
        state: "asked".into(),
        errmsg: None,
        created_at: now_text.clone(),
        updated_at: now_text,
    };
    state.store().put_renewal(&renewal).await?;
    let what = payments::Awaited::Renewal(&renewal.trade_no);
    let answered =
        payments::awaited(state, request_id, what, wait, state.store().put_downlinks(vec![downlink])).await?;
    Ok(Some((renewal.trade_no, answered)))
}

/// The lot priced a renewal (or refused to): kept, and the driver's page woken.
pub async fn priced(state: &AppState, trade_no: &str, price: Result<i64, String>) -> Result<bool, StoreError> {
    let now = format_time(state.now());
    let moved = match &price {
        Ok(fen) => state.store().move_renewal(trade_no, &["asked"], "quoted", Some(*fen), None, &now).await?,
        Err(why) => state.store().move_renewal(trade_no, &["asked"], "refused", None, Some(why), &now).await?,
    };
    if let Ok(id) = trade_no.parse() {
        payments::fee_answered(state, id);
    }
    Ok(moved)
}

/// How long a quote may be paid.
pub const QUOTE_MINUTES: i64 = 30;

/// Why a quote cannot be paid (the driver asks again).
#[derive(Debug, PartialEq, Eq)]
pub enum Stale {
    /// Older than [`QUOTE_MINUTES`].
    Expired,
    /// The card's end moved since (another renewal, the lot's own).
    CardMoved,
}

/// Whether a quote still prices what it would buy: asked within
/// [`QUOTE_MINUTES`], for a card whose end has not moved past its start.
pub async fn stale(state: &AppState, r: &Renewal) -> Result<Option<Stale>, StoreError> {
    let asked = parse_time(&r.created_at).unwrap_or_default();
    if state.now() - asked > chrono::Duration::minutes(QUOTE_MINUTES) {
        return Ok(Some(Stale::Expired));
    }
    match state.store().fixed_car(&r.parking_code, &r.card_id).await? {
        Some(car) if renewable(&car) && car.end_time <= r.start_time => Ok(None),
        _ => Ok(Some(Stale::CardMoved)),
    }
}

/// Pays a quoted renewal (interactive: the driver approves it in the channel).
/// Its debts are the quote and the card's period from the quote's start: a
/// second quote of the same card, paid from another tab, finds the first
/// charge instead of buying the same months twice.
pub async fn pay(state: &AppState, r: &Renewal) -> Result<Option<Paying>, StoreError> {
    let Some(price) = r.price.filter(|p| *p > 0) else { return Ok(None) };
    let bill = bill_id(&r.trade_no);
    let plate_color = 1;
    let p = payments::new_payment(
        state,
        Purpose::Renewal,
        &r.parking_code,
        &bill,
        &r.card_id,
        (&r.plate_no, plate_color),
        (&r.start_time, &r.end_time, &format_time(state.now())),
        price,
    );
    let period = format!("card:{}:{}", r.card_id, r.start_time);
    let debts = [(Debt::bill(&r.parking_code, &bill), price), (Debt::bill(&r.parking_code, &period), price)];
    payments::pay(state, p, &debts, true).await.map(Some)
}

/// The lot answered a renewal's notice: applied (delivered), or refused —
/// then the driver gets the money back and the card its old end.
pub async fn answered(state: &AppState, request_id: i64, done: bool, reason: &str) -> Result<(), StoreError> {
    let Some(p) = state.store().announced_by(request_id).await? else { return Ok(()) };
    let Some(r) = crate::city::cards::of_payment(state, &p).await? else { return Ok(()) };
    let now = format_time(state.now());
    if done {
        // Answered before the payment's own follow-up ran: the card moves here (it never moves twice).
        if state.store().move_renewal(&r.trade_no, &["quoted"], "delivered", None, None, &now).await? {
            state.store().move_fixed_car_end(&r.parking_code, &r.card_id, None, &r.end_time, &now).await?;
        } else {
            state.store().move_renewal(&r.trade_no, &["paid"], "delivered", None, None, &now).await?;
        }
        return Ok(());
    }
    if state.store().move_renewal(&r.trade_no, &["paid", "quoted"], "failed", None, Some(reason), &now).await? {
        // The card back to where it was, unless something moved it since.
        state.store().move_fixed_car_end(&r.parking_code, &r.card_id, Some(&r.end_time), &r.start_time, &now).await?;
        payments::refund(state, &p, &format!("车场未能续期月卡（{reason}）：自动退款")).await?;
    }
    Ok(())
}
