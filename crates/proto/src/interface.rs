//! Interface names, HTTP paths, MQTT topics and access IDs.

use std::fmt;

/// Every lot → platform HTTP interface (`POST {prefix}/{name}`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Uplink {
    UploadCarInData,
    UploadModifyCarInData,
    UploadCarOutData,
    UploadParkingState,
    UploadPhoto,
    UploadPayRecord,
    UploadCheckRecord,
    DownloadUid,
    UploadHeartbeat,
    UploadParkingInfo,
    ApplyPayment,
    UploadFee,
    ConfirmPayResult,
    ConfirmDeparturePayInfo,
    GetDeparturePayInfo,
    UploadAbnormalBill,
    CheckDailyBill,
    GetPayResult,
    CancelOverDueBill,
    ConfirmOverDueResult,
    GetOverDueResult,
    ConfirmSpecialCar,
}

impl Uplink {
    pub const ALL: [Uplink; 22] = [
        Uplink::UploadCarInData,
        Uplink::UploadModifyCarInData,
        Uplink::UploadCarOutData,
        Uplink::UploadParkingState,
        Uplink::UploadPhoto,
        Uplink::UploadPayRecord,
        Uplink::UploadCheckRecord,
        Uplink::DownloadUid,
        Uplink::UploadHeartbeat,
        Uplink::UploadParkingInfo,
        Uplink::ApplyPayment,
        Uplink::UploadFee,
        Uplink::ConfirmPayResult,
        Uplink::ConfirmDeparturePayInfo,
        Uplink::GetDeparturePayInfo,
        Uplink::UploadAbnormalBill,
        Uplink::CheckDailyBill,
        Uplink::GetPayResult,
        Uplink::CancelOverDueBill,
        Uplink::ConfirmOverDueResult,
        Uplink::GetOverDueResult,
        Uplink::ConfirmSpecialCar,
    ];

    /// The name we send (the path segment).
    pub fn name(self) -> &'static str {
        match self {
            Uplink::UploadCarInData => "uploadCarInData",
            Uplink::UploadModifyCarInData => "uploadModifyCarInData",
            Uplink::UploadCarOutData => "uploadCarOutData",
            Uplink::UploadParkingState => "uploadParkingState",
            Uplink::UploadPhoto => "uploadPhoto",
            Uplink::UploadPayRecord => "uploadPayRecord",
            Uplink::UploadCheckRecord => "uploadCheckRecord",
            Uplink::DownloadUid => "downloadUID",
            Uplink::UploadHeartbeat => "uploadHeartbeat",
            Uplink::UploadParkingInfo => "uploadParkingInfo",
            Uplink::ApplyPayment => "applyPayment",
            Uplink::UploadFee => "uploadFee",
            Uplink::ConfirmPayResult => "confirmPayResult",
            Uplink::ConfirmDeparturePayInfo => "confirmDeparturePayInfo",
            Uplink::GetDeparturePayInfo => "getDeparturePayInfo",
            Uplink::UploadAbnormalBill => "uploadAbnormalBill",
            Uplink::CheckDailyBill => "checkDailyBill",
            Uplink::GetPayResult => "getPayResult",
            Uplink::CancelOverDueBill => "cancelOverDueBill",
            Uplink::ConfirmOverDueResult => "confirmOverDueResult",
            Uplink::GetOverDueResult => "getOverDueResult",
            Uplink::ConfirmSpecialCar => "confirmSpecialCar",
        }
    }

    /// Resolves a path segment, including the download interface's other
    /// names (D-4). Case-insensitive: integrators' paths vary in case.
    pub fn from_name(name: &str) -> Option<Uplink> {
        let lower = name.to_ascii_lowercase();
        if matches!(lower.as_str(), "downloadid" | "downuid" | "downid") {
            return Some(Uplink::DownloadUid);
        }
        Uplink::ALL.into_iter().find(|u| u.name().eq_ignore_ascii_case(&lower))
    }

    /// The spec's Chinese title.
    pub fn zh(self) -> &'static str {
        match self {
            Uplink::UploadCarInData => "上传车辆入场记录",
            Uplink::UploadModifyCarInData => "上传订单修改信息",
            Uplink::UploadCarOutData => "上传车辆离场记录",
            Uplink::UploadParkingState => "上传停车场剩余开放泊位数",
            Uplink::UploadPhoto => "上传照片",
            Uplink::UploadPayRecord => "上传停车账单记录",
            Uplink::UploadCheckRecord => "停车记录日核对",
            Uplink::DownloadUid => "停车记录流水号下载",
            Uplink::UploadHeartbeat => "上传场库心跳",
            Uplink::UploadParkingInfo => "停车场基本信息变更",
            Uplink::ApplyPayment => "停车场申请支付扣款",
            Uplink::UploadFee => "车辆账单信息上报",
            Uplink::ConfirmPayResult => "账单支付扣费结果确认",
            Uplink::ConfirmDeparturePayInfo => "车辆签约信息确认",
            Uplink::GetDeparturePayInfo => "车辆签约信息查询",
            Uplink::UploadAbnormalBill => "异常账单上报",
            Uplink::CheckDailyBill => "车场先离后缴账单按天对账",
            Uplink::GetPayResult => "账单支付扣费结果查询",
            Uplink::CancelOverDueBill => "核销欠费账单",
            Uplink::ConfirmOverDueResult => "车辆欠费情况确认",
            Uplink::GetOverDueResult => "车辆欠费情况查询",
            Uplink::ConfirmSpecialCar => "黑白名单信息确认",
        }
    }
}

