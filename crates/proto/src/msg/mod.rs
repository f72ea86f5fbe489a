//! Typed messages for every interface of the spec, with their field tables.
//!
//! Each struct is declared once with the spec's wire name, accepted aliases,
//! required column and type/length for every field; the same declaration
//! yields the serde struct and the table [`crate::validate`] checks against.
//! Sub-modules follow the spec's sections.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::interface::{Downlink, Uplink};
use crate::validate::{Field, Kind, Need, Problem, Problems, check_object};
use crate::wire::ResultCode;

pub mod list;
pub mod payment;
pub mod record;

/// A message with a spec table.
pub trait Message: Serialize + DeserializeOwned {
    const FIELDS: &'static [Field];

    /// Rules that span fields (conditional `C` fields, consistency).
    fn check(&self, _problems: &mut Problems) {}
}

/// Declares a message struct and its field table in one place.
macro_rules! message {
    (
        $(#[$meta:meta])*
        $name:ident $(rules $rules:path)? {
            $(
                $(#[$fmeta:meta])*
                $field:ident : $ty:ty = $wire:literal $([$($alias:literal),*])?, $need:ident, $kind:expr;
            )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
        pub struct $name {
            $(
                $(#[$fmeta])*
                #[serde(rename = $wire $($(, alias = $alias)*)?, skip_serializing_if = "crate::wire::omit")]
                pub $field: $ty,
            )*
        }

        impl $crate::msg::Message for $name {
            const FIELDS: &'static [$crate::validate::Field] = &[
                $($crate::validate::Field {
                    name: $wire,
                    aliases: &[$($($alias),*)?],
                    need: $crate::validate::Need::$need,
                    kind: $kind,
                },)*
            ];

            #[allow(unused_variables)]
            fn check(&self, problems: &mut $crate::validate::Problems) {
                $($rules(self, problems);)?
            }
        }

        impl $crate::wire::Omit for $name {}
    };
}
pub(crate) use message;

/// Kinds shared by many tables.
pub(crate) mod kinds {
    use crate::validate::Kind;

    pub const UID: Kind = Kind::Uid(60);
    /// Payment, arrears and signing interfaces allow 64 (D-18).
    pub const UID64: Kind = Kind::Uid(64);
    pub const PARKING_CODE: Kind = Kind::Str(45);
    /// 50 in data interfaces, 10 in payment ones; validated at 50 (D-20).
    pub const PLATE: Kind = Kind::Plate(50);
    pub const ID: Kind = Kind::Str(60);
    pub const BERTHS: Kind = Kind::Int(6);
    pub const COUNT: Kind = Kind::Int(10);
    /// `msg` of any length (D-17).
    pub const MSG: Kind = Kind::Str(usize::MAX);
    pub const RESULT: Kind = Kind::Int(4);
    /// `plateColor`: 1–6; another code (the spec's own example sends 0) is a warning (D-21).
    pub const PLATE_COLOR: Kind = Kind::CodeOrUnknown(crate::dict::PlateColor::CODES);
}

message! {
    /// The standard reply `{resultCode, msg}` of most interfaces.
    Reply {
        /// 操作返回码
        result_code: ResultCode = "resultCode", Y, kinds::RESULT;
        /// 操作返回信息
        #[serde(default)]
        msg: String = "msg", N, kinds::MSG;
    }
}

impl Reply {
    pub fn ok() -> Self {
        Reply { result_code: ResultCode::OK, msg: "操作成功".into() }
    }

    pub fn new(result_code: ResultCode, msg: impl Into<String>) -> Self {
        Reply { result_code, msg: msg.into() }
    }
}

/// The confirm body (§2.2.6) shared by every confirm interface and `uploadFee`.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Confirm<P> {
    /// 下发车场成功标志
    pub success: bool,
    /// 请求编号: the MQ message's `requestId`
    #[serde(rename = "requestId")]
    pub request_id: i64,
    /// 以下均属于params域下
    pub params: P,
    /// Why `success` is false, in the lot's words: an onepark extension the
    /// spec's confirm tables lack (a platform without it ignores it), so a
    /// refused message is recorded with its reason, not just as failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub msg: Option<String>,
}

impl<P: Message> Message for Confirm<P> {
    const FIELDS: &'static [Field] = &[
        Field { name: "success", aliases: &[], need: Need::Y, kind: Kind::Bool },
        Field { name: "requestId", aliases: &["requestID", "requestid"], need: Need::Y, kind: Kind::Long },
        Field { name: "params", aliases: &[], need: Need::Y, kind: Kind::Object(P::FIELDS) },
        Field { name: "msg", aliases: &[], need: Need::N, kind: kinds::MSG },
    ];

    fn check(&self, problems: &mut Problems) {
        let mut inner = Problems::default();
        self.params.check(&mut inner);
        for mut p in inner.0 {
            p.field = format!("params.{}", p.field);
            problems.push(p);
        }
    }
}

impl<P> crate::wire::Omit for Confirm<P> {}

/// A decoded message and the warnings (data-quality findings) it carried.
#[derive(Clone, Debug, PartialEq)]
pub struct Decoded<T> {
    pub message: T,
    pub warnings: Vec<Problem>,
}

/// Why a plaintext did not become a message. Each variant names the step.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("plaintext is not JSON: {0}")]
    Json(String),
    #[error("plaintext is JSON but not an object")]
    NotObject,
    #[error("`data` is a string but does not hold a JSON object: {0}")]
    DataNotJson(String),
    #[error("validation failed: {0}")]
    Invalid(Problems),
    /// `uploadTime` outside the receiver's freshness window: the request is
    /// stale (a replay) or the sender's clock is off. Retryable after the
    /// clock is corrected (a lot re-stamps uploadTime on every attempt).
    #[error("uploadTime {upload_time} is {secs} s off the receiver's clock {now} (window {window} s)")]
    UploadTime { upload_time: String, now: String, secs: i64, window: i64 },
}

