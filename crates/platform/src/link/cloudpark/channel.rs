//! The cloud's MQ channel on the platform (seed §1–§2, issue 24): what lots
//! publish on their report topics. A pts report is stored (records through
//! the seam, everything else as a lot event) and only then acknowledged on
//! the lot's command topic with its uuid; the same uuid again is stored once
//! and acknowledged again. An stp serviceId coming back is a lot's answer to
//! a command: stored with the command, waking whoever waits for it.
//!
//! The broker's ACL already bound the topic to its lot; the envelope's
//! parkCode must agree with it.

use chrono::NaiveDateTime;
use onepark_cloudpark::command::{ManualLift, entry_record, exit_record, in_item, request_id_of};
use onepark_cloudpark::fields::Fields;
use onepark_cloudpark::mq::{Direction, Envelope, ServiceId};
use onepark_cloudpark::{Code, Refusal};
use onepark_domain::plate::Plate;
use onepark_domain::time::format_time;
use serde_json::{Map, Value, json};

use crate::state::AppState;
use crate::store::{Answered, Downlink, LotEvent, Put, StoreError};

/// A message on a report topic: what to publish back, if anything
/// (topic, payload).
pub async fn receive(state: &AppState, topic: &str, payload: &[u8]) -> Option<(String, Vec<u8>)> {
    let topics = state.cloud_topics();
    let park_code = topics.report_code(topic)?.to_owned();
    let back = topics.command(&park_code);
    let now = state.now();
    // A failure answer is never answered (a refusal of a refusal would loop).
    let silent = onepark_cloudpark::mq::is_failure(payload);
    let message = match Envelope::parse(payload) {
        Ok(m) => m,
        Err(r) => {
            tracing::warn!(topic, reason = %r.detail, "cloud MQ message refused");
            state.metrics().cloud_mq("unparsed", false);
            if silent {
                return None;
            }
            let answer = Envelope::failure(&park_code, &r.detail, now);
            return Some((back, answer.to_json().to_string().into_bytes()));
        }
    };
    let service = ServiceId::parse(&message.service_id);
    // An answer to a command (an stp serviceId) is stored, never answered.
    if let Some(service) = service.filter(|s| s.direction() == Direction::Command) {
        if message.park_code != park_code {
            tracing::warn!(
                topic,
                park_code = message.park_code,
                service = service.name(),
                "an answer naming another lot ignored"
            );
        } else {
            answered(state, &park_code, &message).await;
        }
        return None;
    }
    if silent {
        tracing::warn!(topic, uuid = message.uuid, msg = ?message.msg, "a lot refused a message of the platform");
        return None;
    }
    let answer = |ok: bool, msg: &str, items: Vec<Map<String, Value>>| {
        let mut a = message.answer(ok, msg, items, now);
        // Answered on this lot's topic, in this lot's name.
        a.park_code = park_code.clone();
        Some((back.clone(), a.to_json().to_string().into_bytes()))
    };
    if message.park_code != park_code {
        tracing::warn!(topic, park_code = message.park_code, "cloud MQ message for another lot refused");
        return answer(false, &format!("parkCode {} 与主题 {topic} 不符", message.park_code), Vec::new());
    }
    let Some(service) = service else {
        state.metrics().cloud_mq("unknown", false);
        return answer(false, &format!("未知的 serviceId：{}", message.service_id), Vec::new());
    };
    match report(state, &park_code, service, &message, now).await {
        Ok((msg, items)) => {
            state.metrics().cloud_mq(service.name(), true);
            answer(true, &msg, items)
        }
        Err(r) => {
            state.metrics().cloud_mq(service.name(), false);
            tracing::warn!(park_code, service = service.name(), uuid = message.uuid, reason = %r.detail, "cloud report refused");
            // A storage failure is not answered: the lot sends it again.
            if r.code.retryable() { None } else { answer(false, &r.detail, Vec::new()) }
        }
    }
}

