//! The entry serial number `uid` shared by an entry, its exit, photos and bills.
//!
//! The spec renders the timestamp part three ways (D-18). We generate
//! `parkingCode + entryNum + yyyyMMddHHmmssSSS` (what the 23-digit samples
//! show) and treat every received uid as an opaque string of ≤ 60 characters.

use chrono::NaiveDateTime;

/// Longest uid the data interfaces accept.
pub const MAX_UID_LEN: usize = 60;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UidError {
    #[error("uid `{0}` is longer than {MAX_UID_LEN} characters; shorten parkingCode or entryNum")]
    TooLong(String),
    #[error("uid `{0}` would contain characters other than visible ASCII")]
    NotAscii(String),
}

/// Builds the uid for an entry at `entry_time` (local wall-clock time, with
/// milliseconds so two cars through one lane in one second still differ).
pub fn build(parking_code: &str, entry_num: &str, entry_time: NaiveDateTime) -> Result<String, UidError> {
    let uid = format!("{parking_code}{entry_num}{}", entry_time.format("%Y%m%d%H%M%S%3f"));
    if !uid.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(UidError::NotAscii(uid));
    }
    if uid.len() > MAX_UID_LEN {
        return Err(UidError::TooLong(uid));
    }
    Ok(uid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_spec_sample() {
        let t = chrono::NaiveDate::from_ymd_opt(2018, 10, 12)
            .and_then(|d| d.and_hms_milli_opt(9, 30, 22, 567))
            .expect("time");
        assert_eq!(build("01001", "1", t), Ok("01001120181012093022567".into()));
        assert!(matches!(build(&"9".repeat(45), "12", t), Err(UidError::TooLong(_))));
        assert!(matches!(build("停车场", "1", t), Err(UidError::NotAscii(_))));
    }
}
