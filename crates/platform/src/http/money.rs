//! The admin API of money: charges, arrears, and the daily three-way
//! reconciliation of the lots' bills (uploadPayRecord), the platform's
//! charges and the channel's statement, listing every mismatch.

use axum::Json;
use axum::extract::{Path, Query, State};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, bad, conflict};
use crate::http::params::Day;
use crate::state::AppState;
use crate::store::Store;
use crate::store::{Arrear, PayState, Payment, Purpose};

#[derive(Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub(crate) struct PaymentParams {
    /// Only this plate's (as stored).
    plate_no: Option<String>,
    /// Only this lot's.
    parking_code: Option<String>,
    /// Only those in this state.
    #[param(inline)]
    state: Option<PayState>,
    /// At most this many (default 100; below 1 reads as 1, above 1000 as 1000).
    limit: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct PaymentsReply {
    items: Vec<Payment>,
}

/// Charges through the payment channel, newest first.
#[utoipa::path(get, path = "/api/admin/payments", tag = "money", params(PaymentParams),
    responses((status = 200, body = PaymentsReply)))]
pub(crate) async fn payments(
    State(store): State<Store>,
    Query(p): Query<PaymentParams>,
) -> Result<Json<PaymentsReply>, ApiError> {
    let limit = p.limit.unwrap_or(100).clamp(1, 1000);
    let items = match p.plate_no.as_deref().filter(|s| !s.is_empty()) {
        Some(plate) => {
            let mut items = store.payments_of(plate, limit).await?;
            items.retain(|i| {
                p.parking_code.as_deref().is_none_or(|c| c.is_empty() || i.parking_code == c)
                    && p.state.is_none_or(|s| i.state == s)
            });
            items
        }
        None => store.payments(p.parking_code.as_deref(), p.state, limit).await?,
    };
    Ok(Json(PaymentsReply { items }))
}

/// An operator's refund.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct RefundRequest {
    /// Why (kept with the payment and told to the lot): 1–200 characters, not only spaces.
    #[schema(min_length = 1, max_length = 200, pattern = "\\S")]
    reason: String,
    /// Fen to give back (default: all that is left of the payment). A part needs `refundNo`.
    #[schema(minimum = 1)]
    amount: Option<i64>,
    /// The operator's reference for a part refund (letters, digits, `_`, `-`): the same reference
    /// again is the same refund.
    #[schema(pattern = "^[0-9A-Za-z_-]{1,32}$")]
    refund_no: Option<String>,
}

/// Gives (part of) a paid charge back to the driver: all that is left, or
/// `amount` under the operator's `refundNo`. Asked again (a double click, a
/// retry) it is the same refund: the money goes back once. A Bolink lot's
/// prepayment is booked back at the lot (3.23 `refund_inform`, once per
/// refund); a renewal or an arrears payment is not refunded here, nor a
/// prepayment of a car still inside a lot that cannot be told.
#[utoipa::path(post, path = "/api/admin/payments/{orderId}/refund", tag = "money",
    params(("orderId" = String, Path, description = "the charge's order id")),
    request_body = RefundRequest,
    responses((status = 200, description = "refunded: the payment after it", body = Payment),
        (status = 404, description = "no such payment", body = crate::error::ErrorBody),
        (status = 409, description = "not paid, less left than asked, a part without refundNo, or what it bought would stay bought", body = crate::error::ErrorBody),
        (status = 502, description = "the payment channel refused or did not answer", body = crate::error::ErrorBody)))]