/// A lot's answer to a command.
async fn answered(state: &AppState, park_code: &str, m: &Envelope) {
    let Some(request_id) = request_id_of(&m.uuid) else {
        tracing::warn!(park_code, uuid = m.uuid, "an answer to no command of this platform");
        return;
    };
    let items = Value::Array(m.data_items.iter().cloned().map(Value::Object).collect()).to_string();
    let now = state.now();
    let msg = m.msg.clone().unwrap_or_default();
    let broadcast = onepark_cloudpark::channel::BROADCAST_CODE;
    let ms = state.clock().now().timestamp_millis();
    match state
        .store()
        .answer_command(request_id, park_code, broadcast, m.code, &msg, &items, &format_time(now), ms)
        .await
    {
        Ok(Answered::New { latency_ms }) => {
            state.metrics().cloud_answer(&m.service_id, m.code == 1, latency_ms);
            if m.service_id == ServiceId::QueryFee.name()
                && let Err(e) = fee_quote(state, park_code, request_id, m).await
            {
                tracing::error!(error = %e, park_code, uuid = m.uuid, "storing a cloud lot's fee quote failed");
            }
            state.cloud_answered().answered(request_id);
        }
        Ok(Answered::Again) => {}
        Ok(Answered::Unknown) => tracing::warn!(park_code, uuid = m.uuid, "an answer to no command of this lot"),
        Err(e) => tracing::error!(error = %e, park_code, uuid = m.uuid, "storing a command's answer failed"),
    }
}

/// A lot's answer to the platform's own fee query (3.1, a driver asking):
/// the quote the driver page shows and pays, as Qingdao's uploadFee makes it.
/// Only the lot the query went to answers it (checked with the command), and
/// only for the plate asked.
async fn fee_quote(state: &AppState, park_code: &str, request_id: i64, m: &Envelope) -> Result<(), StoreError> {
    let Some(asked) = state.store().fee_quote(request_id).await? else { return Ok(()) };
    if asked.parking_code != park_code {
        return Ok(());
    }
    let item = Fields::from_map(m.data_items.first().cloned().unwrap_or_default());
    let text = |names: &[&str]| item.opt_text(names, 64).ok().flatten();
    let plate = text(&["plateNumber"]).unwrap_or_default();
    let due = item.opt_yuan(&["paidFee"]).ok().flatten();
    let record_no = text(&["recordNo"]);
    let ok = m.code == 1 && plate == asked.plate_no && due.is_some() && record_no.is_some();
    if m.code == 1 && !ok {
        tracing::warn!(park_code, uuid = m.uuid, plate, "a fee answer for another plate or without its fee: refused");
    }
    let time = |names: &[&str]| item.opt_time(names).ok().flatten().map(format_time);
    let quote = crate::store::FeeQuote {
        request_id,
        parking_code: asked.parking_code.clone(),
        plate_no: asked.plate_no.clone(),
        asked_at: String::new(),
        answered_at: Some(format_time(state.now())),
        success: Some(ok),
        uid: record_no.clone().filter(|_| ok),
        bill_id: ok.then(|| {
            text(&["billId"]).unwrap_or_else(|| format!("{}Q{request_id}", record_no.clone().unwrap_or_default()))
        }),
        plate_color: ok.then(|| onepark_domain::plate::PlateColour::usual(&asked.plate_no).code()),
        arrive_time: time(&["enterTime"]).filter(|_| ok),
        end_time: time(&["leaveTime"]).filter(|_| ok),
        bill_time: time(&["leaveTime"]).filter(|_| ok),
        should_pay: due.filter(|_| ok),
        pay_status: ok.then_some(0),
    };
    state.store().answer_fee(&quote).await?;
    crate::city::payments::fee_answered(state, request_id);
    Ok(())
}

fn unavailable(e: StoreError) -> Refusal {
    tracing::error!(error = %e, "cloud MQ storage");
    Refusal::new(Code::Unavailable, "存储暂不可用，请重发")
}

