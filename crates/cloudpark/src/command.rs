//! Typed MQ messages (seed §2–§3): the stp commands a lot applies and the
//! pts reports it sends, read from an [`Envelope`]'s `dataItems` with the
//! vendor's spellings (`channelid` / `channelId`, `bussinessType`,
//! `enterOpame`, PascalCase in `manage.*`) and written back the same way.
//! Money on MQ is yuan (read to fen exactly); `useTime` is minutes in
//! reports and 3.12, seconds in 3.1. Where the vendor's page was not found
//! the message is designed in its neighbours' style (docs/cloudpark.md marks
//! each row "vendor" or "designed").

use chrono::NaiveDateTime;
use onepark_domain::time::format_time;
use serde_json::{Map, Value, json};

use crate::code::Refusal;
use crate::fields::Fields;
use crate::mq::{Envelope, ServiceId};

/// A problem in `dataItems[i]`, named as the message writes it (`dataItems[0].CarNum`).
pub fn in_item(i: usize, r: Refusal) -> Refusal {
    Refusal::bad(r.detail.replace("bizContent.", &format!("dataItems[{i}].")))
}

fn fields(m: &Envelope) -> impl Iterator<Item = (usize, Fields)> + '_ {
    m.data_items.iter().cloned().map(Fields::from_map).enumerate()
}

/// A message's first `dataItems` entry (most commands carry one), empty when none.
pub fn first(m: &Envelope) -> Fields {
    m.data_items.first().cloned().map(Fields::from_map).unwrap_or_default()
}

/// The message's uuid for a downlink numbered `request_id` (32 hex digits, as the vendor's).
pub fn uuid_of(request_id: i64) -> String {
    format!("{request_id:032x}")
}

/// The downlink a uuid of [`uuid_of`] numbers.
pub fn request_id_of(uuid: &str) -> Option<i64> {
    (uuid.len() == 32).then(|| i64::from_str_radix(uuid, 16).ok()).flatten().filter(|n| *n > 0)
}

/// The extra envelope field carrying a command's deadline (designed): a lot
/// refuses a command it receives after it, so a stale barrier raise never opens.
pub const EXPIRES: &str = "expireTime";

/// A command for `park_code`, as the platform publishes it.
#[allow(clippy::too_many_arguments)]
pub fn command(
    uuid: &str,
    service: ServiceId,
    park_code: &str,
    action: Option<&str>,
    data_items: Vec<Map<String, Value>>,
    opt: Option<&str>,
    now: NaiveDateTime,
    expires: NaiveDateTime,
) -> Envelope {
    let mut extras = Map::new();
    extras.insert(EXPIRES.into(), Value::from(format_time(expires)));
    Envelope {
        code: 1,
        uuid: uuid.to_owned(),
        service_id: service.name().to_owned(),
        park_code: park_code.to_owned(),
        action: action.map(str::to_owned),
        data_items,
        msg: Some(String::new()),
        opt: opt.map(str::to_owned),
        timestamp: Some(now),
        extras,
    }
}

/// A command's deadline, when it carries one.
pub fn expires(m: &Envelope) -> Option<NaiveDateTime> {
    m.extras.get(EXPIRES).and_then(Value::as_str).and_then(crate::fields::lenient_time)
}

/// 3.10b / 3.13: what to do with a lane's barrier.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gate {
    Raise,
    Lower,
}

/// A remote barrier order (3.10b `manage.channels` `open`/`close`, designed;
/// 3.13 `parking.remote` type 0/2 with cmd 1, vendor).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GateOrder {
    pub channel: String,
    pub gate: Gate,
    pub operator: String,
    /// Why (3.13's `openGateCase`, required for a free/abnormal release).
    pub reason: Option<String>,
    /// 3.13 type 2: a free or abnormal release.
    pub free: bool,
    /// 3.13's `plateId`: the pending car it releases, when any.
    pub plate_id: Option<String>,
}

impl GateOrder {
    /// `manage.channels` action `open` / `close`: `[{channelId, operator, reason}]`.
    pub fn from_channels(m: &Envelope, gate: Gate) -> Result<GateOrder, Refusal> {
        let f = first(m);
        let e = |r| in_item(0, r);
        Ok(GateOrder {
            channel: f.text(&["channelId", "channelid", "channelID"], 30).map_err(e)?,
            gate,
            operator: f.opt_text(&["operator", "opt"], 50).map_err(e)?.or_else(|| m.opt.clone()).unwrap_or_default(),
            reason: f.opt_text(&["reason", "openGateCase"], 100).map_err(e)?,
            free: false,
            plate_id: None,
        })
    }

