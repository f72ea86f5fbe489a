//! The lot's side of online payment (spec §5.4–§5.6): the platform's
//! downlinks applied ([`Downlinks`]: fee quotes, payment results, signing
//! and arrears notices), what the exit asks of the platform ([`at_exit`]:
//! arrears hold, prepayment grace, pay-after-leave, no-stop deduction with a
//! bounded wait), and the follow-up job ([`run`]): pay-after-leave bills
//! charged, bills unpaid for 3 h reported every hour (uploadAbnormalBill),
//! the previous day reconciled (checkDailyBill).

use std::time::{Duration, Instant};

use chrono::NaiveDateTime;
use onepark_domain::plate;
use onepark_domain::time::{format_time, parse_time};
use onepark_proto::dict::{BillWay, CarStock, ListOperation, PaidType, PayScene, PayStatus, PlateColor, Prevent};
use onepark_proto::interface::{Downlink, Uplink};
use onepark_proto::msg::list::SpecialCar;
use onepark_proto::msg::payment::{
    AbnormalBill, ApplyPayment, ApplyPaymentReply, DailyBillQuery, DailyBillReply, DeparturePayInfo, FeeBill, FeeQuery,
    OverDueQuery, OverDueReply, OverDueResult, PayResult, PayResultQuery, PayResultReply,
};
use onepark_proto::msg::record::PayRecord;
use onepark_proto::msg::{Message, decode_object, encode_flat};
use onepark_proto::wire::{Date, Time};
use serde_json::{Map, Value};

use crate::downlink::Received;
use crate::lane::{self, OnlinePay, Prepaid};
use crate::state::LotState;
use crate::store::{
    ArrearsNotice, BillKind, BillState, ListEntry, OnlineBill, OrderMark, Report, Session, Settlement, Signing, Store,
    StoreError,
};
use crate::subscriber::{Applied, Apply, Refusal};

/// Applies every downlink interface: lists, and the four payment ones.
pub(crate) struct Downlinks {
    pub state: LotState,
}

impl Apply for Downlinks {
    async fn apply(&mut self, m: &Received) -> Applied {
        let state = &self.state;
        // Another lot's message (gateways sharing one MQTT session): not ours to
        // confirm, or the platform would stop delivering it to the right lot.
        if m.topic.parking_code != state.config().parking_code && m.topic.parking_code != "+" {
            return Err(Refusal::Retry(format!(
                "parkingCode {} is not this lot's ({}): give every gateway of an accessID its own platform.node",
                m.topic.parking_code,
                state.config().parking_code
            )));
        }
        match m.topic.interface {
            Downlink::SpecialCar => apply_list(state.store(), m).await.map(|()| None),
            Downlink::Fee => quote(state, m).await.map(Some),
            Downlink::PayResult => pay_result(state, m).await.map(|()| None),
            Downlink::DeparturePayInfo => signing(state, m).await.map(|()| None),
            Downlink::OverDueResult => arrears(state, m).await.map(|()| None),
        }
    }
}

/// Applies a specialCar (black/white list) downlink, read as the protocol's
/// [`SpecialCar`] (a message missing a field the spec requires is confirmed
/// with `success: false`, naming it).
pub(crate) async fn apply_list(store: &Store, m: &Received) -> Result<(), Refusal> {
    let car: SpecialCar = decode(m)?;
    let entry = ListEntry {
        // Stored as the lane records plates, so the lane's lookup finds it.
        plate_no: plate_text(&car.plate_no)?,
        list_kind: car.list_kind.code(),
        start_time: car.start_time.to_string(),
        end_time: car.end_time.to_string(),
        remark: car.remark,
        request_id: m.request_id,
    };
    let delete = car.operate == ListOperation::Delete;
    store.set_list(&entry, delete, &order_mark(m)).await.map_err(|e| Refusal::Retry(e.to_string()))
}

/// The message's parameters as `T`, or a refusal naming the fields.
fn decode<T: Message>(m: &Received) -> Result<T, Refusal> {
    decode_object::<T>(m.params.clone()).map(|d| d.message).map_err(|e| Refusal::Reject(e.zh()))
}

fn retry(e: StoreError) -> Refusal {
    Refusal::Retry(e.to_string())
}

pub(crate) fn order_mark(m: &Received) -> OrderMark {
    let (interface, parking_code, subject) = m.order_key();
    OrderMark {
        interface: interface.name().to_owned(),
        parking_code,
        subject,
        at: format_time(m.timestamp),
        request_id: m.request_id,
    }
}

