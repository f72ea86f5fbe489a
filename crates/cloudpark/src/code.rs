//! The answer `{reqId, code, msg, data}` and its codes.
//!
//! The vendor documents `code` 200 as success and "anything else" as failure
//! (its table of return codes was not found); onepark's codes follow HTTP's
//! meanings so an integrator can tell, without reading `msg`, whether to fix
//! the request (4xx) or retry it unchanged (429, 500, 503). `msg` is Chinese
//! and names the field or step that failed. docs/cloudpark.md has the table.

use serde::Serialize;

/// An answer's `code`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Code {
    /// 成功.
    Ok,
    /// A command was queued for its lot, which has not answered yet: ask again
    /// with `queryCommand` and the `uuid` in `data`.
    Accepted,
    /// The body or a parameter (common or in bizContent) is missing or malformed.
    BadRequest,
    /// No integrator or lot has this `pid`.
    UnknownPid,
    /// `sign` does not match.
    BadSign,
    /// The principal may not act on this parkCode, or use this service.
    Forbidden,
    /// No such `serviceName`.
    UnknownService,
    /// `timestamp` is outside the window around the server's clock.
    StaleTimestamp,
    /// This (pid, sign) was already seen within the window.
    Replay,
    /// The body is over the size limit.
    TooLarge,
    /// Well-formed and authorised, but refused by the business rules
    /// (no such record, a conflicting change).
    Rejected,
    /// Too many requests: retry later.
    Throttled,
    /// The server failed: retry later.
    Internal,
    /// Storage is unavailable: retry later.
    Unavailable,
}

impl Code {
    pub const ALL: [Code; 14] = [
        Code::Ok,
        Code::Accepted,
        Code::BadRequest,
        Code::UnknownPid,
        Code::BadSign,
        Code::Forbidden,
        Code::UnknownService,
        Code::StaleTimestamp,
        Code::Replay,
        Code::TooLarge,
        Code::Rejected,
        Code::Throttled,
        Code::Internal,
        Code::Unavailable,
    ];

    pub fn number(self) -> i64 {
        match self {
            Code::Ok => 200,
            Code::Accepted => 202,
            Code::BadRequest => 400,
            Code::UnknownPid => 401,
            Code::BadSign => 402,
            Code::Forbidden => 403,
            Code::UnknownService => 404,
            Code::StaleTimestamp => 408,
            Code::Replay => 409,
            Code::TooLarge => 413,
            Code::Rejected => 422,
            Code::Throttled => 429,
            Code::Internal => 500,
            Code::Unavailable => 503,
        }
    }

    pub fn from_number(n: i64) -> Option<Code> {
        Code::ALL.into_iter().find(|c| c.number() == n)
    }

    /// The meaning, in Chinese, that starts each `msg` of this code.
    pub fn zh(self) -> &'static str {
        match self {
            Code::Ok => "成功",
            Code::Accepted => "已受理，等待车场应答",
            Code::BadRequest => "参数错误",
            Code::UnknownPid => "pid 不存在",
            Code::BadSign => "签名错误",
            Code::Forbidden => "无权操作",
            Code::UnknownService => "接口不存在",
            Code::StaleTimestamp => "时间戳无效",
            Code::Replay => "重复请求",
            Code::TooLarge => "请求过大",
            Code::Rejected => "业务拒绝",
            Code::Throttled => "请求过于频繁",
            Code::Internal => "服务器内部错误",
            Code::Unavailable => "服务暂不可用",
        }
    }

    /// Whether the same request may succeed later unchanged.
    pub fn retryable(self) -> bool {
        matches!(self, Code::Throttled | Code::Internal | Code::Unavailable)
    }
}

/// A refused request: its code and a `msg` naming what failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{} ({}): {detail}", code.zh(), code.number())]
pub struct Refusal {
    pub code: Code,
    /// What failed, in Chinese, naming the field (`bizContent.pageSize 必须是整数`).
    pub detail: String,
}

impl Refusal {
    pub fn new(code: Code, detail: impl Into<String>) -> Refusal {
        Refusal { code, detail: detail.into() }
    }

    pub fn bad(detail: impl Into<String>) -> Refusal {
        Refusal::new(Code::BadRequest, detail)
    }

    /// The answer's `msg`: the code's meaning, then the detail.
    pub fn msg(&self) -> String {
        format!("{}：{}", self.code.zh(), self.detail)
    }
}

/// An answer as the vendor shapes it; `data` is left out when there is none.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Answer {
    #[serde(rename = "reqId")]
    pub req_id: String,
    pub code: i64,
    pub msg: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<serde_json::Value>,
}

impl Answer {
    pub fn ok(req_id: &str, data: Option<serde_json::Value>) -> Answer {
        Answer { req_id: req_id.to_owned(), code: 200, msg: Code::Ok.zh().to_owned(), data }
    }

    /// Success with a remark after 成功 (e.g. a pageSize that was capped).
    pub fn ok_noting(req_id: &str, data: Option<serde_json::Value>, note: &str) -> Answer {
        Answer { msg: format!("成功（{note}）"), ..Answer::ok(req_id, data) }
    }

    pub fn refused(req_id: &str, refusal: &Refusal) -> Answer {
        Answer { req_id: req_id.to_owned(), code: refusal.code.number(), msg: refusal.msg(), data: None }
    }

    pub fn to_json(&self) -> Vec<u8> {
        // A struct of strings, numbers and a Value always serialises.
        serde_json::to_vec(self).unwrap_or_else(|_| b"{\"code\":500,\"msg\":\"serialisation\"}".to_vec())
    }

    /// Reads an answer as a client: `code` as a number or a string (the
    /// vendor's other book sends `"200"`), `reqId` and `data` optional.
    pub fn parse(body: &[u8]) -> Result<Answer, Refusal> {
        let value: serde_json::Value =
            serde_json::from_slice(body).map_err(|e| Refusal::bad(format!("应答不是 JSON：{e}")))?;
        let object = value.as_object().ok_or_else(|| Refusal::bad("应答不是 JSON 对象"))?;
        let code = match object.get("code") {
            Some(serde_json::Value::Number(n)) => n.as_i64(),
            Some(serde_json::Value::String(s)) => s.trim().parse().ok(),
            _ => None,
        }
        .ok_or_else(|| Refusal::bad("应答缺少整数 code"))?;
        let text = |name: &str| object.get(name).and_then(|v| v.as_str()).unwrap_or_default().to_owned();
        let data = object.get("data").filter(|d| !d.is_null()).cloned();
        Ok(Answer { req_id: text("reqId"), code, msg: text("msg"), data })
    }

    pub fn is_ok(&self) -> bool {
        self.code == 200
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_and_round_trip() {
        let mut seen = std::collections::HashSet::new();
        for code in Code::ALL {
            assert!(seen.insert(code.number()));
            assert_eq!(Code::from_number(code.number()), Some(code));
        }
    }

    #[test]
    fn answers_as_the_vendor_writes_them() {
        let ok = Answer::ok("ae22", None);
        assert_eq!(String::from_utf8_lossy(&ok.to_json()), r#"{"reqId":"ae22","code":200,"msg":"成功"}"#);
        let parsed = Answer::parse(r#"{"code":"200","msg":"成功"}"#.as_bytes()).expect("string code");
        assert!(parsed.is_ok());
        let refused = Answer::refused("r", &Refusal::bad("缺少 bizContent.parkCode"));
        assert_eq!(refused.code, 400);
        assert_eq!(refused.msg, "参数错误：缺少 bizContent.parkCode");
    }
}
