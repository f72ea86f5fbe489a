//! What a stay costs: the tariff from the entry, a month card's stay free
//! while the card is valid (time past its end charged), a white-listed car
//! nothing. Used by the exit, the platform's fee query and staff closing a
//! session, so the three agree.

use chrono::NaiveDateTime;
use onepark_domain::tariff::Tariff;
use onepark_domain::time::{format_time, parse_time};

use crate::store::{Session, Store, StoreError};

/// The fee for `session` leaving at `at`, fen, and whether the car is
/// white-listed (it pays nothing); merchants' coupons taken off.
pub(crate) async fn of_stay(
    store: &Store,
    tariff: &Tariff,
    session: &Session,
    at: NaiveDateTime,
) -> Result<(i64, bool), StoreError> {
    let (fee, white, _) = with_coupons(store, tariff, session, at).await?;
    Ok((fee, white))
}

/// [`of_stay`], and the coupons (ticket numbers) that lowered it: the exit
/// uses them up. A free coupon makes it nothing; then minutes come off the
/// stay, a percentage off the fee, amounts off what is left.
pub(crate) async fn with_coupons(
    store: &Store,
    tariff: &Tariff,
    session: &Session,
    at: NaiveDateTime,
) -> Result<(i64, bool, Vec<String>), StoreError> {
    let (fee, white) = of_stay_without_coupons(store, tariff, session, at).await?;
    if fee == 0 || white {
        return Ok((fee, white, Vec::new()));
    }
    let coupons = store.coupons_for(&session.plate_no, &session.uid, &format_time(at)).await?;
    if coupons.is_empty() {
        return Ok((fee, white, Vec::new()));
    }
    if let Some(free) = coupons.iter().find(|c| matches!(c.ticket_type, 4 | 5)) {
        return Ok((0, white, vec![free.ticket_no.clone()]));
    }
    let mut used = Vec::new();
    let entered = parse_time(&session.entry_time).unwrap_or(at);
    let minutes: i64 = coupons.iter().filter(|c| c.ticket_type == 2).map(|c| c.value).sum();
    let mut left = fee;
    if minutes > 0 {
        let later = (entered + chrono::Duration::minutes(minutes)).min(at);
        left = left.min(tariff.fee(session.car_type, later, at).get());
        used.extend(coupons.iter().filter(|c| c.ticket_type == 2).map(|c| c.ticket_no.clone()));
    }
    for c in coupons.iter().filter(|c| c.ticket_type == 3) {
        left -= left * c.value.clamp(0, 100) / 100;
        used.push(c.ticket_no.clone());
    }
    for c in coupons.iter().filter(|c| c.ticket_type == 1) {
        if left == 0 {
            break;
        }
        left = (left - c.value).max(0);
        used.push(c.ticket_no.clone());
    }
    Ok((left, white, used))
}

/// The tariff's fee alone (no coupons), and whether the car is white-listed.
pub(crate) async fn of_stay_without_coupons(
    store: &Store,
    tariff: &Tariff,
    session: &Session,
    at: NaiveDateTime,
) -> Result<(i64, bool), StoreError> {
    let entered = parse_time(&session.entry_time).unwrap_or(at);
    if store.lists(&session.plate_no, &format_time(at)).await?.1 {
        return Ok((0, true));
    }
    // A free visitor (3.14, a free car type) parks free until its window closes; later time is charged.
    if session.card_id.is_none()
        && let Some(visit) = store.free_visit(&session.plate_no, &session.entry_time).await?
    {
        let end = parse_time(&visit.leave_time).unwrap_or(at);
        let fee = if at <= end { 0 } else { tariff.fee(session.car_type, end.max(entered), at).get() };
        return Ok((fee, false));
    }
    let fee = match &session.card_id {
        // A monthly stay is free while the card is valid; time past its end is charged.
        Some(card_id) => match store.card(card_id).await? {
            Some(card) => {
                let end = parse_time(&card.end_time).unwrap_or(at);
                if at <= end { 0 } else { tariff.fee(session.car_type, end.max(entered), at).get() }
            }
            None => tariff.fee(session.car_type, entered, at).get(),
        },
        None => tariff.fee(session.car_type, entered, at).get(),
    };
    Ok((fee, false))
}