/// What the session's paid prepayments cover, and until when the newest
/// one's grace period lets the car leave free.
pub(crate) async fn prepaid(state: &LotState, uid: &str) -> Result<Prepaid, StoreError> {
    let bills = state.store().online_bills_of(uid).await?;
    let paid: Vec<&OnlineBill> =
        bills.iter().filter(|b| b.kind == BillKind::Prepay && b.state == BillState::Paid).collect();
    // What was paid and discounted (a part the cloud gave back since is owed again).
    let covered = paid.iter().map(|b| b.actual_pay.map_or(b.should_pay, |a| a + b.discount.unwrap_or(0))).sum();
    let last = paid.iter().filter_map(|b| parse_time(&b.end_time).ok()).max();
    Ok(Prepaid { covered, grace_until: last.map(|end| end + state.config().payments.grace) })
}

/// A stay's fee now: (with its coupons, without them, still due after what
/// was paid) — what a cloud's fee query is answered with.
pub(crate) async fn owed_now(
    state: &LotState,
    session: &Session,
    now: NaiveDateTime,
) -> Result<(i64, i64, i64), StoreError> {
    let tariff = &state.config().tariff;
    let (fee, _, _) = crate::fee::with_coupons(state.store(), tariff, session, now).await?;
    let (full, _) = crate::fee::of_stay_without_coupons(state.store(), tariff, session, now).await?;
    Ok((fee, full, due(state, session, fee, now).await?))
}

/// What is still due for a session leaving at `at` with `fee` ([`lane::due`]).
pub(crate) async fn due(state: &LotState, session: &Session, fee: i64, at: NaiveDateTime) -> Result<i64, StoreError> {
    Ok(lane::due(fee, &prepaid(state, &session.uid).await?, at))
}

/// A downlink's plateNo as the lane records plates ([`plate::reading`]); one
/// the parser refuses is confirmed with `success: false` and the reason.
pub(crate) fn plate_text(text: &str) -> Result<String, Refusal> {
    plate::reading(text).map_err(|e| Refusal::Reject(format!("plateNo：{}", e.zh())))
}

/// `fee`: the car's bill so far, answered with uploadFee (D-26, D-45).
async fn quote(state: &LotState, m: &Received) -> Result<Map<String, Value>, Refusal> {
    let q: FeeQuery = decode(m)?;
    let plate = plate_text(&q.plate_no)?;
    let sessions = state.store().open_sessions(std::slice::from_ref(&plate)).await.map_err(retry)?;
    let Some(session) = sessions.into_iter().next() else {
        return Err(Refusal::Reject(format!("车辆 {plate} 不在场内，无法计费")));
    };
    let now = state.now();
    let (fee, _) = crate::fee::of_stay(state.store(), &state.config().tariff, &session, now).await.map_err(retry)?;
    let should_pay = due(state, &session, fee, now).await.map_err(retry)?;
    let at = format_time(now);
    let bill_id = format!("{}P{}", session.uid, now.format("%H%M%S"));
    let bill = OnlineBill::open(BillKind::Prepay, bill_id.clone(), &session, &at, should_pay);
    state.store().put_online_bill(&bill).await.map_err(retry)?;
    let reply = FeeBill {
        parking_code: state.config().parking_code.clone(),
        plate_no: session.plate_no.clone(),
        plate_color: PlateColor::from_code(session.plate_color),
        arrive_time: Time(parse_time(&session.entry_time).unwrap_or(now)),
        end_time: Time(now),
        bill_id,
        bill_time: Time(now),
        should_pay,
        uid: session.uid.clone(),
        pay_status: PayStatus::Pending,
        paid_type: None,
    };
    match serde_json::to_value(&reply) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(Refusal::Reject("账单序列化失败".into())),
    }
}

/// uploadPayRecord for a bill the platform settled.
fn pay_record(state: &LotState, bill: &OnlineBill, s: &Settlement) -> Report {
    let now = state.now();
    let time = |t: &str| Time(parse_time(t).unwrap_or(now));
    let record = PayRecord {
        bill_id: bill.bill_id.clone(),
        uid: bill.uid.clone(),
        plate_no: bill.plate_no.clone(),
        parking_code: state.config().parking_code.clone(),
        charge_fee: bill.should_pay,
        should_pay: bill.should_pay,
        actual_pay: s.actual_pay,
        bill_time: time(&bill.bill_time),
        deal_time: time(&s.deal_time),
        paid_type: PaidType::from_code(s.paid_type),
        pay_type: PayScene::from_code(s.pay_type),
        upload_time: Time(now),
        bill_way: BillWay::CityPlatform,
    };
    Report {
        uid: Some(bill.uid.clone()),
        interface: "uploadPayRecord",
        body: encode_flat(&record),
        created_ms: state.now_ms(),
    }
}

