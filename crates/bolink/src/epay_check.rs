//! 2.30 泊链电子支付对账接口 (e-payment reconciliation), designed: the seeds
//! and the vendor's pages give only its title, so it follows 2.23 (its
//! neighbour for counts) with the payments themselves. The lot sends, for a
//! day, every payment the cloud made to it that it booked (3.2 prepayments:
//! `trade_no`, the quote paid `order_id` + `query_order_no`, `money` and
//! `refund` in yuan, `pay_time` Unix seconds), at most [`MAX_TRADES`]
//! (`truncated` 1 beyond: then only the totals are compared); the cloud
//! answers its own count and total, and the `trade_no`s that differ: the
//! lot booked and the cloud did not take (`lot_only`), the cloud took and
//! the lot did not book (`cloud_only`), both with other amounts (`amount`).

use onepark_domain::time::{format_date, parse_date};
use serde_json::{Map, Value, json};

use crate::fields::{FieldError, Fields};
use crate::month_card::yuan_number;

pub const SERVICE: &str = "epay_reconciliation";
pub const MAX_TRADES: usize = 5_000;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trade {
    pub trade_no: String,
    pub order_id: String,
    pub query_order_no: String,
    /// Fen paid, and given back since.
    pub money: i64,
    pub refund: i64,
    pub pay_time: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub date: chrono::NaiveDate,
    pub count: i64,
    /// Fen, net of refunds.
    pub total: i64,
    pub trades: Vec<Trade>,
    pub truncated: bool,
    pub random_str: String,
}

impl Request {
    /// The day's booked payments (the first [`MAX_TRADES`] listed).
    pub fn new(date: chrono::NaiveDate, mut trades: Vec<Trade>, random_str: String) -> Request {
        let count = trades.len() as i64;
        let total = trades.iter().map(|t| t.money - t.refund).sum();
        let truncated = trades.len() > MAX_TRADES;
        trades.truncate(MAX_TRADES);
        Request { date, count, total, trades, truncated, random_str }
    }

    pub fn to_data(&self) -> Value {
        let trades: Vec<Value> = self
            .trades
            .iter()
            .map(|t| {
                json!({ "trade_no": t.trade_no, "order_id": t.order_id, "query_order_no": t.query_order_no,
                    "money": yuan_number(t.money), "refund": yuan_number(t.refund), "pay_time": t.pay_time })
            })
            .collect();
        json!({ "service_name": SERVICE, "data_target": "bolink", "date": format_date(self.date),
            "count": self.count, "total": yuan_number(self.total), "trades": trades,
            "truncated": i64::from(self.truncated), "random_str": self.random_str })
    }

    pub fn read(data: &Map<String, Value>, f: &Fields) -> Result<Request, FieldError> {
        let text = f.text(&["date"], 10)?;
        let date = parse_date(&text).map_err(|_| FieldError(format!("data.date 必须是 yyyy-MM-dd，收到 {text}")))?;
        let count = f.int(&["count"])?;
        if count < 0 {
            return Err(FieldError("data.count 不能为负数".into()));
        }
        let mut trades = Vec::new();
        let listed = match data.get("trades") {
            None => &Vec::new(),
            Some(Value::Array(a)) => a,
            Some(_) => return Err(FieldError("data.trades 必须是数组".into())),
        };
        if listed.len() > MAX_TRADES {
            return Err(FieldError(format!("data.trades 最多 {MAX_TRADES} 笔，收到 {}", listed.len())));
        }
        for (i, t) in listed.iter().enumerate() {
            let Value::Object(item) = t else { return Err(FieldError(format!("data.trades[{i}] 必须是对象"))) };
            let g = Fields::new(item);
            let at = |e: FieldError| FieldError(e.0.replacen("data.", &format!("data.trades[{i}]."), 1));
            trades.push(Trade {
                trade_no: g.text(&["trade_no"], 64).map_err(at)?,
                order_id: g.opt_text(&["order_id"], 48).map_err(at)?.unwrap_or_default(),
                query_order_no: g.opt_text(&["query_order_no"], 48).map_err(at)?.unwrap_or_default(),
                money: g.opt_yuan(&["money"]).map_err(at)?.ok_or_else(|| at(FieldError("缺少 data.money".into())))?,
                refund: g.opt_yuan(&["refund"]).map_err(at)?.unwrap_or(0),
                pay_time: g.opt_int(&["pay_time"]).map_err(at)?.unwrap_or(0),
            });
        }
        Ok(Request {
            date,
            count,
            total: f.opt_yuan(&["total"])?.ok_or_else(|| FieldError("缺少 data.total".into()))?,
            trades,
            truncated: f.opt_int(&["truncated"])? == Some(1),
            random_str: f.opt_text(&["random_str"], 64)?.unwrap_or_default(),
        })
    }
}

