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

#[cfg(test)]
mod tests {
    use super::*;

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