/// `payResult`: the bill is paid (prepay, or an after-leave bill settled
/// as arrears); a repeat with another requestId changes nothing.
async fn pay_result(state: &LotState, m: &Received) -> Result<(), Refusal> {
    let r: PayResult = decode(m)?;
    let store = state.store();
    let Some(bill) = store.online_bill(&r.bill_id).await.map_err(retry)? else {
        return Err(Refusal::Reject(format!("账单 billID {} 不是本车场的账单", r.bill_id)));
    };
    if plate_text(&r.plate_no)? != bill.plate_no {
        return Err(Refusal::Reject(format!("车牌 {} 与账单 {} 的车牌 {} 不符", r.plate_no, r.bill_id, bill.plate_no)));
    }
    if r.should_pay != bill.should_pay {
        return Err(Refusal::Reject(format!(
            "应收金额 shouldPay {} 与车场账单 {} 的应收 {} 分不符",
            r.should_pay, r.bill_id, bill.should_pay
        )));
    }
    if r.pay_status != PayStatus::Done {
        return Ok(());
    }
    let actual_pay = r.actual_pay.unwrap_or(0);
    if actual_pay > r.should_pay {
        return Err(Refusal::Reject(format!("实付 actualPay {actual_pay} 大于应收 shouldPay {}", r.should_pay)));
    }
    let s = Settlement {
        actual_pay,
        discount: r.discount_amount,
        deal_time: r.deal_time.map(|t| t.to_string()).unwrap_or_else(|| format_time(m.timestamp)),
        order_code: r.order_code.clone().unwrap_or_default(),
        paid_type: r.paid_type.map_or(PaidType::PlatformAccount.code(), |p| p.code()),
        pay_type: r.pay_type.map_or(PayScene::PrepayInLot.code(), |p| p.code()),
        path: None,
        request_id: Some(m.request_id),
    };
    let report = pay_record(state, &bill, &s);
    let now = format_time(state.now());
    let settled = store.settle_online_bill(&bill.bill_id, &s, &now, Some(&order_mark(m)), vec![report]).await;
    if settled.map_err(retry)? {
        state.wake_outbox();
        tracing::info!(bill_id = bill.bill_id, actual_pay, "bill paid online");
    }
    Ok(())
}

async fn signing(state: &LotState, m: &Received) -> Result<(), Refusal> {
    let info: DeparturePayInfo = decode(m)?;
    let signing = Signing {
        plate_no: plate_text(&info.plate_no)?,
        plate_color: info.plate_color.code(),
        no_sense: info.no_sense.code(),
        money_limit: info.money_limit,
        departure_pay: info.departure_pay.code(),
        request_id: m.request_id,
        received_at: format_time(state.now()),
    };
    state.store().put_signing(&signing, Some(&order_mark(m))).await.map_err(retry)
}

async fn arrears(state: &LotState, m: &Received) -> Result<(), Refusal> {
    let notice: OverDueResult = decode(m)?;
    let notice = ArrearsNotice {
        plate_no: plate_text(&notice.plate_no)?,
        over_due_count: Some(notice.over_due_count),
        un_pay: notice.un_pay,
        prevent: notice.prevent.code(),
        request_id: m.request_id,
        received_at: format_time(state.now()),
    };
    state.store().put_arrears(&notice, Some(&order_mark(m))).await.map_err(retry)
}

/// The plate's arrears hold, refreshed from the platform (getOverDueResult)
/// within the bound: the driver may just have paid on the driver page.
pub(crate) async fn arrears_hold(state: &LotState, session: &Session) -> Result<Option<ArrearsNotice>, StoreError> {
    if !state.config().payments.arrears_hold {
        return Ok(None);
    }
    let Some(notice) = state.store().arrears(&session.plate_no).await? else { return Ok(None) };
    if notice.prevent != Prevent::Block.code() {
        return Ok(None);
    }
    let query = OverDueQuery {
        parking_code: state.config().parking_code.clone(),
        plate_no: session.plate_no.clone(),
        plate_color: Some(PlateColor::from_code(session.plate_color)),
    };
    let wait = state.config().payments.wait;
    let fresh = match ask::<OverDueReply>(state, Uplink::GetOverDueResult, &query, wait).await {
        Ok(reply) => ArrearsNotice {
            over_due_count: reply.over_due_count,
            un_pay: reply.un_pay,
            prevent: reply.prevent.code(),
            received_at: format_time(state.now()),
            ..notice.clone()
        },
        Err(e) => {
            tracing::warn!(plate = session.plate_no, error = %e, "getOverDueResult failed; holding on the last notice");
            return Ok(Some(notice));
        }
    };
    state.store().put_arrears(&fresh, None).await?;
    Ok((fresh.prevent == Prevent::Block.code() && fresh.un_pay > 0).then_some(fresh))
}

