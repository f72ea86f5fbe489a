//! The lot's work on its Bolink link (`[bolink]`) beside the outbox's
//! sender: the cloud's month cards paged into the lot's own (2.33
//! `query_month_card_page`, `count` deciding the pages, at most 100 a page;
//! cards the cloud no longer lists are removed only after a complete
//! paging), and the cloud's no-plate entries (3.3 `nolicence_in_park`: a
//! session for the marker + `car_number`, never truncated; the barrier
//! raised by the lane's controller; `state` 1, or 0 with the reason; the
//! entry itself goes out through the outbox as every entry does), and the
//! cloud's fee queries and payments (3.1 `query_price` → an open quote,
//! 3.2 `prepay_order` settling exactly that quote once per `trade_no`; a
//! query at an exit lane opens it once paid). The connection is
//! `crate::bolinklink`'s.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use onepark_bolink::fields::Fields;
use onepark_bolink::month_card::{self, Card, MAX_RP, Page, Query};
use onepark_bolink::no_plate::{self, Answer as NoPlateAnswer, Request};
use onepark_domain::money::yuan;
use onepark_domain::plate::Plate;
use onepark_domain::time::{format_time, parse_time};
use serde_json::{Map, Value, json};
use tokio::sync::mpsc;

use crate::bolinklink::{Answer, Handle, failed, fields_of};
pub use crate::bolinklink::{CARD_PREFIX, SyncError, card_id};
use crate::config::{BolinkLink, Direction};
use crate::orders::LaneCommand;
use crate::state::LotState;
use crate::store::{BillKind, BillState, MonthCard, OnlineBill, Session, Settlement, StoreError};

/// Runs until the gateway stops: the cloud's messages as they come, and the
/// month cards at every login and every `card_sync`.
pub async fn run(state: LotState, link: BolinkLink, handle: Handle, mut downlinks: mpsc::Receiver<Value>) {
    let (s, h, l) = (state.clone(), handle.clone(), link.clone());
    tokio::spawn(async move { cards(s, l, h).await });
    tokio::spawn(nightly(state.clone(), handle.clone()));
    // Exit lanes the fee was asked at, by query_order_no: paid, that lane opens.
    let lanes: Lanes = Arc::default();
    let (ordered, mut work) = mpsc::channel::<Value>(256);
    {
        let (state, link, handle, lanes) = (state.clone(), link.clone(), handle.clone(), lanes.clone());
        tokio::spawn(async move {
            while let Some(message) = work.recv().await {
                let service = message.get("service_name").and_then(Value::as_str).unwrap_or_default().to_owned();
                let map = message.as_object().cloned().unwrap_or_default();
                let reply = if service == PREPAY {
                    prepay(&state, &link, &lanes, &map).await
                } else if crate::bolinkpay::handles(&service) {
                    crate::bolinkpay::handle(&state, &link, &service, &map).await
                } else {
                    command(&state, &service, &map).await
                };
                if let Err(e) = handle.call(&service, reply).await {
                    tracing::warn!(error = %e, service, "Bolink answer not delivered");
                }
            }
        });
    }
    while let Some(message) = downlinks.recv().await {
        let service = message.get("service_name").and_then(Value::as_str).unwrap_or_default().to_owned();
        match service.as_str() {
            no_plate::SERVICE => {
                let (state, link, handle) = (state.clone(), link.clone(), handle.clone());
                // Each scan on its own: a slow controller does not hold the next driver.
                tokio::spawn(async move {
                    let answer = match message.as_object().map(Request::read) {
                        Some(Ok(r)) => no_plate_entry(&state, &link, &r).await,
                        Some(Err(e)) => {
                            NoPlateAnswer { state: 0, errmsg: Some(e.0), car_number: String::new(), timetemp: None }
                        }
                        None => return,
                    };
                    match handle.call(no_plate::SERVICE, answer.to_data()).await {
                        Ok(_) => {}
                        Err(e) => tracing::warn!(error = %e, "nolicence_in_park answer not delivered"),
                    }
                });
            }
            // A deduction's result: an exit waits for it, so never behind the ordered work.
            onepark_bolink::no_stop::RESULT => {
                let handle = handle.clone();
                tokio::spawn(async move {
                    let map = message.as_object().cloned().unwrap_or_default();
                    let reply = crate::bolinkexit::deducted(&map).await;
                    if let Err(e) = handle.call(&service, reply).await {
                        tracing::warn!(error = %e, service, "Bolink answer not delivered");
                    }
                });
            }
            PRICE => {
                let (state, link, handle, lanes) = (state.clone(), link.clone(), handle.clone(), lanes.clone());
                // Each query on its own: a driver waits for it.
                tokio::spawn(async move {
                    let map = message.as_object().cloned().unwrap_or_default();
                    let reply = query_price(&state, &link, &lanes, &map).await;
                    if let Err(e) = handle.call(&service, reply).await {
                        tracing::warn!(error = %e, service, "Bolink answer not delivered");
                    }
                });
            }
            other
                if other == PREPAY
                    || crate::bolinkpay::handles(other)
                    || onepark_bolink::downlink::find(other).is_some() =>
            {
                // Money and commands in the order they came: a lock then an
                // unlock, a payment then its refund, are applied in that order.
                if ordered.send(message).await.is_err() {
                    tracing::error!(service, "Bolink worker stopped");
                }
            }
            other => tracing::info!(service = other, "Bolink message not handled by this gateway"),
        }
    }
}

