//! A typed message per service: each request's bizContent read through
//! [`Fields`] (`from_fields`) and written back with the vendor's names
//! (`to_biz`, for clients), and each answer's `data`.
//!
//! Where the vendor's pages give a message (addfixcar, modifyInCar,
//! queryAgentParkin, notifyAgentParkin) its names are followed exactly;
//! the rest (the TOC's title-only entries) are onepark's design in the same
//! style, documented in docs/cloudpark.md.

use chrono::NaiveDateTime;
use onepark_domain::money::yuan;
use onepark_domain::time::format_time;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::code::{Code, Refusal};
use crate::fields::Fields;

/// At most this many items per page, whatever pageSize asks (seed 5.2.4.1).
pub const MAX_PAGE_SIZE: i64 = 100;
/// At most this many recordNos per sync report (notifyAgentParkin).
pub const MAX_SYNC_REPORT: usize = 100;

/// Every service of `/cloudparkapi/api/{serviceName}`, with its TOC entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Service {
    /// 5.2.1.1 增加固定车 (vendor).
    AddFixcar,
    /// 5.2.1.2 删除固定车 (designed).
    DelFixcar,
    /// 5.2.1.3 编辑固定车 (designed; addfixcar's fields).
    EditFixcar,
    /// 5.2.2.1 编辑场内车, add or modify (vendor).
    ModifyInCar,
    /// 5.2.2.2 删除场内车 (designed).
    DelInCar,
    /// 5.2.3 查询车辆是否有欠费订单 (designed).
    QueryArrears,
    /// 5.2.4.1 车场下拉未同步的场内车 (seed).
    QueryAgentParkin,
    /// 5.2.4.2 上传场内车同步完成通知 (vendor).
    NotifyAgentParkin,
    /// 5.2.5 物业固定车校验 (designed).
    CheckFixcar,
    /// 6.1 MQ订阅状态检测 (designed).
    QueryMqStatus,
    /// 7.1 获取车场二维码 (designed).
    GetParkQrCode,
    /// A lot of this protocol pulls its fixed-car changes (designed, after 5.2.4.1).
    QueryAgentFixcar,
    /// … and reports them applied (designed, after 5.2.4.2).
    NotifyAgentFixcar,
    /// A lot reports an entry (book B 3.1 `enterNotify`, the sign example's service).
    EnterNotify,
    /// A lot reports an exit (book B 3.2 `leaveNotify`, money in fen).
    LeaveNotify,
    /// What became of a command sent to a lot over MQ (designed, issue 24).
    QueryCommand,
}

impl Service {
    pub const ALL: [Service; 16] = [
        Service::AddFixcar,
        Service::DelFixcar,
        Service::EditFixcar,
        Service::ModifyInCar,
        Service::DelInCar,
        Service::QueryArrears,
        Service::QueryAgentParkin,
        Service::NotifyAgentParkin,
        Service::CheckFixcar,
        Service::QueryMqStatus,
        Service::GetParkQrCode,
        Service::QueryAgentFixcar,
        Service::NotifyAgentFixcar,
        Service::EnterNotify,
        Service::LeaveNotify,
        Service::QueryCommand,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Service::AddFixcar => "addfixcar",
            Service::DelFixcar => "delfixcar",
            Service::EditFixcar => "editfixcar",
            Service::ModifyInCar => "modifyInCar",
            Service::DelInCar => "delInCar",
            Service::QueryArrears => "queryArrears",
            Service::QueryAgentParkin => "queryAgentParkin",
            Service::NotifyAgentParkin => "notifyAgentParkin",
            Service::CheckFixcar => "checkFixcar",
            Service::QueryMqStatus => "queryMqStatus",
            Service::GetParkQrCode => "getParkQrCode",
            Service::QueryAgentFixcar => "queryAgentFixcar",
            Service::NotifyAgentFixcar => "notifyAgentFixcar",
            Service::EnterNotify => "enterNotify",
            Service::LeaveNotify => "leaveNotify",
            Service::QueryCommand => "queryCommand",
        }
    }

    /// The TOC entry it answers.
    pub fn toc(self) -> &'static str {
        match self {
            Service::AddFixcar => "5.2.1.1 增加固定车",
            Service::DelFixcar => "5.2.1.2 删除固定车",
            Service::EditFixcar => "5.2.1.3 编辑固定车",
            Service::ModifyInCar => "5.2.2.1 编辑场内车",
            Service::DelInCar => "5.2.2.2 删除场内车",
            Service::QueryArrears => "5.2.3 查询车辆是否有欠费订单",
            Service::QueryAgentParkin => "5.2.4.1 车场下拉未同步的场内车",
            Service::NotifyAgentParkin => "5.2.4.2 上传场内车同步完成通知",
            Service::CheckFixcar => "5.2.5 物业固定车校验",
            Service::QueryMqStatus => "6.1 MQ订阅状态检测",
            Service::GetParkQrCode => "7.1 获取车场二维码",
            Service::QueryAgentFixcar => "(onepark) 车场下拉未同步的固定车",
            Service::NotifyAgentFixcar => "(onepark) 上传固定车同步完成通知",
            Service::EnterNotify => "(book B 3.1) 入场通知",
            Service::LeaveNotify => "(book B 3.2) 出场通知",
            Service::QueryCommand => "(designed) MQ 指令结果查询",
        }
    }

    /// The service of a URL or `serviceName`; an unknown name is refused
    /// with the closest known one when only its case differs.
    pub fn parse(name: &str) -> Result<Service, Refusal> {
        if let Some(s) = Service::ALL.into_iter().find(|s| s.name() == name) {
            return Ok(s);
        }
        let hint = Service::ALL
            .into_iter()
            .find(|s| s.name().eq_ignore_ascii_case(name))
            .map(|s| format!("（大小写有别，是否指 {}？）", s.name()))
            .unwrap_or_default();
        Err(Refusal::new(Code::UnknownService, format!("serviceName {name} 不存在{hint}")))
    }
}