pub(crate) async fn refund(
    State(state): State<AppState>,
    axum::extract::Extension(who): axum::extract::Extension<crate::access::Who>,
    Path(order_id): Path<String>,
    crate::error::Body(r): crate::error::Body<RefundRequest>,
) -> Result<Json<Payment>, ApiError> {
    use crate::city::payments::RefundRefused;
    let reason = r.reason.trim();
    if reason.is_empty() || reason.chars().count() > 200 {
        return Err(bad("reason: 1–200 characters"));
    }
    if r.amount.is_some_and(|a| a < 1) {
        return Err(bad("amount: at least 1 fen"));
    }
    let reference_ok = |n: &String| {
        (1..=32).contains(&n.len()) && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    };
    if r.refund_no.as_ref().is_some_and(|n| !reference_ok(n)) {
        return Err(bad("refundNo: 1–32 letters, digits, _ or -"));
    }
    if r.amount.is_some() && r.refund_no.is_none() {
        return Err(conflict(
            "refundNo: a part refund needs the operator's reference (the same reference again is the same refund)",
        ));
    }
    let result =
        crate::city::payments::refund_as(&state, &who, &order_id, r.amount, r.refund_no.as_deref(), reason).await;
    match result {
        Ok(p) => Ok(Json(p)),
        Err(e @ RefundRefused::NoPayment(_)) => Err(crate::error::not_found(e.to_string())),
        Err(e @ (RefundRefused::NotPaid(..) | RefundRefused::TooMuch { .. } | RefundRefused::Kept(_))) => {
            Err(crate::error::conflict(e.to_string()))
        }
        Err(e @ RefundRefused::Channel(_)) => Err(ApiError(axum::http::StatusCode::BAD_GATEWAY, e.to_string())),
        Err(RefundRefused::Denied(d)) => Err(ApiError(axum::http::StatusCode::FORBIDDEN, d.en.to_owned())),
        Err(RefundRefused::Store(e)) => Err(e.into()),
    }
}

#[derive(Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub(crate) struct ArrearsParams {
    /// Only this plate's (as stored).
    plate_no: Option<String>,
    /// At most this many (default 100; below 1 reads as 1, above 1000 as 1000).
    limit: Option<i64>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ArrearsReply {
    items: Vec<Arrear>,
    /// Open bills among `items`, and what they add up to (fen).
    open_count: i64,
    open_fen: i64,
}

/// Unpaid bills across the city (open, paid, written off), newest first.
#[utoipa::path(get, path = "/api/admin/arrears", tag = "money", params(ArrearsParams),
    responses((status = 200, body = ArrearsReply)))]
pub(crate) async fn arrears(
    State(store): State<Store>,
    Query(p): Query<ArrearsParams>,
) -> Result<Json<ArrearsReply>, ApiError> {
    let limit = p.limit.unwrap_or(100).clamp(1, 1000);
    let items = store.arrears(p.plate_no.as_deref(), limit).await?;
    let open: Vec<&Arrear> = items.iter().filter(|a| a.state == "open").collect();
    let (open_count, open_fen) = (open.len() as i64, open.iter().map(|a| a.should_pay).sum());
    Ok(Json(ArrearsReply { items, open_count, open_fen }))
}

#[derive(Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub(crate) struct DateParams {
    /// The day.
    #[param(inline)]
    date: Day,
}

/// One difference between the three sources.
#[derive(Serialize, ToSchema, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Mismatch {
    /// channel_only (the channel took money the platform has no paid charge for), platform_only
    /// (a paid charge missing from the statement), amount (they disagree on the amount), refund
    /// (refunds disagree), not_reported (paid, but the lot never sent the bill), lot_only (a lot
    /// reports a city-platform payment the platform never charged).
    pub(crate) kind: String,
    pub(crate) order_id: Option<String>,
    pub(crate) parking_code: Option<String>,
    pub(crate) bill_id: Option<String>,
    /// fen, as the platform, the channel and the lot have it.
    pub(crate) platform: Option<i64>,
    pub(crate) channel: Option<i64>,
    pub(crate) lot: Option<i64>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ReconcileReply {
    pub(crate) date: String,
    /// Paid charges of the day, net of refunds (fen), by the platform and by the channel.
    pub(crate) platform_fen: i64,
    pub(crate) channel_fen: i64,
    /// City-platform payments the lots reported for the day (fen).
    pub(crate) lot_fen: i64,
    pub(crate) mismatches: Vec<Mismatch>,
}