/// Calls `interface` within `wait` and reads its reply as `T`.
async fn ask<T: Message>(
    state: &LotState,
    interface: Uplink,
    request: &impl serde::Serialize,
    wait: Duration,
) -> Result<T, String> {
    let data = serde_json::to_value(request).map_err(|e| e.to_string())?;
    let Some(uplink) = state.uplink() else { return Err(format!("{interface}: no [platform] configured")) };
    let reply = match tokio::time::timeout(wait, uplink.send(interface, &data)).await {
        Err(_) => return Err(format!("{interface}: no answer within {} ms", wait.as_millis())),
        Ok(Err(e)) => return Err(e.to_string()),
        Ok(Ok(reply)) => reply,
    };
    if !reply.ok() {
        return Err(format!("{interface}: {} {}", reply.result_code, reply.msg));
    }
    let Value::Object(body) = reply.body else { return Err(format!("{interface}: the reply is not an object")) };
    decode_object::<T>(body).map(|d| d.message).map_err(|e| format!("{interface}: {}", e.zh()))
}

/// The exit's online payment for `due` fen: pay-after-leave when the car's
/// signing allows it (D-32), else a no-stop deduction within the bound
/// (applyPayment, then getPayResult), else the booth.
pub(crate) async fn at_exit(
    state: &LotState,
    session: &Session,
    due: i64,
    lane: &str,
    at: NaiveDateTime,
) -> Result<OnlinePay, StoreError> {
    let p = &state.config().payments;
    if p.after_leave
        && let Some(s) = state.store().signing(&session.plate_no).await?
        && signing_allows(&s, due)
    {
        return Ok(OnlinePay::AfterLeave);
    }
    if !p.no_stop {
        return Ok(OnlinePay::NotUsed);
    }
    // A lot of a Bolink cloud only: password-free through it (4.2, 2.2 wallet, 3.4).
    if state.uplink().is_none()
        && let Some(handle) = state.bolink()
    {
        return crate::bolinkexit::at_exit(state, handle, session, due, lane, at).await;
    }
    let started = Instant::now();
    let request = apply_request(state, session, &exit_bill_id(&session.uid), due, lane, at, CarStock::InLot);
    let reply = ask::<ApplyPaymentReply>(state, Uplink::ApplyPayment, &request, p.wait).await;
    match reply {
        Ok(r) if r.pay_status == PayStatus::Done => return Ok(OnlinePay::Paid(settled(&r, "no_stop"))),
        Ok(r) => return Ok(OnlinePay::Booth(if r.msg.is_empty() { "无感支付未成功".into() } else { r.msg })),
        Err(e) => tracing::warn!(uid = session.uid, error = %e, "applyPayment unanswered; asking getPayResult"),
    }
    // Unanswered: the deduction may have happened. Ask once, briefly.
    let query = PayResultQuery {
        bill_id: request.bill_id.clone(),
        parking_code: request.parking_code.clone(),
        plate_no: request.plate_no.clone(),
    };
    let left = p.wait.saturating_sub(started.elapsed()).max(Duration::from_millis(300));
    match ask::<PayResultReply>(state, Uplink::GetPayResult, &query, left).await {
        Ok(r) if r.pay_status == PayStatus::Done => Ok(OnlinePay::Paid(Settlement {
            actual_pay: r.actual_pay.unwrap_or(0),
            discount: r.discount_amount,
            deal_time: r.deal_time.map(|t| t.to_string()).unwrap_or_else(|| format_time(at)),
            order_code: r.order_code.unwrap_or_default(),
            paid_type: r.paid_type.map_or(PaidType::PlatformAccount.code(), |p| p.code()),
            pay_type: PayScene::AtGate.code(),
            path: Some("no_stop_query".into()),
            request_id: None,
        })),
        Ok(_) => Ok(OnlinePay::Booth("无感支付结果未知，请到岗亭缴费".into())),
        Err(e) => {
            tracing::warn!(uid = session.uid, error = %e, "getPayResult unanswered; to the booth");
            Ok(OnlinePay::Booth("无感支付结果未知，请到岗亭缴费".into()))
        }
    }
}

