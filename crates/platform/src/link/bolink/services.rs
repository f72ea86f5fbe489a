//! A verified message of a logged-in Bolink lot, served: its records into
//! the city (2.1 `in_park`, 2.2 `out_park`, 2.3 `upload_order`, 2.12
//! `upload_carpic`), its month cards paged (2.33), its answer to a no-plate
//! scan (3.3). Every refusal is `state` 0 with an errmsg naming the field
//! or step; a storage failure says to send again (the session then does not
//! remember the sign, so the resend is taken).

use onepark_bolink::message::{InPark, OutPark, stay_reply};
use onepark_bolink::{
    Envelope, Reply, day_check, epay_check, lookup, month_card, no_plate, no_stop, picture, query, renewal, uplink,
};
use onepark_domain::time::format_time;

use super::answers::{own_message, unavailable};
use super::mailbox::ScanAnswer;
use super::records::{self, card};
use crate::config::{LotAccess, LotLink};
use crate::state::AppState;
use crate::store::{FixedCar, Put, StoreError};

/// 1.4 `logout` (designed: an empty `data`, signed with the token).
pub const LOGOUT: &str = "logout";

/// What a store write means to the lot.
fn stored(service: &str, order_id: &str, put: Result<Put, StoreError>) -> Reply {
    match put {
        Ok(Put::Inserted | Put::Duplicate) => stay_reply(service, order_id, None),
        Err(StoreError::Conflict { .. }) => stay_reply(
            service,
            order_id,
            Some(&format!("订单 {order_id} 已上传且内容不同：同一订单不能以不同内容重复上传")),
        ),
        Err(e) => {
            tracing::error!(error = %e, service, order_id, "Bolink record not stored");
            stay_reply(service, order_id, Some("服务器错误：数据写入失败，请稍后重传"))
        }
    }
}

fn berths(lot: &LotAccess) -> i64 {
    match lot.link {
        LotLink::Bolink { berths, .. } => berths,
        _ => 0,
    }
}

/// Event times ahead of the platform's clock by more than the limit are refused.
fn not_future(state: &AppState, field: &str, at: chrono::NaiveDateTime) -> Result<(), String> {
    let clock = state.receiving();
    if at > clock.now + clock.future {
        return Err(format!("data.{field} {} 晚于平台时间 {}", format_time(at), format_time(clock.now)));
    }
    Ok(())
}

