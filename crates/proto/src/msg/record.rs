//! §5.1 parking-data, §5.2 system-assurance and §5.3 basic-data interfaces:
//! the lot → platform records every lot sends.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use onepark_domain::plate::Plate;

use super::kinds::*;
use super::message;
use crate::dict::*;
use crate::validate::{Kind, Problem, ProblemKind, Problems};
use crate::wire::{Date, ResultCode, Time};

message! {
    /// `uploadCarInData` 上传车辆入场记录 (§5.1.1)
    CarIn rules entry_rules {
        /// 流水号: parkingCode + entryNum + yyyyMMddHHmmssSSS (see [`crate::uid`])
        uid: String = "uid", Y, UID;
        /// 入场记录id
        arrival_id: String = "arrivalID" ["arriveID", "arrivalD"], Y, ID;
        /// 车牌号
        plate_no: String = "plateNo", Y, PLATE;
        /// 车型
        car_type: CarType = "carType", Y, Kind::Code(CarType::CODES);
        /// 停车场编号
        parking_code: String = "parkingCode", Y, PARKING_CODE;
        /// 岗亭编号
        gate_no: Option<String> = "gateNo", N, Kind::Str(20);
        /// 入口编号
        entry_num: String = "entryNum", Y, Kind::Str(50);
        /// 收费员编号
        operator_code: Option<String> = "operatorCode", N, Kind::Str(50);
        /// 泊位总数
        total_berth_num: i64 = "totalBerthNum" ["totalBirthNum"], Y, BERTHS;
        /// 开放泊位数
        open_berth_num: i64 = "openBerthNum", Y, BERTHS;
        /// 剩余开放泊位数
        free_berth_num: i64 = "freeBerthNum", Y, BERTHS;
        /// 入场时间
        arrive_time: Time = "arriveTime" ["arrivalTime"], Y, Kind::Time;
        /// 停车类型
        parking_type: ParkingType = "parkingType", Y, Kind::Code(ParkingType::CODES);
        /// 车牌颜色
        plate_color: PlateColor = "plateColor", Y, PLATE_COLOR;
        /// 上传时间
        upload_time: Time = "uploadTime", Y, Kind::Time;
    }
}

message! {
    /// `uploadModifyCarInData` 上传订单修改信息 (§5.1.2)
    CarInModify rules modify_rules {
        uid: String = "uid", Y, UID;
        arrival_id: String = "arrivalID" ["arriveID", "arrivalD"], Y, ID;
        plate_no: String = "plateNo", Y, PLATE;
        /// 操作类型: 0 modify, 1 delete
        operate_type: ModifyOperation = "operateType", Y, Kind::Code(ModifyOperation::CODES);
        car_type: CarType = "carType", Y, Kind::Code(CarType::CODES);
        parking_code: String = "parkingCode", Y, PARKING_CODE;
        gate_no: Option<String> = "gateNo", N, Kind::Str(20);
        entry_num: String = "entryNum", Y, Kind::Str(50);
        operator_code: Option<String> = "operatorCode", N, Kind::Str(50);
        total_berth_num: i64 = "totalBerthNum" ["totalBirthNum"], Y, BERTHS;
        open_berth_num: i64 = "openBerthNum", Y, BERTHS;
        free_berth_num: i64 = "freeBerthNum", Y, BERTHS;
        /// 入场时间: the table says `arrivalTime`, every example `arriveTime` (D-2)
        arrive_time: Time = "arriveTime" ["arrivalTime"], Y, Kind::Time;
        parking_type: ParkingType = "parkingType", Y, Kind::Code(ParkingType::CODES);
        plate_color: PlateColor = "plateColor", Y, PLATE_COLOR;
        upload_time: Time = "uploadTime", Y, Kind::Time;
    }
}

