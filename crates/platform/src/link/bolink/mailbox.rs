//! What the platform sends Bolink lots, per lot: the charging systems
//! logged in now (over TCP or the HTTP mode), each with a queue its
//! connection (or long poll) drains, and the answers being waited for (a
//! no-plate scan waits for its lot's `nolicence_in_park` answer). A leaf:
//! it knows no connection and no store.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, oneshot};

/// One logged-in charging system's outgoing messages.
#[derive(Debug, Default)]
pub struct Mailbox {
    queue: Mutex<VecDeque<String>>,
    pub notify: Notify,
}

impl Mailbox {
    /// Everything queued, oldest first.
    pub fn drain(&self) -> Vec<String> {
        self.queue.lock().map(|mut q| q.drain(..).collect()).unwrap_or_default()
    }

    /// The oldest queued message.
    pub fn pop(&self) -> Option<String> {
        self.queue.lock().ok()?.pop_front()
    }

    fn put(&self, json: String) {
        if let Ok(mut q) = self.queue.lock() {
            q.push_back(json);
        }
        // One consumer per mailbox: a permit is kept if it is not waiting yet.
        self.notify.notify_one();
    }
}

/// A charging system attached to its lot.
#[derive(Debug)]
struct Attached {
    id: u64,
    /// The lanes it manages (`local_id` `xxx_channels_A1_A2`), empty: all.
    lanes: Vec<String>,
    mailbox: Arc<Mailbox>,
    /// HTTP mode: the last poll (a poller that stopped polling is gone).
    polled: Option<Instant>,
}

/// The lot's answer to a scan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScanAnswer {
    pub state: i64,
    pub errmsg: Option<String>,
    /// The plate the lot made its order with (the pseudo-plate and its marker).
    pub car_number: String,
}

/// A lot and a pseudo-plate (or a user): what scans are keyed by.
type LotKey = (String, String);

#[derive(Default)]
pub struct Mailboxes {
    lots: Mutex<HashMap<String, Vec<Attached>>>,
    waiting: Mutex<HashMap<LotKey, Vec<oneshot::Sender<ScanAnswer>>>>,
    next: std::sync::atomic::AtomicU64,
    /// One scan decision at a time per (lot, user): a double tap is one request.
    deciding: Mutex<HashMap<LotKey, Arc<tokio::sync::Mutex<()>>>>,
}

/// A poller not heard from for this long no longer counts as online.
const POLL_GONE: Duration = Duration::from_secs(75);

/// The lanes a `local_id` binds (`aaa001_channels_A1_A2_A3` → A1, A2, A3).
pub fn lanes_of(local_id: Option<&str>) -> Vec<String> {
    local_id
        .and_then(|l| l.split_once("_channels_"))
        .map(|(_, lanes)| lanes.split('_').filter(|s| !s.is_empty()).map(str::to_owned).collect())
        .unwrap_or_default()
}

impl Mailboxes {
    /// A charging system logged in; its mailbox and the id to detach it with.
    pub fn attach(&self, park_id: &str, local_id: Option<&str>, http: bool) -> (u64, Arc<Mailbox>) {
        let id = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mailbox = Arc::new(Mailbox::default());
        let attached =
            Attached { id, lanes: lanes_of(local_id), mailbox: mailbox.clone(), polled: http.then(Instant::now) };
        if let Ok(mut lots) = self.lots.lock() {
            lots.entry(park_id.to_owned()).or_default().push(attached);
        }
        (id, mailbox)
    }

    /// The lots with a charging system attached to this node.
    pub fn lots(&self) -> Vec<String> {
        self.lots.lock().map(|lots| lots.keys().cloned().collect()).unwrap_or_default()
    }

    pub fn detach(&self, park_id: &str, id: u64) {
        if let Ok(mut lots) = self.lots.lock()
            && let Some(list) = lots.get_mut(park_id)
        {
            list.retain(|a| a.id != id);
            if list.is_empty() {
                lots.remove(park_id);
            }
        }
    }

    /// An HTTP poller was heard from; false when its attachment lapsed (it
    /// had not polled for a while) and it must attach again.
    pub fn polled(&self, park_id: &str, id: u64) -> bool {
        if let Ok(mut lots) = self.lots.lock()
            && let Some(a) = lots.get_mut(park_id).and_then(|l| l.iter_mut().find(|a| a.id == id))
        {
            a.polled = Some(Instant::now());
            return true;
        }
        false
    }

