//! Month-card renewals paid through the cloud. 3.11 `query_prodprice` (the
//! vendor's fields, KC/510121): the cloud asks the lot what renewing a card
//! for `months` costs, its `trade_no` a temporary id the answer echoes with
//! `price` (yuan, text). 3.10 `monthcard_pay` (the vendor's name; its
//! fields beyond `trade_no` and `pay_money` are designed): the driver paid
//! that price, the card runs until `end_time` (Unix seconds); the lot
//! extends it once per `trade_no` and answers `state` 1, echoing
//! `trade_no`, `pay_money` and `request_no`. 3.34 `query_newprodprice`
//! (a new card's price) is read for its refusal. 2.13 `month_pay_record`
//! (the vendor's fields, KC/465896) is a renewal the lot collected itself.
//! Downlinks travel flat, as 3.1 and 3.2 do.

use serde_json::{Value, json};

use crate::fields::{FieldError, Fields};
use crate::month_card::yuan_number;

pub const PRICE: &str = "query_prodprice";
pub const NEW_PRICE: &str = "query_newprodprice";
pub const PAY: &str = "monthcard_pay";
pub const RECORD: &str = "month_pay_record";

/// The most months one renewal buys (ten years).
pub const MAX_MONTHS: i64 = 120;

fn months(f: &Fields) -> Result<i64, FieldError> {
    let m = f.int(&["months"])?;
    if !(1..=MAX_MONTHS).contains(&m) {
        return Err(FieldError(format!("data.months 须为 1 至 {MAX_MONTHS}，收到 {m}")));
    }
    Ok(m)
}

/// 3.11: what renewing `card_id` for `months` from `start_time` costs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PriceQuery {
    pub card_id: String,
    pub months: i64,
    pub start_time: i64,
    pub trade_no: String,
    pub car_number: String,
}

impl PriceQuery {
    pub fn to_message(&self, park_id: &str) -> Value {
        json!({ "service_name": PRICE, "park_id": park_id, "card_id": self.card_id, "months": self.months.to_string(),
            "start_time": self.start_time, "trade_no": self.trade_no, "car_number": self.car_number,
            "period": "月", "discount": "", "discount_type": 0 })
    }

    pub fn read(f: &Fields) -> Result<PriceQuery, FieldError> {
        Ok(PriceQuery {
            card_id: f.text(&["card_id"], 64)?,
            months: months(f)?,
            start_time: f.unix(&["start_time"])?,
            trade_no: f.text(&["trade_no"], 64)?,
            car_number: f.opt_text(&["car_number"], 100)?.unwrap_or_default(),
        })
    }
}

/// The lot's answer to 3.11 (or 3.34): `price` (fen) when `state` is 1.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PriceAnswer {
    pub trade_no: String,
    pub price: Result<i64, String>,
}

impl PriceAnswer {
    pub fn to_data(&self, service: &str) -> Value {
        let mut v = json!({ "service_name": service, "data_target": "cloud", "trade_no": self.trade_no });
        match &self.price {
            Ok(fen) => {
                v["state"] = Value::from(1);
                v["errmsg"] = Value::from("");
                v["price"] = Value::from(onepark_domain::money::yuan(*fen));
            }
            Err(why) => {
                v["state"] = Value::from(0);
                v["errmsg"] = Value::from(why.as_str());
            }
        }
        v
    }

    pub fn read(f: &Fields) -> Result<PriceAnswer, FieldError> {
        let trade_no = f.text(&["trade_no"], 64)?;
        let price = if f.opt_int(&["state"])? == Some(1) {
            Ok(f.opt_yuan(&["price"])?.ok_or_else(|| FieldError("缺少 data.price".into()))?)
        } else {
            Err(f.opt_text(&["errmsg"], 200)?.unwrap_or_else(|| "车场未给出价格".into()))
        };
        Ok(PriceAnswer { trade_no, price })
    }
}

/// 3.10: a renewal paid; the card runs until `end_time`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Paid {
    pub trade_no: String,
    pub card_id: String,
    pub car_number: String,
    pub months: i64,
    pub start_time: i64,
    pub end_time: i64,
    /// Fen.
    pub pay_money: i64,
    pub pay_time: i64,
}

impl Paid {
    pub fn to_message(&self, park_id: &str, request_no: &str) -> Value {
        json!({ "service_name": PAY, "park_id": park_id, "trade_no": self.trade_no, "card_id": self.card_id,
            "car_number": self.car_number, "months": self.months, "start_time": self.start_time,
            "end_time": self.end_time, "pay_money": yuan_number(self.pay_money), "pay_time": self.pay_time,
            "pay_type": "wallet", "request_no": request_no })
    }