const PARK_CODE: &[&str] = &["parkCode"];
const PLATE: &[&str] = &["plateNumber", "plateNum", "carNum"];

/// A fixed car (固定车) as addfixcar and editfixcar carry it. Money is fen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FixedCar {
    /// The integrator's id of the car, up to 32 characters.
    pub uuid: String,
    /// Which lot: required when the pid may act on more than one (onepark's
    /// addition; the vendor's page has none because its pid is one lot's).
    pub park_code: Option<String>,
    pub car_num: String,
    pub owner: Option<String>,
    /// 81–85 月租车, 71–75 储值车, 11–17 免费车 (default 81).
    pub cartype_code: i64,
    pub carspace_num: Option<String>,
    pub tel: Option<String>,
    /// The monthly fee, fen (yuan on the wire).
    pub car_m_money: Option<i64>,
    /// Stored value, fen (yuan on the wire).
    pub balance: Option<i64>,
    pub time_start: NaiveDateTime,
    pub time_end: NaiveDateTime,
    pub cargroup_uuid: Option<String>,
    pub remark: Option<String>,
    pub remark1: Option<String>,
    pub remark2: Option<String>,
    /// 0 正常 (valid), 1 停用 (suspended).
    pub state: i64,
}

impl FixedCar {
    pub fn from_fields(f: &Fields) -> Result<FixedCar, Refusal> {
        let time_start =
            f.opt_date_or_time(&["timeStart"])?.ok_or_else(|| Refusal::bad("缺少 bizContent.timeStart"))?;
        let time_end = f.opt_date_or_time(&["timeEnd"])?.ok_or_else(|| Refusal::bad("缺少 bizContent.timeEnd"))?;
        // A date alone ends at the end of that day.
        let time_end = if time_end.time() == chrono::NaiveTime::MIN
            && f.opt_text(&["timeEnd"], 30)?.is_some_and(|t| t.len() <= 10)
        {
            time_end + chrono::Duration::seconds(86_399)
        } else {
            time_end
        };
        if time_end < time_start {
            return Err(Refusal::bad("bizContent.timeEnd 早于 timeStart"));
        }
        let cartype_code = f.opt_int(&["cartypeCode", "carTypeCode"])?.unwrap_or(81);
        if !matches!(cartype_code, 71..=75 | 81..=85 | 11..=17) {
            return Err(Refusal::bad(format!(
                "bizContent.cartypeCode {cartype_code} 不是固定车类型（81–85 月租、71–75 储值、11–17 免费）"
            )));
        }
        let state = f.opt_int(&["state"])?.unwrap_or(0);
        if !matches!(state, 0 | 1) {
            return Err(Refusal::bad(format!("bizContent.state 必须是 0 或 1，收到 {state}")));
        }
        Ok(FixedCar {
            uuid: f.text(&["uuid", "uuId", "uuID", "UUID"], 32)?,
            park_code: f.opt_text(PARK_CODE, 50)?,
            car_num: f.text(&["carNum", "plateNumber", "plateNum"], 20)?,
            owner: f.opt_text(&["owner"], 50)?,
            cartype_code,
            carspace_num: f.opt_text(&["carspaceNum", "carSpaceNum"], 50)?,
            tel: f.opt_text(&["tel"], 30)?,
            car_m_money: f.opt_yuan(&["carMMoney"])?,
            balance: f.opt_yuan(&["balance"])?,
            time_start,
            time_end,
            cargroup_uuid: f.opt_text(&["cargroupUuid", "carGroupUuid"], 50)?,
            remark: f.opt_text(&["remark"], 200)?,
            remark1: f.opt_text(&["remark1"], 200)?,
            remark2: f.opt_text(&["remark2"], 200)?,
            state,
        })
    }

