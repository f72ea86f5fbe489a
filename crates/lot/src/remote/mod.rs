//! The cloud's commands in the lot's terms (seed §3, issue 24): each stp
//! message the gateway carries out (barriers through the lane controllers,
//! plate locks, visitor reservations, the blacklist, in-park queries, the
//! remaining spaces, the broadcast fixed-car query) and the answer it sends.
//! The channel itself (MQTT, uuids, deadlines, reports) is `crate::cloudmq`'s.

use onepark_cloudpark::command::{self, BlackEntry, Gate, GateOrder, PlateLock as WireLock, Query, Reservation};
use onepark_cloudpark::mq::{Envelope, ServiceId};
use onepark_domain::time::format_time;
use serde_json::{Map, Value, json};

mod cars;
pub(crate) mod money;
mod stays;

use crate::config::Direction;
use crate::feed::LaneEvent;
use crate::orders::LaneCommand;
use crate::state::LotState;
use crate::store::{PlateLock, StoreError, Visitor};

/// What a command came to: done (msg, dataItems) or refused (msg).
pub type Outcome = Result<(String, Vec<Map<String, Value>>), String>;

/// A problem in `dataItems[i]`, as the answer's msg (`dataItems[0].CarNum …`).
fn item_error(i: usize) -> impl Fn(onepark_cloudpark::Refusal) -> String + Copy {
    move |r| command::in_item(i, r).detail
}