const PRICE: &str = "query_price";
const PREPAY: &str = "prepay_order";

type Lanes = Arc<Mutex<HashMap<String, String>>>;

/// The stay a message names: its order (the lot's uid), else the plate's open stay.
async fn stay_of(state: &LotState, order_id: Option<&str>, plate: Option<&str>) -> Result<Option<Session>, StoreError> {
    if let Some(uid) = order_id.filter(|o| !o.is_empty())
        && let Some(s) = state.store().open_session(uid).await?
    {
        return Ok(Some(s));
    }
    match plate.filter(|p| !p.is_empty()) {
        Some(p) => Ok(state.store().open_sessions(&[p.to_owned()]).await?.into_iter().next()),
        None => Ok(None),
    }
}

/// 3.1 `query_price`: what the car owes now, kept as an open prepayment
/// bill (`{uid}B{query_order_no}`) that a 3.2 of exactly that amount settles.
/// Asked at an exit lane (`pay_scene` 1, 2) with nothing to pay, the lane opens.
async fn query_price(state: &LotState, link: &BolinkLink, lanes: &Lanes, map: &Map<String, Value>) -> Value {
    let f = fields_of(map);
    let query_order_no = f.opt_text(&["query_order_no"], 48).ok().flatten().unwrap_or_default();
    let echo =
        [("query_order_no", Value::from(query_order_no.as_str())), ("park_id", Value::from(link.park_id.as_str()))];
    let scene = f.opt_int(&["pay_scene"]).ok().flatten().unwrap_or(0);
    let plate = f.opt_text(&["car_number", "licence"], 64).ok().flatten();
    let order_id = f.opt_text(&["order_id"], 48).ok().flatten();
    let lane = f
        .opt_text(&["out_channel_id"], 24)
        .ok()
        .flatten()
        .filter(|l| state.config().lanes.iter().any(|x| x.id == *l && x.direction == Direction::Exit));
    if query_order_no.is_empty() {
        return failed(PRICE, "缺少 query_order_no".into(), &echo);
    }
    let session = match stay_of(state, order_id.as_deref(), plate.as_deref()).await {
        Ok(Some(s)) => s,
        Ok(None) => return failed(PRICE, format!("车辆 {} 不在场内", plate.unwrap_or_default()), &echo),
        Err(e) => return failed(PRICE, format!("车场存储错误：{e}"), &echo),
    };
    let now = state.now();
    let (fee, full, due) = match crate::payments::owed_now(state, &session, now).await {
        Ok(p) => p,
        Err(e) => return failed(PRICE, format!("车场存储错误：{e}"), &echo),
    };
    let at = format_time(now);
    if due > 0 {
        let bill = OnlineBill::open(BillKind::Prepay, format!("{}B{query_order_no}", session.uid), &session, &at, due);
        if let Err(e) = state.store().put_online_bill(&bill).await {
            return failed(PRICE, format!("车场存储错误：{e}"), &echo);
        }
    }
    if let (Some(lane), 1 | 2) = (&lane, scene) {
        if due == 0 {
            let note = format!("{} 扫码缴费出场", session.plate_no);
            // Logged inside when nothing waits there.
            let _ = crate::leave::let_out(state, lane, &session.plate_no, "扫码缴费", &note).await;
        } else if let Ok(mut l) = lanes.lock() {
            // Unpaid queries are forgotten rather than kept for ever.
            if l.len() >= 10_000 {
                l.clear();
            }
            l.insert(query_order_no.clone(), lane.clone());
        }
    }
    let entered = parse_time(&session.entry_time).unwrap_or(now);
    json!({
        "service_name": PRICE, "data_target": "bolink", "state": 1, "errmsg": "", "park_id": link.park_id,
        "order_id": session.uid, "car_number": session.plate_no, "price": yuan(due), "total": yuan(full),
        "duration": (now - entered).num_minutes().max(0), "query_time": now.and_utc().timestamp(),
        "derate_money": yuan((full - fee).max(0)), "derate_duration": 0, "query_order_no": query_order_no,
    })
}