    /// `parking.remote` (3.13): type 0 release, 1 cancel, 2 free/abnormal
    /// release; `None` for a cancel (nothing to open).
    pub fn from_remote(m: &Envelope) -> Result<Option<GateOrder>, Refusal> {
        let f = first(m);
        let e = |r| in_item(0, r);
        let kind = f.opt_int(&["type"]).map_err(e)?.unwrap_or(0);
        let operator = f.text(&["operator"], 50).map_err(e)?;
        let reason = f.opt_text(&["openGateCase"], 100).map_err(e)?;
        let channel = f.text(&["channelid", "channelId", "channelID"], 30).map_err(e)?;
        match kind {
            0 | 2 => {
                if kind == 2 && reason.is_none() {
                    return Err(Refusal::bad("dataItems[0].openGateCase 在 type 为 2（免费/异常放行）时必填"));
                }
                Ok(Some(GateOrder {
                    channel,
                    gate: Gate::Raise,
                    operator,
                    reason,
                    free: kind == 2,
                    plate_id: f.opt_text(&["plateId", "plateID"], 64).map_err(e)?,
                }))
            }
            1 => Ok(None),
            other => Err(Refusal::bad(format!(
                "dataItems[0].type 须为 0（放行）、1（取消）或 2（免费/异常放行），收到 {other}"
            ))),
        }
    }
}

/// A plate lock (3.11, query vendor; add/edit/delete designed with the query's item).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlateLock {
    /// The lot's id (`ID`); 0 or absent on add.
    pub id: i64,
    pub car_num: String,
    pub locker: String,
    pub lock_time: Option<NaiveDateTime>,
    pub remark: Option<String>,
}

impl PlateLock {
    pub fn from_fields(f: &Fields) -> Result<PlateLock, Refusal> {
        Ok(PlateLock {
            id: f.opt_int(&["ID", "id", "Id"])?.unwrap_or(0),
            car_num: f.text(&["CarNum", "carNum", "plateNumber"], 20)?,
            locker: f.opt_text(&["Locker", "locker"], 50)?.unwrap_or_default(),
            lock_time: f.opt_time(&["LockTime", "lockTime"])?,
            remark: f.opt_text(&["Remark", "remark"], 200)?,
        })
    }

    pub fn to_item(&self, region: &str) -> Map<String, Value> {
        let v = json!({ "ID": self.id, "Region": region, "CarNum": self.car_num, "Locker": self.locker,
            "LockTime": self.lock_time.map(format_time), "Remark": self.remark });
        v.as_object().cloned().unwrap_or_default()
    }

    pub fn all(m: &Envelope) -> Result<Vec<PlateLock>, Refusal> {
        fields(m).map(|(i, f)| PlateLock::from_fields(&f).map_err(|r| in_item(i, r))).collect()
    }
}

/// A visitor reservation (3.14, vendor).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reservation {
    pub pass_code: String,
    pub plate_number: String,
    pub arrive: NaiveDateTime,
    pub leave: NaiveDateTime,
    /// 1 visitor, 2 shared parking, 3 registered entry.
    pub business_type: i64,
    /// 1 booked, 0 cancelled.
    pub booked: bool,
    /// The car type it parks as: 11–17 free, else charged as a temporary car.
    pub car_sub_type: i64,
    /// Entries allowed (default 1, −1 unlimited).
    pub times_limit: i64,
    pub channel: Option<String>,
    pub desc: Option<String>,
}