/// D-32: signed without arrears, supported, within the limit.
fn signing_allows(s: &Signing, due: i64) -> bool {
    use onepark_proto::dict::{DeparturePay, NoSense};
    let info = DeparturePayInfo {
        plate_no: s.plate_no.clone(),
        plate_color: PlateColor::from_code(s.plate_color),
        parking_code: String::new(),
        no_sense: NoSense::from_code(s.no_sense),
        money_limit: s.money_limit,
        departure_pay: DeparturePay::from_code(s.departure_pay),
    };
    info.allows_pay_after_exit(due)
}

/// The bill id of a session's exit payment: the booth's bill and the no-stop
/// deduction share it, so the platform sees a late deduction of a bill the
/// booth collected (and refunds it).
pub(crate) fn exit_bill_id(uid: &str) -> String {
    format!("{uid}B")
}

fn settled(r: &ApplyPaymentReply, path: &str) -> Settlement {
    Settlement {
        actual_pay: r.actual_pay.unwrap_or(0),
        discount: r.discount_amount,
        deal_time: r.deal_time.map(|t| t.to_string()).unwrap_or_default(),
        order_code: r.order_code.clone().unwrap_or_default(),
        paid_type: r.paid_type.map_or(PaidType::PlatformAccount.code(), |p| p.code()),
        pay_type: PayScene::AtGate.code(),
        path: Some(path.into()),
        request_id: None,
    }
}

fn apply_request(
    state: &LotState,
    session: &Session,
    bill_id: &str,
    should_pay: i64,
    lane: &str,
    at: NaiveDateTime,
    car_stock: CarStock,
) -> ApplyPayment {
    ApplyPayment {
        parking_code: state.config().parking_code.clone(),
        uid: session.uid.clone(),
        plate_no: session.plate_no.clone(),
        plate_color: PlateColor::from_code(session.plate_color),
        arrive_time: Time(parse_time(&session.entry_time).unwrap_or(at)),
        end_time: Time(at),
        out_num: lane.to_owned(),
        bill_id: bill_id.to_owned(),
        bill_time: Time(at),
        should_pay,
        // D-22: the bill is unpaid when the lot applies.
        pay_status: PayStatus::Pending,
        car_stock,
    }
}

/// An after-leave bill asked for: applyPayment with the car gone; paid →
/// settled and reported. Unanswered or unpaid bills are asked again later.
async fn charge_after_leave(state: &LotState, bill: &OnlineBill) -> Result<(), StoreError> {
    let now = state.now();
    let at = parse_time(&bill.end_time).unwrap_or(now);
    let session = Session {
        uid: bill.uid.clone(),
        plate_no: bill.plate_no.clone(),
        plate_color: bill.plate_color,
        car_type: 1,
        parking_type: 1,
        entry_lane: String::new(),
        entry_time: bill.arrive_time.clone(),
        card_id: None,
    };
    let store = state.store();
    let lane = store.exit_lane(&bill.uid).await?.unwrap_or_default();
    let request = apply_request(state, &session, &bill.bill_id, bill.should_pay, &lane, at, CarStock::Left);
    match ask::<ApplyPaymentReply>(state, Uplink::ApplyPayment, &request, Duration::from_secs(10)).await {
        Ok(r) if r.pay_status == PayStatus::Done => {
            let s = Settlement { pay_type: PayScene::PayAfterExit.code(), ..settled(&r, "after_leave") };
            let report = pay_record(state, bill, &s);
            if store.settle_online_bill(&bill.bill_id, &s, &format_time(now), None, vec![report]).await? {
                state.wake_outbox();
            }
        }
        Ok(r) => {
            tracing::info!(bill_id = bill.bill_id, msg = r.msg, "pay-after-leave bill not paid yet");
            store.note_online_bill(&bill.bill_id, &format_time(now), None).await?;
        }
        Err(e) => {
            tracing::warn!(bill_id = bill.bill_id, error = %e, "applyPayment for a pay-after-leave bill failed");
        }
    }
    Ok(())
}

