//! More of what a charging system asks the cloud (§二), answered from the
//! city's records. 2.28 `query_prepay_card_balance` has the vendor's fields
//! (KC/869419); the rest have titles only in every source and are designed
//! in the style of 2.28 and 2.33 (`random_str` echoed, money as yuan text,
//! times Unix seconds):
//!
//! | TOC | service_name | asks | answers |
//! |---|---|---|---|
//! | 2.18 | `query_qr_url` | `channel_id`, `type` `in`/`out` | `qr_url`: the lane's code for drivers |
//! | 2.20 | `query_in_park_order` | `car_number` | `count`, `order_list` (as 2.41) |
//! | 2.21 | `query_booth_orders` | `user_id` | `url`: the lot's transactions on the dashboard |
//! | 2.24 | `query_month_card` | `car_number` | `count`, `vip_list` (2.33's items) |
//! | 2.28 | `query_prepay_card_balance` | `card_id`, `car_number` | `card_id`, `balance` |
//! | 2.42 | `query_city_car` | `car_number`, `channel_id` | `allow`, `black`, `white`, `owe_count`, `owe_money`, `reason` |
//! | 2.43 | `query_screen_text` | `channel_id`, `car_number` | `lines` (what the lane's screen shows), `qr_url` |

use crate::envelope::Envelope;
use crate::fields::FieldError;

pub const QR_URL: &str = "query_qr_url";
pub const IN_PARK_ORDER: &str = "query_in_park_order";
pub const BOOTH_ORDERS: &str = "query_booth_orders";
pub const MONTH_CARD: &str = "query_month_card";
pub const CARD_BALANCE: &str = "query_prepay_card_balance";
pub const CITY_CAR: &str = "query_city_car";
pub const SCREEN: &str = "query_screen_text";

/// Every lookup this module reads.
pub const ALL: [&str; 7] = [QR_URL, IN_PARK_ORDER, BOOTH_ORDERS, MONTH_CARD, CARD_BALANCE, CITY_CAR, SCREEN];

/// A lookup's question, its fields read for the service asked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lookup {
    pub service: String,
    pub random_str: String,
    pub car_number: Option<String>,
    pub channel_id: Option<String>,
    pub card_id: Option<String>,
    /// 2.18: the exit's code (`out`, the default) or the entrance's (`in`).
    pub entrance: bool,
}

impl Lookup {
    pub fn read(e: &Envelope) -> Result<Lookup, FieldError> {
        let f = e.fields();
        let service = e.service_name.clone();
        let need_plate = matches!(service.as_str(), IN_PARK_ORDER | MONTH_CARD | CARD_BALANCE | CITY_CAR);
        let need_lane = matches!(service.as_str(), QR_URL | SCREEN);
        let car_number = if need_plate { Some(f.text(&["car_number", "car_numner"], 16)?) } else { None };
        let channel_id = if need_lane { Some(f.text(&["channel_id"], 16)?) } else { f.opt_text(&["channel_id"], 16)? };
        let card_id = if service == CARD_BALANCE { Some(f.text(&["card_id"], 64)?) } else { None };
        let entrance = match f.opt_text(&["type"], 8)?.as_deref() {
            None | Some("out") => false,
            Some("in") => true,
            Some(other) => return Err(FieldError(format!("data.type 须为 in 或 out，收到 {other}"))),
        };
        Ok(Lookup {
            random_str: f.opt_text(&["random_str"], 64)?.unwrap_or_default(),
            car_number: car_number.or(f.opt_text(&["car_number"], 16)?),
            channel_id,
            card_id,
            entrance,
            service,
        })
    }

    /// An answer with the question's echo.
    pub fn reply(&self) -> crate::Reply {
        let mut r = crate::Reply::ok(&self.service).with("random_str", self.random_str.as_str());
        if let Some(plate) = &self.car_number {
            r = r.with("car_number", plate.as_str());
        }
        if let Some(lane) = &self.channel_id {
            r = r.with("channel_id", lane.as_str());
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn envelope(service: &str, data: serde_json::Value) -> Envelope {
        Envelope::parse(Envelope::build(service, Some("t"), &data, "k").as_bytes()).expect("parses")
    }

    #[test]
    fn each_lookup_names_what_it_lacks() {
        let e = envelope(CITY_CAR, json!({ "random_str": "r" }));
        assert!(Lookup::read(&e).expect_err("refused").0.contains("car_number"));
        let e = envelope(QR_URL, json!({ "type": "in" }));
        assert!(Lookup::read(&e).expect_err("refused").0.contains("channel_id"));
        let e = envelope(QR_URL, json!({ "channel_id": "A1", "type": "up" }));
        assert!(Lookup::read(&e).expect_err("refused").0.contains("type"));
        let e = envelope(CARD_BALANCE, json!({ "car_number": "鲁B12345", "random_str": "r" }));
        assert!(Lookup::read(&e).expect_err("refused").0.contains("card_id"));
        let e = envelope(QR_URL, json!({ "channel_id": "A1", "type": "in", "random_str": "r" }));
        let q = Lookup::read(&e).expect("reads");
        assert!(q.entrance && q.channel_id.as_deref() == Some("A1"));
    }
}
