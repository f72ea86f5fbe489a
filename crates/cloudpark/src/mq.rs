//! The vendor's MQ messages (seed §1–§3, issue 24): one envelope
//! `{code, uuid, serviceId, parkCode, action, dataItems[], msg, opt,
//! timestamp}` for lot reports (pts) and cloud commands (stp) alike, read as
//! real messages write it: `uuid` / `uuId` / `uuID` / `UUID`, `code` 1/0 as a
//! number or a string, `dataItems` as `[]`, `[{}]` or `null`, `timestamp`
//! not always zero-padded or absent, keys with stray spaces (`"plateNumber "`),
//! and extras (`clientId`, `mac`, `queue`, `transType`) kept, not refused.
//! An answer echoes the request's `uuid`, `serviceId` and `parkCode`.

use chrono::NaiveDateTime;
use onepark_domain::time::format_time;
use serde_json::{Map, Value};

use crate::code::Refusal;
use crate::fields::{Fields, lenient_time};

/// One MQ message.
#[derive(Clone, Debug, PartialEq)]
pub struct Envelope {
    /// 1 success, 0 failure (requests carry it too).
    pub code: i64,
    /// The message id; an answer carries its request's.
    pub uuid: String,
    pub service_id: String,
    /// The lot (or `querymonthcard` for the broadcast).
    pub park_code: String,
    pub action: Option<String>,
    /// The payload, always a list; empty objects dropped.
    pub data_items: Vec<Map<String, Value>>,
    pub msg: Option<String>,
    /// Who did it (`超管`, `Admin`, …).
    pub opt: Option<String>,
    pub timestamp: Option<NaiveDateTime>,
    /// Fields beyond the envelope's (`clientId`, `mac`, `queue`, `transType`), kept as sent.
    pub extras: Map<String, Value>,
}

const KNOWN: [&str; 12] =
    ["code", "uuid", "uuId", "uuID", "UUID", "serviceId", "parkCode", "action", "dataItems", "msg", "opt", "timestamp"];

/// A map whose keys lost their stray spaces (a real message sends `"plateNumber "`);
/// where two keys then collide, the one without spaces wins.
fn trimmed_keys(map: Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    let (exact, spaced): (Vec<_>, Vec<_>) = map.into_iter().partition(|(k, _)| k.trim() == k);
    for (k, v) in exact {
        out.insert(k, v);
    }
    for (k, v) in spaced {
        out.entry(k.trim().to_owned()).or_insert(v);
    }
    out
}