/// 3.2 `prepay_order`: the cloud collected `prepay` for the quote it names
/// (`order_id` + `query_order_no`); it settles that quote when the amount
/// is exactly the quote's, once per `trade_no`. Asked at an exit lane, the
/// lane opens.
async fn prepay(state: &LotState, link: &BolinkLink, lanes: &Lanes, map: &Map<String, Value>) -> Value {
    let f = fields_of(map);
    let text = |k: &str| f.opt_text(&[k], 64).ok().flatten().unwrap_or_default();
    let (order_id, query_order_no, trade_no) = (text("order_id"), text("query_order_no"), text("trade_no"));
    let echo = [
        ("order_id", Value::from(order_id.as_str())),
        ("request_no", Value::from(text("request_no"))),
        ("trade_no", Value::from(trade_no.as_str())),
        ("park_id", Value::from(link.park_id.as_str())),
    ];
    let paid = match f.opt_yuan(&["prepay"]) {
        Ok(Some(p)) => p,
        Ok(None) => return failed(PREPAY, "缺少 prepay".into(), &echo),
        Err(e) => return failed(PREPAY, e.0, &echo),
    };
    if trade_no.is_empty() {
        return failed(PREPAY, "缺少 trade_no".into(), &echo);
    }
    // The car is at the exit with its fee being deducted: one payment of a fee.
    if crate::bolinkexit::pending(&order_id) {
        return failed(PREPAY, format!("订单 {order_id} 正在出口免密扣费，不能再预付"), &echo);
    }
    let bills = match state.store().online_bills_of(&order_id).await {
        Ok(b) => b,
        Err(e) => return failed(PREPAY, format!("车场存储错误：{e}"), &echo),
    };
    let mut ok = json!({ "service_name": PREPAY, "data_target": "bolink", "state": 1, "errmsg": "", "prepay": yuan(paid),
        "query_time": state.now().and_utc().timestamp() });
    for (k, v) in &echo {
        ok[*k] = v.clone();
    }
    if bills.iter().any(|b| b.order_code.as_deref() == Some(trade_no.as_str()) && b.state == BillState::Paid) {
        return ok;
    }
    // A stay that has left is not booked: the cloud gives the money back (the car paid at the exit).
    match state.store().open_session(&order_id).await {
        Ok(Some(_)) => {}
        Ok(None) => return failed(PREPAY, format!("订单 {order_id} 已出场或不在场内，不能入账"), &echo),
        Err(e) => return failed(PREPAY, format!("车场存储错误：{e}"), &echo),
    }
    let bill_id = format!("{order_id}B{query_order_no}");
    let Some(bill) =
        bills.iter().find(|b| b.bill_id == bill_id && b.kind == BillKind::Prepay && b.state == BillState::Open)
    else {
        return failed(PREPAY, format!("订单 {order_id} 没有待缴账单 {bill_id}（先查询价格）"), &echo);
    };
    if bill.should_pay != paid {
        return failed(PREPAY, format!("金额 {} 元与待缴 {} 元不符", yuan(paid), yuan(bill.should_pay)), &echo);
    }
    let s = Settlement {
        actual_pay: paid,
        discount: 0,
        deal_time: Some(text("pay_time")).filter(|t| parse_time(t).is_ok()).unwrap_or_else(|| format_time(state.now())),
        order_code: trade_no.clone(),
        paid_type: onepark_domain::record::paid_type::PLATFORM_ACCOUNT,
        pay_type: onepark_domain::record::Scene::InLot.code(),
        path: Some("bolink".into()),
        request_id: None,
    };
    let now = format_time(state.now());
    match state.store().settle_online_bill(&bill.bill_id, &s, &now, None, Vec::new()).await {
        Ok(true) => {}
        // Settled meanwhile by another payment: this one is not booked.
        Ok(false) => return failed(PREPAY, format!("账单 {bill_id} 已由其他支付结清"), &echo),
        Err(e) => return failed(PREPAY, format!("车场存储错误：{e}"), &echo),
    }
    if let Err(e) = crate::remote::money::void_exit_bills(state, &bills).await {
        tracing::warn!(error = e, "exit bills not voided");
    }
    tracing::info!(order_id, trade_no, paid, "a stay paid through the Bolink cloud");
    let lane = lanes.lock().ok().and_then(|mut l| l.remove(&query_order_no));
    if let Some(lane) = lane {
        let note = format!("{} 扫码缴费出场", bill.plate_no);
        let _ = crate::leave::let_out(state, &lane, &bill.plate_no, "扫码缴费", &note).await;
    }
    ok
}

