//! The latest lane events, in memory: the lane handlers push every decision,
//! the booth page shows them (a restart starts an empty feed; the sessions
//! and records themselves are in the store). The photo of a car held at an
//! exit (unpaid, or matched to no stay) is kept here too, one per lane, until
//! the booth lets it out: the exit record then carries it.

use std::collections::{HashMap, VecDeque};
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
pub struct Feed(Mutex<VecDeque<LaneEvent>>, Mutex<HashMap<String, (String, String)>>);

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

    /// Keeps the photo (Base64, as the camera sent it) of the car held at
    /// `lane` at `at`; the lane's previous one goes (one car waits per lane).
    pub fn hold_photo(&self, lane: &str, at: &str, photo: &str) {
        if let Ok(mut held) = self.1.lock() {
            held.insert(lane.to_owned(), (at.to_owned(), photo.to_owned()));
        }
    }

    /// The photo of the car held at `lane` at `at`, if it is still the one kept.
    pub fn held_photo(&self, lane: &str, at: &str) -> Option<String> {
        let held = self.1.lock().ok()?;
        held.get(lane).filter(|(when, _)| when == at).map(|(_, photo)| photo.clone())
    }
}