message! {
    /// `uploadCarOutData` 上传车辆离场记录 (§5.1.3)
    CarOut rules exit_rules {
        /// 流水号: the entry's uid
        uid: String = "uid", Y, UID;
        /// 离场记录id (`endID` in the example, D-3)
        exit_id: String = "exitID" ["endID"], Y, ID;
        plate_no: String = "plateNo", Y, PLATE;
        car_type: CarType = "carType", Y, Kind::Code(CarType::CODES);
        parking_code: String = "parkingCode", Y, PARKING_CODE;
        gate_no: Option<String> = "gateNo", N, Kind::Str(20);
        operator_code: Option<String> = "operatorCode", N, Kind::Str(50);
        total_berth_num: i64 = "totalBerthNum" ["totalBirthNum"], Y, BERTHS;
        open_berth_num: i64 = "openBerthNum", Y, BERTHS;
        free_berth_num: i64 = "freeBerthNum", Y, BERTHS;
        arrive_time: Time = "arriveTime" ["arrivalTime"], Y, Kind::Time;
        parking_type: ParkingType = "parkingType", Y, Kind::Code(ParkingType::CODES);
        /// 离场时间
        end_time: Time = "endTime", Y, Kind::Time;
        entry_num: String = "entryNum", Y, Kind::Str(50);
        /// 出口编号
        out_num: String = "outNum", Y, Kind::Str(50);
        plate_color: PlateColor = "plateColor", Y, PLATE_COLOR;
        upload_time: Time = "uploadTime", Y, Kind::Time;
        /// 计费金额 (fen, before discounts)
        charge_fee: i64 = "chargeFee", Y, Kind::Money;
        /// 应收金额 (fen) = chargeFee − discounts
        should_pay: i64 = "shouldPay", Y, Kind::Money;
    }
}

message! {
    /// `uploadParkingState` 上传停车场剩余开放泊位数 (§5.1.4), every minute
    ParkingState rules state_rules {
        parking_code: String = "parkingCode", Y, PARKING_CODE;
        total_berth_num: i64 = "totalBerthNum" ["totalBirthNum"], Y, BERTHS;
        open_berth_num: i64 = "openBerthNum", Y, BERTHS;
        free_berth_num: i64 = "freeBerthNum", Y, BERTHS;
        upload_time: Time = "uploadTime", Y, Kind::Time;
    }
}

message! {
    /// `uploadPhoto` 上传照片 (§5.1.5). The JPEG itself travels outside the
    /// cipher as the form field `file` (see [`decode_photo_file`]).
    Photo {
        uid: String = "uid", Y, UID;
        parking_code: String = "parkingCode", Y, PARKING_CODE;
        /// 照片编号
        photo_id: String = "photoID", Y, ID;
        /// 照片时间
        time: Time = "time", Y, Kind::Time;
        /// 照片类型: 1 entry, 2 exit
        photo_type: PhotoType = "type", Y, Kind::Code(PhotoType::CODES);
        /// 照片名称
        name: String = "name", Y, Kind::Str(60);
        upload_time: Time = "uploadTime", Y, Kind::Time;
    }
}

message! {
    /// `uploadPayRecord` 上传停车账单记录 (§5.1.6)
    PayRecord rules pay_record_rules {
        /// 停车场账单编号
        bill_id: String = "billID", Y, ID;
        uid: String = "uid", Y, UID;
        plate_no: String = "plateNo", Y, PLATE;
        parking_code: String = "parkingCode", Y, PARKING_CODE;
        charge_fee: i64 = "chargeFee", Y, Kind::Money;
        should_pay: i64 = "shouldPay", Y, Kind::Money;
        /// 交易金额
        actual_pay: i64 = "actualPay", Y, Kind::Money;
        /// 账单生成时间
        bill_time: Time = "billTime", Y, Kind::Time;
        /// 交易时间 (from the payment channel)
        deal_time: Time = "dealTime", Y, Kind::Time;
        /// 付费方式
        paid_type: PaidType = "paidType", Y, Kind::Code(PaidType::CODES);
        /// 付费场景
        pay_type: PayScene = "payType", Y, Kind::Code(PayScene::CODES);
        upload_time: Time = "uploadTime", Y, Kind::Time;
        /// 是否通过全市一个停车场付费
        bill_way: BillWay = "billWay", Y, Kind::Code(BillWay::CODES);
    }
}