impl Reservation {
    pub fn from_fields(f: &Fields) -> Result<Reservation, Refusal> {
        let arrive = f.time(&["arriveTime"])?;
        let leave = f.time(&["leaveTime"])?;
        if leave <= arrive {
            return Err(Refusal::bad("bizContent.leaveTime 须晚于 arriveTime"));
        }
        let business_type = f.opt_int(&["bussinessType", "businessType"])?.unwrap_or(1);
        let channel = f.opt_text(&["channelid", "channelId"], 30)?;
        if business_type == 3 && channel.is_none() {
            return Err(Refusal::bad("bizContent.channelid 在 bussinessType 为 3（登记入场）时必填"));
        }
        Ok(Reservation {
            pass_code: f.text(&["passCode"], 64)?,
            plate_number: f.text(&["plateNumber"], 20)?,
            arrive,
            leave,
            business_type,
            booked: f.opt_int(&["visitorStatus"])?.unwrap_or(1) != 0,
            car_sub_type: f.opt_int(&["carSubType"])?.unwrap_or(91),
            times_limit: f.opt_int(&["timesLimit"])?.unwrap_or(1),
            channel,
            desc: f.opt_text(&["visitorDesc"], 200)?,
        })
    }

    pub fn all(m: &Envelope) -> Result<Vec<Reservation>, Refusal> {
        let list: Vec<Reservation> = fields(m)
            .map(|(i, f)| Reservation::from_fields(&f).map_err(|r| in_item(i, r)))
            .collect::<Result<_, _>>()?;
        if list.is_empty() {
            return Err(Refusal::bad("dataItems 至少一条预约"));
        }
        Ok(list)
    }

    /// Whether the visitor parks free (a free car type, 11–17).
    pub fn free(&self) -> bool {
        (11..=17).contains(&self.car_sub_type)
    }
}

/// A blacklist entry (3.15, vendor structure).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlackEntry {
    pub uuid: String,
    pub car_num: String,
    pub remark: Option<String>,
    pub operator: Option<String>,
    /// Refused at the entry (default 1).
    pub deny_in: bool,
}

impl BlackEntry {
    pub fn from_fields(f: &Fields) -> Result<BlackEntry, Refusal> {
        Ok(BlackEntry {
            uuid: f.opt_text(&["uuid", "uuId", "UUID"], 64)?.unwrap_or_default(),
            car_num: f.text(&["carNum", "CarNum", "plateNumber"], 20)?,
            remark: f.opt_text(&["remark"], 200)?,
            operator: f.opt_text(&["operator"], 50)?,
            deny_in: f.opt_int(&["denyIn"])?.unwrap_or(1) != 0,
        })
    }

    pub fn all(m: &Envelope) -> Result<Vec<BlackEntry>, Refusal> {
        fields(m).map(|(i, f)| BlackEntry::from_fields(&f).map_err(|r| in_item(i, r))).collect()
    }
}

/// A page query's filters (`page`, `pageSize`, `carNum`/`CarNum`), shared by the `query` actions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Query {
    pub page: i64,
    pub page_size: i64,
    pub car_num: Option<String>,
    pub record_no: Option<String>,
}

impl Query {
    pub fn from_envelope(m: &Envelope) -> Result<Query, Refusal> {
        let f = first(m);
        let e = |r| in_item(0, r);
        Ok(Query {
            page: f.opt_int(&["page", "Page"]).map_err(e)?.unwrap_or(1).max(1),
            page_size: f.opt_int(&["pageSize", "PageSize"]).map_err(e)?.unwrap_or(20).clamp(1, 100),
            car_num: f.opt_text(&["carNum", "CarNum", "plateNumber"], 20).map_err(e)?,
            record_no: f.opt_text(&["recordNo"], 64).map_err(e)?,
        })
    }

    /// A page wrapper: PascalCase for `manage.*` structures, camelCase for `manage.parkin`.
    pub fn page(&self, total: i64, items: Vec<Map<String, Value>>, pascal: bool) -> Map<String, Value> {
        let pages = (total + self.page_size - 1) / self.page_size;
        let items: Vec<Value> = items.into_iter().map(Value::Object).collect();
        let v = if pascal {
            json!({ "CurrentPage": self.page, "TotalPages": pages, "TotalItems": total,
                "ItemsPerPage": self.page_size, "Items": items })
        } else {
            json!({ "currentPage": self.page, "totalPages": pages, "totalItems": total,
                "itemsPerPage": self.page_size, "items": items })
        };
        v.as_object().cloned().unwrap_or_default()
    }
}

