//! Commands to lots through the cloud API (issue 24): an integrator posts
//! `POST /cloudparkapi/api/{serviceId}` (`manage.channels`,
//! `visitor.reservation`, …) with `parkCode`, `action` and `dataItems` in
//! bizContent (or the item's fields directly). The command is stored as a
//! downlink of this protocol (its uuid the requestId), published on the lot's
//! command topic until the lot answers or it expires; the caller gets the
//! lot's answer when it comes within `waitSeconds`, else code 202 and the
//! uuid to ask `queryCommand` with.

use std::time::Duration;

use onepark_cloudpark::channel::BROADCAST_CODE;
use onepark_cloudpark::command::{self, Gate, GateOrder, PlateLock, Reservation, uuid_of};
use onepark_cloudpark::fields::Fields;
use onepark_cloudpark::mq::{Direction, Envelope, ServiceId};
use onepark_cloudpark::{Code, Refusal};
use serde_json::{Map, Value, json};

use super::answer::{Done, unavailable};
use crate::city::announce::next_request_id;
use crate::state::AppState;
use crate::store::{CommandAnswer, Downlink, DownlinkState, Principal, PrincipalKind};

/// Envelope keys in bizContent; the rest, when there is no `dataItems`, is the item.
const ENVELOPE_KEYS: [&str; 6] = ["parkCode", "action", "dataItems", "opt", "waitSeconds", "expireSeconds"];
/// The longest a caller is held for the lot's answer.
const MAX_WAIT_SECS: i64 = 25;

/// The actions each command takes (seed §3's suffixes and the vendor's examples; None: no action).
fn actions(service: ServiceId) -> &'static [&'static str] {
    match service {
        ServiceId::CarGroups => &["all", "query", "add", "edit", "delete"],
        ServiceId::Cars => {
            &["query", "add", "edit", "delete", "change", "charge", "freeze", "unfreeze", "clear", "refund"]
        }
        ServiceId::QueryMonthCards => &["store", "month", "store&month"],
        ServiceId::Channels => &["list", "open", "close", "qrcode"],
        ServiceId::LockCars => &["query", "add", "edit", "delete"],
        ServiceId::Blacklist => &["query", "add", "delete"],
        ServiceId::Parkin => &["query", "modify", "preinget"],
        ServiceId::Parkout => &["preoutmodify", "preoutget"],
        ServiceId::ChargePlans => &["query", "add", "delete"],
        ServiceId::CarLogs | ServiceId::CarTypes => &["query"],
        ServiceId::Intercom => &["call", "hangup", "message"],
        _ => &[],
    }
}

/// How long a command may wait for its lot: a barrier order half a minute
/// (a late raise opens for nobody), anything else five minutes, unless the
/// caller says (5 s to a day).
fn default_expiry(service: ServiceId, action: Option<&str>) -> i64 {
    match (service, action) {
        (ServiceId::Remote | ServiceId::NoPlateEntry, _) | (ServiceId::Channels, Some("open" | "close")) => 30,
        (ServiceId::QueryMonthCards, _) => 10,
        _ => 300,
    }
}

/// Checks what the platform can check of a command before it goes, so a
/// malformed one is answered 400 now rather than refused by the lot later.
fn validate(m: &Envelope, service: ServiceId) -> Result<(), Refusal> {
    let action = m.action.as_deref();
    let allowed = actions(service);
    match action {
        Some(a) if !allowed.contains(&a) => {
            let hint = if allowed.is_empty() { "该指令不带 action".to_owned() } else { allowed.join("、") };
            return Err(Refusal::bad(format!("bizContent.action {a} 不适用于 {}（可用：{hint}）", service.name())));
        }
        None if !allowed.is_empty() => {
            return Err(Refusal::bad(format!("缺少 bizContent.action（{}：{}）", service.name(), allowed.join("、"))));
        }
        _ => {}
    }
    match (service, action) {
        (ServiceId::Channels, Some("open")) => GateOrder::from_channels(m, Gate::Raise).map(|_| ()),
        (ServiceId::Channels, Some("close")) => GateOrder::from_channels(m, Gate::Lower).map(|_| ()),
        (ServiceId::Remote, _) => GateOrder::from_remote(m).map(|_| ()),
        (ServiceId::LockCars, Some("add" | "edit" | "delete")) => {
            PlateLock::all(m).and_then(|l| if l.is_empty() { Err(Refusal::bad("dataItems 至少一条")) } else { Ok(()) })
        }
        (ServiceId::Visitor, _) => Reservation::all(m).map(|_| ()),
        (ServiceId::Blacklist, Some("add" | "delete")) => command::BlackEntry::all(m).map(|_| ()),
        (ServiceId::CarStatus, _) => command::car_status_query(m).map(|_| ()),
        (ServiceId::ParkLeft, _) => command::park_left(m).map(|_| ()),
        _ => Ok(()),
    }
}

