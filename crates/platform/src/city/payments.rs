//! Money through the platform (spec §5.4–§5.6): charges through the payment
//! channel ([`onepark_pay::Channel`]) for no-stop deduction at the exit,
//! prepayment in the lot and pay-after-leave; the channel's notifications
//! (verified, applied once, in any order relative to the synchronous answer);
//! refunds when a lot collected a bill offline that the channel also
//! charged; arrears kept per plate across the city and announced to the lot
//! a car enters; the downlinks announcing all of it (fee, payResult,
//! departurePayInfo, overDueResult).
//!
//! Every charge is stored (pending) before the channel is asked and its order
//! id is derived from the lot's bill, so a timeout, a repeat of the lot's
//! request or a platform restart in between asks the channel about the same
//! order again: it is never charged twice.

use std::sync::Arc;
use std::time::Duration;

use onepark_domain::record::{Scene, paid_type};
use onepark_domain::time::format_time;
use onepark_domain::time::parse_time;
use onepark_pay::{ChannelError, Charge, Notification, Order, Refund};
use tokio::sync::oneshot;

use crate::city::announce::{AnnounceError, Announcement, ArrearsNotice, NoStop, PaidBill, RefundNotice, Signing};
pub use crate::city::channel::Payments;
pub use crate::city::lots::lot_of;
use crate::config::LotAccess;
use crate::state::AppState;
pub use crate::store::order_id;
use crate::store::{Arrear, Began, Debt, Downlink, Notice, Outcome, PayState, Payment, Purpose, Signup, StoreError};

/// The in-process sandbox delivers its notifications straight to the handler.
pub fn connect_sandbox(state: &AppState) {
    let Some(sandbox) = &state.payments().sandbox else { return };
    let state = state.clone();
    sandbox.set_notifier(Arc::new(move |body: Vec<u8>, signature: String| {
        let state = state.clone();
        Box::pin(async move { notified(&state, &body, Some(&signature)).await.is_ok() })
    }));
}

fn outcome(order: &Order, paid_type: i64) -> Outcome {
    Outcome {
        state: PayState::from_channel(order.state),
        actual_pay: order.paid,
        discount: order.discount,
        txn_id: order.txn_id.clone(),
        deal_time: order.paid_at.clone(),
        paid_type: order.paid.map(|_| paid_type),
        reason: order.code.as_ref().map(|c| format!("{c} {}", order.reason.clone().unwrap_or_default())),
        refunded: order.refunded,
    }
}

/// Asks the channel to charge a stored (pending) payment, within the
/// configured wait; records what it said. A timeout leaves it pending: the
/// notification or the recovery job decides it later.
pub async fn charge(state: &AppState, p: &Payment, interactive: bool) -> Result<Payment, StoreError> {
    let pay = state.payments();
    let request = Charge {
        order_id: p.order_id.clone(),
        plate_no: p.plate_no.clone(),
        amount: p.should_pay,
        description: format!("停车费 {} {}", p.parking_code, p.bill_id),
        interactive,
    };
    let purpose = p.purpose.as_str();
    let answer = tokio::time::timeout(pay.timeout, pay.channel.charge(&request)).await;
    let now = format_time(state.now());
    let order = match answer {
        Ok(Ok(order)) => order,
        Err(_) | Ok(Err(ChannelError::Timeout)) => {
            state.metrics().payment(purpose, "timeout");
            tracing::warn!(order_id = p.order_id, "payment channel did not answer in time; the order stays pending");
            return Ok(p.clone());
        }
        Ok(Err(ChannelError::Unavailable(e))) => {
            state.metrics().payment(purpose, "error");
            tracing::error!(order_id = p.order_id, error = %e, "payment channel unavailable; the order stays pending");
            return Ok(p.clone());
        }
        Ok(Err(e)) => {
            // The channel refused the request itself: it will not become paid.
            state.metrics().payment(purpose, "declined");
            let declined = Outcome {
                state: PayState::Declined,
                actual_pay: None,
                discount: 0,
                txn_id: None,
                deal_time: None,
                paid_type: None,
                reason: Some(format!("REFUSED {e}")),
                refunded: 0,
            };
            let after = state.store().record_outcome(&p.order_id, &declined, false, &now, Vec::new()).await?;
            return Ok(after.map_or_else(|| p.clone(), |(after, _)| after));
        }
    };
    apply(state, &order, false).await.map(|after| after.unwrap_or_else(|| p.clone()))
}