pub async fn handle(state: &AppState, lot: &LotAccess, e: &Envelope) -> Reply {
    let service = e.service_name.as_str();
    let Some(code) = lot.parking_codes.first() else {
        return Reply::refused(service, "车场未配置停车场编号");
    };
    let now = state.now();
    let now_text = format_time(now);
    let zone = state.zone();
    let lot_ref = records::lot(&lot.access_id);
    match service {
        "in_park" | "inpark" => {
            let m = match InPark::read(e) {
                Ok(m) => m,
                Err(why) => return stay_reply(service, &order_of(e), Some(&why.0)),
            };
            let entry = records::entry(&m, code, berths(lot), zone, now);
            if let Err(why) = not_future(state, "in_time", entry.arrive_time) {
                return stay_reply(service, &m.order_id, Some(&why));
            }
            let real = onepark_domain::plate::Plate::parse(&m.car_number).is_ok();
            let watch = real.then_some(m.car_number.as_str());
            let put = state.store().put_entry(&lot_ref, &entry, &now_text, watch).await;
            let news = put.as_ref().is_ok_and(|p| p.news);
            let put = put.map(|p| p.put);
            // A car cannot be inside twice: the plate's older open stays end here (the vendor's
            // rule); only for a real plate (many cars share `无牌车`, and a pseudo-plate is one phone's).
            if matches!(put, Ok(Put::Inserted)) && real {
                let settled = state
                    .store()
                    .settle_open_stays(&lot_ref, code, &m.car_number, entry.arrive_time, &m.order_id, &now_text)
                    .await;
                if let Err(err) = settled {
                    tracing::error!(error = %err, order_id = m.order_id, "older stays of the plate not settled");
                }
                // 4.2: a plate that pays password-free hears so as it enters.
                let color = entry.plate_color;
                if news {
                    crate::city::payments::entered(
                        state,
                        std::sync::Arc::new(lot.clone()),
                        code.to_owned(),
                        m.car_number.clone(),
                        color,
                    );
                }
            }
            stored(service, &m.order_id, put)
        }
        // 3.4's answer shares the HTTP mode's exit name.
        no_stop::RESULT if no_stop::is_result_answer(&e.fields()) => answered(state, lot, e).await,
        "out_park" | "outpark" | "upload_order" => {
            let m = match OutPark::read(e) {
                Ok(m) => m,
                Err(why) => return stay_reply(service, &order_of(e), Some(&why.0)),
            };
            if service != "upload_order" && no_stop::is_deduction(&m) {
                return super::money::deduct(state, lot, code, service, &m).await;
            }
            let exit = records::exit(&m, code, berths(lot), zone, now);
            if let Err(why) = not_future(state, "out_time", exit.end_time) {
                return stay_reply(service, &m.order_id, Some(&why));
            }
            let put = state.store().put_exit(&lot_ref, &exit, &now_text).await;
            if put.is_err() {
                return stored(service, &m.order_id, put);
            }
            match records::bill(&m, code, zone, now) {
                None => stored(service, &m.order_id, put),
                Some(bill) => {
                    let billed = state.store().put_bill(&lot_ref, &bill, &now_text).await;
                    if matches!(billed, Ok(Put::Inserted)) {
                        crate::city::payments::bill_reported(state, code, &bill.bill_id, bill.paid_type).await;
                    }
                    stored(service, &m.order_id, billed)
                }
            }
        }
        picture::SERVICE => {
            // The owner's id is echoed, so a client with several pictures in flight pairs the answers.
            let owner = order_of(e);
            let p = match picture::Picture::read(e) {
                Ok(p) => p,
                Err(why) => return Reply::refused(service, &why.0).with("order_id", owner),
            };
            let photo = records::photo(&p, code, zone, now);
            let id = photo.photo_id.clone();
            match crate::city::photos::put(state, &lot_ref, &photo, p.jpeg, &now_text).await {
                Ok(_) => Reply::ok(service).with("errmsg", "上传成功").with("photo_id", id).with("order_id", owner),
                Err(crate::city::photos::PhotoError::Store(StoreError::Conflict { .. })) => {
                    Reply::refused(service, &format!("图片 {id} 已上传且内容不同")).with("order_id", owner)
                }
                Err(err) => {
                    tracing::error!(error = %err, "Bolink picture not stored");
                    Reply::refused(service, "服务器错误：图片保存失败，请稍后重传").with("order_id", owner)
                }
            }
        }
        month_card::SERVICE => month_cards(state, lot, code, e).await,
        month_card::MEMBER => member(state, lot, code, e, &now_text).await,
        super::announce::QUERY_PRICE => price_answered(state, lot, code, e).await,
        day_check::SERVICE => reconcile(state, lot, code, e, &now_text).await,
        query::ORDER | query::ESCAPE | query::IN_PARK_COUNT | query::IN_PARK_LIST => ask(state, code, e).await,
        // 1.4 (title only; designed): the login ends. The HTTP mode forgets
        // its token (`http`); a TCP SDK closes its connection after the answer.
        LOGOUT => Reply::ok(service).with("errmsg", "已退出登录"),
        super::announce::PREPAY_ORDER => prepay_answered(state, lot, e).await,
        super::announce::REFUND_INFORM => answered(state, lot, e).await,
        renewal::PRICE => super::money::priced(state, lot, e).await,
        no_stop::PAY_STATUS => super::money::pay_status(state, code, e).await,
        other if lookup::ALL.contains(&other) => super::lookup::answer(state, lot, code, e).await,
        onepark_bolink::offline::ORDER => super::money::offline_order(state, code, e).await,
        onepark_bolink::offline::REPAIR => answered(state, lot, e).await,
        no_stop::UPDATE_BALANCE => answered(state, lot, e).await,
        renewal::PAY => super::money::renewal_answered(state, lot, e).await,
        epay_check::SERVICE => super::money::epay(state, lot, code, e).await,
        no_plate::SERVICE => match no_plate::Answer::read(e) {
            Ok(a) => {
                // Stored before the waiting scans hear it: a rescan reads it from there.
                let stored = state
                    .store()
                    .answer_scans_of(&lot.access_id, &a.car_number, a.state, a.errmsg.as_deref(), &now_text)
                    .await;
                if let Err(err) = stored {
                    tracing::error!(error = %err, "no-plate answer not stored");
                    return Reply::refused(service, "服务器错误：应答未保存，请重发");
                }
                let answer = ScanAnswer { state: a.state, errmsg: a.errmsg, car_number: a.car_number.clone() };
                state.bolink().answered(&lot.access_id, &a.car_number, answer);
                Reply::ok(service).with("car_number", a.car_number)
            }
            Err(why) => Reply::refused(service, &why.0),
        },
        other if onepark_bolink::downlink::find(other).is_some() => answered(state, lot, e).await,
        other => match uplink::find(other) {
            Some(spec) if other == renewal::RECORD => match super::money::renewal_record(state, code, e).await {
                Ok(()) => event(state, lot, code, e, spec, now).await,
                Err(refused) => refused,
            },
            Some(spec) => event(state, lot, code, e, spec, now).await,
            None => Reply::refused(
                other,
                &format!("不支持的 service_name：{other}（onepark 已实现的接口见 docs/bolink.md）"),
            ),
        },
    }
}

