//! 3.3 `nolicence_in_park` (seed 003): a driver without a readable plate
//! scans the entrance lane's QR code; the cloud sends the lot the user's
//! identity as `car_number` (a pseudo-plate, which the lot may mark with
//! `无` or `临` but never truncates), the lot makes an order with it, raises
//! the barrier, answers `state` 1 (0 with `errmsg`, 2 pending) and uploads
//! the entry (2.1). The request goes to the charging system flat, as the
//! SDK's callback and the HTTP mode's download give it
//! (`{"service_name":"nolicence_in_park","park_id",…}`); the answer comes
//! back through `uploadData`, an envelope whose `data` carries
//! `data_target` `bolink`, `state`, `errmsg`, `car_number`, `timetemp`.

use serde_json::{Map, Value, json};

use crate::envelope::Envelope;
use crate::fields::{FieldError, Fields};

pub const SERVICE: &str = "nolicence_in_park";

/// The cloud's request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub park_id: String,
    /// The user's identity (a pseudo-plate, 7 characters from onepark).
    pub car_number: String,
    pub channel_id: String,
    /// Unix seconds.
    pub timetemp: i64,
    /// The WeChat openID / Alipay buyer id, when the scan had one.
    pub pay_user_id: Option<String>,
}

impl Request {
    pub fn to_json(&self) -> String {
        let mut v = json!({
            "service_name": SERVICE,
            "park_id": self.park_id,
            "car_number": self.car_number,
            "channel_id": self.channel_id,
            "timetemp": self.timetemp,
        });
        if let Some(id) = &self.pay_user_id {
            v["pay_user_id"] = Value::from(id.as_str());
        }
        v.to_string()
    }

    /// As the charging system receives it: flat, or `{service_name, data: {…}}`.
    pub fn read(message: &Map<String, Value>) -> Result<Request, FieldError> {
        let body = match message.get("data") {
            Some(Value::Object(data)) => data,
            _ => message,
        };
        let f = Fields::new(body);
        Ok(Request {
            park_id: f.text(&["park_id"], 24)?,
            // The seed gives 8; never truncated, so a longer one is read whole.
            car_number: f.text(&["car_number"], 64)?,
            channel_id: f.text(&["channel_id"], 24)?,
            timetemp: f.int(&["timetemp"])?,
            pay_user_id: f.opt_text(&["pay_user_id"], 100)?,
        })
    }
}

/// The lot's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    /// 1 entered, 0 refused (with `errmsg`), 2 pending.
    pub state: i64,
    pub errmsg: Option<String>,
    /// As received (the marker, if any, is the lot's own order's).
    pub car_number: String,
    pub timetemp: Option<i64>,
}

impl Answer {
    pub fn to_data(&self) -> Value {
        let mut v = json!({
            "service_name": SERVICE,
            "data_target": "bolink",
            "state": self.state,
            "car_number": self.car_number,
        });
        if let Some(t) = self.timetemp {
            v["timetemp"] = Value::from(t);
        }
        if let Some(why) = &self.errmsg {
            v["errmsg"] = Value::from(why.as_str());
        }
        v
    }

    pub fn read(e: &Envelope) -> Result<Answer, FieldError> {
        let f = e.fields();
        let state = f.int(&["state"])?;
        if !(0..=2).contains(&state) {
            return Err(FieldError(format!("data.state 必须是 0、1 或 2，收到 {state}")));
        }
        let errmsg = f.opt_text(&["errmsg"], 200)?;
        if state == 0 && errmsg.is_none() {
            return Err(FieldError("data.state 为 0 时 data.errmsg 不能为空".into()));
        }
        Ok(Answer { state, errmsg, car_number: f.text(&["car_number"], 64)?, timetemp: f.opt_int(&["timetemp"])? })
    }
}

/// A user's pseudo-plate: 7 characters (digits and capitals without the
/// easily confused I and O) derived from a digest of their id, so the same
/// phone is the same "plate" at every scan and at the exit.
pub fn car_number_of(digest: &[u8]) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKLMNPQRSTUVWXYZ";
    let mut n = digest.iter().take(8).fold(0u64, |a, b| (a << 8) | u64::from(*b));
    (0..7)
        .map(|_| {
            let c = ALPHABET[(n % ALPHABET.len() as u64) as usize];
            n /= ALPHABET.len() as u64;
            c as char
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seeds_example_and_both_shapes() {
        let flat: Map<String, Value> = serde_json::from_str(
            r#"{"park_id": "20003", "car_number": "62000F9", "timetemp": 150000946, "service_name": "nolicence_in_park", "channel_id": "A11"}"#,
        )
        .expect("json");
        let r = Request::read(&flat).expect("reads");
        assert_eq!((r.park_id.as_str(), r.car_number.as_str(), r.channel_id.as_str()), ("20003", "62000F9", "A11"));
        let wrapped: Map<String, Value> =
            serde_json::from_str(&format!(r#"{{"service_name":"nolicence_in_park","data":{}}}"#, r.to_json()))
                .expect("json");
        assert_eq!(Request::read(&wrapped), Ok(r.clone()));
        let back: Map<String, Value> = serde_json::from_str(&r.to_json()).expect("json");
        assert_eq!(Request::read(&back), Ok(r));
    }

    #[test]
    fn answers_need_an_errmsg_when_refused() {
        let build =
            |data: Value| Envelope::parse(Envelope::build(SERVICE, Some("t"), &data, "k").as_bytes()).expect("parses");
        let ok = Answer { state: 1, errmsg: None, car_number: "无62000F9".into(), timetemp: Some(1_796_371_200) };
        assert_eq!(Answer::read(&build(ok.to_data())), Ok(ok));
        let e = build(json!({"state": 0, "car_number": "62000F9"}));
        assert!(Answer::read(&e).expect_err("no errmsg").0.contains("errmsg"));
        let e = build(json!({"state": 3, "car_number": "62000F9"}));
        assert!(Answer::read(&e).expect_err("state").0.contains("data.state"));
    }

    #[test]
    fn pseudo_plates_are_seven_plain_characters() {
        let a = car_number_of(&[1, 2, 3, 4, 5, 6, 7, 8, 9]);
        assert_eq!(a.chars().count(), 7);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric() && c != 'I' && c != 'O'));
        assert_eq!(a, car_number_of(&[1, 2, 3, 4, 5, 6, 7, 8, 0]), "from the first 8 bytes");
        assert_ne!(a, car_number_of(&[2, 2, 3, 4, 5, 6, 7, 8]));
    }
}