/// What bizContent says of the command's envelope.
struct Parts {
    park_code: Option<String>,
    action: Option<String>,
    items: Vec<Map<String, Value>>,
    opt: Option<String>,
}

/// Reads bizContent into the command's envelope parts.
fn read(f: &Fields, biz: &str) -> Result<Parts, Refusal> {
    let map: Map<String, Value> = serde_json::from_str(biz).map_err(|e| Refusal::bad(format!("bizContent：{e}")))?;
    let items = match map.get("dataItems") {
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, v)| match v {
                Value::Object(o) => Ok(o.clone()),
                _ => Err(Refusal::bad(format!("bizContent.dataItems[{i}] 必须是对象"))),
            })
            .collect::<Result<Vec<_>, _>>()?,
        Some(Value::Null) | None => {
            let rest: Map<String, Value> = map
                .iter()
                .filter(|(k, _)| !ENVELOPE_KEYS.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            if rest.is_empty() { Vec::new() } else { vec![rest] }
        }
        Some(_) => return Err(Refusal::bad("bizContent.dataItems 必须是列表")),
    };
    Ok(Parts {
        park_code: f.opt_text(&["parkCode"], 50)?,
        action: f.opt_text(&["action"], 20)?,
        items,
        opt: f.opt_text(&["opt"], 50)?,
    })
}

/// `POST /cloudparkapi/api/{serviceId}` for an stp command.
pub(super) async fn issue(state: &AppState, who: &Principal, service: ServiceId, biz: &str) -> Result<Done, Refusal> {
    if service.direction() == Direction::Report {
        return Err(Refusal::new(
            Code::UnknownService,
            format!("{} 是车场上报（pts），经 MQ 上报主题发送，不能经接口下发", service.name()),
        ));
    }
    if who.kind == PrincipalKind::Lot {
        return Err(Refusal::new(Code::Forbidden, format!("车场 pid {} 不能向车场下发指令", who.pid)));
    }
    let f = Fields::parse(biz)?;
    let Parts { park_code, action, items, opt } = read(&f, biz)?;
    let broadcast = service == ServiceId::QueryMonthCards;
    let (park_code, lot_pid) = if broadcast {
        (BROADCAST_CODE.to_owned(), "*".to_owned())
    } else {
        let code = park_code.ok_or_else(|| Refusal::bad("缺少 bizContent.parkCode"))?;
        if !who.may_act_on(&code) {
            return Err(Refusal::new(
                Code::Forbidden,
                format!("pid {} 无权操作车场 {code}（bizContent.parkCode）", who.pid),
            ));
        }
        let lot = state.store().cloud_lot_of(&code).await.map_err(unavailable)?;
        let lot = lot.ok_or_else(|| {
            Refusal::new(
                Code::Rejected,
                format!("车场 {code} 没有车场 pid，不经 MQ 接收指令（先登记 kind 为 lot 的 pid）"),
            )
        })?;
        (code, lot.pid)
    };
    let now = state.now();
    let expire_secs = f.opt_int(&["expireSeconds"])?.unwrap_or_else(|| default_expiry(service, action.as_deref()));
    if !(5..=86_400).contains(&expire_secs) {
        return Err(Refusal::bad(format!("bizContent.expireSeconds 须在 5 至 86400 之间，收到 {expire_secs}")));
    }
    // A barrier order that reaches its lot late opens for nobody.
    if default_expiry(service, action.as_deref()) == 30 && expire_secs > 300 {
        return Err(Refusal::bad(format!("bizContent.expireSeconds：道闸指令最长 300 秒，收到 {expire_secs}")));
    }
    let wait_secs = f.opt_int(&["waitSeconds"])?.unwrap_or(5);
    if !(0..=MAX_WAIT_SECS).contains(&wait_secs) {
        return Err(Refusal::bad(format!("bizContent.waitSeconds 须在 0 至 {MAX_WAIT_SECS} 之间，收到 {wait_secs}")));
    }
    let request_id = next_request_id(state.clock().now().timestamp_micros());
    let uuid = uuid_of(request_id);
    let expires = now + chrono::Duration::seconds(expire_secs);
    let operator = opt.clone().or_else(|| Some(if who.name.is_empty() { who.pid.clone() } else { who.name.clone() }));
    let message =
        command::command(&uuid, service, &park_code, action.as_deref(), items, operator.as_deref(), now, expires);
    validate(&message, service)?;
    let topics = state.cloud_topics();
    let topic = if broadcast { topics.broadcast() } else { topics.command(&park_code) };
    let subject = message
        .data_items
        .first()
        .and_then(|i| ["plateNumber", "CarNum", "carNum", "channelId", "channelid"].iter().find_map(|k| i.get(*k)))
        .map(|v| v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string()))
        .unwrap_or_default();
    let subject = match &action {
        Some(a) if subject.is_empty() => a.clone(),
        Some(a) => format!("{a} {subject}"),
        None => subject,
    };
    let created_ms = state.clock().now().timestamp_millis();
    let downlink = super::announce::downlink(request_id, &lot_pid, topic, &message, subject, now, created_ms);
    state.store().queue_command(&downlink, &who.pid).await.map_err(unavailable)?;
    state.wake().now();
    tracing::info!(uuid, park_code, service = service.name(), action, by = who.pid, "cloud command queued");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(wait_secs.unsigned_abs());
    let wake = state.cloud_answered().register(request_id);
    let done = loop {
        // A broadcast collects every lot's answer: it waits the whole time.
        if broadcast {
            tokio::time::sleep_until(deadline).await;
        } else {
            let _ = tokio::time::timeout_at(
                deadline.min(tokio::time::Instant::now() + Duration::from_millis(500)),
                wake.notified(),
            )
            .await;
        }
        let read = state.store().command(request_id).await;
        let (d, _, answers) = match read {
            Ok(Some(found)) => found,
            Ok(None) => break Err(Refusal::new(Code::Internal, "指令已存储却读不到")),
            Err(e) => break Err(unavailable(e)),
        };
        if (!broadcast && !answers.is_empty()) || tokio::time::Instant::now() >= deadline {
            break Ok(result(who, &d, &answers));
        }
    };
    state.cloud_answered().forget(request_id);
    done
}

