//! The spec's data dictionary (§五) and the enumerations defined inline in
//! field descriptions. Same-named fields with different meanings get
//! different types (D-42): `ParkingType` vs `LotType`, `ModifyOperation` vs
//! `ListKind`, `PhotoType` vs `RecordKind`.

use onepark_domain::plate::PlateColour;

use crate::wire::codes;

codes! {
    /// 车牌颜色 `plateColor`
    PlateColor {
        Blue = 1 "蓝色",
        Yellow = 2 "黄色",
        White = 3 "白色",
        Black = 4 "黑色",
        Green = 5 "绿色",
        YellowGreen = 6 "黄绿色",
    }
}

impl PlateColor {
    pub fn to_domain(self) -> Option<PlateColour> {
        Some(match self {
            PlateColor::Blue => PlateColour::Blue,
            PlateColor::Yellow => PlateColour::Yellow,
            PlateColor::White => PlateColour::White,
            PlateColor::Black => PlateColour::Black,
            PlateColor::Green => PlateColour::Green,
            PlateColor::YellowGreen => PlateColour::YellowGreen,
            PlateColor::Other(_) => return None,
        })
    }

    pub fn from_domain(colour: PlateColour) -> Self {
        match colour {
            PlateColour::Blue => PlateColor::Blue,
            PlateColour::Yellow => PlateColor::Yellow,
            PlateColour::White => PlateColor::White,
            PlateColour::Black => PlateColor::Black,
            PlateColour::Green => PlateColor::Green,
            PlateColour::YellowGreen => PlateColor::YellowGreen,
        }
    }
}

codes! {
    /// 车型 `carType`
    CarType {
        Small = 1 "小型车",
        Medium = 2 "中型车",
        Large = 3 "大型车",
    }
}

codes! {
    /// 停车类型 `parkingType` of entry/exit/modify records.
    ParkingType {
        Temporary = 1 "临时停车",
        Monthly = 2 "包月停车",
        Shared = 3 "共享停车",
        Special = 4 "特殊停车",
    }
}

codes! {
    /// 停车场类型 `parkingType` of `uploadParkingInfo` (not [`ParkingType`]).
    LotType {
        Attached = 1 "配建停车场",
        Public = 2 "公共停车场",
        OnRoad = 3 "道路停车位",
    }
}

codes! {
    /// 停车场模式 `parkingPattern`
    ParkingPattern {
        SelfPark = 1 "自行式停车",
        Mechanical = 2 "机械式停车",
        Mixed = 3 "混合式停车",
    }
}

codes! {
    /// 停车位置 `parkingLocate`
    ParkingLocate {
        OffStreet = 1 "路外",
        OnStreet = 2 "路内",
    }
}

codes! {
    /// 建筑类型 `buildType` (the dictionary's meaning, D-7)
    BuildType {
        Surface = 1 "地面停车场",
        Underground = 2 "地下停车库",
        AboveGround = 3 "地上停车楼",
    }
}

codes! {
    /// 定价类型 `priceType`
    PriceType {
        Government = 1 "政府定价",
        Market = 2 "市场定价",
        Free = 3 "不收费",
    }
}

codes! {
    /// 付费方式 `paidType`
    PaidType {
        Cash = 1 "现金",
        Alipay = 2 "支付宝",
        WeChat = 3 "微信",
        PlatformAccount = 4 "平台账户",
        CitizenCard = 5 "市民卡钱包",
        UnionPay = 6 "银联",
        Icbc = 7 "工行瞬付",
        Ccb = 8 "建行龙支付",
        Cmb = 9 "招行",
        Etc = 10 "ETC",
    }
}

codes! {
    /// 付费场景 `payType`
    PayScene {
        PayAfterExit = 101 "先离场后付费",
        PrepayInLot = 102 "场内提前付费",
        AtGate = 103 "出入口付费",
        Arrears = 104 "欠费补缴",
    }
}

codes! {
    /// 照片类型 `type` of `uploadPhoto`
    PhotoType {
        Entry = 1 "车辆入场照片",
        Exit = 2 "车辆离场照片",
    }
}

codes! {
    /// 进、出及账单标志 `type` of `downloadUID` (not [`PhotoType`])
    RecordKind {
        Entry = 0 "进",
        Exit = 1 "出",
        Bill = 2 "账单",
        Photo = 3 "图片",
    }
}

codes! {
    /// 操作类型 `operateType` of `uploadModifyCarInData`
    ModifyOperation {
        Modify = 0 "修改订单信息",
        Delete = 1 "删除订单信息",
    }
}

codes! {
    /// 操作类型 `operateType` of `specialCar` (not [`ModifyOperation`])
    ListKind {
        Black = 0 "黑名单",
        White = 1 "白名单",
    }
}

codes! {
    /// 操作 `operate` of `specialCar`
    ListOperation {
        Add = 0 "新增",
        Delete = 1 "删除",
        Update = 2 "更新",
    }
}