/// 3.12 `record.carstatus` (vendor): `recordNo` required.
pub fn car_status_query(m: &Envelope) -> Result<(String, Option<String>), Refusal> {
    let f = first(m);
    let e = |r| in_item(0, r);
    Ok((f.text(&["recordNo"], 64).map_err(e)?, f.opt_text(&["plateNumber"], 20).map_err(e)?))
}

/// 3.22 `manage.parkleft` (vendor): `[{parkLeft}]`.
pub fn park_left(m: &Envelope) -> Result<i64, Refusal> {
    let n = first(m).int(&["parkLeft"]).map_err(|r| in_item(0, r))?;
    if !(0..=100_000).contains(&n) {
        return Err(Refusal::bad(format!("dataItems[0].parkLeft 须在 0 至 100000 之间，收到 {n}")));
    }
    Ok(n)
}

/// 2.2 `sync.enter.in.record` as the entry notice it is (the envelope's parkCode added).
pub fn entry_record(park_code: &str, item: &Map<String, Value>) -> Result<crate::service::EnterNotify, Refusal> {
    let mut map = item.clone();
    map.insert("parkCode".into(), Value::from(park_code));
    crate::service::EnterNotify::from_fields(&Fields::from_map(map))
}

/// 2.3 `sync.leave.out.record` as the exit notice it is: money in yuan on MQ
/// (`payableFee`, `discountFee`, `paidFee` the cash taken at the exit),
/// `useTime` in minutes (not needed: the times say it).
pub fn exit_record(park_code: &str, item: &Map<String, Value>) -> Result<crate::service::LeaveNotify, Refusal> {
    let f = Fields::from_map(item.clone());
    let money = crate::service::ExitMoney {
        payable: f.opt_yuan(&["payableFee"])?.unwrap_or(0),
        discount: f.opt_yuan(&["discountFee"])?.unwrap_or(0),
        cash: f.opt_yuan(&["paidFee"])?.unwrap_or(0),
        mobile: 0,
    };
    crate::service::LeaveNotify::read(&f, Some(park_code), money)
}

/// pts reports a lot sends (the parts onepark's gateway produces; the
/// platform reads the rest of each report's fields tolerantly).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Report {
    /// 2.1 `sync.park.online.status`: `{mac}` every 30 s.
    Online { mac: String },
    /// 2.11 `sync.manualopengate.record`.
    ManualLift(ManualLift),
    /// 2.16 `sync.alarm.blacklist`.
    BlacklistAlarm { plate_number: String, channel: String, channel_name: String, at: NaiveDateTime },
}

/// A barrier raised by hand (2.11, vendor fields; `OpType` is the free-text reason).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManualLift {
    pub record_no: String,
    pub channel_id: String,
    pub channel_name: String,
    pub pic: Option<String>,
    pub op_name: String,
    pub op_time: NaiveDateTime,
    pub op_type: String,
}

impl ManualLift {
    pub fn from_fields(f: &Fields) -> Result<ManualLift, Refusal> {
        Ok(ManualLift {
            record_no: f.text(&["recordNo"], 64)?,
            channel_id: f.text(&["channelId", "channelid"], 30)?,
            channel_name: f.opt_text(&["channelName"], 50)?.unwrap_or_default(),
            pic: f.opt_text(&["pic"], 500)?,
            op_name: f.opt_text(&["OpName", "opName"], 50)?.unwrap_or_default(),
            op_time: f.time(&["OpTime", "opTime"])?,
            op_type: f.opt_text(&["OpType", "opType"], 100)?.unwrap_or_default(),
        })
    }
}

impl Report {
    pub fn service(&self) -> ServiceId {
        match self {
            Report::Online { .. } => ServiceId::ParkOnline,
            Report::ManualLift(_) => ServiceId::ManualOpenGate,
            Report::BlacklistAlarm { .. } => ServiceId::BlacklistAlarm,
        }
    }

