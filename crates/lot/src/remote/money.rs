//! Money the cloud moves (seed §3.1–§3.3, §3.8): what a car owes now (a
//! quote the lot keeps as an open prepayment bill), a payment the cloud
//! collected (it settles only a quote this lot made, for exactly its
//! amount, once per order), merchants' coupons (taken off at the exit) and a
//! fixed car's paid renewal (applied once per order). Money is yuan on the
//! wire (exact), fen here.

use onepark_cloudpark::fields::Fields;
use onepark_cloudpark::mq::Envelope;
use onepark_domain::money::yuan;
use onepark_domain::time::{format_time, parse_time};
use serde_json::json;

use onepark_cloudpark::command::first;

use super::{Outcome, item_error, object, storage};
use crate::state::LotState;
use crate::store::{BillKind, BillState, Coupon, OnlineBill, Session, Settlement};

/// The stay a message names: its recordNo (the cloud's, or the lot's uid), else the plate's open stay.
pub(super) async fn stay_of(
    state: &LotState,
    record_no: Option<&str>,
    plate: Option<&str>,
) -> Result<Option<Session>, String> {
    let store = state.store();
    if let Some(record_no) = record_no.filter(|r| !r.is_empty()) {
        let uid = store.cloud_uid(record_no).await.map_err(storage)?.unwrap_or_else(|| record_no.to_owned());
        if let Some(s) = store.open_session(&uid).await.map_err(storage)? {
            return Ok(Some(s));
        }
    }
    match plate {
        Some(p) => {
            let plate =
                crate::barrier::plate_text("plateNumber", p).map_err(|_| format!("车牌 {p} 无效（plateNumber）"))?;
            Ok(store.open_sessions(std::slice::from_ref(&plate)).await.map_err(storage)?.into_iter().next())
        }
        None => Ok(None),
    }
}

/// The car the lane `lane` holds now: its latest refused exit of the last ten minutes.
async fn held_at(state: &LotState, lane: &str) -> Result<Option<Session>, String> {
    let since = format_time(state.now() - chrono::Duration::minutes(10));
    let held = state.feed().latest().into_iter().find(|e| e.lane == lane && !e.open && e.at >= since);
    match held.and_then(|e| e.uid) {
        Some(uid) => state.store().open_session(&uid).await.map_err(storage),
        None => Ok(None),
    }
}

/// 3.1 `pay.queryfeebyplate`: what the car owes now, kept as an open
/// prepayment bill that a 3.2 of exactly that amount settles. `useTime` is
/// seconds here (the vendor's 3.1), money yuan.
pub(super) async fn query_fee(state: &LotState, m: &Envelope) -> Outcome {
    let f = first(m);
    let scene = f.opt_int(&["payScene"]).map_err(item_error(0))?.unwrap_or(0);
    let plate = f.opt_text(&["plateNumber"], 20).map_err(item_error(0))?;
    let lane = f.opt_text(&["outChannelid", "outChannelId"], 30).map_err(item_error(0))?;
    let record_no = f.opt_text(&["recordNo"], 64).map_err(item_error(0))?;
    let session = match scene {
        0 | 2 | 4 => {
            let Some(plate) = plate.as_deref() else { return Err("缺少 dataItems[0].plateNumber".into()) };
            stay_of(state, record_no.as_deref(), Some(plate)).await?
        }
        1 | 3 => {
            let Some(lane) = lane.as_deref() else { return Err("缺少 dataItems[0].outChannelid".into()) };
            match held_at(state, lane).await? {
                Some(s) => Some(s),
                None => stay_of(state, record_no.as_deref(), plate.as_deref()).await?,
            }
        }
        other => return Err(format!("dataItems[0].payScene 须为 0 至 4，收到 {other}")),
    };
    let now = state.now();
    let Some(session) = session else {
        // Scene 4 asks at the entrance: a car not in the lot owes nothing here.
        if scene == 4 {
            let item = object(
                json!({ "plateNumber": plate, "type": 1, "paidFee": "0.00", "payableFee": "0.00", "discountFee": "0.00" }),
            );
            return Ok(("车辆不在场内".into(), vec![item]));
        }
        return Err(format!("车辆 {} 不在场内，无法计费", plate.unwrap_or_default()));
    };
    let (fee, full, due) = crate::payments::owed_now(state, &session, now).await.map_err(storage)?;
    let at = format_time(now);
    let mut bill_id = String::new();
    if due > 0 {
        bill_id = format!("{}C{}", session.uid, now.format("%H%M%S"));
        let bill = OnlineBill::open(BillKind::Prepay, bill_id.clone(), &session, &at, due);
        state.store().put_online_bill(&bill).await.map_err(storage)?;
    }
    let entered = parse_time(&session.entry_time).unwrap_or(now);
    let record_no = state.store().cloud_record_of(&session.uid).await.map_err(storage)?.unwrap_or(session.uid.clone());
    let car_type = if session.card_id.is_some() { 8 } else { 9 };
    let item = object(json!({
        "plateNumber": session.plate_no, "type": 1, "enterTime": session.entry_time, "leaveTime": at,
        "useTime": (now - entered).num_seconds().max(0), "paidFee": yuan(due), "payableFee": yuan(full),
        "discountFee": yuan((full - fee).max(0)), "recordNo": record_no, "inChannelid": session.entry_lane,
        "entrance": session.entry_lane, "carType": car_type, "carSubType": car_type * 10 + 1, "enterPic": "",
        "billId": bill_id
    }));
    Ok(("操作成功".into(), vec![item]))
}