/// The lot's answer to the platform's 3.1 `query_price` (a driver asking):
/// the quote the driver page shows and pays. Only the lot the query went to
/// answers it (its request id is `query_order_no`), and only with a stay of
/// the plate asked.
async fn price_answered(state: &AppState, lot: &LotAccess, code: &str, e: &Envelope) -> Reply {
    let service = super::announce::QUERY_PRICE;
    let f = e.fields();
    let Some(request_id) = f.opt_text(&["query_order_no"], 32).ok().flatten().and_then(|q| q.parse::<i64>().ok())
    else {
        return Reply::refused(service, "缺少 data.query_order_no（平台查询时给出的编号）");
    };
    let asked = match state.store().fee_quote(request_id).await {
        Ok(Some(q)) if q.parking_code == code => q,
        Ok(_) => return Reply::refused(service, &format!("query_order_no {request_id} 不是平台向本车场的查询")),
        Err(err) => return unavailable(service, err),
    };
    let answered_ok = f.opt_int(&["state"]).ok().flatten() == Some(1);
    let errmsg = f.opt_text(&["errmsg"], 200).ok().flatten();
    let order_id = f.opt_text(&["order_id"], 48).ok().flatten();
    let price = match f.opt_yuan(&["price"]) {
        Ok(p) => p,
        Err(why) => return Reply::refused(service, &why.0),
    };
    let stay = match &order_id {
        Some(id) => match state.store().open_stay(code, id).await {
            Ok(stay) => stay,
            Err(err) => return unavailable(service, err),
        },
        None => None,
    };
    // The stay must be the plate's: a lot quotes only what it reported.
    let stay = stay.filter(|(plate, _)| *plate == asked.plate_no);
    let ok = answered_ok && price.is_some() && stay.is_some();
    if answered_ok && !ok {
        tracing::warn!(request_id, ?order_id, "a Bolink price answer without its price or for another stay");
    }
    let now = format_time(state.now());
    let order_id = order_id.unwrap_or_default();
    let quote = crate::store::FeeQuote {
        request_id,
        parking_code: asked.parking_code.clone(),
        plate_no: asked.plate_no.clone(),
        asked_at: String::new(),
        answered_at: Some(now.clone()),
        success: Some(ok),
        uid: ok.then(|| order_id.clone()),
        bill_id: ok.then(|| super::announce::bill_id(&order_id, &request_id.to_string())),
        plate_color: ok.then(|| onepark_domain::plate::PlateColour::usual(&asked.plate_no).code()),
        arrive_time: stay.map(|(_, arrived)| arrived).filter(|_| ok),
        end_time: ok.then(|| now.clone()),
        bill_time: ok.then(|| now.clone()),
        should_pay: price.filter(|_| ok),
        pay_status: ok.then_some(0),
    };
    if let Err(err) = state.store().answer_fee(&quote).await {
        return unavailable(service, err);
    }
    crate::city::payments::fee_answered(state, request_id);
    let confirmed = state
        .store()
        .confirm_downlink(request_id, &lot.access_id, ok, errmsg.as_deref(), &now, state.clock().millis())
        .await;
    if let Err(err) = confirmed {
        tracing::warn!(error = %err, request_id, "query_price not marked answered");
    }
    Reply::ok(service).with("query_order_no", request_id.to_string())
}

