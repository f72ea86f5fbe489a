//! Money the Bolink cloud tells the lot beyond fee queries and
//! prepayments (`crate::bolink`): 3.23 `refund_inform` (a prepayment given
//! back: booked once per `refund_no`; all of it back, the stay owes its fee
//! again), 3.11 `query_prodprice` (a card's renewal priced from the monthly
//! price the cloud lists for it in 2.33), 3.10 `monthcard_pay` (a renewal
//! paid: the card runs until the `end_time` the cloud sends, once per
//! `trade_no`; the cloud's own card list says the same at the next paging,
//! so the two converge instead of adding months twice), 3.34
//! `query_newprodprice` (refused: new cards are made at the lot), and the
//! day's e-payment check (2.30 `epay_reconciliation`). Each answered
//! through `uploadData` with the message's `request_no`.

use onepark_bolink::epay_check::{self, Trade};
use onepark_bolink::no_stop::{self, Balance, Deducted};
use onepark_bolink::refund::{self, Refund};
use onepark_bolink::renewal::{self, Paid, PriceAnswer, PriceQuery};
use onepark_domain::money::yuan;
use onepark_domain::time::format_time;
use serde_json::{Map, Value, json};

use crate::bolinklink::{Answer, Handle};
use crate::bolinklink::{SyncError, card_id, failed, fields_of};
use crate::config::BolinkLink;
use crate::state::LotState;
use crate::store::RefundBooked;

/// Whether this module answers `service`.
pub fn handles(service: &str) -> bool {
    matches!(
        service,
        refund::SERVICE
            | renewal::PRICE
            | renewal::NEW_PRICE
            | renewal::PAY
            | no_stop::UPDATE_BALANCE
            | onepark_bolink::offline::REPAIR
    )
}

pub async fn handle(state: &LotState, link: &BolinkLink, service: &str, map: &Map<String, Value>) -> Value {
    let f = fields_of(map);
    let request_no = f.opt_text(&["request_no"], 32).ok().flatten().unwrap_or_default();
    let mut reply = match service {
        refund::SERVICE => refunded(state, link, map).await,
        renewal::PRICE => price(state, map).await,
        renewal::NEW_PRICE => {
            let trade_no = f.opt_text(&["trade_no"], 64).ok().flatten().unwrap_or_default();
            PriceAnswer { trade_no, price: Err("本车场不在线办理新月卡，请到车场岗亭办理".into()) }.to_data(service)
        }
        no_stop::UPDATE_BALANCE => balance(state, map).await,
        // 3.37: an unpaid exit paid since; this gateway reports none (2.44), so there is nothing to book.
        onepark_bolink::offline::REPAIR => {
            let d = Deducted::read(&f);
            let order_id = d.as_ref().map(|d| d.order_id.clone()).unwrap_or_default();
            tracing::info!(order_id, "an unpaid exit paid through the Bolink cloud");
            match d {
                Ok(d) => {
                    let mut a = d.answer(&request_no, Ok(()));
                    a["service_name"] = Value::from(onepark_bolink::offline::REPAIR);
                    a
                }
                Err(e) => json!({ "service_name": service, "data_target": "bolink", "state": 0, "errmsg": e.0 }),
            }
        }
        _ => renewed(state, link, map).await,
    };
    reply["request_no"] = Value::from(request_no);
    reply
}