/// 3.42 `manual_in_park` (`car_number`, `channel_id`, `in_time` Unix
/// seconds, optional `order_id`): a stay of a car already inside, begun at
/// that lane and time without moving the barrier; 3.43 `correct_plate`
/// (`order_id`, `car_number`): the open stay's plate corrected. Both as the
/// cloud MQ's attendant entries and in-park corrections are (reported on).
async fn stay_by_hand(state: &LotState, service: &str, f: &Fields<'_>) -> Result<String, String> {
    let plate = f.text(&["car_number"], 16).map_err(|e| e.0)?;
    let zone = state.config().zone;
    let (record_no, lane, at) = if service == "manual_in_park" {
        let lane = f.text(&["channel_id"], 16).map_err(|e| e.0)?;
        if !state.config().lanes.iter().any(|l| l.id == lane && l.direction == Direction::Entry) {
            return Err(format!("通道 {lane} 不是本车场的入口"));
        }
        let unix = f.unix(&["in_time"]).map_err(|e| e.0)?;
        let at = zone.local(chrono::DateTime::from_timestamp(unix, 0).unwrap_or_default());
        if at > state.now() {
            return Err("in_time 晚于车场时间".into());
        }
        let record_no = f.opt_text(&["order_id"], 48).ok().flatten().unwrap_or_else(|| format!("M{unix}{plate}"));
        (record_no, Some(lane), at)
    } else {
        let order_id = f.text(&["order_id"], 48).map_err(|e| e.0)?;
        match state.store().open_session(&order_id).await {
            Ok(Some(s)) => (order_id, None, parse_time(&s.entry_time).unwrap_or_else(|_| state.now())),
            Ok(None) => return Err(format!("订单 {order_id} 不在场内")),
            Err(e) => return Err(format!("车场存储错误：{e}")),
        }
    };
    let item = onepark_cloudpark::service::ParkinItem {
        park_code: state.config().parking_code.clone(),
        record_no: record_no.clone(),
        plate_num: plate,
        car_type: 0,
        car_sub_type: 0,
        entrance: lane.clone().unwrap_or_default(),
        enter_time: format_time(at),
        in_channel_id: lane.clone().unwrap_or_default(),
        enter_op_name: "停车云".into(),
        enter_pic: String::new(),
        car_status: 1,
    };
    crate::cloud::apply_stay(state, &item, lane.as_deref()).await?;
    state.wake_outbox();
    let uid = state.store().cloud_uid(&record_no).await.map_err(|e| format!("车场存储错误：{e}"))?;
    Ok(uid.unwrap_or(record_no))
}

