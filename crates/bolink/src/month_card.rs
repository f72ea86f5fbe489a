//! 2.33 `query_month_card_page` (seed 002, the vendor's KC/1326210): the
//! charging system pages through the cloud's month cards, `rp` ≤ 100 a page,
//! `count` the total matching (it derives the pages), `random_str` echoed;
//! `car_number` / `card_id` filter, `""` meaning all. The response table
//! spells an item's plate `car_numner`; the example and every other table
//! say `car_number`, which is what onepark sends (and reads either).

use serde_json::{Map, Value, json};

use crate::envelope::Envelope;
use crate::fields::{FieldError, Fields};

pub const SERVICE: &str = "query_month_card_page";
/// The largest page (`rp`).
pub const MAX_RP: i64 = 100;

/// The query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Query {
    /// `None`: every plate.
    pub car_number: Option<String>,
    /// `None`: every card.
    pub card_id: Option<String>,
    pub random_str: String,
    /// 1-based.
    pub page: i64,
    pub rp: i64,
}

impl Query {
    pub fn read(e: &Envelope) -> Result<Query, FieldError> {
        let f = e.fields();
        let page = f.opt_int(&["page"])?.unwrap_or(1);
        let rp = f.int(&["rp"])?;
        if page < 1 {
            return Err(FieldError(format!("data.page 从 1 开始，收到 {page}")));
        }
        if !(1..=MAX_RP).contains(&rp) {
            return Err(FieldError(format!("data.rp 必须在 1 至 {MAX_RP} 之间，收到 {rp}")));
        }
        Ok(Query {
            car_number: f.opt_text(&["car_number", "car_numner"], 64)?,
            card_id: f.opt_text(&["card_id"], 64)?,
            random_str: f.opt_text(&["random_str"], 64)?.unwrap_or_default(),
            page,
            rp,
        })
    }

    /// The request's `data` as the charging system sends it.
    pub fn to_data(&self) -> Value {
        json!({
            "service_name": SERVICE,
            "data_target": "cloud",
            "car_number": self.car_number.clone().unwrap_or_default(),
            "card_id": self.card_id.clone().unwrap_or_default(),
            "random_str": self.random_str,
            "page": self.page,
            "rp": self.rp,
        })
    }

    /// Rows to skip for this page.
    pub fn offset(&self) -> i64 {
        (self.page - 1).saturating_mul(self.rp)
    }
}

/// One card of `vip_list` (money in fen here, yuan on the wire).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Card {
    pub card_id: String,
    /// Several plates are separated by commas.
    pub car_number: String,
    pub name: String,
    pub create_time: Option<i64>,
    pub begin_time: Option<i64>,
    pub end_time: i64,
    pub p_lot: Option<String>,
    pub remark: Option<String>,
    pub price: i64,
    pub tel: Option<String>,
    pub limit_day_type: i64,
    /// Lanes the card may use, comma-separated; empty: every lane.
    pub channel_id: String,
    pub address: String,
}

impl Card {
    pub fn to_value(&self) -> Value {
        let mut m = Map::new();
        m.insert("card_id".into(), Value::from(self.card_id.as_str()));
        m.insert("car_number".into(), Value::from(self.car_number.as_str()));
        m.insert("name".into(), Value::from(self.name.as_str()));
        if let Some(t) = self.create_time {
            m.insert("create_time".into(), Value::from(t));
        }
        if let Some(t) = self.begin_time {
            m.insert("begin_time".into(), Value::from(t));
        }
        m.insert("end_time".into(), Value::from(self.end_time));
        m.insert("p_lot".into(), Value::from(self.p_lot.clone().unwrap_or_default()));
        m.insert("remark".into(), Value::from(self.remark.clone().unwrap_or_default()));
        m.insert("price".into(), yuan_number(self.price));
        m.insert("tel".into(), Value::from(self.tel.clone().unwrap_or_default()));
        m.insert("limit_day_type".into(), Value::from(self.limit_day_type));
        m.insert("channel_id".into(), Value::from(self.channel_id.as_str()));
        m.insert("address".into(), Value::from(self.address.as_str()));
        Value::Object(m)
    }

