//! What a paid month-card renewal does (a leaf the payments' commit calls
//! into): the city's fixed car runs until the renewal's end, and the
//! card's lot is told with the payment's change (`city::renewals` is the
//! driver's side: prices asked, payments made, the lot's answer).

use onepark_domain::time::{format_time, parse_time};

use crate::city::announce::{AnnounceError, Announcement, RenewalPaid};
use crate::city::lots::lot_of;
use crate::state::AppState;
use crate::store::{Downlink, Payment, Renewal, StoreError};

/// The renewal a payment is for.
pub async fn of_payment(state: &AppState, p: &Payment) -> Result<Option<Renewal>, StoreError> {
    match p.bill_id.strip_prefix('M') {
        Some(trade_no) => state.store().renewal(trade_no).await,
        None => Ok(None),
    }
}

/// The lot's notice of a paid renewal, sealed with the payment's change.
pub async fn notice(state: &AppState, p: &Payment) -> Result<Option<Downlink>, AnnounceError> {
    let Some(r) = of_payment(state, p).await? else { return Ok(None) };
    let Some(lot) = lot_of(state, &r.parking_code).await? else { return Ok(None) };
    let (Ok(start_time), Ok(end_time)) = (parse_time(&r.start_time), parse_time(&r.end_time)) else {
        return Ok(None);
    };
    let paid = RenewalPaid {
        card_id: r.card_id.clone(),
        plate_no: r.plate_no.clone(),
        trade_no: r.trade_no.clone(),
        months: r.months,
        start_time,
        end_time,
        amount: p.actual_pay.unwrap_or(p.should_pay),
        paid_at: state.now(),
    };
    Ok(Some(state.announce(&lot, &r.parking_code, &Announcement::Renewed(paid))?))
}

/// A renewal's payment went through: the city's fixed car runs until its
/// end (never shortened) — only when the renewal moves from quoted to paid
/// here (a lot's refusal that came first has refunded it).
pub async fn paid(state: &AppState, p: &Payment) -> Result<(), StoreError> {
    let Some(r) = of_payment(state, p).await? else { return Ok(()) };
    let now = format_time(state.now());
    if !state.store().move_renewal(&r.trade_no, &["quoted"], "paid", None, None, &now).await? {
        return Ok(());
    }
    state.store().move_fixed_car_end(&r.parking_code, &r.card_id, None, &r.end_time, &now).await?;
    tracing::info!(trade_no = r.trade_no, card = r.card_id, end = r.end_time, "month card renewed");
    Ok(())
}