/// The lot's answer to 3.2 `prepay_order`: booked (`state` 1) ends its
/// delivery; refused gives the driver the money back (as Qingdao's refused
/// payResult does).
async fn prepay_answered(state: &AppState, lot: &LotAccess, e: &Envelope) -> Reply {
    let service = super::announce::PREPAY_ORDER;
    let f = e.fields();
    let Some(request_id) = f.opt_text(&["request_no"], 32).ok().flatten().and_then(|q| q.parse::<i64>().ok()) else {
        return Reply::refused(service, "缺少 data.request_no（平台通知中的编号）");
    };
    if let Err(refused) = own_message(state, lot, service, request_id, "付款通知").await {
        return refused;
    }
    let booked = f.opt_int(&["state"]).ok().flatten() == Some(1);
    let errmsg = f.opt_text(&["errmsg"], 200).ok().flatten();
    let now = format_time(state.now());
    let confirmed = state
        .store()
        .confirm_downlink(request_id, &lot.access_id, booked, errmsg.as_deref(), &now, state.clock().millis())
        .await;
    match confirmed {
        Ok(crate::store::Confirmed::Now { .. }) if !booked => {
            let reason = errmsg.unwrap_or_else(|| "车场未入账".into());
            crate::city::payments::pay_result_refused(state, request_id, &reason).await;
            Reply::ok(service).with("request_no", request_id.to_string())
        }
        Ok(crate::store::Confirmed::Unknown) => {
            Reply::refused(service, &format!("request_no {request_id} 不是平台发给本车场的通知"))
        }
        Ok(_) => Reply::ok(service).with("request_no", request_id.to_string()),
        Err(err) => unavailable(service, err),
    }
}

/// 2.23 (designed): the lot's counts of a day against the city's; the
/// check is kept as Qingdao's daily checks are (the reconciliation report
/// shows it), and for each kind that differs the order ids the city holds.
async fn reconcile(state: &AppState, lot: &LotAccess, code: &str, e: &Envelope, now: &str) -> Reply {
    let service = day_check::SERVICE;
    let r = match day_check::Request::read(e) {
        Ok(r) => r,
        Err(why) => return Reply::refused(service, &why.0),
    };
    let ours = match state.store().day_counts(code, r.date).await {
        Ok(c) => c,
        Err(err) => return unavailable(service, err),
    };
    let mut answer = day_check::Answer {
        in_count: ours.arrive,
        out_count: ours.leave,
        order_count: ours.pay_num,
        order_total: ours.pay_total,
        ..Default::default()
    };
    for (name, theirs, mine, kind) in [
        ("in_count", r.in_count, ours.arrive, onepark_domain::record::Kind::Entry),
        ("out_count", r.out_count, ours.leave, onepark_domain::record::Kind::Exit),
    ] {
        if theirs == mine {
            continue;
        }
        answer.mismatch.push(name.to_owned());
        let mut ids = Vec::new();
        let mut after = None;
        loop {
            let page = match state.store().uids_page(code, r.date, kind, after.as_ref(), 1000).await {
                Ok(p) => p,
                Err(err) => return unavailable(service, err),
            };
            let done = page.len() < 1000;
            after = page.last().cloned();
            ids.extend(page.into_iter().map(|(uid, _)| uid));
            if done || ids.len() >= day_check::MAX_IDS {
                break;
            }
        }
        answer.truncated |= ids.len() > day_check::MAX_IDS;
        ids.truncate(day_check::MAX_IDS);
        match kind {
            onepark_domain::record::Kind::Entry => answer.in_orders = ids,
            _ => answer.out_orders = ids,
        }
    }
    let check = onepark_domain::record::DayCheck {
        parking_code: code.to_owned(),
        date: r.date,
        counts: onepark_domain::record::DayCounts { arrive: r.in_count, leave: r.out_count, ..ours },
    };
    // The city's marks: 1 entries differ, 2 exits (money and photos are not compared here).
    let mark = i64::from(r.in_count != ours.arrive) | (i64::from(r.out_count != ours.leave) << 1);
    if let Err(err) = state.store().record_check(&check, &ours, (mark, 0), now).await {
        return unavailable(service, err);
    }
    answer.reply(&lot.access_id, &r)
}