    /// The vendor's field names, money as yuan strings, times in full.
    pub fn to_biz(&self) -> Value {
        let mut v = json!({
            "uuid": self.uuid,
            "carNum": self.car_num,
            "owner": self.owner.clone().unwrap_or_default(),
            "cartypeCode": self.cartype_code,
            "carspaceNum": self.carspace_num.clone().unwrap_or_default(),
            "tel": self.tel.clone().unwrap_or_default(),
            "carMMoney": yuan(self.car_m_money.unwrap_or(0)),
            "balance": yuan(self.balance.unwrap_or(0)),
            "timeStart": format_time(self.time_start),
            "timeEnd": format_time(self.time_end),
            "cargroupUuid": self.cargroup_uuid.clone().unwrap_or_default(),
            "remark": self.remark.clone().unwrap_or_default(),
            "remark1": self.remark1.clone().unwrap_or_default(),
            "remark2": self.remark2.clone().unwrap_or_default(),
            "state": self.state,
        });
        if let (Some(code), Some(map)) = (&self.park_code, v.as_object_mut()) {
            map.insert("parkCode".into(), Value::from(code.clone()));
        }
        v
    }
}

/// delfixcar: which fixed car.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DelFixcar {
    pub uuid: String,
    pub park_code: Option<String>,
}

impl DelFixcar {
    pub fn from_fields(f: &Fields) -> Result<DelFixcar, Refusal> {
        Ok(DelFixcar { uuid: f.text(&["uuid", "uuId", "uuID", "UUID"], 32)?, park_code: f.opt_text(PARK_CODE, 50)? })
    }
}

/// modifyInCar: a car in the lot, added or corrected (vendor 5.2.2.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InCar {
    pub park_code: String,
    pub plate_number: String,
    pub car_type: i64,
    pub car_sub_type: i64,
    pub enter_time: NaiveDateTime,
    pub entrance: Option<String>,
    pub enter_op_id: Option<String>,
    pub enter_op_name: Option<String>,
    pub in_channel_id: Option<String>,
    pub record_no: String,
}

fn check_car_type(car_type: i64, sub: i64) -> Result<(), Refusal> {
    if !matches!(car_type, 1 | 7 | 8 | 9) {
        return Err(Refusal::bad(format!(
            "bizContent.carType {car_type} 不在车辆类型字典中（9 临时、8 月租、7 储值、1 免费）"
        )));
    }
    let ok = if car_type == 1 {
        (11..=17).contains(&sub)
    } else {
        sub.checked_sub(car_type * 10).is_some_and(|d| (1..=5).contains(&d))
    };
    if !ok {
        return Err(Refusal::bad(format!("bizContent.carSubType {sub} 与 carType {car_type} 不符")));
    }
    Ok(())
}