/// Money is exact: what was paid is at most what was due, what was due at
/// most the charge. Stored with a finding, not refused (a refused record is
/// retried for ever and its money would never be counted).
fn pay_record_rules(m: &PayRecord, problems: &mut Problems) {
    if m.actual_pay > m.should_pay {
        problems.push(Problem::quality("actualPay", "more than shouldPay", "实付 actualPay 大于应收 shouldPay"));
    }
    if m.should_pay > m.charge_fee {
        problems.push(Problem::quality("shouldPay", "more than chargeFee", "应收 shouldPay 大于应收总额 chargeFee"));
    }
}

message! {
    /// `uploadCheckRecord` 停车记录日核对 (§5.2.1)
    CheckRecord {
        parking_code: String = "parkingCode", Y, PARKING_CODE;
        /// 对账日期
        check_date: Date = "checkDate", Y, Kind::Date;
        /// 入场记录数, by entry time
        arrive_num: i64 = "arriveNum", Y, COUNT;
        /// 离场记录数, by exit time
        leave_num: i64 = "leaveNum", Y, COUNT;
        /// 图片记录数, by photo time
        photo_num: i64 = "photoNum", Y, COUNT;
        /// 账单笔数, by deal time
        pay_num: i64 = "payNum", Y, COUNT;
        /// 对账总金额: Σ actualPay by deal time (fen)
        pay_total: i64 = "payTotal", Y, COUNT;
        upload_time: Time = "uploadTime", Y, Kind::Time;
    }
}

message! {
    /// Reply to `uploadCheckRecord`.
    CheckRecordReply {
        result_code: ResultCode = "resultCode", Y, RESULT;
        #[serde(default)]
        msg: String = "msg", N, MSG;
        /// 对账标志 (bit mask: 1 entries, 2 exits, 4 bills)
        account_mark: AccountMark = "accountMark", Y, Kind::Code(AccountMark::CODES);
        /// 图片对账标志
        photo_mark: PhotoMark = "photoMark", Y, Kind::Code(PhotoMark::CODES);
    }
}

message! {
    /// `downloadUID` 停车记录流水号下载 (§5.2.2; also downloadID/downUID/downID, D-4)
    DownloadUid {
        parking_code: String = "parkingCode", Y, PARKING_CODE;
        /// 对账日期
        account_date: Date = "accountDate", Y, Kind::Date;
        /// 0 entries, 1 exits, 2 bills, 3 photos
        kind: RecordKind = "type", Y, Kind::Code(RecordKind::CODES);
        upload_time: Time = "uploadTime", Y, Kind::Time;
    }
}

message! {
    /// One received record: its uid and the lot's record id, under the key
    /// that matches the requested type (D-5 lists every spelling seen).
    UidEntry {
        uid: String = "UID" ["uid", "Uid"], Y, UID64;
        arrival_id: Option<String> = "arrivalID" ["arriveID", "arrivalD"], N, ID;
        exit_id: Option<String> = "exitID" ["endID"], N, ID;
        photo_id: Option<String> = "photoID", N, ID;
        bill_id: Option<String> = "billID", N, ID;
        id: Option<String> = "id", N, ID;
    }
}

impl UidEntry {
    /// An entry carrying the record id under the key for `kind`.
    pub fn new(kind: RecordKind, uid: String, record_id: String) -> Self {
        let mut entry = UidEntry { uid, arrival_id: None, exit_id: None, photo_id: None, bill_id: None, id: None };
        let slot = match kind {
            RecordKind::Entry => &mut entry.arrival_id,
            RecordKind::Exit => &mut entry.exit_id,
            RecordKind::Photo => &mut entry.photo_id,
            RecordKind::Bill => &mut entry.bill_id,
            RecordKind::Other(_) => &mut entry.id,
        };
        *slot = Some(record_id);
        entry
    }