/// One of the cloud's commands (§三), answered with its `request_no`:
/// 3.9 `lock_car` locks (1) or unlocks (0) the plate of the stay `order_id`
/// (a locked car is refused at the exit, reason `locked`); 3.18
/// `operate_liftrod` raises (0) or lowers (1) lane `channel_id`'s barrier
/// through its controller. The rest are answered `state` 0: this gateway
/// keeps no such data (prices, plans, staff… are the platform's).
async fn command(state: &LotState, service: &str, map: &Map<String, Value>) -> Value {
    let f = fields_of(map);
    let text = |k: &str| f.opt_text(&[k], 64).ok().flatten().unwrap_or_default();
    let mut reply = json!({ "service_name": service, "data_target": "cloud", "request_no": text("request_no") });
    let outcome: Result<(), String> = match service {
        "lock_car" => {
            let order_id = text("order_id");
            reply["order_id"] = Value::from(order_id.as_str());
            let lock = f.opt_int(&["is_locked"]).ok().flatten().unwrap_or(-1);
            reply["is_locked"] = Value::from(lock);
            match state.store().open_session(&order_id).await {
                Ok(Some(session)) if onepark_bolink::codes::locked(lock) => {
                    let l = crate::store::PlateLock {
                        id: 0,
                        plate_no: session.plate_no.clone(),
                        locker: "停车云".into(),
                        lock_time: format_time(state.now()),
                        remark: Some(text("lock_key")).filter(|k| !k.is_empty()),
                    };
                    state.store().put_lock(&l).await.map(|_| ()).map_err(|e| format!("车场存储错误：{e}"))
                }
                Ok(Some(session)) if lock == 0 => state
                    .store()
                    .delete_lock(0, &session.plate_no)
                    .await
                    .map(|_| ())
                    .map_err(|e| format!("车场存储错误：{e}")),
                Ok(Some(_)) => Err(format!("is_locked 须为 0 或 1，收到 {lock}")),
                Ok(None) => Err(format!("订单 {order_id} 不在场内")),
                Err(e) => Err(format!("车场存储错误：{e}")),
            }
        }
        "operate_liftrod" => {
            let lane = text("channel_id");
            reply["channel_id"] = Value::from(lane.as_str());
            let operate = f.opt_int(&["operate"]).ok().flatten().unwrap_or(-1);
            reply["operate"] = Value::from(operate);
            let known = state.config().lanes.iter().any(|l| l.id == lane);
            match (known, operate) {
                (false, _) => Err(format!("通道 {lane} 不存在")),
                (true, 0 | 1) => {
                    let order = LaneCommand::new(
                        lane.as_str(),
                        if operate == 0 { "raise" } else { "lower" },
                        "停车云",
                        "云平台远程操作",
                        format_time(state.now()),
                    );
                    state.controllers().order(order).await.map_err(|f| f.zh(&lane))
                }
                (true, other) => Err(format!("operate 须为 0（抬杆）或 1（落杆），收到 {other}")),
            }
        }
        // 3.14: the cloud's black list (the city's, at this lot): refused at the entrance.
        "blackuser_sync" => {
            let plate = text("car_number");
            let uuid = text("black_uuid");
            reply["black_uuid"] = Value::from(uuid.as_str());
            match (f.opt_int(&["operate_type"]).ok().flatten(), crate::barrier::plate_text("car_number", &plate)) {
                (_, Err(_)) => Err(format!("car_number {plate} 不是车牌")),
                (Some(1 | 2), Ok(plate)) => {
                    let end = Some(text("end_time")).filter(|t| parse_time(t).is_ok());
                    let end = end.unwrap_or_else(|| "2099-12-31 23:59:59".into());
                    let remark = Some(text("resume")).filter(|r| !r.is_empty());
                    let now = format_time(state.now());
                    state
                        .store()
                        .put_cloud_black(&plate, &uuid, &now, &end, remark.as_deref())
                        .await
                        .map_err(|e| format!("车场存储错误：{e}"))
                }
                (Some(3), Ok(plate)) => state
                    .store()
                    .delete_cloud_black(&uuid, &plate)
                    .await
                    .map(|_| ())
                    .map_err(|e| format!("车场存储错误：{e}")),
                (other, _) => Err(format!("operate_type 须为 1、2 或 3，收到 {other:?}")),
            }
        }
        // 3.26: the free berths as the lot counts them.
        "query_empty_plot" => match state.berths().await {
            Ok((total, _, free)) => {
                reply["empty_plot"] = Value::from(free);
                reply["total_plot"] = Value::from(total);
                Ok(())
            }
            Err(e) => Err(format!("车场存储错误：{e}")),
        },
        // 3.39: the cloud corrects the free berths the lanes show (kept as an offset, as the cloud MQ's 3.22).
        "modify_empty_plot" => match f.opt_int(&["empty_plot"]).ok().flatten() {
            Some(n) if n >= 0 => crate::remote::park_left(state, n).await.map(|_| ()),
            _ => Err("empty_plot 须为非负整数".into()),
        },
        // 3.40: the plate's month card here, if it has one.
        "query_vip_car" => {
            let plate = text("car_number");
            reply["car_number"] = Value::from(plate.as_str());
            match state.store().card_of(&plate).await {
                Ok(Some((card, _))) => {
                    reply["is_vip"] = Value::from(1);
                    reply["card_id"] = Value::from(card.id.as_str());
                    reply["begin_time"] = Value::from(card.start_time.as_str());
                    reply["end_time"] = Value::from(card.end_time.as_str());
                    Ok(())
                }
                Ok(None) => {
                    reply["is_vip"] = Value::from(0);
                    Ok(())
                }
                Err(e) => Err(format!("车场存储错误：{e}")),
            }
        }
        // 3.42 / 3.43: a stay the cloud records by hand (no barrier moves) / a plate corrected.
        "manual_in_park" | "correct_plate" => stay_by_hand(state, service, &f).await.map(|uid| {
            reply["order_id"] = Value::from(uid);
        }),
        other => Err(format!("本车场不处理 {other}")),
    };
    crate::bolinklink::settled(reply, outcome)
}

