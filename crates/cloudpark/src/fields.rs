//! bizContent read as the vendor writes it: numbers as numbers or strings,
//! `""`, `"undefined"` and `null` as absent, a field under any of its
//! spellings (`enterOpame` / `enterOpName`), times not always zero-padded,
//! yuan to fen exactly. Every problem names its field (`bizContent.page`).

use chrono::{NaiveDate, NaiveDateTime};
use serde_json::{Map, Value};

use crate::code::Refusal;

/// A bizContent object.
#[derive(Clone, Debug, Default)]
pub struct Fields(Map<String, Value>);

/// Values that mean "nothing here" in the vendor's messages.
fn absent(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => {
            let s = s.trim();
            s.is_empty() || s == "undefined" || s == "null"
        }
        _ => false,
    }
}

impl Fields {
    /// bizContent's text: a JSON object (an object sent as a string was
    /// unwrapped by the envelope already).
    pub fn parse(text: &str) -> Result<Fields, Refusal> {
        match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(map)) => Ok(Fields(map)),
            Ok(_) => Err(Refusal::bad("bizContent 必须是 JSON 对象")),
            Err(e) => Err(Refusal::bad(format!("bizContent 不是合法的 JSON（{e}）"))),
        }
    }

    pub fn from_map(map: Map<String, Value>) -> Fields {
        Fields(map)
    }

    /// The first present spelling of a field, and the spelling found.
    fn find<'a>(&'a self, names: &[&'a str]) -> Option<(&'a str, &'a Value)> {
        names.iter().find_map(|n| self.0.get(*n).filter(|v| !absent(v)).map(|v| (*n, v)))
    }

    fn missing(names: &[&str]) -> Refusal {
        Refusal::bad(format!("缺少 bizContent.{}", names[0]))
    }

    /// An optional text field (a number is read as its digits).
    pub fn opt_text(&self, names: &[&str], max_chars: usize) -> Result<Option<String>, Refusal> {
        let Some((name, value)) = self.find(names) else { return Ok(None) };
        let text = match value {
            Value::String(s) => s.trim().to_owned(),
            Value::Number(n) => n.to_string(),
            _ => return Err(Refusal::bad(format!("bizContent.{name} 必须是字符串"))),
        };
        if text.chars().count() > max_chars {
            return Err(Refusal::bad(format!("bizContent.{name} 超过 {max_chars} 个字符")));
        }
        Ok(Some(text))
    }

    pub fn text(&self, names: &[&str], max_chars: usize) -> Result<String, Refusal> {
        self.opt_text(names, max_chars)?.ok_or_else(|| Fields::missing(names))
    }

    /// An optional integer: a JSON integer or a string of one.
    pub fn opt_int(&self, names: &[&str]) -> Result<Option<i64>, Refusal> {
        let Some((name, value)) = self.find(names) else { return Ok(None) };
        let parsed = match value {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        };
        parsed.map(Some).ok_or_else(|| Refusal::bad(format!("bizContent.{name} 必须是整数，收到 {value}")))
    }

    pub fn int(&self, names: &[&str]) -> Result<i64, Refusal> {
        self.opt_int(names)?.ok_or_else(|| Fields::missing(names))
    }

    /// An optional amount in yuan (number or string, at most two decimals),
    /// as fen, exactly.
    pub fn opt_yuan(&self, names: &[&str]) -> Result<Option<i64>, Refusal> {
        let Some((name, value)) = self.find(names) else { return Ok(None) };
        let text = match value {
            Value::Number(n) => n.to_string(),
            Value::String(s) => s.trim().to_owned(),
            _ => String::new(),
        };
        match onepark_domain::money::parse_yuan(&text) {
            Ok(fen) if (0..=onepark_domain::money::MAX_FEN).contains(&fen) => Ok(Some(fen)),
            _ => Err(Refusal::bad(format!(
                "bizContent.{name} 必须是 0 至 1000 万之间、最多两位小数的元金额，收到 {value}"
            ))),
        }
    }

    /// An optional time `yyyy-MM-dd HH:mm:ss` (not zero-padded, `/` or `T`
    /// tolerated; a fraction of a second is dropped).
    pub fn opt_time(&self, names: &[&str]) -> Result<Option<NaiveDateTime>, Refusal> {
        let Some((name, value)) = self.find(names) else { return Ok(None) };
        let parsed = value.as_str().and_then(lenient_time);
        parsed
            .map(Some)
            .ok_or_else(|| Refusal::bad(format!("bizContent.{name} 必须是 yyyy-MM-dd HH:mm:ss 时间，收到 {value}")))
    }

    pub fn time(&self, names: &[&str]) -> Result<NaiveDateTime, Refusal> {
        self.opt_time(names)?.ok_or_else(|| Fields::missing(names))
    }

    /// An optional date `yyyy-MM-dd` or a time whose date is taken.
    pub fn opt_date_or_time(&self, names: &[&str]) -> Result<Option<NaiveDateTime>, Refusal> {
        let Some((name, value)) = self.find(names) else { return Ok(None) };
        let parsed = value
            .as_str()
            .and_then(|s| lenient_time(s).or_else(|| lenient_date(s.trim()).and_then(|d| d.and_hms_opt(0, 0, 0))));
        parsed.map(Some).ok_or_else(|| {
            Refusal::bad(format!("bizContent.{name} 必须是 yyyy-MM-dd 或 yyyy-MM-dd HH:mm:ss，收到 {value}"))
        })
    }
}