/// getPayResult for an open bill; paid → settled and reported.
async fn follow_up(state: &LotState, bill: &OnlineBill) -> Result<(), StoreError> {
    let query = PayResultQuery {
        bill_id: bill.bill_id.clone(),
        parking_code: state.config().parking_code.clone(),
        plate_no: bill.plate_no.clone(),
    };
    let now = format_time(state.now());
    match ask::<PayResultReply>(state, Uplink::GetPayResult, &query, Duration::from_secs(10)).await {
        Ok(r) if r.pay_status == PayStatus::Done => {
            let s = Settlement {
                actual_pay: r.actual_pay.unwrap_or(0),
                discount: r.discount_amount,
                deal_time: r.deal_time.map(|t| t.to_string()).unwrap_or_else(|| now.clone()),
                order_code: r.order_code.unwrap_or_default(),
                paid_type: r.paid_type.map_or(PaidType::PlatformAccount.code(), |p| p.code()),
                pay_type: r.pay_type.map_or(PayScene::PayAfterExit.code(), |p| p.code()),
                path: None,
                request_id: None,
            };
            let report = pay_record(state, bill, &s);
            if state.store().settle_online_bill(&bill.bill_id, &s, &now, None, vec![report]).await? {
                state.wake_outbox();
            }
        }
        Ok(_) => state.store().note_online_bill(&bill.bill_id, &now, None).await?,
        Err(e) => tracing::warn!(bill_id = bill.bill_id, error = %e, "getPayResult failed"),
    }
    Ok(())
}

/// uploadAbnormalBill for a bill unpaid for more than 3 h (hourly, D-22: payStatus 0).
async fn report_abnormal(state: &LotState, bill: &OnlineBill) -> Result<(), StoreError> {
    let now = state.now();
    let time = |t: &str| Time(parse_time(t).unwrap_or(now));
    let record = AbnormalBill {
        bill_id: bill.bill_id.clone(),
        parking_code: state.config().parking_code.clone(),
        uid: bill.uid.clone(),
        plate_no: bill.plate_no.clone(),
        plate_color: PlateColor::from_code(bill.plate_color),
        arrive_time: time(&bill.arrive_time),
        end_time: time(&bill.end_time),
        bill_time: time(&bill.bill_time),
        should_pay: bill.should_pay,
        pay_status: PayStatus::Pending,
    };
    let report = Report {
        uid: Some(bill.uid.clone()),
        interface: "uploadAbnormalBill",
        body: encode_flat(&record),
        created_ms: state.now_ms(),
    };
    state.store().note_online_bill(&bill.bill_id, &format_time(now), Some(report)).await?;
    state.wake_outbox();
    Ok(())
}

/// Bills unpaid this long are abnormal (§5.5.4) and followed up with getPayResult (§5.5.6).
const ABNORMAL_AFTER: chrono::Duration = chrono::Duration::hours(3);
const EVERY_HOUR: chrono::Duration = chrono::Duration::hours(1);

/// One pass of the follow-up job at `now`.
pub(crate) async fn follow_up_pass(state: &LotState, now: NaiveDateTime) -> Result<(), StoreError> {
    let store = state.store();
    let now_text = format_time(now);
    let stale =
        |t: &Option<String>| t.as_deref().and_then(|t| parse_time(t).ok()).is_none_or(|t| now - t >= EVERY_HOUR);
    for bill in store.open_online_bills(BillKind::AfterLeave, &now_text).await? {
        if bill.checked_at.is_none() {
            charge_after_leave(state, &bill).await?;
        } else if stale(&bill.checked_at) {
            follow_up(state, &bill).await?;
        }
    }
    let old = format_time(now - ABNORMAL_AFTER);
    for kind in [BillKind::AfterLeave, BillKind::Exit] {
        for bill in store.open_online_bills(kind, &old).await? {
            // Settled meanwhile? Then it is not abnormal.
            if kind == BillKind::Exit && stale(&bill.checked_at) {
                follow_up(state, &bill).await?;
            }
            let still_open = store.online_bill(&bill.bill_id).await?.is_some_and(|b| b.state == BillState::Open);
            if still_open && stale(&bill.abnormal_at) {
                report_abnormal(state, &bill).await?;
            }
        }
    }
    Ok(())
}