impl Envelope {
    pub fn parse(bytes: &[u8]) -> Result<Envelope, Refusal> {
        let value: Value = serde_json::from_slice(bytes).map_err(|e| Refusal::bad(format!("消息不是 JSON（{e}）")))?;
        let Value::Object(map) = value else { return Err(Refusal::bad("消息必须是 JSON 对象")) };
        let map = trimmed_keys(map);
        let f = Fields::from_map(map.clone());
        let text = |names: &[&str]| -> Result<Option<String>, Refusal> {
            f.opt_text(names, 200).map_err(|r| Refusal::bad(r.detail.replace("bizContent.", "")))
        };
        let uuid = text(&["uuid", "uuId", "uuID", "UUID"])?.ok_or_else(|| Refusal::bad("缺少 uuid"))?;
        let service_id = text(&["serviceId"])?.ok_or_else(|| Refusal::bad("缺少 serviceId"))?;
        let park_code = text(&["parkCode"])?.ok_or_else(|| Refusal::bad("缺少 parkCode"))?;
        let code = f.opt_int(&["code"]).map_err(|r| Refusal::bad(r.detail.replace("bizContent.", "")))?.unwrap_or(1);
        let data_items = match map.get("dataItems") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => {
                let mut out = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    match item {
                        Value::Object(o) if o.is_empty() => {}
                        Value::Object(o) => out.push(trimmed_keys(o.clone())),
                        _ => return Err(Refusal::bad(format!("dataItems[{i}] 必须是对象"))),
                    }
                }
                out
            }
            // One object where a list belongs: read as a list of one.
            Some(Value::Object(o)) => vec![trimmed_keys(o.clone())],
            Some(_) => return Err(Refusal::bad("dataItems 必须是列表")),
        };
        let timestamp = match text(&["timestamp"])? {
            None => None,
            Some(t) => Some(lenient_time(&t).ok_or_else(|| Refusal::bad(format!("timestamp 不是时间：{t}")))?),
        };
        let extras =
            map.iter().filter(|(k, _)| !KNOWN.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect();
        Ok(Envelope {
            code,
            uuid,
            service_id,
            park_code,
            action: text(&["action"])?,
            data_items,
            msg: text(&["msg"])?,
            opt: text(&["opt"])?,
            timestamp,
            extras,
        })
    }

    /// The answer to this message: same uuid, serviceId and parkCode.
    pub fn answer(&self, ok: bool, msg: &str, data_items: Vec<Map<String, Value>>, now: NaiveDateTime) -> Envelope {
        Envelope {
            code: i64::from(ok),
            uuid: self.uuid.clone(),
            service_id: self.service_id.clone(),
            park_code: self.park_code.clone(),
            action: self.action.clone(),
            data_items,
            msg: Some(msg.to_owned()),
            opt: None,
            timestamp: Some(now),
            extras: Map::new(),
        }
    }

    /// A refusal of a message that could not be read (no uuid to echo): `code` 0 and why.
    pub fn failure(park_code: &str, msg: &str, now: NaiveDateTime) -> Envelope {
        Envelope {
            code: 0,
            uuid: String::new(),
            service_id: String::new(),
            park_code: park_code.to_owned(),
            action: None,
            data_items: Vec::new(),
            msg: Some(msg.to_owned()),
            opt: None,
            timestamp: Some(now),
            extras: Map::new(),
        }
    }

    /// The message as sent: the vendor's names, `dataItems` always a list.
    pub fn to_json(&self) -> Value {
        let mut map = Map::new();
        map.insert("code".into(), Value::from(self.code));
        map.insert("uuid".into(), Value::from(self.uuid.clone()));
        map.insert("serviceId".into(), Value::from(self.service_id.clone()));
        map.insert("parkCode".into(), Value::from(self.park_code.clone()));
        map.insert("action".into(), self.action.clone().map_or(Value::Null, Value::from));
        map.insert("dataItems".into(), Value::Array(self.data_items.iter().cloned().map(Value::Object).collect()));
        map.insert("msg".into(), Value::from(self.msg.clone().unwrap_or_default()));
        map.insert("opt".into(), self.opt.clone().map_or(Value::Null, Value::from));
        map.insert("timestamp".into(), self.timestamp.map_or(Value::Null, |t| Value::from(format_time(t))));
        for (k, v) in &self.extras {
            map.entry(k.clone()).or_insert_with(|| v.clone());
        }
        Value::Object(map)
    }
}

/// Whether a message (parsed or not) is a failure answer, `code` 0: never
/// answered, or two sides refusing each other's refusals would loop forever.
pub fn is_failure(bytes: &[u8]) -> bool {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => match map.get("code") {
            Some(Value::Number(n)) => n.as_i64() == Some(0),
            Some(Value::String(s)) => s.trim() == "0",
            _ => false,
        },
        _ => false,
    }
}

/// Who sends a message: pts reports (lot → cloud) or stp commands (cloud → lot).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Report,
    Command,
}

/// The vendor's serviceId table (业务类型说明, §1.1), each with its TOC entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ServiceId {
    /// 2.1 在线状态
    ParkOnline,
    /// 2.2 入场记录上报
    EnterRecord,
    /// 2.3 出场记录上报
    LeaveRecord,
    /// 2.4 同步停车订单（废弃）
    ParkingFeeOrder,
    /// 2.5 预出场账单推送
    PreLeaveRecord,
    /// 2.6 车场信息上报
    ParkInfo,
    /// 2.7 预入场信息推送
    PreEnterRecord,
    /// 2.8 防调头抬闸后超时预警
    TurnaroundAlarm,
    /// 2.9 车场抬闸失败预警
    OpenGateAlarm,
    /// 2.10 ETC消费记录上报（废弃）
    EtcConsume,
    /// 2.11 手动抬闸记录上报
    ManualOpenGate,
    /// 2.12 运行状态信息上报 (designed)
    RunningState,
    /// 2.13 对讲设备联动-上报 (designed)
    IntercomReport,
    /// 2.14 打印机/缴费机设备异常预警 (designed)
    DeviceAlarm,
    /// 2.15 出场取消记录上报 (designed)
    LeaveCancel,
    /// 2.16 黑名单告警
    BlacklistAlarm,
    /// 2.17 车场综合告警
    ParkingAlarm,
    /// 岗亭通知
    BoothNotice,
    /// 3.1 查询车辆缴费金额
    QueryFee,
    /// 3.2 停车订单支付通知
    PayParkingFee,
    /// 3.3 优惠券领取下发
    SendTicket,
    /// 3.4 车辆类型管理
    CarTypes,
    /// 3.5 车位组管理
    CarGroups,
    /// 3.6 车辆管理
    Cars,
    /// 3.7 根据车牌获取固定车
    QueryMonthCards,
    /// 3.8 固定车订单支付成功通知
    PayMonthCard,
    /// 3.9 无牌车入场请求
    NoPlateEntry,
    /// 3.10 通道管理
    Channels,
    /// 3.11 车牌锁定管理
    LockCars,
    /// 3.12 车辆场内状态查询
    CarStatus,
    /// 3.13 平台控制进出场
    Remote,
    /// 3.14 访客预约
    Visitor,
    /// 3.15 黑名单管理
    Blacklist,
    /// 3.16 场内车清理
    ClearParkin,
    /// 3.17 场内车管理
    Parkin,
    /// 3.18 出场管理
    Parkout,
    /// 3.19 对讲设备联动-下发 (designed)
    Intercom,
    /// 3.20 车辆管理日志
    CarLogs,
    /// 3.21 车辆充值套餐
    ChargePlans,
    /// 3.22 更新剩余车位
    ParkLeft,
    /// 3.23 手动入场通知-下发
    AgentParkin,
    /// 3.24 手动出场通知-下发（serviceId 未公开，按 3.23 命名）
    AgentParkout,
}

