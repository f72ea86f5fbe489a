//! Local wall-clock time as the spec writes it: `yyyy-MM-dd HH:mm:ss` in a
//! configured zone (Asia/Shanghai unless told otherwise), never with an offset.

use chrono::{DateTime, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

/// The one format every time field of the spec uses.
pub const TIME_FORMAT: &str = "%Y-%m-%d %H:%M:%S";
/// Dates (`checkDate`, `accountDate`, `checkBillTime`).
pub const DATE_FORMAT: &str = "%Y-%m-%d";

/// Times as a regular expression for API documents: a subset of what
/// [`parse_time`] accepts (years 1900–2099, days 01–28, so that every
/// matching string is a real time); the documents state the full rule.
pub const TIME_PATTERN: &str =
    "^(19|20)[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8]) ([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]$";
/// Dates likewise (see [`TIME_PATTERN`]).
pub const DATE_PATTERN: &str = "^(19|20)[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])$";
/// A date or a time (range bounds of the admin API).
pub const DATE_OR_TIME_PATTERN: &str =
    "^(19|20)[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])( ([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9])?$";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    #[error("`{0}` is not a time of the form yyyy-MM-dd HH:mm:ss")]
    BadTime(String),
    #[error("`{0}` is not a date of the form yyyy-MM-dd")]
    BadDate(String),
    #[error("`{0}` is not a known time zone (expected an IANA name such as Asia/Shanghai)")]
    UnknownZone(String),
    #[error("{0} does not exist in {1} (skipped by a clock change)")]
    Nonexistent(NaiveDateTime, &'static str),
}

/// Parses a spec time. Strictly `yyyy-MM-dd HH:mm:ss`, but also accepts a `T`
/// separator and a fraction of a second, which some clients send (D-19).
pub fn parse_time(text: &str) -> Result<NaiveDateTime, TimeError> {
    if let Some(time) = canonical(text) {
        return Ok(time);
    }
    let bad = || TimeError::BadTime(text.to_owned());
    if !(19..=29).contains(&text.len()) {
        return Err(bad());
    }
    let normal = text.replacen('T', " ", 1);
    NaiveDateTime::parse_from_str(&normal, TIME_FORMAT)
        .or_else(|_| NaiveDateTime::parse_from_str(&normal, "%Y-%m-%d %H:%M:%S%.f"))
        .map_err(|_| bad())
}

/// True when `text` is exactly in the spec's format (what we send).
pub fn is_canonical_time(text: &str) -> bool {
    canonical(text).is_some() || (text.len() == 19 && NaiveDateTime::parse_from_str(text, TIME_FORMAT).is_ok())
}

/// `yyyy-MM-dd HH:mm:ss` read digit by digit, as nearly every time a lot
/// sends is written: ~12 ns a call here against ~225 ns through chrono's
/// format string, and a record carries several times. None for
/// anything else (another shape, a leap second, a day that does not
/// exist), which the general parser then decides.
fn canonical(text: &str) -> Option<NaiveDateTime> {
    let b = text.as_bytes();
    if b.len() != 19 || b[4] != b'-' || b[7] != b'-' || b[10] != b' ' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let number = |range: std::ops::Range<usize>| {
        b[range].iter().try_fold(0u32, |n, d| d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0')))
    };
    let date = NaiveDate::from_ymd_opt(i32::try_from(number(0..4)?).ok()?, number(5..7)?, number(8..10)?)?;
    date.and_hms_opt(number(11..13)?, number(14..16)?, number(17..19)?)
}

pub fn format_time(time: NaiveDateTime) -> String {
    use chrono::{Datelike, Timelike};
    // Written digit by digit: every record is formatted several times on its
    // way in, and chrono's format strings cost ~8,000 instructions a call
    // (callgrind, BENCHMARKS.md "Ingest at the RSA limit"). Years outside
    // 0000–9999 and leap seconds take chrono's spelling.
    let year = time.year();
    if !(0..=9999).contains(&year) || time.nanosecond() >= 1_000_000_000 {
        return time.format(TIME_FORMAT).to_string();
    }
    let mut text = String::with_capacity(19);
    let year = year as u32;
    for d in [year / 1000, year / 100 % 10, year / 10 % 10, year % 10] {
        text.push(char::from(b'0' + d as u8));
    }
    let parts =
        [(time.month(), '-'), (time.day(), '-'), (time.hour(), ' '), (time.minute(), ':'), (time.second(), ':')];
    for (n, sep) in parts {
        text.push(sep);
        text.push(char::from(b'0' + (n / 10) as u8));
        text.push(char::from(b'0' + (n % 10) as u8));
    }
    text
}

pub fn parse_date(text: &str) -> Result<NaiveDate, TimeError> {
    if text.len() != 10 {
        return Err(TimeError::BadDate(text.to_owned()));
    }
    NaiveDate::parse_from_str(text, DATE_FORMAT).map_err(|_| TimeError::BadDate(text.to_owned()))
}

pub fn format_date(date: NaiveDate) -> String {
    date.format(DATE_FORMAT).to_string()
}

/// The zone in which a deployment reads and writes wall-clock times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Zone(Tz);

impl Default for Zone {
    fn default() -> Self {
        Zone(chrono_tz::Asia::Shanghai)
    }
}

impl std::str::FromStr for Zone {
    type Err = TimeError;
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        name.parse::<Tz>().map(Zone).map_err(|_| TimeError::UnknownZone(name.to_owned()))
    }
}

impl Zone {
    pub fn name(&self) -> &'static str {
        self.0.name()
    }

    /// The wall-clock reading of an instant in this zone.
    pub fn local(&self, instant: DateTime<Utc>) -> NaiveDateTime {
        instant.with_timezone(&self.0).naive_local()
    }

    /// The instant a wall-clock reading denotes. An ambiguous reading (clock
    /// set back) resolves to the earlier instant; a skipped one is an error.
    pub fn instant(&self, local: NaiveDateTime) -> Result<DateTime<Utc>, TimeError> {
        match self.0.from_local_datetime(&local) {
            LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => Ok(t.with_timezone(&Utc)),
            LocalResult::None => Err(TimeError::Nonexistent(local, self.0.name())),
        }
    }
}