/// The day's money three ways — lots' bills, the platform's charges, the
/// channel's statement — with every mismatch.
#[utoipa::path(get, path = "/api/admin/payments/reconciliation", tag = "money", params(DateParams),
    responses((status = 200, body = ReconcileReply),
              (status = 502, description = "the channel's statement could not be fetched", body = crate::error::ErrorBody)))]
pub(crate) async fn reconciliation(
    State(state): State<AppState>,
    Query(p): Query<DateParams>,
) -> Result<Json<ReconcileReply>, ApiError> {
    let date = onepark_domain::time::parse_date(p.date.as_str()).map_err(|_| bad("date: expected yyyy-MM-dd"))?;
    three_way(&state, date).await.map(Json)
}

/// The day's three-way check (the API's and the console's page).
pub(crate) async fn three_way(state: &AppState, date: chrono::NaiveDate) -> Result<ReconcileReply, ApiError> {
    let ours = state.store().day_payments(date).await?;
    let csv = state
        .payments()
        .channel()
        .statement(date)
        .await
        .map_err(|e| ApiError(axum::http::StatusCode::BAD_GATEWAY, format!("channel statement: {e}")))?;
    let lines = onepark_pay::parse_statement(&csv)
        .map_err(|e| ApiError(axum::http::StatusCode::BAD_GATEWAY, format!("channel statement: {e}")))?;
    let paid_type = state.payments().channel().paid_type();
    let lot_bills = state.store().day_online_bills(date, paid_type).await?;
    Ok(reconcile(&date.to_string(), &ours, &lines, &lot_bills, paid_type))
}