/// 3.3: the no-plate car at `channel_id` enters as marker + `car_number`.
async fn no_plate_entry(state: &LotState, link: &BolinkLink, r: &Request) -> NoPlateAnswer {
    let plate = format!("{}{}", link.marker, r.car_number);
    let refuse = |why: String| NoPlateAnswer {
        state: 0,
        errmsg: Some(why),
        car_number: plate.clone(),
        timetemp: Some(r.timetemp),
    };
    if r.park_id != link.park_id {
        return refuse(format!("park_id {} 不是本车场（{}）", r.park_id, link.park_id));
    }
    let Some(lane) = state.config().lanes.iter().find(|l| l.id == r.channel_id && l.direction == Direction::Entry)
    else {
        return refuse(format!("入口通道 {} 不存在", r.channel_id));
    };
    if state.controllers().online(&lane.id) == 0 {
        return refuse(crate::orders::Failed::NoController.zh(&lane.id));
    }
    let body = json!({ "plateNo": plate }).to_string();
    let (_, decision) = crate::barrier::entry(State(state.clone()), Path(lane.id.clone()), body.into()).await;
    let decision = serde_json::to_value(&*decision.0).unwrap_or(Value::Null);
    // The same user again (a resend, a rescan after a lost answer): the one session stands.
    let again = decision["reason"] == "already_inside";
    if decision["open"] != true && !again {
        return refuse(format!("不能入场：{}", decision["msg"].as_str().unwrap_or("")));
    }
    let command = LaneCommand::new(
        lane.id.as_str(),
        "raise",
        "无牌车扫码",
        format!("无牌车 {plate} 扫码入场"),
        format_time(state.now()),
    );
    if let Err(f) = state.controllers().order(command).await {
        return refuse(f.zh(&lane.id));
    }
    state.wake_outbox();
    NoPlateAnswer { state: 1, errmsg: None, car_number: plate, timetemp: Some(r.timetemp) }
}

