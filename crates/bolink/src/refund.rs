//! 3.23 退款下发通知 (refund notice), designed: the seeds and the vendor's
//! pages give only its title, so it follows 3.2 `prepay_order`, the
//! payment it undoes: flat, `order_id` + `query_order_no` naming the quote
//! that was paid, `trade_no` the payment, `refund_no` the refund's own id
//! (the lot books each once), `refund_money` given back now and
//! `left_money` what is left of the payment after it (0: all of it; the
//! stay owes its fee again), yuan as text; `request_no` echoed in the
//! answer `{service_name, data_target:"bolink", state, errmsg, refund_no,
//! request_no}`.

use serde_json::{Value, json};

use crate::fields::{FieldError, Fields};

pub const SERVICE: &str = "refund_inform";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refund {
    pub order_id: String,
    pub query_order_no: String,
    pub trade_no: String,
    pub refund_no: String,
    pub car_number: String,
    /// Fen.
    pub refund_money: i64,
    pub left_money: i64,
    pub reason: String,
    /// yyyy-MM-dd HH:mm:ss in the cloud's zone.
    pub refund_time: String,
}

impl Refund {
    pub fn to_message(&self, park_id: &str, request_no: &str, query_time: i64) -> Value {
        use onepark_domain::money::yuan;
        json!({ "service_name": SERVICE, "park_id": park_id, "car_number": self.car_number,
            "order_id": self.order_id, "query_order_no": self.query_order_no, "trade_no": self.trade_no,
            "refund_no": self.refund_no, "refund_money": yuan(self.refund_money), "left_money": yuan(self.left_money),
            "refund_time": self.refund_time, "reason": self.reason, "query_time": query_time,
            "request_no": request_no })
    }

    pub fn read(f: &Fields) -> Result<Refund, FieldError> {
        let money = |name: &'static str| f.opt_yuan(&[name])?.ok_or_else(|| FieldError(format!("缺少 data.{name}")));
        let refund = Refund {
            order_id: f.text(&["order_id"], 48)?,
            query_order_no: f.opt_text(&["query_order_no"], 48)?.unwrap_or_default(),
            trade_no: f.text(&["trade_no"], 64)?,
            refund_no: f.text(&["refund_no"], 64)?,
            car_number: f.opt_text(&["car_number"], 100)?.unwrap_or_default(),
            refund_money: money("refund_money")?,
            left_money: money("left_money")?,
            reason: f.opt_text(&["reason"], 200)?.unwrap_or_default(),
            refund_time: f.opt_text(&["refund_time"], 19)?.unwrap_or_default(),
        };
        if refund.refund_money == 0 {
            return Err(FieldError("data.refund_money 须大于 0".into()));
        }
        Ok(refund)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refund_round_trips_and_nothing_refunded_is_refused() {
        let r = Refund {
            order_id: "O1".into(),
            query_order_no: "17".into(),
            trade_no: "T1".into(),
            refund_no: "RT1-0".into(),
            car_number: "鲁B12345".into(),
            refund_money: 600,
            left_money: 0,
            reason: "重复支付".into(),
            refund_time: "2026-12-04 10:00:00".into(),
        };
        let m = r.to_message("21835", "9", 1_796_000_000);
        let map = m.as_object().expect("object");
        assert_eq!(m["refund_money"], "6.00");
        assert_eq!(Refund::read(&Fields::new(map)), Ok(r));
        let mut zero = map.clone();
        zero.insert("refund_money".into(), Value::from("0"));
        assert!(Refund::read(&Fields::new(&zero)).expect_err("refused").0.contains("refund_money"));
    }
}
