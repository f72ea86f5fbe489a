//! Typed messages with the vendor's spellings (seeds 002/003 and the
//! vendor's pages): `login` (`park_id`, `local_id`, `set_params`), 2.1
//! `in_park`, 2.2 `out_park`, 2.3 `upload_order` (the full order record).
//! Times are Unix seconds; money is yuan on the wire, fen here.

use serde_json::Value;

use crate::envelope::Envelope;
use crate::fields::FieldError;

/// `login`: the first message of a connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Login {
    pub park_id: String,
    /// The charging system within the lot (several may run), and its lanes
    /// when it is `xxx_channels_A1_A2`.
    pub local_id: Option<String>,
    pub union_id: Option<String>,
    /// `set_params.receive_cloud` (0/1).
    pub receive_cloud: bool,
}

impl Login {
    pub fn read(e: &Envelope) -> Result<Login, FieldError> {
        let f = e.fields();
        let receive_cloud = e
            .data
            .get("set_params")
            .and_then(|p| p.get("receive_cloud"))
            .is_some_and(|v| v.as_i64() == Some(1) || v.as_str().is_some_and(|s| s.trim() == "1"));
        Ok(Login {
            park_id: f.text(&["park_id"], 24)?,
            local_id: f.opt_text(&["local_id"], 196)?,
            union_id: f.opt_text(&["union_id"], 15)?,
            receive_cloud,
        })
    }

    /// The connection's key: `park_id` or `park_id_local_id`, as the vendor's server keys it.
    pub fn connection(&self) -> String {
        match &self.local_id {
            Some(l) => format!("{}_{l}", self.park_id),
            None => self.park_id.clone(),
        }
    }
}

/// 2.1 `in_park`: a car entered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InPark {
    pub car_number: String,
    /// Unix seconds.
    pub in_time: i64,
    pub car_type: Option<String>,
    pub c_type: Option<String>,
    pub uid: Option<String>,
    /// Unique per stay (`[0-9A-Za-z_]`, ≤ 48).
    pub order_id: String,
    pub empty_plot: Option<i64>,
    pub in_channel_id: Option<String>,
    pub work_station_uuid: Option<String>,
    pub remark: Option<String>,
    pub force_update: bool,
    pub car_cost_type: Option<i64>,
    /// 0 blue, 1 yellow, 2 white, 3 black, 4 new-energy, 5 yellow-green, 6 gradient, 7 other.
    pub license_color: Option<i64>,
}

fn order_id(e: &Envelope) -> Result<String, FieldError> {
    let id = e.fields().text(&["order_id"], 48)?;
    if !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
        return Err(FieldError(format!("data.order_id 只能含字母、数字和 _，收到 {id}")));
    }
    Ok(id)
}

impl InPark {
    pub fn read(e: &Envelope) -> Result<InPark, FieldError> {
        let f = e.fields();
        Ok(InPark {
            car_number: f.text(&["car_number", "car_numner"], 16)?,
            in_time: f.unix(&["in_time"])?,
            car_type: f.opt_text(&["car_type"], 12)?,
            c_type: f.opt_text(&["c_type"], 12)?,
            uid: f.opt_text(&["uid"], 24)?,
            order_id: order_id(e)?,
            empty_plot: f.opt_int(&["empty_plot"])?,
            in_channel_id: f.opt_text(&["in_channel_id"], 24)?,
            work_station_uuid: f.opt_text(&["work_station_uuid"], 24)?,
            remark: f.opt_text(&["remark"], 100)?,
            force_update: f.opt_int(&["force_update"])? == Some(1),
            car_cost_type: f.opt_int(&["car_cost_type"])?,
            license_color: f.opt_int(&["license_color"])?,
        })
    }
}

/// 2.2 `out_park` and 2.3 `upload_order`: a stay's end and its money.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutPark {
    pub car_number: String,
    pub in_time: i64,
    pub out_time: i64,
    pub order_id: String,
    pub uid: Option<String>,
    pub out_uid: Option<String>,
    /// Minutes.
    pub duration: Option<i64>,
    /// `cash`, `wallet`, `sweepcode`, `scancode`, `monthuser`, `free`, `etc_pay`…
    pub pay_type: Option<String>,
    pub empty_plot: Option<i64>,
    /// Fen: what is still to pay now, without prepaid and discounted parts.
    pub total: i64,
    pub amount_receivable: Option<i64>,
    pub reduce_amount: Option<i64>,
    pub electronic_prepay: Option<i64>,
    pub electronic_pay: Option<i64>,
    pub cash_prepay: Option<i64>,
    pub cash_pay: Option<i64>,
    pub in_channel_id: Option<String>,
    pub out_channel_id: Option<String>,
    pub car_type: Option<String>,
    pub out_type: Option<String>,
}