/// What a command came to, as the caller sees it.
fn result(who: &Principal, d: &Downlink, answers: &[CommandAnswer]) -> Done {
    let uuid = uuid_of(d.request_id);
    let mine: Vec<&CommandAnswer> = answers.iter().filter(|a| who.may_act_on(&a.park_code)).collect();
    let item = |a: &CommandAnswer| {
        json!({ "parkCode": a.park_code, "code": a.code, "msg": a.msg,
            "dataItems": serde_json::from_str::<Value>(&a.data_items).unwrap_or(Value::Array(Vec::new())),
            "answeredAt": a.answered_at, "latencyMs": a.latency_ms })
    };
    let state = match d.state {
        DownlinkState::Queued => "queued",
        DownlinkState::Published => "published",
        DownlinkState::Confirmed => "answered",
        DownlinkState::Refused => "refused",
        DownlinkState::Expired => "expired",
    };
    let base = json!({ "uuid": uuid, "parkCode": d.parking_code, "serviceId": d.interface, "state": state,
        "createdAt": d.created_at, "expireTime": d.expires_at, "attempts": d.attempts });
    let mut data = base.as_object().cloned().unwrap_or_default();
    if d.parking_code == BROADCAST_CODE {
        data.insert("answers".into(), Value::Array(mine.iter().map(|a| item(a)).collect()));
        let note = format!("广播指令，{} 个车场已应答", mine.len());
        return Done { data: Some(Value::Object(data)), note: Some(note), status: None };
    }
    match answers.first() {
        Some(a) => {
            if let Value::Object(answer) = item(a) {
                data.extend(answer);
            }
            let status = (a.code != 1).then(|| (Code::Rejected, format!("车场拒绝：{}", a.msg)));
            Done { data: Some(Value::Object(data)), note: None, status }
        }
        None if d.state == DownlinkState::Expired => Done {
            data: Some(Value::Object(data)),
            note: None,
            status: Some((
                Code::StaleTimestamp,
                format!("车场在截止时间 {} 前未应答（可能离线），指令已作废", d.expires_at),
            )),
        },
        None => Done {
            data: Some(Value::Object(data)),
            note: None,
            status: Some((Code::Accepted, format!("车场尚未应答；用 queryCommand 和 uuid {uuid} 查询结果"))),
        },
    }
}

/// `queryCommand` (designed): a command's state and its lot's answer, for
/// the pid that issued it.
pub(super) async fn query(state: &AppState, who: &Principal, f: &Fields) -> Result<Done, Refusal> {
    let uuid = f.text(&["uuid", "reqId"], 64)?;
    let unknown = || Refusal::new(Code::Rejected, format!("没有 uuid 为 {uuid} 的指令（bizContent.uuid）"));
    let request_id = command::request_id_of(&uuid).ok_or_else(unknown)?;
    let (d, by, answers) = state.store().command(request_id).await.map_err(unavailable)?.ok_or_else(unknown)?;
    if by != who.pid || d.protocol != onepark_domain::record::Protocol::Cloudpark.as_str() {
        return Err(unknown());
    }
    Ok(result(who, &d, &answers))
}