codes! {
    /// 账单支付完成状态 `payStatus`
    PayStatus {
        Pending = 0 "未完成",
        Done = 1 "已完成",
    }
}

codes! {
    /// 车辆在场状态 `carStock`
    CarStock {
        InLot = 0 "车辆在场",
        Left = 1 "车辆已离场",
    }
}

codes! {
    /// 签约信息 `noSense`
    NoSense {
        Unsigned = 0 "未签约",
        Signed = 1 "已签约无欠费",
        SignedInArrears = 2 "已签约有欠费",
    }
}

codes! {
    /// 车辆是否支持先离场后付费 `departurePay`
    DeparturePay {
        PayFirst = 0 "先申请扣费后离场",
        LeaveFirst = 1 "先离场后申请付费",
        PrPhysicalCard = 2 "P+R 实体卡",
        PrVirtualCard = 3 "P+R 虚拟卡",
    }
}

codes! {
    /// 是否拦截 `prevent`
    Prevent {
        Pass = 0 "不拦截",
        Block = 1 "拦截",
    }
}

codes! {
    /// 是否通过全市一个停车场付费 `billWay`
    BillWay {
        Elsewhere = 0 "否",
        CityPlatform = 1 "是",
    }
}

codes! {
    /// 图片对账标志 `photoMark`
    PhotoMark {
        Consistent = 0 "一致",
        Inconsistent = 1 "不一致",
    }
}

/// 对账标志 `accountMark`: listed as 0–7, effectively a bit mask (D-43).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct AccountMark(pub i64);

impl crate::wire::Omit for AccountMark {}

impl AccountMark {
    pub const CODES: &'static [i64] = &[0, 1, 2, 3, 4, 5, 6, 7];
    pub const ENTRIES: i64 = 1;
    pub const EXITS: i64 = 2;
    pub const BILLS: i64 = 4;

    pub fn from_mismatches(entries: bool, exits: bool, bills: bool) -> Self {
        AccountMark(
            i64::from(entries) * Self::ENTRIES + i64::from(exits) * Self::EXITS + i64::from(bills) * Self::BILLS,
        )
    }

    pub fn is_balanced(self) -> bool {
        self.0 == 0
    }

    /// The `downloadUID` record kinds to fetch for this mark.
    pub fn kinds(self) -> Vec<RecordKind> {
        [(Self::ENTRIES, RecordKind::Entry), (Self::EXITS, RecordKind::Exit), (Self::BILLS, RecordKind::Bill)]
            .into_iter()
            .filter(|(bit, _)| self.0 & bit != 0)
            .map(|(_, kind)| kind)
            .collect()
    }

    pub fn zh(self) -> &'static str {
        match self.0 {
            0 => "全一致",
            1 => "入场记录数不一致",
            2 => "离场记录数不一致",
            3 => "入场、离场记录数都不一致",
            4 => "账单记录总金额或笔数不一致",
            5 => "入场记录数不一致，账单记录总金额或笔数不一致",
            6 => "离场记录数不一致，账单记录总金额或笔数不一致",
            7 => "全不一致",
            _ => "未定义",
        }
    }
}

/// 配建类型 `attachedType` (two-digit strings).
pub const ATTACHED_TYPES: &[&str] =
    &["01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11", "12", "13", "14", "15", "16"];
/// 行政区划 `regionCode`: the Qingdao districts of the dictionary.
pub const REGION_CODES: &[&str] =
    &["370202", "370203", "370211", "370212", "370213", "370214", "370215", "370281", "370283", "370285"];
/// 城区编号 `areaCode`
pub const AREA_CODES: &[&str] = &["01", "02", "03", "04", "05", "06", "07", "08", "09", "10"];
/// 路内停车收费类型 `inroadFeesType`
pub const INROAD_FEE_TYPES: &[&str] = &["00", "01", "02", "03", "21"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_keep_unknowns() {
        assert_eq!(PlateColor::from_code(5), PlateColor::Green);
        assert_eq!(PlateColor::Green.code(), 5);
        assert_eq!(PlateColor::from_code(0), PlateColor::Other(0));
        assert_eq!(serde_json::to_string(&PayScene::PrepayInLot).expect("ser"), "102");
        let parsed: PaidType = serde_json::from_str("10").expect("de");
        assert_eq!((parsed, parsed.zh()), (PaidType::Etc, "ETC"));
    }

    #[test]
    fn account_mark_is_a_bit_mask() {
        assert_eq!(AccountMark::from_mismatches(true, false, true), AccountMark(5));
        assert_eq!(AccountMark(6).kinds(), vec![RecordKind::Exit, RecordKind::Bill]);
        assert!(AccountMark(0).is_balanced());
        assert_eq!(AccountMark(3).zh(), "入场、离场记录数都不一致");
    }
}