/// The previous day's pay-after-leave bills against the platform's
/// (checkDailyBill); every difference is logged and returned.
pub(crate) async fn check_day(state: &LotState, date: chrono::NaiveDate) -> Result<Vec<String>, String> {
    let query = DailyBillQuery {
        plate_no: None,
        parking_code: state.config().parking_code.clone(),
        check_bill_time: Date(date),
    };
    let theirs = ask::<DailyBillReply>(state, Uplink::CheckDailyBill, &query, Duration::from_secs(30)).await?;
    let ours = state.store().after_leave_bills(&date.to_string()).await.map_err(|e| e.to_string())?;
    let mut differences = Vec::new();
    for bill in &ours {
        match theirs.detail.iter().find(|d| d.bill_id == bill.bill_id) {
            None => differences.push(format!("{}: 平台无此先离后缴账单", bill.bill_id)),
            Some(d) if d.should_pay != bill.should_pay => differences
                .push(format!("{}: 应收 车场 {} 分，平台 {} 分", bill.bill_id, bill.should_pay, d.should_pay)),
            Some(d) => {
                let paid_there = d.pay_status == PayStatus::Done;
                let paid_here = bill.state == BillState::Paid;
                if paid_there != paid_here {
                    differences.push(format!("{}: 支付状态 车场 {paid_here}，平台 {paid_there}", bill.bill_id));
                }
            }
        }
    }
    for d in theirs.detail.iter().filter(|d| !ours.iter().any(|b| b.bill_id == d.bill_id)) {
        differences.push(format!("{}: 车场无此先离后缴账单", d.bill_id));
    }
    for difference in &differences {
        tracing::warn!(%date, difference, "checkDailyBill: pay-after-leave bills differ");
    }
    tracing::info!(%date, bills = ours.len(), differences = differences.len(), "checkDailyBill done");
    Ok(differences)
}

/// The follow-up job: every five minutes, and the previous day's check
/// once a day (after 00:10).
pub(crate) async fn run(state: LotState) {
    let mut tick = tokio::time::interval(Duration::from_secs(300));
    let mut checked: Option<chrono::NaiveDate> = None;
    loop {
        tick.tick().await;
        let now = state.now();
        if let Err(e) = follow_up_pass(&state, now).await {
            tracing::error!(error = %e, "payment follow-up failed");
        }
        let yesterday = now.date() - chrono::Duration::days(1);
        if now.time() >= chrono::NaiveTime::from_hms_opt(0, 10, 0).unwrap_or_default() && checked != Some(yesterday) {
            match check_day(&state, yesterday).await {
                Ok(_) => checked = Some(yesterday),
                Err(e) => tracing::warn!(error = %e, "checkDailyBill failed; trying again later"),
            }
        }
    }
}