    /// The lot's record id, whatever key carried it.
    pub fn record_id(&self) -> Option<&str> {
        [&self.arrival_id, &self.exit_id, &self.photo_id, &self.bill_id, &self.id]
            .into_iter()
            .find_map(|v| v.as_deref())
    }
}

message! {
    /// The `data` member of the `downloadUID` reply.
    UidList {
        #[serde(default)]
        result: Vec<UidEntry> = "result", N, Kind::List(<UidEntry as super::Message>::FIELDS);
    }
}

message! {
    /// Reply to `downloadUID`; `data` may arrive as an object or a JSON string.
    DownloadUidReply {
        result_code: ResultCode = "resultCode", Y, RESULT;
        #[serde(default)]
        msg: String = "msg", N, MSG;
        data: Option<UidList> = "data", N, Kind::Object(<UidList as super::Message>::FIELDS);
    }
}

message! {
    /// `uploadHeartbeat` 上传场库心跳 (§5.2.3), every 10 minutes. The doc's
    /// own table is `uploadParkingInfo`'s (D-6); these two fields are what
    /// every uplink carries.
    Heartbeat {
        parking_code: String = "parkingCode", Y, PARKING_CODE;
        upload_time: Time = "uploadTime", Y, Kind::Time;
    }
}

message! {
    /// Reply to `uploadHeartbeat`. `serverTime` is onepark's extension so lots
    /// can correct their clocks (the spec's stated purpose, D-6).
    HeartbeatReply {
        result_code: ResultCode = "resultCode", Y, RESULT;
        #[serde(default)]
        msg: String = "msg", N, MSG;
        server_time: Option<Time> = "serverTime", N, Kind::Time;
    }
}

message! {
    /// `uploadParkingInfo` 停车场基本信息变更 (§5.3.1, reconstructed)
    ParkingInfo rules info_rules {
        parking_code: String = "parkingCode", Y, PARKING_CODE;
        /// 停车场名称
        parking_name: String = "parkingName", Y, Kind::Str(100);
        /// 停车场地址
        address: String = "address", Y, Kind::Str(100);
        /// 行政区划
        region_code: String = "regionCode", Y, Kind::StrCode(REGION_CODES);
        /// 城区编号
        area_code: String = "areaCode", Y, Kind::StrCode(AREA_CODES);
        /// 定价类型
        price_type: PriceType = "priceType", Y, Kind::Code(PriceType::CODES);
        /// 路内停车收费类型
        inroad_fees_type: Option<String> = "inroadFeesType", N, Kind::StrCode(INROAD_FEE_TYPES);
        /// 收费标准
        fee_scale: String = "feeScale", Y, Kind::Str(500);
        /// 开放时间
        open_time: String = "openTime", Y, Kind::Str(50);
        /// 停车场模式
        parking_pattern: Option<ParkingPattern> = "parkingPattern", N, Kind::Code(ParkingPattern::CODES);
        /// 停车位置
        parking_locate: ParkingLocate = "parkingLocate", Y, Kind::Code(ParkingLocate::CODES);
        /// 停车场类型 (not the record `parkingType`, D-42)
        lot_type: LotType = "parkingType", Y, Kind::Code(LotType::CODES);
        /// 配建类型
        attached_type: Option<String> = "attachedType", N, Kind::StrCode(ATTACHED_TYPES);
        /// 建筑类型
        build_type: Option<BuildType> = "buildType", N, Kind::Code(BuildType::CODES);
        total_berth_num: i64 = "totalBerthNum" ["totalBirthNum"], Y, BERTHS;
        open_berth_num: i64 = "openBerthNum", Y, BERTHS;
        /// CGCS2000 longitude
        x: Option<String> = "x", N, Kind::Str(30);
        /// CGCS2000 latitude
        y: Option<String> = "y", N, Kind::Str(30);
        /// Baidu longitude
        bmap_x: String = "bmapX", Y, Kind::Str(30);
        bmap_y: String = "bmapY", Y, Kind::Str(30);
        /// AMap longitude
        gmap_x: String = "gmapX", Y, Kind::Str(30);
        gmap_y: String = "gmapY", Y, Kind::Str(30);
        /// 临停车位
        temp_total_num: i64 = "tempTotalNum", Y, BERTHS;
        /// 月租车位
        intrinsic_total_num: i64 = "intrinsicTotalNum", Y, BERTHS;
        /// 访客车位
        visitor_total_num: i64 = "visitorTotalNum", Y, BERTHS;
        /// 充电桩车位
        charge_total_num: i64 = "chargeTotalNum", Y, BERTHS;
        upload_time: Time = "uploadTime", Y, Kind::Time;
    }
}