    /// An item of a response, as the vendor's examples write them (fields
    /// missing, numbers as strings, the table's `car_numner`).
    pub fn read(item: &Map<String, Value>) -> Result<Card, FieldError> {
        let f = Fields::new(item);
        Ok(Card {
            card_id: f.text(&["card_id"], 64)?,
            car_number: f.opt_text(&["car_number", "car_numner"], 200)?.unwrap_or_default(),
            name: f.opt_text(&["name"], 64)?.unwrap_or_default(),
            create_time: f.opt_int(&["create_time"])?,
            begin_time: f.opt_int(&["begin_time"])?,
            end_time: f.int(&["end_time"])?,
            p_lot: f.opt_text(&["p_lot"], 64)?,
            remark: f.opt_text(&["remark"], 200)?,
            price: f.opt_yuan(&["price"])?.unwrap_or(0),
            tel: f.opt_text(&["tel"], 32)?,
            limit_day_type: f.opt_int(&["limit_day_type"])?.unwrap_or(0),
            channel_id: f.opt_text(&["channel_id"], 200)?.unwrap_or_default(),
            address: f.opt_text(&["address"], 200)?.unwrap_or_default(),
        })
    }

    /// Its plates, split and trimmed.
    pub fn plates(&self) -> Vec<String> {
        split(&self.car_number)
    }

    /// Its lanes, split and trimmed (empty: every lane).
    pub fn channels(&self) -> Vec<String> {
        split(&self.channel_id)
    }
}

/// Fen as the JSON number of its yuan (`15050` → `150.5`). The number is
/// parsed from the exact decimal text; serde_json writes back the shortest
/// text that reads as the same number, which for two decimals within the
/// money range is that decimal (the property test below checks every
/// shape), so the wire carries exact yuan although `Value` holds an f64.
pub fn yuan_number(fen: i64) -> Value {
    serde_json::from_str::<Value>(&onepark_domain::money::yuan(fen)).unwrap_or(Value::from(0))
}

fn split(list: &str) -> Vec<String> {
    list.split([',', '，']).map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

/// The answer: `count` matching in all, this page's cards.
pub fn reply(park_id: &str, q: &Query, count: i64, cards: &[Card]) -> crate::Reply {
    crate::Reply::ok(SERVICE)
        .with("errmsg", "查询成功")
        .with("park_id", park_id)
        .with("count", count)
        .with("page", q.page)
        .with("random_str", q.random_str.as_str())
        .with("vip_list", Value::Array(cards.iter().map(Card::to_value).collect()))
}

/// A response as the charging system reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page {
    pub count: i64,
    pub page: i64,
    pub random_str: String,
    pub cards: Vec<Card>,
}

impl Page {
    /// `Err` carries the cloud's errmsg (`state` 0) or the field that failed.
    pub fn read(reply: &Map<String, Value>) -> Result<Page, FieldError> {
        let f = Fields::new(reply);
        if f.opt_int(&["state"])? != Some(1) {
            let why = f.opt_text(&["errmsg"], 500)?.unwrap_or_else(|| "state 0".into());
            return Err(FieldError(why));
        }
        let cards = match reply.get("vip_list") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    let item = item.as_object().ok_or_else(|| FieldError(format!("vip_list[{i}] 不是对象")))?;
                    Card::read(item).map_err(|e| FieldError(format!("vip_list[{i}]: {e}")))
                })
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(FieldError("vip_list 必须是数组".into())),
        };
        Ok(Page {
            count: f.opt_int(&["count"])?.unwrap_or(0),
            page: f.opt_int(&["page"])?.unwrap_or(1),
            random_str: f.opt_text(&["random_str"], 64)?.unwrap_or_default(),
            cards,
        })
    }
}

/// 2.10 `upload_month_member`: a member card the charging system made,
/// changed (`operate_type` 1, 2) or deleted (3), with 2.33's item fields.
pub const MEMBER: &str = "upload_month_member";

pub fn read_member(e: &Envelope) -> Result<(crate::codes::OperateType, Card), FieldError> {
    let f = e.fields();
    let code = f.int(&["operate_type"])?;
    let op = crate::codes::OperateType::from_code(code)
        .ok_or_else(|| FieldError(format!("data.operate_type 必须是 1、2 或 3，收到 {code}")))?;
    let card = Card::read(&e.data)?;
    if card.plates().is_empty() && op != crate::codes::OperateType::Delete {
        return Err(FieldError("缺少 data.car_number".into()));
    }
    Ok((op, card))
}

