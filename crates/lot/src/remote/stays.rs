//! Stays the cloud starts, corrects, ends or asks about (seed §3.9, §3.16–
//! §3.19, §3.23, §3.24): a plate-less car let in by its phone, the lot
//! cleared of old stays, an in-park car's plate corrected, the cars waiting
//! at the lanes (pre-entry and pre-exit), an intercom call shown in the
//! booth, and a cloud attendant's manual entries and exits.

use axum::extract::{Path, State};
use onepark_cloudpark::fields::Fields;
use onepark_cloudpark::mq::Envelope;
use onepark_cloudpark::service::ParkinItem;
use onepark_domain::money::yuan;
use onepark_domain::time::{format_time, parse_time};
use serde_json::{Map, Value, json};

use onepark_cloudpark::command::first;

use super::{Outcome, item_error, object, storage};
use crate::config::Direction;
use crate::feed::LaneEvent;
use crate::orders::LaneCommand;
use crate::state::LotState;
use crate::store::{Coupon, Session};

/// The cars the lanes hold now (refused in the last ten minutes, not let in
/// or out since), newest first: `direction` entry for pre-entries, exit for pre-exits.
fn waiting(state: &LotState, direction: Direction) -> Vec<LaneEvent> {
    let since = format_time(state.now() - chrono::Duration::minutes(10));
    let mut seen = std::collections::HashSet::new();
    state
        .feed()
        .latest()
        .into_iter()
        .filter(|e| e.at >= since && e.direction == direction && !e.plate_no.is_empty())
        // The newest event of a plate decides: a later opening means it is no longer waiting.
        .filter(|e| seen.insert(e.plate_no.clone()))
        .filter(|e| !e.open)
        .collect()
}

/// 3.9 `record.in.nocarnum`: a plate-less car scanned the entrance code; its
/// phone's plate enters at `channelid`, whose controller raises the barrier.
pub(super) async fn no_plate_entry(state: &LotState, m: &Envelope) -> Outcome {
    let f = first(m);
    let plate = f.text(&["plateNumber"], 20).map_err(item_error(0))?;
    let lane = f.text(&["channelid", "channelId"], 30).map_err(item_error(0))?;
    let Some(l) = state.config().lanes.iter().find(|l| l.id == lane && l.direction == Direction::Entry) else {
        return Err(format!("入口通道 {lane} 不存在（dataItems[0].channelid）"));
    };
    if state.controllers().online(&l.id) == 0 {
        return Err(crate::orders::Failed::NoController.zh(&l.id));
    }
    let body = json!({ "plateNo": plate }).to_string();
    let (_, decision) = crate::barrier::entry(State(state.clone()), Path(l.id.clone()), body.into()).await;
    let decision = serde_json::to_value(&*decision.0).unwrap_or(Value::Null);
    if decision["open"] != true {
        return Err(format!("不能入场：{}", decision["msg"].as_str().unwrap_or("")));
    }
    let command = LaneCommand::new(
        l.id.as_str(),
        "raise",
        "无牌车扫码",
        format!("无牌车 {plate} 扫码入场"),
        format_time(state.now()),
    );
    state.controllers().order(command).await.map_err(|f| f.zh(&l.id))?;
    let uid = decision["uid"].as_str().unwrap_or_default();
    let item =
        object(json!({ "plateNumber": plate, "phone": f.opt_text(&["phone"], 20).ok().flatten().unwrap_or_default(),
        "recordNo": uid, "channelid": l.id, "channelName": l.id, "sendSMS": 0, "enterPic": "" }));
    Ok(("已入场".into(), vec![item]))
}

/// An exit lane for stays the cloud ends without a car at a lane.
fn exit_lane(state: &LotState) -> String {
    state.config().lanes.iter().find(|l| l.direction == Direction::Exit).map(|l| l.id.clone()).unwrap_or_default()
}

/// 3.16 `record.clear` (designed: `[{beforeTime, operator}]`): every stay
/// that began before `beforeTime` is closed as left unseen, free.
pub(super) async fn clear(state: &LotState, m: &Envelope) -> Outcome {
    let f = first(m);
    let before = f.time(&["beforeTime", "enterTime", "endTime"]).map_err(item_error(0))?;
    let operator = f.opt_text(&["operator"], 50).map_err(item_error(0))?.or(m.opt.clone()).unwrap_or_default();
    if before > state.now() {
        return Err("dataItems[0].beforeTime 不能晚于现在".into());
    }
    let (_, stays) = state.store().open_page(None, 0, 100_000).await.map_err(storage)?;
    let mut closed = 0;
    for s in stays.iter().filter(|s| parse_time(&s.entry_time).is_ok_and(|t| t < before)) {
        let at = state.now();
        let note = format!("云平台场内车清理（{operator}）");
        crate::staff::close_session(state, s, exit_lane(state), at, (0, 0), note).await.map_err(storage)?;
        closed += 1;
    }
    state.wake_outbox();
    Ok((format!("已清理 {closed} 辆场内车"), vec![object(json!({ "num": closed }))]))
}

