//! Who gets in and how often, decided before the expensive steps.
//!
//! An RSA private-key decryption is the whole cost of a request, so
//! everything here runs before it and costs a hash lookup:
//! - [`ProbeLimiter`]: a node that keeps sending signed-but-undecryptable
//!   requests (a key probe or a broken key) is held off for a while;
//! - [`Replays`]: a byte-identical copy of a request already answered is
//!   refused without decrypting it again;
//! - `crate::rate::Rate`: per-accessID budgets (photos, which are written to disk);
//! - [`Refusals`]: unauthenticated refusals are counted and summarised in
//!   one log line a minute instead of one line each with the attacker's text.
//!
//! Holding off is always *retryable* on the wire (HTTP 429 + `Retry-After`):
//! a lot must keep, not drop, what it could not send.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Limits signed-but-undecryptable requests per node (`accessID` as sent,
/// `234_2` apart from `234`): probing the platform's private key needs many
/// of them, honest lots send almost none.
pub struct ProbeLimiter {
    limit: u32,
    window: Duration,
    seen: Mutex<HashMap<String, (Instant, u32)>>,
}

/// Nodes remembered by the probe limiter at most (an attacker cannot grow it:
/// only a key holder can make a signed request).
const MAX_PROBERS: usize = 10_000;

impl ProbeLimiter {
    pub fn new(limit: u32, window: Duration) -> Self {
        ProbeLimiter { limit, window, seen: Mutex::new(HashMap::new()) }
    }

    /// Records one failure; true once the node is over its limit.
    pub fn record(&self, node: &str, now: Instant) -> bool {
        let Ok(mut seen) = self.seen.lock() else { return false };
        if seen.len() >= MAX_PROBERS && !seen.contains_key(node) {
            let window = self.window;
            seen.retain(|_, (start, _)| now.duration_since(*start) <= window);
        }
        let entry = seen.entry(node.to_owned()).or_insert((now, 0));
        if now.duration_since(entry.0) > self.window {
            *entry = (now, 0);
        }
        entry.1 += 1;
        entry.1 > self.limit
    }

    /// Seconds the node must still wait, while it is over its limit.
    pub fn blocked(&self, node: &str, now: Instant) -> Option<u64> {
        let seen = self.seen.lock().ok()?;
        let (start, n) = seen.get(node)?;
        let elapsed = now.duration_since(*start);
        (*n > self.limit && elapsed <= self.window).then(|| (self.window - elapsed).as_secs().max(1))
    }
}

/// What the platform answered a request it has seen before.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Seen {
    /// Stored and answered 200.
    Done,
    /// Refused for its `uploadTime` (stale or ahead): final for these bytes.
    Stale,
}

/// Exact replays: the signature of every request answered with a final
/// verdict, kept for `window` in two generations (the older is dropped as a
/// whole, no per-entry expiry). A lot re-seals every attempt (RSA padding is
/// random), so identical bytes are a captured copy, never an honest retry.
pub struct Replays {
    window: Duration,
    cap: usize,
    inner: Mutex<Generations>,
}

struct Generations {
    started: Instant,
    current: HashMap<u128, Seen>,
    previous: HashMap<u128, Seen>,
}

impl Replays {
    /// `cap`: entries per generation (memory bound, ~40 bytes each).
    pub fn new(window: Duration, cap: usize) -> Replays {
        let inner = Generations { started: Instant::now(), current: HashMap::new(), previous: HashMap::new() };
        Replays { window, cap, inner: Mutex::new(inner) }
    }

    fn key(access_id: &str, sign: &str) -> u128 {
        let mut hasher = openssl::sha::Sha256::new();
        hasher.update(access_id.as_bytes());
        hasher.update(b"\n");
        hasher.update(sign.as_bytes());
        let digest = hasher.finish();
        u128::from_le_bytes(digest[..16].try_into().unwrap_or_default())
    }

    pub fn seen(&self, access_id: &str, sign: &str, now: Instant) -> Option<Seen> {
        let key = Self::key(access_id, sign);
        let mut g = self.inner.lock().ok()?;
        g.rotate(now, self.window);
        g.current.get(&key).or_else(|| g.previous.get(&key)).copied()
    }