/// The city's paid type of the vendor's `payType` (§6): 1 WeChat, 2 Alipay,
/// 3 platform balance, 4 cash, 5 UnionPay; others are the platform's account.
fn paid_type(pay_type: i64) -> i64 {
    match pay_type {
        1 => 3,
        2 => 2,
        4 => onepark_domain::record::paid_type::CASH,
        5 => 6,
        _ => onepark_domain::record::paid_type::PLATFORM_ACCOUNT,
    }
}

/// 3.2 `pay.payparkingfeeorder`: the cloud collected `paidFee` (plus its own
/// `discountFee`) for a stay. It settles the stay's open quote of exactly
/// that sum, once per `orderNo`; the car then leaves free within the grace
/// period. Any other amount is refused: the lot charges only what it asked.
pub(super) async fn pay_notice(state: &LotState, m: &Envelope) -> Outcome {
    let f = first(m);
    let order_no = f.text(&["orderNo"], 64).map_err(item_error(0))?;
    let paid = f.opt_yuan(&["paidFee"]).map_err(item_error(0))?.unwrap_or(0);
    let discount = f.opt_yuan(&["discountFee"]).map_err(item_error(0))?.unwrap_or(0);
    let plate = f.opt_text(&["plateNumber"], 20).map_err(item_error(0))?;
    let record_no = f.opt_text(&["recordNo"], 64).map_err(item_error(0))?;
    let Some(session) = stay_of(state, record_no.as_deref(), plate.as_deref()).await? else {
        return Err(format!("订单 {order_no}：车辆不在场内（recordNo / plateNumber）"));
    };
    let bills = state.store().online_bills_of(&session.uid).await.map_err(storage)?;
    if bills.iter().any(|b| b.order_code.as_deref() == Some(order_no.as_str()) && b.state == BillState::Paid) {
        void_exit_bills(state, &bills).await?;
        return Ok(("订单已处理".into(), vec![object(json!({ "orderNo": order_no }))]));
    }
    let sum = paid.saturating_add(discount);
    // The quote it pays (`billId`, onepark's), else the newest of exactly that amount.
    let named = f.opt_text(&["billId"], 64).map_err(item_error(0))?;
    let Some(bill) = bills
        .iter()
        .filter(|b| b.kind == BillKind::Prepay && b.state == BillState::Open && b.should_pay == sum)
        .filter(|b| named.as_ref().is_none_or(|n| *n == b.bill_id))
        .max_by(|a, b| a.bill_time.cmp(&b.bill_time))
    else {
        return Err(format!(
            "订单 {order_no}：没有金额为 {} 元的待缴账单（先用 pay.queryfeebyplate 查询应缴金额）",
            yuan(sum)
        ));
    };
    let deal_time =
        f.opt_time(&["payTime"]).map_err(item_error(0))?.map(format_time).unwrap_or_else(|| format_time(state.now()));
    let s = Settlement {
        actual_pay: paid,
        discount,
        deal_time,
        order_code: order_no.clone(),
        paid_type: paid_type(f.opt_int(&["payType"]).map_err(item_error(0))?.unwrap_or(6)),
        pay_type: onepark_domain::record::Scene::InLot.code(),
        path: Some("cloud".into()),
        request_id: None,
    };
    let now = format_time(state.now());
    let settled = state.store().settle_online_bill(&bill.bill_id, &s, &now, None, Vec::new()).await.map_err(storage)?;
    if settled {
        tracing::info!(order_no, bill_id = bill.bill_id, paid, "a stay paid through the cloud");
    }
    void_exit_bills(state, &bills).await?;
    Ok(("操作成功".into(), vec![object(json!({ "orderNo": order_no, "recordNo": record_no }))]))
}