/// 3.17b `manage.parkin` `modify` (designed: `[{recordNo, plateNumber}]`): an in-park car's plate corrected.
pub(super) async fn modify_parkin(state: &LotState, m: &Envelope) -> Outcome {
    let mut changed = 0;
    for (i, item) in m.data_items.iter().enumerate() {
        let f = Fields::from_map(item.clone());
        let record_no = f.text(&["recordNo"], 64).map_err(item_error(i))?;
        let plate = f.text(&["plateNumber"], 20).map_err(item_error(i))?;
        let plate = crate::barrier::plate_text("plateNumber", &plate)
            .map_err(|_| format!("dataItems[{i}].plateNumber 无效"))?;
        let uid = state.store().cloud_uid(&record_no).await.map_err(storage)?.unwrap_or(record_no.clone());
        let Some(mut session) = state.store().open_session(&uid).await.map_err(storage)? else {
            return Err(format!("dataItems[{i}]：recordNo {record_no} 不在场内"));
        };
        if session.plate_no != plate {
            session.plate_no = plate;
            let report = crate::staff::modify_record(state, &session, m.opt.clone()).await.map_err(storage)?;
            state.store().correct_plate(&session, report).await.map_err(storage)?;
            changed += 1;
        }
    }
    state.wake_outbox();
    Ok((format!("已修改 {changed} 辆"), Vec::new()))
}

/// 3.17c `manage.parkin` `preinget`: the cars waiting at the entrances.
pub(super) fn pre_entries(state: &LotState) -> Outcome {
    let items = waiting(state, Direction::Entry)
        .into_iter()
        .map(|e| {
            object(json!({ "plateNumber": e.plate_no, "enterTime": e.at, "entrance": e.lane, "inChannelid": e.lane,
                "recordNo": "", "channelScene": 0, "reason": e.msg }))
        })
        .collect();
    Ok(("操作成功".into(), items))
}

/// A held car's pre-exit bill, 2.5's shape (`useTime` minutes, money yuan).
async fn pre_exit_bill(state: &LotState, s: &Session, lane: &str) -> Result<Map<String, Value>, String> {
    let now = state.now();
    let (fee, _, _) = crate::fee::with_coupons(state.store(), &state.config().tariff, s, now).await.map_err(storage)?;
    let (full, _) =
        crate::fee::of_stay_without_coupons(state.store(), &state.config().tariff, s, now).await.map_err(storage)?;
    let due = crate::payments::due(state, s, fee, now).await.map_err(storage)?;
    let entered = parse_time(&s.entry_time).unwrap_or(now);
    let record_no = state.store().cloud_record_of(&s.uid).await.map_err(storage)?.unwrap_or(s.uid.clone());
    let car_type = if s.card_id.is_some() { 8 } else { 9 };
    Ok(object(json!({
        "plateID": s.uid, "plateNumber": s.plate_no, "carType": car_type, "carSubType": car_type * 10 + 1,
        "enterTime": s.entry_time, "entrance": s.entry_lane, "inChannelid": s.entry_lane,
        "leaveTime": format_time(now), "useTime": (now - entered).num_minutes().max(0), "outChannelid": lane, "exit": lane,
        "paidFee": yuan(due), "payableFee": yuan(full), "discountFee": yuan((full - fee).max(0)), "recordNo": record_no,
        "hasParkIn": true, "sweepCode": 0
    })))
}

async fn held(state: &LotState, lane: &str) -> Result<Session, String> {
    let event = waiting(state, Direction::Exit).into_iter().find(|e| e.lane == lane);
    let uid = event.and_then(|e| e.uid).ok_or(format!("出口 {lane} 没有等待出场的车辆"))?;
    state.store().open_session(&uid).await.map_err(storage)?.ok_or(format!("出口 {lane} 的车辆已出场"))
}