/// Pages the cards at every login and every `card_sync`; while the link
/// is down, waits for it.
async fn cards(state: LotState, link: BolinkLink, handle: Handle) {
    let mut was_online = false;
    let mut next = tokio::time::Instant::now();
    loop {
        let online = handle.online();
        if online && (!was_online || tokio::time::Instant::now() >= next) {
            match sync_cards(&state, &handle).await {
                Ok((applied, removed)) => {
                    if applied + removed > 0 {
                        tracing::info!(applied, removed, "Bolink month cards synced");
                    }
                    next = tokio::time::Instant::now() + link.card_sync;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "Bolink month-card sync failed; again in 10 s");
                    next = tokio::time::Instant::now() + Duration::from_secs(10);
                }
            }
        }
        was_online = online;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// What one reconciliation of a day found and did (2.23, designed).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DayChecked {
    pub date: String,
    pub in_count: i64,
    pub out_count: i64,
    /// The cloud's counts.
    pub cloud_in_count: i64,
    pub cloud_out_count: i64,
    /// Records queued again because the cloud lacked them.
    pub requeued: usize,
    /// The day's e-payments against the cloud's (2.30); none when the cloud does not check them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub epay: Option<crate::bolinkpay::EpayChecked>,
}

impl DayChecked {
    pub fn balanced(&self) -> bool {
        self.in_count == self.cloud_in_count
            && self.out_count == self.cloud_out_count
            && self.epay.as_ref().is_none_or(|e| e.balanced)
    }
}

/// 2.23 (`day_reconciliation`): the day's counts against the cloud's; the
/// entries and exits it lacks are queued again on this link.
pub async fn check_day(state: &LotState, handle: &Handle, date: chrono::NaiveDate) -> Result<DayChecked, SyncError> {
    let day = onepark_domain::time::format_date(date);
    let entries = state.store().day_uids(&day, false).await?;
    let exits = state.store().day_uids(&day, true).await?;
    let request = onepark_bolink::day_check::Request {
        date,
        in_count: entries.len() as i64,
        out_count: exits.len() as i64,
        random_str: crate::cloudreport::new_uuid(state)[..12].to_owned(),
    };
    let reply = match handle.call(onepark_bolink::day_check::SERVICE, request.to_data()).await? {
        Answer::Reply(r) => r,
        other => return Err(SyncError::Refused(format!("unexpected answer {other:?}"))),
    };
    let answer = onepark_bolink::day_check::Answer::read(&reply).map_err(|e| SyncError::Refused(e.0))?;
    let mut checked = DayChecked {
        date: day,
        in_count: request.in_count,
        out_count: request.out_count,
        cloud_in_count: answer.in_count,
        cloud_out_count: answer.out_count,
        requeued: 0,
        epay: None,
    };
    let now_ms = state.now_ms();
    for (kind, ours, theirs, interface) in [
        ("in_count", &entries, &answer.in_orders, "uploadCarInData"),
        ("out_count", &exits, &answer.out_orders, "uploadCarOutData"),
    ] {
        // A truncated list cannot say what is missing.
        if !answer.mismatch.iter().any(|m| m == kind) || answer.truncated {
            continue;
        }
        let theirs: HashSet<&String> = theirs.iter().collect();
        for uid in ours.iter().filter(|u| !theirs.contains(u)) {
            if state.store().requeue_on(crate::bolinklink::LINK.name, uid, interface, now_ms).await? {
                checked.requeued += 1;
            }
        }
    }
    if checked.requeued > 0 {
        state.wake_outbox();
    }
    // A cloud that does not check e-payments (2.30 is onepark's design) leaves them unchecked.
    match crate::bolinkpay::check_epay(state, handle, date).await {
        Ok(e) => checked.epay = Some(e),
        Err(SyncError::Refused(why)) => tracing::warn!(why, "Bolink e-payment check (2.30) refused"),
        Err(e) => return Err(e),
    }
    Ok(checked)
}