/// What an exit attempt asked the platform for is void once the cloud was
/// paid: the next read at the exit counts the payment, it does not ask again.
pub(crate) async fn void_exit_bills(state: &LotState, bills: &[OnlineBill]) -> Result<(), String> {
    let now = format_time(state.now());
    for b in bills.iter().filter(|b| b.kind == BillKind::Exit && b.state == BillState::Open) {
        let void = OnlineBill { state: BillState::Void, updated_at: now.clone(), ..b.clone() };
        state.store().put_online_bill(&void).await.map_err(storage)?;
    }
    Ok(())
}

/// 3.3 `pay.sendplateticket`: a merchant's coupon for a plate, taken off its
/// stay's fee at the exit (once: the stay that leaves with it uses it up).
pub(super) async fn coupon(state: &LotState, m: &Envelope) -> Outcome {
    let mut added = 0;
    for (i, item) in m.data_items.iter().enumerate() {
        let f = Fields::from_map(item.clone());
        let e = item_error(i);
        let plate = f.text(&["plateNumber"], 20).map_err(e)?;
        let plate = crate::barrier::plate_text("plateNumber", &plate)
            .map_err(|_| format!("dataItems[{i}].plateNumber 无效"))?;
        let kind = f.int(&["ticketType"]).map_err(e)?;
        let value = match kind {
            1 => f.opt_yuan(&["ticketValue"]).map_err(e)?.ok_or(format!("缺少 dataItems[{i}].ticketValue"))?,
            2 | 3 => f.int(&["ticketValue"]).map_err(e)?,
            4 | 5 => 0,
            other => return Err(format!("dataItems[{i}].ticketType 须为 1 至 5，收到 {other}")),
        };
        if (kind == 3 && !(1..=100).contains(&value)) || (kind == 2 && !(1..=525_600).contains(&value)) {
            return Err(format!("dataItems[{i}].ticketValue {value} 超出范围"));
        }
        let (from, to) = if f.opt_int(&["freeTicketType"]).map_err(e)?.unwrap_or(0) == 1 {
            (
                f.opt_time(&["freeTicketStart"]).map_err(e)?.map(format_time),
                f.opt_time(&["freeTicketEnd"]).map_err(e)?.map(format_time),
            )
        } else {
            (None, None)
        };
        let c = Coupon {
            ticket_no: f.text(&["ticketNo"], 64).map_err(e)?,
            plate_no: plate,
            ticket_type: kind,
            value,
            shop_name: f.opt_text(&["shopName"], 50).map_err(e)?,
            valid_from: from,
            valid_to: to,
            received_at: format_time(state.now()),
            used_by: None,
        };
        f.text(&["ticketMark"], 100).map_err(e)?;
        if state.store().put_coupon(&c).await.map_err(storage)? {
            added += 1;
            // A car held at the exit now owes less: its next read is priced anew.
            if let Some(s) = stay_of(state, None, Some(&c.plate_no)).await? {
                void_exit_bills(state, &state.store().online_bills_of(&s.uid).await.map_err(storage)?).await?;
            }
        }
    }
    Ok((format!("已领取 {added} 张优惠券"), Vec::new()))
}

/// 3.8 `pay.paymonthcardorder`: a fixed car's renewal paid through the
/// cloud: its card extended by `rechargeNum` months (from `forceTimeStart`
/// when given, else from its end), once per `orderNo`.
pub(super) async fn month_card_paid(state: &LotState, m: &Envelope) -> Outcome {
    let f = first(m);
    let order_no = f.text(&["orderNo"], 64).map_err(item_error(0))?;
    let plate = f.text(&["plateNumber"], 20).map_err(item_error(0))?;
    let plate =
        crate::barrier::plate_text("plateNumber", &plate).map_err(|_| "dataItems[0].plateNumber 无效".to_owned())?;
    let amount = f.opt_yuan(&["rechargeAmount"]).map_err(item_error(0))?.unwrap_or(0);
    let months = f.opt_int(&["rechargeNum"]).map_err(item_error(0))?.unwrap_or(1);
    if !(1..=120).contains(&months) {
        return Err(format!("dataItems[0].rechargeNum 须为 1 至 120 个月，收到 {months}"));
    }
    let Some((mut card, _)) = state.store().card_of(&plate).await.map_err(storage)? else {
        return Err(format!("车牌 {plate} 在本车场没有月卡"));
    };
    let now = state.now();
    let from = match f.opt_date_or_time(&["forceTimeStart"]).map_err(item_error(0))? {
        Some(start) => {
            card.start_time = format_time(start);
            format_time(start - chrono::Duration::seconds(1))
        }
        None => card.end_time.clone(),
    };
    card.end_time = super::cars::extend(&from, months, now)?;
    let applied =
        state.store().apply_card_order(&card, &order_no, &plate, amount, &format_time(now)).await.map_err(storage)?;
    let msg = if applied { format!("已续期至 {}", card.end_time) } else { "订单已处理".to_owned() };
    Ok((msg, vec![object(json!({ "orderNo": order_no }))]))
}