/// Pages to ask for `count` cards at `rp` a page (the seed's rule).
pub fn pages(count: i64, rp: i64) -> i64 {
    if count <= 0 || rp <= 0 { 0 } else { (count + rp - 1) / rp }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn yuan_numbers_are_exact(fen in 0i64..=onepark_domain::money::MAX_FEN) {
            let text = yuan_number(fen).to_string();
            prop_assert_eq!(onepark_domain::money::parse_yuan(&text), Ok(fen), "{}", text);
        }
    }

    #[test]
    fn the_seeds_example_response_reads() {
        let text = r#"{"vip_list":[{"address":"","create_time":1569486463,"end_time":1572537600,"limit_day_type":0,"begin_time":1569859200,
         "pid":911,"remark":"公众号注册","card_id":"1647933","p_lot":"","price":0.00,"car_number":"京DTTTTTD",
         "name":"1","tel":"","channel_id":""},
        {"create_time":1569485568,"price":0.00,"car_number":"京DTTTTTD,京DTTTTTE","end_time":1572077553,
         "limit_day_type":0,"name":"多啦A梦","begin_time":1569485553,"pid":1120,"remark":"公众号注册",
         "tel":"15010001111","card_id":"1647725"},
        {"car_type_id":7859,"create_time":1565833480,"p_lot":"1s","price":15.00,"car_numner":"京DTTTTTD",
         "end_time":1571389251,"limit_day_type":0,"name":"姓名","begin_time":1565833480,"tel":"15010001111",
         "channel_id":"A11","card_id":"118627aA1京"}],
         "service_name":"query_month_card_page","park_id":"test001","count":5,"errmsg":"查询成功!","state":1,"page":1,"random_str":"2019"}"#;
        let map: Map<String, Value> = serde_json::from_str(text).expect("json");
        let page = Page::read(&map).expect("reads");
        assert_eq!((page.count, page.page, page.random_str.as_str(), page.cards.len()), (5, 1, "2019", 3));
        assert_eq!(page.cards[1].plates(), ["京DTTTTTD", "京DTTTTTE"]);
        assert_eq!((page.cards[2].price, page.cards[2].car_number.as_str()), (1500, "京DTTTTTD"), "car_numner read");
        assert_eq!(page.cards[2].card_id, "118627aA1京");
        assert_eq!(pages(5, 3), 2);
        assert_eq!(pages(250, 100), 3);
        assert_eq!(pages(0, 100), 0);
    }

    #[test]
    fn the_seeds_example_request_reads_and_bad_pages_are_refused() {
        let line = crate::Envelope::build(
            SERVICE,
            Some("t"),
            &json!({"service_name": "query_month_card_page", "data_target": "cloud", "random_str": "2019", "card_id": "", "car_number": "京DTTTTTD", "page": 1, "rp": 3}),
            "k",
        );
        let e = crate::Envelope::parse(line.as_bytes()).expect("parses");
        let q = Query::read(&e).expect("reads");
        assert_eq!((q.car_number.as_deref(), q.card_id.as_deref(), q.page, q.rp), (Some("京DTTTTTD"), None, 1, 3));
        for (data, field) in [
            (json!({"rp": 101}), "data.rp"),
            (json!({"rp": 0}), "data.rp"),
            (json!({"rp": 10, "page": 0}), "data.page"),
            (json!({}), "data.rp"),
        ] {
            let e = crate::Envelope::parse(crate::Envelope::build(SERVICE, Some("t"), &data, "k").as_bytes())
                .expect("parses");
            assert!(Query::read(&e).expect_err("refused").0.contains(field), "{data}");
        }
        let card = Card {
            card_id: "c1".into(),
            car_number: "鲁B12345".into(),
            name: "张三".into(),
            create_time: None,
            begin_time: Some(1),
            end_time: 2,
            p_lot: None,
            remark: None,
            price: 15050,
            tel: None,
            limit_day_type: 0,
            channel_id: String::new(),
            address: String::new(),
        };
        let text = reply("P1", &q, 1, std::slice::from_ref(&card)).to_json();
        assert!(text.contains(r#""price":150.50"#) || text.contains(r#""price":150.5"#), "{text}");
        let back = Page::read(&serde_json::from_str(&text).expect("json")).expect("reads back");
        assert_eq!((back.cards[0].price, back.random_str.as_str()), (15050, "2019"));
    }
}
