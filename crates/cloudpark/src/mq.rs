//! The vendor's MQ messages (seed §1–§3, issue 24): one envelope
//! `{code, uuid, serviceId, parkCode, action, dataItems[], msg, opt,
//! timestamp}` for lot reports (pts) and cloud commands (stp) alike, read as
//! real messages write it: `uuid` / `uuId` / `uuID` / `UUID`, `code` 1/0 as a
//! number or a string, `dataItems` as `[]`, `[{}]` or `null`, `timestamp`
//! not always zero-padded or absent, keys with stray spaces (`"plateNumber "`),
//! and extras (`clientId`, `mac`, `queue`, `transType`) kept, not refused.
//! An answer echoes the request's `uuid`, `serviceId` and `parkCode`.

use chrono::NaiveDateTime;
use onepark_domain::time::format_time;
use serde_json::{Map, Value};

use crate::code::Refusal;
use crate::fields::{Fields, lenient_time};

/// One MQ message.
#[derive(Clone, Debug, PartialEq)]
pub struct Envelope {
    /// 1 success, 0 failure (requests carry it too).
    pub code: i64,
    /// The message id; an answer carries its request's.
    pub uuid: String,
    pub service_id: String,
    /// The lot (or `querymonthcard` for the broadcast).
    pub park_code: String,
    pub action: Option<String>,
    /// The payload, always a list; empty objects dropped.
    pub data_items: Vec<Map<String, Value>>,
    pub msg: Option<String>,
    /// Who did it (`超管`, `Admin`, …).
    pub opt: Option<String>,
    pub timestamp: Option<NaiveDateTime>,
    /// Fields beyond the envelope's (`clientId`, `mac`, `queue`, `transType`), kept as sent.
    pub extras: Map<String, Value>,
}

const KNOWN: [&str; 12] =
    ["code", "uuid", "uuId", "uuID", "UUID", "serviceId", "parkCode", "action", "dataItems", "msg", "opt", "timestamp"];

/// A map whose keys lost their stray spaces (a real message sends `"plateNumber "`);
/// where two keys then collide, the one without spaces wins.
fn trimmed_keys(map: Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    let (exact, spaced): (Vec<_>, Vec<_>) = map.into_iter().partition(|(k, _)| k.trim() == k);
    for (k, v) in exact {
        out.insert(k, v);
    }
    for (k, v) in spaced {
        out.entry(k.trim().to_owned()).or_insert(v);
    }
    out
}

