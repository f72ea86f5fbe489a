//! Paying without stopping (§四 and 3.4), the vendor's fields. 4.1
//! `pay_status`: the lot asks whether a plate may pay password-free
//! (`is_exist` 1), its `balance` (yuan, text) and `net_status`. 4.2
//! `update_balance`: the cloud pushes the same after the car's entry and
//! when it changes (`autopay` 1). At the exit the lot uploads 2.2 with
//! `pay_type` `wallet` and what is owed in `total` (a deduction request,
//! [`is_deduction`]); the cloud charges and answers with 3.4 `outpark`:
//! `state` 1 paid (only 1 is paid), 0 failed, 2 paying; `trade_no`,
//! `total`, `pay_time`, `errmsg`. It travels wrapped in `data` on onepark's
//! wire (its `state` would otherwise read as an answer) and is sent again
//! until the lot answers `{service_name:"outpark", data_target:"bolink",
//! state, errmsg, trade_no, order_id}` (the vendor: 14 times over 5.4 min).

use serde_json::{Value, json};

use crate::fields::{FieldError, Fields};
use crate::message::OutPark;

pub const PAY_STATUS: &str = "pay_status";
pub const UPDATE_BALANCE: &str = "update_balance";
pub const RESULT: &str = "outpark";
/// The password-free payment's `pay_type`.
pub const WALLET: &str = "wallet";

/// An exit that asks the cloud to charge what is owed password-free
/// (`wallet`, nothing paid yet). A scanner-gun (`sweepcode`, with its
/// `auth_code`) or exit-code (`scancode`) payment is not one: those exits
/// are reported after their payment, as records.
pub fn is_deduction(m: &OutPark) -> bool {
    m.pay_type.as_deref() == Some(WALLET)
        && m.total > 0
        && m.electronic_pay.unwrap_or(0) == 0
        && m.cash_pay.unwrap_or(0) == 0
}

/// 4.1's answer and 4.2's push: whether the plate pays password-free, up to `balance` fen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Balance {
    pub car_number: String,
    pub balance: i64,
    pub autopay: bool,
}

impl Balance {
    /// 4.1's answer (`order_id` echoed).
    pub fn status_reply(&self, order_id: &str) -> crate::Reply {
        crate::Reply::ok(PAY_STATUS)
            .with("car_number", self.car_number.as_str())
            .with("order_id", order_id)
            .with("balance", onepark_domain::money::yuan(self.balance))
            .with("is_exist", i64::from(self.autopay))
            .with("net_status", 1)
    }

    /// 4.2's push.
    pub fn to_message(&self, park_id: &str, request_no: &str) -> Value {
        json!({ "service_name": UPDATE_BALANCE, "data": { "park_id": park_id, "car_number": self.car_number,
            "balance": onepark_domain::money::yuan(self.balance), "autopay": i64::from(self.autopay),
            "request_no": request_no } })
    }

    pub fn read(f: &Fields) -> Result<Balance, FieldError> {
        Ok(Balance {
            car_number: f.text(&["car_number"], 16)?,
            balance: f.opt_yuan(&["balance"])?.unwrap_or(0),
            autopay: f.opt_int(&["autopay", "is_exist"])? == Some(1),
        })
    }
}

/// 3.4: what came of a deduction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Deducted {
    pub order_id: String,
    pub car_number: String,
    /// 1 paid, 0 failed, 2 paying.
    pub state: i64,
    pub trade_no: String,
    /// Fen.
    pub total: i64,
    /// Unix seconds.
    pub pay_time: i64,
    pub errmsg: String,
}

impl Deducted {
    pub fn to_message(&self, park_id: &str, request_no: &str) -> Value {
        json!({ "service_name": RESULT, "data": { "park_id": park_id, "state": self.state, "order_id": self.order_id,
            "trade_no": self.trade_no, "pay_type": WALLET, "pay_channel": 2,
            "total": crate::month_card::yuan_number(self.total), "errmsg": self.errmsg, "pay_time": self.pay_time,
            "car_number": self.car_number, "request_no": request_no } })
    }

    pub fn read(f: &Fields) -> Result<Deducted, FieldError> {
        Ok(Deducted {
            order_id: f.text(&["order_id"], 48)?,
            car_number: f.opt_text(&["car_number"], 16)?.unwrap_or_default(),
            state: f.int(&["state"])?,
            trade_no: f.opt_text(&["trade_no"], 48)?.unwrap_or_default(),
            total: f.opt_yuan(&["total"])?.unwrap_or(0),
            pay_time: f.opt_int(&["pay_time"])?.unwrap_or(0),
            errmsg: f.opt_text(&["errmsg"], 200)?.unwrap_or_default(),
        })
    }

    /// The lot's answer.
    pub fn answer(&self, request_no: &str, ok: Result<(), String>) -> Value {
        let (state, errmsg) = match ok {
            Ok(()) => (1, String::new()),
            Err(why) => (0, why),
        };
        json!({ "service_name": RESULT, "data_target": "bolink", "state": state, "errmsg": errmsg,
            "trade_no": self.trade_no, "order_id": self.order_id, "request_no": request_no })
    }
}

/// Whether an `outpark` from the lot is its answer to 3.4 (it names the
/// notice it answers and carries no exit time), not an exit (2.2's HTTP name).
pub fn is_result_answer(f: &Fields) -> bool {
    f.opt_text(&["request_no"], 32).ok().flatten().is_some() && f.opt_int(&["out_time"]).ok().flatten().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_result_and_a_balance_round_trip() {
        let d = Deducted {
            order_id: "O1".into(),
            car_number: "鲁B12345".into(),
            state: 1,
            trade_no: "T1".into(),
            total: 650,
            pay_time: 1_796_000_000,
            errmsg: String::new(),
        };
        let m = d.to_message("21835", "7");
        assert!(m.get("state").is_none(), "wrapped: a top-level state reads as an answer");
        let data = m["data"].as_object().expect("data");
        assert_eq!(Deducted::read(&Fields::new(data)), Ok(d.clone()));
        assert!(is_result_answer(&Fields::new(d.answer("7", Ok(())).as_object().expect("answer"))));
        let b = Balance { car_number: "鲁B12345".into(), balance: 20_000, autopay: true };
        let pushed = b.to_message("21835", "8");
        assert_eq!(Balance::read(&Fields::new(pushed["data"].as_object().expect("data"))), Ok(b));
    }
}