impl InCar {
    pub fn from_fields(f: &Fields) -> Result<InCar, Refusal> {
        let car_type = f.opt_int(&["carType"])?.unwrap_or(9);
        let car_sub_type = f.opt_int(&["carSubType"])?.unwrap_or(car_type.saturating_mul(10).saturating_add(1));
        check_car_type(car_type, car_sub_type)?;
        Ok(InCar {
            park_code: f.text(PARK_CODE, 50)?,
            plate_number: f.text(PLATE, 20)?,
            car_type,
            car_sub_type,
            enter_time: f.time(&["enterTime"])?,
            entrance: f.opt_text(&["entrance"], 50)?,
            enter_op_id: f.opt_text(&["enterOpId"], 50)?,
            enter_op_name: f.opt_text(&["enterOpame", "enterOpName"], 50)?,
            in_channel_id: f.opt_text(&["inChannelid", "inChannelId"], 30)?,
            record_no: f.text(&["recordNo"], 50)?,
        })
    }

    pub fn to_biz(&self) -> Value {
        json!({
            "parkCode": self.park_code,
            "plateNumber": self.plate_number,
            "carType": self.car_type,
            "carSubType": self.car_sub_type,
            "enterTime": format_time(self.enter_time),
            "entrance": self.entrance.clone().unwrap_or_default(),
            "enterOpId": self.enter_op_id.clone().unwrap_or_default(),
            "enterOpame": self.enter_op_name.clone().unwrap_or_default(),
            "inChannelid": self.in_channel_id.clone().unwrap_or_default(),
            "recordNo": self.record_no,
        })
    }
}

/// delInCar: close a car's stay (a stale record) without a fee (designed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DelInCar {
    pub park_code: String,
    pub record_no: String,
    pub remark: Option<String>,
    pub op_name: Option<String>,
}

impl DelInCar {
    pub fn from_fields(f: &Fields) -> Result<DelInCar, Refusal> {
        Ok(DelInCar {
            park_code: f.text(PARK_CODE, 50)?,
            record_no: f.text(&["recordNo"], 50)?,
            remark: f.opt_text(&["remark"], 200)?,
            op_name: f.opt_text(&["opName", "leaveOpName"], 50)?,
        })
    }
}

/// A request naming a plate, and optionally a lot (queryArrears, checkFixcar).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlateQuery {
    pub plate_number: String,
    pub park_code: Option<String>,
}

impl PlateQuery {
    pub fn from_fields(f: &Fields) -> Result<PlateQuery, Refusal> {
        Ok(PlateQuery { plate_number: f.text(PLATE, 20)?, park_code: f.opt_text(PARK_CODE, 50)? })
    }
}

/// A request naming a lot (queryMqStatus, getParkQrCode).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParkQuery {
    pub park_code: String,
    /// getParkQrCode: `svg` (default) or `png`.
    pub format: Option<String>,
}

impl ParkQuery {
    pub fn from_fields(f: &Fields) -> Result<ParkQuery, Refusal> {
        let format = f.opt_text(&["format"], 10)?.map(|s| s.to_ascii_lowercase());
        if let Some(other) = format.as_deref().filter(|f| !matches!(*f, "svg" | "png")) {
            return Err(Refusal::bad(format!("bizContent.format 只能是 svg 或 png，收到 {other}")));
        }
        Ok(ParkQuery { park_code: f.text(PARK_CODE, 50)?, format })
    }
}

/// A page request (queryAgentParkin, queryAgentFixcar).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PageQuery {
    /// 1-based; a 0 is read as 1 (the seed answers `currentPage: 0`).
    pub page: i64,
    /// As asked; the answer carries at most [`MAX_PAGE_SIZE`].
    pub page_size: i64,
    pub park_code: String,
}

impl PageQuery {
    pub fn from_fields(f: &Fields) -> Result<PageQuery, Refusal> {
        let page = f.opt_int(&["page", "currentPage"])?.unwrap_or(1);
        let page_size = f.opt_int(&["pageSize"])?.unwrap_or(MAX_PAGE_SIZE);
        if page < 0 {
            return Err(Refusal::bad(format!("bizContent.page 不能为负数，收到 {page}")));
        }
        if page_size < 1 {
            return Err(Refusal::bad(format!("bizContent.pageSize 至少为 1，收到 {page_size}")));
        }
        Ok(PageQuery { page: page.max(1), page_size, park_code: f.text(PARK_CODE, 50)? })
    }

    /// The page size served: at most [`MAX_PAGE_SIZE`].
    pub fn served_size(&self) -> i64 {
        self.page_size.min(MAX_PAGE_SIZE)
    }