impl DecodeError {
    /// Chinese text for `msg`.
    pub fn zh(&self) -> String {
        match self {
            DecodeError::Json(e) => format!("解密后的内容不是有效的 JSON：{e}"),
            DecodeError::NotObject => "解密后的 JSON 不是对象".into(),
            DecodeError::DataNotJson(e) => format!("data 字段为字符串，但不是有效的 JSON 对象：{e}"),
            DecodeError::Invalid(p) => format!("参数校验失败：{}", p.zh()),
            DecodeError::UploadTime { upload_time, now, secs, window } => format!(
                "上传时间 uploadTime {upload_time} 与平台时间 {now} 相差 {secs} 秒，超过允许的 ±{window} 秒：\
                 请按平台时间（serverTime）校准车场时钟后重新加密上传"
            ),
        }
    }
}

/// Decodes a plaintext: parse JSON, unwrap `{"data": …}` (nested object or a
/// string holding JSON, D-15; a bare object is tolerated), canonicalise and
/// validate against the table, deserialize, then check cross-field rules.
pub fn decode<T: Message>(text: &str) -> Result<Decoded<T>, DecodeError> {
    decode_with(text, None)
}

/// The receiver's clock and how far a message's times may stray from it.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    pub now: chrono::NaiveDateTime,
    /// Event times (every time field but `uploadTime`) ahead of `now` by more
    /// than this are refused: one far-future state would otherwise win every
    /// "newest" comparison for ever.
    pub future: chrono::Duration,
    /// Event times older than this are accepted with a [`ProblemKind::FarPast`] warning.
    pub past: chrono::Duration,
    /// `uploadTime` must lie within `now ± window` ([`DecodeError::UploadTime`]).
    pub upload_window: Option<chrono::Duration>,
}

/// As [`decode`], with the times bounded by the receiver's clock.
pub fn decode_at<T: Message>(text: &str, clock: &Clock) -> Result<Decoded<T>, DecodeError> {
    decode_with(text, Some(clock))
}

fn decode_with<T: Message>(text: &str, clock: Option<&Clock>) -> Result<Decoded<T>, DecodeError> {
    let value: Value =
        serde_json::from_str(text.trim_start_matches('\u{feff}')).map_err(|e| DecodeError::Json(e.to_string()))?;
    let Value::Object(mut object) = value else {
        return Err(DecodeError::NotObject);
    };
    let wrapped = !T::FIELDS.iter().any(|f| f.name == "data");
    if wrapped {
        object = unwrap_data(object)?;
    }
    decode_object_with(object, clock)
}