fn object(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

fn storage(e: StoreError) -> String {
    tracing::error!(error = %e, "cloud command: storage");
    "车场存储暂不可用，请稍后重发".into()
}

fn done(msg: &str) -> Outcome {
    Ok((msg.to_owned(), Vec::new()))
}

/// Carries out one command. `None`: not for this lot (a broadcast about a
/// plate it does not know) — nothing is answered.
pub async fn apply(state: &LotState, m: &Envelope, service: ServiceId) -> Option<Outcome> {
    let action = m.action.as_deref();
    let outcome = match service {
        ServiceId::Channels => match action {
            Some("list") => Ok(("操作成功".into(), lanes(state))),
            Some("open") => match GateOrder::from_channels(m, Gate::Raise) {
                Ok(order) => gate(state, &order).await,
                Err(r) => Err(r.detail),
            },
            Some("close") => match GateOrder::from_channels(m, Gate::Lower) {
                Ok(order) => gate(state, &order).await,
                Err(r) => Err(r.detail),
            },
            Some("qrcode") => qr_code(state, m).await,
            other => Err(format!("manage.channels 不支持 action {}", other.unwrap_or("（空）"))),
        },
        ServiceId::Remote => match GateOrder::from_remote(m) {
            Ok(Some(order)) => gate(state, &order).await,
            Ok(None) => done("已取消放行"),
            Err(r) => Err(r.detail),
        },
        ServiceId::LockCars => locks(state, m).await,
        ServiceId::Visitor => visitors(state, m).await,
        ServiceId::Blacklist => blacklist(state, m).await,
        ServiceId::CarStatus => car_status(state, m).await,
        ServiceId::ParkLeft => match command::park_left(m) {
            Ok(n) => park_left(state, n).await,
            Err(r) => Err(r.detail),
        },
        ServiceId::Parkin => match action {
            Some("query") => parkin(state, m).await,
            Some("modify") => stays::modify_parkin(state, m).await,
            Some("preinget") => stays::pre_entries(state),
            other => Err(format!("manage.parkin 不支持 action {}", other.unwrap_or("（空）"))),
        },
        ServiceId::Parkout => stays::parkout(state, m).await,
        ServiceId::NoPlateEntry => stays::no_plate_entry(state, m).await,
        ServiceId::ClearParkin => stays::clear(state, m).await,
        ServiceId::Intercom => stays::intercom(state, m),
        ServiceId::AgentParkin => stays::agent_parkin(state, m).await,
        ServiceId::AgentParkout => stays::agent_parkout(state, m).await,
        ServiceId::QueryMonthCards => return month_cards(state, m).await,
        ServiceId::QueryFee => money::query_fee(state, m).await,
        ServiceId::PayParkingFee => money::pay_notice(state, m).await,
        ServiceId::SendTicket => money::coupon(state, m).await,
        ServiceId::PayMonthCard => money::month_card_paid(state, m).await,
        ServiceId::CarTypes => cars::car_types(),
        ServiceId::CarGroups => cars::groups(state, m).await,
        ServiceId::Cars => cars::cars(state, m).await,
        ServiceId::CarLogs => cars::logs(state, m).await,
        ServiceId::ChargePlans => cars::plans(state, m).await,
        other => Err(format!("本车场暂不支持该指令：{}", other.toc())),
    };
    Some(outcome)
}

/// 3.22: the cloud corrects the free berths to `n`; kept as an offset from
/// the lot's own count, so entries and exits keep moving it.
pub(crate) async fn park_left(state: &LotState, n: i64) -> Outcome {
    let (_, open, free) = state.berths().await.map_err(storage)?;
    let n = n.min(open);
    let offset = state.free_offset() + n - free;
    state.set_free_offset(offset).await.map_err(storage)?;
    tracing::info!(park_left = n, offset, "the cloud set the remaining spaces");
    Ok((format!("剩余车位已更新为 {n}"), Vec::new()))
}

/// 3.10a: the lot's lanes, with whether a barrier controller listens on each.
fn lanes(state: &LotState) -> Vec<Map<String, Value>> {
    state
        .config()
        .lanes
        .iter()
        .map(|l| {
            object(json!({ "channelId": l.id, "channelName": l.id,
                "inOutType": if l.direction == Direction::Entry { 1 } else { 2 },
                "remoteControl": i64::from(state.controllers().online(&l.id) > 0) }))
        })
        .collect()
}

/// 3.10b / 3.13: the lane's controller moves the barrier; a raise is then
/// recorded as a manual opening (and reported, 2.11) and shown in the booth.
async fn gate(state: &LotState, order: &GateOrder) -> Outcome {
    let Some(lane) = state.config().lanes.iter().find(|l| l.id == order.channel) else {
        return Err(format!("通道 {} 不存在（dataItems[0].channelId）", order.channel));
    };
    let now = state.now();
    let reason = match (&order.reason, order.free) {
        (Some(r), true) => format!("云平台免费放行：{r}"),
        (Some(r), false) => format!("云平台远程抬闸：{r}"),
        (None, _) => "云平台远程抬闸".to_owned(),
    };
    let gate = if order.gate == Gate::Raise { "raise" } else { "lower" };
    let command = LaneCommand::new(lane.id.as_str(), gate, order.operator.as_str(), reason.as_str(), format_time(now));
    if let Err(failed) = state.controllers().order(command).await {
        return Err(failed.zh(&lane.id));
    }
    if order.gate == Gate::Lower {
        return done("已落闸");
    }
    let now = state.now();
    let report = crate::cloudreport::manual_lift_report(state, &lane.id, &order.operator, &reason, now);
    let operator = (!order.operator.is_empty()).then_some(order.operator.as_str());
    let id = state
        .store()
        .manual_open(&lane.id, &format_time(now), &reason, operator, None, report.as_ref())
        .await
        .map_err(storage)?;
    state.wake_cloud_reports();
    tracing::info!(lane = lane.id, operator = order.operator, reason, "barrier raised by the cloud");
    state.feed().push(LaneEvent {
        at: format_time(now),
        lane: lane.id.clone(),
        direction: lane.direction,
        plate_no: String::new(),
        open: true,
        reason: Some("remote".into()),
        msg: format!("{reason}（{}）", order.operator),
        uid: None,
        fee: None,
        due: None,
        photo_id: None,
    });
    Ok(("已抬闸".into(), vec![object(json!({ "recordNo": id.to_string(), "channelId": lane.id }))]))
}

/// 3.10c: a lane's QR code (the address a driver's phone opens), kept for its screen.
async fn qr_code(state: &LotState, m: &Envelope) -> Outcome {
    let item = m.data_items.first().cloned().unwrap_or_default();
    let f = onepark_cloudpark::fields::Fields::from_map(item);
    let lane = f.text(&["channelId", "channelid"], 30).map_err(item_error(0))?;
    let url = f.text(&["qrCode", "url", "qrcodeUrl"], 500).map_err(item_error(0))?;
    if !state.config().lanes.iter().any(|l| l.id == lane) {
        return Err(format!("通道 {lane} 不存在（dataItems[0].channelId）"));
    }
    state.store().set_cloud_setting(&format!("qrcode:{lane}"), &url).await.map_err(storage)?;
    done("操作成功")
}

fn wire_lock(l: &PlateLock) -> Map<String, Value> {
    WireLock {
        id: l.id,
        car_num: l.plate_no.clone(),
        locker: l.locker.clone(),
        lock_time: onepark_domain::time::parse_time(&l.lock_time).ok(),
        remark: l.remark.clone(),
    }
    .to_item("")
}

/// 3.11: plate locks (a locked plate is refused at the exit).
async fn locks(state: &LotState, m: &Envelope) -> Outcome {
    let now = state.now();
    match m.action.as_deref() {
        Some("query") => {
            let q = Query::from_envelope(m).map_err(|r| r.detail)?;
            let (total, rows) = state
                .store()
                .locks(q.car_num.as_deref(), (q.page - 1) * q.page_size, q.page_size)
                .await
                .map_err(storage)?;
            Ok(("操作成功".into(), vec![q.page(total, rows.iter().map(wire_lock).collect(), true)]))
        }
        Some(action @ ("add" | "edit")) => {
            let mut out = Vec::new();
            for l in WireLock::all(m).map_err(|r| r.detail)? {
                let plate = crate::barrier::plate_text("CarNum", &l.car_num)
                    .map_err(|_| format!("车牌 {} 无效（CarNum）", l.car_num))?;
                let lock = PlateLock {
                    id: if action == "edit" { l.id } else { 0 },
                    plate_no: plate,
                    locker: l.locker.clone(),
                    lock_time: format_time(l.lock_time.unwrap_or(now)),
                    remark: l.remark.clone(),
                };
                let id = match state.store().put_lock(&lock).await {
                    Ok(id) => id,
                    Err(StoreError::NotFound(what)) => return Err(format!("{what} 不存在")),
                    Err(e) => return Err(storage(e)),
                };
                out.push(wire_lock(&PlateLock { id, ..lock }));
            }
            Ok(("操作成功".into(), out))
        }
        Some("delete") => {
            let mut removed = 0;
            for l in WireLock::all(m).map_err(|r| r.detail)? {
                if state.store().delete_lock(l.id, &l.car_num).await.map_err(storage)? {
                    removed += 1;
                }
            }
            Ok((format!("已解锁 {removed} 个车牌"), Vec::new()))
        }
        other => Err(format!("manage.lockcars 不支持 action {}", other.unwrap_or("（空）"))),
    }
}

/// 3.14: visitor reservations.
async fn visitors(state: &LotState, m: &Envelope) -> Outcome {
    let list = Reservation::all(m).map_err(|r| r.detail)?;
    for r in &list {
        let plate = crate::barrier::plate_text("plateNumber", &r.plate_number)
            .map_err(|_| format!("车牌 {} 无效（plateNumber）", r.plate_number))?;
        if let Some(lane) = &r.channel
            && !state.config().lanes.iter().any(|l| &l.id == lane)
        {
            return Err(format!("通道 {lane} 不存在（channelid）"));
        }
        let v = Visitor {
            pass_code: r.pass_code.clone(),
            plate_no: plate,
            arrive_time: format_time(r.arrive),
            leave_time: format_time(r.leave),
            business_type: r.business_type,
            booked: i64::from(r.booked),
            car_sub_type: r.car_sub_type,
            times_limit: r.times_limit,
            used: 0,
            channel: r.channel.clone(),
            remark: r.desc.clone(),
        };
        state.store().put_visitor(&v).await.map_err(storage)?;
    }
    Ok((format!("已登记 {} 条预约", list.len()), Vec::new()))
}

/// 3.15: the blacklist (the lot's black list; a listed car is refused at the entry).
async fn blacklist(state: &LotState, m: &Envelope) -> Outcome {
    match m.action.as_deref() {
        Some("query") => {
            let q = Query::from_envelope(m).map_err(|r| r.detail)?;
            let (total, rows) = state
                .store()
                .black_entries(q.car_num.as_deref(), (q.page - 1) * q.page_size, q.page_size)
                .await
                .map_err(storage)?;
            let items: Vec<Map<String, Value>> = rows
                .iter()
                .map(|b| {
                    object(json!({ "id": 0, "uuid": b.cloud_uuid.clone().unwrap_or_default(), "carNum": b.plate_no,
                        "type": 0, "remark": b.remark, "denyIn": 1, "denyOut": 0, "inNotify": 0,
                        "startTime": b.start_time, "stopTime": b.end_time }))
                })
                .collect();
            Ok(("操作成功".into(), vec![q.page(total, items, false)]))
        }
        Some("add") => {
            let now = state.now();
            let entries = BlackEntry::all(m).map_err(|r| r.detail)?;
            for b in &entries {
                let plate = crate::barrier::plate_text("carNum", &b.car_num)
                    .map_err(|_| format!("车牌 {} 无效（carNum）", b.car_num))?;
                let uuid = if b.uuid.is_empty() { crate::cloudreport::new_uuid(state) } else { b.uuid.clone() };
                state
                    .store()
                    .put_cloud_black(&plate, &uuid, &format_time(now), "2099-12-31 23:59:59", b.remark.as_deref())
                    .await
                    .map_err(storage)?;
            }
            Ok((format!("已加入黑名单 {} 辆", entries.len()), Vec::new()))
        }
        Some("delete") => {
            let mut removed = 0;
            for b in BlackEntry::all(m).map_err(|r| r.detail)? {
                if state.store().delete_cloud_black(&b.uuid, &b.car_num).await.map_err(storage)? {
                    removed += 1;
                }
            }
            Ok((format!("已移出黑名单 {removed} 辆"), Vec::new()))
        }
        other => Err(format!("manage.blacklist 不支持 action {}", other.unwrap_or("（空）"))),
    }
}

/// 3.12: whether the stay `recordNo` is in the lot (1), left (0) or unknown (−1).
async fn car_status(state: &LotState, m: &Envelope) -> Outcome {
    let (record_no, _) = command::car_status_query(m).map_err(|r| r.detail)?;
    let uid = state.store().cloud_uid(&record_no).await.map_err(storage)?.unwrap_or(record_no.clone());
    let row = state.store().session_row(&uid).await.map_err(storage)?;
    let item = match row {
        None => json!({ "recordNo": record_no, "carStatus": -1 }),
        Some(r) if r.exit_time.is_none() => json!({ "recordNo": record_no, "carStatus": 1,
            "plateNumber": r.session.plate_no, "enterTime": r.session.entry_time }),
        Some(r) => {
            let minutes = match (
                onepark_domain::time::parse_time(&r.session.entry_time),
                r.exit_time.as_deref().map(onepark_domain::time::parse_time),
            ) {
                (Ok(a), Some(Ok(b))) => (b - a).num_minutes(),
                _ => 0,
            };
            json!({ "recordNo": record_no, "carStatus": 0, "plateNumber": r.session.plate_no,
                "enterTime": r.session.entry_time, "leaveTime": r.exit_time, "useTime": minutes,
                "releaseType": 1, "outChannelid": r.exit_lane, "exit": r.exit_lane })
        }
    };
    Ok(("操作成功".into(), vec![object(item)]))
}

/// 3.17a: the cars in the lot (a camelCase page, as the vendor's).
async fn parkin(state: &LotState, m: &Envelope) -> Outcome {
    let q = Query::from_envelope(m).map_err(|r| r.detail)?;
    let (total, rows) = state
        .store()
        .open_page(q.car_num.as_deref(), (q.page - 1) * q.page_size, q.page_size)
        .await
        .map_err(storage)?;
    let mut items = Vec::new();
    for s in rows {
        let record_no = state.store().cloud_record_of(&s.uid).await.map_err(storage)?.unwrap_or(s.uid.clone());
        let car_type = if s.card_id.is_some() { 8 } else { 9 };
        items.push(object(json!({ "plateNumber": s.plate_no, "carType": car_type, "carSubType": car_type * 10 + 1,
            "enterTime": s.entry_time, "entrance": s.entry_lane, "inChannelid": s.entry_lane, "recordNo": record_no })));
    }
    Ok(("操作成功".into(), vec![q.page(total, items, false)]))
}

/// 3.7 (broadcast): the fixed cars of a plate, answered only by a lot that has one.
async fn month_cards(state: &LotState, m: &Envelope) -> Option<Outcome> {
    let item = m.data_items.first().cloned().unwrap_or_default();
    let f = onepark_cloudpark::fields::Fields::from_map(item);
    let plate = f.opt_text(&["plateNumber", "carNum"], 20).ok().flatten()?;
    let (card, _) = match state.store().card_of(&plate).await {
        Ok(found) => found?,
        Err(e) => return Some(Err(storage(e))),
    };
    let item = object(json!({ "plateNumber": plate, "parkCode": state.config().parking_code,
        "parkName": state.config().name, "carType": 8, "carSubType": 81, "owner": card.owner,
        "timeStart": card.start_time, "timeEnd": card.end_time, "uuid": card.id }));
    Some(Ok(("操作成功".into(), vec![item])))
}
