//! §五 数据定义 (data definitions) as typed codes, from the vendor's pages
//! where they speak (`bolink-vendor-pages.md` §7) and the seed's field notes:
//! `car_cost_type`, `license_color`, `pay_type` (5.1.3), `islocked` (5.1.4),
//! `operate_type` (5.1.6), the staff duty `state` (5.1.7), `data_target`
//! (5.1.8), the lift `reason` (5.1.9), `is_exist` (5.1.10), `net_status`
//! (5.1.11), `pay_channel` (5.1.12). Unknown codes are kept (`Other`), never
//! refused: a charging system newer than these pages still gets its record
//! stored. `car_type` and `c_type`/`out_type` are free text on the wire
//! (`小型车`, `通道扫牌`): no table. `sex` (5.1.5) is numeric with its values
//! not found: kept as sent.

/// `car_cost_type`: how the car is charged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CarCostType {
    Temporary,
    Monthly,
    WhiteList,
    NoPlate,
    Guest,
    Vip,
    Internal,
    MonthlyMulti,
    StoredValue,
    Other(i64),
}

impl CarCostType {
    pub fn from_code(code: i64) -> CarCostType {
        match code {
            1 => CarCostType::Temporary,
            2 => CarCostType::Monthly,
            3 => CarCostType::WhiteList,
            4 => CarCostType::NoPlate,
            5 => CarCostType::Guest,
            6 => CarCostType::Vip,
            7 => CarCostType::Internal,
            8 => CarCostType::MonthlyMulti,
            9 => CarCostType::StoredValue,
            other => CarCostType::Other(other),
        }
    }

    /// The city's parking type: card holders 2, free passes 4 (special), the rest temporary 1.
    pub fn parking_type(self) -> i64 {
        match self {
            CarCostType::Monthly | CarCostType::MonthlyMulti | CarCostType::StoredValue => 2,
            CarCostType::WhiteList | CarCostType::Guest | CarCostType::Vip | CarCostType::Internal => 4,
            _ => 1,
        }
    }
}

/// `license_color`: 0 blue, 1 yellow, 2 white, 3 black, 4 new-energy, 5 yellow-green, 6 gradient, 7 other.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LicenseColor {
    Blue,
    Yellow,
    White,
    Black,
    NewEnergy,
    YellowGreen,
    Gradient,
    Other(i64),
}

impl LicenseColor {
    pub fn from_code(code: i64) -> LicenseColor {
        match code {
            0 => LicenseColor::Blue,
            1 => LicenseColor::Yellow,
            2 => LicenseColor::White,
            3 => LicenseColor::Black,
            4 => LicenseColor::NewEnergy,
            5 => LicenseColor::YellowGreen,
            6 => LicenseColor::Gradient,
            other => LicenseColor::Other(other),
        }
    }

    /// The city's plate colour (1 blue … 6 yellow-green); `None`: the plate's usual one.
    pub fn city(self) -> Option<i64> {
        match self {
            LicenseColor::Blue => Some(1),
            LicenseColor::Yellow => Some(2),
            LicenseColor::White => Some(3),
            LicenseColor::Black => Some(4),
            LicenseColor::NewEnergy | LicenseColor::Gradient => Some(5),
            LicenseColor::YellowGreen => Some(6),
            LicenseColor::Other(_) => None,
        }
    }

    /// The code of a city plate colour.
    pub fn of_city(city: i64) -> i64 {
        match city {
            2 => 1,
            3 => 2,
            4 => 3,
            5 => 4,
            6 => 5,
            _ => 0,
        }
    }
}

/// 5.1.3 `pay_type`: how an order was paid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PayType {
    Cash,
    /// Balance, password-free, frictionless.
    Wallet,
    /// A scanner gun read the driver's code (needs `auth_code`).
    SweepCode,
    /// The driver scanned the exit code.
    ScanCode,
    MonthUser,
    Free,
    /// Left unpaid (the HTTP API's).
    Escape,
    Etc,
    /// Paid back later (Alipay mini-program).
    Repair,
    Other(String),
}

impl PayType {
    pub fn parse(text: &str) -> PayType {
        match text {
            "cash" => PayType::Cash,
            "wallet" => PayType::Wallet,
            "sweepcode" => PayType::SweepCode,
            "scancode" => PayType::ScanCode,
            "monthuser" => PayType::MonthUser,
            "free" => PayType::Free,
            "escape" => PayType::Escape,
            "etc" | "etc_pay" => PayType::Etc,
            "repair" => PayType::Repair,
            other => PayType::Other(other.to_owned()),
        }
    }

