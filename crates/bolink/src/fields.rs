//! `data` read as charging systems write it: numbers as numbers or strings,
//! `""` and `null` as absent, a field under any of its spellings
//! (`car_numner` for `car_number`), money in yuan (`150.00`, `"150"`,
//! `150.5`) to fen exactly, never through a float. Every problem names its
//! field (`data.total`).

use serde_json::{Map, Value};

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FieldError(pub String);

fn absent(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        _ => false,
    }
}

/// The text of each top-level field of a `data` object as received: a
/// number's digits are read from here, so money never passes through a float.
pub type RawFields = std::collections::HashMap<String, Box<serde_json::value::RawValue>>;

/// A `data` object (and, when known, its fields' received text).
#[derive(Clone, Debug, Default)]
pub struct Fields<'a> {
    map: Option<&'a Map<String, Value>>,
    raw: Option<&'a RawFields>,
}

impl<'a> Fields<'a> {
    pub fn new(map: &'a Map<String, Value>) -> Fields<'a> {
        Fields { map: Some(map), raw: None }
    }

    pub fn with_raw(map: &'a Map<String, Value>, raw: &'a RawFields) -> Fields<'a> {
        Fields { map: Some(map), raw: Some(raw) }
    }

    fn find(&self, names: &[&'a str]) -> Option<(&'a str, &'a Value)> {
        let map = self.map?;
        names.iter().find_map(|n| map.get(*n).filter(|v| !absent(v)).map(|v| (*n, v)))
    }

    fn missing(names: &[&str]) -> FieldError {
        FieldError(format!("缺少 data.{}", names[0]))
    }

    pub fn opt_text(&self, names: &[&'a str], max_chars: usize) -> Result<Option<String>, FieldError> {
        let Some((name, value)) = self.find(names) else { return Ok(None) };
        let text = match value {
            Value::String(s) => s.trim().to_owned(),
            Value::Number(n) => n.to_string(),
            _ => return Err(FieldError(format!("data.{name} 必须是字符串"))),
        };
        if text.chars().count() > max_chars {
            return Err(FieldError(format!("data.{name} 超过 {max_chars} 个字符")));
        }
        Ok(Some(text))
    }

    pub fn text(&self, names: &[&'a str], max_chars: usize) -> Result<String, FieldError> {
        self.opt_text(names, max_chars)?.ok_or_else(|| Fields::missing(names))
    }

    pub fn opt_int(&self, names: &[&'a str]) -> Result<Option<i64>, FieldError> {
        let Some((name, value)) = self.find(names) else { return Ok(None) };
        let parsed = match value {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        };
        parsed.map(Some).ok_or_else(|| FieldError(format!("data.{name} 必须是整数，收到 {value}")))
    }

    pub fn int(&self, names: &[&'a str]) -> Result<i64, FieldError> {
        self.opt_int(names)?.ok_or_else(|| Fields::missing(names))
    }

    /// Yuan (a number or its text, at most two decimals, not negative) as fen, exactly.
    pub fn opt_yuan(&self, names: &[&'a str]) -> Result<Option<i64>, FieldError> {
        let Some((name, value)) = self.find(names) else { return Ok(None) };
        let text = match value {
            // The digits as sent (`150.10` stays `150.10`), else serde's.
            Value::Number(n) => {
                self.raw.and_then(|r| r.get(name)).map_or_else(|| n.to_string(), |r| r.get().trim().to_owned())
            }
            Value::String(s) => s.trim().to_owned(),
            _ => String::new(),
        };
        match onepark_domain::money::parse_yuan(&text) {
            Ok(fen) if (0..=onepark_domain::money::MAX_FEN).contains(&fen) => Ok(Some(fen)),
            _ => Err(FieldError(format!("data.{name} 必须是 0 至 1000 万之间、最多两位小数的元金额，收到 {value}"))),
        }
    }

    /// Unix seconds (the protocol's times), as a number or its text.
    pub fn unix(&self, names: &[&'a str]) -> Result<i64, FieldError> {
        let t = self.int(names)?;
        // 2000-01-01 to 2100-01-01: a millisecond value or a typo is refused, not stored as a far future.
        if !(946_684_800..=4_102_444_800).contains(&t) {
            return Err(FieldError(format!("data.{} 必须是 Unix 秒，收到 {t}", names[0])));
        }
        Ok(t)
    }
}

/// A reply's fields when its `state` is 1; else why not (its `errmsg`).
pub fn succeeded(reply: &Map<String, Value>) -> Result<Fields<'_>, FieldError> {
    let f = Fields::new(reply);
    if f.opt_int(&["state"])? != Some(1) {
        return Err(FieldError(f.opt_text(&["errmsg"], 500)?.unwrap_or_else(|| "state 0".into())));
    }
    Ok(f)
}

/// A list of strings of a reply (`[]` when absent; other values skipped).
pub fn strings(reply: &Map<String, Value>, name: &str) -> Vec<String> {
    reply
        .get(name)
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn yuan_exactly_and_spellings() {
        let v = json!({ "total": "150.00", "a": 150.5, "b": "150", "c": -1, "d": "1.005", "car_numner": "京A1", "in_time": "1796371200" });
        let f = Fields::new(v.as_object().expect("object"));
        assert_eq!(f.opt_yuan(&["total"]), Ok(Some(15000)));
        assert_eq!(f.opt_yuan(&["a"]), Ok(Some(15050)));
        assert_eq!(f.opt_yuan(&["b"]), Ok(Some(15000)));
        assert!(f.opt_yuan(&["c"]).expect_err("negative").0.contains("data.c"));
        assert!(f.opt_yuan(&["d"]).is_err(), "three decimals");
        assert_eq!(f.text(&["car_number", "car_numner"], 8).as_deref(), Ok("京A1"));
        assert_eq!(f.unix(&["in_time"]), Ok(1_796_371_200));
        let text = r#"{"total":9999999.99}"#;
        let map: Map<String, Value> = serde_json::from_str(text).expect("map");
        let raw: RawFields = serde_json::from_str(text).expect("raw");
        assert_eq!(Fields::with_raw(&map, &raw).opt_yuan(&["total"]), Ok(Some(999_999_999)), "from its digits");
        assert!(f.unix(&["total"]).is_err());
        assert!(f.text(&["order_id"], 48).expect_err("missing").0.contains("data.order_id"));
    }
}