/// The event kind and one-line summary of a report that is not a record.
fn event_of(service: ServiceId, f: &Fields) -> (&'static str, String) {
    let text = |names: &[&str]| f.opt_text(names, 100).ok().flatten().unwrap_or_default();
    let lane = text(&["channelName", "exit", "entrance", "channelid", "channelId"]);
    // A bare lane id reads as one: "通道 2"; a lane's own name as it is.
    let lane = if !lane.is_empty() && lane.chars().all(|c| c.is_ascii_alphanumeric()) {
        format!("通道 {lane}")
    } else {
        lane
    };
    let plate = text(&["plateNumber", "carNum"]);
    match service {
        ServiceId::ManualOpenGate => {
            ("lift", format!("{lane} 手动抬闸：{} {}", text(&["OpName", "opName"]), text(&["OpType", "opType"])))
        }
        ServiceId::BlacklistAlarm => ("alarm", format!("黑名单车辆 {plate} 出现在 {lane}")),
        ServiceId::ParkingAlarm => {
            let kind = match f.opt_int(&["type"]).ok().flatten() {
                Some(21) => "车辆折返",
                Some(22) => "车辆逗留",
                _ => "综合告警",
            };
            ("alarm", format!("{kind}：{lane} {plate}"))
        }
        ServiceId::TurnaroundAlarm => ("alarm", format!("防调头：抬闸后超时未通过 {lane} {plate}")),
        ServiceId::OpenGateAlarm => ("alarm", format!("抬闸失败：{lane} {plate}")),
        ServiceId::DeviceAlarm => {
            ("alarm", format!("设备异常：{} {}", text(&["deviceName", "device"]), text(&["content", "remark"])))
        }
        ServiceId::IntercomReport => ("notice", format!("对讲呼叫：{lane}")),
        ServiceId::LeaveCancel => ("notice", format!("出场取消：{plate} {lane} {}", text(&["reason", "remark"]))),
        ServiceId::BoothNotice => {
            ("notice", format!("岗亭通知：{}", f.opt_text(&["content"], 200).ok().flatten().unwrap_or_default()))
        }
        ServiceId::PreLeaveRecord => ("bill", format!("预出场账单：{plate} 应缴 {} 元", text(&["paidFee"]))),
        ServiceId::PreEnterRecord => ("bill", format!("预入场：{plate} {lane}")),
        ServiceId::ParkInfo => ("info", format!("车场信息：总车位 {}", text(&["totalParkNum"]))),
        ServiceId::ParkingFeeOrder | ServiceId::EtcConsume => ("info", format!("已废弃的上报（{}）", service.toc())),
        _ => ("info", service.toc().to_owned()),
    }
}

/// Stores one report; the answer's msg and dataItems.
async fn report(
    state: &AppState,
    park_code: &str,
    service: ServiceId,
    m: &Envelope,
    now: NaiveDateTime,
) -> Result<(String, Vec<Map<String, Value>>), Refusal> {
    let ok = || Ok(("操作成功".to_owned(), Vec::new()));
    match service {
        ServiceId::ParkOnline | ServiceId::RunningState => {
            let f = Fields::from_map(m.data_items.first().cloned().unwrap_or_default());
            let mac = f.opt_text(&["mac"], 64).map_err(|r| in_item(0, r))?;
            let running = (service == ServiceId::RunningState)
                .then(|| Value::Array(m.data_items.iter().cloned().map(Value::Object).collect()).to_string());
            state
                .store()
                .touch_cloud_lot(park_code, &format_time(now), mac.as_deref(), running.as_deref())
                .await
                .map_err(unavailable)?;
            ok()
        }
        ServiceId::EnterRecord | ServiceId::LeaveRecord => records(state, park_code, service, m).await,
        _ => {
            if m.data_items.is_empty() {
                return Err(Refusal::bad("dataItems 为空"));
            }
            let mut count = 0;
            for (i, item) in m.data_items.iter().enumerate() {
                let f = Fields::from_map(item.clone());
                if service == ServiceId::ManualOpenGate {
                    ManualLift::from_fields(&f).map_err(|r| in_item(i, r))?;
                }
                let (kind, summary) = event_of(service, &f);
                let at = ["OpTime", "alarmTime", "enterTime", "leaveTime", "inTime"]
                    .iter()
                    .find_map(|n| f.opt_time(&[n]).ok().flatten())
                    .unwrap_or(now);
                let plate = f.opt_text(&["plateNumber", "carNum"], 20).ok().flatten();
                let channel =
                    f.opt_text(&["channelName", "channelid", "channelId", "exit", "entrance"], 50).ok().flatten();
                let event = LotEvent {
                    park_code: park_code.to_owned(),
                    // One uuid per report: items after the first are told apart by their index.
                    uuid: if i == 0 { m.uuid.clone() } else { format!("{}#{i}", m.uuid) },
                    service_id: service.name().to_owned(),
                    kind: kind.to_owned(),
                    plate_no: plate,
                    channel,
                    summary: summary.chars().take(200).collect(),
                    content: Value::Object(item.clone()).to_string(),
                    event_time: format_time(at),
                    received_at: format_time(now),
                };
                if state.store().put_lot_event(&event).await.map_err(unavailable)? {
                    count += 1;
                }
            }
            if count == 0 {
                tracing::debug!(park_code, uuid = m.uuid, "a report received again");
            }
            let items = if service == ServiceId::ManualOpenGate {
                vec![json!({ "num": m.data_items.len() }).as_object().cloned().unwrap_or_default()]
            } else {
                Vec::new()
            };
            Ok(("操作成功".to_owned(), items))
        }
    }
}

