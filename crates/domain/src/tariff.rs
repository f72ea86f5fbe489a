//! Parking fees: a pure function of (rule, entry, exit).
//!
//! The model covers what Chinese lots post at the gate (the spec's example
//! `feeScale`: "每辆每小时3元。停车时间4—24小时的，按不超过4小时计收" = 3 yuan per
//! hour, a stay of 4–24 h costs at most 4 h): free minutes, a first period
//! with its own price, then fixed-length periods (a started period is a whole
//! period) priced by whether the period *starts* in the day or the night
//! window, and a cap per 24-hour cycle counted from entry. Cycles repeat:
//! a stay of 2 days + 1 h costs two capped cycles plus the first hour of a
//! third. Guarantees (property-tested): the fee never decreases with a longer
//! stay, no cycle exceeds its cap, and whole cycles repeat.

use chrono::{Duration, NaiveDateTime, NaiveTime};

use crate::money::{Fen, MAX_FEN};

/// One price list (per vehicle class, see [`Tariff`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    /// A stay up to this long is free.
    pub free_minutes: u32,
    /// When the stay is longer: `false` (usual) charges from entry, `true`
    /// deducts the free minutes first.
    pub free_deducted: bool,
    /// The first period of each cycle, with its own price (e.g. first hour 5 yuan).
    pub first_period: Option<(u32, Fen)>,
    /// Length of every further period, minutes (≥ 1).
    pub period_minutes: u32,
    /// Price of a period that starts in the day window.
    pub day_price: Fen,
    /// Night window and price of a period that starts in it (`None`: day price always).
    pub night: Option<Night>,
    /// Most one 24-hour cycle (from entry) may cost.
    pub cycle_cap: Option<Fen>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Night {
    /// e.g. 20:00
    pub start: NaiveTime,
    /// e.g. 08:00 (may be before `start`: the window spans midnight)
    pub end: NaiveTime,
    pub price: Fen,
}

impl Night {
    fn contains(&self, t: NaiveTime) -> bool {
        if self.start <= self.end { self.start <= t && t < self.end } else { t >= self.start || t < self.end }
    }
}

/// Rules per vehicle class (the spec's carType code), with a default.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tariff {
    pub default: Rule,
    pub by_car_type: Vec<(i64, Rule)>,
}

impl Tariff {
    pub fn rule(&self, car_type: i64) -> &Rule {
        self.by_car_type.iter().find(|(c, _)| *c == car_type).map_or(&self.default, |(_, r)| r)
    }

