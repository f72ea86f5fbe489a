//! Field-by-field validation driven by the spec's own tables (name, type,
//! length, required), reporting every problem at once, each naming its field.
//!
//! The same walk makes received JSON canonical before serde sees it: alias
//! keys become the table's name (D-1…D-3), numbers sent as strings become
//! numbers (and the reverse for string fields, D-9/D-17), `""` and `null`
//! mean "absent" (§4), and tolerant time forms become `yyyy-MM-dd HH:mm:ss`.

use std::fmt;

use onepark_domain::money::MAX_FEN;
use onepark_domain::plate::{self, Plate, PlateError};
use onepark_domain::time as dtime;
use serde_json::{Map, Value};

/// The type column of a spec table, with its length.
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    /// String of at most this many characters.
    Str(usize),
    /// Int of at most this many digits, never negative.
    Int(u32),
    /// Java `Long` (`requestId`).
    Long,
    /// Amount in fen, 0 ≤ x ≤ 1,000,000,000.
    Money,
    /// One of the listed integer codes.
    Code(&'static [i64]),
    /// One of the listed codes; another code is only a warning (`plateColor`,
    /// whose `0` the spec's own example sends, D-21).
    CodeOrUnknown(&'static [i64]),
    /// One of the listed string codes.
    StrCode(&'static [&'static str]),
    /// `yyyy-MM-dd HH:mm:ss`
    Time,
    /// `yyyy-MM-dd`
    Date,
    /// The serial number: visible ASCII, at most this many characters.
    Uid(usize),
    /// A plate: at most this many characters; a bad format is a warning.
    Plate(usize),
    Bool,
    /// A nested object (`params`); a JSON string holding it is accepted too.
    Object(&'static [Field]),
    /// An array of objects (`detail`, `result`); a JSON string holding the
    /// array is accepted too (D-5, D-9).
    List(&'static [Field]),
    /// Anything; kept as JSON.
    Any,
}

/// The required column: `Y`, `N`, or `C` (conditional, checked by the message).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    Y,
    N,
    C,
}

#[derive(Clone, Copy, Debug)]
pub struct Field {
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    pub need: Need,
    pub kind: Kind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    /// The message is rejected.
    Error,
    /// The message is accepted; the problem is a data-quality finding.
    Warning,
}

#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProblemKind {
    Missing,
    WrongType {
        expected: &'static str,
    },
    TooLong {
        max: usize,
        len: usize,
    },
    TooManyDigits {
        max: u32,
    },
    Negative,
    AmountTooLarge,
    NotInDictionary {
        value: String,
    },
    BadTime,
    BadDate,
    BadUid,
    BadPlate {
        reason: String,
    },
    /// A control character (NUL, ESC, …): refused in every string field; free
    /// text longer than 64 characters may hold tabs and line breaks.
    Control {
        at: usize,
    },
    /// A plate holding a character that shows nothing or reorders the text
    /// (zero-width space, U+202E, BOM …; `domain::plate::is_invisible`):
    /// refused, as the lot's lanes refuse it, since it would look like another
    /// plate and match none.
    Invisible {
        at: usize,
        code: u32,
    },
    /// An event time ahead of the receiver's clock by more than the skew allowed.
    Future {
        time: String,
        now: String,
        secs: i64,
    },
    /// An event time before 2000-01-01: no lot recorded it.
    BeforeEpoch {
        time: String,
    },
    /// An event time older than the receiver's horizon: stored, but a finding.
    FarPast {
        time: String,
        days: i64,
    },
    /// A rule that spans fields; carries both languages.
    Rule {
        en: String,
        zh: String,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub field: String,
    pub kind: ProblemKind,
    pub severity: Severity,
}

impl Problem {
    pub fn error(field: impl Into<String>, kind: ProblemKind) -> Self {
        Problem { field: field.into(), kind, severity: Severity::Error }
    }

    pub fn warning(field: impl Into<String>, kind: ProblemKind) -> Self {
        Problem { field: field.into(), kind, severity: Severity::Warning }
    }

    pub fn rule(field: impl Into<String>, en: impl Into<String>, zh: impl Into<String>) -> Self {
        Problem::error(field, ProblemKind::Rule { en: en.into(), zh: zh.into() })
    }

    /// A cross-field inconsistency that is stored and reported, not rejected:
    /// a lot retries a rejected record forever, so rejecting would lose it.
    pub fn quality(field: impl Into<String>, en: impl Into<String>, zh: impl Into<String>) -> Self {
        Problem::warning(field, ProblemKind::Rule { en: en.into(), zh: zh.into() })
    }

    /// Chinese text for `msg`.
    pub fn zh(&self) -> String {
        let f = &self.field;
        match &self.kind {
            ProblemKind::Missing => format!("缺少必填字段 {f}"),
            ProblemKind::WrongType { expected } => format!("字段 {f} 类型错误，应为{}", zh_type(expected)),
            ProblemKind::TooLong { max, len } => format!("字段 {f} 长度 {len} 超过上限 {max} 个字符"),
            ProblemKind::TooManyDigits { max } => format!("字段 {f} 超过 {max} 位数字"),
            ProblemKind::Negative => format!("字段 {f} 不能为负数"),
            ProblemKind::AmountTooLarge => format!("字段 {f} 金额超过上限 {MAX_FEN} 分"),
            ProblemKind::NotInDictionary { value } => format!("字段 {f} 的取值 {value} 不在数据字典范围内"),
            ProblemKind::BadTime => format!("字段 {f} 时间格式错误，应为 yyyy-MM-dd HH:mm:ss"),
            ProblemKind::BadDate => format!("字段 {f} 日期格式错误，应为 yyyy-MM-dd"),
            ProblemKind::BadUid => format!("字段 {f} 流水号只能包含字母、数字及 -_. 等可见字符，不能有空格"),
            ProblemKind::BadPlate { reason } => format!("字段 {f} 车牌格式不正确（{reason}）"),
            ProblemKind::Control { at } => format!("字段 {f} 第 {at} 个字符是控制字符（如 NUL），不允许"),
            ProblemKind::Invisible { at, code } => {
                format!("字段 {f} 第 {at} 个字符（U+{code:04X}）是不可见字符或双向控制字符，不允许")
            }
            ProblemKind::Future { time, now, secs } => {
                format!("字段 {f} 的时间 {time} 晚于平台时间 {now} {secs} 秒，超过允许的偏差：请校准车场时钟")
            }
            ProblemKind::BeforeEpoch { time } => format!("字段 {f} 的时间 {time} 早于 2000-01-01，不是有效的事件时间"),
            ProblemKind::FarPast { time, days } => format!("字段 {f} 的时间 {time} 早于平台时间 {days} 天以上"),
            ProblemKind::Rule { zh, .. } => format!("字段 {f}：{zh}"),
        }
    }
}

fn zh_type(expected: &str) -> &'static str {
    match expected {
        "string" => "字符串",
        "integer" => "整数",
        "boolean" => "布尔值",
        "object" => "JSON 对象",
        "array" => "JSON 数组",
        _ => "其他",
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let field = &self.field;
        match &self.kind {
            ProblemKind::Missing => write!(f, "{field}: required field is missing"),
            ProblemKind::WrongType { expected } => write!(f, "{field}: expected {expected}"),
            ProblemKind::TooLong { max, len } => write!(f, "{field}: {len} characters, at most {max} allowed"),
            ProblemKind::TooManyDigits { max } => write!(f, "{field}: more than {max} digits"),
            ProblemKind::Negative => write!(f, "{field}: must not be negative"),
            ProblemKind::AmountTooLarge => write!(f, "{field}: amount exceeds {MAX_FEN} fen"),
            ProblemKind::NotInDictionary { value } => write!(f, "{field}: {value} is not a dictionary value"),
            ProblemKind::BadTime => write!(f, "{field}: not a time of the form yyyy-MM-dd HH:mm:ss"),
            ProblemKind::BadDate => write!(f, "{field}: not a date of the form yyyy-MM-dd"),
            ProblemKind::BadUid => write!(f, "{field}: uid must be visible ASCII without spaces"),
            ProblemKind::BadPlate { reason } => write!(f, "{field}: invalid plate ({reason})"),
            ProblemKind::Control { at } => write!(f, "{field}: character {at} is a control character"),
            ProblemKind::Invisible { at, code } => {
                write!(f, "{field}: character {at} (U+{code:04X}) is an invisible or bidi control character")
            }
            ProblemKind::Future { time, now, secs } => {
                write!(f, "{field}: {time} is {secs} s ahead of the platform's clock ({now})")
            }
            ProblemKind::BeforeEpoch { time } => write!(f, "{field}: {time} is before 2000-01-01"),
            ProblemKind::FarPast { time, days } => write!(f, "{field}: {time} is more than {days} days old"),
            ProblemKind::Rule { en, .. } => write!(f, "{field}: {en}"),
        }
    }
}

