//! What a charging system asks the cloud (§二), answered from the city's
//! records: 2.19 `query_order` (the vendor's: the e-payments of an order this
//! month, `time_temp` in milliseconds echoed), and, designed in its style
//! (titles only in every source), 2.38 `query_escape` (a plate's unpaid
//! bills across the city), 2.40 `query_in_park_count` and 2.41
//! `query_in_park_list` (the lot's stays the city holds open, paged like
//! 2.33: `page` from 1, `rp` ≤ 100, `random_str` echoed).

use serde_json::{Value, json};

use crate::envelope::Envelope;
use crate::fields::FieldError;

pub const ORDER: &str = "query_order";
pub const ESCAPE: &str = "query_escape";
pub const IN_PARK_COUNT: &str = "query_in_park_count";
pub const IN_PARK_LIST: &str = "query_in_park_list";

/// 2.19's question.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderQuery {
    pub order_id: String,
    /// Milliseconds (13 digits), echoed.
    pub time_temp: i64,
}

impl OrderQuery {
    pub fn read(e: &Envelope) -> Result<OrderQuery, FieldError> {
        let f = e.fields();
        Ok(OrderQuery { order_id: f.text(&["order_id"], 48)?, time_temp: f.int(&["time_temp"])? })
    }
}

/// One payment of an order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Paid {
    pub trade_no: String,
    /// Fen.
    pub money: i64,
    /// Unix seconds.
    pub pay_time: i64,
    pub refunded: bool,
}

pub fn order_reply(q: &OrderQuery, paid: &[Paid]) -> crate::Reply {
    let list: Vec<Value> = paid
        .iter()
        .map(|p| {
            json!({ "trade_no": p.trade_no, "pay_money": crate::month_card::yuan_number(p.money),
                "pay_time": p.pay_time, "state": if p.refunded { 3 } else { 1 } })
        })
        .collect();
    crate::Reply::ok(ORDER)
        .with("errmsg", if paid.is_empty() { "无支付记录" } else { "查询成功" })
        .with("order_id", q.order_id.as_str())
        .with("time_temp", q.time_temp)
        .with("data", Value::Array(list))
}

/// 2.38's question: a plate.
pub fn escape_plate(e: &Envelope) -> Result<(String, String), FieldError> {
    let f = e.fields();
    Ok((f.text(&["car_number"], 16)?, f.opt_text(&["random_str"], 64)?.unwrap_or_default()))
}

/// An unpaid bill of the plate, somewhere in the city.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Escape {
    pub parking_code: String,
    pub park_name: String,
    pub order_id: String,
    /// Fen.
    pub money: i64,
    /// yyyy-MM-dd HH:mm:ss as the city keeps it.
    pub out_time: String,
}

pub fn escape_reply(plate: &str, random_str: &str, list: &[Escape]) -> crate::Reply {
    let total: i64 = list.iter().map(|e| e.money).sum();
    let items: Vec<Value> = list
        .iter()
        .map(|e| {
            json!({ "park_code": e.parking_code, "park_name": e.park_name, "order_id": e.order_id,
                "money": crate::month_card::yuan_number(e.money), "out_time": e.out_time })
        })
        .collect();
    crate::Reply::ok(ESCAPE)
        .with("errmsg", if list.is_empty() { "无欠费" } else { "有欠费" })
        .with("car_number", plate)
        .with("random_str", random_str)
        .with("count", list.len() as i64)
        .with("total", crate::month_card::yuan_number(total))
        .with("escape_list", Value::Array(items))
}

/// 2.40/2.41's paging (2.40 ignores it).
pub fn page(e: &Envelope) -> Result<(i64, i64, String), FieldError> {
    let f = e.fields();
    let page = f.opt_int(&["page"])?.unwrap_or(1);
    let rp = f.opt_int(&["rp"])?.unwrap_or(100);
    if page < 1 {
        return Err(FieldError(format!("data.page 从 1 开始，收到 {page}")));
    }
    if !(1..=crate::month_card::MAX_RP).contains(&rp) {
        return Err(FieldError(format!("data.rp 必须在 1 至 100 之间，收到 {rp}")));
    }
    Ok((page, rp, f.opt_text(&["random_str"], 64)?.unwrap_or_default()))
}

/// A stay the city holds open.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InPark {
    pub order_id: String,
    pub car_number: String,
    /// Unix seconds.
    pub in_time: i64,
    pub in_channel_id: String,
}

pub fn in_park_reply(service: &str, random_str: &str, count: i64, page: i64, list: Option<&[InPark]>) -> crate::Reply {
    let mut r =
        crate::Reply::ok(service).with("errmsg", "查询成功").with("random_str", random_str).with("count", count);
    if let Some(list) = list {
        let items: Vec<Value> = list
            .iter()
            .map(|s| json!({ "order_id": s.order_id, "car_number": s.car_number, "in_time": s.in_time, "in_channel_id": s.in_channel_id }))
            .collect();
        r = r.with("page", page).with("order_list", Value::Array(items));
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_carry_what_was_asked() {
        let q = OrderQuery { order_id: "O1".into(), time_temp: 1_796_371_200_123 };
        let r: Value = serde_json::from_str(
            &order_reply(&q, &[Paid { trade_no: "T1".into(), money: 650, pay_time: 1_796_371_200, refunded: false }])
                .to_json(),
        )
        .expect("json");
        assert_eq!((r["time_temp"].as_i64(), r["data"][0]["pay_money"].as_f64()), (Some(1_796_371_200_123), Some(6.5)));
        let r: Value = serde_json::from_str(&escape_reply("鲁B1", "x", &[]).to_json()).expect("json");
        assert_eq!((r["count"].as_i64(), r["random_str"].as_str()), (Some(0), Some("x")));
        let e =
            Envelope::parse(Envelope::build(IN_PARK_LIST, Some("t"), &json!({ "page": 1, "rp": 101 }), "k").as_bytes())
                .expect("parses");
        assert!(page(&e).expect_err("rp").0.contains("data.rp"));
    }
}
