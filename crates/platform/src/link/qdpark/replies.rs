//! The payment interfaces' answers (applyPayment, getPayResult,
//! checkDailyBill's detail, getDeparturePayInfo, getOverDueResult) built from
//! proto's typed `*Reply` structs, so the platform answers with the very
//! fields the lot decodes.

use onepark_domain::record::{Scene, paid_type};
use onepark_proto::dict::{PaidType, PayScene, PayStatus};
use onepark_proto::msg::payment::{DeparturePayReply, OverDueReply, PayResultReply};
use onepark_proto::wire::{ResultCode, Time};
use serde_json::{Map, Value};

use crate::city::announce::{ArrearsNotice, Signing};
use crate::store::{Arrear, PayState, Payment};

/// A stored time as the wire's (they are stored in its format; a time that
/// is not one is left out, and the lot's check of the reply names it).
fn time(text: &str) -> Option<Time> {
    text.parse().ok()
}

/// A typed reply's fields, without `resultCode`/`msg` (the answer adds them).
fn fields<T: serde::Serialize>(reply: &T) -> Map<String, Value> {
    match serde_json::to_value(reply) {
        Ok(Value::Object(mut m)) => {
            m.remove("resultCode");
            m.remove("msg");
            m
        }
        _ => Map::new(),
    }
}

/// getDeparturePayInfo: a plate's signing.
pub fn signing(s: &Signing) -> Map<String, Value> {
    let info = super::announce::signing(s);
    fields(&DeparturePayReply {
        result_code: ResultCode::OK,
        msg: String::new(),
        no_sense: info.no_sense,
        money_limit: info.money_limit,
        departure_pay: info.departure_pay,
    })
}

/// getOverDueResult: a plate's arrears.
pub fn arrears(a: &ArrearsNotice) -> Map<String, Value> {
    let notice = super::announce::arrears(a);
    fields(&OverDueReply {
        result_code: None,
        msg: None,
        plate_no: notice.plate_no,
        over_due_count: Some(notice.over_due_count),
        un_pay: notice.un_pay,
        prevent: notice.prevent,
    })
}

/// The reply fields of a bill settled as arrears (paid on the driver page or
/// written off at a booth), for applyPayment and getPayResult.
pub fn settled(a: &Arrear) -> Map<String, Value> {
    let online = a.settled_by.as_deref().is_some_and(|by| by.starts_with("OP"));
    // The number the lot was told in payResult: the channel's, or OFFLINE-{parkingCode}.
    let txn = a.settled_txn.clone().or_else(|| a.settled_by.clone()).unwrap_or_default();
    fields(&PayResultReply {
        result_code: None,
        msg: None,
        plate_no: a.plate_no.clone(),
        bill_id: a.bill_id.clone(),
        bill_time: time(&a.bill_time).unwrap_or(Time(Default::default())),
        should_pay: a.should_pay,
        pay_status: PayStatus::Done,
        actual_pay: Some(a.should_pay),
        discount_amount: 0,
        deal_time: time(a.settled_at.as_deref().unwrap_or_default()),
        order_code: Some(txn),
        paid_type: Some(PaidType::from_code(if online { paid_type::PLATFORM_ACCOUNT } else { paid_type::CASH })),
        pay_type: Some(PayScene::from_code(Scene::Arrears.code())),
    })
}

/// The applyPayment / getPayResult reply fields of a payment (`with_scene`:
/// getPayResult also names where it was paid).
pub fn payment(p: &Payment, with_scene: bool) -> Map<String, Value> {
    let paid = matches!(p.state, PayState::Paid);
    fields(&PayResultReply {
        result_code: None,
        msg: None,
        plate_no: p.plate_no.clone(),
        bill_id: p.bill_id.clone(),
        bill_time: time(&p.bill_time).unwrap_or(Time(Default::default())),
        should_pay: p.should_pay,
        pay_status: if paid { PayStatus::Done } else { PayStatus::Pending },
        actual_pay: paid.then(|| p.actual_pay.unwrap_or(0)),
        discount_amount: if paid { p.discount } else { 0 },
        deal_time: time(p.deal_time.as_deref().unwrap_or_default()).filter(|_| paid),
        order_code: paid.then(|| p.txn_id.clone().unwrap_or_default()),
        paid_type: paid.then(|| PaidType::from_code(p.paid_type.unwrap_or(paid_type::PLATFORM_ACCOUNT))),
        pay_type: (paid && with_scene).then(|| PayScene::from_code(p.pay_type)),
    })
}
