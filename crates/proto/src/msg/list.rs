//! §5.7 black/white lists: the MQ `specialCar` push and its confirm.

use super::kinds::*;
use super::{Confirm, message};
use crate::dict::*;
use crate::validate::{Kind, Problem, Problems};
use crate::wire::Time;

message! {
    /// MQ `specialCar` 黑白名单信息下发 (§5.7.1); also the `params` of
    /// `confirmSpecialCar` (§5.7.2).
    SpecialCar rules special_car_rules {
        parking_code: String = "parkingCode", Y, PARKING_CODE;
        plate_no: String = "plateNo", Y, PLATE;
        car_type: CarType = "carType", Y, Kind::Code(CarType::CODES);
        /// 0 blacklist, 1 whitelist (not the modify `operateType`, D-42)
        list_kind: ListKind = "operateType", Y, Kind::Code(ListKind::CODES);
        /// 0 add, 1 delete, 2 update
        operate: ListOperation = "operate", Y, Kind::Code(ListOperation::CODES);
        /// 简要说明
        remark: Option<String> = "remark", N, Kind::Str(50);
        /// 操作时间
        operate_time: Time = "operateTime", Y, Kind::Time;
        /// 有效期开始时间
        start_time: Time = "startTime", Y, Kind::Time;
        /// 有效期结束时间
        end_time: Time = "endTime", Y, Kind::Time;
    }
}

fn special_car_rules(m: &SpecialCar, problems: &mut Problems) {
    if m.end_time < m.start_time {
        problems.push(Problem::rule("endTime", "is earlier than startTime", "有效期结束时间早于开始时间"));
    }
}

/// `confirmSpecialCar` body.
pub type ConfirmSpecialCar = Confirm<SpecialCar>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msg::decode;

    #[test]
    fn spec_example() {
        let text = r#"{"data":{"success":true,"requestId":1,"params":{"parkingCode":"1001","plateNo":"鲁B01001",
            "carType":1,"operateType":1,"operate":0,"remark":"应急救援车辆","operateTime":"2008-08-08 08:08:08",
            "startTime":"2008-08-08 08:08:08","endTime":"2008-08-08 08:08:08"}}}"#;
        let c = decode::<ConfirmSpecialCar>(text).expect("decode").message;
        assert!(c.success);
        assert_eq!((c.params.list_kind, c.params.operate), (ListKind::White, ListOperation::Add));
        assert_eq!(c.params.remark.as_deref(), Some("应急救援车辆"));
    }
}