/// Plate checks shared by records: format problems are data-quality
/// warnings (the record is still stored), as is a colour that contradicts
/// the plate.
fn plate_rules(plate: &str, colour: PlateColor, problems: &mut Problems) {
    let (Ok(plate), Some(colour)) = (Plate::parse(plate), colour.to_domain()) else { return };
    if !plate.colour_consistent(colour) {
        problems.push(Problem::warning(
            "plateColor",
            ProblemKind::Rule {
                en: format!("colour {} contradicts plate kind {:?}", colour_code(colour), plate.kind()),
                zh: format!("车牌颜色与车牌类型不符（{plate}）"),
            },
        ));
    }
}

fn colour_code(colour: onepark_domain::plate::PlateColour) -> i64 {
    PlateColor::from_domain(colour).code()
}

fn berth_rules(total: i64, open: i64, free: i64, problems: &mut Problems) {
    if open > total {
        problems.push(Problem::rule("openBerthNum", "exceeds totalBerthNum", "开放泊位数大于泊位总数"));
    }
    if free > open {
        problems.push(Problem::warning(
            "freeBerthNum",
            ProblemKind::Rule {
                en: "exceeds openBerthNum".into(), zh: "剩余开放泊位数大于开放泊位数".into()
            },
        ));
    }
}

fn entry_rules(m: &CarIn, problems: &mut Problems) {
    plate_rules(&m.plate_no, m.plate_color, problems);
    berth_rules(m.total_berth_num, m.open_berth_num, m.free_berth_num, problems);
}

fn modify_rules(m: &CarInModify, problems: &mut Problems) {
    plate_rules(&m.plate_no, m.plate_color, problems);
    berth_rules(m.total_berth_num, m.open_berth_num, m.free_berth_num, problems);
}

fn exit_rules(m: &CarOut, problems: &mut Problems) {
    plate_rules(&m.plate_no, m.plate_color, problems);
    berth_rules(m.total_berth_num, m.open_berth_num, m.free_berth_num, problems);
    if m.end_time < m.arrive_time {
        problems.push(Problem::quality("endTime", "is earlier than arriveTime", "离场时间早于入场时间"));
    }
    if m.should_pay > m.charge_fee {
        problems.push(Problem::quality("shouldPay", "exceeds chargeFee", "应收金额大于计费金额"));
    }
}

fn state_rules(m: &ParkingState, problems: &mut Problems) {
    berth_rules(m.total_berth_num, m.open_berth_num, m.free_berth_num, problems);
}

fn info_rules(m: &ParkingInfo, problems: &mut Problems) {
    if m.open_berth_num > m.total_berth_num {
        problems.push(Problem::quality("openBerthNum", "exceeds totalBerthNum", "开放泊位数大于泊位总数"));
    }
}