/// After midnight (00:15 local), reconciles the previous day with the cloud;
/// the cloud away, again every 10 minutes for 3 hours.
async fn nightly(state: LotState, handle: Handle) {
    loop {
        let now = state.now();
        let today = now.date().and_hms_opt(0, 15, 0).unwrap_or(now);
        let next = if now < today { today } else { today + chrono::Duration::days(1) };
        tokio::time::sleep((next - now).to_std().unwrap_or(Duration::from_secs(3600))).await;
        let date = crate::reconcile::yesterday(state.now());
        for _ in 0..18 {
            match check_day(&state, &handle, date).await {
                Ok(c) if c.balanced() => break,
                Ok(c) => tracing::warn!(?c, "Bolink reconciliation: the cloud differs (what it lacks is sent again)"),
                Err(e) => tracing::warn!(error = %e, "Bolink reconciliation failed"),
            }
            tokio::time::sleep(Duration::from_secs(600)).await;
        }
    }
}

/// One complete paging: (cards written, cards removed).
pub async fn sync_cards(state: &LotState, handle: &Handle) -> Result<(usize, usize), SyncError> {
    let mut page = 1;
    let mut seen = HashSet::new();
    let mut applied = 0;
    loop {
        let q = Query {
            car_number: None,
            card_id: None,
            random_str: crate::cloudreport::new_uuid(state)[..12].to_owned(),
            page,
            rp: MAX_RP,
        };
        let reply = match handle.call(month_card::SERVICE, q.to_data()).await? {
            Answer::Reply(r) => r,
            Answer::Throttled => return Err(SyncError::Refused("request_over_times".into())),
            other => return Err(SyncError::Refused(format!("unexpected answer {other:?}"))),
        };
        let p = Page::read(&reply).map_err(|e| SyncError::Refused(e.0))?;
        if p.random_str != q.random_str {
            return Err(SyncError::Refused(format!("random_str {} is not ours ({})", p.random_str, q.random_str)));
        }
        for card in &p.cards {
            seen.insert(card_id(&card.card_id));
            if apply(state, card).await? {
                applied += 1;
            }
        }
        let pages = month_card::pages(p.count, MAX_RP);
        if p.cards.is_empty() || page >= pages {
            if (seen.len() as i64) < p.count.min(page * MAX_RP) {
                // A short page: the paging is not complete, so nothing is removed.
                return Ok((applied, 0));
            }
            break;
        }
        page += 1;
    }
    let mut removed = 0;
    for card in state.store().cards().await? {
        if card.id.starts_with(CARD_PREFIX) && !seen.contains(&card.id) && state.store().delete_card(&card.id).await? {
            removed += 1;
        }
    }
    Ok((applied, removed))
}

/// A cloud card as the lot's (only when it changed): its real plates,
/// its times in the lot's zone, its lanes. A card none of whose plates is
/// a plate, or whose plate is on another card, is skipped (logged).
async fn apply(state: &LotState, card: &Card) -> Result<bool, StoreError> {
    let zone = state.config().zone;
    let time = |unix: i64| format_time(zone.local(chrono::DateTime::from_timestamp(unix, 0).unwrap_or_default()));
    let plates: Vec<String> =
        card.plates().iter().filter_map(|p| Plate::parse(p).ok().map(|p| p.to_string())).collect();
    if plates.is_empty() {
        tracing::warn!(card_id = card.card_id, plates = card.car_number, "Bolink card without a plate: skipped");
        return Ok(false);
    }
    let start = card.begin_time.or(card.create_time).unwrap_or(0).min(card.end_time);
    let want = MonthCard {
        id: card_id(&card.card_id),
        owner: card.name.chars().filter(|c| !c.is_control()).take(50).collect(),
        plates,
        start_time: time(start),
        end_time: time(card.end_time),
        lanes: card.channels(),
        odd_even: card.limit_day_type == 1,
    };
    if state.store().card_price(&want.id).await? != Some(card.price) {
        state.store().put_card_price(&want.id, card.price).await?;
    }
    if state.store().card(&want.id).await?.as_ref() == Some(&want) {
        return Ok(false);
    }
    match state.store().put_card(&want).await {
        Ok(()) => Ok(true),
        Err(e @ StoreError::PlateOnCard { .. }) => {
            tracing::warn!(card_id = card.card_id, reason = %e, "Bolink card not applied");
            Ok(false)
        }
        Err(e) => Err(e),
    }
}