/// Charges a pay-after-leave bill right after the car left (off the lane's path).
pub(crate) fn after_exit(state: &LotState, bill_id: String) {
    let state = state.clone();
    tokio::spawn(async move {
        match state.store().online_bill(&bill_id).await {
            Ok(Some(bill)) if bill.state == BillState::Open => {
                if let Err(e) = charge_after_leave(&state, &bill).await {
                    tracing::error!(error = %e, bill_id, "pay-after-leave charge failed");
                }
            }
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, bill_id, "pay-after-leave bill unreadable"),
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use onepark_proto::interface::Topic;
    use serde_json::json;

    fn received(interface: &str, request_id: i64, params: Value) -> Received {
        let Value::Object(params) = params else { unreachable!() };
        Received {
            topic: Topic::parse(&format!("qdpark/v1/{interface}/234/1001")).expect("topic"),
            request_id,
            timestamp: onepark_domain::time::parse_time("2026-11-23 10:00:00").expect("time"),
            params,
        }
    }

    /// A gateway without a platform (nothing is sent; the outbox keeps it).
    async fn gateway(dir: &std::path::Path) -> LotState {
        let keys = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../proto/tests/interop/keys");
        let toml = format!(
            "parking_code = \"1001\"\ndatabase = \"sqlite://{db}\"\n[berths]\ntotal = 10\nopen = 10\n\
             [[lanes]]\nid = \"1\"\ndirection = \"entry\"\n[[lanes]]\nid = \"2\"\ndirection = \"exit\"\n\
             [tariff]\nfree_minutes = 15\nprice = 300\ncycle_cap = 1200\n\
             [platform]\nurl = \"http://127.0.0.1:9/api/v1/cp\"\naccess_id = \"234\"\n\
             private_key = \"{lk}\"\nplatform_public_key = \"{pp}\"\n",
            db = dir.join("lot.db").display(),
            lk = keys.join("lot_private.b64").display(),
            pp = keys.join("platform_public.b64").display(),
        );
        std::fs::write(dir.join("lot.toml"), toml).expect("config");
        let config = crate::config::Config::load(&dir.join("lot.toml")).expect("config");
        crate::app::start(config).await.expect("gateway")
    }

    #[tokio::test]
    async fn a_quote_is_paid_once_whatever_the_platform_repeats() {
        let dir = std::env::temp_dir().join(format!("onepark-lot-pay-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let state = gateway(&dir).await;
        let entered = format_time(state.now() - chrono::Duration::hours(2));
        let session = Session {
            uid: "1001120260101000000001".into(),
            plate_no: "鲁B12345".into(),
            plate_color: 1,
            car_type: 1,
            parking_type: 1,
            entry_lane: "1".into(),
            entry_time: entered,
            card_id: None,
        };
        state.store().enter(&session, Vec::new(), None).await.expect("inside");
        let pay_records = async || {
            let pending = state.store().pending_after("qdpark", 0, 1000).await.expect("outbox");
            pending.iter().filter(|o| o.interface == "uploadPayRecord").count()
        };
        let mut apply = Downlinks { state: state.clone() };

        let absent = apply.apply(&received("fee", 1, json!({ "plateNo": "鲁B99999" }))).await;
        assert!(matches!(absent, Err(Refusal::Reject(ref why)) if why.contains("不在场内")), "{absent:?}");
        let bill = apply.apply(&received("fee", 2, json!({ "plateNo": "鲁b-12345" }))).await.expect("quoted");
        let bill = bill.expect("uploadFee params");
        let (bill_id, fen) =
            (bill["billID"].as_str().expect("billID").to_owned(), bill["shouldPay"].as_i64().expect("fen"));
        assert!(fen > 0 && bill["payStatus"] == 0, "{bill:?}");

        let paid = |request_id: i64, should_pay: i64, actual_pay: i64, bill: &str| {
            received(
                "payResult",
                request_id,
                json!({ "plateNo": "鲁B12345", "billID": bill,
                "billTime": format_time(state.now()), "shouldPay": should_pay, "payStatus": 1,
                "actualPay": actual_pay, "discountAmount": 0, "dealTime": format_time(state.now()),
                "orderCode": "SBX1", "paidType": 4, "payType": 102 }),
            )
        };
        let wrong = apply.apply(&paid(3, fen + 1, fen, &bill_id)).await;
        assert!(matches!(wrong, Err(Refusal::Reject(ref why)) if why.contains("shouldPay")), "{wrong:?}");
        let unknown = apply.apply(&paid(4, fen, fen, "nope")).await;
        assert!(matches!(unknown, Err(Refusal::Reject(ref why)) if why.contains("不是本车场")), "{unknown:?}");
        let over = apply.apply(&paid(5, fen, fen + 1, &bill_id)).await;
        assert!(matches!(over, Err(Refusal::Reject(ref why)) if why.contains("actualPay")), "{over:?}");
        apply.apply(&paid(6, fen, fen, &bill_id)).await.expect("paid");
        // The platform repeats it under another requestId (a second node, a re-publish after a lost confirm).
        apply.apply(&paid(7, fen, fen, &bill_id)).await.expect("confirmed again");
        assert_eq!(pay_records().await, 1, "one uploadPayRecord for the bill, however often it is announced");
        // Within the grace period nothing more is due.
        let (fee, _) =
            crate::fee::of_stay(state.store(), &state.config().tariff, &session, state.now()).await.expect("fee");
        assert_eq!(due(&state, &session, fee, state.now()).await.expect("due"), 0);
        let later = state.now() + chrono::Duration::minutes(30);
        let (fee_later, _) =
            crate::fee::of_stay(state.store(), &state.config().tariff, &session, later).await.expect("fee");
        assert_eq!(due(&state, &session, fee_later, later).await.expect("due"), fee_later - fen, "only the difference");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn a_list_message_is_read_as_the_protocols_special_car() {
        let dir = onepark_testkit::dirs::TempDir::new("lot-list");
        let file = dir.join("lot.db");
        let store = Store::open(&format!("sqlite://{}", file.display())).await.expect("store");
        let list = |request_id: i64, operate: i64| {
            received(
                "specialCar",
                request_id,
                json!({ "parkingCode": "1001", "plateNo": "鲁b-12345", "carType": 1, "operateType": 0,
                    "operate": operate, "remark": "", "operateTime": "2026-11-23 10:00:00",
                    "startTime": "2026-11-01 00:00:00", "endTime": "2026-11-30 23:59:59" }),
            )
        };
        let mut incomplete = list(1, 0);
        incomplete.params.remove("startTime");
        let refused = apply_list(&store, &incomplete).await;
        assert!(matches!(refused, Err(Refusal::Reject(ref why)) if why.contains("startTime")), "{refused:?}");
        apply_list(&store, &list(2, 0)).await.expect("added");
        assert_eq!(store.lists("鲁B12345", "2026-11-23 12:00:00").await.expect("lists"), (true, false));
        assert_eq!(store.lists("鲁B12345", "2026-12-01 12:00:00").await.expect("lists"), (false, false), "expired");
        apply_list(&store, &list(3, 1)).await.expect("deleted");
        assert_eq!(store.lists("鲁B12345", "2026-11-23 12:00:00").await.expect("lists"), (false, false));
    }
}