/// Every problem found in one message.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Problems(pub Vec<Problem>);

impl Problems {
    pub fn push(&mut self, problem: Problem) {
        self.0.push(problem);
    }

    pub fn has_errors(&self) -> bool {
        self.0.iter().any(|p| p.severity == Severity::Error)
    }

    pub fn errors(&self) -> impl Iterator<Item = &Problem> {
        self.0.iter().filter(|p| p.severity == Severity::Error)
    }

    pub fn warnings(&self) -> impl Iterator<Item = &Problem> {
        self.0.iter().filter(|p| p.severity == Severity::Warning)
    }

    /// All errors in Chinese, for `msg`.
    pub fn zh(&self) -> String {
        self.errors().map(Problem::zh).collect::<Vec<_>>().join("；")
    }
}

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let all: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        f.write_str(&all.join("; "))
    }
}

/// Checks an object against a table and makes it canonical in place.
pub fn check_object(object: &mut Map<String, Value>, fields: &[Field], prefix: &str, problems: &mut Problems) {
    for field in fields {
        let name = format!("{prefix}{}", field.name);
        if !object.contains_key(field.name)
            && let Some(value) = field.aliases.iter().find_map(|alias| object.remove(*alias))
        {
            object.insert(field.name.to_owned(), value);
        }
        let absent = match object.get(field.name) {
            None | Some(Value::Null) => true,
            Some(Value::String(s)) => s.trim().is_empty(),
            _ => false,
        };
        if absent {
            object.remove(field.name);
            if field.need == Need::Y {
                problems.push(Problem::error(name, ProblemKind::Missing));
            }
            continue;
        }
        if let Some(value) = object.get_mut(field.name) {
            check_value(value, field.kind, &name, problems);
        }
    }
}