/// Largest decoded photo: 512 KiB (§5.1.5).
pub const MAX_PHOTO_BYTES: usize = 512 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhotoError {
    #[error("file is missing")]
    Missing,
    #[error("file is not valid Base64")]
    Base64,
    #[error("file is {0} bytes decoded, more than {MAX_PHOTO_BYTES}")]
    TooLarge(usize),
    #[error("file is not a JPEG (no FF D8 FF signature)")]
    NotJpeg,
}

impl PhotoError {
    pub fn zh(&self) -> String {
        match self {
            PhotoError::Missing => "缺少参数 file（照片 Base64）".into(),
            PhotoError::Base64 => "file 不是有效的 Base64 编码".into(),
            PhotoError::TooLarge(n) => format!("照片大小 {n} 字节，超过 512K 上限"),
            PhotoError::NotJpeg => "file 不是 JPG 图片（仅支持 JPG）".into(),
        }
    }
}

/// Decodes the `file` field of `uploadPhoto`: Base64 (a `data:` prefix,
/// line breaks and form-damaged `+` tolerated), a JPEG, at most 512 KiB.
pub fn decode_photo_file(file: &str) -> Result<Vec<u8>, PhotoError> {
    let file = file.trim();
    let file = match file.strip_prefix("data:") {
        Some(rest) => rest.split_once(',').map_or(rest, |(_, b64)| b64),
        None => file,
    };
    if file.is_empty() {
        return Err(PhotoError::Missing);
    }
    // Base64 of 512 KiB is 699,052 characters (~718,000 with MIME line
    // breaks); refuse far larger input before allocating for it.
    const MAX_TEXT: usize = 730_000;
    if file.len() > MAX_TEXT {
        return Err(PhotoError::TooLarge(file.len() / 4 * 3));
    }
    let bytes = STANDARD.decode(crate::envelope::normalise_base64(file).as_bytes()).map_err(|_| PhotoError::Base64)?;
    if bytes.len() > MAX_PHOTO_BYTES {
        return Err(PhotoError::TooLarge(bytes.len()));
    }
    if !bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Err(PhotoError::NotJpeg);
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msg::{DecodeError, decode};

    #[test]
    fn spec_example_exit_with_aliases() {
        // The §5.1.3 example with `endID`, plus the carType it forgot.
        let text = r#"{"data":{"plateNo":"鲁B01C01","plateColor":1,"parkingCode":"1001","totalBerthNum":150,
            "openBerthNum":150,"freeBerthNum":70,"arriveTime":"2015-09-01 09:10:11","endTime":"2015-09-01 12:10:11",
            "parkingType":1,"entryNum":"01","outNum":"02","uid":"0100120160110121010","endID":"2",
            "uploadTime":"2015-09-01 09:10:11","chargeFee":800,"shouldPay":800,"carType":1}}"#;
        let out = decode::<CarOut>(text).expect("decode").message;
        assert_eq!(out.exit_id, "2");
        assert_eq!(out.charge_fee, 800);
        assert_eq!(out.end_time.to_string(), "2015-09-01 12:10:11");
    }

    #[test]
    fn spec_example_entry_reports_its_faults() {
        // The §5.1.1 example as printed: no carType, a 6-character plate.
        let text = r#"{"data":{"plateNo":"鲁B0101","plateColor":1,"parkingCode":"1001","operatorCode":"01C001",
            "totalBerthNum":150,"openBerthNum":150,"freeBerthNum":70,"arriveTime":"2015-09-01 09:10:11",
            "parkingType":1,"entryNum":"01","uid":"0100120160110121010","arriveID":"1","uploadTime":"2015-09-01 09:10:11"}}"#;
        let Err(DecodeError::Invalid(p)) = decode::<CarIn>(text) else { panic!("carType is required") };
        assert_eq!(p.errors().map(|p| p.field.as_str()).collect::<Vec<_>>(), ["carType"]);
        assert_eq!(p.warnings().map(|p| p.field.as_str()).collect::<Vec<_>>(), ["plateNo"]);
    }

    #[test]
    fn new_energy_plate_reported_blue_is_a_warning() {
        let text = r#"{"uid":"u1","arrivalID":"1","plateNo":"鲁BD12345","carType":1,"parkingCode":"1001",
            "entryNum":"1","totalBerthNum":10,"openBerthNum":10,"freeBerthNum":5,"arriveTime":"2021-07-01 08:00:00",
            "parkingType":1,"plateColor":1,"uploadTime":"2021-07-01 08:00:01"}"#;
        let d = decode::<CarIn>(text).expect("accepted");
        assert_eq!(d.warnings.len(), 1);
        assert_eq!(d.warnings[0].field, "plateColor");
    }

    #[test]
    fn download_reply_accepts_string_data_and_any_id_key() {
        let text = r#"{"data":"{\"result\":[{\"UID\":\"1544606795434\",\"arrivalD\":\"1\"},{\"uid\":\"9\",\"billID\":\"b\"}]}","resultCode":200,"msg":"操作成功"}"#;
        let reply = decode::<DownloadUidReply>(text).expect("decode").message;
        let list = reply.data.expect("data").result;
        assert_eq!(list[0].uid, "1544606795434");
        assert_eq!(list[0].record_id(), Some("1"));
        assert_eq!(list[1].record_id(), Some("b"));
        assert!(reply.result_code.is_ok());
    }

    #[test]
    fn uid_entry_uses_the_key_of_its_type() {
        let e = UidEntry::new(RecordKind::Exit, "u".into(), "7".into());
        assert_eq!(serde_json::to_string(&e).expect("ser"), r#"{"UID":"u","exitID":"7"}"#);
    }

    #[test]
    fn photo_file_checks() {
        let jpeg = [0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3];
        let b64 = STANDARD.encode(jpeg);
        assert_eq!(decode_photo_file(&b64), Ok(jpeg.to_vec()));
        assert_eq!(decode_photo_file(&format!("data:image/jpeg;base64,{b64}")), Ok(jpeg.to_vec()));
        assert_eq!(decode_photo_file(&STANDARD.encode(b"\x89PNG\r\n")), Err(PhotoError::NotJpeg));
        assert_eq!(decode_photo_file("%%%"), Err(PhotoError::Base64));
        assert_eq!(decode_photo_file(""), Err(PhotoError::Missing));
        let mut big = vec![0xFF, 0xD8, 0xFF];
        big.resize(MAX_PHOTO_BYTES + 1, 0);
        assert_eq!(decode_photo_file(&STANDARD.encode(&big)), Err(PhotoError::TooLarge(MAX_PHOTO_BYTES + 1)));
    }

    #[test]
    fn parking_info_example_reports_table_violations() {
        // The §5.3.1 example as printed (D-7): Hangzhou areaCode, no regionCode/parkingType/openBerthNum.
        let text = r#"{"data":{"parkingCode":"1001","parkingName":"吴山广场","address":"上城区华光路1号","areaCode":"330102",
            "priceType":1,"inroadFeesType":"00","feeScale":"每辆每小时3元","openTime":"00:00-23:59","parkingLocate":1,
            "serviceObject":1,"managerStyle":1,"totalBirthNum":30,"bmapX":"123","bmapY":"543","gmapX":"232","gmapY":"43242",
            "x":"1234.23232","y":"453.23214","tempTotalNum":30,"intrinsicTotalNum":0,"visitorTotalNum":0,"chargeTotalNum":0,
            "uploadTime":"2015-09-01 09:10:11"}}"#;
        let Err(DecodeError::Invalid(p)) = decode::<ParkingInfo>(text) else { panic!("invalid") };
        let fields: Vec<&str> = p.errors().map(|p| p.field.as_str()).collect();
        assert_eq!(fields, ["regionCode", "areaCode", "parkingType", "openBerthNum"]);
    }
}