impl ServiceId {
    pub const ALL: [ServiceId; 42] = [
        ServiceId::ParkOnline,
        ServiceId::EnterRecord,
        ServiceId::LeaveRecord,
        ServiceId::ParkingFeeOrder,
        ServiceId::PreLeaveRecord,
        ServiceId::ParkInfo,
        ServiceId::PreEnterRecord,
        ServiceId::TurnaroundAlarm,
        ServiceId::OpenGateAlarm,
        ServiceId::EtcConsume,
        ServiceId::ManualOpenGate,
        ServiceId::RunningState,
        ServiceId::IntercomReport,
        ServiceId::DeviceAlarm,
        ServiceId::LeaveCancel,
        ServiceId::BlacklistAlarm,
        ServiceId::ParkingAlarm,
        ServiceId::BoothNotice,
        ServiceId::QueryFee,
        ServiceId::PayParkingFee,
        ServiceId::SendTicket,
        ServiceId::CarTypes,
        ServiceId::CarGroups,
        ServiceId::Cars,
        ServiceId::QueryMonthCards,
        ServiceId::PayMonthCard,
        ServiceId::NoPlateEntry,
        ServiceId::Channels,
        ServiceId::LockCars,
        ServiceId::CarStatus,
        ServiceId::Remote,
        ServiceId::Visitor,
        ServiceId::Blacklist,
        ServiceId::ClearParkin,
        ServiceId::Parkin,
        ServiceId::Parkout,
        ServiceId::Intercom,
        ServiceId::CarLogs,
        ServiceId::ChargePlans,
        ServiceId::ParkLeft,
        ServiceId::AgentParkin,
        ServiceId::AgentParkout,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ServiceId::ParkOnline => "sync.park.online.status",
            ServiceId::EnterRecord => "sync.enter.in.record",
            ServiceId::LeaveRecord => "sync.leave.out.record",
            ServiceId::ParkingFeeOrder => "sync.payparkingfeeorder",
            ServiceId::PreLeaveRecord => "sync.pre.out.record",
            ServiceId::ParkInfo => "sync.parkinfo",
            ServiceId::PreEnterRecord => "sync.pre.in.record",
            ServiceId::TurnaroundAlarm => "sync.alarm.turnaround",
            ServiceId::OpenGateAlarm => "sync.alarm.opengate",
            ServiceId::EtcConsume => "sync.etc.consume.upload",
            ServiceId::ManualOpenGate => "sync.manualopengate.record",
            ServiceId::RunningState => "sync.park.running.status",
            ServiceId::IntercomReport => "sync.intercom.upload",
            ServiceId::DeviceAlarm => "sync.alarm.device",
            ServiceId::LeaveCancel => "sync.leave.cancel.record",
            ServiceId::BlacklistAlarm => "sync.alarm.blacklist",
            ServiceId::ParkingAlarm => "sync.alarm.parking",
            ServiceId::BoothNotice => "sync.notify.upload",
            ServiceId::QueryFee => "pay.queryfeebyplate",
            ServiceId::PayParkingFee => "pay.payparkingfeeorder",
            ServiceId::SendTicket => "pay.sendplateticket",
            ServiceId::CarTypes => "manage.cartypes",
            ServiceId::CarGroups => "manage.cargroups",
            ServiceId::Cars => "manage.cars",
            ServiceId::QueryMonthCards => "pay.querymonthcardlist",
            ServiceId::PayMonthCard => "pay.paymonthcardorder",
            ServiceId::NoPlateEntry => "record.in.nocarnum",
            ServiceId::Channels => "manage.channels",
            ServiceId::LockCars => "manage.lockcars",
            ServiceId::CarStatus => "record.carstatus",
            ServiceId::Remote => "parking.remote",
            ServiceId::Visitor => "visitor.reservation",
            ServiceId::Blacklist => "manage.blacklist",
            ServiceId::ClearParkin => "record.clear",
            ServiceId::Parkin => "manage.parkin",
            ServiceId::Parkout => "manage.parkout",
            ServiceId::Intercom => "notify.intercom",
            ServiceId::CarLogs => "manage.cars.logs",
            ServiceId::ChargePlans => "manage.cars.chargeplan",
            ServiceId::ParkLeft => "manage.parkleft",
            ServiceId::AgentParkin => "notify.agentparkin",
            ServiceId::AgentParkout => "notify.agentparkout",
        }
    }

    pub fn toc(self) -> &'static str {
        match self {
            ServiceId::ParkOnline => "2.1 在线状态",
            ServiceId::EnterRecord => "2.2 入场记录上报",
            ServiceId::LeaveRecord => "2.3 出场记录上报",
            ServiceId::ParkingFeeOrder => "2.4 同步停车订单（废弃）",
            ServiceId::PreLeaveRecord => "2.5 预出场账单推送",
            ServiceId::ParkInfo => "2.6 车场信息上报",
            ServiceId::PreEnterRecord => "2.7 预入场信息推送",
            ServiceId::TurnaroundAlarm => "2.8 防调头抬闸后超时预警",
            ServiceId::OpenGateAlarm => "2.9 车场抬闸失败预警",
            ServiceId::EtcConsume => "2.10 ETC消费记录上报（废弃）",
            ServiceId::ManualOpenGate => "2.11 手动抬闸记录上报",
            ServiceId::RunningState => "2.12 运行状态信息上报（serviceId 未公开，按同类命名）",
            ServiceId::IntercomReport => "2.13 对讲设备联动-上报（serviceId 未公开，按同类命名）",
            ServiceId::DeviceAlarm => "2.14 打印机/缴费机设备异常预警（serviceId 未公开，按同类命名）",
            ServiceId::LeaveCancel => "2.15 出场取消记录上报（serviceId 未公开，按同类命名）",
            ServiceId::BlacklistAlarm => "2.16 黑名单告警",
            ServiceId::ParkingAlarm => "2.17 车场综合告警",
            ServiceId::BoothNotice => "岗亭通知",
            ServiceId::QueryFee => "3.1 查询车辆缴费金额",
            ServiceId::PayParkingFee => "3.2 停车订单支付通知",
            ServiceId::SendTicket => "3.3 优惠券领取下发",
            ServiceId::CarTypes => "3.4 车辆类型管理",
            ServiceId::CarGroups => "3.5 车位组管理",
            ServiceId::Cars => "3.6 车辆管理",
            ServiceId::QueryMonthCards => "3.7 根据车牌获取固定车",
            ServiceId::PayMonthCard => "3.8 固定车订单支付成功通知",
            ServiceId::NoPlateEntry => "3.9 无牌车入场请求",
            ServiceId::Channels => "3.10 通道管理",
            ServiceId::LockCars => "3.11 车牌锁定管理",
            ServiceId::CarStatus => "3.12 车辆场内状态查询",
            ServiceId::Remote => "3.13 平台控制进出场",
            ServiceId::Visitor => "3.14 访客预约",
            ServiceId::Blacklist => "3.15 黑名单管理",
            ServiceId::ClearParkin => "3.16 场内车清理",
            ServiceId::Parkin => "3.17 场内车管理",
            ServiceId::Parkout => "3.18 出场管理",
            ServiceId::Intercom => "3.19 对讲设备联动-下发（serviceId 未公开，按同类命名）",
            ServiceId::CarLogs => "3.20 车辆管理日志",
            ServiceId::ChargePlans => "3.21 车辆充值套餐",
            ServiceId::ParkLeft => "3.22 更新剩余车位",
            ServiceId::AgentParkin => "3.23 手动入场通知-下发",
            ServiceId::AgentParkout => "3.24 手动出场通知-下发（serviceId 未公开，按 3.23 命名）",
        }
    }

    pub fn direction(self) -> Direction {
        if matches!(
            self,
            ServiceId::ParkOnline
                | ServiceId::EnterRecord
                | ServiceId::LeaveRecord
                | ServiceId::ParkingFeeOrder
                | ServiceId::PreLeaveRecord
                | ServiceId::ParkInfo
                | ServiceId::PreEnterRecord
                | ServiceId::TurnaroundAlarm
                | ServiceId::OpenGateAlarm
                | ServiceId::EtcConsume
                | ServiceId::ManualOpenGate
                | ServiceId::RunningState
                | ServiceId::IntercomReport
                | ServiceId::DeviceAlarm
                | ServiceId::LeaveCancel
                | ServiceId::BlacklistAlarm
                | ServiceId::ParkingAlarm
                | ServiceId::BoothNotice
        ) {
            Direction::Report
        } else {
            Direction::Command
        }
    }

    /// The serviceId of a message, exactly as the vendor spells it.
    pub fn parse(name: &str) -> Option<ServiceId> {
        ServiceId::ALL.into_iter().find(|s| s.name() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_messages_read_as_written() {
        let captured = r#"{"code":"1","uuId":"a1b2","serviceId":"sync.alarm.blacklist","parkCode":"TDZN/307P2862",
            "action":null,"dataItems":[{"plateNumber ":"粤B12345","channelid":3,"enterTime":"2025-4-23 9:05:00"}],
            "msg":null,"opt":"超管","timestamp":"2025-4-23 9:05:01","clientId":"TDZN/307P2862_192.168.2.150","transType":0}"#;
        let m = Envelope::parse(captured.as_bytes()).expect("parses");
        assert_eq!((m.code, m.uuid.as_str(), m.park_code.as_str()), (1, "a1b2", "TDZN/307P2862"));
        assert_eq!(m.data_items[0]["plateNumber"], "粤B12345", "the stray space is dropped");
        assert_eq!(m.timestamp.map(format_time).as_deref(), Some("2025-04-23 09:05:01"));
        assert_eq!(m.extras["clientId"], "TDZN/307P2862_192.168.2.150");
        for empty in ["[]", "[{}]", "null"] {
            let text = format!(r#"{{"uuid":"u","serviceId":"s","parkCode":"p","dataItems":{empty}}}"#);
            assert!(Envelope::parse(text.as_bytes()).expect("empty").data_items.is_empty(), "{empty}");
        }
    }

    #[test]
    fn an_answer_echoes_its_request_and_round_trips() {
        let m = Envelope::parse(
            br#"{"code":1,"UUID":"x9","serviceId":"pay.queryfeebyplate","parkCode":"P1","dataItems":[{"payScene":0}]}"#,
        )
        .expect("parses");
        let now = chrono::NaiveDate::from_ymd_opt(2026, 12, 4).and_then(|d| d.and_hms_opt(8, 0, 0)).expect("time");
        let a = m.answer(true, "操作成功", Vec::new(), now);
        let text = a.to_json().to_string();
        let again = Envelope::parse(text.as_bytes()).expect("round trip");
        assert_eq!((again.uuid.as_str(), again.service_id.as_str(), again.code), ("x9", "pay.queryfeebyplate", 1));
        assert_eq!(again, a);
    }

    #[test]
    fn failures_are_recognised_parsed_or_not() {
        assert!(is_failure(br#"{"code":0,"uuid":"","msg":"x"}"#));
        assert!(is_failure(br#"{"code":"0"}"#));
        assert!(!is_failure(br#"{"code":1,"uuid":"u"}"#));
        assert!(!is_failure(b"{\"uuid\":"));
    }

    #[test]
    fn the_service_table_round_trips() {
        let mut names = std::collections::HashSet::new();
        for s in ServiceId::ALL {
            assert!(names.insert(s.name()), "{} twice", s.name());
            assert_eq!(ServiceId::parse(s.name()), Some(s));
        }
        assert_eq!(ServiceId::parse("sync.enter.in.record").map(ServiceId::direction), Some(Direction::Report));
        assert_eq!(ServiceId::parse("manage.cars").map(ServiceId::direction), Some(Direction::Command));
        assert_eq!(ServiceId::parse("Manage.Cars"), None);
    }

    #[test]
    fn what_is_missing_is_named() {
        for (text, needle) in [
            (r#"{"serviceId":"s","parkCode":"p"}"#, "uuid"),
            (r#"{"uuid":"u","parkCode":"p"}"#, "serviceId"),
            (r#"{"uuid":"u","serviceId":"s","parkCode":"p","dataItems":[1]}"#, "dataItems[0]"),
            (r#"{"uuid":"u","serviceId":"s","parkCode":"p","timestamp":"soon"}"#, "timestamp"),
            ("[]", "对象"),
        ] {
            let refused = Envelope::parse(text.as_bytes()).expect_err(text);
            assert!(refused.detail.contains(needle), "{text}: {}", refused.detail);
        }
    }
}