fn lenient_date(text: &str) -> Option<NaiveDate> {
    let mut parts = text.split(['-', '/']);
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || y.len() != 4 || m.is_empty() || m.len() > 2 || d.is_empty() || d.len() > 2 {
        return None;
    }
    NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?)
}

/// `yyyy-M-d H:m:s`, zero-padded or not, with `T` or a space between.
pub fn lenient_time(text: &str) -> Option<NaiveDateTime> {
    let text = text.trim();
    let (date, time) = text.split_once([' ', 'T'])?;
    let time = time.split_once('.').map_or(time, |(whole, _)| whole);
    let mut parts = time.split(':');
    let (h, mi, s) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || [h, mi, s].iter().any(|p| p.is_empty() || p.len() > 2) {
        return None;
    }
    lenient_date(date)?.and_hms_opt(h.parse().ok()?, mi.parse().ok()?, s.parse().ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(json: &str) -> Fields {
        Fields::parse(json).expect("object")
    }

    #[test]
    fn numbers_as_strings_and_sentinels_as_absent() {
        let f = fields(r#"{"page":"1","pageSize":2,"entrance":"undefined","enterPic":"","x":null,"bad":"1a"}"#);
        assert_eq!(f.int(&["page"]), Ok(1));
        assert_eq!(f.int(&["pageSize"]), Ok(2));
        assert_eq!(f.opt_text(&["entrance"], 50), Ok(None));
        assert_eq!(f.opt_text(&["enterPic"], 100), Ok(None));
        assert_eq!(f.opt_int(&["x"]), Ok(None));
        assert!(f.int(&["bad"]).expect_err("bad").detail.contains("bizContent.bad 必须是整数"));
        assert_eq!(f.int(&["parkCode"]).expect_err("missing").detail, "缺少 bizContent.parkCode");
    }

    #[test]
    fn spellings_in_order() {
        let f = fields(r#"{"enterOpName":"张三"}"#);
        assert_eq!(f.opt_text(&["enterOpame", "enterOpName"], 50), Ok(Some("张三".to_owned())));
        let both = fields(r#"{"enterOpame":"超管","enterOpName":"张三"}"#);
        assert_eq!(both.opt_text(&["enterOpame", "enterOpName"], 50), Ok(Some("超管".to_owned())));
    }

    #[test]
    fn yuan_exactly_and_times_leniently() {
        let f = fields(r#"{"a":150.5,"b":"150.00","c":0.1,"d":"1.005","e":-1}"#);
        assert_eq!(f.opt_yuan(&["a"]), Ok(Some(15050)));
        assert_eq!(f.opt_yuan(&["b"]), Ok(Some(15000)));
        assert_eq!(f.opt_yuan(&["c"]), Ok(Some(10)));
        assert!(f.opt_yuan(&["d"]).is_err());
        assert!(f.opt_yuan(&["e"]).is_err());
        let t = |s: &str| lenient_time(s).map(|t| t.to_string());
        assert_eq!(t("2025-4-23 9:05:00").as_deref(), Some("2025-04-23 09:05:00"));
        assert_eq!(t("2023-01-06T19:33:34.120").as_deref(), Some("2023-01-06 19:33:34"));
        assert_eq!(t("2023/01/06 19:33:34").as_deref(), Some("2023-01-06 19:33:34"));
        for bad in ["2023-02-30 00:00:00", "2023-01-06", "23-01-06 00:00:00", "2023-01-06 24:00:00", "2023-01-06 1:2"] {
            assert_eq!(t(bad), None, "{bad}");
        }
    }
}