/// What the lot asks the city (2.19, 2.38, 2.40, 2.41): answered from its records.
async fn ask(state: &AppState, code: &str, e: &Envelope) -> Reply {
    let service = e.service_name.as_str();
    let zone = state.zone();
    let unix = |t: &str| {
        onepark_domain::time::parse_time(t).ok().and_then(|t| zone.instant(t).ok()).map_or(0, |t| t.timestamp())
    };
    let db = |e: StoreError| {
        tracing::error!(error = %e, service, "Bolink query failed");
        "服务器错误：查询失败，请稍后重试".to_owned()
    };
    let answered: Result<Reply, String> = async {
        match service {
            query::ORDER => {
                let q = query::OrderQuery::read(e).map_err(|w| w.0)?;
                let payments = state.store().payments_of_stay(code, &q.order_id).await.map_err(db)?;
                // This month's payments, as the vendor's service finds them.
                let month = format_time(state.now()).get(..7).unwrap_or_default().to_owned();
                let paid: Vec<query::Paid> = payments
                    .iter()
                    .filter(|p| p.state == crate::store::PayState::Paid)
                    .filter(|p| p.deal_time.as_deref().is_some_and(|t| t.starts_with(&month)))
                    .map(|p| query::Paid {
                        trade_no: p.txn_id.clone().unwrap_or_else(|| p.order_id.clone()),
                        money: p.actual_pay.unwrap_or(0),
                        pay_time: unix(p.deal_time.as_deref().unwrap_or_default()),
                        refunded: p.refunded > 0,
                    })
                    .collect();
                Ok(query::order_reply(&q, &paid))
            }
            query::ESCAPE => {
                let (plate, random_str) = query::escape_plate(e).map_err(|w| w.0)?;
                let open = state.store().open_arrears(&plate).await.map_err(db)?;
                let mut list = Vec::new();
                for a in open {
                    let name = state.store().lot_name(&a.parking_code).await.map_err(db)?;
                    list.push(query::Escape {
                        park_name: name.unwrap_or_else(|| a.parking_code.clone()),
                        parking_code: a.parking_code,
                        order_id: a.uid,
                        money: a.should_pay,
                        out_time: a.end_time,
                    });
                }
                Ok(query::escape_reply(&plate, &random_str, &list))
            }
            _ => {
                let (page, rp, random_str) = query::page(e).map_err(|w| w.0)?;
                let listing = service == query::IN_PARK_LIST;
                let (offset, limit) = if listing { ((page - 1).saturating_mul(rp), rp) } else { (0, 0) };
                let (count, rows) = state.store().open_stays(code, offset, limit).await.map_err(db)?;
                let list: Vec<query::InPark> = rows
                    .into_iter()
                    .map(|(uid, plate, arrived, lane)| query::InPark {
                        order_id: uid,
                        car_number: plate,
                        in_time: unix(&arrived),
                        in_channel_id: lane,
                    })
                    .collect();
                Ok(query::in_park_reply(service, &random_str, count, page, listing.then_some(list.as_slice())))
            }
        }
    }
    .await;
    answered.unwrap_or_else(|why| Reply::refused(service, &why))
}

/// The lot's answer to one of the messages operators send (`commands`):
/// `state` 1 done, else refused with its errmsg; the message's delivery ends.
async fn answered(state: &AppState, lot: &LotAccess, e: &Envelope) -> Reply {
    let service = e.service_name.as_str();
    let f = e.fields();
    let Some(request_id) = f.opt_text(&["request_no"], 32).ok().flatten().and_then(|q| q.parse::<i64>().ok()) else {
        return Reply::refused(service, "缺少 data.request_no（平台消息中的编号）");
    };
    if let Err(refused) = own_message(state, lot, service, request_id, &format!(" {service} 消息")).await {
        return refused;
    }
    let done = f.opt_int(&["state"]).ok().flatten() == Some(1);
    let errmsg = f.opt_text(&["errmsg"], 200).ok().flatten();
    let now = format_time(state.now());
    match state
        .store()
        .confirm_downlink(request_id, &lot.access_id, done, errmsg.as_deref(), &now, state.clock().millis())
        .await
    {
        Ok(crate::store::Confirmed::Unknown) => {
            Reply::refused(service, &format!("request_no {request_id} 不是平台发给本车场的消息"))
        }
        Ok(_) => Reply::ok(service).with("request_no", request_id.to_string()),
        Err(err) => unavailable(service, err),
    }
}

