//! What a door has read lately: a registered lot or pid comes from here for
//! a few seconds instead of a database round trip per request (on SQLite a
//! round trip is a thread hand-off; it was the cloud door's largest cost,
//! and a Qingdao lot registered in the database also had its RSA key parsed
//! again for every request, BENCHMARKS.md). A registration removed or
//! changed elsewhere (the command line, the admin API of another node) is
//! seen within [`FRESH`]; this node's own removals forget it at once.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a read registration is trusted.
pub const FRESH: Duration = Duration::from_secs(5);
/// Bound on remembered keys (registered ones only: unknown keys are not cached).
const CAP: usize = 10_000;

pub struct Known<V> {
    inner: Mutex<HashMap<String, (V, Instant)>>,
}

impl<V> Default for Known<V> {
    fn default() -> Self {
        Known { inner: Mutex::default() }
    }
}

impl<V: Clone> Known<V> {
    pub fn get(&self, key: &str, now: Instant) -> Option<V> {
        let inner = self.inner.lock().ok()?;
        inner.get(key).filter(|(_, at)| now.duration_since(*at) < FRESH).map(|(v, _)| v.clone())
    }

    pub fn put(&self, key: &str, value: &V, now: Instant) {
        if let Ok(mut inner) = self.inner.lock() {
            if inner.len() >= CAP {
                inner.retain(|_, (_, at)| now.duration_since(*at) < FRESH);
            }
            if inner.len() < CAP {
                inner.insert(key.to_owned(), (value.clone(), now));
            }
        }
    }

    pub fn forget(&self, key: &str) {
        if let Ok(mut inner) = self.inner.lock() {
            inner.remove(key);
        }
    }
}