/// Records a channel's word about an order (answer, query or
/// notification) and, when it moved the payment on, does what follows:
/// announce it to the lot, settle arrears, refund a bill also paid offline.
async fn apply(state: &AppState, order: &Order, notified: bool) -> Result<Option<Payment>, StoreError> {
    let paid_type = state.payments().channel.paid_type();
    let o = outcome(order, paid_type);
    let now = format_time(state.now());
    let Some(before) = state.store().payment_by_order(&order.order_id).await? else {
        // An earlier attempt of a bill, given up as declined and since tried
        // again under a new order id, that the channel charged after all: no
        // debt is left for that money, so it goes back.
        if order.state == onepark_pay::State::Paid && order.refunded == 0 && order.order_id.starts_with("OP") {
            let request = Refund {
                order_id: order.order_id.clone(),
                refund_id: format!("R{}", order.order_id),
                amount: order.paid.unwrap_or(0),
                reason: "该次扣款已被新的扣款取代：自动退款".into(),
            };
            match state.payments().channel.refund(&request).await {
                Ok(_) => tracing::warn!(order_id = order.order_id, fen = request.amount, "superseded charge refunded"),
                Err(e) => tracing::error!(order_id = order.order_id, error = %e, "cannot refund a superseded charge"),
            }
        } else {
            tracing::warn!(order_id = order.order_id, "the channel reports an order this platform never made");
        }
        return Ok(None);
    };
    // The lots hear of a prepayment, or of the bills an arrears payment
    // settles, with the change itself (one commit).
    let downlinks = if o.state == PayState::Paid && before.state == PayState::Pending {
        notices(state, &before, &o).await?
    } else {
        Vec::new()
    };
    let Some((after, moved)) = state.store().record_outcome(&order.order_id, &o, notified, &now, downlinks).await?
    else {
        return Ok(None);
    };
    if !moved {
        if notified {
            state.metrics().payment(after.purpose.as_str(), "duplicate_notification");
        }
        // The channel took the money after the charge was given up as
        // declined (its claim released, the debt perhaps paid otherwise):
        // that money goes back.
        if after.state == PayState::Declined && o.state == PayState::Paid && o.refunded == 0 {
            let late = Payment { actual_pay: o.actual_pay, refunded: 0, ..after.clone() };
            let reason = "扣款已按失败处理后渠道才扣款成功：自动退款";
            refund_part(state, &late, o.actual_pay.unwrap_or(0), &format!("R{}", order.order_id), reason).await?;
        }
        return Ok(Some(after));
    }
    state.wake().now();
    let purpose = after.purpose.as_str();
    match after.state {
        PayState::Paid => {
            state.metrics().payment(purpose, "paid");
            tracing::info!(order_id = after.order_id, bill_id = after.bill_id, fen = after.actual_pay, purpose, "paid");
            after_paid(state, &after).await?;
        }
        PayState::Declined => {
            // A declined after-leave bill became its plate's arrears in the same commit.
            state.metrics().payment(purpose, "declined");
        }
        PayState::Refunded => state.metrics().payment(purpose, "refunded"),
        PayState::Pending => {}
    }
    Ok(Some(after))
}

/// What follows a charge that became paid. Whatever it paid beyond the
/// debt — a bill the lot collected offline meanwhile, arrears a booth wrote
/// off while the charge was pending — is refunded here.
async fn after_paid(state: &AppState, p: &Payment) -> Result<(), StoreError> {
    match p.purpose {
        Purpose::Exit | Purpose::AfterLeave => {
            // The lot collected this bill itself meanwhile (the barrier gave
            // up waiting): the driver must not pay twice.
            let channel_type = state.payments().channel.paid_type();
            if let Some(paid_type) = state.store().reported_paid_type(&p.parking_code, &p.bill_id).await?
                && paid_type != channel_type
            {
                return refund(state, p, "车场已线下收取该账单：自动退还线上扣款").await;
            }
            // Its arrears row (if any) was settled by this payment in the same
            // commit — unless a booth wrote it off while the charge was pending.
            if let Some(a) = state.store().settled_arrear(&p.parking_code, &p.bill_id).await?
                && a.settled_by.as_deref() != Some(p.order_id.as_str())
            {
                refund(state, p, "该账单已作为欠费在岗亭结清：自动退还线上扣款").await?;
            }
        }
        Purpose::Arrears => settle_claimed(state, p).await?,
        Purpose::Renewal => crate::city::cards::paid(state, p).await?,
        Purpose::Prepay => {}
    }
    Ok(())
}

/// A lot's uploadPayRecord of a bill the channel charged too (paid
/// offline with another paidType): the channel's charge is refunded.
pub async fn bill_reported(state: &AppState, parking_code: &str, bill_id: &str, paid_type: i64) {
    let p = match state.store().payment(parking_code, bill_id).await {
        Ok(Some(p)) if p.state == PayState::Paid => p,
        Ok(_) => return,
        Err(e) => {
            tracing::error!(error = %e, bill_id, "cannot check a reported bill against its charge");
            return;
        }
    };
    if paid_type != state.payments().channel.paid_type()
        && let Err(e) = refund(state, &p, "车场已线下收取该账单：自动退还线上扣款").await
    {
        tracing::error!(error = %e, order_id = p.order_id, "refund failed; the recovery job tries again");
    }
}

/// A lot refused the payResult announcing a prepayment (confirm with
/// success=false): the lot will not count it, so the driver gets it back and
/// the stay can be paid again. (The recovery job does the same for one whose
/// payResult expired unconfirmed, and retries a refund that failed here.)
pub async fn pay_result_refused(state: &AppState, request_id: i64, reason: &str) {
    let result = async {
        let Some(p) = state.store().announced_by(request_id).await? else { return Ok(()) };
        uncounted(state, &p, &format!("车场未能确认本次支付（{reason}）：自动退款")).await
    };
    if let Err(e) = result.await {
        tracing::error!(error = %e, request_id, "cannot refund a prepayment its lot refused");
    }
}

/// A prepayment its lot will not count: refunded, and the stay may be paid again.
async fn uncounted(state: &AppState, p: &Payment, reason: &str) -> Result<(), StoreError> {
    refund(state, p, reason).await?;
    if state.store().payment(&p.parking_code, &p.bill_id).await?.is_some_and(|after| after.state == PayState::Refunded)
    {
        state.store().release_claims(&p.parking_code, &p.bill_id, &format_time(state.now())).await?;
    }
    Ok(())
}

/// Refunds what is left of a payment; idempotent (the refund id is the order's).
pub async fn refund(state: &AppState, p: &Payment, reason: &str) -> Result<(), StoreError> {
    let left = p.actual_pay.unwrap_or(0) - p.refunded;
    refund_part(state, p, left, &format!("R{}", p.order_id), reason).await
}