/// A report the city keeps as the lot's event (`uplink::UPLINKS`: staff,
/// shifts, logs, plans, prices, lifts, lanes, …): stored once per content
/// (the same report again is the same event), its id echoed.
async fn event(
    state: &AppState,
    lot: &LotAccess,
    code: &str,
    e: &Envelope,
    spec: &uplink::Spec,
    now: chrono::NaiveDateTime,
) -> Reply {
    let ev = match uplink::read(spec, e) {
        Ok(ev) => ev,
        Err(why) => return Reply::refused(spec.service, &why.0),
    };
    let digest = openssl::sha::sha256(e.data_text.as_bytes());
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    let at = ev.time.map_or(now, |t| records::local(state.zone(), t));
    let event = crate::store::LotEvent {
        park_code: code.to_owned(),
        uuid: format!("{}:{}:{hex}", spec.service, ev.id),
        service_id: spec.service.to_owned(),
        kind: spec.kind.to_owned(),
        plate_no: ev.plate,
        channel: ev.channel,
        summary: ev.summary,
        content: e.data_text.clone(),
        event_time: format_time(at),
        received_at: format_time(now),
    };
    match state.store().put_lot_event(&event).await {
        Ok(_) => Reply::ok(spec.service).with(spec.id, ev.id).with("park_id", lot.access_id.as_str()),
        Err(err) => unavailable(spec.service, err).with(spec.id, ev.id),
    }
}

fn order_of(e: &Envelope) -> String {
    e.data.get("order_id").and_then(|v| v.as_str()).unwrap_or_default().to_owned()
}

/// 2.10: a member card the lot made, changed or deleted becomes the city's
/// fixed car of the lot (monthly, 81; its plates as the lot lists them), so
/// the cloud API's views and 2.33 see it.
async fn member(state: &AppState, lot: &LotAccess, code: &str, e: &Envelope, now: &str) -> Reply {
    let service = month_card::MEMBER;
    let (op, card) = match month_card::read_member(e) {
        Ok(m) => m,
        Err(why) => return Reply::refused(service, &why.0),
    };
    let zone = state.zone();
    let time = |unix: i64| format_time(records::local(zone, unix));
    let existing = match state.store().fixed_car(code, &card.card_id).await {
        Ok(c) => c,
        Err(err) => return unavailable(service, err).with("card_id", card.card_id),
    };
    let deleted = op == onepark_bolink::codes::OperateType::Delete;
    if deleted && existing.is_none() {
        return Reply::ok(service).with("card_id", card.card_id);
    }
    let start = card.begin_time.or(card.create_time).map(time).unwrap_or_else(|| now.to_owned());
    let car = FixedCar {
        park_code: code.to_owned(),
        uuid: card.card_id.clone(),
        plate_no: if card.car_number.is_empty() {
            existing.as_ref().map(|c| c.plate_no.clone()).unwrap_or_default()
        } else {
            card.car_number.clone()
        },
        owner: Some(card.name.clone()).filter(|n| !n.is_empty()),
        car_type: 81,
        space_no: card.p_lot.clone(),
        tel: card.tel.clone(),
        monthly_fee: Some(card.price),
        balance: None,
        start_time: start,
        end_time: time(card.end_time),
        group_uuid: None,
        remark: card.remark.clone(),
        remark1: Some(card.address.clone()).filter(|a| !a.is_empty()),
        remark2: Some(card.channel_id.clone()).filter(|c| !c.is_empty()),
        state: 0,
        deleted: i64::from(deleted),
        by_pid: format!("bolink:{}", lot.access_id),
        version: 0,
        synced_version: 0,
        changed_at: now.to_owned(),
    };
    match state.store().put_fixed_car(&car).await {
        Ok(_) => Reply::ok(service).with("card_id", card.card_id),
        Err(err) => unavailable(service, err).with("card_id", card.card_id),
    }
}

/// 2.33: the month cards the city holds for the lot, `rp` at a time.
async fn month_cards(state: &AppState, lot: &LotAccess, code: &str, e: &Envelope) -> Reply {
    let q = match month_card::Query::read(e) {
        Ok(q) => q,
        Err(why) => return Reply::refused(month_card::SERVICE, &why.0),
    };
    let found = state.store().month_cards(code, q.car_number.as_deref(), q.card_id.as_deref(), q.offset(), q.rp).await;
    match found {
        Ok((count, cars)) => {
            let cards: Vec<_> = cars.iter().filter_map(|c| card(c, state.zone())).collect();
            month_card::reply(&lot.access_id, &q, count, &cards)
        }
        Err(err) => {
            tracing::error!(error = %err, "month cards not read");
            Reply::refused(month_card::SERVICE, "服务器错误：查询失败，请稍后重试").with("random_str", q.random_str)
        }
    }
}