    /// Sends a message to the charging system managing `lane` (the newest
    /// one that names it, else the newest that names none; for no lane, the
    /// newest of all); false when none is online.
    pub fn send(&self, park_id: &str, lane: &str, json: String) -> bool {
        let Ok(mut lots) = self.lots.lock() else { return false };
        let Some(list) = lots.get_mut(park_id) else { return false };
        list.retain(|a| a.polled.is_none_or(|t| t.elapsed() < POLL_GONE));
        // No lane (a payment's notice): the newest system of the lot, whichever lanes it binds.
        let pick = list
            .iter()
            .rev()
            .find(|a| a.lanes.iter().any(|l| l == lane))
            .or_else(|| list.iter().rev().find(|a| a.lanes.is_empty()))
            .or_else(|| if lane.is_empty() { list.last() } else { None });
        match pick {
            Some(a) => {
                a.mailbox.put(json);
                true
            }
            None => false,
        }
    }

    /// Whether any charging system of the lot is logged in now.
    pub fn online(&self, park_id: &str) -> bool {
        self.lots
            .lock()
            .ok()
            .and_then(|lots| {
                lots.get(park_id).map(|l| l.iter().any(|a| a.polled.is_none_or(|t| t.elapsed() < POLL_GONE)))
            })
            .unwrap_or(false)
    }

    /// The lock under which a user's scan at a lot is decided (read the
    /// last scan, store the new one). Per process: docs/bolink.md says what
    /// several nodes mean for it.
    pub fn deciding(&self, park_id: &str, user: &str) -> Arc<tokio::sync::Mutex<()>> {
        let Ok(mut map) = self.deciding.lock() else { return Arc::default() };
        // Locks nobody holds are dropped as others are taken: the map stays small.
        if map.len() > 1024 {
            map.retain(|_, l| Arc::strong_count(l) > 1);
        }
        map.entry((park_id.to_owned(), user.to_owned())).or_default().clone()
    }

    /// Waits for the lot's answer about `car_number`.
    pub fn expect(&self, park_id: &str, car_number: &str) -> oneshot::Receiver<ScanAnswer> {
        let (tx, rx) = oneshot::channel();
        if let Ok(mut w) = self.waiting.lock() {
            // Scans whose answer never came leave closed senders behind: swept as others wait.
            if w.len() > 1024 {
                w.retain(|_, l| {
                    l.retain(|s| !s.is_closed());
                    !l.is_empty()
                });
            }
            let list = w.entry((park_id.to_owned(), car_number.to_owned())).or_default();
            list.retain(|s| !s.is_closed());
            list.push(tx);
        }
        rx
    }

    /// The lot answered about `car_number` (with or without its marker).
    pub fn answered(&self, park_id: &str, car_number: &str, answer: ScanAnswer) {
        let Ok(mut w) = self.waiting.lock() else { return };
        let keys: Vec<_> = w
            .keys()
            .filter(|(p, c)| p == park_id && (c == car_number || car_number.ends_with(c.as_str())))
            .cloned()
            .collect();
        for key in keys {
            for tx in w.remove(&key).unwrap_or_default() {
                let _ = tx.send(answer.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lanes_message_goes_to_the_system_managing_it() {
        let m = Mailboxes::default();
        assert!(!m.send("P", "A1", "x".into()), "nobody online");
        let (_, all) = m.attach("P", None, false);
        let (b, bound) = m.attach("P", Some("pc2_channels_A1_A2"), false);
        assert!(m.send("P", "A2", "to-bound".into()));
        assert!(m.send("P", "B9", "to-all".into()));
        assert_eq!(bound.drain(), ["to-bound"]);
        assert_eq!(all.drain(), ["to-all"]);
        m.detach("P", b);
        assert!(m.send("P", "A2", "fallback".into()));
        assert_eq!(all.drain(), ["fallback"]);
        assert!(m.online("P"));
        let (_, only_bound) = m.attach("Q", Some("pc_channels_B1"), false);
        assert!(!m.send("Q", "B2", "x".into()), "a lane nobody manages");
        assert!(m.send("Q", "", "notice".into()), "no lane: any system of the lot");
        assert_eq!(only_bound.drain(), ["notice"]);
        assert_eq!(lanes_of(Some("aaa001_channels_A1_A2_A3")), ["A1", "A2", "A3"]);
    }

    #[tokio::test]
    async fn answers_reach_their_waiters_with_or_without_the_marker() {
        let m = Mailboxes::default();
        let rx = m.expect("P", "62000F9");
        m.answered("P", "无62000F9", ScanAnswer { state: 1, errmsg: None, car_number: "无62000F9".into() });
        assert_eq!(rx.await.expect("answered").state, 1);
    }
}