    pub fn read(f: &Fields) -> Result<Paid, FieldError> {
        let (start_time, end_time) = (f.unix(&["start_time"])?, f.unix(&["end_time"])?);
        if end_time <= start_time {
            return Err(FieldError("data.end_time 须晚于 start_time".into()));
        }
        Ok(Paid {
            trade_no: f.text(&["trade_no"], 64)?,
            card_id: f.text(&["card_id"], 64)?,
            car_number: f.opt_text(&["car_number"], 100)?.unwrap_or_default(),
            months: months(f)?,
            start_time,
            end_time,
            pay_money: f.opt_yuan(&["pay_money"])?.ok_or_else(|| FieldError("缺少 data.pay_money".into()))?,
            pay_time: f.opt_int(&["pay_time"])?.unwrap_or(0),
        })
    }
}

/// 2.13: a renewal the lot collected (at its booth, in cash…).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub trade_no: String,
    pub card_id: String,
    pub pay_time: i64,
    /// Fen.
    pub amount_receivable: i64,
    pub amount_pay: i64,
    pub pay_type: String,
    pub buy_month: Option<i64>,
    pub car_number: Option<String>,
    pub start_time: Option<i64>,
    /// The card's new end (Unix seconds).
    pub limit_time: Option<i64>,
}

impl Record {
    pub fn read(f: &Fields) -> Result<Record, FieldError> {
        let money = |name: &'static str| f.opt_yuan(&[name])?.ok_or_else(|| FieldError(format!("缺少 data.{name}")));
        let opt_unix = |name: &'static str| match f.opt_int(&[name])? {
            Some(_) => f.unix(&[name]).map(Some),
            None => Ok(None),
        };
        Ok(Record {
            trade_no: f.text(&["trade_no"], 64)?,
            card_id: f.text(&["card_id"], 64)?,
            pay_time: f.unix(&["pay_time"])?,
            amount_receivable: money("amount_receivable")?,
            amount_pay: money("amount_pay")?,
            pay_type: f.text(&["pay_type"], 12)?,
            buy_month: f.opt_int(&["buy_month"])?,
            car_number: f.opt_text(&["car_number"], 100)?,
            start_time: opt_unix("start_time")?,
            limit_time: opt_unix("limit_time")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Map;

    use super::*;

    fn fields(v: &Value) -> Map<String, Value> {
        v.as_object().cloned().expect("object")
    }

    #[test]
    fn a_price_query_and_a_payment_round_trip() {
        let q = PriceQuery {
            card_id: "C1".into(),
            months: 3,
            start_time: 1_796_000_000,
            trade_no: "17960".into(),
            car_number: "鲁B12345".into(),
        };
        let m = fields(&q.to_message("21835"));
        assert_eq!(PriceQuery::read(&Fields::new(&m)), Ok(q));
        let a = PriceAnswer { trade_no: "17960".into(), price: Ok(45_000) };
        let d = fields(&a.to_data(PRICE));
        assert_eq!(d["price"], "450.00");
        assert_eq!(PriceAnswer::read(&Fields::new(&d)), Ok(a));
        let p = Paid {
            trade_no: "T1".into(),
            card_id: "C1".into(),
            car_number: "鲁B12345".into(),
            months: 3,
            start_time: 1_796_000_000,
            end_time: 1_803_000_000,
            pay_money: 45_050,
            pay_time: 1_796_000_100,
        };
        let m = fields(&p.to_message("21835", "9"));
        assert_eq!(Paid::read(&Fields::new(&m)), Ok(p));
    }

    #[test]
    fn bad_months_and_times_are_named() {
        let m = fields(&json!({ "card_id": "C", "months": 0, "start_time": 1_796_000_000, "trade_no": "t" }));
        assert!(PriceQuery::read(&Fields::new(&m)).expect_err("refused").0.contains("months"));
        let m = fields(&json!({ "trade_no": "t", "card_id": "C", "months": 1, "start_time": 1_796_000_000,
            "end_time": 1_795_000_000, "pay_money": "1" }));
        assert!(Paid::read(&Fields::new(&m)).expect_err("refused").0.contains("end_time"));
        let refused = fields(&json!({ "trade_no": "t", "state": 0, "errmsg": "无此月卡" }));
        assert_eq!(PriceAnswer::read(&Fields::new(&refused)).expect("reads").price, Err("无此月卡".into()));
    }
}
