//! The request envelope `{pid, serviceName, sign, timestamp, bizContent}`,
//! read so that the sign is checked over what was received: each parameter
//! keeps its text as it appears in the body (a string's content, a number's
//! digits, bizContent's JSON text as sent, or the content of bizContent when
//! it is sent as a JSON string). Nothing is re-serialised before verifying.

use serde::Deserialize;
use serde::de::{MapAccess, Visitor};
use serde_json::value::RawValue;

use crate::code::{Code, Refusal};
use crate::sign;

/// A parsed request, not yet verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub pid: String,
    pub service_name: String,
    pub sign: String,
    /// Unix seconds.
    pub timestamp: i64,
    /// bizContent's text, as it is signed.
    pub biz_content: String,
    /// Every top-level parameter with its signed text, in body order.
    pub params: Vec<(String, String)>,
}

/// The top-level object, each value kept as its raw text; a name twice is
/// refused (which of the two would be signed?).
struct Top<'a>(Vec<(String, &'a RawValue)>);

impl<'de> Deserialize<'de> for Top<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Top<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Top<'de>, A::Error> {
                let mut out: Vec<(String, &'de RawValue)> = Vec::new();
                while let Some(name) = map.next_key::<String>()? {
                    let value: &'de RawValue = map.next_value()?;
                    if out.iter().any(|(n, _)| *n == name) {
                        return Err(serde::de::Error::custom(format!("参数 {name} 出现两次")));
                    }
                    out.push((name, value));
                }
                Ok(Top(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// A value's text as it is signed: a string's content, `null` as empty,
/// anything else (number, boolean, object, array) as its JSON text.
fn signed_text(raw: &RawValue) -> Result<String, serde_json::Error> {
    let text = raw.get();
    match text.as_bytes().first() {
        Some(b'"') => serde_json::from_str::<String>(text),
        Some(b'n') => Ok(String::new()),
        _ => Ok(text.to_owned()),
    }
}

impl Request {
    /// Reads a body. Refuses what is not a JSON object, a parameter twice,
    /// and a missing or malformed common parameter, naming it.
    pub fn parse(body: &[u8]) -> Result<Request, Refusal> {
        let top: Top =
            serde_json::from_slice(body).map_err(|e| Refusal::bad(format!("请求体不是 JSON 对象（{e}）")))?;
        let mut params = Vec::with_capacity(top.0.len());
        for (name, raw) in &top.0 {
            let text = signed_text(raw).map_err(|e| Refusal::bad(format!("参数 {name} 无法读取（{e}）")))?;
            params.push((name.clone(), text));
        }
        let get = |name: &str| params.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str()).unwrap_or("");
        let required = |name: &str| {
            let value = get(name);
            if value.is_empty() {
                Err(Refusal::bad(format!("缺少公共参数 {name}")))
            } else {
                Ok(value.to_owned())
            }
        };
        let pid = required("pid")?;
        let service_name = required("serviceName")?;
        let sign = required("sign")?;
        let timestamp_text = required("timestamp")?;
        let timestamp = timestamp_text
            .trim()
            .parse::<i64>()
            .map_err(|_| Refusal::bad(format!("timestamp 必须是 Unix 秒数（整数），收到 {timestamp_text}")))?;
        let biz_content = required("bizContent")?;
        Ok(Request { pid, service_name, sign, timestamp, biz_content, params })
    }

    /// Refuses a timestamp more than `window` seconds from `now`.
    pub fn check_time(&self, now_unix: i64, window: i64) -> Result<(), Refusal> {
        let skew = self.timestamp.saturating_sub(now_unix);
        if skew.unsigned_abs() > window.unsigned_abs() {
            return Err(Refusal::new(
                Code::StaleTimestamp,
                format!(
                    "timestamp {} 与服务器时间 {now_unix} 相差 {skew} 秒，超出 ±{window} 秒（timestamp 是 Unix 秒数，不是毫秒）",
                    self.timestamp
                ),
            ));
        }
        Ok(())
    }

    /// The string the sign must be the MD5 of, with the key as a placeholder.
    pub fn expected_string(&self) -> String {
        format!("{}&key=<密钥>", sign::canonical_without_key(&self.params))
    }

    /// Checks `sign` under `key`. A mismatch names the string that should
    /// have been signed (never the key, never the expected sign).
    pub fn verify(&self, key: &str) -> Result<(), Refusal> {
        if sign::matches(&sign::sign(&self.params, key), &self.sign) {
            Ok(())
        } else {
            Err(Refusal::new(
                Code::BadSign,
                format!("sign 与请求不符：应对 UTF-8 字符串 {} 计算 MD5（32 位大写十六进制）", self.expected_string()),
            ))
        }
    }
}

/// A signed request body: bizContent is sent as the JSON text given, and
/// that same text is signed. `timestamp` is sent as a number.
pub fn build_request(pid: &str, service_name: &str, timestamp: i64, biz_content: &str, key: &str) -> String {
    let params = vec![
        ("pid".to_owned(), pid.to_owned()),
        ("serviceName".to_owned(), service_name.to_owned()),
        ("timestamp".to_owned(), timestamp.to_string()),
        ("bizContent".to_owned(), biz_content.to_owned()),
    ];
    let sign = sign::sign(&params, key);
    let quote = |s: &str| serde_json::Value::from(s).to_string();
    format!(
        "{{\"pid\":{},\"serviceName\":{},\"timestamp\":{timestamp},\"bizContent\":{biz_content},\"sign\":\"{sign}\"}}",
        quote(pid),
        quote(service_name)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "45DC1F8604F940829E75D6A76595C299";
    const BIZ: &str = r#"{"enterTime":"2018-01-01 11:00:00","parkCode":"TEST/1P1","plateNum":"粤B12345"}"#;

    #[test]
    fn the_worked_example_verifies_as_an_object_as_a_string_and_with_string_numbers() {
        let object = format!(
            r#"{{"pid":"123456","serviceName":"enterNotify","sign":"EE454BE0DE3D211559865DA33745E589","timestamp":1539571096,"bizContent":{BIZ}}}"#
        );
        let as_string = format!(
            r#"{{"pid":123456,"serviceName":"enterNotify","sign":"EE454BE0DE3D211559865DA33745E589","timestamp":"1539571096","bizContent":{}}}"#,
            serde_json::Value::from(BIZ)
        );
        for body in [object, as_string] {
            let request = Request::parse(body.as_bytes()).expect("parses");
            assert_eq!(request.biz_content, BIZ);
            assert_eq!(request.timestamp, 1539571096);
            request.verify(KEY).expect("the vendor's sign");
            assert_eq!(request.verify("other").expect_err("wrong key").code, Code::BadSign);
        }
    }

    #[test]
    fn bizcontent_is_signed_as_received_not_reserialised() {
        let spaced = r#"{ "parkCode" : "P1" }"#;
        let body = build_request("1", "queryAgentParkin", 100, spaced, "k");
        let request = Request::parse(body.as_bytes()).expect("parses");
        assert_eq!(request.biz_content, spaced);
        request.verify("k").expect("signed over the spaced text");
        // The same content, compacted, is another string: its old sign fails.
        let compact = body.replace(spaced, r#"{"parkCode":"P1"}"#);
        let refused = Request::parse(compact.as_bytes()).expect("parses").verify("k").expect_err("changed text");
        assert!(
            refused.detail.contains(
                r#"bizContent={"parkCode":"P1"}&pid=1&serviceName=queryAgentParkin&timestamp=100&key=<密钥>"#
            )
        );
        assert!(!refused.detail.contains("key=k"));
    }

    #[test]
    fn added_parameters_are_signed_and_empty_ones_are_not() {
        let body = build_request("1", "s", 100, "{}", "k");
        let with_extra = body.replacen('{', r#"{"version":"2","memo":"","#, 1);
        let request = Request::parse(with_extra.as_bytes()).expect("parses");
        assert_eq!(request.expected_string(), "bizContent={}&pid=1&serviceName=s&timestamp=100&version=2&key=<密钥>");
        assert_eq!(request.verify("k").expect_err("version unsigned").code, Code::BadSign);
    }

    #[test]
    fn malformed_envelopes_name_what_failed() {
        let cases = [
            ("[]", "JSON 对象"),
            ("{", "JSON 对象"),
            (r#"{"pid":"1","pid":"2"}"#, "pid 出现两次"),
            (r#"{"serviceName":"s","sign":"x","timestamp":1,"bizContent":{}}"#, "缺少公共参数 pid"),
            (r#"{"pid":"1","serviceName":"s","sign":"x","bizContent":{}}"#, "缺少公共参数 timestamp"),
            (r#"{"pid":"1","serviceName":"s","sign":"x","timestamp":"soon","bizContent":{}}"#, "timestamp 必须是"),
            (r#"{"pid":"1","serviceName":"s","sign":"x","timestamp":1.5,"bizContent":{}}"#, "timestamp 必须是"),
            (r#"{"pid":"1","serviceName":"s","sign":"x","timestamp":1,"bizContent":null}"#, "缺少公共参数 bizContent"),
            (r#"{"pid":"1","serviceName":"","sign":"x","timestamp":1,"bizContent":{}}"#, "缺少公共参数 serviceName"),
        ];
        for (body, needle) in cases {
            let refused = Request::parse(body.as_bytes()).expect_err(body);
            assert_eq!(refused.code, Code::BadRequest);
            assert!(refused.detail.contains(needle), "{body}: {}", refused.detail);
        }
    }

    #[test]
    fn timestamps_outside_the_window_are_refused() {
        let request = Request::parse(build_request("1", "s", 1_000_000, "{}", "k").as_bytes()).expect("parses");
        request.check_time(1_000_300, 300).expect("at the edge");
        request.check_time(999_700, 300).expect("at the other edge");
        assert_eq!(request.check_time(1_000_301, 300).expect_err("late").code, Code::StaleTimestamp);
        let millis = Request::parse(build_request("1", "s", 1_000_000_000_000, "{}", "k").as_bytes()).expect("parses");
        assert!(millis.check_time(1_000_000_000, 300).expect_err("millis").detail.contains("不是毫秒"));
        let extreme = Request::parse(build_request("1", "s", i64::MIN, "{}", "k").as_bytes()).expect("parses");
        assert!(extreme.check_time(i64::MAX, 300).is_err());
    }
}