/// 2.2 / 2.3 as the city's entries and exits, under the lot's pid.
async fn records(
    state: &AppState,
    park_code: &str,
    service: ServiceId,
    m: &Envelope,
) -> Result<(String, Vec<Map<String, Value>>), Refusal> {
    let lot = state.store().cloud_lot_of(park_code).await.map_err(unavailable)?;
    let lot = lot.ok_or_else(|| Refusal::new(Code::Forbidden, format!("车场 {park_code} 没有车场 pid")))?;
    let lot = super::records::lot(&lot.pid);
    let now = state.now();
    let mut duplicates = 0;
    for (i, item) in m.data_items.iter().enumerate() {
        let content = Value::Object(item.clone()).to_string();
        let put = if service == ServiceId::EnterRecord {
            let e = entry_record(park_code, item).map_err(|r| in_item(i, r))?;
            let entry = super::records::entry(&e, Plate::parse(&e.plate_num).is_ok(), now, &content);
            state.store().put_entry(&lot, &entry, &format_time(now), None).await.map(|p| p.put)
        } else {
            let x = exit_record(park_code, item).map_err(|r| in_item(i, r))?;
            let exit = super::records::exit(&x, Plate::parse(&x.plate_num).is_ok(), now, &content);
            state.store().put_exit(&lot, &exit, &format_time(now)).await
        };
        match put {
            Ok(Put::Inserted) => {}
            Ok(Put::Duplicate) => duplicates += 1,
            Err(StoreError::Conflict { .. }) => {
                return Err(Refusal::new(Code::Rejected, format!("dataItems[{i}].recordNo 已存在且内容不同")));
            }
            Err(e) => return Err(unavailable(e)),
        }
    }
    if m.data_items.is_empty() {
        return Err(Refusal::bad("dataItems 为空"));
    }
    Ok((if duplicates > 0 { "操作成功（重复上报，数据未变更）" } else { "操作成功" }.to_owned(), Vec::new()))
}

/// When to publish a command again: every 10 s, doubling to a minute; a
/// broadcast once (its answers come from whoever knows the plate).
pub(crate) fn next_attempt(d: &Downlink, attempts: i64, now: NaiveDateTime) -> String {
    if d.parking_code == onepark_cloudpark::channel::BROADCAST_CODE {
        return d.expires_at.clone();
    }
    let secs = (10i64 << (attempts - 1).clamp(0, 3)).min(60);
    format_time(now + chrono::Duration::seconds(secs))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_reserved_park_code_is_the_broadcasts() {
        assert_eq!(crate::city::principals::RESERVED, onepark_cloudpark::channel::BROADCAST_CODE);
    }
}
