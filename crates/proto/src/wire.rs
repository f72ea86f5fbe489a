//! Wire-level value types shared by all messages: times, dates, result codes,
//! and the `codes!` macro for the data dictionary's numeric enums.
//!
//! Tolerance lives in [`crate::validate`], which rewrites a received JSON
//! object into canonical form (aliases, numbers sent as strings, `""` for
//! "none") before serde sees it; the types here can therefore stay strict.

use std::fmt;

use chrono::{NaiveDate, NaiveDateTime};
use onepark_domain::time as dtime;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A `yyyy-MM-dd HH:mm:ss` wall-clock time in the deployment's zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Time(pub NaiveDateTime);

/// A `yyyy-MM-dd` date.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date(pub NaiveDate);

impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&dtime::format_time(self.0))
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&dtime::format_date(self.0))
    }
}

impl std::str::FromStr for Time {
    type Err = dtime::TimeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        dtime::parse_time(s).map(Time)
    }
}

impl std::str::FromStr for Date {
    type Err = dtime::TimeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        dtime::parse_date(s).map(Date)
    }
}

macro_rules! text_serde {
    ($($ty:ty),*) => {$(
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    )*};
}
text_serde!(Time, Date);

/// `resultCode`: sent as the string `"200"`, accepted as a string or a number (D-17).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ResultCode(pub u16);

impl ResultCode {
    /// 操作成功
    pub const OK: ResultCode = ResultCode(200);
    /// 操作失败 没有查询到数据
    pub const NO_DATA: ResultCode = ResultCode(204);
    /// 缺失参数 (used for every client fault)
    pub const BAD_REQUEST: ResultCode = ResultCode(400);
    /// 服务器错误
    pub const SERVER_ERROR: ResultCode = ResultCode(500);

    pub fn is_ok(self) -> bool {
        self.0 == 200
    }
}

impl Serialize for ResultCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ResultCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match serde_json::Value::deserialize(d)? {
            serde_json::Value::Number(n) => n.as_u64().and_then(|n| u16::try_from(n).ok()),
            serde_json::Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
        .map(ResultCode)
        .ok_or_else(|| serde::de::Error::custom("resultCode must be a number or a numeric string"))
    }
}

/// Decides which fields serialization leaves out: `None` is omitted rather
/// than sent as `null` (the spec: "the sender omits the field").
pub trait Omit {
    fn omit(&self) -> bool {
        false
    }
}

impl<T> Omit for Option<T> {
    fn omit(&self) -> bool {
        self.is_none()
    }
}

macro_rules! never_omit {
    ($($ty:ty),*) => {$( impl Omit for $ty {} )*};
}
never_omit!(String, i64, bool, Time, Date, ResultCode, serde_json::Value);

impl<T> Omit for Vec<T> {}

pub fn omit<T: Omit>(value: &T) -> bool {
    value.omit()
}

/// Declares a data-dictionary enum: numeric code on the wire, unknown codes
/// kept as `Other` (a new code must not break parsing; validation flags it),
/// Chinese label for messages and dashboards.
macro_rules! codes {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $code:literal $zh:literal,)* }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)*
            /// A code the dictionary does not list.
            Other(i64),
        }

        impl $name {
            /// Every code the dictionary lists.
            pub const CODES: &'static [i64] = &[$($code),*];

            pub fn code(self) -> i64 {
                match self {
                    $($name::$variant => $code,)*
                    $name::Other(code) => code,
                }
            }

            pub fn from_code(code: i64) -> Self {
                match code {
                    $($code => $name::$variant,)*
                    other => $name::Other(other),
                }
            }

            /// The dictionary's Chinese label.
            pub fn zh(self) -> &'static str {
                match self {
                    $($name::$variant => $zh,)*
                    $name::Other(_) => "未定义",
                }
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_i64(self.code())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                i64::deserialize(d).map($name::from_code)
            }
        }

        impl $crate::wire::Omit for $name {}
    };
}
pub(crate) use codes;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_code_both_ways() {
        let from_str: ResultCode = serde_json::from_str("\"200\"").expect("string");
        let from_num: ResultCode = serde_json::from_str("200").expect("number");
        assert_eq!(from_str, ResultCode::OK);
        assert_eq!(from_num, ResultCode::OK);
        assert_eq!(serde_json::to_string(&ResultCode::OK).expect("ser"), "\"200\"");
        assert!(serde_json::from_str::<ResultCode>("true").is_err());
    }

    #[test]
    fn time_text() {
        let t: Time = serde_json::from_str("\"2015-09-01 09:10:11\"").expect("time");
        assert_eq!(serde_json::to_string(&t).expect("ser"), "\"2015-09-01 09:10:11\"");
        assert!(serde_json::from_str::<Time>("\"2015-09-01\"").is_err());
    }
}
