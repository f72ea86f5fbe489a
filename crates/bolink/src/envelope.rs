//! The envelope `{"service_name", "sign", "token", "data": {…}}`, read
//! keeping `data`'s text as received (the sign is over it), and the replies
//! `{"service_name", "state", "errmsg", …}` (`state` 1 done, 0 refused). The
//! vendor's own error texts are kept (`未识别到service_name标记`, `error:签名错误`…).

use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// Why a line is not a message (each with the vendor's errmsg).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    #[error("not a JSON object: {0}")]
    NotJson(String),
    #[error("未识别到service_name标记")]
    NoService,
    #[error("未识别到sign标记")]
    NoSign,
    #[error("data 必须是 JSON 对象")]
    DataNotObject,
}

/// One message from a charging system.
#[derive(Clone, Debug)]
pub struct Envelope {
    pub service_name: String,
    pub sign: String,
    /// Absent on `login`.
    pub token: Option<String>,
    /// `data` exactly as it came (what the sign covers).
    pub data_text: String,
    pub data: Map<String, Value>,
    /// `data`'s fields' text as received (money read from its digits).
    pub raw: crate::fields::RawFields,
}

#[derive(serde::Deserialize)]
struct Raw<'a> {
    service_name: Option<Value>,
    sign: Option<Value>,
    token: Option<Value>,
    #[serde(borrow)]
    data: Option<&'a RawValue>,
}

fn text(v: Option<Value>) -> Option<String> {
    match v {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

impl Envelope {
    /// Its `data` as [`crate::fields::Fields`].
    pub fn fields(&self) -> crate::fields::Fields<'_> {
        crate::fields::Fields::with_raw(&self.data, &self.raw)
    }

    pub fn parse(line: &[u8]) -> Result<Envelope, EnvelopeError> {
        let raw: Raw = serde_json::from_slice(line).map_err(|e| EnvelopeError::NotJson(e.to_string()))?;
        let service_name = text(raw.service_name).ok_or(EnvelopeError::NoService)?;
        let sign = text(raw.sign).ok_or(EnvelopeError::NoSign)?;
        let data_raw = raw.data.ok_or(EnvelopeError::DataNotObject)?;
        let data_text = data_raw.get().to_owned();
        let data = match serde_json::from_str::<Value>(&data_text) {
            Ok(Value::Object(map)) => map,
            _ => return Err(EnvelopeError::DataNotObject),
        };
        let fields = serde_json::from_str(&data_text).map_err(|_| EnvelopeError::DataNotObject)?;
        Ok(Envelope { service_name, sign, token: text(raw.token), data_text, data, raw: fields })
    }

    /// A message as a charging system sends it (signed over `data`'s compact text).
    pub fn build(service_name: &str, token: Option<&str>, data: &Value, key: &str) -> String {
        let data_text = data.to_string();
        let sign = crate::sign::sign(&data_text, key);
        let token = token.map(|t| format!(r#","token":{}"#, Value::from(t))).unwrap_or_default();
        format!(r#"{{"service_name":{},"sign":"{sign}"{token},"data":{data_text}}}"#, Value::from(service_name))
    }
}

/// An answer: `{service_name, state, errmsg?, …}`.
#[derive(Clone, Debug, PartialEq)]
pub struct Reply(pub Map<String, Value>);

impl Reply {
    pub fn ok(service_name: &str) -> Reply {
        let mut m = Map::new();
        m.insert("service_name".into(), Value::from(service_name));
        m.insert("state".into(), Value::from(1));
        Reply(m)
    }

    pub fn refused(service_name: &str, errmsg: &str) -> Reply {
        let mut m = Map::new();
        m.insert("service_name".into(), Value::from(service_name));
        m.insert("state".into(), Value::from(0));
        m.insert("errmsg".into(), Value::from(errmsg));
        Reply(m)
    }

    /// Adds a field (`order_id`, `token`, …).
    pub fn with(mut self, name: &str, value: impl Into<Value>) -> Reply {
        self.0.insert(name.into(), value.into());
        self
    }

    pub fn to_json(&self) -> String {
        Value::Object(self.0.clone()).to_string()
    }

    pub fn state(&self) -> i64 {
        self.0.get("state").and_then(Value::as_i64).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn data_is_kept_as_received() {
        let line =
            r#"{"service_name":"in_park","sign":"AB","token":"t1","data":{"car_number": "京A12345","in_time":1}}"#;
        let e = Envelope::parse(line.as_bytes()).expect("parses");
        assert_eq!(e.data_text, r#"{"car_number": "京A12345","in_time":1}"#, "spaces and order as sent");
        assert_eq!((e.service_name.as_str(), e.token.as_deref()), ("in_park", Some("t1")));
        let built = Envelope::build("login", None, &json!({ "park_id": "21835" }), "abc");
        let back = Envelope::parse(built.as_bytes()).expect("round trip");
        assert!(crate::sign::verify(&back.data_text, "abc", &back.sign));
        assert_eq!(back.token, None);
    }

    #[test]
    fn the_vendors_error_texts() {
        for (line, err) in [
            (&br#"{"sign":"a","data":{}}"#[..], EnvelopeError::NoService),
            (br#"{"service_name":"x","data":{}}"#, EnvelopeError::NoSign),
            (br#"{"service_name":"x","sign":"a","data":[1]}"#, EnvelopeError::DataNotObject),
            (br#"{"service_name":"x","sign":"a"}"#, EnvelopeError::DataNotObject),
        ] {
            assert_eq!(Envelope::parse(line).err(), Some(err));
        }
        assert!(matches!(Envelope::parse(b"nope"), Err(EnvelopeError::NotJson(_))));
        assert_eq!(EnvelopeError::NoService.to_string(), "未识别到service_name标记");
    }
}