fn unwrap_data(mut object: Map<String, Value>) -> Result<Map<String, Value>, DecodeError> {
    match object.remove("data") {
        Some(Value::Object(inner)) => Ok(inner),
        Some(Value::String(inner)) => match serde_json::from_str(&inner) {
            Ok(Value::Object(inner)) => Ok(inner),
            Ok(_) => Err(DecodeError::DataNotJson("not an object".into())),
            Err(e) => Err(DecodeError::DataNotJson(e.to_string())),
        },
        Some(other) => {
            object.insert("data".into(), other);
            Ok(object)
        }
        None => Ok(object),
    }
}

/// Validates and deserializes an already-unwrapped object.
pub fn decode_object<T: Message>(object: Map<String, Value>) -> Result<Decoded<T>, DecodeError> {
    decode_object_with(object, None)
}

fn decode_object_with<T: Message>(
    mut object: Map<String, Value>,
    clock: Option<&Clock>,
) -> Result<Decoded<T>, DecodeError> {
    let mut problems = Problems::default();
    check_object(&mut object, T::FIELDS, "", &mut problems);
    if let Some(clock) = clock {
        check_times(&object, T::FIELDS, clock, &mut problems);
    }
    if problems.has_errors() {
        return Err(DecodeError::Invalid(problems));
    }
    if let Some(clock) = clock {
        check_upload_time(&object, clock)?;
    }
    let message: T = serde_json::from_value(Value::Object(object)).map_err(|e| DecodeError::Json(e.to_string()))?;
    message.check(&mut problems);
    if problems.has_errors() {
        return Err(DecodeError::Invalid(problems));
    }
    Ok(Decoded { message, warnings: problems.0 })
}

/// Event times against the clock (top-level fields only: nested `params`
/// carry list validity windows, which may well lie in the future).
fn check_times(object: &Map<String, Value>, fields: &[Field], clock: &Clock, problems: &mut Problems) {
    use crate::validate::ProblemKind;
    let floor = chrono::NaiveDate::from_ymd_opt(2000, 1, 1).and_then(|d| d.and_hms_opt(0, 0, 0));
    for field in fields.iter().filter(|f| matches!(f.kind, Kind::Time) && f.name != "uploadTime") {
        let Some(text) = object.get(field.name).and_then(Value::as_str) else { continue };
        let Ok(time) = onepark_domain::time::parse_time(text) else { continue };
        let ahead = (time - clock.now).num_seconds();
        let now = onepark_domain::time::format_time(clock.now);
        if ahead > clock.future.num_seconds() {
            problems.push(Problem::error(field.name, ProblemKind::Future { time: text.into(), now, secs: ahead }));
        } else if floor.is_some_and(|floor| time < floor) {
            problems.push(Problem::error(field.name, ProblemKind::BeforeEpoch { time: text.into() }));
        } else if clock.now - time > clock.past {
            let days = clock.past.num_days();
            problems.push(Problem::warning(field.name, ProblemKind::FarPast { time: text.into(), days }));
        }
    }
}

fn check_upload_time(object: &Map<String, Value>, clock: &Clock) -> Result<(), DecodeError> {
    let Some(window) = clock.upload_window else { return Ok(()) };
    let Some(text) = object.get("uploadTime").and_then(Value::as_str) else { return Ok(()) };
    let Ok(time) = onepark_domain::time::parse_time(text) else { return Ok(()) };
    let secs = (time - clock.now).num_seconds();
    if secs.abs() > window.num_seconds() {
        return Err(DecodeError::UploadTime {
            upload_time: text.into(),
            now: onepark_domain::time::format_time(clock.now),
            secs,
            window: window.num_seconds(),
        });
    }
    Ok(())
}

/// The plaintext a lot encrypts: `{"data": {…}}` (D-15).
pub fn encode<T: Serialize>(message: &T) -> String {
    #[derive(Serialize)]
    struct Wrapped<'a, T> {
        data: &'a T,
    }
    serde_json::to_string(&Wrapped { data: message }).unwrap_or_default()
}

/// A reply or downlink payload: a flat object, no wrapper.
pub fn encode_flat<T: Serialize>(message: &T) -> String {
    serde_json::to_string(message).unwrap_or_default()
}

/// Decodes as `T` and keeps only the warnings (for by-name checks).
fn run<T: Message>(text: &str) -> Result<Vec<Problem>, DecodeError> {
    decode::<T>(text).map(|d| d.warnings)
}