#[cfg(test)]
mod format_tests {
    use super::*;

    #[test]
    fn writes_what_chrono_writes() {
        let start = NaiveDate::from_ymd_opt(1999, 12, 31).and_then(|d| d.and_hms_opt(23, 59, 58)).expect("time");
        for step in [0_i64, 1, 2, 61, 3_599, 86_399, 86_401, 40_000_000, 900_000_000] {
            let t = start + chrono::Duration::seconds(step);
            assert_eq!(format_time(t), t.format(TIME_FORMAT).to_string());
        }
        for year in [0, 7, 99, 999, 2026, 9999] {
            let t = NaiveDate::from_ymd_opt(year, 1, 2).and_then(|d| d.and_hms_opt(3, 4, 5)).expect("time");
            assert_eq!(format_time(t), t.format(TIME_FORMAT).to_string());
        }
        let far = NaiveDate::from_ymd_opt(12345, 6, 7).and_then(|d| d.and_hms_opt(8, 9, 10)).expect("time");
        assert_eq!(format_time(far), far.format(TIME_FORMAT).to_string());
        let leap =
            NaiveDate::from_ymd_opt(2016, 12, 31).and_then(|d| d.and_hms_milli_opt(23, 59, 59, 1_500)).expect("leap");
        assert_eq!(format_time(leap), leap.format(TIME_FORMAT).to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(pattern: &str) -> &str {
        pattern.trim_start_matches('^').trim_end_matches('$')
    }

    proptest::proptest! {
        #[test]
        fn documented_patterns_match_only_real_times(
            time in body(TIME_PATTERN), date in body(DATE_PATTERN), either in body(DATE_OR_TIME_PATTERN),
        ) {
            proptest::prop_assert!(parse_time(&time).is_ok(), "{time}");
            proptest::prop_assert!(parse_date(&date).is_ok(), "{date}");
            proptest::prop_assert!(parse_time(&either).is_ok() || parse_date(&either).is_ok(), "{either}");
        }
    }

    proptest::proptest! {
        /// The digit-by-digit reading decides exactly as chrono's parser:
        /// shapes near the canonical one, with signs, spaces, out-of-range
        /// fields and leap seconds among them.
        #[test]
        fn the_fast_reading_agrees_with_chrono(text in "[0-9+ -]{0,2}[0-9]{2,4}-[0-9]{1,2}-[0-9+ ]{1,2}[ T][0-9]{2}:[0-9]{2}:[0-9]{2}") {
            let chrono = NaiveDateTime::parse_from_str(&text, TIME_FORMAT).ok();
            if let Some(fast) = canonical(&text) {
                proptest::prop_assert_eq!(Some(fast), chrono, "{}", text);
            }
            proptest::prop_assert_eq!(is_canonical_time(&text), text.len() == 19 && chrono.is_some(), "{}", text);
            if text.len() == 19 && !text.contains('T') {
                proptest::prop_assert_eq!(parse_time(&text).ok(), chrono, "{}", text);
            }
        }
    }

    #[test]
    fn strict_and_tolerant_times() {
        let t = parse_time("2015-09-01 09:10:11").expect("canonical");
        assert_eq!(format_time(t), "2015-09-01 09:10:11");
        assert_eq!(parse_time("2015-09-01T09:10:11"), Ok(t));
        assert!(parse_time("2015-09-01 09:10:11.250").is_ok());
        for bad in ["2015-09-0109:10:11", "2015/09/01 09:10:11", "2015-13-01 09:10:11", "", "x"] {
            assert!(parse_time(bad).is_err(), "{bad}");
        }
        assert!(is_canonical_time("2015-09-01 09:10:11"));
        assert!(!is_canonical_time("2015-09-01T09:10:11"));
        // Read digit by digit, or by chrono: the same answers at the edges.
        assert!(parse_time("2016-02-29 23:59:59").is_ok());
        assert!(parse_time("2015-02-29 00:00:00").is_err(), "no such day");
        assert!(parse_time("2015-09-01 24:00:00").is_err());
        assert_eq!(parse_time("2016-12-31 23:59:60").map(format_time), Ok("2016-12-31 23:59:60".to_owned()));
    }

    #[test]
    fn dates() {
        assert_eq!(format_date(parse_date("2016-03-25").expect("date")), "2016-03-25");
        assert!(parse_date("2016-3-25").is_err());
    }

    #[test]
    fn shanghai_is_utc_plus_8() {
        let zone = Zone::default();
        assert_eq!(zone.name(), "Asia/Shanghai");
        let local = parse_time("2021-07-01 08:00:00").expect("time");
        let instant = zone.instant(local).expect("exists");
        assert_eq!(instant.to_rfc3339(), "2021-07-01T00:00:00+00:00");
        assert_eq!(zone.local(instant), local);
        assert!("Mars/Olympus".parse::<Zone>().is_err());
        assert_eq!("UTC".parse::<Zone>().map(|z| z.name()), Ok("UTC"));
    }
}