    pub fn remember(&self, access_id: &str, sign: &str, verdict: Seen, now: Instant) {
        let key = Self::key(access_id, sign);
        let Ok(mut g) = self.inner.lock() else { return };
        g.rotate(now, self.window);
        // Beyond the cap replays cost a decryption again; memory stays bounded.
        if g.current.len() < self.cap {
            g.current.insert(key, verdict);
        }
    }
}

impl Generations {
    fn rotate(&mut self, now: Instant, window: Duration) {
        let age = now.duration_since(self.started);
        if age >= window * 2 {
            self.previous.clear();
            self.current.clear();
            self.started = now;
        } else if age >= window {
            self.previous = std::mem::take(&mut self.current);
            self.started = now;
        }
    }
}

/// Refusals of requests nobody authenticated (unknown accessID, bad form,
/// bad signature): counted per reason and logged as one summary a minute.
pub struct Refusals {
    inner: Mutex<(Instant, BTreeMap<&'static str, u64>, HashSet<String>)>,
}

/// Distinct senders named in one summary at most.
const NAMED: usize = 5;

impl Default for Refusals {
    fn default() -> Self {
        Refusals { inner: Mutex::new((Instant::now(), BTreeMap::new(), HashSet::new())) }
    }
}

impl Refusals {
    /// Counts one refusal; returns a summary to log when a minute has passed.
    pub fn record(&self, reason: &'static str, who: &str, now: Instant) -> Option<String> {
        let mut g = self.inner.lock().ok()?;
        *g.1.entry(reason).or_default() += 1;
        if g.2.len() < NAMED {
            g.2.insert(bounded(who, 40));
        }
        if now.duration_since(g.0) < Duration::from_secs(60) {
            return None;
        }
        let counts: Vec<String> = g.1.iter().map(|(r, n)| format!("{r}={n}")).collect();
        let who: Vec<&String> = g.2.iter().collect();
        let summary = format!("{} from {who:?}", counts.join(" "));
        *g = (now, BTreeMap::new(), HashSet::new());
        Some(summary)
    }
}

/// Text a sender chose, cut to `max` characters for replies and logs (a
/// 900 KB accessID must not be echoed or logged whole).
pub fn bounded(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_owned(),
        Some((at, _)) => format!("{}…（共 {} 字符）", &text[..at], text.chars().count()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes_block_one_node_for_the_rest_of_the_window() {
        let l = ProbeLimiter::new(2, Duration::from_secs(60));
        let t = Instant::now();
        assert!(!l.record("234_2", t));
        assert!(!l.record("234_2", t));
        assert!(l.record("234_2", t));
        assert_eq!(l.blocked("234_2", t + Duration::from_secs(20)), Some(40));
        assert_eq!(l.blocked("234", t), None, "the other nodes of the accessID go on");
        assert_eq!(l.blocked("234_2", t + Duration::from_secs(61)), None);
        assert!(!l.record("234_2", t + Duration::from_secs(61)));
    }

    #[test]
    fn replays_are_remembered_for_one_to_two_windows() {
        let r = Replays::new(Duration::from_secs(60), 10);
        let t = Instant::now();
        assert_eq!(r.seen("234", "sig", t), None);
        r.remember("234", "sig", Seen::Done, t);
        assert_eq!(r.seen("234", "sig", t + Duration::from_secs(59)), Some(Seen::Done));
        assert_eq!(r.seen("235", "sig", t), None, "keyed by accessID too");
        assert_eq!(r.seen("234", "sig", t + Duration::from_secs(61)), Some(Seen::Done), "previous generation");
        assert_eq!(r.seen("234", "sig", t + Duration::from_secs(200)), None);
        for i in 0..20 {
            r.remember("234", &format!("s{i}"), Seen::Stale, t + Duration::from_secs(200));
        }
        assert_eq!(r.inner.lock().expect("lock").current.len(), 10, "capped");
    }

    #[test]
    fn refusals_summarise_once_a_minute() {
        let r = Refusals::default();
        let t = Instant::now();
        assert!(r.record("unknown_access_id", "x", t).is_none());
        let summary = r.record("bad_form", &"y".repeat(10_000), t + Duration::from_secs(61)).expect("summary");
        assert!(summary.contains("bad_form=1") && summary.contains("unknown_access_id=1"), "{summary}");
        assert!(summary.len() < 400, "{summary}");
        assert_eq!(bounded("abc", 5), "abc");
        assert!(bounded(&"字".repeat(100), 4).starts_with("字字字字…"));
    }
}
