//! 2.23 云平台对账接口 (cloud reconciliation), designed: the seeds and the
//! vendor's pages give only its title, so this message follows its
//! detailed neighbours (snake_case, `data_target`, `random_str` echoed, an
//! answer the charging system acts on). The lot reports a day's counts of
//! entries and exits (`in_count`, `out_count`); the cloud answers its own
//! counts (and, for information, the orders with money it holds and their
//! total in yuan), which counts differ (`mismatch`), and for each differing
//! kind the `order_id`s it holds (`in_orders`, `out_orders`, at most
//! [`MAX_IDS`] each, `truncated` 1 beyond), so the lot sends again exactly
//! what the cloud lacks.

use onepark_domain::time::{format_date, parse_date};
use serde_json::{Map, Value, json};

use crate::envelope::Envelope;
use crate::fields::{FieldError, Fields};

pub const SERVICE: &str = "day_reconciliation";
/// The most order ids an answer lists per kind.
pub const MAX_IDS: usize = 10_000;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub date: chrono::NaiveDate,
    pub in_count: i64,
    pub out_count: i64,
    pub random_str: String,
}

fn date(f: &Fields, name: &'static str) -> Result<chrono::NaiveDate, FieldError> {
    let text = f.text(&[name], 10)?;
    parse_date(&text).map_err(|_| FieldError(format!("data.{name} 必须是 yyyy-MM-dd，收到 {text}")))
}

fn count(f: &Fields, name: &'static str) -> Result<i64, FieldError> {
    let n = f.int(&[name])?;
    if n < 0 {
        return Err(FieldError(format!("data.{name} 不能为负数")));
    }
    Ok(n)
}

impl Request {
    pub fn read(e: &Envelope) -> Result<Request, FieldError> {
        let f = e.fields();
        Ok(Request {
            date: date(&f, "date")?,
            in_count: count(&f, "in_count")?,
            out_count: count(&f, "out_count")?,
            random_str: f.opt_text(&["random_str"], 64)?.unwrap_or_default(),
        })
    }

    pub fn to_data(&self) -> Value {
        json!({ "service_name": SERVICE, "data_target": "cloud", "date": format_date(self.date),
            "in_count": self.in_count, "out_count": self.out_count, "random_str": self.random_str })
    }
}

/// The cloud's side of a day.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Answer {
    pub in_count: i64,
    pub out_count: i64,
    pub order_count: i64,
    /// Fen.
    pub order_total: i64,
    /// `in_count`, `out_count`: the counts that differ from the lot's.
    pub mismatch: Vec<String>,
    pub in_orders: Vec<String>,
    pub out_orders: Vec<String>,
    pub truncated: bool,
}

impl Answer {
    pub fn reply(&self, park_id: &str, r: &Request) -> crate::Reply {
        crate::Reply::ok(SERVICE)
            .with("errmsg", if self.mismatch.is_empty() { "对账一致" } else { "对账不一致" })
            .with("park_id", park_id)
            .with("date", format_date(r.date))
            .with("random_str", r.random_str.as_str())
            .with("in_count", self.in_count)
            .with("out_count", self.out_count)
            .with("order_count", self.order_count)
            .with("order_total", crate::month_card::yuan_number(self.order_total))
            .with("mismatch", self.mismatch.clone())
            .with("in_orders", self.in_orders.clone())
            .with("out_orders", self.out_orders.clone())
            .with("truncated", i64::from(self.truncated))
    }

    pub fn read(reply: &Map<String, Value>) -> Result<Answer, FieldError> {
        let f = crate::fields::succeeded(reply)?;
        let list = |name: &str| crate::fields::strings(reply, name);
        Ok(Answer {
            in_count: f.opt_int(&["in_count"])?.unwrap_or(0),
            out_count: f.opt_int(&["out_count"])?.unwrap_or(0),
            order_count: f.opt_int(&["order_count"])?.unwrap_or(0),
            order_total: f.opt_yuan(&["order_total"])?.unwrap_or(0),
            mismatch: list("mismatch"),
            in_orders: list("in_orders"),
            out_orders: list("out_orders"),
            truncated: f.opt_int(&["truncated"])? == Some(1),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_round_trips_and_bad_counts_are_named() {
        let r = Request {
            date: parse_date("2026-12-03").expect("date"),
            in_count: 3,
            out_count: 2,
            random_str: "x".into(),
        };
        let e = Envelope::parse(Envelope::build(SERVICE, Some("t"), &r.to_data(), "k").as_bytes()).expect("parses");
        assert_eq!(Request::read(&e), Ok(r.clone()));
        let a = Answer {
            in_count: 3,
            out_count: 1,
            order_count: 1,
            order_total: 650,
            mismatch: vec!["out_count".into()],
            in_orders: vec![],
            out_orders: vec!["O1".into()],
            truncated: false,
        };
        let back = Answer::read(&serde_json::from_str(&a.reply("P", &r).to_json()).expect("json")).expect("reads");
        assert_eq!(back, a);
        let bad = Envelope::parse(
            Envelope::build(SERVICE, Some("t"), &json!({ "date": "2026-13-01", "in_count": 1, "out_count": 1 }), "k")
                .as_bytes(),
        )
        .expect("parses");
        assert!(Request::read(&bad).expect_err("date").0.contains("data.date"));
        let bad = Envelope::parse(
            Envelope::build(SERVICE, Some("t"), &json!({ "date": "2026-12-01", "in_count": -1, "out_count": 1 }), "k")
                .as_bytes(),
        )
        .expect("parses");
        assert!(Request::read(&bad).expect_err("count").0.contains("data.in_count"));
    }
}