/// The cloud's side of the day.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Answer {
    pub count: i64,
    /// Fen, net of refunds.
    pub total: i64,
    pub lot_only: Vec<String>,
    pub cloud_only: Vec<String>,
    pub amount: Vec<String>,
}

impl Answer {
    /// Compares the lot's trades with the cloud's (trade_no, paid, refunded).
    pub fn compare(r: &Request, cloud: &[(String, i64, i64)]) -> Answer {
        let mut a = Answer {
            count: cloud.len() as i64,
            total: cloud.iter().map(|(_, paid, back)| paid - back).sum(),
            ..Answer::default()
        };
        if !r.truncated {
            for t in &r.trades {
                match cloud.iter().find(|(no, _, _)| *no == t.trade_no) {
                    None => a.lot_only.push(t.trade_no.clone()),
                    Some((_, paid, back)) if (*paid, *back) != (t.money, t.refund) => a.amount.push(t.trade_no.clone()),
                    Some(_) => {}
                }
            }
            for (no, _, _) in cloud {
                if !r.trades.iter().any(|t| t.trade_no == *no) {
                    a.cloud_only.push(no.clone());
                }
            }
        }
        a
    }

    pub fn balanced(&self, r: &Request) -> bool {
        self.count == r.count
            && self.total == r.total
            && self.lot_only.is_empty()
            && self.cloud_only.is_empty()
            && self.amount.is_empty()
    }

    pub fn reply(&self, park_id: &str, r: &Request) -> crate::Reply {
        crate::Reply::ok(SERVICE)
            .with("errmsg", if self.balanced(r) { "对账一致" } else { "对账不一致" })
            .with("park_id", park_id)
            .with("date", format_date(r.date))
            .with("random_str", r.random_str.as_str())
            .with("balanced", i64::from(self.balanced(r)))
            .with("count", self.count)
            .with("total", yuan_number(self.total))
            .with("lot_only", self.lot_only.clone())
            .with("cloud_only", self.cloud_only.clone())
            .with("amount", self.amount.clone())
    }

    pub fn read(reply: &Map<String, Value>) -> Result<Answer, FieldError> {
        let f = crate::fields::succeeded(reply)?;
        let list = |name: &str| crate::fields::strings(reply, name);
        Ok(Answer {
            count: f.opt_int(&["count"])?.unwrap_or(0),
            total: f.opt_yuan(&["total"])?.unwrap_or(0),
            lot_only: list("lot_only"),
            cloud_only: list("cloud_only"),
            amount: list("amount"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::Envelope;

    fn trade(no: &str, money: i64, refund: i64) -> Trade {
        Trade {
            trade_no: no.into(),
            order_id: "O".into(),
            query_order_no: "1".into(),
            money,
            refund,
            pay_time: 1_796_000_000,
        }
    }

    #[test]
    fn a_day_round_trips_and_every_difference_is_named() {
        let date = parse_date("2026-12-03").expect("date");
        let r = Request::new(date, vec![trade("A", 600, 0), trade("B", 350, 350), trade("C", 100, 0)], "x".into());
        assert_eq!((r.count, r.total), (3, 700));
        let e = Envelope::parse(Envelope::build(SERVICE, Some("t"), &r.to_data(), "k").as_bytes()).expect("parses");
        assert_eq!(Request::read(&e.data, &e.fields()), Ok(r.clone()));
        let cloud = [("A".to_owned(), 600, 0), ("B".to_owned(), 350, 0), ("D".to_owned(), 200, 0)];
        let a = Answer::compare(&r, &cloud);
        assert_eq!(
            (a.lot_only.clone(), a.cloud_only.clone(), a.amount.clone()),
            (vec!["C".to_owned()], vec!["D".to_owned()], vec!["B".to_owned()])
        );
        assert!(!a.balanced(&r));
        let reply: Value = serde_json::from_str(&a.reply("21835", &r).to_json()).expect("json");
        let read = Answer::read(reply.as_object().expect("object")).expect("reads");
        assert_eq!(read, a);
        let same = [("A".to_owned(), 600, 0), ("B".to_owned(), 350, 350), ("C".to_owned(), 100, 0)];
        assert!(Answer::compare(&r, &same).balanced(&r));
    }

    #[test]
    fn a_bad_trade_is_named_by_its_place() {
        let data = json!({ "date": "2026-12-03", "count": 1, "total": "1", "trades": [{ "trade_no": "A", "money": "1.001" }] });
        let map = data.as_object().expect("object").clone();
        let err = Request::read(&map, &Fields::new(&map)).expect_err("refused");
        assert!(err.0.contains("data.trades[0].money"), "{}", err.0);
    }
}
