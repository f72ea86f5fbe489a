//! The cloud API's replay memory: a (pid, sign) verified once within the
//! timestamp window is refused after. Claimed before the service runs, so two
//! copies in flight cannot both pass, and never released: a caller retries a
//! failed request signed anew (the answer says so), so a captured copy never
//! gets a second go. This memory is the node's quick first look; a pair it
//! has not seen is then claimed in the database (`request_claims`), so a copy
//! sent to another node behind the balancer is refused there too.

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct Replays {
    /// Each generation lasts this long; a claim is remembered one to two.
    window: Duration,
    cap: usize,
    inner: Mutex<Generations>,
}

struct Generations {
    started: Instant,
    current: HashSet<String>,
    previous: HashSet<String>,
}

/// What a claim found.
#[derive(Debug, PartialEq, Eq)]
pub enum Claim {
    Fresh,
    Replay,
    /// The memory is full: refuse (retryable) rather than forget.
    Full,
}

fn key(pid: &str, sign: &str) -> String {
    format!("{pid}\n{}", sign.to_ascii_uppercase())
}

impl Replays {
    /// `window`: how long a timestamp stays acceptable, both sides (600 s
    /// for ±300 s); `cap`: claims per generation.
    pub fn new(window: Duration, cap: usize) -> Replays {
        let inner = Generations { started: Instant::now(), current: HashSet::new(), previous: HashSet::new() };
        Replays { window, cap, inner: Mutex::new(inner) }
    }

    pub fn claim(&self, pid: &str, sign: &str, now: Instant) -> Claim {
        let key = key(pid, sign);
        let Ok(mut g) = self.inner.lock() else { return Claim::Full };
        if now.duration_since(g.started) >= self.window {
            let current = std::mem::take(&mut g.current);
            // Two windows without traffic: nothing of the old generation is still valid.
            g.previous = if now.duration_since(g.started) >= self.window * 2 { HashSet::new() } else { current };
            g.started = now;
        }
        if g.current.contains(&key) || g.previous.contains(&key) {
            return Claim::Replay;
        }
        if g.current.len() >= self.cap {
            return Claim::Full;
        }
        g.current.insert(key);
        Claim::Fresh
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_claim_is_remembered_for_at_least_a_window() {
        let replays = Replays::new(Duration::from_secs(600), 2);
        let t0 = Instant::now();
        assert_eq!(replays.claim("p", "s", t0), Claim::Fresh);
        assert_eq!(replays.claim("p", "S", t0), Claim::Replay, "hex case does not make a new sign");
        assert_eq!(replays.claim("q", "s", t0), Claim::Fresh, "per pid");
        assert_eq!(replays.claim("r", "s", t0), Claim::Full);
        assert_eq!(replays.claim("p", "s", t0 + Duration::from_secs(900)), Claim::Replay, "previous generation");
        assert_eq!(replays.claim("q", "s", t0 + Duration::from_secs(3000)), Claim::Fresh, "long forgotten");
    }
}