/// Validates the plaintext of an uplink request by interface name; returns
/// the warnings when it is acceptable.
pub fn check_uplink(interface: Uplink, text: &str) -> Result<Vec<Problem>, DecodeError> {
    use list::*;
    use payment::*;
    use record::*;
    match interface {
        Uplink::UploadCarInData => run::<CarIn>(text),
        Uplink::UploadModifyCarInData => run::<CarInModify>(text),
        Uplink::UploadCarOutData => run::<CarOut>(text),
        Uplink::UploadParkingState => run::<ParkingState>(text),
        Uplink::UploadPhoto => run::<Photo>(text),
        Uplink::UploadPayRecord => run::<PayRecord>(text),
        Uplink::UploadCheckRecord => run::<CheckRecord>(text),
        Uplink::DownloadUid => run::<DownloadUid>(text),
        Uplink::UploadHeartbeat => run::<Heartbeat>(text),
        Uplink::UploadParkingInfo => run::<ParkingInfo>(text),
        Uplink::ApplyPayment => run::<ApplyPayment>(text),
        Uplink::UploadFee => run::<UploadFee>(text),
        Uplink::ConfirmPayResult => run::<ConfirmPayResult>(text),
        Uplink::ConfirmDeparturePayInfo => run::<ConfirmDeparturePayInfo>(text),
        Uplink::GetDeparturePayInfo => run::<DeparturePayQuery>(text),
        Uplink::UploadAbnormalBill => run::<AbnormalBill>(text),
        Uplink::CheckDailyBill => run::<DailyBillQuery>(text),
        Uplink::GetPayResult => run::<PayResultQuery>(text),
        Uplink::CancelOverDueBill => run::<CancelOverDue>(text),
        Uplink::ConfirmOverDueResult => run::<ConfirmOverDueResult>(text),
        Uplink::GetOverDueResult => run::<OverDueQuery>(text),
        Uplink::ConfirmSpecialCar => run::<ConfirmSpecialCar>(text),
    }
}

/// Validates the decrypted payload of a downlink message by interface.
pub fn check_downlink(interface: Downlink, text: &str) -> Result<Vec<Problem>, DecodeError> {
    match interface {
        Downlink::Fee => run::<payment::FeeQuery>(text),
        Downlink::PayResult => run::<payment::PayResult>(text),
        Downlink::DeparturePayInfo => run::<payment::DeparturePayInfo>(text),
        Downlink::OverDueResult => run::<payment::OverDueResult>(text),
        Downlink::SpecialCar => run::<list::SpecialCar>(text),
    }
}