    /// A note for the answer's msg when pageSize was capped.
    pub fn cap_note(&self) -> Option<String> {
        (self.page_size > MAX_PAGE_SIZE)
            .then(|| format!("bizContent.pageSize {} 超过 {MAX_PAGE_SIZE}，按 {MAX_PAGE_SIZE} 返回", self.page_size))
    }

    pub fn to_biz(&self) -> Value {
        json!({ "page": self.page, "pageSize": self.page_size, "parkCode": self.park_code })
    }
}

/// A sync report (notifyAgentParkin's `recordNos`, notifyAgentFixcar's `syncNos`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncReport {
    pub park_code: String,
    pub numbers: Vec<String>,
}

impl SyncReport {
    pub fn from_fields(f: &Fields, field: &str) -> Result<SyncReport, Refusal> {
        let list = f.text(&[field], 100 * 51)?;
        let mut numbers: Vec<String> = Vec::new();
        for n in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            if n.chars().count() > 50 {
                return Err(Refusal::bad(format!("bizContent.{field} 中的 {n} 超过 50 个字符")));
            }
            if !numbers.iter().any(|m| m == n) {
                numbers.push(n.to_owned());
            }
        }
        if numbers.is_empty() {
            return Err(Refusal::bad(format!("缺少 bizContent.{field}")));
        }
        if numbers.len() > MAX_SYNC_REPORT {
            return Err(Refusal::bad(format!(
                "bizContent.{field} 一次最多 {MAX_SYNC_REPORT} 个，收到 {}",
                numbers.len()
            )));
        }
        Ok(SyncReport { park_code: f.text(PARK_CODE, 50)?, numbers })
    }

    pub fn to_biz(&self, field: &str) -> Value {
        json!({ "parkCode": self.park_code, field: self.numbers.join(",") })
    }
}

/// The page wrapper of the seed's answer (camelCase, as 5.2.4.1).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    pub current_page: i64,
    pub total_pages: i64,
    pub total_items: i64,
    pub items_per_page: i64,
    pub items: Vec<T>,
}

impl<T> Page<T> {
    /// A page of `items` out of `total`, `size` per page.
    pub fn new(page: i64, size: i64, total: i64, items: Vec<T>) -> Page<T> {
        let total_pages = if total == 0 { 0 } else { (total + size - 1) / size };
        Page { current_page: page, total_pages, total_items: total, items_per_page: size, items }
    }
}

/// An in-park car to pull (5.2.4.1 `items[]`), with the seed's names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ParkinItem {
    pub park_code: String,
    pub record_no: String,
    pub plate_num: String,
    pub car_type: i64,
    pub car_sub_type: i64,
    pub entrance: String,
    pub enter_time: String,
    #[serde(rename = "inChannelid")]
    pub in_channel_id: String,
    #[serde(rename = "enterOpame")]
    pub enter_op_name: String,
    pub enter_pic: String,
    /// onepark's addition, in the vendor's MQ words: 1 in the lot (an entry
    /// or a correction), 2 no longer (delInCar closed the stay).
    pub car_status: i64,
}

impl ParkinItem {
    /// Reads an item as a lot does: the seed's names and quirks.
    pub fn from_fields(f: &Fields) -> Result<ParkinItem, Refusal> {
        let car_type = f.opt_int(&["carType"])?.unwrap_or(9);
        let car_sub_type = f.opt_int(&["carSubType"])?.unwrap_or(car_type.saturating_mul(10).saturating_add(1));
        let or_empty = |v: Option<String>| v.unwrap_or_default();
        Ok(ParkinItem {
            park_code: or_empty(f.opt_text(PARK_CODE, 50)?),
            record_no: f.text(&["recordNo"], 50)?,
            plate_num: f.text(&["plateNum", "plateNumber"], 20)?,
            car_type,
            car_sub_type,
            entrance: or_empty(f.opt_text(&["entrance"], 50)?),
            enter_time: format_time(f.time(&["enterTime"])?),
            in_channel_id: or_empty(f.opt_text(&["inChannelid", "inChannelId"], 30)?),
            enter_op_name: or_empty(f.opt_text(&["enterOpame", "enterOpName"], 50)?),
            enter_pic: or_empty(f.opt_text(&["enterPic"], 500)?),
            car_status: f.opt_int(&["carStatus"])?.unwrap_or(1),
        })
    }
}