/// Why an operator's refund was not made.
#[derive(Debug, thiserror::Error)]
pub enum RefundRefused {
    #[error("orderId: no payment {0}")]
    NoPayment(String),
    #[error("orderId: payment {0} is {1}: only a paid charge is refunded")]
    NotPaid(String, &'static str),
    #[error("amount: {asked} fen, but {left} fen of payment {order_id} are left to refund")]
    TooMuch { order_id: String, asked: i64, left: i64 },
    /// What the payment bought would stay bought (a renewed card, settled arrears), or the car
    /// is still inside at a lot that cannot be told (it would leave as prepaid).
    #[error("orderId: {0}")]
    Kept(String),
    #[error("the payment channel refused or did not answer: {0}")]
    Channel(String),
    /// The caller may not refund at that lot (another lot's payment is [`RefundRefused::NoPayment`]).
    #[error("{}", .0.en)]
    Denied(crate::access::Denied),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// An operator writes one open arrear off (免除核销): the plate no longer
/// owes it anywhere in the city (no lot holds the car for it); no money
/// moves and its lot is not told (its own books keep the bill unpaid: the
/// three-way check does not count it). Audited with the reason; a second
/// click finds nothing open and changes nothing. `Ok(false)`: nothing open.
pub async fn waive(
    state: &AppState,
    who: &crate::access::Who,
    parking_code: &str,
    bill_id: &str,
    reason: &str,
) -> Result<bool, WaiveRefused> {
    who.check(crate::access::Need::Change, parking_code).map_err(WaiveRefused::Denied)?;
    let open = state.store().open_arrear(parking_code, bill_id).await?;
    let Some(a) = open else { return Ok(false) };
    let now = format_time(state.now());
    let change = crate::city::audit::Change::new("write_off", parking_code, &a.plate_no)
        .old(serde_json::json!({ "billId": a.bill_id, "amount": a.should_pay, "billTime": a.bill_time }))
        .reason(reason);
    let pending = crate::city::audit::begin(state.store(), who, &now, change).await?;
    let by = format!("console:{}", who.actor);
    let bills = [(parking_code.to_owned(), bill_id.to_owned())];
    let result = state.store().settle_arrears(&bills, ("written_off", &by, "WAIVED"), &now, Vec::new()).await;
    match &result {
        // Another click got there first: this one changed nothing.
        Ok(settled) if settled.is_empty() => pending.finish_with(state.store(), "failed", "no open arrear", None).await,
        _ => pending.finish(state.store(), &result).await,
    }
    Ok(!result?.is_empty())
}

#[derive(Debug, thiserror::Error)]
pub enum WaiveRefused {
    #[error("{}", .0.en)]
    Denied(crate::access::Denied),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// [`refund_by_operator`] as `who` (a person or an integration): only a
/// payment of a lot `who` may change (another lot's is "no such payment",
/// so its ids tell nothing), written to the audit trail before the money
/// moves and completed after.
pub async fn refund_as(
    state: &AppState,
    who: &crate::access::Who,
    order_id: &str,
    amount: Option<i64>,
    refund_no: Option<&str>,
    reason: &str,
) -> Result<Payment, RefundRefused> {
    let Some(lot) = state.store().payment_by_order(order_id).await?.map(|p| p.parking_code) else {
        return Err(RefundRefused::NoPayment(order_id.to_owned()));
    };
    match who.check(crate::access::Need::Change, &lot) {
        Ok(()) => {}
        Err(d) if d == crate::access::NOT_YOUR_LOT => return Err(RefundRefused::NoPayment(order_id.to_owned())),
        Err(d) => return Err(RefundRefused::Denied(d)),
    }
    let now = format_time(state.now());
    let change = crate::city::audit::Change::new("refund", &lot, order_id)
        .new_value(serde_json::json!({ "amount": amount, "refundNo": refund_no }))
        .reason(reason);
    let pending = crate::city::audit::begin(state.store(), who, &now, change).await?;
    let result = refund_by_operator(state, order_id, amount, refund_no, reason).await;
    pending.finish(state.store(), &result).await;
    result
}

/// An operator gives `amount` (default: all that is left) of a paid charge
/// back, for `reason`. The refund's id is the operator's `refund_no` (a part
/// of the payment) or `all` (what is left): asked again — a double click, a
/// retry after a timeout — it is the same refund at the channel (idempotent
/// on the id) and the same notice: money goes back once. Refunded are
/// exits' and prepayments' charges; a prepayment's lot must hear it (Bolink's
/// 3.23, booked once per refund id) unless the car has left, or it would
/// leave as prepaid.
pub async fn refund_by_operator(
    state: &AppState,
    order_id: &str,
    amount: Option<i64>,
    refund_no: Option<&str>,
    reason: &str,
) -> Result<Payment, RefundRefused> {
    let Some(p) = state.store().payment_by_order(order_id).await? else {
        return Err(RefundRefused::NoPayment(order_id.to_owned()));
    };
    if !matches!(p.state, PayState::Paid | PayState::Refunded) {
        return Err(RefundRefused::NotPaid(p.order_id, p.state.as_str()));
    }
    match p.purpose {
        Purpose::Renewal => {
            return Err(RefundRefused::Kept("月卡续费的款项随月卡有效期，不能单独退款（请在车场调整月卡）".into()));
        }
        Purpose::Arrears => return Err(RefundRefused::Kept("欠费补缴已结清各车场账单，不能单独退款".into())),
        Purpose::Prepay | Purpose::Exit | Purpose::AfterLeave => {}
    }
    let refund_id = format!("R{}-{}", p.order_id, refund_no.unwrap_or("all"));
    let lot = lot_of(state, &p.parking_code).await?;
    if let Some(lot) = &lot
        && state.store().told_about(&lot.access_id, &refund_id).await?
    {
        // Asked again after it was done and told: the same refund.
        return Ok(p);
    }
    let left = p.actual_pay.unwrap_or(0) - p.refunded;
    let asked = amount.unwrap_or(left);
    // Refunded whole before and its lot never told (the platform stopped in between): told now.
    if left == 0
        && refund_no.is_none()
        && p.purpose == Purpose::Prepay
        && let Some(lot) = &lot
        && !state.store().told_about_any(&lot.access_id, &format!("R{}-", p.order_id)).await?
        && p.refunded > 0
    {
        let notice = RefundNotice {
            plate_no: p.plate_no.clone(),
            bill_id: p.bill_id.clone(),
            trade_no: p.txn_id.clone().unwrap_or_else(|| p.order_id.clone()),
            refund_no: refund_id.clone(),
            amount: p.refunded,
            left: 0,
            reason: reason.to_owned(),
            at: state.now(),
        };
        if let Ok(d) = state.announce(lot, &p.parking_code, &Announcement::Refunded(notice)) {
            state.store().put_downlinks(vec![d]).await?;
            state.wake().now();
        }
        return Ok(p);
    }
    // A part under a reference may be a retry of one the channel already made (its id and amount
    // then find that refund): the channel, idempotent on the id, decides against what is left.
    let limit = if refund_no.is_some() { p.actual_pay.unwrap_or(0) } else { left };
    if asked <= 0 || asked > limit {
        return Err(RefundRefused::TooMuch { order_id: p.order_id, asked, left });
    }
    // A prepayment its lot has not answered yet: the refund would reach it before the payment.
    if p.purpose == Purpose::Prepay && state.store().notice_answered(&p.parking_code, &p.bill_id).await? == Some(false)
    {
        return Err(RefundRefused::Kept("车场尚未确认这笔预付（通知未应答），请稍后再退款".into()));
    }
    let notice = |after: &Payment| RefundNotice {
        plate_no: after.plate_no.clone(),
        bill_id: after.bill_id.clone(),
        trade_no: after.txn_id.clone().unwrap_or_else(|| after.order_id.clone()),
        refund_no: refund_id.clone(),
        amount: asked,
        left: after.actual_pay.unwrap_or(0) - after.refunded,
        reason: reason.to_owned(),
        at: state.now(),
    };
    // A prepayment's lot must be able to hear it, or the car must have left (else it would
    // leave as prepaid): checked before the money moves.
    let tell = match (p.purpose, &lot) {
        // An exit's deduction: the car has left; its lot books it back when it can hear it.
        (Purpose::Exit, Some(lot)) => {
            state.announce(lot, &p.parking_code, &Announcement::Refunded(notice(&p))).is_ok().then(|| lot.clone())
        }
        (Purpose::Prepay, Some(lot)) => match state.announce(lot, &p.parking_code, &Announcement::Refunded(notice(&p)))
        {
            Ok(_) => Some(lot.clone()),
            Err(AnnounceError::Store(e)) => return Err(e.into()),
            Err(_) if state.store().open_stay(&p.parking_code, &p.uid).await?.is_some() => {
                return Err(RefundRefused::Kept(
                    "车辆仍在场内，且该车场的协议无法接收退款通知：退款后车辆将按已预付离场，请出场后再退".into(),
                ));
            }
            Err(_) => None,
        },
        _ => None,
    };
    let request =
        Refund { order_id: p.order_id.clone(), refund_id: refund_id.clone(), amount: asked, reason: reason.into() };
    let order = match state.payments().channel.refund(&request).await {
        Ok(order) => order,
        Err(e @ (ChannelError::Invalid(_) | ChannelError::Conflict(_))) => {
            return Err(RefundRefused::Kept(format!("支付渠道拒绝该退款：{e}")));
        }
        Err(e) => return Err(RefundRefused::Channel(e.to_string())),
    };
    state.store().note_refund(&p.order_id, reason).await?;
    apply(state, &order, false).await?;
    tracing::warn!(order_id = p.order_id, fen = asked, reason, "refunded by an operator");
    let after = state.store().payment_by_order(order_id).await?.unwrap_or(p);
    if let Some(lot) = tell {
        match state.announce(&lot, &after.parking_code, &Announcement::Refunded(notice(&after))) {
            Ok(d) => {
                state.store().put_downlinks(vec![d]).await?;
                state.wake().now();
            }
            Err(AnnounceError::Store(e)) => return Err(e.into()),
            Err(e) => tracing::error!(order_id = after.order_id, error = %e, "refund notice not sealed"),
        }
    }
    Ok(after)
}

/// Refunds `amount` of a payment under `refund_id` (the channel is idempotent on it).
async fn refund_part(
    state: &AppState,
    p: &Payment,
    amount: i64,
    refund_id: &str,
    reason: &str,
) -> Result<(), StoreError> {
    if amount <= 0 {
        return Ok(());
    }
    let request =
        Refund { order_id: p.order_id.clone(), refund_id: refund_id.to_owned(), amount, reason: reason.into() };
    match state.payments().channel.refund(&request).await {
        Ok(order) => {
            state.store().note_refund(&p.order_id, reason).await?;
            // Boxed: a refund is recorded through `apply`, which may have called us.
            Box::pin(apply(state, &order, false)).await?;
            tracing::warn!(order_id = p.order_id, fen = amount, reason, "refunded");
            Ok(())
        }
        Err(e) => {
            // The recovery job finds the payment again (doubly_paid) and retries.
            tracing::error!(order_id = p.order_id, error = %e, "refund failed");
            Ok(())
        }
    }
}

/// The payResults a charge's becoming paid sends: a prepayment's to its lot;
/// an arrears payment's to the lot of each bill it claimed (stored only for
/// the bills it settles). Sealed before the commit that records the change.
async fn notices(state: &AppState, p: &Payment, o: &Outcome) -> Result<Vec<Notice>, StoreError> {
    // The number the lot is told is the one every later answer gives (settled_txn).
    let o = &Outcome { txn_id: o.txn_id.clone().or_else(|| Some(p.order_id.clone())), ..o.clone() };
    let sealed = match p.purpose {
        Purpose::Prepay => {
            let n =
                notice(state, &p.parking_code, &p.bill_id, &p.plate_no, &p.bill_time, p.should_pay, o, Scene::InLot);
            vec![(None, n.await)]
        }
        Purpose::Arrears => {
            let claimed = state.store().claimed_bills(&p.parking_code, &p.bill_id).await?;
            let mut sealed = Vec::new();
            for a in state.store().open_arrears(&p.plate_no).await? {
                let bill = (a.parking_code.clone(), a.bill_id.clone());
                if claimed.contains(&bill) {
                    let paid = Outcome { actual_pay: Some(a.should_pay), ..o.clone() };
                    let n = notice(
                        state,
                        &a.parking_code,
                        &a.bill_id,
                        &a.plate_no,
                        &a.bill_time,
                        a.should_pay,
                        &paid,
                        Scene::Arrears,
                    );
                    sealed.push((Some(bill), n.await));
                }
            }
            sealed
        }
        // What the channel took (a discount of its own included), not what was asked.
        Purpose::Renewal => {
            let paid = Payment { actual_pay: o.actual_pay, ..p.clone() };
            vec![(None, crate::city::cards::notice(state, &paid).await)]
        }
        Purpose::Exit => {
            let paid = Payment { actual_pay: o.actual_pay, ..p.clone() };
            vec![(None, deduction_notice(state, &paid, o.txn_id.as_deref(), None).await)]
        }
        Purpose::AfterLeave => Vec::new(),
    };
    let mut notices = Vec::new();
    for (bill, downlink) in sealed {
        match downlink {
            Ok(Some(downlink)) => notices.push(Notice { bill, downlink }),
            Ok(None) => {}
            Err(e) => tracing::error!(error = %e, order_id = p.order_id, "cannot seal payResult"),
        }
    }
    Ok(notices)
}

/// A no-stop deduction's outcome for a lot that waits for it (Bolink's
/// 3.4; Qingdao's lots read applyPayment's answer: nothing). `reason`: why
/// it failed; `None`: paid.
pub async fn deduction_notice(
    state: &AppState,
    p: &Payment,
    txn_id: Option<&str>,
    reason: Option<&str>,
) -> Result<Option<Downlink>, AnnounceError> {
    let Some(lot) = lot_of(state, &p.parking_code).await? else { return Ok(None) };
    let d = crate::city::announce::Deduction {
        plate_no: p.plate_no.clone(),
        bill_id: p.bill_id.clone(),
        paid: reason.is_none(),
        trade_no: txn_id.map_or_else(|| p.order_id.clone(), str::to_owned),
        amount: p.actual_pay.unwrap_or(p.should_pay),
        at: state.now(),
        reason: reason.unwrap_or_default().to_owned(),
    };
    match state.announce(&lot, &p.parking_code, &Announcement::Deducted(d)) {
        Ok(d) => Ok(Some(d)),
        Err(AnnounceError::NotCarried { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// A payResult for one bill of a lot, ready to store.
#[allow(clippy::too_many_arguments)]
async fn notice(
    state: &AppState,
    parking_code: &str,
    bill_id: &str,
    plate_no: &str,
    bill_time: &str,
    should_pay: i64,
    o: &Outcome,
    scene: Scene,
) -> Result<Option<Downlink>, AnnounceError> {
    let Some(lot) = lot_of(state, parking_code).await? else { return Ok(None) };
    let now = state.now();
    let paid = PaidBill {
        plate_no: plate_no.to_owned(),
        bill_id: bill_id.to_owned(),
        bill_time: parse_time(bill_time).unwrap_or(now),
        should_pay,
        actual_pay: o.actual_pay.unwrap_or(0),
        discount: o.discount,
        deal_time: o.deal_time.as_deref().and_then(|t| parse_time(t).ok()).unwrap_or(now),
        order_code: o.txn_id.clone().unwrap_or_else(|| "OFFLINE".into()),
        paid_type: o.paid_type.unwrap_or(paid_type::PLATFORM_ACCOUNT),
        scene: scene.code(),
    };
    Ok(Some(state.announce(&lot, parking_code, &Announcement::Paid(paid))?))
}

/// A notification as it arrived (body, signature header): verified, then
/// applied once. `Err` is what to answer the channel (it will deliver again).
pub async fn notified(state: &AppState, body: &[u8], signature: Option<&str>) -> Result<(), String> {
    let note: Notification = state.payments().channel.verify(body, signature).map_err(|e| {
        tracing::warn!(error = %e, "payment notification refused");
        e.to_string()
    })?;
    match apply(state, &note.order, true).await {
        Ok(_) => Ok(()),
        Err(e) => {
            tracing::error!(error = %e, order_id = note.order.order_id, "payment notification not recorded");
            Err("storage failed; deliver again".into())
        }
    }
}

/// Resolves a pending payment by asking the channel (bounded); the row after.
pub async fn resolve(state: &AppState, p: &Payment) -> Result<Payment, StoreError> {
    if p.state != PayState::Pending {
        return Ok(p.clone());
    }
    let pay = state.payments();
    match tokio::time::timeout(pay.timeout, pay.channel.query(&p.order_id)).await {
        Ok(Ok(order)) => Ok(apply(state, &order, false).await?.unwrap_or_else(|| p.clone())),
        Ok(Err(ChannelError::NoOrder(_))) => {
            // The channel never got it (the platform stopped before asking): ask now.
            charge(state, p, matches!(p.purpose, Purpose::Prepay | Purpose::Arrears | Purpose::Renewal)).await
        }
        _ => Ok(p.clone()),
    }
}

/// The recovery job: pending payments older than a few seconds are asked
/// about (a lost notification, a platform restart between charge and
/// answer), and refunds owed for bills also paid offline are made (one that
/// failed before is tried again). Run by the node holding the `payments` lease.
pub async fn recover(state: AppState) {
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    loop {
        tick.tick().await;
        // One node at a time asks the channel and refunds (each step is idempotent
        // besides: a refund's id is its order's); the others stand by.
        if crate::node::leased(&state, "payments").await {
            recover_once(&state).await;
        }
    }
}

/// One pass of [`recover`]: refunds owed, then charges pending for more than
/// 5 s (by the platform's clock) asked of the channel.
pub async fn recover_once(state: &AppState) {
    let state = state.clone();
    {
        match state.store().doubly_paid().await {
            Ok(owed) => {
                for p in owed {
                    if let Err(e) = refund(&state, &p, "车场已线下收取该账单：自动退还线上扣款").await
                    {
                        tracing::error!(error = %e, order_id = p.order_id, "refund failed");
                    }
                }
            }
            Err(e) => tracing::error!(error = %e, "cannot read the bills owed a refund"),
        }
        match state.store().uncounted_prepayments().await {
            Ok(uncounted_by_lots) => {
                for p in uncounted_by_lots {
                    if let Err(e) = uncounted(&state, &p, "车场未确认本次支付（通知已拒收或过期）：自动退款").await
                    {
                        tracing::error!(error = %e, order_id = p.order_id, "refund failed");
                    }
                }
            }
            Err(e) => tracing::error!(error = %e, "cannot read prepayments their lots did not count"),
        }
        match state.store().renewals_to_settle().await {
            Ok(renewals) => {
                for (renewal_state, p) in renewals {
                    let done = if renewal_state == "quoted" {
                        crate::city::cards::paid(&state, &p).await
                    } else {
                        refund(&state, &p, "车场未能续期月卡：自动退款").await
                    };
                    if let Err(e) = done {
                        tracing::error!(error = %e, order_id = p.order_id, "a paid renewal's follow-up failed");
                    }
                }
            }
            Err(e) => tracing::error!(error = %e, "cannot read paid renewals"),
        }
        let before = format_time(state.now() - chrono::Duration::seconds(5));
        let pending = match state.store().pending_payments(&before).await {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(error = %e, "cannot read pending payments");
                return;
            }
        };
        for p in pending {
            if let Err(e) = resolve(&state, &p).await {
                tracing::error!(error = %e, order_id = p.order_id, "cannot resolve a pending payment");
            }
        }
    }
}

/// A new pending payment for a lot bill.
#[allow(clippy::too_many_arguments)]
pub fn new_payment(
    state: &AppState,
    purpose: Purpose,
    parking_code: &str,
    bill_id: &str,
    uid: &str,
    (plate_no, plate_color): (&str, i64),
    (arrive_time, end_time, bill_time): (&str, &str, &str),
    should_pay: i64,
) -> Payment {
    let now = format_time(state.now());
    let pay_type = match purpose {
        Purpose::Exit => Scene::AtGate,
        Purpose::Prepay => Scene::InLot,
        Purpose::AfterLeave => Scene::AfterExit,
        Purpose::Arrears => Scene::Arrears,
        Purpose::Renewal => Scene::InLot,
    };
    Payment {
        parking_code: parking_code.to_owned(),
        bill_id: bill_id.to_owned(),
        order_id: order_id(parking_code, bill_id, 1),
        attempt: 1,
        purpose,
        uid: uid.to_owned(),
        plate_no: plate_no.to_owned(),
        plate_color,
        arrive_time: arrive_time.to_owned(),
        end_time: end_time.to_owned(),
        bill_time: bill_time.to_owned(),
        should_pay,
        discount: 0,
        actual_pay: None,
        state: PayState::Pending,
        channel: state.payments().channel.name().to_owned(),
        txn_id: None,
        paid_type: None,
        pay_type: pay_type.code(),
        deal_time: None,
        reason: None,
        refunded: 0,
        refund_reason: None,
        notifications: 0,
        created_at: now.clone(),
        updated_at: now,
    }
}

/// What asking to pay a debt came to.
pub enum Paying {
    /// This charge (new, or the bill's earlier one), as it stands now.
    Charge(Payment),
    /// The bill was first applied for with another plate or amount.
    Mismatch(Payment),
    /// Another charge holds a debt it pays (pending or paid): that one.
    Claimed(Payment),
}

/// Stores a payment claiming `debts` and charges it — or answers the bill's
/// existing charge, or the charge already holding one of its debts.
pub async fn pay(state: &AppState, p: Payment, debts: &[(Debt, i64)], interactive: bool) -> Result<Paying, StoreError> {
    Ok(match state.store().begin_payment(&p, debts).await? {
        Began::Charge(p) => Paying::Charge(charge(state, &p, interactive).await?),
        Began::Existing(p) if p.state == PayState::Pending => Paying::Charge(resolve(state, &p).await?),
        Began::Existing(p) | Began::Recorded(p) => Paying::Charge(p),
        Began::Mismatch(p) => Paying::Mismatch(p),
        Began::Claimed(p) => Paying::Claimed(p),
    })
}

/// A plate's signing, as a lot needs it at the exit (D-32).
pub async fn signing(
    state: &AppState,
    parking_code: &str,
    plate_no: &str,
    plate_color: i64,
) -> Result<Signing, StoreError> {
    let signup = state.store().signup(plate_no).await?;
    let owes = !state.store().open_arrears(plate_no).await?.is_empty();
    Ok(signing_of(signup.as_ref(), owes, parking_code, plate_no, plate_color))
}

fn signing_of(signup: Option<&Signup>, owes: bool, parking_code: &str, plate_no: &str, plate_color: i64) -> Signing {
    let (no_stop, money_limit, leave_first) = match signup {
        Some(s) if s.no_stop || s.after_leave => {
            (if owes { NoStop::SignedInArrears } else { NoStop::Signed }, s.money_limit, s.after_leave)
        }
        _ => (NoStop::Unsigned, 0, false),
    };
    let deducted_at_exit = signup.is_some_and(|s| s.no_stop) && !owes;
    Signing {
        parking_code: parking_code.to_owned(),
        plate_no: plate_no.to_owned(),
        plate_color,
        no_stop,
        money_limit,
        leave_first,
        deducted_at_exit,
    }
}

/// A plate's open arrears across the city.
pub async fn arrears_of(state: &AppState, plate_no: &str) -> Result<ArrearsNotice, StoreError> {
    Ok(arrears_from(state, plate_no, &state.store().open_arrears(plate_no).await?))
}

fn arrears_from(state: &AppState, plate_no: &str, open: &[Arrear]) -> ArrearsNotice {
    let un_pay: i64 = open.iter().map(|a| a.should_pay).sum();
    let prevent = state.payments().prevent && un_pay > 0;
    ArrearsNotice { plate_no: plate_no.to_owned(), count: open.len() as i64, un_pay, prevent }
}

/// A car entered a lot: push its signing (pay-after-leave) and its arrears,
/// when it has either. Runs after the entry is stored, off the uplink's path.
pub fn entered(state: &AppState, lot: Arc<LotAccess>, parking_code: String, plate_no: String, plate_color: i64) {
    let state = state.clone();
    tokio::spawn(async move {
        if let Err(e) = announce(&state, &lot, &parking_code, &plate_no, plate_color).await {
            tracing::error!(error = %e, plate = plate_no, "cannot announce signing or arrears to the lot");
        }
    });
}

async fn announce(
    state: &AppState,
    lot: &LotAccess,
    parking_code: &str,
    plate_no: &str,
    plate_color: i64,
) -> Result<(), AnnounceError> {
    let mut downlinks = Vec::new();
    // Two reads for every entry of the city: the sign-up and the open arrears, nothing else.
    let signup = state.store().signup(plate_no).await?;
    let open = state.store().open_arrears(plate_no).await?;
    let info = signing_of(signup.as_ref(), !open.is_empty(), parking_code, plate_no, plate_color);
    let arrears = arrears_from(state, plate_no, &open);
    let mut say = Vec::new();
    if info.no_stop != NoStop::Unsigned {
        say.push(Announcement::Signing(info));
    }
    if arrears.un_pay > 0 {
        say.push(Announcement::Arrears(arrears));
    }
    for what in &say {
        match state.announce(lot, parking_code, what) {
            Ok(d) => downlinks.push(d),
            // A protocol without the message (Bolink has no arrears push): the lot asks instead (2.38).
            Err(AnnounceError::NotCarried { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    if !downlinks.is_empty() {
        state.store().put_downlinks(downlinks).await?;
        state.wake().now();
    }
    Ok(())
}

/// Asks the lot a car is in for its fee (`fee`), waiting for the uploadFee
/// up to `wait`; the quote's requestId, and whether the answer came.
pub async fn ask_fee(state: &AppState, plate_no: &str, wait: Duration) -> Result<Option<(i64, bool)>, AnnounceError> {
    ask_fee_at(state, plate_no, None, wait).await
}

/// [`ask_fee`] for a driver at `exit_lane` (a lot that knows lanes opens it once paid).
pub async fn ask_fee_at(
    state: &AppState,
    plate_no: &str,
    exit_lane: Option<&str>,
    wait: Duration,
) -> Result<Option<(i64, bool)>, AnnounceError> {
    let Some((parking_code, access_id, _, _)) = state.store().parked(plate_no).await? else { return Ok(None) };
    let Some(lot) = state.any_lot(&access_id).await? else { return Ok(None) };
    let ask = Announcement::FeeRequest { plate_no: plate_no.to_owned(), exit_lane: exit_lane.map(str::to_owned) };
    let downlink = state.announce(&lot, &parking_code, &ask)?;
    let request_id = downlink.request_id;
    let answered = awaited(state, request_id, Awaited::Fee, wait, state.store().ask_fee(&downlink, plate_no)).await?;
    Ok(Some((request_id, answered)))
}

/// What a driver's page waits for: the lot's answer to a fee query, or to a
/// renewal's price question.
pub enum Awaited<'a> {
    Fee,
    Renewal(&'a str),
}

/// Stores a question to a lot (`stored`), wakes the publisher and waits up
/// to `wait` for the lot's answer to `request_id` ([`fee_answered`]):
/// whether it came. The waiter is in place before the question can go out.
/// The answer may reach another node behind the balancer: the store is
/// looked at every half second too.
pub async fn awaited(
    state: &AppState,
    request_id: i64,
    what: Awaited<'_>,
    wait: Duration,
    stored: impl std::future::Future<Output = Result<(), StoreError>>,
) -> Result<bool, StoreError> {
    let (tx, mut rx) = oneshot::channel();
    state.payments().waiters().insert(request_id, tx);
    if let Err(e) = stored.await {
        state.payments().waiters().remove(&request_id);
        return Err(e);
    }
    state.wake().now();
    let answered = tokio::time::timeout(wait, async {
        loop {
            tokio::select! {
                _ = &mut rx => return,
                () = tokio::time::sleep(Duration::from_millis(500)) => {}
            }
            let stored = match what {
                Awaited::Fee => {
                    state.store().fee_quote(request_id).await.map(|q| q.is_some_and(|q| q.answered_at.is_some()))
                }
                Awaited::Renewal(trade_no) => {
                    state.store().renewal(trade_no).await.map(|r| r.is_some_and(|r| r.state != "asked"))
                }
            };
            if stored.unwrap_or(false) {
                return;
            }
        }
    })
    .await
    .is_ok();
    state.payments().waiters().remove(&request_id);
    Ok(answered)
}

/// uploadFee arrived for `request_id`: wake the driver page waiting for it.
pub fn fee_answered(state: &AppState, request_id: i64) {
    if let Some(waiter) = state.payments().waiters().remove(&request_id) {
        let _ = waiter.send(());
    }
}

/// Pays a plate's open arrears in one interactive charge; the bills are
/// settled (and their lots told with payResult) when it is paid. The charge
/// claims each bill: a second tap, tab or a lot's retry of one of them finds
/// the first charge. Bills another charge is paying are left to it.
pub async fn pay_arrears(state: &AppState, plate_no: &str) -> Result<Option<Paying>, StoreError> {
    let mut open = Vec::new();
    let mut holder = None;
    for a in state.store().open_arrears(plate_no).await? {
        match state.store().debt_holder(&Debt::bill(&a.parking_code, &a.bill_id)).await? {
            Some(h) => holder = holder.or(Some(h)),
            None => open.push(a),
        }
    }
    let Some(first) = open.first() else { return Ok(holder.map(Paying::Claimed)) };
    let total: i64 = open.iter().map(|a| a.should_pay).sum();
    let bills = open.iter().map(|a| format!("{}:{}", a.parking_code, a.bill_id)).collect::<Vec<_>>().join(",");
    // The same bills make the same charge (a declined one is tried again as its next attempt).
    let digest = openssl::sha::sha256(format!("{plate_no}\n{bills}").as_bytes());
    let bill_id = format!("ARR{}", digest.iter().take(10).map(|b| format!("{b:02x}")).collect::<String>());
    let now = format_time(state.now());
    let mut p = new_payment(
        state,
        Purpose::Arrears,
        "",
        &bill_id,
        &first.uid,
        (plate_no, first.plate_color),
        (&first.arrive_time, &first.end_time, &now),
        total,
    );
    p.uid = bills;
    let debts: Vec<(Debt, i64)> =
        open.iter().map(|a| (Debt::bill(&a.parking_code, &a.bill_id), a.should_pay)).collect();
    Ok(Some(pay(state, p, &debts, true).await?))
}

/// After an arrears payment became paid (its bills settled, their lots told,
/// in that commit): bills of it settled otherwise while it was pending (a
/// booth collected them) were paid twice, so that part goes back; the lot the
/// car is in now hears that nothing is owed any more (overDueResult, prevent=0).
async fn settle_claimed(state: &AppState, p: &Payment) -> Result<(), StoreError> {
    let mut beyond = 0;
    let mut settled_otherwise = 0;
    for (code, bill) in state.store().claimed_bills(&p.parking_code, &p.bill_id).await? {
        if let Some(a) = state.store().settled_arrear(&code, &bill).await?
            && a.settled_by.as_deref() != Some(p.order_id.as_str())
        {
            beyond += a.should_pay;
            settled_otherwise += 1;
        }
    }
    if beyond > 0 {
        let reason = "部分欠费已在岗亭结清：自动退还多付部分";
        refund_part(state, p, beyond, &format!("R{}-{settled_otherwise}", p.order_id), reason).await?;
    }
    release(state, &p.plate_no).await;
    Ok(())
}

/// Tells the lot the car is in that its arrears are settled (no hold).
async fn release(state: &AppState, plate_no: &str) {
    let result = async {
        let Some((parking_code, access_id, _, _)) = state.store().parked(plate_no).await? else { return Ok(()) };
        let Some(lot) = state.any_lot(&access_id).await? else { return Ok(()) };
        let arrears = arrears_of(state, plate_no).await?;
        let d = state.announce(&lot, &parking_code, &Announcement::Arrears(arrears))?;
        state.store().put_downlinks(vec![d]).await?;
        state.wake().now();
        Ok::<(), AnnounceError>(())
    };
    if let Err(e) = result.await {
        tracing::error!(error = %e, plate = plate_no, "cannot tell the lot the arrears are settled");
    }
}

/// A lot collected a plate's arrears offline (cancelOverDueBill): its open
/// bills are written off and their lots told; returns (bills, fen).
pub async fn write_off(state: &AppState, parking_code: &str, plate_no: &str) -> Result<(usize, i64), StoreError> {
    let open = state.store().open_arrears(plate_no).await?;
    let now = state.now();
    // The one number the lot hears (payResult) and is answered later (getPayResult, checkDailyBill).
    let offline = format!("OFFLINE-{parking_code}");
    let mut downlinks = Vec::new();
    for a in &open {
        let o = Outcome {
            state: PayState::Paid,
            actual_pay: Some(a.should_pay),
            discount: 0,
            txn_id: Some(offline.clone()),
            deal_time: Some(format_time(now)),
            paid_type: Some(paid_type::CASH),
            reason: None,
            refunded: 0,
        };
        if let Ok(Some(downlink)) =
            notice(state, &a.parking_code, &a.bill_id, &a.plate_no, &a.bill_time, a.should_pay, &o, Scene::Arrears)
                .await
        {
            downlinks.push(Notice { bill: Some((a.parking_code.clone(), a.bill_id.clone())), downlink });
        }
    }
    let bills: Vec<(String, String)> = open.iter().map(|a| (a.parking_code.clone(), a.bill_id.clone())).collect();
    let by = format!("lot:{parking_code}");
    let settled =
        state.store().settle_arrears(&bills, ("written_off", &by, &offline), &format_time(now), downlinks).await?;
    state.wake().now();
    let total = open
        .iter()
        .filter(|a| settled.contains(&(a.parking_code.clone(), a.bill_id.clone())))
        .map(|a| a.should_pay)
        .sum();
    Ok((settled.len(), total))
}
