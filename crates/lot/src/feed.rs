//! The latest lane events, in memory: the lane handlers push every decision,
//! the booth page shows them (a restart starts an empty feed; the sessions
//! and records themselves are in the store).

use std::collections::VecDeque;
use std::sync::Mutex;

use crate::config::Direction;

/// Events the feed keeps (a busy lot has a few hundred an hour).
const KEEP: usize = 200;

/// One decided lane event, as the booth shows it.
#[derive(Clone, Debug)]
pub struct LaneEvent {
    pub at: String,
    pub lane: String,
    pub direction: Direction,
    pub plate_no: String,
    pub open: bool,
    pub reason: Option<String>,
    pub msg: String,
    pub uid: Option<String>,
    pub fee: Option<i64>,
    pub due: Option<i64>,
    pub photo_id: Option<String>,
}

#[derive(Default)]
pub struct Feed(Mutex<VecDeque<LaneEvent>>);

impl Feed {
    pub fn push(&self, event: LaneEvent) {
        if let Ok(mut events) = self.0.lock() {
            if events.len() == KEEP {
                events.pop_back();
            }
            events.push_front(event);
        }
    }

    /// Newest first.
    pub fn latest(&self) -> Vec<LaneEvent> {
        self.0.lock().map(|e| e.iter().cloned().collect()).unwrap_or_default()
    }
}