    /// The report as the vendor writes it.
    pub fn envelope(&self, uuid: &str, park_code: &str, now: NaiveDateTime) -> Envelope {
        let item = match self {
            Report::Online { mac } => json!({ "mac": mac }),
            Report::ManualLift(l) => json!({ "recordNo": l.record_no, "channelId": l.channel_id,
                "channelName": l.channel_name, "pic": l.pic.clone().unwrap_or_default(), "OpName": l.op_name,
                "OpTime": format_time(l.op_time), "OpType": l.op_type }),
            Report::BlacklistAlarm { plate_number, channel, channel_name, at } => json!({
                "plateNumber": plate_number, "channelid": channel, "channelName": channel_name,
                "enterTime": format_time(*at) }),
        };
        Envelope {
            code: 1,
            uuid: uuid.to_owned(),
            service_id: self.service().name().to_owned(),
            park_code: park_code.to_owned(),
            action: None,
            data_items: vec![item.as_object().cloned().unwrap_or_default()],
            msg: None,
            opt: None,
            timestamp: Some(now),
            extras: Map::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope(service: &str, action: Option<&str>, items: Value) -> Envelope {
        let text =
            json!({ "uuid": "u1", "serviceId": service, "parkCode": "P1", "action": action, "dataItems": items });
        Envelope::parse(text.to_string().as_bytes()).expect("parses")
    }

    #[test]
    fn uuids_number_downlinks() {
        assert_eq!(uuid_of(42).len(), 32);
        assert_eq!(request_id_of(&uuid_of(42)), Some(42));
        assert_eq!(request_id_of("42"), None);
        assert_eq!(request_id_of("zz000000000000000000000000000000"), None);
    }

    #[test]
    fn remote_orders_as_the_vendor_sends_them() {
        let m =
            envelope("parking.remote", None, json!([{ "channelId": 2, "type": "0", "operator": "张三", "cmd": 1 }]));
        let order = GateOrder::from_remote(&m).expect("valid").expect("a release");
        assert_eq!((order.channel.as_str(), order.gate, order.free), ("2", Gate::Raise, false));
        let free = envelope("parking.remote", None, json!([{ "channelid": "2", "type": 2, "operator": "张三" }]));
        assert!(GateOrder::from_remote(&free).expect_err("no reason").detail.contains("openGateCase"));
        let cancel = envelope("parking.remote", None, json!([{ "channelid": "2", "type": 1, "operator": "张三" }]));
        assert_eq!(GateOrder::from_remote(&cancel).expect("valid"), None);
        let bad = envelope("manage.channels", Some("open"), json!([{ "operator": "x" }]));
        assert!(
            GateOrder::from_channels(&bad, Gate::Raise).expect_err("no lane").detail.contains("dataItems[0].channelId")
        );
    }

    #[test]
    fn reservations_and_locks() {
        let m = envelope(
            "visitor.reservation",
            None,
            json!([{ "passCode": "V1", "plateNumber": "鲁B12345", "arriveTime": "2026-12-4 9:00:00",
                "leaveTime": "2026-12-04 18:00:00", "bussinessType": "1", "visitorStatus": 1, "carSubType": 11 }]),
        );
        let r = Reservation::all(&m).expect("valid");
        assert!(r[0].free() && r[0].booked && r[0].times_limit == 1);
        let backwards = envelope(
            "visitor.reservation",
            None,
            json!([{ "passCode": "V1", "plateNumber": "鲁B1", "arriveTime": "2026-12-04 18:00:00", "leaveTime": "2026-12-04 09:00:00" }]),
        );
        assert!(Reservation::all(&backwards).expect_err("backwards").detail.contains("dataItems[0].leaveTime"));
        let locks =
            envelope("manage.lockcars", Some("add"), json!([{ "ID": 0, "CarNum": "鲁B12345", "Locker": "车主" }]));
        assert_eq!(PlateLock::all(&locks).expect("valid")[0].car_num, "鲁B12345");
    }

    #[test]
    fn reports_round_trip() {
        let now = chrono::NaiveDate::from_ymd_opt(2026, 12, 4).and_then(|d| d.and_hms_opt(9, 0, 0)).expect("time");
        let lift = ManualLift {
            record_no: "r1".into(),
            channel_id: "2".into(),
            channel_name: "出口2".into(),
            pic: None,
            op_name: "云坐席".into(),
            op_time: now,
            op_type: "远程抬闸".into(),
        };
        let m = Report::ManualLift(lift.clone()).envelope("u9", "P1", now);
        let again = Envelope::parse(m.to_json().to_string().as_bytes()).expect("parses");
        assert_eq!(again.service_id, "sync.manualopengate.record");
        assert_eq!(ManualLift::from_fields(&Fields::from_map(again.data_items[0].clone())).expect("reads"), lift);
    }
}