impl OutPark {
    pub fn read(e: &Envelope) -> Result<OutPark, FieldError> {
        let f = e.fields();
        let out = OutPark {
            car_number: f.text(&["car_number", "car_numner"], 16)?,
            in_time: f.unix(&["in_time"])?,
            out_time: f.unix(&["out_time"])?,
            order_id: order_id(e)?,
            uid: f.opt_text(&["uid"], 24)?,
            out_uid: f.opt_text(&["out_uid"], 24)?,
            duration: f.opt_int(&["duration"])?,
            pay_type: f.opt_text(&["pay_type"], 12)?,
            empty_plot: f.opt_int(&["empty_plot"])?,
            total: f.opt_yuan(&["total"])?.unwrap_or(0),
            amount_receivable: f.opt_yuan(&["amount_receivable"])?,
            reduce_amount: f.opt_yuan(&["reduce_amount"])?,
            electronic_prepay: f.opt_yuan(&["electronic_prepay"])?,
            electronic_pay: f.opt_yuan(&["electronic_pay"])?,
            cash_prepay: f.opt_yuan(&["cash_prepay"])?,
            cash_pay: f.opt_yuan(&["cash_pay"])?,
            in_channel_id: f.opt_text(&["in_channel_id"], 24)?,
            out_channel_id: f.opt_text(&["out_channel_id"], 24)?,
            car_type: f.opt_text(&["car_type"], 12)?,
            out_type: f.opt_text(&["out_type"], 12)?,
        };
        if out.out_time < out.in_time {
            return Err(FieldError("data.out_time 早于 in_time".into()));
        }
        Ok(out)
    }

    /// What the stay came to, fen: the receivable when given, else what was paid and is due.
    pub fn charged(&self) -> i64 {
        self.amount_receivable.unwrap_or_else(|| {
            [
                self.total,
                self.electronic_prepay.unwrap_or(0),
                self.cash_prepay.unwrap_or(0),
                self.reduce_amount.unwrap_or(0),
            ]
            .iter()
            .fold(0i64, |a, b| a.saturating_add(*b))
        })
    }
}

/// The reply to a stay's message: `{service_name, state, order_id, errmsg?}`.
pub fn stay_reply(service_name: &str, order_id: &str, refusal: Option<&str>) -> crate::Reply {
    match refusal {
        None => crate::Reply::ok(service_name).with("order_id", order_id),
        Some(why) => crate::Reply::refused(service_name, why).with("order_id", order_id),
    }
}

/// Whether a service is one whose exact resends the cloud drops (2.1, 2.2, 2.3).
pub fn deduplicated(service_name: &str) -> bool {
    matches!(service_name, "in_park" | "out_park" | "upload_order" | "inpark" | "outpark")
}

/// The value of a field echoed in a duplicate's reply.
pub fn echo(e: &Envelope, name: &str) -> Value {
    e.data.get(name).cloned().unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn envelope(service: &str, data: Value) -> Envelope {
        Envelope::parse(Envelope::build(service, Some("t"), &data, "k").as_bytes()).expect("parses")
    }

    #[test]
    fn the_vendors_fields() {
        let e = envelope(
            "in_park",
            json!({ "car_numner": "京A12345", "in_time": "1796371200", "car_type": "小车",
            "c_type": "通道扫牌", "uid": "u1", "order_id": "A_1", "empty_plot": "12", "in_channel_id": "A1", "license_color": 4 }),
        );
        let i = InPark::read(&e).expect("reads");
        assert_eq!(
            (i.car_number.as_str(), i.in_time, i.empty_plot, i.license_color),
            ("京A12345", 1_796_371_200, Some(12), Some(4))
        );
        let e = envelope(
            "out_park",
            json!({ "car_number": "京A12345", "in_time": 1_796_371_200, "out_time": 1_796_378_400,
            "order_id": "A_1", "pay_type": "cash", "total": "6.5", "cash_pay": 6.5, "electronic_prepay": "3.00", "reduce_amount": "0.50" }),
        );
        let o = OutPark::read(&e).expect("reads");
        assert_eq!((o.total, o.cash_pay, o.charged()), (650, Some(650), 1000));
        let bad = envelope(
            "out_park",
            json!({ "car_number": "京A1", "in_time": 1_796_378_400, "out_time": 1_796_371_200, "order_id": "x" }),
        );
        assert!(OutPark::read(&bad).expect_err("backwards").0.contains("out_time"));
        let bad = envelope("in_park", json!({ "car_number": "京A1", "in_time": 1_796_371_200, "order_id": "a b" }));
        assert!(InPark::read(&bad).expect_err("id").0.contains("order_id"));
    }

    #[test]
    fn logins_key_their_connection() {
        let e = envelope(
            "login",
            json!({ "park_id": "21835", "local_id": "aaa001_channels_A1_A2", "set_params": { "receive_cloud": "1" } }),
        );
        let l = Login::read(&e).expect("reads");
        assert_eq!(l.connection(), "21835_aaa001_channels_A1_A2");
        assert!(l.receive_cloud);
    }
}