fn check_value(value: &mut Value, kind: Kind, name: &str, problems: &mut Problems) {
    let mut fail = |k| problems.push(Problem::error(name, k));
    match kind {
        Kind::Str(max) | Kind::Uid(max) | Kind::Plate(max) => {
            if let Value::Number(n) = value {
                *value = Value::String(n.to_string());
            }
            let Value::String(s) = value else {
                return fail(ProblemKind::WrongType { expected: "string" });
            };
            let len = s.chars().count();
            if len > max {
                return fail(ProblemKind::TooLong { max, len });
            }
            // Identifiers and short fields are shown, logged and returned by
            // downloadUID: a NUL or an escape there is never data.
            let text = matches!(kind, Kind::Str(max) if max > 64);
            let control = |c: char| c.is_control() && !(text && matches!(c, '\t' | '\n' | '\r'));
            if let Some(at) = s.chars().position(control) {
                return fail(ProblemKind::Control { at: at + 1 });
            }
            // Received uids are opaque (D-18): an odd one is worth a warning, not a rejection.
            if matches!(kind, Kind::Uid(_)) && !s.bytes().all(|b| b.is_ascii_graphic()) {
                problems.push(Problem::warning(name, ProblemKind::BadUid));
            }
            if matches!(kind, Kind::Plate(_)) {
                // The parser's own rule (the lot's lanes refuse the same characters).
                if let Err(PlateError::Invisible { at, code }) = plate::visible(s) {
                    return problems.push(Problem::error(name, ProblemKind::Invisible { at, code }));
                }
                check_plate(s, name, problems);
            }
        }
        Kind::StrCode(codes) => {
            if let Value::Number(n) = value {
                *value = Value::String(format!("{:0>2}", n));
            }
            match value {
                Value::String(s) if codes.contains(&s.as_str()) => {}
                Value::String(s) => fail(ProblemKind::NotInDictionary { value: s.clone() }),
                _ => fail(ProblemKind::WrongType { expected: "string" }),
            }
        }
        Kind::Int(_) | Kind::Long | Kind::Money | Kind::Code(_) | Kind::CodeOrUnknown(_) => {
            let Some(n) = as_integer(value) else {
                return fail(ProblemKind::WrongType { expected: "integer" });
            };
            *value = Value::from(n);
            match kind {
                Kind::Int(_) | Kind::Money if n < 0 => fail(ProblemKind::Negative),
                Kind::Int(max) if n.checked_ilog10().unwrap_or(0) + 1 > max => fail(ProblemKind::TooManyDigits { max }),
                Kind::Money if n > MAX_FEN => fail(ProblemKind::AmountTooLarge),
                Kind::Code(codes) if !codes.contains(&n) => fail(ProblemKind::NotInDictionary { value: n.to_string() }),
                _ => {}
            }
        }
        Kind::Time => match value.as_str().map(dtime::parse_time) {
            Some(Ok(t)) => *value = Value::String(dtime::format_time(t)),
            _ => fail(ProblemKind::BadTime),
        },
        Kind::Date => match value.as_str().map(dtime::parse_date) {
            Some(Ok(_)) => {}
            _ => fail(ProblemKind::BadDate),
        },
        Kind::Bool => match value {
            Value::Bool(_) => {}
            Value::String(s) if s == "true" || s == "false" => *value = Value::Bool(s == "true"),
            _ => fail(ProblemKind::WrongType { expected: "boolean" }),
        },
        Kind::Object(fields) => {
            if let Some(parsed) = value.as_str().and_then(|s| serde_json::from_str::<Value>(s).ok()) {
                *value = parsed;
            }
            match value {
                Value::Object(inner) => check_object(inner, fields, &format!("{name}."), problems),
                _ => fail(ProblemKind::WrongType { expected: "object" }),
            }
        }
        Kind::List(fields) => {
            if let Some(parsed) = value.as_str().and_then(|s| serde_json::from_str::<Value>(s).ok()) {
                *value = parsed;
            }
            let Value::Array(items) = value else {
                return fail(ProblemKind::WrongType { expected: "array" });
            };
            for (i, item) in items.iter_mut().enumerate() {
                match item {
                    Value::Object(inner) => check_object(inner, fields, &format!("{name}[{i}]."), problems),
                    _ => problems
                        .push(Problem::error(format!("{name}[{i}]"), ProblemKind::WrongType { expected: "object" })),
                }
            }
        }
        Kind::Any => {}
    }
}

