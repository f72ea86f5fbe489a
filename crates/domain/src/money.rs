//! Money as integer fen (分, 0.01 CNY). Floats never touch an amount.

use std::fmt;

/// An amount in fen, within the bound every interface of the city spec uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Fen(i64);

/// Largest amount any interface accepts: 1,000,000,000 fen (ten million yuan).
pub const MAX_FEN: i64 = 1_000_000_000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("amount {0} fen is negative")]
    Negative(i64),
    #[error("amount {0} fen exceeds the limit of {MAX_FEN} fen")]
    TooLarge(i64),
    #[error("`{0}` is not an amount of yuan with at most two decimals")]
    NotYuan(String),
}

impl Fen {
    pub const ZERO: Fen = Fen(0);

    /// A checked amount: 0 ≤ fen ≤ [`MAX_FEN`].
    pub fn new(fen: i64) -> Result<Fen, MoneyError> {
        if fen < 0 {
            Err(MoneyError::Negative(fen))
        } else if fen > MAX_FEN {
            Err(MoneyError::TooLarge(fen))
        } else {
            Ok(Fen(fen))
        }
    }

    pub fn get(self) -> i64 {
        self.0
    }

    /// Sums never overflow: a day's total may exceed [`MAX_FEN`], so addition
    /// is checked only against `i64`.
    pub fn checked_add(self, other: Fen) -> Option<Fen> {
        self.0.checked_add(other.0).map(Fen)
    }
}

impl fmt::Display for Fen {
    /// Yuan with two decimals, for people: `Fen(800)` shows as `8.00`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&yuan(self.0))
    }
}

/// Any count of fen as yuan with two decimals, exactly (`-5` is `-0.05`):
/// for sums and differences that are not a [`Fen`] of one interface.
pub fn yuan(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let abs = fen.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

/// Yuan as a wire writes them (`150`, `150.5`, `150.00`, `-0.05`, `1e2` is
/// refused) to fen, exactly: the digits are read as text, never as a float.
/// More than two decimals are refused unless they are zeros (`1.500`).
pub fn parse_yuan(text: &str) -> Result<i64, MoneyError> {
    let bad = || MoneyError::NotYuan(text.to_owned());
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() && fraction.is_empty() || !all_digits(whole) || !all_digits(fraction) {
        return Err(bad());
    }
    let (cents, rest) = fraction.split_at(fraction.len().min(2));
    if rest.bytes().any(|b| b != b'0') {
        return Err(bad());
    }
    let whole = whole.trim_start_matches('0');
    // 19 digits may overflow i64 once multiplied by 100; amounts are bounded far below.
    if whole.len() > 15 {
        return Err(bad());
    }
    let whole: i64 = if whole.is_empty() { 0 } else { whole.parse().map_err(|_| bad())? };
    let cents: i64 = format!("{cents:0<2}").parse().map_err(|_| bad())?;
    let fen = whole * 100 + cents;
    Ok(if negative { -fen } else { fen })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yuan_parses_exactly() {
        for (text, fen) in [
            ("150", 15000),
            ("150.00", 15000),
            ("150.5", 15050),
            ("0.05", 5),
            (".5", 50),
            ("7.", 700),
            ("1.500", 150),
            ("-0.05", -5),
            ("0", 0),
            ("0019.99", 1999),
        ] {
            assert_eq!(parse_yuan(text), Ok(fen), "{text}");
        }
        for text in ["", ".", "-", "1.005", "1e2", "1,5", " 1", "abc", "9999999999999999", "0x10", "1.2.3"] {
            assert!(parse_yuan(text).is_err(), "{text}");
        }
    }

    #[test]
    fn yuan_round_trips_through_its_text() {
        for fen in [0, 1, 5, 99, 100, 12345, MAX_FEN, -5, -12345] {
            assert_eq!(parse_yuan(&yuan(fen)), Ok(fen));
        }
    }

    #[test]
    fn bounds() {
        assert_eq!(Fen::new(0), Ok(Fen::ZERO));
        assert_eq!(Fen::new(MAX_FEN).map(Fen::get), Ok(MAX_FEN));
        assert_eq!(Fen::new(MAX_FEN + 1), Err(MoneyError::TooLarge(MAX_FEN + 1)));
        assert_eq!(Fen::new(-1), Err(MoneyError::Negative(-1)));
    }

    #[test]
    fn shows_yuan() {
        assert_eq!(Fen(800).to_string(), "8.00");
        assert_eq!(Fen(5).to_string(), "0.05");
        assert_eq!(Fen(123456).to_string(), "1234.56");
    }
}