impl Envelope {
    pub fn parse(bytes: &[u8]) -> Result<Envelope, Refusal> {
        let value: Value = serde_json::from_slice(bytes).map_err(|e| Refusal::bad(format!("消息不是 JSON（{e}）")))?;
        let Value::Object(map) = value else { return Err(Refusal::bad("消息必须是 JSON 对象")) };
        let map = trimmed_keys(map);
        let f = Fields::from_map(map.clone());
        let text = |names: &[&str]| -> Result<Option<String>, Refusal> {
            f.opt_text(names, 200).map_err(|r| Refusal::bad(r.detail.replace("bizContent.", "")))
        };
        let uuid = text(&["uuid", "uuId", "uuID", "UUID"])?.ok_or_else(|| Refusal::bad("缺少 uuid"))?;
        let service_id = text(&["serviceId"])?.ok_or_else(|| Refusal::bad("缺少 serviceId"))?;
        let park_code = text(&["parkCode"])?.ok_or_else(|| Refusal::bad("缺少 parkCode"))?;
        let code = f.opt_int(&["code"]).map_err(|r| Refusal::bad(r.detail.replace("bizContent.", "")))?.unwrap_or(1);
        let data_items = match map.get("dataItems") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => {
                let mut out = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    match item {
                        Value::Object(o) if o.is_empty() => {}
                        Value::Object(o) => out.push(trimmed_keys(o.clone())),
                        _ => return Err(Refusal::bad(format!("dataItems[{i}] 必须是对象"))),
                    }
                }
                out
            }
            // One object where a list belongs: read as a list of one.
            Some(Value::Object(o)) => vec![trimmed_keys(o.clone())],
            Some(_) => return Err(Refusal::bad("dataItems 必须是列表")),
        };
        let timestamp = match text(&["timestamp"])? {
            None => None,
            Some(t) => Some(lenient_time(&t).ok_or_else(|| Refusal::bad(format!("timestamp 不是时间：{t}")))?),
        };
        let extras =
            map.iter().filter(|(k, _)| !KNOWN.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect();
        Ok(Envelope {
            code,
            uuid,
            service_id,
            park_code,
            action: text(&["action"])?,
            data_items,
            msg: text(&["msg"])?,
            opt: text(&["opt"])?,
            timestamp,
            extras,
        })
    }

    /// The answer to this message: same uuid, serviceId and parkCode.
    pub fn answer(&self, ok: bool, msg: &str, data_items: Vec<Map<String, Value>>, now: NaiveDateTime) -> Envelope {
        Envelope {
            code: i64::from(ok),
            uuid: self.uuid.clone(),
            service_id: self.service_id.clone(),
            park_code: self.park_code.clone(),
            action: self.action.clone(),
            data_items,
            msg: Some(msg.to_owned()),
            opt: None,
            timestamp: Some(now),
            extras: Map::new(),
        }
    }

    /// The message as sent: the vendor's names, `dataItems` always a list.
    pub fn to_json(&self) -> Value {
        let mut map = Map::new();
        map.insert("code".into(), Value::from(self.code));
        map.insert("uuid".into(), Value::from(self.uuid.clone()));
        map.insert("serviceId".into(), Value::from(self.service_id.clone()));
        map.insert("parkCode".into(), Value::from(self.park_code.clone()));
        map.insert("action".into(), self.action.clone().map_or(Value::Null, Value::from));
        map.insert("dataItems".into(), Value::Array(self.data_items.iter().cloned().map(Value::Object).collect()));
        map.insert("msg".into(), Value::from(self.msg.clone().unwrap_or_default()));
        map.insert("opt".into(), self.opt.clone().map_or(Value::Null, Value::from));
        map.insert("timestamp".into(), self.timestamp.map_or(Value::Null, |t| Value::from(format_time(t))));
        for (k, v) in &self.extras {
            map.entry(k.clone()).or_insert_with(|| v.clone());
        }
        Value::Object(map)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_messages_read_as_written() {
        let captured = r#"{"code":"1","uuId":"a1b2","serviceId":"sync.alarm.blacklist","parkCode":"TDZN/307P2862",
            "action":null,"dataItems":[{"plateNumber ":"粤B12345","channelid":3,"enterTime":"2025-4-23 9:05:00"}],
            "msg":null,"opt":"超管","timestamp":"2025-4-23 9:05:01","clientId":"TDZN/307P2862_192.168.2.150","transType":0}"#;
        let m = Envelope::parse(captured.as_bytes()).expect("parses");
        assert_eq!((m.code, m.uuid.as_str(), m.park_code.as_str()), (1, "a1b2", "TDZN/307P2862"));
        assert_eq!(m.data_items[0]["plateNumber"], "粤B12345", "the stray space is dropped");
        assert_eq!(m.timestamp.map(format_time).as_deref(), Some("2025-04-23 09:05:01"));
        assert_eq!(m.extras["clientId"], "TDZN/307P2862_192.168.2.150");
        for empty in ["[]", "[{}]", "null"] {
            let text = format!(r#"{{"uuid":"u","serviceId":"s","parkCode":"p","dataItems":{empty}}}"#);
            assert!(Envelope::parse(text.as_bytes()).expect("empty").data_items.is_empty(), "{empty}");
        }
    }

    #[test]
    fn an_answer_echoes_its_request_and_round_trips() {
        let m = Envelope::parse(
            br#"{"code":1,"UUID":"x9","serviceId":"pay.queryfeebyplate","parkCode":"P1","dataItems":[{"payScene":0}]}"#,
        )
        .expect("parses");
        let now = chrono::NaiveDate::from_ymd_opt(2026, 12, 4).and_then(|d| d.and_hms_opt(8, 0, 0)).expect("time");
        let a = m.answer(true, "操作成功", Vec::new(), now);
        let text = a.to_json().to_string();
        let again = Envelope::parse(text.as_bytes()).expect("round trip");
        assert_eq!((again.uuid.as_str(), again.service_id.as_str(), again.code), ("x9", "pay.queryfeebyplate", 1));
        assert_eq!(again, a);
    }

    #[test]
    fn what_is_missing_is_named() {
        for (text, needle) in [
            (r#"{"serviceId":"s","parkCode":"p"}"#, "uuid"),
            (r#"{"uuid":"u","parkCode":"p"}"#, "serviceId"),
            (r#"{"uuid":"u","serviceId":"s","parkCode":"p","dataItems":[1]}"#, "dataItems[0]"),
            (r#"{"uuid":"u","serviceId":"s","parkCode":"p","timestamp":"soon"}"#, "timestamp"),
            ("[]", "对象"),
        ] {
            let refused = Envelope::parse(text.as_bytes()).expect_err(text);
            assert!(refused.detail.contains(needle), "{text}: {}", refused.detail);
        }
    }
}
