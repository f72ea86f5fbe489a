//! A Bolink lot's word on money beyond fee queries and prepayments: its
//! price for a card's renewal (3.11 answer), its answer to a paid renewal
//! (3.10: applied, or refused and refunded), a renewal it collected itself
//! (2.13: the city's fixed car runs until its new end; the report is also
//! kept as the lot's event), and the day's e-payments it booked (2.30,
//! designed) compared with the platform's charges and kept as the lot's
//! side of the three-way check.

use onepark_bolink::epay_check::{self, Answer as EpayAnswer, Request as EpayRequest};
use onepark_bolink::message::{OutPark, stay_reply};
use onepark_bolink::renewal::{self, PriceAnswer, Record};
use onepark_bolink::{Envelope, Reply, no_stop};
use onepark_domain::time::format_time;

use super::answers::{own_message, unavailable};
use super::records;
use crate::config::LotAccess;
use crate::state::AppState;
use crate::store::{Confirmed, LotEpay, Purpose};

/// 3.11's answer: the lot's price for a renewal the platform asked about.
pub async fn priced(state: &AppState, lot: &LotAccess, e: &Envelope) -> Reply {
    let service = renewal::PRICE;
    let a = match PriceAnswer::read(&e.fields()) {
        Ok(a) => a,
        Err(why) => return Reply::refused(service, &why.0),
    };
    let Ok(request_id) = a.trade_no.parse::<i64>() else {
        return Reply::refused(service, &format!("trade_no {} 不是平台的续费询价编号", a.trade_no));
    };
    if let Err(refused) = own_message(state, lot, service, request_id, "续费询价").await {
        return refused;
    }
    let errmsg = a.price.as_ref().err().cloned();
    let now = format_time(state.now());
    let confirmed = state
        .store()
        .confirm_downlink(request_id, &lot.access_id, a.price.is_ok(), errmsg.as_deref(), &now, state.clock().millis())
        .await;
    if let Err(err) = confirmed {
        return unavailable(service, err);
    }
    match crate::city::renewals::priced(state, &a.trade_no, a.price).await {
        Ok(_) => Reply::ok(service).with("trade_no", a.trade_no),
        Err(err) => unavailable(service, err),
    }
}

/// 3.10's answer: the lot extended the card (`state` 1), or refused — then
/// the driver gets the money back.
pub async fn renewal_answered(state: &AppState, lot: &LotAccess, e: &Envelope) -> Reply {
    let service = renewal::PAY;
    let f = e.fields();
    let Some(request_id) = f.opt_text(&["request_no"], 32).ok().flatten().and_then(|q| q.parse::<i64>().ok()) else {
        return Reply::refused(service, "缺少 data.request_no（平台通知中的编号）");
    };
    if let Err(refused) = own_message(state, lot, service, request_id, "续费通知").await {
        return refused;
    }
    let done = f.opt_int(&["state"]).ok().flatten() == Some(1);
    let errmsg = f.opt_text(&["errmsg"], 200).ok().flatten();
    let now = format_time(state.now());
    let confirmed = state
        .store()
        .confirm_downlink(request_id, &lot.access_id, done, errmsg.as_deref(), &now, state.clock().millis())
        .await;
    match confirmed {
        Ok(Confirmed::Now { .. }) => {
            let reason = errmsg.unwrap_or_else(|| "车场未续期".into());
            if let Err(err) = crate::city::renewals::answered(state, request_id, done, &reason).await {
                return unavailable(service, err);
            }
        }
        Ok(Confirmed::Already) => {}
        Ok(Confirmed::Unknown) => {
            return Reply::refused(service, &format!("request_no {request_id} 不是平台发给本车场的续费通知"));
        }
        Err(err) => return unavailable(service, err),
    }
    Reply::ok(service).with("request_no", request_id.to_string())
}

/// 2.13: a renewal the lot collected: the city's fixed car of that card
/// (one the city has) runs until `limit_time`. `None`: kept as the event only.
pub async fn renewal_record(state: &AppState, code: &str, e: &Envelope) -> Result<(), Reply> {
    let service = renewal::RECORD;
    let r = Record::read(&e.fields()).map_err(|why| Reply::refused(service, &why.0))?;
    let Some(limit) = r.limit_time else { return Ok(()) };
    let end = format_time(records::local(state.zone(), limit));
    let now = format_time(state.now());
    state
        .store()
        .move_fixed_car_end(code, &r.card_id, None, &end, &now)
        .await
        .map_err(|err| unavailable(service, err))?;
    Ok(())
}