/// The comparison itself, pure.
fn reconcile(
    date: &str,
    ours: &[Payment],
    lines: &[onepark_pay::StatementLine],
    lot_bills: &[(String, String, i64, i64)],
    paid_type: i64,
) -> ReconcileReply {
    let mut mismatches = Vec::new();
    let money = |p: &Payment| matches!(p.state, PayState::Paid | PayState::Refunded);
    let charged =
        |order: &str| lines.iter().filter(|l| l.order_id == order && l.kind == "charge").map(|l| l.amount).sum::<i64>();
    let refunded = |order: &str| {
        -lines.iter().filter(|l| l.order_id == order && l.kind == "refund").map(|l| l.amount).sum::<i64>()
    };
    let mismatch = |kind: &str, p: Option<&Payment>| Mismatch {
        kind: kind.into(),
        order_id: p.map(|p| p.order_id.clone()),
        parking_code: p.map(|p| p.parking_code.clone()),
        bill_id: p.map(|p| p.bill_id.clone()),
        platform: None,
        channel: None,
        lot: None,
    };
    for p in ours.iter().filter(|p| money(p)) {
        let (theirs, back) = (charged(&p.order_id), refunded(&p.order_id));
        let actual = p.actual_pay.unwrap_or(0);
        if theirs == 0 && !lines.iter().any(|l| l.order_id == p.order_id) {
            mismatches.push(Mismatch { platform: Some(actual), ..mismatch("platform_only", Some(p)) });
        } else if theirs != actual {
            mismatches.push(Mismatch { platform: Some(actual), channel: Some(theirs), ..mismatch("amount", Some(p)) });
        } else if back != p.refunded {
            mismatches.push(Mismatch {
                platform: Some(p.refunded),
                channel: Some(back),
                ..mismatch("refund", Some(p))
            });
        }
        // Arrears payments settle other lots' bills; refunded ones were collected offline;
        // a renewal's lot books it by answering 3.10 (the card, not a bill).
        let reported = lot_bills.iter().find(|(c, b, _, _)| *c == p.parking_code && *b == p.bill_id);
        let billed = !matches!(p.purpose, Purpose::Arrears | Purpose::Renewal);
        if billed && p.state == PayState::Paid && reported.is_none() {
            mismatches.push(Mismatch { platform: Some(actual), ..mismatch("not_reported", Some(p)) });
        }
    }
    for l in lines.iter().filter(|l| l.kind == "charge") {
        if !ours.iter().any(|p| p.order_id == l.order_id && money(p)) {
            mismatches.push(Mismatch {
                order_id: Some(l.order_id.clone()),
                channel: Some(l.amount),
                ..mismatch("channel_only", None)
            });
        }
    }
    // An arrears payment settles the bills listed in its uid (`code:bill,…`).
    let settled_as_arrears = |code: &str, bill: &str| {
        let key = format!("{code}:{bill}");
        ours.iter().any(|p| p.purpose == Purpose::Arrears && money(p) && p.uid.split(',').any(|b| b == key))
    };
    for (code, bill, fen, _) in lot_bills.iter().filter(|b| b.3 == paid_type) {
        let charged = ours.iter().any(|p| p.parking_code == *code && p.bill_id == *bill && money(p));
        if !charged && !settled_as_arrears(code, bill) {
            mismatches.push(Mismatch {
                parking_code: Some(code.clone()),
                bill_id: Some(bill.clone()),
                lot: Some(*fen),
                ..mismatch("lot_only", None)
            });
        }
    }
    ReconcileReply {
        date: date.to_owned(),
        platform_fen: ours.iter().filter(|p| money(p)).map(|p| p.actual_pay.unwrap_or(0) - p.refunded).sum(),
        channel_fen: lines.iter().map(|l| l.amount).sum(),
        lot_fen: lot_bills.iter().filter(|b| b.3 == paid_type).map(|b| b.2).sum(),
        mismatches,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paid(order: &str, bill: &str, fen: i64) -> Payment {
        Payment {
            parking_code: "1001".into(),
            bill_id: bill.into(),
            order_id: order.into(),
            attempt: 1,
            purpose: Purpose::Exit,
            uid: "u".into(),
            plate_no: "鲁B12345".into(),
            plate_color: 1,
            arrive_time: String::new(),
            end_time: String::new(),
            bill_time: String::new(),
            should_pay: fen,
            discount: 0,
            actual_pay: Some(fen),
            state: PayState::Paid,
            channel: "sandbox".into(),
            txn_id: None,
            paid_type: Some(4),
            pay_type: 103,
            deal_time: None,
            reason: None,
            refunded: 0,
            refund_reason: None,
            notifications: 0,
            created_at: String::new(),
            updated_at: String::new(),
        }
    }

    fn line(order: &str, kind: &str, fen: i64) -> onepark_pay::StatementLine {
        onepark_pay::StatementLine {
            time: String::new(),
            kind: kind.into(),
            order_id: order.into(),
            txn_id: String::new(),
            plate_no: String::new(),
            amount: fen,
        }
    }

    #[test]
    fn every_kind_of_mismatch_is_listed() {
        let ours = [paid("A", "b1", 500), paid("B", "b2", 300), paid("C", "b3", 200)];
        let lines = [line("A", "charge", 500), line("B", "charge", 400), line("X", "charge", 100)];
        let bills = [
            ("1001".into(), "b1".into(), 500, 4),
            ("1001".into(), "b2".into(), 300, 4),
            ("1001".into(), "b9".into(), 50, 4),
        ];
        let r = reconcile("2026-12-02", &ours, &lines, &bills, 4);
        let kinds: Vec<(&str, Option<&str>)> =
            r.mismatches.iter().map(|m| (m.kind.as_str(), m.order_id.as_deref().or(m.bill_id.as_deref()))).collect();
        assert_eq!(
            kinds,
            [
                ("amount", Some("B")),
                ("platform_only", Some("C")),
                ("not_reported", Some("C")),
                ("channel_only", Some("X")),
                ("lot_only", Some("b9"))
            ]
        );
        assert_eq!((r.platform_fen, r.channel_fen, r.lot_fen), (1000, 1000, 850));
        let clean = reconcile("d", &ours[..1], &lines[..1], &bills[..1], 4);
        assert!(clean.mismatches.is_empty(), "{:?}", clean.mismatches);
    }
}
