//! The one wall clock of a side (the platform or the lot gateway).
//!
//! Every "what time is it" of a side asks its `Clock`, so a test can start a
//! side at a chosen instant and move time forward to see a retry, an expiry
//! or a backoff happen without sleeping. Durations measured for metrics and
//! rate limits use `std::time::Instant` (monotonic, never moved by a test).

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Utc};

/// The system clock, or (in tests) a clock that only moves when told.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    /// Microseconds since the Unix epoch when the clock is manual.
    manual: Option<Arc<AtomicI64>>,
}

impl Clock {
    /// The wall clock.
    pub fn system() -> Clock {
        Clock { manual: None }
    }

    /// A clock standing at `at` until `advance` or `set` moves it; clones
    /// share the same time.
    pub fn manual(at: DateTime<Utc>) -> Clock {
        Clock { manual: Some(Arc::new(AtomicI64::new(at.timestamp_micros()))) }
    }

    pub fn is_manual(&self) -> bool {
        self.manual.is_some()
    }

    pub fn now(&self) -> DateTime<Utc> {
        match &self.manual {
            None => Utc::now(),
            Some(micros) => DateTime::from_timestamp_micros(micros.load(Ordering::SeqCst)).unwrap_or_default(),
        }
    }

    /// Milliseconds since the Unix epoch.
    pub fn millis(&self) -> i64 {
        self.now().timestamp_millis()
    }

    /// Moves a manual clock forward (a no-op on the system clock, which
    /// moves by itself).
    pub fn advance(&self, by: chrono::Duration) {
        if let Some(micros) = &self.manual {
            micros.fetch_add(by.num_microseconds().unwrap_or(i64::MAX), Ordering::SeqCst);
        }
    }

    /// Sets a manual clock (a no-op on the system clock).
    pub fn set(&self, at: DateTime<Utc>) {
        if let Some(micros) = &self.manual {
            micros.store(at.timestamp_micros(), Ordering::SeqCst);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_told_and_clones_share_it() {
        let start = DateTime::from_timestamp(1_790_000_000, 0).expect("time");
        let clock = Clock::manual(start);
        let other = clock.clone();
        assert_eq!(clock.now(), start);
        other.advance(chrono::Duration::seconds(90));
        assert_eq!(clock.now(), start + chrono::Duration::seconds(90));
        assert_eq!(clock.millis(), (start + chrono::Duration::seconds(90)).timestamp_millis());
        clock.set(start);
        assert_eq!(other.now(), start);
    }

    #[test]
    fn the_system_clock_ignores_moves() {
        let clock = Clock::system();
        let before = clock.now();
        clock.advance(chrono::Duration::days(365));
        assert!(clock.now() - before < chrono::Duration::days(1));
    }
}