/// The conditional fields of a payment result: required when paid (`C` rows).
pub(crate) fn require_when_paid(paid: bool, fields: &[(&str, bool)], problems: &mut Problems) {
    if !paid {
        return;
    }
    for (name, present) in fields {
        if !present {
            problems.push(Problem::rule(*name, "required when payStatus is 1", "payStatus 为 1（已完成）时必填"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msg::list::SpecialCar;
    use crate::msg::record::CarIn;

    const CAR_IN: &str = r#"{"uid":"100112021070108000012","arrivalID":"1","plateNo":"鲁B01C01","carType":1,
        "parkingCode":"1001","entryNum":"1","totalBerthNum":150,"openBerthNum":130,"freeBerthNum":70,
        "arriveTime":"2021-07-01 08:00:00","parkingType":1,"plateColor":1,"uploadTime":"2021-07-01 08:00:01"}"#;

    #[test]
    fn data_as_object_string_or_bare() {
        let nested = format!("{{\"data\":{CAR_IN}}}");
        let as_string = serde_json::json!({ "data": CAR_IN }).to_string();
        for text in [nested, as_string, CAR_IN.to_owned()] {
            let d = decode::<CarIn>(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
            assert_eq!(d.message.plate_no, "鲁B01C01");
            assert!(d.warnings.is_empty(), "{:?}", d.warnings);
        }
    }

    #[test]
    fn emits_the_nested_object() {
        let d = decode::<CarIn>(CAR_IN).expect("decode");
        let text = encode(&d.message);
        assert!(text.starts_with("{\"data\":{\"uid\":"), "{text}");
        assert!(!text.contains("gateNo"), "None is omitted: {text}");
        assert_eq!(decode::<CarIn>(&text).expect("again").message, d.message);
    }

    #[test]
    fn confirm_names_nested_fields() {
        let text = r#"{"data":{"success":"true","requestId":"7","params":{"parkingCode":"1001","plateNo":"鲁B01C01",
            "carType":1,"operateType":3,"operate":0,"operateTime":"2008-08-08 08:08:08","startTime":"x"}}}"#;
        let Err(DecodeError::Invalid(p)) = decode::<Confirm<SpecialCar>>(text) else { panic!("must fail") };
        let fields: Vec<&str> = p.errors().map(|p| p.field.as_str()).collect();
        assert_eq!(fields, ["params.operateType", "params.startTime", "params.endTime"]);
    }

    fn clock() -> Clock {
        let now = onepark_domain::time::parse_time("2021-07-01 08:00:10").expect("now");
        let d = chrono::Duration::seconds;
        Clock { now, future: d(600), past: chrono::Duration::days(30), upload_window: Some(d(600)) }
    }

    #[test]
    fn event_times_are_bounded_by_the_clock() {
        assert!(decode_at::<CarIn>(CAR_IN, &clock()).is_ok());
        let future = CAR_IN.replace("2021-07-01 08:00:00", "9999-12-31 23:59:59");
        let Err(DecodeError::Invalid(p)) = decode_at::<CarIn>(&future, &clock()) else { panic!("9999 accepted") };
        assert!(p.zh().contains("arriveTime") && p.zh().contains("请校准车场时钟"), "{}", p.zh());
        let zero = CAR_IN.replace("2021-07-01 08:00:00", "0000-01-01 00:00:00");
        assert!(decode_at::<CarIn>(&zero, &clock()).is_err(), "year 0 accepted");
        let old = CAR_IN.replace("2021-07-01 08:00:00", "2021-01-01 08:00:00");
        let d = decode_at::<CarIn>(&old, &clock()).expect("old is stored");
        assert!(d.warnings.iter().any(|w| matches!(w.kind, crate::validate::ProblemKind::FarPast { .. })));
        assert!(decode::<CarIn>(&future).is_ok(), "without a clock nothing is bounded");
    }

    #[test]
    fn a_stale_upload_time_names_the_skew() {
        let stale = CAR_IN.replace("\"uploadTime\":\"2021-07-01 08:00:01\"", "\"uploadTime\":\"2021-07-01 07:30:00\"");
        let Err(e @ DecodeError::UploadTime { secs: -1810, .. }) = decode_at::<CarIn>(&stale, &clock()) else {
            panic!("stale uploadTime accepted")
        };
        assert!(e.zh().contains("相差 -1810 秒") && e.zh().contains("serverTime"), "{}", e.zh());
    }

    #[test]
    fn control_characters_are_refused_by_field() {
        let nul = CAR_IN.replace("鲁B01C01", "鲁B0\\u00001C01");
        let Err(DecodeError::Invalid(p)) = decode::<CarIn>(&nul) else { panic!("NUL accepted") };
        assert!(p.zh().contains("plateNo") && p.zh().contains("控制字符"), "{}", p.zh());
        let uid = CAR_IN.replace("100112021070108000012", "1001\\u001b[2J");
        assert!(decode::<CarIn>(&uid).is_err(), "ESC in uid accepted");
    }

    /// The domain parser's rule, as the lot's lanes apply it: a plate with a
    /// zero-width space or a bidi override is refused, not a warning.
    #[test]
    fn invisible_characters_in_a_plate_are_refused() {
        for (hidden, code) in [("\\u200b", "U+200B"), ("\\u202e", "U+202E"), ("\\ufeff", "U+FEFF")] {
            let text = CAR_IN.replace("鲁B01C01", &format!("鲁B0{hidden}1C01"));
            let Err(DecodeError::Invalid(p)) = decode::<CarIn>(&text) else { panic!("{hidden} accepted") };
            assert!(p.zh().contains("plateNo") && p.zh().contains(code), "{}", p.zh());
        }
    }

    #[test]
    fn errors_name_the_step() {
        assert!(matches!(decode::<CarIn>("{not json"), Err(DecodeError::Json(_))));
        assert!(matches!(decode::<CarIn>("[1]"), Err(DecodeError::NotObject)));
        assert!(matches!(decode::<CarIn>(r#"{"data":"{oops"}"#), Err(DecodeError::DataNotJson(_))));
    }
}