/// 3.23: the cloud gave (part of) a prepayment back.
async fn refunded(state: &LotState, link: &BolinkLink, map: &Map<String, Value>) -> Value {
    let service = refund::SERVICE;
    let f = fields_of(map);
    let text = |k: &str| f.opt_text(&[k], 64).ok().flatten().unwrap_or_default();
    let echo = [
        ("refund_no", Value::from(text("refund_no"))),
        ("trade_no", Value::from(text("trade_no"))),
        ("order_id", Value::from(text("order_id"))),
        ("park_id", Value::from(link.park_id.as_str())),
    ];
    let r = match Refund::read(&f) {
        Ok(r) => r,
        Err(e) => return failed(service, e.0, &echo),
    };
    let bill_id = format!("{}B{}", r.order_id, r.query_order_no);
    // The bill the refund names must be the one that payment settled.
    match state.store().online_bills_of(&r.order_id).await {
        Ok(bills) => match bills.iter().find(|b| b.bill_id == bill_id) {
            Some(b) if b.order_code.as_deref() == Some(r.trade_no.as_str()) => {}
            Some(_) => return failed(service, format!("账单 {bill_id} 不是交易 {} 支付的", r.trade_no), &echo),
            None => return failed(service, format!("订单 {} 没有账单 {bill_id}", r.order_id), &echo),
        },
        Err(e) => return failed(service, format!("车场存储错误：{e}"), &echo),
    }
    let now = format_time(state.now());
    let reason = Some(r.reason.as_str()).filter(|r| !r.is_empty());
    let msg = match state.store().refund_online_bill(&r.refund_no, &bill_id, r.refund_money, reason, &now).await {
        Ok(RefundBooked::Booked { whole: true }) => {
            format!("已退款 {} 元：该笔预付全部退回，出场时按应缴收费", yuan(r.refund_money))
        }
        Ok(RefundBooked::Booked { whole: false }) => format!("已退款 {} 元", yuan(r.refund_money)),
        Ok(RefundBooked::Already) => "该退款已处理".to_owned(),
        Ok(RefundBooked::OtherBill(other)) => {
            return failed(service, format!("退款号 {} 已用于账单 {other}", r.refund_no), &echo);
        }
        Ok(RefundBooked::NoBill) => return failed(service, format!("没有账单 {bill_id}"), &echo),
        Ok(RefundBooked::NotPaid(s)) => {
            return failed(service, format!("账单 {bill_id} 状态为 {}，不能退款", s.as_str()), &echo);
        }
        Ok(RefundBooked::TooMuch { left }) => {
            return failed(service, format!("退款 {} 元超过账单剩余 {} 元", yuan(r.refund_money), yuan(left)), &echo);
        }
        Err(e) => return failed(service, format!("车场存储错误：{e}"), &echo),
    };
    tracing::warn!(refund_no = r.refund_no, bill_id, fen = r.refund_money, "a prepayment refunded by the Bolink cloud");
    let mut ok = json!({ "service_name": service, "data_target": "bolink", "state": 1, "errmsg": msg });
    for (k, v) in echo {
        ok[k] = v;
    }
    ok
}

/// 3.11: what renewing a card costs: its monthly price as the cloud lists it, times the months.
async fn price(state: &LotState, map: &Map<String, Value>) -> Value {
    let f = fields_of(map);
    let trade_no = f.opt_text(&["trade_no"], 64).ok().flatten().unwrap_or_default();
    let answer = |price: Result<i64, String>| PriceAnswer { trade_no: trade_no.clone(), price }.to_data(renewal::PRICE);
    let q = match PriceQuery::read(&f) {
        Ok(q) => q,
        Err(e) => return answer(Err(e.0)),
    };
    let id = card_id(&q.card_id);
    match (state.store().card(&id).await, state.store().card_price(&id).await) {
        (Ok(Some(_)), Ok(Some(monthly))) if monthly > 0 => answer(Ok(monthly * q.months)),
        (Ok(Some(_)), Ok(_)) => answer(Err(format!("月卡 {} 未设置月租价格，请到车场岗亭办理", q.card_id))),
        (Ok(None), _) => answer(Err(format!("本车场没有月卡 {}", q.card_id))),
        (Err(e), _) | (_, Err(e)) => answer(Err(format!("车场存储错误：{e}"))),
    }
}

/// 3.10: a renewal paid through the cloud; the card runs until `end_time`.
async fn renewed(state: &LotState, link: &BolinkLink, map: &Map<String, Value>) -> Value {
    let service = renewal::PAY;
    let f = fields_of(map);
    let text = |k: &str| f.opt_text(&[k], 64).ok().flatten().unwrap_or_default();
    let echo = [
        ("trade_no", Value::from(text("trade_no"))),
        ("card_id", Value::from(text("card_id"))),
        ("park_id", Value::from(link.park_id.as_str())),
    ];
    let p = match Paid::read(&f) {
        Ok(p) => p,
        Err(e) => return failed(service, e.0, &echo),
    };
    let id = card_id(&p.card_id);
    let mut card = match state.store().card(&id).await {
        Ok(Some(card)) => card,
        Ok(None) => return failed(service, format!("本车场没有月卡 {}", p.card_id), &echo),
        Err(e) => return failed(service, format!("车场存储错误：{e}"), &echo),
    };
    let zone = state.config().zone;
    let local = |unix: i64| format_time(zone.local(chrono::DateTime::from_timestamp(unix, 0).unwrap_or_default()));
    let end = local(p.end_time);
    // Never shortened: the cloud's card list may have carried the new end already.
    if end > card.end_time {
        card.end_time = end;
    }
    let plate = card.plates.first().cloned().unwrap_or_default();
    let order = format!("bolink:{}", p.trade_no);
    let now = format_time(state.now());
    let msg = match state.store().apply_card_order(&card, &order, &plate, p.pay_money, &now).await {
        Ok(true) => format!("已续期至 {}", card.end_time),
        Ok(false) => "该续费已处理".to_owned(),
        Err(e) => return failed(service, format!("车场存储错误：{e}"), &echo),
    };
    tracing::info!(
        card = id,
        trade_no = p.trade_no,
        end = card.end_time,
        "a month card renewed through the Bolink cloud"
    );
    let mut ok = json!({ "service_name": service, "data_target": "bolink", "state": 1, "errmsg": msg,
        "pay_money": yuan(p.pay_money), "end_time": p.end_time });
    for (k, v) in echo {
        ok[k] = v;
    }
    ok
}