/// 2.30 (designed): the e-payments the lot booked on a day against the
/// platform's charges of its stays; what the lot listed becomes its side of
/// the three-way check (replacing what it said before for that day).
pub async fn epay(state: &AppState, lot: &LotAccess, code: &str, e: &Envelope) -> Reply {
    let service = epay_check::SERVICE;
    let r = match EpayRequest::read(&e.data, &e.fields()) {
        Ok(r) => r,
        Err(why) => return Reply::refused(service, &why.0),
    };
    let ours = match state.store().lot_day_payments(code, r.date, [Purpose::Prepay, Purpose::Exit]).await {
        Ok(p) => p,
        Err(err) => return unavailable(service, err),
    };
    let cloud: Vec<(String, i64, i64)> = ours
        .iter()
        .map(|p| (p.txn_id.clone().unwrap_or_else(|| p.order_id.clone()), p.actual_pay.unwrap_or(0), p.refunded))
        .collect();
    let answer = EpayAnswer::compare(&r, &cloud);
    if !r.truncated {
        let trades: Vec<LotEpay> = r
            .trades
            .iter()
            .map(|t| LotEpay {
                trade_no: t.trade_no.clone(),
                // A password-free exit's bill is its stay's order; a prepayment's its quote.
                bill_id: if t.query_order_no.is_empty() {
                    t.order_id.clone()
                } else {
                    super::announce::bill_id(&t.order_id, &t.query_order_no)
                },
                money: t.money,
                refund: t.refund,
            })
            .collect();
        let now = format_time(state.now());
        if let Err(err) = state.store().put_lot_epay(code, &r.date.to_string(), &trades, &now).await {
            return unavailable(service, err);
        }
    }
    if !answer.balanced(&r) {
        tracing::warn!(park_id = lot.access_id, date = %r.date, lot_only = ?answer.lot_only,
            cloud_only = ?answer.cloud_only, amount = ?answer.amount, "Bolink e-payments differ");
    }
    answer.reply(&lot.access_id, &r)
}

/// A lot acts only on what it reported: the stay `order_id` must be one of
/// its records (an entry or an exit), of this plate.
async fn reported(state: &AppState, code: &str, order_id: &str, plate: &str) -> Result<(), String> {
    match state.store().stay_plates(code, order_id).await {
        Ok(plates)
            if plates.iter().any(|p| {
                onepark_domain::plate::Plate::parse(p).map_or_else(|_| p.clone(), |p| p.to_string()) == plate
            }) =>
        {
            Ok(())
        }
        Ok(plates) if plates.is_empty() => {
            Err(format!("车场未上传过订单 {order_id} 的入场或出场记录，不能据此扣款或登记欠费"))
        }
        Ok(plates) => Err(format!("订单 {order_id} 的车牌为 {}，与 {plate} 不符", plates.join("/"))),
        Err(err) => {
            tracing::error!(error = %err, "Bolink: the stay could not be read");
            Err("服务器错误：请稍后重发".into())
        }
    }
}

/// Times ahead of the platform's clock by more than its allowance are refused.
fn not_future(state: &AppState, field: &str, unix: i64) -> Result<(), String> {
    let clock = state.receiving();
    let at = records::local(state.zone(), unix);
    if at > clock.now + clock.future {
        return Err(format!("data.{field} {} 晚于平台时间 {}", format_time(at), format_time(clock.now)));
    }
    Ok(())
}

/// 4.1 `pay_status`: whether the plate pays password-free here, and up to what.
pub async fn pay_status(state: &AppState, code: &str, e: &Envelope) -> Reply {
    let service = no_stop::PAY_STATUS;
    let f = e.fields();
    let Ok(plate) = f.text(&["car_number"], 16) else { return Reply::refused(service, "缺少 data.car_number") };
    let order_id = f.opt_text(&["order_id"], 48).ok().flatten().unwrap_or_default();
    match crate::city::payments::signing(state, code, &plate, 0).await {
        Ok(s) => no_stop::Balance { car_number: plate, balance: s.money_limit, autopay: s.deducted_at_exit }
            .status_reply(&order_id),
        Err(err) => unavailable(service, err),
    }
}