/// A fixed-car change to pull (queryAgentFixcar `items[]`): addfixcar's
/// fields, what happened, and the number to report it synced with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FixcarItem {
    /// `{uuid}.{version}`: one per change, so a change made after a pull is
    /// never reported synced by that pull's report.
    pub sync_no: String,
    /// `add`, `edit` or `delete`.
    pub operate: String,
    pub car: FixedCar,
}

impl FixcarItem {
    pub fn to_value(&self) -> Value {
        let mut v = self.car.to_biz();
        if let Some(map) = v.as_object_mut() {
            map.insert("syncNo".into(), Value::from(self.sync_no.clone()));
            map.insert("operate".into(), Value::from(self.operate.clone()));
        }
        v
    }

    pub fn from_fields(f: &Fields) -> Result<FixcarItem, Refusal> {
        let operate = f.text(&["operate"], 10)?;
        if !matches!(operate.as_str(), "add" | "edit" | "delete") {
            return Err(Refusal::bad(format!("bizContent.operate 只能是 add、edit 或 delete，收到 {operate}")));
        }
        Ok(FixcarItem { sync_no: f.text(&["syncNo"], 50)?, operate, car: FixedCar::from_fields(f)? })
    }
}

/// enterNotify: a car entered a lot (the stay's id is `recordNo`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnterNotify {
    pub park_code: String,
    pub record_no: String,
    pub plate_num: String,
    /// The city's plate colour code, when the lot knows it.
    pub plate_color: Option<i64>,
    pub car_type: i64,
    pub car_sub_type: i64,
    pub enter_time: NaiveDateTime,
    pub entrance: Option<String>,
    pub in_channel_id: Option<String>,
    pub enter_op_name: Option<String>,
    /// Berths: all, and still free (the MQ report's names).
    pub total_park_num: Option<i64>,
    pub remain_park_num: Option<i64>,
}

impl EnterNotify {
    pub fn from_fields(f: &Fields) -> Result<EnterNotify, Refusal> {
        let car_type = f.opt_int(&["carType"])?.unwrap_or(9);
        let car_sub_type = f.opt_int(&["carSubType"])?.unwrap_or(car_type.saturating_mul(10).saturating_add(1));
        check_car_type(car_type, car_sub_type)?;
        Ok(EnterNotify {
            park_code: f.text(PARK_CODE, 50)?,
            record_no: f.text(&["recordNo"], 50)?,
            plate_num: f.text(&["plateNum", "plateNumber"], 20)?,
            plate_color: f.opt_int(&["plateColor"])?,
            car_type,
            car_sub_type,
            enter_time: f.time(&["enterTime"])?,
            entrance: f.opt_text(&["entrance"], 50)?,
            in_channel_id: f.opt_text(&["inChannelid", "inChannelId"], 30)?,
            enter_op_name: f.opt_text(&["enterOpame", "enterOpName"], 50)?,
            total_park_num: f.opt_int(&["totalParkNum"])?,
            remain_park_num: f.opt_int(&["remainParkNum"])?,
        })
    }

    pub fn to_biz(&self) -> Value {
        let mut v = json!({
            "parkCode": self.park_code,
            "recordNo": self.record_no,
            "plateNum": self.plate_num,
            "carType": self.car_type,
            "carSubType": self.car_sub_type,
            "enterTime": format_time(self.enter_time),
            "entrance": self.entrance.clone().unwrap_or_default(),
            "inChannelid": self.in_channel_id.clone().unwrap_or_default(),
            "enterOpame": self.enter_op_name.clone().unwrap_or_default(),
        });
        if let Some(map) = v.as_object_mut() {
            for (name, value) in [
                ("plateColor", self.plate_color),
                ("totalParkNum", self.total_park_num),
                ("remainParkNum", self.remain_park_num),
            ] {
                if let Some(value) = value {
                    map.insert(name.into(), Value::from(value));
                }
            }
        }
        v
    }
}

/// leaveNotify: a car left; money in fen, as book B's notices write it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaveNotify {
    pub park_code: String,
    pub record_no: String,
    pub plate_num: String,
    pub enter_time: NaiveDateTime,
    pub leave_time: NaiveDateTime,
    pub exit: Option<String>,
    pub out_channel_id: Option<String>,
    /// The stay's whole fee (应付).
    pub payable_fee: i64,
    /// Taken off it (优惠).
    pub discount_fee: i64,
    /// Paid in cash at the exit.
    pub cash_fee: i64,
    /// Paid by phone (in the lot or at the exit).
    pub mobile_fee: i64,
    pub total_park_num: Option<i64>,
    pub remain_park_num: Option<i64>,
}