/// Integers as numbers or as strings of digits; never floats with a fraction.
fn as_integer(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => {
            n.as_i64().or_else(|| n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 9e15).map(|f| f as i64))
        }
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn check_plate(text: &str, name: &str, problems: &mut Problems) {
    if text.chars().any(|c| c.is_whitespace() || matches!(c, '-' | '·' | '.')) {
        problems.push(Problem::warning(name, ProblemKind::BadPlate { reason: "contains spaces or separators".into() }));
        return;
    }
    match Plate::parse(text) {
        Err(e) => problems.push(Problem::warning(name, ProblemKind::BadPlate { reason: e.to_string() })),
        Ok(plate) if plate.as_str() != text => {
            problems.push(Problem::warning(name, ProblemKind::BadPlate { reason: "not in canonical form".into() }))
        }
        Ok(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const FIELDS: &[Field] = &[
        Field { name: "uid", aliases: &[], need: Need::Y, kind: Kind::Uid(10) },
        Field { name: "arrivalID", aliases: &["arriveID"], need: Need::Y, kind: Kind::Str(3) },
        Field { name: "fee", aliases: &[], need: Need::Y, kind: Kind::Money },
        Field { name: "color", aliases: &[], need: Need::Y, kind: Kind::Code(&[1, 2]) },
        Field { name: "at", aliases: &[], need: Need::Y, kind: Kind::Time },
        Field { name: "gate", aliases: &[], need: Need::N, kind: Kind::Str(2) },
        Field { name: "n", aliases: &[], need: Need::Y, kind: Kind::Int(2) },
        Field { name: "plateNo", aliases: &[], need: Need::Y, kind: Kind::Plate(50) },
    ];

    fn run(value: Value) -> (Map<String, Value>, Problems) {
        let Value::Object(mut map) = value else { panic!("object") };
        let mut problems = Problems::default();
        check_object(&mut map, FIELDS, "", &mut problems);
        (map, problems)
    }

    #[test]
    fn every_problem_at_once() {
        let (_, p) = run(json!({
            "uid": "a b", "arrivalID": "1234", "fee": 1_000_000_001i64, "color": 9,
            "at": "2015-09-01", "gate": "", "n": 100, "plateNo": "鲁B 01C01"
        }));
        let fields: Vec<&str> = p.errors().map(|p| p.field.as_str()).collect();
        assert_eq!(fields, ["arrivalID", "fee", "color", "at", "n"]);
        let warned: Vec<&str> = p.warnings().map(|p| p.field.as_str()).collect();
        assert_eq!(warned, ["uid", "plateNo"]);
        assert!(p.zh().contains("字段 arrivalID 长度 4 超过上限 3 个字符"), "{}", p.zh());
    }

    #[test]
    fn canonicalises() {
        let (map, p) = run(json!({
            "uid": 12, "arriveID": "1", "fee": "800", "color": "1", "at": "2015-09-01T09:10:11",
            "gate": null, "n": 5, "plateNo": "鲁B01C01"
        }));
        assert!(!p.has_errors(), "{p}");
        assert_eq!(p.0.len(), 0);
        assert_eq!(
            Value::Object(map),
            json!({"uid": "12", "arrivalID": "1", "fee": 800, "color": 1, "at": "2015-09-01 09:10:11", "n": 5, "plateNo": "鲁B01C01"})
        );
    }

    #[test]
    fn missing_fields_are_all_named() {
        let (_, p) = run(json!({}));
        let missing: Vec<&str> = p.errors().map(|p| p.field.as_str()).collect();
        assert_eq!(missing, ["uid", "arrivalID", "fee", "color", "at", "n", "plateNo"]);
    }
}