/// An exit asking the cloud to charge what is owed (2.2 with `pay_type`
/// `wallet`): charged once per order (its id is the bill's; a repeat finds
/// the first charge), its outcome told with 3.4. Not the exit itself: the
/// lot reports that once the car has left, as every exit.
pub async fn deduct(state: &AppState, lot: &LotAccess, code: &str, service: &str, m: &OutPark) -> Reply {
    use crate::city::payments::{self, Paying};
    use crate::store::{Debt, PayState, Payment};
    let zone = state.zone();
    let at = |unix: i64| format_time(records::local(zone, unix));
    let plate = onepark_domain::plate::Plate::parse(&m.car_number).map(|p| p.to_string());
    let Ok(plate) = plate else {
        return stay_reply(service, &m.order_id, Some(&format!("车牌 {} 无法免密支付", m.car_number)));
    };
    if let Err(why) = not_future(state, "out_time", m.out_time) {
        return stay_reply(service, &m.order_id, Some(&why));
    }
    if let Err(why) = reported(state, code, &m.order_id, &plate).await {
        return stay_reply(service, &m.order_id, Some(&why));
    }
    let signup = match state.store().signup(&plate).await {
        Ok(s) => s,
        Err(err) => return unavailable(service, err).with("order_id", m.order_id.as_str()),
    };
    let p = payments::new_payment(
        state,
        Purpose::Exit,
        code,
        &m.order_id,
        &m.order_id,
        (&plate, 1),
        (&at(m.in_time), &at(m.out_time), &format_time(state.now())),
        m.total,
    );
    let refuse = |p: &Payment, why: &str| {
        let p = p.clone();
        let why = why.to_owned();
        async move {
            match payments::deduction_notice(state, &p, None, Some(&why)).await {
                Ok(Some(d)) => {
                    if let Err(err) = state.store().put_downlinks(vec![d]).await {
                        tracing::error!(error = %err, "Bolink deduction refusal not stored");
                    }
                }
                Ok(None) => {}
                Err(err) => tracing::error!(error = %err, "Bolink deduction refusal not sealed"),
            }
            state.wake().now();
        }
    };
    if !signup.is_some_and(|s| s.no_stop) {
        refuse(&p, "未开通免密支付").await;
        return stay_reply(service, &m.order_id, None).with("errmsg", "未开通免密支付：扣费结果见 outpark");
    }
    let _ = lot;
    // The fee as the lot computed it at the exit (never later than now: a lot's clock ahead
    // would count a prepayment it had not booked as counted).
    let computed = format_time(records::local(zone, m.out_time).min(state.now()));
    let stay = Debt::Stay { parking_code: code.to_owned(), uid: m.order_id.clone(), asked_at: computed };
    let debts = [(Debt::bill(code, &m.order_id), m.total), (stay, m.total)];
    match payments::pay(state, p.clone(), &debts, false).await {
        // Paid: its 3.4 was stored with the payment's change.
        Ok(Paying::Charge(p)) if p.state == PayState::Declined => {
            refuse(&p, p.reason.as_deref().unwrap_or("扣款失败")).await;
        }
        Ok(Paying::Charge(_)) => {}
        Ok(Paying::Mismatch(first)) => {
            let why = format!("订单 {} 已按 {} 分申请扣费，本次 {} 分不符", m.order_id, first.should_pay, m.total);
            return stay_reply(service, &m.order_id, Some(&why));
        }
        Ok(Paying::Claimed(holder)) => refuse(&p, &format!("该停车费正由另一笔支付（{}）处理", holder.order_id)).await,
        Err(err) => return unavailable(service, err).with("order_id", m.order_id.as_str()),
    }
    stay_reply(service, &m.order_id, None).with("errmsg", "已受理：扣费结果见 outpark")
}

/// 2.44 (designed): a car left owing: the plate's debt across the city (the
/// driver pages and every lot's 2.38 see it); paid, this lot hears 3.37.
pub async fn offline_order(state: &AppState, code: &str, e: &Envelope) -> Reply {
    use crate::store::{Arrear, ArrearPut};
    use onepark_bolink::offline::{ORDER, Offline};
    let o = match Offline::read(&e.fields()) {
        Ok(o) => o,
        Err(why) => return Reply::refused(ORDER, &why.0),
    };
    let Ok(plate) = onepark_domain::plate::Plate::parse(&o.car_number).map(|p| p.to_string()) else {
        return Reply::refused(ORDER, &format!("data.car_number {} 不是车牌，无法登记欠费", o.car_number))
            .with("order_id", o.order_id);
    };
    for (field, t) in [("in_time", o.in_time), ("out_time", o.out_time)] {
        if let Err(why) = not_future(state, field, t) {
            return Reply::refused(ORDER, &why).with("order_id", o.order_id);
        }
    }
    // Only a stay this lot reported, of this plate, can become a debt.
    if let Err(why) = reported(state, code, &o.order_id, &plate).await {
        return Reply::refused(ORDER, &why).with("order_id", o.order_id);
    }
    let zone = state.zone();
    let now = format_time(state.now());
    let a = Arrear {
        parking_code: code.to_owned(),
        bill_id: o.order_id.clone(),
        plate_no: plate.clone(),
        plate_color: records::plate_color(None, &plate),
        uid: o.order_id.clone(),
        arrive_time: format_time(records::local(zone, o.in_time)),
        end_time: format_time(records::local(zone, o.out_time)),
        bill_time: now.clone(),
        should_pay: o.total,
        source: "abnormal".into(),
        state: "open".into(),
        settled_by: None,
        settled_at: None,
        created_at: now,
        settled_txn: None,
    };
    match state.store().put_arrear(&a, onepark_domain::money::MAX_FEN).await {
        Ok(ArrearPut::Inserted) => Reply::ok(ORDER).with("errmsg", "已登记为欠费").with("order_id", o.order_id),
        Ok(ArrearPut::Known) => Reply::ok(ORDER).with("errmsg", "该订单已登记或已支付").with("order_id", o.order_id),
        Ok(ArrearPut::OverBound(owed)) => Reply::refused(
            ORDER,
            &format!("车辆 {plate} 已欠 {} 元，再登记将超过上限", onepark_domain::money::yuan(owed)),
        )
        .with("order_id", o.order_id),
        Err(err) => unavailable(ORDER, err).with("order_id", o.order_id),
    }
}