/// 3.18 `manage.parkout`: `preoutget` (vendor: `{outChannelId}` → the held
/// car's bill) and `preoutmodify` (designed: `{outChannelId, discountFee}`,
/// an attendant's reduction of that car's fee, kept as a coupon of its stay).
pub(super) async fn parkout(state: &LotState, m: &Envelope) -> Outcome {
    let f = first(m);
    let lane = f.text(&["outChannelId", "outChannelid"], 30).map_err(item_error(0))?;
    let session = held(state, &lane).await?;
    if m.action.as_deref() == Some("preoutmodify") {
        let discount = f.opt_yuan(&["discountFee"]).map_err(item_error(0))?.ok_or("缺少 dataItems[0].discountFee")?;
        let coupon = Coupon {
            ticket_no: format!("preout-{}", m.uuid),
            plate_no: session.plate_no.clone(),
            ticket_type: 1,
            value: discount,
            shop_name: Some(format!("云坐席 {}", m.opt.clone().unwrap_or_default())),
            valid_from: None,
            valid_to: None,
            received_at: format_time(state.now()),
            used_by: None,
        };
        state.store().put_coupon(&coupon).await.map_err(storage)?;
        let bills = state.store().online_bills_of(&session.uid).await.map_err(storage)?;
        super::money::void_exit_bills(state, &bills).await?;
    }
    Ok(("操作成功".into(), vec![pre_exit_bill(state, &session, &lane).await?]))
}

/// 3.19 `notify.intercom` (designed: action `call` / `hangup` / `message`,
/// `[{channelId, content}]`): shown in the booth's feed.
pub(super) fn intercom(state: &LotState, m: &Envelope) -> Outcome {
    let f = first(m);
    let lane = f.text(&["channelId", "channelid"], 30).map_err(item_error(0))?;
    let Some(l) = state.config().lanes.iter().find(|l| l.id == lane) else {
        return Err(format!("通道 {lane} 不存在（dataItems[0].channelId）"));
    };
    let what = match m.action.as_deref() {
        Some("call") => "云坐席呼叫",
        Some("hangup") => "云坐席挂断",
        _ => "云坐席消息",
    };
    let content = f.opt_text(&["content"], 200).map_err(item_error(0))?.unwrap_or_default();
    state.feed().push(LaneEvent {
        at: format_time(state.now()),
        lane: l.id.clone(),
        direction: l.direction,
        plate_no: String::new(),
        open: false,
        reason: Some("intercom".into()),
        msg: format!("{what}：{content}"),
        uid: None,
        fee: None,
        due: None,
        photo_id: None,
    });
    Ok(("已送达岗亭".into(), Vec::new()))
}

/// 3.23 `notify.agentparkin`: a cloud attendant let a car in (as a pulled in-park car).
pub(super) async fn agent_parkin(state: &LotState, m: &Envelope) -> Outcome {
    let mut done = 0;
    for (i, item) in m.data_items.iter().enumerate() {
        let mut item = item.clone();
        item.insert("carStatus".into(), Value::from(1));
        let parsed = ParkinItem::from_fields(&Fields::from_map(item)).map_err(item_error(i))?;
        crate::cloud::apply_stay(state, &parsed, None).await.map_err(|e| format!("dataItems[{i}]：{e}"))?;
        done += 1;
    }
    state.wake_outbox();
    Ok((format!("已入场 {done} 辆"), Vec::new()))
}

/// 3.24 `notify.agentparkout` (serviceId designed after 3.23): a cloud
/// attendant let a car out; its stay closed with the fee the record says.
pub(super) async fn agent_parkout(state: &LotState, m: &Envelope) -> Outcome {
    let mut done = 0;
    for (i, item) in m.data_items.iter().enumerate() {
        let f = Fields::from_map(item.clone());
        let e = item_error(i);
        let record_no = f.opt_text(&["recordNo"], 64).map_err(&e)?;
        let plate = f.opt_text(&["plateNumber"], 20).map_err(&e)?;
        let session = super::money::stay_of(state, record_no.as_deref(), plate.as_deref()).await?;
        let Some(session) = session else {
            return Err(format!("dataItems[{i}]：车辆不在场内（recordNo / plateNumber）"));
        };
        let at = f.opt_time(&["leaveTime"]).map_err(&e)?.unwrap_or_else(|| state.now());
        let entered = parse_time(&session.entry_time).unwrap_or(at);
        let at = at.max(entered);
        let charge = f.opt_yuan(&["payableFee"]).map_err(&e)?.unwrap_or(0);
        let paid = f.opt_yuan(&["paidFee"]).map_err(&e)?.unwrap_or(0);
        let discount = f.opt_yuan(&["discountFee"]).map_err(&e)?.unwrap_or(0);
        let owed = (charge - discount).max(0).min(charge);
        let lane = f
            .opt_text(&["outChannelid", "exit"], 30)
            .map_err(&e)?
            .filter(|l| state.config().lanes.iter().any(|c| &c.id == l));
        let note = format!("云坐席手动出场（{}，实收 {} 元）", m.opt.clone().unwrap_or_default(), yuan(paid));
        crate::staff::close_session(
            state,
            &session,
            lane.unwrap_or_else(|| exit_lane(state)),
            at,
            (charge, owed),
            note,
        )
        .await
        .map_err(storage)?;
        done += 1;
    }
    state.wake_outbox();
    Ok((format!("已出场 {done} 辆"), Vec::new()))
}