/// What the day's e-payment check found (2.30).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EpayChecked {
    /// The payments the lot booked, net of refunds (fen), and the cloud's.
    pub count: i64,
    pub total: i64,
    pub cloud_count: i64,
    pub cloud_total: i64,
    /// trade_nos: booked here only, taken by the cloud only, with other amounts.
    pub lot_only: Vec<String>,
    pub cloud_only: Vec<String>,
    pub amount: Vec<String>,
    pub balanced: bool,
}

/// 2.30: the day's payments from the cloud this lot booked, against the cloud's.
pub async fn check_epay(state: &LotState, handle: &Handle, date: chrono::NaiveDate) -> Result<EpayChecked, SyncError> {
    let zone = state.config().zone;
    let unix = |t: &str| {
        onepark_domain::time::parse_time(t).ok().and_then(|t| zone.instant(t).ok()).map_or(0, |t| t.timestamp())
    };
    let bills = state.store().cloud_paid_bills(date, "bolink", crate::bolinkexit::BOLINK_NO_STOP).await?;
    let mut trades = Vec::new();
    for b in bills {
        let refund = state.store().refunded_of(&b.bill_id).await?;
        let (order_id, query_order_no) = b.bill_id.rsplit_once('B').unwrap_or((b.bill_id.as_str(), ""));
        trades.push(Trade {
            trade_no: b.order_code.clone().unwrap_or_default(),
            order_id: order_id.to_owned(),
            query_order_no: query_order_no.to_owned(),
            money: b.actual_pay.unwrap_or(0) + refund,
            refund,
            pay_time: unix(b.deal_time.as_deref().unwrap_or_default()),
        });
    }
    let request = epay_check::Request::new(date, trades, crate::cloudreport::new_uuid(state)[..12].to_owned());
    let reply = match handle.call(epay_check::SERVICE, request.to_data()).await? {
        Answer::Reply(r) => r,
        other => return Err(SyncError::Refused(format!("unexpected answer {other:?}"))),
    };
    let a = epay_check::Answer::read(&reply).map_err(|e| SyncError::Refused(e.0))?;
    Ok(EpayChecked {
        count: request.count,
        total: request.total,
        cloud_count: a.count,
        cloud_total: a.total,
        balanced: a.balanced(&request),
        lot_only: a.lot_only,
        cloud_only: a.cloud_only,
        amount: a.amount,
    })
}

/// 4.2 `update_balance`: whether a plate pays password-free and up to what,
/// kept as the plate's signing (as Qingdao's departurePayInfo is).
async fn balance(state: &LotState, map: &Map<String, Value>) -> Value {
    let f = fields_of(map);
    let mut reply = json!({ "service_name": no_stop::UPDATE_BALANCE, "data_target": "bolink" });
    let outcome = match Balance::read(&f) {
        Ok(b) => {
            reply["car_number"] = Value::from(b.car_number.as_str());
            let s = crate::store::Signing {
                plate_no: b.car_number.clone(),
                plate_color: 1,
                no_sense: if b.autopay { 1 } else { 2 },
                money_limit: b.balance,
                departure_pay: 0,
                request_id: 0,
                received_at: format_time(state.now()),
            };
            state.store().put_signing(&s, None).await.map_err(|e| format!("车场存储错误：{e}"))
        }
        Err(e) => Err(e.0),
    };
    crate::bolinklink::settled(reply, outcome)
}
