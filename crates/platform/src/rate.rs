//! Token buckets per key: photos per lot, fee queries and code guesses per
//! client, dashboard logins. Keyed by strings anyone may make up, so the
//! number of keys can be bounded.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

/// A token bucket per key: `per_minute` on average, bursts up to the same.
pub struct Rate {
    per_minute: u32,
    /// Keys remembered at most (`None`: the keys are bounded by themselves,
    /// e.g. registered accessIDs).
    max_keys: Option<usize>,
    buckets: Mutex<HashMap<String, (Instant, f64)>>,
}

impl Rate {
    pub fn new(per_minute: u32) -> Rate {
        Rate { per_minute, max_keys: None, buckets: Mutex::new(HashMap::new()) }
    }

    /// For keys anyone can make up (client addresses): at most `max_keys`
    /// buckets; when full, idle ones (refilled) are forgotten, and a new key
    /// finding no room is refused, not remembered.
    pub fn bounded(per_minute: u32, max_keys: usize) -> Rate {
        Rate { per_minute, max_keys: Some(max_keys), buckets: Mutex::new(HashMap::new()) }
    }

    /// Takes one token; `Err(seconds)` until one is available.
    pub fn take(&self, key: &str, now: Instant) -> Result<(), u64> {
        if self.per_minute == 0 {
            return Ok(());
        }
        let Ok(mut buckets) = self.buckets.lock() else { return Ok(()) };
        let capacity = f64::from(self.per_minute);
        let per_sec = capacity / 60.0;
        if let Some(max) = self.max_keys.filter(|max| buckets.len() >= *max && !buckets.contains_key(key)) {
            buckets.retain(|_, (at, tokens)| *tokens + now.duration_since(*at).as_secs_f64() * per_sec < capacity);
            if buckets.len() >= max {
                return Err(60);
            }
        }
        let (at, tokens) = buckets.entry(key.to_owned()).or_insert((now, capacity));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * per_sec).min(capacity);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - *tokens) / per_sec).ceil().max(1.0) as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn rate_refills_over_time() {
        let r = Rate::new(60);
        let t = Instant::now();
        for _ in 0..60 {
            assert!(r.take("234", t).is_ok());
        }
        assert_eq!(r.take("234", t), Err(1));
        assert!(r.take("235", t).is_ok(), "per key");
        assert!(r.take("234", t + Duration::from_secs(1)).is_ok());
        assert!(Rate::new(0).take("x", t).is_ok(), "0 = unlimited");
    }

    #[test]
    fn a_bounded_rate_forgets_idle_keys_and_refuses_when_full() {
        let r = Rate::bounded(10, 2);
        let t = Instant::now();
        assert!(r.take("a", t).is_ok() && r.take("b", t).is_ok());
        assert_eq!(r.take("c", t), Err(60), "no room: refused, not remembered");
        // A minute later both buckets are full again (idle): forgotten for the new key.
        assert!(r.take("c", t + Duration::from_secs(60)).is_ok());
        assert!(r.buckets.lock().expect("lock").len() <= 2);
    }
}
