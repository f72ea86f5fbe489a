//! What a stay costs: the tariff from the entry, a month card's stay free
//! while the card is valid (time past its end charged), a white-listed car
//! nothing. Used by the exit, the platform's fee query and staff closing a
//! session, so the three agree.

use chrono::NaiveDateTime;
use onepark_domain::tariff::Tariff;
use onepark_domain::time::{format_time, parse_time};

use crate::store::{Session, Store, StoreError};

/// The fee for `session` leaving at `at`, fen, and whether the car is white-listed (it pays nothing).
pub(crate) async fn of_stay(
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