/// An exit's money, fen, however its message wrote it (fen on HTTP, yuan on MQ).
pub(crate) struct ExitMoney {
    pub payable: i64,
    pub discount: i64,
    pub cash: i64,
    pub mobile: i64,
}

impl LeaveNotify {
    pub fn from_fields(f: &Fields) -> Result<LeaveNotify, Refusal> {
        let fen = |name: &str| -> Result<i64, Refusal> {
            let v = f.opt_int(&[name])?.unwrap_or(0);
            if (0..=onepark_domain::money::MAX_FEN).contains(&v) {
                Ok(v)
            } else {
                Err(Refusal::bad(format!("bizContent.{name} 必须是 0 至 1000000000 之间的分，收到 {v}")))
            }
        };
        let money = ExitMoney {
            payable: fen("payableFee")?,
            discount: fen("discountFee")?,
            cash: fen("cashFee")?,
            mobile: fen("mobileFee")?,
        };
        LeaveNotify::read(f, None, money)
    }

    /// The exit's other fields and the checks every spelling shares; `park_code`
    /// when the envelope carries it (MQ), else bizContent's.
    pub(crate) fn read(f: &Fields, park_code: Option<&str>, m: ExitMoney) -> Result<LeaveNotify, Refusal> {
        if m.discount > m.payable {
            return Err(Refusal::bad("bizContent.discountFee 大于 payableFee"));
        }
        let leave = LeaveNotify {
            park_code: match park_code {
                Some(code) => code.to_owned(),
                None => f.text(PARK_CODE, 50)?,
            },
            record_no: f.text(&["recordNo"], 50)?,
            plate_num: f.text(&["plateNum", "plateNumber"], 20)?,
            enter_time: f.time(&["enterTime"])?,
            leave_time: f.time(&["leaveTime"])?,
            exit: f.opt_text(&["exit"], 50)?,
            out_channel_id: f.opt_text(&["outChannelid", "outChannelId"], 30)?,
            payable_fee: m.payable,
            discount_fee: m.discount,
            cash_fee: m.cash,
            mobile_fee: m.mobile,
            total_park_num: f.opt_int(&["totalParkNum"])?,
            remain_park_num: f.opt_int(&["remainParkNum"])?,
        };
        if leave.leave_time < leave.enter_time {
            return Err(Refusal::bad("bizContent.leaveTime 早于 enterTime"));
        }
        Ok(leave)
    }

    pub fn to_biz(&self) -> Value {
        let mut v = json!({
            "parkCode": self.park_code,
            "recordNo": self.record_no,
            "plateNum": self.plate_num,
            "enterTime": format_time(self.enter_time),
            "leaveTime": format_time(self.leave_time),
            "exit": self.exit.clone().unwrap_or_default(),
            "outChannelid": self.out_channel_id.clone().unwrap_or_default(),
            "payableFee": self.payable_fee,
            "discountFee": self.discount_fee,
            "cashFee": self.cash_fee,
            "mobileFee": self.mobile_fee,
        });
        if let Some(map) = v.as_object_mut() {
            for (name, value) in [("totalParkNum", self.total_park_num), ("remainParkNum", self.remain_park_num)] {
                if let Some(value) = value {
                    map.insert(name.into(), Value::from(value));
                }
            }
        }
        v
    }
}

/// 5.2.3's answer: a plate's unpaid orders across the city (fen, as the
/// vendor's HTTP book writes money in its notices).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ArrearsAnswer {
    pub plate_number: String,
    /// 1 when there is anything unpaid.
    pub has_arrears: i64,
    pub count: i64,
    /// Fen.
    pub arrears_fee: i64,
    pub parks: Vec<ArrearsPark>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ArrearsPark {
    pub park_code: String,
    pub park_name: String,
    pub count: i64,
    pub arrears_fee: i64,
}

/// 5.2.5's answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FixcarCheck {
    pub park_code: String,
    pub plate_number: String,
    /// 1 when the plate is a fixed car of the lot, valid now.
    pub is_fixcar: i64,
    pub uuid: String,
    pub cartype_code: i64,
    pub time_start: String,
    pub time_end: String,
    pub state: i64,
}

