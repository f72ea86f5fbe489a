//! The pids the door has read lately: a request's principal comes from here
//! for a few seconds instead of a database round trip per request (on SQLite
//! a round trip is a thread hand-off; it was the cloud door's largest cost,
//! BENCHMARKS.md). A pid removed or changed elsewhere (the command line, the
//! admin API of another node) is seen within [`FRESH`]; this node's own
//! removals forget it at once.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::store::Principal;

/// How long a read principal is trusted.
pub const FRESH: Duration = Duration::from_secs(5);
/// Bound on remembered pids (registered ones only: unknown pids are not cached).
const CAP: usize = 10_000;

#[derive(Default)]
pub struct Known {
    inner: Mutex<HashMap<String, (Principal, Instant)>>,
}

impl Known {
    pub fn get(&self, pid: &str, now: Instant) -> Option<Principal> {
        let inner = self.inner.lock().ok()?;
        inner.get(pid).filter(|(_, at)| now.duration_since(*at) < FRESH).map(|(p, _)| p.clone())
    }

    pub fn put(&self, principal: &Principal, now: Instant) {
        if let Ok(mut inner) = self.inner.lock() {
            if inner.len() >= CAP {
                inner.retain(|_, (_, at)| now.duration_since(*at) < FRESH);
            }
            if inner.len() < CAP {
                inner.insert(principal.pid.clone(), (principal.clone(), now));
            }
        }
    }

    pub fn forget(&self, pid: &str) {
        if let Ok(mut inner) = self.inner.lock() {
            inner.remove(pid);
        }
    }
}