    /// Whether the exit took nothing (a card holder, a free pass, a car that left unpaid).
    pub fn takes_nothing(&self) -> bool {
        matches!(self, PayType::MonthUser | PayType::Free | PayType::Escape)
    }

    /// The city's payment method (cash 1, the platform account 4 for the
    /// electronic ones, whose app the wire does not say, ETC 10).
    pub fn city_paid_type(&self) -> i64 {
        match self {
            PayType::Cash | PayType::Other(_) => 1,
            PayType::Etc => 10,
            _ => 4,
        }
    }
}

/// 5.1.12 `pay_channel`: 0 WeChat, 1 Alipay, 2 balance, 3 UnionPay.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PayChannel {
    WeChat,
    Alipay,
    Balance,
    UnionPay,
    Other(i64),
}

impl PayChannel {
    pub fn from_code(code: i64) -> PayChannel {
        match code {
            0 => PayChannel::WeChat,
            1 => PayChannel::Alipay,
            2 => PayChannel::Balance,
            3 => PayChannel::UnionPay,
            other => PayChannel::Other(other),
        }
    }

    /// The city's payment method: Alipay 2, WeChat 3, the platform account 4, UnionPay 6.
    pub fn city_paid_type(self) -> i64 {
        match self {
            PayChannel::WeChat => 3,
            PayChannel::Alipay => 2,
            PayChannel::UnionPay => 6,
            PayChannel::Balance | PayChannel::Other(_) => 4,
        }
    }
}

/// 5.1.4 `islocked` / `is_locked`.
pub fn locked(code: i64) -> bool {
    code == 1
}

/// 5.1.6 `operate_type`: 1 add, 2 modify, 3 delete (2.4 uses 1 for add-or-modify).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OperateType {
    Add,
    Modify,
    Delete,
}

impl OperateType {
    pub fn from_code(code: i64) -> Option<OperateType> {
        match code {
            1 => Some(OperateType::Add),
            2 => Some(OperateType::Modify),
            3 => Some(OperateType::Delete),
            _ => None,
        }
    }

    pub fn zh(self) -> &'static str {
        match self {
            OperateType::Add => "新增",
            OperateType::Modify => "修改",
            OperateType::Delete => "删除",
        }
    }
}

/// 5.1.7 the staff duty `state`: 0 on duty, 1 off duty.
pub fn on_duty(code: i64) -> bool {
    code == 0
}

/// 5.1.8 `data_target`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataTarget {
    /// 停车云: the lot's management.
    Cloud,
    /// 泊链: payment.
    Bolink,
}

impl DataTarget {
    pub fn parse(text: &str) -> Option<DataTarget> {
        match text {
            "cloud" => Some(DataTarget::Cloud),
            "bolink" => Some(DataTarget::Bolink),
            _ => None,
        }
    }
}

/// 5.1.9 the lift `reason` (the cloud's configurable default list).
pub fn lift_reason_zh(code: i64) -> &'static str {
    match code {
        0 => "出场无订单",
        1 => "防止砸人",
        2 => "非机动车",
        3 => "其它原因",
        100 => "未选择原因",
        _ => "自定义原因",
    }
}

/// 5.1.10 `is_exist`: whether the user is a Bolink member; 5.1.11 `net_status`: Bolink reachable.
pub fn yes(code: i64) -> bool {
    code == 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_the_citys() {
        assert_eq!(CarCostType::from_code(8).parking_type(), 2);
        assert_eq!(CarCostType::from_code(7).parking_type(), 4);
        assert_eq!(CarCostType::from_code(42), CarCostType::Other(42));
        assert_eq!(LicenseColor::from_code(4).city(), Some(5));
        assert_eq!(LicenseColor::from_code(7).city(), None);
        for city in 1..=6 {
            assert_eq!(LicenseColor::from_code(LicenseColor::of_city(city)).city(), Some(city), "round trip {city}");
        }
        assert_eq!(PayType::parse("etc_pay").city_paid_type(), 10);
        assert!(PayType::parse("monthuser").takes_nothing());
        assert_eq!(PayChannel::from_code(1).city_paid_type(), 2);
        assert_eq!(OperateType::from_code(3), Some(OperateType::Delete));
        assert_eq!(DataTarget::parse("cloud"), Some(DataTarget::Cloud));
        assert!(locked(1) && !locked(0) && on_duty(0) && yes(1));
        assert_eq!(lift_reason_zh(1), "防止砸人");
    }
}