/// 6.1's answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MqStatus {
    pub park_code: String,
    /// 1 when the lot was heard within the last 10 minutes (on any link;
    /// the MQ command channel of the next issue will answer for itself).
    pub online: i64,
    /// The lot's last message on any link, `yyyy-MM-dd HH:mm:ss` or "".
    pub last_seen_time: String,
    /// The links the lot is registered with (`qdpark`, `cloudpark`).
    pub links: Vec<String>,
}

/// 7.1's answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QrCode {
    pub park_code: String,
    /// The lot's public page, which the code encodes.
    pub url: String,
    /// `svg` or `png`.
    pub format: String,
    /// SVG text, or PNG as Base64.
    pub content: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_case_gets_a_hint() {
        for s in Service::ALL {
            assert_eq!(Service::parse(s.name()), Ok(s));
        }
        let refused = Service::parse("addFixCar").expect_err("case");
        assert_eq!(refused.code, Code::UnknownService);
        assert!(refused.detail.contains("是否指 addfixcar"));
    }

    #[test]
    fn the_seeds_query_reads_with_string_numbers() {
        let f = Fields::parse(r#"{"page":"1","pageSize":"2","parkCode":"TEST/100014P1499"}"#).expect("object");
        let q = PageQuery::from_fields(&f).expect("valid");
        assert_eq!((q.page, q.page_size, q.park_code.as_str()), (1, 2, "TEST/100014P1499"));
        let zero = PageQuery::from_fields(&Fields::parse(r#"{"page":0,"pageSize":500,"parkCode":"P"}"#).expect("o"))
            .expect("ok");
        assert_eq!((zero.page, zero.served_size()), (1, 100));
        assert!(zero.cap_note().expect("capped").contains("pageSize 500"));
    }

    #[test]
    fn the_seeds_item_reads_with_its_sentinels() {
        let f = Fields::parse(
            r#"{"parkCode":"TEST/100014P1499","recordNo":"736f918e9fc447ea9eec0c29f98c9ef1","plateNum":"粤A12345","carType":9,"carSubType":91,"entrance":"undefined","enterTime":"2023-01-06 19:33:34","inChannelid":"云坐席","enterOpame":"超管","enterPic":""}"#,
        )
        .expect("object");
        let item = ParkinItem::from_fields(&f).expect("valid");
        assert_eq!(item.entrance, "");
        assert_eq!(item.enter_pic, "");
        assert_eq!(item.enter_op_name, "超管");
        let json = serde_json::to_value(&item).expect("serialises");
        assert_eq!(json["enterOpame"], "超管");
        assert_eq!(json["inChannelid"], "云坐席");
    }

    #[test]
    fn addfixcar_reads_yuan_and_dates() {
        let f = Fields::parse(
            r#"{"uuid":"0123456789abcdef0123456789abcdef","carNum":"鲁B12345","cartypeCode":"81","carMMoney":300.5,"balance":"0","timeStart":"2026-12-01","timeEnd":"2026-12-31","cargroupUuid":"","state":0}"#,
        )
        .expect("object");
        let car = FixedCar::from_fields(&f).expect("valid");
        assert_eq!(car.car_m_money, Some(30050));
        assert_eq!(format_time(car.time_end), "2026-12-31 23:59:59");
        assert_eq!(car.cargroup_uuid, None);
        let again =
            FixedCar::from_fields(&Fields::from_map(car.to_biz().as_object().cloned().expect("o"))).expect("valid");
        assert_eq!(again, car);
    }

    #[test]
    fn sync_reports_are_capped_and_deduplicated() {
        let many: Vec<String> = (0..101).map(|i| format!("r{i}")).collect();
        let f = Fields::parse(&json!({"parkCode":"P","recordNos": many.join(",")}).to_string()).expect("o");
        assert!(SyncReport::from_fields(&f, "recordNos").expect_err("101").detail.contains("最多 100"));
        let f = Fields::parse(r#"{"parkCode":"P","recordNos":"a, b,a,,"}"#).expect("o");
        assert_eq!(SyncReport::from_fields(&f, "recordNos").expect("ok").numbers, ["a", "b"]);
    }
}