    pub fn fee(&self, car_type: i64, entry: NaiveDateTime, exit: NaiveDateTime) -> Fen {
        self.rule(car_type).fee(entry, exit)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TariffError {
    #[error("period_minutes must be at least 1")]
    Period,
    #[error("first period must be at least 1 minute")]
    FirstPeriod,
}

const CYCLE_MINUTES: i64 = 24 * 60;

impl Rule {
    pub fn validate(&self) -> Result<(), TariffError> {
        if self.period_minutes == 0 {
            return Err(TariffError::Period);
        }
        if matches!(self.first_period, Some((0, _))) {
            return Err(TariffError::FirstPeriod);
        }
        Ok(())
    }

    /// The fee for a stay; an exit before the entry is a zero-length stay.
    pub fn fee(&self, entry: NaiveDateTime, exit: NaiveDateTime) -> Fen {
        let minutes = ((exit - entry).num_seconds().max(0) + 59) / 60;
        if minutes <= i64::from(self.free_minutes) {
            return Fen::ZERO;
        }
        let (start, minutes) = if self.free_deducted {
            let free = i64::from(self.free_minutes);
            (entry + Duration::minutes(free), minutes - free)
        } else {
            (entry, minutes)
        };
        let mut total: i64 = 0;
        let mut cycle_start = start;
        let mut left = minutes;
        while left > 0 {
            let in_cycle = left.min(CYCLE_MINUTES);
            total = total.saturating_add(self.cycle_fee(cycle_start, in_cycle));
            if total >= MAX_FEN {
                break;
            }
            left -= in_cycle;
            cycle_start += Duration::minutes(CYCLE_MINUTES);
        }
        Fen::new(total.min(MAX_FEN)).unwrap_or(Fen::ZERO)
    }

    /// One cycle: `minutes` (1 ..= 24 h) from `start`.
    fn cycle_fee(&self, start: NaiveDateTime, minutes: i64) -> i64 {
        let period = i64::from(self.period_minutes.max(1));
        let mut fee: i64 = 0;
        let mut at = 0;
        if let Some((length, price)) = self.first_period {
            fee = price.get();
            at = i64::from(length.max(1));
        }
        while at < minutes {
            let begins = (start + Duration::minutes(at)).time();
            let price = match &self.night {
                Some(night) if night.contains(begins) => night.price,
                _ => self.day_price,
            };
            fee = fee.saturating_add(price.get());
            at += period;
            if let Some(cap) = self.cycle_cap
                && fee >= cap.get()
            {
                break;
            }
        }
        match self.cycle_cap {
            Some(cap) => fee.min(cap.get()),
            None => fee,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::parse_time;
    use proptest::prelude::*;

    fn fen(f: i64) -> Fen {
        Fen::new(f).expect("fen")
    }

    /// The spec's example: 3 yuan an hour; 4–24 h charged as 4 h.
    fn spec_example() -> Rule {
        Rule {
            free_minutes: 15,
            free_deducted: false,
            first_period: None,
            period_minutes: 60,
            day_price: fen(300),
            night: None,
            cycle_cap: Some(fen(1200)),
        }
    }

    fn at(text: &str) -> NaiveDateTime {
        parse_time(text).expect("time")
    }

    #[test]
    fn the_spec_example() {
        let r = spec_example();
        let entry = at("2026-11-23 08:00:00");
        let fee = |exit: &str| r.fee(entry, at(exit)).get();
        assert_eq!(fee("2026-11-23 08:15:00"), 0, "free minutes");
        assert_eq!(fee("2026-11-23 08:15:01"), 300, "charged from entry, a started hour is an hour");
        assert_eq!(fee("2026-11-23 10:30:00"), 900);
        assert_eq!(fee("2026-11-23 12:00:00"), 1200, "4 h");
        assert_eq!(fee("2026-11-24 07:59:00"), 1200, "4–24 h as 4 h");
        assert_eq!(fee("2026-11-24 08:30:00"), 1500, "a new cycle");
        assert_eq!(fee("2026-11-25 08:00:00"), 2400, "two whole cycles");
        assert_eq!(fee("2026-11-23 07:00:00"), 0, "exit before entry");
    }

    #[test]
    fn day_night_first_period_and_deducted_free_time() {
        let r = Rule {
            free_minutes: 30,
            free_deducted: true,
            first_period: Some((60, fen(500))),
            period_minutes: 30,
            day_price: fen(200),
            night: Some(Night {
                start: NaiveTime::from_hms_opt(20, 0, 0).expect("t"),
                end: NaiveTime::from_hms_opt(8, 0, 0).expect("t"),
                price: fen(50),
            }),
            cycle_cap: Some(fen(3000)),
        };
        // 19:00 entry, free 30 min deducted → charged from 19:30: first hour to 20:30 (500),
        // then night half-hours 20:30, 21:00 (50 each).
        assert_eq!(r.fee(at("2026-11-23 19:00:00"), at("2026-11-23 21:30:00")).get(), 600);
        // Daytime: first hour + two half-hours at 200.
        assert_eq!(r.fee(at("2026-11-23 09:00:00"), at("2026-11-23 11:30:00")).get(), 900);
        assert_eq!(r.fee(at("2026-11-23 09:00:00"), at("2026-11-23 09:30:00")).get(), 0);
    }

    #[test]
    fn per_car_type() {
        let mut large = spec_example();
        large.day_price = fen(600);
        let tariff = Tariff { default: spec_example(), by_car_type: vec![(2, large)] };
        let (a, b) = (at("2026-11-23 08:00:00"), at("2026-11-23 09:00:00"));
        assert_eq!((tariff.fee(1, a, b).get(), tariff.fee(2, a, b).get()), (300, 600));
    }

    fn rules() -> impl Strategy<Value = Rule> {
        (
            0u32..120,
            any::<bool>(),
            proptest::option::of((1u32..240, 0i64..2000)),
            1u32..180,
            0i64..1000,
            proptest::option::of((0u32..24, 0u32..24, 0i64..1000)),
            proptest::option::of(0i64..20_000),
        )
            .prop_map(|(free, deducted, first, period, day, night, cap)| Rule {
                free_minutes: free,
                free_deducted: deducted,
                first_period: first.map(|(l, p)| (l, fen(p))),
                period_minutes: period,
                day_price: fen(day),
                night: night.map(|(s, e, p)| Night {
                    start: NaiveTime::from_hms_opt(s, 0, 0).expect("t"),
                    end: NaiveTime::from_hms_opt(e, 0, 0).expect("t"),
                    price: fen(p),
                }),
                cycle_cap: cap.map(fen),
            })
    }

    proptest! {
        #[test]
        fn never_decreases_with_a_longer_stay(r in rules(), entry_min in 0i64..10_000, a in 0i64..5000, extra in 0i64..3000) {
            let entry = at("2026-01-01 00:00:00") + Duration::minutes(entry_min);
            let short = r.fee(entry, entry + Duration::minutes(a));
            let long = r.fee(entry, entry + Duration::minutes(a + extra));
            prop_assert!(long >= short, "{short:?} then {long:?}");
        }

        #[test]
        fn caps_hold_and_cycles_repeat(r in rules(), entry_min in 0i64..10_000, t in 1i64..1440, days in 1i64..4) {
            prop_assume!(!r.free_deducted);
            let entry = at("2026-01-01 00:00:00") + Duration::minutes(entry_min);
            if let Some(cap) = r.cycle_cap {
                prop_assert!(r.fee(entry, entry + Duration::minutes(t)).get() <= cap.get());
                prop_assert!(r.fee(entry, entry + Duration::days(days)).get() <= cap.get() * days);
            }
            // Without a night window every cycle costs the same, so whole days add up.
            if r.night.is_none() && i64::from(r.free_minutes) < t {
                let day = r.fee(entry, entry + Duration::days(1)).get();
                let later = r.fee(entry, entry + Duration::days(days) + Duration::minutes(t)).get();
                let first = r.fee(entry, entry + Duration::minutes(t)).get();
                prop_assert_eq!(later, day * days + first);
            }
        }
    }
}
