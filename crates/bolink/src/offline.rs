//! Leaving first, paying later. 2.44 离线订单(先走后付), designed (title
//! only): a car left owing `total` (yuan) — the lot's barrier let it out, or
//! it left while the lot was offline — `{order_id, car_number, in_time,
//! out_time, total, out_channel_id}`; the cloud keeps it as the plate's
//! debt across the city and answers `order_id`. Once the driver pays it,
//! the lot hears 3.37 `repair` (the vendor's: 3.4's shape with `pay_type`
//! `repair`), sent until it answers as it answers 3.4.

use serde_json::Value;

use crate::fields::{FieldError, Fields};
use crate::no_stop::Deducted;

pub const ORDER: &str = "upload_offline_order";
pub const REPAIR: &str = "repair";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Offline {
    pub order_id: String,
    pub car_number: String,
    pub in_time: i64,
    pub out_time: i64,
    /// Fen owed.
    pub total: i64,
    pub out_channel_id: String,
}

impl Offline {
    pub fn read(f: &Fields) -> Result<Offline, FieldError> {
        let o = Offline {
            order_id: f.text(&["order_id"], 48)?,
            car_number: f.text(&["car_number", "car_numner"], 16)?,
            in_time: f.unix(&["in_time"])?,
            out_time: f.unix(&["out_time"])?,
            total: f.opt_yuan(&["total"])?.ok_or_else(|| FieldError("缺少 data.total".into()))?,
            out_channel_id: f.opt_text(&["out_channel_id"], 16)?.unwrap_or_default(),
        };
        if o.total == 0 {
            return Err(FieldError("data.total 须大于 0（没有欠费的离场按 out_park 上传）".into()));
        }
        if o.out_time < o.in_time {
            return Err(FieldError("data.out_time 早于 in_time".into()));
        }
        Ok(o)
    }
}

/// 3.37: an unpaid exit paid since (3.4's shape, `pay_type` `repair`).
pub fn repair_message(d: &Deducted, park_id: &str, request_no: &str) -> Value {
    let mut m = d.to_message(park_id, request_no);
    m["service_name"] = Value::from(REPAIR);
    m["data"]["pay_type"] = Value::from(REPAIR);
    m
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn an_offline_order_needs_money_owed_and_sane_times() {
        let ok = json!({ "order_id": "O1", "car_number": "鲁B12345", "in_time": 1_796_000_000,
            "out_time": 1_796_003_600, "total": "6.00" });
        let map = ok.as_object().expect("object");
        assert_eq!(Offline::read(&Fields::new(map)).expect("reads").total, 600);
        let mut zero = map.clone();
        zero.insert("total".into(), json!("0"));
        assert!(Offline::read(&Fields::new(&zero)).expect_err("refused").0.contains("total"));
        let mut back = map.clone();
        back.insert("out_time".into(), json!(1_795_000_000));
        assert!(Offline::read(&Fields::new(&back)).expect_err("refused").0.contains("out_time"));
    }
}