impl fmt::Display for Uplink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Every platform → lot MQTT interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Downlink {
    Fee,
    PayResult,
    DeparturePayInfo,
    OverDueResult,
    SpecialCar,
}

impl Downlink {
    pub const ALL: [Downlink; 5] =
        [Downlink::Fee, Downlink::PayResult, Downlink::DeparturePayInfo, Downlink::OverDueResult, Downlink::SpecialCar];

    /// The topic segment we publish on (the per-interface sections' names).
    pub fn name(self) -> &'static str {
        match self {
            Downlink::Fee => "fee",
            Downlink::PayResult => "payResult",
            Downlink::DeparturePayInfo => "departurePayInfo",
            Downlink::OverDueResult => "overDueResult",
            Downlink::SpecialCar => "specialCar",
        }
    }

    /// Resolves a topic segment, including the general section's names (D-10).
    pub fn from_name(name: &str) -> Option<Downlink> {
        match name.to_ascii_lowercase().as_str() {
            "calfee" => Some(Downlink::Fee),
            "noticepay" => Some(Downlink::PayResult),
            "nosenseinfo" => Some(Downlink::DeparturePayInfo),
            _ => Downlink::ALL.into_iter().find(|d| d.name().eq_ignore_ascii_case(name)),
        }
    }

    /// The HTTP interface that acknowledges this message.
    pub fn reply(self) -> Uplink {
        match self {
            Downlink::Fee => Uplink::UploadFee,
            Downlink::PayResult => Uplink::ConfirmPayResult,
            Downlink::DeparturePayInfo => Uplink::ConfirmDeparturePayInfo,
            Downlink::OverDueResult => Uplink::ConfirmOverDueResult,
            Downlink::SpecialCar => Uplink::ConfirmSpecialCar,
        }
    }

    /// Seconds the lot has to confirm: 5 (§三(二)), 20 for specialCar (D-8).
    pub fn confirm_deadline_secs(self) -> u64 {
        match self {
            Downlink::SpecialCar => 20,
            _ => 5,
        }
    }
}

impl fmt::Display for Downlink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An accessID as it appears on the wire: `234`, or `234_2` for node 2 of a
/// multi-node lot (§2.2.2, D-11). The key pair belongs to the base ID.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AccessId {
    pub base: String,
    /// The node number as sent (digits; `01` stays `01` so topics and client
    /// ids rebuilt from it match).
    pub node: Option<String>,
}

impl AccessId {
    /// Splits a numeric `_N` suffix off; anything else is part of the base.
    pub fn parse(text: &str) -> AccessId {
        let text = text.trim();
        match text.rsplit_once('_') {
            Some((base, node)) if !base.is_empty() && !node.is_empty() && node.bytes().all(|b| b.is_ascii_digit()) => {
                AccessId { base: base.to_owned(), node: Some(node.to_owned()) }
            }
            _ => AccessId { base: text.to_owned(), node: None },
        }
    }
}

impl fmt::Display for AccessId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.node {
            Some(n) => write!(f, "{}_{n}", self.base),
            None => f.write_str(&self.base),
        }
    }
}

/// `qdpark/v1/{interface}/{accessID}/{parkingCode}`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Topic {
    pub interface: Downlink,
    pub access_id: AccessId,
    pub parking_code: String,
}

impl Topic {
    /// Parses both spellings (with and without the leading `/`, D-10) and the
    /// general section's interface names.
    pub fn parse(topic: &str) -> Option<Topic> {
        let mut parts = topic.strip_prefix('/').unwrap_or(topic).split('/');
        let (Some("qdpark"), Some("v1"), Some(interface), Some(access), Some(code), None) =
            (parts.next(), parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        if access.is_empty() || code.is_empty() {
            return None;
        }
        Some(Topic {
            interface: Downlink::from_name(interface)?,
            access_id: AccessId::parse(access),
            parking_code: code.to_owned(),
        })
    }
}

impl fmt::Display for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "qdpark/v1/{}/{}/{}", self.interface, self.access_id, self.parking_code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uplink_names_round_trip() {
        for u in Uplink::ALL {
            assert_eq!(Uplink::from_name(u.name()), Some(u));
        }
        for alias in ["downloadID", "downUID", "downID", "DOWNLOADUID"] {
            assert_eq!(Uplink::from_name(alias), Some(Uplink::DownloadUid));
        }
        assert_eq!(Uplink::from_name("nope"), None);
    }

    #[test]
    fn access_ids() {
        assert_eq!(AccessId::parse("234"), AccessId { base: "234".into(), node: None });
        assert_eq!(AccessId::parse("234_2"), AccessId { base: "234".into(), node: Some("2".into()) });
        assert_eq!(AccessId::parse("234_01").to_string(), "234_01");
        assert_eq!(AccessId::parse("lot_a"), AccessId { base: "lot_a".into(), node: None });
        assert_eq!(AccessId::parse("234_2").to_string(), "234_2");
    }

    #[test]
    fn topics() {
        let t = Topic::parse("/qdpark/v1/calfee/234_1/1001").expect("topic");
        assert_eq!(t.interface, Downlink::Fee);
        assert_eq!(t.to_string(), "qdpark/v1/fee/234_1/1001");
        assert_eq!(Topic::parse("qdpark/v1/specialCar/234/1001").map(|t| t.interface), Some(Downlink::SpecialCar));
        for bad in ["qdpark/v1/fee/234", "qdpark/v2/fee/234/1", "qdpark/v1/unknown/234/1", "qdpark/v1/fee/234/1/x"] {
            assert_eq!(Topic::parse(bad), None, "{bad}");
        }
    }
}
